//! Which DynamoDB calls a side of the system makes and what they cost: an SDK interceptor that
//! sorts every request by operation and item kind (fact, link, projection, member, bucket
//! version, rollup, ...) and adds up requests, consumed capacity (as DynamoDB reports it with
//! `ReturnConsumedCapacity`), failed conditions, and the requests that did not ask for capacity.
//!
//! DynamoDB Local reports no capacity for a write whose condition failed; AWS charges it like a
//! write of that item. So the profile also estimates those (item size rounded up to 1 KB), and
//! the reads made without `ReturnConsumedCapacity` (eventually consistent unless asked
//! otherwise, rounded up to 4 KB), to give an "as AWS would bill it" figure next to the
//! measured one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity};
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use flowmeter_edge::store::keys;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Per kind of request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpStats {
    pub requests: u64,
    pub errors: u64,
    pub condition_failed: u64,
    /// Consumed capacity DynamoDB reported, in thousandths.
    pub read_milli: u64,
    pub write_milli: u64,
    /// Successful requests that reported no capacity (did not ask, or DynamoDB Local left it out).
    pub unmetered: u64,
    /// Estimated AWS cost of what was not reported: failed conditional writes and unmetered
    /// requests, in thousandths.
    pub estimated_read_milli: u64,
    pub estimated_write_milli: u64,
}

impl OpStats {
    fn add(&mut self, other: &OpStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.condition_failed += other.condition_failed;
        self.read_milli += other.read_milli;
        self.write_milli += other.write_milli;
        self.unmetered += other.unmetered;
        self.estimated_read_milli += other.estimated_read_milli;
        self.estimated_write_milli += other.estimated_write_milli;
    }
}

#[derive(Debug, Default)]
pub struct Profile {
    stats: Mutex<BTreeMap<String, OpStats>>,
}

impl Profile {
    pub fn snapshot(&self) -> BTreeMap<String, OpStats> {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut s) = self.stats.lock() {
            s.clear();
        }
    }

    fn record(&self, kind: &str, f: impl FnOnce(&mut OpStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            f(stats.entry(kind.to_string()).or_default());
        }
    }
}

/// Totals of a profile.
pub fn total(stats: &BTreeMap<String, OpStats>) -> OpStats {
    let mut sum = OpStats::default();
    for s in stats.values() {
        sum.add(s);
    }
    sum
}

/// A table of a profile, most expensive first, with per-delivery figures.
pub fn render(title: &str, stats: &BTreeMap<String, OpStats>, deliveries: usize) -> String {
    let per = |milli: u64| milli as f64 / 1000.0 / deliveries.max(1) as f64;
    let mut rows: Vec<(&String, &OpStats)> = stats.iter().collect();
    rows.sort_by_key(|(_, s)| std::cmp::Reverse(s.read_milli + s.write_milli + s.requests));
    let mut out = format!(
        "{title} (per delivery = / {deliveries})\n  {:<34} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "request", "requests", "req/dlv", "cond.fail", "WCU/dlv", "RCU/dlv", "+estWCU", "+estRCU"
    );
    let sum = total(stats);
    let total_label = "TOTAL".to_string();
    for (kind, s) in rows
        .into_iter()
        .chain(std::iter::once((&total_label, &sum)))
    {
        out.push_str(&format!(
            "  {:<34} {:>9} {:>8.2} {:>9} {:>9.3} {:>9.3} {:>9.3} {:>9.3}\n",
            kind,
            s.requests,
            s.requests as f64 / deliveries.max(1) as f64,
            s.condition_failed,
            per(s.write_milli),
            per(s.read_milli),
            per(s.estimated_write_milli),
            per(s.estimated_read_milli),
        ));
    }
    out
}

