//! The weekly digest end to end: rollups in DynamoDB Local → one model → email through the real
//! SES v2 API shape (aws-ses-v2-local) and Slack messages to a stand-in that enforces Block Kit's
//! limits and answers like Slack — each part exactly once per (org, week, channel).

use flowmeter::time::IsoWeek;
use flowmeter_e2e::scenario::history;
use flowmeter_e2e::slack_standin::{Scripted, SlackStandIn};
use flowmeter_e2e::{deliver, drain, fresh_store};
use flowmeter_edge::digest::{run, Channels, DigestError};
use flowmeter_edge::notify::{ses_client, NotifyError};
use flowmeter_edge::store::Store;
use serde_json::Value;

const CONFIG: &str = r##"
org: acme
teams:
  core:
    members: [alice]
    repos: [acme/api]
  web:
    repos: [acme/web]
digest:
  email: { from: metrics@acme.example, to: [vp-eng@acme.example] }
  slack: { channel: "#engineering-metrics" }
"##;

async fn loaded_store() -> Store {
    let store = fresh_store("digest").await;
    store.put_config(CONFIG).await.expect("config");
    for delivery in history(11) {
        deliver(&store, &delivery).await;
    }
    drain(&store, &mut None).await;
    store
}

/// Emails the SES emulator holds (`GET /store`), as JSON.
async fn ses_emails(http: &reqwest::Client) -> Vec<Value> {
    let endpoint = std::env::var("FLOWMETER_SES_ENDPOINT")
        .expect("FLOWMETER_SES_ENDPOINT (make test starts the emulator)");
    let store: Value = http
        .get(format!("{endpoint}/store"))
        .send()
        .await
        .expect("GET /store")
        .json()
        .await
        .expect("store JSON");
    store["emails"].as_array().cloned().unwrap_or_default()
}

fn emails_for(emails: &[Value], subject_part: &str) -> usize {
    emails
        .iter()
        .filter(|e| {
            e["subject"]
                .as_str()
                .is_some_and(|s| s.contains(subject_part))
        })
        .count()
}

#[tokio::test]
async fn sends_each_part_once_and_a_retry_sends_only_what_failed() {
    let store = loaded_store().await;
    let config = flowmeter_edge::settings::load_config(&store)
        .await
        .expect("config");
    let ses = ses_client().await;
    let http = reqwest::Client::new();
    let slack = SlackStandIn::start().await;
    let channels = Channels {
        slack_webhook_url: Some(slack.url.clone()),
        teams_webhook_url: None,
    };
    let week: IsoWeek = "2026-W41".parse().expect("week");
    let now = "2026-10-12T09:00:00Z".parse().expect("now");
    let before = ses_emails(&http).await.len();

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
    let emails = ses_emails(&http).await;
    assert_eq!(emails.len(), before + 1, "the email went out once");
    let sent = emails.last().expect("email");
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
    assert_eq!(
        sent["destination"]["to"],
        serde_json::json!(["vp-eng@acme.example"])
    );
    assert_eq!(sent["from"], "metrics@acme.example");

    // The retry sends only Slack; a 429 with Retry-After is waited out.
    slack.script([Scripted::RateLimited(1)]);
    let outcome = run(&store, &ses, &http, &config, &channels, week, now)
        .await
        .expect("retry succeeds");
    assert_eq!(outcome.already_sent, vec!["email".to_string()]);
    assert!(!outcome.slack.is_empty());
    assert_eq!(
        slack.accepted().len(),
        outcome.slack.len(),
        "every message accepted within Block Kit limits"
    );
    assert_eq!(ses_emails(&http).await.len(), before + 1, "no second email");
    let requests = slack.requests();

    // A third run sends nothing at all.
    let outcome = run(&store, &ses, &http, &config, &channels, week, now)
        .await
        .expect("third run");
    assert!(outcome.already_sent.contains(&"email".to_string()));
    assert!(outcome.already_sent.iter().any(|c| c.starts_with("slack#")));
    assert_eq!(slack.requests(), requests, "nothing re-sent to Slack");
    assert_eq!(ses_emails(&http).await.len(), before + 1);
    assert_eq!(
        emails_for(&ses_emails(&http).await, "2026-W41"),
        emails_for(&emails, "2026-W41")
    );
}

#[tokio::test]
async fn a_failed_email_is_released_for_the_next_run() {
    let store = loaded_store().await;
    let config = flowmeter_edge::settings::load_config(&store)
        .await
        .expect("config");
    let http = reqwest::Client::new();
    let channels = Channels::default();
    let week: IsoWeek = "2026-W42".parse().expect("week");
    let now = "2026-10-19T09:00:00Z".parse().expect("now");
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
    let before = ses_emails(&http).await.len();
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
    assert_eq!(ses_emails(&http).await.len(), before + 1);
    assert_eq!(
        outcome.not_configured,
        vec!["slack".to_string(), "teams".to_string()]
    );
}

/// An SES endpoint that answers with scripted SES v2 errors (the emulator accepts everything):
/// status, `x-amzn-ErrorType`, message.
async fn scripted_ses(
    answers: Vec<(u16, &'static str, &'static str)>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answers = answers.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
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
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, calls)
}

fn ses_at(url: &str, shared: &aws_config::SdkConfig) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(shared)
            .endpoint_url(url)
            .build(),
    )
}

#[tokio::test]
async fn ses_throttling_is_retried_and_a_rejection_is_a_clear_final_error() {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let to = vec!["vp@acme.example".to_string()];

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
    let id = flowmeter_edge::notify::send_email(
        &ses_at(&url, &shared),
        "m@acme.example",
        &to,
        "s",
        "<p>h</p>",
        "t",
    )
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
    let err = flowmeter_edge::notify::send_email(
        &ses_at(&url, &shared),
        "m@acme.example",
        &to,
        "s",
        "<p>h</p>",
        "t",
    )
    .await
    .expect_err("rejected");
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
