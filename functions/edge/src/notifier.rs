//! The notifier: domain events from the bus → the channels whose routes match
//! (`flowmeter::notifications::routes`, config `notifications.routes`) → each channel's chat
//! messages (`flowmeter::notifications::message`: one per event, or grouped when a burst
//! arrives) → where the secret's `channels.<name>` sends them: a Slack channel the app's bot
//! token posts to (`slack_channel`, through `notify::post_chat_message`), else a Slack
//! incoming webhook, and a Teams webhook (the digest's sender, `notify::post_webhook`). Both
//! senders wait out 429s (`Retry-After`); no error names a URL or the token.
//!
//! Slack's Web API is `https://slack.com/api`, or `FLOWMETER_SLACK_API_URL` (a local
//! stand-in), read once per process.
//!
//! In AWS an EventBridge rule puts every Flowmeter event on a queue, and the notifier takes
//! them in batches ([`handle_queue_batch`]), so a release train of twenty services is one
//! batch and one grouped message per channel; locally the dev server's bus hands each
//! `PutEvents` request's entries to [`notify`] the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use flowmeter::config::OrgConfig;
use flowmeter::events::{DomainEvent, SOURCE};
use flowmeter::notifications::message::{slack_messages, teams_messages};
use flowmeter::notifications::routes::route;
use serde::Serialize;

use crate::notify::{post_chat_message, post_webhook, NotifyError, SLACK_API_URL};
use crate::secrets::{ChatChannel, ChatChannels};

/// The environment variable that points the notifier at another Slack Web API (a stand-in).
pub const SLACK_API_URL_VAR: &str = "FLOWMETER_SLACK_API_URL";

/// Slack's Web API base URL: `FLOWMETER_SLACK_API_URL` if set, else [`SLACK_API_URL`]. Read
/// once per process, the first time the notifier builds a channel's senders.
pub fn slack_api_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        std::env::var(SLACK_API_URL_VAR)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| SLACK_API_URL.to_string())
    })
}

/// Where one channel's messages are posted.
enum Sender<'a> {
    /// A Slack incoming webhook or a Teams Workflows webhook.
    Webhook(&'a str),
    /// A Slack channel, by the app's bot token (`chat.postMessage`).
    SlackBot {
        api_url: &'a str,
        token: &'a str,
        channel: &'a str,
    },
}

impl Sender<'_> {
    async fn send(
        &self,
        http: &reqwest::Client,
        message: &serde_json::Value,
    ) -> Result<(), NotifyError> {
        match self {
            Sender::Webhook(url) => post_webhook(http, url, message).await,
            Sender::SlackBot {
                api_url,
                token,
                channel,
            } => post_chat_message(http, api_url, token, channel, message).await,
        }
    }

    /// What a failure of this sender is called: Slack's channel for the bot (a webhook's URL is
    /// a secret, so a webhook is not named).
    fn describe(&self, err: &NotifyError) -> String {
        match self {
            Sender::Webhook(_) => err.to_string(),
            Sender::SlackBot { channel, .. } => format!("Slack channel {channel}: {err}"),
        }
    }
}

/// Senders with the messages each is to post.
type Sends<'a> = Vec<(Sender<'a>, Vec<serde_json::Value>)>;

