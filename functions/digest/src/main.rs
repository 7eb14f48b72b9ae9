//! The digest Lambda, run by the EventBridge Scheduler schedule (Monday 09:00 in the stack's
//! `DigestTimezone`; the weeks it reports are in the org config's `timezone`, and a mismatch
//! of the two is logged): builds last week's digest and sends it by email and chat, each part
//! exactly once.

use flowmeter_edge::digest::{run, schedule_timezone_mismatch, Channels, DigestEvent};
use flowmeter_edge::lambda_runtime::{run as lambda_run, service_fn, Error, LambdaEvent};
use flowmeter_edge::notify::ses_client;
use flowmeter_edge::settings::{lambda_store, load_config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flowmeter_edge::init_logging();
    let store = lambda_store().await?;
    let ses = ses_client().await;
    let http = reqwest::Client::new();
    let channels = Channels::load().await?;
    lambda_run(service_fn(|event: LambdaEvent<DigestEvent>| {
        let (store, ses, http, channels) = (&store, &ses, &http, &channels);
        async move {
            let config = load_config(store).await?;
            let schedule_timezone = std::env::var("DIGEST_TIMEZONE").ok();
            if let Some(warning) = schedule_timezone_mismatch(schedule_timezone.as_deref(), &config)
            {
                tracing::warn!(%warning, "timezone mismatch");
            }
            let (now, week) = event.payload.resolve(&config, chrono::Utc::now())?;
            let outcome = run(store, ses, http, &config, channels, week, now).await?;
            tracing::info!(
                week = %outcome.week,
                email = ?outcome.email_message_id,
                slack = outcome.slack.len(),
                slack_channel = ?outcome.slack_channel,
                "digest sent"
            );
            Ok::<_, Error>(serde_json::to_value(&outcome)?)
        }
    }))
    .await
}
