//! GitHub webhook deliveries to facts.
//!
//! Only what metrics need is read; everything else in a payload is skipped unparsed. Missing
//! optional data degrades a fact rather than rejecting the delivery, because GitHub does not
//! retry a rejected delivery by itself: a 400 is data lost until someone redelivers by hand. What
//! is rejected is what would make a fact wrong (no PR number, a timestamp we cannot read).
//!
//! Fact ids come from what the body says, never from `X-GitHub-Delivery`: the HMAC does not
//! cover that header, so a signed body posted again under a new delivery id must still be the
//! same fact. Ids are the payload's own (`review:<id>`, `ic:<comment id>`, `status:<id>`,
//! `run:<id>:<attempt>`, `push:<before>..<after>`, `deployment:<id>`). A PR or issue change has
//! no id: a step of its lifecycle (opened, closed, reopened, to and from draft) happens once at
//! its `updated_at`, so it is `pr:<action>` / `issue:<action>` under that time, which is also
//! what a backfill rebuilds from the REST API, and the conditional put keeps one of the two;
//! any other change (an edit, a label) is a hash of the raw body (`pr:<sha-256 prefix>`).
//! Every time comes from the payload too, so a replay or redelivery yields identical keys and
//! writes nothing.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use super::json::{from_value, null_as_default, EpochOrTimestamp, Timestamp};
use super::{check_id, github_actor, parse_body, push_body, repo_name, IngestError, Normalized};
use crate::model::{
    short_digest, Actor, CommentKind, Commit, EntityKey, Fact, FactBody, IncidentAction, PrAction,
    PrSnapshot, RepoName, ReviewState,
};

/// Normalizes one delivery. `event` is the `X-GitHub-Event` header, `delivery_id` the
/// `X-GitHub-Delivery` header.
pub fn normalize_github(
    event: &str,
    delivery_id: &str,
    body: &[u8],
) -> Result<Normalized, IngestError> {
    // Still required and checked: GitHub always sends it, and a request without one is not
    // GitHub. Fact identity does not use it (see the module doc).
    check_id(delivery_id, "X-GitHub-Delivery")?;
    if let Some(kind) = security::alert_kind(event) {
        return security::normalize(kind, &Facts { body }, body);
    }
    let Some(main_key) = main_key(event) else {
        // Parsed anyway: a malformed body is a 400 whatever the event, so a broken sender is
        // noticed even while it only sends events we skip.
        parse_body(body)?;
        return Ok(Normalized::Ignored(if event == "ping" {
            "ping"
        } else {
            "unsupported event"
        }));
    };
    let root = parse_body(body)?;
    let payload = unwrap_probot(&root, main_key);
    let facts = Facts { body };
    match event {
        "pull_request" => pull_request(&facts, from_value(payload)?),
        "pull_request_review" => review(&facts, from_value(payload)?),
        "pull_request_review_comment" => review_comment(&facts, from_value(payload)?),
        "issue_comment" => issue_comment(&facts, from_value(payload)?),
        "push" => push(&facts, from_value(payload)?),
        "deployment" => deployments::deployment(&facts, from_value(payload)?),
        "deployment_status" => deployments::deployment_status(&facts, from_value(payload)?),
        "workflow_run" => deployments::workflow_run(&facts, from_value(payload)?),
        "issues" => issues(&facts, from_value(payload)?),
        _ => Ok(Normalized::Ignored("unsupported event")),
    }
}

/// The key every payload of `event` has; `None` for events we do not read.
fn main_key(event: &str) -> Option<&'static str> {
    Some(match event {
        "pull_request" => "pull_request",
        "pull_request_review" => "review",
        "pull_request_review_comment" | "issue_comment" => "comment",
        "push" => "ref",
        "deployment" => "deployment",
        "deployment_status" => "deployment_status",
        "workflow_run" => "workflow_run",
        "issues" => "issue",
        _ => return None,
    })
}

