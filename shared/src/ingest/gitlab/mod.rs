//! GitLab webhook deliveries (GitLab.com and self-managed) to the facts GitHub's parser makes,
//! so every metric works for GitLab projects unchanged: a merge request is a pull request
//! (keyed by its `iid`), an approval a review, a note on a merge request a comment, a
//! deployment a deployment, a pipeline a workflow run, an incident an incident.
//!
//! Repositories are named by their web address without the scheme (`project.web_url`:
//! `gitlab.com/group/sub/project`, `git.acme.example/platform/api`), which keeps nested groups
//! and self-managed hosts apart.
//!
//! Fact ids come from the body, never from `X-Gitlab-Event-UUID`: `note:<id>`,
//! `deployment:<id>:<status>`, `pipeline:<id>:<status>`, `push:<before>..<after>`,
//! `approval:<username>`, a merge request's lifecycle step (`pr:opened`, `pr:closed`, ...,
//! under its `updated_at`), else a hash of the body. Every time comes from the payload too, so
//! a redelivery (or GitLab's retry) writes nothing new.
//!
//! GitLab disables a webhook that keeps failing, so a delivery is only rejected when it
//! cannot make a fact at all (no `iid`, an unreadable time); missing optional data degrades
//! the fact, and events or states Flowmeter does not read are acknowledged and ignored.

mod payload;
mod signing;

pub use signing::{signing_timestamp_ms, verify_signing_token};

use super::json::from_value;
use super::{check_id, parse_body, push_body, IngestError, Normalized};
use crate::model::{
    short_digest, Actor, CommentKind, Commit, DeploymentState, EntityKey, Fact, FactBody,
    IncidentAction, PrAction, PrSnapshot, ReviewState,
};
use payload::{
    label_titles, DeploymentEvent, GlTime, IssueEvent, MergeRequestEvent, NoteEvent, PipelineEvent,
    PushEvent, Reviewer, User,
};

/// Normalizes one delivery. `event` is the `X-Gitlab-Event` header (`Merge Request Hook`,
/// ...), `delivery` the `X-Gitlab-Event-UUID` header (required, not part of any fact id).
pub fn normalize_gitlab(
    event: &str,
    delivery: &str,
    body: &[u8],
) -> Result<Normalized, IngestError> {
    check_id(delivery, "X-Gitlab-Event-UUID")?;
    // Parsed whatever the event: a malformed body is a 400 even for events we skip.
    let root = parse_body(body)?;
    match event {
        "Merge Request Hook" => merge_request(body, from_value(&root)?),
        "Push Hook" => push(from_value(&root)?),
        "Note Hook" | "Confidential Note Hook" => note(from_value(&root)?),
        "Deployment Hook" => deployment(from_value(&root)?),
        "Pipeline Hook" => pipeline(from_value(&root)?),
        "Issue Hook" | "Confidential Issue Hook" => issue(body, from_value(&root)?),
        "Tag Push Hook" => Ok(Normalized::Ignored("tag push")),
        _ => Ok(Normalized::Ignored("unsupported event")),
    }
}

/// The delivery's facts on `entity`, numbered in emission order under one identity:
/// `<identity>#<n>`.
fn numbered(identity: &str, entity: &EntityKey, items: Vec<(GlTime, FactBody)>) -> Vec<Fact> {
    let fact = |(n, (at, body)): (usize, (GlTime, FactBody))| Fact {
        entity: entity.clone(),
        id: format!("{identity}#{n}"),
        at: at.0,
        body,
    };
    items.into_iter().enumerate().map(fact).collect()
}

/// The single fact of a delivery.
fn one(identity: &str, entity: &EntityKey, at: GlTime, body: FactBody) -> Normalized {
    Normalized::Facts(numbered(identity, entity, vec![(at, body)]))
}

/// `<kind>:<short digest of the raw body>`, for changes without an id of their own: the same
/// bytes always give the same id.
fn body_identity(body: &[u8], kind: &str) -> String {
    format!("{kind}:{}", short_digest(body))
}

