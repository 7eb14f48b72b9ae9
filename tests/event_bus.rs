//! The event publisher end to end: the real `EventPublisher` (the AWS SDK's EventBridge
//! client, signing and all) against the dev server's local bus over HTTP: batching by count
//! and size, partial failures retried entry by entry, whole-request failures retried whole,
//! what cannot be sent reported per event, and the bus's own validation.
//!
//! Credentials and region come from the environment `infra/with-emulators.sh` sets (any value
//! passes the local bus).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flowmeter::events::{event_id, DomainEvent, EventType, SOURCE};
use flowmeter_devserver::event_bus::LocalEventBus;
use flowmeter_edge::publish::{EventPublisher, Published, ATTEMPTS, TOO_LARGE};
use serde_json::{json, Value};

const BUS: &str = "flowmeter-test-events";

fn require_aws_env() {
    assert!(
        std::env::var("AWS_REGION").is_ok() && std::env::var("AWS_ACCESS_KEY_ID").is_ok(),
        "AWS_REGION / AWS_ACCESS_KEY_ID are not set: run the tests with \
         infra/with-emulators.sh, which sets local credentials"
    );
}

/// A bus and a publisher aimed at it.
async fn bus_and_publisher() -> (LocalEventBus, EventPublisher) {
    require_aws_env();
    let bus = LocalEventBus::start(BUS).await.expect("start local bus");
    let publisher = EventPublisher::at(Some(&bus.endpoint()), BUS).await;
    (bus, publisher)
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

/// `n` distinct deployment events of org `label`.
fn events(label: &str, n: usize) -> Vec<DomainEvent> {
    (0..n)
        .map(|i| {
            let kind = EventType::ALL[i % EventType::ALL.len()];
            let mut event = DomainEvent::new(
                kind,
                event_id(kind, &[label, &i.to_string()]),
                at("2024-05-06T07:08:09.250Z") + chrono::Duration::seconds(i as i64),
                label,
            );
            event.repo = Some(format!("acme/service-{i}"));
            event.teams = vec!["payments".into()];
            event
        })
        .collect()
}

fn ids(events: &[DomainEvent]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

fn recorded_ids(bus: &LocalEventBus) -> Vec<String> {
    bus.entries()
        .iter()
        .map(|e| e.detail["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Each id and how often the bus recorded it.
fn counts(bus: &LocalEventBus) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for id in recorded_ids(bus) {
        *counts.entry(id).or_default() += 1;
    }
    counts
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn failed_codes(published: &Published) -> Vec<(String, String)> {
    published
        .failed
        .iter()
        .map(|f| (f.id.clone(), f.code.clone()))
        .collect()
}

#[tokio::test]
async fn twenty_five_events_go_in_three_requests_each_recorded_once() {
    let (bus, publisher) = bus_and_publisher().await;
    let events = events("batches", 25);
    let published = publisher.publish(&events).await;
    assert!(published.failed.is_empty(), "{:?}", published.failed);
    assert_eq!(published.sent, ids(&events));
    let requests = bus.requests();
    let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(requests.concat(), ids(&events), "in order, each once");
    assert_eq!(recorded_ids(&bus), ids(&events));
}

#[tokio::test]
async fn entries_carry_source_type_detail_time_and_bus() {
    let (bus, publisher) = bus_and_publisher().await;
    assert_eq!(publisher.bus(), BUS);
    let events = events("fields", 3);
    let published = publisher.publish(&events).await;
    assert_eq!(published.sent.len(), 3);
    let entries = bus.entries();
    assert_eq!(entries.len(), 3);
    for (entry, event) in entries.iter().zip(&events) {
        assert_eq!(entry.source, SOURCE);
        assert_eq!(entry.detail_type, event.kind.as_str());
        assert_eq!(entry.bus, BUS);
        assert_eq!(
            entry.detail,
            serde_json::from_str::<Value>(&event.detail_json()).expect("detail")
        );
        assert_eq!(
            entry.time.timestamp_millis(),
            event.occurred_at.timestamp_millis()
        );
        assert!(entry.resources.is_empty());
        assert!(!entry.event_id.is_empty());
    }
}

#[tokio::test]
async fn requests_are_cut_at_256_kib() {
    let (bus, publisher) = bus_and_publisher().await;
    let mut events = events("sizes", 4);
    for event in &mut events {
        // About 100 KiB each: two fit a request, a third does not.
        event.repo = Some("r".repeat(100 * 1024));
    }
    let published = publisher.publish(&events).await;
    assert!(published.failed.is_empty(), "{:?}", published.failed);
    let sizes: Vec<usize> = bus.requests().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![2, 2]);
    assert_eq!(recorded_ids(&bus), ids(&events));
}

#[tokio::test]
async fn throttled_entries_alone_are_sent_again() {
    let (bus, publisher) = bus_and_publisher().await;
    let events = events("throttled", 5);
    bus.fail_next_entries(3, "ThrottlingException");
    let published = publisher.publish(&events).await;
    assert!(published.failed.is_empty(), "{:?}", published.failed);
    assert_eq!(sorted(published.sent.clone()), sorted(ids(&events)));
    let requests = bus.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0], ids(&events));
    assert_eq!(requests[1], ids(&events[..3]), "exactly the failed entries");
    let counts = counts(&bus);
    assert_eq!(counts.len(), 5);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[tokio::test]
async fn only_the_retryable_failures_are_sent_again() {
    let (bus, publisher) = bus_and_publisher().await;
    let events = events("mixed", 4);
    bus.fail_next_entries(1, "ThrottlingException");
    bus.fail_next_entries(1, "MalformedDetail");
    bus.fail_next_entries(1, "InternalFailure");
    let published = publisher.publish(&events).await;
    assert_eq!(
        failed_codes(&published),
        vec![(events[1].id.clone(), "MalformedDetail".to_string())]
    );
    assert_eq!(
        sorted(published.sent.clone()),
        sorted(vec![
            events[0].id.clone(),
            events[2].id.clone(),
            events[3].id.clone()
        ])
    );
    let requests = bus.requests();
    assert_eq!(
        requests,
        vec![
            ids(&events),
            vec![events[0].id.clone(), events[2].id.clone()]
        ]
    );
    let counts = counts(&bus);
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[tokio::test]
async fn an_entry_throttled_on_every_attempt_fails_with_throttling() {
    let (bus, publisher) = bus_and_publisher().await;
    let events = events("always-throttled", 1);
    bus.fail_next_entries(ATTEMPTS as usize, "ThrottlingException");
    let published = publisher.publish(&events).await;
    assert!(published.sent.is_empty());
    assert_eq!(
        failed_codes(&published),
        vec![(events[0].id.clone(), "ThrottlingException".to_string())]
    );
    assert_eq!(bus.requests(), vec![ids(&events); ATTEMPTS as usize]);
    assert!(bus.entries().is_empty());
    // The bus works again: the next publish goes through at once.
    let published = publisher.publish(&events).await;
    assert_eq!(published.sent, ids(&events));
}

#[tokio::test]
async fn a_non_retryable_entry_error_is_reported_at_once() {
    let (bus, publisher) = bus_and_publisher().await;
    let events = events("denied", 4);
    bus.fail_next_entries(1, "AccessDeniedException");
    let published = publisher.publish(&events).await;
    assert_eq!(
        failed_codes(&published),
        vec![(events[0].id.clone(), "AccessDeniedException".to_string())]
    );
    assert_eq!(published.sent, ids(&events[1..]));
    assert_eq!(bus.requests().len(), 1, "not retried");
    assert_eq!(recorded_ids(&bus), ids(&events[1..]));
}

#[tokio::test]
async fn a_failed_request_is_retried_whole() {
    let (bus, publisher) = bus_and_publisher().await;
    let events = events("request-500", 7);
    bus.fail_next_requests(2);
    let published = publisher.publish(&events).await;
    assert!(published.failed.is_empty(), "{:?}", published.failed);
    assert_eq!(published.sent, ids(&events));
    let requests = bus.requests();
    assert_eq!(requests, vec![ids(&events); 3], "two 500s, then accepted");
    assert_eq!(recorded_ids(&bus), ids(&events));
}

#[tokio::test]
async fn a_request_failing_every_attempt_fails_each_of_its_events() {
    let (bus, publisher) = bus_and_publisher().await;
    let events = events("request-down", 13);
    // The first batch fails on every attempt; the second goes through.
    bus.fail_next_requests(ATTEMPTS as usize);
    let published = publisher.publish(&events).await;
    let failed = failed_codes(&published);
    assert_eq!(
        failed,
        ids(&events[..10])
            .into_iter()
            .map(|id| (id, "InternalException".to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(published.sent, ids(&events[10..]));
    assert_eq!(bus.requests().len(), ATTEMPTS as usize + 1);
}

#[tokio::test]
async fn an_event_over_256_kib_fails_alone_as_too_large() {
    let (bus, publisher) = bus_and_publisher().await;
    let mut events = events("too-large", 3);
    events[1].repo = Some("x".repeat(300 * 1024));
    let published = publisher.publish(&events).await;
    assert_eq!(
        failed_codes(&published),
        vec![(events[1].id.clone(), TOO_LARGE.to_string())]
    );
    let others = vec![events[0].id.clone(), events[2].id.clone()];
    assert_eq!(published.sent, others);
    assert_eq!(bus.requests(), vec![others.clone()], "never sent");
    assert_eq!(recorded_ids(&bus), others);
}

#[tokio::test]
async fn an_unknown_bus_fails_every_event_with_the_error() {
    require_aws_env();
    let bus = LocalEventBus::start(BUS).await.expect("start local bus");
    let publisher = EventPublisher::at(Some(&bus.endpoint()), "no-such-bus").await;
    let events = events("unknown-bus", 12);
    let published = publisher.publish(&events).await;
    assert!(published.sent.is_empty());
    assert_eq!(published.failed.len(), 12);
    for failed in &published.failed {
        assert_eq!(failed.code, "ResourceNotFoundException");
        assert!(failed.message.contains("no-such-bus"), "{}", failed.message);
    }
    assert_eq!(
        sorted(published.failed.iter().map(|f| f.id.clone()).collect()),
        sorted(ids(&events))
    );
    assert_eq!(bus.requests().len(), 2, "one per batch, not retried");
    assert!(bus.entries().is_empty());
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_every_event_after_the_attempts() {
    require_aws_env();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let publisher = EventPublisher::at(Some(&format!("http://{address}")), BUS).await;
    let events = events("unreachable", 3);
    let started = std::time::Instant::now();
    let published = publisher.publish(&events).await;
    assert!(published.sent.is_empty());
    assert_eq!(published.failed.len(), 3);
    assert!(published.failed.iter().all(|f| f.code == "Unreachable"));
    // Three backoffs (100, 200, 400 ms) between the four attempts.
    assert!(started.elapsed() >= Duration::from_millis(700));
}

#[tokio::test]
async fn nothing_to_publish_sends_nothing() {
    let (bus, publisher) = bus_and_publisher().await;
    let published = publisher.publish(&[]).await;
    assert!(published.sent.is_empty() && published.failed.is_empty());
    assert!(bus.requests().is_empty());
}

#[tokio::test]
async fn subscribers_get_each_requests_accepted_entries() {
    let (bus, publisher) = bus_and_publisher().await;
    let mut subscription = bus.subscribe();
    let events = events("subscribe", 12);
    bus.fail_next_entries(1, "AccessDeniedException");
    let published = publisher.publish(&events).await;
    assert_eq!(published.sent.len(), 11);
    let mut batches = Vec::new();
    while let Ok(batch) = subscription.try_recv() {
        batches.push(batch);
    }
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![9, 2]);
    assert_eq!(batches.concat(), bus.entries());
}

#[tokio::test]
async fn from_env_reads_the_bus_and_the_endpoint() {
    require_aws_env();
    let bus = LocalEventBus::start(BUS).await.expect("start local bus");
    // Each test of this binary runs in its own process under nextest, and no other test here
    // reads these variables.
    std::env::set_var("EVENT_BUS_NAME", "");
    assert!(EventPublisher::from_env().await.is_none(), "empty: off");
    std::env::remove_var("EVENT_BUS_NAME");
    assert!(EventPublisher::from_env().await.is_none(), "unset: off");
    std::env::set_var("EVENT_BUS_NAME", BUS);
    std::env::set_var("FLOWMETER_EVENTBRIDGE_ENDPOINT", bus.endpoint());
    let publisher = EventPublisher::from_env().await.expect("publisher");
    assert_eq!(publisher.bus(), BUS);
    let events = events("from-env", 2);
    let published = publisher.publish(&events).await;
    assert_eq!(published.sent, ids(&events));
    assert_eq!(recorded_ids(&bus), ids(&events));
}

/// A raw `PutEvents` call, as the SDK makes it (unsigned: the bus accepts any signature).
async fn put_events(bus: &LocalEventBus, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/", bus.endpoint()))
        .header("x-amz-target", "AWSEvents.PutEvents")
        .header("content-type", "application/x-amz-json-1.1")
        .body(body.to_string())
        .send()
        .await
        .expect("PutEvents");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.expect("JSON answer");
    (status, body)
}

fn raw_entry(id: &str, detail_bytes: usize) -> Value {
    let detail = json!({ "id": id, "pad": "p".repeat(detail_bytes) }).to_string();
    json!({
        "Source": SOURCE,
        "DetailType": "deployment.finished",
        "Detail": detail,
        "EventBusName": BUS,
        "Time": 1_714_979_289.25,
    })
}

#[tokio::test]
async fn the_bus_validates_like_eventbridge() {
    let bus = LocalEventBus::start(BUS).await.expect("start local bus");

    let eleven: Vec<Value> = (0..11).map(|i| raw_entry(&format!("e{i}"), 10)).collect();
    let (status, body) = put_events(&bus, &json!({ "Entries": eleven })).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("ValidationException"))
    );

    let big = vec![raw_entry("b1", 200 * 1024), raw_entry("b2", 100 * 1024)];
    let (status, body) = put_events(&bus, &json!({ "Entries": big })).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("ValidationException"))
    );

    let mut elsewhere = raw_entry("x", 1);
    elsewhere["EventBusName"] = json!("other-bus");
    let (status, body) = put_events(&bus, &json!({ "Entries": [elsewhere] })).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("ResourceNotFoundException"))
    );

    let mut array_detail = raw_entry("a", 1);
    array_detail["Detail"] = json!("[1, 2]");
    let mut no_source = raw_entry("n", 1);
    if let Some(o) = no_source.as_object_mut() {
        o.remove("Source");
    }
    let mut no_type = raw_entry("t", 1);
    if let Some(o) = no_type.as_object_mut() {
        o.remove("DetailType");
    }
    let good = raw_entry("good", 1);
    let (status, body) = put_events(
        &bus,
        &json!({ "Entries": [array_detail, good, no_source, no_type] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["FailedEntryCount"], json!(3));
    let codes: Vec<Option<&str>> = body["Entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["ErrorCode"].as_str())
        .collect();
    assert_eq!(
        codes,
        vec![
            Some("InvalidArgument"),
            None,
            Some("InvalidArgument"),
            Some("InvalidArgument")
        ]
    );
    assert!(body["Entries"][1]["EventId"].is_string());
    assert_eq!(recorded_ids(&bus), vec!["good".to_string()]);
    let entry = &bus.entries()[0];
    assert_eq!(entry.time.timestamp_millis(), 1_714_979_289_250);

    // Every request that could be read is listed, refused ones included.
    assert_eq!(bus.requests().len(), 4);
    // (The array detail has no id to list.)
    assert_eq!(bus.requests()[3], vec!["", "good", "n", "t"]);

    let response = reqwest::Client::new()
        .post(format!("{}/", bus.endpoint()))
        .header("x-amz-target", "AWSEvents.ListRules")
        .body("{}")
        .send()
        .await
        .expect("ListRules");
    assert_eq!(response.status().as_u16(), 400);
}
