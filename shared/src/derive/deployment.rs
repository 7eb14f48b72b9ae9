//! A deployment's projection: its request, its statuses, and the links the rollup function
//! derived for it (what it shipped, which incidents blame it, which shipped PRs were reverted).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{OrgConfig, PRODUCTION};
pub use crate::model::ShippedPr;
use crate::model::{DeploymentState, EntityKey, Fact, FactBody};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Blame {
    pub incident: EntityKey,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub repo: String,
    pub id: String,
    pub environment: Option<String>,
    pub sha: Option<String>,
    pub workflow: Option<String>,
    /// The configured environment (`environments:`) it deployed to, in promotion order's
    /// names: `qa`, `production`; `None`: an environment no pattern matches, which counts in
    /// nothing. A `deploy_workflows` run is `production`.
    #[serde(default)]
    pub stage: Option<String>,
    pub is_production: bool,
    /// The latest terminal status; `None` while the deployment is still running.
    pub state: Option<DeploymentState>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub ships: Vec<ShippedPr>,
    pub blamed_by: Vec<Blame>,
    pub reverted_prs: Vec<EntityKey>,
    /// The later deployment that redeployed an older commit over this one (a rollback).
    #[serde(default)]
    pub rolled_back_by: Option<EntityKey>,
    /// Finish of the next successful production deployment of the repo, written as a link on
    /// failed deployments: their recovery when no incident blames them.
    pub next_success_at: Option<DateTime<Utc>>,
    /// A GitHub Deployment made by an Actions job: the workflow run whose `wr:` deployment this
    /// one supersedes.
    #[serde(default)]
    pub workflow_run: Option<u64>,
    /// On a `wr:` deployment: the GitHub production Deployment one of its jobs created. The
    /// same deployment is then recorded twice; it counts once, as the GitHub Deployment, which
    /// names its real environment.
    #[serde(default)]
    pub superseded_by: Option<EntityKey>,
}

impl Deployment {
    pub fn key(&self) -> EntityKey {
        EntityKey::Deployment {
            repo: self.repo.clone(),
            id: self.id.clone(),
        }
    }

    /// A terminal attempt in a configured environment: what `GET /v1/environments` reads. A
    /// workflow run superseded by the GitHub Deployment its job created is not one: that
    /// deployment is.
    pub fn is_attempt(&self) -> bool {
        // `is_production` too: projections stored before `stage` existed have none.
        (self.stage.is_some() || self.is_production)
            && self.superseded_by.is_none()
            && self.state.is_some()
            && self.finished_at.is_some()
    }

    /// A terminal production attempt: what deployment counts and change failure rate count.
    pub fn is_production_attempt(&self) -> bool {
        self.is_production && self.is_attempt()
    }

    /// A successful terminal attempt in a configured environment: what is deployed there.
    pub fn is_successful_attempt(&self) -> bool {
        self.is_attempt() && self.state == Some(DeploymentState::Success)
    }

    /// The `wr:` deployment this GitHub production Deployment supersedes, if its job's run is
    /// known: the link that makes the pair count once.
    pub fn supersedes(&self) -> Option<EntityKey> {
        let run = self.workflow_run?;
        (self.is_production && self.id.starts_with("gh:")).then(|| EntityKey::Deployment {
            repo: self.repo.clone(),
            id: format!("wr:{run}"),
        })
    }

    pub fn is_successful_production(&self) -> bool {
        self.is_production_attempt() && self.state == Some(DeploymentState::Success)
    }

    /// Failed by status, by an incident that blames it, by a rollback, or by a revert of what
    /// it shipped.
    pub fn is_failed(&self) -> bool {
        matches!(
            self.state,
            Some(DeploymentState::Failure | DeploymentState::Error)
        ) || !self.blamed_by.is_empty()
            || self.rolled_back_by.is_some()
            || !self.reverted_prs.is_empty()
    }

    /// Needs the next successful deployment as its recovery point (no incident to resolve).
    pub fn needs_next_success(&self) -> bool {
        self.is_production_attempt() && self.is_failed() && self.blamed_by.is_empty()
    }

