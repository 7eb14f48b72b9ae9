//! GitHub's REST API answers, as a backfill reads them, to the facts the webhooks would have
//! given (docs/METRICS.md, "Backfilled facts").
//!
//! GitHub's REST objects are the objects its webhooks carry (a review, a comment, a deployment,
//! a status, a workflow run, a pull request), so each answer is wrapped into the webhook payload
//! that would have carried it and normalized by [`normalize_github`]: one set of definitions,
//! whatever the source. Objects with their own ids (reviews, comments, deployments, statuses,
//! workflow runs) become the very facts their webhooks made, under the same keys, so the
//! conditional put keeps one. What the REST API only shows as a current state is rebuilt as the
//! deliveries that would have led to it:
//! - a pull request: its opening (as a draft or not), each move to and from draft (its issue
//!   events), and its current state;
//! - a branch's history: one push per commit, from its first parent to it, at its committer
//!   time (the default branch's first-parent chain; a PR's own commits on its head branch);
//! - an incident issue: its opening and its current state.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::github::normalize_github;
use super::{IngestError, Normalized};
use crate::model::Fact;

/// The delivery id the rebuilt payloads are normalized under; fact identity never reads it.
const BACKFILL_DELIVERY: &str = "backfill";

/// A branch created by a push has this `before`.
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// The repository as `GET /repos/{owner}/{repo}` answers it: the part every payload repeats.
#[derive(Clone, Debug, PartialEq)]
pub struct RestRepo {
    pub full_name: String,
    pub default_branch: String,
}

impl RestRepo {
    pub fn parse(answer: &Value) -> Result<RestRepo, IngestError> {
        Ok(RestRepo {
            full_name: text(answer, "full_name", "repository")?.to_string(),
            default_branch: text(answer, "default_branch", "repository")?.to_string(),
        })
    }

    /// The `repository` object of a webhook payload.
    fn payload(&self) -> Value {
        json!({"full_name": self.full_name, "default_branch": self.default_branch})
    }
}

/// Everything the REST API says of one pull request, each list in GitHub's order.
#[derive(Clone, Copy, Debug)]
pub struct PullRequestAnswers<'a> {
    /// `GET /pulls/{n}`: the full object (the list lacks sizes).
    pub pull: &'a Value,
    /// `GET /pulls/{n}/commits`, oldest first.
    pub commits: &'a [Value],
    /// `GET /pulls/{n}/reviews`.
    pub reviews: &'a [Value],
    /// `GET /pulls/{n}/comments`: comments on lines of the diff.
    pub review_comments: &'a [Value],
    /// `GET /issues/{n}/comments`: the conversation.
    pub comments: &'a [Value],
    /// `GET /issues/{n}/events`: when it moved to and from draft.
    pub events: &'a [Value],
}

/// The facts of one pull request: its snapshots, reviews, comments and its head branch's pushes.
pub fn pull_request_facts(
    repo: &RestRepo,
    answers: &PullRequestAnswers,
) -> Result<Vec<Fact>, IngestError> {
    let pull = answers.pull;
    let mut facts = Vec::new();
    for (action, snapshot) in pull_request_snapshots(pull, answers.events)? {
        let payload =
            json!({"action": action, "pull_request": snapshot, "repository": repo.payload()});
        facts.extend(normalize("pull_request", &payload)?);
    }
    for review in answers.reviews {
        let payload = json!({"action": "submitted", "review": review, "pull_request": pull,
                             "repository": repo.payload()});
        facts.extend(normalize("pull_request_review", &payload)?);
    }
    for comment in answers.review_comments {
        let payload = json!({"action": "created", "comment": comment, "pull_request": pull,
                             "repository": repo.payload()});
        facts.extend(normalize("pull_request_review_comment", &payload)?);
    }
    let issue = json!({"number": pull.get("number"), "user": pull.get("user"), "pull_request": {}});
    for comment in answers.comments {
        let payload = json!({"action": "created", "comment": comment, "issue": issue,
                             "repository": repo.payload()});
        facts.extend(normalize("issue_comment", &payload)?);
    }
    if let Some(branch) = own_head_branch(repo, pull) {
        for commit in answers.commits {
            facts.extend(commit_push(repo, branch, commit)?);
        }
    }
    Ok(facts)
}

