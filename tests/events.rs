//! Events out, end to end on DynamoDB Local: the rollup's domain events through the outbox to a
//! local EventBridge (`LocalEventBus`, which speaks `PutEvents`), and from it through the
//! notifier's routes to Slack stand-ins that enforce Block Kit's limits and answer 429s.
//!
//! The story (acme/api, starting three hours ago so that every change is fresh): c0 deployed to
//! production; PR #1 merged; its deployment fails; the next one succeeds and recovers it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use flowmeter_devserver::{LocalEventBus, Settings};
use flowmeter_e2e::http::{devserver_settings, RunningDevServer};
use flowmeter_e2e::org::{sha, Org};
use flowmeter_e2e::slack_standin::{Scripted, SlackStandIn};
use flowmeter_e2e::{drain, fresh_store};
use flowmeter_edge::local_stream::StreamPoller;
use flowmeter_edge::pipeline::Pipeline;
use flowmeter_edge::publish::EventPublisher;
use flowmeter_edge::secrets::{ChatChannel, ChatChannels};
use flowmeter_edge::store::Store;
use serde_json::Value;

const REPO: &str = "acme/api";
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

const CONFIG: &str = "org: acme
environments:
  qa: [qa]
  production: [production]
teams:
  core:
    members: [alice]
    repos: [acme/api]
notifications:
  routes:
    - channel: platform
      events: [deployment.failed, deployment.recovered]
      environments: [production]
    - channel: web-prs
      events: [pull_request.merged]
      repos: [acme/web]
";

/// The story from `start`; sent again from the same start, it is a redelivery of every webhook.
async fn story(store: &Store, start: chrono::DateTime<Utc>) {
    let mut send = Org::new(store, REPO).starting(start);
    let (c0, m1) = (sha("c0"), sha("a1"));
    send.push_main(0, ZERO_SHA, &c0, Some("Initial commit"))
        .await;
    send.deploy("production", 1, &c0, 10, "success").await;
    send.merged_pr(1, 60, &c0, &m1, "Add refund retries").await;
    send.push_main(61, &c0, &m1, Some("Merge pull request #1"))
        .await;
    send.deploy("production", 2, &m1, 70, "failure").await;
    send.deploy("production", 3, &m1, 100, "success").await;
}

/// The detail-types of the bus's entries, counted.
fn types(bus: &LocalEventBus) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in bus.entries() {
        *counts.entry(entry.detail_type).or_default() += 1;
    }
    counts
}

