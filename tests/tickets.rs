//! Jira and Linear deliveries through the real webhook handler into DynamoDB Local: the real
//! Jira Cloud and Server payloads and the Linear fixture become ticket facts (`TICKET#…`), a
//! redelivery writes nothing, a wrong signature or token is 401 and writes nothing, a stale
//! Linear delivery is 401, an event we do not read is 202 ignored; and the rollup's run over
//! the stream projects each ticket beside its facts.

use flowmeter::derive::project_ticket;
use flowmeter::model::{EntityKey, FactBody, StatusTransition, TicketCategory};
use flowmeter_e2e::http::RunningDevServer;
use flowmeter_e2e::{
    deliver, drain, fresh_store, payload, table_snapshot, Delivery, JIRA_SECRET, JIRA_TOKEN,
    LINEAR_SECRET,
};
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::store::Store;
use serde_json::Value;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

const CLOUD: &str = "jira/zulip.issue_updated__status.json";
const SERVER: &str = "jira/jira-trigger-plugin.issue_updated_status_updated.json";
const LINEAR_UPDATE: &str = "linear/issue_update_state.json";
const LINEAR_CREATE: &str = "linear/issue_create.json";

fn ticket(id: &str) -> EntityKey {
    EntityKey::Ticket { id: id.into() }
}

/// Sends a delivery; asserts the status and returns `facts_written` (0 when absent).
async fn send(store: &Store, delivery: &Delivery, expect: StatusCode) -> (u64, Value) {
    let (status, body) = deliver(store, delivery).await;
    assert_eq!(status, expect, "{}: {body}", delivery.path);
    (body["facts_written"].as_u64().unwrap_or(0), body)
}

#[tokio::test]
async fn jira_cloud_and_server_deliveries_become_ticket_facts_once() {
    let store = fresh_store("tickets-jira").await;

    let cloud = Delivery::jira(JIRA_SECRET, fixture(CLOUD));
    assert_eq!(send(&store, &cloud, StatusCode::ACCEPTED).await.0, 1);
    let server = Delivery::jira_server(JIRA_TOKEN, fixture(SERVER));
    assert_eq!(send(&store, &server, StatusCode::ACCEPTED).await.0, 1);
    // Redeliveries write nothing and are still accepted.
    assert_eq!(send(&store, &cloud, StatusCode::ACCEPTED).await.0, 0);
    assert_eq!(send(&store, &server, StatusCode::ACCEPTED).await.0, 0);

    let (facts, projection) = store.entity(&ticket("jira:TEST-1")).await.expect("read");
    assert!(projection.is_none());
    assert_eq!(facts.len(), 1);
    assert_eq!(facts[0].id, "changelog:10000#0");
    let FactBody::TicketChanged(cloud_fact) = &facts[0].body else {
        panic!("a ticket fact: {:?}", facts[0]);
    };
    assert_eq!(cloud_fact.project, "ABC");
    assert_eq!(cloud_fact.category, TicketCategory::Started);
    assert_eq!(
        cloud_fact.transition,
        Some(StatusTransition {
            from: Some("To Do".into()),
            to: "In Progress".into(),
            category: Some(TicketCategory::Started),
            at: facts[0].at,
        })
    );

    let (facts, _) = store.entity(&ticket("jira:TEST-11")).await.expect("read");
    assert_eq!(facts.len(), 1);
    let folded = project_ticket(&ticket("jira:TEST-11"), &facts).expect("a ticket");
    assert_eq!(folded.status, "Done");
    assert_eq!(folded.category, TicketCategory::Done);
    assert_eq!(folded.started_at, None, "straight to done: never started");
    assert_eq!(folded.done_at, Some(facts[0].at));
}

