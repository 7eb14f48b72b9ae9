//! One entity's projection, and what changing it makes stale: the links that read it
//! ([`dependents`]). The rollup function stores projections beside their facts and rebuilds
//! them from the facts whenever those change.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::link_edits::{
    after, before, blaming_incidents_window, blaming_services, HISTORY_WINDOW, LINK_SLACK,
};
use super::members::{
    members_of_deployment, members_of_incident, members_of_pull_request, members_of_ticket, Member,
};
use super::{AppState, Deployment, Incident, PullRequest, SecurityAlert, Ticket};
use crate::config::OrgConfig;
use crate::model::EntityKey;

/// One entity's projection. Not boxed: projections are built one at a time and stored at once,
/// so the size difference between variants costs nothing that matters.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    PullRequest(PullRequest),
    Deployment(Deployment),
    Incident(Incident),
    Ticket(Ticket),
    /// A GitOps application's desired against actual state (`derive::app_state`).
    App(AppState),
    /// A security alert's state (`derive::security`).
    SecurityAlert(SecurityAlert),
}

impl Projection {
    pub fn key(&self) -> EntityKey {
        match self {
            Projection::PullRequest(pr) => pr.key(),
            Projection::Deployment(d) => d.key(),
            Projection::Incident(i) => i.key(),
            Projection::Ticket(t) => t.key(),
            Projection::App(a) => a.key(),
            Projection::SecurityAlert(a) => a.key(),
        }
    }

    /// The bucket members this projection contributes to the weekly rollups.
    pub fn members(&self, config: &OrgConfig) -> Vec<Member> {
        match self {
            Projection::PullRequest(pr) => members_of_pull_request(pr, config),
            Projection::Deployment(d) => members_of_deployment(d, config),
            Projection::Incident(i) => members_of_incident(i, config),
            Projection::Ticket(t) => members_of_ticket(t, config),
            // An application's state is read as it stands (`GET /v1/environments`, `/metrics`);
            // its deployments count through their own entities.
            Projection::App(_) => Vec::new(),
            // Alerts are read as they stand, per repo (`GET /v1/security`, `/metrics`).
            Projection::SecurityAlert(_) => Vec::new(),
        }
    }

    /// A deployment that is not (yet) a finished attempt in a configured environment (still
    /// running, or to an environment no pattern matches) feeds no bucket, index or link:
    /// stored, it would only be the next rebuild's baseline, and "nothing stored" is the same
    /// baseline, so it is not written at all. A finished non-production one is stored for
    /// `GET /v1/environments`, on its environment's index, and feeds no bucket.
    pub fn is_worth_storing(&self) -> bool {
        !matches!(self, Projection::Deployment(d) if !d.is_attempt())
    }
}

/// The links a projection (old or new) feeds, to be re-derived after it changed, and the reads
/// that find the rest of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dependents {
    /// The repo whose deployment links are re-derived, from this time on.
    pub relink_repo: Option<(String, DateTime<Utc>)>,
    /// A merged revert PR: its own revert link.
    pub revert: Option<EntityKey>,
    /// A merged PR: the merged PRs of its repo in this window, any revert among which may
    /// revert it (merged before this PR's own facts arrived).
    pub later_reverts: Option<(String, RangeInclusive<DateTime<Utc>>)>,
    /// An incident: its own blame link.
    pub blame: Option<EntityKey>,
    /// A production deployment: the incidents of these services opening in these windows,
    /// which may blame it.
    pub blaming_incidents: Vec<(String, RangeInclusive<DateTime<Utc>>)>,
    /// A PR merged to its repo's default branch names that branch: (repo, branch).
    pub default_branch: Option<(String, String)>,
}

/// What re-derives after `projection` changed (called for the new and the old state alike).
pub fn dependents(projection: &Projection, config: &OrgConfig) -> Dependents {
    let mut found = Dependents::default();
    match projection {
        Projection::PullRequest(pr) => {
            let Some(merged) = pr.merged_at.filter(|_| pr.merged_to_default()) else {
                return found;
            };
            if !pr.default_branch.is_empty() {
                found.default_branch = Some((pr.repo.clone(), pr.default_branch.clone()));
            }
            found.relink_repo = Some((pr.repo.clone(), before(merged, LINK_SLACK)));
            found.revert = pr.is_revert.then(|| pr.key());
            found.later_reverts = Some((pr.repo.clone(), merged..=after(merged, HISTORY_WINDOW)));
        }
        Projection::Deployment(d) => {
            let Some(finished) = d.finished_at.filter(|_| d.is_production_attempt()) else {
                return found;
            };
            found.relink_repo = Some((d.repo.clone(), before(finished, LINK_SLACK)));
            let window = blaming_incidents_window(finished, config);
            found.blaming_incidents = blaming_services(&d.repo, config)
                .into_iter()
                .map(|service| (service, window.clone()))
                .collect();
        }
        Projection::Incident(i) => found.blame = Some(i.key()),
        // The PRs naming a ticket link to it from their side (`link_edits::ticket_links`).
        Projection::Ticket(_) => {}
        // Nothing links to an application's state or an alert.
        Projection::App(_) | Projection::SecurityAlert(_) => {}
    }
    found
}