/// The head branch of a PR whose head lives in the repository itself; a fork's branch is
/// another repository's, whose pushes the webhooks never see either.
fn own_head_branch<'a>(repo: &RestRepo, pull: &'a Value) -> Option<&'a str> {
    let head = pull.get("head")?;
    let head_repo = head.get("repo")?.get("full_name")?.as_str()?;
    head_repo
        .eq_ignore_ascii_case(&repo.full_name)
        .then(|| head.get("ref")?.as_str())
        .flatten()
}

/// The `pull_request` deliveries that lead to the PR's current state: `opened` at its creation
/// (a draft if its first draft event readies it), one per move to or from draft at that event's
/// time, and its [`current_state`].
fn pull_request_snapshots(
    pull: &Value,
    events: &[Value],
) -> Result<Vec<(&'static str, Value)>, IngestError> {
    let object = pull.as_object().ok_or(IngestError::InvalidField {
        path: "pull_request".into(),
        message: "expected an object".into(),
    })?;
    let created_at = text(pull, "created_at", "pull_request")?;
    let draft_moves: Vec<(&str, bool)> = events
        .iter()
        .filter_map(|e| {
            let ready = match e.get("event")?.as_str()? {
                "ready_for_review" => false,
                "convert_to_draft" => true,
                _ => return None,
            };
            Some((e.get("created_at")?.as_str()?, ready))
        })
        .collect();
    let current_draft = pull.get("draft").and_then(Value::as_bool).unwrap_or(false);
    // Before its first move the PR was the opposite of what that move made it.
    let opened_draft = draft_moves
        .first()
        .map_or(current_draft, |(_, to_draft)| !to_draft);
    let open_at = |at: &str, draft: bool| {
        let mut snapshot = object.clone();
        set(&mut snapshot, "updated_at", json!(at));
        set(&mut snapshot, "draft", json!(draft));
        set(&mut snapshot, "state", json!("open"));
        for field in ["closed_at", "merged_at", "merge_commit_sha"] {
            set(&mut snapshot, field, Value::Null);
        }
        Value::Object(snapshot)
    };
    let mut snapshots = vec![("opened", open_at(created_at, opened_draft))];
    for (at, to_draft) in draft_moves {
        let action = if to_draft {
            "converted_to_draft"
        } else {
            "ready_for_review"
        };
        snapshots.push((action, open_at(at, to_draft)));
    }
    snapshots.push(current_state(pull));
    Ok(snapshots)
}

/// The delivery of a PR's or issue's current state: `closed` at its `closed_at` (the time its
/// webhook delivery was stamped with, so both are one fact even when a later change moved
/// `updated_at`), or `edited` at `updated_at` while it is open.
fn current_state(object: &Value) -> (&'static str, Value) {
    let closed_at = object.get("closed_at").filter(|t| t.is_string());
    match closed_at {
        Some(at) if object.get("state").and_then(Value::as_str) == Some("closed") => {
            let mut closed = object.clone();
            set_value(&mut closed, "updated_at", Some(at.clone()));
            ("closed", closed)
        }
        _ => ("edited", object.clone()),
    }
}

fn set(object: &mut Map<String, Value>, field: &str, value: Value) {
    object.insert(field.to_string(), value);
}

/// One commit as the push that brought it: from its first parent to it, at its committer time,
/// with its message (`commit.message`). A commit without parents (a repository's first) was the
/// push that created the branch.
fn commit_push(repo: &RestRepo, branch: &str, commit: &Value) -> Result<Vec<Fact>, IngestError> {
    let sha = text(commit, "sha", "commit")?;
    let parent = commit
        .get("parents")
        .and_then(Value::as_array)
        .and_then(|p| p.first())
        .and_then(|p| p.get("sha"))
        .and_then(Value::as_str)
        .unwrap_or(ZERO_SHA);
    let detail = commit.get("commit").unwrap_or(&Value::Null);
    let authored = detail.get("author").and_then(|a| a.get("date"));
    let committed = detail.get("committer").and_then(|c| c.get("date"));
    let login = commit.get("author").and_then(|a| a.get("login"));
    let message = detail.get("message");
    let pushed = json!({"id": sha, "timestamp": authored.or(committed),
                        "author": {"username": login}, "message": message});
    let mut repository = repo.payload();
    set_value(
        &mut repository,
        "pushed_at",
        committed.or(authored).cloned(),
    );
    let payload = json!({"ref": format!("refs/heads/{branch}"), "before": parent, "after": sha,
                         "commits": [pushed], "head_commit": pushed, "repository": repository});
    normalize("push", &payload)
}

fn set_value(object: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = object.as_object_mut() {
        map.insert(field.to_string(), value.unwrap_or(Value::Null));
    }
}

