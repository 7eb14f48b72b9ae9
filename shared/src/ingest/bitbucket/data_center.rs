//! Bitbucket Data Center (self-hosted): `pr:*` and `repo:refs_changed`.
//!
//! A repository is named by its web address, `<host>/projects/<KEY>/repos/<slug>` (with the
//! instance's context path, if any, after the host), read from the repository's
//! `links.self[0].href` without its scheme and trailing `/browse`. The payload has no other
//! source for the host, so a repository without that link is rejected, naming the field.

use serde::Deserialize;
use serde_json::Value;

use super::{fact, full_sha, oldest_first, review_identity, DcTime, Facts, ZERO_SHA};
use crate::ingest::json::{from_value, null_as_default};
use crate::ingest::{repo_name, IngestError, Normalized};
use crate::model::{
    capped_commit_message, commit_message_share, Actor, CommentKind, Commit, EntityKey, FactBody,
    PrAction, PrSnapshot, RepoName, ReviewState,
};

pub(super) fn normalize(
    facts: &Facts,
    event_key: &str,
    root: &Value,
) -> Result<Normalized, IngestError> {
    match event_key {
        "pr:opened" => pull_request(facts, from_value(root)?, PrAction::Opened),
        "pr:modified" => pull_request(facts, from_value(root)?, PrAction::Edited),
        "pr:from_ref_updated" => pull_request(facts, from_value(root)?, PrAction::Synchronize),
        "pr:merged" | "pr:declined" => pull_request(facts, from_value(root)?, PrAction::Closed),
        "pr:reviewer:approved" => review(facts, from_value(root)?, ReviewState::Approved),
        // `needs_work` is the documented key; the status is shown as "Changes requested".
        "pr:reviewer:needs_work" | "pr:reviewer:changes_requested" => {
            review(facts, from_value(root)?, ReviewState::ChangesRequested)
        }
        // As on Cloud: a withdrawn approval does not undo the review that happened.
        "pr:reviewer:unapproved" => Ok(Normalized::Ignored("review withdrawn")),
        "pr:comment:added" => comment(facts, from_value(root)?),
        "repo:refs_changed" => refs_changed(from_value(root)?),
        "diagnostics:ping" => Ok(Normalized::Ignored("ping")),
        _ => Ok(Normalized::Ignored("unsupported event")),
    }
}

// ---- payload shapes (only the fields we read) -----------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    name: Option<String>,
    slug: Option<String>,
    display_name: Option<String>,
    id: Option<u64>,
    /// `NORMAL` for people, `SERVICE` for service accounts (bots, integrations).
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

impl User {
    fn login(&self) -> String {
        [&self.name, &self.slug, &self.display_name]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| "ghost".to_string())
    }

    fn key(&self) -> String {
        self.id.map_or_else(|| self.login(), |id| id.to_string())
    }
}

fn actor(user: Option<&User>) -> Actor {
    match user {
        Some(u) => Actor {
            login: u.login(),
            is_bot: u.kind.as_deref() == Some("SERVICE"),
        },
        None => Actor {
            login: "ghost".into(),
            is_bot: false,
        },
    }
}

#[derive(Deserialize)]
struct Link {
    href: String,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default, rename = "self", deserialize_with = "null_as_default")]
    own: Vec<Link>,
}

impl Links {
    fn first(&self) -> Option<&str> {
        self.own.first().map(|l| l.href.as_str())
    }
}

#[derive(Deserialize)]
struct Repository {
    links: Option<Links>,
}

