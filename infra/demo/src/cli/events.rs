//! Events out: the domain events the rollup put on the dev server's local bus
//! (`GET /dev/events`), and the messages the notifier routed from them to the channels' Slack
//! stand-in, read once both stopped changing.

use std::time::{Duration, Instant};

use flowmeter_demo::report::ChannelMessages;
use flowmeter_demo::spec::NOTIFICATION_ROUTES;
use serde_json::Value;

use super::api::Api;
use super::capture::SlackCapture;

/// How long the bus and the channels must stay unchanged: well above the dev server's
/// batching window (300 ms) before it routes what arrived, and the posts after it.
const QUIET: Duration = Duration::from_millis(2000);
/// The most the demo waits for them to settle.
const BOUND: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(250);

/// What the report's "Events out" section shows.
pub(crate) struct EventsOut {
    /// `GET /dev/events`' answer; `Value::Null` when the server has no local bus.
    pub(crate) bus: Value,
    /// Each route's channel and its messages; empty when no stand-in watched them (`run`
    /// against a server the demo did not start).
    pub(crate) channels: Vec<ChannelMessages>,
}

/// `GET /dev/events` with the admin token; `None` when the server does not have it (404).
pub(crate) async fn bus(api: &Api) -> Result<Option<Value>, String> {
    let response = api
        .http
        .get(format!("{}/dev/events", api.base))
        .bearer_auth(&api.admin)
        .send()
        .await
        .map_err(|e| format!("GET /dev/events: {e}"))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("GET /dev/events: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET /dev/events: {status}: {body}"));
    }
    Ok(Some(body))
}

/// Polls the bus (and the channels) until neither changed for [`QUIET`], at most [`BOUND`]
/// (then says so and reads them as they are). Call it once the rollups have converged: the
/// stream is drained, so what is still moving is publishing and routing.
pub(crate) async fn settle(api: &Api, capture: Option<&SlackCapture>) -> Result<EventsOut, String> {
    let started = Instant::now();
    let mut last: Option<String> = None;
    let mut unchanged_since = Instant::now();
    let answer = loop {
        let answer = bus(api).await?;
        // The bus only grows: its counts by type and its length say whether it moved.
        let fingerprint = format!(
            "{} {} {:?}",
            answer
                .as_ref()
                .map_or(Value::Null, |a| a["by_type"].clone()),
            answer
                .as_ref()
                .and_then(|a| a["events"].as_array())
                .map_or(0, Vec::len),
            capture.map(SlackCapture::counts)
        );
        if last.as_deref() != Some(fingerprint.as_str()) {
            last = Some(fingerprint);
            unchanged_since = Instant::now();
        } else if unchanged_since.elapsed() >= QUIET {
            break answer;
        }
        if started.elapsed() >= BOUND {
            eprintln!(
                "  events still changing after {}s; reading them as they are",
                BOUND.as_secs()
            );
            break answer;
        }
        tokio::time::sleep(POLL).await;
    };
    let channels: Vec<ChannelMessages> = match capture {
        Some(capture) => NOTIFICATION_ROUTES
            .iter()
            .map(|route| ChannelMessages {
                channel: route.channel.to_string(),
                route: route.describe(),
                messages: capture.messages(route.channel),
            })
            .collect(),
        None => Vec::new(),
    };
    let events = answer
        .as_ref()
        .and_then(|a| a["events"].as_array())
        .map_or(0, Vec::len);
    let messages: usize = channels.iter().map(|c| c.messages.len()).sum();
    eprintln!(
        "  events settled: {events} on the bus, {messages} messages to the {} channels",
        channels.len()
    );
    Ok(EventsOut {
        bus: answer.unwrap_or(Value::Null),
        channels,
    })
}
