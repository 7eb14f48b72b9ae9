//! The steady-rate mode of `make load` (`flowmeter-load run --rate R --seconds S`): deliveries
//! sent at a steady rate, and **freshness**, the time from a delivery's 202 until the read API
//! reflects it.
//!
//! Traffic: `R × S` deliveries of the load generator's repository histories, each sent once to
//! the in-process server on 127.0.0.1, one every `1/R` seconds (open loop: a slow answer does
//! not delay the next send; at most `--senders` requests are in flight, after which the
//! schedule slips and the achieved rate says so). Every repository's history keeps its order
//! and is spread evenly over the whole run, so all repositories are active at once, as in an
//! org, and two deliveries of one repository are about `R × S / (its deliveries)` sends apart.
//!
//! What "reflects" means. Three counters of a repository move by exactly one when a delivery
//! adds something countable, and are read through the public API, scope `repo:<name>`, over a
//! window of weeks that holds every timestamp of that repository's deliveries (± 7 days, so the
//! org's timezone cannot move a bucket out of it):
//!
//! - `prs_opened`: `opened` of `GET /v1/pull-requests`; moves with the first `pull_request`
//!   delivery of a PR whose author is not a bot (bots' PRs count in no PR number);
//! - `prs_merged`: `merged` of `GET /v1/pull-requests`; moves with the first `pull_request`
//!   delivery carrying `merged_at` of a non-bot PR;
//! - `deployments`: `change_failure_rate.deployments` (terminal production attempts) of
//!   `GET /v1/dora`; moves with the first terminal status of a deployment (`deployment_status`
//!   success/failure/error, or a generic deployment with `finished_at`).
//!
//! Walking the schedule in send order gives each such change its place `k` in its counter. Every
//! `N`th change (`--sample-every N`) is sampled, and after its 202 the counter is read until it
//! reflects the change for certain: until it reads at least `K`, the number of changes of that
//! counter among all deliveries sent before the read ended (`K ≥ k`; `K = k` unless a later
//! change of the same counter was already on its way). Only those `K` changes can have been
//! counted, so a value of `K` includes the sample's; no sample is left out, and one that waits
//! for a later change's to be counted too is measured late, never early. Its freshness is the
//! end of that read minus the end of the 202: an upper bound whose resolution is one read plus
//! the interval between reads, `--poll-ms` or a tenth of the sample's age if that is longer,
//! with at most 4 reads in flight (so a backlog is not fed by its own probe; the reads go to
//! the same DynamoDB Local as the pipeline). A sample not reflected within `--timeout-s` is
//! **unreflected** (`freshness_unreflected`) and fails the run. The counting is checked after
//! the run: every repository's final counters must equal the number of changes the walk counted
//! (so nothing else moves them), or the run fails (`freshness_model_mismatches`).
//!
//! The stream is polled as the dev server polls it (at once after a busy poll, 100 ms after an
//! empty one); `--stream-window-ms W` makes polls start at least `W` apart instead, so that a
//! record waits up to `W` as it does in AWS, where the template's event source mapping gathers
//! a batch for up to `MaximumBatchingWindowInSeconds` (2 s) when it does not fill.
//!
//! `--warmup-s W` first sends `W` seconds of the same traffic against a table of its own, so
//! that DynamoDB Local's JVM and this process are warm while the measured table starts empty;
//! the default is none (the run measures from a cold start, as `make load` always has).
//!
//! The JSON line: `deliveries`, `lost`, `throughput_per_s` (the achieved rate), webhook `p50_ms`
//! / `p99_ms`, `freshness_sampled` / `_p50_s` / `_p99_s` / `_max_s`, the same per counter under
//! `freshness_by_counter`, `convergence_s` and `rollups_equal_recompute` as in the burst mode.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::generate::{self, Delivery, Rng};
use crate::load::{self, percentile, round, SenderLog, Usage};
use crate::server::{api_get, PollState, Poller, Server};
use crate::verify::{verify, Verification};
use crate::Stores;

