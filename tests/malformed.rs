//! A malformed-input corpus sent to the dev server over real HTTP: truncated JSON, wrong types,
//! huge numbers, deep nesting, invalid UTF-8, missing and duplicated headers, wrong content
//! types, empty and oversized bodies, signatures for another body, unknown routes and methods,
//! bad query strings, and a few requests that are not even HTTP. Every webhook case is signed
//! correctly (unless the signature is what the case is about), so the parsers are exercised
//! rather than only the signature check.
//!
//! Asserted: no 5xx and no dropped connection (a panic in a handler drops it), no panic at all
//! (a panic hook counts them), the server still answers `/healthz` afterwards, and nothing was
//! written: the table is byte for byte what it was before the corpus, while the valid controls
//! sent before and after it do write.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flowmeter::ingest::signature::sign_hex;
use flowmeter::ingest::MAX_BODY_BYTES;
use flowmeter::model::EntityKey;
use flowmeter_e2e::http::RunningDevServer;
use flowmeter_e2e::{
    fresh_store, payload, table_snapshot, ARGOCD_TOKEN, BITBUCKET_SECRET, GENERIC_SECRET,
    GITHUB_SECRET, GITLAB_TOKEN, JIRA_SECRET, JIRA_TOKEN, LINEAR_SECRET, PAGERDUTY_SECRET,
};
use flowmeter_edge::store::Store;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const API_TOKEN: &str = "api-token";
const ADMIN_TOKEN: &str = "admin-token";

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// What a case must answer.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Exactly this status.
    Status(u16),
    /// Any 4xx: the exact code is the server's choice (e.g. hyper's own parse errors).
    Client,
    /// Anything but 5xx (a read of an empty table may be 200 or 404).
    NotServerError,
}

/// A delivery id that names its case, unique as the case names are.
fn delivery_id(name: &str) -> String {
    format!("malformed-{}", name.replace(' ', "-"))
}

struct Case {
    name: String,
    method: Method,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    expect: Expect,
}

impl Case {
    fn new(name: impl Into<String>, path: impl Into<String>, body: Vec<u8>) -> Case {
        Case {
            name: name.into(),
            method: Method::POST,
            path: path.into(),
            headers: Vec::new(),
            body,
            expect: Expect::Status(400),
        }
    }

    /// A POST of a JSON body, as every webhook sends one.
    fn json(name: impl Into<String>, path: impl Into<String>, body: Vec<u8>) -> Case {
        Case::new(name, path, body).header("content-type", "application/json")
    }

    fn method(mut self, method: Method) -> Case {
        self.method = method;
        self
    }

    fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Case {
        self.headers
            .push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    fn expect(mut self, expect: Expect) -> Case {
        self.expect = expect;
        self
    }

    fn status(self, status: u16) -> Case {
        self.expect(Expect::Status(status))
    }

    /// A GitHub delivery, correctly signed, with a fresh delivery id.
    fn github(name: impl Into<String>, event: &str, body: Vec<u8>) -> Case {
        let name = name.into();
        let signature = format!("sha256={}", sign_hex(GITHUB_SECRET.as_bytes(), &body));
        let delivery = delivery_id(&name);
        Case::json(name, "/webhooks/github", body)
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", signature)
    }

    fn pagerduty(name: impl Into<String>, body: Vec<u8>) -> Case {
        let signature = format!("v1={}", sign_hex(PAGERDUTY_SECRET.as_bytes(), &body));
        Case::json(name, "/webhooks/pagerduty", body).header("x-pagerduty-signature", signature)
    }

    fn generic(name: impl Into<String>, path: &str, body: Vec<u8>) -> Case {
        let signature = format!("sha256={}", sign_hex(GENERIC_SECRET.as_bytes(), &body));
        Case::json(name, path, body).header("x-flowmeter-signature-256", signature)
    }

    /// A Jira Cloud delivery, correctly signed.
    fn jira(name: impl Into<String>, body: Vec<u8>) -> Case {
        let signature = format!("sha256={}", sign_hex(JIRA_SECRET.as_bytes(), &body));
        Case::json(name, "/webhooks/jira", body).header("x-hub-signature", signature)
    }

    /// A Jira Server delivery to the URL with the right token.
    fn jira_server(name: impl Into<String>, body: Vec<u8>) -> Case {
        Case::json(name, format!("/webhooks/jira/{JIRA_TOKEN}"), body)
    }

    /// A Linear delivery, correctly signed (its `webhookTimestamp` is the caller's to set).
    fn linear(name: impl Into<String>, body: Vec<u8>) -> Case {
        let signature = sign_hex(LINEAR_SECRET.as_bytes(), &body);
        Case::json(name, "/webhooks/linear", body).header("linear-signature", signature)
    }

    /// A GitLab delivery with the right token and a fresh event UUID.
    fn gitlab(name: impl Into<String>, event: &str, body: Vec<u8>) -> Case {
        let name = name.into();
        let delivery = delivery_id(&name);
        Case::json(name, "/webhooks/gitlab", body)
            .header("x-gitlab-token", GITLAB_TOKEN)
            .header("x-gitlab-event", event)
            .header("x-gitlab-event-uuid", delivery)
    }

    /// A Bitbucket delivery (Cloud or Data Center: the same headers), correctly signed, with a
    /// fresh request UUID.
    fn bitbucket(name: impl Into<String>, event_key: &str, body: Vec<u8>) -> Case {
        let name = name.into();
        let signature = format!("sha256={}", sign_hex(BITBUCKET_SECRET.as_bytes(), &body));
        let delivery = delivery_id(&name);
        Case::json(name, "/webhooks/bitbucket", body)
            .header("x-hub-signature", signature)
            .header("x-event-key", event_key)
            .header("x-request-uuid", delivery)
    }

    /// An argocd-notifications delivery with the right bearer token.
    fn argocd(name: impl Into<String>, body: Vec<u8>) -> Case {
        Case::json(name, "/webhooks/argocd", body)
            .header("authorization", format!("Bearer {ARGOCD_TOKEN}"))
    }

    /// A read with the API token.
    fn read(name: impl Into<String>, path_and_query: impl Into<String>) -> Case {
        Case::new(name, path_and_query, Vec::new())
            .method(Method::GET)
            .header("authorization", format!("Bearer {API_TOKEN}"))
    }
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn fixture_json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).expect("fixture is JSON")
}

/// `value` with the item at JSON pointer `pointer` replaced by `with` (the parent must exist).
fn replaced(value: &Value, pointer: &str, with: Value) -> Vec<u8> {
    let mut value = value.clone();
    *value.pointer_mut(pointer).expect("pointer into fixture") = with;
    serde_json::to_vec(&value).expect("JSON")
}

/// `value` with the JSON text `raw` spliced in at `pointer` (for numbers serde_json cannot hold).
fn spliced(value: &Value, pointer: &str, raw: &str) -> Vec<u8> {
    let marker = "\u{1}SPLICE\u{1}";
    let text = String::from_utf8(replaced(value, pointer, json!(marker))).expect("UTF-8");
    text.replacen(
        &format!("\"{}\"", marker.replace('\u{1}', "\\u0001")),
        raw,
        1,
    )
    .into_bytes()
}

/// The first `numerator/denominator` of a JSON text (trailing whitespace dropped first, so the
/// cut always lands inside the document).
fn truncated(body: &[u8], numerator: usize, denominator: usize) -> Vec<u8> {
    let end = body
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let cut = (end * numerator / denominator).clamp(1, end);
    body[..cut].to_vec()
}

/// Bytes that are not UTF-8, placed inside the first string value of the document.
fn with_invalid_utf8(body: &[u8], bytes: &[u8]) -> Vec<u8> {
    let colon = body.iter().position(|&b| b == b':').expect("a key");
    let quote = colon
        + body[colon..]
            .iter()
            .position(|&b| b == b'"')
            .expect("a string value");
    let mut out = body[..=quote].to_vec();
    out.extend_from_slice(bytes);
    out.extend_from_slice(&body[quote + 1..]);
    out
}

fn nested(open: &str, depth: usize, close: &str) -> Vec<u8> {
    let mut out = open.repeat(depth);
    out.push_str(&close.repeat(depth));
    out.into_bytes()
}

fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The GitHub events the parser reads, each with a real payload.
const GITHUB_FIXTURES: [(&str, &str); 12] = [
    ("pull_request", "github/pull_request/opened.payload.json"),
    (
        "pull_request_review",
        "github/pull_request_review/submitted.payload.json",
    ),
    (
        "pull_request_review_comment",
        "github/pull_request_review_comment/created.payload.json",
    ),
    ("issue_comment", "github/issue_comment/created.payload.json"),
    ("push", "github/push/with-new-branch.payload.json"),
    ("deployment", "github/deployment/payload.json"),
    ("deployment_status", "github/deployment_status/payload.json"),
    ("workflow_run", "github/workflow_run/completed.payload.json"),
    ("issues", "github/issues/opened.payload.json"),
    (
        "dependabot_alert",
        "github/dependabot_alert/created.payload.json",
    ),
    (
        "code_scanning_alert",
        "github/code_scanning_alert/created.payload.json",
    ),
    (
        "secret_scanning_alert",
        "github/secret_scanning_alert/reopened.payload.json",
    ),
];

const GITLAB_FIXTURES: [(&str, &str); 6] = [
    ("Merge Request Hook", "gitlab/go-gitlab.merge_request.json"),
    ("Push Hook", "gitlab/doc.push_hook.json"),
    ("Note Hook", "gitlab/doc.note_hook.merge_request.json"),
    ("Deployment Hook", "gitlab/go-gitlab.deployment.json"),
    ("Pipeline Hook", "gitlab/go-gitlab.pipeline.json"),
    ("Issue Hook", "gitlab/doc.issue_hook.incident.json"),
];

const BITBUCKET_FIXTURES: [(&str, &str); 4] = [
    (
        "pullrequest:approved",
        "bitbucket/cloud.pullrequest_approved.json",
    ),
    (
        "repo:push",
        "bitbucket/bbs-plugin.repo_push.signed_payload.json",
    ),
    ("pr:opened", "bitbucket/dc.pr_opened.json"),
    ("repo:refs_changed", "bitbucket/dc.repo_refs_changed.json"),
];

const ARGOCD_SUCCEEDED: &str = "argocd/succeeded.json";

const JIRA_CLOUD: &str = "jira/zulip.issue_updated__status.json";
const JIRA_SERVER: &str = "jira/jira-trigger-plugin.issue_updated_status_updated.json";

/// The Linear fixture dated now, so that only what a case breaks is refused.
fn linear_update() -> Value {
    let body = payload::linear::sent_now(&fixture("linear/issue_update_state.json"));
    serde_json::from_slice(&body).expect("JSON")
}

fn generic_deployment() -> Value {
    json!({"repo": "acme/api", "environment": "production",
           "sha": "0123456789abcdef0123456789abcdef01234567", "status": "success",
           "started_at": "2026-10-05T10:00:00Z", "finished_at": "2026-10-05T10:05:00Z", "id": "run-1"})
}

fn generic_incident() -> Value {
    json!({"id": "inc-1", "title": "errors up", "service": "acme/api", "severity": "sev2",
           "opened_at": "2026-10-05T11:00:00Z", "resolved_at": null, "deployment_sha": null})
}

/// Builds a case from a name and a body.
type Build = Box<dyn Fn(String, Vec<u8>) -> Case>;

/// Every route that parses a body, as (label, case builder).
fn parsing_routes() -> Vec<(String, Build)> {
    let mut routes: Vec<(String, Build)> = Vec::new();
    for (event, _) in GITHUB_FIXTURES {
        routes.push((
            format!("github {event}"),
            Box::new(move |name, body| Case::github(name, event, body)),
        ));
    }
    routes.push((
        "github ping".into(),
        Box::new(|name, body| Case::github(name, "ping", body)),
    ));
    routes.push(("pagerduty".into(), Box::new(Case::pagerduty)));
    routes.push((
        "deployments".into(),
        Box::new(|name, body| Case::generic(name, "/webhooks/deployments", body)),
    ));
    routes.push((
        "incidents".into(),
        Box::new(|name, body| Case::generic(name, "/webhooks/incidents", body)),
    ));
    routes.push(("jira".into(), Box::new(Case::jira)));
    routes.push(("jira server".into(), Box::new(Case::jira_server)));
    routes.push(("linear".into(), Box::new(Case::linear)));
    for (event, _) in GITLAB_FIXTURES {
        routes.push((
            format!("gitlab {event}"),
            Box::new(move |name, body| Case::gitlab(name, event, body)),
        ));
    }
    for (key, _) in BITBUCKET_FIXTURES {
        routes.push((
            format!("bitbucket {key}"),
            Box::new(move |name, body| Case::bitbucket(name, key, body)),
        ));
    }
    routes.push(("argocd".into(), Box::new(Case::argocd)));
    routes
}

/// Every route's valid example body, as (label, body, case builder).
fn valid_examples() -> Vec<(String, Vec<u8>, Build)> {
    let mut out: Vec<(String, Vec<u8>, Build)> = Vec::new();
    for (event, path) in GITHUB_FIXTURES {
        out.push((
            format!("github {event}"),
            fixture(path),
            Box::new(move |name, body| Case::github(name, event, body)),
        ));
    }
    out.push((
        "pagerduty".into(),
        fixture("pagerduty/triggered_v3.json"),
        Box::new(Case::pagerduty),
    ));
    out.push((
        "deployments".into(),
        serde_json::to_vec(&generic_deployment()).expect("JSON"),
        Box::new(|name, body| Case::generic(name, "/webhooks/deployments", body)),
    ));
    out.push((
        "incidents".into(),
        serde_json::to_vec(&generic_incident()).expect("JSON"),
        Box::new(|name, body| Case::generic(name, "/webhooks/incidents", body)),
    ));
    out.push(("jira".into(), fixture(JIRA_CLOUD), Box::new(Case::jira)));
    out.push((
        "jira server".into(),
        fixture(JIRA_SERVER),
        Box::new(Case::jira_server),
    ));
    out.push((
        "linear".into(),
        serde_json::to_vec(&linear_update()).expect("JSON"),
        Box::new(Case::linear),
    ));
    for (event, path) in GITLAB_FIXTURES {
        out.push((
            format!("gitlab {event}"),
            fixture(path),
            Box::new(move |name, body| Case::gitlab(name, event, body)),
        ));
    }
    for (key, path) in BITBUCKET_FIXTURES {
        out.push((
            format!("bitbucket {key}"),
            fixture(path),
            Box::new(move |name, body| Case::bitbucket(name, key, body)),
        ));
    }
    out.push((
        "argocd".into(),
        fixture(ARGOCD_SUCCEEDED),
        Box::new(Case::argocd),
    ));
    out
}

