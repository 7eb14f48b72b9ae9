//! Slack channels by name with one bot token, end to end through the notifier
//! (`flowmeter_edge::notifier::notify`, and the queue batch around it): the secret's
//! `slack_bot_token` and its channels' `slack_channel`s, as `parse_secret_string` reads them,
//! → `chat.postMessage` on a local stand-in of Slack's Web API
//! (`flowmeter_e2e::slack_api_standin`), beside a channel that still posts to an incoming
//! webhook (`flowmeter_e2e::slack_standin`).
//!
//! The notifier reads `FLOWMETER_SLACK_API_URL` once per process: each test sets it to its own
//! stand-in before its first send, which holds because nextest runs every test in its own
//! process (`make test`; `cargo test` would share one process and one URL).

use std::time::{Duration, Instant};

use flowmeter::config::OrgConfig;
use flowmeter::events::DomainEvent;
use flowmeter_e2e::slack_api_standin::{Scripted, SlackApiStandIn};
use flowmeter_e2e::slack_standin::SlackStandIn;
use flowmeter_edge::aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use flowmeter_edge::notifier::{
    handle_queue_batch, notify, slack_api_url, Notified, SLACK_API_URL_VAR,
};
use flowmeter_edge::secrets::{parse_secret_string, ChatChannels};
use serde_json::{json, Value};

const TOKEN: &str = "xoxb-1111-2222-S3cr3tB0tT0ken";

const CONFIG: &str = "org: acme
environments:
  production: [production]
teams:
  payments:
    members: [alice]
    repos: [acme/api]
notifications:
  routes:
    - { channel: platform-deploys, environments: [production],
        events: [deployment.failed, deployment.recovered] }
    - { channel: payments, events: [pull_request.merged], teams: [payments] }
    - { channel: incidents, events: [incident.opened] }
";

fn config() -> OrgConfig {
    OrgConfig::from_yaml(CONFIG).expect("config")
}

/// An event of the story, from its JSON as the queue carries it: the fields every event of
/// `acme/api` has, then `subject` (its type's details, or overrides).
fn event(id: &str, kind: &str, subject: Value) -> DomainEvent {
    let mut event = json!({
        "id": id, "type": kind, "occurred_at": "2026-10-07T12:00:00Z", "org": "acme",
        "repo": "acme/api", "teams": ["payments"],
    });
    if let (Some(event), Value::Object(subject)) = (event.as_object_mut(), subject) {
        event.extend(subject);
    }
    serde_json::from_value(event).expect("event")
}

/// A production deployment of `acme/api` that ran 11:56 to 12:00.
fn deployment(id: &str, sha: &str, state: &str) -> Value {
    json!({
        "id": id, "repo": "acme/api", "environment": "production",
        "source_environment": "production", "sha": sha, "workflow": "Deploy", "state": state,
        "started_at": "2026-10-07T11:56:00Z", "finished_at": "2026-10-07T12:00:00Z",
        "duration_seconds": 240.0, "url": format!("https://github.com/acme/api/commit/{sha}"),
    })
}

fn failed() -> DomainEvent {
    let deployment = deployment("gh:1", "abc1234ff", "failure");
    let subject = json!({"environment": "production", "deployment": deployment});
    event("evt_failed", "deployment.failed", subject)
}

fn recovered() -> DomainEvent {
    let subject = json!({
        "environment": "production",
        "deployment": deployment("gh:1", "abc1234ff", "failure"),
        "recovered_by": deployment("gh:2", "def5678aa", "success"),
        "recovery_seconds": 25.0 * 60.0,
    });
    event("evt_recovered", "deployment.recovered", subject)
}

fn merged() -> DomainEvent {
    let pull_request = json!({
        "repo": "acme/api", "number": 42, "title": "Add refund retries", "author": "alice",
        "url": "https://github.com/acme/api/pull/42", "merged_at": "2026-10-07T10:00:00Z",
        "cycle_seconds": 2.0 * 86_400.0, "tickets": ["PAY-7"],
    });
    event(
        "evt_merged",
        "pull_request.merged",
        json!({"pull_request": pull_request}),
    )
}

