//! The release-version gate (`POST /v1/gates/release-version`) on DynamoDB Local, fed through
//! the real webhook handler and the rollup pipeline: QA runs c0; m3 would bring three Jira
//! tickets, one of which has no fix version. The gate names it; once Jira sends its fix
//! version, the gate lets m3 through. Then the CI steps of `infra/` (the Bitbucket Pipelines
//! script and the GitHub Actions workflow's step, run as written) against the dev server over
//! HTTP: they print the message and fail the job exactly when the gate blocks.

use chrono::{DateTime, Duration, Utc};
use flowmeter_e2e::http::RunningDevServer;
use flowmeter_e2e::org::{JiraUpdate, Org};
use flowmeter_e2e::payload::github::ZERO_SHA;
use flowmeter_e2e::{api_call, drain, fresh_store, table_snapshot, GATE_TOKEN};
use flowmeter_edge::api::ApiState;
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::store::Store;
use serde_json::{json, Value};

const REPO: &str = "acme/api";
const READ: &str = "read-token";
const ADMIN: &str = "admin-token";
const GATE: &str = "/v1/gates/release-version";

/// Yesterday, to the minute: the gate reads the branch's pushes of the last 30 days.
fn story_start() -> DateTime<Utc> {
    let yesterday = Utc::now() - Duration::days(1);
    yesterday - Duration::seconds(yesterday.timestamp() % 60)
}

/// A 40-digit sha that starts with its hexadecimal label (`a3000…`), so a 12-digit prefix names
/// one commit.
fn sha(label: &str) -> String {
    format!("{label:0<40}")
}

/// A Jira update of `key` ("Work on <key>", in progress) at `minutes` with these fix versions.
async fn jira(send: &mut Org<'_>, key: &str, minutes: i64, fix_versions: &[&str]) {
    let summary = format!("Work on {key}");
    send.jira(JiraUpdate {
        key,
        minutes,
        summary: &summary,
        status: ("In Progress", "indeterminate"),
        fix_versions,
    })
    .await;
}

/// acme/api: c0 on main, deployed to qa-eu; then PR #1 (PAY-1) merged as m1, PR #2 (PAY-2)
/// as m2, and m3 pushed straight to main naming PAY-3. PAY-1 and PAY-3 have a fix version,
/// PAY-2 none.
async fn org(
    name: &str,
) -> (
    Store,
    ApiState,
    Option<flowmeter_edge::local_stream::StreamPoller>,
) {
    let store = fresh_store(name).await;
    let config = "org: acme\nenvironments:\n  qa: [qa, 'qa-*']\n  production: [production]\nteams:\n  core:\n    members: [alice]\n    repos: [acme/api]\ntickets:\n  jira: { PAY: core }\n";
    store.put_config(config).await.expect("config");
    let state = ApiState::new(store.clone(), READ.into(), ADMIN.into()).with_gate_token(GATE_TOKEN);
    let mut send = Org::new(&store, REPO).starting(story_start());
    let (c0, m1, m2, m3) = (sha("c0"), sha("a1"), sha("a2"), sha("a3"));
    send.push_main(0, ZERO_SHA, &c0, Some("Initial commit"))
        .await;
    send.deploy("qa-eu", 1, &c0, 10, "success").await;
    send.merged_pr(1, 60, &c0, &m1, "PAY-1 refund retries")
        .await;
    send.push_main(61, &c0, &m1, Some("Merge pull request #1"))
        .await;
    send.merged_pr(2, 90, &m1, &m2, "PAY-2 idempotency keys")
        .await;
    send.push_main(91, &m1, &m2, Some("Merge pull request #2"))
        .await;
    send.push_main(120, &m2, &m3, Some("PAY-3: bump the client timeout"))
        .await;
    jira(&mut send, "PAY-1", 5, &["2026.41"]).await;
    jira(&mut send, "PAY-2", 6, &[]).await;
    jira(&mut send, "PAY-3", 7, &["2026.41"]).await;
    let mut poller = None;
    drain(&store, &mut poller).await;
    (store, state, poller)
}

async fn gate(state: &ApiState, token: &str, body: Value) -> (StatusCode, Value) {
    api_call(state, "POST", GATE, token, &body.to_string()).await
}

fn ask(environment: &str, sha: &str) -> Value {
    json!({"repo": REPO, "environment": environment, "sha": sha})
}

