//! The ingestion spine end to end, against DynamoDB Local: signed deliveries → idempotent facts
//! → projections, links and weekly rollups through the stream, whatever the delivery order.

use std::collections::BTreeMap;
use std::path::Path;

use flowmeter::derive::deployment::Deployment;
use flowmeter::derive::{Bucket, Rollup, Scope};
use flowmeter::ingest::Normalized;
use flowmeter::model::EntityKey;
use flowmeter::time::IsoWeek;
use flowmeter_e2e::scenario::{history, revert_history, rollback_history, Rng};
use flowmeter_e2e::{
    deliver, derived_state, drain, fresh_store, table_snapshot, Delivery, ARGOCD_TOKEN,
    BITBUCKET_SECRET, GENERIC_SECRET, GITHUB_SECRET, GITLAB_TOKEN,
};
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::store::{keys, DigestClaim, Projection, ProjectionItem, Store, PROJECTION_SK};

/// Event name per fixture folder, as GitHub sends it in `X-GitHub-Event`.
fn github_fixtures() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).expect("fixtures/github") {
        let dir = dir.expect("dir entry").path();
        let event = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        for file in std::fs::read_dir(&dir).expect("event dir") {
            let path = file.expect("file").path();
            out.push((event.clone(), std::fs::read(&path).expect("fixture bytes")));
        }
    }
    out.sort();
    assert!(
        out.len() >= 30,
        "expected the GitHub fixtures, found {}",
        out.len()
    );
    out
}

#[tokio::test]
async fn every_github_fixture_is_accepted_and_a_redelivery_writes_nothing() {
    let store = fresh_store("fixtures").await;
    for (i, (event, body)) in github_fixtures().into_iter().enumerate() {
        let delivery = Delivery::github(GITHUB_SECRET, &event, &format!("fixture-{i}"), body);
        let (status, answer) = deliver(&store, &delivery).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "{event} fixture {i}: {answer}"
        );
        let before = table_snapshot(&store).await;
        let (status, again) = deliver(&store, &delivery).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(again["facts_written"], 0, "{event}: redelivery wrote facts");
        assert_eq!(
            table_snapshot(&store).await,
            before,
            "{event}: redelivery changed the table"
        );
    }
    let mut poller = None;
    drain(&store, &mut poller).await;
}

/// The GitLab, Bitbucket and Argo CD fixtures (tests/fixtures/*/README.md says where each comes
/// from), each as its source sends it: GitLab's `X-Gitlab-Event`, Bitbucket's `X-Event-Key`.
fn forge_fixtures() -> Vec<(String, Delivery)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let read = |dir: &str, file: &str| std::fs::read(root.join(dir).join(file)).expect(file);
    let gitlab = [
        ("Merge Request Hook", "go-gitlab.merge_request.json"),
        ("Merge Request Hook", "go-gitlab.group_merge_request.json"),
        ("Push Hook", "doc.push_hook.json"),
        ("Note Hook", "doc.note_hook.merge_request.json"),
        ("Deployment Hook", "go-gitlab.deployment.json"),
        ("Pipeline Hook", "go-gitlab.pipeline.json"),
        ("Issue Hook", "doc.issue_hook.incident.json"),
    ];
    let bitbucket = [
        ("repo:push", "bbs-plugin.repo_push.signed_payload.json"),
        ("pullrequest:created", "bbs-plugin.pullrequest_created.json"),
        (
            "pullrequest:fulfilled",
            "bbs-plugin.pullrequest_fulfilled.fulfilledPayload.json",
        ),
        (
            "pullrequest:rejected",
            "bbs-plugin.pullrequest_rejected.json",
        ),
        ("pullrequest:approved", "cloud.pullrequest_approved.json"),
        (
            "pullrequest:changes_request_created",
            "cloud.pullrequest_changes_request_created.json",
        ),
        (
            "pullrequest:comment_created",
            "cloud.pullrequest_comment_created.json",
        ),
        ("pr:opened", "dc.pr_opened.json"),
        (
            "pr:opened",
            "bbs-plugin.server.pr_opened.newPRPayload_v10.json",
        ),
        ("pr:merged", "dc.pr_merged.json"),
        ("pr:reviewer:needs_work", "dc.pr_reviewer_needs_work.json"),
        ("pr:comment:added", "dc.pr_comment_added.json"),
        ("repo:refs_changed", "dc.repo_refs_changed.json"),
        (
            "repo:refs_changed",
            "bbs-plugin.server.repo_refs_changed.pushPayload.json",
        ),
        (
            "repo:refs_changed",
            "bbs-plugin.server.repo_refs_changed.pushPayload_v10.json",
        ),
    ];
    let mut out = Vec::new();
    for (i, (event, file)) in gitlab.into_iter().enumerate() {
        let uuid = format!("gitlab-fixture-{i}");
        let d = Delivery::gitlab(GITLAB_TOKEN, event, &uuid, read("gitlab", file));
        out.push((format!("gitlab/{file}"), d));
    }
    for (i, (key, file)) in bitbucket.into_iter().enumerate() {
        let id = format!("bitbucket-fixture-{i}");
        let d = Delivery::bitbucket(BITBUCKET_SECRET, key, &id, read("bitbucket", file));
        out.push((format!("bitbucket/{file}"), d));
    }
    for file in [
        "running.json",
        "succeeded.json",
        "failed.json",
        "degraded.json",
        "out_of_sync.json",
    ] {
        let d = Delivery::argocd(ARGOCD_TOKEN, read("argocd", file));
        out.push((format!("argocd/{file}"), d));
    }
    out
}

