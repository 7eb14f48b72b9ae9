//! The only module that talks to DynamoDB. The table layout lives here (and in ARCHITECTURE.md):
//!
//! | item            | pk                          | sk                         |
//! |-----------------|-----------------------------|----------------------------|
//! | source fact     | entity key (`PR#…`, `DEP#…`, `INC#…`, `BR#…`) | `FACT#<at>#<fact id>` |
//! | derived fact    | entity key                  | `FACT#LINK#<link id>`      |
//! | projection      | entity key                  | `PROJ`                     |
//! | PR by head      | branch entity key (`BR#…`)  | PR entity key (`PR#…`)     |
//! | repo metadata   | `REPO#<owner/name>`         | `META`                     |
//! | bucket member   | `BUCKET#<scope>|<week>`     | `M#<entity>` (packed)      |
//! | rollup          | `ROLLUP#<scope>`            | `<week>`                   |
//! | org config      | `CONFIG`                    | `CURRENT`                  |
//!
//! GSIs (on projections only): `gsi1` = deployments of a repo by finish (`DEPS#<repo>`),
//! incidents of a service by opening (`INCS#<service>`); `gsi2` = merged PRs of a repo by merge
//! time (`MERGED#<repo>`), open incidents (`OPENINC`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
pub use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    KeysAndAttributes, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use flowmeter::config::OrgConfig;
use flowmeter::derive::{
    Bucket, Deployment, Incident, MemberData, PackedMember, PullRequest, Rollup, Scope,
};
use flowmeter::model::{EntityKey, Fact};
use flowmeter::time::IsoWeek;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {op} failed: {message}")]
    Dynamo { op: &'static str, message: String },
    #[error("item (de)serialization failed: {0}")]
    Serde(String),
    /// A derived write (link, projection, PR-by-head record, link delete) met a source fact at
    /// its key, or was handed a source fact to write as derived: it is refused and nothing
    /// changes (source facts are the only record of what a source said; everything derived
    /// can be rebuilt from them).
    #[error(
        "{op} refused at {pk} / {sk}: a derived write never replaces or deletes a source fact"
    )]
    WouldReplaceSourceFact {
        op: &'static str,
        pk: String,
        sk: String,
    },
}

/// DynamoDB error codes that retrying cannot cure: the request itself is one the table never
/// accepts (a key over 2,048 / 1,024 bytes, an item over 400 KB, a full item collection).
const PERMANENT_ERROR_CODES: &[&str] = &[
    "ValidationException",
    "ItemCollectionSizeLimitExceededException",
];

impl StoreError {
    /// A poison error: the same request fails the same way on every retry, so a stream batch
    /// that keeps retrying it stalls behind it for good. The pipeline parks the entity instead.
    /// Everything else (throttling, timeouts, an unreachable store) is transient.
    pub fn is_permanent(&self) -> bool {
        match self {
            StoreError::Dynamo { message, .. } => PERMANENT_ERROR_CODES
                .iter()
                .any(|code| message.contains(code)),
            StoreError::Serde(_) | StoreError::WouldReplaceSourceFact { .. } => true,
        }
    }

    pub fn dynamo<E: std::error::Error + 'static>(op: &'static str, err: E) -> StoreError {
        StoreError::Dynamo {
            op,
            message: DisplayErrorContext(err).to_string(),
        }
    }
}

fn is_condition_failure<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Serde(e.to_string()))
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Serde(e.to_string()))
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len() / 2 + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len() / 2 + 1).sum(),
        _ => 1,
    }
}

/// An item's size as DynamoDB counts it for capacity (names plus values; numbers about one
/// byte per two digits; a map or list 3 bytes plus 1 per element): what the load harness and
/// the capacity test report, and what write units round up per 1 KB.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A short content hash: lets a write be skipped (or made conditional) when nothing changed, so
/// unchanged derivations cost no write and trigger no stream record.
pub fn content_hash<T: Serialize>(value: &T) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..8])
}

/// Instant formatting used inside sort keys: fixed width, so string order is time order.
pub fn key_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One entity's projection. Not boxed: projections are built one at a time and stored at once,
/// so the size difference between variants costs nothing that matters.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    PullRequest(PullRequest),
    Deployment(Deployment),
    Incident(Incident),
}

/// A member this projection contributed, remembered so the next rebuild can diff.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberRef {
    pub b: String,
    pub id: String,
    pub h: String,
}

/// Which links this entity asserted on others, so a changed decision can retract the old link.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blames: Option<EntityKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverts: Option<EntityKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marked_reverted: Option<EntityKey>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectionItem {
    pub pk: String,
    pub sk: String,
    pub projection: Projection,
    pub members: Vec<MemberRef>,
    #[serde(default)]
    pub links: LinkState,
    /// The pipeline run that wrote this projection, and the buckets its member diff touched
    /// (deletions included). A run that fails after writing a projection leaves that entity's
    /// buckets and links undone; the retry finds the projection unchanged, so it redoes them
    /// from here unless the run is recorded done (`Store::batch_done`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub touched: Vec<String>,
    /// The head branch this PR is recorded under ([`Store::put_head_index`]), so the record
    /// is written again only when the head changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_indexed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
}