/// A JSON pointer and the JSON text put there.
type Mutation<'a> = (&'a str, &'a str);

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();

    // ---- truncated JSON and invalid UTF-8, on every parser -----------------------------------
    for (label, body, build) in valid_examples() {
        for (n, d) in [(1, 4), (1, 2), (9, 10)] {
            cases.push(build(
                format!("{label} truncated {n}/{d}"),
                truncated(&body, n, d),
            ));
        }
        cases.push(build(
            format!("{label} truncated to the last byte"),
            truncated(&body, 1, 1),
        ));
        for (what, bytes) in [
            ("0xff", &b"\xff\xfe"[..]),
            ("overlong", &b"\xc0\xaf"[..]),
            ("lone continuation", &b"\x80"[..]),
            ("cut sequence", &b"\xe2\x82"[..]),
            ("surrogate", &b"\xed\xa0\x80"[..]),
        ] {
            cases.push(build(
                format!("{label} invalid UTF-8 {what}"),
                with_invalid_utf8(&body, bytes),
            ));
        }
        cases.push(build(
            format!("{label} lone surrogate escape"),
            with_invalid_utf8(&body, b"\\ud800"),
        ));
        cases.push(build(
            format!("{label} UTF-16 with BOM"),
            std::iter::once(0xfeff_u16)
                .chain(String::from_utf8_lossy(&body).encode_utf16())
                .flat_map(u16::to_le_bytes)
                .collect(),
        ));
    }

    // ---- not JSON at all, empty, deep nesting, on every parser --------------------------------
    for (label, build) in parsing_routes() {
        cases.push(build(format!("{label} empty body"), Vec::new()));
        cases.push(build(
            format!("{label} whitespace body"),
            b" \n\t ".to_vec(),
        ));
        // `ping` is ignored once its body parses as JSON, whatever the document: 202, no write.
        let json_but_not_object = if label == "github ping" {
            Expect::Status(202)
        } else {
            Expect::Status(400)
        };
        for (what, body) in [
            ("null", &b"null"[..]),
            ("array", b"[]"),
            ("string", b"\"{}\""),
        ] {
            cases.push(build(format!("{label} {what}"), body.to_vec()).expect(json_but_not_object));
        }
        cases.push(build(format!("{label} trailing garbage"), b"{} x".to_vec()));
        cases.push(build(format!("{label} two documents"), b"{}{}".to_vec()));
        cases.push(build(
            format!("{label} 100k ["),
            b"[".repeat(100_000).to_vec(),
        ));
        cases.push(build(
            format!("{label} 100k [ closed"),
            nested("[", 100_000, "]"),
        ));
        cases.push(build(
            format!("{label} 100k objects"),
            nested("{\"a\":", 100_000, "}"),
        ));
        cases.push(build(format!("{label} NaN"), b"{\"a\": NaN}".to_vec()));
        cases.push(build(
            format!("{label} NUL bytes"),
            b"{\"a\":\"\0\"}\0".to_vec(),
        ));
    }
    // Deep nesting inside a real payload, where the parser would read it.
    for (label, body, build) in valid_examples() {
        let mut value: Value = serde_json::from_slice(&body).expect("JSON");
        let key = value
            .as_object()
            .and_then(|o| o.keys().find(|k| *k != "action").cloned())
            .expect("a key");
        value[&key] = json!("NESTED");
        let text = serde_json::to_string(&value).expect("JSON");
        let deep = String::from_utf8(nested("[", 100_000, "]")).expect("ASCII");
        cases.push(build(
            format!("{label} 100k [ in `{key}`"),
            text.replacen("\"NESTED\"", &deep, 1).into_bytes(),
        ));
    }

    // ---- wrong types and huge numbers, where the parsers read them ----------------------------
    let nines = "9".repeat(10_000);
    let github_mutations: [(&str, &str, &[Mutation]); 8] = [
        (
            "pull_request",
            "github/pull_request/opened.payload.json",
            &[
                ("/pull_request/number", "\"2\""),
                ("/pull_request/number", "-1"),
                ("/pull_request/number", "2.5"),
                ("/pull_request/number", "1e400"),
                ("/pull_request/number", "18446744073709551616"),
                ("/pull_request/number", nines.as_str()),
                ("/pull_request", "[]"),
                ("/pull_request", "null"),
                ("/pull_request/created_at", "1546301100"),
                ("/pull_request/created_at", "\"yesterday\""),
                ("/pull_request/updated_at", "\"+275760-09-13T00:00:00Z\""),
                ("/pull_request/updated_at", "\"2019-13-45T25:61:61Z\""),
                // Well-formed, but before 1970: its week (-001-W52) is no rollup key.
                ("/pull_request/created_at", "\"0000-01-01T00:00:00Z\""),
                ("/pull_request/merged_at", "\"1969-12-31T23:59:59Z\""),
                ("/pull_request/head", "\"main\""),
                ("/pull_request/labels", "\"bug\""),
                ("/pull_request/title", "{}"),
                ("/repository/full_name", "42"),
                ("/repository/full_name", "\"no-slash\""),
                ("/repository/full_name", "\"a/b#c\""),
                ("/action", "{}"),
            ],
        ),
        (
            "push",
            "github/push/with-new-branch.payload.json",
            &[
                ("/commits", "{}"),
                ("/commits/0/timestamp", "true"),
                ("/commits/0/id", "1e999"),
                ("/ref", "5"),
                ("/before", "null"),
                ("/repository/pushed_at", "\"whenever\""),
                ("/repository/pushed_at", "1e300"),
                ("/repository/pushed_at", "-99999999999999999999"),
                ("/repository/pushed_at", "-1"),
                ("/commits/0/timestamp", "\"0000-01-01T00:00:00+00:00\""),
            ],
        ),
        (
            "deployment",
            "github/deployment/payload.json",
            &[
                ("/deployment/id", "\"x\""),
                ("/deployment/id", "-5"),
                ("/deployment/id", "340282366920938463463374607431768211456"),
                ("/deployment/created_at", "[]"),
                ("/deployment/environment", "7"),
            ],
        ),
        (
            "deployment_status",
            "github/deployment_status/payload.json",
            &[
                ("/deployment_status/state", "1"),
                (
                    "/deployment_status/created_at",
                    "\"9999999-01-01T00:00:00Z\"",
                ),
                ("/deployment", "null"),
                ("/deployment/id", "1.0e3"),
            ],
        ),
        (
            "pull_request_review",
            "github/pull_request_review/submitted.payload.json",
            &[
                ("/review/id", "-1"),
                ("/review/state", "null"),
                ("/pull_request/number", "[1]"),
            ],
        ),
        (
            "workflow_run",
            "github/workflow_run/completed.payload.json",
            &[
                ("/workflow_run/id", "\"123\""),
                ("/workflow_run/created_at", "{\"$date\": 1}"),
            ],
        ),
        (
            "dependabot_alert",
            "github/dependabot_alert/created.payload.json",
            &[
                ("/alert/number", "\"20\""),
                ("/alert/number", "-1"),
                ("/alert/created_at", "\"0000-13-01T00:00:00Z\""),
                ("/alert/updated_at", "17"),
                ("/repository/full_name", "\"a/b/c\""),
            ],
        ),
        (
            "code_scanning_alert",
            "github/code_scanning_alert/created.payload.json",
            &[
                ("/alert", "null"),
                ("/alert/rule", "\"sql\""),
                ("/alert/dismissed_at", "\"soon\""),
            ],
        ),
    ];
    for (event, path, mutations) in github_mutations {
        let value = fixture_json(path);
        for (pointer, raw) in mutations {
            let short: String = raw.chars().take(24).collect();
            cases.push(Case::github(
                format!("github {event} {pointer}={short}"),
                event,
                spliced(&value, pointer, raw),
            ));
        }
    }
    let pagerduty = fixture_json("pagerduty/triggered_v3.json");
    for (pointer, raw) in [
        ("/event/occurred_at", "0"),
        ("/event/occurred_at", "\"99999-12-31T00:00:00Z\""),
        ("/event/occurred_at", "\"0000-01-01T00:00:00Z\""),
        ("/event/data/id", "5"),
        ("/event/data/id", "\"\""),
        ("/event/id", "[]"),
        ("/event/event_type", "true"),
        ("/event", "\"incident.triggered\""),
    ] {
        cases.push(Case::pagerduty(
            format!("pagerduty {pointer}={raw}"),
            spliced(&pagerduty, pointer, raw),
        ));
    }
    let deployment = generic_deployment();
    for (pointer, raw) in [
        ("/finished_at", "5"),
        ("/finished_at", "\"2026-13-01T00:00:00Z\""),
        ("/finished_at", "\"1969-12-31T23:59:59Z\""),
        ("/started_at", "\"2026-10-06T00:00:00Z\""),
        ("/sha", "123"),
        ("/sha", "\"abc\""),
        ("/status", "\"running\""),
        ("/repo", "[\"acme/api\"]"),
        ("/id", "1e400"),
        ("/environment", "\"\""),
    ] {
        cases.push(Case::generic(
            format!("deployments {pointer}={raw}"),
            "/webhooks/deployments",
            spliced(&deployment, pointer, raw),
        ));
    }
    let mut unknown = deployment.clone();
    unknown["extra"] = json!(1);
    cases.push(Case::generic(
        "deployments unknown field",
        "/webhooks/deployments",
        serde_json::to_vec(&unknown).expect("JSON"),
    ));
    let incident = generic_incident();
    let long_id = format!("\"{}\"", "x".repeat(201));
    for (pointer, raw) in [
        ("/opened_at", "null"),
        ("/opened_at", "\"0000-01-01T00:00:00Z\""),
        ("/id", "7"),
        ("/id", long_id.as_str()),
        ("/resolved_at", "\"before\""),
        ("/severity", "{\"level\": 2}"),
    ] {
        let short: String = raw.chars().take(24).collect();
        cases.push(Case::generic(
            format!("incidents {pointer}={short}"),
            "/webhooks/incidents",
            spliced(&incident, pointer, raw),
        ));
    }

    let jira = fixture_json(JIRA_CLOUD);
    let long_key = format!("\"{}\"", "K".repeat(201));
    for (pointer, raw) in [
        ("/timestamp", "\"1485797534721\""),
        ("/timestamp", "-1"),
        ("/timestamp", "1e400"),
        ("/timestamp", nines.as_str()),
        ("/webhookEvent", "7"),
        ("/issue", "null"),
        ("/issue/key", "\"\""),
        ("/issue/key", long_key.as_str()),
        ("/issue/key", "\"TEST-\\u0000-1\""),
        ("/issue/fields/status", "\"In Progress\""),
        ("/issue/fields/status/statusCategory/key", "\"blocked\""),
        ("/issue/fields/project/key", "{}"),
        ("/issue/fields/created", "\"2017-01-30\""),
        ("/issue/fields/created", "\"0000-01-01T00:00:00.000+0000\""),
        ("/issue/fields/fixVersions", "\"7.2\""),
        ("/changelog/items", "{}"),
        ("/changelog/id", "\"a\\nb\""),
    ] {
        let short: String = raw.chars().take(24).collect();
        let body = spliced(&jira, pointer, raw);
        cases.push(Case::jira(format!("jira {pointer}={short}"), body.clone()));
        cases.push(Case::jira_server(
            format!("jira server {pointer}={short}"),
            body,
        ));
    }
    let linear = linear_update();
    for (pointer, raw) in [
        ("/webhookTimestamp", "\"now\""),
        ("/webhookTimestamp", "1e400"),
        ("/type", "[]"),
        ("/action", "null"),
        ("/createdAt", "\"today\""),
        ("/data/identifier", "5"),
        ("/data/identifier", "\"\""),
        ("/data/state", "\"started\""),
        ("/data/state/type", "\"paused\""),
        ("/data/updatedAt", "\"0000-01-01T00:00:00Z\""),
        ("/data/team/key", "\"E\\tNG\""),
        ("/updatedFrom", "[]"),
    ] {
        let short: String = raw.chars().take(24).collect();
        cases.push(Case::linear(
            format!("linear {pointer}={short}"),
            spliced(&linear, pointer, raw),
        ));
    }
    forge_mutations(&mut cases, &nines);
    forge_authentication(&mut cases);

    // Authentication: a wrong or missing signature or token, a replayed Linear delivery.
    let jira_body = fixture(JIRA_CLOUD);
    cases.push(
        Case::new("jira no signature", "/webhooks/jira", jira_body.clone())
            .header("content-type", "application/json")
            .status(401),
    );
    cases.push(
        Case::new("jira GitHub's header", "/webhooks/jira", jira_body.clone())
            .header(
                "x-hub-signature-256",
                format!("sha256={}", sign_hex(JIRA_SECRET.as_bytes(), &jira_body)),
            )
            .status(401),
    );
    cases.push(
        Case::new("jira another secret", "/webhooks/jira", jira_body.clone())
            .header(
                "x-hub-signature",
                format!("sha256={}", sign_hex(GITHUB_SECRET.as_bytes(), &jira_body)),
            )
            .status(401),
    );
    for (what, path) in [
        ("wrong token", "/webhooks/jira/not-the-token".to_string()),
        (
            "token prefix",
            format!("/webhooks/jira/{}", &JIRA_TOKEN[..8]),
        ),
        ("token, encoded", format!("/webhooks/jira/{JIRA_TOKEN}%00")),
    ] {
        cases
            .push(Case::new(format!("jira server {what}"), path, fixture(JIRA_SERVER)).status(401));
    }
    for (what, path, status) in [
        ("no token", "/webhooks/jira/", 404),
        ("two segments", "/webhooks/jira/a/b", 404),
        ("linear subpath", "/webhooks/linear/x", 404),
    ] {
        cases.push(Case::new(format!("jira {what}"), path, fixture(JIRA_SERVER)).status(status));
    }
    cases.push(
        Case::new(
            "jira server GET",
            format!("/webhooks/jira/{JIRA_TOKEN}"),
            Vec::new(),
        )
        .method(Method::GET)
        .status(405),
    );
    let linear_body = serde_json::to_vec(&linear).expect("JSON");
    cases.push(
        Case::new(
            "linear no signature",
            "/webhooks/linear",
            linear_body.clone(),
        )
        .status(401),
    );
    cases.push(
        Case::new(
            "linear sha256= prefix",
            "/webhooks/linear",
            linear_body.clone(),
        )
        .header(
            "linear-signature",
            format!(
                "sha256={}",
                sign_hex(LINEAR_SECRET.as_bytes(), &linear_body)
            ),
        )
        .status(401),
    );
    let stale = payload::linear::sent_at(&linear_body, 1_791_278_102_530);
    cases.push(Case::linear("linear replayed (stale timestamp)", stale).status(401));
    let mut undated = linear.clone();
    if let Some(o) = undated.as_object_mut() {
        o.remove("webhookTimestamp");
    }
    cases.push(Case::linear(
        "linear no webhookTimestamp",
        serde_json::to_vec(&undated).expect("JSON"),
    ));

    // ---- headers: missing, invalid, duplicated ------------------------------------------------
    let pr = fixture("github/pull_request/opened.payload.json");
    let pr_bad = truncated(&pr, 1, 2);
    let sig = |body: &[u8]| format!("sha256={}", sign_hex(GITHUB_SECRET.as_bytes(), body));
    let bare = |name: &str, body: &[u8]| {
        Case::new(name, "/webhooks/github", body.to_vec())
            .header("content-type", "application/json")
    };
    cases.push(
        bare("github no event header", &pr)
            .header("x-github-delivery", "malformed-no-event")
            .header("x-hub-signature-256", sig(&pr)),
    );
    cases.push(
        bare("github no delivery header", &pr)
            .header("x-github-event", "pull_request")
            .header("x-hub-signature-256", sig(&pr)),
    );
    cases.push(
        bare("github empty delivery header", &pr)
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", "")
            .header("x-hub-signature-256", sig(&pr)),
    );
    cases.push(
        bare("github 300-byte delivery header", &pr)
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", "d".repeat(300))
            .header("x-hub-signature-256", sig(&pr)),
    );
    cases.push(
        bare("github non-UTF-8 event header", &pr)
            .header("x-github-event", b"pull_request\xff")
            .header("x-github-delivery", "malformed-event-latin1")
            .header("x-hub-signature-256", sig(&pr)),
    );
    cases.push(
        bare("github non-UTF-8 delivery header", &pr)
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", b"d\xe9livery")
            .header("x-hub-signature-256", sig(&pr)),
    );
    cases.push(
        bare("github no signature", &pr)
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", "malformed-unsigned")
            .status(401),
    );
    for (what, value) in [
        ("sha1", format!("sha1={}", &sig(&pr)[7..47])),
        ("no prefix", sig(&pr)[7..].to_string()),
        ("not hex", format!("sha256={}", "zz".repeat(32))),
        ("short", sig(&pr)[..40].to_string()),
        ("long", format!("{}00", sig(&pr))),
        ("empty", String::new()),
        ("another body", sig(b"{}")),
        (
            "another secret",
            format!("sha256={}", sign_hex(b"nope", &pr)),
        ),
    ] {
        cases.push(
            bare(&format!("github signature {what}"), &pr)
                .header("x-github-event", "pull_request")
                .header("x-github-delivery", format!("malformed-sig-{what}"))
                .header("x-hub-signature-256", value)
                .status(401),
        );
    }
    cases.push(
        bare("github non-UTF-8 signature", &pr)
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", "malformed-sig-latin1")
            .header("x-hub-signature-256", b"sha256=\xff")
            .status(401),
    );
    // Two signature headers: the first one counts; a bad first one is refused even with a good
    // second one, and a good first one still leaves a malformed body to the parser.
    cases.push(
        bare("github two signatures, bad first", &pr)
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", "malformed-two-sigs-1")
            .header("x-hub-signature-256", sig(b"other"))
            .header("x-hub-signature-256", sig(&pr))
            .status(401),
    );
    cases.push(
        bare("github two signatures, good first, truncated body", &pr_bad)
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", "malformed-two-sigs-2")
            .header("x-hub-signature-256", sig(&pr_bad))
            .header("x-hub-signature-256", sig(b"other")),
    );
    cases.push(
        bare("github two good signatures, truncated body", &pr_bad)
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", "malformed-two-sigs-3")
            .header("x-hub-signature-256", sig(&pr_bad))
            .header("x-hub-signature-256", sig(&pr_bad)),
    );
    // Two event headers with a body that neither event can read.
    let neither = br#"{"action":"opened","zen":"two events"}"#.to_vec();
    cases.push(
        bare("github two events pull_request+push", &neither)
            .header("x-github-event", "pull_request")
            .header("x-github-event", "push")
            .header("x-github-delivery", "malformed-two-events-1")
            .header("x-hub-signature-256", sig(&neither)),
    );
    cases.push(
        bare("github two events push+deployment_status", &neither)
            .header("x-github-event", "push")
            .header("x-github-event", "deployment_status")
            .header("x-github-delivery", "malformed-two-events-2")
            .header("x-hub-signature-256", sig(&neither)),
    );
    cases.push(
        bare("github two deliveries, truncated body", &pr_bad)
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", "malformed-two-deliveries-a")
            .header("x-github-delivery", "malformed-two-deliveries-b")
            .header("x-hub-signature-256", sig(&pr_bad)),
    );
    let pd = fixture("pagerduty/triggered_v3.json");
    let pd_sig = |body: &[u8]| format!("v1={}", sign_hex(PAGERDUTY_SECRET.as_bytes(), body));
    for (what, value, status) in [
        ("none", None, 401),
        ("another body", Some(pd_sig(b"{}")), 401),
        ("v0 only", Some(pd_sig(&pd).replace("v1=", "v0=")), 401),
        ("nine entries", Some(vec![pd_sig(b"x"); 9].join(",")), 401),
        ("only commas", Some(",,,".to_string()), 401),
    ] {
        let mut case = Case::new(
            format!("pagerduty signature {what}"),
            "/webhooks/pagerduty",
            pd.clone(),
        )
        .header("content-type", "application/json")
        .status(status);
        if let Some(value) = value {
            case = case.header("x-pagerduty-signature", value);
        }
        cases.push(case);
    }
    let pd_bad = truncated(&pd, 1, 2);
    cases.push(
        Case::new(
            "pagerduty rotated signatures, truncated body",
            "/webhooks/pagerduty",
            pd_bad.clone(),
        )
        .header(
            "x-pagerduty-signature",
            format!("{},{}", pd_sig(b"old"), pd_sig(&pd_bad)),
        ),
    );
    cases.push(
        Case::new(
            "pagerduty two signature headers, truncated body",
            "/webhooks/pagerduty",
            pd_bad.clone(),
        )
        .header("x-pagerduty-signature", pd_sig(&pd_bad))
        .header("x-pagerduty-signature", pd_sig(b"old")),
    );
    let dep = serde_json::to_vec(&generic_deployment()).expect("JSON");
    for path in ["/webhooks/deployments", "/webhooks/incidents"] {
        cases.push(Case::new(format!("{path} no signature"), path, dep.clone()).status(401));
        cases.push(
            Case::new(
                format!("{path} signature of another body"),
                path,
                dep.clone(),
            )
            .header(
                "x-flowmeter-signature-256",
                format!("sha256={}", sign_hex(GENERIC_SECRET.as_bytes(), b"{}")),
            )
            .status(401),
        );
        cases.push(
            Case::new(format!("{path} GitHub's secret"), path, dep.clone())
                .header("x-flowmeter-signature-256", sig(&dep))
                .status(401),
        );
    }

    // ---- wrong content types ------------------------------------------------------------------
    let form = format!("payload={}", percent_encode(&pr)).into_bytes();
    cases.push(
        Case::github("github form-encoded payload", "pull_request", form.clone())
            .header("content-type", "application/x-www-form-urlencoded"),
    );
    let multipart = [
        &b"--x\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n"[..],
        &pr,
        &b"\r\n--x--\r\n"[..],
    ]
    .concat();
    cases.push(
        Case::github("github multipart payload", "pull_request", multipart)
            .header("content-type", "multipart/form-data; boundary=x"),
    );
    cases.push(
        Case::github(
            "github text/plain truncated",
            "pull_request",
            pr_bad.clone(),
        )
        .header("content-type", "text/plain"),
    );
    cases.push(
        Case::github(
            "github XML",
            "push",
            b"<push><ref>main</ref></push>".to_vec(),
        )
        .header("content-type", "application/xml"),
    );
    cases.push(
        Case::generic(
            "deployments YAML",
            "/webhooks/deployments",
            b"repo: acme/api\nstatus: success\n".to_vec(),
        )
        .header("content-type", "application/yaml"),
    );
    cases.push(
        Case::pagerduty(
            "pagerduty gzip bytes",
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3],
        )
        .header("content-encoding", "gzip"),
    );

    // ---- sizes --------------------------------------------------------------------------------
    let over = vec![b'{'; MAX_BODY_BYTES + 1];
    cases.push(Case::github("github 25 MiB + 1", "pull_request", over.clone()).status(413));
    cases.push(Case::pagerduty("pagerduty 25 MiB + 1", over.clone()).status(413));
    cases.push(Case::generic("incidents 25 MiB + 1", "/webhooks/incidents", over).status(413));
    cases.push(Case::github(
        "github exactly 25 MiB of [",
        "pull_request",
        vec![b'['; MAX_BODY_BYTES],
    ));
    let mut padded = pr_bad.clone();
    padded.resize(MAX_BODY_BYTES, b' ');
    cases.push(Case::github(
        "github 25 MiB truncated",
        "pull_request",
        padded,
    ));

    // ---- routes and methods -------------------------------------------------------------------
    for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"] {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        cases.push(
            Case::github(format!("github {method}"), "pull_request", pr.clone())
                .method(method)
                .status(405),
        );
    }
    cases.push(
        Case::github("github HEAD", "pull_request", Vec::new())
            .method(Method::HEAD)
            .status(405),
    );
    for path in [
        "/webhooks/gitlab",
        "/webhooks",
        "/webhooks/",
        "/webhooks/github/",
        "/webhooks/github/x",
        "/WEBHOOKS/GITHUB",
        "/webhooks/%67ithub",
        "/v1/nope",
        "/v1/",
        "/%ff",
        "//",
        "/dev/nope",
    ] {
        let mut case = Case::github(format!("POST {path}"), "pull_request", pr.clone());
        case.path = path.to_string();
        cases.push(case.expect(Expect::Client));
    }
    let mut query = Case::github(
        "github with a query string, truncated",
        "pull_request",
        pr_bad.clone(),
    );
    query.path = "/webhooks/github?secret=1&&=&%zz".into();
    cases.push(query);
    cases.push(
        Case::new("reprocess GET", "/dev/reprocess", Vec::new())
            .method(Method::GET)
            .status(405),
    );
    cases.push(Case::new("reprocess no token", "/dev/reprocess", Vec::new()).status(401));
    cases.push(
        Case::new("reprocess API token", "/dev/reprocess", Vec::new())
            .header("authorization", format!("Bearer {API_TOKEN}"))
            .status(401),
    );
    cases.push(
        Case::read("POST /v1/dora", "/v1/dora")
            .method(Method::POST)
            .status(405),
    );
    cases.push(
        Case::read("DELETE /v1/config", "/v1/config")
            .method(Method::DELETE)
            .status(405),
    );

    // ---- reads: tokens and query strings ------------------------------------------------------
    for (what, value) in [
        ("none", None),
        ("wrong", Some("Bearer nope".to_string())),
        ("empty bearer", Some("Bearer ".to_string())),
        ("basic", Some(format!("Basic {API_TOKEN}"))),
        ("lower-case scheme", Some(format!("bearer {API_TOKEN}"))),
        ("token with suffix", Some(format!("Bearer {API_TOKEN}x"))),
    ] {
        let mut case = Case::new(format!("dora token {what}"), "/v1/dora", Vec::new())
            .method(Method::GET)
            .status(401);
        if let Some(value) = value {
            case = case.header("authorization", value);
        }
        cases.push(case);
    }
    let long_scope = format!("scope=team:{}", "x".repeat(8000));
    // Over DynamoDB's 2048-byte partition key as `ROLLUP#repo:…` / `ROLLUP#service:…`: the
    // store would refuse the read (a 503); the API refuses the scope.
    let long_repo = format!("scope=repo:a/{}", "b".repeat(3000));
    let long_service = format!("scope=service:{}", "s".repeat(3000));
    for route in [
        "/v1/dora",
        "/v1/cycle-time",
        "/v1/pull-requests",
        "/v1/incidents",
    ] {
        let bad_request = [
            ("bad month", "from=2026-13-45"),
            ("not a date", "to=yesterday"),
            ("from after to", "from=2026-10-20&to=2026-10-01"),
            ("too long", "from=1900-01-01&to=2026-01-01"),
            ("year 0", "from=0000-01-01&to=0000-01-09"),
            ("year 1969", "from=1969-12-01&to=1969-12-31"),
            ("1970 to 9999", "from=1970-01-01&to=9999-12-31"),
            ("year 262142", "from=%2B262142-12-20&to=%2B262142-12-31"),
            ("min and max", "from=-262143-01-01&to=262143-12-31"),
            ("no kind", "scope=acme"),
            ("empty scope", "scope="),
            ("bad repo", "scope=repo:a/b/c"),
            ("empty repo", "scope=repo:"),
            ("staging", "env=staging"),
            ("unknown parameter", "bogus=1"),
            ("long repo scope", long_repo.as_str()),
            ("long service scope", long_service.as_str()),
        ];
        let not_found = [
            ("unknown team", "scope=team:nope"),
            ("unknown repo", "scope=repo:a/b"),
            ("long scope", long_scope.as_str()),
        ];
        let client_error = [
            ("unknown kind", "scope=planet:mars"),
            ("repo with #", "scope=repo:a%23x/b"),
            ("percent garbage", "scope=%zz%&from=%"),
            ("invalid UTF-8", "scope=team:%ff%fe"),
            ("NUL", "scope=team:%00"),
            ("only separators", "&&&=&="),
        ];
        let answered = [
            ("year 9999", "from=9999-12-20&to=9999-12-31"),
            ("repeated", "scope=org&scope=org&scope=org"),
        ];
        for (queries, expect) in [
            (&bad_request[..], Expect::Status(400)),
            (&not_found, Expect::Status(404)),
            (&client_error, Expect::Client),
            (&answered, Expect::NotServerError),
        ] {
            for (what, query) in queries {
                cases.push(
                    Case::read(format!("{route} {what}"), format!("{route}?{query}"))
                        .expect(expect),
                );
            }
        }
    }
    cases.push(Case::read("teams with a query", "/v1/teams?x=%ff").expect(Expect::NotServerError));
    cases.push(Case::read("metrics with a query", "/metrics?x=%ff").expect(Expect::NotServerError));

    // ---- the config parser, through PUT /v1/config --------------------------------------------
    let put = |name: &str, body: Vec<u8>| {
        Case::new(format!("PUT /v1/config {name}"), "/v1/config", body)
            .method(Method::PUT)
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .header("content-type", "application/yaml")
    };
    cases.push(
        Case::new(
            "PUT /v1/config API token only",
            "/v1/config",
            b"org: acme\n".to_vec(),
        )
        .method(Method::PUT)
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .status(401),
    );
    for (name, body) in [
        ("empty", Vec::new()),
        ("not a mapping", b"- 1\n- 2\n".to_vec()),
        ("bad timezone", b"org: acme\ntimezone: Mars/Olympus\n".to_vec()),
        ("wrong type", b"org: [acme]\n".to_vec()),
        ("unknown key", b"org: acme\nflux_capacitor: 1.21\n".to_vec()),
        ("invalid UTF-8", b"org: acme\xff\n".to_vec()),
        ("tab indentation", b"org: acme\nteams:\n\tpayments: {}\n".to_vec()),
        ("deep nesting", nested("[", 100_000, "]")),
        ("deep mapping", b"a: ".repeat(50_000).to_vec()),
        ("huge number", format!("org: acme\nblame_window_hours: {}\n", "9".repeat(5000)).into_bytes()),
        ("alias bomb", b"a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n".to_vec()),
        ("two documents", b"org: a\n---\norg: b\n".to_vec()),
        ("over 1 MiB", vec![b'#'; 1024 * 1024 + 1]),
    ] {
        cases.push(put(name, body).expect(Expect::Client));
    }
    cases
}

