//! The dev server over real HTTP: the same handlers as the Lambdas, the stream poller feeding
//! the rollup handler, and its start-up checks.

use std::time::{Duration, Instant};

use flowmeter::model::EntityKey;
use flowmeter_devserver::prepare;
use flowmeter_e2e::http::{devserver_settings, ses_emails, RunningDevServer};
use flowmeter_e2e::{fresh_store, Delivery, PAGERDUTY_SECRET};
use flowmeter_edge::store::{Projection, Store};

async fn start(store: Store) -> RunningDevServer {
    RunningDevServer::start(store, "api-token", "admin-token").await
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    delivery: &Delivery,
) -> (u16, serde_json::Value) {
    let mut request = client
        .post(format!("{base}{}", delivery.path))
        .body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        request = request.header(*name, value.as_str());
    }
    let response = request.send().await.expect("POST");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Sends `request`; its JSON answer.
async fn answer(request: reqwest::RequestBuilder) -> serde_json::Value {
    request
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("json")
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

#[tokio::test]
async fn serves_webhooks_and_derives_them() {
    let store = fresh_store("devserver").await;
    let running = start(store.clone()).await;
    let client = reqwest::Client::new();

    let health = running.get(&client, "/healthz").await;
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.expect("json"),
        serde_json::json!({"ok": true})
    );

    // A real PagerDuty V3 delivery, signed, over HTTP.
    let triggered = Delivery::pagerduty(PAGERDUTY_SECRET, fixture("pagerduty/triggered_v3.json"));
    let (status, answer) = post(&client, &running.base, &triggered).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["facts_written"], 1);
    let (status, again) = post(&client, &running.base, &triggered).await;
    assert_eq!(
        (status, again["facts_written"].clone()),
        (202, serde_json::json!(0))
    );

    // The dev server's poller feeds the rollup handler: the incident is derived, i.e. its
    // projection is written by a run recorded done. No deadline decides this (a loaded machine
    // is slow, not wrong); the guard only ends a hang.
    let key = EntityKey::Incident {
        id: "pd:PFQZPSY".into(),
    };
    let started = Instant::now();
    let incident = loop {
        if let Some(item) = store.projection(&key).await.expect("projection") {
            let done = match &item.run {
                Some(run) => store.run_done(run).await.expect("run marker"),
                None => false,
            };
            if done {
                break item;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the incident was never derived: the poller hung"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let Projection::Incident(incident) = incident.projection else {
        panic!("not an incident projection")
    };
    assert_eq!(incident.resolved_at, None);
    assert_eq!(
        incident.opened_at.to_rfc3339(),
        "2021-06-04T13:35:29.781+00:00"
    );

    // Oversized bodies are refused before they are read in full; unknown routes are 404.
    let huge = vec![b'x'; flowmeter::ingest::MAX_BODY_BYTES + 1];
    let response = client
        .post(format!("{}/webhooks/github", running.base))
        .body(huge)
        .send()
        .await
        .expect("POST huge");
    assert_eq!(response.status().as_u16(), 413);
    let response = running.get(&client, "/nope").await;
    assert_eq!(response.status().as_u16(), 404);

    running.stop_cleanly().await;
}

#[tokio::test]
async fn a_bad_config_file_is_rejected_naming_the_field() {
    let store = fresh_store("badconfig").await;
    let path =
        std::env::temp_dir().join(format!("flowmeter-bad-config-{}.yaml", std::process::id()));
    std::fs::write(&path, "org: acme\ntimezone: Mars/Olympus\n").expect("write config");
    let mut settings = devserver_settings("api-token", "admin-token");
    settings.config_path = Some(path.display().to_string());
    let err = prepare(&store, &settings)
        .await
        .expect_err("bad config must be rejected");
    assert!(
        err.to_string().contains("timezone"),
        "error names the field: {err}"
    );
    assert!(
        store.config().await.expect("config read").is_none(),
        "nothing stored"
    );
    std::fs::write(&path, "org: acme\ntimezone: Europe/Berlin\n").expect("write config");
    prepare(&store, &settings).await.expect("good config");
    let (config, _) = store.config().await.expect("read").expect("stored");
    assert_eq!(config.timezone(), chrono_tz::Europe::Berlin);
    let _ = std::fs::remove_file(path);
}

/// `POST /dev/digest` over HTTP: admin only (401 without the admin token or with another
/// token, the API token included, and nothing sent), a bad week is a 400 naming it, a good one
/// goes to the SES emulator once, and running it again sends nothing (the ledger says it went
/// out). With no Slack webhook configured the answer still holds the Block Kit messages the
/// digest would post (`make demo` writes them to `out/slack.json`).
#[tokio::test]
async fn dev_digest_sends_a_week_once_and_rejects_a_bad_week() {
    let store = fresh_store("devdigest").await;
    store
        .put_config(
            "org: acme-devdigest\nteams:\n  core:\n    repos: [acme/api]\n\
             digest:\n  email: { from: metrics@acme.example, to: [vp-eng@acme.example] }\n",
        )
        .await
        .expect("config");
    let running = start(store.clone()).await;
    let client = reqwest::Client::new();
    let url = |query: &str| format!("{}/dev/digest{query}", running.base);
    let admin = |request: reqwest::RequestBuilder| request.bearer_auth("admin-token");

    for token in [None, Some("wrong-token"), Some("api-token")] {
        let mut request = client.post(url("?week=2026-W41"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let refused = request.send().await.expect("POST");
        assert_eq!(refused.status().as_u16(), 401, "token {token:?}");
        let body = refused.json::<serde_json::Value>().await.expect("json");
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    }
    assert!(
        store
            .scan_prefix(flowmeter_edge::store::keys::DIGEST)
            .await
            .expect("scan")
            .is_empty(),
        "a refused request claims and sends nothing"
    );

    let wrong_method = admin(client.get(url("?week=2026-W41")))
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong_method.status().as_u16(), 405);
    let bad = admin(client.post(url("?week=2026-W99")))
        .send()
        .await
        .expect("POST");
    assert_eq!(bad.status().as_u16(), 400);
    let message = bad.json::<serde_json::Value>().await.expect("json")["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("week"), "{message}");

    let first = answer(admin(client.post(url("?week=2026-W41")))).await;
    assert_eq!(first["week"], "2026-W41", "{first}");
    let id = first["email_message_id"]
        .as_str()
        .expect("an email went out")
        .to_string();
    let emails = ses_emails(&client).await;
    assert_eq!(
        emails
            .iter()
            .filter(|e| e["messageId"] == id.as_str())
            .count(),
        1,
        "the emulator holds the email"
    );

    // No Slack webhook here: nothing posted, but the messages it would post are in the answer.
    assert_eq!(first["slack"], serde_json::json!([]), "{first}");
    assert!(
        first["not_configured"]
            .as_array()
            .is_some_and(|n| n.iter().any(|c| c == "slack")),
        "{first}"
    );
    let preview = first["slack_preview"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(preview.len(), 1, "one Slack message for one team: {first}");
    flowmeter::digest::check_block_kit_limits(&preview[0]).expect("valid Block Kit");
    assert_eq!(
        preview[0]["blocks"][0]["text"]["text"],
        "Weekly digest · acme-devdigest · 2026-W41"
    );

    let again = answer(admin(client.post(url("?week=2026-W41")))).await;
    assert_eq!(
        again["already_sent"],
        serde_json::json!(["email"]),
        "{again}"
    );
    assert_eq!(
        again["email_message_id"],
        id.as_str(),
        "the ledger's record of the send"
    );

    let _ = running.stop.send(true);
    let _ = running.task.await;
}
