//! The derivation pipeline the rollup function runs on stream records: rebuild the projections
//! of changed entities, re-derive the links that depend on them, then recompute the weekly
//! rollups whose members changed. It loads, decides, then applies: every decision is a pure
//! function of `flowmeter::derive` (`projection::dependents`, `member_diff::MemberDiff`,
//! `link_edits`); this module loads their inputs and applies what they return.
//!
//! - [`rebuild`]: an entity's facts → its projection and bucket members;
//! - [`links`]: the link decisions' loads, and the one path that applies [`LinkEdit`]s;
//! - [`runs`]: run ids, which earlier runs finished, and parking what never derives.
//!
//! Links are written as derived facts on the target entity; their stream records bring the
//! target back here, so chains (deployment → shipped PR → its lead time) settle through the same
//! idempotent path. The stream filter lets only `FACT#` items through, so projections, members
//! and rollups never re-trigger the function.

mod events;
mod links;
mod rebuild;
mod runs;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use flowmeter::config::OrgConfig;
use flowmeter::derive::{Bucket, LinkEdit};
use flowmeter::model::EntityKey;
use futures::stream::{self, StreamExt};

use crate::publish::EventPublisher;
use crate::store::{Store, StoreError};
pub use events::EventsOutcome;
pub use runs::Parked;
use runs::RunMemo;

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

#[derive(Debug, Default)]
pub struct Outcome {
    /// Entities whose link facts this run wrote or removed: the stream brings them back; the
    /// reprocess loop feeds them to its next round itself.
    pub relinked: Changes,
    pub projections_written: usize,
    pub buckets_recomputed: usize,
    /// Entities parked by this run (see [`Pipeline::park`]).
    pub parked: Vec<Parked>,
    /// The domain events this run published, or left owed (`events`).
    pub events: EventsOutcome,
}

/// What one job of a run found still to do, and what it did.
#[derive(Default)]
struct Work {
    /// Repos whose deployment links are re-derived, each from the earliest time asked.
    repo_links: BTreeMap<String, DateTime<Utc>>,
    /// Incidents whose blame is re-derived.
    blames: BTreeSet<EntityKey>,
    /// Merged revert PRs whose revert link is re-derived.
    reverts: BTreeSet<EntityKey>,
    /// Buckets to recompute.
    dirty: BTreeSet<Bucket>,
    /// Domain events decided, and production deployments to announce.
    events: events::RunEvents,
    outcome: Outcome,
}

impl Work {
    /// Folds in the work one concurrent job found.
    fn merge(&mut self, other: Work) {
        for (repo, from) in other.repo_links {
            self.link_repo(&repo, from);
        }
        self.blames.extend(other.blames);
        self.reverts.extend(other.reverts);
        self.dirty.extend(other.dirty);
        self.events.merge(other.events);
        for (entity, since) in other.outcome.relinked {
            let entry = self.outcome.relinked.entry(entity).or_insert(since);
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

    fn relinked(&mut self, entity: &EntityKey) {
        self.outcome
            .relinked
            .entry(entity.clone())
            .or_insert(DateTime::<Utc>::MIN_UTC);
    }
}

/// Store requests a run keeps in flight: each takes milliseconds and the run's rebuilds and
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
    run: String,
    /// Earlier runs found recorded done (or not), so each is looked up once per run.
    done_runs: RunMemo<bool>,
    /// Repos' default branches as read or written in this run: every link and branch step
    /// asks, once per repo and run each, and the answer only changes by this run's writes.
    default_branches: RunMemo<Option<String>>,
    /// Where the run's domain events go; `None` (a reprocess, a test): none are decided.
    publisher: Option<&'a EventPublisher>,
    /// How old an owed event must be before a sweep publishes it (`events::SETTLE_S`).
    settle_s: i64,
    /// The longest time between this container's sweeps of owed events.
    sweep_every_s: i64,
    /// The shortest time between this container's evaluations of the attention rule and
    /// looks for waiting PRs.
    attention_every_s: i64,
}

impl<'a> Pipeline<'a> {
    pub fn new(store: &'a Store, config: OrgConfig) -> Pipeline<'a> {
        Pipeline {
            store,
            config,
            run: runs::new_run_id(),
            done_runs: RunMemo::new(),
            default_branches: RunMemo::new(),
            publisher: None,
            settle_s: events::SETTLE_S,
            sweep_every_s: i64::MAX,
            attention_every_s: events::ATTENTION_EVERY_S,
        }
    }

    /// Evaluates the attention rule and looks for waiting PRs in every run with live data that
    /// recomputes the current or the last full week: for tests, which cannot wait for
    /// [`events::ATTENTION_EVERY_S`].
    pub fn checking_every_run(mut self) -> Pipeline<'a> {
        self.attention_every_s = 0;
        self
    }

    /// Looks for PRs waiting for a first review now, and publishes their
    /// `pull_request.waiting` events: what a run with live data does when its check is due.
    pub async fn announce_waiting(&self) -> Result<EventsOutcome, StoreError> {
        let mut work = Work::default();
        self.announce_waiting_into(&mut work).await?;
        Ok(self.publish_events(&mut work).await)
    }

    /// Decides the `team.needs_attention` events of `weeks` now, and publishes them: what a run
    /// that recomputed those weeks' buckets does when its evaluation is due.
    pub async fn announce_attention(
        &self,
        weeks: &[flowmeter::time::IsoWeek],
    ) -> Result<EventsOutcome, StoreError> {
        let mut work = Work::default();
        self.announce_attention_into(weeks, &mut work).await?;
        Ok(self.publish_events(&mut work).await)
    }

