//! The load run: distinct deliveries, each sent twice in shuffled order by concurrent signed
//! senders that retry 5xx with backoff; then convergence of the stream consumer, and the checks
//! of [`crate::verify`]: every distinct delivery's facts stored exactly once, every rollup equal
//! to a recomputation from its bucket's members, and the rollups equal to what `reprocess`
//! derives from scratch.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowmeter_edge::store::Store;
use serde_json::{json, Value};

use flowmeter_kit::{Attempt, Retry, Sender, Sent};

use crate::ddb::DynamoDbLocal;
use crate::generate::{self, Delivery, Rng};
use crate::profile;
use crate::server::{PollState, Poller, Server};
use crate::verify::{verify, Verification};
use crate::Stores;

pub struct Options {
    pub deliveries: usize,
    pub senders: usize,
    pub seed: u64,
    /// Kill DynamoDB Local when this share of the sends has been dispatched (fault run).
    pub outage_at: f64,
    pub outage: Duration,
}

#[derive(Default)]
pub(crate) struct SenderLog {
    pub latencies_ms: Vec<f64>,
    pub attempts: Vec<Attempt>,
    pub facts_written: u64,
    pub accepted: u64,
    pub rejected: Vec<String>,
    pub gave_up: u64,
}

impl SenderLog {
    /// Adds another sender's log to this one.
    pub fn absorb(&mut self, part: SenderLog) {
        self.latencies_ms.extend(part.latencies_ms);
        self.attempts.extend(part.attempts);
        self.facts_written += part.facts_written;
        self.accepted += part.accepted;
        self.rejected.extend(part.rejected);
        self.gave_up += part.gave_up;
    }

    /// When the last accepted (2xx) attempt ended.
    pub fn last_accepted(&self) -> Option<Instant> {
        self.attempts
            .iter()
            .filter(|a| (200..300).contains(&a.status))
            .map(|a| a.end)
            .max()
    }

    /// Prints the attempts by status and the first rejections on stderr.
    pub fn report_attempts(&self) {
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        for a in &self.attempts {
            *statuses.entry(a.status).or_default() += 1;
        }
        eprintln!(
            "attempts by status (0 = no answer): {statuses:?}; facts written per the webhook answers: {}",
            self.facts_written
        );
        for r in self.rejected.iter().take(5) {
            eprintln!("rejected: {r}");
        }
    }

