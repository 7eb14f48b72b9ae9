//! What the emulation serves of the shop's history: commits rebuilt from pushes, pull requests
//! and their reviews, comments and events, deployments, workflow runs, issues, and GitHub's
//! fields on every object.

use serde_json::{json, Value};

use super::{get, history, serve, sha, shas, ts, walk, BULK};
use crate::github_api::{Limits, RestHistory};

#[test]
fn the_fold_counts_what_the_deliveries_describe() {
    let history = history();
    assert_eq!(history.repositories(), vec!["acme/shop".to_string()]);
    assert_eq!(history.pull_request_count(), 1 + BULK as usize);
    assert_eq!(history.commit_count(), 6);
    assert_eq!(history.review_count(), 2);
    assert_eq!(history.deployment_count(), 2);
    assert_eq!(history.workflow_run_count(), 2);
    assert_eq!(history.issue_count(), 1);
    assert_eq!(
        history.branch_head("ACME/shop", "main"),
        Some(sha("c7").as_str())
    );
    assert_eq!(
        history.branch_head("acme/shop", "feat"),
        Some(sha("a3").as_str())
    );
}

#[test]
fn the_latest_pull_request_wins_by_updated_at_then_delivery_order() {
    let at = |title: &str, updated: i64| {
        json!({"action": "edited", "number": 1, "repository": {"full_name": "o/r"},
               "pull_request": {"number": 1, "title": title, "updated_at": ts(updated),
                                "head": {"ref": "x", "sha": sha("1")}}})
    };
    let deliveries = [
        at("first", 10),
        at("tie, later", 10),
        at("older, delivered last", 5),
    ];
    let history = RestHistory::from_webhooks(deliveries.iter().map(|b| ("pull_request", b)));
    let pr = history.pull_request("o/r", 1).expect("pr");
    assert_eq!(pr["title"], json!("tie, later"));
}

#[tokio::test]
async fn commits_are_rebuilt_from_pushes_with_parents_and_push_times() {
    let api = serve(Limits::default()).await;
    let main = get(&api, "/repos/acme/shop/commits?sha=main&per_page=100").await;
    assert_eq!(
        shas(main.items()),
        ["c7", "m1", "a3", "a2", "a1", "m0"].map(sha)
    );
    // No `sha`: the default branch.
    let default = get(&api, "/repos/acme/shop/commits").await;
    assert_eq!(default.body, main.body);
    let by_sha = |sha_: &str| {
        main.items()
            .iter()
            .find(|c| c["sha"] == json!(sha(sha_)))
            .cloned()
            .expect("commit")
    };
    let parents = |c: &Value| shas(c["parents"].as_array().expect("parents"));
    // The merge commit's second parent is the merged PR's head.
    assert_eq!(parents(&by_sha("c7")), [sha("m1"), sha("a3")]);
    // A branch created from main starts at main's head of that moment.
    assert_eq!(parents(&by_sha("a1")), [sha("m0")]);
    assert_eq!(parents(&by_sha("a2")), [sha("a1")]);
    assert_eq!(parents(&by_sha("m0")), Vec::<String>::new());
    let a1 = by_sha("a1");
    assert_eq!(a1["commit"]["author"]["date"], json!(ts(50)));
    assert_eq!(a1["commit"]["committer"]["date"], json!(ts(60)));
    assert_eq!(a1["commit"]["message"], json!("commit a1"));
    assert_eq!(a1["author"]["login"], json!("alice"));
    assert_eq!(a1["commit"]["author"]["email"], json!("alice@example.com"));
    assert_eq!(
        a1["parents"][0]["url"],
        json!(format!(
            "https://api.github.com/repos/acme/shop/commits/{}",
            sha("m0")
        ))
    );

    // since filters on the committer date.
    let since = get(
        &api,
        &format!("/repos/acme/shop/commits?sha=main&since={}", ts(240)),
    )
    .await;
    assert_eq!(shas(since.items()), ["c7", "m1", "a3"].map(sha));
    let feat = get(&api, "/repos/acme/shop/commits?sha=feat").await;
    assert_eq!(shas(feat.items()), ["a3", "a2", "a1", "m0"].map(sha));
    let from_sha = get(&api, &format!("/repos/acme/shop/commits?sha={}", sha("a2"))).await;
    assert_eq!(shas(from_sha.items()), ["a2", "a1", "m0"].map(sha));
    let (paged, pages) = walk(&api, "/repos/acme/shop/commits?per_page=4").await;
    assert_eq!((paged.len(), pages), (6, 2));
}

