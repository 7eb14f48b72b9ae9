//! `GET /v1/environments`: what each configured environment runs, per repo, and what it holds
//! that the next environment in promotion order does not ("in QA, not yet in production").
//! Pure: the edge reads each environment's latest finished attempts, the default branch's
//! history and the merged PRs between the deployed commits, and hands them in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::OrgConfig;
use crate::derive::deployment::seconds_between;
use crate::derive::links::prs_between;
use crate::derive::{AppState, Deployment, PullRequest};
use crate::metrics::prometheus::DeploymentAge;

/// How many of an environment's latest finished attempts are read to find the one that
/// succeeded last: a run of more failures than this answers "nothing deployed".
pub const ATTEMPTS_READ: usize = 20;

/// `GET /v1/environments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentsReport {
    pub scope: String,
    /// When the ages were measured.
    pub at: DateTime<Utc>,
    pub repos: Vec<RepoEnvironments>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepoEnvironments {
    pub repo: String,
    /// Every configured environment, in promotion order.
    pub environments: Vec<EnvironmentState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentState {
    pub environment: String,
    /// The last successful deployment there; `null` when none is known.
    pub deployment: Option<Deployed>,
    /// Seconds since that deployment finished.
    pub age_seconds: Option<f64>,
    /// The next environment in promotion order; `null` for the last one.
    pub next: Option<String>,
    /// Merged PRs this environment runs that the next one does not, by merge time; `null`
    /// when it cannot be told (no next environment, or nothing deployed on either side).
    pub ahead_of_next: Option<Vec<PendingPr>>,
    /// The GitOps applications (ArgoCD) deploying this repo here, by name: what each should
    /// run against what it runs ([`attach_apps`]). Left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppDrift>,
}

/// A GitOps application's desired against actual state in one environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppDrift {
    /// The application's name (`payments-api-prod`).
    pub app: String,
    /// The environment name its notifications report, which the config matched.
    pub reported_as: String,
    /// What it should run: its source's target revision (a branch, tag or commit).
    pub desired_revision: Option<String>,
    /// What it last synced to (a commit).
    pub synced_revision: Option<String>,
    /// `Synced`, `OutOfSync` or `Unknown`, as ArgoCD says.
    pub sync_status: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown`.
    pub health: String,
    pub in_sync: bool,
    /// Out of sync or not healthy at the latest observation.
    pub drifting: bool,
    /// The first observation of the current drift.
    pub drift_since: Option<DateTime<Utc>>,
    /// Seconds since `drift_since`.
    pub drift_seconds: Option<f64>,
    /// The latest observation.
    pub observed_at: DateTime<Utc>,
}

/// Puts each application of `apps` that deploys `report`'s repo under the configured
/// environment its reported environment matches; an application of no configured environment,
/// or of no known repo, is left out (as a deployment there would be).
pub fn attach_apps(
    report: &mut RepoEnvironments,
    apps: &[AppState],
    config: &OrgConfig,
    now: DateTime<Utc>,
) {
    for app in apps {
        if app.repo.as_deref() != Some(report.repo.as_str()) {
            continue;
        }
        let Some(stage) = config.environment_of(&app.environment) else {
            continue;
        };
        let Some(env) = report
            .environments
            .iter_mut()
            .find(|e| e.environment == stage)
        else {
            continue;
        };
        env.apps.push(AppDrift {
            app: app.app.clone(),
            reported_as: app.environment.clone(),
            desired_revision: app.desired_revision.clone(),
            synced_revision: app.synced_revision.clone(),
            sync_status: app.sync_status.clone(),
            health: app.health.clone(),
            in_sync: app.in_sync,
            drifting: app.is_drifting(),
            drift_since: app.drift_since,
            drift_seconds: app
                .drift_since
                .map(|since| seconds_between(since, now).max(0.0)),
            observed_at: app.observed_at,
        });
        env.apps.sort_by(|a, b| a.app.cmp(&b.app));
    }
}

/// Every application [`attach_apps`] placed, with its repo and configured environment
/// (`/metrics`).
pub fn app_drifts(answers: &[RepoEnvironments]) -> Vec<(&str, &str, &AppDrift)> {
    answers
        .iter()
        .flat_map(|repo| {
            repo.environments.iter().flat_map(move |env| {
                env.apps
                    .iter()
                    .map(move |app| (repo.repo.as_str(), env.environment.as_str(), app))
            })
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deployed {
    /// Source-qualified, as in `GET /v1/deployments/failed`.
    pub id: String,
    pub sha: Option<String>,
    /// The environment name the deployment reported (`qa-eu`), which the config matched.
    pub reported_as: Option<String>,
    pub finished_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingPr {
    pub number: u64,
    pub title: String,
    pub author: String,
    pub merged_at: Option<DateTime<Utc>>,
    /// The PR on GitHub.
    pub url: String,
    /// The tickets it names (`jira:PAY-142`): what the next environment does not have yet.
    pub tickets: Vec<String>,
}

/// What a repo's environment deployed last: the first successful attempt of its latest
/// attempts (given latest first).
pub fn deployed_now(latest_first: &[Deployment]) -> Option<&Deployment> {
    latest_first.iter().find(|d| d.is_successful_attempt())
}

/// What one repo's environments run. `deployed` holds each environment's current deployment
/// (by [`deployed_now`]), `history` the default branch's commits in order and `merged` its
/// merged PRs over the span of those deployments.
pub fn repo_environments(
    repo: &str,
    config: &OrgConfig,
    deployed: &[(String, Deployment)],
    history: &[String],
    merged: &[PullRequest],
    now: DateTime<Utc>,
    github: &str,
) -> RepoEnvironments {
    let current = |environment: &str| {
        deployed
            .iter()
            .find(|(name, _)| name == environment)
            .map(|(_, d)| d)
    };
    let environments = config
        .environment_names()
        .map(|environment| {
            let here = current(environment);
            let next = config.next_environment(environment);
            let ahead_of_next = match (here, next.and_then(current)) {
                (Some(here), Some(there)) => Some(
                    prs_between(there, here, history, merged)
                        .into_iter()
                        .map(|pr| pending(pr, github))
                        .collect(),
                ),
                _ => None,
            };
            EnvironmentState {
                environment: environment.to_string(),
                deployment: here.and_then(|d| {
                    Some(Deployed {
                        id: d.id.clone(),
                        sha: d.sha.clone(),
                        reported_as: d.environment.clone(),
                        finished_at: d.finished_at?,
                    })
                }),
                age_seconds: here
                    .and_then(|d| d.finished_at)
                    .map(|finished| seconds_between(finished, now).max(0.0)),
                next: next.map(str::to_string),
                ahead_of_next,
                apps: Vec::new(),
            }
        })
        .collect();
    RepoEnvironments {
        repo: repo.to_string(),
        environments,
    }
}

/// Each repo's environments' current deployment age (`/metrics`).
pub fn deployment_ages(answers: &[RepoEnvironments]) -> Vec<DeploymentAge> {
    answers
        .iter()
        .flat_map(|repo| {
            repo.environments.iter().filter_map(|env| {
                Some(DeploymentAge {
                    repo: repo.repo.clone(),
                    environment: env.environment.clone(),
                    age_seconds: env.age_seconds?,
                })
            })
        })
        .collect()
}

/// `(repo, environment, ticket)` for each ticket a repo's environment holds that the next one
/// does not: named by a PR of its `ahead_of_next`; each once.
pub fn pending_tickets(answers: &[RepoEnvironments]) -> Vec<(String, String, String)> {
    let mut pending = std::collections::BTreeSet::new();
    for repo in answers {
        for env in &repo.environments {
            for pr in env.ahead_of_next.iter().flatten() {
                for ticket in &pr.tickets {
                    pending.insert((repo.repo.clone(), env.environment.clone(), ticket.clone()));
                }
            }
        }
    }
    pending.into_iter().collect()
}

fn pending(pr: &PullRequest, github: &str) -> PendingPr {
    let url = pr.page_url(github);
    PendingPr {
        number: pr.number,
        title: pr.title.clone(),
        author: pr.author.clone(),
        merged_at: pr.merged_at,
        url,
        tickets: pr.tickets.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::links::branch_history;
    use crate::derive::testing::*;
    use crate::model::DeploymentState::{Failure, Success};

    const GITHUB: &str = "https://github.com";

    fn config() -> OrgConfig {
        OrgConfig::from_yaml(
            "org: acme\nenvironments: { dev: [dev], qa: ['qa-*'], production: [prod] }",
        )
        .expect("config")
    }

    fn in_stage(stage: &str, id: &str, sha: &str, finished: &str) -> Deployment {
        let mut d = production_deployment(id, sha, finished, Success);
        d.is_production = stage == "production";
        d.stage = Some(stage.to_string());
        d.environment = Some(format!("{stage}-eu"));
        d
    }

    /// `(stage, deployment)`, as the edge hands each environment's current deployment in.
    fn deployed_in(stage: &str, id: &str, sha: &str, finished: &str) -> (String, Deployment) {
        (stage.to_string(), in_stage(stage, id, sha, finished))
    }

    /// acme/api's environments at 14:00 on 5 Oct 2026.
    fn answer(
        deployed: &[(String, Deployment)],
        history: &[String],
        merged: &[PullRequest],
    ) -> RepoEnvironments {
        let now = t("2026-10-05T14:00:00Z");
        repo_environments(
            "acme/api",
            &config(),
            deployed,
            history,
            merged,
            now,
            GITHUB,
        )
    }

    fn merged_pr(number: u64, merged: &str, sha: &str) -> PullRequest {
        merged_pr_with(number, merged, sha, |_| {})
    }

    #[test]
    fn the_current_deployment_is_the_last_that_succeeded() {
        // given qa's latest attempts, latest first: a failure, then two successes
        let mut failed = in_stage("qa", "gh:3", "ddddddd", "2026-10-05T13:00:00Z");
        failed.state = Some(Failure);
        let latest_first = [
            failed,
            in_stage("qa", "gh:2", "ccccccc", "2026-10-05T11:00:00Z"),
            in_stage("qa", "gh:1", "aaaaaaa", "2026-10-05T09:30:00Z"),
        ];
        // then what qa runs is gh:2
        assert_eq!(
            deployed_now(&latest_first).map(|d| d.id.as_str()),
            Some("gh:2")
        );
        assert_eq!(deployed_now(&latest_first[..1]), None);
    }

    #[test]
    fn an_environment_lists_the_prs_the_next_one_does_not_have_yet() {
        // given main a → b,c → d; PR 1 merged as bbbbbbb, PR 2 as ddddddd
        let history = branch_history(&main_pushes());
        let merged = [
            merged_pr(1, "2026-10-05T09:55:00Z", "bbbbbbb"),
            merged_pr(2, "2026-10-05T11:55:00Z", "ddddddd"),
        ];
        // and dev runs d (12:30), qa runs c (11:00), production runs a (09:30)
        let deployed = [
            deployed_in("dev", "gh:5", "ddddddd", "2026-10-05T12:30:00Z"),
            deployed_in("qa", "gh:4", "ccccccc", "2026-10-05T11:00:00Z"),
            deployed_in("production", "gh:1", "aaaaaaa", "2026-10-05T09:30:00Z"),
        ];
        // when the repo's environments are answered
        let report = answer(&deployed, &history, &merged);
        let by_name = |name: &str| {
            report
                .environments
                .iter()
                .find(|e| e.environment == name)
                .expect("environment")
        };
        let numbers = |name: &str| {
            by_name(name)
                .ahead_of_next
                .as_ref()
                .map(|prs| prs.iter().map(|p| p.number).collect::<Vec<_>>())
        };
        // then each holds what the next one lacks: dev has PR 2 that qa lacks, qa has PR 1
        // that production lacks, and production is last
        assert_eq!(numbers("dev"), Some(vec![2]));
        assert_eq!(numbers("qa"), Some(vec![1]));
        assert_eq!(numbers("production"), None);
        assert_eq!(by_name("qa").next.as_deref(), Some("production"));
        assert_eq!(by_name("production").next, None);
        // with its deployment and age: qa finished at 11:00, 3 h before now
        let qa = by_name("qa");
        assert_eq!(qa.age_seconds, Some(3.0 * 3600.0));
        let deployment = qa.deployment.as_ref().expect("deployed");
        assert_eq!(
            (deployment.id.as_str(), deployment.sha.as_deref()),
            ("gh:4", Some("ccccccc"))
        );
        assert_eq!(deployment.reported_as.as_deref(), Some("qa-eu"));
        let pr = &qa.ahead_of_next.as_ref().expect("known")[0];
        assert_eq!(pr.url, "https://github.com/acme/api/pull/1");
        assert_eq!(
            report
                .environments
                .iter()
                .map(|e| e.environment.as_str())
                .collect::<Vec<_>>(),
            ["dev", "qa", "production"]
        );
    }

    #[test]
    fn nothing_is_ahead_when_the_next_environment_runs_the_same_or_a_newer_commit() {
        let history = branch_history(&main_pushes());
        let merged = [merged_pr(1, "2026-10-05T09:55:00Z", "bbbbbbb")];
        let deployed = [
            deployed_in("qa", "gh:4", "ccccccc", "2026-10-05T11:00:00Z"),
            deployed_in("production", "gh:6", "ddddddd", "2026-10-05T12:30:00Z"),
        ];
        let report = answer(&deployed, &history, &merged);
        let qa = &report.environments[1];
        assert_eq!(qa.environment, "qa");
        assert_eq!(qa.ahead_of_next, Some(vec![]));
        // dev deployed nothing: no deployment, no age, and what it holds is unknown
        let dev = &report.environments[0];
        assert_eq!((dev.deployment.as_ref(), dev.age_seconds), (None, None));
        assert_eq!(dev.ahead_of_next, None);
    }

    #[test]
    fn commits_missing_from_the_history_fall_back_to_merge_times() {
        // given shas the branch history does not hold
        let history: Vec<String> = Vec::new();
        let merged = [
            merged_pr(1, "2026-10-05T09:55:00Z", "bbbbbbb"),
            merged_pr(2, "2026-10-05T10:30:00Z", "ccccccc"),
        ];
        // production finished 10:00; qa's deployment started 10:55 (5 min before 11:00)
        let deployed = [
            deployed_in("qa", "gh:4", "fffffff", "2026-10-05T11:00:00Z"),
            deployed_in("production", "gh:1", "eeeeeee", "2026-10-05T10:00:00Z"),
        ];
        let report = answer(&deployed, &history, &merged);
        // then qa holds what merged after production finished and before qa started: PR 2
        let qa = &report.environments[1];
        let numbers: Vec<u64> = qa
            .ahead_of_next
            .as_ref()
            .expect("known")
            .iter()
            .map(|p| p.number)
            .collect();
        assert_eq!(numbers, [2]);
    }

    #[test]
    fn the_gauges_are_each_environments_age_and_the_tickets_it_holds_ahead_of_the_next() {
        // given PR 1 (PAY-1, PAY-2) in dev and qa, PR 2 (PAY-3) in dev only
        let history = branch_history(&main_pushes());
        let mut first = merged_pr(1, "2026-10-05T09:55:00Z", "bbbbbbb");
        first.tickets = vec!["jira:PAY-1".into(), "jira:PAY-2".into()];
        let mut second = merged_pr(2, "2026-10-05T11:55:00Z", "ddddddd");
        second.tickets = vec!["jira:PAY-3".into()];
        let deployed = [
            deployed_in("dev", "gh:5", "ddddddd", "2026-10-05T12:30:00Z"),
            deployed_in("qa", "gh:4", "ccccccc", "2026-10-05T11:00:00Z"),
            deployed_in("production", "gh:1", "aaaaaaa", "2026-10-05T09:30:00Z"),
        ];
        let answers = [answer(&deployed, &history, &[first, second])];
        // then dev holds PAY-3 ahead of qa, qa PAY-1 and PAY-2 ahead of production
        let found = pending_tickets(&answers);
        let pending: Vec<(&str, &str)> = found
            .iter()
            .map(|(_, env, t)| (env.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            pending,
            [
                ("dev", "jira:PAY-3"),
                ("qa", "jira:PAY-1"),
                ("qa", "jira:PAY-2")
            ]
        );
        // and each environment's age is measured from 14:00
        let ages: Vec<(String, f64)> = deployment_ages(&answers)
            .into_iter()
            .map(|a| (a.environment, a.age_seconds))
            .collect();
        assert_eq!(
            ages,
            [
                ("dev".to_string(), 5400.0),
                ("qa".to_string(), 10800.0),
                ("production".to_string(), 16200.0)
            ]
        );
    }
}