#[tokio::test]
async fn bad_signatures_and_tokens_are_401_and_write_nothing() {
    let store = fresh_store("tickets-auth").await;
    let before = table_snapshot(&store).await;

    let wrong_secret = Delivery::jira("not-the-secret", fixture(CLOUD));
    send(&store, &wrong_secret, StatusCode::UNAUTHORIZED).await;
    let mut unsigned = Delivery::jira(JIRA_SECRET, fixture(CLOUD));
    unsigned.remove_header("x-hub-signature");
    send(&store, &unsigned, StatusCode::UNAUTHORIZED).await;
    // Jira Cloud's signature does not open the token route, nor a wrong token.
    let wrong_token = Delivery::jira_server("not-the-token", fixture(SERVER));
    send(&store, &wrong_token, StatusCode::UNAUTHORIZED).await;
    let longer = Delivery::jira_server(&format!("{JIRA_TOKEN}0"), fixture(SERVER));
    send(&store, &longer, StatusCode::UNAUTHORIZED).await;
    let wrong_linear = Delivery::linear(
        "not-the-secret",
        payload::linear::sent_now(&fixture(LINEAR_UPDATE)),
    );
    send(&store, &wrong_linear, StatusCode::UNAUTHORIZED).await;
    // Signed, but a body changed after signing.
    let mut tampered = Delivery::linear(
        LINEAR_SECRET,
        payload::linear::sent_now(&fixture(LINEAR_UPDATE)),
    );
    tampered.body = payload::linear::sent_now(&fixture(LINEAR_CREATE));
    send(&store, &tampered, StatusCode::UNAUTHORIZED).await;
    // An empty token segment is no route.
    let empty = Delivery::jira_server("", fixture(SERVER));
    send(&store, &empty, StatusCode::NOT_FOUND).await;

    assert_eq!(table_snapshot(&store).await, before, "nothing was written");
}