#[tokio::test]
async fn a_pull_requests_commits_stop_at_the_first_commit_not_on_its_branch() {
    let api = serve(Limits::default()).await;
    let commits = get(&api, "/repos/acme/shop/pulls/7/commits").await;
    assert_eq!(shas(commits.items()), ["a1", "a2", "a3"].map(sha));
    assert_eq!(commits.items()[0]["parents"][0]["sha"], json!(sha("m0")));
    assert_eq!(
        api.history().pull_request_commits("acme/shop", 7),
        Some(["a1", "a2", "a3"].map(sha).as_slice())
    );
    // A PR whose head was never pushed has no commits.
    let bulk = get(&api, "/repos/acme/shop/pulls/100/commits").await;
    assert_eq!(bulk.items().len(), 0);
}

#[tokio::test]
async fn pull_requests_reviews_comments_and_events() {
    let api = serve(Limits::default()).await;
    let pr = get(&api, "/repos/acme/shop/pulls/7").await.body;
    assert_eq!(
        (
            &pr["state"],
            &pr["merged"],
            &pr["head"]["sha"],
            &pr["merged_by"]["login"]
        ),
        (
            &json!("closed"),
            &json!(true),
            &json!(sha("a3")),
            &json!("bob")
        )
    );
    assert_eq!(
        (&pr["comments"], &pr["review_comments"]),
        (&json!(1), &json!(1))
    );

    let reviews = get(&api, "/repos/acme/shop/pulls/7/reviews").await;
    let states: Vec<(u64, &str)> = reviews
        .items()
        .iter()
        .map(|r| {
            (
                r["id"].as_u64().unwrap_or_default(),
                r["state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(states, [(501, "DISMISSED"), (502, "APPROVED")]);
    assert_eq!(reviews.items()[1]["submitted_at"], json!(ts(300)));
    assert_eq!(
        reviews.items()[1]["pull_request_url"],
        json!("https://api.github.com/repos/acme/shop/pulls/7")
    );

    let comments = get(&api, "/repos/acme/shop/pulls/7/comments").await;
    assert_eq!(comments.items()[0]["id"], json!(601));
    assert_eq!(comments.items()[0]["user"]["login"], json!("bob"));
    let conversation = get(&api, "/repos/acme/shop/issues/7/comments").await;
    assert_eq!(conversation.items()[0]["id"], json!(701));
    assert_eq!(
        conversation.items()[0]["issue_url"],
        json!("https://api.github.com/repos/acme/shop/issues/7")
    );

    let events = get(&api, "/repos/acme/shop/issues/7/events").await;
    let summary: Vec<(&str, &str, &str)> = events
        .items()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default(),
                e["created_at"].as_str().unwrap_or_default(),
                e["actor"]["login"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let (ready, merged) = (ts(120), ts(360));
    assert_eq!(
        summary,
        [
            ("ready_for_review", ready.as_str(), "alice"),
            ("merged", merged.as_str(), "bob"),
            ("closed", merged.as_str(), "bob")
        ]
    );
    assert_eq!(events.items()[1]["commit_id"], json!(sha("c7")));
    assert_eq!(events.items()[0]["commit_id"], Value::Null);
    let issue_events = get(&api, "/repos/acme/shop/issues/8/events").await;
    assert_eq!(issue_events.items()[0]["event"], json!("closed"));
}

#[tokio::test]
async fn deployments_statuses_runs_and_issues() {
    let api = serve(Limits::default()).await;
    let ids =
        |items: &[Value]| -> Vec<u64> { items.iter().filter_map(|i| i["id"].as_u64()).collect() };
    let deployments = get(&api, "/repos/acme/shop/deployments").await;
    assert_eq!(ids(deployments.items()), [901, 900]);
    let production = get(&api, "/repos/acme/shop/deployments?environment=production").await;
    assert_eq!(ids(production.items()), [900]);
    let statuses = get(&api, "/repos/acme/shop/deployments/900/statuses").await;
    assert_eq!(ids(statuses.items()), [9002, 9001]);
    assert_eq!(statuses.items()[0]["state"], json!("success"));
    let only_status = get(&api, "/repos/acme/shop/deployments/901/statuses").await;
    assert_eq!(ids(only_status.items()), [9011]);

    let runs = get(&api, "/repos/acme/shop/actions/runs").await.body;
    assert_eq!(runs["total_count"], json!(2));
    let latest = &runs["workflow_runs"][0];
    assert_eq!(
        (&latest["id"], &latest["run_attempt"]),
        (&json!(1000), &json!(2))
    );
    assert_eq!(latest["conclusion"], json!("success"));
    for query in [
        "created=>=2026-03-02",
        "created=%3E%3D2026-03-02",
        "status=completed&created=2026-03-02",
    ] {
        let got = get(&api, &format!("/repos/acme/shop/actions/runs?{query}"))
            .await
            .body;
        assert_eq!(got["total_count"], json!(1), "{query}");
    }
    let failed = get(&api, "/repos/acme/shop/actions/runs?status=failure")
        .await
        .body;
    assert_eq!(failed["total_count"], json!(0));
    let paged = get(&api, "/repos/acme/shop/actions/runs?per_page=1&page=2").await;
    assert_eq!(paged.body["total_count"], json!(2));
    assert_eq!(paged.body["workflow_runs"][0]["id"], json!(999));
    assert!(paged.link("prev").is_some());

    let numbers = |items: &[Value]| -> Vec<u64> {
        items.iter().filter_map(|i| i["number"].as_u64()).collect()
    };
    let incidents = get(
        &api,
        "/repos/acme/shop/issues?labels=incident,SEV2&state=all",
    )
    .await;
    assert_eq!(numbers(incidents.items()), [8]);
    assert!(incidents.items()[0].get("pull_request").is_none());
    let open_incidents = get(&api, "/repos/acme/shop/issues?labels=incident").await;
    assert_eq!(open_incidents.items().len(), 0);
    let features = get(&api, "/repos/acme/shop/issues?labels=feature&state=all").await;
    assert_eq!(numbers(features.items()), [7]);
    assert_eq!(
        features.items()[0]["pull_request"]["merged_at"],
        json!(ts(360))
    );
    let since = |at: i64| {
        format!(
            "/repos/acme/shop/issues?labels=incident&state=all&since={}",
            ts(at)
        )
    };
    assert_eq!(get(&api, &since(600)).await.items().len(), 1);
    assert_eq!(get(&api, &since(601)).await.items().len(), 0);
    let (open, _) = walk(&api, "/repos/acme/shop/issues?per_page=50").await;
    assert_eq!(open.len(), BULK as usize);

    let repo = get(&api, "/repos/acme/shop").await.body;
    assert_eq!(repo["default_branch"], json!("main"));
    assert_eq!(repo["pushed_at"], json!(ts(361)));
    assert_eq!(repo["open_issues_count"], json!(BULK));
    assert_eq!(repo["owner"]["login"], json!("acme"));
}

/// The fields of GitHub's example `fixture` (recursively, through objects and the first item
/// of lists) that `served` lacks; `except` are paths left out (`head.repo.template_repository`).
fn missing(fixture: &Value, served: &Value, path: &str, except: &[&str], out: &mut Vec<String>) {
    match (fixture, served) {
        (Value::Object(f), Value::Object(s)) => {
            for (key, value) in f {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if except.contains(&at.as_str()) {
                    continue;
                }
                match s.get(key) {
                    None => out.push(at),
                    Some(v) => missing(value, v, &at, except, out),
                }
            }
        }
        (Value::Array(f), Value::Array(s)) => {
            if let (Some(f), Some(s)) = (f.first(), s.first()) {
                // A top-level list's items are named as the objects they are.
                let at = if path.is_empty() {
                    String::new()
                } else {
                    format!("{path}[0]")
                };
                missing(f, s, &at, except, out);
            }
        }
        _ => {}
    }
}

/// GitHub's example responses (`tests/fixtures/github-rest/<name>.json`), by name.
macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../../../../tests/fixtures/github-rest/", $name, ".json")))),*]
    };
}

const FIXTURES: [(&str, &str); 13] = fixtures!(
    "full-repository-default-response",
    "full-repository",
    "pull-request",
    "pull-request-simple-items",
    "commit-items",
    "pull-request-review-items",
    "pull-request-review-comment-items",
    "issue-comment-items",
    "issue-event-for-issue-items",
    "deployment-items",
    "deployment-status-items",
    "workflow-run-paginated",
    "issue-items",
);

#[tokio::test]
async fn served_objects_carry_every_field_of_githubs_examples() {
    let api = serve(Limits::default()).await;
    // Fields only forks, repositories made from templates, replies, a labeled event or an
    // organization's repository have; a deployment's free-form payload.
    let except = [
        "parent",
        "source",
        "template_repository",
        "base.repo.template_repository",
        "head.repo.template_repository",
        "in_reply_to_id",
        "label",
        "payload",
        "organization",
    ];
    // (example, what is served where GitHub would serve it); lists compare their first items.
    let cases = [
        ("full-repository-default-response", "/repos/acme/shop"),
        ("full-repository", "/repos/acme/shop"),
        ("pull-request", "/repos/acme/shop/pulls/7"),
        // from the kit's smallest payload
        ("pull-request", "/repos/acme/shop/pulls/100"),
        (
            "pull-request-simple-items",
            "/repos/acme/shop/pulls?state=closed",
        ),
        ("commit-items", "/repos/acme/shop/commits"),
        (
            "pull-request-review-items",
            "/repos/acme/shop/pulls/7/reviews",
        ),
        (
            "pull-request-review-comment-items",
            "/repos/acme/shop/pulls/7/comments",
        ),
        ("issue-comment-items", "/repos/acme/shop/issues/7/comments"),
        (
            "issue-event-for-issue-items",
            "/repos/acme/shop/issues/7/events",
        ),
        ("deployment-items", "/repos/acme/shop/deployments"),
        (
            "deployment-status-items",
            "/repos/acme/shop/deployments/900/statuses",
        ),
        ("workflow-run-paginated", "/repos/acme/shop/actions/runs"),
        (
            "issue-items",
            "/repos/acme/shop/issues?labels=incident&state=all",
        ),
        (
            "issue-items",
            "/repos/acme/shop/issues?labels=feature&state=all",
        ),
    ];
    let mut problems = Vec::new();
    for (name, path) in cases {
        let (_, text) = FIXTURES.iter().find(|(n, _)| *n == name).expect(name);
        let fixture: Value = serde_json::from_str(text).expect(name);
        let served = get(&api, path).await.body;
        assert!(!served.as_array().is_some_and(Vec::is_empty), "{path}");
        let mut out = Vec::new();
        missing(&fixture, &served, "", &except, &mut out);
        // Issues that are not pull requests have no `pull_request`.
        out.retain(|p| !(path.contains("incident") && p.starts_with("pull_request")));
        if !out.is_empty() {
            problems.push(format!("{name} at {path}: {out:?}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // The list's items are "pull-request-simple": none of the full object's extra fields.
    let simple = get(&api, "/repos/acme/shop/pulls?state=all").await;
    for key in crate::github_api::objects::NOT_IN_SIMPLE {
        assert!(simple.items()[0].get(*key).is_none(), "{key}");
    }
}
