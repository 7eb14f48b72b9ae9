//! The served objects of each resource: the webhook's object, with what the REST API serves
//! and webhooks leave out filled in (see `shapes`).

use serde_json::{json, Value};

use super::history::RawEvent;
use super::shapes::{complete_labels, fill, iso_value, node_id, str_of, without, Users, API, WEB};

/// What every object of a repository is completed with.
pub(crate) struct Ctx<'a> {
    pub(crate) full_name: &'a str,
    pub(crate) users: &'a Users,
    /// The repository's served object.
    pub(crate) repo: &'a Value,
}

impl Ctx<'_> {
    fn api(&self) -> String {
        format!("{API}/repos/{}", self.full_name)
    }

    fn web(&self) -> String {
        format!("{WEB}/{}", self.full_name)
    }
}

/// Rewrites the time fields `keys` of `object` in the REST API's form.
fn times(object: &mut Value, keys: &[&str]) {
    for key in keys {
        if let Some(v) = object.get_mut(*key) {
            *v = iso_value(v);
        }
    }
}

/// Fields "pull-request" has and "pull-request-simple" (the list's items) does not.
pub(crate) const NOT_IN_SIMPLE: &[&str] = &[
    "additions",
    "deletions",
    "changed_files",
    "commits",
    "comments",
    "review_comments",
    "merged",
    "mergeable",
    "mergeable_state",
    "merged_by",
    "rebaseable",
    "maintainer_can_modify",
];

/// Counts a pull request's object carries, from what the history holds.
pub(crate) struct PullCounts {
    pub(crate) comments: usize,
    pub(crate) review_comments: usize,
    pub(crate) commits: usize,
}

/// The "pull-request" object.
pub(crate) fn pull_request(ctx: &Ctx, pr: &Value, counts: &PullCounts) -> Value {
    let mut out = pr.clone();
    let number = pr["number"].as_u64().unwrap_or_default();
    let (api, web) = (ctx.api(), ctx.web());
    let head_sha = pr
        .pointer("/head/sha")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let id = pr
        .get("id")
        .cloned()
        .unwrap_or_else(|| json!(super::shapes::stable_id(&format!("{api} pull {number}"))));
    let url = format!("{api}/pulls/{number}");
    let html = format!("{web}/pull/{number}");
    let issue = format!("{api}/issues/{number}");
    let statuses = format!("{api}/statuses/{head_sha}");
    times(
        &mut out,
        &["created_at", "updated_at", "closed_at", "merged_at"],
    );
    for side in ["head", "base"] {
        let mut end = out.get(side).cloned().unwrap_or(json!({}));
        let branch = str_of(&end, "ref").to_string();
        let owner = ctx.repo["owner"].clone();
        fill(
            &mut end,
            json!({"label": format!("{}:{branch}", str_of(&owner, "login")), "ref": branch,
                   "sha": "", "user": owner, "repo": ctx.repo}),
        );
        ctx.users.complete_at(&mut end, "user");
        out[side] = end;
    }
    ctx.users.complete_at(&mut out, "user");
    ctx.users.complete_at(&mut out, "merged_by");
    complete_labels(ctx.full_name, &mut out);
    let merged = out["merged_at"].is_string();
    fill(
        &mut out,
        json!({
            "url": url, "id": id, "node_id": node_id("PR", &id), "html_url": html,
            "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
            "issue_url": issue, "commits_url": format!("{url}/commits"),
            "review_comments_url": format!("{url}/comments"),
            "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
            "comments_url": format!("{issue}/comments"), "statuses_url": statuses,
            "number": number, "state": "open", "locked": false, "title": "", "user": null,
            "body": null, "milestone": null, "active_lock_reason": null,
            "created_at": null, "updated_at": null, "closed_at": null, "merged_at": null,
            "merge_commit_sha": null, "assignee": null, "assignees": [],
            "requested_reviewers": [], "requested_teams": [],
        }),
    );
    fill(
        &mut out,
        json!({
            "_links": {
                "self": {"href": url}, "html": {"href": html}, "issue": {"href": issue},
                "comments": {"href": format!("{issue}/comments")},
                "review_comments": {"href": format!("{url}/comments")},
                "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
                "commits": {"href": format!("{url}/commits")},
                "statuses": {"href": statuses}
            },
            "author_association": "NONE", "auto_merge": null, "draft": false,
            "merged": merged, "mergeable": null, "rebaseable": null,
            "mergeable_state": "unknown", "merged_by": null,
            "comments": counts.comments, "review_comments": counts.review_comments,
            "maintainer_can_modify": false, "commits": counts.commits,
            "additions": 0, "deletions": 0, "changed_files": 0
        }),
    );
    out
}