/// A channel's senders and what each sends, and why its Slack messages cannot go anywhere, if
/// so. Slack: the bot when `slack_channel` is set (its `slack_webhook_url` is then unused),
/// else the incoming webhook. Teams: its webhook.
fn senders<'a>(
    channel: &'a ChatChannel,
    slack: impl FnOnce() -> Vec<serde_json::Value>,
    teams: impl FnOnce() -> Vec<serde_json::Value>,
) -> (Sends<'a>, Option<String>) {
    let mut sends = Vec::new();
    let mut unsendable = None;
    if !channel.slack_channel.is_empty() {
        if channel.slack_bot_token.is_empty() {
            unsendable = Some(
                "its slack_channel is set but the secret's slack_bot_token is missing \
                 (locally FLOWMETER_SLACK_BOT_TOKEN): add the Slack app's bot token"
                    .to_string(),
            );
        } else {
            let bot = Sender::SlackBot {
                api_url: slack_api_url(),
                token: &channel.slack_bot_token,
                channel: &channel.slack_channel,
            };
            sends.push((bot, slack()));
        }
    } else if !channel.slack_webhook_url.is_empty() {
        sends.push((Sender::Webhook(&channel.slack_webhook_url), slack()));
    }
    if !channel.teams_webhook_url.is_empty() {
        sends.push((Sender::Webhook(&channel.teams_webhook_url), teams()));
    }
    (sends, unsendable)
}

/// What one [`notify`] did.
#[derive(Debug, Default, Serialize)]
pub struct Notified {
    /// Messages sent, per channel.
    pub sent: BTreeMap<String, usize>,
    /// Events no route matched.
    pub unrouted: usize,
    pub failed: Vec<ChannelFailure>,
}

/// A channel whose messages did not all go out.
#[derive(Debug, Serialize)]
pub struct ChannelFailure {
    pub channel: String,
    /// The events of the messages not sent.
    pub events: Vec<String>,
    pub error: String,
    /// Whether sending again later may succeed (a 429 that outlasted the retries, a 5xx, an
    /// unreachable host); a channel the secret lacks or a rejected message will not.
    pub transient: bool,
}

/// Why a queued message is not an event to notify about.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BusEventError {
    #[error("not an EventBridge event: {0}")]
    Envelope(String),
    #[error("source {0:?} is not flowmeter")]
    Source(String),
    #[error("detail is not a Flowmeter event: {0}")]
    Detail(String),
}

#[derive(serde::Deserialize)]
struct Envelope {
    source: String,
    detail: serde_json::Value,
}

/// An EventBridge event as a rule delivers it (`{"source": "flowmeter", "detail-type": …,
/// "detail": {…}}`) → the domain event in its detail.
pub fn parse_bus_event(body: &str) -> Result<DomainEvent, BusEventError> {
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|e| BusEventError::Envelope(e.to_string()))?;
    if envelope.source != SOURCE {
        return Err(BusEventError::Source(envelope.source));
    }
    serde_json::from_value(envelope.detail).map_err(|e| BusEventError::Detail(e.to_string()))
}

/// Sends `events` to the channels whose routes match them: per channel, its messages to its
/// Slack channel (by the bot token) or Slack webhook, and to its Teams webhook. One channel's
/// failure does not stop the others; a `slack_channel` without the secret's `slack_bot_token`
/// fails that channel's Slack messages (not transiently) and still sends its Teams ones.
pub async fn notify(
    http: &reqwest::Client,
    config: &OrgConfig,
    channels: &ChatChannels,
    events: &[DomainEvent],
) -> Notified {
    let settings = config.notifications();
    let routed = route(settings, events);
    let routed_ids: BTreeSet<&str> = routed.values().flatten().map(|e| e.id.as_str()).collect();
    let mut seen = BTreeSet::new();
    let mut outcome = Notified {
        unrouted: events
            .iter()
            .filter(|e| seen.insert(e.id.as_str()) && !routed_ids.contains(e.id.as_str()))
            .count(),
        ..Notified::default()
    };
    for (name, events) in &routed {
        let ids = || events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        let Some(channel) = channels.get(name) else {
            tracing::error!(channel = %name, "a route names a channel the secret does not have");
            outcome.failed.push(ChannelFailure {
                channel: name.clone(),
                events: ids(),
                error: format!(
                    "no channel {name:?} in the secret's channels (a bad `channels` in the secret is logged when the notifier starts)"
                ),
                transient: false,
            });
            continue;
        };
        let tz = config.timezone();
        let (sends, unsendable) = senders(
            channel,
            || slack_messages(events, settings, tz),
            || teams_messages(events, settings, tz),
        );
        if let Some(reason) = unsendable {
            tracing::error!(channel = %name, error = %reason, "channel not notified");
            outcome.failed.push(ChannelFailure {
                channel: name.clone(),
                events: ids(),
                error: format!("channel {name:?}: {reason}"),
                transient: false,
            });
        }
        for (sender, messages) in sends {
            if let Err(err) = send_all(http, &sender, &messages).await {
                tracing::error!(channel = %name, error = %err, "channel not notified");
                outcome.failed.push(ChannelFailure {
                    channel: name.clone(),
                    events: ids(),
                    error: sender.describe(&err),
                    transient: err.is_transient(),
                });
                continue;
            }
            *outcome.sent.entry(name.clone()).or_default() += messages.len();
        }
    }
    outcome
}

