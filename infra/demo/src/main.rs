//! `flowmeter-demo`: replays the sample org through a Flowmeter dev server and reports its
//! engineering health.
//!
//! ```text
//! flowmeter-demo config --out PATH          write the org config (FLOWMETER_CONFIG)
//! flowmeter-demo run --url URL              replay, wait for rollups, report, write the digest
//! flowmeter-demo stack --devserver BIN      start BIN on a free port, then `run` against it
//! flowmeter-demo stats                      what the generator produces, without sending it
//! ```
//!
//! Common options: `--seed N` (`DEMO_SEED`, default 2026), `--now RFC3339` (`DEMO_NOW`, default
//! the current time), `--activity X` (`DEMO_ACTIVITY`, PR rate multiplier, default 1), `--senders N`
//! (default 12), `--out DIR` (default `out`), `--keep` (`DEMO_KEEP=1`; `stack`:
//! keep the server running after the report, until Ctrl-C). Tokens and secrets come from
//! `FLOWMETER_API_TOKEN`, `FLOWMETER_ADMIN_TOKEN`, `FLOWMETER_{GITHUB,PAGERDUTY,WEBHOOK}_SECRET`
//! when set, else the demo's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flowmeter_demo::report::{self, TeamNumbers};
use flowmeter_demo::truth::quantile;
use flowmeter_demo::{generate_with, DemoDelivery, DemoOrg, Params, Secrets, DEFAULT_SEED};
use flowmeter_kit::{Retry, Sender, Sent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

const DEFAULT_API_TOKEN: &str = "demo-api-token";
const DEFAULT_ADMIN_TOKEN: &str = "demo-admin-token";

struct Options {
    command: String,
    seed: u64,
    now: DateTime<Utc>,
    activity: f64,
    url: Option<String>,
    senders: usize,
    out: PathBuf,
    config_out: Option<PathBuf>,
    devserver: Option<PathBuf>,
    log: PathBuf,
    keep: bool,
}

fn usage() -> String {
    "usage: flowmeter-demo <config --out PATH | run --url URL | stack --devserver BIN [--keep] | stats>\n\
     options: --seed N  --now RFC3339  --activity X  --senders N  --out DIR  --log PATH"
        .into()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let command = args.next().ok_or_else(usage)?;
    let mut o = Options {
        command,
        seed: match env("DEMO_SEED") {
            Some(s) => s
                .parse()
                .map_err(|_| format!("DEMO_SEED: not a number: {s}"))?,
            None => DEFAULT_SEED,
        },
        now: match env("DEMO_NOW") {
            Some(s) => parse_now(&s)?,
            None => Utc::now(),
        },
        activity: match env("DEMO_ACTIVITY") {
            Some(s) => s
                .parse()
                .map_err(|_| format!("DEMO_ACTIVITY: not a number: {s}"))?,
            None => 1.0,
        },
        url: None,
        senders: 12,
        out: PathBuf::from("out"),
        config_out: None,
        devserver: None,
        log: PathBuf::from("target/demo/devserver.log"),
        keep: env("DEMO_KEEP").is_some_and(|v| v != "0"),
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seed" => {
                let v = value()?;
                o.seed = v
                    .parse()
                    .map_err(|_| format!("--seed: not a number: {v}"))?;
            }
            "--now" => o.now = parse_now(&value()?)?,
            "--activity" => {
                let v = value()?;
                o.activity = v
                    .parse()
                    .map_err(|_| format!("--activity: not a number: {v}"))?;
            }
            "--url" => o.url = Some(value()?.trim_end_matches('/').to_string()),
            "--senders" => {
                let v = value()?;
                o.senders = v
                    .parse::<usize>()
                    .map_err(|_| format!("--senders: not a number: {v}"))?
                    .clamp(1, 64);
            }
            "--out" => o.out = PathBuf::from(value()?),
            "--config-out" => o.config_out = Some(PathBuf::from(value()?)),
            "--devserver" => o.devserver = Some(PathBuf::from(value()?)),
            "--log" => o.log = PathBuf::from(value()?),
            "--keep" => o.keep = true,
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown option {other}\n{}", usage())),
        }
    }
    Ok(o)
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("--now/DEMO_NOW: expected RFC 3339 (2026-03-02T09:00:00Z): {e}"))
}

