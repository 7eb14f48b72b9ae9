//! Histories that real repositories have and the spine used to get wrong, end to end against
//! DynamoDB Local: reused head branches, fork PRs, the default branch merged into a head,
//! Actions deployments seen twice, signed bodies replayed under new delivery ids, and records no
//! retry can derive. Every expected value is worked out by hand in the test.

use chrono::{DateTime, Utc};
use flowmeter::derive::deployment::Deployment;
use flowmeter::derive::PullRequest;
use flowmeter::model::EntityKey;
use flowmeter_e2e::{deliver, drain, fresh_store, table_snapshot, Delivery, GITHUB_SECRET};
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::store::{AttributeValue, Projection, Store, PARKED_PREFIX, PARKED_SK};
use serde_json::{json, Value};

const REPO: &str = "acme/api";
const ZERO: &str = "0000000000000000000000000000000000000000";

/// A PR's branch pushed March 10 at 10:00, the PR opened an hour later and merged March 12 at
/// 10:00.
const MARCH_10_TO_12: (&str, &str, &str) = (
    "2026-03-10T10:00:00Z",
    "2026-03-10T11:00:00Z",
    "2026-03-12T10:00:00Z",
);

fn t(text: &str) -> DateTime<Utc> {
    text.parse().expect("time")
}

fn repository() -> Value {
    json!({"full_name": REPO, "default_branch": "main", "name": "api", "owner": {"login": "acme"}})
}

fn sha(label: &str) -> String {
    format!("{label:0>40}")
}

/// Signed deliveries, each under its own delivery id.
struct History {
    out: Vec<Delivery>,
}

impl History {
    fn new() -> History {
        History { out: Vec::new() }
    }

    fn github(&mut self, event: &str, body: Value) {
        let id = format!("delivery-{}", self.out.len());
        let bytes = serde_json::to_vec(&body).expect("json");
        self.out
            .push(Delivery::github(GITHUB_SECRET, event, &id, bytes));
    }

    /// `commits`: (sha label, authored at).
    fn push(&mut self, at: &str, branch: &str, before: &str, commits: &[(&str, &str)]) {
        let list: Vec<Value> = commits
            .iter()
            .map(|(c, authored)| json!({"id": sha(c), "timestamp": authored, "author": {"username": "alice"}}))
            .collect();
        let after = commits.last().map(|(c, _)| sha(c)).unwrap_or_default();
        let mut repo = repository();
        repo["pushed_at"] = json!(t(at).timestamp());
        let before = if before == ZERO {
            ZERO.to_string()
        } else {
            sha(before)
        };
        self.github(
            "push",
            json!({"ref": format!("refs/heads/{branch}"), "before": before, "after": after,
                   "created": before == ZERO, "deleted": false, "forced": false,
                   "commits": list, "head_commit": list.last(), "repository": repo}),
        );
    }

    /// A branch created by a push of one commit, `(sha label, authored at)`, and PR `number`
    /// from it: `(pushed, opened, merged)`.
    fn pr_from_new_branch(
        &mut self,
        number: u64,
        branch: &str,
        commit: (&str, &str),
        (pushed, opened, merged): (&str, &str, &str),
    ) {
        self.push(pushed, branch, ZERO, &[commit]);
        self.merged_pr(number, branch, commit.0, REPO, opened, merged);
    }

    /// A PR opened at `opened` and merged at `merged` from `head` (`head_repo` for forks).
    fn merged_pr(
        &mut self,
        number: u64,
        head: &str,
        head_sha: &str,
        head_repo: &str,
        opened: &str,
        merged: &str,
    ) {
        for (action, at, merged_at) in [("opened", opened, None), ("closed", merged, Some(merged))]
        {
            let pr = json!({
                "number": number, "title": format!("Change {number}"), "body": null,
                "user": {"login": "alice", "type": "User"}, "draft": false,
                "created_at": opened, "updated_at": at, "closed_at": merged_at,
                "merged_at": merged_at, "merge_commit_sha": merged_at.map(|_| sha(&format!("m{number}"))),
                "head": {"ref": head, "sha": sha(head_sha), "repo": {"full_name": head_repo}},
                "base": {"ref": "main", "sha": sha("base")},
                "additions": 1, "deletions": 1, "labels": [],
                "html_url": format!("https://github.com/{REPO}/pull/{number}"),
            });
            self.github(
                "pull_request",
                json!({"action": action, "number": number, "pull_request": pr, "repository": repository()}),
            );
        }
    }
}