/// The p99 freshness users ask for.
const TARGET_P99_S: f64 = 5.0;

pub struct SteadyOptions {
    /// Deliveries per second.
    pub rate: f64,
    pub seconds: f64,
    pub seed: u64,
    /// Requests in flight at most.
    pub senders: usize,
    /// Every how many counted changes one is sampled.
    pub sample_every: usize,
    /// How often a pending sample's counter is read.
    pub poll: Duration,
    /// A sample not reflected this long after its 202 is unreflected.
    pub timeout: Duration,
    /// Polls of the stream start at least this far apart (0: as the dev server polls), to
    /// emulate the template's batching window.
    pub stream_window: Duration,
    /// Seconds of the same traffic against a separate table before the measured run (0: none),
    /// so that DynamoDB Local's JVM and this process are warm but the measured table is empty.
    pub warmup: f64,
}

/// A repository counter that one delivery moves by one; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Counter {
    PrsOpened,
    PrsMerged,
    Deployments,
}

const COUNTERS: [Counter; 3] = [Counter::PrsOpened, Counter::PrsMerged, Counter::Deployments];

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Counter::PrsOpened => "prs_opened",
            Counter::PrsMerged => "prs_merged",
            Counter::Deployments => "deployments",
        }
    }

    /// The read that shows it.
    fn report(self) -> Report {
        match self {
            Counter::PrsOpened | Counter::PrsMerged => Report::PullRequests,
            Counter::Deployments => Report::Dora,
        }
    }

    /// Its value in an answer of its report.
    fn value(self, answer: &Value) -> u64 {
        let pointer = match self {
            Counter::PrsOpened => "/opened",
            Counter::PrsMerged => "/merged",
            Counter::Deployments => "/change_failure_rate/deployments",
        };
        answer.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Report {
    PullRequests,
    Dora,
}

impl Report {
    fn path(self) -> &'static str {
        match self {
            Report::PullRequests => "/v1/pull-requests",
            Report::Dora => "/v1/dora",
        }
    }
}

/// The counters a delivery moves if the item (PR number, deployment id) is new to the counter.
type Effect = Vec<(Counter, String)>;

fn is_bot(user: &Value) -> bool {
    user["type"].as_str() == Some("Bot")
        || user["login"]
            .as_str()
            .is_some_and(|login| login.ends_with("[bot]"))
}

fn header<'a>(delivery: &'a Delivery, name: &str) -> Option<&'a str> {
    delivery
        .headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

fn effect(delivery: &Delivery, body: &Value) -> Effect {
    let mut effect = Effect::new();
    let event = header(delivery, "x-github-event");
    match (delivery.path.as_str(), event) {
        ("/webhooks/github", Some("pull_request")) => {
            let pr = &body["pull_request"];
            let number = pr["number"].to_string();
            let merged = !pr["merged_at"].is_null();
            if !is_bot(&pr["user"]) {
                effect.push((Counter::PrsOpened, number.clone()));
                if merged {
                    effect.push((Counter::PrsMerged, number));
                }
            }
        }
        ("/webhooks/github", Some("deployment_status")) => {
            let state = body["deployment_status"]["state"].as_str();
            let production = body["deployment"]["environment"].as_str() == Some("production");
            if production && matches!(state, Some("success" | "failure" | "error")) {
                let id = body["deployment"]["id"].to_string();
                effect.push((Counter::Deployments, id));
            }
        }
        ("/webhooks/deployments", _)
            if !body["finished_at"].is_null() && body["environment"] == "production" =>
        {
            effect.push((Counter::Deployments, body["id"].to_string()));
        }
        _ => {}
    }
    effect
}

/// One repository of the run: its name, the window its reads cover, and how many changes of
/// each counter the schedule holds.
struct Repo {
    name: String,
    from: NaiveDate,
    to: NaiveDate,
    totals: BTreeMap<Counter, u64>,
}

/// The `k`-th change of a repository's counter, made by one delivery.
struct Change {
    delivery: usize,
    repo: usize,
    counter: Counter,
    expected: u64,
}