fn secrets() -> Secrets {
    let d = Secrets::default();
    Secrets {
        github: env("FLOWMETER_GITHUB_SECRET").unwrap_or(d.github),
        pagerduty: env("FLOWMETER_PAGERDUTY_SECRET").unwrap_or(d.pagerduty),
        generic: env("FLOWMETER_WEBHOOK_SECRET").unwrap_or(d.generic),
    }
}

fn generate(o: &Options) -> DemoOrg {
    let mut params = Params::new(o.seed, o.now);
    params.activity = o.activity.clamp(0.05, 5.0);
    params.secrets = secrets();
    generate_with(&params)
}

/// Phase timings, printed at the end.
struct Phases {
    started: Instant,
    done: Vec<(String, Duration)>,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    fn record(&mut self, name: &str, since: Instant) {
        let took = since.elapsed();
        eprintln!("==> {name}: {:.1}s", took.as_secs_f64());
        self.done.push((name.to_string(), took));
    }

    fn summary(&self) -> String {
        let parts: Vec<String> = self
            .done
            .iter()
            .map(|(n, d)| format!("{n} {:.1}s", d.as_secs_f64()))
            .collect();
        format!(
            "phases: {} · total {:.1}s",
            parts.join(" · "),
            self.started.elapsed().as_secs_f64()
        )
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match options.command.as_str() {
        "config" => write_config(&options),
        "stats" => {
            stats(&options);
            Ok(())
        }
        "run" => match options.url.clone() {
            Some(url) => run(&options, &url, &mut Phases::new()).await,
            None => Err(format!("run needs --url\n{}", usage())),
        },
        "stack" => stack(&options).await,
        _ => Err(usage()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowmeter-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_config(o: &Options) -> Result<(), String> {
    let org = generate(o);
    match &o.config_out {
        Some(path) => write_file(path, org.config_yaml.as_bytes()),
        None => {
            print!("{}", org.config_yaml);
            Ok(())
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn stats(o: &Options) {
    let started = Instant::now();
    let org = generate(o);
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut bytes = 0;
    for d in &org.deliveries {
        let event = match d.github_event() {
            "" => d.delivery.path.to_string(),
            github => format!("github {github}"),
        };
        *by_kind.entry(event).or_default() += 1;
        bytes += d.delivery.body.len();
    }
    println!(
        "seed {} · {} → {} · {} deliveries ({:.1} MB) generated in {:.2}s · struggling team: {}",
        org.seed,
        org.first_week,
        org.last_week,
        org.deliveries.len(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        org.struggling_team
    );
    for (kind, n) in by_kind {
        println!("  {kind:<40} {n}");
    }
    let all_repos: Vec<String> = org.teams.iter().flat_map(|t| t.repos.clone()).collect();
    let truth = org.truth.dora(&all_repos, org.from(), org.to());
    println!(
        "  truth: {} deployments, {} attempts, {} failed, {} lead times (p50 {})",
        truth.deployments,
        truth.attempts,
        truth.failed,
        truth.lead_times.len(),
        report::duration(quantile(&truth.lead_times, 0.5))
    );
    let weeks = org.weeks();
    for team in &org.teams {
        let mut line = format!("  {:<10}", team.name);
        for w in &weeks {
            let d = org
                .truth
                .dora(&team.repos, w.monday_date(), w.sunday_date());
            let p = org
                .truth
                .pull_requests(&team.members, w.monday_date(), w.sunday_date());
            line.push_str(&format!(
                " {:>2}/{:<2}{:>5}",
                d.failed,
                d.attempts,
                report::duration(quantile(&p.pickups, 0.5))
            ));
        }
        println!("{line}");
    }
}

// ---- HTTP ---------------------------------------------------------------------------------

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    admin: String,
}

impl Api {
    async fn get(&self, path: &str, query: &str) -> Result<Value, String> {
        let url = format!("{}{path}?{query}", self.base);
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("GET {path}?{query}: {status}: {body}"));
        }
        Ok(body)
    }
}

struct ReplayStats {
    accepted: usize,
    rejected: Vec<(usize, u16, String)>,
    retries: u64,
}

/// How the replay retries: connection errors and 5xx, 8 attempts, waits doubling from 100 ms
/// to 3 s.
const RETRY: Retry = Retry {
    first_delay: Duration::from_millis(100),
    max_delay: Duration::from_secs(3),
    max_attempts: Some(8),
    deadline: None,
};

async fn replay(api: &Api, deliveries: Arc<Vec<DemoDelivery>>, senders: usize) -> ReplayStats {
    let total = deliveries.len();
    let bar =
        ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr_with_hz(5));
    if let Ok(style) = ProgressStyle::with_template(
        "  replay [{bar:36.cyan/blue}] {pos}/{len} deliveries · {per_sec} · ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let sender = Sender::new(api.http.clone(), api.base.clone(), RETRY);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (sender, deliveries, next, bar) = (
            sender.clone(),
            deliveries.clone(),
            next.clone(),
            bar.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rejected = Vec::new();
            let mut accepted = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(d) = deliveries.get(i) else { break };
                match sender.send(&d.delivery).await {
                    Sent::Accepted(_) => accepted += 1,
                    Sent::Rejected(answer) => rejected.push((i, answer.status, answer.text())),
                    Sent::GaveUp { attempts, last } => {
                        rejected.push((i, 0, format!("gave up after {attempts} attempts: {last}")))
                    }
                }
                bar.inc(1);
            }
            (accepted, rejected)
        }));
    }
    let mut stats = ReplayStats {
        accepted: 0,
        rejected: Vec::new(),
        retries: 0,
    };
    for task in tasks {
        if let Ok((accepted, rejected)) = task.await {
            stats.accepted += accepted;
            stats.rejected.extend(rejected);
        }
    }
    bar.finish_and_clear();
    stats.retries = sender.retries();
    stats
}