/// Wrong types, impossible dates and huge numbers in the GitLab, Bitbucket and ArgoCD fields
/// their parsers read.
fn forge_mutations(cases: &mut Vec<Case>, nines: &str) {
    gitlab_mutations(cases, nines);
    bitbucket_mutations(cases, nines);
    argocd_mutations(cases);
}

/// A case for each mutation of each fixture, sent as its event by `send` (`Case::gitlab`,
/// `Case::bitbucket`) and named after `forge`, the event and the mutation.
fn spliced_cases(
    cases: &mut Vec<Case>,
    forge: &str,
    fixtures: &[(&str, &str, &[Mutation])],
    send: fn(String, &str, Vec<u8>) -> Case,
) {
    for (event, path, mutations) in fixtures {
        let value = fixture_json(path);
        for (pointer, raw) in *mutations {
            let short: String = raw.chars().take(24).collect();
            cases.push(send(
                format!("{forge} {event} {pointer}={short}"),
                event,
                spliced(&value, pointer, raw),
            ));
        }
    }
}

fn gitlab_mutations(cases: &mut Vec<Case>, nines: &str) {
    let gitlab: [(&str, &str, &[Mutation]); 4] = [
        (
            "Merge Request Hook",
            "gitlab/go-gitlab.merge_request.json",
            &[
                ("/object_attributes", "null"),
                ("/object_attributes", "[]"),
                ("/object_attributes/iid", "\"1\""),
                ("/object_attributes/iid", "-1"),
                ("/object_attributes/iid", "1e400"),
                ("/object_attributes/iid", nines),
                ("/object_attributes/created_at", "\"yesterday\""),
                ("/object_attributes/created_at", "\"0000-01-01T00:00:00Z\""),
                ("/object_attributes/updated_at", "17"),
                ("/object_attributes/action", "5"),
                ("/object_attributes/title", "{}"),
                // The repository is named from `web_url` (`path_with_namespace` is not read).
                ("/project/web_url", "7"),
                ("/project/web_url", "null"),
                ("/project/web_url", "\"not a url\""),
                ("/user", "[]"),
            ],
        ),
        (
            "Push Hook",
            "gitlab/doc.push_hook.json",
            &[
                ("/commits", "{}"),
                ("/commits/0/timestamp", "true"),
                ("/commits/0/timestamp", "\"whenever\""),
                ("/commits/0/id", "1e999"),
                ("/ref", "5"),
                ("/project", "null"),
            ],
        ),
        (
            "Deployment Hook",
            "gitlab/go-gitlab.deployment.json",
            &[
                ("/deployment_id", "\"x\""),
                ("/deployment_id", "-5"),
                ("/status_changed_at", "\"whenever\""),
                ("/status_changed_at", "\"0000-01-01 00:00:00 +0000\""),
                ("/status", "1"),
                ("/environment", "[]"),
            ],
        ),
        (
            "Issue Hook",
            "gitlab/doc.issue_hook.incident.json",
            &[
                ("/object_attributes/iid", "\"3\""),
                ("/object_attributes/created_at", "\"soon\""),
                ("/object_attributes", "7"),
            ],
        ),
    ];
    spliced_cases(cases, "gitlab", &gitlab, Case::gitlab);
}