    /// Seconds from finish to recovery: the latest resolve of the blaming incidents, else the
    /// next successful production deployment. `None` while not recovered.
    pub fn recovery_seconds(&self) -> Option<f64> {
        if !self.is_failed() {
            return None;
        }
        let finished = self.finished_at?;
        let recovered = if self.blamed_by.is_empty() {
            self.next_success_at?
        } else {
            let mut latest = None;
            for blame in &self.blamed_by {
                let resolved = blame.resolved_at?;
                latest = Some(latest.map_or(resolved, |l: DateTime<Utc>| l.max(resolved)));
            }
            latest?
        };
        Some(seconds_between(finished, recovered))
    }

    /// Every shipped PR is an unplanned fix (DORA 2024 rework).
    pub fn is_rework(&self) -> bool {
        !self.ships.is_empty() && self.ships.iter().all(|s| s.rework)
    }
}

/// Non-negative seconds from `from` to `to`; clock skew between sources never yields a negative
/// duration.
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds().max(0) as f64) / 1000.0
}

/// A fold's facts in the order it reads them: by time, then by fact id. Facts arrive in any
/// order (a status before its request, a review before its PR), and a projection must not
/// depend on which came first.
pub(super) fn facts_in_order(facts: &[Fact]) -> Vec<&Fact> {
    let mut sorted: Vec<&Fact> = facts.iter().collect();
    sorted.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    sorted
}

/// The earlier of the time found so far (if any) and another: for the starts and firsts
/// (opening, first commit, first review) that several facts report, the earliest is the one.
pub(super) fn earliest(
    current: Option<DateTime<Utc>>,
    candidate: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    Some(current.map_or(candidate, |c| c.min(candidate)))
}

/// Folds a deployment's facts. `None` until a request or status names its environment, and for
/// workflow runs whose workflow is not a configured deploy workflow.
pub fn project_deployment(
    key: &EntityKey,
    facts: &[Fact],
    config: &OrgConfig,
) -> Option<Deployment> {
    let EntityKey::Deployment { repo, id } = key else {
        return None;
    };
    let mut fold = DeploymentFold::default();
    for fact in facts_in_order(facts) {
        fold.apply(fact);
    }
    fold.finish(repo, id, config)
}

/// A deployment's state part way through its facts.
#[derive(Default)]
struct DeploymentFold {
    environment: Option<String>,
    sha: Option<String>,
    workflow: Option<String>,
    requested_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    terminal: Option<(DateTime<Utc>, DeploymentState)>,
    ships: Vec<ShippedPr>,
    blamed_by: Vec<Blame>,
    reverted_prs: Vec<EntityKey>,
    next_success_at: Option<DateTime<Utc>>,
    rolled_back_by: Option<EntityKey>,
    workflow_run: Option<u64>,
    superseded_by: Option<EntityKey>,
}

impl DeploymentFold {
    fn apply(&mut self, fact: &Fact) {
        match &fact.body {
            FactBody::DeploymentRequested {
                environment,
                sha,
                workflow,
                workflow_run,
                ..
            } => self.requested(environment, sha, workflow, *workflow_run, fact.at),
            FactBody::DeploymentStatus {
                state,
                environment,
                sha,
                started_at,
                workflow_run,
            } => self.status(
                *state,
                environment,
                sha,
                *started_at,
                *workflow_run,
                fact.at,
            ),
            FactBody::ShipsPrs { prs } => self.ships.extend(prs.iter().cloned()),
            FactBody::BlamedBy {
                incident,
                opened_at,
                resolved_at,
            } => self.blamed_by.push(Blame {
                incident: incident.clone(),
                opened_at: *opened_at,
                resolved_at: *resolved_at,
            }),
            FactBody::ShippedPrReverted { pr, .. } => self.reverted_prs.push(pr.clone()),
            FactBody::FollowedBy { finished_at, .. } => self.next_success_at = Some(*finished_at),
            FactBody::RolledBackBy { deployment } => self.rolled_back_by = Some(deployment.clone()),
            // Several jobs of one run could each create a production Deployment: the least
            // key decides, whatever the order the links arrived in.
            FactBody::SupersededBy { deployment }
                if self
                    .superseded_by
                    .as_ref()
                    .is_none_or(|current| deployment < current) =>
            {
                self.superseded_by = Some(deployment.clone());
            }
            _ => {}
        }
    }