/// Probot-based tools (and their recorded fixtures) wrap the payload as
/// `{"event", "name", "payload": {…}}`; accepting that shape lets such captures be replayed.
fn unwrap_probot<'a>(root: &'a Value, main_key: &str) -> &'a Value {
    match (root.get(main_key), root.get("name"), root.get("payload")) {
        (None, Some(_), Some(inner)) if inner.is_object() => inner,
        _ => root,
    }
}

/// Builds facts whose ids come from the delivery's content: `<identity>#<n>`, numbered in
/// emission order.
struct Facts<'a> {
    /// The raw body, hashed for events that carry no id of their own.
    body: &'a [u8],
}

impl Facts<'_> {
    fn one(&self, identity: &str, entity: EntityKey, at: Timestamp, body: FactBody) -> Normalized {
        Normalized::Facts(vec![self.fact(identity, 0, entity, at, body)])
    }

    fn fact(
        &self,
        identity: &str,
        n: usize,
        entity: EntityKey,
        at: Timestamp,
        body: FactBody,
    ) -> Fact {
        Fact {
            entity,
            id: format!("{identity}#{n}"),
            at: at.0,
            body,
        }
    }

    /// `<kind>:<short digest of the raw body>`: the same bytes always give the same id.
    fn body_identity(&self, kind: &str) -> String {
        format!("{kind}:{}", short_digest(self.body))
    }

    /// A lifecycle step of a PR or an issue (`<kind>:<action>`, under its `updated_at`), else
    /// the body hash: a step happens once at its time, whichever source tells of it.
    fn change_identity(&self, kind: &str, action: &str) -> String {
        match action {
            "opened" | "closed" | "reopened" | "ready_for_review" | "converted_to_draft" => {
                format!("{kind}:{action}")
            }
            _ => self.body_identity(kind),
        }
    }

    /// The payload's own id when it has one, else the body hash.
    fn identity(&self, kind: &str, id: Option<u64>) -> String {
        match id {
            Some(id) => format!("{kind}:{id}"),
            None => self.body_identity(kind),
        }
    }
}

// ---- payload shapes (only the fields we read) -----------------------------------------------

