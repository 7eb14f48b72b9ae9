//! The emulation over real HTTP: a small hand-built history (`shop`), served, requested with
//! reqwest.

mod app;
mod resources;
mod serving;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::{GitHubApi, Limits, RestHistory};
use crate::payload::github::{self as kit, ZERO_SHA};

pub(super) const REPO: &str = "acme/shop";

/// 2026-03-02T09:00:00Z plus `minutes`.
pub(super) fn t(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
        + Duration::minutes(minutes)
}

pub(super) fn ts(minutes: i64) -> String {
    crate::payload::ts(t(minutes))
}

/// A 40-digit sha made from a short name (`a1` → `a1a1…`).
pub(super) fn sha(name: &str) -> String {
    name.repeat(40).chars().take(40).collect()
}

fn user(login: &str) -> Value {
    json!({"login": login, "id": crate::github_api::shapes::stable_id(login), "type": "User"})
}

fn repository() -> Value {
    json!({"id": 4242, "name": "shop", "full_name": REPO, "private": true,
           "owner": {"login": "acme", "id": 77, "type": "Organization"},
           "html_url": "https://github.com/acme/shop", "default_branch": "main"})
}

/// A push of commits `(name, authored minute)` to `branch` at minute `at`.
fn push(branch: &str, before: &str, commits: &[(&str, i64)], at: i64, pusher: &str) -> Value {
    let commits: Vec<Value> = commits
        .iter()
        .map(|(name, authored)| {
            json!({"id": sha(name), "message": format!("commit {name}"),
                   "timestamp": ts(*authored),
                   "author": {"name": pusher, "email": format!("{pusher}@example.com"),
                              "username": pusher},
                   "committer": {"name": pusher, "email": format!("{pusher}@example.com"),
                                 "username": pusher}})
        })
        .collect();
    let mut repo = repository();
    repo["pushed_at"] = json!(t(at).timestamp());
    json!({"ref": format!("refs/heads/{branch}"), "before": before,
           "after": commits.last().map_or(json!(ZERO_SHA), |c| c["id"].clone()),
           "commits": commits, "repository": repo, "sender": user(pusher),
           "deleted": false, "forced": false})
}

/// Pull request #7 (`feat`, by alice) as it stands at minute `at`.
fn pr7(at: i64, head: &str, draft: bool, merged: bool) -> Value {
    json!({"url": "https://api.github.com/repos/acme/shop/pulls/7", "id": 700_007,
           "number": 7, "title": "Add the cart", "user": user("alice"), "body": "Cart.",
           "state": if merged { "closed" } else { "open" }, "draft": draft,
           "labels": [{"name": "feature", "color": "a2eeef"}],
           "created_at": ts(61), "updated_at": ts(at),
           "closed_at": if merged { json!(ts(at)) } else { Value::Null },
           "merged_at": if merged { json!(ts(at)) } else { Value::Null },
           "merge_commit_sha": if merged { json!(sha("c7")) } else { Value::Null },
           "merged": merged, "merged_by": if merged { user("bob") } else { Value::Null },
           "head": {"ref": "feat", "sha": sha(head), "label": "acme:feat"},
           "base": {"ref": "main", "sha": sha("m0"), "label": "acme:main"},
           "author_association": "MEMBER", "additions": 10, "deletions": 2,
           "changed_files": 1, "commits": 3})
}

fn pr_event(action: &str, pr: Value, sender: &str) -> Value {
    json!({"action": action, "number": pr["number"], "pull_request": pr,
           "repository": repository(), "sender": user(sender)})
}

fn review(action: &str, id: u64, reviewer: &str, state: &str, at: i64) -> Value {
    let review = json!({"id": id, "user": user(reviewer), "state": state, "body": "Looks at it",
                        "submitted_at": ts(at), "commit_id": sha("a2")});
    json!({"action": action, "review": review, "repository": repository(),
           "pull_request": {"number": 7, "updated_at": ts(at), "head": {"ref": "feat"}},
           "sender": user(reviewer)})
}

