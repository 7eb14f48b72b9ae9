//! The rollup's writes against DynamoDB Local: where they share a partition with source facts
//! (links, projections and PR-by-head records sit in the entity partitions), a source fact at
//! the key they target is refused with an error and left as it was, while ordinary derived
//! writes go on working; and a pipeline run writes under no partition prefix other than the
//! ones template.yaml's `RollupRole` allows (`store::ROLLUP_WRITE_PREFIXES`).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use flowmeter::derive::Deployment;
use flowmeter::model::{DeploymentState, EntityKey, Fact, FactBody, ShippedPr};
use flowmeter_e2e::scenario::history;
use flowmeter_e2e::{deliver, drain, fresh_store, Delivery};
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::store::{
    item_keys, AttributeValue, Item, LinkState, Projection, ProjectionItem, Store, StoreError,
    DERIVED_FACT_TYPES, PROJECTION_SK, ROLLUP_WRITE_PREFIXES,
};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .expect("time")
}

fn deployment_key() -> EntityKey {
    EntityKey::Deployment {
        repo: "acme/api".into(),
        id: "gh:7".into(),
    }
}

fn pr_key(number: u64) -> EntityKey {
    EntityKey::PullRequest {
        repo: "acme/api".into(),
        number,
    }
}

/// A source fact as the webhook stores it (`pk`, `sk`, `fact`, `h`), but at any key: the
/// stand-in for a source fact that sits where a derived write aims.
fn source_fact_item(entity: &EntityKey, sk: &str) -> Item {
    let fact = Fact {
        entity: entity.clone(),
        id: "delivery-1#0".into(),
        at: at("2026-11-30T10:00:00Z"),
        body: FactBody::DeploymentStatus {
            state: DeploymentState::Success,
            environment: Some("production".into()),
            sha: Some("abc123".into()),
            started_at: None,
            workflow_run: None,
        },
    };
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(entity.partition_key())),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
        (
            "fact".to_string(),
            serde_dynamo::to_attribute_value(&fact).expect("fact as attribute"),
        ),
        (
            "h".to_string(),
            AttributeValue::S("0011223344556677".into()),
        ),
    ])
}

async fn put_raw(store: &Store, item: Item) {
    store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .send()
        .await
        .expect("stage an item");
}

async fn get_raw(store: &Store, pk: &str, sk: &str) -> Option<Item> {
    store
        .client()
        .get_item()
        .table_name(store.table())
        .consistent_read(true)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .send()
        .await
        .expect("get item")
        .item
}

/// The deployment's `ships` link (sort key `FACT#LINK#ships`), listing `prs`.
fn ships_link(prs: &[(u64, bool)]) -> Fact {
    Fact {
        entity: deployment_key(),
        id: "ships".into(),
        at: at("2026-11-30T10:05:00Z"),
        body: FactBody::ShipsPrs {
            prs: prs
                .iter()
                .map(|(n, rework)| ShippedPr {
                    pr: pr_key(*n),
                    rework: *rework,
                })
                .collect(),
        },
    }
}

fn deployment_projection(key: &EntityKey) -> ProjectionItem {
    let finished = at("2026-11-30T10:00:00Z");
    ProjectionItem {
        pk: key.partition_key(),
        sk: PROJECTION_SK.into(),
        projection: Projection::Deployment(Deployment {
            repo: "acme/api".into(),
            id: "gh:7".into(),
            environment: Some("production".into()),
            sha: Some("abc123".into()),
            is_production: true,
            state: Some(DeploymentState::Success),
            started_at: Some(finished),
            finished_at: Some(finished),
            ..Deployment::default()
        }),
        members: Vec::new(),
        links: LinkState::default(),
        run: Some("run-1".into()),
        run_buckets: Vec::new(),
        head_indexed: None,
        gsi1pk: Some("DEPS#acme/api".into()),
        gsi1sk: Some("2026-11-30T10:00:00.000Z#gh:7".into()),
        gsi2pk: None,
        gsi2sk: None,
    }
}