/// Every GitLab, Bitbucket and Argo CD fixture through its endpoint: the webhook answers what
/// its parser makes of it (facts written, or a 400 naming the field for the documentation
/// examples that leave out what a real delivery carries), and a redelivery writes nothing.
#[tokio::test]
async fn every_forge_fixture_gets_its_parser_s_answer_and_a_redelivery_writes_nothing() {
    let store = fresh_store("forge-fixtures").await;
    let mut written = BTreeMap::new();
    for (name, delivery) in forge_fixtures() {
        let (status, answer) = deliver(&store, &delivery).await;
        match delivery.normalize() {
            Ok(Normalized::Facts(facts)) => {
                assert_eq!(status, StatusCode::ACCEPTED, "{name}: {answer}");
                assert_eq!(answer["facts"], facts.len(), "{name}: {answer}");
                let source = name.split('/').next().unwrap_or_default().to_string();
                *written.entry(source).or_insert(0) +=
                    answer["facts_written"].as_u64().unwrap_or_default();
            }
            Ok(Normalized::Ignored(why)) => {
                assert_eq!(status, StatusCode::ACCEPTED, "{name}: {answer}");
                assert_eq!(answer["ignored"], why, "{name}");
            }
            Err(e) => {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {answer}");
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains(&e.to_string()), "{name}: {message} / {e}");
            }
        }
        let before = table_snapshot(&store).await;
        let (again, _) = deliver(&store, &delivery).await;
        assert_eq!(again, status, "{name}: the redelivery is answered alike");
        assert_eq!(
            table_snapshot(&store).await,
            before,
            "{name}: redelivery wrote"
        );
    }
    for source in ["gitlab", "bitbucket", "argocd"] {
        assert!(
            written.get(source).is_some_and(|n| *n > 0),
            "{source}: {written:?}"
        );
    }
    let mut poller = None;
    drain(&store, &mut poller).await;
}