async fn send_all(
    http: &reqwest::Client,
    sender: &Sender<'_>,
    messages: &[serde_json::Value],
) -> Result<(), NotifyError> {
    for message in messages {
        sender.send(http, message).await?;
    }
    Ok(())
}

/// The notifier Lambda's batch: each queued message is an EventBridge event. A message that is
/// not a Flowmeter event is logged and dropped (it never will be one); the events of a channel
/// that failed transiently are reported as batch item failures, so the queue redelivers them
/// (and after its `maxReceiveCount`, parks them in the dead-letter queue).
pub async fn handle_queue_batch(
    http: &reqwest::Client,
    config: &OrgConfig,
    channels: &ChatChannels,
    batch: SqsEvent,
) -> SqsBatchResponse {
    let mut events = Vec::new();
    let mut message_of: BTreeMap<String, String> = BTreeMap::new();
    for record in &batch.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        match parse_bus_event(record.body.as_deref().unwrap_or_default()) {
            Ok(event) => {
                message_of.insert(event.id.clone(), message_id);
                events.push(event);
            }
            Err(err) => {
                tracing::error!(message = %message_id, error = %err, "queued message dropped")
            }
        }
    }
    let outcome = notify(http, config, channels, &events).await;
    tracing::info!(events = events.len(), sent = ?outcome.sent, unrouted = outcome.unrouted, failed = outcome.failed.len(), "notified");
    let retry: BTreeSet<&String> = outcome
        .failed
        .iter()
        .filter(|f| f.transient)
        .flat_map(|f| f.events.iter())
        .filter_map(|id| message_of.get(id))
        .collect();
    let mut response = SqsBatchResponse::default();
    for message_id in retry {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = message_id.clone();
        response.batch_item_failures.push(failure);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bus_event_is_its_detail() {
        let body = r#"{"version":"0","id":"x","detail-type":"incident.opened","source":"flowmeter","time":"2026-10-07T10:00:00Z","detail":{"id":"evt_00000000000000000000000000000000","type":"incident.opened","occurred_at":"2026-10-07T10:00:00Z","org":"acme","repo":null,"environment":null,"teams":[],"severity":null,"incident":{"id":"pd:P1","title":"Down","service":"checkout","services":["checkout"],"opened_at":"2026-10-07T10:00:00Z","resolved_at":null,"duration_seconds":null,"url":null}}}"#;
        let event = parse_bus_event(body).expect("parses");
        assert_eq!(event.incident.map(|i| i.title), Some("Down".to_string()));
        let other = body.replace(r#""source":"flowmeter""#, r#""source":"aws.ec2""#);
        assert_eq!(
            parse_bus_event(&other),
            Err(BusEventError::Source("aws.ec2".into()))
        );
        assert!(matches!(
            parse_bus_event("{"),
            Err(BusEventError::Envelope(_))
        ));
        assert!(matches!(
            parse_bus_event(r#"{"source":"flowmeter","detail":{"type":"nope"}}"#),
            Err(BusEventError::Detail(_))
        ));
    }
}