    /// The latencies (first attempt to 2xx), sorted.
    pub fn sorted_latencies(&self) -> Vec<f64> {
        let mut latencies = self.latencies_ms.clone();
        latencies.sort_by(f64::total_cmp);
        latencies
    }
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// `x` rounded to `digits` decimals, for the JSON line.
pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// How the load's senders retry: 50 ms doubling to 2 s, half of each wait fixed and half
/// drawn from the sender's RNG; a delivery still failing 600 s after its first attempt is
/// given up.
const RETRY: Retry = Retry {
    first_delay: Duration::from_millis(50),
    max_delay: Duration::from_secs(2),
    max_attempts: None,
    deadline: Some(Duration::from_secs(600)),
};

/// One delivery sent with the kit's [`Sender`] until it is answered 2xx or 4xx (or given up),
/// every attempt logged in `log`.
pub(crate) async fn deliver(
    client: &reqwest::Client,
    base: &str,
    delivery: &Delivery,
    rng: &mut Rng,
    log: &mut SenderLog,
) {
    let started = Instant::now();
    let sender = Sender::new(client.clone(), base, RETRY);
    let sent = sender
        .send_logged(delivery, Some(rng), |attempt| log.attempts.push(attempt))
        .await;
    match sent {
        Sent::Accepted(answer) => {
            let answer: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            log.facts_written += answer["facts_written"].as_u64().unwrap_or(0);
            log.accepted += 1;
            let end = log.attempts.last().map_or_else(Instant::now, |a| a.end);
            log.latencies_ms
                .push(end.duration_since(started).as_secs_f64() * 1000.0);
        }
        Sent::Rejected(answer) => log.rejected.push(format!(
            "{} {}: {}",
            answer.status,
            delivery.path,
            answer.text()
        )),
        Sent::GaveUp { .. } => log.gave_up += 1,
    }
}

/// What the fault injector did.
#[derive(Default, Clone, Debug)]
struct Outage {
    killed_at: Option<Instant>,
    restarted_at: Option<Instant>,
    ready_at: Option<Instant>,
}

/// Capacity a store's `Meter` counted: thousandths of WCU and RCU, and requests.
#[derive(Clone, Copy, Default)]
pub(crate) struct Usage {
    pub write_milli: u64,
    pub read_milli: u64,
    pub requests: u64,
}

impl Usage {
    /// What was used between `earlier` and `self`.
    pub fn since(self, earlier: Usage) -> Usage {
        Usage {
            write_milli: self.write_milli - earlier.write_milli,
            read_milli: self.read_milli - earlier.read_milli,
            requests: self.requests - earlier.requests,
        }
    }
}

pub(crate) fn meter(store: &Store) -> Usage {
    Usage {
        write_milli: store.meter.write_milli.load(Ordering::Relaxed),
        read_milli: store.meter.read_milli.load(Ordering::Relaxed),
        requests: store.meter.requests.load(Ordering::Relaxed),
    }
}

/// The HTTP client of the senders: no proxy (traffic goes to 127.0.0.1 only), 30 s timeout.
pub(crate) fn http_client(idle_per_host: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(idle_per_host)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

/// The generated deliveries and the fact keys each must store.
pub(crate) type Generated = (Vec<Delivery>, Vec<Vec<(String, String)>>);

/// The fact keys every delivery must store, from the webhook's own parsers.
pub(crate) fn expected_keys(deliveries: &[Delivery]) -> Result<Vec<Vec<(String, String)>>, String> {
    deliveries
        .iter()
        .map(|d| d.expected_keys().map_err(|e| e.to_string()))
        .collect()
}

/// The repository (or service, named after it) a delivery is about.
pub(crate) fn repo_of(body: &Value) -> Option<&str> {
    body.pointer("/repository/full_name")
        .or_else(|| body.pointer("/repo"))
        .and_then(Value::as_str)
}

fn generate_deliveries(options: &Options) -> Result<Generated, String> {
    let generated_at = Instant::now();
    let deliveries = generate::deliveries(options.deliveries, options.seed);
    let expected = expected_keys(&deliveries)?;
    let repos = deliveries
        .iter()
        .filter_map(|d| {
            serde_json::from_slice::<Value>(&d.body)
                .ok()
                .and_then(|v| repo_of(&v).map(str::to_string))
        })
        .collect::<BTreeSet<_>>()
        .len();
    eprintln!(
        "generated {} deliveries ({} facts) over {repos} repositories in {:.1} s",
        deliveries.len(),
        expected.iter().map(Vec::len).sum::<usize>(),
        generated_at.elapsed().as_secs_f64()
    );
    Ok((deliveries, expected))
}

/// Every delivery twice, shuffled.
fn shuffled_jobs(deliveries: usize, seed: u64) -> Vec<usize> {
    let mut jobs: Vec<usize> = (0..deliveries).chain(0..deliveries).collect();
    Rng::new(seed ^ 0x5EED).shuffle(&mut jobs);
    jobs
}

/// The fault injector: kill DynamoDB Local once `outage_at` of the sends are out, start it
/// again after `outage`, and record when it answered again.
fn spawn_fault_injector(
    ddb: Arc<Mutex<DynamoDbLocal>>,
    stores: Stores,
    next: Arc<AtomicUsize>,
    total: usize,
    outage_state: Arc<Mutex<Outage>>,
    options: &Options,
) -> tokio::task::JoinHandle<()> {
    let (at, pause) = (options.outage_at, options.outage);
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
}

/// Every 5 s while `sending`: sends dispatched and stream records handled.
fn spawn_progress(
    next: Arc<AtomicUsize>,
    sending: Arc<AtomicBool>,
    total: usize,
    state: Arc<Mutex<PollState>>,
) -> tokio::task::JoinHandle<()> {
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
}

/// `options.senders` concurrent senders take the next job until none is left; their logs,
/// merged.
async fn send_all(
    client: &reqwest::Client,
    base: &str,
    deliveries: &Arc<Vec<Delivery>>,
    jobs: &Arc<Vec<usize>>,
    next: &Arc<AtomicUsize>,
    options: &Options,
) -> Result<SenderLog, String> {
    let mut senders = Vec::new();
    for s in 0..options.senders {
        let (client, base, deliveries, jobs, next) = (
            client.clone(),
            base.to_string(),
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
                deliver(&client, &base, &deliveries[job], &mut rng, &mut log).await;
            }
            log
        }));
    }
    let mut log = SenderLog::default();
    for sender in senders {
        log.absorb(sender.await.map_err(|e| e.to_string())?);
    }
    Ok(log)
}

/// Waits until the stream consumer has handled everything and stays quiet (5 empty polls
/// after `last_delivery`); returns its state and how long after `last_delivery` it was last
/// busy.
pub(crate) async fn await_convergence(
    poller: &Poller,
    last_delivery: Instant,
) -> Result<(PollState, f64), String> {
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
    Ok((state, convergence_s))
}

/// Capacity per delivery as DynamoDB Local metered it, the profile of both sides, and the
/// estimate of what AWS would bill.
fn report_capacity(stores: &Stores, n: usize, ingest: Usage, rollup: Usage) {
    let per = |milli: u64| milli as f64 / 1000.0 / n as f64;
    eprintln!(
        "capacity per delivery (Meter, as DynamoDB Local reports it): ingest {:.3} WCU {:.3} RCU ({:.2} requests), rollup {:.3} WCU {:.3} RCU ({:.2} requests)",
        per(ingest.write_milli),
        per(ingest.read_milli),
        ingest.requests as f64 / n as f64,
        per(rollup.write_milli),
        per(rollup.read_milli),
        rollup.requests as f64 / n as f64
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
        per(ingest.write_milli + rollup.write_milli + est_w),
        per(ingest.read_milli + rollup.read_milli + est_r)
    );
}

