//! The weekly digest end to end: rollups in DynamoDB Local → one model → email through the real
//! SES v2 API shape (aws-ses-v2-local) and Slack messages to a stand-in that enforces Block Kit's
//! limits and answers like Slack — each part exactly once per (org, week, channel), also when a
//! run dies mid-send or a retry rebuilds the digest from changed data.
//!
//! The SES emulator is shared by every test running at once: each test counts only the emails
//! to its own recipient, never the emulator's total.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use flowmeter::config::OrgConfig;
use flowmeter::time::IsoWeek;
use flowmeter_e2e::http::{reply, serve_loopback, ses_emails};
use flowmeter_e2e::scenario::history;
use flowmeter_e2e::slack_standin::{Scripted, SlackStandIn};
use flowmeter_e2e::{deliver, drain, fresh_store};
use flowmeter_edge::digest::{run, run_as, Channels, DigestError, DigestRun, STALE_CLAIM_S};
use flowmeter_edge::notify::{ses_client, NotifyError};
use flowmeter_edge::store::{DigestClaim, Store};
use serde_json::Value;

/// A recipient no other test (or earlier run against the same emulator) uses.
fn unique_recipient(label: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "vp-eng+{label}-{}-{nanos}-{}@acme.example",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn config_yaml(to: &str) -> String {
    format!(
        r##"
org: acme
teams:
  core:
    members: [alice]
    repos: [acme/api]
  web:
    repos: [acme/web]
digest:
  email: {{ from: metrics@acme.example, to: ["{to}"] }}
  slack: {{ channel: "#engineering-metrics" }}
"##
    )
}

async fn loaded_store(to: &str) -> Store {
    let store = fresh_store("digest").await;
    store.put_config(&config_yaml(to)).await.expect("config");
    for delivery in history(11) {
        deliver(&store, &delivery).await;
    }
    drain(&store, &mut None).await;
    store
}

/// A table loaded with `history(11)` for a fresh recipient (`to`), its config as a run loads
/// it, the SES emulator and an HTTP client, and a Slack stand-in with its channels.
type Loaded = (
    String,
    Store,
    OrgConfig,
    aws_sdk_sesv2::Client,
    reqwest::Client,
    SlackStandIn,
    Channels,
);

async fn loaded(label: &str) -> Loaded {
    let to = unique_recipient(label);
    let store = loaded_store(&to).await;
    let config = stored_config(&store).await;
    let ses = ses_client().await;
    let (slack, channels) = slack_only().await;
    (
        to,
        store,
        config,
        ses,
        reqwest::Client::new(),
        slack,
        channels,
    )
}

/// The emails the SES emulator holds (`GET /store`) addressed to `to`.
async fn emails_to(http: &reqwest::Client, to: &str) -> Vec<Value> {
    ses_emails(http)
        .await
        .into_iter()
        .filter(|e| {
            e["destination"]["to"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r == to))
        })
        .collect()
}

/// The org config the store holds, as a run loads it.
async fn stored_config(store: &Store) -> OrgConfig {
    flowmeter_edge::settings::load_config(store)
        .await
        .expect("config")
}

/// A Slack stand-in and the channels that post to it (no Teams).
async fn slack_only() -> (SlackStandIn, Channels) {
    let slack = SlackStandIn::start().await;
    let channels = Channels {
        slack_webhook_url: Some(slack.url.clone()),
        teams_webhook_url: None,
    };
    (slack, channels)
}

fn instant(text: &str) -> DateTime<Utc> {
    text.parse().expect("instant")
}