async fn run(label: &str, config: Option<&str>, history: &History) -> Store {
    let store = fresh_store(label).await;
    if let Some(yaml) = config {
        store.put_config(yaml).await.expect("config");
    }
    for delivery in &history.out {
        let (status, body) = deliver(&store, delivery).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let mut poller = None;
    drain(&store, &mut poller).await;
    store
}

async fn first_commits<const N: usize>(
    store: &Store,
    numbers: [u64; N],
) -> Vec<Option<DateTime<Utc>>> {
    let mut out = Vec::new();
    for number in numbers {
        out.push(pr(store, number).await.first_commit_at);
    }
    out
}

async fn pr(store: &Store, number: u64) -> PullRequest {
    let key = EntityKey::PullRequest {
        repo: REPO.into(),
        number,
    };
    match flowmeter_e2e::projection(store, &key).await {
        Some(Projection::PullRequest(pr)) => pr,
        other => panic!("PR {number}: {other:?}"),
    }
}

/// PR 1 (March) and PR 2 (June) from `fix-docs`, deleted after PR 1 merged and pushed anew:
/// PR 2's first commit is its own (June 1, 09:00), not PR 1's (March 1, 09:00).
#[tokio::test]
async fn two_prs_from_one_branch_name_months_apart_each_have_their_own_first_commit() {
    let mut h = History::new();
    h.push(
        "2026-03-01T10:00:00Z",
        "fix-docs",
        ZERO,
        &[("a1", "2026-03-01T09:00:00Z")],
    );
    h.push(
        "2026-03-02T10:00:00Z",
        "fix-docs",
        "a1",
        &[("a2", "2026-03-02T09:00:00Z")],
    );
    h.merged_pr(
        1,
        "fix-docs",
        "a2",
        REPO,
        "2026-03-01T11:00:00Z",
        "2026-03-03T10:00:00Z",
    );
    h.pr_from_new_branch(
        2,
        "fix-docs",
        ("b1", "2026-06-01T09:00:00Z"),
        (
            "2026-06-01T10:00:00Z",
            "2026-06-01T11:00:00Z",
            "2026-06-02T10:00:00Z",
        ),
    );
    let store = run("reused-branch", None, &h).await;
    assert_eq!(
        first_commits(&store, [1, 2]).await,
        [
            Some(t("2026-03-01T09:00:00Z")),
            Some(t("2026-06-01T09:00:00Z"))
        ]
    );
}

/// A sync branch that is never deleted: PR 1 was squash-merged at head a2 (so a1, a2 are not on
/// the default branch), PR 2 pushes c1 on top a week later, well within the read's 30 days.
/// PR 2's commits stop at PR 1's head: first commit March 10, 09:00, not March 1, 08:00.
/// Both PRs arrive in one batch, so neither rebuild finds the other's projection written:
/// the merged PR's link on the later one decides.
#[tokio::test]
async fn a_branch_reused_without_deletion_stops_at_the_earlier_prs_head() {
    let mut h = History::new();
    h.push(
        "2026-03-01T10:00:00Z",
        "repo_sync",
        ZERO,
        &[
            ("a1", "2026-03-01T08:00:00Z"),
            ("a2", "2026-03-01T09:00:00Z"),
        ],
    );
    h.merged_pr(
        1,
        "repo_sync",
        "a2",
        REPO,
        "2026-03-01T11:00:00Z",
        "2026-03-02T10:00:00Z",
    );
    h.push(
        "2026-03-10T10:00:00Z",
        "repo_sync",
        "a2",
        &[("c1", "2026-03-10T09:00:00Z")],
    );
    h.merged_pr(
        2,
        "repo_sync",
        "c1",
        REPO,
        "2026-03-10T11:00:00Z",
        "2026-03-11T10:00:00Z",
    );
    for reversed in [false, true] {
        let mut h = History { out: h.out.clone() };
        if reversed {
            h.out.reverse();
        }
        let store = run("sync-branch", None, &h).await;
        assert_eq!(
            pr(&store, 1).await.first_commit_at,
            Some(t("2026-03-01T08:00:00Z"))
        );
        assert_eq!(
            pr(&store, 2).await.first_commit_at,
            Some(t("2026-03-10T09:00:00Z")),
            "reversed: {reversed}"
        );
    }
}

/// `git merge main` into the head brings main's commits m1 (authored Feb 20) into a push of
/// the branch; they are main's (pushed there Feb 21), not the PR's: first commit March 10.
#[tokio::test]
async fn commits_merged_in_from_the_default_branch_are_not_the_prs() {
    let mut h = History::new();
    h.push(
        "2026-02-21T10:00:00Z",
        "main",
        "base",
        &[("m1", "2026-02-20T09:00:00Z")],
    );
    h.push(
        "2026-03-10T10:00:00Z",
        "feature",
        ZERO,
        &[("f1", "2026-03-10T09:00:00Z")],
    );
    h.push(
        "2026-03-11T10:00:00Z",
        "feature",
        "f1",
        &[
            ("m1", "2026-02-20T09:00:00Z"),
            ("mm", "2026-03-11T09:30:00Z"),
        ],
    );
    h.merged_pr(
        1,
        "feature",
        "mm",
        REPO,
        "2026-03-10T11:00:00Z",
        "2026-03-12T10:00:00Z",
    );
    let store = run("merged-main-in", None, &h).await;
    assert_eq!(
        pr(&store, 1).await.first_commit_at,
        Some(t("2026-03-10T09:00:00Z"))
    );
}

/// A fork PR from the fork's `main`: the base repository's own `main` pushes (a commit
/// authored Jan 1) are not its commits. It has no known first commit, and is marked a fork PR.
#[tokio::test]
async fn a_fork_pr_from_main_takes_no_commits_of_the_base_repositorys_main() {
    let mut h = History::new();
    h.push(
        "2026-01-01T10:00:00Z",
        "main",
        "base",
        &[("x1", "2026-01-01T09:00:00Z")],
    );
    h.merged_pr(
        1,
        "main",
        "forkhead",
        "someone/api",
        "2026-03-10T11:00:00Z",
        "2026-03-12T10:00:00Z",
    );
    let store = run("fork-pr", None, &h).await;
    let pr = pr(&store, 1).await;
    assert!(pr.from_fork);
    assert_eq!(pr.first_commit_at, None);
}

async fn deployments(store: &Store) -> Vec<Deployment> {
    let mut out = Vec::new();
    for item in store.scan_all().await.expect("scan") {
        let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()) else {
            continue;
        };
        if !pk.starts_with("DEP#") {
            continue;
        }
        let key = EntityKey::from_partition_key(pk).expect("entity");
        if let Some(Projection::Deployment(d)) = flowmeter_e2e::projection(store, &key).await {
            if !out.iter().any(|o: &Deployment| o.id == d.id) {
                out.push(d);
            }
        }
    }
    out
}