fn ids(bus: &LocalEventBus) -> Vec<String> {
    bus.entries()
        .iter()
        .map(|e| e.detail["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn expected_types() -> BTreeMap<String, usize> {
    [
        ("deployment.failed", 1),
        ("deployment.finished", 2),
        ("deployment.recovered", 1),
        ("pull_request.merged", 1),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_string(), n))
    .collect()
}

/// Channels posting to these Slack stand-ins' webhooks.
fn slack_channels(standins: &[(&str, &SlackStandIn)]) -> ChatChannels {
    standins
        .iter()
        .map(|(name, standin)| {
            let channel = ChatChannel {
                slack_webhook_url: standin.url.clone(),
                ..ChatChannel::default()
            };
            (name.to_string(), channel)
        })
        .collect()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn text_of(message: &Value) -> String {
    message.to_string()
}

#[tokio::test]
async fn a_failed_production_deployment_reaches_exactly_its_routed_channel() {
    let store = fresh_store("events_routed").await;
    store.put_config(CONFIG).await.expect("config");
    let platform = SlackStandIn::start().await;
    let web = SlackStandIn::start().await;
    // Slack rate-limits the platform channel once: the notifier waits and sends again.
    platform.script([Scripted::RateLimited(1)]);
    let channels = slack_channels(&[("platform", &platform), ("web-prs", &web)]);
    let bus = LocalEventBus::start("flowmeter-test").await.expect("bus");
    let settings = Settings {
        channels,
        event_bus: Some(bus.clone()),
        ..devserver_settings("read", "admin")
    };
    let server = RunningDevServer::start_with(store.clone(), settings).await;

    let start = Utc::now() - chrono::Duration::hours(3);
    story(&store, start).await;
    wait_for("the story's events on the bus", || {
        types(&bus) == expected_types()
    })
    .await;
    wait_for("the platform channel's messages", || {
        platform.accepted().len() >= 2
    })
    .await;
    flowmeter_e2e::events::assert_details_match_their_schemas(&bus.entries());

    let messages = platform.accepted();
    assert_eq!(messages.len(), 2, "one message per event: {messages:?}");
    let all = messages.iter().map(text_of).collect::<Vec<_>>().join("\n");
    assert!(all.contains("acme/api"), "{all}");
    assert!(all.to_lowercase().contains("failed"), "{all}");
    assert!(all.to_lowercase().contains("recovered"), "{all}");
    assert!(platform.requests() >= 3, "the 429 was retried");
    assert!(
        web.accepted().is_empty(),
        "no route sends web-prs anything from acme/api"
    );

    // Every webhook again: nothing new is stored, so nothing is published or sent.
    let before = (ids(&bus), platform.accepted().len());
    story(&store, start).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!((ids(&bus), platform.accepted().len()), before);

    server.stop_cleanly().await;
}

#[tokio::test]
async fn a_retried_batch_and_failed_puts_publish_each_event_once() {
    let store = fresh_store("events_once").await;
    store.put_config(CONFIG).await.expect("config");
    let config = flowmeter_edge::settings::load_config(&store)
        .await
        .expect("config");
    let bus = LocalEventBus::start("flowmeter-test").await.expect("bus");
    let publisher = EventPublisher::at(Some(&bus.endpoint()), "flowmeter-test").await;
    story(&store, Utc::now() - chrono::Duration::hours(3)).await;

    // EventBridge throttles two entries of the first request: only those are sent again.
    bus.fail_next_entries(2, "ThrottlingException");
    let mut poller = Some(
        StreamPoller::new(&store)
            .await
            .expect("poller")
            .with_publisher(Some(publisher.clone())),
    );
    drain(&store, &mut poller).await;
    assert_eq!(types(&bus), expected_types());
    let published = ids(&bus);
    assert_eq!(
        published.iter().collect::<BTreeSet<_>>().len(),
        published.len(),
        "each event once: {published:?}"
    );
    let requests = bus.requests();
    let retried: Vec<&Vec<String>> = requests.iter().filter(|r| r.len() == 2).collect();
    assert!(
        !retried.is_empty()
            && retried
                .iter()
                .all(|r| r.iter().all(|id| published.contains(id))),
        "a request of the two throttled entries alone: {requests:?}"
    );

    // A retried batch whose run died after its projections: the done markers are gone, so
    // every entity re-derives its events; the outbox says they went out.
    for item in store.scan_all().await.expect("scan") {
        let (pk, sk) = flowmeter_edge::store::item_keys(&item);
        if pk.starts_with("BATCH#") {
            store
                .delete_item(&pk, &sk)
                .await
                .expect("delete run marker");
        }
    }
    let changes: flowmeter_edge::pipeline::Changes = store
        .scan_all()
        .await
        .expect("scan")
        .iter()
        .filter_map(|item| {
            let (pk, _) = flowmeter_edge::store::item_keys(item);
            flowmeter::model::EntityKey::from_partition_key(&pk)
        })
        .filter(|entity| !matches!(entity, flowmeter::model::EntityKey::Branch { .. }))
        .map(|entity| (entity, chrono::DateTime::<Utc>::MIN_UTC))
        .collect();
    let requests_before = bus.requests().len();
    let outcome = Pipeline::new(&store, config.clone())
        .with_publisher(Some(&publisher))
        .process(&changes)
        .await
        .expect("retried run");
    assert_eq!(outcome.events.published, 0);
    assert_eq!(ids(&bus), published, "nothing published twice");
    assert_eq!(bus.requests().len(), requests_before, "not even a request");

    // EventBridge refuses every attempt of a new event's request: it stays owed, on the
    // unpublished index, and a later run's sweep publishes it, once.
    bus.fail_next_requests(4);
    let mut send = Org::new(&store, REPO).starting(Utc::now() - chrono::Duration::minutes(30));
    send.deploy("production", 4, &sha("a1"), 0, "failure").await;
    drain(&store, &mut poller).await;
    assert_eq!(types(&bus).get("deployment.failed"), Some(&1), "not yet");
    let swept = Pipeline::new(&store, config.clone())
        .with_publisher(Some(&publisher))
        .sweeping_every_run(0)
        .process(&Default::default())
        .await
        .expect("sweep");
    assert_eq!(swept.events.published, 1);
    assert_eq!(types(&bus).get("deployment.failed"), Some(&2));
    let again = Pipeline::new(&store, config)
        .with_publisher(Some(&publisher))
        .sweeping_every_run(0)
        .process(&Default::default())
        .await
        .expect("second sweep");
    assert_eq!(
        again.events.published, 0,
        "the sweep found nothing left owed"
    );
    let all = ids(&bus);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), all.len());
    flowmeter_e2e::events::assert_details_match_their_schemas(&bus.entries());
}