fn incident() -> DomainEvent {
    let incident = json!({
        "id": "pd:P1", "title": "Checkout 500s", "service": "checkout", "services": ["checkout"],
        "opened_at": "2026-10-07T11:00:00Z", "resolved_at": null, "duration_seconds": null,
        "url": "https://acme.pagerduty.com/incidents/P1",
    });
    let subject = json!({"repo": null, "severity": "sev1", "incident": incident});
    event("evt_incident", "incident.opened", subject)
}

/// A production deployment that finished well: no route takes it.
fn finished() -> DomainEvent {
    let deployment = deployment("gh:3", "0aa1bb2cc", "success");
    let subject = json!({"environment": "production", "deployment": deployment});
    event("evt_finished", "deployment.finished", subject)
}

fn story() -> Vec<DomainEvent> {
    vec![failed(), merged(), incident(), recovered(), finished()]
}

/// The secret's text: `platform-deploys` by name and `payments` by id through the bot,
/// `incidents` through an incoming webhook; `token` top-level, if any.
fn secret(token: Option<&str>, payments_id: &str, webhook: &str) -> String {
    let mut secret = json!({
        "api_token": "read",
        "channels": {
            "platform-deploys": { "slack_channel": "#platform-deploys" },
            "payments": { "slack_channel": payments_id },
            "incidents": { "slack_webhook_url": webhook },
        },
    });
    if let Some(token) = token {
        secret["slack_bot_token"] = token.into();
    }
    secret.to_string()
}

fn channels(token: Option<&str>, api: &SlackApiStandIn, webhook: &SlackStandIn) -> ChatChannels {
    let payments = api.channel_id("payments").expect("payments has an id");
    let (secrets, unknown) =
        parse_secret_string(&secret(token, &payments, &webhook.url)).expect("secret");
    assert!(unknown.is_empty(), "{unknown:?}");
    secrets.channels
}

/// Points this process's notifier at `api` (before its first send: the URL is read once).
fn use_standin(api: &SlackApiStandIn) {
    std::env::set_var(SLACK_API_URL_VAR, &api.url);
    assert_eq!(
        slack_api_url(),
        api.url,
        "the notifier read FLOWMETER_SLACK_API_URL before this test set it: run under nextest"
    );
}

/// Every message's text, for looking for words in.
fn texts(messages: &[Value]) -> String {
    messages
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// No failure (nor the whole outcome as the notifier logs it) holds the token.
fn assert_no_token(outcome: &Notified, token: &str) {
    let text = serde_json::to_string(outcome).expect("outcome as JSON");
    assert!(!text.contains(token), "the token leaked: {text}");
    for secretish in ["S3cr3t", "xoxb-"] {
        assert!(!text.contains(secretish), "a piece of the token: {text}");
    }
}

#[tokio::test]
async fn each_channel_gets_exactly_its_events_through_the_bot_or_its_webhook() {
    let api = SlackApiStandIn::start(TOKEN, &["platform-deploys", "payments", "random"], &[]).await;
    let webhook = SlackStandIn::start().await;
    use_standin(&api);
    let channels = channels(Some(TOKEN), &api, &webhook);
    let http = reqwest::Client::new();

    let outcome = notify(&http, &config(), &channels, &story()).await;

    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(
        outcome
            .sent
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        [("incidents", 1), ("payments", 1), ("platform-deploys", 2)]
    );
    assert_eq!(outcome.unrouted, 1, "the finished deployment");

    let platform = api.accepted("platform-deploys");
    assert_eq!(platform.len(), 2, "one message per event: {platform:?}");
    assert!(platform.iter().all(|m| m["channel"] == "#platform-deploys"));
    let words = texts(&platform).to_lowercase();
    assert!(
        words.contains("failed") && words.contains("recovered"),
        "{words}"
    );
    assert!(
        !words.contains("refund") && !words.contains("checkout 500s"),
        "{words}"
    );

    let payments = api.accepted("payments");
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(
        payments[0]["channel"].as_str(),
        api.channel_id("payments").as_deref(),
        "posted by channel id"
    );
    assert!(texts(&payments).contains("Add refund retries"));

    let incidents = webhook.accepted();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert!(texts(&incidents).contains("Checkout 500s"));
    assert!(
        incidents[0].get("channel").is_none(),
        "a webhook's message names no channel"
    );

    assert!(api.accepted("random").is_empty(), "no route names it");
    assert_eq!(api.answers(), ["ok", "ok", "ok"]);
    assert!(
        api.warnings().is_empty(),
        "JSON with charset=utf-8, as Slack asks: {:?}",
        api.warnings()
    );
    assert_no_token(&outcome, TOKEN);
}

#[tokio::test]
async fn a_rate_limited_channel_is_waited_out_and_sent_once() {
    let api = SlackApiStandIn::start(TOKEN, &["platform-deploys", "payments"], &[]).await;
    let webhook = SlackStandIn::start().await;
    use_standin(&api);
    api.script("platform-deploys", [Scripted::RateLimited(1)]);
    let channels = channels(Some(TOKEN), &api, &webhook);

    let started = Instant::now();
    let outcome = notify(&reqwest::Client::new(), &config(), &channels, &[failed()]).await;

    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(outcome.sent.get("platform-deploys"), Some(&1));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was waited ({:?})",
        started.elapsed()
    );
    assert_eq!(api.answers(), ["ratelimited", "ok"]);
    assert_eq!(api.accepted("platform-deploys").len(), 1, "sent once");
    assert_no_token(&outcome, TOKEN);
}

