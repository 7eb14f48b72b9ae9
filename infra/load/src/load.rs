//! The load run: distinct deliveries, each sent twice in shuffled order by concurrent signed
//! senders that retry 5xx with backoff; then convergence of the stream consumer, and the checks:
//! every distinct delivery's facts stored exactly once, every rollup equal to a recomputation
//! from its bucket's members, and the rollups equal to what `reprocess` derives from scratch.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowmeter::derive::{MemberData, Rollup};
use flowmeter_edge::reprocess::reprocess;
use flowmeter_edge::settings::load_config;
use flowmeter_edge::store::{keys, Item, Store};
use serde_json::{json, Value};

use crate::ddb::DynamoDbLocal;
use crate::generate::{self, Delivery, Rng};
use crate::profile;
use crate::server::{Poller, Server};
use crate::Stores;

pub struct Options {
    pub deliveries: usize,
    pub senders: usize,
    pub seed: u64,
    /// Kill DynamoDB Local when this share of the sends has been dispatched (fault run).
    pub outage_at: f64,
    pub outage: Duration,
}

/// One HTTP attempt.
#[derive(Clone, Copy)]
struct Attempt {
    start: Instant,
    end: Instant,
    /// 0 = no HTTP answer.
    status: u16,
}

#[derive(Default)]
struct SenderLog {
    latencies_ms: Vec<f64>,
    attempts: Vec<Attempt>,
    facts_written: u64,
    accepted: u64,
    rejected: Vec<String>,
    gave_up: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn send_with_retries(
    client: &reqwest::Client,
    base: &str,
    delivery: &Delivery,
    rng: &mut Rng,
    log: &mut SenderLog,
) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    let mut attempt = 0u32;
    loop {
        let mut request = client
            .post(format!("{base}{}", delivery.path))
            .body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.header(*name, value.as_str());
        }
        let t0 = Instant::now();
        let result = request.send().await;
        let (status, body) = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                (status, body)
            }
            Err(_) => (0, Vec::new()),
        };
        let end = Instant::now();
        log.attempts.push(Attempt {
            start: t0,
            end,
            status,
        });
        if (200..300).contains(&status) {
            let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            log.facts_written += answer["facts_written"].as_u64().unwrap_or(0);
            log.accepted += 1;
            log.latencies_ms
                .push(end.duration_since(started).as_secs_f64() * 1000.0);
            return;
        }
        if (400..500).contains(&status) {
            log.rejected.push(format!(
                "{status} {}: {}",
                delivery.path,
                String::from_utf8_lossy(&body)
            ));
            return;
        }
        // 5xx or no answer: back off like a careful client (exponential, jittered, capped).
        if end > deadline {
            log.gave_up += 1;
            return;
        }
        attempt += 1;
        let base_ms = (25u64 << attempt.min(7)).min(2000);
        let jitter = rng.range(0, base_ms as i64 / 2) as u64;
        tokio::time::sleep(Duration::from_millis(base_ms / 2 + jitter)).await;
    }
}

/// What the fault injector did.
#[derive(Default, Clone, Debug)]
struct Outage {
    killed_at: Option<Instant>,
    restarted_at: Option<Instant>,
    ready_at: Option<Instant>,
}