/// The repository's name from its web address; `path` is where the repository sits in the
/// payload, for the error.
fn repository_name(repo: Option<&Repository>, path: &str) -> Result<RepoName, IngestError> {
    let field = format!("{path}.links.self");
    let href = repo
        .and_then(|r| r.links.as_ref())
        .and_then(Links::first)
        .ok_or_else(|| IngestError::MissingField {
            path: field.clone(),
        })?;
    let without_scheme = href.split_once("://").map_or(href, |(_, rest)| rest);
    let trimmed = without_scheme.trim_end_matches('/');
    let web = trimmed.strip_suffix("/browse").unwrap_or(trimmed);
    repo_name(web, &field)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ref {
    id: String,
    display_id: Option<String>,
    latest_commit: Option<String>,
    repository: Option<Repository>,
}

impl Ref {
    /// The branch name: `refs/heads/<name>`, else what the payload displays.
    fn branch(&self) -> String {
        self.id
            .strip_prefix("refs/heads/")
            .map(str::to_string)
            .or_else(|| self.display_id.clone())
            .unwrap_or_else(|| self.id.clone())
    }
}

#[derive(Deserialize)]
struct Participant {
    user: Option<User>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullRequest {
    id: u64,
    title: String,
    description: Option<String>,
    author: Option<Participant>,
    state: String,
    #[serde(default, deserialize_with = "null_as_default")]
    draft: bool,
    created_date: DcTime,
    updated_date: DcTime,
    closed_date: Option<DcTime>,
    from_ref: Ref,
    to_ref: Ref,
    links: Option<Links>,
    properties: Option<Properties>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Properties {
    merge_commit: Option<MergeCommit>,
}

#[derive(Deserialize)]
struct MergeCommit {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullRequestEvent {
    pull_request: PullRequest,
}

/// The slice of a PR that review and comment payloads need.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrRef {
    id: u64,
    author: Option<Participant>,
    to_ref: RepoOnly,
}

#[derive(Deserialize)]
struct RepoOnly {
    repository: Option<Repository>,
}

impl PrRef {
    fn entity(&self) -> Result<EntityKey, IngestError> {
        Ok(EntityKey::PullRequest {
            repo: repository_name(
                self.to_ref.repository.as_ref(),
                "pullRequest.toRef.repository",
            )?,
            number: self.id,
        })
    }

    fn author(&self) -> Option<String> {
        self.author
            .as_ref()
            .and_then(|a| a.user.as_ref())
            .map(User::login)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewEvent {
    /// When the reviewer acted.
    date: DcTime,
    pull_request: PrRef,
    participant: Participant,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentEvent {
    pull_request: PrRef,
    comment: Comment,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    id: u64,
    created_date: DcTime,
    author: Option<User>,
    /// Present on a comment on a file or a line of the diff.
    anchor: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefsChanged {
    date: DcTime,
    repository: Repository,
    #[serde(default, deserialize_with = "null_as_default")]
    changes: Vec<RefChange>,
    /// From 8.x: the newest commits pushed (at most five by default), newest first.
    #[serde(default, deserialize_with = "null_as_default")]
    commits: Vec<PushCommit>,
    /// From 8.x: the commit the push moved the ref to.
    to_commit: Option<PushCommit>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefChange {
    ref_id: String,
    from_hash: String,
    to_hash: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PushCommit {
    id: String,
    author_timestamp: DcTime,
    author: Option<CommitAuthor>,
    message: Option<String>,
}

/// A Bitbucket user (with a `slug`) when the commit's author is one; else a bare git identity.
#[derive(Deserialize)]
struct CommitAuthor {
    name: Option<String>,
    slug: Option<String>,
}

// ---- events -----------------------------------------------------------------------------------

fn pull_request(
    facts: &Facts,
    e: PullRequestEvent,
    action: PrAction,
) -> Result<Normalized, IngestError> {
    let pr = e.pull_request;
    let repo = repository_name(
        pr.to_ref.repository.as_ref(),
        "pullRequest.toRef.repository",
    )?;
    let merged = pr.state == "MERGED";
    let closed = merged || pr.state == "DECLINED";
    let closed_at = closed.then(|| pr.closed_date.unwrap_or(pr.updated_date).0);
    let step = match action {
        PrAction::Opened => Some("opened"),
        PrAction::Closed if merged => Some("merged"),
        PrAction::Closed => Some("declined"),
        _ => None,
    };
    let base_ref = pr.to_ref.branch();
    let head_repo = repository_name(
        pr.from_ref.repository.as_ref(),
        "pullRequest.fromRef.repository",
    )
    .ok();
    let snapshot = PrSnapshot {
        action,
        title: pr.title,
        body: pr.description,
        author: actor(pr.author.as_ref().and_then(|a| a.user.as_ref())),
        draft: pr.draft,
        created_at: pr.created_date.0,
        updated_at: pr.updated_date.0,
        closed_at,
        merged_at: closed_at.filter(|_| merged),
        merge_commit_sha: pr
            .properties
            .and_then(|p| p.merge_commit)
            .filter(|_| merged)
            .map(|c| c.id),
        head_sha: full_sha(pr.from_ref.latest_commit.clone()),
        head_repo,
        head_ref: pr.from_ref.branch(),
        // Payloads do not name the default branch: the PR's target stands for it.
        default_branch: base_ref.clone(),
        base_ref,
        additions: None,
        deletions: None,
        labels: Vec::new(),
        html_url: pr.links.as_ref().and_then(Links::first).map(str::to_string),
    };
    let entity = EntityKey::PullRequest {
        repo,
        number: pr.id,
    };
    let identity = facts.pr_identity(step);
    Ok(facts.one(
        &identity,
        entity,
        pr.updated_date.0,
        FactBody::PullRequest(snapshot),
    ))
}

fn review(facts: &Facts, e: ReviewEvent, state: ReviewState) -> Result<Normalized, IngestError> {
    let entity = e.pull_request.entity()?;
    let reviewer = e.participant.user.as_ref();
    let at = e.date.0;
    let identity = review_identity(
        &reviewer.map(User::key).unwrap_or_default(),
        &format!("{state:?}"),
        at,
    );
    let body = FactBody::Review {
        reviewer: actor(reviewer),
        state,
        submitted_at: at,
        body_nonempty: false,
        pr_author: e.pull_request.author(),
    };
    Ok(facts.one(&identity, entity, at, body))
}

fn comment(facts: &Facts, e: CommentEvent) -> Result<Normalized, IngestError> {
    let c = e.comment;
    let (prefix, kind) = match c.anchor {
        Some(ref anchor) if !anchor.is_null() => ("rc", CommentKind::Review),
        _ => ("ic", CommentKind::Conversation),
    };
    let body = FactBody::Comment {
        commenter: actor(c.author.as_ref()),
        kind,
        created_at: c.created_date.0,
        pr_author: e.pull_request.author(),
    };
    let entity = e.pull_request.entity()?;
    Ok(facts.one(
        &format!("{prefix}:{}", c.id),
        entity,
        c.created_date.0,
        body,
    ))
}

/// One push fact per branch the push moved (tags and deletions are skipped). Up to 7.x a ref
/// change names only its `fromHash` and `toHash`; from 8.x the payload adds the newest commits
/// (five by default, newest first) and the new tip (`toCommit`). The commits are kept when
/// they are this change's (the push moved one branch and the newest is its `toHash`); a
/// branch's creation keeps only its tip, as the listed history is mostly other branches'.
fn refs_changed(e: RefsChanged) -> Result<Normalized, IngestError> {
    let repo = repository_name(Some(&e.repository), "repository")?;
    let branches: Vec<&RefChange> = e
        .changes
        .iter()
        .filter(|c| {
            c.ref_id.starts_with("refs/heads/") && c.kind != "DELETE" && c.to_hash != ZERO_SHA
        })
        .collect();
    let only_one = branches.len() == 1;
    let mut listed = Some(e.commits);
    let mut tip = e.to_commit;
    let mut out = Vec::new();
    for change in branches {
        let created = change.from_hash == ZERO_SHA || change.kind == "ADD";
        let commits: Vec<PushCommit> = if created {
            tip.take()
                .filter(|t| t.id == change.to_hash)
                .into_iter()
                .collect()
        } else {
            listed
                .take()
                .filter(|c| only_one && c.first().is_some_and(|n| n.id == change.to_hash))
                .unwrap_or_default()
        };
        let share = commit_message_share(commits.len());
        let commits = commits.into_iter().map(|c| to_commit(c, share)).collect();
        let branch = change.ref_id.trim_start_matches("refs/heads/").to_string();
        let body = FactBody::Push {
            before: change.from_hash.clone(),
            after: change.to_hash.clone(),
            commits: oldest_first(commits),
            // Data Center does not say whether an update was forced.
            forced: false,
            // Nor which branch is the default.
            to_default_branch: false,
        };
        let identity = format!("push:{}..{}", change.from_hash, change.to_hash);
        let entity = EntityKey::Branch {
            repo: repo.clone(),
            branch,
        };
        out.push(fact(&identity, entity, e.date.0, body));
    }
    if out.is_empty() {
        return Ok(Normalized::Ignored("push without a branch update"));
    }
    Ok(Normalized::Facts(out))
}

fn to_commit(c: PushCommit, share: usize) -> Commit {
    Commit {
        sha: c.id,
        authored_at: c.author_timestamp.0,
        author_login: c
            .author
            .filter(|a| a.slug.is_some())
            .and_then(|a| a.name.or(a.slug)),
        message: c.message.and_then(|m| capped_commit_message(&m, share)),
    }
}
