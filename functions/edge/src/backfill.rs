//! Runs a backfill: loads its checkpoint, asks the pure state (`flowmeter::backfill`) for the
//! next request, has the GitHub client make it, writes the facts the answer gives and
//! checkpoints, until the job is done, the deadline comes, or GitHub's rate limit outlasts it.
//!
//! One runner advances a job at a time: it holds the job's lease, renews it with every
//! checkpoint, and stops when it loses it. The dev server runs a job in-process from start to
//! end; the backfill Lambda picks up running jobs every minute and continues each until a
//! minute before its own timeout, so a backfill longer than 15 minutes goes on in the next
//! invocation from its last checkpoint.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use flowmeter::backfill::{may_be_known, unknown_facts, BackfillJob, JobState};
use flowmeter::config::OrgConfig;
use flowmeter::model::{EntityKey, Fact};

use crate::github::{GitHubClient, GitHubError};
use crate::store::{BackfillLease, Store, StoreError, BACKFILL_LEASE_S};

/// Facts written at once: enough to hide DynamoDB's latency, few enough not to throttle a
/// freshly created on-demand table.
const WRITE_CONCURRENCY: usize = 16;

/// Store writes retried this many times when throttled or unreachable before the run stops
/// (the job stays running and is resumed from its last checkpoint).
const STORE_RETRIES: u32 = 5;

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "stop")]
pub enum Stop {
    /// Every repository is done or failed.
    Finished,
    /// The run's deadline came; the job goes on from its checkpoint.
    Deadline,
    /// GitHub's rate limit lasts past the deadline; the job goes on after `until`.
    RateLimited { until: DateTime<Utc> },
    /// Another runner holds the job (or it is no longer running).
    NotHeld,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("no backfill {0}")]
    NoSuchJob(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new job id: its start time first, so ids sort by age, then a few bits against two jobs
/// started in the same second.
pub fn new_job_id(now: DateTime<Utc>) -> String {
    let salt = now.timestamp_subsec_nanos() ^ std::process::id();
    format!("{}-{:04x}", now.format("%Y%m%dT%H%M%SZ"), salt & 0xffff)
}

/// Who holds a lease: this process and a counter, unique enough across containers.
pub fn runner_name() -> String {
    let now = Utc::now();
    format!(
        "runner-{}-{}",
        std::process::id(),
        now.timestamp_nanos_opt().unwrap_or_default()
    )
}

/// Records a new job of `repos` since `since`, ready for a runner. Refused (`Ok(Err(id))`) while
/// another job is running: two backfills would share one rate limit and read the same pages.
pub async fn start(
    store: &Store,
    repos: &[String],
    since: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Result<BackfillJob, String>, StoreError> {
    if let Some(running) = store
        .backfills()
        .await?
        .into_iter()
        .find(|j| j.state == JobState::Running)
    {
        return Ok(Err(running.id));
    }
    let job = BackfillJob::new(new_job_id(now), repos, since, now);
    store.create_backfill(&job).await?;
    Ok(Ok(job))
}

/// Advances job `id` until it is finished or `deadline` comes, calling `progress` after every
/// checkpoint. Returns the job as last checkpointed and why the run stopped.
pub async fn run(
    store: &Store,
    github: &GitHubClient,
    config: &OrgConfig,
    id: &str,
    deadline: Instant,
    mut progress: impl FnMut(&BackfillJob),
) -> Result<(BackfillJob, Stop), BackfillError> {
    let mut lease = BackfillLease {
        owner: runner_name(),
        until_s: Utc::now().timestamp() + BACKFILL_LEASE_S,
    };
    let Some(mut job) = store.backfill(id).await? else {
        return Err(BackfillError::NoSuchJob(id.to_string()));
    };
    if !store
        .claim_backfill(id, &lease, Utc::now().timestamp())
        .await?
    {
        return Ok((job, Stop::NotHeld));
    }
    // Re-read under the lease: the checkpoint the last holder wrote before it let go.
    job = store
        .backfill(id)
        .await?
        .ok_or_else(|| BackfillError::NoSuchJob(id.to_string()))?;
    tracing::info!(
        backfill = id,
        repos = job.repos.len(),
        "backfill run starts"
    );
    // ETags of answers whose facts are not all written yet (a pull request's first answer
    // waits for its five lists): kept once `apply` names them settled.
    let mut unsettled: HashMap<String, String> = HashMap::new();
    let since = job.since;
    let stop = loop {
        if job.state != JobState::Running {
            break Stop::Finished;
        }
        if Instant::now() >= deadline {
            break Stop::Deadline;
        }
        let Some(at) = job.repos.iter().position(|r| !r.phase.is_final()) else {
            job.settle(Utc::now());
            continue;
        };
        let Some(request) = job.repos[at].next_request(since, config) else {
            // A phase without a next request is final; anything else would loop forever.
            job.repos[at].fail("internal", "no next request in an unfinished phase");
            continue;
        };
        let etag = if request.conditional {
            store.etag(&request.url).await?
        } else {
            None
        };
        let fetched = github.get(&request.url, etag.as_deref(), deadline).await;
        job.counters.add(&github.take_counters());
        let failure = match fetched {
            Err(GitHubError::RateLimited { until }) => break Stop::RateLimited { until },
            Err(err) => Some((err.name(), err.to_string())),
            Ok(fetched) => {
                if let Some(tag) = fetched.etag.filter(|_| request.conditional) {
                    unsettled.insert(request.url.clone(), tag);
                }
                match job.repos[at].apply(since, config, fetched.answer) {
                    Ok(applied) => {
                        write_facts(store, &applied.facts).await?;
                        for url in &applied.settled {
                            if let Some(tag) = unsettled.remove(url) {
                                retrying(|| store.put_etag(url, &tag)).await?;
                            }
                        }
                        None
                    }
                    Err(err) => Some(("malformed_answer", format!("{}: {err}", request.url))),
                }
            }
        };
        if let Some((name, message)) = failure {
            let repo = &mut job.repos[at];
            tracing::warn!(backfill = id, repo = %repo.repo, error = %message, "repository failed");
            repo.fail(name, &message);
            job.count_error(name);
        }
        if job.repos.iter().all(|r| r.phase.is_final()) {
            job.settle(Utc::now());
        }
        if !checkpoint(store, &mut job, &mut lease).await? {
            break Stop::NotHeld;
        }
        progress(&job);
    };
    if stop != Stop::NotHeld {
        // Let go at once, so the next invocation need not wait for the lease to lapse.
        lease.until_s = 0;
        job.updated_at = Utc::now();
        save(store, &job, &lease).await?;
    }
    tracing::info!(backfill = id, state = ?job.state, stop = ?stop, "backfill run stops");
    progress(&job);
    Ok((job, stop))
}

/// Runs job `id` to its end in this process, waiting out rate limits: the dev server and the
/// `backfill` command.
pub async fn run_to_end(
    store: &Store,
    github: &GitHubClient,
    config: &OrgConfig,
    id: &str,
    mut progress: impl FnMut(&BackfillJob),
) -> Result<BackfillJob, BackfillError> {
    loop {
        let far = Instant::now() + Duration::from_secs(365 * 86_400);
        let (job, stop) = run(store, github, config, id, far, &mut progress).await?;
        match stop {
            Stop::Finished | Stop::NotHeld => return Ok(job),
            Stop::Deadline => {}
            Stop::RateLimited { until } => {
                let wait = (until - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Checkpoints with the lease renewed; `false` when the lease was lost.
async fn checkpoint(
    store: &Store,
    job: &mut BackfillJob,
    lease: &mut BackfillLease,
) -> Result<bool, StoreError> {
    job.updated_at = Utc::now();
    lease.until_s = Utc::now().timestamp() + BACKFILL_LEASE_S;
    match save(store, job, lease).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. }) => {
            tracing::warn!(backfill = %job.id, "lease lost to another runner; stopping");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

async fn save(store: &Store, job: &BackfillJob, lease: &BackfillLease) -> Result<(), StoreError> {
    retrying(|| store.save_backfill(job, lease)).await
}

/// Writes the facts the table does not know yet, each once (the conditional put keeps the
/// first of a fact and its webhook), [`WRITE_CONCURRENCY`] at a time. Pushes and current
/// states, which the webhooks brought under other keys, are checked against their entity's
/// facts first ([`unknown_facts`]).
async fn write_facts(store: &Store, facts: &[Fact]) -> Result<(), StoreError> {
    let mut known: HashMap<EntityKey, Vec<Fact>> = HashMap::new();
    for fact in facts.iter().filter(|f| may_be_known(f)) {
        if !known.contains_key(&fact.entity) {
            let (held, _) = retrying(|| store.entity(&fact.entity)).await?;
            known.insert(fact.entity.clone(), held);
        }
    }
    let facts = unknown_facts(facts.to_vec(), &known);
    for chunk in facts.chunks(WRITE_CONCURRENCY) {
        futures::future::try_join_all(chunk.iter().map(|fact| put_fact(store, fact))).await?;
    }
    Ok(())
}

async fn put_fact(store: &Store, fact: &Fact) -> Result<bool, StoreError> {
    retrying(|| store.put_fact(fact)).await
}

/// A store request retried with backoff while the store is throttled or out of reach.
async fn retrying<T, F, Fut>(mut request: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        match request().await {
            Err(e) if e.is_retryable() && attempt < STORE_RETRIES => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            other => return other,
        }
    }
}

/// Ends job `id` at once when no GitHub client could be made (no or bad credentials): every
/// repository fails with `error`, so `GET /v1/backfill` says what to set instead of the job
/// waiting forever.
pub async fn fail_unrunnable(
    store: &Store,
    id: &str,
    error: &GitHubError,
) -> Result<BackfillJob, BackfillError> {
    let lease = BackfillLease {
        owner: runner_name(),
        until_s: 0,
    };
    let Some(mut job) = store.backfill(id).await? else {
        return Err(BackfillError::NoSuchJob(id.to_string()));
    };
    if !store
        .claim_backfill(id, &lease, Utc::now().timestamp())
        .await?
    {
        return Ok(job);
    }
    let message = error.to_string();
    for repo in job.repos.iter_mut().filter(|r| !r.phase.is_final()) {
        repo.fail(error.name(), &message);
        *job.errors.entry(error.name().to_string()).or_default() += 1;
    }
    job.settle(Utc::now());
    save(store, &job, &lease).await?;
    tracing::error!(backfill = id, error = %message, "backfill cannot run");
    Ok(job)
}

/// One job's run in an invocation of the backfill function.
#[derive(Debug, serde::Serialize)]
pub struct PickedUp {
    pub id: String,
    pub state: JobState,
    #[serde(flatten)]
    pub stop: Stop,
}

/// The backfill function's invocation: every running job no one holds, advanced in turn until
/// `deadline` (or failed at once when there is no GitHub client to read with).
pub async fn pick_up(
    store: &Store,
    github: &Result<GitHubClient, GitHubError>,
    config: &OrgConfig,
    deadline: Instant,
) -> Result<Vec<PickedUp>, BackfillError> {
    let mut runs = Vec::new();
    let ids = store.unheld_backfills(Utc::now().timestamp()).await?;
    tracing::info!(
        backfills = ids.len(),
        seconds = deadline.saturating_duration_since(Instant::now()).as_secs(),
        "backfills to continue"
    );
    for id in ids {
        if Instant::now() >= deadline {
            break;
        }
        let (job, stop) = match github {
            Ok(github) => run(store, github, config, &id, deadline, |_| {}).await?,
            Err(error) => (fail_unrunnable(store, &id, error).await?, Stop::Finished),
        };
        runs.push(PickedUp {
            id,
            state: job.state,
            stop,
        });
    }
    Ok(runs)
}