fn bitbucket_mutations(cases: &mut Vec<Case>, nines: &str) {
    let bitbucket: [(&str, &str, &[Mutation]); 2] = [
        (
            "pullrequest:approved",
            "bitbucket/cloud.pullrequest_approved.json",
            &[
                ("/pullrequest", "null"),
                ("/pullrequest/id", "\"42\""),
                ("/pullrequest/id", "-1"),
                ("/pullrequest/id", "2.5"),
                ("/pullrequest/id", nines),
                // An approval is dated by `approval.date` (the PR's own dates are not read).
                ("/approval/date", "\"0000-01-01T00:00:00Z\""),
                ("/approval/date", "1"),
                ("/approval/date", "\"today\""),
                ("/approval", "[]"),
                ("/repository/full_name", "42"),
                ("/repository/full_name", "\"no-slash\""),
            ],
        ),
        (
            "pr:opened",
            "bitbucket/dc.pr_opened.json",
            &[
                ("/pullRequest", "\"7\""),
                ("/pullRequest/id", "2.5"),
                ("/pullRequest/createdDate", "\"yesterday\""),
                ("/pullRequest/createdDate", "1e400"),
                ("/pullRequest/toRef/repository", "null"),
                ("/pullRequest/title", "{}"),
            ],
        ),
    ];
    spliced_cases(cases, "bitbucket", &bitbucket, Case::bitbucket);
}

