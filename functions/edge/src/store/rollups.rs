//! Rollups: one (scope, week) bucket folded from its members, versioned for compare-and-set.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use flowmeter::derive::{Bucket, Rollup, Scope};
use flowmeter::time::IsoWeek;
use serde::{Deserialize, Serialize};

use super::codec::{from_item, n, number, s, to_item, Item};
use super::{keys, Store, StoreError};

#[derive(Serialize, Deserialize)]
struct RollupItem {
    pk: String,
    sk: String,
    v: u64,
    rollup: Rollup,
}

impl RollupItem {
    /// The scope and week its keys name.
    fn bucket(&self) -> Result<(Scope, IsoWeek), StoreError> {
        let scope = keys::scope_of_rollup(&self.pk)
            .ok_or_else(|| StoreError::Corrupt(format!("bad rollup key {}", self.pk)))?;
        let week: IsoWeek = self
            .sk
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("bad rollup week {}", self.sk)))?;
        Ok((scope, week))
    }
}

/// How long an unprocessed `BatchGetItem` waits before it asks again.
const BATCH_GET_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

impl Store {
    /// The version of a bucket's stored rollup (`None`: no rollup yet), read strongly
    /// consistent: the first half of [`Store::put_rollup_if`]'s compare-and-set.
    pub async fn rollup_version(&self, bucket: &Bucket) -> Result<Option<u64>, StoreError> {
        let request = self
            .get()
            .consistent_read(true)
            .key("pk", s(keys::rollup_pk(&bucket.scope)))
            .key("sk", s(bucket.week.to_string()))
            .projection_expression("v");
        let out = self.send("GetItem(rollup)", request.send()).await?;
        Ok(out.item().map(|item| number(item, "v").unwrap_or(0)))
    }

    /// Writes the rollup as version `seen + 1` if the stored one is still at `seen` (absent
    /// for `None`); `false` when another writer got there first, and the caller recomputes.
    /// A writer whose members changed recomputes after its own member writes and retries
    /// until its write lands, so the last rollup written was folded from a member query made
    /// after every member write that preceded it: concurrent shards cannot leave a stale
    /// rollup behind. (This replaced a separate version item bumped before each recompute:
    /// a strongly consistent read costs a read unit where the bump cost a write unit.)
    pub async fn put_rollup_if(
        &self,
        bucket: &Bucket,
        seen: Option<u64>,
        rollup: &Rollup,
    ) -> Result<bool, StoreError> {
        let item = to_item(&RollupItem {
            pk: keys::rollup_pk(&bucket.scope),
            sk: bucket.week.to_string(),
            v: seen.map_or(1, |v| v + 1),
            rollup: rollup.clone(),
        })?;
        let put = self.put().set_item(Some(item));
        let put = match seen {
            Some(v) => put
                .condition_expression("v = :v")
                .expression_attribute_values(":v", n(v)),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        match self.send("PutItem(rollup)", put.send()).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Rollups for the given scopes and weeks, with `BatchGetItem` (100 keys a request).
    /// Missing buckets are absent from the answer.
    pub async fn rollups(
        &self,
        keys: &[(Scope, IsoWeek)],
    ) -> Result<Vec<(Scope, IsoWeek, Rollup)>, StoreError> {
        let wanted = keys
            .iter()
            .map(|(scope, week)| (keys::rollup_pk(scope), week.to_string()))
            .collect();
        let mut out = Vec::new();
        for item in self.batch_get_items(wanted).await? {
            let rollup: RollupItem = from_item(item)?;
            let (scope, week) = rollup.bucket()?;
            out.push((scope, week, rollup.rollup));
        }
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        Ok(out)
    }

    /// The items at `(pk, sk)` keys, with `BatchGetItem` (100 keys a request, unprocessed keys
    /// asked again); missing ones are absent, the order is DynamoDB's.
    pub(super) async fn batch_get_items(
        &self,
        wanted: Vec<(String, String)>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for chunk in wanted.chunks(100) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|(pk, sk)| {
                    HashMap::from([
                        ("pk".to_string(), s(pk.clone())),
                        ("sk".to_string(), s(sk.clone())),
                    ])
                })
                .collect();
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .build()
                    .map_err(|e| StoreError::unbuildable("BatchGetItem", e))?;
                let request = self.batch_get().request_items(&self.table, request);
                let answer = self.send("BatchGetItem", request.send()).await?;
                out.extend(
                    answer
                        .responses()
                        .and_then(|r| r.get(&self.table))
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
                if let Some(unprocessed) =
                    answer.unprocessed_keys().and_then(|u| u.get(&self.table))
                {
                    pending = unprocessed.keys().to_vec();
                    tokio::time::sleep(BATCH_GET_RETRY).await;
                }
            }
        }
        Ok(out)
    }

    /// Whether any rollup exists for a scope (one Query, one item at most).
    pub async fn has_rollups(&self, scope: &Scope) -> Result<bool, StoreError> {
        let request = self
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::rollup_pk(scope)))
            .limit(1);
        let out = self.send("Query(rollups)", request.send()).await?;
        Ok(out.count() > 0)
    }

    /// Every rollup in the table (tests and the reprocess check compare these).
    pub async fn all_rollups(&self) -> Result<Vec<(String, String, Rollup)>, StoreError> {
        let mut out = Vec::new();
        for item in self.scan_prefix(keys::ROLLUP).await? {
            let r: RollupItem = from_item(item)?;
            out.push((r.pk, r.sk, r.rollup));
        }
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        Ok(out)
    }
}