/// Outage behaviour: whether every request sent and answered while DynamoDB Local was down got
/// a 503 (true when there was no outage).
fn check_outage(outage: &Outage, log: &SenderLog) -> bool {
    let (Some(killed), Some(ready)) = (outage.killed_at, outage.ready_at) else {
        return true;
    };
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
    ok_inside == 0 && by_status.keys().all(|s| *s == 503)
}

/// What the run measured, for the final JSON line.
struct Figures {
    deliveries: usize,
    sends: usize,
    send_s: f64,
    ingest: Usage,
    rollup: Usage,
    convergence_s: f64,
}

fn final_line(figures: &Figures, log: &SenderLog, v: &Verification) -> Value {
    let n = figures.deliveries;
    let per = |milli: u64| milli as f64 / 1000.0 / n as f64;
    let latencies = log.sorted_latencies();
    let (ingest, rollup) = (figures.ingest, figures.rollup);
    json!({
        "deliveries": n,
        "duplicates": figures.sends - n,
        "lost": v.lost_deliveries,
        "throughput_per_s": round(log.accepted as f64 / figures.send_s.max(1e-9), 1),
        "p50_ms": round(percentile(&latencies, 0.50), 2),
        "p99_ms": round(percentile(&latencies, 0.99), 2),
        "wcu_per_delivery": round(per(ingest.write_milli + rollup.write_milli), 3),
        "rcu_per_delivery": round(per(ingest.read_milli + rollup.read_milli), 3),
        "convergence_s": round(figures.convergence_s, 2),
        "rollups_equal_recompute": v.rollups_equal(),
    })
}

/// Runs the load; returns the final JSON line and whether every check passed.
pub async fn run(
    stores: &Stores,
    options: &Options,
    ddb: Option<Arc<Mutex<DynamoDbLocal>>>,
) -> Result<(Value, bool), String> {
    let (deliveries, expected) = generate_deliveries(options)?;
    let jobs = shuffled_jobs(deliveries.len(), options.seed);

    let server = Server::start(stores.webhook.clone(), stores.read.clone()).await?;
    let poller = Poller::start(stores.rollup.clone());
    let base = format!("http://{}", server.address);
    let client = http_client(options.senders * 2)?;

    let deliveries = Arc::new(deliveries);
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let outage = Arc::new(Mutex::new(Outage::default()));
    let sending = Arc::new(AtomicBool::new(true));
    let injector = ddb.map(|ddb| {
        spawn_fault_injector(
            ddb,
            stores.clone(),
            next.clone(),
            jobs.len(),
            outage.clone(),
            options,
        )
    });
    let progress = spawn_progress(
        next.clone(),
        sending.clone(),
        jobs.len(),
        poller.state.clone(),
    );

    let ingest_before = meter(&stores.webhook);
    let rollup_before = meter(&stores.rollup);
    let send_started = Instant::now();
    let log = send_all(&client, &base, &deliveries, &jobs, &next, options).await?;
    sending.store(false, Ordering::Relaxed);
    let _ = progress.await;
    if let Some(injector) = injector {
        let _ = injector.await;
    }
    let last_delivery = log.last_accepted().unwrap_or_else(Instant::now);
    let send_s = last_delivery.duration_since(send_started).as_secs_f64();
    let ingest = meter(&stores.webhook).since(ingest_before);
    eprintln!(
        "sent {} requests ({} accepted) in {send_s:.1} s; waiting for the stream to drain",
        log.attempts.len(),
        log.accepted
    );

    let (state, convergence_s) = await_convergence(&poller, last_delivery).await?;
    let failed_batches = poller.batch_failures.load(Ordering::Relaxed);
    poller.stop().await;
    server.stop().await;
    let rollup = meter(&stores.rollup).since(rollup_before);

    let n = deliveries.len();
    eprintln!(
        "stream: {} records in {} polls ({} failed polls, {} failed batches); converged {convergence_s:.2} s after the last delivery",
        state.records,
        state.polls,
        state.failed_polls,
        failed_batches
    );
    report_capacity(stores, n, ingest, rollup);
    let outage = outage.lock().map(|o| o.clone()).unwrap_or_default();
    let outage_ok = check_outage(&outage, &log);
    log.report_attempts();

    let v = verify(&stores.admin, &expected).await?;
    v.report();

    let passed = v.lost_deliveries == 0
        && v.extra_facts == 0
        && v.rollups_equal()
        && log.rejected.is_empty()
        && log.gave_up == 0
        && outage_ok;
    let figures = Figures {
        deliveries: n,
        sends: jobs.len(),
        send_s,
        ingest,
        rollup,
        convergence_s,
    };
    Ok((final_line(&figures, &log, &v), passed))
}
