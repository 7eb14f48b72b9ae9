//! Records of pipeline runs: the done marker of each run that wrote projections, and the
//! entities a run set aside (parked).

use flowmeter::model::EntityKey;

use super::codec::{n, s};
use super::{keys, Store, StoreError};

/// How long a run's done marker is kept ([`Store::mark_run_done`]).
pub const RUN_DONE_TTL_S: i64 = 30 * 86_400;

/// The longest reason a parked record keeps (bytes).
const PARK_REASON_BYTES: usize = 2_000;

impl Store {
    /// Records that pipeline run `run` finished every write it started (`expires_at`, the
    /// table's TTL attribute, [`RUN_DONE_TTL_S`] later).
    pub async fn mark_run_done(&self, run: &str, now_s: i64) -> Result<(), StoreError> {
        // Kept a month: a projection whose run's marker is gone reads as from a run that died,
        // and its rebuild recomputes that run's buckets again. Correct, but wasted on every
        // entity rebuilt after the marker expired; a month covers the usual life of a PR or a
        // deployment's links (stream records live a day), at ~100 bytes a run.
        let request = self
            .put()
            .item("pk", s(keys::run_pk(run)))
            .item("sk", s(keys::RUN_DONE_SK))
            .item("expires_at", n(now_s + RUN_DONE_TTL_S));
        self.send("PutItem(run done)", request.send()).await?;
        Ok(())
    }

    /// Whether pipeline run `run` was recorded done (strongly consistent).
    pub async fn run_done(&self, run: &str) -> Result<bool, StoreError> {
        let request = self
            .get()
            .consistent_read(true)
            .key("pk", s(keys::run_pk(run)))
            .key("sk", s(keys::RUN_DONE_SK))
            .projection_expression("pk");
        let out = self.send("GetItem(run done)", request.send()).await?;
        Ok(out.item.is_some())
    }

    /// Records an entity the pipeline could not derive for a reason no retry cures (see
    /// [`StoreError::is_permanent`]), so an operator can list what was skipped
    /// (`PARKED#<entity>` / `PARKED`). Overwritten by a later failure of the same entity.
    pub async fn park(
        &self,
        entity: &EntityKey,
        error: &str,
        now_s: i64,
    ) -> Result<(), StoreError> {
        let mut reason = error.to_string();
        if reason.len() > PARK_REASON_BYTES {
            let mut cut = PARK_REASON_BYTES;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        let request = self
            .put()
            .item("pk", s(keys::parked_pk(entity)))
            .item("sk", s(keys::PARKED_SK))
            .item("error", s(reason))
            .item("at", n(now_s));
        self.send("PutItem(parked)", request.send()).await?;
        Ok(())
    }
}