/// Walks a branch's first-parent chain through `GET /commits?sha={branch}` pages (newest
/// first, every reachable commit): a commit is on the chain when it is the head or the first
/// parent of one that is. GitHub lists a commit before its parents, so one pass finds the
/// chain; a parent seen first (equal commit times) waits in `pending` until its child comes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FirstParentWalk {
    /// The next commit of the chain; `None` before the first page (the head is the first
    /// commit listed) and once the chain has left the listing (`since`).
    next: Option<String>,
    started: bool,
    #[serde(skip)]
    pending: HashMap<String, Value>,
}

impl FirstParentWalk {
    /// The commit the chain continues with: what a checkpoint keeps.
    pub fn next(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// The pushes of one page's commits that are on the chain.
    pub fn page(
        &mut self,
        repo: &RestRepo,
        branch: &str,
        commits: &[Value],
    ) -> Result<Vec<Fact>, IngestError> {
        let mut facts = Vec::new();
        for commit in commits {
            let sha = text(commit, "sha", "commit")?;
            if !self.started {
                self.started = true;
                self.next = Some(sha.to_string());
            }
            self.pending.insert(sha.to_string(), commit.clone());
            while let Some(on_chain) = self.next.as_ref().and_then(|n| self.pending.remove(n)) {
                facts.extend(commit_push(repo, branch, &on_chain)?);
                self.next = on_chain
                    .get("parents")
                    .and_then(Value::as_array)
                    .and_then(|p| p.first())
                    .and_then(|p| p.get("sha"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
        }
        // Commits off the chain (a merged branch's) never match: keep the map to one page's.
        self.pending.retain(|_, c| commits.iter().any(|x| x == c));
        Ok(facts)
    }
}

/// A deployment (`GET /deployments` item) and its statuses (`GET /deployments/{id}/statuses`).
pub fn deployment_facts(
    repo: &RestRepo,
    deployment: &Value,
    statuses: &[Value],
) -> Result<Vec<Fact>, IngestError> {
    let created =
        json!({"action": "created", "deployment": deployment, "repository": repo.payload()});
    let mut facts = normalize("deployment", &created)?;
    for status in statuses {
        let payload = json!({"action": "created", "deployment_status": status,
                             "deployment": deployment, "repository": repo.payload()});
        facts.extend(normalize("deployment_status", &payload)?);
    }
    Ok(facts)
}

/// A completed workflow run (`GET /actions/runs` item).
pub fn workflow_run_facts(repo: &RestRepo, run: &Value) -> Result<Vec<Fact>, IngestError> {
    let payload = json!({"action": "completed", "workflow_run": run, "repository": repo.payload()});
    normalize("workflow_run", &payload)
}

/// An issue with the incident label (`GET /issues?labels=…` item): its opening and its current
/// state. Pull requests, which the endpoint lists too, are not incidents.
pub fn incident_issue_facts(repo: &RestRepo, issue: &Value) -> Result<Vec<Fact>, IngestError> {
    if issue.get("pull_request").is_some_and(|p| !p.is_null()) {
        return Ok(Vec::new());
    }
    let mut opened = issue.as_object().cloned().unwrap_or_default();
    set(&mut opened, "state", json!("open"));
    set(&mut opened, "closed_at", Value::Null);
    set(
        &mut opened,
        "updated_at",
        issue.get("created_at").cloned().unwrap_or_default(),
    );
    let mut facts = normalize(
        "issues",
        &json!({"action": "opened", "issue": opened, "repository": repo.payload()}),
    )?;
    let (action, current) = current_state(issue);
    facts.extend(normalize(
        "issues",
        &json!({"action": action, "issue": current, "repository": repo.payload()}),
    )?);
    Ok(facts)
}

/// The wrapped payload through the webhook normalizer: what its delivery would have written.
fn normalize(event: &str, payload: &Value) -> Result<Vec<Fact>, IngestError> {
    let body =
        serde_json::to_vec(payload).map_err(|e| IngestError::MalformedJson(e.to_string()))?;
    match normalize_github(event, BACKFILL_DELIVERY, &body)? {
        Normalized::Facts(facts) => Ok(facts),
        Normalized::Ignored(_) => Ok(Vec::new()),
    }
}

fn text<'a>(value: &'a Value, field: &str, of: &str) -> Result<&'a str, IngestError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| IngestError::MissingField {
            path: format!("{of}.{field}"),
        })
}

#[cfg(test)]
#[path = "github_rest_tests.rs"]
mod tests;
