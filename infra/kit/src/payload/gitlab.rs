//! GitLab webhook bodies (Merge Request, Push, Note, Deployment, Pipeline and Issue Hooks), with
//! the fields GitLab's webhook documentation shows for each, for a project on `gitlab.com` or a
//! self-managed host. Times are written as current GitLab writes them (`2026-03-02T09:15:00Z`),
//! except where GitLab still writes `2026-03-02 09:15:00 UTC` (notes, deployments).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ts;

/// GitLab's "no commit" sha (`before` of a push that creates a branch).
pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// A project: `host` (`gitlab.com`) and its path with namespace (`acme/mobile/app`).
#[derive(Clone, Copy, Debug)]
pub struct Project<'a> {
    pub host: &'a str,
    pub path: &'a str,
}

impl Project<'_> {
    /// Flowmeter's name of the repository: its web address without the scheme.
    pub fn repo(&self) -> String {
        format!("{}/{}", self.host, self.path).to_lowercase()
    }

    pub fn web_url(&self) -> String {
        format!("https://{}/{}", self.host, self.path)
    }

    fn id(&self) -> u64 {
        self.path.bytes().map(u64::from).sum::<u64>() + 1000
    }

    /// The `project` object every hook carries.
    pub fn json(&self) -> Value {
        let (namespace, name) = self.path.rsplit_once('/').unwrap_or(("", self.path));
        let web = self.web_url();
        let ssh = format!("git@{}:{}.git", self.host, self.path);
        json!({"id": self.id(), "name": name, "description": null, "web_url": web,
               "avatar_url": null, "git_ssh_url": ssh, "git_http_url": format!("{web}.git"),
               "namespace": namespace, "visibility_level": 0, "path_with_namespace": self.path,
               "default_branch": "main", "ci_config_path": null, "homepage": web,
               "url": ssh, "ssh_url": ssh, "http_url": format!("{web}.git")})
    }

    /// The legacy `repository` object hooks still carry.
    fn repository(&self) -> Value {
        let web = self.web_url();
        json!({"name": self.path.rsplit('/').next().unwrap_or(self.path),
               "url": format!("git@{}:{}.git", self.host, self.path), "description": null,
               "homepage": web})
    }
}

/// A user as hooks carry it; usernames ending `_bot_<hex>` are project/group access-token bots.
pub fn user(username: &str) -> Value {
    let id = username.bytes().map(u64::from).sum::<u64>();
    json!({"id": id, "name": username, "username": username,
           "avatar_url": format!("https://secure.gravatar.com/avatar/{id}"),
           "email": "[REDACTED]"})
}

/// `2026-03-02 09:15:00 UTC`: the older format some hooks still use.
pub fn ts_utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// One commit of a push, authored at `authored` by `author` (GitLab names commit authors by
/// name and email only).
pub fn commit(
    project: &Project,
    id: &str,
    authored: DateTime<Utc>,
    author: &str,
    message: &str,
) -> Value {
    json!({"id": id, "message": message, "title": message.lines().next().unwrap_or_default(),
           "timestamp": ts(authored), "url": format!("{}/-/commit/{id}", project.web_url()),
           "author": {"name": author, "email": format!("{author}@example.com")},
           "added": [], "modified": ["README.md"], "removed": []})
}

/// A Push Hook: `commits` (oldest first, as GitLab lists them) onto `branch`.
pub fn push(
    project: &Project,
    branch: &str,
    before: &str,
    commits: Vec<Value>,
    pusher: &str,
) -> Value {
    let after = commits.last().map_or(json!(ZERO_SHA), |c| c["id"].clone());
    let user = user(pusher);
    json!({"object_kind": "push", "event_name": "push", "before": before, "after": after,
           "ref": format!("refs/heads/{branch}"), "ref_protected": branch == "main",
           "checkout_sha": after, "message": null, "user_id": user["id"],
           "user_name": pusher, "user_username": pusher, "user_email": "",
           "user_avatar": user["avatar_url"], "project_id": project.id(),
           "project": project.json(), "total_commits_count": commits.len(),
           "commits": commits, "repository": project.repository()})
}

