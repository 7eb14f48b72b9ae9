//! Support for the end-to-end tests in `tests/`: a fresh table per test in the DynamoDB Local
//! that `infra/with-emulators.sh` started, deliveries through the webhook handler (signed with
//! the kit, `flowmeter_kit`, under the secrets below), and a stream drain that runs the
//! rollup handler exactly as Lambda would.

pub mod events;
pub mod http;
pub mod openapi;
pub mod org;
pub mod scenario;
pub mod slack_api_standin;
pub mod slack_standin;

use std::sync::atomic::{AtomicU32, Ordering};

use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::lambda_http::{Body, Request};
use flowmeter_edge::local_stream::StreamPoller;
use flowmeter_edge::settings::{dynamodb_client, WebhookSecrets};
use flowmeter_edge::store::{AttributeValue, Item, Projection, Store};
use flowmeter_edge::webhook::handle_webhook;
pub use flowmeter_kit::{payload, Delivery, Source};

pub const GITHUB_SECRET: &str = "gh-test-secret";
pub const PAGERDUTY_SECRET: &str = "pd-test-secret";
pub const GENERIC_SECRET: &str = "generic-test-secret";
pub const JIRA_SECRET: &str = "jira-test-secret";
pub const JIRA_TOKEN: &str = "jira-test-token-0123456789abcdef";
pub const LINEAR_SECRET: &str = "linear-test-secret";
pub const GITLAB_TOKEN: &str = "gitlab-test-token";
pub const BITBUCKET_SECRET: &str = "bitbucket-test-secret";
pub const ARGOCD_TOKEN: &str = "argocd-test-token";
/// The release-version gate's token (`FLOWMETER_GATE_TOKEN`) of the tests' dev servers.
pub const GATE_TOKEN: &str = "gate-test-token";

pub fn secrets() -> WebhookSecrets {
    WebhookSecrets {
        github: GITHUB_SECRET.into(),
        pagerduty: PAGERDUTY_SECRET.into(),
        generic: GENERIC_SECRET.into(),
        jira: JIRA_SECRET.into(),
        jira_token: JIRA_TOKEN.into(),
        linear: LINEAR_SECRET.into(),
        gitlab: GITLAB_TOKEN.into(),
        gitlab_signing: Vec::new(),
        bitbucket: BITBUCKET_SECRET.into(),
        argocd: ARGOCD_TOKEN.into(),
    }
}

static TABLES: AtomicU32 = AtomicU32::new(0);

/// A new, empty table (created from template.yaml) in the DynamoDB Local of this test run.
pub async fn fresh_store(label: &str) -> Store {
    assert!(
        std::env::var("FLOWMETER_DYNAMODB_ENDPOINT").is_ok(),
        "FLOWMETER_DYNAMODB_ENDPOINT is not set: run the tests with `make test` \
         (or infra/with-emulators.sh cargo test), which starts DynamoDB Local"
    );
    let n = TABLES.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!("t-{label}-{}-{nanos}-{n}", std::process::id());
    let store = Store::new(dynamodb_client().await, name);
    flowmeter_edge::schema::create_table(&store, flowmeter_edge::schema::TEMPLATE)
        .await
        .expect("create table from template.yaml");
    store
}

/// `delivery` as the Lambda request API Gateway hands the webhook function.
pub fn request(delivery: &Delivery) -> Request {
    let mut builder = flowmeter_edge::lambda_http::http::Request::builder()
        .method("POST")
        .uri(delivery.path.as_str());
    for (name, value) in &delivery.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Body::Binary(delivery.body.clone()))
        .expect("request")
}

/// Sends a delivery through the webhook handler; returns the status and the JSON answer.
pub async fn deliver(store: &Store, delivery: &Delivery) -> (StatusCode, serde_json::Value) {
    let response = handle_webhook(store, &secrets(), &request(delivery)).await;
    let status = response.status();
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    };
    (status, body)
}

/// Sends deliveries through the webhook handler, 16 at a time, and checks each was accepted.
/// A Linear delivery is dated when it is sent (and signed again with [`LINEAR_SECRET`]).
pub async fn deliver_all(store: &Store, deliveries: &[Delivery]) {
    for chunk in deliveries.chunks(16) {
        let mut tasks = tokio::task::JoinSet::new();
        for d in chunk {
            let (store, d) = (store.clone(), d.sent_now(LINEAR_SECRET));
            tasks.spawn(async move { deliver(&store, &d).await });
        }
        while let Some(answer) = tasks.join_next().await {
            let (status, body) = answer.expect("delivery task");
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }
    }
}

