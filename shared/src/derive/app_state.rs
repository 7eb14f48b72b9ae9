//! An application's desired against actual state, folded from what its GitOps tool reported
//! (`FactBody::AppState`, from `ingest::argocd`).
//!
//! Observations are read in time order (then fact id, so the order deliveries arrived in never
//! matters). The latest says where the application stands. The application **drifts** while an
//! observation shows it out of sync (its cluster does not run what its source says) or not
//! `Healthy`; `drift_since` is the first observation of the current streak of drifting
//! observations, and an observation in sync and healthy ends the streak.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deployment::facts_in_order;
use crate::model::{EntityKey, Fact, FactBody, RepoName};

/// Argo CD's sync status when the cluster runs what the source says.
pub const SYNCED: &str = "Synced";
/// Argo CD's health status when every resource is healthy.
pub const HEALTHY: &str = "Healthy";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppState {
    /// The entity id: `argocd:<app>@<environment>`.
    pub id: String,
    pub app: String,
    /// The latest observation's repository, else the latest one any observation named.
    pub repo: Option<RepoName>,
    pub environment: String,
    /// What the application should run (its source's target revision).
    pub desired_revision: Option<String>,
    /// What it was last synced to.
    pub synced_revision: Option<String>,
    pub sync_status: String,
    pub health: String,
    /// The latest observation says `Synced`.
    pub in_sync: bool,
    /// The first observation of the current drift (out of sync or not healthy); `None` when
    /// the latest observation is in sync and healthy.
    pub drift_since: Option<DateTime<Utc>>,
    /// The latest observation.
    pub observed_at: DateTime<Utc>,
}

impl AppState {
    pub fn key(&self) -> EntityKey {
        EntityKey::App {
            id: self.id.clone(),
        }
    }

    /// Out of sync or not healthy at the latest observation.
    pub fn is_drifting(&self) -> bool {
        self.drift_since.is_some()
    }
}