/// A merge request as it stands.
#[derive(Clone, Debug)]
pub struct MergeRequest<'a> {
    pub project: Project<'a>,
    pub iid: u64,
    pub title: &'a str,
    pub description: &'a str,
    pub author: &'a str,
    pub created: DateTime<Utc>,
    pub draft: bool,
    /// `(source branch, last commit sha)`.
    pub source: (&'a str, &'a str),
    /// When it was merged, with its merge commit, or closed unmerged (`None` sha).
    pub closed: Option<(DateTime<Utc>, Option<&'a str>)>,
    pub labels: &'a [&'a str],
}

impl MergeRequest<'_> {
    fn url(&self) -> String {
        format!("{}/-/merge_requests/{}", self.project.web_url(), self.iid)
    }

    fn id(&self) -> u64 {
        self.project.id() * 1000 + self.iid
    }

    fn state(&self) -> &'static str {
        match self.closed {
            None => "opened",
            Some((_, Some(_))) => "merged",
            Some((_, None)) => "closed",
        }
    }

    /// `object_attributes` at `updated`, for `action`.
    fn attributes(&self, action: &str, updated: DateTime<Utc>) -> Value {
        let merged = self.closed.and_then(|(at, sha)| sha.map(|s| (at, s)));
        let closed_at = self.closed.map(|(at, _)| ts(at));
        let (branch, head) = self.source;
        json!({"id": self.id(), "iid": self.iid, "title": self.title,
               "description": self.description, "state": self.state(), "action": action,
               "created_at": ts(self.created), "updated_at": ts(updated),
               "merged_at": merged.map(|(at, _)| ts(at)), "closed_at": closed_at,
               "merge_commit_sha": merged.map(|(_, sha)| sha),
               "author_id": user(self.author)["id"], "source_branch": branch,
               "target_branch": "main", "source_project_id": self.project.id(),
               "target_project_id": self.project.id(), "source": self.project.json(),
               "target": self.project.json(), "draft": self.draft,
               "work_in_progress": self.draft, "merge_status": "can_be_merged",
               "detailed_merge_status": "mergeable", "url": self.url(),
               "last_commit": {"id": head, "message": self.title, "title": self.title,
                                "timestamp": ts(self.created),
                                "url": format!("{}/-/commit/{head}", self.project.web_url()),
                                "author": {"name": self.author, "email": format!("{}@example.com", self.author)}},
               "labels": self.labels_json(), "head_pipeline_id": null})
    }

    fn labels_json(&self) -> Vec<Value> {
        self.labels
            .iter()
            .map(|l| json!({"id": l.len(), "title": l, "color": "#d9534f", "type": "ProjectLabel"}))
            .collect()
    }

    /// A Merge Request Hook: `action` (`open`, `update`, `approved`, `unapproved`, `merge`,
    /// `close`, `reopen`) by `actor` at `at`, with `changes`.
    pub fn event(&self, action: &str, actor: &str, at: DateTime<Utc>, changes: Value) -> Value {
        json!({"object_kind": "merge_request", "event_type": "merge_request",
               "user": user(actor), "project": self.project.json(),
               "repository": self.project.repository(),
               "object_attributes": self.attributes(action, at), "labels": self.labels_json(),
               "changes": changes, "assignees": [user(self.author)], "reviewers": []})
    }

    /// A review submitted without approving, as GitLab 18 sends it: an `update` by `reviewer`
    /// whose `changes.reviewers` shows their state go from `unreviewed` to `state`
    /// (`requested_changes` for "Request changes", `reviewed` for a comment-only review).
    pub fn reviewed(&self, reviewer: &str, state: &str, at: DateTime<Utc>) -> Value {
        let user_in = |state: &str| {
            let mut user = user(reviewer);
            user["state"] = json!(state);
            user["re_requested"] = json!(false);
            user
        };
        let changes = json!({"reviewers": {"previous": [user_in("unreviewed")],
                                           "current": [user_in(state)]}});
        let mut body = self.event("update", reviewer, at, changes);
        body["reviewers"] = json!([user_in(state)]);
        body
    }

    /// The merge request as Note Hooks carry it.
    fn noted(&self, at: DateTime<Utc>) -> Value {
        let mut mr = self.attributes("update", at);
        if let Some(object) = mr.as_object_mut() {
            object.remove("action");
        }
        mr
    }

    /// A Note Hook: `author`'s comment on the merge request at `at`; `diff` makes it a comment
    /// on a line of the diff (a `DiffNote`).
    pub fn note(
        &self,
        note_id: u64,
        author: &str,
        at: DateTime<Utc>,
        text: &str,
        diff: bool,
    ) -> Value {
        let (kind, position) = if diff {
            let (_, head) = self.source;
            (
                json!("DiffNote"),
                json!({"base_sha": ZERO_SHA, "start_sha": ZERO_SHA, "head_sha": head,
                                        "old_path": "README.md", "new_path": "README.md",
                                        "position_type": "text", "old_line": null, "new_line": 12}),
            )
        } else {
            (Value::Null, Value::Null)
        };
        json!({"object_kind": "note", "event_type": "note", "user": user(author),
               "project_id": self.project.id(), "project": self.project.json(),
               "repository": self.project.repository(),
               "object_attributes": {"id": note_id, "note": text, "noteable_type": "MergeRequest",
                                     "author_id": user(author)["id"], "created_at": ts_utc(at),
                                     "updated_at": ts_utc(at), "project_id": self.project.id(),
                                     "attachment": null, "line_code": null, "commit_id": "",
                                     "noteable_id": self.id(), "system": false, "st_diff": null,
                                     "type": kind, "position": position,
                                     "url": format!("{}#note_{note_id}", self.url())},
               "merge_request": self.noted(at)})
    }
}

