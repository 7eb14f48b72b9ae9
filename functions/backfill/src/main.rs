//! The backfill Lambda, run every minute by an EventBridge Scheduler schedule: it picks up the
//! running backfills no other invocation holds and advances them from their checkpoints until a
//! minute before its own timeout. A backfill that outlasts one invocation goes on in the next;
//! with nothing to do, an invocation is one Query.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flowmeter_edge::backfill::pick_up;
use flowmeter_edge::github::{GitHubClient, GitHubSettings};
use flowmeter_edge::lambda_runtime::{run as lambda_run, service_fn, Error, LambdaEvent};
use flowmeter_edge::settings::{lambda_store, load_config};

/// Time kept back from the invocation's deadline for the last checkpoint and a slow request.
const MARGIN: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), Error> {
    flowmeter_edge::init_logging();
    let store = lambda_store().await?;
    // No or bad GitHub credentials do not fail the init: each backfill then fails with the
    // error that says what to set, where GET /v1/backfill shows it.
    let secrets = flowmeter_edge::secrets::load().await?;
    let github = GitHubSettings::from_env(&secrets)
        .and_then(|settings| GitHubClient::from_settings(reqwest::Client::new(), &settings));
    if let Err(e) = &github {
        tracing::error!(error = %e, "no GitHub client: backfills will fail until the secret is fixed");
    }
    lambda_run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (store, github) = (&store, &github);
        async move {
            let config = load_config(store).await?;
            let deadline = run_until(event.context.deadline);
            let runs = pick_up(store, github, &config, deadline).await?;
            Ok::<_, Error>(serde_json::to_value(&runs)?)
        }
    }))
    .await
}

/// An invocation whose deadline is not usable (under a Runtime API emulator that sets none, or
/// already past) runs this long: every request is checkpointed, so even a cut-off run loses
/// nothing but its lease's two minutes.
const FALLBACK_RUN: Duration = Duration::from_secs(30);

/// The instant `MARGIN` before the invocation's deadline (epoch milliseconds); with a short
/// timeout, a quarter of the time left is kept back instead.
fn run_until(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    if left < Duration::from_secs(10) {
        tracing::warn!(
            deadline_ms,
            now_ms,
            "no usable invocation deadline; running 30 s"
        );
        return Instant::now() + FALLBACK_RUN;
    }
    Instant::now() + left.saturating_sub(MARGIN.min(left / 4))
}
