//! The checks after a load run: every distinct delivery's facts stored exactly once, every
//! rollup equal to a recomputation from its bucket's members, and the rollups (and projections)
//! equal to what `reprocess` derives from scratch over the same table.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use flowmeter::derive::{MemberData, Rollup};
use flowmeter_edge::reprocess::reprocess;
use flowmeter_edge::settings::load_config;
use flowmeter_edge::store::{keys, Item, Store};
use serde_json::Value;

use crate::profile;

#[derive(Default)]
pub struct Verification {
    pub expected_facts: usize,
    pub stored_facts: usize,
    pub lost_facts: usize,
    pub extra_facts: usize,
    pub lost_deliveries: usize,
    pub buckets: usize,
    pub rollups: usize,
    pub rollup_mismatches: Vec<String>,
    pub reprocess_mismatches: Vec<String>,
    pub projection_mismatches: usize,
    pub projections: usize,
    pub reprocess_s: f64,
}

impl Verification {
    /// No rollup differs from its members' fold nor from a reprocess.
    pub fn rollups_equal(&self) -> bool {
        self.rollup_mismatches.is_empty() && self.reprocess_mismatches.is_empty()
    }

    /// Prints the findings on stderr.
    pub fn report(&self) {
        eprintln!(
            "facts: {} expected, {} stored, {} lost, {} extra ({} deliveries lost)",
            self.expected_facts,
            self.stored_facts,
            self.lost_facts,
            self.extra_facts,
            self.lost_deliveries
        );
        eprintln!(
            "rollups: {} stored, {} buckets; {} differ from their members' fold; {} differ after reprocess (projections: {} of {} differ)",
            self.rollups,
            self.buckets,
            self.rollup_mismatches.len(),
            self.reprocess_mismatches.len(),
            self.projection_mismatches,
            self.projections
        );
        for m in self
            .rollup_mismatches
            .iter()
            .chain(&self.reprocess_mismatches)
            .take(10)
        {
            eprintln!("  mismatch: {m}");
        }
    }
}

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// Mean stored size of the items a scan returned, by sort-key kind and by attribute: what the
/// WCU and RCU figures are made of.
fn describe_sizes(label: &str, items: &[&Item]) -> String {
    let mut by_attribute: BTreeMap<&str, usize> = BTreeMap::new();
    for item in items {
        for (name, value) in item.iter() {
            let one: Item = [(name.clone(), value.clone())].into_iter().collect();
            *by_attribute.entry(name.as_str()).or_default() += profile::item_size(&one);
        }
    }
    let n = items.len().max(1);
    let total: usize = items.iter().map(|i| profile::item_size(i)).sum();
    let mut parts: Vec<(&str, usize)> = by_attribute.into_iter().collect();
    parts.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    let parts: Vec<String> = parts
        .into_iter()
        .map(|(name, size)| format!("{name} {}", size / n))
        .collect();
    format!(
        "{label}: {} items, mean {} B ({})",
        items.len(),
        total / n,
        parts.join(", ")
    )
}

/// The stored projections by key, as JSON text; with `describe_items`, also prints their
/// items' sizes (and the facts') on stderr.
async fn projections(
    store: &Store,
    describe_items: bool,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for prefix in keys::PROJECTED_ENTITIES {
        let items = store.scan_prefix(prefix).await.map_err(|e| e.to_string())?;
        if describe_items {
            let stored: Vec<&Item> = items
                .iter()
                .filter(|i| text(i, "sk") == flowmeter_edge::store::PROJECTION_SK)
                .collect();
            let facts: Vec<&Item> = items
                .iter()
                .filter(|i| keys::is_fact(&text(i, "sk")))
                .collect();
            eprintln!(
                "{}",
                describe_sizes(&format!("{prefix} projections"), &stored)
            );
            eprintln!("{}", describe_sizes(&format!("{prefix} facts"), &facts));
        }
        for item in items {
            if text(&item, "sk") == flowmeter_edge::store::PROJECTION_SK {
                let pk = text(&item, "pk");
                let stored = flowmeter_edge::store::ProjectionItem::from_item(item)
                    .map_err(|e| e.to_string())?;
                let value = serde_json::to_value(&stored.projection).map_err(|e| e.to_string())?;
                out.insert(pk, value.to_string());
            }
        }
    }
    Ok(out)
}

async fn rollup_texts(store: &Store) -> Result<BTreeMap<(String, String), String>, String> {
    Ok(store
        .all_rollups()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(pk, sk, r)| ((pk, sk), serde_json::to_string(&r).unwrap_or_default()))
        .collect())
}

fn diff_keys<K: Ord + Clone + std::fmt::Debug, V: PartialEq>(
    a: &BTreeMap<K, V>,
    b: &BTreeMap<K, V>,
) -> Vec<String> {
    let keys: BTreeSet<&K> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k:?}"))
        .collect()
}

/// Facts stored (by key) and bucket members (by bucket, then member sort key) of one table scan.
type Buckets = BTreeMap<String, BTreeMap<String, Vec<MemberData>>>;

/// Checks a table after a run against the fact keys every delivery must have stored
/// (`expected[i]` for delivery `i`).
pub async fn verify(
    store: &Store,
    expected: &[Vec<(String, String)>],
) -> Result<Verification, String> {
    let mut v = Verification::default();
    let (facts, buckets) = scan_facts_and_members(store).await?;
    check_facts(&mut v, &facts, expected);
    let stored_non_empty = check_rollups(&mut v, store, &buckets).await?;
    compare_with_reprocess(&mut v, store, &stored_non_empty).await?;
    Ok(v)
}