fn argocd_mutations(cases: &mut Vec<Case>) {
    let argocd = fixture_json(ARGOCD_SUCCEEDED);
    for (pointer, raw) in [
        ("/app", "7"),
        ("/app", "\"\""),
        ("/operation", "[]"),
        ("/operation/phase", "3"),
        ("/operation/finished_at", "\"soon\""),
        ("/operation/finished_at", "\"0000-01-01T00:00:00Z\""),
        ("/operation/sync_revision", "{}"),
        ("/destination", "\"prod\""),
        ("/repo_url", "[]"),
    ] {
        cases.push(Case::argocd(
            format!("argocd {pointer}={raw}"),
            spliced(&argocd, pointer, raw),
        ));
    }
}

/// GitLab's token, Bitbucket's signature and ArgoCD's bearer token: missing, wrong or meant
/// for another source is a 401; a delivery without its event or id header is a 400; an event
/// Flowmeter does not read is accepted and ignored.
fn forge_authentication(cases: &mut Vec<Case>) {
    gitlab_authentication(cases);
    bitbucket_authentication(cases);
    argocd_authentication(cases);
}

fn gitlab_authentication(cases: &mut Vec<Case>) {
    let mr = fixture("gitlab/go-gitlab.merge_request.json");
    let gitlab = |name: &str| Case::json(name, "/webhooks/gitlab", mr.clone());
    for (what, token) in [
        ("wrong token", "not-the-token"),
        ("token prefix", &GITLAB_TOKEN[..6]),
        ("another source's token", ARGOCD_TOKEN),
        ("empty token", ""),
    ] {
        cases.push(
            gitlab(&format!("gitlab {what}"))
                .header("x-gitlab-token", token)
                .header("x-gitlab-event", "Merge Request Hook")
                .header("x-gitlab-event-uuid", format!("malformed-gitlab-{what}"))
                .status(401),
        );
    }
    cases.push(
        gitlab("gitlab no token")
            .header("x-gitlab-event", "Merge Request Hook")
            .header("x-gitlab-event-uuid", "malformed-gitlab-no-token")
            .status(401),
    );
    cases.push(
        gitlab("gitlab no event header")
            .header("x-gitlab-token", GITLAB_TOKEN)
            .header("x-gitlab-event-uuid", "malformed-gitlab-no-event"),
    );
    cases.push(
        gitlab("gitlab no event UUID")
            .header("x-gitlab-token", GITLAB_TOKEN)
            .header("x-gitlab-event", "Merge Request Hook"),
    );
    cases.push(
        gitlab("gitlab 300-byte event UUID")
            .header("x-gitlab-token", GITLAB_TOKEN)
            .header("x-gitlab-event", "Merge Request Hook")
            .header("x-gitlab-event-uuid", "u".repeat(300)),
    );
    cases.push(Case::gitlab("gitlab unknown event", "Wiki Page Hook", mr.clone()).status(202));
}