/// Runs the rollup handler over the table's stream until it stays quiet.
pub async fn drain(store: &Store, poller: &mut Option<StreamPoller>) -> usize {
    if poller.is_none() {
        *poller = Some(StreamPoller::new(store).await.expect("stream poller"));
    }
    match poller.as_mut() {
        Some(p) => p.drain(store, 3).await.expect("drain stream"),
        None => 0,
    }
}

/// The projection stored for `key`, if any.
pub async fn projection(store: &Store, key: &flowmeter::model::EntityKey) -> Option<Projection> {
    let item = store.projection(key).await.expect("read the projection");
    item.map(|i| i.projection)
}

/// An item as JSON; binary attributes (a projection's deflated body) as `{"B": "<hex>"}`, which
/// JSON has no type for.
pub fn item_json(mut item: Item) -> serde_json::Value {
    let mut binary = serde_json::Map::new();
    item.retain(|name, value| match value {
        AttributeValue::B(bytes) => {
            let hex: String = bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            binary.insert(name.clone(), serde_json::json!({ "B": hex }));
            false
        }
        _ => true,
    });
    let mut value: serde_json::Value = serde_dynamo::from_item(item).expect("item as JSON");
    if let Some(map) = value.as_object_mut() {
        map.extend(binary);
    }
    value
}

/// Every item of the table in key order, as comparable text.
pub async fn table_snapshot(store: &Store) -> Vec<String> {
    let items: Vec<Item> = store.scan_all().await.expect("scan");
    let mut rows: Vec<String> = items
        .into_iter()
        .map(|item| {
            // serde_json's maps are sorted: a canonical text whatever the item's map order.
            item_json(item).to_string()
        })
        .collect();
    rows.sort();
    rows
}

/// Derived state worth comparing across runs: rollups and projections (without link
/// bookkeeping), as text in key order.
pub async fn derived_state(store: &Store) -> (Vec<String>, Vec<String>) {
    let rollups = store
        .all_rollups()
        .await
        .expect("rollups")
        .into_iter()
        .map(|(pk, sk, r)| {
            format!(
                "{pk} {sk} {}",
                serde_json::to_string(&r).unwrap_or_default()
            )
        })
        .collect();
    let mut projections = Vec::new();
    for prefix in flowmeter_edge::store::keys::PROJECTED_ENTITIES {
        for item in store.scan_prefix(prefix).await.expect("scan") {
            let sk = item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if sk == flowmeter_edge::store::PROJECTION_SK {
                let pk = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let stored = flowmeter_edge::store::ProjectionItem::from_item(item)
                    .expect("projection item");
                let value = serde_json::to_value(&stored.projection).expect("projection as JSON");
                projections.push(format!("{pk} {value}"));
            }
        }
    }
    projections.sort();
    (rollups, projections)
}

/// One request to the read API's handler with a bearer token: its status and JSON body
/// (`null` when the body is not JSON).
pub async fn api_call(
    state: &flowmeter_edge::api::ApiState,
    method: &str,
    uri: &str,
    token: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let (status, text) = api_text(state, method, uri, token, body).await;
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, value)
}

/// One request to the read API's handler with a bearer token: its status and body as text
/// (empty when the body is not text), for `/metrics` and the like.
pub async fn api_text(
    state: &flowmeter_edge::api::ApiState,
    method: &str,
    uri: &str,
    token: &str,
    body: &str,
) -> (StatusCode, String) {
    let request: Request = flowmeter_edge::lambda_http::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Text(body.to_string()))
        .expect("request");
    let response = flowmeter_edge::api::handle_api(state, &request).await;
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    (response.status(), text)
}

/// The environments one repo of a `GET /v1/environments` answer lists, in the answer's order.
pub fn environment_names(repo: &serde_json::Value) -> Vec<&str> {
    repo["environments"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|e| e["environment"].as_str())
                .collect()
        })
        .unwrap_or_default()
}