/// Every delivery of the shop's history, in delivery order.
pub(super) fn deliveries() -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&'static str, Value)> = vec![
        ("push", push("main", ZERO_SHA, &[("m0", -5)], 0, "alice")),
        (
            "push",
            push("feat", ZERO_SHA, &[("a1", 50), ("a2", 55)], 60, "alice"),
        ),
        (
            "pull_request",
            pr_event("opened", pr7(61, "a2", true, false), "alice"),
        ),
        (
            "pull_request",
            pr_event("ready_for_review", pr7(120, "a2", false, false), "alice"),
        ),
        (
            "pull_request_review",
            review("submitted", 501, "bob", "changes_requested", 180),
        ),
        (
            "pull_request_review_comment",
            json!({"action": "created", "repository": repository(),
                   "comment": {"id": 601, "user": user("bob"), "body": "Rename this",
                               "path": "src/cart.rs", "line": 12, "created_at": ts(181),
                               "updated_at": ts(181)},
                   "pull_request": {"number": 7, "updated_at": ts(181)}}),
        ),
        (
            "issue_comment",
            json!({"action": "created", "repository": repository(),
                   "issue": {"number": 7, "pull_request": {"url": "x"}},
                   "comment": {"id": 701, "user": user("carol"), "body": "Nice",
                               "created_at": ts(150), "updated_at": ts(150)}}),
        ),
        (
            "push",
            push("feat", &sha("a2"), &[("a3", 235)], 240, "alice"),
        ),
        (
            "pull_request",
            pr_event("synchronize", pr7(240, "a3", false, false), "alice"),
        ),
        (
            "push",
            push("main", &sha("m0"), &[("m1", 265)], 270, "dave"),
        ),
        (
            "pull_request_review",
            review("submitted", 502, "bob", "approved", 300),
        ),
        (
            "pull_request",
            pr_event("closed", pr7(360, "a3", false, true), "bob"),
        ),
        ("push", push("main", &sha("m1"), &[("c7", 360)], 361, "bob")),
        (
            "pull_request_review",
            review("dismissed", 501, "bob", "dismissed", 390),
        ),
    ];
    out.extend(deployments());
    out.extend(runs());
    out.extend(issues());
    out.extend(bulk_pull_requests());
    out
}

fn deployments() -> Vec<(&'static str, Value)> {
    let deployment = |id: u64, env: &str, at: i64| {
        json!({"id": id, "sha": sha("c7"), "ref": "main", "environment": env,
               "creator": user("github-actions[bot]"), "created_at": ts(at), "updated_at": ts(at)})
    };
    let status = |id: u64, state: &str, at: i64| {
        json!({"id": id, "state": state, "created_at": ts(at), "updated_at": ts(at),
               "creator": user("github-actions[bot]")})
    };
    vec![
        (
            "deployment",
            json!({"action": "created", "deployment": deployment(900, "production", 420),
                   "repository": repository()}),
        ),
        (
            "deployment_status",
            json!({"action": "created", "deployment": deployment(900, "production", 420),
                   "deployment_status": status(9001, "in_progress", 421),
                   "repository": repository()}),
        ),
        (
            "deployment_status",
            json!({"action": "created", "deployment": deployment(900, "production", 420),
                   "deployment_status": status(9002, "success", 430),
                   "repository": repository()}),
        ),
        // Seen only inside a status delivery.
        (
            "deployment_status",
            json!({"action": "created", "deployment": deployment(901, "staging", 480),
                   "deployment_status": status(9011, "failure", 485),
                   "repository": repository()}),
        ),
    ]
}

fn runs() -> Vec<(&'static str, Value)> {
    let run = |id: u64, attempt: u64, conclusion: &str, created: i64, updated: i64| {
        json!({"action": "completed", "repository": repository(),
               "workflow_run": {"id": id, "run_attempt": attempt, "name": "CI",
                                "head_branch": "main", "head_sha": sha("c7"), "event": "push",
                                "status": "completed", "conclusion": conclusion,
                                "created_at": ts(created), "updated_at": ts(updated),
                                "actor": user("bob")}})
    };
    vec![
        ("workflow_run", run(1000, 1, "failure", 362, 370)),
        ("workflow_run", run(1000, 2, "success", 362, 400)),
        // A day earlier than the others.
        ("workflow_run", run(999, 1, "success", -1440, -1430)),
    ]
}