#[tokio::test]
async fn linear_deliveries_are_dated_and_become_ticket_facts_once() {
    let store = fresh_store("tickets-linear").await;
    let before = table_snapshot(&store).await;

    // The fixture's own date (2026-10-06) is a replay now: 401, nothing written.
    let stale = Delivery::linear(LINEAR_SECRET, fixture(LINEAR_UPDATE));
    send(&store, &stale, StatusCode::UNAUTHORIZED).await;
    let now = chrono::Utc::now().timestamp_millis();
    let old = payload::linear::sent_at(&fixture(LINEAR_UPDATE), now - 61_000);
    send(
        &store,
        &Delivery::linear(LINEAR_SECRET, old),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let ahead = payload::linear::sent_at(&fixture(LINEAR_UPDATE), now + 120_000);
    send(
        &store,
        &Delivery::linear(LINEAR_SECRET, ahead),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(table_snapshot(&store).await, before, "nothing was written");

    let create = Delivery::linear(
        LINEAR_SECRET,
        payload::linear::sent_now(&fixture(LINEAR_CREATE)),
    );
    assert_eq!(send(&store, &create, StatusCode::ACCEPTED).await.0, 1);
    let update = Delivery::linear(
        LINEAR_SECRET,
        payload::linear::sent_now(&fixture(LINEAR_UPDATE)),
    );
    assert_eq!(send(&store, &update, StatusCode::ACCEPTED).await.0, 1);
    // Linear dates a retry anew: a different body, the same fact.
    let retry = Delivery::linear(
        LINEAR_SECRET,
        payload::linear::sent_at(&fixture(LINEAR_UPDATE), now + 1_000),
    );
    assert_eq!(send(&store, &retry, StatusCode::ACCEPTED).await.0, 0);

    let key = ticket("linear:ENG-123");
    let (facts, _) = store.entity(&key).await.expect("read");
    assert_eq!(facts.len(), 2);
    let folded = project_ticket(&key, &facts).expect("a ticket");
    assert_eq!(folded.project, "ENG");
    assert_eq!(folded.status, "In Progress");
    assert_eq!(folded.category, TicketCategory::Started);
    assert_eq!(folded.sprint.as_deref(), Some("Cycle 42"));
    assert_eq!(
        folded.started_at.map(|t| t.to_rfc3339()),
        Some("2026-10-06T09:15:02.418+00:00".to_string())
    );
    assert_eq!(folded.done_at, None);
}

#[tokio::test]
async fn events_we_do_not_read_are_ignored() {
    let store = fresh_store("tickets-ignored").await;
    let before = table_snapshot(&store).await;
    let mut comment: Value = serde_json::from_slice(&fixture(CLOUD)).expect("JSON");
    comment["webhookEvent"] = "comment_created".into();
    let comment = serde_json::to_vec(&comment).expect("JSON");
    let version = br#"{"timestamp":1485797534721,"webhookEvent":"jira:version_released","version":{"id":"10000","name":"7.2","released":true}}"#.to_vec();
    for (delivery, reason) in [
        (
            Delivery::jira(JIRA_SECRET, comment.clone()),
            "unsupported event",
        ),
        (
            Delivery::jira_server(JIRA_TOKEN, version),
            "unsupported event",
        ),
    ] {
        let (written, body) = send(&store, &delivery, StatusCode::ACCEPTED).await;
        assert_eq!(written, 0);
        assert_eq!(body["ignored"], reason, "{body}");
    }
    let mut project: Value = serde_json::from_slice(&fixture(LINEAR_UPDATE)).expect("JSON");
    project["type"] = "Project".into();
    let project = payload::linear::sent_now(&serde_json::to_vec(&project).expect("JSON"));
    let (written, body) = send(
        &store,
        &Delivery::linear(LINEAR_SECRET, project),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(
        (written, body["ignored"].as_str()),
        (0, Some("not an issue event"))
    );
    // Malformed: 400 naming the field.
    let mut no_status: Value = serde_json::from_slice(&fixture(CLOUD)).expect("JSON");
    if let Some(fields) = no_status
        .pointer_mut("/issue/fields")
        .and_then(Value::as_object_mut)
    {
        fields.remove("status");
    }
    let no_status = serde_json::to_vec(&no_status).expect("JSON");
    let (_, body) = send(
        &store,
        &Delivery::jira(JIRA_SECRET, no_status),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        body.to_string().contains("issue.fields.status"),
        "names the field: {body}"
    );
    assert_eq!(table_snapshot(&store).await, before, "nothing was written");
}

#[tokio::test]
async fn the_rollup_projects_each_ticket_beside_its_facts() {
    let store = fresh_store("tickets-rollup").await;
    let mut poller = None;
    drain(&store, &mut poller).await;
    send(
        &store,
        &Delivery::jira(JIRA_SECRET, fixture(CLOUD)),
        StatusCode::ACCEPTED,
    )
    .await;
    send(
        &store,
        &Delivery::linear(
            LINEAR_SECRET,
            payload::linear::sent_now(&fixture(LINEAR_UPDATE)),
        ),
        StatusCode::ACCEPTED,
    )
    .await;
    let facts_only = table_snapshot(&store).await;
    drain(&store, &mut poller).await;
    // every fact is still there, and each ticket has its projection: the fold of its facts
    let after = table_snapshot(&store).await;
    assert!(
        facts_only.iter().all(|item| after.contains(item)),
        "facts kept"
    );
    for entity in [ticket("jira:TEST-1"), ticket("linear:ENG-123")] {
        let (facts, item) = store.entity(&entity).await.expect("entity");
        let stored = item.unwrap_or_else(|| panic!("{entity:?} has a projection"));
        assert_eq!(
            Some(stored.projection),
            project_ticket(&entity, &facts).map(flowmeter::derive::Projection::Ticket)
        );
    }
    // and nothing was parked
    assert!(
        !after
            .iter()
            .any(|item| format!("{item:?}").contains("PARKED#")),
        "no ticket parked"
    );
}

#[tokio::test]
async fn the_dev_server_takes_the_three_routes_over_http() {
    let store = fresh_store("tickets-devserver").await;
    let server = RunningDevServer::start(store.clone(), "api-token", "admin-token").await;
    let client = reqwest::Client::new();
    let deliveries = [
        Delivery::jira(JIRA_SECRET, fixture(CLOUD)),
        Delivery::jira_server(JIRA_TOKEN, fixture(SERVER)),
        Delivery::linear(
            LINEAR_SECRET,
            payload::linear::sent_now(&fixture(LINEAR_UPDATE)),
        ),
    ];
    for delivery in &deliveries {
        let mut request = client
            .post(format!("{}{}", server.base, delivery.path))
            .body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.header(*name, value.as_str());
        }
        let response = request.send().await.expect("POST");
        assert_eq!(response.status().as_u16(), 202, "{}", delivery.path);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["facts_written"], 1, "{}: {body}", delivery.path);
    }
    let wrong = client
        .post(format!("{}/webhooks/jira/wrong-token", server.base))
        .body(fixture(SERVER))
        .send()
        .await
        .expect("POST");
    assert_eq!(wrong.status().as_u16(), 401);
    let text = wrong.text().await.expect("body");
    assert!(
        !text.contains("wrong-token"),
        "the answer does not echo the token: {text}"
    );
    server.stop_cleanly().await;
}
