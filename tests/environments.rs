//! `GET /v1/environments` on DynamoDB Local: a PR merged, deployed to QA, then to production;
//! at each step the answer names what each environment runs and what QA holds that production
//! does not. Deliveries go through the real webhook handler and the rollup pipeline.
//! The ticket scenario: a Jira ticket started, its PR merged, deployed to QA, then to
//! production, then done; `/v1/tickets` and `/v1/environments` checked at each step.

use flowmeter_e2e::org::{sha, JiraUpdate, Org};
use flowmeter_e2e::payload::github::ZERO_SHA;
use flowmeter_e2e::{api_call, drain, fresh_store};
use flowmeter_edge::api::ApiState;
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::store::Store;
use serde_json::json;
use serde_json::Value;

const REPO: &str = "acme/api";
const TOKEN: &str = "read-token";

/// c0 pushed to main at 08:00, deployed to production (finished 08:15) and to qa-eu (08:25).
async fn c0_in_production_and_qa(send: &mut Org<'_>, c0: &str) {
    send.push_main(0, ZERO_SHA, c0, None).await;
    send.deploy("production", 1, c0, 10, "success").await;
    send.deploy("qa-eu", 2, c0, 20, "success").await;
}

/// PAY-1 ("Refund retries", fix version 2026.41) moving to `status` (`category`) at `minutes`.
async fn jira_status(send: &mut Org<'_>, minutes: i64, status: &str, category: &str) {
    send.jira(JiraUpdate {
        key: "PAY-1",
        minutes,
        summary: "Refund retries",
        status: (status, category),
        fix_versions: &["2026.41"],
    })
    .await;
}

/// A fresh table whose config has qa (`qa`, `qa-*`) before production and the team core
/// (alice, acme/api), plus `extra`; and an API over it.
async fn started(name: &str, extra: &str) -> (Store, ApiState) {
    let store = fresh_store(name).await;
    let config = format!(
        "org: acme\nenvironments:\n  qa: [qa, 'qa-*']\n  production: [production]\nteams:\n  core:\n    members: [alice]\n    repos: [acme/api]\n{extra}"
    );
    store.put_config(&config).await.expect("config");
    let state = ApiState::new(store.clone(), TOKEN.into(), "admin-token".into());
    (store, state)
}