/// An Actions job with `environment: production` in a workflow that `deploy_workflows` also
/// matches: GitHub sends a Deployment (naming the run) and the completed workflow run. One
/// deployment happened, so one counts (the GitHub Deployment), whichever arrives first.
#[tokio::test]
async fn an_actions_deployment_that_is_also_a_deploy_workflow_counts_once() {
    for reversed in [false, true] {
        let mut h = History::new();
        let workflow_run = json!({"id": 555, "name": "deploy", "head_sha": sha("d1"), "head_branch": "main",
                         "conclusion": "success", "status": "completed", "run_attempt": 1,
                         "created_at": "2026-03-10T10:00:00Z", "updated_at": "2026-03-10T10:05:00Z",
                         "run_started_at": "2026-03-10T10:00:00Z", "actor": {"login": "alice"}});
        let deployment = json!({"id": 77, "sha": sha("d1"), "ref": "main", "environment": "production",
                                "creator": {"login": "alice"}, "created_at": "2026-03-10T10:01:00Z",
                                "updated_at": "2026-03-10T10:01:00Z"});
        h.github(
            "deployment",
            json!({"action": "created", "deployment": deployment,
                                      "workflow_run": {"id": 555}, "repository": repository()}),
        );
        h.github("deployment_status", json!({"action": "created", "deployment": deployment,
            "deployment_status": {"id": 770, "state": "success", "environment": "production",
                                  "created_at": "2026-03-10T10:04:00Z", "updated_at": "2026-03-10T10:04:00Z"},
            "workflow_run": {"id": 555}, "repository": repository()}));
        h.github("workflow_run", json!({"action": "completed", "workflow_run": workflow_run,
                                        "workflow": {"name": "deploy"}, "repository": repository()}));
        if reversed {
            h.out.reverse();
        }
        let store = run(
            "deploy-once",
            Some("org: acme\ndeploy_workflows: [deploy]\n"),
            &h,
        )
        .await;
        let counted: Vec<String> = deployments(&store)
            .await
            .into_iter()
            .filter(|d| d.is_production_attempt())
            .map(|d| d.id)
            .collect();
        assert_eq!(counted, ["gh:77"], "reversed: {reversed}");
    }
}