/// The run, decided before the first send.
struct Plan {
    /// In send order.
    schedule: Vec<Delivery>,
    repos: Vec<Repo>,
    changes: Vec<Change>,
    /// The sampled changes (indexes into `changes`) by the delivery that makes them.
    samples_by_delivery: BTreeMap<usize, Vec<usize>>,
    /// The changes of a repository's counter (indexes into `changes`), in send order.
    changes_of: BTreeMap<(usize, Counter), Vec<usize>>,
}

/// Every timestamp string in a JSON value.
fn timestamps(value: &Value, out: &mut Vec<DateTime<Utc>>) {
    match value {
        Value::String(s) => {
            if let Ok(at) = DateTime::parse_from_rfc3339(s) {
                out.push(at.with_timezone(&Utc));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| timestamps(v, out)),
        Value::Object(map) => map.values().for_each(|v| timestamps(v, out)),
        _ => {}
    }
}

/// The generated repository histories interleaved: each keeps its order and is spread evenly
/// over the run (its `j`-th of `n` deliveries at `(j + ½) / n` of it); the first `count`.
fn interleave(deliveries: Vec<Delivery>, count: usize) -> Vec<Delivery> {
    let mut histories: Vec<Vec<Delivery>> = Vec::new();
    let mut index_of: BTreeMap<String, usize> = BTreeMap::new();
    for delivery in deliveries {
        let body: Value = serde_json::from_slice(&delivery.body).unwrap_or(Value::Null);
        let name = load::repo_of(&body).unwrap_or("?").to_string();
        let next = histories.len();
        let index = *index_of.entry(name).or_insert(next);
        if index == histories.len() {
            histories.push(Vec::new());
        }
        histories[index].push(delivery);
    }
    let mut keyed: Vec<(f64, usize, Delivery)> = Vec::new();
    for (r, history) in histories.into_iter().enumerate() {
        let n = history.len() as f64;
        for (j, delivery) in history.into_iter().enumerate() {
            keyed.push(((j as f64 + 0.5) / n, r, delivery));
        }
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().take(count).map(|(_, _, d)| d).collect()
}

impl Plan {
    /// The plan of `seconds` at `options.rate`.
    fn new(options: &SteadyOptions, seconds: f64) -> Plan {
        let count = (options.rate * seconds).round().max(1.0) as usize;
        let schedule = interleave(generate::deliveries(count, options.seed), count);
        Plan::of(schedule, options.sample_every)
    }

    /// The plan of sending `schedule` in order, sampling every `sample_every`th change.
    fn of(schedule: Vec<Delivery>, sample_every: usize) -> Plan {
        let mut plan = Plan {
            schedule: Vec::new(),
            repos: Vec::new(),
            changes: Vec::new(),
            samples_by_delivery: BTreeMap::new(),
            changes_of: BTreeMap::new(),
        };
        let mut repo_index: BTreeMap<String, usize> = BTreeMap::new();
        let mut stamps: Vec<Vec<DateTime<Utc>>> = Vec::new();
        let mut seen: BTreeSet<(usize, Counter, String)> = BTreeSet::new();
        for (i, delivery) in schedule.iter().enumerate() {
            let body: Value = serde_json::from_slice(&delivery.body).unwrap_or(Value::Null);
            let Some(name) = load::repo_of(&body) else {
                continue;
            };
            let repo = *repo_index.entry(name.to_string()).or_insert_with(|| {
                plan.repos.push(Repo {
                    name: name.to_string(),
                    from: NaiveDate::MIN,
                    to: NaiveDate::MIN,
                    totals: BTreeMap::new(),
                });
                stamps.push(Vec::new());
                plan.repos.len() - 1
            });
            timestamps(&body, &mut stamps[repo]);
            for (counter, item) in effect(delivery, &body) {
                if !seen.insert((repo, counter, item)) {
                    continue;
                }
                let total = plan.repos[repo].totals.entry(counter).or_default();
                *total += 1;
                let expected = *total;
                if plan.changes.len().is_multiple_of(sample_every.max(1)) {
                    let change = plan.changes.len();
                    plan.samples_by_delivery.entry(i).or_default().push(change);
                }
                let change = plan.changes.len();
                plan.changes_of
                    .entry((repo, counter))
                    .or_default()
                    .push(change);
                plan.changes.push(Change {
                    delivery: i,
                    repo,
                    counter,
                    expected,
                });
            }
        }
        for (repo, stamps) in plan.repos.iter_mut().zip(stamps) {
            let margin = chrono::Duration::days(7);
            let (min, max) = (stamps.iter().min(), stamps.iter().max());
            if let (Some(min), Some(max)) = (min, max) {
                repo.from = (*min - margin).date_naive();
                repo.to = (*max + margin).date_naive();
            }
        }
        plan.schedule = schedule;
        plan
    }

    fn samples(&self) -> usize {
        self.samples_by_delivery.values().map(Vec::len).sum()
    }

    /// What `change`'s counter must read to include it for certain, as read by a read that
    /// ended `at`: the number of its changes among the deliveries sent before `at`.
    fn needed(&self, change: &Change, timeline: &Timeline, at: Instant) -> u64 {
        let changes = self
            .changes_of
            .get(&(change.repo, change.counter))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let sent = changes.partition_point(|&c| {
            timeline.sent_at[self.changes[c].delivery].is_some_and(|sent| sent < at)
        });
        (sent as u64).max(change.expected)
    }
}

/// When each scheduled delivery was first sent.
struct Timeline {
    sent_at: Vec<Option<Instant>>,
}

/// A sampled change waiting to be seen.
#[derive(Clone, Copy)]
struct Pending {
    change: usize,
    accepted: Instant,
}

/// What became of a sample.
struct Outcome {
    change: usize,
    accepted: Instant,
    /// The end of the read that showed it; `None`: not within the timeout.
    seen: Option<Instant>,
}

/// Reads one report of a repository's window; `None` when the scope has no data yet (404).
async fn read_report(
    client: &reqwest::Client,
    base: &str,
    repo: &Repo,
    report: Report,
) -> Result<Option<Value>, String> {
    let url = format!(
        "{base}{}?scope=repo:{}&from={}&to={}",
        report.path(),
        repo.name,
        repo.from,
        repo.to
    );
    let (status, body) = api_get(client, &url).await?;
    match status {
        200 => serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| e.to_string()),
        404 => Ok(None),
        _ => Err(format!(
            "GET {url}: {status} {}",
            String::from_utf8_lossy(&body)
        )),
    }
}

/// Reads in flight at most: the probe must not become the load it measures.
const MAX_READS_IN_FLIGHT: usize = 4;

/// The prober's running state.
struct Prober {
    plan: Arc<Plan>,
    timeline: Arc<Mutex<Timeline>>,
    client: reqwest::Client,
    base: String,
    pending: Vec<Pending>,
    outcomes: Vec<Outcome>,
    /// When each (repository, report) was last read.
    last_read: BTreeMap<(usize, Report), Instant>,
    reads: u64,
    read_errors: u64,
}

impl Prober {
    fn new(
        plan: Arc<Plan>,
        timeline: Arc<Mutex<Timeline>>,
        client: reqwest::Client,
        base: String,
    ) -> Prober {
        Prober {
            plan,
            timeline,
            client,
            base,
            pending: Vec::new(),
            outcomes: Vec::new(),
            last_read: BTreeMap::new(),
            reads: 0,
            read_errors: 0,
        }
    }

    /// The reads due: a (repository, report) some sample waits on, last read at least `poll`
    /// ago, or a tenth of its youngest waiting sample's age if that is longer (so a backlog
    /// is probed less often, and the resolution stays within 10 % of what it measures).
    fn due(&self, now: Instant, poll: Duration) -> Vec<(usize, Report)> {
        let mut youngest: BTreeMap<(usize, Report), Duration> = BTreeMap::new();
        for p in &self.pending {
            let change = &self.plan.changes[p.change];
            let age = now.saturating_duration_since(p.accepted);
            let entry = youngest
                .entry((change.repo, change.counter.report()))
                .or_insert(age);
            *entry = (*entry).min(age);
        }
        youngest
            .into_iter()
            .filter(|(key, age)| {
                self.last_read
                    .get(key)
                    .is_none_or(|last| now.saturating_duration_since(*last) >= poll.max(*age / 10))
            })
            .map(|(key, _)| key)
            .collect()
    }

    /// Makes the reads that are due, [`MAX_READS_IN_FLIGHT`] at a time, and settles what they
    /// show; a sample waiting longer than `timeout` is unreflected.
    async fn round(&mut self, poll: Duration, timeout: Duration) {
        let mut wanted = self.due(Instant::now(), poll).into_iter();
        let mut reads = JoinSet::new();
        let mut seen: BTreeMap<(usize, Report), (Value, Instant)> = BTreeMap::new();
        loop {
            while reads.len() < MAX_READS_IN_FLIGHT {
                let Some((repo, report)) = wanted.next() else {
                    break;
                };
                let (plan, client, base) =
                    (self.plan.clone(), self.client.clone(), self.base.clone());
                reads.spawn(async move {
                    let answer = read_report(&client, &base, &plan.repos[repo], report).await;
                    (repo, report, answer, Instant::now())
                });
            }
            let Some(done) = reads.join_next().await else {
                break;
            };
            self.reads += 1;
            match done {
                Ok((repo, report, answer, at)) => {
                    self.last_read.insert((repo, report), at);
                    match answer {
                        Ok(answer) => {
                            seen.insert((repo, report), (answer.unwrap_or(Value::Null), at));
                        }
                        Err(e) => {
                            self.read_errors += 1;
                            if self.read_errors <= 5 {
                                eprintln!("freshness read failed (retried): {e}");
                            }
                        }
                    }
                }
                Err(e) => eprintln!("freshness read task: {e}"),
            }
        }
        self.settle(&seen, timeout);
    }

    /// Moves the samples a read showed, or that timed out, from pending to outcomes.
    fn settle(&mut self, seen: &BTreeMap<(usize, Report), (Value, Instant)>, timeout: Duration) {
        let now = Instant::now();
        let plan = self.plan.clone();
        let timeline = self.timeline.clone();
        let Ok(timeline) = timeline.lock() else {
            return;
        };
        self.pending.retain(|p| {
            let change = &plan.changes[p.change];
            let answer = seen.get(&(change.repo, change.counter.report()));
            let reflected = answer
                .filter(|(a, at)| change.counter.value(a) >= plan.needed(change, &timeline, *at));
            let outcome = match reflected {
                Some((_, at)) => Some(*at),
                None if now.duration_since(p.accepted) > timeout => None,
                None => return true,
            };
            self.outcomes.push(Outcome {
                change: p.change,
                accepted: p.accepted,
                seen: outcome,
            });
            false
        });
    }
}

/// Reads the counters of the sampled changes every `poll` until each is reflected or timed
/// out, and until the senders are done; prints progress every 10 s.
async fn probe(
    mut prober: Prober,
    mut accepted: mpsc::UnboundedReceiver<(usize, Instant)>,
    options: (Duration, Duration),
    progress: (Arc<AtomicUsize>, Arc<Mutex<PollState>>),
) -> Prober {
    let (poll, timeout) = options;
    let mut window = Window {
        started: Instant::now(),
        at: Instant::now(),
        outcomes: 0,
        polls: 0,
    };
    let mut senders_done = false;
    loop {
        loop {
            match accepted.try_recv() {
                Ok((delivery, at)) => {
                    let changes = prober.plan.samples_by_delivery.get(&delivery);
                    for &change in changes.into_iter().flatten() {
                        prober.pending.push(Pending {
                            change,
                            accepted: at,
                        });
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    senders_done = true;
                    break;
                }
            }
        }
        if senders_done && prober.pending.is_empty() {
            return prober;
        }
        let round_started = Instant::now();
        prober.round(poll, timeout).await;
        if window.at.elapsed() >= Duration::from_secs(10) {
            window.report(&prober, &progress);
        }
        tokio::time::sleep_until((round_started + poll).into()).await;
    }
}

/// The progress report's window: what happened since the last one.
struct Window {
    started: Instant,
    at: Instant,
    outcomes: usize,
    polls: usize,
}

impl Window {
    /// Prints the samples seen and the stream consumer's busy polls since the last report.
    fn report(
        &mut self,
        prober: &Prober,
        (dispatched, state): &(Arc<AtomicUsize>, Arc<Mutex<PollState>>),
    ) {
        let mut seen: Vec<f64> = prober.outcomes[self.outcomes..]
            .iter()
            .filter_map(|o| o.seen.map(|s| s.duration_since(o.accepted).as_secs_f64()))
            .collect();
        seen.sort_by(f64::total_cmp);
        let (records, polls) = state
            .lock()
            .map(|s| {
                (
                    s.records,
                    s.busy_polls[self.polls.min(s.busy_polls.len())..].to_vec(),
                )
            })
            .unwrap_or_default();
        let longest = polls.iter().map(|(ms, _)| *ms).fold(0.0, f64::max);
        let busy_s = polls.iter().map(|(ms, _)| *ms).sum::<f64>() / 1000.0;
        let most = polls.iter().map(|(_, n)| *n).max().unwrap_or(0);
        eprintln!(
            "  {:>5.1} s: {} of {} sent, {} pending; last 10 s: {} samples seen (freshness p50 {:.2} s, max {:.2} s), {} busy stream polls (busy {busy_s:.1} s, longest {longest:.0} ms, most records {most}); records handled: {records}",
            self.started.elapsed().as_secs_f64(),
            dispatched.load(Ordering::Relaxed),
            prober.plan.schedule.len(),
            prober.pending.len(),
            seen.len(),
            percentile(&seen, 0.5),
            seen.last().copied().unwrap_or(0.0),
            polls.len(),
        );
        self.outcomes = prober.outcomes.len();
        self.polls += polls.len();
        self.at = Instant::now();
    }
}

/// Sends the schedule at the steady rate; every accepted sampled delivery is announced on
/// `accepted`. Returns the senders' merged log.
async fn dispatch(
    plan: Arc<Plan>,
    client: reqwest::Client,
    base: String,
    options: &SteadyOptions,
    timeline: Arc<Mutex<Timeline>>,
    accepted: mpsc::UnboundedSender<(usize, Instant)>,
    dispatched: Arc<AtomicUsize>,
) -> Result<SenderLog, String> {
    let in_flight = Arc::new(Semaphore::new(options.senders.max(1)));
    let start = tokio::time::Instant::now();
    let mut sends = JoinSet::new();
    for i in 0..plan.schedule.len() {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / options.rate)).await;
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        if let Ok(mut t) = timeline.lock() {
            t.sent_at[i] = Some(Instant::now());
        }
        dispatched.fetch_add(1, Ordering::Relaxed);
        let (plan, client, base) = (plan.clone(), client.clone(), base.clone());
        let accepted = accepted.clone();
        let seed = options.seed.wrapping_add(i as u64 + 1);
        sends.spawn(async move {
            let mut log = SenderLog::default();
            load::deliver(
                &client,
                &base,
                &plan.schedule[i],
                &mut Rng::new(seed),
                &mut log,
            )
            .await;
            drop(permit);
            if let Some(at) = log.last_accepted() {
                let _ = accepted.send((i, at));
            }
            log
        });
    }
    drop(accepted);
    let mut log = SenderLog::default();
    while let Some(part) = sends.join_next().await {
        log.absorb(part.map_err(|e| e.to_string())?);
    }
    Ok(log)
}

mod run;
#[cfg(test)]
mod tests;

pub use run::run;