#[derive(Deserialize)]
struct User {
    login: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// GitHub shows deleted accounts as `ghost`; a `null` user is treated the same way rather than
/// rejecting the delivery.
fn actor(user: Option<&User>) -> Actor {
    match user {
        Some(u) => github_actor(&u.login, u.kind.as_deref()),
        None => github_actor("ghost", None),
    }
}

fn login(user: Option<&User>) -> Option<String> {
    user.map(|u| u.login.clone())
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
    default_branch: String,
}

impl Repository {
    fn name(&self) -> Result<RepoName, IngestError> {
        repo_name(&self.full_name, "repository.full_name")
    }
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

fn label_names(labels: &[Label]) -> Vec<String> {
    labels.iter().map(|l| l.name.clone()).collect()
}

#[derive(Deserialize)]
struct GitRef {
    #[serde(rename = "ref")]
    name: String,
    #[serde(default)]
    sha: Option<String>,
    /// The repository the ref lives in: a fork's for a fork PR's head. `null` when the fork
    /// was deleted.
    #[serde(default)]
    repo: Option<HeadRepository>,
}

#[derive(Deserialize)]
struct HeadRepository {
    full_name: String,
}

#[derive(Deserialize)]
struct PullRequestEvent {
    action: String,
    pull_request: PullRequest,
    repository: Repository,
}

#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    title: String,
    body: Option<String>,
    user: Option<User>,
    #[serde(default)]
    draft: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
    closed_at: Option<Timestamp>,
    merged_at: Option<Timestamp>,
    merge_commit_sha: Option<String>,
    head: GitRef,
    base: GitRef,
    additions: Option<u64>,
    deletions: Option<u64>,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: Vec<Label>,
    html_url: Option<String>,
}

/// The slice of a PR that review and comment payloads carry.
#[derive(Deserialize)]
struct PrRef {
    number: u64,
    user: Option<User>,
    updated_at: Option<Timestamp>,
}

#[derive(Deserialize)]
struct ReviewEvent {
    action: String,
    review: Review,
    pull_request: PrRef,
    repository: Repository,
}

#[derive(Deserialize)]
struct Review {
    id: u64,
    user: Option<User>,
    state: String,
    submitted_at: Option<Timestamp>,
    body: Option<String>,
}

#[derive(Deserialize)]
struct Comment {
    #[serde(default)]
    id: Option<u64>,
    user: Option<User>,
    created_at: Timestamp,
}

#[derive(Deserialize)]
struct ReviewCommentEvent {
    action: String,
    comment: Comment,
    pull_request: PrRef,
    repository: Repository,
}

#[derive(Deserialize)]
struct IssueCommentEvent {
    action: String,
    comment: Comment,
    issue: CommentedIssue,
    repository: Repository,
}

/// The slice of an issue a comment needs; the rest of the issue is not required to be there.
#[derive(Deserialize)]
struct CommentedIssue {
    number: u64,
    user: Option<User>,
    /// Present (non-null) exactly when the issue is a pull request.
    pull_request: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    #[serde(default)]
    title: String,
    state: Option<String>,
    created_at: Timestamp,
    updated_at: Option<Timestamp>,
    closed_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: Vec<Label>,
    html_url: Option<String>,
    /// Present (non-null) exactly when the issue is a pull request.
    pull_request: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct IssuesEvent {
    action: String,
    issue: Issue,
    repository: Repository,
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    forced: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    commits: Vec<PushCommit>,
    head_commit: Option<PushCommit>,
    repository: PushRepository,
}

#[derive(Deserialize)]
struct PushRepository {
    full_name: String,
    default_branch: String,
    pushed_at: Option<EpochOrTimestamp>,
}

#[derive(Deserialize)]
struct PushCommit {
    id: String,
    timestamp: Timestamp,
    author: Option<CommitAuthor>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct CommitAuthor {
    username: Option<String>,
}

// ---- events -----------------------------------------------------------------------------------

fn pull_request(facts: &Facts, e: PullRequestEvent) -> Result<Normalized, IngestError> {
    let action = match e.action.as_str() {
        "opened" => PrAction::Opened,
        "edited" => PrAction::Edited,
        "reopened" => PrAction::Reopened,
        "closed" => PrAction::Closed,
        "synchronize" => PrAction::Synchronize,
        "ready_for_review" => PrAction::ReadyForReview,
        "converted_to_draft" => PrAction::ConvertedToDraft,
        "labeled" => PrAction::Labeled,
        "unlabeled" => PrAction::Unlabeled,
        // Assignments, review requests, auto-merge and the like: the action itself means nothing
        // to metrics, but the snapshot keeps title and labels current.
        _ => PrAction::Other,
    };
    let pr = e.pull_request;
    let entity = EntityKey::PullRequest {
        repo: e.repository.name()?,
        number: pr.number,
    };
    let snapshot = PrSnapshot {
        action,
        title: pr.title,
        body: pr.body,
        author: actor(pr.user.as_ref()),
        draft: pr.draft,
        created_at: pr.created_at.0,
        updated_at: pr.updated_at.0,
        closed_at: pr.closed_at.map(|t| t.0),
        merged_at: pr.merged_at.map(|t| t.0),
        // An unmerged PR's `merge_commit_sha` is GitHub's test merge, a commit that never lands;
        // keeping it would let a deployment appear to ship a PR that was never merged.
        merge_commit_sha: pr.merged_at.and(pr.merge_commit_sha),
        head_sha: pr.head.sha,
        head_repo: pr.head.repo.map(|r| r.full_name.to_ascii_lowercase()),
        head_ref: pr.head.name,
        base_ref: pr.base.name,
        default_branch: e.repository.default_branch,
        additions: pr.additions,
        deletions: pr.deletions,
        labels: label_names(&pr.labels),
        html_url: pr.html_url,
    };
    // `updated_at` moves with every change GitHub reports, so it orders a PR's snapshots.
    let identity = facts.change_identity("pr", &e.action);
    Ok(facts.one(
        &identity,
        entity,
        pr.updated_at,
        FactBody::PullRequest(snapshot),
    ))
}

fn review(facts: &Facts, e: ReviewEvent) -> Result<Normalized, IngestError> {
    let entity = EntityKey::PullRequest {
        repo: e.repository.name()?,
        number: e.pull_request.number,
    };
    let reviewer = actor(e.review.user.as_ref());
    match e.action.as_str() {
        "submitted" => {
            // Webhooks send lower case, the REST API upper case; accept both.
            let state = match e.review.state.to_ascii_lowercase().as_str() {
                "approved" => ReviewState::Approved,
                "changes_requested" => ReviewState::ChangesRequested,
                "commented" => ReviewState::Commented,
                "dismissed" => ReviewState::Dismissed,
                _ => return Ok(Normalized::Ignored("review state not tracked")),
            };
            let submitted_at = e.review.submitted_at.ok_or(IngestError::MissingField {
                path: "review.submitted_at".into(),
            })?;
            let body = FactBody::Review {
                reviewer,
                state,
                submitted_at: submitted_at.0,
                body_nonempty: e.review.body.is_some_and(|b| !b.trim().is_empty()),
                pr_author: login(e.pull_request.user.as_ref()),
            };
            Ok(facts.one(
                &format!("review:{}", e.review.id),
                entity,
                submitted_at,
                body,
            ))
        }
        "dismissed" => {
            // The payload has no dismissal time. The PR's `updated_at` moves when a review is
            // dismissed; the max keeps the dismissal after the review it dismisses.
            let at = match (e.review.submitted_at, e.pull_request.updated_at) {
                (Some(a), Some(b)) => a.0.max(b.0),
                (Some(a), None) | (None, Some(a)) => a.0,
                (None, None) => {
                    return Err(IngestError::MissingField {
                        path: "pull_request.updated_at".into(),
                    })
                }
            };
            let body = FactBody::ReviewDismissed {
                reviewer,
                review_id: e.review.id,
            };
            let identity = format!("review:{}:dismissed", e.review.id);
            Ok(facts.one(&identity, entity, Timestamp(at), body))
        }
        _ => Ok(Normalized::Ignored("unsupported action")),
    }
}

fn review_comment(facts: &Facts, e: ReviewCommentEvent) -> Result<Normalized, IngestError> {
    if e.action != "created" {
        return Ok(Normalized::Ignored("unsupported action"));
    }
    comment(
        facts,
        ("rc", CommentKind::Review),
        e.repository.name()?,
        e.pull_request.number,
        e.pull_request.user.as_ref(),
        &e.comment,
    )
}

fn issue_comment(facts: &Facts, e: IssueCommentEvent) -> Result<Normalized, IngestError> {
    if e.action != "created" {
        return Ok(Normalized::Ignored("unsupported action"));
    }
    if e.issue.pull_request.is_none() {
        return Ok(Normalized::Ignored(
            "comment on an issue, not a pull request",
        ));
    }
    comment(
        facts,
        ("ic", CommentKind::Conversation),
        e.repository.name()?,
        e.issue.number,
        e.issue.user.as_ref(),
        &e.comment,
    )
}

/// A new comment on PR `number`, of `kind`, as one fact; `prefix` keeps review comment ids
/// (`rc:`) and conversation comment ids (`ic:`) apart.
fn comment(
    facts: &Facts,
    (prefix, kind): (&str, CommentKind),
    repo: RepoName,
    number: u64,
    pr_author: Option<&User>,
    comment: &Comment,
) -> Result<Normalized, IngestError> {
    let entity = EntityKey::PullRequest { repo, number };
    let body = FactBody::Comment {
        commenter: actor(comment.user.as_ref()),
        kind,
        created_at: comment.created_at.0,
        pr_author: login(pr_author),
    };
    let identity = facts.identity(prefix, comment.id);
    Ok(facts.one(&identity, entity, comment.created_at, body))
}

fn push(facts: &Facts, e: PushEvent) -> Result<Normalized, IngestError> {
    if e.git_ref.starts_with("refs/tags/") {
        return Ok(Normalized::Ignored("tag push"));
    }
    let Some(branch) = e.git_ref.strip_prefix("refs/heads/") else {
        return Ok(Normalized::Ignored("push to a ref that is not a branch"));
    };
    if e.deleted {
        return Ok(Normalized::Ignored("branch deletion"));
    }
    let repo = repo_name(&e.repository.full_name, "repository.full_name")?;
    // Push time orders a branch's pushes when the before/after chain has gaps. `pushed_at` is
    // the push itself; commit timestamps are author-controlled and a rebase keeps old ones, so
    // they are only the fallback.
    let at = e
        .repository
        .pushed_at
        .map(|t| Timestamp(t.0))
        .or(e.head_commit.as_ref().map(|c| c.timestamp))
        .or(e.commits.iter().map(|c| c.timestamp).max_by_key(|t| t.0))
        .ok_or(IngestError::MissingField {
            path: "repository.pushed_at".into(),
        })?;
    let commits = e.commits.into_iter().map(|c| Commit {
        sha: c.id,
        authored_at: c.timestamp.0,
        author_login: c.author.and_then(|a| a.username),
        message: c.message,
    });
    let to_default_branch = branch == e.repository.default_branch;
    let (identity, body) = push_body(e.before, e.after, commits, e.forced, to_default_branch);
    let entity = EntityKey::Branch {
        repo,
        branch: branch.to_string(),
    };
    Ok(facts.one(&identity, entity, at, body))
}

fn issues(facts: &Facts, e: IssuesEvent) -> Result<Normalized, IngestError> {
    let action = match e.action.as_str() {
        "opened" => IncidentAction::Opened,
        "closed" => IncidentAction::Resolved,
        "reopened" => IncidentAction::Reopened,
        "labeled" | "unlabeled" | "edited" => IncidentAction::Updated,
        _ => return Ok(Normalized::Ignored("unsupported action")),
    };
    let issue = e.issue;
    if issue.pull_request.is_some() {
        return Ok(Normalized::Ignored("issue event for a pull request"));
    }
    let repo = e.repository.name()?;
    let labels = label_names(&issue.labels);
    // A label spelled like a severity is the source saying so directly; any other mapping is
    // config's business.
    let severity = labels
        .iter()
        .map(|l| l.to_ascii_lowercase())
        .find(|l| matches!(l.as_str(), "sev1" | "sev2" | "sev3" | "sev4"));
    let closed = issue.state.as_deref() == Some("closed");
    let entity = EntityKey::Incident {
        id: format!("gh:{repo}#{}", issue.number),
    };
    let body = FactBody::Incident {
        action,
        title: issue.title,
        // The repository's services, decided with config at derive time (`repo` below).
        service: None,
        service_id: None,
        severity,
        urgency: None,
        priority: None,
        labels,
        deployment_sha: None,
        repo: Some(repo),
        html_url: issue.html_url,
        opened_at: Some(issue.created_at.0),
        resolved_at: if closed {
            issue.closed_at.map(|t| t.0)
        } else {
            None
        },
    };
    let at = issue.updated_at.unwrap_or(issue.created_at);
    let identity = facts.change_identity("issue", &e.action);
    Ok(facts.one(&identity, entity, at, body))
}

mod deployments;
mod security;

#[cfg(test)]
pub(crate) mod tests;