/// The org-wide numbers that must settle before the report is read, with what the generator
/// says they will settle at.
struct Expected {
    deployments: u64,
    attempts: u64,
    failed: u64,
    lead_times: u64,
    merged: u64,
}

fn expected(org: &DemoOrg) -> Expected {
    let repos: Vec<String> = org.teams.iter().flat_map(|t| t.repos.clone()).collect();
    let members: Vec<String> = org.teams.iter().flat_map(|t| t.members.clone()).collect();
    let dora = org.truth.dora(&repos, org.from(), org.to());
    let prs = org.truth.pull_requests(&members, org.from(), org.to());
    Expected {
        deployments: dora.deployments,
        attempts: dora.attempts,
        failed: dora.failed,
        lead_times: dora.lead_times.len() as u64,
        merged: prs.merged,
    }
}

fn observed(dora: &Value, prs: &Value) -> Expected {
    let n = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    Expected {
        deployments: n(dora, "/deployment_frequency/deployments"),
        attempts: n(dora, "/change_failure_rate/deployments"),
        failed: n(dora, "/change_failure_rate/failed"),
        lead_times: n(dora, "/lead_time/count"),
        merged: n(prs, "/merged"),
    }
}

impl Expected {
    fn matches(&self, other: &Expected) -> bool {
        (
            self.deployments,
            self.attempts,
            self.failed,
            self.lead_times,
            self.merged,
        ) == (
            other.deployments,
            other.attempts,
            other.failed,
            other.lead_times,
            other.merged,
        )
    }

    fn describe(&self) -> String {
        format!(
            "{} deployments ({} attempts, {} failed), {} lead times, {} PRs merged",
            self.deployments, self.attempts, self.failed, self.lead_times, self.merged
        )
    }
}