// ---- people -----------------------------------------------------------------------------------

/// Usernames of GitLab's own internal bot users.
const GITLAB_BOTS: &[&str] = &[
    "alert-bot",
    "support-bot",
    "security-bot",
    "automation-bot",
    "visual-review-bot",
    "migration-bot",
    "admin-bot",
    "gitlab-llm-bot",
    "duo-code-review-bot",
    "ghost",
];

/// A bot by what the username says: project and group access token bots
/// (`project_<id>_bot`, `project_<id>_bot_<hex>`, `group_<id>_bot_<hex>`), service accounts
/// (`service_account_…`), GitLab's internal bots, and the `[bot]` suffix other forges use.
fn is_bot_username(username: &str) -> bool {
    let lower = username.to_ascii_lowercase();
    let token_bot = ["project_", "group_"].iter().any(|prefix| {
        lower.strip_prefix(prefix).is_some_and(|rest| {
            let (id, tail) = rest.split_at(
                rest.find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len()),
            );
            !id.is_empty() && (tail == "_bot" || tail.starts_with("_bot_"))
        })
    });
    token_bot
        || lower.starts_with("service_account_")
        || lower.ends_with("[bot]")
        || GITLAB_BOTS.contains(&lower.as_str())
}

fn actor(username: &str, bot: Option<bool>) -> Actor {
    Actor {
        login: username.to_string(),
        is_bot: bot == Some(true) || is_bot_username(username),
    }
}

fn user_actor(user: &User) -> Actor {
    actor(&user.username, user.bot)
}

/// A merge request's author: its payload names them by `author_id` only, so their username is
/// known when someone the payload does name (the acting `user`, an assignee, a reviewer) has
/// that id. `None` when nobody does.
fn named_author(e: &MergeRequestEvent) -> Option<Actor> {
    let id = e.object_attributes.author_id?;
    let people = std::iter::once((e.user.id, &e.user.username, e.user.bot))
        .chain(e.assignees.iter().map(|u| (u.id, &u.username, u.bot)))
        .chain(e.reviewers.iter().map(|r| (r.id, &r.username, r.bot)));
    people
        .into_iter()
        .find(|(candidate, _, _)| *candidate == Some(id))
        .map(|(_, username, bot)| actor(username, bot))
}

/// The author as a snapshot records it: their username when the payload names them, else
/// `gitlab-user:<author_id>` (stable for the merge request), `ghost` without any id.
fn snapshot_author(e: &MergeRequestEvent) -> Actor {
    named_author(e).unwrap_or_else(|| match e.object_attributes.author_id {
        Some(id) => actor(&format!("gitlab-user:{id}"), None),
        None => actor("ghost", None),
    })
}

// ---- merge requests ---------------------------------------------------------------------------

fn merge_request(raw: &[u8], e: MergeRequestEvent) -> Result<Normalized, IngestError> {
    let entity = EntityKey::PullRequest {
        repo: e.project.name("project.web_url")?,
        number: e.object_attributes.iid,
    };
    let action = e.object_attributes.action.clone().unwrap_or_default();
    match action.as_str() {
        // `approval` is one user's approval; `approved` is the last one a rule needed, sent
        // as its own delivery for the same approver: one review, so one id.
        "approval" | "approved" => {
            let body = FactBody::Review {
                reviewer: user_actor(&e.user),
                state: ReviewState::Approved,
                submitted_at: e.object_attributes.updated_at.0,
                body_nonempty: false,
                pr_author: named_author(&e).map(|a| a.login),
            };
            let identity = format!("approval:{}", e.user.username);
            let at = e.object_attributes.updated_at;
            Ok(one(&identity, &entity, at, body))
        }
        // A withdrawn approval changes no metric (a GitHub dismissal does not either).
        "unapproval" | "unapproved" => Ok(Normalized::Ignored("approval withdrawn")),
        _ => Ok(Normalized::Facts(merge_request_facts(
            raw, &action, &entity, e,
        ))),
    }
}