fn bitbucket_authentication(cases: &mut Vec<Case>) {
    let approved = fixture("bitbucket/cloud.pullrequest_approved.json");
    let bitbucket = |name: &str| {
        Case::json(name, "/webhooks/bitbucket", approved.clone())
            .header("x-event-key", "pullrequest:approved")
            .header("x-request-uuid", delivery_id(name))
    };
    let signed =
        |secret: &str, body: &[u8]| format!("sha256={}", sign_hex(secret.as_bytes(), body));
    cases.push(bitbucket("bitbucket no signature").status(401));
    for (what, value) in [
        ("another secret", signed(GITHUB_SECRET, &approved)),
        ("another body", signed(BITBUCKET_SECRET, b"{}")),
        (
            "no prefix",
            signed(BITBUCKET_SECRET, &approved)[7..].to_string(),
        ),
        (
            "sha1",
            format!("sha1={}", &signed(BITBUCKET_SECRET, &approved)[7..47]),
        ),
        ("empty", String::new()),
    ] {
        cases.push(
            bitbucket(&format!("bitbucket signature {what}"))
                .header("x-hub-signature", value)
                .status(401),
        );
    }
    cases.push(
        bitbucket("bitbucket GitHub's signature header")
            .header("x-hub-signature-256", signed(BITBUCKET_SECRET, &approved))
            .status(401),
    );
    cases.push(
        Case::new(
            "bitbucket no event key",
            "/webhooks/bitbucket",
            approved.clone(),
        )
        .header("x-hub-signature", signed(BITBUCKET_SECRET, &approved))
        .header("x-request-uuid", "malformed-bitbucket-no-key"),
    );
    cases.push(
        Case::new(
            "bitbucket no request id",
            "/webhooks/bitbucket",
            approved.clone(),
        )
        .header("x-hub-signature", signed(BITBUCKET_SECRET, &approved))
        .header("x-event-key", "pullrequest:approved"),
    );
    cases.push(
        Case::bitbucket("bitbucket unknown event", "issue:created", approved.clone()).status(202),
    );
}

fn argocd_authentication(cases: &mut Vec<Case>) {
    let succeeded = fixture(ARGOCD_SUCCEEDED);
    let argocd = |name: &str| Case::json(name, "/webhooks/argocd", succeeded.clone());
    cases.push(argocd("argocd no authorization").status(401));
    for (what, value) in [
        ("wrong token", "Bearer not-the-token".to_string()),
        ("token prefix", format!("Bearer {}", &ARGOCD_TOKEN[..6])),
        ("no scheme", ARGOCD_TOKEN.to_string()),
        ("basic scheme", format!("Basic {ARGOCD_TOKEN}")),
        ("another source's token", format!("Bearer {GITLAB_TOKEN}")),
        ("empty bearer", "Bearer ".to_string()),
    ] {
        cases.push(
            argocd(&format!("argocd {what}"))
                .header("authorization", value)
                .status(401),
        );
    }
}

async fn start(store: Store) -> RunningDevServer {
    RunningDevServer::start(store, API_TOKEN, ADMIN_TOKEN).await
}

/// Sends a case; `Err` when no HTTP answer came back (a dropped connection).
async fn send(client: &reqwest::Client, base: &str, case: &Case) -> Result<(u16, String), String> {
    let mut request = client.request(case.method.clone(), format!("{base}{}", case.path));
    for (name, value) in &case.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_bytes(value).map_err(|e| e.to_string())?;
        request = request.header(name, value);
    }
    if !case.body.is_empty() {
        request = request.body(case.body.clone());
    }
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Ok((status, text.chars().take(200).collect()))
}

/// Raw bytes on a fresh connection; returns the status line of the answer, `None` when the
/// server closed without one. `half_close` shuts the write side after the bytes (so a request
/// cut short ends at once); a complete request must keep it open, because hyper drops a request
/// whose client half-closes before the answer.
async fn raw(address: &str, bytes: &[u8], half_close: bool) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    stream.write_all(bytes).await.ok()?;
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    if read.is_err() {
        return Some("(no answer within 10 s)".into());
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().map(str::to_string)
}

/// Only a hang fails a wait: a slow machine just waits longer.
const HANG: Duration = Duration::from_secs(180);