/// Folds an application's facts into its current state; `None` for another kind of entity or an
/// application without observations. Facts of other bodies are ignored.
pub fn project_app_state(key: &EntityKey, facts: &[Fact]) -> Option<AppState> {
    let EntityKey::App { id } = key else {
        return None;
    };
    let mut state: Option<AppState> = None;
    for fact in facts_in_order(facts) {
        let FactBody::AppState {
            app,
            environment,
            repo,
            desired_revision,
            synced_revision,
            sync_status,
            health,
            ..
        } = &fact.body
        else {
            continue;
        };
        let in_sync = sync_status == SYNCED;
        let drifting = !in_sync || health != HEALTHY;
        let previous = state.take();
        let drift_since = match (drifting, previous.as_ref().and_then(|p| p.drift_since)) {
            (false, _) => None,
            (true, Some(since)) => Some(since),
            (true, None) => Some(fact.at),
        };
        state = Some(AppState {
            id: id.clone(),
            app: app.clone(),
            repo: repo.clone().or(previous.and_then(|p| p.repo)),
            environment: environment.clone(),
            desired_revision: desired_revision.clone(),
            synced_revision: synced_revision.clone(),
            sync_status: sync_status.clone(),
            health: health.clone(),
            in_sync,
            drift_since,
            observed_at: fact.at,
        });
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::testing::ts;

    fn key() -> EntityKey {
        EntityKey::App {
            id: "argocd:guestbook@guestbook-prod".into(),
        }
    }

    /// An observation of guestbook at `at`, synced to `synced`.
    fn observed(at: &str, sync: &str, health: &str, synced: &str) -> Fact {
        let body = FactBody::AppState {
            app: "guestbook".into(),
            environment: "guestbook-prod".into(),
            repo: Some("argoproj/argocd-example-apps".into()),
            desired_revision: Some("HEAD".into()),
            synced_revision: Some(synced.into()),
            sync_status: sync.into(),
            health: health.into(),
            observed_at: ts(at),
        };
        Fact {
            entity: key(),
            id: format!("state:{at}#0"),
            at: ts(at),
            body,
        }
    }

    fn project(facts: &[Fact]) -> AppState {
        project_app_state(&key(), facts).expect("an application with observations")
    }

    #[test]
    fn the_latest_observation_is_the_state() {
        // given a sync that went out of sync, then back in sync and healthy
        let facts = [
            observed("2026-10-05T10:00:00Z", "OutOfSync", "Healthy", "aaa"),
            observed("2026-10-05T10:02:00Z", "Synced", "Healthy", "bbb"),
        ];
        // when folded
        let state = project(&facts);
        // then it is the latest, in sync, not drifting
        assert_eq!(
            state,
            AppState {
                id: "argocd:guestbook@guestbook-prod".into(),
                app: "guestbook".into(),
                repo: Some("argoproj/argocd-example-apps".into()),
                environment: "guestbook-prod".into(),
                desired_revision: Some("HEAD".into()),
                synced_revision: Some("bbb".into()),
                sync_status: "Synced".into(),
                health: "Healthy".into(),
                in_sync: true,
                drift_since: None,
                observed_at: ts("2026-10-05T10:02:00Z"),
            }
        );
        assert!(!state.is_drifting());
        assert_eq!(state.key(), key());
    }

    #[test]
    fn drift_starts_at_the_first_drifting_observation_of_the_current_streak() {
        let cases = [
            // out of sync, degraded, out of sync again: one streak since the first
            (
                [
                    ("10:00", "OutOfSync", "Healthy"),
                    ("10:05", "Synced", "Degraded"),
                    ("10:09", "OutOfSync", "Healthy"),
                ],
                Some("10:00"),
            ),
            // in sync and healthy in between: the streak starts again
            (
                [
                    ("10:00", "OutOfSync", "Healthy"),
                    ("10:05", "Synced", "Healthy"),
                    ("10:20", "Synced", "Degraded"),
                ],
                Some("10:20"),
            ),
            // ending in sync and healthy: no drift
            (
                [
                    ("10:00", "Unknown", "Healthy"),
                    ("10:05", "Synced", "Progressing"),
                    ("10:20", "Synced", "Healthy"),
                ],
                None,
            ),
        ];
        let at = |hm: &str| format!("2026-10-05T{hm}:00Z");
        for (observations, since) in cases {
            // given the observations
            let facts = observations.map(|(t, sync, health)| observed(&at(t), sync, health, "a"));
            // when folded
            let state = project(&facts);
            // then the drift started at the expected one, and the state is the latest
            let (last, sync, _) = observations[2];
            assert_eq!(
                state.drift_since,
                since.map(|t| ts(&at(t))),
                "{observations:?}"
            );
            assert_eq!(state.is_drifting(), since.is_some());
            assert_eq!(state.observed_at, ts(&at(last)));
            assert_eq!(state.in_sync, sync == "Synced");
        }
    }

    #[test]
    fn progressing_unknown_and_missing_health_are_drift_too() {
        for health in ["Progressing", "Unknown", "Missing", "Suspended"] {
            let state = project(&[observed("2026-10-05T10:00:00Z", "Synced", health, "a")]);
            assert_eq!(
                state.drift_since,
                Some(ts("2026-10-05T10:00:00Z")),
                "{health}"
            );
        }
    }

    #[test]
    fn facts_arriving_out_of_order_fold_the_same() {
        // given the streak of the drift test, delivered latest first
        let a = observed("2026-10-05T10:00:00Z", "OutOfSync", "Healthy", "aaa");
        let b = observed("2026-10-05T10:05:00Z", "Synced", "Healthy", "bbb");
        let c = observed("2026-10-05T10:20:00Z", "Synced", "Degraded", "bbb");
        // when folded in every order
        let expected = project(&[a.clone(), b.clone(), c.clone()]);
        for order in [
            [c.clone(), b.clone(), a.clone()],
            [b.clone(), c.clone(), a.clone()],
            [c.clone(), a.clone(), b.clone()],
        ] {
            // then the state is the same
            assert_eq!(project(&order), expected);
        }
        assert_eq!(expected.drift_since, Some(ts("2026-10-05T10:20:00Z")));
    }

    #[test]
    fn a_repo_named_once_is_kept_and_other_facts_and_keys_give_nothing() {
        // given an observation with a repo, then one without
        let first = observed("2026-10-05T10:00:00Z", "Synced", "Healthy", "a");
        let mut second = observed("2026-10-05T10:01:00Z", "Synced", "Healthy", "a");
        if let FactBody::AppState { repo, .. } = &mut second.body {
            *repo = None;
        }
        // when folded, the repo is the one named
        assert_eq!(
            project(&[first.clone(), second]).repo.as_deref(),
            Some("argoproj/argocd-example-apps")
        );
        // and another entity, or no observation, is no state
        let deployment = EntityKey::Deployment {
            repo: "acme/api".into(),
            id: "argocd:x".into(),
        };
        assert_eq!(project_app_state(&deployment, &[first]), None);
        assert_eq!(project_app_state(&key(), &[]), None);
    }
}