/// The "pull-request-simple" object (the list's items).
pub(crate) fn pull_simple(full: &Value) -> Value {
    without(full.clone(), NOT_IN_SIMPLE)
}

/// A pull request as the issues list serves it ("issue" with a `pull_request` key).
pub(crate) fn pull_as_issue(ctx: &Ctx, pr: &Value) -> Value {
    let number = pr["number"].as_u64().unwrap_or_default();
    let id = json!(super::shapes::stable_id(&format!(
        "{} issue {number}",
        ctx.full_name
    )));
    let mut issue = json!({
        "id": id, "number": number, "title": pr["title"], "user": pr["user"],
        "labels": pr["labels"], "state": pr["state"], "locked": pr["locked"],
        "assignee": pr["assignee"], "assignees": pr["assignees"], "milestone": pr["milestone"],
        "comments": pr["comments"], "created_at": pr["created_at"],
        "updated_at": pr["updated_at"], "closed_at": pr["closed_at"],
        "author_association": pr["author_association"], "active_lock_reason": pr["active_lock_reason"],
        "draft": pr["draft"], "body": pr["body"],
        "state_reason": if str_of(pr, "state") == "closed" { json!("completed") } else { Value::Null },
        "pull_request": {"url": pr["url"], "html_url": pr["html_url"], "diff_url": pr["diff_url"],
                         "patch_url": pr["patch_url"], "merged_at": pr["merged_at"]},
    });
    fill_issue(ctx, &mut issue, number, "pull");
    issue
}

/// The "issue" object of an issue (not a pull request).
pub(crate) fn issue(ctx: &Ctx, issue: &Value, comments: usize) -> Value {
    let mut out = issue.clone();
    let number = issue["number"].as_u64().unwrap_or_default();
    times(&mut out, &["created_at", "updated_at", "closed_at"]);
    ctx.users.complete_at(&mut out, "user");
    complete_labels(ctx.full_name, &mut out);
    fill(&mut out, json!({"comments": comments}));
    fill_issue(ctx, &mut out, number, "issues");
    out
}

fn fill_issue(ctx: &Ctx, out: &mut Value, number: u64, html_path: &str) {
    let api = ctx.api();
    let url = format!("{api}/issues/{number}");
    let id = out
        .get("id")
        .cloned()
        .unwrap_or_else(|| json!(super::shapes::stable_id(&format!("{url} issue"))));
    fill(
        out,
        json!({
            "id": id, "node_id": node_id("I", &id), "url": url, "repository_url": api,
            "labels_url": format!("{url}/labels{{/name}}"),
            "comments_url": format!("{url}/comments"), "events_url": format!("{url}/events"),
            "html_url": format!("{}/{html_path}/{number}", ctx.web()),
            "timeline_url": format!("{url}/timeline"),
            "number": number, "state": "open", "title": "", "body": null, "user": null,
            "labels": [], "assignee": null, "assignees": [], "milestone": null, "locked": false,
            "active_lock_reason": null, "comments": 0, "closed_at": null, "created_at": null,
            "updated_at": null, "closed_by": null, "author_association": "NONE",
            "state_reason": null, "pinned_comment": null, "performed_via_github_app": null,
            "reactions": reactions(&url),
        }),
    );
}