/// Waits until `key` is derived: its projection exists and the pipeline run that wrote it is
/// recorded done (`BATCH#<run>`, written after the run's buckets and links), so every write of
/// that derivation is in the table.
async fn derived(store: &Store, key: &EntityKey) {
    let started = Instant::now();
    loop {
        let item = store.projection(key).await.expect("read projection");
        if let Some(run) = item.and_then(|i| i.run) {
            if store.run_done(&run).await.expect("read run marker") {
                return;
            }
        }
        assert!(started.elapsed() < HANG, "{key:?} never derived: hung");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The table once two snapshots a little apart agree. Called after [`derived`], so the
/// derivation is already done and this only confirms nothing else is still being written.
async fn settled(store: &Store) -> Vec<String> {
    let mut last = table_snapshot(store).await;
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = table_snapshot(store).await;
        if now == last {
            return now;
        }
        assert!(started.elapsed() < HANG, "the table keeps changing: hung");
        last = now;
    }
}

fn control(event: &str, delivery: &str, path: &str) -> Case {
    let body = fixture(path);
    let signature = format!("sha256={}", sign_hex(GITHUB_SECRET.as_bytes(), &body));
    Case::new(format!("control {delivery}"), "/webhooks/github", body)
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .status(202)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_gets_4xx_writes_nothing_and_kills_nothing() {
    count_panics();

    let store = fresh_store("malformed").await;
    let running = start(store.clone()).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");

    let snapshot = control_before_is_derived(&client, &running.base, &store).await;

    let cases = corpus();
    let mut failures = Vec::new();
    let statuses = send_the_corpus(&client, &running.base, &cases, &mut failures).await;

    // Not HTTP, or broken HTTP: hyper answers 4xx or closes; the server must stay up.
    let address = running.base.trim_start_matches("http://").to_string();
    let raw_answers = send_raw_cases(&address, &mut failures).await;

    println!(
        "{} cases; statuses {statuses:?}; raw: {raw_answers:#?}",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    still_up_nothing_panicked_nothing_written(&client, &running, &store, &snapshot).await;
    control_after_is_written(&client, &running.base, &store).await;

    running.stop_cleanly().await;
}

/// Counts every panic (in any task) in [`PANICS`], still printing it as before.
fn count_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
}

/// The settled table once the control before the corpus is derived.
async fn control_before_is_derived(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
) -> Vec<String> {
    // Control before: a valid delivery writes, and the pipeline derives its projection.
    let before = control(
        "pull_request",
        "control-before",
        "github/pull_request/opened.payload.json",
    );
    let (status, body) = send(client, base, &before).await.expect("control answered");
    assert_eq!(status, 202, "{body}");
    let key = EntityKey::PullRequest {
        repo: "codertocat/hello-world".into(),
        number: 2,
    };
    derived(store, &key).await;
    let snapshot = settled(store).await;
    assert!(
        // Fact ids come from the body: an opening is the PR's `pr:opened` step at its
        // `updated_at` (tests/fixtures/github/pull_request/opened.payload.json).
        snapshot
            .iter()
            .any(|row| row.contains("FACT#2019-05-15T15:20:33.000Z#pr:opened#0")),
        "the control's fact is in the table"
    );
    snapshot
}

/// Sends every case of the corpus; a status not expected, a 5xx or no answer is a failure.
/// The count of each status.
async fn send_the_corpus(
    client: &reqwest::Client,
    base: &str,
    cases: &[Case],
    failures: &mut Vec<String>,
) -> std::collections::BTreeMap<u16, usize> {
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for case in cases {
        match send(client, base, case).await {
            Ok((status, body)) => {
                *statuses.entry(status).or_default() += 1;
                let ok = match case.expect {
                    Expect::Status(want) => status == want,
                    Expect::Client => (400..500).contains(&status),
                    Expect::NotServerError => status < 500,
                };
                if !ok || status >= 500 {
                    failures.push(format!(
                        "{}: got {status}, want {:?}: {body}",
                        case.name, case.expect
                    ));
                }
            }
            Err(err) => failures.push(format!("{}: no answer: {err}", case.name)),
        }
    }
    statuses
}

/// Requests that are not HTTP or are broken HTTP, as raw bytes.
fn raw_corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut raw_cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage request line", b"GARBAGE\r\n\r\n".to_vec()),
        ("binary", vec![0, 159, 146, 150, 255, 13, 10, 13, 10]),
        (
            "header without colon",
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n".to_vec(),
        ),
        (
            "bad content length",
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
        ),
        (
            "two content lengths",
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}".to_vec(),
        ),
        (
            "short body",
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\"".to_vec(),
        ),
        (
            "bad chunk",
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "huge chunk size",
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n".to_vec(),
        ),
        ("HTTP/0.9", b"GET /healthz\r\n\r\n".to_vec()),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
    ];
    // Dot segments are not resolved (a client library would normalize them away, so raw): a
    // valid, signed delivery at such a path is a 404 and writes nothing.
    let pr = fixture("github/pull_request/opened.payload.json");
    let mut dotted = format!(
        "POST /webhooks/../webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: pull_request\r\n\
         X-GitHub-Delivery: raw-dot-segments\r\nX-Hub-Signature-256: sha256={}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        sign_hex(GITHUB_SECRET.as_bytes(), &pr),
        pr.len()
    )
    .into_bytes();
    dotted.extend_from_slice(&pr);
    raw_cases.push(("dot segments", dotted));
    let mut long_headers = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        long_headers.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(1000)).as_bytes());
    }
    long_headers.extend_from_slice(b"\r\n");
    raw_cases.push(("200 headers of 1 KB", long_headers));
    raw_cases
}

/// Sends the [`raw_corpus`]: a 5xx is a failure, and so is anything but 404 for the dot
/// segments. Each case's status line (or `(closed)`).
async fn send_raw_cases(address: &str, failures: &mut Vec<String>) -> Vec<String> {
    let raw_cases = raw_corpus();
    let mut raw_answers = Vec::new();
    for (name, bytes) in &raw_cases {
        let line = raw(address, bytes, *name != "dot segments").await;
        if let Some(line) = &line {
            if line.starts_with("HTTP/1.1 5") || line.starts_with("HTTP/1.0 5") {
                failures.push(format!("raw {name}: {line}"));
            }
            if *name == "dot segments" && !line.starts_with("HTTP/1.1 404") {
                failures.push(format!("raw {name}: {line}, want 404"));
            }
        }
        raw_answers.push(format!(
            "{name}: {}",
            line.unwrap_or_else(|| "(closed)".into())
        ));
    }
    raw_answers
}

async fn still_up_nothing_panicked_nothing_written(
    client: &reqwest::Client,
    running: &RunningDevServer,
    store: &Store,
    snapshot: &[String],
) {
    // Still up, nothing panicked, nothing written.
    let health = running.get(client, "/healthz").await;
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "something panicked (see the output)"
    );
    let after = settled(store).await;
    if after != snapshot {
        let added: Vec<_> = after.iter().filter(|r| !snapshot.contains(r)).collect();
        let removed: Vec<_> = snapshot.iter().filter(|r| !after.contains(r)).collect();
        panic!("the corpus changed the table: added {added:#?}, removed {removed:#?}");
    }
}

async fn control_after_is_written(client: &reqwest::Client, base: &str, store: &Store) {
    // Control after: the server still writes valid deliveries, and the check above would have
    // seen it.
    let after_control = control(
        "deployment_status",
        "control-after",
        "github/deployment_status/payload.json",
    );
    let (status, body) = send(client, base, &after_control)
        .await
        .expect("control answered");
    assert_eq!(status, 202, "{body}");
    let last = table_snapshot(store).await;
    assert!(
        // The status's own id (`deployment_status.id` in the fixture).
        last.iter().any(|row| row.contains("status:209916254")),
        "the second control's fact is in the table"
    );
}

/// Dates at chrono's lower bound. `IsoWeek::monday_date` once computed `jan4 - Duration::days(..)`
/// unchecked, which overflowed for the first ISO week of year -262143: the handler panicked and
/// the connection dropped (no answer). The subtraction is checked now (unit-tested in
/// shared/src/time.rs), and such a date is a 400 before any week is computed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_at_the_lowest_date_get_an_answer() {
    let store = fresh_store("malformed-dates").await;
    let running = start(store.clone()).await;
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    for route in [
        "/v1/dora",
        "/v1/cycle-time",
        "/v1/pull-requests",
        "/v1/incidents",
    ] {
        let case = Case::read(
            format!("{route} negative year"),
            format!("{route}?from=-262143-01-01&to=-262143-01-09"),
        );
        match send(&client, &running.base, &case).await {
            Ok((400, body)) if body.contains("1970 to 9999") => {}
            Ok((status, body)) => failures.push(format!("{}: {status} {body}", case.name)),
            Err(err) => failures.push(format!("{}: no answer: {err}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    running.stop.send(true).expect("stop");
    let _ = running.task.await;
}