#[tokio::test]
async fn a_channel_the_app_is_not_in_fails_for_good_naming_the_channel_and_slack_s_error() {
    // The app was never invited to #platform-deploys.
    let api = SlackApiStandIn::start(TOKEN, &["payments"], &["platform-deploys"]).await;
    let webhook = SlackStandIn::start().await;
    use_standin(&api);
    let channels = channels(Some(TOKEN), &api, &webhook);

    let outcome = notify(&reqwest::Client::new(), &config(), &channels, &story()).await;

    assert_eq!(outcome.failed.len(), 1, "{:?}", outcome.failed);
    let failure = &outcome.failed[0];
    assert_eq!(failure.channel, "platform-deploys");
    assert_eq!(failure.events, ["evt_failed", "evt_recovered"]);
    assert!(!failure.transient, "inviting the app is a person's job");
    for says in ["#platform-deploys", "not_in_channel", "/invite"] {
        assert!(failure.error.contains(says), "{says}: {}", failure.error);
    }
    assert!(api.accepted("platform-deploys").is_empty());
    assert_eq!(api.accepted("payments").len(), 1, "the others still go out");
    assert_eq!(webhook.accepted().len(), 1);
    assert_no_token(&outcome, TOKEN);
}

#[tokio::test]
async fn bot_channels_without_the_bot_token_fail_clearly_and_the_webhook_still_posts() {
    let api = SlackApiStandIn::start(TOKEN, &["platform-deploys", "payments"], &[]).await;
    let webhook = SlackStandIn::start().await;
    use_standin(&api);
    let channels = channels(None, &api, &webhook);

    let outcome = notify(&reqwest::Client::new(), &config(), &channels, &story()).await;

    let failed: Vec<&str> = outcome.failed.iter().map(|f| f.channel.as_str()).collect();
    assert_eq!(failed, ["payments", "platform-deploys"]);
    for failure in &outcome.failed {
        assert!(!failure.transient, "{failure:?}");
        assert!(
            failure.error.contains("slack_bot_token") && failure.error.contains("missing"),
            "{}",
            failure.error
        );
        assert!(
            failure.error.contains(&failure.channel),
            "{}",
            failure.error
        );
    }
    assert_eq!(
        outcome.failed[0].error,
        "channel \"payments\": its slack_channel is set but the secret's slack_bot_token is \
         missing (locally FLOWMETER_SLACK_BOT_TOKEN): add the Slack app's bot token"
    );
    assert_eq!(api.requests(), 0, "nothing posted without a token");
    assert_eq!(outcome.sent.get("incidents"), Some(&1));
    assert_eq!(webhook.accepted().len(), 1);
}

