//! Read path at scale: two tables whose rollups stand for a history of 1,000 and of 1,000,000
//! events (folded members), and `GET /v1/dora` for a 13-week team over HTTP against each,
//! interleaved so both see the same machine. A read touches `scopes × weeks` rollup keys, never
//! events, so its time should not depend on the history's size; the ratio of the medians says
//! whether it does.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use flowmeter::derive::{Bucket, MemberData, Rollup, Scope};
use flowmeter::time::{weeks_between, IsoWeek};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::generate::Rng;
use crate::profile;
use crate::server::{api_get, Server};
use crate::Stores;

const TEAM_REPOS: usize = 5;
const FROM: &str = "2026-07-06";
const TO: &str = "2026-10-04";

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap_or_default()
}

/// A plausible member: PRs merged and opened, lead times, deployments, incidents.
fn member(rng: &mut Rng, monday: NaiveDate) -> MemberData {
    let hours = |rng: &mut Rng, lo: i64, hi: i64| rng.range(lo * 60, hi * 60) as f64 * 60.0;
    match rng.range(0, 99) {
        0..=34 => MemberData::PrMerged {
            coding: Some(hours(rng, 1, 72)),
            pickup: Some(hours(rng, 0, 24)),
            review: Some(hours(rng, 0, 48)),
            deploy: rng.chance(80).then(|| hours(rng, 0, 24)),
            total: hours(rng, 2, 200),
            first_time_pass: rng.chance(70),
            comments: rng.range(0, 12) as u32,
            size: rng.range(1, 2000) as u64,
        },
        35..=59 => MemberData::PrOpened,
        60..=79 => MemberData::LeadTime {
            seconds: hours(rng, 1, 240),
        },
        80..=94 => MemberData::Deployment {
            success: rng.chance(85),
            failed: rng.chance(12),
            day: monday + chrono::Duration::days(rng.range(0, 6)),
            rework: rng.chance(5),
            recovery: rng.chance(10).then(|| hours(rng, 0, 12)),
        },
        95..=97 => MemberData::IncidentOpened {
            service: "payments".into(),
            severity: Some("sev2".into()),
        },
        _ => MemberData::IncidentResolved {
            service: "payments".into(),
            mttr: hours(rng, 0, 24),
        },
    }
}

struct Layout {
    events: usize,
    repos: usize,
    weeks: Vec<IsoWeek>,
}

fn layout(events: usize) -> Layout {
    let query = weeks_between(date(FROM), date(TO));
    if events <= 13 * TEAM_REPOS * 100 {
        // Only the team's repos over the queried weeks.
        return Layout {
            events,
            repos: TEAM_REPOS,
            weeks: query,
        };
    }
    // Two years of 500 repositories, ending with the queried weeks.
    let mut weeks = query.clone();
    while weeks.len() < 104 {
        let first = weeks[0].prev();
        weeks.insert(0, first);
    }
    Layout {
        events,
        repos: 500,
        weeks,
    }
}

fn repo(index: usize) -> String {
    if index < TEAM_REPOS {
        format!("bench/team-{index}")
    } else {
        format!("bench/repo-{index}")
    }
}