    /// The request names what is deployed where, so the latest request's environment and sha
    /// win over any a status carried; its time starts the deployment if no status says when.
    fn requested(
        &mut self,
        environment: &str,
        sha: &str,
        workflow: &Option<String>,
        workflow_run: Option<u64>,
        at: DateTime<Utc>,
    ) {
        self.workflow_run = workflow_run.or(self.workflow_run);
        self.environment = Some(environment.to_string());
        self.sha = Some(sha.to_string());
        self.workflow = workflow.clone().or(self.workflow.take());
        self.requested_at = earliest(self.requested_at, at);
    }

    /// A status only fills in the environment, sha and run that no earlier fact named; it
    /// starts the deployment when it reports a start or is `in_progress`, and the latest
    /// terminal status is the outcome.
    fn status(
        &mut self,
        state: DeploymentState,
        environment: &Option<String>,
        sha: &Option<String>,
        started_at: Option<DateTime<Utc>>,
        workflow_run: Option<u64>,
        at: DateTime<Utc>,
    ) {
        self.workflow_run = self.workflow_run.or(workflow_run);
        if self.environment.is_none() {
            self.environment = environment.clone();
        }
        if self.sha.is_none() {
            self.sha = sha.clone();
        }
        if let Some(started) = started_at {
            self.started_at = earliest(self.started_at, started);
        }
        if state == DeploymentState::InProgress {
            self.started_at = earliest(self.started_at, at);
        }
        if state.is_terminal() {
            self.terminal = Some((at, state));
        }
    }

