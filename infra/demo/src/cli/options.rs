//! The command line: options, flags and the environment variables that stand for them.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use flowmeter_demo::{generate_with, DemoOrg, Params, Secrets, DEFAULT_SEED};

pub(crate) struct Options {
    pub(crate) command: String,
    pub(crate) seed: u64,
    pub(crate) now: DateTime<Utc>,
    pub(crate) activity: f64,
    pub(crate) url: Option<String>,
    pub(crate) senders: usize,
    pub(crate) out: PathBuf,
    pub(crate) config_out: Option<PathBuf>,
    pub(crate) devserver: Option<PathBuf>,
    pub(crate) log: PathBuf,
    pub(crate) keep: bool,
    /// GitHub history by backfill from the REST API emulation instead of by webhook.
    pub(crate) backfill: bool,
    /// Without the live step (`cli/live.rs`): no deliveries of what happens now.
    pub(crate) no_live: bool,
}

pub(crate) fn usage() -> String {
    "usage: flowmeter-demo <config --out PATH | run --url URL | stack --devserver BIN [--keep] [--backfill] [--no-live] | stats>\n\
     options: --seed N  --now RFC3339  --activity X  --senders N  --out DIR  --log PATH"
        .into()
}

pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub(crate) fn parse_args() -> Result<Options, String> {
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
        backfill: env("DEMO_BACKFILL").is_some_and(|v| v != "0"),
        no_live: env("DEMO_NO_LIVE").is_some_and(|v| v != "0"),
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
            "--backfill" => o.backfill = true,
            "--no-live" => o.no_live = true,
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

pub(crate) fn secrets() -> Secrets {
    let d = Secrets::default();
    Secrets {
        github: env("FLOWMETER_GITHUB_SECRET").unwrap_or(d.github),
        pagerduty: env("FLOWMETER_PAGERDUTY_SECRET").unwrap_or(d.pagerduty),
        generic: env("FLOWMETER_WEBHOOK_SECRET").unwrap_or(d.generic),
        jira: env("FLOWMETER_JIRA_SECRET").unwrap_or(d.jira),
        jira_token: env("FLOWMETER_JIRA_TOKEN").unwrap_or(d.jira_token),
        linear: env("FLOWMETER_LINEAR_SECRET").unwrap_or(d.linear),
        gitlab: env("FLOWMETER_GITLAB_TOKEN").unwrap_or(d.gitlab),
        argocd: env("FLOWMETER_ARGOCD_TOKEN").unwrap_or(d.argocd),
    }
}

pub(crate) fn generate(o: &Options) -> DemoOrg {
    let mut params = Params::new(o.seed, o.now);
    params.activity = o.activity.clamp(0.05, 5.0);
    params.secrets = secrets();
    generate_with(&params)
}

/// The read API's token: `FLOWMETER_API_TOKEN`, else the demo's.
pub(crate) fn api_token() -> String {
    env("FLOWMETER_API_TOKEN").unwrap_or_else(|| "demo-api-token".into())
}

/// The admin token (`POST /dev/digest`): `FLOWMETER_ADMIN_TOKEN`, else the demo's.
pub(crate) fn admin_token() -> String {
    env("FLOWMETER_ADMIN_TOKEN").unwrap_or_else(|| "demo-admin-token".into())
}