#[derive(Clone, Debug)]
struct Pending {
    kind: String,
    /// Size of the item a write carries (for the cost of a failed condition).
    item_bytes: usize,
    consistent: bool,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

/// The interceptor; one per client, sharing its [`Profile`].
#[derive(Debug, Clone)]
pub struct Profiler(pub Arc<Profile>);

/// DynamoDB's item size: names plus values (numbers approximated by their digits).
pub use flowmeter_edge::store::item_size;

fn text(map: Option<&HashMap<String, AttributeValue>>, name: &str) -> String {
    map.and_then(|m| m.get(name))
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// What an item is, from its key (the layout in ARCHITECTURE.md).
fn item_kind(pk: &str, sk: &str) -> &'static str {
    if keys::ENTITY_PARTITIONS.iter().any(|p| pk.starts_with(p)) {
        return if sk.starts_with(keys::LINK) {
            "link"
        } else if keys::is_fact(sk) {
            "fact"
        } else if pk.starts_with(keys::BRANCH) && sk.starts_with(keys::PULL_REQUEST) {
            "head-index"
        } else if sk == keys::PROJECTION_SK {
            "projection"
        } else {
            "entity"
        };
    }
    let kinds = [
        (keys::BUCKET, "member"),
        (keys::ROLLUP, "rollup"),
        (keys::REPO, "repo-meta"),
        (keys::CONFIG_PK, "config"),
        (keys::DIGEST, "digest"),
    ];
    kinds
        .into_iter()
        .find(|(prefix, _)| pk.starts_with(prefix))
        .map_or("other", |(_, kind)| kind)
}

/// `<operation> <kind of the item it names by key>`, the row a keyed request is counted in.
fn keyed(operation: &str, key: Option<&HashMap<String, AttributeValue>>) -> String {
    format!(
        "{operation} {}",
        item_kind(&text(key, "pk"), &text(key, "sk"))
    )
}

/// [`item_kind`], with links told apart by their kind (`shipped_by`, `blamed_by`, ...).
fn kind_of(pk: &str, sk: &str) -> String {
    match sk.strip_prefix(keys::LINK) {
        Some(link) => format!("link {}", link.split(':').next().unwrap_or_default()),
        None => item_kind(pk, sk).to_string(),
    }
}

fn query_kind(input: &QueryInput) -> String {
    let pk = text(input.expression_attribute_values(), ":pk");
    let prefix = pk.split('#').next().unwrap_or_default().to_string();
    match input.index_name() {
        Some(index) => format!("Query {index} {prefix}#"),
        None => match prefix.as_str() {
            "PR" | "DEP" | "INC" if input.key_condition_expression() == Some("pk = :pk") => {
                "Query entity partition".into()
            }
            "BR" if text(input.expression_attribute_values(), ":prefix") == keys::PULL_REQUEST => {
                "Query branch PRs".into()
            }
            "BR" => "Query branch facts".into(),
            "BUCKET" => "Query bucket members".into(),
            "ROLLUP" => "Query rollups".into(),
            other => format!("Query {other}#"),
        },
    }
}

fn classify(input: &aws_sdk_dynamodb::config::interceptors::InterceptorContext) -> Pending {
    let mut pending = Pending {
        kind: "other".into(),
        item_bytes: 0,
        consistent: false,
    };
    let Some(input) = input.input() else {
        return pending;
    };
    if let Some(put) = input.downcast_ref::<PutItemInput>() {
        let item = put.item();
        pending.kind = format!("PutItem {}", kind_of(&text(item, "pk"), &text(item, "sk")));
        pending.item_bytes = item.map(item_size).unwrap_or(0);
    } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
        pending.kind = keyed("UpdateItem", update.key());
        pending.item_bytes = 100;
    } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
        pending.kind = keyed("DeleteItem", delete.key());
        pending.item_bytes = 100;
    } else if let Some(get) = input.downcast_ref::<GetItemInput>() {
        pending.kind = keyed("GetItem", get.key());
        pending.consistent = get.consistent_read() == Some(true);
    } else if let Some(query) = input.downcast_ref::<QueryInput>() {
        pending.kind = query_kind(query);
        pending.consistent = query.consistent_read() == Some(true);
    } else if input.downcast_ref::<BatchGetItemInput>().is_some() {
        pending.kind = "BatchGetItem".into();
    } else if input
        .downcast_ref::<aws_sdk_dynamodb::operation::scan::ScanInput>()
        .is_some()
    {
        pending.kind = "Scan".into();
    } else if input
        .downcast_ref::<aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput>()
        .is_some()
    {
        pending.kind = "BatchWriteItem".into();
    } else {
        pending.kind = "other (admin)".into();
    }
    pending
}

