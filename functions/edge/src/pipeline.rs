//! The derivation pipeline the rollup function runs on stream records: rebuild the projections
//! of changed entities, re-derive the links that depend on them, then recompute the weekly
//! rollups whose members changed. Every decision is a pure function in `flowmeter::derive`;
//! this module loads their inputs and writes their outputs, skipping writes that change nothing.
//!
//! Links are written as derived facts on the target entity; their stream records bring the
//! target back here, so chains (deployment → shipped PR → its lead time) settle through the same
//! idempotent path. The stream filter lets only `FACT#` items through, so projections, members
//! and rollups never re-trigger the function.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use flowmeter::config::OrgConfig;
use flowmeter::derive::links::{self, blamed_deployment, next_success, reverted_pr};
use flowmeter::derive::members::{
    members_of_deployment, members_of_incident, members_of_pull_request,
};
use flowmeter::derive::pr_commits::own_pushes;
use flowmeter::derive::{
    pack_members, project_deployment, project_incident, project_pull_request, Bucket, Deployment,
    HeadHistory, Incident, Member, PackedMember, PullRequest, Rollup,
};
use flowmeter::model::{EntityKey, Fact, FactBody, ShippedPr};
use futures::stream::{self, StreamExt};

use crate::store::{
    content_hash, keys, LinkState, MemberRef, Projection, ProjectionItem, Store, StoreError,
};

/// How far back a change can reach into link decisions: deployments finishing this long before
/// a change are re-derived (clock skew between GitHub and CI systems).
const LINK_SLACK: Duration = Duration::days(1);
/// How far back a deployed commit may have been pushed, and a revert may follow its original.
const HISTORY_WINDOW: Duration = Duration::days(30);
/// Predecessor deployments loaded to find the previous successful one.
const PREDECESSORS: usize = 25;

/// `at - by`, saturating at the earliest representable instant (reprocessing counts from it).
fn before(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_sub_signed(by)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `at + by`, saturating at the latest representable instant.
fn after(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_add_signed(by)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Entities whose facts changed, each with the earliest time of a changed fact.
pub type Changes = BTreeMap<EntityKey, DateTime<Utc>>;

/// A run that could not finish: `error` is the first transient failure. `entities` are the
/// changed entities whose rebuild failed (everything else in the run was derived, so a stream
/// batch can be retried from their first record); empty when the failure is not one entity's
/// (a link or rollup phase), and the whole batch is retried.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct RunFailed {
    pub error: StoreError,
    pub entities: Vec<EntityKey>,
}

impl From<StoreError> for RunFailed {
    fn from(error: StoreError) -> RunFailed {
        RunFailed {
            error,
            entities: Vec::new(),
        }
    }
}

/// An entity set aside because deriving it fails in a way no retry cures.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Parked {
    pub entity: String,
    pub error: String,
}

#[derive(Debug, Default)]
pub struct Outcome {
    /// Entities whose derived facts this run wrote or removed: the stream brings them back;
    /// the reprocess loop feeds them to the next round itself.
    pub touched: Changes,
    pub projections_written: usize,
    pub buckets_recomputed: usize,
    /// Entities parked by this run (see [`Pipeline::park`]).
    pub parked: Vec<Parked>,
}

#[derive(Default)]
struct Work {
    repo_links: BTreeMap<String, DateTime<Utc>>,
    blames: BTreeSet<EntityKey>,
    reverts: BTreeSet<EntityKey>,
    dirty: BTreeSet<Bucket>,
    outcome: Outcome,
}

impl Work {
    /// Folds in the work one concurrent rebuild found.
    fn merge(&mut self, other: Work) {
        for (repo, from) in other.repo_links {
            self.link_repo(&repo, from);
        }
        self.blames.extend(other.blames);
        self.reverts.extend(other.reverts);
        self.dirty.extend(other.dirty);
        for (entity, since) in other.outcome.touched {
            let entry = self.outcome.touched.entry(entity).or_insert(since);
            *entry = (*entry).min(since);
        }
        self.outcome.projections_written += other.outcome.projections_written;
        self.outcome.buckets_recomputed += other.outcome.buckets_recomputed;
        self.outcome.parked.extend(other.outcome.parked);
    }

    fn link_repo(&mut self, repo: &str, from: DateTime<Utc>) {
        let entry = self.repo_links.entry(repo.to_string()).or_insert(from);
        *entry = (*entry).min(from);
    }

    fn touched(&mut self, entity: &EntityKey) {
        self.outcome
            .touched
            .entry(entity.clone())
            .or_insert(DateTime::<Utc>::MIN_UTC);
    }
}

/// Compare-and-set rounds a bucket recompute tries before failing its batch (which the stream
/// then retries): losing 10 in a row means something keeps rewriting the bucket.
const ROLLUP_WRITE_ATTEMPTS: u32 = 10;

/// Store requests a batch keeps in flight: each takes milliseconds and the batch's rebuilds and
/// bucket recomputations are independent, so the rollup is bound by round trips, not CPU.
const CONCURRENCY: usize = 8;

