//! The read API against DynamoDB Local: auth, validation, scopes resolved from the current
//! config, numbers that match a direct computation over the stored projections, the request
//! budget of a team query, config replacement, and the Prometheus exposition.

use std::sync::atomic::Ordering;

use chrono::NaiveDate;
use flowmeter_e2e::scenario::history;
use flowmeter_e2e::{deliver, drain, fresh_store};
use flowmeter_edge::api::{handle_api, ApiState};
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::lambda_http::{Body, Request};
use flowmeter_edge::store::{Projection, Store};
use serde_json::Value;

const API: &str = "read-token";
const ADMIN: &str = "admin-token";

const CONFIG: &str = r#"
org: acme
teams:
  core:
    members: [alice]
    repos: [acme/api]
  empty:
    repos: [acme/nothing]
services:
  api: { repos: [acme/api] }
"#;

fn request(method: &str, uri: &str, token: Option<&str>, body: Option<&str>) -> Request {
    let mut builder = flowmeter_edge::lambda_http::http::Request::builder()
        .method(method)
        .uri(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    builder.body(body).expect("request")
}

async fn call(
    state: &ApiState,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value, String) {
    let response = handle_api(state, &request(method, uri, token, body)).await;
    let status = response.status();
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

async fn loaded_store() -> Store {
    let store = fresh_store("api").await;
    store.put_config(CONFIG).await.expect("config");
    for delivery in history(11) {
        assert_eq!(deliver(&store, &delivery).await.0, StatusCode::ACCEPTED);
    }
    drain(&store, &mut None).await;
    store
}

/// Successful production deployments and failed attempts in [from, to], straight from the
/// stored projections (not via rollups).
async fn direct_deployment_counts(
    store: &Store,
    from: NaiveDate,
    to: NaiveDate,
) -> (u64, u64, u64) {
    let (mut ok, mut all, mut failed) = (0, 0, 0);
    for item in store.scan_prefix("DEP#").await.expect("scan") {
        if item
            .get("sk")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            != Some(flowmeter_edge::store::PROJECTION_SK)
        {
            continue;
        }
        let stored = flowmeter_edge::store::ProjectionItem::from_item(item).expect("projection");
        let Projection::Deployment(d) = stored.projection else {
            continue;
        };
        let Some(day) = d.finished_at.map(|f| f.date_naive()) else {
            continue;
        };
        if !d.is_production_attempt() || day < from || day > to {
            continue;
        }
        all += 1;
        ok += u64::from(d.is_successful_production());
        failed += u64::from(d.is_failed());
    }
    (ok, all, failed)
}

#[tokio::test]
async fn reports_match_the_stored_projections_and_errors_are_clear() {
    let store = loaded_store().await;
    let state = ApiState::new(store.clone(), API.into(), ADMIN.into());

    let (status, body, _) = call(&state, "GET", "/healthz", None, None).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, serde_json::json!({"ok": true}))
    );
    for token in [None, Some("wrong")] {
        let (status, body, _) = call(&state, "GET", "/v1/dora", token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "unauthorized");
    }

    let from = NaiveDate::from_ymd_opt(2026, 10, 5).expect("date");
    let to = NaiveDate::from_ymd_opt(2026, 10, 18).expect("date");
    let (ok, all, failed) = direct_deployment_counts(&store, from, to).await;
    assert!(ok >= 2, "the history deploys");
    for scope in ["org", "team:core", "repo:acme/api", "service:api"] {
        let uri = format!("/v1/dora?scope={scope}&from=2026-10-05&to=2026-10-18");
        let (status, dora, text) = call(&state, "GET", &uri, Some(API), None).await;
        assert_eq!(status, StatusCode::OK, "{scope}: {text}");
        assert_eq!(dora["scope"], scope);
        assert_eq!(dora["from"], "2026-10-05");
        assert_eq!(dora["to"], "2026-10-18");
        assert_eq!(dora["deployment_frequency"]["deployments"], ok, "{scope}");
        assert_eq!(dora["change_failure_rate"]["deployments"], all, "{scope}");
        assert_eq!(dora["change_failure_rate"]["failed"], failed, "{scope}");
        assert_eq!(dora["weeks"].as_array().map(Vec::len), Some(2));
    }
    let (status, cycle, text) = call(
        &state,
        "GET",
        "/v1/cycle-time?scope=team:core&from=2026-10-05&to=2026-10-18",
        Some(API),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(cycle["count"].as_u64().is_some_and(|c| c >= 1), "{cycle}");
    let (status, prs, text) = call(
        &state,
        "GET",
        "/v1/pull-requests?from=2026-10-05&to=2026-10-18",
        Some(API),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        prs["merged"], cycle["count"],
        "alice authors every human PR of the history"
    );
    let (status, incidents, text) = call(
        &state,
        "GET",
        "/v1/incidents?scope=service:api&from=2026-10-05&to=2026-10-18",
        Some(API),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(incidents["by_severity"]["sev1"].is_u64());

    // Errors: unknown scopes, bad dates, reversed periods, unknown parameters, other environments.
    for (uri, expected, needle) in [
        (
            "/v1/dora?scope=team:nope",
            StatusCode::NOT_FOUND,
            "team:nope",
        ),
        (
            "/v1/dora?scope=repo:acme/unknown",
            StatusCode::NOT_FOUND,
            "repo:acme/unknown",
        ),
        (
            "/v1/dora?scope=galaxy:far",
            StatusCode::NOT_FOUND,
            "galaxy:far",
        ),
        ("/v1/dora?from=2026-13-01", StatusCode::BAD_REQUEST, "from"),
        (
            "/v1/dora?from=2026-10-18&to=2026-10-05",
            StatusCode::BAD_REQUEST,
            "after",
        ),
        ("/v1/dora?colour=blue", StatusCode::BAD_REQUEST, "colour"),
        ("/v1/dora?env=staging", StatusCode::BAD_REQUEST, "env"),
        (
            "/v1/dora?from=2000-01-01&to=2026-01-01",
            StatusCode::BAD_REQUEST,
            "weeks",
        ),
    ] {
        let (status, body, text) = call(&state, "GET", uri, Some(API), None).await;
        assert_eq!(status, expected, "{uri}: {text}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{uri}: {message:?} should mention {needle:?}"
        );
    }
    // A configured team without data is known: zeros and nulls, not 404.
    let (status, empty, _) =
        call(&state, "GET", "/v1/dora?scope=team:empty", Some(API), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["lead_time"]["p50_seconds"], Value::Null);
    assert_eq!(empty["lead_time"]["level"], Value::Null);
}

#[tokio::test]
async fn a_thirteen_week_team_query_reads_rollups_in_at_most_two_requests() {
    let store = loaded_store().await;
    let state = ApiState::new(store.clone(), API.into(), ADMIN.into());
    // Warm the config cache: the budget is for the rollup reads.
    let _ = state.config().await.expect("config");
    let before = store.meter.requests.load(Ordering::Relaxed);
    let (status, _, text) = call(
        &state,
        "GET",
        "/v1/dora?scope=team:core&from=2026-08-03&to=2026-11-01",
        Some(API),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let used = store.meter.requests.load(Ordering::Relaxed) - before;
    assert!(
        used <= 2,
        "a 13-week team query used {used} DynamoDB requests"
    );
    assert!(used >= 1);
}

#[tokio::test]
async fn config_is_replaced_only_by_the_admin_and_only_when_valid() {
    let store = loaded_store().await;
    let state = ApiState::new(store.clone(), API.into(), ADMIN.into());
    let (status, _, _) = call(&state, "PUT", "/v1/config", Some(API), Some("org: x\n")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body, _) = call(
        &state,
        "PUT",
        "/v1/config",
        Some(ADMIN),
        Some("org: acme\nteams:\n  core:\n    repos: [not-a-repo]\n"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("teams.core.repos"),
        "names the field: {message}"
    );
    let (_, current, _) = call(&state, "GET", "/v1/config", Some(API), None).await;
    assert_eq!(
        current["teams"]["core"]["members"],
        serde_json::json!(["alice"]),
        "old config kept"
    );

    // Team membership is resolved at read time: moving the repo changes all history at once.
    let before = call(
        &state,
        "GET",
        "/v1/dora?scope=team:core&from=2026-10-05&to=2026-10-18",
        Some(API),
        None,
    )
    .await
    .1;
    assert!(before["deployment_frequency"]["deployments"]
        .as_u64()
        .is_some_and(|d| d > 0));
    let edited = "org: acme\nteams:\n  core:\n    members: [alice]\n    repos: [acme/other]\n  platform:\n    repos: [acme/api]\n";
    let (status, _, text) = call(&state, "PUT", "/v1/config", Some(ADMIN), Some(edited)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let core = call(
        &state,
        "GET",
        "/v1/dora?scope=team:core&from=2026-10-05&to=2026-10-18",
        Some(API),
        None,
    )
    .await
    .1;
    let platform = call(
        &state,
        "GET",
        "/v1/dora?scope=team:platform&from=2026-10-05&to=2026-10-18",
        Some(API),
        None,
    )
    .await
    .1;
    assert_eq!(core["deployment_frequency"]["deployments"], 0);
    assert_eq!(
        platform["deployment_frequency"],
        before["deployment_frequency"]
    );
    let (_, teams, _) = call(&state, "GET", "/v1/teams", Some(API), None).await;
    assert_eq!(teams["teams"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn metrics_exposition_passes_promtool() {
    let store = loaded_store().await;
    let state = ApiState::new(store, API.into(), ADMIN.into());
    let (status, _, _) = call(&state, "GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, text) = call(&state, "GET", "/metrics", Some(API), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("scope=\"team:core\""), "{text}");
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; `make deps` installs it)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write metrics");
    }
    let output = child.wait_with_output().expect("promtool ran");
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
