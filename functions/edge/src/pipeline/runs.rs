//! Runs: each pipeline run's id, which earlier runs were recorded done (a projection written by
//! a run that died is redone by the next rebuild), and parking an entity that never derives.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::Utc;
use flowmeter::model::EntityKey;

use super::{Pipeline, Work};
use crate::store::{ProjectionItem, StoreError};

/// An entity set aside because deriving it fails in a way no retry cures.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Parked {
    pub entity: String,
    pub error: String,
}

/// Store answers kept for one run, by key, so each is read once. (A poisoned lock only costs
/// a repeated read.)
pub(super) struct RunMemo<V>(Mutex<BTreeMap<String, V>>);

impl<V: Clone> RunMemo<V> {
    pub(super) fn new() -> RunMemo<V> {
        RunMemo(Mutex::new(BTreeMap::new()))
    }

    pub(super) fn get(&self, key: &str) -> Option<V> {
        self.0.lock().ok().and_then(|known| known.get(key).cloned())
    }

    pub(super) fn put(&self, key: &str, value: V) {
        if let Ok(mut known) = self.0.lock() {
            known.insert(key.to_string(), value);
        }
    }
}

/// Runs this process finished (recorded done), newest last, at most [`FINISHED_KEPT`]: a
/// container handles a shard's stream batches one after another, so the projection a rebuild
/// finds was most often written by this container's previous run, and is known done without a
/// read.
static FINISHED_HERE: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
const FINISHED_KEPT: usize = 1024;

pub(super) fn remember_finished(run: &str) {
    if let Ok(mut finished) = FINISHED_HERE.lock() {
        if finished.len() == FINISHED_KEPT {
            finished.pop_front();
        }
        finished.push_back(run.to_string());
    }
}

fn finished_here(run: &str) -> bool {
    FINISHED_HERE
        .lock()
        .is_ok_and(|finished| finished.iter().any(|r| r == run))
}

/// A run id unique enough across containers: time to the nanosecond, the process id and a
/// counter.
pub(super) fn new_run_id() -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}-{:x}-{n:x}", std::process::id())
}

impl Pipeline<'_> {
    /// Whether an earlier run was recorded done, looked up once per run.
    async fn run_done(&self, run: &str) -> Result<bool, StoreError> {
        if run == self.run {
            // This run wrote it moments ago and will finish (or fail, and be retried) itself.
            return Ok(true);
        }
        if let Some(done) = self.done_runs.get(run) {
            return Ok(done);
        }
        if finished_here(run) {
            return Ok(true);
        }
        let done = self.store.run_done(run).await?;
        self.done_runs.put(run, done);
        Ok(done)
    }

    /// Whether a stored projection was written by a run not recorded done (one that died
    /// before its buckets and links), whose work a rebuild must therefore redo.
    pub(super) async fn written_by_unfinished_run(
        &self,
        item: &ProjectionItem,
    ) -> Result<bool, StoreError> {
        match item.run.as_deref() {
            Some(run) => Ok(!self.run_done(run).await?),
            None => Ok(false),
        }
    }

    /// Sets an entity aside whose derivation fails for a reason no retry cures (a derived key
    /// or item DynamoDB will never accept: `StoreError::is_permanent`), so that one bad record
    /// never stalls the stream: logged, counted in the `ParkedEntities` metric (CloudWatch
    /// embedded metric format, read from the function's log), recorded under `PARKED#`, and
    /// reported in the run's outcome. Reprocess retries it like everything else.
    pub(super) async fn park(
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_unique_within_a_process() {
        let ids: std::collections::BTreeSet<String> = (0..1000).map(|_| new_run_id()).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn a_run_finished_here_is_known_done_and_the_oldest_is_forgotten_first() {
        let first = new_run_id();
        remember_finished(&first);
        assert!(finished_here(&first));
        for _ in 0..FINISHED_KEPT {
            remember_finished(&new_run_id());
        }
        assert!(
            !finished_here(&first),
            "only the last {FINISHED_KEPT} are kept"
        );
    }

    #[test]
    fn a_run_memo_answers_what_it_was_told() {
        let memo = RunMemo::new();
        assert_eq!(memo.get("r"), None);
        memo.put("r", true);
        assert_eq!(memo.get("r"), Some(true));
    }
}
