//! `GET /v1/pull-requests/slowest` and `GET /v1/deployments/failed`: the PRs and deployments
//! behind a team's numbers, by name. The percentiles say that review is slow; the list says
//! which PRs waited, so a lead can open them. Pure: the edge reads the merged PRs and the
//! production deployments of the scope's repos in the period ([`ListScope`]) and hands them in.
//!
//! Each entry's numbers are the ones the rollups were built from (`PullRequest::cycle_spans`,
//! `Deployment::recovery_seconds`), so a listed failure is one the change failure rate counted
//! and a listed PR's total is one of the samples of the cycle-time percentiles.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::config::OrgConfig;
use crate::derive::{Deployment, PullRequest, Scope};
use crate::model::DeploymentState;
use crate::scope::ScopePlan;

/// Entries a list answers when the query does not say.
pub const DEFAULT_LIMIT: usize = 10;
/// The most entries one list answers.
pub const MAX_LIMIT: usize = 100;
/// The instants a listed period spans: from its first Monday 00:00 (inclusive) to the Monday
/// after its last week (exclusive), in the org's timezone.
pub type PeriodSpan = (DateTime<Utc>, DateTime<Utc>);

/// GitHub's web base, for links the payloads did not give (as the digest links them).
pub const GITHUB_WEB: &str = "https://github.com";

/// What a list reads for a scope: the repos whose production deployments and merged PRs it
/// lists and, for a team that names its members, whose PRs count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListScope {
    /// The repos of the scope's deployment numbers, `owner/repo` lower-cased, sorted, once
    /// each.
    pub deployment_repos: Vec<String>,
    /// The repos whose merged PRs may count: the same repos, or for a team of named members
    /// every repo the config names, since its PR numbers follow the people wherever they merge.
    pub pr_repos: Vec<String>,
    /// Lower-cased logins; `None` = every author.
    pub authors: Option<BTreeSet<String>>,
}

impl ListScope {
    /// The repos of the plan's deployment scopes (the org: every repo the config names), and
    /// the authors of its PR scopes when they are people. Repos no team or service names are
    /// read by a `repo:` scope only: a list reads repos, and the config is where they are
    /// known (docs/METRICS.md, "Lists").
    pub fn of(plan: &ScopePlan, config: &OrgConfig) -> ListScope {
        let mut repos = BTreeSet::new();
        for scope in &plan.delivery {
            match scope {
                Scope::Org => repos.extend(config.configured_repos()),
                Scope::Repo(repo) => {
                    repos.insert(repo.to_ascii_lowercase());
                }
                Scope::Author(_)
                | Scope::Service(_)
                | Scope::Tickets(_)
                | Scope::OrgIn(_)
                | Scope::RepoIn { .. } => {}
            }
        }
        let authors: BTreeSet<String> = plan
            .pull_requests
            .iter()
            .filter_map(|scope| match scope {
                Scope::Author(login) => Some(login.to_lowercase()),
                _ => None,
            })
            .collect();
        let deployment_repos: Vec<String> = repos.into_iter().collect();
        let pr_repos = if authors.is_empty() {
            deployment_repos.clone()
        } else {
            let mut all: BTreeSet<String> = config.configured_repos().into_iter().collect();
            all.extend(deployment_repos.iter().cloned());
            all.into_iter().collect()
        };
        ListScope {
            deployment_repos,
            pr_repos,
            authors: (!authors.is_empty()).then_some(authors),
        }
    }

    fn counts_author(&self, login: &str) -> bool {
        self.authors
            .as_ref()
            .is_none_or(|authors| authors.contains(&login.to_lowercase()))
    }
}

/// `GET /v1/pull-requests/slowest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlowestPullRequests {
    pub scope: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// PRs merged in the period that the list chose from (bots left out).
    pub merged: usize,
    /// The slowest by cycle time total, slowest first; ties by repo, then number.
    pub pull_requests: Vec<SlowPullRequest>,
}

/// A merged PR with its cycle time in parts (`null`: the part is undefined or not known yet,
/// as in `GET /v1/cycle-time`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlowPullRequest {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub author: String,
    /// The PR on GitHub.
    pub url: String,
    pub merged_at: DateTime<Utc>,
    pub coding_seconds: Option<f64>,
    pub pickup_seconds: Option<f64>,
    pub review_seconds: Option<f64>,
    pub deploy_seconds: Option<f64>,
    pub total_seconds: f64,
}

/// `GET /v1/deployments/failed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedDeployments {
    pub scope: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Production attempts that finished in the period: the change failure rate's denominator.
    pub attempts: usize,
    /// Of them, the failed ones: `failed / attempts` is the change failure rate of
    /// `GET /v1/dora` for the same scope and period.
    pub failed: usize,
    /// The latest `limit` failed attempts, latest first.
    pub deployments: Vec<FailedDeployment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedDeployment {
    pub repo: String,
    /// Source-qualified: `gh:<deployment id>`, `wr:<workflow run id>`, `gen:<id>`.
    pub id: String,
    pub environment: Option<String>,
    pub sha: Option<String>,
    pub finished_at: DateTime<Utc>,
    /// Why it counts as failed, every reason that applies.
    pub causes: Vec<FailureCause>,
    /// When it recovered: the last blaming incident resolved, else the next successful
    /// production deployment of the repo; `null` while not recovered.
    pub recovered_at: Option<DateTime<Utc>>,
    pub recovery_seconds: Option<f64>,
    /// The deployed commit on GitHub (the workflow run for an Actions run without a sha).
    pub url: Option<String>,
}