fn reactions(url: &str) -> Value {
    json!({"url": format!("{url}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
           "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0})
}

/// A "pull-request-review": its state in upper case, as the REST API writes it.
pub(crate) fn review(ctx: &Ctx, pr: &Value, review: &Value) -> Value {
    let mut out = review.clone();
    let number = pr["number"].as_u64().unwrap_or_default();
    let id = review["id"].clone();
    let pr_url = format!("{}/pulls/{number}", ctx.api());
    let html = format!("{}/pull/{number}#pullrequestreview-{id}", ctx.web());
    out["state"] = json!(str_of(review, "state").to_ascii_uppercase());
    times(&mut out, &["submitted_at"]);
    ctx.users.complete_at(&mut out, "user");
    fill(
        &mut out,
        json!({
            "id": id, "node_id": node_id("PRR", &id), "user": null, "body": "",
            "html_url": html, "pull_request_url": pr_url,
            "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
            "submitted_at": null,
            "commit_id": pr.pointer("/head/sha").cloned().unwrap_or(Value::Null),
            "author_association": "NONE",
        }),
    );
    out
}

/// A "pull-request-review-comment".
pub(crate) fn review_comment(ctx: &Ctx, pr: &Value, comment: &Value) -> Value {
    let mut out = comment.clone();
    let number = pr["number"].as_u64().unwrap_or_default();
    let id = comment["id"].clone();
    let api = ctx.api();
    let url = format!("{api}/pulls/comments/{id}");
    let pr_url = format!("{api}/pulls/{number}");
    let html = format!("{}/pull/{number}#discussion_r{id}", ctx.web());
    let commit = comment
        .get("commit_id")
        .cloned()
        .or_else(|| pr.pointer("/head/sha").cloned())
        .unwrap_or(Value::Null);
    times(&mut out, &["created_at", "updated_at"]);
    ctx.users.complete_at(&mut out, "user");
    fill(
        &mut out,
        json!({
            "url": url, "pull_request_review_id": null, "id": id,
            "node_id": node_id("PRRC", &id), "diff_hunk": "", "path": "", "position": null,
            "original_position": null, "commit_id": commit, "original_commit_id": commit,
            "user": null, "body": "", "created_at": null, "updated_at": null,
            "html_url": html, "pull_request_url": pr_url, "author_association": "NONE",
            "_links": {"self": {"href": url}, "html": {"href": html},
                       "pull_request": {"href": pr_url}},
            "start_line": null, "original_start_line": null, "start_side": null,
            "line": null, "original_line": null, "side": "RIGHT", "subject_type": "line",
            "reactions": reactions(&url),
        }),
    );
    if out["original_line"].is_null() {
        out["original_line"] = out["line"].clone();
    }
    out
}

/// An "issue-comment".
pub(crate) fn issue_comment(ctx: &Ctx, number: u64, comment: Value) -> Value {
    let mut out = comment;
    let id = out["id"].clone();
    let api = ctx.api();
    let url = format!("{api}/issues/comments/{id}");
    times(&mut out, &["created_at", "updated_at"]);
    ctx.users.complete_at(&mut out, "user");
    fill(
        &mut out,
        json!({
            "id": id, "node_id": node_id("IC", &id), "url": url,
            "html_url": format!("{}/issues/{number}#issuecomment-{id}", ctx.web()),
            "body": "", "user": null, "created_at": null, "updated_at": null,
            "issue_url": format!("{api}/issues/{number}"), "author_association": "NONE",
            "performed_via_github_app": null, "minimized": null, "reactions": reactions(&url),
        }),
    );
    updated_is_created(out)
}

/// An "issue-event-for-issue".
pub(crate) fn issue_event(ctx: &Ctx, event: RawEvent) -> Value {
    let id = json!(event.id);
    let api = ctx.api();
    let commit_url = event
        .commit_id
        .as_ref()
        .map_or(Value::Null, |sha| json!(format!("{api}/commits/{sha}")));
    let mut out = json!({
        "id": id, "node_id": node_id("E", &id), "url": format!("{api}/issues/events/{id}"),
        "actor": ctx.users.complete(&event.actor), "event": event.event,
        "commit_id": event.commit_id, "commit_url": commit_url,
        "created_at": iso_value(&event.created_at), "performed_via_github_app": null,
    });
    if let Some(label) = event.label {
        out["label"] = label;
    }
    out
}

/// A "deployment".
pub(crate) fn deployment(ctx: &Ctx, deployment: &Value) -> Value {
    let mut out = deployment.clone();
    let id = deployment["id"].clone();
    let api = ctx.api();
    let url = format!("{api}/deployments/{id}");
    let environment = deployment["environment"].clone();
    times(&mut out, &["created_at", "updated_at"]);
    ctx.users.complete_at(&mut out, "creator");
    fill(
        &mut out,
        json!({
            "url": url, "id": id, "node_id": node_id("DE", &id), "sha": "", "ref": "",
            "task": "deploy", "payload": {}, "original_environment": environment,
            "environment": environment, "description": null, "creator": null,
            "created_at": null, "updated_at": null, "statuses_url": format!("{url}/statuses"),
            "repository_url": api, "transient_environment": false,
            "production_environment": str_of(deployment, "environment") == "production",
            "performed_via_github_app": null,
        }),
    );
    updated_is_created(out)
}

/// A "deployment-status".
pub(crate) fn deployment_status(ctx: &Ctx, deployment_id: u64, status: &Value) -> Value {
    let mut out = status.clone();
    let id = status["id"].clone();
    let api = ctx.api();
    let deployment_url = format!("{api}/deployments/{deployment_id}");
    times(&mut out, &["created_at", "updated_at"]);
    ctx.users.complete_at(&mut out, "creator");
    let target = status.get("target_url").cloned().unwrap_or(json!(""));
    fill(
        &mut out,
        json!({
            "url": format!("{deployment_url}/statuses/{id}"), "id": id,
            "node_id": node_id("DES", &id), "state": "success", "creator": null,
            "description": "", "environment": "", "target_url": target,
            "created_at": null, "updated_at": null, "deployment_url": deployment_url,
            "repository_url": api, "environment_url": "", "log_url": target,
            "performed_via_github_app": null,
        }),
    );
    updated_is_created(out)
}

/// A "workflow-run".
pub(crate) fn workflow_run(ctx: &Ctx, run: &Value) -> Value {
    let mut out = run.clone();
    let id = run["id"].clone();
    let api = ctx.api();
    let url = format!("{api}/actions/runs/{id}");
    let workflow_id = run.get("workflow_id").cloned().unwrap_or(json!(0));
    let check_suite_id = run.get("check_suite_id").cloned().unwrap_or(json!(0));
    let created = run.get("created_at").cloned().unwrap_or(Value::Null);
    times(&mut out, &["created_at", "updated_at", "run_started_at"]);
    ctx.users.complete_at(&mut out, "actor");
    ctx.users.complete_at(&mut out, "triggering_actor");
    let actor = out["actor"].clone();
    fill(
        &mut out,
        json!({
            "id": id, "name": "", "node_id": node_id("WFR", &id),
            "check_suite_id": check_suite_id, "check_suite_node_id": node_id("CS", &check_suite_id),
            "head_branch": null, "head_sha": "", "path": "", "run_number": 0, "event": "push",
            "display_title": "", "status": "completed", "conclusion": null,
            "workflow_id": workflow_id, "url": url,
            "html_url": format!("{}/actions/runs/{id}", ctx.web()), "pull_requests": [],
            "created_at": created, "updated_at": created, "actor": null, "run_attempt": 1,
            "referenced_workflows": [], "run_started_at": iso_value(&created),
            "triggering_actor": actor, "jobs_url": format!("{url}/jobs"),
            "logs_url": format!("{url}/logs"),
            "check_suite_url": format!("{api}/check-suites/{check_suite_id}"),
            "artifacts_url": format!("{url}/artifacts"), "cancel_url": format!("{url}/cancel"),
            "rerun_url": format!("{url}/rerun"), "previous_attempt_url": null,
            "workflow_url": format!("{api}/actions/workflows/{workflow_id}"),
            "head_commit": null, "repository": ctx.repo, "head_repository": ctx.repo,
        }),
    );
    out
}

/// An object whose `updated_at` the webhook left out was last updated when it was created.
fn updated_is_created(mut object: Value) -> Value {
    if object["updated_at"].is_null() {
        object["updated_at"] = object["created_at"].clone();
    }
    object
}