#[derive(Default)]
struct Verification {
    expected_facts: usize,
    stored_facts: usize,
    lost_facts: usize,
    extra_facts: usize,
    lost_deliveries: usize,
    buckets: usize,
    rollups: usize,
    rollup_mismatches: Vec<String>,
    reprocess_mismatches: Vec<String>,
    projection_mismatches: usize,
    projections: usize,
    reprocess_s: f64,
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

async fn verify(
    store: &Store,
    deliveries: &[Delivery],
    expected: &[Vec<(String, String)>],
) -> Result<Verification, String> {
    let mut v = Verification::default();
    let items = store.scan_all().await.map_err(|e| e.to_string())?;
    let mut facts: BTreeSet<(String, String)> = BTreeSet::new();
    let mut buckets: BTreeMap<String, BTreeMap<String, Vec<MemberData>>> = BTreeMap::new();
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
    // (a) facts: exactly the expected keys.
    let expected_keys: BTreeSet<(String, String)> = expected.iter().flatten().cloned().collect();
    v.expected_facts = expected_keys.len();
    v.stored_facts = facts.len();
    v.lost_facts = expected_keys.difference(&facts).count();
    v.extra_facts = facts.difference(&expected_keys).count();
    v.lost_deliveries = expected
        .iter()
        .filter(|keys| keys.iter().any(|k| !facts.contains(k)))
        .count();
    let _ = deliveries;

    // (b) every rollup equals the fold of its bucket's members, and no rollup lacks a bucket.
    let stored = rollup_texts(store).await?;
    v.rollups = stored.len();
    v.buckets = buckets.len();
    let mut computed: BTreeMap<(String, String), String> = BTreeMap::new();
    for (bucket, members) in &buckets {
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
    let empty = serde_json::to_string(&Rollup::default()).unwrap_or_default();
    let stored_non_empty: BTreeMap<(String, String), String> = stored
        .iter()
        .filter(|(_, r)| **r != empty)
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect();
    v.rollup_mismatches
        .extend(diff_keys(&stored_non_empty, &computed));

    // And from scratch: reprocess the same table, compare rollups and projections.
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
    let after = rollup_texts(store).await?;
    let after_non_empty: BTreeMap<(String, String), String> =
        after.into_iter().filter(|(_, r)| *r != empty).collect();
    v.reprocess_mismatches = diff_keys(&stored_non_empty, &after_non_empty);
    let after_projections = projections(store, false).await?;
    let differing = diff_keys(&before_projections, &after_projections);
    v.projection_mismatches = differing.len();
    // Show a few, field by field: what streaming derived vs what reprocessing derived.
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (pk, before) in &before_projections {
        let after = after_projections.get(pk);
        if after == Some(before) {
            continue;
        }
        let b: Value = serde_json::from_str(before).unwrap_or(Value::Null);
        let a: Value = after
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
    Ok(v)
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

fn meter(store: &Store) -> (u64, u64, u64) {
    (
        store.meter.write_milli.load(Ordering::Relaxed),
        store.meter.read_milli.load(Ordering::Relaxed),
        store.meter.requests.load(Ordering::Relaxed),
    )
}

/// Runs the load; returns the final JSON line and whether every check passed.
pub async fn run(
    stores: &Stores,
    options: &Options,
    ddb: Option<Arc<Mutex<DynamoDbLocal>>>,
) -> Result<(Value, bool), String> {
    let generated_at = Instant::now();
    let deliveries = generate::deliveries(options.deliveries, options.seed);
    let expected: Vec<Vec<(String, String)>> = deliveries
        .iter()
        .map(|d| d.expected_keys().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let repos = deliveries
        .iter()
        .filter_map(|d| {
            serde_json::from_slice::<Value>(&d.body).ok().and_then(|v| {
                v.pointer("/repository/full_name")
                    .or_else(|| v.pointer("/repo"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        })
        .collect::<BTreeSet<_>>()
        .len();
    eprintln!(
        "generated {} deliveries ({} facts) over {repos} repositories in {:.1} s",
        deliveries.len(),
        expected.iter().map(Vec::len).sum::<usize>(),
        generated_at.elapsed().as_secs_f64()
    );
    let mut jobs: Vec<usize> = (0..deliveries.len()).chain(0..deliveries.len()).collect();
    Rng::new(options.seed ^ 0x5EED).shuffle(&mut jobs);

    let server = Server::start(stores.webhook.clone(), stores.read.clone()).await?;
    let poller = Poller::start(stores.rollup.clone());
    let base = format!("http://{}", server.address);
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(options.senders * 2)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;

    let deliveries = Arc::new(deliveries);
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let outage = Arc::new(Mutex::new(Outage::default()));
    let sending = Arc::new(AtomicBool::new(true));

    // The fault injector: kill DynamoDB Local once `outage_at` of the sends are out, start it
    // again after `outage`.
    let injector = ddb.map(|ddb| {
        let next = next.clone();
        let total = jobs.len();
        let outage_state = outage.clone();
        let (at, pause) = (options.outage_at, options.outage);
        let stores = stores.clone();
        tokio::spawn(async move {
            while (next.load(Ordering::Relaxed) as f64) < at * total as f64 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let killer = ddb.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Ok(mut d) = killer.lock() {
                    d.kill();
                }
            })
            .await;
            let killed = Instant::now();
            eprintln!(
                "fault: killed DynamoDB Local at send {} of {total}",
                next.load(Ordering::Relaxed)
            );
            if let Ok(mut o) = outage_state.lock() {
                o.killed_at = Some(killed);
            }
            tokio::time::sleep(pause).await;
            let starter = ddb.clone();
            let started = tokio::task::spawn_blocking(move || match starter.lock() {
                Ok(mut d) => d.start(),
                Err(_) => Err("lock".to_string()),
            })
            .await;
            if let Ok(mut o) = outage_state.lock() {
                o.restarted_at = Some(Instant::now());
            }
            if let Ok(Err(e)) | Err(e) = started.map_err(|e| e.to_string()) {
                eprintln!("fault: restart failed: {e}");
            }
            // Ready once it answers a request.
            loop {
                if stores.admin.client().list_tables().send().await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let ready = Instant::now();
            eprintln!(
                "fault: DynamoDB Local back after {:.1} s (answering {:.1} s after the kill)",
                ready.duration_since(killed).as_secs_f64(),
                ready.duration_since(killed).as_secs_f64()
            );
            if let Ok(mut o) = outage_state.lock() {
                o.ready_at = Some(ready);
            }
        })
    });

    // Progress.
    let progress = {
        let next = next.clone();
        let sending = sending.clone();
        let total = jobs.len();
        let state = poller.state.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            while sending.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let records = state.lock().map(|s| s.records).unwrap_or(0);
                eprintln!(
                    "  {:>5.1} s: {} of {total} sends dispatched; stream records handled: {records}",
                    started.elapsed().as_secs_f64(),
                    next.load(Ordering::Relaxed).min(total)
                );
            }
        })
    };

    let (w0, r0, q0) = meter(&stores.webhook);
    let (rw0, rr0, rq0) = meter(&stores.rollup);
    let send_started = Instant::now();
    let mut senders = Vec::new();
    for s in 0..options.senders {
        let (client, base, deliveries, jobs, next) = (
            client.clone(),
            base.clone(),
            deliveries.clone(),
            jobs.clone(),
            next.clone(),
        );
        let seed = options.seed.wrapping_add(s as u64 + 1);
        senders.push(tokio::spawn(async move {
            let mut log = SenderLog::default();
            let mut rng = Rng::new(seed);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&job) = jobs.get(i) else { break };
                send_with_retries(&client, &base, &deliveries[job], &mut rng, &mut log).await;
            }
            log
        }));
    }
    let mut log = SenderLog::default();
    for sender in senders {
        let part = sender.await.map_err(|e| e.to_string())?;
        log.latencies_ms.extend(part.latencies_ms);
        log.attempts.extend(part.attempts);
        log.facts_written += part.facts_written;
        log.accepted += part.accepted;
        log.rejected.extend(part.rejected);
        log.gave_up += part.gave_up;
    }
    sending.store(false, Ordering::Relaxed);
    let _ = progress.await;
    if let Some(injector) = injector {
        let _ = injector.await;
    }
    let last_delivery = log
        .attempts
        .iter()
        .filter(|a| (200..300).contains(&a.status))
        .map(|a| a.end)
        .max()
        .unwrap_or_else(Instant::now);
    let send_s = last_delivery.duration_since(send_started).as_secs_f64();
    let (w1, r1, q1) = meter(&stores.webhook);
    eprintln!(
        "sent {} requests ({} accepted) in {send_s:.1} s; waiting for the stream to drain",
        log.attempts.len(),
        log.accepted
    );

    // Convergence: the stream consumer has handled everything and stays quiet.
    let converge_deadline = Instant::now() + Duration::from_secs(3600);
    let mut reported = Instant::now();
    let state = loop {
        let s = poller.snapshot();
        if s.quiet_streak >= 5 && s.quiet_since.is_some_and(|q| q > last_delivery) {
            break s;
        }
        if Instant::now() > converge_deadline {
            return Err("the stream did not drain within an hour".into());
        }
        if reported.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  draining: {:.1} s after the last delivery, {} stream records handled",
                last_delivery.elapsed().as_secs_f64(),
                s.records
            );
            reported = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let convergence_s = state
        .last_busy
        .map(|b| b.saturating_duration_since(last_delivery).as_secs_f64())
        .unwrap_or(0.0);
    let failed_batches = poller.batch_failures.load(Ordering::Relaxed);
    poller.stop().await;
    server.stop().await;
    let (rw1, rr1, rq1) = meter(&stores.rollup);

    let n = deliveries.len();
    let per = |milli: u64| milli as f64 / 1000.0 / n as f64;
    let ingest = (w1 - w0, r1 - r0, q1 - q0);
    let rollup = (rw1 - rw0, rr1 - rr0, rq1 - rq0);
    eprintln!(
        "stream: {} records in {} polls ({} failed polls, {} failed batches); converged {convergence_s:.2} s after the last delivery",
        state.records,
        state.polls,
        state.failed_polls,
        failed_batches
    );
    eprintln!(
        "capacity per delivery (Meter, as DynamoDB Local reports it): ingest {:.3} WCU {:.3} RCU ({:.2} requests), rollup {:.3} WCU {:.3} RCU ({:.2} requests)",
        per(ingest.0),
        per(ingest.1),
        ingest.2 as f64 / n as f64,
        per(rollup.0),
        per(rollup.1),
        rollup.2 as f64 / n as f64
    );
    let webhook_profile = stores.webhook_profile.snapshot();
    let rollup_profile = stores.rollup_profile.snapshot();
    eprint!(
        "{}",
        profile::render("ingest side (webhook handler)", &webhook_profile, n)
    );
    eprint!(
        "{}",
        profile::render("rollup side (stream handler)", &rollup_profile, n)
    );
    let est_w = profile::total(&webhook_profile).estimated_write_milli
        + profile::total(&rollup_profile).estimated_write_milli;
    let est_r = profile::total(&webhook_profile).estimated_read_milli
        + profile::total(&rollup_profile).estimated_read_milli;
    eprintln!(
        "as AWS would bill it (adds failed conditional writes and unmetered reads): {:.3} WCU, {:.3} RCU per delivery",
        per(ingest.0 + rollup.0 + est_w),
        per(ingest.1 + rollup.1 + est_r)
    );

    // Outage behaviour.
    let outage = outage.lock().map(|o| o.clone()).unwrap_or_default();
    let mut outage_ok = true;
    if let (Some(killed), Some(ready)) = (outage.killed_at, outage.ready_at) {
        let inside: Vec<&Attempt> = log
            .attempts
            .iter()
            .filter(|a| a.start > killed && a.end < outage.restarted_at.unwrap_or(ready))
            .collect();
        let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
        for a in &inside {
            *by_status.entry(a.status).or_default() += 1;
        }
        let ok_inside = inside.iter().filter(|a| a.status < 300).count();
        outage_ok = ok_inside == 0 && by_status.keys().all(|s| *s == 503);
        eprintln!(
            "outage: {:.1} s down ({:.1} s until it answered again); requests sent and answered while it was down: {} by status {by_status:?}; 2xx among them: {ok_inside}",
            outage
                .restarted_at
                .unwrap_or(ready)
                .duration_since(killed)
                .as_secs_f64(),
            ready.duration_since(killed).as_secs_f64(),
            inside.len()
        );
    }
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for a in &log.attempts {
        *statuses.entry(a.status).or_default() += 1;
    }
    eprintln!(
        "attempts by status (0 = no answer): {statuses:?}; facts written per the webhook answers: {}",
        log.facts_written
    );
    for r in log.rejected.iter().take(5) {
        eprintln!("rejected: {r}");
    }

    let v = verify(&stores.admin, &deliveries, &expected).await?;
    eprintln!(
        "facts: {} expected, {} stored, {} lost, {} extra ({} deliveries lost)",
        v.expected_facts, v.stored_facts, v.lost_facts, v.extra_facts, v.lost_deliveries
    );
    eprintln!(
        "rollups: {} stored, {} buckets; {} differ from their members' fold; {} differ after reprocess (projections: {} of {} differ)",
        v.rollups,
        v.buckets,
        v.rollup_mismatches.len(),
        v.reprocess_mismatches.len(),
        v.projection_mismatches,
        v.projections
    );
    for m in v
        .rollup_mismatches
        .iter()
        .chain(&v.reprocess_mismatches)
        .take(10)
    {
        eprintln!("  mismatch: {m}");
    }

    let mut latencies = log.latencies_ms.clone();
    latencies.sort_by(f64::total_cmp);
    let rollups_equal = v.rollup_mismatches.is_empty() && v.reprocess_mismatches.is_empty();
    let passed = v.lost_deliveries == 0
        && v.extra_facts == 0
        && rollups_equal
        && log.rejected.is_empty()
        && log.gave_up == 0
        && outage_ok;
    let round = |x: f64, digits: i32| {
        let f = 10f64.powi(digits);
        (x * f).round() / f
    };
    let line = json!({
        "deliveries": n,
        "duplicates": jobs.len() - n,
        "lost": v.lost_deliveries,
        "throughput_per_s": round(log.accepted as f64 / send_s.max(1e-9), 1),
        "p50_ms": round(percentile(&latencies, 0.50), 2),
        "p99_ms": round(percentile(&latencies, 0.99), 2),
        "wcu_per_delivery": round(per(ingest.0 + rollup.0), 3),
        "rcu_per_delivery": round(per(ingest.1 + rollup.1), 3),
        "convergence_s": round(convergence_s, 2),
        "rollups_equal_recompute": rollups_equal,
    });
    Ok((line, passed))
}