#[tokio::test]
async fn sends_each_part_once_and_a_retry_sends_only_what_failed() {
    let (to, store, config, ses, http, slack, channels) = loaded("once").await;
    let week: IsoWeek = "2026-W41".parse().expect("week");
    let now = instant("2026-10-12T09:00:00Z");

    // Slack refuses the first time: the email goes out, the run fails on Slack.
    slack.script([Scripted::Error(404, "channel_not_found")]);
    let err = run(&store, &ses, &http, &config, &channels, week, now)
        .await
        .expect_err("slack fails");
    match &err {
        DigestError::Send {
            channel,
            source: NotifyError::Webhook { status: 404, body },
        } => {
            assert_eq!(channel, "slack#0");
            assert_eq!(body, "channel_not_found");
        }
        other => panic!("unexpected error {other:?}"),
    }
    let emails = emails_to(&http, &to).await;
    assert_eq!(emails.len(), 1, "the email went out once");
    let sent = &emails[0];
    assert!(
        sent["subject"]
            .as_str()
            .is_some_and(|s| s.contains("2026-W41") || s.contains("acme")),
        "{sent}"
    );
    assert!(
        sent["body"]["html"]
            .as_str()
            .is_some_and(|h| h.contains("core")),
        "the HTML part names the teams: {sent}"
    );
    assert!(
        sent["body"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("core")),
        "the text part names the teams"
    );
    assert_eq!(sent["destination"]["to"], serde_json::json!([to]));
    assert_eq!(sent["from"], "metrics@acme.example");

    // The retry sends only Slack; a 429 with Retry-After is waited out.
    slack.script([Scripted::RateLimited(1)]);
    let outcome = run(&store, &ses, &http, &config, &channels, week, now)
        .await
        .expect("retry succeeds");
    assert_eq!(outcome.already_sent, vec!["email".to_string()]);
    assert!(!outcome.slack.is_empty());
    assert!(outcome.slack_preview.is_empty(), "Slack is configured");
    assert_eq!(
        slack.accepted(),
        outcome.slack,
        "every message accepted within Block Kit limits"
    );
    assert_eq!(emails_to(&http, &to).await.len(), 1, "no second email");
    let requests = slack.requests();

    // A third run sends nothing at all.
    let outcome = run(&store, &ses, &http, &config, &channels, week, now)
        .await
        .expect("third run");
    assert!(outcome.already_sent.contains(&"email".to_string()));
    assert!(outcome.already_sent.iter().any(|c| c.starts_with("slack#")));
    assert_eq!(slack.requests(), requests, "nothing re-sent to Slack");
    assert_eq!(emails_to(&http, &to).await.len(), 1);
}

#[tokio::test]
async fn a_failed_email_is_released_for_the_next_run() {
    let to = unique_recipient("released");
    let store = loaded_store(&to).await;
    let config = stored_config(&store).await;
    let http = reqwest::Client::new();
    let channels = Channels::default();
    let week: IsoWeek = "2026-W42".parse().expect("week");
    let now = instant("2026-10-19T09:00:00Z");
    // An SES endpoint nobody listens on.
    let unreachable = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(
            &aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await,
        )
        .endpoint_url("http://127.0.0.1:9")
        .build(),
    );
    let err = run(&store, &unreachable, &http, &config, &channels, week, now)
        .await
        .expect_err("no SES");
    assert!(
        matches!(err, DigestError::Send { ref channel, .. } if channel == "email"),
        "{err:?}"
    );
    assert!(emails_to(&http, &to).await.is_empty());
    let outcome = run(
        &store,
        &ses_client().await,
        &http,
        &config,
        &channels,
        week,
        now,
    )
    .await
    .expect("second run");
    assert!(outcome.email_message_id.is_some_and(|id| !id.is_empty()));
    assert!(outcome.already_sent.is_empty());
    assert_eq!(emails_to(&http, &to).await.len(), 1);
    assert_eq!(
        outcome.not_configured,
        vec!["slack".to_string(), "teams".to_string()]
    );
    assert!(
        !outcome.slack_preview.is_empty(),
        "Slack not configured: the messages it would get are in the outcome"
    );
}

/// The ledger item of one part, as stored.
async fn ledger_item(store: &Store, part: &str) -> Option<flowmeter_edge::store::Item> {
    store
        .scan_prefix(flowmeter_edge::store::keys::DIGEST)
        .await
        .expect("scan")
        .into_iter()
        .find(|item| item.get("sk").and_then(|v| v.as_s().ok()) == Some(&part.to_string()))
}