/// What an update changed, in GitHub's terms: a draft toggle, new commits, labels, an edit.
fn update_action(e: &MergeRequestEvent) -> PrAction {
    let changes = &e.changes;
    if let Some(draft) = &changes.draft {
        match (draft.previous, draft.current) {
            (Some(true), Some(false)) => return PrAction::ReadyForReview,
            (Some(false), Some(true)) => return PrAction::ConvertedToDraft,
            _ => {}
        }
    }
    if e.object_attributes.oldrev.is_some() {
        return PrAction::Synchronize;
    }
    if let Some(labels) = &changes.labels {
        let count = |l: &Option<Vec<payload::Label>>| l.as_ref().map_or(0, Vec::len);
        return if count(&labels.current) >= count(&labels.previous) {
            PrAction::Labeled
        } else {
            PrAction::Unlabeled
        };
    }
    if changes.title.is_some() || changes.description.is_some() {
        return PrAction::Edited;
    }
    PrAction::Other
}

/// The merge request's snapshot, then the reviews the delivery reports (a reviewer who
/// requested changes or submitted a review), all under one identity.
fn merge_request_facts(
    raw: &[u8],
    action: &str,
    entity: &EntityKey,
    e: MergeRequestEvent,
) -> Vec<Fact> {
    let pr_action = match action {
        "open" => PrAction::Opened,
        "reopen" => PrAction::Reopened,
        "close" | "merge" => PrAction::Closed,
        "update" => update_action(&e),
        _ => PrAction::Other,
    };
    let identity = match pr_action {
        PrAction::Opened => "pr:opened".to_string(),
        PrAction::Reopened => "pr:reopened".to_string(),
        PrAction::Closed => "pr:closed".to_string(),
        PrAction::ReadyForReview => "pr:ready_for_review".to_string(),
        PrAction::ConvertedToDraft => "pr:converted_to_draft".to_string(),
        _ => body_identity(raw, "pr"),
    };
    let at = e.object_attributes.updated_at;
    let reviews = submitted_reviews(&e);
    let snapshot = snapshot(action, pr_action, &e);
    let pr_author = named_author(&e).map(|a| a.login);
    let reviews = reviews.into_iter().map(|(reviewer, state)| {
        let body = FactBody::Review {
            reviewer,
            state,
            submitted_at: at.0,
            body_nonempty: false,
            pr_author: pr_author.clone(),
        };
        (at, body)
    });
    let items = std::iter::once((at, FactBody::PullRequest(snapshot)))
        .chain(reviews)
        .collect();
    numbered(&identity, entity, items)
}

fn snapshot(action: &str, pr_action: PrAction, e: &MergeRequestEvent) -> PrSnapshot {
    let mr = &e.object_attributes;
    // GitLab's payload has no merge or close time: the delivery of the merge (or close) is
    // that step, at the merge request's `updated_at`. Later deliveries do not repeat it.
    let merged = action == "merge";
    let closed = merged || action == "close";
    let labels = e.labels.as_ref().or(mr.labels.as_ref());
    PrSnapshot {
        action: pr_action,
        title: mr.title.clone(),
        body: mr.description.clone(),
        author: snapshot_author(e),
        draft: mr.draft.or(mr.work_in_progress).unwrap_or(false),
        created_at: mr.created_at.0,
        updated_at: mr.updated_at.0,
        closed_at: closed.then_some(mr.updated_at.0),
        merged_at: merged.then_some(mr.updated_at.0),
        // Before the merge, GitLab's `merge_commit_sha` is empty; it only means a landed
        // commit once merged.
        merge_commit_sha: if merged {
            mr.merge_commit_sha.clone().filter(|s| !s.is_empty())
        } else {
            None
        },
        head_ref: mr.source_branch.clone(),
        head_sha: mr.last_commit.as_ref().map(|c| c.id.clone()),
        head_repo: mr
            .source
            .as_ref()
            .and_then(|s| s.name("object_attributes.source.web_url").ok()),
        base_ref: mr.target_branch.clone(),
        default_branch: e.project.default_branch.clone().unwrap_or_default(),
        additions: None,
        deletions: None,
        labels: labels.map(|l| label_titles(l)).unwrap_or_default(),
        html_url: mr.url.clone(),
    }
}