fn refused(result: Result<impl std::fmt::Debug, StoreError>, pk: &str, sk: &str) {
    match result {
        Err(StoreError::WouldReplaceSourceFact {
            pk: refused_pk,
            sk: refused_sk,
            ..
        }) => assert_eq!((refused_pk.as_str(), refused_sk.as_str()), (pk, sk)),
        other => panic!("expected the write at {pk} / {sk} to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_link_never_replaces_or_deletes_a_source_fact_at_its_key() {
    let store = fresh_store("derived-link-guard").await;
    let pk = deployment_key().partition_key();
    let sk = "FACT#LINK#ships";
    let staged = source_fact_item(&deployment_key(), sk);
    put_raw(&store, staged.clone()).await;

    let link = ships_link(&[(1, false)]);
    assert_eq!(link.sort_key(), sk, "the link aims at the staged key");
    refused(store.put_derived(&link).await, &pk, sk);
    assert_eq!(get_raw(&store, &pk, sk).await, Some(staged.clone()));

    refused(store.delete_derived(&deployment_key(), sk).await, &pk, sk);
    assert_eq!(get_raw(&store, &pk, sk).await, Some(staged));

    // The store does not take a source fact for a derived one either: nothing is written.
    let source = Fact {
        entity: deployment_key(),
        id: "delivery-2#0".into(),
        at: at("2026-11-30T11:00:00Z"),
        body: FactBody::DeploymentStatus {
            state: DeploymentState::Failure,
            environment: None,
            sha: None,
            started_at: None,
            workflow_run: None,
        },
    };
    refused(store.put_derived(&source).await, &pk, &source.sort_key());
    assert_eq!(get_raw(&store, &pk, &source.sort_key()).await, None);
}

#[tokio::test]
async fn ordinary_link_writes_still_upsert_skip_and_delete() {
    let store = fresh_store("derived-link-ok").await;
    let pk = deployment_key().partition_key();
    let sk = "FACT#LINK#ships";
    let first = ships_link(&[(1, false)]);
    assert!(
        store.put_derived(&first).await.expect("new link"),
        "written"
    );
    assert!(
        !store.put_derived(&first).await.expect("same link"),
        "unchanged: not written again"
    );
    let changed = ships_link(&[(1, false), (2, true)]);
    assert!(
        store.put_derived(&changed).await.expect("changed link"),
        "changed: replaced"
    );
    let (facts, _) = store.entity(&deployment_key()).await.expect("entity");
    assert_eq!(facts, vec![changed]);

    assert!(store
        .delete_derived(&deployment_key(), sk)
        .await
        .expect("delete link"));
    assert_eq!(get_raw(&store, &pk, sk).await, None);
    assert!(
        !store
            .delete_derived(&deployment_key(), sk)
            .await
            .expect("delete nothing"),
        "nothing left to delete"
    );
}

#[tokio::test]
async fn a_projection_or_head_record_never_replaces_a_source_fact() {
    let store = fresh_store("derived-proj-guard").await;
    let key = deployment_key();
    let pk = key.partition_key();
    let staged = source_fact_item(&key, PROJECTION_SK);
    put_raw(&store, staged.clone()).await;
    refused(
        store.put_projection(&deployment_projection(&key)).await,
        &pk,
        PROJECTION_SK,
    );
    assert_eq!(get_raw(&store, &pk, PROJECTION_SK).await, Some(staged));

    let branch = EntityKey::Branch {
        repo: "acme/api".into(),
        branch: "feature".into(),
    };
    let head_sk = pr_key(1).partition_key();
    let staged = source_fact_item(&branch, &head_sk);
    put_raw(&store, staged.clone()).await;
    refused(
        store.put_head_index(&branch, &pr_key(1)).await,
        &branch.partition_key(),
        &head_sk,
    );
    assert_eq!(
        get_raw(&store, &branch.partition_key(), &head_sk).await,
        Some(staged)
    );
}

#[tokio::test]
async fn ordinary_projection_and_head_writes_still_replace_their_own_items() {
    let store = fresh_store("derived-proj-ok").await;
    let key = deployment_key();
    let mut item = deployment_projection(&key);
    store.put_projection(&item).await.expect("new projection");
    item.run = Some("run-2".into());
    store
        .put_projection(&item)
        .await
        .expect("replaced projection");
    assert_eq!(store.projection(&key).await.expect("read"), Some(item));

    let branch = EntityKey::Branch {
        repo: "acme/api".into(),
        branch: "feature".into(),
    };
    store
        .put_head_index(&branch, &pr_key(1))
        .await
        .expect("new head record");
    store
        .put_head_index(&branch, &pr_key(1))
        .await
        .expect("same head record again");
    assert_eq!(
        store.prs_with_head(&branch).await.expect("heads"),
        vec![pr_key(1)]
    );
}

/// Every item key in the table.
async fn keys(store: &Store) -> BTreeSet<(String, String)> {
    store
        .scan_all()
        .await
        .expect("scan")
        .iter()
        .map(item_keys)
        .collect()
}

#[tokio::test]
async fn a_pipeline_run_writes_only_under_the_rollup_prefixes_and_uses_them_all() {
    let store = fresh_store("derived-prefixes").await;
    // A history with an incident among its deliveries (they are drawn at random per seed), so
    // that every kind of entity is derived.
    let deliveries = (1..100)
        .map(history)
        .find(|h| h.iter().any(|d| d.path == "/webhooks/incidents"))
        .expect("a seed with an incident");
    // and a Jira ticket, whose projection the rollup writes into its TICKET# partition
    let jira = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/jira/zulip.issue_updated__status.json"
    ))
    .expect("jira fixture");
    // and an ArgoCD notification, whose application's projection goes into its APP# partition
    let argocd = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/argocd/succeeded.json"
    ))
    .expect("argocd fixture");
    // and a Dependabot alert, whose projection goes into its SEC# partition
    let alert = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/github/dependabot_alert/created.payload.json"
    ))
    .expect("dependabot fixture");
    let deliveries = deliveries.into_iter().chain([
        Delivery::jira(flowmeter_e2e::JIRA_SECRET, jira),
        Delivery::argocd(flowmeter_e2e::ARGOCD_TOKEN, argocd),
        Delivery::github(
            flowmeter_e2e::GITHUB_SECRET,
            "dependabot_alert",
            "alert-1",
            alert,
        ),
    ]);
    for delivery in deliveries {
        let (status, answer) = deliver(&store, &delivery).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    // Everything in the table now came from the webhook; everything new after the drain from
    // the rollup handler.
    let sources = keys(&store).await;
    drain(&store, &mut None).await;
    // and an incident opened now, whose event the rollup puts in its OUTBOX# partition before
    // publishing it (the history's changes are too old to announce)
    let bus = flowmeter_devserver::LocalEventBus::start("derived-prefixes")
        .await
        .expect("bus");
    let publisher =
        flowmeter_edge::publish::EventPublisher::at(Some(&bus.endpoint()), "derived-prefixes")
            .await;
    let incident = flowmeter_kit::payload::generic::incident(
        "inc-now",
        "api",
        "sev2",
        "Checkout is down",
        chrono::Utc::now(),
        None,
    );
    let delivery = Delivery::generic(
        flowmeter_e2e::GENERIC_SECRET,
        flowmeter_kit::delivery::INCIDENTS,
        incident.to_string().into_bytes(),
    );
    let before = keys(&store).await;
    let (status, answer) = deliver(&store, &delivery).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // (the incident's source fact is the webhook's)
    let sources: BTreeSet<(String, String)> = sources
        .union(&keys(&store).await.difference(&before).cloned().collect())
        .cloned()
        .collect();
    let mut poller = Some(
        flowmeter_edge::local_stream::StreamPoller::new(&store)
            .await
            .expect("poller")
            .with_publisher(Some(publisher)),
    );
    drain(&store, &mut poller).await;
    assert_eq!(
        bus.entries().len(),
        1,
        "the incident's opening was published"
    );
    let derived: BTreeSet<(String, String)> =
        keys(&store).await.difference(&sources).cloned().collect();
    assert!(!derived.is_empty(), "the rollup wrote nothing");

    let mut used = BTreeSet::new();
    for (pk, sk) in &derived {
        let prefix = ROLLUP_WRITE_PREFIXES
            .iter()
            .find(|p| pk.starts_with(**p))
            .unwrap_or_else(|| {
                panic!(
                    "the rollup wrote {pk} / {sk}, outside ROLLUP_WRITE_PREFIXES (and outside \
                     what template.yaml's RollupRole may write)"
                )
            });
        used.insert(*prefix);
    }
    // And each listed prefix is one the code writes, so the list (and the IAM grant) stays no
    // wider than the rollup needs.
    // `PARKED#` is written only when an entity cannot be derived (tests/poison.rs).
    let listed: BTreeSet<&str> = ROLLUP_WRITE_PREFIXES
        .iter()
        .copied()
        .filter(|p| *p != flowmeter_edge::store::PARKED_PREFIX)
        .collect();
    assert_eq!(used, listed, "prefixes the run wrote vs the listed ones");
}

