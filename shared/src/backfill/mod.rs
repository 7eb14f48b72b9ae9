//! A backfill: the history of a set of repositories read from GitHub's REST API, as a state
//! that says which request comes next and takes its answer (docs/API.md, "Backfill").
//!
//! Pure: the edge asks [`RepoProgress::next_request`], makes the request, hands the answer to
//! [`RepoProgress::apply`], writes the facts that returns and checkpoints the state. Everything a
//! resumed backfill needs is in the serialized state, except the answers of the one pull request
//! being read, which are read again (at most its six requests).

mod known;
mod progress;
mod request;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use known::{may_be_known, unknown_facts};
pub use progress::{Answer, Applied, Phase, RepoProgress, Request};
pub use request::{is_repo_name, BackfillRequest, BackfillRequestError, MAX_REPOS};

/// How a backfill stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    /// Every repository was read to the end, or failed with its error named.
    Done,
    /// No repository could be read (every one failed).
    Failed,
}

/// What the client counted, added to the job after each request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Answered `304 Not Modified`: free of rate limit.
    pub not_modified: u64,
    /// Pauses for GitHub's primary or secondary rate limit.
    pub rate_limit_waits: u64,
    pub waited_seconds: f64,
    /// 5xx answers and timeouts retried.
    pub retries: u64,
}

impl Counters {
    pub fn add(&mut self, other: &Counters) {
        self.requests += other.requests;
        self.not_modified += other.not_modified;
        self.rate_limit_waits += other.rate_limit_waits;
        self.waited_seconds += other.waited_seconds;
        self.retries += other.retries;
    }
}

/// One backfill, as `GET /v1/backfill` answers it and as its checkpoint stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackfillJob {
    pub id: String,
    pub state: JobState,
    /// History from this day (UTC) on.
    pub since: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    pub repos: Vec<RepoProgress>,
    #[serde(default)]
    pub counters: Counters,
    /// Errors by name (`not_found`, `bad_credentials`, `malformed_answer`…), counted.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
}

impl BackfillJob {
    /// A new backfill of `repos` (lower-cased, each once, in the order given).
    pub fn new(id: String, repos: &[String], since: NaiveDate, now: DateTime<Utc>) -> BackfillJob {
        let mut seen = Vec::<String>::new();
        for repo in repos {
            let repo = repo.to_ascii_lowercase();
            if !seen.contains(&repo) {
                seen.push(repo);
            }
        }
        BackfillJob {
            id,
            state: JobState::Running,
            since,
            started_at: now,
            updated_at: now,
            finished_at: None,
            repos: seen.into_iter().map(RepoProgress::new).collect(),
            counters: Counters::default(),
            errors: BTreeMap::new(),
        }
    }

    /// Counts a failure by name.
    pub fn count_error(&mut self, name: &str) {
        *self.errors.entry(name.to_string()).or_default() += 1;
    }

    /// The first repository still to read.
    pub fn current(&mut self) -> Option<&mut RepoProgress> {
        self.repos.iter_mut().find(|r| !r.phase.is_final())
    }

    /// Ends the job once every repository is final: done, or failed if none could be read.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        self.updated_at = now;
        if self.state != JobState::Running || self.repos.iter().any(|r| !r.phase.is_final()) {
            return;
        }
        let all_failed =
            !self.repos.is_empty() && self.repos.iter().all(|r| r.phase == Phase::Failed);
        self.state = if all_failed {
            JobState::Failed
        } else {
            JobState::Done
        };
        self.finished_at = Some(now);
    }

    /// Pull requests found so far and read so far, over every repository: the progress bar.
    pub fn pull_requests(&self) -> (u64, u64) {
        self.repos.iter().fold((0, 0), |(found, read), r| {
            (found + r.pulls_found, read + r.pulls_read)
        })
    }

    /// Seconds left at the pace so far, once any pull request was read; `None` before.
    pub fn eta_seconds(&self, now: DateTime<Utc>) -> Option<f64> {
        let (found, read) = self.pull_requests();
        let elapsed = (now - self.started_at).num_milliseconds() as f64 / 1000.0;
        (read > 0 && elapsed > 0.0).then(|| (found - read) as f64 * elapsed / read as f64)
    }
}