/// The reverts among a repo's merged PRs that may revert PR `number` (every merged revert but
/// itself: `link_edits::revert` decides).
pub fn reverts_among(number: u64, merged: &[PullRequest]) -> Vec<EntityKey> {
    merged
        .iter()
        .filter(|later| later.is_revert && later.number != number)
        .map(PullRequest::key)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::testing::{production_deployment, t};
    use crate::model::DeploymentState::{self, Success};
    use chrono::Duration;

    fn config() -> OrgConfig {
        OrgConfig::from_yaml(
            "org: acme\nservices: { payments: { repos: [acme/api, acme/worker] } }",
        )
        .expect("config")
    }

    /// acme/api's deployment 7 to `stage`, finished at 10:00 when it has a state.
    fn deployment(state: Option<DeploymentState>, stage: Option<&str>) -> Deployment {
        let mut d = production_deployment("7", "abc1234", "2026-11-30T10:00:00Z", Success);
        d.state = state;
        d.finished_at = d.finished_at.filter(|_| state.is_some());
        d.stage = stage.map(str::to_string);
        d.is_production = stage == Some("production");
        if !d.is_production {
            d.environment = Some("staging".into());
        }
        d
    }

    #[test]
    fn a_finished_production_deployment_relinks_its_repo_and_asks_its_services_incidents() {
        // given a successful production deployment of a repo the payments service lists
        let d = deployment(Some(DeploymentState::Success), Some("production"));
        // when its dependents are planned
        let found = dependents(&Projection::Deployment(d), &config());
        // then its repo relinks from a day before, and incidents of payments and of the repo
        // itself opening after it may blame it
        let finished = t("2026-11-30T10:00:00Z");
        assert_eq!(
            found.relink_repo,
            Some(("acme/api".to_string(), finished - Duration::days(1)))
        );
        let services: Vec<&str> = found
            .blaming_incidents
            .iter()
            .map(|(s, _)| s.as_str())
            .collect();
        assert_eq!(services, ["payments", "acme/api"]);
        assert!(found
            .blaming_incidents
            .iter()
            .all(|(_, w)| *w.start() == finished));
    }

    #[test]
    fn an_unconfigured_or_running_deployment_feeds_nothing_and_is_not_stored() {
        for d in [
            deployment(Some(DeploymentState::Success), None),
            deployment(None, Some("production")),
            deployment(None, Some("preprod")),
        ] {
            let projection = Projection::Deployment(d);
            assert_eq!(dependents(&projection, &config()), Dependents::default());
            assert!(!projection.is_worth_storing());
        }
    }

    #[test]
    fn a_finished_deployment_to_another_environment_is_stored_and_feeds_its_own_buckets() {
        // given a finished (even failed) deployment to a configured preprod environment
        for state in [DeploymentState::Success, DeploymentState::Failure] {
            let d = deployment(Some(state), Some("preprod"));
            let projection = Projection::Deployment(d);
            // then it is kept for GET /v1/environments, nothing re-derives from it, and it
            // counts in preprod's scopes alone, never production's
            assert!(projection.is_worth_storing());
            assert_eq!(dependents(&projection, &config()), Dependents::default());
            let scopes: Vec<String> = projection
                .members(&config())
                .iter()
                .map(|m| m.bucket.scope.to_string())
                .collect();
            assert_eq!(scopes, ["org@preprod", "repo:acme/api@preprod"]);
        }
    }

    #[test]
    fn an_incident_reblames_itself() {
        let incident = Incident {
            id: "pd:1".into(),
            title: "down".into(),
            service: "payments".into(),
            services: vec!["payments".into()],
            severity: None,
            opened_at: t("2026-11-30T11:00:00Z"),
            resolved_at: None,
            deployment_sha: None,
            repo: None,
            html_url: None,
        };
        let found = dependents(&Projection::Incident(incident.clone()), &config());
        assert_eq!(found.blame, Some(incident.key()));
        assert_eq!(found.relink_repo, None);
    }
}
