//! Waiting for the rollups: the org's numbers polled until they equal the generator's ground
//! truth.

use std::time::{Duration, Instant};

use flowmeter_demo::DemoOrg;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::api::Api;

/// The org-wide numbers that must settle before the report is read, with what the generator
/// says they will settle at.
#[derive(PartialEq, Eq)]
struct Expected {
    deployments: u64,
    attempts: u64,
    failed: u64,
    lead_times: u64,
    merged: u64,
    /// Started tickets done, and shipped, in the period (their cycle and lead times).
    tickets_done: u64,
    tickets_shipped: u64,
    /// Security alerts open at the end, and fixed in the period.
    alerts_open: u64,
    alerts_fixed: u64,
}

fn expected(org: &DemoOrg) -> Expected {
    let repos: Vec<String> = org.teams.iter().flat_map(|t| t.repos.clone()).collect();
    let members: Vec<String> = org.teams.iter().flat_map(|t| t.members.clone()).collect();
    let dora = org.truth.dora(&repos, org.from(), org.to());
    let prs = org.truth.pull_requests(&members, org.from(), org.to());
    let tickets: Vec<_> = org
        .teams
        .iter()
        .map(|t| org.truth.tickets(&t.name, org.from(), org.to()))
        .collect();
    let (alerts_open, alerts_fixed) = org.truth.security(&repos, org.from(), org.to());
    Expected {
        alerts_open,
        alerts_fixed,
        deployments: dora.deployments,
        attempts: dora.attempts,
        failed: dora.failed,
        lead_times: dora.lead_times.len() as u64,
        merged: prs.merged,
        tickets_done: tickets.iter().map(|t| t.done).sum(),
        tickets_shipped: tickets.iter().map(|t| t.lead_times.len() as u64).sum(),
    }
}

fn observed(dora: &Value, prs: &Value, tickets: &Value, security: &Value) -> Expected {
    let n = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let open = ["critical", "high", "medium", "low"]
        .iter()
        .map(|s| n(security, &format!("/totals/open/{s}")))
        .sum();
    Expected {
        alerts_open: open,
        alerts_fixed: n(security, "/totals/fixed"),
        deployments: n(dora, "/deployment_frequency/deployments"),
        attempts: n(dora, "/change_failure_rate/deployments"),
        failed: n(dora, "/change_failure_rate/failed"),
        lead_times: n(dora, "/lead_time/count"),
        merged: n(prs, "/merged"),
        tickets_done: n(tickets, "/cycle_time/measured"),
        tickets_shipped: n(tickets, "/lead_time/measured"),
    }
}

impl Expected {
    fn describe(&self) -> String {
        format!(
            "{} deployments ({} attempts, {} failed), {} lead times, {} PRs merged, {} tickets done, {} shipped, {} security alerts open, {} fixed",
            self.deployments,
            self.attempts,
            self.failed,
            self.lead_times,
            self.merged,
            self.tickets_done,
            self.tickets_shipped,
            self.alerts_open,
            self.alerts_fixed
        )
    }
}

/// Polls the org's numbers until they equal the generator's ground truth and two consecutive
/// reads agree (the stream is idle), or until they stop changing for a while even though they
/// do not match (then says so).
pub(crate) async fn converge(api: &Api, org: &DemoOrg) -> Result<bool, String> {
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
        let tickets = api.get("/v1/tickets", &period).await?;
        let security = api.get("/v1/security", &period).await?;
        // Its totals only: its `at` and ages are the time of asking, not a change.
        let fingerprint = format!("{dora}{prs}{cycle}{tickets}{}", security["totals"]);
        let seen = observed(&dora, &prs, &tickets, &security);
        spinner.set_message(format!(
            "{} (expecting {})",
            seen.describe(),
            want.describe()
        ));
        spinner.tick();
        if last.as_deref() == Some(fingerprint.as_str()) {
            if want == seen && unchanged_since.elapsed() >= Duration::from_millis(900) {
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