    /// Sweeps owed events on every run, and publishes those owed for `settle_s`: for tests,
    /// which cannot wait for [`events::SETTLE_S`].
    pub fn sweeping_every_run(mut self, settle_s: i64) -> Pipeline<'a> {
        self.settle_s = settle_s;
        self.sweep_every_s = 0;
        self
    }

    /// Decides domain events as the run derives, and publishes them at its end.
    pub fn with_publisher(mut self, publisher: Option<&'a EventPublisher>) -> Pipeline<'a> {
        self.publisher = publisher;
        self
    }

    /// Derives everything that depends on the changed entities, phase by phase; within a
    /// phase the jobs are independent (each entity's projection from its own facts; each
    /// revert, repo or incident writes only its own links), so they run side by side, each into
    /// its own Work, merged after.
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
        let failed = self.rebuild_all(rebuild, &mut work).await?;
        self.link_all(&mut work).await?;
        // Live data (a fact of the last day): only then is the attention rule evaluated, so a
        // backfill or a replay of history, half arrived, flags nobody.
        let live_since = Utc::now() - chrono::Duration::hours(flowmeter::events::MAX_AGE_HOURS);
        let live = changes.values().any(|at| *at >= live_since);
        self.recompute_all(&mut work, live).await?;
        work.outcome.events = Box::pin(self.publish_events(&mut work)).await;
        if let Some((error, entities)) = failed {
            return Err(RunFailed { error, entities });
        }
        // Everything this run started is written: later rebuilds need not redo it.
        if work.outcome.projections_written > 0 {
            self.store
                .mark_run_done(&self.run, Utc::now().timestamp())
                .await?;
            runs::remember_finished(&self.run);
        }
        Ok(work.outcome)
    }

    /// Rebuilds every changed entity. One entity's failure is its own: the others still
    /// derive, and what a failed rebuild queued before failing is kept (its member writes
    /// dirtied buckets). Answers the first transient error with the entities that failed.
    async fn rebuild_all(
        &self,
        entities: BTreeSet<EntityKey>,
        work: &mut Work,
    ) -> Result<Option<(StoreError, Vec<EntityKey>)>, StoreError> {
        let rebuilt = run_each(entities, |entity, mut own| async move {
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
                Err(err) if err.is_permanent() => self.park(&entity, &err, work).await?,
                Err(err) => {
                    failed.push(entity);
                    first_error.get_or_insert(err);
                }
            }
        }
        failed.sort();
        Ok(first_error.map(|error| (error, failed)))
    }

    /// The link phases, in dependency order: reverts, then each repo's deployment links, then
    /// incidents' blames.
    async fn link_all(&self, work: &mut Work) -> Result<(), StoreError> {
        let reverts = std::mem::take(&mut work.reverts);
        run_concurrently(reverts, work, |revert, mut own| async move {
            let result = self.link_revert(&revert, &mut own).await;
            (own, result)
        })
        .await?;
        let repos = std::mem::take(&mut work.repo_links);
        let announce = std::mem::take(&mut work.events.announce);
        let announce = &announce;
        run_concurrently(repos, work, |(repo, from), mut own| async move {
            let result = self.link_repo(&repo, from, announce, &mut own).await;
            (own, result)
        })
        .await?;
        let blames = std::mem::take(&mut work.blames);
        run_concurrently(blames, work, |incident, mut own| async move {
            let result = self.link_blame(&incident, &mut own).await;
            (own, result)
        })
        .await
    }

    /// Recomputes the dirty buckets. Rollups are written compare-and-set on their version, so
    /// recomputing them concurrently is as safe as two shards doing it.
    async fn recompute_all(&self, work: &mut Work, live: bool) -> Result<(), StoreError> {
        let dirty = std::mem::take(&mut work.dirty);
        let weeks: BTreeSet<flowmeter::time::IsoWeek> = dirty.iter().map(|b| b.week).collect();
        let recomputed: Vec<Result<(), StoreError>> = stream::iter(dirty)
            .map(|bucket| async move { self.recompute_bucket(&bucket).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for result in recomputed {
            result?;
            work.outcome.buckets_recomputed += 1;
        }
        if live {
            Box::pin(self.weeks_recomputed(&weeks, work)).await;
        }
        Ok(())
    }

    /// Applies link edits in order, the one path every link write takes: a put or a delete,
    /// conditional on the item not being a source fact; an entity whose link changed is
    /// relinked (the stream brings it back); a link DynamoDB can never hold (over 400 KB, say)
    /// parks its target instead of failing the run.
    async fn apply(&self, edits: Vec<LinkEdit>, work: &mut Work) -> Result<(), StoreError> {
        for edit in edits {
            let changed = match &edit {
                LinkEdit::Put(fact) => match self.store.put_derived(fact).await {
                    Err(err) if err.is_permanent() => {
                        self.park(&fact.entity, &err, work).await?;
                        false
                    }
                    other => other?,
                },
                LinkEdit::Remove { entity, link } => {
                    self.store
                        .delete_derived(entity, &crate::store::keys::link_sk(link))
                        .await?
                }
            };
            if changed {
                work.relinked(edit.entity());
            }
        }
        Ok(())
    }
}
