//! An incident's projection, from PagerDuty, GitHub issues labelled as incidents, or the
//! generic endpoint.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deployment::{earliest, facts_in_order};
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
    let mut fold = IncidentFold::default();
    for fact in facts_in_order(facts) {
        fold.apply(fact, id, config);
    }
    if fold.from_github_issue && !fold.labels.is_some_and(|l| config.is_incident_labels(l)) {
        return None;
    }
    let (service, services) = services_of(
        fold.repo.as_deref(),
        fold.from_github_issue,
        fold.service,
        config,
    )?;
    Some(Incident {
        id: id.clone(),
        title: fold.title,
        service,
        services,
        severity: fold.severity,
        opened_at: fold.opened_at?,
        resolved_at: fold.resolved_at,
        deployment_sha: fold.deployment_sha,
        repo: fold.repo,
        html_url: fold.html_url,
    })
}

/// An incident's state part way through its facts.
#[derive(Default)]
struct IncidentFold<'a> {
    title: String,
    service: Option<String>,
    severity: Option<String>,
    deployment_sha: Option<String>,
    repo: Option<String>,
    html_url: Option<String>,
    opened_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    labels: Option<&'a Vec<String>>,
    from_github_issue: bool,
}

impl<'a> IncidentFold<'a> {
    /// Sources send partial updates: a field a fact leaves empty keeps what an earlier fact
    /// said.
    fn apply(&mut self, fact: &'a Fact, id: &str, config: &OrgConfig) {
        let FactBody::Incident {
            action,
            title,
            service,
            service_id,
            severity,
            urgency,
            priority,
            labels,
            deployment_sha,
            repo,
            html_url,
            opened_at,
            resolved_at,
        } = &fact.body
        else {
            return;
        };
        if !title.is_empty() {
            self.title = title.clone();
        }
        if repo.is_some() {
            self.repo = repo.clone();
            self.from_github_issue = id.starts_with("gh:");
        }
        if let (Some(name), false) = (service, self.from_github_issue) {
            // By PagerDuty id, else by name as config spells it (lower case), whatever the
            // source: `service:Checkout` and `service:checkout` are one service.
            self.service = Some(config.service_for_pagerduty(name, service_id.as_deref()));
        }
        if let Some(mapped) =
            config.severity_for(severity.as_deref(), urgency.as_deref(), priority.as_deref())
        {
            self.severity = Some(mapped);
        }
        if deployment_sha.is_some() {
            self.deployment_sha = deployment_sha.clone();
        }
        if html_url.is_some() {
            self.html_url = html_url.clone();
        }
        // A GitHub issue counts only while its latest labels include the incident label.
        if self.from_github_issue {
            self.labels = Some(labels);
        }
        self.advance(*action, *opened_at, *resolved_at, fact.at);
    }

    /// Moves the incident's open/resolved window. It opened at the earliest start any fact
    /// reports (the fact's own time when it names none); a reopen clears the resolve, and a
    /// resolve without a time resolves at the fact's.
    fn advance(
        &mut self,
        action: IncidentAction,
        opened: Option<DateTime<Utc>>,
        resolved: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) {
        let start = opened.unwrap_or(at);
        match action {
            IncidentAction::Opened | IncidentAction::Acknowledged | IncidentAction::Updated => {
                self.opened_at = earliest(self.opened_at, start);
                if opened.is_some() && resolved.is_some() {
                    self.resolved_at = resolved;
                }
            }
            IncidentAction::Reopened => {
                self.opened_at = earliest(self.opened_at, start);
                self.resolved_at = None;
            }
            IncidentAction::Resolved => {
                if let Some(o) = opened {
                    self.opened_at = earliest(self.opened_at, o);
                }
                self.resolved_at = Some(resolved.unwrap_or(at));
            }
        }
    }
}

/// The incident's service and every service it counts under. A GitHub issue names no service:
/// it belongs to each service whose repos include its repository, or to the repository itself
/// when none does; so does an incident of any source that names a repository but no service.
/// `None` when neither a service nor a repository is known.
fn services_of(
    repo: Option<&str>,
    from_github_issue: bool,
    named: Option<String>,
    config: &OrgConfig,
) -> Option<(String, Vec<String>)> {
    let of_repo: Vec<String> = match (repo, from_github_issue || named.is_none()) {
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
        None => named?,
    };
    let services = if of_repo.is_empty() {
        vec![service.clone()]
    } else {
        of_repo
    };
    Some((service, services))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::testing::*;
    use IncidentAction::{Opened, Reopened, Resolved, Updated};

    /// An issue event of acme/api (no service named) with these `labels`.
    fn api_issue(
        key: &EntityKey,
        event: &str,
        action: IncidentAction,
        at: &str,
        labels: &[&str],
    ) -> Fact {
        let mut fact = incident_fact(key, event, action, at);
        if let FactBody::Incident {
            repo,
            service,
            labels: l,
            ..
        } = &mut fact.body
        {
            *repo = Some("acme/api".into());
            *service = None;
            *l = labels.iter().map(|label| label.to_string()).collect();
        }
        fact
    }

    #[test]
    fn resolve_before_trigger_folds_the_same() {
        let cfg = OrgConfig::default();
        let key = incident_key("pd:P1");
        let open = incident_fact(&key, "e1", Opened, "2026-10-05T10:00:00Z");
        let done = incident_fact(&key, "e2", Resolved, "2026-10-05T11:30:00Z");
        let a = project_incident(&key, &[open.clone(), done.clone()], &cfg).expect("incident");
        let b = project_incident(&key, &[done, open], &cfg).expect("incident");
        assert_eq!(a, b);
        assert_eq!(a.mttr_seconds(), Some(5400.0));
    }

    #[test]
    fn reopened_incident_is_open_again() {
        let cfg = OrgConfig::default();
        let key = incident_key("pd:P1");
        let open = incident_fact(&key, "e1", Opened, "2026-10-05T10:00:00Z");
        let done = incident_fact(&key, "e2", Resolved, "2026-10-05T11:30:00Z");
        let again = incident_fact(&key, "e3", Reopened, "2026-10-05T12:00:00Z");
        let i = project_incident(&key, &[open, done, again], &cfg).expect("incident");
        assert_eq!(i.resolved_at, None);
    }

    #[test]
    fn github_issue_needs_the_incident_label() {
        let cfg = OrgConfig::default();
        let key = incident_key("gh:acme/api#7");
        let plain = api_issue(&key, "e1", Opened, "2026-10-05T10:00:00Z", &[]);
        assert_eq!(
            project_incident(&key, std::slice::from_ref(&plain), &cfg),
            None
        );
        let labelled = api_issue(&key, "e2", Updated, "2026-10-05T10:01:00Z", &["incident"]);
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
        let key = incident_key("gh:acme/api#7");
        let mut fact = api_issue(&key, "e1", Opened, "2026-10-05T10:00:00Z", &["incident"]);
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
        let other = incident_key("gh:acme/tools#1");
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
        let key = incident_key("gen:inc-1");
        let mut fact = incident_fact(&key, "e1", Opened, "2026-10-05T10:00:00Z");
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