/// Puts one rollup on a task of its own (the fill keeps 16 in flight).
fn spawn_put(
    tasks: &mut JoinSet<Result<(), String>>,
    stores: &Stores,
    bucket: Bucket,
    rollup: Rollup,
) {
    let store = stores.admin.clone();
    tasks.spawn(async move {
        store
            .put_rollup_if(&bucket, None, &rollup)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

/// Writes the rollups of a layout: one per repo and week, plus the org's per week.
async fn fill(stores: &Stores, layout: &Layout) -> Result<(usize, f64), String> {
    let started = Instant::now();
    let config = format!(
        "org: bench\nteams:\n  payments:\n    repos: [{}]\n",
        (0..TEAM_REPOS).map(repo).collect::<Vec<_>>().join(", ")
    );
    stores
        .admin
        .put_config(&config)
        .await
        .map_err(|e| e.to_string())?;
    let cells = layout.repos * layout.weeks.len();
    let mut rng = Rng::new(layout.events as u64);
    let mut written = 0;
    let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
    let mut left = layout.events;
    for (w, week) in layout.weeks.iter().enumerate() {
        let mut org = Rollup::default();
        for r in 0..layout.repos {
            let cell = w * layout.repos + r;
            let count = left / (cells - cell);
            left -= count;
            let members: Vec<MemberData> = (0..count)
                .map(|_| member(&mut rng, week.monday_date()))
                .collect();
            let rollup = Rollup::from_members(&members);
            org.merge(&rollup);
            let bucket = Bucket {
                scope: Scope::Repo(repo(r)),
                week: *week,
            };
            while tasks.len() >= 16 {
                if let Some(done) = tasks.join_next().await {
                    done.map_err(|e| e.to_string())??;
                }
            }
            spawn_put(&mut tasks, stores, bucket, rollup);
            written += 1;
        }
        let bucket = Bucket {
            scope: Scope::Org,
            week: *week,
        };
        spawn_put(&mut tasks, stores, bucket, org);
        written += 1;
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok((written, started.elapsed().as_secs_f64()))
}

struct Target {
    label: String,
    events: usize,
    stores: Stores,
    server: Server,
    times_ms: Vec<f64>,
}

async fn get(client: &reqwest::Client, target: &Target) -> Result<(f64, Value), String> {
    let url = format!(
        "http://{}/v1/dora?scope=team:payments&from={FROM}&to={TO}",
        target.server.address
    );
    let started = Instant::now();
    let (status, body) = api_get(client, &url).await?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if status != 200 {
        return Err(format!(
            "{}: GET /v1/dora answered {status}: {}",
            target.label,
            String::from_utf8_lossy(&body)
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok((elapsed, value))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[sorted.len() / 2]
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The two tables, filled, each with its own server.
async fn prepare_targets(big_events: usize) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for (label, events) in [("1k", 1_000), ("big", big_events)] {
        let stores = Stores::create(&format!("read-{label}")).await?;
        let layout = layout(events);
        let (written, seconds) = fill(&stores, &layout).await?;
        eprintln!(
            "{label}: {events} events as {written} rollup items ({} repos x {} weeks + org) written in {seconds:.1} s",
            layout.repos,
            layout.weeks.len()
        );
        let server = Server::start(stores.read.clone(), stores.read.clone()).await?;
        targets.push(Target {
            label: label.to_string(),
            events,
            stores,
            server,
            times_ms: Vec::new(),
        });
    }
    Ok(targets)
}

/// Warms both up (JIT of DynamoDB Local, connection pools, config caches), shows an answer,
/// then zeroes their read meters and profiles.
async fn warm_up(client: &reqwest::Client, targets: &[Target]) -> Result<(), String> {
    for target in targets {
        for _ in 0..30 {
            get(client, target).await?;
        }
        let (_, answer) = get(client, target).await?;
        eprintln!(
            "{}: answer sample: {}",
            target.label,
            answer.to_string().chars().take(300).collect::<String>()
        );
        target.stores.read_profile.reset();
        target
            .stores
            .read
            .meter
            .read_milli
            .store(0, Ordering::Relaxed);
        target
            .stores
            .read
            .meter
            .requests
            .store(0, Ordering::Relaxed);
    }
    Ok(())
}

/// Prints a target's timings, requests and capacity per read and its profile; returns its
/// median.
fn report_target(target: &Target) -> f64 {
    let requests_made = target.stores.read.meter.requests.load(Ordering::Relaxed);
    let rcu = target.stores.read.meter.read_milli.load(Ordering::Relaxed) as f64 / 1000.0;
    let m = median(&target.times_ms);
    eprintln!(
        "{}: {} events: GET /v1/dora (team of {TEAM_REPOS} repos, 13 weeks) x{}: median {m:.2} ms, p90 {:.2} ms, p99 {:.2} ms; per request {:.2} DynamoDB requests, {:.2} RCU",
        target.label,
        target.events,
        target.times_ms.len(),
        quantile(&target.times_ms, 0.9),
        quantile(&target.times_ms, 0.99),
        requests_made as f64 / target.times_ms.len() as f64,
        rcu / target.times_ms.len() as f64,
    );
    eprint!(
        "{}",
        profile::render(
            &format!("{} read side", target.label),
            &target.stores.read_profile.snapshot(),
            target.times_ms.len()
        )
    );
    m
}

pub async fn run(requests: usize, big_events: usize) -> Result<bool, String> {
    crate::wait_ready().await?;
    let mut targets = prepare_targets(big_events).await?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    warm_up(&client, &targets).await?;
    // Interleaved, so drift hits both alike.
    for _ in 0..requests {
        for target in targets.iter_mut() {
            let (ms, _) = get(&client, target).await?;
            target.times_ms.push(ms);
        }
    }
    let medians: Vec<f64> = targets.iter().map(report_target).collect();
    let ratio = medians[1] / medians[0].max(1e-9);
    println!(
        "{}",
        json!({
            "small_events": targets[0].events,
            "big_events": targets[1].events,
            "requests": requests,
            "small_median_ms": (medians[0] * 100.0).round() / 100.0,
            "big_median_ms": (medians[1] * 100.0).round() / 100.0,
            "ratio": (ratio * 1000.0).round() / 1000.0,
        })
    );
    for target in targets {
        target.server.stop().await;
    }
    Ok(ratio <= 1.2)
}
