//! Incidents: opened on PagerDuty (most) or as a GitHub issue labelled `incident`, resolved
//! later, and remediated by a revert or a hotfix when a deployment caused them.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::calendar::minutes;
use super::{Pending, World};
use crate::payloads::{label, org_event, pagerduty_delivery, stable_id, ts, ts_millis, user};
use crate::spec::{full_name, host_of, team_of_repo, Host, ServiceSpec, ORG, TEAMS};
use crate::truth::IncidentTruth;

const TITLES: [&str; 5] = [
    "Elevated 5xx error rate",
    "p99 latency above SLO",
    "Error budget burn rate alert",
    "Health check failing in eu-central-1",
    "Queue backlog growing",
];

impl World {
    /// An incident of `service` opened at `at`; `cause`: the repository whose deployment
    /// caused it, with the PRs that deployment shipped.
    pub(super) fn open_incident(
        &mut self,
        service: &'static ServiceSpec,
        at: DateTime<Utc>,
        cause: Option<(&'static str, Vec<Pending>)>,
    ) {
        if at >= self.end {
            return;
        }
        let resolved = at + minutes(self.rng.lognormal(70.0, 0.9).clamp(8.0, 2880.0));
        let title = format!("{}: {}", service.pagerduty_name, self.rng.pick(&TITLES));
        let repo = cause.as_ref().map_or(service.repos[0], |c| c.0);
        let use_github = self.rng.chance(0.15);
        self.entity = format!("incident:{}", self.truth.incidents.len());
        let span = (at, resolved);
        let id = if use_github {
            self.issue_incident(repo, &title, span)
        } else {
            self.page(service, &title, span)
        };
        self.truth.incidents.push(IncidentTruth {
            id,
            service: service.name.to_string(),
            opened_at: at,
            resolved_at: Some(resolved).filter(|r| *r < self.end),
        });
        if let Some((repo, humans)) = cause {
            self.remediate(repo, &humans, at);
        }
    }

    /// A teammate opens an `incident` issue in `repo` and closes it when resolved; returns
    /// the incident's id (`gh:<repo>#<issue>`).
    fn issue_incident(
        &mut self,
        repo: &'static str,
        title: &str,
        (at, resolved): (DateTime<Utc>, DateTime<Utc>),
    ) -> String {
        let team = team_of_repo(repo).map_or(TEAMS[0], |t| *t);
        let reporter = self.teammate(&team, "");
        let number = self.next_number(repo);
        let full = full_name(repo);
        let issue = |state: &str, updated: DateTime<Utc>, closed: Option<DateTime<Utc>>| {
            json!({"url": format!("https://api.github.com/repos/{full}/issues/{number}"),
                   "html_url": format!("https://github.com/{full}/issues/{number}"),
                   "id": stable_id(&format!("{full}/issues/{number}"), 2_400_000_000),
                   "number": number, "title": title, "user": user(&reporter),
                   "labels": [label("incident"), label("sev2")], "state": state, "locked": false,
                   "comments": 0, "created_at": ts(at), "updated_at": ts(updated),
                   "closed_at": closed.map(ts), "author_association": "MEMBER",
                   "body": "Customers report failures. Investigating."})
        };
        for (action, issue, when) in [
            ("opened", issue("open", at, None), at),
            (
                "closed",
                issue("closed", resolved, Some(resolved)),
                resolved,
            ),
        ] {
            let body = json!({"action": action, "issue": issue});
            self.github(when, "issues", org_event(repo, &reporter, body));
        }
        if host_of(repo) == Host::GitLab {
            return self.gitlab_incident(repo, (number, title), (at, resolved));
        }
        format!("gh:{full}#{number}")
    }

    /// PagerDuty triggers, acknowledges and resolves an incident of `service` (the events
    /// before the end of the history); returns its id (`pd:<id>`).
    fn page(
        &mut self,
        service: &'static ServiceSpec,
        title: &str,
        (at, resolved): (DateTime<Utc>, DateTime<Utc>),
    ) -> String {
        self.next_pd_number += 1;
        let number = self.next_pd_number;
        let id = format!("Q{}", self.rng.alnum_upper(13));
        let urgency = if self.rng.chance(0.7) { "high" } else { "low" };
        let incident = Incident {
            id: &id,
            number,
            title,
            urgency,
            created: at,
        };
        let ack = at + minutes(self.rng.range(1, 12) as f64);
        for (event_type, status, when) in [
            ("incident.triggered", "triggered", at),
            ("incident.acknowledged", "acknowledged", ack),
            ("incident.resolved", "resolved", resolved),
        ] {
            if when >= self.end {
                continue;
            }
            let event_id = self.rng.alnum_upper(26);
            let body = json!({"event": {"id": event_id, "event_type": event_type, "resource_type": "incident",
                                        "occurred_at": ts_millis(when), "agent": null, "client": null,
                                        "data": incident.data(service, status)}});
            let mut d = pagerduty_delivery(&self.secrets, when, &body);
            d.entity = format!("incident:{id}");
            self.deliveries.push(d);
        }
        format!("pd:{id}")
    }

    /// The fix for an incident a deployment of `repo` caused: a revert of the last human PR
    /// it shipped (more often when the team struggles), else sometimes a hotfix.
    fn remediate(&mut self, repo: &'static str, humans: &[Pending], at: DateTime<Utc>) {
        let team = team_of_repo(repo).map_or("", |t| t.name);
        let struggling = self.struggle(team, at) > 0;
        if let Some(target) = humans
            .last()
            .cloned()
            .filter(|_| self.rng.chance(if struggling { 0.6 } else { 0.3 }))
        {
            if let Some(plan) = self.plan_urgent_pr(repo, at, Some(target)) {
                self.emit_pr(plan);
            }
        } else if self.rng.chance(0.6) {
            if let Some(plan) = self.plan_urgent_pr(repo, at, None) {
                self.emit_pr(plan);
            }
        }
    }
}

/// A PagerDuty incident as its webhook events describe it.
struct Incident<'a> {
    id: &'a str,
    number: u64,
    title: &'a str,
    urgency: &'a str,
    created: DateTime<Utc>,
}

impl Incident<'_> {
    /// The event's `data`: the incident, then in `status`.
    fn data(&self, service: &ServiceSpec, status: &str) -> Value {
        let Incident {
            id,
            number,
            title,
            urgency,
            created,
        } = self;
        json!({"id": id, "type": "incident", "self": format!("https://api.pagerduty.com/incidents/{id}"),
               "html_url": format!("https://{ORG}.pagerduty.com/incidents/{id}"), "number": number,
               "status": status, "incident_key": format!("{}-{number}", service.name), "created_at": ts(*created),
               "title": title,
               "service": {"html_url": format!("https://{ORG}.pagerduty.com/services/{}", service.pagerduty_id),
                           "id": service.pagerduty_id, "self": format!("https://api.pagerduty.com/services/{}", service.pagerduty_id),
                           "summary": service.pagerduty_name, "type": "service_reference"},
               "assignees": [], "escalation_policy": {"id": "PESC0DM", "summary": "Engineering on-call", "type": "escalation_policy_reference"},
               "teams": [], "priority": null, "urgency": urgency, "conference_bridge": null, "resolve_reason": null})
    }
}