/// A Deployment Hook: deployment `id` of `sha` to `environment`, `status` (`running`,
/// `success`, `failed`, `canceled`) at `at`.
pub fn deployment(
    project: &Project,
    id: u64,
    sha: &str,
    environment: &str,
    status: &str,
    at: DateTime<Utc>,
    by: &str,
) -> Value {
    let web = project.web_url();
    json!({"object_kind": "deployment", "status": status, "status_changed_at": ts_utc(at),
           "deployment_id": id, "deployable_id": id * 10,
           "deployable_url": format!("{web}/-/jobs/{}", id * 10), "environment": environment,
           "environment_tier": environment, "environment_slug": environment,
           "environment_external_url": null, "project": project.json(),
           "short_sha": sha.get(..8).unwrap_or(sha), "user": user(by),
           "user_url": format!("https://{}/{by}", project.host),
           "commit_url": format!("{web}/-/commit/{sha}"), "commit_title": "Deploy"})
}

/// An Issue Hook of a GitLab incident (`issue_type: incident`): `action` (`open`, `close`,
/// `reopen`, `update`) at `at`; `closed` when it is resolved.
pub fn incident(
    project: &Project,
    iid: u64,
    title: &str,
    opened: DateTime<Utc>,
    closed: Option<DateTime<Utc>>,
    action: &str,
    at: DateTime<Utc>,
) -> Value {
    let state = if closed.is_some() { "closed" } else { "opened" };
    json!({"object_kind": "issue", "event_type": "issue", "user": user("oncall"),
           "project": project.json(), "repository": project.repository(),
           "object_attributes": {"id": project.id() * 1000 + iid, "iid": iid, "title": title,
                                 "description": "", "state": state, "action": action,
                                 "created_at": ts(opened), "updated_at": ts(at),
                                 "closed_at": closed.map(ts), "issue_type": "incident",
                                 "type": "Incident", "severity": "high", "confidential": false,
                                 "url": format!("{}/-/issues/{iid}", project.web_url()),
                                 "labels": []},
           "labels": [], "changes": {}})
}