/// A release train: twenty services deployed to production at once reach the platform channel
/// as one grouped message, not twenty.
#[tokio::test]
async fn a_release_train_is_one_grouped_message() {
    let store = fresh_store("events_train").await;
    let config = "org: acme
environments:
  production: [production]
notifications:
  routes:
    - channel: platform
      events: [deployment.finished]
      environments: [production]
";
    store.put_config(config).await.expect("config");
    let start = Utc::now() - chrono::Duration::minutes(30);
    let repos: Vec<String> = (1..=20).map(|i| format!("acme/svc-{i:02}")).collect();
    // Everything is stored before the server starts: its poller reads it as one batch, as
    // Lambda would hand one run a burst that arrived together.
    for (i, repo) in repos.iter().enumerate() {
        let mut send = Org::new(&store, repo).starting(start);
        let commit = sha(&format!("r{i}"));
        send.push_main(0, ZERO_SHA, &commit, Some("Release 2026.12"))
            .await;
        send.deploy("production", 100 + i as u64, &commit, 10, "success")
            .await;
    }
    let platform = SlackStandIn::start().await;
    let bus = LocalEventBus::start("flowmeter-train").await.expect("bus");
    let settings = Settings {
        channels: slack_channels(&[("platform", &platform)]),
        event_bus: Some(bus.clone()),
        ..devserver_settings("read", "admin")
    };
    let server = RunningDevServer::start_with(store.clone(), settings).await;

    wait_for("the train's twenty events", || {
        types(&bus).get("deployment.finished") == Some(&20)
    })
    .await;
    wait_for("the platform channel's message", || {
        !platform.accepted().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = platform.accepted();
    assert_eq!(messages.len(), 1, "one grouped message: {messages:?}");
    let text = messages[0].to_string();
    assert!(text.contains("20 events"), "{text}");
    for repo in &repos {
        assert!(
            text.contains(repo.as_str()),
            "{repo} is in the message: {text}"
        );
    }
    assert!(
        bus.requests().len() >= 2,
        "20 entries take two PutEvents requests"
    );
    server.stop_cleanly().await;
}

/// A PR with no review `review_wait_hours` after it opened is announced once; a younger one
/// is not.
#[tokio::test]
async fn a_pr_waiting_for_review_is_announced_once() {
    let store = fresh_store("events_waiting").await;
    let config_yaml = "org: acme
teams:
  core:
    repos: [acme/api]
notifications:
  review_wait_hours: 2
  routes:
    - channel: reviews
      events: [pull_request.waiting]
";
    store.put_config(config_yaml).await.expect("config");
    let now = Utc::now();
    let mut send = Org::new(&store, REPO).starting(now);
    for (number, opened_hours_ago) in [(7_u64, 3_i64), (8, 1)] {
        let head = sha(&format!("h{number}"));
        let branch = format!("feature-{number}");
        let pr = flowmeter_kit::payload::github::PullRequest {
            repo: REPO,
            number,
            title: "Add idempotency keys",
            body: None,
            author: "alice",
            created: now - chrono::Duration::hours(opened_hours_ago),
            closed: None,
            head: (&branch, &head),
            base_sha: &sha("c0"),
            additions: 10,
            deletions: 2,
        };
        send.github("pull_request", pr.event("opened", pr.created))
            .await;
    }
    drain(&store, &mut None).await;
    let config = flowmeter_edge::settings::load_config(&store)
        .await
        .expect("config");
    let bus = LocalEventBus::start("flowmeter-waiting")
        .await
        .expect("bus");
    let publisher = EventPublisher::at(Some(&bus.endpoint()), "flowmeter-waiting").await;
    let pipeline = Pipeline::new(&store, config).with_publisher(Some(&publisher));

    let first = pipeline.announce_waiting().await.expect("look");
    assert_eq!(first.published, 1);
    let entries = bus.entries();
    assert_eq!(entries[0].detail_type, "pull_request.waiting");
    assert_eq!(
        entries[0].detail["pull_request"]["number"], 7,
        "the younger PR waits less than 2 h"
    );
    assert_eq!(entries[0].detail["teams"], serde_json::json!(["core"]));
    flowmeter_e2e::events::assert_details_match_their_schemas(&entries);
    let again = pipeline.announce_waiting().await.expect("look again");
    assert_eq!(again.published, 0, "announced once");
}