/// A projection as stored: the keys the table and its indexes need as plain attributes, and
/// everything else (the projection, its member refs, links and touched buckets) as one
/// deflated JSON document in `z`. Stored plainly a pull request's item is ~1.6 KB, mostly
/// attribute names and repeated bucket keys; deflated it fits in 1 KB, and DynamoDB bills a
/// projection write three times (the table and both indexes project it whole), so this halves
/// the rollup's largest write cost and every read of projections with it (BENCHMARKS.md).
#[derive(Serialize, Deserialize)]
struct StoredProjection {
    pk: String,
    sk: String,
    // `z` (binary) is added and taken off around serde_dynamo, which has no bytes type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
}

/// The deflated part of a [`StoredProjection`].
#[derive(Serialize, Deserialize)]
struct ProjectionBody {
    projection: Projection,
    #[serde(default)]
    members: Vec<MemberRef>,
    #[serde(default)]
    links: LinkState,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    touched: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    head_indexed: Option<String>,
}

fn deflate(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Write;
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::Serde(format!("deflate: {e}")))
}

/// Inflates at most `MAX_INFLATED` bytes: the table is ours, but a corrupt item must give an
/// error, not exhaust memory.
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Read;
    const MAX_INFLATED: u64 = 16 << 20;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(MAX_INFLATED)
        .read_to_end(&mut out)
        .map_err(|e| StoreError::Serde(format!("inflate: {e}")))?;
    Ok(out)
}