#[tokio::test]
async fn forged_malformed_and_oversized_deliveries_change_nothing() {
    let store = fresh_store("forged").await;
    let genuine = history(7);
    let (status, _) = deliver(&store, &genuine[0]).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let before = table_snapshot(&store).await;

    // Forged: valid body, signature from another secret.
    let mut forged = genuine[1].clone();
    forged.sign("wrong");
    assert_eq!(deliver(&store, &forged).await.0, StatusCode::UNAUTHORIZED);
    // Missing signature.
    let mut unsigned = genuine[1].clone();
    unsigned.remove_header("x-hub-signature-256");
    assert_eq!(deliver(&store, &unsigned).await.0, StatusCode::UNAUTHORIZED);
    // Tampered body under a genuine signature.
    let mut tampered = genuine[1].clone();
    tampered.body.push(b' ');
    assert_eq!(deliver(&store, &tampered).await.0, StatusCode::UNAUTHORIZED);
    // Malformed JSON, correctly signed.
    let malformed = Delivery::github(
        GITHUB_SECRET,
        "pull_request",
        "bad-json",
        b"{\"action\": \"opened\", ".to_vec(),
    );
    let (status, answer) = deliver(&store, &malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    // Oversized body.
    let huge = Delivery::github(
        GITHUB_SECRET,
        "push",
        "huge",
        vec![b' '; flowmeter::ingest::MAX_BODY_BYTES + 1],
    );
    assert_eq!(
        deliver(&store, &huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // (A branch name no table key could hold is keyed by its hash and stored since it is no
    // longer the sender's fault: tests/histories.rs, `a_pr_with_a_very_long_head_ref_…`.)
    // Generic deployment with an unknown status.
    let bad_generic = Delivery::generic(
        GENERIC_SECRET,
        "/webhooks/deployments",
        br#"{"repo":"acme/api","environment":"production","sha":"0000000000000000000000000000000000000001","status":"maybe","started_at":"2026-10-05T10:00:00Z","finished_at":"2026-10-05T10:05:00Z"}"#.to_vec(),
    );
    assert_eq!(
        deliver(&store, &bad_generic).await.0,
        StatusCode::BAD_REQUEST
    );

    assert_eq!(
        table_snapshot(&store).await,
        before,
        "a rejected delivery wrote to the table"
    );

    // An unknown event is accepted and ignored.
    let unknown = Delivery::github(
        GITHUB_SECRET,
        "release",
        "rel-1",
        br#"{"action":"published"}"#.to_vec(),
    );
    let (status, answer) = deliver(&store, &unknown).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["facts"], 0);
    assert_eq!(table_snapshot(&store).await, before);
}

/// A clean, single, in-order replay of a history: the reference every other order must match.
async fn in_order_state(seed: u64) -> (Vec<String>, Vec<String>) {
    let store = fresh_store("ref").await;
    for delivery in history(seed) {
        assert_eq!(deliver(&store, &delivery).await.0, StatusCode::ACCEPTED);
    }
    drain(&store, &mut None).await;
    derived_state(&store).await
}

#[tokio::test]
async fn shipped_prs_lead_time_and_blame_follow_the_history() {
    let seed = 11;
    let store = fresh_store("chain").await;
    let deliveries = history(seed);
    for delivery in &deliveries {
        assert_eq!(deliver(&store, delivery).await.0, StatusCode::ACCEPTED);
    }
    drain(&store, &mut None).await;

    // Every merged human PR was shipped by a later deployment, never by the first one.
    let first = EntityKey::Deployment {
        repo: "acme/api".into(),
        id: "gh:1".into(),
    };
    let mut shipped = 0;
    for number in 1..=4u64 {
        let key = EntityKey::PullRequest {
            repo: "acme/api".into(),
            number,
        };
        let Some(item) = store.projection(&key).await.expect("projection") else {
            continue;
        };
        let Projection::PullRequest(pr) = item.projection else {
            panic!("not a PR")
        };
        let shipment = pr
            .shipped_by
            .expect("every merged PR in the history is deployed");
        assert_ne!(
            shipment.deployment, first,
            "the first deployment ships nothing"
        );
        assert!(shipment.finished_at >= pr.merged_at.expect("merged"));
        shipped += 1;
    }
    assert!(shipped >= 2);
    let week: IsoWeek = "2026-W41".parse().expect("week");
    let org = store.rollups(&[(Scope::Org, week)]).await.expect("rollups");
    let (_, _, rollup): &(Scope, IsoWeek, Rollup) =
        org.first().expect("an org rollup for the week");
    assert!(rollup.deployments >= 2);
    assert!(rollup.lead_time.count() >= 1);
    assert_eq!(rollup.deployments_failed >= 1, rollup.recovery.count() >= 1);
}

#[tokio::test]
async fn any_order_with_redeliveries_ends_in_the_in_order_rollups() {
    // Property: for random histories, deliveries sent 1–3 times each in random order, with the
    // stream drained at random points (so derivation sees partial states), end in exactly the
    // rollups and projections of a clean in-order replay.
    for case in 0..6u64 {
        let seed = 1000 + case;
        let reference = in_order_state(seed).await;
        assert!(!reference.0.is_empty(), "the history produces rollups");

        let mut rng = Rng::new(seed ^ 0xABCDEF);
        let mut sends: Vec<Delivery> = Vec::new();
        for delivery in history(seed) {
            for _ in 0..rng.range(1, 3) {
                sends.push(delivery.clone());
            }
        }
        rng.shuffle(&mut sends);
        let store = fresh_store("shuffled").await;
        let mut poller = None;
        for delivery in &sends {
            assert_eq!(deliver(&store, delivery).await.0, StatusCode::ACCEPTED);
            if rng.chance(20) {
                drain(&store, &mut poller).await;
            }
        }
        drain(&store, &mut poller).await;
        let shuffled = derived_state(&store).await;
        assert_eq!(shuffled.1, reference.1, "seed {seed}: projections differ");
        assert_eq!(shuffled.0, reference.0, "seed {seed}: rollups differ");
    }
}

#[tokio::test]
async fn reprocess_rebuilds_exactly_the_streamed_rollups() {
    let store = fresh_store("reprocess").await;
    for delivery in history(21) {
        deliver(&store, &delivery).await;
    }
    drain(&store, &mut None).await;
    let streamed = derived_state(&store).await;
    assert!(!streamed.0.is_empty());
    // A digest that went out is a record, not a derivation: reprocessing must not resend it.
    assert_eq!(
        store
            .claim_digest("acme", "2026-W40", "email", "run-a", 1_000, 150)
            .await
            .expect("claim"),
        DigestClaim::Claimed
    );
    store
        .mark_digest_sent("acme", "2026-W40", "email", "run-a", "msg-1")
        .await
        .expect("mark sent");
    let report = flowmeter_edge::reprocess::reprocess(&store, Default::default())
        .await
        .expect("reprocess");
    assert!(report.derived_items_removed > 0);
    assert!(
        report.rounds >= 2,
        "links take more than one round: {report:?}"
    );
    assert_eq!(derived_state(&store).await, streamed);
    assert!(
        matches!(
            store
                .claim_digest("acme", "2026-W40", "email", "run-b", 2_000, 150)
                .await
                .expect("claim"),
            DigestClaim::AlreadySent { .. }
        ),
        "the send ledger survives reprocessing"
    );
}

/// A fresh table with `deliveries` delivered last first (each accepted) and the stream drained.
async fn delivered_in_reverse(label: &str, mut deliveries: Vec<Delivery>) -> Store {
    let store = fresh_store(label).await;
    deliveries.reverse();
    for delivery in &deliveries {
        assert_eq!(deliver(&store, delivery).await.0, StatusCode::ACCEPTED);
    }
    drain(&store, &mut None).await;
    store
}

/// The scenarios' repo rollup of their week, 2026-W41.
async fn scenario_repo_rollup(store: &Store) -> Rollup {
    let week: IsoWeek = "2026-W41".parse().expect("week");
    let mut rollups = store
        .rollups(&[(Scope::Repo("acme/api".into()), week)])
        .await
        .expect("rollups");
    let (_, _, rollup) = rollups.pop().expect("repo rollup");
    rollup
}

/// The projection of deployment `id` of the scenarios' repo.
async fn deployment_projection(store: &Store, id: &str) -> Deployment {
    let key = EntityKey::Deployment {
        repo: "acme/api".into(),
        id: id.into(),
    };
    match flowmeter_e2e::projection(store, &key).await {
        Some(Projection::Deployment(d)) => d,
        other => panic!("no deployment projection for {key:?}: {other:?}"),
    }
}

#[tokio::test]
async fn a_reverted_change_fails_its_deployment_until_the_revert_ships() {
    // Out of order: the revert's deliveries first.
    let store = delivered_in_reverse("revert", revert_history()).await;
    let shipped_original = deployment_projection(&store, "gh:2").await;
    let shipped_revert = deployment_projection(&store, "gh:3").await;
    assert!(shipped_original.is_successful_production());
    assert!(
        shipped_original.is_failed(),
        "the deployment whose change was reverted failed"
    );
    let recovered = shipped_revert.finished_at.expect("finished")
        - shipped_original.finished_at.expect("finished");
    assert_eq!(
        shipped_original.recovery_seconds(),
        Some(recovered.num_seconds() as f64)
    );
    assert!(!shipped_revert.is_failed());
    assert!(
        shipped_revert.is_rework(),
        "a deployment shipping only a revert is rework"
    );
    let rollup = scenario_repo_rollup(&store).await;
    assert_eq!(
        (rollup.deployments, rollup.deployments_failed, rollup.rework),
        (3, 1, 1)
    );
    assert_eq!(rollup.recovery.count(), 1);
}

#[tokio::test]
async fn a_rolled_back_deployment_failed_and_recovered_when_the_rollback_finished() {
    // Out of order: the rollback's deployment before the change it rolls back.
    let store = delivered_in_reverse("rollback", rollback_history()).await;
    let (changed, rollback, redeploy) = (
        deployment_projection(&store, "gh:2").await,
        deployment_projection(&store, "gh:3").await,
        deployment_projection(&store, "gh:4").await,
    );
    assert_eq!(changed.rolled_back_by, Some(rollback.key()));
    assert!(changed.is_failed(), "a rolled-back deployment failed");
    assert_eq!(changed.recovery_seconds(), Some(30.0 * 60.0));
    assert!(!rollback.is_failed() && rollback.ships.is_empty());
    assert!(
        !redeploy.is_failed(),
        "a redeploy of the same commit rolls nothing back"
    );
    let rollup = scenario_repo_rollup(&store).await;
    assert_eq!((rollup.deployments, rollup.deployments_failed), (4, 1));
    assert_eq!(rollup.recovery.count(), 1);
}

/// A run that fails after writing a projection but before recomputing its buckets leaves those
/// rollups stale, and its retry finds the projection unchanged. The projection names the run
/// and the buckets it touched; a later rebuild redoes them unless the run was recorded done.
#[tokio::test]
async fn a_run_that_died_after_its_projections_is_completed_by_the_next() {
    let crash = Crash::stage("crashed").await;
    let crashed = crash.merged.clone();
    crash.replay(crashed).await;
}

/// The dead run's projection differs from what the retry computes (the retried batch brought
/// more facts), so the retry writes a new projection, and its own member diff is empty: the
/// buckets the dead run touched must still be recomputed.
#[tokio::test]
async fn a_changed_projection_over_a_dead_run_recomputes_its_buckets() {
    let crash = Crash::stage("crashed-changed").await;
    let mut crashed = crash.merged.clone();
    let Projection::PullRequest(pr) = &mut crashed.projection else {
        panic!("a PR projection");
    };
    pr.comments += 1000;
    crash.replay(crashed).await;
}

/// A drained scenario, its derived state, and one merged PR's projection and repo bucket, to
/// stage a run that died.
struct Crash {
    store: Store,
    reference: (Vec<String>, Vec<String>),
    merged: ProjectionItem,
    entity: EntityKey,
    bucket: Bucket,
    config: flowmeter::config::OrgConfig,
}

impl Crash {
    async fn stage(label: &str) -> Crash {
        let store = fresh_store(label).await;
        for delivery in history(5) {
            deliver(&store, &delivery).await;
        }
        drain(&store, &mut None).await;
        let reference = derived_state(&store).await;
        let merged = store
            .scan_prefix(keys::PULL_REQUEST)
            .await
            .expect("scan")
            .into_iter()
            .filter(|item| {
                item.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str)
                    == Some(PROJECTION_SK)
            })
            .map(|item| ProjectionItem::from_item(item).expect("projection item"))
            .find(|item| {
                matches!(&item.projection, Projection::PullRequest(pr) if pr.merged_at.is_some())
            })
            .expect("a merged PR");
        let entity = EntityKey::from_partition_key(&merged.pk).expect("entity key");
        let bucket = merged
            .members
            .iter()
            .filter_map(|m| Bucket::parse(&m.b))
            .find(|b| matches!(b.scope, Scope::Repo(_)))
            .expect("a repo bucket");
        let config = flowmeter_edge::settings::load_config(&store)
            .await
            .expect("config");
        Crash {
            store,
            reference,
            merged,
            entity,
            bucket,
            config,
        }
    }

    /// One of the rollups the dead run should have recomputed was never (an empty one stands in).
    async fn stale_rollup(&self) {
        let seen = self
            .store
            .rollup_version(&self.bucket)
            .await
            .expect("version");
        let written = self
            .store
            .put_rollup_if(&self.bucket, seen, &Rollup::default())
            .await
            .expect("stale rollup");
        assert!(written, "nothing else writes this rollup now");
    }

    /// Stores `crashed` as written by a run that touched the repo bucket, whose rollup was
    /// never recomputed (`stale_rollup`). Control: from a run recorded done, the next rebuild
    /// leaves the stale rollup (nothing to redo). Then from a run that died: the next rebuild
    /// restores exactly the reference state.
    async fn replay(&self, mut crashed: ProjectionItem) {
        crashed.run = Some("run-that-died".into());
        crashed.run_buckets = vec![self.bucket.to_string()];
        self.stale_rollup().await;
        self.store
            .put_projection(&crashed)
            .await
            .expect("projection");
        self.store
            .mark_run_done("run-that-died", 0)
            .await
            .expect("done");
        self.rebuild().await;
        assert_ne!(
            derived_state(&self.store).await,
            self.reference,
            "a finished run's buckets are not recomputed again"
        );

        crashed.run = Some("another-run-that-died".into());
        self.store
            .put_projection(&crashed)
            .await
            .expect("projection");
        self.rebuild().await;
        assert_eq!(derived_state(&self.store).await, self.reference);
    }

    /// The next run that rebuilds the PR.
    async fn rebuild(&self) {
        let changes = BTreeMap::from([(
            self.entity.clone(),
            chrono::DateTime::<chrono::Utc>::MIN_UTC,
        )]);
        flowmeter_edge::pipeline::Pipeline::new(&self.store, self.config.clone())
            .process(&changes)
            .await
            .expect("process");
    }
}

/// The rollup write is a compare-and-set on its version: of two recomputes that read the same
/// version, only the first write lands; the loser sees `false` and recomputes from a fresh
/// read, so a slower recompute from an older member query can never overwrite a newer one.
#[tokio::test]
async fn a_rollup_written_from_a_stale_read_of_its_version_does_not_land() {
    let store = fresh_store("rollup-cas").await;
    let bucket = Bucket {
        scope: bucket_scope(),
        week: bucket_week(),
    };
    let newer = Rollup {
        prs_opened: 2,
        ..Rollup::default()
    };
    let older = Rollup {
        prs_opened: 1,
        ..Rollup::default()
    };
    assert_eq!(store.rollup_version(&bucket).await.expect("read"), None);
    // Both recomputes saw "no rollup yet"; the first to write wins.
    assert!(store
        .put_rollup_if(&bucket, None, &newer)
        .await
        .expect("put"));
    assert!(!store
        .put_rollup_if(&bucket, None, &older)
        .await
        .expect("put"));
    let stored = |store: Store| async move {
        store
            .rollups(&[(bucket_scope(), bucket_week())])
            .await
            .expect("rollups")
    };
    assert_eq!(stored(store.clone()).await[0].2, newer);
    // The loser re-reads: version 1 now, and its write from that read lands as version 2.
    assert_eq!(store.rollup_version(&bucket).await.expect("read"), Some(1));
    assert!(store
        .put_rollup_if(&bucket, Some(1), &older)
        .await
        .expect("put"));
    assert!(!store
        .put_rollup_if(&bucket, Some(1), &newer)
        .await
        .expect("put"));
    assert_eq!(store.rollup_version(&bucket).await.expect("read"), Some(2));
    assert_eq!(stored(store.clone()).await[0].2, older);
}

fn bucket_scope() -> Scope {
    Scope::Repo("acme/api".into())
}

fn bucket_week() -> IsoWeek {
    "2026-W41".parse().expect("week")
}