/// The HMAC covers the body, not `X-GitHub-Delivery`: the same signed review and comment
/// posted again under new delivery ids write nothing, so the PR keeps 1 review comment + 1
/// conversation comment = 2 comments.
#[tokio::test]
async fn a_signed_body_replayed_under_a_new_delivery_id_writes_nothing() {
    let mut h = History::new();
    h.pr_from_new_branch(1, "feature", ("f1", "2026-03-10T09:00:00Z"), MARCH_10_TO_12);
    let review = json!({"action": "submitted", "repository": repository(),
        "review": {"id": 9001, "user": {"login": "bob", "type": "User"}, "state": "commented",
                   "submitted_at": "2026-03-11T10:00:00Z", "body": "one question"},
        "pull_request": {"number": 1, "user": {"login": "alice", "type": "User"}}});
    let comment = json!({"action": "created", "repository": repository(),
        "issue": {"number": 1, "user": {"login": "alice", "type": "User"}, "pull_request": {"url": "x"}},
        "comment": {"id": 4242, "user": {"login": "carol", "type": "User"}, "created_at": "2026-03-11T11:00:00Z"}});
    h.github("pull_request_review", review.clone());
    h.github("issue_comment", comment.clone());
    let store = run("replay", None, &h).await;
    assert_eq!(pr(&store, 1).await.comments, 2);
    let before = table_snapshot(&store).await;
    for (n, (event, body)) in [
        ("pull_request_review", &review),
        ("issue_comment", &comment),
    ]
    .into_iter()
    .enumerate()
    {
        let replay = Delivery::github(
            GITHUB_SECRET,
            event,
            &format!("attacker-{n}"),
            serde_json::to_vec(body).expect("json"),
        );
        let (status, answer) = deliver(&store, &replay).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(answer["facts_written"], 0, "{event}: {answer}");
    }
    assert_eq!(
        table_snapshot(&store).await,
        before,
        "the replay changed the table"
    );
}

/// A head ref of 3,000 bytes (GitHub caps refs far below; a hostile or broken sender does
/// not): the PR derives, keyed by the branch's hash, and the stream goes on.
#[tokio::test]
async fn a_pr_with_a_very_long_head_ref_derives_and_the_stream_goes_on() {
    let long = "x".repeat(3_000);
    let mut h = History::new();
    h.pr_from_new_branch(1, &long, ("f1", "2026-03-10T09:00:00Z"), MARCH_10_TO_12);
    h.pr_from_new_branch(2, "short", ("g1", "2026-03-10T08:00:00Z"), MARCH_10_TO_12);
    let store = run("long-ref", None, &h).await;
    assert_eq!(
        first_commits(&store, [1, 2]).await,
        [
            Some(t("2026-03-10T09:00:00Z")),
            Some(t("2026-03-10T08:00:00Z"))
        ]
    );
}

