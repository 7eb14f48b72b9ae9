//! `flowmeter-load`: load, fault and read-path benchmarks against DynamoDB Local.
//!
//! ```text
//! flowmeter-load run        [--deliveries N] [--senders N] [--seed N]   (make load; under with-emulators.sh)
//! flowmeter-load run        --rate R --seconds S [--warmup-s W] [--stream-window-ms W]
//!                           [--sample-every N] [--poll-ms M] [--timeout-s T] [--senders N]
//!                           [--seed N]                                (steady rate and freshness)
//! flowmeter-load faults     [--deliveries N] [--outage-at F] [--outage-s S]  (make load-faults; starts its own DynamoDB Local)
//! flowmeter-load read-bench [--requests N]                               (make bench; under with-emulators.sh)
//! ```
//!
//! `run` and `faults` print their findings on stderr and, as the last line on stdout, one JSON
//! object: `deliveries`, `duplicates`, `lost`, `throughput_per_s`, `p50_ms`, `p99_ms`,
//! `wcu_per_delivery`, `rcu_per_delivery`, `convergence_s`, `rollups_equal_recompute`. The exit
//! status is non-zero when a check failed (a lost or extra fact, a rollup that is not its
//! recomputation, a rejected delivery, a 2xx during the outage).
//!
//! `run --rate R` is the steady-rate mode instead (`freshness`): `R × S` deliveries sent once
//! each at `R` a second, and how long after its 202 a sampled delivery shows in the read API.
//! Its JSON line adds `freshness_*` figures to the same kind of checks.

mod ddb;
mod freshness;
mod generate;
mod load;
mod profile;
mod readbench;
mod server;
mod verify;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use flowmeter_edge::schema::{create_table, TEMPLATE};
use flowmeter_edge::store::Store;

use crate::profile::{Profile, Profiler};

/// The stores of one run. Each side has its own `Store` (so its own `Meter`) over its own client
/// (so its own profile).
#[derive(Clone)]
pub struct Stores {
    pub webhook: Store,
    pub rollup: Store,
    pub read: Store,
    /// Setup and verification; not counted.
    pub admin: Store,
    pub webhook_profile: Arc<Profile>,
    pub rollup_profile: Arc<Profile>,
    pub read_profile: Arc<Profile>,
}

async fn client(profile: &Arc<Profile>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Ok(endpoint) = std::env::var("FLOWMETER_DYNAMODB_ENDPOINT") {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&shared)
        .interceptor(Profiler(profile.clone()))
        .build();
    Client::from_conf(config)
}

impl Stores {
    /// A fresh table (from template.yaml) and the stores over it.
    pub async fn create(label: &str) -> Result<Stores, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let table = format!("{label}-{}-{nanos}", std::process::id());
        let (webhook_profile, rollup_profile, read_profile) = (
            Arc::new(Profile::default()),
            Arc::new(Profile::default()),
            Arc::new(Profile::default()),
        );
        let admin_profile = Arc::new(Profile::default());
        let stores = Stores {
            webhook: Store::new(client(&webhook_profile).await, &table),
            rollup: Store::new(client(&rollup_profile).await, &table),
            read: Store::new(client(&read_profile).await, &table),
            admin: Store::new(client(&admin_profile).await, &table),
            webhook_profile,
            rollup_profile,
            read_profile,
        };
        create_table(&stores.admin, TEMPLATE)
            .await
            .map_err(|e| format!("create table {table}: {e}"))?;
        Ok(stores)
    }
}

struct Args {
    command: String,
    values: Vec<(String, String)>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut raw = std::env::args().skip(1);
        let command = raw.next().unwrap_or_else(|| "run".into());
        let mut values = Vec::new();
        while let Some(name) = raw.next() {
            let Some(name) = name.strip_prefix("--") else {
                return Err(format!("unexpected argument {name}"));
            };
            let value = raw
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            values.push((name.to_string(), value));
        }
        Ok(Args { command, values })
    }

    fn has(&self, name: &str) -> bool {
        self.values.iter().any(|(n, _)| n == name)
    }

    fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => v.parse().map_err(|_| format!("--{name}: bad value {v}")),
            None => Ok(default),
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

