//! Real responses of the dev server, over HTTP, validate against the OpenAPI 3.1 document
//! (`functions/api/openapi.yaml`), whose schemas are JSON Schema 2020-12.

use flowmeter_e2e::http::RunningDevServer;
use flowmeter_e2e::openapi::{document, validator};
use flowmeter_e2e::scenario::history;
use flowmeter_e2e::{deliver, drain, fresh_store};
use serde_json::{json, Value};

/// Every route the functions answer is described, so a new route cannot ship undocumented;
/// and nothing is described that no function answers.
#[test]
fn the_document_describes_exactly_the_routes_the_functions_answer() {
    let document = document();
    let described: std::collections::BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "put", "post", "delete", "patch"].contains(&k.as_str()))
                .map(|method| (method.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let answered: std::collections::BTreeSet<(String, String)> = flowmeter_edge::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .chain(
            flowmeter_edge::webhook::ROUTES
                .iter()
                .map(|p| ("POST".to_string(), p.to_string())),
        )
        .collect();
    assert_eq!(described, answered);
}

#[tokio::test]
async fn live_responses_match_the_openapi_document() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");

    let store = fresh_store("openapi").await;
    store
        .put_config("org: acme\nteams:\n  core:\n    members: [alice]\n    repos: [acme/api]\ngoals:\n  org: {deployment_frequency: elite}\n  core: {lead_time_p50: 24h, first_time_pass_rate: 80%}\n")
        .await
        .expect("config");
    for delivery in history(5) {
        deliver(&store, &delivery).await;
    }
    drain(&store, &mut None).await;

    let server = RunningDevServer::start(store, "read", "admin").await;
    let base = &server.base;
    let client = reqwest::Client::new();

    // `{period}`: the two weeks of the history.
    let cases = [
        ("/v1/dora?scope=team:core&{period}", 200, "DoraReport"),
        ("/v1/dora?scope=org", 200, "DoraReport"),
        ("/v1/cycle-time?{period}", 200, "CycleTimeReport"),
        (
            "/v1/pull-requests?scope=repo:acme/api&{period}",
            200,
            "PullRequestReport",
        ),
        ("/v1/incidents?{period}", 200, "IncidentReport"),
        ("/v1/teams", 200, "TeamsResponse"),
        ("/v1/attention?week=2026-W42", 200, "Attention"),
        ("/v1/attention?week=soon", 400, "Error"),
        ("/v1/goals?scope=team:core&{period}", 200, "GoalsReport"),
        ("/v1/goals?scope=org", 200, "GoalsReport"),
        (
            "/v1/pull-requests/slowest?scope=team:core&{period}&limit=3",
            200,
            "SlowestPullRequests",
        ),
        ("/v1/deployments/failed?{period}", 200, "FailedDeployments"),
        ("/v1/deployments/failed?limit=0", 400, "Error"),
        ("/v1/environments", 200, "EnvironmentsReport"),
        ("/v1/tickets?scope=team:core&{period}", 200, "TicketsReport"),
        ("/v1/tickets?env=nowhere", 400, "Error"),
        (
            "/v1/environments?scope=team:core",
            200,
            "EnvironmentsReport",
        ),
        ("/v1/environments?env=qa", 400, "Error"),
        ("/v1/goals?scope=repo:acme/api", 400, "Error"),
        ("/v1/goals?scope=team:nope", 404, "Error"),
        ("/v1/dora?scope=team:nope", 404, "Error"),
        ("/v1/dora?from=yesterday", 400, "Error"),
        ("/healthz", 200, "Health"),
    ];
    for (path, status, schema) in cases {
        let path = path.replace("{period}", "from=2026-10-05&to=2026-10-18");
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth("read")
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body: Value = response.json().await.expect("JSON body");
        let validator = validator(&document, schema);
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{path} does not match {schema}: {errors:#?}\n{body:#}"
        );
    }
    // The validator is not vacuous: a broken report is rejected.
    let mut broken = client
        .get(format!("{base}/v1/dora"))
        .bearer_auth("read")
        .send()
        .await
        .expect("GET")
        .json::<Value>()
        .await
        .expect("JSON");
    broken["change_failure_rate"]["rate"] = json!(1.5);
    assert!(!validator(&document, "DoraReport").is_valid(&broken));

    server.stop_cleanly().await;
}