#[tokio::test]
async fn a_wrong_token_is_invalid_auth_and_no_failure_quotes_a_token() {
    let api = SlackApiStandIn::start(TOKEN, &["platform-deploys", "payments"], &[]).await;
    let webhook = SlackStandIn::start().await;
    use_standin(&api);
    let wrong = "xoxb-9999-8888-S3cr3tButWr0ng";
    let channels = channels(Some(wrong), &api, &webhook);

    let outcome = notify(&reqwest::Client::new(), &config(), &channels, &story()).await;

    assert_eq!(outcome.failed.len(), 2, "{:?}", outcome.failed);
    for failure in &outcome.failed {
        assert!(!failure.transient, "{failure:?}");
        assert!(
            failure.error.contains("invalid_auth") && failure.error.contains("slack_bot_token"),
            "{}",
            failure.error
        );
    }
    assert_eq!(api.answers(), ["invalid_auth", "invalid_auth"]);
    assert_no_token(&outcome, wrong);
    assert_no_token(&outcome, TOKEN);
}

/// `detail` as the EventBridge rule puts it on the queue.
fn queued(events: &[DomainEvent]) -> SqsEvent {
    let mut batch = SqsEvent::default();
    for (i, event) in events.iter().enumerate() {
        let body = json!({
            "version": "0",
            "id": format!("bus-{i}"),
            "detail-type": event.kind.as_str(),
            "source": "flowmeter",
            "time": "2026-10-07T12:00:00Z",
            "detail": serde_json::from_str::<Value>(&event.detail_json()).expect("detail"),
        });
        let mut message = SqsMessage::default();
        message.message_id = Some(format!("msg-{}", event.id));
        message.body = Some(body.to_string());
        batch.records.push(message);
    }
    batch
}

#[tokio::test]
async fn the_queue_redelivers_what_slack_may_take_later_and_parks_nothing_it_refused() {
    // payments is in trouble on Slack's side; the app is not in #platform-deploys.
    let api = SlackApiStandIn::start(TOKEN, &["payments"], &["platform-deploys"]).await;
    let webhook = SlackStandIn::start().await;
    use_standin(&api);
    api.script("payments", [Scripted::Error("internal_error")]);
    let channels = channels(Some(TOKEN), &api, &webhook);

    let response = handle_queue_batch(
        &reqwest::Client::new(),
        &config(),
        &channels,
        queued(&story()),
    )
    .await;

    let retried: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        retried,
        ["msg-evt_merged"],
        "internal_error is transient; not_in_channel is not"
    );
    assert_eq!(webhook.accepted().len(), 1);

    // Redelivered, the merged PR goes out.
    let again = handle_queue_batch(
        &reqwest::Client::new(),
        &config(),
        &channels,
        queued(&[merged()]),
    )
    .await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(api.accepted("payments").len(), 1);
}

#[tokio::test]
async fn post_chat_message_names_slack_s_code_and_what_it_found_wrong() {
    let api = SlackApiStandIn::start(TOKEN, &["platform-deploys"], &[]).await;
    let http = reqwest::Client::new();
    let post = |message: Value, channel: &'static str| {
        let (http, url) = (http.clone(), api.url.clone());
        async move {
            flowmeter_edge::notify::post_chat_message(&http, &url, TOKEN, channel, &message).await
        }
    };
    let section = json!({"type": "section", "text": {"type": "mrkdwn", "text": "x"}});
    let too_many = json!({"text": "many", "blocks": vec![section; 51]});

    let err = post(too_many, "#platform-deploys")
        .await
        .expect_err("51 blocks");
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("invalid_blocks") && text.contains("51 blocks, more than 50"),
        "Slack's code and its response_metadata: {text}"
    );
    let err = post(json!({}), "#platform-deploys")
        .await
        .expect_err("nothing to say");
    assert!(err.to_string().contains("no_text"), "{err}");
    let err = post(json!({"text": "hi"}), "#nowhere")
        .await
        .expect_err("no such channel");
    assert!(err.to_string().contains("channel_not_found"), "{err}");
    assert!(!err.is_transient());

    post(
        json!({"text": "hi", "channel": "#elsewhere"}),
        "platform-deploys",
    )
    .await
    .expect("a name without # is a name; the argument wins over the message's own channel");
    assert_eq!(api.accepted("platform-deploys").len(), 1);
    assert_eq!(
        api.answers(),
        ["invalid_blocks", "no_text", "channel_not_found", "ok"]
    );
}