/// Runs `job` for every key, [`CONCURRENCY`] at a time, each into its own Work, and hands back
/// every key with its Work and result: what a failed job queued before failing is still there.
/// (Keys are owned: a closure over `&K` makes the futures not provably `Send`.)
async fn run_each<K, F, Fut>(
    keys: impl IntoIterator<Item = K>,
    job: F,
) -> Vec<(K, Work, Result<(), StoreError>)>
where
    K: Clone,
    F: Fn(K, Work) -> Fut,
    Fut: std::future::Future<Output = (Work, Result<(), StoreError>)>,
{
    stream::iter(keys)
        .map(|key| {
            let done = job(key.clone(), Work::default());
            async move {
                let (own, result) = done.await;
                (key, own, result)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// [`run_each`], merging every job's Work, failing on the first error.
async fn run_concurrently<K, F, Fut>(
    keys: impl IntoIterator<Item = K>,
    work: &mut Work,
    job: F,
) -> Result<(), StoreError>
where
    K: Clone,
    F: Fn(K, Work) -> Fut,
    Fut: std::future::Future<Output = (Work, Result<(), StoreError>)>,
{
    let mut first_error = None;
    for (_, own, result) in run_each(keys, job).await {
        work.merge(own);
        if let Err(err) = result {
            first_error.get_or_insert(err);
        }
    }
    first_error.map_or(Ok(()), Err)
}

pub struct Pipeline<'a> {
    store: &'a Store,
    config: OrgConfig,
    /// This run's id, written on every projection it writes and recorded done at its end.
    batch: String,
    /// Earlier runs found recorded done (or not), so each is looked up once per run.
    done_runs: RunMemo<bool>,
    /// Repos' default branches as read or written in this run: every link and branch step
    /// asks, once per repo and batch each, and the answer only changes by this run's writes.
    default_branches: RunMemo<Option<String>>,
}

/// Store answers kept for one run, by key, so each is read once. (A poisoned lock only
/// costs a repeated read.)
struct RunMemo<V>(std::sync::Mutex<BTreeMap<String, V>>);

impl<V: Clone> RunMemo<V> {
    fn new() -> RunMemo<V> {
        RunMemo(std::sync::Mutex::new(BTreeMap::new()))
    }

    fn get(&self, key: &str) -> Option<V> {
        self.0.lock().ok().and_then(|known| known.get(key).cloned())
    }

    fn put(&self, key: &str, value: V) {
        if let Ok(mut known) = self.0.lock() {
            known.insert(key.to_string(), value);
        }
    }
}

/// Runs this process finished (recorded done), newest last, at most [`FINISHED_KEPT`]: a
/// container handles a shard's batches one after another, so the projection a rebuild finds
/// was most often written by this container's previous run, and is known done without a read.
static FINISHED_HERE: std::sync::Mutex<std::collections::VecDeque<String>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());
const FINISHED_KEPT: usize = 1024;

fn remember_finished(batch: &str) {
    if let Ok(mut finished) = FINISHED_HERE.lock() {
        if finished.len() == FINISHED_KEPT {
            finished.pop_front();
        }
        finished.push_back(batch.to_string());
    }
}

fn finished_here(batch: &str) -> bool {
    FINISHED_HERE
        .lock()
        .is_ok_and(|finished| finished.iter().any(|b| b == batch))
}

/// A run id unique enough across containers: time to the nanosecond and the process id.
fn new_batch_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos:x}-{:x}-{n:x}", std::process::id())
}

fn link_fact(entity: &EntityKey, id: String, at: DateTime<Utc>, body: FactBody) -> Fact {
    Fact {
        entity: entity.clone(),
        id,
        at,
        body,
    }
}

fn link_sort_key(id: &str) -> String {
    keys::link_sk(id)
}

fn shipped_by_id(deployment: &EntityKey) -> String {
    format!("shipped_by:{}", deployment.partition_key())
}

/// The one link on a deployment listing the PRs it shipped.
const SHIPS_ID: &str = "ships";

fn blamed_by_id(incident: &EntityKey) -> String {
    format!("blamed_by:{}", incident.partition_key())
}

fn reverted_by_id(revert: &EntityKey) -> String {
    format!("reverted_by:{}", revert.partition_key())
}

fn shipped_pr_reverted_id(pr: &EntityKey) -> String {
    format!("shipped_pr_reverted:{}", pr.partition_key())
}

fn superseded_by_id(deployment: &EntityKey) -> String {
    format!("superseded_by:{}", deployment.partition_key())
}

const FOLLOWED_BY_ID: &str = "followed_by";
const ROLLED_BACK_BY_ID: &str = "rolled_back_by";