/// Reviewers whose review state this delivery changed to `requested_changes` (GitLab's
/// "Request changes") or `reviewed` (a review submitted without approving).
fn submitted_reviews(e: &MergeRequestEvent) -> Vec<(Actor, ReviewState)> {
    let Some(change) = &e.changes.reviewers else {
        return Vec::new();
    };
    let previous = change.previous.as_deref().unwrap_or_default();
    let was = |r: &Reviewer| {
        previous
            .iter()
            .find(|p| p.id.is_some() && p.id == r.id || p.username == r.username)
            .and_then(|p| p.state.clone())
    };
    change
        .current
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let state = match r.state.as_deref() {
                Some("requested_changes") => ReviewState::ChangesRequested,
                Some("reviewed") => ReviewState::Commented,
                _ => return None,
            };
            (was(r) != r.state).then(|| (actor(&r.username, r.bot), state))
        })
        .collect()
}

// ---- notes ------------------------------------------------------------------------------------

fn note(e: NoteEvent) -> Result<Normalized, IngestError> {
    let n = &e.object_attributes;
    if n.noteable_type != "MergeRequest" {
        return Ok(Normalized::Ignored(
            "comment on something other than a merge request",
        ));
    }
    if n.system == Some(true) {
        return Ok(Normalized::Ignored("system note"));
    }
    if n.action.as_deref().is_some_and(|a| a != "create") {
        return Ok(Normalized::Ignored("unsupported action"));
    }
    let Some(mr) = &e.merge_request else {
        return Err(IngestError::MissingField {
            path: "merge_request".into(),
        });
    };
    let kind = if n.kind.as_deref() == Some("DiffNote") || n.position.is_some() {
        CommentKind::Review
    } else {
        CommentKind::Conversation
    };
    let entity = EntityKey::PullRequest {
        repo: e.project.name("project.web_url")?,
        number: mr.iid,
    };
    let pr_author =
        (mr.author_id.is_some() && e.user.id == mr.author_id).then(|| e.user.username.clone());
    let body = FactBody::Comment {
        commenter: user_actor(&e.user),
        kind,
        created_at: n.created_at.0,
        pr_author,
    };
    let identity = format!("note:{}", n.id);
    Ok(one(&identity, &entity, n.created_at, body))
}

// ---- pushes -----------------------------------------------------------------------------------

/// Git's null object id (SHA-1 or SHA-256): a ref created from nothing, or deleted.
fn is_null_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

fn push(mut e: PushEvent) -> Result<Normalized, IngestError> {
    if e.git_ref.starts_with("refs/tags/") {
        return Ok(Normalized::Ignored("tag push"));
    }
    let Some(branch) = e.git_ref.strip_prefix("refs/heads/").map(str::to_string) else {
        return Ok(Normalized::Ignored("push to a ref that is not a branch"));
    };
    if is_null_sha(&e.after) {
        return Ok(Normalized::Ignored("branch deletion"));
    }
    let repo = e.project.name("project.web_url")?;
    // GitLab lists commits oldest first, the pushed head last; a list that starts with the
    // head is turned around so the fact keeps Git's order either way.
    let starts_with_head = e.commits.first().is_some_and(|c| c.id == e.after);
    let ends_with_head = e.commits.last().is_some_and(|c| c.id == e.after);
    if starts_with_head && !ends_with_head {
        e.commits.reverse();
    }
    // GitLab's push payload has no push time: the head commit's time stands in for it (the
    // newest commit time without the head), and a push without commits has no time at all.
    let head_time = e
        .commits
        .iter()
        .find(|c| c.id == e.after)
        .map(|c| c.timestamp);
    let Some(at) = head_time.or(e.commits.iter().map(|c| c.timestamp).max_by_key(|t| t.0)) else {
        return Ok(Normalized::Ignored("push without commits carries no time"));
    };
    let to_default_branch = e.project.default_branch.as_deref() == Some(branch.as_str());
    let commits = e.commits.into_iter().map(|c| Commit {
        sha: c.id,
        authored_at: c.timestamp.0,
        // Commits carry the Git author's name and email, no GitLab username.
        author_login: None,
        message: c.message,
    });
    // GitLab does not say whether a push was forced.
    let forced = false;
    let (identity, body) = push_body(e.before, e.after, commits, forced, to_default_branch);
    let entity = EntityKey::Branch { repo, branch };
    Ok(one(&identity, &entity, at, body))
}

