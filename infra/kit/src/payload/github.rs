//! GitHub webhook bodies: push, pull_request, pull_request_review, issue_comment,
//! pull_request_review_comment, deployment and deployment_status.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ts;

/// The sha GitHub writes for "no commit" (`before` of a push that creates a branch).
pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// `{"login", "type"}`; logins ending `[bot]` are bots.
pub fn user(login: &str) -> Value {
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({"login": login, "type": kind})
}

/// The repository `owner/name`, default branch `main`.
pub fn repository(full_name: &str) -> Value {
    let (owner, name) = full_name.split_once('/').unwrap_or_default();
    json!({"full_name": full_name, "default_branch": "main", "name": name,
           "owner": {"login": owner}})
}

/// True for a push's `before` that creates the branch (all zeros).
pub fn creates_branch(before: &str) -> bool {
    before.chars().all(|c| c == '0')
}

/// One commit of a push: `{"id", "timestamp", "author": {"username"}}`.
pub fn commit(id: &str, authored: DateTime<Utc>, username: &str) -> Value {
    json!({"id": id, "timestamp": ts(authored), "author": {"username": username}})
}

/// A push of `commits` (oldest first, as [`commit`] builds them) onto `branch` of `repo` at
/// `at`; `after` is the last commit's id.
pub fn push(
    repo: &str,
    at: DateTime<Utc>,
    branch: &str,
    before: &str,
    commits: Vec<Value>,
    created: bool,
) -> Value {
    let after = commits.last().map_or(json!(""), |c| c["id"].clone());
    let mut repository = repository(repo);
    repository["pushed_at"] = json!(at.timestamp());
    json!({"ref": format!("refs/heads/{branch}"), "before": before, "after": after,
           "created": created, "deleted": false, "forced": false,
           "head_commit": commits.last(), "commits": commits, "repository": repository})
}

/// A pull request, as `pull_request` deliveries carry it.
#[derive(Clone, Debug)]
pub struct PullRequest<'a> {
    pub repo: &'a str,
    pub number: u64,
    pub title: &'a str,
    pub body: Option<&'a str>,
    pub author: &'a str,
    pub created: DateTime<Utc>,
    /// When it was closed, with its merge commit if it was merged.
    pub closed: Option<(DateTime<Utc>, Option<&'a str>)>,
    /// `(ref, sha)` of the head.
    pub head: (&'a str, &'a str),
    pub base_sha: &'a str,
    pub additions: u64,
    pub deletions: u64,
}

impl PullRequest<'_> {
    /// The pull request object as it stands at `updated`.
    pub fn json(&self, updated: DateTime<Utc>) -> Value {
        let merged = self.closed.and_then(|(at, sha)| sha.map(|s| (at, s)));
        json!({
            "number": self.number, "title": self.title, "body": self.body,
            "user": user(self.author), "draft": false,
            "created_at": ts(self.created), "updated_at": ts(updated),
            "closed_at": self.closed.map(|(at, _)| ts(at)), "merged_at": merged.map(|(at, _)| ts(at)),
            "merge_commit_sha": merged.map(|(_, sha)| sha), "merged": merged.is_some(),
            "head": {"ref": self.head.0, "sha": self.head.1},
            "base": {"ref": "main", "sha": self.base_sha},
            "additions": self.additions, "deletions": self.deletions, "labels": [],
            "html_url": format!("https://github.com/{}/pull/{}", self.repo, self.number),
            "state": if self.closed.is_some() { "closed" } else { "open" }
        })
    }

    /// The `pull_request` delivery of `action` (`opened`, `synchronize`, `closed`…) at `at`.
    pub fn event(&self, action: &str, at: DateTime<Utc>) -> Value {
        json!({"action": action, "number": self.number, "pull_request": self.json(at),
               "repository": repository(self.repo)})
    }
}

/// A pull request as reviews and comments refer to it.
#[derive(Clone, Copy, Debug)]
pub struct PrRef<'a> {
    pub repo: &'a str,
    pub number: u64,
    pub author: &'a str,
}

impl PrRef<'_> {
    fn json(&self, updated: DateTime<Utc>) -> Value {
        json!({"number": self.number, "user": user(self.author), "updated_at": ts(updated)})
    }

    /// A `pull_request_review` (`submitted`) in `state` (`approved`, `changes_requested`…).
    pub fn review(
        &self,
        at: DateTime<Utc>,
        id: u64,
        reviewer: &str,
        state: &str,
        body: &str,
    ) -> Value {
        let review = json!({"id": id, "user": user(reviewer), "state": state,
                            "submitted_at": ts(at), "body": body});
        json!({"action": "submitted", "review": review, "pull_request": self.json(at),
               "repository": repository(self.repo)})
    }

    /// An `issue_comment` (`created`) on the pull request's conversation.
    pub fn issue_comment(&self, at: DateTime<Utc>, commenter: &str, body: &str) -> Value {
        let issue =
            json!({"number": self.number, "user": user(self.author), "pull_request": {"url": "x"}});
        let comment = json!({"user": user(commenter), "created_at": ts(at), "body": body});
        json!({"action": "created", "issue": issue, "comment": comment,
               "repository": repository(self.repo)})
    }

    /// A `pull_request_review_comment` (`created`) on the diff.
    pub fn review_comment(&self, at: DateTime<Utc>, commenter: &str, body: &str) -> Value {
        let comment = json!({"user": user(commenter), "created_at": ts(at), "body": body});
        json!({"action": "created", "comment": comment, "pull_request": self.json(at),
               "repository": repository(self.repo)})
    }
}

/// A GitHub deployment of `sha` to production, created at `started` by `deployer`, and its
/// terminal status (`state`, id `10 · id`) at `finished`: the `deployment` and
/// `deployment_status` deliveries, as `(time, event, body)`.
pub fn deployment(
    repo: &str,
    id: u64,
    sha: &str,
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
    state: &str,
) -> [(DateTime<Utc>, &'static str, Value); 2] {
    deployment_to("production", repo, id, sha, (started, finished), state)
}

/// As [`deployment`], to the GitHub environment `environment` (`qa-eu`, `staging`).
pub fn deployment_to(
    environment: &str,
    repo: &str,
    id: u64,
    sha: &str,
    (started, finished): (DateTime<Utc>, DateTime<Utc>),
    state: &str,
) -> [(DateTime<Utc>, &'static str, Value); 2] {
    let deployment = json!({"id": id, "sha": sha, "ref": "main", "environment": environment,
                            "creator": user("deployer"), "created_at": ts(started),
                            "updated_at": ts(started)});
    let status = json!({"id": id * 10, "state": state, "environment": environment,
                        "created_at": ts(finished), "updated_at": ts(finished)});
    [
        (
            started,
            "deployment",
            json!({"action": "created", "deployment": deployment.clone(),
                   "repository": repository(repo)}),
        ),
        (
            finished,
            "deployment_status",
            json!({"action": "created", "deployment_status": status, "deployment": deployment,
                   "repository": repository(repo)}),
        ),
    ]
}
