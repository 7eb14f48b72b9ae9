//! An incident's projection, from PagerDuty, GitHub issues labelled as incidents, or the
//! generic endpoint.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::OrgConfig;
use crate::model::{EntityKey, Fact, FactBody, IncidentAction};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    /// The incident's service: PagerDuty's (mapped by config), the generic field, or for a
    /// GitHub issue the first configured service whose repos include the issue's repository
    /// (the repository itself when none does).
    pub service: String,
    /// Every service the incident counts under: a GitHub issue belongs to each service whose
    /// `repos` include its repository (docs/METRICS.md); other sources name one.
    #[serde(default)]
    pub services: Vec<String>,
    pub severity: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub deployment_sha: Option<String>,
    pub repo: Option<String>,
    pub html_url: Option<String>,
}

impl Incident {
    pub fn key(&self) -> EntityKey {
        EntityKey::Incident {
            id: self.id.clone(),
        }
    }

    pub fn mttr_seconds(&self) -> Option<f64> {
        self.resolved_at
            .map(|resolved| super::deployment::seconds_between(self.opened_at, resolved))
    }
}

/// Folds an incident's facts. `None` until its opening time is known, and for GitHub issues that
/// do not (or no longer) carry the configured incident label.
pub fn project_incident(key: &EntityKey, facts: &[Fact], config: &OrgConfig) -> Option<Incident> {
    let EntityKey::Incident { id } = key else {
        return None;
    };
    let mut sorted: Vec<&Fact> = facts.iter().collect();
    sorted.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));

    let mut title = String::new();
    let mut service: Option<String> = None;
    let mut severity: Option<String> = None;
    let mut deployment_sha = None;
    let mut repo = None;
    let mut html_url = None;
    let mut opened_at: Option<DateTime<Utc>> = None;
    let mut resolved_at: Option<DateTime<Utc>> = None;
    let mut labels: Option<&Vec<String>> = None;
    let mut from_github_issue = false;
    for fact in &sorted {
        let FactBody::Incident {
            action,
            title: t,
            service: s,
            service_id,
            severity: sev,
            urgency,
            priority,
            labels: l,
            deployment_sha: sha,
            repo: r,
            html_url: url,
            opened_at: opened,
            resolved_at: resolved,
        } = &fact.body
        else {
            continue;
        };
        if !t.is_empty() {
            title = t.clone();
        }
        if r.is_some() {
            repo = r.clone();
            from_github_issue = id.starts_with("gh:");
        }
        if let (Some(name), false) = (s, from_github_issue) {
            // By PagerDuty id, else by name as config spells it (lower case), whatever the
            // source: `service:Checkout` and `service:checkout` are one service.
            service = Some(config.service_for_pagerduty(name, service_id.as_deref()));
        }
        if let Some(mapped) =
            config.severity_for(sev.as_deref(), urgency.as_deref(), priority.as_deref())
        {
            severity = Some(mapped);
        }
        if sha.is_some() {
            deployment_sha = sha.clone();
        }
        if url.is_some() {
            html_url = url.clone();
        }
        if from_github_issue {
            labels = Some(l);
        }
        let start = opened.unwrap_or(fact.at);
        match action {
            IncidentAction::Opened | IncidentAction::Acknowledged | IncidentAction::Updated => {
                opened_at = Some(opened_at.map_or(start, |o| o.min(start)));
                if opened.is_some() && resolved.is_some() {
                    resolved_at = *resolved;
                }
            }
            IncidentAction::Reopened => {
                opened_at = Some(opened_at.map_or(start, |o| o.min(start)));
                resolved_at = None;
            }
            IncidentAction::Resolved => {
                if let Some(o) = opened {
                    opened_at = Some(opened_at.map_or(*o, |c| c.min(*o)));
                }
                resolved_at = Some(resolved.unwrap_or(fact.at));
            }
        }
    }
    if from_github_issue && !labels.is_some_and(|l| config.is_incident_labels(l)) {
        return None;
    }
    // A GitHub issue's service is its repository's, as config says: the issue names none.
    let of_repo: Vec<String> = match (&repo, from_github_issue || service.is_none()) {
        (Some(r), true) => {
            let configured: Vec<String> = config
                .services_of_repo(r)
                .into_iter()
                .map(str::to_string)
                .collect();
            if configured.is_empty() {
                vec![r.to_string()]
            } else {
                configured
            }
        }
        _ => Vec::new(),
    };
    let service = match of_repo.first() {
        Some(first) => first.clone(),
        None => service?,
    };
    let services = if of_repo.is_empty() {
        vec![service.clone()]
    } else {
        of_repo
    };
    Some(Incident {
        id: id.clone(),
        title,
        service,
        services,
        severity,
        opened_at: opened_at?,
        resolved_at,
        deployment_sha,
        repo,
        html_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::testing::*;

    #[test]
    fn resolve_before_trigger_folds_the_same() {
        let cfg = OrgConfig::default();
        let key = EntityKey::Incident { id: "pd:P1".into() };
        let open = incident_fact(
            &key,
            "e1",
            IncidentAction::Opened,
            t("2026-10-05T10:00:00Z"),
        );
        let done = incident_fact(
            &key,
            "e2",
            IncidentAction::Resolved,
            t("2026-10-05T11:30:00Z"),
        );
        let a = project_incident(&key, &[open.clone(), done.clone()], &cfg).expect("incident");
        let b = project_incident(&key, &[done, open], &cfg).expect("incident");
        assert_eq!(a, b);
        assert_eq!(a.mttr_seconds(), Some(5400.0));
    }

    #[test]
    fn reopened_incident_is_open_again() {
        let cfg = OrgConfig::default();
        let key = EntityKey::Incident { id: "pd:P1".into() };
        let open = incident_fact(
            &key,
            "e1",
            IncidentAction::Opened,
            t("2026-10-05T10:00:00Z"),
        );
        let done = incident_fact(
            &key,
            "e2",
            IncidentAction::Resolved,
            t("2026-10-05T11:30:00Z"),
        );
        let again = incident_fact(
            &key,
            "e3",
            IncidentAction::Reopened,
            t("2026-10-05T12:00:00Z"),
        );
        let i = project_incident(&key, &[open, done, again], &cfg).expect("incident");
        assert_eq!(i.resolved_at, None);
    }

    #[test]
    fn github_issue_needs_the_incident_label() {
        let cfg = OrgConfig::default();
        let key = EntityKey::Incident {
            id: "gh:acme/api#7".into(),
        };
        let mut plain = incident_fact(
            &key,
            "e1",
            IncidentAction::Opened,
            t("2026-10-05T10:00:00Z"),
        );
        if let FactBody::Incident { repo, service, .. } = &mut plain.body {
            *repo = Some("acme/api".into());
            *service = None;
        }
        assert_eq!(project_incident(&key, &[plain.clone()], &cfg), None);
        let mut labelled = plain.clone();
        labelled.id = "e2#0".into();
        labelled.at = t("2026-10-05T10:01:00Z");
        if let FactBody::Incident { labels, action, .. } = &mut labelled.body {
            *labels = vec!["incident".into()];
            *action = IncidentAction::Updated;
        }
        let i = project_incident(&key, &[plain, labelled], &cfg).expect("incident");
        assert_eq!(i.service, "acme/api");
        assert_eq!(i.opened_at, t("2026-10-05T10:00:00Z"));
    }

    /// Given services whose repos include the issue's repository, when an incident issue is
    /// opened there, then it counts under each of them (and under none other).
    #[test]
    fn a_github_issue_incident_belongs_to_the_services_of_its_repository() {
        let cfg = OrgConfig::from_yaml(
            "org: acme\nservices:\n  checkout: { repos: [acme/api] }\n  search: { repos: [Acme/API, acme/web] }\n  mail: { repos: [acme/mail] }\n",
        )
        .expect("config");
        let key = EntityKey::Incident {
            id: "gh:acme/api#7".into(),
        };
        let mut fact = incident_fact(
            &key,
            "e1",
            IncidentAction::Opened,
            t("2026-10-05T10:00:00Z"),
        );
        if let FactBody::Incident {
            repo,
            service,
            labels,
            ..
        } = &mut fact.body
        {
            *repo = Some("acme/api".into());
            *service = None;
            *labels = vec!["incident".into()];
        }
        let i = project_incident(&key, std::slice::from_ref(&fact), &cfg).expect("incident");
        assert_eq!(i.services, ["checkout", "search"]);
        let scopes: std::collections::BTreeSet<String> =
            crate::derive::members::members_of_incident(&i, &cfg)
                .into_iter()
                .map(|m| m.bucket.scope.to_string())
                .collect();
        assert_eq!(
            scopes.into_iter().collect::<Vec<_>>(),
            ["org", "service:checkout", "service:search"]
        );
        // A repository no service lists is its own service, as before.
        let other = EntityKey::Incident {
            id: "gh:acme/tools#1".into(),
        };
        if let FactBody::Incident { repo, .. } = &mut fact.body {
            *repo = Some("acme/tools".into());
        }
        fact.entity = other.clone();
        let i = project_incident(&other, &[fact], &cfg).expect("incident");
        assert_eq!(i.services, ["acme/tools"]);
    }

    #[test]
    fn a_generic_incident_names_its_service_in_any_case() {
        let cfg = OrgConfig::from_yaml(
            "org: acme\nservices:\n  checkout: { repos: [acme/payments-api] }\n",
        )
        .expect("config");
        let key = EntityKey::Incident {
            id: "gen:inc-1".into(),
        };
        let mut fact = incident_fact(
            &key,
            "e1",
            IncidentAction::Opened,
            t("2026-10-05T10:00:00Z"),
        );
        if let FactBody::Incident { service, .. } = &mut fact.body {
            *service = Some(" Checkout".into());
        }
        let i = project_incident(&key, std::slice::from_ref(&fact), &cfg).expect("incident");
        assert_eq!(
            i.service, "checkout",
            "as config spells it, so service:checkout finds it"
        );
        // A service config does not know is kept, in lower case, like a PagerDuty one.
        if let FactBody::Incident { service, .. } = &mut fact.body {
            *service = Some("Search".into());
        }
        let i = project_incident(&key, &[fact], &cfg).expect("incident");
        assert_eq!(i.service, "search");
    }
}
