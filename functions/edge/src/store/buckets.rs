//! Bucket members: what each entity contributes to a (scope, week) bucket, packed one item
//! per (bucket, entity), written 25 to a request.

use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use flowmeter::derive::{Bucket, MemberData, PackedMember};
use serde::{Deserialize, Serialize};

use super::codec::{from_item, s, to_item, Item};
use super::{keys, Store, StoreError};

/// A bucket member item: one entity's members in the bucket, packed.
#[derive(Serialize, Deserialize)]
struct MemberItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    packed: Vec<MemberData>,
}

/// The members a bucket member item holds (see [`MemberItem`]).
pub fn member_data(item: Item) -> Result<Vec<MemberData>, StoreError> {
    Ok(from_item::<MemberItem>(item)?.packed)
}

/// Tries of one `BatchWriteItem` chunk before its unprocessed items are an error.
const BATCH_WRITE_TRIES: u32 = 8;

impl Store {
    /// Writes and deletes bucket member items, 25 to a `BatchWriteItem` (its limit): an entity's
    /// members change together, and one request for them all instead of one each is most of
    /// what keeps the rollup's request rate below DynamoDB's per-delivery budget. Unprocessed
    /// items (throttling) are retried with backoff; a batch that never drains is an error, so
    /// the stream retries the whole record.
    pub async fn write_members(
        &self,
        puts: &[&PackedMember],
        deletes: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        const OP: &str = "BatchWriteItem(member)";
        let mut requests = Vec::with_capacity(puts.len() + deletes.len());
        for member in puts {
            let item = to_item(&MemberItem {
                pk: keys::bucket_pk(&member.bucket),
                sk: keys::member_sk(&member.id),
                packed: member.data.clone(),
            })?;
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreError::unbuildable(OP, e))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        for (bucket_key, id) in deletes {
            let delete = DeleteRequest::builder()
                .key("pk", s(keys::bucket_key_pk(bucket_key)))
                .key("sk", s(keys::member_sk(id)))
                .build()
                .map_err(|e| StoreError::unbuildable(OP, e))?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                if attempt == BATCH_WRITE_TRIES {
                    return Err(StoreError::Unprocessed {
                        op: OP,
                        left: pending.len(),
                        tries: attempt,
                    });
                }
                if attempt > 0 {
                    let delay = 25u64 << attempt.min(6);
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                }
                attempt += 1;
                let request = self.batch_write().request_items(&self.table, pending);
                let out = self.send(OP, request.send()).await?;
                pending = out
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    /// Every member of a bucket (strongly consistent).
    pub async fn bucket_members(&self, bucket: &Bucket) -> Result<Vec<MemberData>, StoreError> {
        self.query_partition(&keys::bucket_pk(bucket), Some(keys::MEMBER))
            .await?
            .into_iter()
            .map(member_data)
            .collect::<Result<Vec<_>, _>>()
            .map(|packs| packs.into_iter().flatten().collect())
    }

    /// The pull requests with members in `bucket` (in the org's bucket of a week: every PR
    /// opened, merged or shipped in it), by their keys alone.
    pub async fn bucket_pull_requests(
        &self,
        bucket: &Bucket,
    ) -> Result<Vec<flowmeter::model::EntityKey>, StoreError> {
        let prefix = format!("{}{}", keys::MEMBER, keys::PULL_REQUEST);
        Ok(self
            .query_partition(&keys::bucket_pk(bucket), Some(&prefix))
            .await?
            .iter()
            .filter_map(|item| {
                let (_, sk) = super::item_keys(item);
                let entity = sk.strip_prefix(keys::MEMBER)?;
                flowmeter::model::EntityKey::from_partition_key(entity)
            })
            .collect())
    }
}