async fn environments(state: &ApiState) -> Value {
    let (status, body) =
        api_call(state, "GET", "/v1/environments?scope=team:core", TOKEN, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// (sha, PR numbers ahead of the next environment) of `environment` in the answer.
fn state_of(body: &Value, environment: &str) -> (Option<String>, Option<Vec<u64>>) {
    let repo = &body["repos"][0];
    assert_eq!(repo["repo"], REPO);
    let env = repo["environments"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["environment"] == environment))
        .unwrap_or_else(|| panic!("{environment} in {body}"));
    let sha = env["deployment"]["sha"].as_str().map(str::to_string);
    let ahead = env["ahead_of_next"]
        .as_array()
        .map(|prs| prs.iter().filter_map(|p| p["number"].as_u64()).collect());
    (sha, ahead)
}

#[tokio::test]
async fn each_environment_runs_its_commit_and_qa_lists_what_production_lacks() {
    let (store, state) = started("environments", "").await;
    let mut poller = None;
    let mut send = Org::new(&store, REPO);
    let (c0, m1) = (sha("c0"), sha("m1"));

    // given c0 on main, deployed to production and to qa
    c0_in_production_and_qa(&mut send, &c0).await;
    // and a sandbox deployment, an environment no pattern matches
    send.deploy("sandbox", 9, &c0, 25, "success").await;
    drain(&store, &mut poller).await;
    let body = environments(&state).await;
    // then both run c0 and qa holds nothing production lacks
    assert_eq!(state_of(&body, "qa"), (Some(c0.clone()), Some(vec![])));
    assert_eq!(state_of(&body, "production"), (Some(c0.clone()), None));
    assert_eq!(
        flowmeter_e2e::environment_names(&body["repos"][0]),
        ["qa", "production"],
        "configured ones, in order"
    );
    assert_eq!(
        body["repos"][0]["environments"][0]["deployment"]["reported_as"],
        "qa-eu"
    );

    // when PR 1 merges as m1 and m1 goes to qa (a failed attempt first)
    send.merged_pr(1, 60, &c0, &m1, "Add caching").await;
    send.push_main(61, &c0, &m1, None).await;
    send.deploy("qa-eu", 3, &m1, 70, "failure").await;
    drain(&store, &mut poller).await;
    // a failed attempt changes nothing qa runs
    assert_eq!(
        state_of(&environments(&state).await, "qa").0,
        Some(c0.clone())
    );
    send.deploy("qa-eu", 4, &m1, 80, "success").await;
    drain(&store, &mut poller).await;
    // then qa runs m1 and holds PR 1, which production does not have yet
    let body = environments(&state).await;
    assert_eq!(state_of(&body, "qa"), (Some(m1.clone()), Some(vec![1])));
    assert_eq!(state_of(&body, "production").0, Some(c0.clone()));
    let qa = &body["repos"][0]["environments"][0];
    assert_eq!(qa["next"], "production");
    assert_eq!(qa["ahead_of_next"][0]["title"], "Add caching");
    assert!(
        qa["age_seconds"].as_f64().is_some_and(|age| age > 0.0),
        "{qa}"
    );

    // when m1 goes to production
    send.deploy("production", 5, &m1, 120, "success").await;
    drain(&store, &mut poller).await;
    // then both run m1 and nothing waits
    let body = environments(&state).await;
    assert_eq!(state_of(&body, "qa"), (Some(m1.clone()), Some(vec![])));
    assert_eq!(state_of(&body, "production"), (Some(m1), None));

    // and the DORA numbers count production alone: two successful deployments
    let (status, dora) = api_call(
        &state,
        "GET",
        "/v1/dora?scope=repo:acme/api&from=2026-10-05&to=2026-10-11",
        TOKEN,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dora["deployment_frequency"]["deployments"], 2, "{dora}");
    assert_eq!(dora["change_failure_rate"]["deployments"], 2, "{dora}");

    // and env=qa answers qa's own: 3 attempts (c0, m1 failed, m1), 2 of them successful, by
    // name or by a name its patterns match, for the repo, its team and the org alike; what is
    // known for production alone (lead time, recovery, rework) is null there
    for scope in ["repo:acme/api", "team:core", "org"] {
        for env in ["qa", "qa-eu"] {
            let path = format!("/v1/dora?scope={scope}&env={env}&from=2026-10-05&to=2026-10-11");
            let (status, qa) = api_call(&state, "GET", &path, TOKEN, "").await;
            assert_eq!(status, StatusCode::OK, "{path}: {qa}");
            assert_eq!(qa["environment"], "qa", "{path}");
            assert_eq!(qa["deployment_frequency"]["deployments"], 2, "{path}: {qa}");
            assert_eq!(qa["change_failure_rate"]["deployments"], 3, "{path}: {qa}");
            assert_eq!(qa["change_failure_rate"]["failed"], 1, "{path}: {qa}");
            assert!(qa["lead_time"]["p50_seconds"].is_null(), "{qa}");
            assert!(qa["recovery_time"]["p50_seconds"].is_null(), "{qa}");
            assert!(qa["rework_rate"]["rate"].is_null(), "{qa}");
        }
    }
    let (status, body) = api_call(&state, "GET", "/v1/dora?env=sandbox", TOKEN, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // and /metrics has each environment's deployment age, one gauge per repo and environment
    let (status, text) = flowmeter_e2e::api_text(&state, "GET", "/metrics", TOKEN, "").await;
    assert_eq!(status, StatusCode::OK);
    for environment in ["qa", "production"] {
        let label = format!(
            "flowmeter_deployment_age_seconds{{repo=\"acme/api\",environment=\"{environment}\"}} "
        );
        let age: Option<f64> = text
            .lines()
            .find_map(|line| line.strip_prefix(label.as_str()))
            .and_then(|value| value.parse().ok());
        assert!(age.is_some_and(|a| a > 0.0), "{label} in\n{text}");
    }

    // a parameter the route does not take is a 400 naming it
    let (status, body) = api_call(&state, "GET", "/v1/environments?env=qa", TOKEN, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("`env`"), "{body}");
}

async fn metrics_text(state: &ApiState) -> String {
    let (status, text) = flowmeter_e2e::api_text(state, "GET", "/metrics", TOKEN, "").await;
    assert_eq!(status, StatusCode::OK);
    text
}

async fn tickets(state: &ApiState, env: &str) -> Value {
    let path = format!("/v1/tickets?scope=team:core&env={env}&from=2026-10-05&to=2026-10-11");
    let (status, body) = api_call(state, "GET", &path, TOKEN, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The ids of the tickets listed.
fn listed(body: &Value) -> Vec<String> {
    body["tickets"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|t| t["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_ticket_goes_from_started_through_qa_to_production_and_done() {
    let (store, state) = started("ticket-flow", "tickets:\n  jira: { PAY: core }\n").await;
    let mut poller = None;
    let mut send = Org::new(&store, REPO);
    let (c0, m1) = (sha("c0"), sha("m1"));

    // given c0 running in production and qa, and PAY-1 started at 08:30
    c0_in_production_and_qa(&mut send, &c0).await;
    jira_status(&mut send, 30, "In Progress", "indeterminate").await;
    // when PR 1 naming it merges at 09:00 as m1 and m1 reaches qa (finished 09:25)
    send.merged_pr(1, 60, &c0, &m1, "PAY-1: refund retries")
        .await;
    send.push_main(61, &c0, &m1, None).await;
    send.deploy("qa-eu", 3, &m1, 80, "success").await;
    drain(&store, &mut poller).await;
    // then PAY-1 is in qa, with its status, fix version, PR and the deployment that carried it
    let qa = tickets(&state, "qa").await;
    assert_eq!(listed(&qa), ["jira:PAY-1"], "{qa}");
    let ticket = &qa["tickets"][0];
    assert_eq!(ticket["status"], "In Progress");
    assert_eq!(ticket["category"], "started");
    assert_eq!(ticket["fix_versions"], json!(["2026.41"]));
    assert_eq!(ticket["prs"], json!(["acme/api#1"]));
    assert_eq!(ticket["deployments"][0]["sha"], m1.as_str());
    assert_eq!(qa["environment"], "qa");
    flowmeter_e2e::openapi::assert_matches(&qa, "TicketsReport");
    // and not in production yet, which qa is ahead of by PR 1 and its ticket
    let production = tickets(&state, "production").await;
    assert!(listed(&production).is_empty(), "{production}");
    assert_eq!(production["lead_time"]["count"], 0);
    let body = environments(&state).await;
    let ahead = &body["repos"][0]["environments"][0]["ahead_of_next"];
    assert_eq!(ahead[0]["tickets"], json!(["jira:PAY-1"]), "{body}");
    flowmeter_e2e::openapi::assert_matches(&body, "EnvironmentsReport");
    // and a name a qa pattern matches lists the same
    assert_eq!(listed(&tickets(&state, "qa-eu").await), ["jira:PAY-1"]);
    // and /metrics has PAY-1 in qa, with its fix version
    let in_qa = "flowmeter_ticket_in_environment{ticket=\"jira:PAY-1\",repo=\"acme/api\",environment=\"qa\"} 1";
    let fix = "flowmeter_ticket_fix_version{ticket=\"jira:PAY-1\",fix_version=\"2026.41\"} 1";
    let metrics = metrics_text(&state).await;
    assert!(
        metrics.contains(in_qa) && metrics.contains(fix),
        "{metrics}"
    );

    // when m1 reaches production (finished 10:05)
    send.deploy("production", 4, &m1, 120, "success").await;
    drain(&store, &mut poller).await;
    // then PAY-1 is in production, shipped 95 minutes after it started
    let production = tickets(&state, "production").await;
    assert_eq!(listed(&production), ["jira:PAY-1"], "{production}");
    assert_eq!(production["lead_time"]["count"], 1);
    assert_eq!(production["lead_time"]["measured"], 1);
    assert_eq!(production["lead_time"]["p50_seconds"], 95.0 * 60.0);
    assert_eq!(production["cycle_time"]["count"], 0, "not done yet");
    let body = environments(&state).await;
    assert_eq!(state_of(&body, "qa"), (Some(m1.clone()), Some(vec![])));
    // and nothing is pending in qa any more
    let metrics = metrics_text(&state).await;
    assert!(
        !metrics.contains("flowmeter_ticket_in_environment{"),
        "{metrics}"
    );

    // when PAY-1 is done at 11:00
    jira_status(&mut send, 180, "Done", "done").await;
    drain(&store, &mut poller).await;
    // then its cycle time is 150 minutes, for the team and for the org
    let done = tickets(&state, "production").await;
    assert_eq!(done["cycle_time"]["count"], 1, "{done}");
    assert_eq!(done["cycle_time"]["p50_seconds"], 150.0 * 60.0);
    assert_eq!(done["cycle_time"]["p90_seconds"], 150.0 * 60.0);
    assert_eq!(done["weeks"][0]["done"], 1);
    assert_eq!(done["tickets"][0]["status"], "Done");
    let (status, org) = api_call(
        &state,
        "GET",
        "/v1/tickets?from=2026-10-05&to=2026-10-11",
        TOKEN,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(org["cycle_time"]["p50_seconds"], 150.0 * 60.0, "{org}");
    assert_eq!(org["lead_time"]["p50_seconds"], 95.0 * 60.0, "{org}");

    // when PAY moves to a new team web (a config edit), then all its history moves with it
    let moved = "org: acme\nenvironments:\n  qa: [qa, 'qa-*']\n  production: [production]\nteams:\n  core:\n    members: [alice]\n    repos: [acme/api]\n  web: {}\ntickets:\n  jira: { PAY: web }\n";
    let (status, body) = api_call(&state, "PUT", "/v1/config", "admin-token", moved).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let team = |name: &str| {
        format!("/v1/tickets?scope=team:{name}&env=production&from=2026-10-05&to=2026-10-11")
    };
    let (_, web) = api_call(&state, "GET", &team("web"), TOKEN, "").await;
    assert_eq!(web["cycle_time"]["count"], 1, "{web}");
    assert_eq!(web["lead_time"]["p50_seconds"], 95.0 * 60.0, "{web}");
    let (_, core) = api_call(&state, "GET", &team("core"), TOKEN, "").await;
    assert_eq!(core["cycle_time"]["count"], 0, "{core}");
    // (core still lists PAY-1 among what its repo's deployments carried: it is in acme/api)
    assert_eq!(listed(&core), ["jira:PAY-1"]);

    // and an environment the config does not have is a 400 naming it
    let (status, body) = api_call(&state, "GET", "/v1/tickets?env=staging", TOKEN, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("staging"), "{body}");
}