/// A record no retry can derive (a stored fact whose body does not decode, as an older or
/// broken writer could leave) is parked with its reason; the rest of its batch derives, and
/// later deliveries derive too.
#[tokio::test]
async fn a_poison_record_is_parked_and_never_stalls_the_stream() {
    let store = fresh_store("poison").await;
    let poison_pk = format!("PR#{REPO}#666");
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S(poison_pk.clone()))
        .item(
            "sk",
            AttributeValue::S("FACT#2026-03-10T10:00:00.000Z#bad#0".into()),
        )
        .item("fact", AttributeValue::S("not a fact".into()))
        .send()
        .await
        .expect("put poison");
    let mut h = History::new();
    h.pr_from_new_branch(1, "feature", ("f1", "2026-03-10T09:00:00Z"), MARCH_10_TO_12);
    for delivery in &h.out {
        let (status, _) = deliver(&store, delivery).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let mut poller = None;
    drain(&store, &mut poller).await;
    assert_eq!(
        pr(&store, 1).await.first_commit_at,
        Some(t("2026-03-10T09:00:00Z"))
    );
    let parked = store
        .client()
        .get_item()
        .table_name(store.table())
        .key(
            "pk",
            AttributeValue::S(format!("{PARKED_PREFIX}{poison_pk}")),
        )
        .key("sk", AttributeValue::S(PARKED_SK.into()))
        .send()
        .await
        .expect("read parked");
    let item = parked.item().expect("the poison entity is parked");
    let reason = item
        .get("error")
        .and_then(|v| v.as_s().ok())
        .expect("a reason");
    assert!(reason.contains("serialization"), "{reason}");

    // The stream is not stuck behind it: a later delivery derives.
    let mut later = History::new();
    later.push(
        "2026-03-20T10:00:00Z",
        "next",
        ZERO,
        &[("n1", "2026-03-20T09:00:00Z")],
    );
    later.merged_pr(
        2,
        "next",
        "n1",
        REPO,
        "2026-03-20T11:00:00Z",
        "2026-03-21T10:00:00Z",
    );
    for delivery in &later.out {
        deliver(&store, delivery).await;
    }
    drain(&store, &mut poller).await;
    assert_eq!(
        pr(&store, 2).await.first_commit_at,
        Some(t("2026-03-20T09:00:00Z"))
    );

    // Reprocess goes past it too, and says so.
    let config = flowmeter::config::OrgConfig::default();
    let report = flowmeter_edge::reprocess::reprocess(&store, config)
        .await
        .expect("reprocess finishes");
    assert_eq!(
        report
            .parked
            .iter()
            .map(|p| p.entity.as_str())
            .collect::<Vec<_>>(),
        [poison_pk.as_str()]
    );
}

/// A deployment shipping thousands of PRs makes a `ships` link over DynamoDB's 400 KB item
/// limit: the store reports it as an error no retry cures, which is what makes the pipeline
/// park that deployment instead of failing its batch for good.
#[tokio::test]
async fn a_link_too_large_for_an_item_is_a_permanent_error() {
    use flowmeter::model::{Fact, FactBody, ShippedPr};
    let store = fresh_store("huge-link").await;
    let deployment = EntityKey::Deployment {
        repo: REPO.into(),
        id: "gh:1".into(),
    };
    let prs = (1..=8_000)
        .map(|number| ShippedPr {
            pr: EntityKey::PullRequest {
                repo: REPO.into(),
                number,
            },
            rework: false,
        })
        .collect();
    let link = Fact {
        entity: deployment,
        id: "ships".into(),
        at: t("2026-03-10T10:00:00Z"),
        body: FactBody::ShipsPrs { prs },
    };
    let err = store.put_derived(&link).await.expect_err("too large");
    assert!(err.is_permanent(), "{err}");
    // A store that cannot be reached is not permanent: the batch is retried.
    let unreachable = Store::new(
        flowmeter_edge::settings::dynamodb_client_at(Some("http://127.0.0.1:9")).await,
        store.table().to_string(),
    );
    let small = Fact {
        body: FactBody::ShipsPrs { prs: Vec::new() },
        ..link
    };
    let err = unreachable.put_derived(&small).await.expect_err("no store");
    assert!(!err.is_permanent(), "{err}");
}