// ---- deployments and pipelines ----------------------------------------------------------------

/// The deployed commit: the full SHA at the end of `commit_url` when it extends `short_sha`,
/// else `short_sha` itself.
fn deployed_sha(e: &DeploymentEvent) -> Result<String, IngestError> {
    let full = e
        .commit_url
        .as_deref()
        .and_then(|url| url.trim_end_matches('/').rsplit('/').next())
        .filter(|s| matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .filter(|s| {
            e.short_sha
                .as_deref()
                .is_none_or(|short| s.starts_with(short))
        });
    full.map(str::to_ascii_lowercase)
        .or_else(|| e.short_sha.clone().filter(|s| !s.is_empty()))
        .ok_or(IngestError::MissingField {
            path: "short_sha".into(),
        })
}

fn deployment(e: DeploymentEvent) -> Result<Normalized, IngestError> {
    let state = match e.status.as_str() {
        "running" => DeploymentState::InProgress,
        "success" => DeploymentState::Success,
        "failed" => DeploymentState::Failure,
        "created" => DeploymentState::Queued,
        "blocked" => DeploymentState::Pending,
        // canceled, skipped: nothing was deployed, and it must not count as an attempt.
        _ => {
            return Ok(Normalized::Ignored(
                "deployment neither ran, succeeded nor failed",
            ))
        }
    };
    let sha = deployed_sha(&e)?;
    let entity = EntityKey::Deployment {
        repo: e.project.name("project.web_url")?,
        id: format!("gl:{}", e.deployment_id),
    };
    let at = e.status_changed_at;
    // Each delivery repeats what is deployed where, so the deployment is complete whichever of
    // its deliveries arrive.
    let requested = FactBody::DeploymentRequested {
        environment: e.environment.clone(),
        sha: sha.clone(),
        git_ref: e.git_ref.clone(),
        creator: e.user.as_ref().map(user_actor),
        workflow: None,
        workflow_run: None,
    };
    let status = FactBody::DeploymentStatus {
        state,
        environment: Some(e.environment),
        sha: Some(sha),
        started_at: (state == DeploymentState::InProgress).then_some(at.0),
        workflow_run: None,
    };
    let identity = format!("deployment:{}:{}", e.deployment_id, e.status);
    let items = vec![(at, requested), (at, status)];
    Ok(Normalized::Facts(numbered(&identity, &entity, items)))
}

/// The name `deploy_workflows` matches a pipeline by: its `name` (`workflow:name` in
/// `.gitlab-ci.yml`), else `pipeline:<ref>` (`pipeline:main`, `pipeline:v1.2.0`).
fn pipeline_name(name: Option<&str>, git_ref: Option<&str>) -> String {
    match (name.filter(|n| !n.trim().is_empty()), git_ref) {
        (Some(name), _) => name.to_string(),
        (None, Some(r)) if !r.is_empty() => format!("pipeline:{r}"),
        (None, _) => "pipeline".to_string(),
    }
}

fn pipeline(e: PipelineEvent) -> Result<Normalized, IngestError> {
    let p = e.object_attributes;
    let state = match p.status.as_str() {
        "success" => DeploymentState::Success,
        "failed" => DeploymentState::Failure,
        // Running, canceled, skipped, manual...: nothing finished deploying.
        _ => return Ok(Normalized::Ignored("pipeline neither succeeded nor failed")),
    };
    let Some(finished) = p.finished_at else {
        return Ok(Normalized::Ignored(
            "finished pipeline without a finish time",
        ));
    };
    let entity = EntityKey::Deployment {
        repo: e.project.name("project.web_url")?,
        id: format!("glp:{}", p.id),
    };
    let workflow = pipeline_name(p.name.as_deref(), p.git_ref.as_deref());
    // Whether this pipeline deploys is config's (`deploy_workflows`), at derive time; every
    // finished pipeline is a candidate, and one that counts deploys to production.
    let requested = FactBody::DeploymentRequested {
        environment: "production".into(),
        sha: p.sha.clone(),
        git_ref: p.git_ref,
        creator: e.user.as_ref().map(user_actor),
        workflow: Some(workflow),
        workflow_run: None,
    };
    let status = FactBody::DeploymentStatus {
        state,
        environment: Some("production".into()),
        sha: Some(p.sha),
        started_at: Some(p.created_at.0),
        workflow_run: None,
    };
    // A retried pipeline keeps its id and finishes again: each outcome is its own status.
    let identity = format!("pipeline:{}:{}", p.id, p.status);
    let items = vec![(p.created_at, requested), (finished, status)];
    Ok(Normalized::Facts(numbered(&identity, &entity, items)))
}

// ---- incidents --------------------------------------------------------------------------------

/// GitLab's incident severities are its S1 to S4: `critical` is `sev1` ... `low` is `sev4`.
fn severity(raw: Option<&str>) -> Option<String> {
    let level = match raw?.to_ascii_lowercase().as_str() {
        "critical" => "sev1",
        "high" => "sev2",
        "medium" => "sev3",
        "low" => "sev4",
        _ => return None,
    };
    Some(level.to_string())
}

fn issue(raw: &[u8], e: IssueEvent) -> Result<Normalized, IngestError> {
    let i = e.object_attributes;
    let is_incident = [i.kind.as_deref(), i.issue_type.as_deref()]
        .into_iter()
        .flatten()
        .any(|k| k.eq_ignore_ascii_case("incident"));
    if !is_incident {
        return Ok(Normalized::Ignored("issue that is not an incident"));
    }
    let (action, step) = match i.action.as_deref() {
        Some("open") => (IncidentAction::Opened, Some("opened")),
        Some("close") => (IncidentAction::Resolved, Some("closed")),
        Some("reopen") => (IncidentAction::Reopened, Some("reopened")),
        Some("update") => (IncidentAction::Updated, None),
        _ => return Ok(Normalized::Ignored("unsupported action")),
    };
    let repo = e.project.name("project.web_url")?;
    let at = i.updated_at.unwrap_or(i.created_at);
    let closed = i.state.as_deref() == Some("closed");
    let resolved_at = match (closed, i.closed_at) {
        (false, _) => None,
        (true, Some(t)) => Some(t.0),
        (true, None) => (action == IncidentAction::Resolved).then_some(at.0),
    };
    let labels = e
        .labels
        .as_ref()
        .or(i.labels.as_ref())
        .map(|l| label_titles(l))
        .unwrap_or_default();
    let entity = EntityKey::Incident {
        id: format!("gl:{repo}#{}", i.iid),
    };
    let body = FactBody::Incident {
        action,
        title: i.title,
        service: None,
        service_id: None,
        severity: severity(i.severity.as_deref()),
        urgency: None,
        priority: None,
        labels,
        deployment_sha: None,
        repo: Some(repo),
        html_url: i.url,
        opened_at: Some(i.created_at.0),
        resolved_at,
    };
    let identity = match step {
        Some(step) => format!("issue:{step}"),
        None => body_identity(raw, "issue"),
    };
    Ok(one(&identity, &entity, at, body))
}

#[cfg(test)]
pub(crate) mod tests;