/// Polls the org's numbers until they equal the generator's ground truth and two consecutive
/// reads agree (the stream is idle), or until they stop changing for a while even though they
/// do not match (then says so).
async fn converge(api: &Api, org: &DemoOrg) -> Result<bool, String> {
    let period = format!("from={}&to={}", org.from(), org.to());
    let want = expected(org);
    let started = Instant::now();
    let mut last: Option<String> = None;
    let mut unchanged_since = Instant::now();
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
    if let Ok(style) = ProgressStyle::with_template("  {spinner} rollups: {msg}") {
        spinner.set_style(style);
    }
    loop {
        let dora = api.get("/v1/dora", &period).await?;
        let prs = api.get("/v1/pull-requests", &period).await?;
        let cycle = api.get("/v1/cycle-time", &period).await?;
        let fingerprint = format!("{dora}{prs}{cycle}");
        let seen = observed(&dora, &prs);
        spinner.set_message(format!(
            "{} (expecting {})",
            seen.describe(),
            want.describe()
        ));
        spinner.tick();
        if last.as_deref() == Some(fingerprint.as_str()) {
            if want.matches(&seen) && unchanged_since.elapsed() >= Duration::from_millis(900) {
                spinner.finish_and_clear();
                eprintln!("  rollups converged: {}", seen.describe());
                return Ok(true);
            }
            if unchanged_since.elapsed() >= Duration::from_secs(20) {
                spinner.finish_and_clear();
                eprintln!(
                    "  rollups stopped changing but differ from the generator's ground truth:\n    \
                     got      {}\n    expected {}",
                    seen.describe(),
                    want.describe()
                );
                return Ok(false);
            }
        } else {
            unchanged_since = Instant::now();
            last = Some(fingerprint);
        }
        if started.elapsed() > Duration::from_secs(300) {
            spinner.finish_and_clear();
            return Err("rollups did not settle within 5 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn team_numbers(
    api: &Api,
    org: &DemoOrg,
    scope: &str,
    name: &str,
) -> Result<TeamNumbers, String> {
    let weeks = org.weeks();
    let (from, to) = (org.from(), org.to());
    let recent_from = weeks
        .len()
        .checked_sub(3)
        .and_then(|i| weeks.get(i))
        .map_or(from, |w| w.monday_date());
    let earlier_to = recent_from.pred_opt().unwrap_or(from);
    let last = org.last_week;
    let previous = last.prev();
    let q = |f: chrono::NaiveDate, t: chrono::NaiveDate| format!("scope={scope}&from={f}&to={t}");
    let whole = q(from, to);
    let recent = q(recent_from, to);
    let earlier = q(from, earlier_to);
    Ok(TeamNumbers {
        name: name.to_string(),
        dora: api.get("/v1/dora", &whole).await?,
        cycle: api.get("/v1/cycle-time", &whole).await?,
        prs: api.get("/v1/pull-requests", &whole).await?,
        recent_dora: api.get("/v1/dora", &recent).await?,
        earlier_dora: api.get("/v1/dora", &earlier).await?,
        recent_prs: api.get("/v1/pull-requests", &recent).await?,
        earlier_prs: api.get("/v1/pull-requests", &earlier).await?,
        last_week_prs: api
            .get(
                "/v1/pull-requests",
                &q(last.monday_date(), last.sunday_date()),
            )
            .await?,
        previous_week_prs: api
            .get(
                "/v1/pull-requests",
                &q(previous.monday_date(), previous.sunday_date()),
            )
            .await?,
    })
}

/// `POST /dev/digest?week=…` (admin token); writes `out/digest.{html,txt}` and
/// `out/slack.json` (the Block Kit messages, posted or not).
/// Returns what it wrote and the digest's verdict: `(team, reasons)` per flagged team.
async fn digest(
    api: &Api,
    org: &DemoOrg,
    out: &Path,
) -> Result<(String, Vec<(String, String)>), String> {
    let week = org.last_week.to_string();
    let response = api
        .http
        .post(format!("{}/dev/digest?week={week}", api.base))
        .bearer_auth(&api.admin)
        .send()
        .await
        .map_err(|e| format!("POST /dev/digest: {e}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("POST /dev/digest: {e}"))?;
    if !status.is_success() {
        return Err(format!("POST /dev/digest?week={week}: {status}: {body}"));
    }
    let attention: Vec<(String, String)> = body
        .get("attention")
        .and_then(Value::as_array)
        .map(|flagged| {
            flagged
                .iter()
                .map(|a| {
                    let field = |name: &str| a[name].as_str().unwrap_or_default().to_string();
                    (field("team"), field("summary"))
                })
                .collect()
        })
        .unwrap_or_default();
    // What went to Slack, or (no webhook configured, as in the demo) what would have.
    let slack = ["slack", "slack_preview"]
        .iter()
        .filter_map(|field| body.get(field))
        .find(|messages| messages.as_array().is_some_and(|m| !m.is_empty()))
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    let pretty = serde_json::to_string_pretty(&slack).map_err(|e| e.to_string())?;
    write_file(&out.join("slack.json"), pretty.as_bytes())?;
    let mut html = body.get("html").and_then(Value::as_str).map(str::to_string);
    let mut text = body.get("text").and_then(Value::as_str).map(str::to_string);
    if let (None, Some(id), Some(ses)) = (
        &html,
        body.get("email_message_id").and_then(Value::as_str),
        env("FLOWMETER_SES_ENDPOINT"),
    ) {
        // The email went to the SES emulator; its store has the bodies.
        let store: Value = api
            .http
            .get(format!("{ses}/store"))
            .send()
            .await
            .map_err(|e| format!("SES emulator store: {e}"))?
            .json()
            .await
            .map_err(|e| format!("SES emulator store: {e}"))?;
        if let Some(email) = store
            .get("emails")
            .and_then(Value::as_array)
            .and_then(|emails| emails.iter().find(|e| e["messageId"] == id))
        {
            html = email
                .pointer("/body/html")
                .and_then(Value::as_str)
                .map(str::to_string);
            text = email
                .pointer("/body/text")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
    }
    let mut written = vec![out.join("slack.json").display().to_string()];
    if let Some(html) = html {
        write_file(&out.join("digest.html"), html.as_bytes())?;
        written.push(out.join("digest.html").display().to_string());
    }
    if let Some(text) = text {
        write_file(&out.join("digest.txt"), text.as_bytes())?;
        written.push(out.join("digest.txt").display().to_string());
    }
    Ok((
        format!("digest of {week} written: {}", written.join(", ")),
        attention,
    ))
}

async fn run(o: &Options, url: &str, phases: &mut Phases) -> Result<(), String> {
    let t = Instant::now();
    let org = generate(o);
    let bytes: usize = org.deliveries.iter().map(|d| d.delivery.body.len()).sum();
    eprintln!(
        "  sample org (seed {}): 4 teams, 22 engineers, 12 repos, 3 services, {} → {}: {} deliveries ({:.1} MB)",
        org.seed,
        org.first_week,
        org.last_week,
        org.deliveries.len(),
        bytes as f64 / 1e6
    );
    phases.record("generate", t);

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let api = Api {
        http,
        base: url.to_string(),
        token: env("FLOWMETER_API_TOKEN").unwrap_or_else(|| DEFAULT_API_TOKEN.into()),
        admin: env("FLOWMETER_ADMIN_TOKEN").unwrap_or_else(|| DEFAULT_ADMIN_TOKEN.into()),
    };
    api.get("/v1/teams", "")
        .await
        .map_err(|e| format!("the dev server at {url} does not answer the read API: {e}"))?;

    let t = Instant::now();
    let deliveries = Arc::new(
        flowmeter_demo::replay_order(&org.deliveries)
            .into_iter()
            .cloned()
            .collect::<Vec<_>>(),
    );
    let stats = replay(&api, deliveries, o.senders).await;
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "  replayed {} deliveries with {} senders: {} accepted, {} rejected, {} retries ({:.0}/s)",
        org.deliveries.len(),
        o.senders,
        stats.accepted,
        stats.rejected.len(),
        stats.retries,
        org.deliveries.len() as f64 / secs.max(0.001)
    );
    for (i, status, body) in stats.rejected.iter().take(5) {
        eprintln!("    delivery {i}: {status} {body}");
    }
    phases.record("replay", t);
    if !stats.rejected.is_empty() {
        return Err(format!("{} deliveries were rejected", stats.rejected.len()));
    }

    let t = Instant::now();
    let matched = converge(&api, &org).await?;
    phases.record("converge", t);

    // The digest first: the report shows its needs-attention verdict.
    let t = Instant::now();
    let (note, attention) = digest(&api, &org, &o.out).await?;
    eprintln!("  {note}");
    phases.record("digest", t);

    let t = Instant::now();
    let mut teams = Vec::new();
    for team in &org.teams {
        teams.push(team_numbers(&api, &org, &format!("team:{}", team.name), &team.name).await?);
    }
    teams.push(team_numbers(&api, &org, "org", "org").await?);
    let title = format!(
        "Engineering health · {} · {} → {} ({} weeks, {})",
        flowmeter_demo::spec::ORG,
        org.first_week,
        org.last_week,
        org.weeks().len(),
        flowmeter_demo::spec::TIMEZONE_NAME
    );
    let text = report::render(
        &title,
        &teams,
        &org.last_week.to_string(),
        &org.last_week.prev().to_string(),
        Some(&attention),
    );
    println!("\n{text}");
    let named = attention
        .iter()
        .any(|(team, _)| *team == org.struggling_team);
    println!(
        "The sample org's struggling team is {}: the digest {}.",
        org.struggling_team,
        if named {
            "names it"
        } else {
            "does NOT name it"
        }
    );
    if matched {
        println!("Pipeline check: the org's deployments, failures, lead times and merged PRs equal the generator's ground truth.");
    }
    phases.record("report", t);
    if !matched {
        return Err("the rollups differ from the generator's ground truth (see above)".into());
    }
    Ok(())
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    Ok(port)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Starts the dev server (the emulators are already up: `infra/with-emulators.sh` runs this),
/// replays and reports, and stops the server (or keeps it with `--keep`).
async fn stack(o: &Options) -> Result<(), String> {
    let mut phases = Phases::new();
    let devserver = o
        .devserver
        .clone()
        .ok_or_else(|| format!("stack needs --devserver\n{}", usage()))?;
    if env("FLOWMETER_DYNAMODB_ENDPOINT").is_none() {
        return Err(
            "FLOWMETER_DYNAMODB_ENDPOINT is not set: run under infra/with-emulators.sh (make demo)"
                .into(),
        );
    }
    let t = Instant::now();
    let org = generate(o);
    let config_path = o
        .log
        .parent()
        .map_or(PathBuf::from("flowmeter-demo.yaml"), |d| {
            d.join("flowmeter-demo.yaml")
        });
    write_file(&config_path, org.config_yaml.as_bytes())?;
    let port = match env("FLOWMETER_PORT") {
        Some(p) => p.parse().map_err(|_| format!("FLOWMETER_PORT: {p}"))?,
        None => free_port()?,
    };
    let s = secrets();
    let api_token = env("FLOWMETER_API_TOKEN").unwrap_or_else(|| DEFAULT_API_TOKEN.into());
    let admin_token = env("FLOWMETER_ADMIN_TOKEN").unwrap_or_else(|| DEFAULT_ADMIN_TOKEN.into());
    if let Some(dir) = o.log.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let log = std::fs::File::create(&o.log).map_err(|e| format!("{}: {e}", o.log.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(&devserver)
        .env("FLOWMETER_PORT", port.to_string())
        .env("FLOWMETER_GITHUB_SECRET", &s.github)
        .env("FLOWMETER_PAGERDUTY_SECRET", &s.pagerduty)
        .env("FLOWMETER_WEBHOOK_SECRET", &s.generic)
        .env("FLOWMETER_API_TOKEN", &api_token)
        .env("FLOWMETER_ADMIN_TOKEN", &admin_token)
        .env("FLOWMETER_CONFIG", &config_path)
        .env(
            "TABLE_NAME",
            env("TABLE_NAME").unwrap_or_else(|| "flowmeter".into()),
        )
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", devserver.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the dev server exited ({status}) before answering; last lines of {}:\n{}",
                o.log.display(),
                tail(&o.log, 20)
            ));
        }
        if let Ok(r) = http.get(format!("{url}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill().await;
            return Err(format!("the dev server did not answer on {url} within 60s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("  dev server on {url} (log: {})", o.log.display());
    phases.record("start dev server", t);

    let result = run(o, &url, &mut phases).await;

    if o.keep && result.is_ok() {
        let period = format!("from={}&to={}", org.from(), org.to());
        eprintln!(
            "\nThe stack keeps running with the demo data loaded (Ctrl-C stops it). Try:\n  \
             curl -s -H 'Authorization: Bearer {api_token}' '{url}/v1/dora?scope=team:{}&{period}'\n  \
             curl -s -H 'Authorization: Bearer {api_token}' '{url}/v1/pull-requests?scope=org&{period}'\n  \
             curl -s -H 'Authorization: Bearer {api_token}' '{url}/v1/incidents?scope=service:checkout&{period}'\n  \
             curl -s -H 'Authorization: Bearer {api_token}' '{url}/metrics'\n  \
             admin token: {admin_token} · config: {}",
            org.struggling_team,
            config_path.display()
        );
        wait_for_signal().await;
    }
    stop(&mut child).await;
    eprintln!("{}", phases.summary());
    result
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// SIGTERM (the dev server shuts down cleanly on it), then SIGKILL after 5 s.
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}
