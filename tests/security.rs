//! Security alerts on DynamoDB Local: GitHub's `dependabot_alert`, `code_scanning_alert` and
//! `secret_scanning_alert` deliveries through the real webhook handler and the rollup
//! pipeline, then `GET /v1/security` and `/metrics`: open alerts by severity, the period's fix
//! and its time to fix; a redelivery writes nothing.

use chrono::{DateTime, Duration, Utc};
use flowmeter_e2e::payload::bytes;
use flowmeter_e2e::{
    api_call, api_text, deliver, drain, fresh_store, table_snapshot, Delivery, GITHUB_SECRET,
};
use flowmeter_edge::api::ApiState;
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::store::Store;
use serde_json::{json, Value};

const TOKEN: &str = "read-token";

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An alert event as GitHub sends it (the fields Flowmeter reads, and a few it does not).
fn alert_event(repo: &str, action: &str, alert: Value) -> Value {
    json!({"action": action, "alert": alert,
           "repository": {"full_name": repo, "name": repo.split('/').nth(1), "private": true},
           "sender": {"login": "github", "type": "Bot"}})
}

async fn send(store: &Store, event: &str, id: &str, body: &Value) -> Value {
    let delivery = Delivery::github(GITHUB_SECRET, event, id, bytes(body));
    let (status, answer) = deliver(store, &delivery).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{event}: {answer}");
    answer
}

/// Four alerts of acme/api and one of a repo no team names, told by GitHub over the last three
/// days; the first one's redelivery writes nothing.
async fn deliver_alerts(store: &Store, now: DateTime<Utc>) {
    let (three_days, two_days, one_day, an_hour) = (
        now - Duration::days(3),
        now - Duration::days(2),
        now - Duration::days(1),
        now - Duration::hours(1),
    );
    // a critical Dependabot alert found three days ago, still open
    let dependabot = alert_event(
        "acme/api",
        "created",
        json!({
        "number": 1, "state": "open", "html_url": "https://github.com/acme/api/security/dependabot/1",
        "created_at": stamp(three_days), "updated_at": stamp(three_days),
        "security_advisory": {"severity": "critical", "summary": "Prototype pollution in lodash"},
        "dependency": {"package": {"ecosystem": "npm", "name": "lodash"}}}),
    );
    let answer = send(store, "dependabot_alert", "s-1", &dependabot).await;
    assert_eq!(answer["facts_written"], 1, "{answer}");
    // a code scanning finding (rule severity error: high) found two days ago, fixed a day later
    let finding = |action: &str, state: &str, updated: DateTime<Utc>| {
        alert_event(
            "acme/api",
            action,
            json!({
            "number": 7, "state": state,
            "html_url": "https://github.com/acme/api/security/code-scanning/7",
            "created_at": stamp(two_days), "updated_at": stamp(updated),
            "fixed_at": if state == "fixed" { json!(stamp(updated)) } else { Value::Null },
            "rule": {"id": "js/sql-injection", "severity": "error", "description": "SQL injection"}}),
        )
    };
    send(
        store,
        "code_scanning_alert",
        "s-2",
        &finding("created", "open", two_days),
    )
    .await;
    send(
        store,
        "code_scanning_alert",
        "s-3",
        &finding("fixed", "fixed", one_day),
    )
    .await;
    // a leaked secret an hour ago
    let secret = alert_event(
        "acme/api",
        "created",
        json!({
        "number": 3, "state": "open", "secret_type": "aws_access_key_id",
        "secret_type_display_name": "Amazon AWS Access Key ID",
        "created_at": stamp(an_hour), "updated_at": stamp(an_hour),
        "html_url": "https://github.com/acme/api/security/secret-scanning/3"}),
    );
    send(store, "secret_scanning_alert", "s-4", &secret).await;
    // another org's repo, which no team names
    let elsewhere = alert_event(
        "other/repo",
        "created",
        json!({
        "number": 9, "state": "open", "created_at": stamp(an_hour),
        "security_advisory": {"severity": "low", "summary": "x"}}),
    );
    send(store, "dependabot_alert", "s-5", &elsewhere).await;
    // a redelivery (under a new delivery id) writes nothing
    let before = table_snapshot(store).await;
    let again = send(store, "dependabot_alert", "s-1-again", &dependabot).await;
    assert_eq!(again["facts_written"], 0);
    assert_eq!(table_snapshot(store).await, before);
}

#[tokio::test]
async fn alerts_are_counted_by_severity_and_a_fix_gives_its_time_to_fix() {
    let store = fresh_store("security").await;
    store
        .put_config("org: acme\nteams:\n  core:\n    members: [alice]\n    repos: [acme/api]\n")
        .await
        .expect("config");
    let now = Utc::now();
    deliver_alerts(&store, now).await;
    drain(&store, &mut None).await;

    let state = ApiState::new(store.clone(), TOKEN.into(), "admin".into());
    let period = format!(
        "scope=team:core&from={}&to={}",
        (now - Duration::days(7)).date_naive(),
        now.date_naive()
    );
    let (status, body) =
        api_call(&state, "GET", &format!("/v1/security?{period}"), TOKEN, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["repos"].as_array().map(Vec::len), Some(1), "{body}");
    let repo = &body["repos"][0];
    assert_eq!(repo["repo"], "acme/api");
    assert_eq!(
        repo["open"],
        json!({"critical": 2, "high": 0, "medium": 0, "low": 0})
    );
    assert_eq!(
        (repo["opened"].clone(), repo["fixed"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(repo["time_to_fix"]["p50_seconds"], json!(86_400.0));
    let listed: Vec<&str> = repo["open_alerts"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        listed,
        ["dependabot:1", "secret_scanning:3"],
        "most severe, then oldest"
    );
    assert_eq!(
        repo["open_alerts"][0]["title"],
        "Prototype pollution in lodash"
    );
    assert_eq!(body["totals"]["open"]["critical"], 2);
    // the documented shape
    flowmeter_e2e::openapi::assert_matches(&body, "SecurityReport");

    // /metrics: a gauge per configured repo and severity
    let (status, text) = api_text(&state, "GET", "/metrics", TOKEN, "").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "flowmeter_security_alerts_open{repo=\"acme/api\",severity=\"critical\"} 2",
        "flowmeter_security_alerts_open{repo=\"acme/api\",severity=\"high\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(!text.contains("other/repo"));

    // bad input is a 4xx, never a read
    let (status, _) = api_call(&state, "GET", "/v1/security?scope=team:nope", TOKEN, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api_call(&state, "GET", "/v1/security?from=soon", TOKEN, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