fn issues() -> Vec<(&'static str, Value)> {
    let issue = |state: &str, at: i64| {
        json!({"number": 8, "title": "Checkout down", "user": user("carol"), "state": state,
               "labels": [{"name": "incident", "color": "e11d21"}, {"name": "sev2", "color": "fff"}],
               "created_at": ts(540), "updated_at": ts(at),
               "closed_at": if state == "closed" { json!(ts(at)) } else { Value::Null }})
    };
    vec![
        (
            "issues",
            json!({"action": "opened", "issue": issue("open", 540), "repository": repository(),
                   "sender": user("carol")}),
        ),
        (
            "issues",
            json!({"action": "closed", "issue": issue("closed", 600), "repository": repository(),
                   "sender": user("carol")}),
        ),
    ]
}

/// Pull requests #100–#164, opened an hour apart from the second day on, with the kit's
/// smallest payloads (no ids, no URLs).
pub(super) const BULK: u64 = 65;

fn bulk_pull_requests() -> Vec<(&'static str, Value)> {
    (0..BULK)
        .map(|i| {
            let head = sha(&format!("b{i:02}"));
            let pr = kit::PullRequest {
                repo: REPO,
                number: 100 + i,
                title: "Bump",
                body: None,
                author: "dependabot[bot]",
                created: t(1440 + 60 * i as i64),
                closed: None,
                head: ("bump", &head),
                base_sha: "",
                additions: 1,
                deletions: 1,
            };
            ("pull_request", pr.event("opened", t(1440 + 60 * i as i64)))
        })
        .collect()
}

pub(super) fn history() -> RestHistory {
    let deliveries = deliveries();
    RestHistory::from_webhooks(deliveries.iter().map(|(e, b)| (*e, b)))
}

pub(super) async fn serve(limits: Limits) -> GitHubApi {
    GitHubApi::start(history(), limits)
        .await
        .expect("start the emulation")
}

/// An answer, read whole.
pub(super) struct Got {
    pub(super) status: u16,
    pub(super) headers: reqwest::header::HeaderMap,
    pub(super) body: Value,
    pub(super) raw: Vec<u8>,
}

impl Got {
    pub(super) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub(super) fn number(&self, name: &str) -> u64 {
        self.header(name).parse().expect(name)
    }

    /// The URL the `Link` header gives for `rel`.
    pub(super) fn link(&self, rel: &str) -> Option<String> {
        self.header("link").split(", ").find_map(|part| {
            let (url, r) = part.split_once("; ")?;
            (r == format!("rel=\"{rel}\"")).then(|| url.trim_matches(['<', '>']).to_string())
        })
    }

    pub(super) fn items(&self) -> &Vec<Value> {
        self.body.as_array().expect("a list")
    }
}

/// GET `url` (absolute, or a path on `api`) with the test token and `headers`.
pub(super) async fn get_with(api: &GitHubApi, url: &str, headers: &[(&str, &str)]) -> Got {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", api.url)
    };
    let mut request = reqwest::Client::new().get(url);
    let mut authorized = false;
    for (name, value) in headers {
        authorized |= name.eq_ignore_ascii_case("authorization");
        request = request.header(*name, *value);
    }
    if !authorized {
        request = request.header("authorization", "Bearer test-token");
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("body").to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Got {
        status,
        headers,
        body,
        raw,
    }
}

pub(super) async fn get(api: &GitHubApi, url: &str) -> Got {
    get_with(api, url, &[]).await
}

/// Every item of a list, following `rel="next"` from `url`.
pub(super) async fn walk(api: &GitHubApi, url: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut next = Some(url.to_string());
    while let Some(url) = next {
        let got = get(api, &url).await;
        assert_eq!(got.status, 200, "{url}: {}", got.body);
        items.extend(got.items().iter().cloned());
        pages += 1;
        next = got.link("next");
    }
    (items, pages)
}

pub(super) fn shas(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|c| c["sha"].as_str().expect("sha").to_string())
        .collect()
}