    /// Production by its workflow when it is a workflow run (a run of any other workflow is no
    /// deployment at all), else by its environment. Link lists are sorted and deduplicated so
    /// that the projection does not depend on the order links were written in.
    fn finish(mut self, repo: &str, id: &str, config: &OrgConfig) -> Option<Deployment> {
        let environment_name = self.environment.clone()?;
        let stage = match &self.workflow {
            Some(name) => {
                if !config.is_deploy_workflow(name) {
                    return None;
                }
                Some(PRODUCTION)
            }
            None => config.environment_of(&environment_name),
        };
        let is_production = stage == Some(PRODUCTION);
        self.ships.sort_by(|a, b| a.pr.cmp(&b.pr));
        self.ships.dedup_by(|a, b| a.pr == b.pr);
        self.blamed_by.sort_by(|a, b| a.incident.cmp(&b.incident));
        self.reverted_prs.sort();
        self.reverted_prs.dedup();
        Some(Deployment {
            repo: repo.to_string(),
            id: id.to_string(),
            environment: self.environment,
            sha: self.sha,
            workflow: self.workflow,
            stage: stage.map(str::to_string),
            is_production,
            state: self.terminal.map(|(_, s)| s),
            started_at: self.started_at.or(self.requested_at),
            finished_at: self.terminal.map(|(at, _)| at),
            ships: self.ships,
            blamed_by: self.blamed_by,
            reverted_prs: self.reverted_prs,
            rolled_back_by: self.rolled_back_by,
            next_success_at: self.next_success_at,
            workflow_run: self.workflow_run,
            superseded_by: self.superseded_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::testing::*;

    #[test]
    fn status_before_request_folds_the_same() {
        let cfg = OrgConfig::default();
        let key = dep_key("acme/api", "gh:1");
        let req = dep_request(&key, "d1", "production", "abc", "2026-10-05T10:00:00Z");
        let ok = dep_status(&key, "d2", DeploymentState::Success, "2026-10-05T10:05:00Z");
        let a = project_deployment(&key, &[req.clone(), ok.clone()], &cfg);
        let b = project_deployment(&key, &[ok, req], &cfg);
        assert_eq!(a, b);
        let d = a.expect("deployment");
        assert!(d.is_successful_production());
        assert_eq!(d.finished_at, Some(t("2026-10-05T10:05:00Z")));
        assert_eq!(d.started_at, Some(t("2026-10-05T10:00:00Z")));
    }

    #[test]
    fn shipped_prs_come_from_the_ships_list_sorted() {
        let cfg = OrgConfig::default();
        let key = dep_key("acme/api", "gh:1");
        let req = dep_request(&key, "d1", "production", "abc", "2026-10-05T10:00:00Z");
        let pr = |n| EntityKey::PullRequest {
            repo: "acme/api".into(),
            number: n,
        };
        let link = |id: &str, body| Fact {
            entity: key.clone(),
            id: id.into(),
            at: t("2026-10-05T10:05:00Z"),
            body,
        };
        let list = link(
            "ships",
            FactBody::ShipsPrs {
                prs: vec![
                    ShippedPr {
                        pr: pr(2),
                        rework: true,
                    },
                    ShippedPr {
                        pr: pr(1),
                        rework: true,
                    },
                ],
            },
        );
        let d = project_deployment(&key, &[req, list], &cfg).expect("deployment");
        assert_eq!(
            d.ships.iter().map(|s| s.pr.clone()).collect::<Vec<_>>(),
            vec![pr(1), pr(2)],
            "sorted, each PR once"
        );
        assert!(d.is_rework(), "every shipped PR is rework");
    }

    #[test]
    fn non_terminal_and_staging_do_not_count() {
        let cfg = OrgConfig::default();
        let key = dep_key("acme/api", "gh:1");
        let req = dep_request(&key, "d1", "production", "abc", "2026-10-05T10:00:00Z");
        let running = dep_status(
            &key,
            "d2",
            DeploymentState::InProgress,
            "2026-10-05T10:01:00Z",
        );
        let d = project_deployment(&key, &[req, running], &cfg).expect("deployment");
        assert!(!d.is_production_attempt());
        let staging = dep_request(&key, "d1", "staging", "abc", "2026-10-05T10:00:00Z");
        let ok = dep_status(&key, "d2", DeploymentState::Success, "2026-10-05T10:05:00Z");
        let d = project_deployment(&key, &[staging, ok], &cfg).expect("deployment");
        assert!(!d.is_production_attempt());
        assert!(
            !d.is_attempt(),
            "staging is no configured environment by default"
        );
    }

    #[test]
    fn a_deployment_takes_the_configured_environment_its_name_matches() {
        let cfg = OrgConfig::from_yaml(
            "org: acme\nenvironments: { qa: ['qa-*'], preprod: [staging], production: [prod] }",
        )
        .expect("config");
        let key = dep_key("acme/api", "gh:1");
        let ok = dep_status(&key, "d2", DeploymentState::Success, "2026-10-05T10:05:00Z");
        let stage_of = |environment: &str| {
            let req = dep_request(&key, "d1", environment, "abc", "2026-10-05T10:00:00Z");
            let d = project_deployment(&key, &[req, ok.clone()], &cfg).expect("deployment");
            (d.stage.clone(), d.is_production, d.is_attempt())
        };
        assert_eq!(stage_of("qa-eu"), (Some("qa".into()), false, true));
        assert_eq!(stage_of("Staging"), (Some("preprod".into()), false, true));
        assert_eq!(stage_of("prod"), (Some("production".into()), true, true));
        assert_eq!(stage_of("sandbox"), (None, false, false));
    }

    #[test]
    fn recovery_is_latest_blaming_incident_resolve_else_next_success() {
        let mut d = Deployment {
            repo: "acme/api".into(),
            id: "gh:1".into(),
            environment: Some("production".into()),
            sha: Some("abc".into()),
            stage: Some("production".into()),
            is_production: true,
            state: Some(DeploymentState::Failure),
            finished_at: Some(t("2026-10-05T10:00:00Z")),
            next_success_at: Some(t("2026-10-05T11:00:00Z")),
            ..Deployment::default()
        };
        assert_eq!(d.recovery_seconds(), Some(3600.0));
        d.blamed_by = vec![
            Blame {
                incident: incident_key("pd:1"),
                opened_at: t("2026-10-05T10:10:00Z"),
                resolved_at: Some(t("2026-10-05T12:00:00Z")),
            },
            Blame {
                incident: incident_key("pd:2"),
                opened_at: t("2026-10-05T10:20:00Z"),
                resolved_at: Some(t("2026-10-05T13:00:00Z")),
            },
        ];
        assert_eq!(d.recovery_seconds(), Some(3.0 * 3600.0));
        d.blamed_by[1].resolved_at = None;
        assert_eq!(
            d.recovery_seconds(),
            None,
            "an open incident means not recovered"
        );
    }
}