async fn scan_facts_and_members(
    store: &Store,
) -> Result<(BTreeSet<(String, String)>, Buckets), String> {
    let items = store.scan_all().await.map_err(|e| e.to_string())?;
    let mut facts: BTreeSet<(String, String)> = BTreeSet::new();
    let mut buckets: Buckets = BTreeMap::new();
    for item in &items {
        let (pk, sk) = (text(item, "pk"), text(item, "sk"));
        if keys::is_source_fact(&sk) {
            facts.insert((pk, sk));
        } else if let (Some(bucket), true) =
            (keys::bucket_key_of(&pk), sk.starts_with(keys::MEMBER))
        {
            let data = flowmeter_edge::store::member_data(item.clone())
                .map_err(|e| format!("member {pk} {sk}: {e}"))?;
            if data.is_empty() {
                return Err(format!("member {pk} {sk} has no data"));
            }
            buckets
                .entry(bucket.to_string())
                .or_default()
                .insert(sk, data);
        }
    }
    Ok((facts, buckets))
}

/// (a) facts: exactly the expected keys.
fn check_facts(
    v: &mut Verification,
    facts: &BTreeSet<(String, String)>,
    expected: &[Vec<(String, String)>],
) {
    let expected_keys: BTreeSet<(String, String)> = expected.iter().flatten().cloned().collect();
    v.expected_facts = expected_keys.len();
    v.stored_facts = facts.len();
    v.lost_facts = expected_keys.difference(facts).count();
    v.extra_facts = facts.difference(&expected_keys).count();
    v.lost_deliveries = expected
        .iter()
        .filter(|keys| keys.iter().any(|k| !facts.contains(k)))
        .count();
}

fn empty_rollup() -> String {
    serde_json::to_string(&Rollup::default()).unwrap_or_default()
}

/// (b) every rollup equals the fold of its bucket's members, and no rollup lacks a bucket.
/// Returns the stored non-empty rollups as text, by key.
async fn check_rollups(
    v: &mut Verification,
    store: &Store,
    buckets: &Buckets,
) -> Result<BTreeMap<(String, String), String>, String> {
    let stored = rollup_texts(store).await?;
    v.rollups = stored.len();
    v.buckets = buckets.len();
    let mut computed: BTreeMap<(String, String), String> = BTreeMap::new();
    for (bucket, members) in buckets {
        let Some((scope, week)) = bucket.rsplit_once('|') else {
            v.rollup_mismatches.push(format!("bad bucket key {bucket}"));
            continue;
        };
        let rollup = Rollup::from_members(members.values().flatten());
        if !rollup.is_empty() {
            computed.insert(
                (format!("{}{scope}", keys::ROLLUP), week.to_string()),
                serde_json::to_string(&rollup).unwrap_or_default(),
            );
        }
    }
    let empty = empty_rollup();
    let stored_non_empty: BTreeMap<(String, String), String> = stored
        .iter()
        .filter(|(_, r)| **r != empty)
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect();
    v.rollup_mismatches
        .extend(diff_keys(&stored_non_empty, &computed));
    Ok(stored_non_empty)
}

/// (c) from scratch: reprocess the same table, compare rollups and projections.
async fn compare_with_reprocess(
    v: &mut Verification,
    store: &Store,
    stored_non_empty: &BTreeMap<(String, String), String>,
) -> Result<(), String> {
    let before_projections = projections(store, true).await?;
    v.projections = before_projections.len();
    let config = load_config(store).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let report = reprocess(store, config).await.map_err(|e| e.to_string())?;
    v.reprocess_s = started.elapsed().as_secs_f64();
    eprintln!(
        "reprocess: {} in {:.1} s",
        serde_json::to_string(&report).unwrap_or_default(),
        v.reprocess_s
    );
    let empty = empty_rollup();
    let after = rollup_texts(store).await?;
    let after_non_empty: BTreeMap<(String, String), String> =
        after.into_iter().filter(|(_, r)| *r != empty).collect();
    v.reprocess_mismatches = diff_keys(stored_non_empty, &after_non_empty);
    let after_projections = projections(store, false).await?;
    let differing = diff_keys(&before_projections, &after_projections);
    v.projection_mismatches = differing.len();
    report_projection_diffs(&before_projections, &after_projections);
    Ok(())
}

/// Shows a few differing projections, field by field: what streaming derived vs what
/// reprocessing derived; then how many differ in which fields.
fn report_projection_diffs(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (pk, old) in before {
        let new = after.get(pk);
        if new == Some(old) {
            continue;
        }
        let b: Value = serde_json::from_str(old).unwrap_or(Value::Null);
        let a: Value = new
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or(Value::Null);
        let fields = field_diff(&b, &a);
        *kinds
            .entry(fields.keys().cloned().collect::<Vec<_>>().join(","))
            .or_default() += 1;
        if kinds.values().sum::<usize>() <= 6 {
            eprintln!("  projection {pk} differs (streaming -> reprocess):");
            for (field, (x, y)) in &fields {
                eprintln!("    {field}: {x} -> {y}");
            }
        }
    }
    for (fields, n) in &kinds {
        eprintln!("  {n} projections differ in: {fields}");
    }
}

/// The top-level fields (under the variant) in which two projections differ.
fn field_diff(before: &Value, after: &Value) -> BTreeMap<String, (String, String)> {
    let inner = |v: &Value| -> serde_json::Map<String, Value> {
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (b, a) = (inner(before), inner(after));
    let mut out = BTreeMap::new();
    for key in b.keys().chain(a.keys()) {
        let (x, y) = (b.get(key), a.get(key));
        if x != y {
            let show = |v: Option<&Value>| {
                v.map(|v| v.to_string())
                    .unwrap_or_else(|| "(absent)".into())
                    .chars()
                    .take(300)
                    .collect::<String>()
            };
            out.insert(key.clone(), (show(x), show(y)));
        }
    }
    out
}
