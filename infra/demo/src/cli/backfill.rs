//! `--backfill`: the demo's second way in. The org's GitHub history is served by the test
//! kit's GitHub REST API emulation (folded from the very deliveries the webhook replay sends)
//! and read by the dev server's backfill (`POST /v1/backfill`), while PagerDuty and the CI
//! still arrive by webhook; the rollups must then equal the same ground truth.

use std::time::{Duration, Instant};

use flowmeter_demo::{DemoDelivery, DemoOrg};
use flowmeter_kit::github_api::{GitHubApi, Limits, RestHistory};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::api::Api;

/// The token the emulation accepts, handed to the dev server as `FLOWMETER_GITHUB_TOKEN`.
pub(crate) const GITHUB_TOKEN: &str = "test-token";

pub(crate) fn is_github(d: &DemoDelivery) -> bool {
    !d.github_event().is_empty()
}

/// Serves the org's GitHub history on a free local port.
pub(crate) async fn serve_history(org: &DemoOrg) -> Result<GitHubApi, String> {
    let bodies: Vec<(String, Value)> = org
        .deliveries
        .iter()
        .filter(|d| is_github(d))
        .map(|d| {
            serde_json::from_slice(&d.delivery.body)
                .map(|body| (d.github_event().to_string(), body))
                .map_err(|e| format!("a demo delivery is not JSON: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let history = RestHistory::from_webhooks(bodies.iter().map(|(e, b)| (e.as_str(), b)));
    GitHubApi::start(history, Limits::default())
        .await
        .map_err(|e| format!("cannot serve the GitHub REST API emulation: {e}"))
}

/// Starts the backfill of every configured repository from a week before the history, and
/// follows `GET /v1/backfill` until it ends; the line of figures it printed.
pub(crate) async fn backfill(api: &Api, org: &DemoOrg) -> Result<String, String> {
    let since = org.from() - chrono::Days::new(7);
    let started = api
        .post_admin("/v1/backfill", &serde_json::json!({ "since": since }))
        .await?;
    let id = started["id"].as_str().unwrap_or_default().to_string();
    let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr_with_hz(5));
    if let Ok(style) = ProgressStyle::with_template("  backfill [{bar:30}] {pos}/{len} PRs · {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let t = Instant::now();
    let job = loop {
        let job = api.get("/v1/backfill", &format!("id={id}")).await?;
        let n = |p: &str| job.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        bar.set_length(n("/pull_requests_found").max(1));
        bar.set_position(n("/pull_requests_read"));
        bar.set_message(format!(
            "{} requests · {} rate-limit waits",
            n("/counters/requests"),
            n("/counters/rate_limit_waits")
        ));
        if job["state"] != "running" {
            break job;
        }
        if t.elapsed() > Duration::from_secs(600) {
            return Err(format!("backfill {id} still running after 10 minutes"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    if job["state"] != "done" || job["errors"] != serde_json::json!({}) {
        return Err(format!(
            "backfill {id} ended {}: {}",
            job["state"], job["errors"]
        ));
    }
    let n = |p: &str| job.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let (prs, requests) = (n("/pull_requests_read"), n("/counters/requests"));
    Ok(format!(
        "backfilled {} repos: {prs} PRs in {requests} requests ({:.2} per PR), {secs:.1}s ({:.1} PRs/s)",
        job["repos"].as_array().map_or(0, Vec::len),
        requests as f64 / prs.max(1) as f64,
        prs as f64 / secs.max(0.001)
    ))
}