impl ProjectionItem {
    /// The item as stored (see [`StoredProjection`]).
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let body = serde_json::to_vec(&ProjectionBody {
            projection: self.projection.clone(),
            members: self.members.clone(),
            links: self.links.clone(),
            touched: self.touched.clone(),
            head_indexed: self.head_indexed.clone(),
        })
        .map_err(|e| StoreError::Serde(e.to_string()))?;
        let mut item = to_item(&StoredProjection {
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            batch: self.batch.clone(),
            gsi1pk: self.gsi1pk.clone(),
            gsi1sk: self.gsi1sk.clone(),
            gsi2pk: self.gsi2pk.clone(),
            gsi2sk: self.gsi2sk.clone(),
        })?;
        item.insert("z".into(), AttributeValue::B(deflate(&body)?.into()));
        Ok(item)
    }

    /// Reads a stored projection item; one written before projections were deflated (plain
    /// attributes, no `z`) still reads, so a table needs no migration.
    pub fn from_item(mut item: Item) -> Result<ProjectionItem, StoreError> {
        let Some(AttributeValue::B(z)) = item.remove("z") else {
            return from_item(item);
        };
        let stored: StoredProjection = from_item(item)?;
        let body: ProjectionBody = serde_json::from_slice(&inflate(z.as_ref())?)
            .map_err(|e| StoreError::Serde(format!("projection body: {e}")))?;
        Ok(ProjectionItem {
            pk: stored.pk,
            sk: stored.sk,
            projection: body.projection,
            members: body.members,
            links: body.links,
            batch: stored.batch,
            touched: body.touched,
            head_indexed: body.head_indexed,
            gsi1pk: stored.gsi1pk,
            gsi1sk: stored.gsi1sk,
            gsi2pk: stored.gsi2pk,
            gsi2sk: stored.gsi2sk,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct FactItem {
    pk: String,
    sk: String,
    fact: Fact,
    /// Content hash, the condition for upserting derived facts.
    h: String,
}

/// A bucket member item: one entity's members in the bucket, packed (`packed`); items written
/// before packing hold one member in `data` and still read.
#[derive(Serialize, Deserialize)]
struct MemberItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<MemberData>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    packed: Vec<MemberData>,
}

/// The members a bucket member item holds (see [`MemberItem`]).
pub fn member_data(item: Item) -> Result<Vec<MemberData>, StoreError> {
    let member: MemberItem = from_item(item)?;
    Ok(member.data.into_iter().chain(member.packed).collect())
}

#[derive(Serialize, Deserialize)]
struct RollupItem {
    pk: String,
    sk: String,
    v: u64,
    rollup: Rollup,
}

#[derive(Serialize, Deserialize)]
struct RepoMetaItem {
    pk: String,
    sk: String,
    default_branch: String,
}

#[derive(Serialize, Deserialize)]
struct ConfigItem {
    pk: String,
    sk: String,
    yaml: String,
}

/// The partition key prefixes the rollup function writes and deletes under: the entity
/// partitions (link facts, projections, PR-by-head records), bucket members, rollups, run
/// markers and repo metadata. template.yaml's `RollupRole` may write under these only
/// (`dynamodb:LeadingKeys`), so a rollup cannot overwrite `CONFIG` or the digest ledger
/// (`DIGEST#`). tests/template.rs holds the two lists together; tests/derived_writes.rs checks
/// that a pipeline run writes under no other prefix. A new kind of derived item needs its
/// prefix here and in the template.
pub const ROLLUP_WRITE_PREFIXES: &[&str] = &[
    "PR#", "DEP#", "INC#", "BR#", "BUCKET#", "ROLLUP#", "BATCH#", "REPO#", "PARKED#",
];

/// The digest send ledger's partition of one org and week (never written by the rollup role,
/// never deleted by reprocess).
fn digest_ledger_pk(org: &str, week: &str) -> String {
    format!("DIGEST#{org}#{week}")
}

/// Partition prefix of the record of a parked entity ([`Store::park`]).
pub const PARKED_PREFIX: &str = "PARKED#";
pub const PARKED_SK: &str = "PARKED";

/// The stored `fact.body.type` of every derived fact ([`FactBody::is_derived`]). Link facts
/// share their partitions with source facts, so a link is written or deleted only where the
/// item at its key, if any, carries one of these: a source fact is never replaced.
pub const DERIVED_FACT_TYPES: &[&str] = &[
    "shipped_by",
    "ships",
    "ships_prs",
    "blamed_by",
    "reverted_by",
    "shipped_pr_reverted",
    "rolled_back_by",
    "followed_by",
    "superseded_by",
    "earlier_pr_head",
];

/// The condition of every derived write into an entity partition: no item at the key, or a
/// derived one. Projections and PR-by-head records have no `fact`; link facts have a derived
/// `fact.body.type` ([`DERIVED_FACT_TYPES`]). Costs nothing on success (DynamoDB bills the
/// write, not the condition). Returns the expression and fills in its names and values.
fn not_a_source_fact(
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, AttributeValue>,
) -> String {
    names.insert("#fact".into(), "fact".into());
    names.insert("#body".into(), "body".into());
    names.insert("#type".into(), "type".into());
    let mut placeholders = Vec::new();
    for (i, kind) in DERIVED_FACT_TYPES.iter().enumerate() {
        placeholders.push(format!(":d{i}"));
        values.insert(format!(":d{i}"), s(*kind));
    }
    format!(
        "attribute_not_exists(#fact) OR #fact.#body.#type IN ({})",
        placeholders.join(", ")
    )
}

/// Whether a stored item is derived (see [`not_a_source_fact`]): no `fact`, or a derived one.
fn is_derived_item(item: &Item) -> bool {
    let Some(AttributeValue::M(fact)) = item.get("fact") else {
        return !item.contains_key("fact");
    };
    let kind = fact
        .get("body")
        .and_then(|b| b.as_m().ok())
        .and_then(|b| b.get("type"))
        .and_then(|t| t.as_s().ok());
    kind.is_some_and(|k| DERIVED_FACT_TYPES.contains(&k.as_str()))
}

/// How long a run's done marker is kept ([`Store::mark_batch_done`]).
pub const RUN_DONE_TTL_S: i64 = 30 * 86_400;
pub const PROJECTION_SK: &str = "PROJ";

/// The state of one digest part in the send ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestClaim {
    /// This run may send it.
    Claimed,
    /// Sent before; `detail` is what the send recorded.
    AlreadySent { detail: String },
    /// Another run (`owner`) claimed it at `claimed_at` (wall clock, Unix seconds) and the
    /// claim is not stale yet: that run may be sending it right now.
    InFlight { owner: String, claimed_at: i64 },
}

/// How long a digest ledger item is kept (TTL `expires_at`): long enough that no retry or
/// manual re-run of a week can find it gone and send again.
pub const DIGEST_LEDGER_TTL_S: i64 = 400 * 86_400;

/// The largest deflated plan [`Store::digest_plan`] stores (DynamoDB items are at most 400 KB).
const MAX_PLAN_BYTES: usize = 350 * 1024;

pub fn bucket_pk(bucket: &Bucket) -> String {
    format!("BUCKET#{bucket}")
}

pub fn rollup_pk(scope: &Scope) -> String {
    format!("ROLLUP#{scope}")
}

/// Counts requests and consumed capacity, so tests and the load harness can measure what a
/// read or a delivery costs.
#[derive(Debug, Default)]
pub struct Meter {
    pub requests: AtomicU64,
    /// Consumed capacity in thousandths of a unit.
    pub read_milli: AtomicU64,
    pub write_milli: AtomicU64,
}

impl Meter {
    fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn consumed(&self, capacity: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>, write: bool) {
        let Some(c) = capacity else { return };
        let units = if write {
            c.write_capacity_units().or(c.capacity_units())
        } else {
            c.read_capacity_units().or(c.capacity_units())
        };
        let milli = (units.unwrap_or(0.0) * 1000.0).round() as u64;
        let counter = if write {
            &self.write_milli
        } else {
            &self.read_milli
        };
        counter.fetch_add(milli, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    pub meter: Arc<Meter>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        Store {
            client,
            table: table.into(),
            meter: Arc::new(Meter::default()),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    // ---- facts -------------------------------------------------------------------------

    /// Writes a source fact unless it exists. Returns whether it was new: a redelivery
    /// writes nothing.
    pub async fn put_fact(&self, fact: &Fact) -> Result<bool, StoreError> {
        let item = to_item(&FactItem {
            pk: fact.entity.partition_key(),
            sk: fact.sort_key(),
            fact: fact.clone(),
            h: content_hash(fact),
        })?;
        self.meter.request();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.consumed(out.consumed_capacity(), true);
                Ok(true)
            }
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => Ok(false),
            Err(err) => Err(StoreError::dynamo("PutItem(fact)", err)),
        }
    }

    /// Upserts a derived fact only when its content changed. Returns whether it was written.
    /// It shares its partition with source facts, so it replaces only a derived item
    /// ([`not_a_source_fact`]); a source fact at its key is an error, and stays as it was.
    pub async fn put_derived(&self, fact: &Fact) -> Result<bool, StoreError> {
        let (pk, sk) = (fact.entity.partition_key(), fact.sort_key());
        if !fact.body.is_derived() {
            return Err(StoreError::WouldReplaceSourceFact {
                op: "PutItem(derived)",
                pk,
                sk,
            });
        }
        let hash = content_hash(fact);
        let item = to_item(&FactItem {
            pk: pk.clone(),
            sk: sk.clone(),
            fact: fact.clone(),
            h: hash.clone(),
        })?;
        let mut names = HashMap::new();
        let mut values = HashMap::from([(":h".to_string(), s(hash))]);
        let derived = not_a_source_fact(&mut names, &mut values);
        self.meter.request();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(format!(
                "attribute_not_exists(pk) OR (h <> :h AND ({derived}))"
            ))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            // On a failed condition the old item comes back (at no extra cost), to tell an
            // unchanged link (nothing to do) from a source fact in the way (an error).
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.consumed(out.consumed_capacity(), true);
                Ok(true)
            }
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    // The condition failed, so an item is there and comes back: unchanged if
                    // it is derived; anything else is refused.
                    match failed.item() {
                        Some(old) if is_derived_item(old) => Ok(false),
                        _ => Err(StoreError::WouldReplaceSourceFact {
                            op: "PutItem(derived)",
                            pk,
                            sk,
                        }),
                    }
                }
                _ => Err(StoreError::dynamo("PutItem(derived)", err)),
            },
        }
    }

    /// Deletes a derived fact by its sort key. Returns whether something was deleted. Only a
    /// derived item is deleted ([`not_a_source_fact`]); a source fact at the key is an error.
    pub async fn delete_derived(
        &self,
        entity: &EntityKey,
        sort_key: &str,
    ) -> Result<bool, StoreError> {
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let derived = not_a_source_fact(&mut names, &mut values);
        self.meter.request();
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(entity.partition_key()))
            .key("sk", s(sort_key))
            .condition_expression(derived)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.consumed(out.consumed_capacity(), true);
                Ok(out.attributes().is_some())
            }
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => {
                Err(StoreError::WouldReplaceSourceFact {
                    op: "DeleteItem(derived)",
                    pk: entity.partition_key(),
                    sk: sort_key.to_string(),
                })
            }
            Err(err) => Err(StoreError::dynamo("DeleteItem(derived)", err)),
        }
    }

    /// Every item of a partition, strongly consistent, all pages.
    async fn query_partition(
        &self,
        pk: &str,
        sk_prefix: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(pk))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start.take());
            q = match sk_prefix {
                Some(prefix) => q
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix)),
                None => q.key_condition_expression("pk = :pk"),
            };
            self.meter.request();
            let out = q.send().await.map_err(|e| StoreError::dynamo("Query", e))?;
            self.meter.consumed(out.consumed_capacity(), false);
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// An entity's facts and its stored projection, in one query.
    pub async fn entity(
        &self,
        entity: &EntityKey,
    ) -> Result<(Vec<Fact>, Option<ProjectionItem>), StoreError> {
        let mut facts = Vec::new();
        let mut projection = None;
        for item in self.query_partition(&entity.partition_key(), None).await? {
            let sk = item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if sk.starts_with("FACT#") {
                facts.push(from_item::<FactItem>(item)?.fact);
            } else if sk == PROJECTION_SK {
                projection = Some(ProjectionItem::from_item(item)?);
            }
        }
        Ok((facts, projection))
    }

    /// A branch's push facts with `at` in `[from, to]` (either bound optional).
    pub async fn branch_facts(
        &self,
        repo: &str,
        branch: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<Fact>, StoreError> {
        let pk = EntityKey::Branch {
            repo: repo.to_string(),
            branch: branch.to_string(),
        }
        .partition_key();
        let lower = format!("FACT#{}", from.map(key_time).unwrap_or_default());
        // '~' sorts after every character used in keys: the upper bound includes all ids at `to`.
        let upper = format!(
            "FACT#{}~",
            to.map(key_time).unwrap_or_else(|| "9999".into())
        );
        let mut facts = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.meter.request();
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":lo", s(lower.clone()))
                .expression_attribute_values(":hi", s(upper.clone()))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query(branch)", e))?;
            self.meter.consumed(out.consumed_capacity(), false);
            for item in out.items() {
                facts.push(from_item::<FactItem>(item.clone())?.fact);
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(facts),
            }
        }
    }

    // ---- projections -------------------------------------------------------------------

    /// Records that pipeline run `batch` finished every write it started. Expires after a day
    /// (`expires_at`, the table's TTL attribute): a failed run's retry comes within minutes.
    pub async fn mark_batch_done(&self, batch: &str, now_s: i64) -> Result<(), StoreError> {
        // Kept a month: a projection whose run's marker is gone reads as from a run that died,
        // and its rebuild recomputes that run's buckets again. Correct, but wasted on every
        // entity rebuilt after the marker expired; a month covers the usual life of a PR or a
        // deployment's links (stream records live a day), at ~100 bytes a run.
        self.meter.request();
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("BATCH#{batch}")))
            .item("sk", s("DONE"))
            .item(
                "expires_at",
                AttributeValue::N((now_s + RUN_DONE_TTL_S).to_string()),
            )
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem(batch)", e))?;
        self.meter.consumed(out.consumed_capacity(), true);
        Ok(())
    }

    /// Whether pipeline run `batch` was recorded done (strongly consistent).
    pub async fn batch_done(&self, batch: &str) -> Result<bool, StoreError> {
        self.meter.request();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("pk", s(format!("BATCH#{batch}")))
            .key("sk", s("DONE"))
            .projection_expression("pk")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem(batch)", e))?;
        self.meter.consumed(out.consumed_capacity(), false);
        Ok(out.item.is_some())
    }

    /// Writes a projection over the old one. It sits in its entity's partition beside the
    /// source facts, so the put is conditional on the item at its key not being a fact
    /// ([`not_a_source_fact`]): a source fact there is an error, never replaced.
    pub async fn put_projection(&self, item: &ProjectionItem) -> Result<(), StoreError> {
        self.put_derived_item("PutItem(projection)", item.to_item()?)
            .await
    }

    /// Puts an item into an entity partition unless a source fact holds its key.
    async fn put_derived_item(&self, op: &'static str, item: Item) -> Result<(), StoreError> {
        let key = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let (pk, sk) = (key("pk"), key("sk"));
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let derived = not_a_source_fact(&mut names, &mut values);
        self.meter.request();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(derived)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.consumed(out.consumed_capacity(), true);
                Ok(())
            }
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => {
                Err(StoreError::WouldReplaceSourceFact { op, pk, sk })
            }
            Err(err) => Err(StoreError::dynamo(op, err)),
        }
    }

    /// Records a PR under its head branch: an item in the branch's own partition, sort key
    /// the PR's key. A push to the branch must rebuild its PRs (first-commit time); finding
    /// them in the partition the push landed in needs no index, where an entry in a GSI
    /// (the starting design put the projection itself in `gsi1`) costs an index write on every
    /// projection rewrite. Written once per PR and head.
    pub async fn put_head_index(
        &self,
        branch: &EntityKey,
        pr: &EntityKey,
    ) -> Result<(), StoreError> {
        // In the branch's partition, beside its push facts: conditional like a projection.
        let item = HashMap::from([
            ("pk".to_string(), s(branch.partition_key())),
            ("sk".to_string(), s(pr.partition_key())),
        ]);
        self.put_derived_item("PutItem(head index)", item).await
    }

    /// The PRs recorded under a head branch ([`Store::put_head_index`]).
    pub async fn prs_with_head(&self, branch: &EntityKey) -> Result<Vec<EntityKey>, StoreError> {
        Ok(self
            .query_partition(&branch.partition_key(), Some("PR#"))
            .await?
            .into_iter()
            .filter_map(|item| {
                let sk = item.get("sk").and_then(|v| v.as_s().ok())?;
                EntityKey::from_partition_key(sk)
            })
            .collect())
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
        self.meter.request();
        let mut reason = error.to_string();
        if reason.len() > 2_000 {
            let mut cut = 2_000;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(
                "pk",
                s(format!("{PARKED_PREFIX}{}", entity.partition_key())),
            )
            .item("sk", s(PARKED_SK))
            .item("error", s(reason))
            .item("at", AttributeValue::N(now_s.to_string()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem(parked)", e))?;
        self.meter.consumed(out.consumed_capacity(), true);
        Ok(())
    }

    pub async fn delete_item(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        self.meter.request();
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("DeleteItem", e))?;
        self.meter.consumed(out.consumed_capacity(), true);
        Ok(())
    }

    pub async fn projection(
        &self,
        entity: &EntityKey,
    ) -> Result<Option<ProjectionItem>, StoreError> {
        self.meter.request();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("pk", s(entity.partition_key()))
            .key("sk", s(PROJECTION_SK))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem(projection)", e))?;
        self.meter.consumed(out.consumed_capacity(), false);
        out.item.map(ProjectionItem::from_item).transpose()
    }

    /// Projections on a GSI partition with sort keys in `[lo, hi]`, in order (or reversed), at
    /// most `limit` of them. GSIs are eventually consistent: callers re-run on the next change.
    pub async fn index_query(
        &self,
        index: &str,
        pk: &str,
        lo: &str,
        hi: &str,
        descending: bool,
        limit: Option<usize>,
    ) -> Result<Vec<ProjectionItem>, StoreError> {
        self.index_items(index, pk, lo, hi, descending, limit)
            .await?
            .into_iter()
            .map(ProjectionItem::from_item)
            .collect()
    }

    /// The items on a GSI partition with sort keys in `[lo, hi]`, as [`Store::index_query`].
    async fn index_items(
        &self,
        index: &str,
        pk: &str,
        lo: &str,
        hi: &str,
        descending: bool,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let (pk_name, sk_name) = match index {
            "gsi1" => ("gsi1pk", "gsi1sk"),
            _ => ("gsi2pk", "gsi2sk"),
        };
        // Key values cannot be empty strings; a single space sorts before every key we write.
        let lo = if lo.is_empty() { " " } else { lo };
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.meter.request();
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(format!(
                    "{pk_name} = :pk AND {sk_name} BETWEEN :lo AND :hi"
                ))
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":lo", s(lo))
                .expression_attribute_values(":hi", s(hi))
                .scan_index_forward(!descending)
                .set_limit(limit.map(|l| l.min(1000) as i32))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query(index)", e))?;
            self.meter.consumed(out.consumed_capacity(), false);
            items.extend(out.items().iter().cloned());
            if limit.is_some_and(|l| items.len() >= l) {
                items.truncate(limit.unwrap_or(usize::MAX));
                return Ok(items);
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    // ---- repo metadata -----------------------------------------------------------------

    pub async fn default_branch(&self, repo: &str) -> Result<Option<String>, StoreError> {
        self.meter.request();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("REPO#{repo}")))
            .key("sk", s("META"))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem(meta)", e))?;
        self.meter.consumed(out.consumed_capacity(), false);
        Ok(out
            .item
            .map(from_item::<RepoMetaItem>)
            .transpose()?
            .map(|m| m.default_branch))
    }

    pub async fn put_default_branch(&self, repo: &str, branch: &str) -> Result<(), StoreError> {
        self.meter.request();
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&RepoMetaItem {
                pk: format!("REPO#{repo}"),
                sk: "META".into(),
                default_branch: branch.to_string(),
            })?))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem(meta)", e))?;
        self.meter.consumed(out.consumed_capacity(), true);
        Ok(())
    }

    // ---- buckets and rollups -----------------------------------------------------------

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
        use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
        let mut requests = Vec::with_capacity(puts.len() + deletes.len());
        for member in puts {
            let item = to_item(&MemberItem {
                pk: bucket_pk(&member.bucket),
                sk: format!("M#{}", member.id),
                data: None,
                packed: member.data.clone(),
            })?;
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreError::dynamo("BatchWriteItem(member)", e))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        for (bucket_key, id) in deletes {
            let delete = DeleteRequest::builder()
                .key("pk", s(format!("BUCKET#{bucket_key}")))
                .key("sk", s(format!("M#{id}")))
                .build()
                .map_err(|e| StoreError::dynamo("BatchWriteItem(member)", e))?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                if attempt == 8 {
                    return Err(StoreError::Dynamo {
                        op: "BatchWriteItem(member)",
                        message: format!(
                            "{} writes still unprocessed after 8 tries",
                            pending.len()
                        ),
                    });
                }
                if attempt > 0 {
                    let delay = 25u64 << attempt.min(6);
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                }
                attempt += 1;
                self.meter.request();
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| StoreError::dynamo("BatchWriteItem(member)", e))?;
                for capacity in out.consumed_capacity() {
                    self.meter.consumed(Some(capacity), true);
                }
                pending = out
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    /// The version of a bucket's stored rollup (`None`: no rollup yet), read strongly
    /// consistent: the first half of [`Store::put_rollup_if`]'s compare-and-set.
    pub async fn rollup_version(&self, bucket: &Bucket) -> Result<Option<u64>, StoreError> {
        self.meter.request();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("pk", s(rollup_pk(&bucket.scope)))
            .key("sk", s(bucket.week.to_string()))
            .projection_expression("v")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem(rollup)", e))?;
        self.meter.consumed(out.consumed_capacity(), false);
        Ok(out.item().map(|item| {
            item.get("v")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        }))
    }

    pub async fn bucket_members(&self, bucket: &Bucket) -> Result<Vec<MemberData>, StoreError> {
        self.query_partition(&bucket_pk(bucket), Some("M#"))
            .await?
            .into_iter()
            .map(member_data)
            .collect::<Result<Vec<_>, _>>()
            .map(|packs| packs.into_iter().flatten().collect())
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
            pk: rollup_pk(&bucket.scope),
            sk: bucket.week.to_string(),
            v: seen.map_or(1, |v| v + 1),
            rollup: rollup.clone(),
        })?;
        self.meter.request();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let put = match seen {
            Some(v) => put
                .condition_expression("v = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        match put.send().await {
            Ok(out) => {
                self.meter.consumed(out.consumed_capacity(), true);
                Ok(true)
            }
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => Ok(false),
            Err(err) => Err(StoreError::dynamo("PutItem(rollup)", err)),
        }
    }

    /// Rollups for the given scopes and weeks, with `BatchGetItem` (100 keys a request).
    /// Missing buckets are absent from the answer.
    pub async fn rollups(
        &self,
        keys: &[(Scope, IsoWeek)],
    ) -> Result<Vec<(Scope, IsoWeek, Rollup)>, StoreError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|(scope, week)| {
                    HashMap::from([
                        ("pk".to_string(), s(rollup_pk(scope))),
                        ("sk".to_string(), s(week.to_string())),
                    ])
                })
                .collect();
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .build()
                    .map_err(|e| StoreError::dynamo("BatchGetItem(build)", e))?;
                self.meter.request();
                let answer = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| StoreError::dynamo("BatchGetItem", e))?;
                for c in answer.consumed_capacity() {
                    self.meter.consumed(Some(c), false);
                }
                for item in answer
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let rollup: RollupItem = from_item(item.clone())?;
                    let scope = rollup
                        .pk
                        .strip_prefix("ROLLUP#")
                        .and_then(Scope::parse)
                        .ok_or_else(|| {
                            StoreError::Serde(format!("bad rollup key {}", rollup.pk))
                        })?;
                    let week: IsoWeek = rollup
                        .sk
                        .parse()
                        .map_err(|_| StoreError::Serde(format!("bad rollup week {}", rollup.sk)))?;
                    out.push((scope, week, rollup.rollup));
                }
                if let Some(unprocessed) =
                    answer.unprocessed_keys().and_then(|u| u.get(&self.table))
                {
                    pending = unprocessed.keys().to_vec();
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        Ok(out)
    }

    /// Whether any rollup exists for a scope (one Query, one item at most).
    pub async fn has_rollups(&self, scope: &Scope) -> Result<bool, StoreError> {
        self.meter.request();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(rollup_pk(scope)))
            .limit(1)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query(rollups)", e))?;
        Ok(out.count() > 0)
    }

    /// Every rollup in the table (tests and the reprocess check compare these).
    pub async fn all_rollups(&self) -> Result<Vec<(String, String, Rollup)>, StoreError> {
        let mut out = Vec::new();
        for item in self.scan_prefix("ROLLUP#").await? {
            let r: RollupItem = from_item(item)?;
            out.push((r.pk, r.sk, r.rollup));
        }
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        Ok(out)
    }

    /// Items whose pk begins with `prefix`, by full scan (admin and test paths only).
    pub async fn scan_prefix(&self, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.meter.request();
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", s(prefix))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Scan", e))?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// Every item in the table, raw (tests compare tables byte for byte with it).
    pub async fn scan_all(&self) -> Result<Vec<Item>, StoreError> {
        self.scan_prefix("").await
    }

    // ---- digest ledger -----------------------------------------------------------------
    //
    // `DIGEST#<org>#<week>` holds one item per part (`email`, `slack#<i>`, `teams#<i>`:
    // `state` sending|sent, `owner`, `claimed_at`, `detail`) and one plan per chat channel
    // (`slack`, `teams`: the messages pinned for the week, see `digest_plan`). Claims carry the
    // claiming run's owner id; only that owner may mark the part sent or release it, so a run
    // whose claim went stale and was taken over cannot overwrite or free the new owner's claim.

    /// Claims the right to send one digest part (`part`, e.g. `email`, `slack#0`) for an org
    /// and week as `owner` (unique per run). A part already sent is never claimed again; a
    /// claim left `sending` by a crashed run is taken over once it is older than
    /// `stale_after_s` by `now_s`. `now_s` must be the wall clock, not the schedule's pinned
    /// time: every retry of one scheduled run carries the same `scheduled_time`, so by that
    /// clock a crashed run's claim would never age.
    pub async fn claim_digest(
        &self,
        org: &str,
        week: &str,
        part: &str,
        owner: &str,
        now_s: i64,
        stale_after_s: i64,
    ) -> Result<DigestClaim, StoreError> {
        self.meter.request();
        let pk = digest_ledger_pk(org, week);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s(part))
            .item("state", s("sending"))
            .item("owner", s(owner))
            .item("claimed_at", AttributeValue::N(now_s.to_string()))
            .item(
                "expires_at",
                AttributeValue::N((now_s + DIGEST_LEDGER_TTL_S).to_string()),
            )
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :sending AND claimed_at < :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(
                ":stale",
                AttributeValue::N((now_s - stale_after_s).to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(DigestClaim::Claimed),
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => {
                let item = self.digest_item(&pk, part).await?.unwrap_or_default();
                let text = |name: &str| {
                    item.get(name)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                Ok(if text("state") == "sent" {
                    DigestClaim::AlreadySent {
                        detail: text("detail"),
                    }
                } else {
                    // Also when the item was released between the put and this read: the
                    // caller reports the part as in flight and the next run sends it.
                    DigestClaim::InFlight {
                        owner: text("owner"),
                        claimed_at: item
                            .get("claimed_at")
                            .and_then(|v| v.as_n().ok())
                            .and_then(|n| n.parse().ok())
                            .unwrap_or_default(),
                    }
                })
            }
            Err(err) => Err(StoreError::dynamo("PutItem(digest claim)", err)),
        }
    }

    async fn digest_item(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.meter.request();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem(digest)", e))?;
        Ok(out.item)
    }

    /// Records a digest part as sent by `owner`, with what identifies the send (the SES message
    /// id, `sent`). `Ok(false)`: the claim is no longer `owner`'s (it went stale and another
    /// run took it over), and nothing was written.
    pub async fn mark_digest_sent(
        &self,
        org: &str,
        week: &str,
        part: &str,
        owner: &str,
        detail: &str,
    ) -> Result<bool, StoreError> {
        self.meter.request();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(digest_ledger_pk(org, week)))
            .key("sk", s(part))
            .update_expression("SET #state = :sent, detail = :detail")
            .condition_expression("#state = :sending AND #owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":detail", s(detail))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => Ok(false),
            Err(err) => Err(StoreError::dynamo("UpdateItem(digest sent)", err)),
        }
    }

    /// Gives `owner`'s claim back after a failed send, so the next run tries that part again.
    /// `Ok(false)`: the claim is no longer `owner`'s, and it is left alone.
    pub async fn release_digest(
        &self,
        org: &str,
        week: &str,
        part: &str,
        owner: &str,
    ) -> Result<bool, StoreError> {
        self.meter.request();
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(digest_ledger_pk(org, week)))
            .key("sk", s(part))
            .condition_expression("#state = :sending AND #owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => Ok(false),
            Err(err) => Err(StoreError::dynamo("DeleteItem(digest release)", err)),
        }
    }

    /// The messages of a chat channel's digest (`channel`: `slack`, `teams`) for an org and
    /// week, pinned by the first run that gets here: `messages` are stored if no plan exists
    /// yet, and whichever plan is stored is returned. A retry that rebuilds the digest from
    /// changed data (so with other parts, or another number of them) thus still sends the
    /// rest of the rendering whose first parts went out, and the channel receives one coherent
    /// set: no part twice, none skipped, `(2/3)` never after `(1/2)`.
    pub async fn digest_plan(
        &self,
        org: &str,
        week: &str,
        channel: &str,
        messages: &[serde_json::Value],
        now_s: i64,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let pk = digest_ledger_pk(org, week);
        let body = deflate(
            &serde_json::to_vec(messages)
                .map_err(|e| StoreError::Serde(format!("digest plan: {e}")))?,
        )?;
        if body.len() > MAX_PLAN_BYTES {
            return Err(StoreError::Serde(format!(
                "the {channel} digest of {week} is {} bytes deflated, more than a ledger item \
                 holds ({MAX_PLAN_BYTES})",
                body.len()
            )));
        }
        self.meter.request();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s(channel))
            .item("state", s("plan"))
            .item("parts", AttributeValue::N(messages.len().to_string()))
            .item("z", AttributeValue::B(body.into()))
            .item(
                "expires_at",
                AttributeValue::N((now_s + DIGEST_LEDGER_TTL_S).to_string()),
            )
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(messages.to_vec()),
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => {
                let item = self.digest_item(&pk, channel).await?.ok_or_else(|| {
                    StoreError::Serde(format!("the {channel} plan of {week} vanished"))
                })?;
                let z = item
                    .get("z")
                    .and_then(|v| v.as_b().ok())
                    .ok_or_else(|| StoreError::Serde(format!("the {channel} plan has no body")))?;
                serde_json::from_slice(&inflate(z.as_ref())?)
                    .map_err(|e| StoreError::Serde(format!("the {channel} plan: {e}")))
            }
            Err(err) => Err(StoreError::dynamo("PutItem(digest plan)", err)),
        }
    }

    // ---- config ------------------------------------------------------------------------

    pub async fn config(&self) -> Result<Option<(OrgConfig, String)>, StoreError> {
        self.meter.request();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s("CONFIG"))
            .key("sk", s("CURRENT"))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem(config)", e))?;
        self.meter.consumed(out.consumed_capacity(), false);
        let Some(item) = out.item else {
            return Ok(None);
        };
        let stored: ConfigItem = from_item(item)?;
        let config = OrgConfig::from_yaml(&stored.yaml)
            .map_err(|e| StoreError::Serde(format!("stored config is invalid: {e}")))?;
        Ok(Some((config, stored.yaml)))
    }

    pub async fn put_config(&self, yaml: &str) -> Result<(), StoreError> {
        self.meter.request();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&ConfigItem {
                pk: "CONFIG".into(),
                sk: "CURRENT".into(),
                yaml: yaml.to_string(),
            })?))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem(config)", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowmeter::model::DeploymentState;

    fn deployment_item() -> ProjectionItem {
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let key = EntityKey::Deployment {
            repo: "acme/api".into(),
            id: "42".into(),
        };
        ProjectionItem {
            pk: key.partition_key(),
            sk: PROJECTION_SK.into(),
            projection: Projection::Deployment(Deployment {
                repo: "acme/api".into(),
                id: "42".into(),
                environment: Some("production".into()),
                sha: Some("abc123".into()),
                workflow: None,
                is_production: true,
                state: Some(DeploymentState::Success),
                started_at: Some(at),
                finished_at: Some(at),
                ships: Vec::new(),
                blamed_by: Vec::new(),
                reverted_prs: Vec::new(),
                rolled_back_by: None,
                next_success_at: None,
                superseded_by: None,
                workflow_run: None,
            }),
            members: vec![MemberRef {
                b: "repo:acme/api|2026-W49".into(),
                id: "DEP#acme/api#42".into(),
                h: "0123456789abcdef".into(),
            }],
            links: LinkState {
                blames: None,
                reverts: None,
                marked_reverted: Some(key),
            },
            batch: Some("run-1".into()),
            touched: vec!["repo:acme/api|2026-W49".into()],
            head_indexed: None,
            gsi1pk: Some("DEPS#acme/api".into()),
            gsi1sk: Some(format!("{}#42", key_time(at))),
            gsi2pk: None,
            gsi2sk: None,
        }
    }

    #[test]
    fn a_projection_round_trips_through_its_deflated_item() {
        let item = deployment_item();
        let stored = item.to_item().expect("to item");
        // The indexes and the batch check read these plainly; the rest is in `z`.
        for plain in ["pk", "sk", "batch", "gsi1pk", "gsi1sk"] {
            assert!(stored.get(plain).is_some_and(|v| v.is_s()), "{plain}");
        }
        assert!(stored.get("z").is_some_and(|v| v.is_b()));
        assert!(!stored.contains_key("projection") && !stored.contains_key("members"));
        assert_eq!(ProjectionItem::from_item(stored).expect("from item"), item);
    }

    #[test]
    fn a_projection_stored_before_deflating_still_reads() {
        let item = deployment_item();
        let legacy = to_item(&item).expect("plain item");
        assert!(!legacy.contains_key("z"));
        assert_eq!(ProjectionItem::from_item(legacy).expect("from item"), item);
    }

    #[test]
    fn a_corrupt_projection_body_is_an_error() {
        let mut stored = deployment_item().to_item().expect("to item");
        stored.insert(
            "z".into(),
            AttributeValue::B(b"not deflate".to_vec().into()),
        );
        assert!(matches!(
            ProjectionItem::from_item(stored),
            Err(StoreError::Serde(_))
        ));
    }
}