fn keys(tickets: &Value) -> Vec<String> {
    tickets
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|t| t["key"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_ticket_without_a_fix_version_blocks_the_release_until_jira_gives_it_one() {
    let (store, state, mut poller) = org("gate-scenario").await;
    let m3 = sha("a3");

    // when QA is asked to take m3
    let (status, body) = gate(&state, GATE_TOKEN, ask("qa-eu", &m3[..12])).await;
    // then it is blocked by PAY-2, named with its page and the PR that names it
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["allowed"], false, "{body}");
    assert_eq!(body["environment"], "qa");
    assert_eq!(body["sha"], m3, "the prefix names the full sha");
    assert_eq!(body["deployed"]["sha"], sha("c0"));
    assert_eq!(body["range"], "exact");
    assert_eq!(body["commits"], 3);
    assert_eq!(keys(&body["tickets"]), ["PAY-1", "PAY-2", "PAY-3"]);
    assert_eq!(keys(&body["missing_fix_version"]), ["PAY-2"]);
    assert_eq!(
        body["missing_fix_version"][0]["url"],
        "https://acme.atlassian.net/browse/PAY-2"
    );
    assert_eq!(
        body["missing_fix_version"][0]["named_by"],
        json!(["acme/api#2"])
    );
    assert_eq!(
        body["tickets"][2]["named_by"],
        json!([&m3[..7]]),
        "a commit message"
    );
    assert_eq!(
        body["message"],
        "Release blocked: 1 of 3 Jira ticket(s) going to qa have no fix version:\n  \
         PAY-2  Work on PAY-2  https://acme.atlassian.net/browse/PAY-2  (named by acme/api#2)\n\
         Set a fix version on each in Jira, then run this job again."
    );
    // and the answer is the documented GateVerdict
    let document = flowmeter_e2e::openapi::document();
    let validator = flowmeter_e2e::openapi::validator(&document, "GateVerdict");
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // and m1 alone (PAY-1, versioned) may go
    let (_, body) = gate(&state, GATE_TOKEN, ask("qa", &sha("a1"))).await;
    assert_eq!(body["allowed"], true, "{body}");
    assert_eq!(keys(&body["tickets"]), ["PAY-1"]);

    // when Jira gives PAY-2 a fix version
    let mut send = Org::new(&store, REPO).starting(story_start());
    send.sent = 100;
    jira(&mut send, "PAY-2", 200, &["2026.42"]).await;
    drain(&store, &mut poller).await;
    // then m3 may go
    let (_, body) = gate(&state, GATE_TOKEN, ask("qa", &m3)).await;
    assert_eq!(body["allowed"], true, "{body}");
    assert_eq!(
        body["message"],
        "Release allowed: all 3 Jira ticket(s) going to qa have a fix version."
    );
}

#[tokio::test]
async fn nothing_deployed_a_redeploy_and_unknown_names_are_answered_plainly() {
    let (store, state, _poller) = org("gate-edges").await;
    let before = table_snapshot(&store).await;

    // nothing in production yet: allowed, and it says so
    let (status, body) = gate(&state, GATE_TOKEN, ask("production", &sha("a3"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["allowed"], true);
    assert_eq!(body["range"], "nothing_deployed");
    assert_eq!(body["deployed"], Value::Null);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing has been deployed to production yet")),
        "{body}"
    );
    // what QA runs already: nothing new
    let (_, body) = gate(&state, GATE_TOKEN, ask("qa", &sha("c0"))).await;
    assert_eq!(
        (body["allowed"].clone(), body["range"].clone()),
        (json!(true), json!("not_ahead"))
    );

    // unknown names are 400s naming them
    let cases = [
        (
            ask("qa", &sha("ee")),
            "`sha`: `ee00000000000000000000000000000000000000` is not on acme/api's default branch",
        ),
        (
            ask("staging", &sha("a3")),
            "`environment`: `staging` is not a configured environment (configured: qa, production)",
        ),
        (
            json!({"repo": "acme/nope", "environment": "qa", "sha": sha("a3")}),
            "`repo`: `acme/nope` is not a repository Flowmeter knows",
        ),
        (
            json!({"repo": REPO, "environment": "qa"}),
            "`sha` is required",
        ),
        (
            json!({"repo": REPO, "environment": "qa", "sha": "not-a-sha"}),
            "`sha`: `not-a-sha` is not a commit sha",
        ),
    ];
    for (request, message) in cases {
        let (status, body) = gate(&state, GATE_TOKEN, request.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        let said = body["error"]["message"].as_str().unwrap_or_default();
        assert!(said.starts_with(message), "{request}: {said}");
    }
    let (status, body) = api_call(&state, "POST", GATE, GATE_TOKEN, "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let huge = format!("{{\"repo\":\"{}\"}}", "a".repeat(20_000));
    let (status, body) = api_call(&state, "POST", GATE, GATE_TOKEN, &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // the gate reads; it never writes
    assert_eq!(table_snapshot(&store).await, before);
}

#[tokio::test]
async fn the_gate_token_opens_the_gate_and_nothing_else() {
    let (_store, state, _poller) = org("gate-auth").await;
    let m1 = ask("qa", &sha("a1"));
    for token in [GATE_TOKEN, READ, ADMIN] {
        let (status, body) = gate(&state, token, m1.clone()).await;
        assert_eq!(status, StatusCode::OK, "{token}: {body}");
    }
    for token in ["", "gate-test-toke", "wrong"] {
        let (status, _) = gate(&state, token, m1.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
    }
    for (method, path) in [
        ("GET", "/v1/dora"),
        ("GET", "/v1/tickets"),
        ("GET", "/v1/config"),
        ("GET", "/metrics"),
    ] {
        let (status, body) = api_call(&state, method, path, GATE_TOKEN, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(
            body["error"]["message"],
            "the gate token opens only POST /v1/gates/release-version"
        );
    }
    // a stack without a gate token: the read token still opens the gate, an empty one nothing
    let locked = ApiState::new(_store.clone(), READ.into(), ADMIN.into());
    assert_eq!(
        gate(&locked, GATE_TOKEN, m1.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        gate(&locked, "", m1.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(gate(&locked, READ, m1).await.0, StatusCode::OK);
}

/// Runs `script` with bash and these variables (nothing else of the test's environment but
/// `PATH`): its exit status and what it printed.
fn run(script: &str, vars: &[(&str, &str)]) -> (i32, String) {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn infra(path: &str) -> String {
    std::fs::read_to_string(format!("{}/infra/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("infra/{path}: {e}"))
}

/// The run step of the GitHub Actions workflow, as written.
fn actions_step() -> (String, Value) {
    let workflow: Value =
        serde_yaml_ng::from_str(&infra("github-actions/release-version-gate.yml")).expect("YAML");
    let step = workflow["jobs"]["gate"]["steps"][0].clone();
    let script = step["run"].as_str().expect("a run step").to_string();
    (script, step["env"].clone())
}

// The steps run as child processes the test waits for; the dev server answers them from the
// runtime's other thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_steps_print_the_verdict_and_fail_the_job_exactly_when_it_blocks() {
    let (store, _state, _poller) = org("gate-ci").await;
    let server = RunningDevServer::start(store.clone(), READ, ADMIN).await;
    let (m1, m3) = (sha("a1"), sha("a3"));

    // Bitbucket Pipelines: the repository is named by the step's variables (FLOWMETER_REPO
    // here: acme/api is a GitHub repository in this org)
    let pipelines = infra("bitbucket-pipelines/release-version-gate.sh");
    let bitbucket = |commit: &str, token: &str| {
        let vars = [
            ("FLOWMETER_API_URL", server.base.as_str()),
            ("FLOWMETER_GATE_TOKEN", token),
            ("FLOWMETER_REPO", REPO),
            ("BITBUCKET_DEPLOYMENT_ENVIRONMENT", "qa-eu"),
            ("BITBUCKET_COMMIT", commit),
        ];
        run(&pipelines, &vars)
    };
    let (code, printed) = bitbucket(&m3, GATE_TOKEN);
    assert_eq!(code, 1, "{printed}");
    assert!(printed.starts_with("Release blocked: 1 of 3"), "{printed}");
    assert!(
        printed.contains("PAY-2  Work on PAY-2  https://acme.atlassian.net/browse/PAY-2"),
        "{printed}"
    );
    let (code, printed) = bitbucket(&m1, GATE_TOKEN);
    assert_eq!(code, 0, "{printed}");
    assert!(printed.starts_with("Release allowed"), "{printed}");
    let (code, printed) = bitbucket(&m1, "wrong");
    assert_eq!(code, 2, "{printed}");
    assert!(printed.contains("HTTP 401"), "{printed}");
    let (code, printed) = bitbucket("a3\"}, {\"x", GATE_TOKEN);
    assert_eq!(code, 2, "{printed}");
    assert!(
        printed.contains("has a character the gate does not take"),
        "{printed}"
    );

    // GitHub Actions: the workflow's step with its env as the runner would set it
    let (script, env) = actions_step();
    for name in [
        "FLOWMETER_API_URL",
        "FLOWMETER_GATE_TOKEN",
        "GATE_ENVIRONMENT",
        "GATE_REPO",
        "GATE_SHA",
        "FAIL_WHEN_UNANSWERED",
    ] {
        assert!(env[name].is_string(), "the step sets {name}: {env}");
    }
    let actions = |commit: &str, token: &str, fail_when_unanswered: &str| {
        let vars = [
            ("FLOWMETER_API_URL", server.base.as_str()),
            ("FLOWMETER_GATE_TOKEN", token),
            ("GATE_ENVIRONMENT", "qa"),
            ("GATE_REPO", REPO),
            ("GATE_SHA", commit),
            ("FAIL_WHEN_UNANSWERED", fail_when_unanswered),
        ];
        run(&script, &vars)
    };
    let (code, printed) = actions(&m3, GATE_TOKEN, "true");
    assert_eq!(code, 1, "{printed}");
    assert!(printed.contains("PAY-2  Work on PAY-2"), "{printed}");
    assert!(
        printed.contains("::error title=Flowmeter release gate::Release blocked: 1 of 3"),
        "{printed}"
    );
    assert_eq!(actions(&m1, GATE_TOKEN, "true").0, 0);
    let (code, printed) = actions(&m1, "wrong", "true");
    assert_eq!(code, 2, "{printed}");
    assert_eq!(
        actions(&m1, "wrong", "false").0,
        0,
        "unanswered passes when told to"
    );
    assert_eq!(
        actions(&m3, GATE_TOKEN, "false").0,
        1,
        "a blocked release always fails"
    );

    let _ = server.stop.send(true);
}