fn attr<'a>(item: &'a flowmeter_edge::store::Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// The schedule's retries all carry the same `scheduled_time`. A run that dies between
/// claiming its Slack part and sending it (its Lambda timed out while Slack did not answer)
/// leaves the claim `sending`; a retry while the claim is fresh leaves that part alone; the
/// first retry past the stale limit by the wall clock sends it, once; later runs send nothing.
#[tokio::test]
async fn a_part_left_sending_by_a_dead_run_is_sent_once_after_the_stale_limit() {
    let (to, store, config, ses, http, slack, channels) = loaded("dead").await;
    let week: IsoWeek = "2026-W41".parse().expect("week");
    let scheduled = instant("2026-10-12T08:00:00Z");
    // The wall clock of the first run; the retries come later by their own clocks.
    let t0 = instant("2026-10-12T08:00:05Z");
    let at = move |seconds: i64| t0 + chrono::Duration::seconds(seconds);

    // Run 1 sends the email, claims slack#0, posts it, and Slack never answers: the run dies.
    slack.script([Scripted::Hang]);
    let dead = DigestRun::with_clock(week, scheduled, "run-1", move || t0);
    let task = tokio::spawn({
        let (store, ses, http, config, channels) = (
            store.clone(),
            ses.clone(),
            http.clone(),
            config.clone(),
            channels.clone(),
        );
        async move { run_as(&store, &ses, &http, &config, &channels, &dead).await }
    });
    let mut waited = Duration::ZERO;
    while slack.requests() == 0 {
        assert!(
            waited < Duration::from_secs(60),
            "run 1 never reached Slack"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    task.abort();
    assert!(task.await.is_err_and(|e| e.is_cancelled()), "run 1 died");
    let claim = ledger_item(&store, "slack#0")
        .await
        .expect("slack#0 claimed");
    assert_eq!(
        (attr(&claim, "state"), attr(&claim, "owner")),
        ("sending", "run-1")
    );
    assert_eq!(emails_to(&http, &to).await.len(), 1, "run 1's email");

    // Run 2, a minute later (same scheduled_time): the claim is fresh, Slack gets nothing.
    let retry = DigestRun::with_clock(week, scheduled, "run-2", move || at(60));
    let err = run_as(&store, &ses, &http, &config, &channels, &retry)
        .await
        .expect_err("slack#0 is in flight");
    match &err {
        DigestError::InFlight { part, age_s } => {
            assert_eq!((part.as_str(), *age_s), ("slack#0", 60))
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(slack.requests(), 1, "no post while the claim is fresh");
    assert!(slack.accepted().is_empty());

    // Run 3, past the stale limit by the wall clock: takes the part over and sends it once.
    let late = DigestRun::with_clock(week, scheduled, "run-3", move || at(STALE_CLAIM_S + 1));
    let outcome = run_as(&store, &ses, &http, &config, &channels, &late)
        .await
        .expect("run 3 resumes");
    assert_eq!(outcome.already_sent, vec!["email".to_string()]);
    assert!(!outcome.slack.is_empty());
    assert_eq!(slack.accepted(), outcome.slack, "each part accepted once");
    assert_eq!(slack.requests(), 1 + outcome.slack.len());
    let sent = ledger_item(&store, "slack#0").await.expect("slack#0");
    assert_eq!(
        (attr(&sent, "state"), attr(&sent, "owner")),
        ("sent", "run-3")
    );

    // Run 4, much later: everything went out; nothing is sent again.
    let requests = slack.requests();
    let again = DigestRun::with_clock(week, scheduled, "run-4", move || at(3_600));
    let outcome = run_as(&store, &ses, &http, &config, &channels, &again)
        .await
        .expect("run 4");
    assert!(outcome.already_sent.iter().any(|p| p == "slack#0"));
    assert_eq!(slack.requests(), requests);
    assert_eq!(emails_to(&http, &to).await.len(), 1, "one email in all");
}

/// Claims belong to the run that took them: once a stale claim is taken over, its first owner
/// can neither mark the part sent nor release it.
#[tokio::test]
async fn a_stale_owner_cannot_mark_or_release_a_part_another_run_took_over() {
    let store = fresh_store("digest-owner").await;
    let (org, week, part) = ("acme", "2026-W41", "slack#1");
    let claim = |owner: &'static str, now: i64| {
        let store = store.clone();
        async move {
            store
                .claim_digest(org, week, part, owner, now, STALE_CLAIM_S)
                .await
                .expect("claim")
        }
    };
    assert_eq!(claim("run-a", 1_000).await, DigestClaim::Claimed);
    // Fresh (150 s old, not older): no takeover.
    assert_eq!(
        claim("run-b", 1_150).await,
        DigestClaim::InFlight {
            owner: "run-a".into(),
            claimed_at: 1_000
        }
    );
    assert_eq!(claim("run-b", 1_151).await, DigestClaim::Claimed);

    // run-a wakes up: its mark and its release change nothing.
    assert!(!store
        .mark_digest_sent(org, week, part, "run-a", "late")
        .await
        .expect("mark"));
    assert!(!store
        .release_digest(org, week, part, "run-a")
        .await
        .expect("release"));
    assert_eq!(
        claim("run-c", 1_200).await,
        DigestClaim::InFlight {
            owner: "run-b".into(),
            claimed_at: 1_151
        },
        "still run-b's claim"
    );

    // run-b's own mark lands, and the part is never claimed again.
    assert!(store
        .mark_digest_sent(org, week, part, "run-b", "sent")
        .await
        .expect("mark"));
    assert_eq!(
        claim("run-c", 99_999).await,
        DigestClaim::AlreadySent {
            detail: "sent".into()
        }
    );
    assert!(!store
        .release_digest(org, week, part, "run-b")
        .await
        .expect("release"));
    assert_eq!(
        claim("run-d", 99_999).await,
        DigestClaim::AlreadySent {
            detail: "sent".into()
        },
        "a sent part cannot be released"
    );
}

/// `teams` teams named `team-000`…, each with its own repo, and no data anywhere.
fn many_teams(teams: usize) -> String {
    let mut yaml = String::from("org: acme\nteams:\n");
    for i in 0..teams {
        yaml.push_str(&format!("  team-{i:03}:\n    repos: [acme/r{i:03}]\n"));
    }
    yaml
}

fn header_of(message: &Value) -> String {
    message["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The rule for a retry that rebuilds the digest from changed data: a channel's messages are
/// pinned by the first run, and the retry sends the rest of that rendering. 60 teams without
/// data make 70 blocks after the header (context, org, divider, attention, divider, the
/// `Teams` title, 60 team sections, divider, PRs, incidents, footer), so 2 messages of at most
/// 49; part 1 goes out, part 2 fails; then 50 more teams are configured, which fresh would
/// make 120 blocks and 3 messages. The retry sends part (2/2) of the first rendering: every
/// one of the 60 teams once, none of the new ones, no `(x/3)`.
#[tokio::test]
async fn a_retry_over_changed_data_sends_the_rest_of_the_first_rendering() {
    let store = fresh_store("digest-parts").await;
    store.put_config(&many_teams(60)).await.expect("config");
    let ses = ses_client().await;
    let http = reqwest::Client::new();
    let (slack, channels) = slack_only().await;
    let week: IsoWeek = "2026-W41".parse().expect("week");
    let now = instant("2026-10-12T08:00:00Z");
    let config = stored_config(&store).await;

    slack.script([Scripted::Pass, Scripted::Error(500, "internal_error")]);
    let err = run(&store, &ses, &http, &config, &channels, week, now)
        .await
        .expect_err("part 2 fails");
    assert!(
        matches!(err, DigestError::Send { ref channel, .. } if channel == "slack#1"),
        "{err:?}"
    );
    let first = slack.accepted();
    assert_eq!(first.len(), 1);
    assert_eq!(
        header_of(&first[0]),
        "Weekly digest · acme · 2026-W41 (1/2)"
    );

    store.put_config(&many_teams(110)).await.expect("config");
    let changed = flowmeter_edge::settings::load_config(&store)
        .await
        .expect("config");
    let fresh = flowmeter::digest::slack_messages(
        &flowmeter_edge::digest::build(&store, &changed, week, now)
            .await
            .expect("build"),
    );
    assert_eq!(fresh.len(), 3, "the changed data renders as 3 parts");

    let outcome = run(&store, &ses, &http, &changed, &channels, week, now)
        .await
        .expect("retry");
    assert_eq!(outcome.already_sent, vec!["slack#0".to_string()]);
    let accepted = slack.accepted();
    let headers: Vec<String> = accepted.iter().map(header_of).collect();
    assert_eq!(
        headers,
        vec![
            "Weekly digest · acme · 2026-W41 (1/2)",
            "Weekly digest · acme · 2026-W41 (2/2)"
        ]
    );
    assert_eq!(
        outcome.slack, accepted,
        "the outcome is the pinned rendering"
    );
    let all: String = accepted.iter().map(Value::to_string).collect();
    for i in 0..60 {
        assert_eq!(
            all.matches(&format!("*team-{i:03}*")).count(),
            1,
            "team-{i:03}"
        );
    }
    for i in 60..110 {
        assert!(!all.contains(&format!("*team-{i:03}*")), "team-{i:03}");
    }

    // And nothing more goes out.
    let requests = slack.requests();
    run(&store, &ses, &http, &changed, &channels, week, now)
        .await
        .expect("third run");
    assert_eq!(slack.requests(), requests);
}

/// A chat webhook URL is a credential: no error about a failed post may hold it (nor its
/// path, where the token is), whether the endpoint refuses the connection, drops it, or
/// answers an error that echoes the request back.
#[tokio::test]
async fn chat_webhook_urls_never_appear_in_errors() {
    let http = reqwest::Client::new();
    let payload = serde_json::json!({"text": "hi"});
    let refused = refused_url().await;
    a_refused_post_leaks_nothing(&http, &payload, &refused).await;
    a_dropped_post_leaks_nothing(&http, &payload).await;
    an_echoed_error_answer_leaks_nothing(&http, &payload).await;
    a_failed_run_leaks_nothing(&http, &refused).await;
}

/// The secret part of the chat webhook URLs in [`chat_webhook_urls_never_appear_in_errors`].
const TOKEN: &str = "s3cretW3bhookT0ken";

fn assert_clean(err: &dyn std::fmt::Debug, text: String) {
    let debug = format!("{err:?}");
    assert!(!text.contains(TOKEN), "the URL leaked: {text}");
    assert!(!debug.contains(TOKEN), "the URL leaked: {debug}");
}

/// A webhook URL on a port that was just free.
async fn refused_url() -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{address}/services/T000/B000/{TOKEN}")
}

/// Refused: a port that was just free.
async fn a_refused_post_leaks_nothing(http: &reqwest::Client, payload: &Value, refused: &str) {
    let err = flowmeter_edge::notify::post_webhook(http, refused, payload)
        .await
        .expect_err("refused");
    assert!(matches!(err, NotifyError::Unreachable(_)), "{err:?}");
    assert_clean(&err, err.to_string());
}

/// Dropped: accepts and closes without answering.
async fn a_dropped_post_leaks_nothing(http: &reqwest::Client, payload: &Value) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let dropped = format!(
        "http://{}/workflows/{TOKEN}/triggers/manual",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let err = flowmeter_edge::notify::post_webhook(http, &dropped, payload)
        .await
        .expect_err("dropped");
    assert_clean(&err, err.to_string());
}

/// A webhook endpoint whose 404 answer echoes the URL (as the request's `Host` names it) and
/// the path; its URL.
async fn echoing_endpoint() -> String {
    let address = serve_loopback(|request: hyper::Request<_>| async move {
        let path = request.uri().path();
        let host = request
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let body = format!("no_service: http://{host}{path} (path {path})");
        Ok::<_, std::convert::Infallible>(reply(404, "text/plain", body, None))
    })
    .await;
    format!("http://{address}/services/T000/B000/{TOKEN}")
}

/// An error answer that echoes the URL and the path.
async fn an_echoed_error_answer_leaks_nothing(http: &reqwest::Client, payload: &Value) {
    let echoing = echoing_endpoint().await;
    let err = flowmeter_edge::notify::post_webhook(http, &echoing, payload)
        .await
        .expect_err("404");
    match &err {
        NotifyError::Webhook { status: 404, body } => {
            assert!(body.starts_with("no_service: "), "{body}")
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_clean(&err, err.to_string());
}

/// And through a whole run: the error the dev server answers and the Lambda logs.
async fn a_failed_run_leaks_nothing(http: &reqwest::Client, refused: &str) {
    let store = fresh_store("digest-leak").await;
    store.put_config("org: acme\n").await.expect("config");
    let config = stored_config(&store).await;
    let channels = Channels {
        slack_webhook_url: None,
        teams_webhook_url: Some(refused.to_string()),
    };
    let err = run(
        &store,
        &ses_client().await,
        http,
        &config,
        &channels,
        "2026-W41".parse().expect("week"),
        instant("2026-10-12T08:00:00Z"),
    )
    .await
    .expect_err("teams refused");
    assert!(
        matches!(err, DigestError::Send { ref channel, .. } if channel == "teams#0"),
        "{err:?}"
    );
    assert_clean(&err, err.to_string());
}

/// An SES endpoint that answers with scripted SES v2 errors (the emulator accepts everything):
/// status, `x-amzn-ErrorType`, message.
async fn scripted_ses(
    answers: Vec<(u16, &'static str, &'static str)>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let address = flowmeter_e2e::http::serve_loopback(move |_request| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (status, kind, message) = answers.get(n).copied().unwrap_or((200, "", ""));
        let response = if status == 200 {
            hyper::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(
                    br#"{"MessageId":"scripted-1"}"#,
                )))
        } else {
            hyper::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .header("x-amzn-errortype", kind)
                .body(Full::new(Bytes::from(format!(
                    r#"{{"message":"{message}"}}"#
                ))))
        };
        async move { response }
    })
    .await;
    let url = format!("http://{address}");
    (url, calls)
}

fn ses_at(url: &str, shared: &aws_config::SdkConfig) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(shared)
            .endpoint_url(url)
            .build(),
    )
}

/// One email to vp@acme.example through the SES endpoint at `url`.
async fn send_email_at(url: &str, shared: &aws_config::SdkConfig) -> Result<String, NotifyError> {
    let to = ["vp@acme.example".to_string()];
    flowmeter_edge::notify::send_email(
        &ses_at(url, shared),
        "m@acme.example",
        &to,
        "s",
        "<p>h</p>",
        "t",
    )
    .await
}

#[tokio::test]
async fn ses_throttling_is_retried_and_a_rejection_is_a_clear_final_error() {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let (url, calls) = scripted_ses(vec![
        (
            429,
            "TooManyRequestsException",
            "Maximum sending rate exceeded.",
        ),
        (
            429,
            "TooManyRequestsException",
            "Maximum sending rate exceeded.",
        ),
    ])
    .await;
    let id = send_email_at(&url, &shared)
        .await
        .expect("sent after backoff");
    assert_eq!(id, "scripted-1");
    assert!(
        calls.load(std::sync::atomic::Ordering::SeqCst) >= 3,
        "retried after two throttles"
    );

    let (url, calls) = scripted_ses(vec![(
        400,
        "MessageRejected",
        "Email address is not verified. The following identities failed the check in region US-EAST-1: m@acme.example",
    )])
    .await;
    let err = send_email_at(&url, &shared).await.expect_err("rejected");
    assert!(
        matches!(err, NotifyError::Rejected(ref m) if m.contains("not verified")),
        "{err}"
    );
    assert!(!err.is_transient());
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "no retries of a rejection"
    );
}
