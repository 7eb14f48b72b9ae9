//! Rebuilds every projection, link and rollup from the stored source facts. The admin path for a
//! changed definition or timezone, and the proof that streaming derived nothing facts don't say.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use flowmeter::config::OrgConfig;
use flowmeter::model::EntityKey;

use crate::pipeline::{Changes, Pipeline};
use crate::store::{item_keys, keys, Store, StoreError};

#[derive(Debug, Default, serde::Serialize)]
pub struct ReprocessReport {
    pub source_entities: usize,
    pub derived_items_removed: usize,
    pub rounds: usize,
    pub projections_written: usize,
    pub buckets_recomputed: usize,
    /// Entities set aside because deriving them fails on every try; the rest was derived.
    pub parked: Vec<crate::pipeline::Parked>,
}

/// Rounds after which reprocessing gives up: each round follows one hop of links
/// (deployment → PR → revert → deployment), so a handful always suffices.
const MAX_ROUNDS: usize = 12;

/// Deletes every derived item (projections, links, members, rollups, repo metadata), then
/// derives everything again from the source facts, following links to a fixed point. Fails,
/// rather than report success, if the links have not settled after [`MAX_ROUNDS`].
pub async fn reprocess(store: &Store, config: OrgConfig) -> Result<ReprocessReport, StoreError> {
    let mut report = ReprocessReport::default();
    let mut changes: Changes = BTreeMap::new();
    for item in store.scan_all().await? {
        let (pk, sk) = item_keys(&item);
        if keys::is_source_fact(&sk) {
            if let Some(entity) = EntityKey::from_partition_key(&pk) {
                changes.insert(entity, DateTime::<Utc>::MIN_UTC);
            }
        } else if !keys::is_record(&pk) {
            // Records, not derivations: the org config and the digest's send ledger
            // (deleting it would send every past week's digest again).
            store.delete_item(&pk, &sk).await?;
            report.derived_items_removed += 1;
        }
    }
    report.source_entities = changes.len();
    while !changes.is_empty() && report.rounds < MAX_ROUNDS {
        // A pipeline (so a run id) per round: each round is recorded done on its own.
        let outcome = Pipeline::new(store, config.clone())
            .process(&changes)
            .await
            .map_err(|failed| failed.error)?;
        report.rounds += 1;
        report.projections_written += outcome.projections_written;
        report.buckets_recomputed += outcome.buckets_recomputed;
        report.parked.extend(outcome.parked);
        changes = outcome.relinked;
    }
    if !changes.is_empty() {
        return Err(StoreError::Unsettled {
            op: "reprocess",
            reason: format!(
                "links still changing after {MAX_ROUNDS} rounds ({} entities); the derived \
                 state is incomplete: run reprocess again and report this",
                changes.len()
            ),
        });
    }
    Ok(report)
}