/// No wildcard arm: a new kind of fact body does not compile here until it is sorted into
/// source or derived (and, if derived, its stored tag added to `DERIVED_FACT_TYPES`).
fn is_link(body: &FactBody) -> bool {
    match body {
        FactBody::PullRequest(_)
        | FactBody::Review { .. }
        | FactBody::ReviewDismissed { .. }
        | FactBody::Comment { .. }
        | FactBody::Push { .. }
        | FactBody::DeploymentRequested { .. }
        | FactBody::DeploymentStatus { .. }
        | FactBody::Incident { .. }
        | FactBody::TicketChanged(_)
        | FactBody::AppState { .. }
        | FactBody::SecurityAlert(_) => false,
        FactBody::ShippedBy { .. }
        | FactBody::ShipsPrs { .. }
        | FactBody::BlamedBy { .. }
        | FactBody::RevertedBy { .. }
        | FactBody::ShippedPrReverted { .. }
        | FactBody::RolledBackBy { .. }
        | FactBody::FollowedBy { .. }
        | FactBody::SupersededBy { .. }
        | FactBody::EarlierPrHead { .. }
        | FactBody::NamedByPr { .. } => true,
    }
}

#[test]
fn the_derived_fact_types_are_the_stored_tags_of_every_derived_body() {
    let t = at("2026-11-30T10:00:00Z");
    let dep = deployment_key;
    let inc = || EntityKey::Incident { id: "pd:P1".into() };
    let bodies = [
        FactBody::ShippedBy {
            deployment: dep(),
            sha: "abc".into(),
            finished_at: t,
        },
        FactBody::ShipsPrs { prs: Vec::new() },
        FactBody::BlamedBy {
            incident: inc(),
            opened_at: t,
            resolved_at: None,
        },
        FactBody::RevertedBy { pr: pr_key(2) },
        FactBody::ShippedPrReverted {
            pr: pr_key(1),
            revert: pr_key(2),
        },
        FactBody::RolledBackBy { deployment: dep() },
        FactBody::FollowedBy {
            deployment: dep(),
            finished_at: t,
        },
        FactBody::SupersededBy { deployment: dep() },
        FactBody::EarlierPrHead {
            pr: pr_key(1),
            head_sha: "abc".into(),
            merged_at: t,
        },
        FactBody::NamedByPr {
            pr: pr_key(1),
            merged_at: Some(t),
            shipped_at: None,
        },
    ];
    let mut tags = Vec::new();
    for body in &bodies {
        assert!(is_link(body) && body.is_derived(), "{body:?}");
        let value = serde_json::to_value(body).expect("body as JSON");
        tags.push(value["type"].as_str().expect("a type tag").to_string());
    }
    assert_eq!(
        tags, DERIVED_FACT_TYPES,
        "one tag per derived body, in order"
    );
}