fn main() {
    let code = match real_main() {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("flowmeter-load: {e}");
            2
        }
    };
    std::process::exit(code);
}

fn real_main() -> Result<bool, String> {
    let args = Args::parse()?;
    // The fault run owns its DynamoDB Local; the endpoint must be in the environment before any
    // thread starts (the stream poller reads it from there).
    let ddb = if args.command == "faults" {
        let mut ddb = ddb::DynamoDbLocal::new(&repo_root())?;
        ddb.start()?;
        std::env::set_var("FLOWMETER_DYNAMODB_ENDPOINT", ddb.endpoint());
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_REGION", "us-east-1"),
        ] {
            std::env::set_var(name, value);
        }
        eprintln!("DynamoDB Local (on disk, -dbPath) on {}", ddb.endpoint());
        Some(Arc::new(Mutex::new(ddb)))
    } else {
        if std::env::var("FLOWMETER_DYNAMODB_ENDPOINT").is_err() {
            return Err(
                "FLOWMETER_DYNAMODB_ENDPOINT is not set: run under infra/with-emulators.sh (make load)"
                    .into(),
            );
        }
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = runtime.block_on(async {
        match args.command.as_str() {
            "run" if args.has("rate") => {
                let options = steady_options(&args)?;
                wait_ready().await?;
                let stores = Stores::create("steady").await?;
                let (line, passed) = freshness::run(&stores, &options).await?;
                println!("{line}");
                Ok(passed)
            }
            "run" | "faults" => {
                let options = load::Options {
                    deliveries: args.get("deliveries", 10_000)?,
                    senders: args.get("senders", 32)?,
                    seed: args.get("seed", 42)?,
                    outage_at: args.get("outage-at", 0.4)?,
                    outage: Duration::from_secs_f64(args.get("outage-s", 3.0)?),
                };
                wait_ready().await?;
                let stores = Stores::create("load").await?;
                let (line, passed) = load::run(&stores, &options, ddb.clone()).await?;
                println!("{line}");
                Ok(passed)
            }
            "read-bench" => {
                readbench::run(args.get("requests", 200)?, args.get("events", 1_000_000)?).await
            }
            other => Err(format!("unknown command {other} (run, faults, read-bench)")),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    if let Some(ddb) = ddb {
        if let Ok(mut d) = ddb.lock() {
            d.kill();
        }
    }
    result
}

/// The steady-rate mode's options: `--rate` deliveries a second for `--seconds`.
fn steady_options(args: &Args) -> Result<freshness::SteadyOptions, String> {
    let options = freshness::SteadyOptions {
        rate: args.get("rate", 50.0)?,
        seconds: args.get("seconds", 120.0)?,
        seed: args.get("seed", 42)?,
        senders: args.get("senders", 32)?,
        sample_every: args.get("sample-every", 4)?,
        poll: Duration::from_millis(args.get("poll-ms", 100)?),
        timeout: Duration::from_secs_f64(args.get("timeout-s", 60.0)?),
        warmup: args.get("warmup-s", 0.0)?,
        stream_window: Duration::from_millis(args.get("stream-window-ms", 0)?),
    };
    let bounded = |x: f64, lo: f64, hi: f64| x.is_finite() && (lo..=hi).contains(&x);
    if !bounded(options.rate, 0.1, 2000.0)
        || !bounded(options.seconds, 1.0, 3600.0)
        || !bounded(options.warmup, 0.0, 3600.0)
    {
        return Err("--rate must be 0.1..=2000, --seconds 1..=3600, --warmup-s 0..=3600".into());
    }
    if options.rate * options.seconds > 1_000_000.0 {
        return Err("--rate x --seconds: at most 1,000,000 deliveries".into());
    }
    Ok(options)
}

/// Waits until DynamoDB Local answers.
async fn wait_ready() -> Result<(), String> {
    let profile = Arc::new(Profile::default());
    let client = client(&profile).await;
    for _ in 0..600 {
        if client.list_tables().send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("DynamoDB Local does not answer".into())
}