impl<'a> Pipeline<'a> {
    pub fn new(store: &'a Store, config: OrgConfig) -> Pipeline<'a> {
        Pipeline {
            store,
            config,
            batch: new_batch_id(),
            done_runs: RunMemo::new(),
            default_branches: RunMemo::new(),
        }
    }

    /// Derives everything that depends on the changed entities.
    pub async fn process(&self, changes: &Changes) -> Result<Outcome, RunFailed> {
        let mut work = Work::default();
        let mut rebuild = BTreeSet::new();
        for (entity, since) in changes {
            match entity {
                EntityKey::Branch { repo, branch } => {
                    self.branch_changed(repo, branch, *since, &mut rebuild, &mut work)
                        .await?
                }
                other => {
                    rebuild.insert(other.clone());
                }
            }
        }
        // Phase by phase; within a phase the jobs are independent (each entity's projection
        // from its own facts; each revert, repo or incident writes only its own links), so they
        // run side by side, each into its own Work, merged after.
        // One entity's failure is its own: the others still derive. What a failed rebuild
        // queued before failing is kept (its member writes dirtied buckets).
        let rebuilt = run_each(rebuild, |entity, mut own| async move {
            let result = self.rebuild(&entity, &mut own).await;
            (own, result)
        })
        .await;
        let mut failed: Vec<EntityKey> = Vec::new();
        let mut first_error: Option<StoreError> = None;
        for (entity, own, result) in rebuilt {
            work.merge(own);
            match result {
                Ok(()) => {}
                Err(err) if err.is_permanent() => self.park(&entity, &err, &mut work).await?,
                Err(err) => {
                    failed.push(entity);
                    first_error.get_or_insert(err);
                }
            }
        }
        run_concurrently(
            std::mem::take(&mut work.reverts),
            &mut work,
            |revert, mut own| async move {
                let result = self.link_revert(&revert, &mut own).await;
                (own, result)
            },
        )
        .await?;
        run_concurrently(
            std::mem::take(&mut work.repo_links),
            &mut work,
            |(repo, from), mut own| async move {
                let result = self.link_repo(&repo, from, &mut own).await;
                (own, result)
            },
        )
        .await?;
        run_concurrently(
            std::mem::take(&mut work.blames),
            &mut work,
            |incident, mut own| async move {
                let result = self.link_blame(&incident, &mut own).await;
                (own, result)
            },
        )
        .await?;
        // Rollups are written compare-and-set on their version, so recomputing them
        // concurrently is as safe as two shards doing it.
        let dirty = std::mem::take(&mut work.dirty);
        let recomputed: Vec<Result<(), StoreError>> = stream::iter(dirty)
            .map(|bucket| async move { self.recompute_bucket(&bucket).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for result in recomputed {
            result?;
            work.outcome.buckets_recomputed += 1;
        }
        if let Some(error) = first_error {
            failed.sort();
            return Err(RunFailed {
                error,
                entities: failed,
            });
        }
        // Everything this run started is written: later rebuilds need not redo it.
        if work.outcome.projections_written > 0 {
            self.store
                .mark_run_done(&self.batch, Utc::now().timestamp())
                .await?;
            remember_finished(&self.batch);
        }
        Ok(work.outcome)
    }

    /// Sets an entity aside whose derivation fails for a reason no retry cures (a derived key
    /// or item DynamoDB will never accept: `StoreError::is_permanent`), so that one bad record
    /// never stalls the stream: logged, counted in the `ParkedEntities` metric (CloudWatch
    /// embedded metric format, read from the function's log), recorded under `PARKED#`, and
    /// reported in the run's outcome. Reprocess retries it like everything else.
    async fn park(
        &self,
        entity: &EntityKey,
        error: &StoreError,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let key = entity.partition_key();
        let reason = error.to_string();
        tracing::error!(entity = %key, error = %reason, "entity parked: its derivation fails on every retry");
        println!(
            "{}",
            serde_json::json!({
                "_aws": {
                    "Timestamp": Utc::now().timestamp_millis(),
                    "CloudWatchMetrics": [{
                        "Namespace": "Flowmeter",
                        "Dimensions": [[]],
                        "Metrics": [{"Name": "ParkedEntities", "Unit": "Count"}],
                    }],
                },
                "ParkedEntities": 1,
            })
        );
        self.store
            .park(entity, &reason, Utc::now().timestamp())
            .await?;
        work.outcome.parked.push(Parked {
            entity: key,
            error: reason,
        });
        Ok(())
    }

    /// Writes a link fact; a link DynamoDB can never hold (over 400 KB, say) parks its target
    /// instead of failing the run.
    async fn put_link(&self, fact: &Fact, work: &mut Work) -> Result<bool, StoreError> {
        match self.store.put_derived(fact).await {
            Err(err) if err.is_permanent() => {
                self.park(&fact.entity, &err, work).await?;
                Ok(false)
            }
            other => other,
        }
    }

    /// The repo's default branch, read from the table once per run.
    async fn default_branch(&self, repo: &str) -> Result<Option<String>, StoreError> {
        if let Some(branch) = self.default_branches.get(repo) {
            return Ok(branch);
        }
        let branch = self.store.default_branch(repo).await?;
        self.default_branches.put(repo, branch.clone());
        Ok(branch)
    }

    async fn put_default_branch(&self, repo: &str, branch: &str) -> Result<(), StoreError> {
        self.store.put_default_branch(repo, branch).await?;
        self.default_branches.put(repo, Some(branch.to_string()));
        Ok(())
    }

    /// Whether an earlier run was recorded done, looked up once per run.
    async fn run_done(&self, batch: &str) -> Result<bool, StoreError> {
        if batch == self.batch {
            // This run wrote it moments ago and will finish (or fail, and be retried) itself.
            return Ok(true);
        }
        if let Some(done) = self.done_runs.get(batch) {
            return Ok(done);
        }
        if finished_here(batch) {
            return Ok(true);
        }
        let done = self.store.run_done(batch).await?;
        self.done_runs.put(batch, done);
        Ok(done)
    }

    /// Whether a stored projection was written by a run not recorded done (one that died
    /// before its buckets and links), whose work a rebuild must therefore redo.
    async fn written_by_unfinished_run(&self, item: &ProjectionItem) -> Result<bool, StoreError> {
        match item.run.as_deref() {
            Some(batch) => Ok(!self.run_done(batch).await?),
            None => Ok(false),
        }
    }

    /// Recomputes one rollup from its members (never incrementally), compare-and-set on the
    /// rollup's version (`Store::put_rollup_if`): another run's write in between means a
    /// recompute from a fresh read.
    pub async fn recompute_bucket(&self, bucket: &Bucket) -> Result<(), StoreError> {
        for attempt in 0..ROLLUP_WRITE_ATTEMPTS {
            if attempt > 0 {
                // Back off, spread (the current week's org bucket is every run's): 5-15 ms a
                // round, from the clock's nanoseconds.
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| u64::from(d.subsec_nanos()) % 10)
                    .unwrap_or_default();
                let delay = u64::from(attempt) * (5 + jitter);
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            }
            let seen = self.store.rollup_version(bucket).await?;
            let members = self.store.bucket_members(bucket).await?;
            let rollup = Rollup::from_members(&members);
            if self.store.put_rollup_if(bucket, seen, &rollup).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unsettled {
            op: "PutItem(rollup)",
            reason: format!(
                "bucket {bucket}: {ROLLUP_WRITE_ATTEMPTS} recomputes lost the race to other writers"
            ),
        })
    }

    async fn branch_changed(
        &self,
        repo: &str,
        branch: &str,
        since: DateTime<Utc>,
        rebuild: &mut BTreeSet<EntityKey>,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let branch_key = EntityKey::Branch {
            repo: repo.to_string(),
            branch: branch.to_string(),
        };
        rebuild.extend(self.store.prs_with_head(&branch_key).await?);
        let mut is_default = self.default_branch(repo).await?.as_deref() == Some(branch);
        if !is_default {
            let recent = self
                .store
                .branch_facts(repo, branch, Some(since), None)
                .await?;
            is_default = recent.iter().any(|f| {
                matches!(
                    f.body,
                    FactBody::Push {
                        to_default_branch: true,
                        ..
                    }
                )
            });
            if is_default {
                self.put_default_branch(repo, branch).await?;
            }
        }
        if is_default {
            work.link_repo(repo, before(since, LINK_SLACK));
        }
        Ok(())
    }

    async fn project(
        &self,
        entity: &EntityKey,
        facts: &[Fact],
    ) -> Result<Option<Projection>, StoreError> {
        Ok(match entity {
            EntityKey::PullRequest { .. } => {
                // The PR as its own facts show it decides what of its head branch to read.
                let Some(bare) =
                    project_pull_request(entity, facts, &HeadHistory::default(), &self.config)
                else {
                    return Ok(None);
                };
                let head = self.head_history(&bare).await?;
                project_pull_request(entity, facts, &head, &self.config)
                    .map(Projection::PullRequest)
            }
            EntityKey::Deployment { .. } => {
                project_deployment(entity, facts, &self.config).map(Projection::Deployment)
            }
            EntityKey::Incident { .. } => {
                project_incident(entity, facts, &self.config).map(Projection::Incident)
            }
            EntityKey::Branch { .. } => None,
        })
    }

    /// What a PR's own commits are decided from (`flowmeter::derive::pr_commits`): its head
    /// branch's pushes over its own lifetime (from [`HISTORY_WINDOW`] before it was opened to
    /// its merge or close), the heads of earlier merged PRs of the same branch, and the default
    /// branch's commits over the span of the PR's pushes. A fork PR's head is not a branch here.
    async fn head_history(&self, pr: &PullRequest) -> Result<HeadHistory, StoreError> {
        let Some(branch) = pr.head_branch() else {
            return Ok(HeadHistory::default());
        };
        let end = pr.merged_at.or(pr.closed_at);
        let pushes = self
            .store
            .branch_facts(
                &pr.repo,
                &pr.head_ref,
                Some(before(pr.created_at, HISTORY_WINDOW)),
                end,
            )
            .await?;
        let mut history = HeadHistory {
            pushes,
            ..HeadHistory::default()
        };
        // Recorded under its head before the others are read, while a merged PR of the branch
        // reads the branch's PRs after writing its projection (`link_later_prs`): of two such
        // rebuilds at once, at least one sees the other.
        let with_head = self.store.prs_with_head(&branch).await?;
        if !with_head.contains(&pr.key()) {
            self.store.put_head_index(&branch, &pr.key()).await?;
        }
        for other in with_head {
            if other == pr.key() {
                continue;
            }
            if let Some(item) = self.store.projection(&other).await? {
                if let Projection::PullRequest(earlier) = item.projection {
                    let merged_before = earlier.merged_at.is_some_and(|m| m <= pr.created_at);
                    if let (true, Some(sha)) = (merged_before, earlier.head_sha) {
                        history.earlier_heads.insert(sha);
                    }
                }
            }
        }
        let (chain, _) = own_pushes(&history, pr.head_sha.as_deref(), end);
        let commits = chain.iter().flat_map(|p| p.commits.iter());
        let earliest = commits.clone().map(|c| c.authored_at).min();
        let latest_push = chain.iter().map(|p| p.at).max();
        if let (Some(earliest), Some(latest_push)) = (earliest, latest_push) {
            if !pr.default_branch.is_empty() && pr.default_branch != pr.head_ref {
                // A default-branch commit merged into the head was pushed there after it was
                // authored and before the head push that brought it.
                let from = earliest.max(before(pr.created_at, HISTORY_WINDOW));
                for push in self
                    .store
                    .branch_facts(
                        &pr.repo,
                        &pr.default_branch,
                        Some(before(from, LINK_SLACK)),
                        Some(latest_push),
                    )
                    .await?
                {
                    if let FactBody::Push { commits, .. } = push.body {
                        history
                            .on_default_branch
                            .extend(commits.into_iter().map(|c| c.sha));
                    }
                }
            }
        }
        Ok(history)
    }

    fn members_of(&self, projection: &Projection) -> Vec<Member> {
        match projection {
            Projection::PullRequest(pr) => members_of_pull_request(pr, &self.config),
            Projection::Deployment(d) => members_of_deployment(d, &self.config),
            Projection::Incident(i) => members_of_incident(i, &self.config),
        }
    }

    fn index_keys(projection: &Projection) -> [Option<String>; 4] {
        keys::index_keys(projection)
    }

    /// Rebuilds one entity's projection and members; queues the links that depend on it.
    async fn rebuild(&self, entity: &EntityKey, work: &mut Work) -> Result<(), StoreError> {
        let (facts, old_item) = self.store.entity(entity).await?;
        let new = self.project(entity, &facts).await?;
        // A deployment that is not (yet) a finished production attempt (staging, or still
        // running) feeds no bucket, index or link; stored, it would only be the next rebuild's
        // baseline, and "nothing stored" is the same baseline. Staging and in-progress
        // deployments are most deployment deliveries, so they are not written at all.
        if old_item.is_none()
            && matches!(&new, Some(Projection::Deployment(d)) if !d.is_production_attempt())
        {
            return Ok(());
        }
        let old = old_item.as_ref().map(|i| &i.projection);
        if new.as_ref() == old {
            // Unchanged, but the run that wrote it may have failed before its buckets and
            // links: redo them unless that run is recorded done.
            if let (Some(item), Some(projection)) = (old_item.as_ref(), old) {
                if self.written_by_unfinished_run(item).await? {
                    work.dirty
                        .extend(item.touched.iter().filter_map(|b| Bucket::parse(b)));
                    self.queue_dependents(projection, work).await?;
                }
            }
            return Ok(());
        }
        let pk = entity.partition_key();

        // Members (packed per bucket and entity): delete what left, write what is new or
        // changed.
        let new_members = new
            .as_ref()
            .map(|p| pack_members(self.members_of(p)))
            .unwrap_or_default();
        let new_refs: BTreeMap<(String, String), (String, &PackedMember)> = new_members
            .iter()
            .map(|m| {
                (
                    (m.bucket.to_string(), m.id.clone()),
                    (content_hash(&m.data), m),
                )
            })
            .collect();
        let old_refs: BTreeMap<(String, String), String> = old_item
            .as_ref()
            .map(|i| {
                i.members
                    .iter()
                    .map(|r| ((r.b.clone(), r.id.clone()), r.h.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut deletes = Vec::new();
        for ((bucket_key, id), _) in old_refs.iter().filter(|(k, _)| !new_refs.contains_key(*k)) {
            touched.insert(bucket_key.clone());
            deletes.push((bucket_key.as_str(), id.as_str()));
            if let Some(bucket) = Bucket::parse(bucket_key) {
                work.dirty.insert(bucket);
            }
        }
        let mut puts = Vec::new();
        for (key, (hash, member)) in &new_refs {
            if old_refs.get(key) != Some(hash) {
                touched.insert(key.0.clone());
                puts.push(*member);
                work.dirty.insert(member.bucket.clone());
            }
        }
        if !(puts.is_empty() && deletes.is_empty()) {
            self.store.write_members(&puts, &deletes).await?;
        }
        // The projection being replaced may come from a run that died before recomputing its
        // buckets (a retried batch usually brings more facts, so the retry's projection
        // differs and its own diff would not name them): take its buckets over.
        // (Only the buckets this diff does not name need the run looked up.)
        if let Some(item) = old_item.as_ref() {
            let missed: Vec<&String> = item
                .touched
                .iter()
                .filter(|b| !touched.contains(*b))
                .collect();
            if !missed.is_empty() && self.written_by_unfinished_run(item).await? {
                for bucket_key in missed {
                    if let Some(bucket) = Bucket::parse(bucket_key) {
                        work.dirty.insert(bucket);
                    }
                    touched.insert(bucket_key.clone());
                }
            }
        }

        let mut links = old_item
            .as_ref()
            .map(|i| i.links.clone())
            .unwrap_or_default();
        if let Some(Projection::PullRequest(pr)) = &new {
            self.mark_reverted_deployment(pr, &mut links, work).await?;
        }
        // Recorded under its head by `head_history`, which every PR rebuild runs.
        let head_indexed = match &new {
            Some(Projection::PullRequest(pr)) => pr.head_branch().map(|b| b.partition_key()),
            _ => None,
        };
        match &new {
            Some(projection) => {
                let [gsi1pk, gsi1sk, gsi2pk, gsi2sk] = Self::index_keys(projection);
                self.store
                    .put_projection(&ProjectionItem {
                        pk: pk.clone(),
                        sk: keys::PROJECTION_SK.into(),
                        projection: projection.clone(),
                        members: new_refs
                            .iter()
                            .map(|((b, id), (h, _))| MemberRef {
                                b: b.clone(),
                                id: id.clone(),
                                h: h.clone(),
                            })
                            .collect(),
                        links: links.clone(),
                        run: Some(self.batch.clone()),
                        touched: touched.into_iter().collect(),
                        head_indexed,
                        gsi1pk,
                        gsi1sk,
                        gsi2pk,
                        gsi2sk,
                    })
                    .await?;
            }
            None => {
                // Conditional like every derived write into an entity partition: it can never
                // remove a source fact.
                self.store
                    .delete_derived(entity, keys::PROJECTION_SK)
                    .await?;
            }
        }
        work.outcome.projections_written += 1;
        if let Some(Projection::Deployment(d)) = &new {
            self.link_superseded(d, old, work).await?;
        }
        if let Some(Projection::PullRequest(pr)) = &new {
            self.link_later_prs(pr, old, work).await?;
        }

        // Queue the links that read this projection, for the new and the old state alike.
        for projection in new.iter().chain(old) {
            self.queue_dependents(projection, work).await?;
        }
        Ok(())
    }

    async fn queue_dependents(
        &self,
        projection: &Projection,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        match projection {
            Projection::PullRequest(pr) => {
                if let (Some(merged), true) = (pr.merged_at, pr.merged_to_default()) {
                    if self.default_branch(&pr.repo).await?.as_deref()
                        != Some(pr.default_branch.as_str())
                        && !pr.default_branch.is_empty()
                    {
                        self.put_default_branch(&pr.repo, &pr.default_branch)
                            .await?;
                    }
                    work.link_repo(&pr.repo, before(merged, LINK_SLACK));
                    if pr.is_revert {
                        work.reverts.insert(pr.key());
                    }
                    // A revert may have been merged before this PR's own facts arrived.
                    let window = merged..=after(merged, HISTORY_WINDOW);
                    for later in self.store.merged_prs(&pr.repo, window).await? {
                        if later.is_revert && later.number != pr.number {
                            work.reverts.insert(later.key());
                        }
                    }
                }
            }
            Projection::Deployment(d) => {
                if let (Some(finished), true) = (d.finished_at, d.is_production_attempt()) {
                    work.link_repo(&d.repo, before(finished, LINK_SLACK));
                    let until = after(
                        finished,
                        self.config.blame_window().unwrap_or(Duration::days(3650)),
                    );
                    let mut services: Vec<String> = self
                        .config
                        .services_of_repo(&d.repo)
                        .into_iter()
                        .map(str::to_string)
                        .collect();
                    services.push(d.repo.clone());
                    for service in services {
                        let opened = finished..=until;
                        for incident in self.store.incidents_of_service(&service, opened).await? {
                            work.blames.insert(incident.key());
                        }
                    }
                }
            }
            Projection::Incident(i) => {
                work.blames.insert(i.key());
            }
        }
        Ok(())
    }

    /// A GitHub production Deployment made by an Actions job supersedes that job's workflow
    /// run as a deployment (`derive::Deployment::supersedes`): the link on the run's `wr:`
    /// entity makes the pair count once, whichever was delivered first. Written once, when the
    /// deployment first finishes; the link never needs removing, since a Deployment's run and
    /// environment do not change.
    async fn link_superseded(
        &self,
        deployment: &Deployment,
        old: Option<&Projection>,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        if !deployment.is_production_attempt() {
            return Ok(());
        }
        let Some(target) = deployment.supersedes() else {
            return Ok(());
        };
        if matches!(old, Some(Projection::Deployment(o)) if o.is_production_attempt() && o.supersedes().as_ref() == Some(&target))
        {
            return Ok(());
        }
        let fact = link_fact(
            &target,
            superseded_by_id(&deployment.key()),
            deployment.finished_at.unwrap_or(DateTime::<Utc>::MIN_UTC),
            FactBody::SupersededBy {
                deployment: deployment.key(),
            },
        );
        if self.put_link(&fact, work).await? {
            work.touched(&target);
        }
        Ok(())
    }

    /// A merged PR tells the other PRs of its head branch where its commits end (an
    /// `earlier_pr_head` link on each): a later PR from a reused branch then stops walking
    /// back there, whichever of the two was derived first. Written when the PR first merges.
    async fn link_later_prs(
        &self,
        pr: &PullRequest,
        old: Option<&Projection>,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let (Some(merged_at), Some(head_sha)) = (pr.merged_at, pr.head_sha.as_ref()) else {
            return Ok(());
        };
        let Some(branch) = pr.head_branch() else {
            return Ok(());
        };
        if let Some(Projection::PullRequest(o)) = old {
            if o.merged_at == pr.merged_at && o.head_sha == pr.head_sha {
                return Ok(());
            }
        }
        for other in self.store.prs_with_head(&branch).await? {
            if other == pr.key() {
                continue;
            }
            let fact = link_fact(
                &other,
                format!("earlier_pr_head:{}", pr.key().partition_key()),
                merged_at,
                FactBody::EarlierPrHead {
                    pr: pr.key(),
                    head_sha: head_sha.clone(),
                    merged_at,
                },
            );
            if self.put_link(&fact, work).await? {
                work.touched(&other);
            }
        }
        Ok(())
    }

    /// A shipped PR that was reverted fails the deployment that shipped it.
    async fn mark_reverted_deployment(
        &self,
        pr: &PullRequest,
        links: &mut LinkState,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let desired = match (&pr.shipped_by, pr.reverted_by.first()) {
            (Some(shipment), Some(revert)) => Some((shipment, revert)),
            _ => None,
        };
        let desired_target = desired.map(|(s, _)| s.deployment.clone());
        if let Some(old) = links
            .marked_reverted
            .as_ref()
            .filter(|old| Some(*old) != desired_target.as_ref())
        {
            if self
                .store
                .delete_derived(old, &link_sort_key(&shipped_pr_reverted_id(&pr.key())))
                .await?
            {
                work.touched(old);
            }
        }
        if let Some((shipment, revert)) = desired {
            let fact = link_fact(
                &shipment.deployment,
                shipped_pr_reverted_id(&pr.key()),
                shipment.finished_at,
                FactBody::ShippedPrReverted {
                    pr: pr.key(),
                    revert: revert.clone(),
                },
            );
            if self.put_link(&fact, work).await? {
                work.touched(&shipment.deployment);
            }
        }
        links.marked_reverted = desired_target;
        Ok(())
    }

    async fn update_links(
        &self,
        entity: &EntityKey,
        edit: impl FnOnce(&mut LinkState),
    ) -> Result<(), StoreError> {
        if let Some(mut item) = self.store.projection(entity).await? {
            let before = item.links.clone();
            edit(&mut item.links);
            if item.links != before {
                self.store.put_projection(&item).await?;
            }
        }
        Ok(())
    }

    /// Links a merged revert PR to the PR it reverts.
    async fn link_revert(&self, revert_key: &EntityKey, work: &mut Work) -> Result<(), StoreError> {
        let Some(item) = self.store.projection(revert_key).await? else {
            return Ok(());
        };
        let Projection::PullRequest(revert) = &item.projection else {
            return Ok(());
        };
        let mut already_linked = false;
        let desired = match revert.merged_at.filter(|_| revert.is_revert) {
            Some(merged) => {
                let window = before(merged, HISTORY_WINDOW)..=merged;
                let candidates = self.store.merged_prs(&revert.repo, window).await?;
                let target = reverted_pr(revert, &candidates);
                // The target's projection already shows this revert: nothing to write (a
                // conditional put that finds the same content is still billed).
                already_linked = target.as_ref().is_some_and(|t| {
                    candidates
                        .iter()
                        .any(|pr| &pr.key() == t && pr.reverted_by.contains(revert_key))
                });
                target
            }
            None => None,
        };
        let id = reverted_by_id(revert_key);
        if let Some(old) = item
            .links
            .reverts
            .as_ref()
            .filter(|old| Some(*old) != desired.as_ref())
        {
            if self.store.delete_derived(old, &link_sort_key(&id)).await? {
                work.touched(old);
            }
        }
        if let (Some(target), Some(merged), false) = (&desired, revert.merged_at, already_linked) {
            let fact = link_fact(
                target,
                id,
                merged,
                FactBody::RevertedBy {
                    pr: revert_key.clone(),
                },
            );
            if self.put_link(&fact, work).await? {
                work.touched(target);
            }
        }
        self.update_links(revert_key, |links| links.reverts = desired)
            .await
    }

    /// Links an incident to the deployment it blames.
    async fn link_blame(
        &self,
        incident_key: &EntityKey,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let item = self.store.projection(incident_key).await?;
        let incident: Option<Incident> = match item.as_ref().map(|i| &i.projection) {
            Some(Projection::Incident(i)) => Some(i.clone()),
            _ => None,
        };
        let old = item.as_ref().and_then(|i| i.links.blames.clone());
        let mut desired: Option<(EntityKey, Incident)> = None;
        // The target's projection already shows this blame, as it would be written.
        let mut already_linked = false;
        if let Some(incident) = incident {
            let repos: Vec<String> = match self.config.repos_of_service(&incident.service) {
                Some(repos) => repos.to_vec(),
                None => incident
                    .repo
                    .clone()
                    .or_else(|| {
                        incident
                            .service
                            .contains('/')
                            .then(|| incident.service.clone())
                    })
                    .into_iter()
                    .collect(),
            };
            let mut deployments = Vec::new();
            for repo in &repos {
                deployments.extend(self.deployments_before(repo, incident.opened_at).await?);
            }
            if let Some(target) =
                blamed_deployment(&incident, &deployments, &repos, self.config.blame_window())
            {
                already_linked = deployments.iter().any(|d| {
                    d.key() == target
                        && d.blamed_by.iter().any(|b| {
                            &b.incident == incident_key
                                && b.opened_at == incident.opened_at
                                && b.resolved_at == incident.resolved_at
                        })
                });
                desired = Some((target, incident));
            }
        }
        let id = blamed_by_id(incident_key);
        let desired_target = desired.as_ref().map(|(t, _)| t.clone());
        if let Some(old) = old
            .as_ref()
            .filter(|old| Some(*old) != desired_target.as_ref())
        {
            if self.store.delete_derived(old, &link_sort_key(&id)).await? {
                work.touched(old);
            }
        }
        if let Some((target, incident)) = desired.as_ref().filter(|_| !already_linked) {
            let fact = link_fact(
                target,
                id,
                incident.opened_at,
                FactBody::BlamedBy {
                    incident: incident_key.clone(),
                    opened_at: incident.opened_at,
                    resolved_at: incident.resolved_at,
                },
            );
            if self.put_link(&fact, work).await? {
                work.touched(target);
            }
        }
        self.update_links(incident_key, |links| links.blames = desired_target)
            .await
    }

    /// The latest production attempts of a repo that finished before `until`.
    async fn deployments_before(
        &self,
        repo: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<Deployment>, StoreError> {
        self.store
            .deployments_before(repo, until, PREDECESSORS)
            .await
    }

    /// Re-derives which PRs each successful production deployment of `repo` finishing at or
    /// after `from` shipped, and the next-success link of failed ones.
    async fn link_repo(
        &self,
        repo: &str,
        from: DateTime<Utc>,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let later = self.store.production_deployments(repo, from..).await?;
        if later.is_empty() {
            return Ok(());
        }
        let mut deployments = self.deployments_before(repo, from).await?;
        deployments.extend(later);
        let finishes = || deployments.iter().filter_map(|d| d.finished_at);
        let (Some(first), Some(last)) = (finishes().min(), finishes().max()) else {
            return Ok(());
        };
        let lo = before(first, HISTORY_WINDOW);
        let hi = after(last, LINK_SLACK);
        let pushes = match self.default_branch(repo).await? {
            Some(branch) => {
                self.store
                    .branch_facts(repo, &branch, Some(lo), Some(hi))
                    .await?
            }
            None => Vec::new(),
        };
        let merged = self.store.merged_prs(repo, lo..=hi).await?;
        let rework: BTreeMap<EntityKey, bool> =
            merged.iter().map(|pr| (pr.key(), pr.is_rework)).collect();
        let merged_by_key: BTreeMap<EntityKey, &PullRequest> =
            merged.iter().map(|pr| (pr.key(), pr)).collect();
        let history = links::branch_history(&pushes);
        let shipped = links::shipped_by_deployment(&deployments, &history, &merged, from);
        for deployment in deployments
            .iter()
            .filter(|d| shipped.contains_key(&d.key()))
        {
            let key = deployment.key();
            let desired: BTreeSet<&EntityKey> = shipped
                .get(&key)
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            let (Some(finished), Some(sha)) = (deployment.finished_at, deployment.sha.clone())
            else {
                continue;
            };
            for current in deployment.ships.iter().filter(|s| !desired.contains(&s.pr)) {
                if self
                    .store
                    .delete_derived(&current.pr, &link_sort_key(&shipped_by_id(&key)))
                    .await?
                {
                    work.touched(&current.pr);
                }
            }
            // What it ships, as one fact; not written again when the projection already
            // shows exactly this (a conditional put that finds the same content still costs a
            // write unit in AWS, for every deployment a repo's re-link walks over).
            let ships: Vec<ShippedPr> = desired
                .iter()
                .map(|pr| ShippedPr {
                    pr: (*pr).clone(),
                    rework: rework.get(*pr).copied().unwrap_or(false),
                })
                .collect();
            if ships != deployment.ships {
                let changed = if ships.is_empty() {
                    self.store
                        .delete_derived(&key, &link_sort_key(SHIPS_ID))
                        .await?
                } else {
                    let fact = link_fact(
                        &key,
                        SHIPS_ID.into(),
                        finished,
                        FactBody::ShipsPrs { prs: ships },
                    );
                    self.put_link(&fact, work).await?
                };
                if changed {
                    work.touched(&key);
                }
            }
            for pr in desired {
                let already_shipped_by = merged_by_key
                    .get(pr)
                    .and_then(|p| p.shipped_by.as_ref())
                    .is_some_and(|s| {
                        s.deployment == key && s.sha == sha && s.finished_at == finished
                    });
                if already_shipped_by {
                    continue;
                }
                let shipped_by = link_fact(
                    pr,
                    shipped_by_id(&key),
                    finished,
                    FactBody::ShippedBy {
                        deployment: key.clone(),
                        sha: sha.clone(),
                        finished_at: finished,
                    },
                );
                if self.put_link(&shipped_by, work).await? {
                    work.touched(pr);
                }
            }
        }
        // Rollbacks before recovery links: a rolled-back deployment failed, so it needs one.
        let rolled_back = links::rollbacks(&deployments, &history);
        for deployment in deployments.iter_mut() {
            let key = deployment.key();
            let desired = rolled_back.get(&key);
            if desired == deployment.rolled_back_by.as_ref() {
                continue;
            }
            let changed = match desired {
                Some(by) => {
                    let Some(finished) = deployment.finished_at else {
                        continue;
                    };
                    let fact = link_fact(
                        &key,
                        ROLLED_BACK_BY_ID.into(),
                        finished,
                        FactBody::RolledBackBy {
                            deployment: by.clone(),
                        },
                    );
                    self.put_link(&fact, work).await?
                }
                None => {
                    self.store
                        .delete_derived(&key, &link_sort_key(ROLLED_BACK_BY_ID))
                        .await?
                }
            };
            deployment.rolled_back_by = desired.cloned();
            if changed {
                work.touched(&key);
            }
        }
        for deployment in &deployments {
            let key = deployment.key();
            let next =
                next_success(deployment, &deployments).filter(|_| deployment.needs_next_success());
            match (next, deployment.next_success_at) {
                (Some(next), current) => {
                    let Some(finished) = next.finished_at else {
                        continue;
                    };
                    if current == Some(finished) {
                        continue;
                    }
                    let fact = link_fact(
                        &key,
                        FOLLOWED_BY_ID.into(),
                        finished,
                        FactBody::FollowedBy {
                            deployment: next.key(),
                            finished_at: finished,
                        },
                    );
                    if self.put_link(&fact, work).await? {
                        work.touched(&key);
                    }
                }
                (None, Some(_)) => {
                    if self
                        .store
                        .delete_derived(&key, &link_sort_key(FOLLOWED_BY_ID))
                        .await?
                    {
                        work.touched(&key);
                    }
                }
                (None, None) => {}
            }
        }
        Ok(())
    }
}