/// One reason a deployment failed (docs/METRICS.md, "Change failure rate").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailureCause {
    /// Its terminal status: `failure` or `error`.
    Status { state: DeploymentState },
    /// An incident of one of its repo's services opened after it and before the next one.
    Incident { id: String },
    /// PRs it shipped were reverted (by number).
    Revert { pull_requests: Vec<u64> },
    /// A later deployment put an older commit back (`id` of that deployment).
    Rollback { by: String },
}

/// The `limit` slowest of `prs` merged in `from..until` by the list scope's authors (bots left
/// out), slowest first. `github` is GitHub's web base (`https://github.com`), for PRs whose
/// payload gave no safe `html_url`.
pub fn slowest_pull_requests(
    prs: &[PullRequest],
    scope: &ListScope,
    (from, until): PeriodSpan,
    limit: usize,
    github: &str,
) -> (usize, Vec<SlowPullRequest>) {
    let mut merged: Vec<SlowPullRequest> = prs
        .iter()
        .filter(|pr| !pr.author_is_bot && scope.counts_author(&pr.author))
        .filter_map(|pr| {
            let spans = pr.cycle_spans()?;
            (from..until)
                .contains(&spans.merged_at)
                .then(|| SlowPullRequest {
                    repo: pr.repo.clone(),
                    number: pr.number,
                    title: pr.title.clone(),
                    author: pr.author.clone(),
                    url: pr.page_url(github),
                    merged_at: spans.merged_at,
                    coding_seconds: spans.coding,
                    pickup_seconds: spans.pickup,
                    review_seconds: spans.review,
                    deploy_seconds: spans.deploy,
                    total_seconds: spans.total,
                })
        })
        .collect();
    let count = merged.len();
    merged.sort_by(|a, b| {
        b.total_seconds
            .total_cmp(&a.total_seconds)
            .then_with(|| a.repo.cmp(&b.repo))
            .then_with(|| a.number.cmp(&b.number))
    });
    merged.truncate(limit);
    (count, merged)
}

/// The failed production attempts among `deployments` that finished in `from..until`, latest
/// first, with the number of attempts there.
pub fn failed_deployments(
    deployments: &[Deployment],
    (from, until): PeriodSpan,
    github: &str,
) -> (usize, Vec<FailedDeployment>) {
    let mut attempts = 0;
    let mut failed = Vec::new();
    for deployment in deployments {
        let Some(finished_at) = deployment
            .finished_at
            .filter(|at| deployment.is_production_attempt() && (from..until).contains(at))
        else {
            continue;
        };
        attempts += 1;
        if !deployment.is_failed() {
            continue;
        }
        let recovery_seconds = deployment.recovery_seconds();
        failed.push(FailedDeployment {
            repo: deployment.repo.clone(),
            id: deployment.id.clone(),
            environment: deployment.environment.clone(),
            sha: deployment.sha.clone(),
            finished_at,
            causes: causes(deployment),
            recovered_at: recovery_seconds
                .map(|s| finished_at + Duration::milliseconds((s * 1000.0).round() as i64)),
            recovery_seconds,
            url: deployment_url(deployment, github),
        });
    }
    failed.sort_by(|a, b| {
        b.finished_at
            .cmp(&a.finished_at)
            .then_with(|| (&a.repo, &a.id).cmp(&(&b.repo, &b.id)))
    });
    (attempts, failed)
}

fn causes(deployment: &Deployment) -> Vec<FailureCause> {
    let mut causes = Vec::new();
    if let Some(state @ (DeploymentState::Failure | DeploymentState::Error)) = deployment.state {
        causes.push(FailureCause::Status { state });
    }
    for blame in &deployment.blamed_by {
        if let crate::model::EntityKey::Incident { id } = &blame.incident {
            causes.push(FailureCause::Incident { id: id.clone() });
        }
    }
    let reverted: Vec<u64> = deployment
        .reverted_prs
        .iter()
        .filter_map(|key| match key {
            crate::model::EntityKey::PullRequest { number, .. } => Some(*number),
            _ => None,
        })
        .collect();
    if !reverted.is_empty() {
        causes.push(FailureCause::Revert {
            pull_requests: reverted,
        });
    }
    if let Some(crate::model::EntityKey::Deployment { id, .. }) = &deployment.rolled_back_by {
        causes.push(FailureCause::Rollback { by: id.clone() });
    }
    causes
}

fn deployment_url(deployment: &Deployment, github: &str) -> Option<String> {
    if let Some(sha) = deployment.sha.as_deref().filter(|sha| is_hex(sha)) {
        return Some(crate::repo::commit_url(&deployment.repo, sha, github));
    }
    let run = deployment.id.strip_prefix("wr:")?;
    is_decimal(run).then(|| {
        format!(
            "{}/actions/runs/{run}",
            crate::repo::web_url(&deployment.repo, github)
        )
    })
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_decimal(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
#[path = "lists_tests.rs"]
mod tests;