fn milli(units: Option<f64>) -> u64 {
    (units.unwrap_or(0.0) * 1000.0).round() as u64
}

fn add_capacity(s: &mut OpStats, c: &ConsumedCapacity) {
    s.read_milli += milli(c.read_capacity_units());
    s.write_milli += milli(c.write_capacity_units());
}

/// Capacity of one successful output; `None` when none was reported.
fn output_capacity(
    output: &aws_sdk_dynamodb::config::interceptors::InterceptorContext,
) -> Option<(Vec<ConsumedCapacity>, usize)> {
    let Some(Ok(out)) = output.output_or_error() else {
        return None;
    };
    if let Some(o) = out.downcast_ref::<PutItemOutput>() {
        return Some((o.consumed_capacity().cloned().into_iter().collect(), 0));
    }
    if let Some(o) = out.downcast_ref::<UpdateItemOutput>() {
        return Some((o.consumed_capacity().cloned().into_iter().collect(), 0));
    }
    if let Some(o) = out.downcast_ref::<DeleteItemOutput>() {
        return Some((o.consumed_capacity().cloned().into_iter().collect(), 0));
    }
    if let Some(o) = out.downcast_ref::<GetItemOutput>() {
        let size = o.item().map(item_size).unwrap_or(0);
        return Some((o.consumed_capacity().cloned().into_iter().collect(), size));
    }
    if let Some(o) = out.downcast_ref::<QueryOutput>() {
        let size = o.items().iter().map(item_size).sum();
        return Some((o.consumed_capacity().cloned().into_iter().collect(), size));
    }
    if let Some(o) = out.downcast_ref::<ScanOutput>() {
        let size = o.items().iter().map(item_size).sum();
        return Some((o.consumed_capacity().cloned().into_iter().collect(), size));
    }
    if let Some(o) = out.downcast_ref::<BatchGetItemOutput>() {
        let size = o
            .responses()
            .map(|r| r.values().flatten().map(item_size).sum())
            .unwrap_or(0);
        return Some((o.consumed_capacity().to_vec(), size));
    }
    if let Some(o) = out.downcast_ref::<BatchWriteItemOutput>() {
        return Some((o.consumed_capacity().to_vec(), 0));
    }
    Some((Vec::new(), 0))
}

fn is_write(kind: &str) -> bool {
    kind.starts_with("PutItem")
        || kind.starts_with("UpdateItem")
        || kind.starts_with("DeleteItem")
        || kind.starts_with("BatchWriteItem")
}

impl Intercept for Profiler {
    fn name(&self) -> &'static str {
        "flowmeter-load-profiler"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(classify(context.inner()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        let inner = context.inner();
        let failed = matches!(inner.output_or_error(), Some(Err(_)));
        let condition = failed
            && inner
                .output_or_error()
                .and_then(|r| r.err())
                .is_some_and(|e| format!("{e:?}").contains("ConditionalCheckFailed"));
        let capacity = output_capacity(inner);
        let write = is_write(&pending.kind);
        self.0.record(&pending.kind, |s| {
            s.requests += 1;
            if failed {
                s.errors += 1;
            }
            if condition {
                s.condition_failed += 1;
                // AWS bills a failed conditional write like the write (1 WCU per KB).
                s.estimated_write_milli += 1000 * pending.item_bytes.div_ceil(1024).max(1) as u64;
            }
            match capacity {
                Some((reported, _)) if !reported.is_empty() => {
                    for c in &reported {
                        let (r, w) = (c.read_capacity_units(), c.write_capacity_units());
                        if r.is_none() && w.is_none() {
                            if write {
                                s.write_milli += milli(c.capacity_units());
                            } else {
                                s.read_milli += milli(c.capacity_units());
                            }
                        } else {
                            add_capacity(s, c);
                        }
                    }
                }
                Some((_, bytes)) => {
                    s.unmetered += 1;
                    if write {
                        s.estimated_write_milli +=
                            1000 * pending.item_bytes.div_ceil(1024).max(1) as u64;
                    } else {
                        let units = bytes.div_ceil(4096).max(1) as u64;
                        s.estimated_read_milli += if pending.consistent {
                            1000 * units
                        } else {
                            500 * units
                        };
                    }
                }
                None => {}
            }
        });
        Ok(())
    }
}
