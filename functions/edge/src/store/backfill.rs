//! Backfills (`BACKFILL` / `<id>`): each job as `GET /v1/backfill` shows it, which is also its
//! checkpoint, plus the lease of the one runner allowed to advance it; and the ETags of GitHub
//! answers whose facts are all written (`ETAG#<url>` / `ETAG`), which make a re-run's unchanged
//! pages free of rate limit.
//!
//! The job is kept as its JSON text: it is read and written whole, never queried by field, and
//! a few kilobytes even for a quarter of a busy repository.

use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use flowmeter::backfill::{BackfillJob, JobState};

use super::codec::{n, number, s, text};
use super::{keys, Store, StoreError};

/// How long a runner holds a job without checkpointing before another may take it over: a
/// runner that died (a Lambda timeout, a killed dev server) blocks its job this long at most.
pub const BACKFILL_LEASE_S: i64 = 120;

/// A runner's hold on a job: who, and until when (epoch seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackfillLease {
    pub owner: String,
    pub until_s: i64,
}

fn state_name(state: JobState) -> &'static str {
    match state {
        JobState::Running => "running",
        JobState::Done => "done",
        JobState::Failed => "failed",
    }
}

fn decode(item: &super::Item) -> Result<BackfillJob, StoreError> {
    serde_json::from_str(&text(item, "job"))
        .map_err(|e| StoreError::Corrupt(format!("backfill {}: {e}", text(item, "sk"))))
}

impl Store {
    /// The put of `job`'s item, without condition: creating and checkpointing add theirs.
    fn put_backfill(&self, job: &BackfillJob) -> Result<PutItemFluentBuilder, StoreError> {
        let body = serde_json::to_string(job).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(self
            .put()
            .item("pk", s(keys::BACKFILL_PK))
            .item("sk", s(&job.id))
            .item("state", s(state_name(job.state)))
            .item("job", s(body)))
    }

    /// Records a new job; a job with the same id already there is a conflict.
    pub async fn create_backfill(&self, job: &BackfillJob) -> Result<(), StoreError> {
        let request = self
            .put_backfill(job)?
            .condition_expression("attribute_not_exists(pk)");
        self.send("PutItem(backfill)", request.send()).await?;
        Ok(())
    }

    /// One job, strongly consistent (`None`: no such id).
    pub async fn backfill(&self, id: &str) -> Result<Option<BackfillJob>, StoreError> {
        let request = self
            .get()
            .consistent_read(true)
            .key("pk", s(keys::BACKFILL_PK))
            .key("sk", s(id));
        let out = self.send("GetItem(backfill)", request.send()).await?;
        out.item.as_ref().map(decode).transpose()
    }

    /// Every job, newest first (ids sort by their start time).
    pub async fn backfills(&self) -> Result<Vec<BackfillJob>, StoreError> {
        let items = self.query_partition(keys::BACKFILL_PK, None).await?;
        let mut jobs = items.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        jobs.reverse();
        Ok(jobs)
    }

    /// The ids of the running jobs no runner holds at `now_s` (the scheduler's pickup), oldest
    /// first.
    pub async fn unheld_backfills(&self, now_s: i64) -> Result<Vec<String>, StoreError> {
        let items = self.query_partition(keys::BACKFILL_PK, None).await?;
        Ok(items
            .iter()
            .filter(|item| text(item, "state") == "running")
            .filter(|item| number::<i64>(item, "lease_until").is_none_or(|until| until < now_s))
            .map(|item| text(item, "sk"))
            .collect())
    }

    /// Takes the lease of running job `id` for `lease` if no one else holds it at `now_s`
    /// (or `lease.owner` already does). `false`: another runner has it, or it is not running.
    pub async fn claim_backfill(
        &self,
        id: &str,
        lease: &BackfillLease,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let request = self
            .update()
            .key("pk", s(keys::BACKFILL_PK))
            .key("sk", s(id))
            .update_expression("SET lease_owner = :owner, lease_until = :until")
            .condition_expression(
                "#state = :running AND (attribute_not_exists(lease_until) \
                 OR lease_until < :now OR lease_owner = :owner)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":owner", s(&lease.owner))
            .expression_attribute_values(":until", n(lease.until_s))
            .expression_attribute_values(":now", n(now_s))
            .expression_attribute_values(":running", s("running"));
        match self
            .send("UpdateItem(claim backfill)", request.send())
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Checkpoints `job` under `lease` (renewed to its `until_s`; 0 releases it). A conflict
    /// means the lease was lost to another runner, whose checkpoint must not be overwritten.
    pub async fn save_backfill(
        &self,
        job: &BackfillJob,
        lease: &BackfillLease,
    ) -> Result<(), StoreError> {
        let request = self
            .put_backfill(job)?
            .item("lease_owner", s(&lease.owner))
            .item("lease_until", n(lease.until_s))
            .condition_expression("lease_owner = :owner")
            .expression_attribute_values(":owner", s(&lease.owner));
        self.send("PutItem(checkpoint backfill)", request.send())
            .await?;
        Ok(())
    }

    /// The ETag kept for `url` (a path on the GitHub API's base URL).
    pub async fn etag(&self, url: &str) -> Result<Option<String>, StoreError> {
        let request = self
            .get()
            .key("pk", s(keys::etag_pk(url)))
            .key("sk", s(keys::ETAG_SK));
        let out = self.send("GetItem(etag)", request.send()).await?;
        Ok(out
            .item
            .map(|item| text(&item, "etag"))
            .filter(|e| !e.is_empty()))
    }

    /// Keeps `etag` for `url`: only once every fact under the answer is written, so that a
    /// `304` later can be trusted to mean "nothing to write".
    pub async fn put_etag(&self, url: &str, etag: &str) -> Result<(), StoreError> {
        let request = self
            .put()
            .item("pk", s(keys::etag_pk(url)))
            .item("sk", s(keys::ETAG_SK))
            .item("etag", s(etag));
        self.send("PutItem(etag)", request.send()).await?;
        Ok(())
    }
}
