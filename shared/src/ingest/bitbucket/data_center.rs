//! Bitbucket Data Center (self-hosted): `pr:*` and `repo:refs_changed`.
//!
//! A repository is named by its web address, `<host>/projects/<KEY>/repos/<slug>` (with the
//! instance's context path, if any, after the host), read from the repository's
//! `links.self[0].href` without its scheme and trailing `/browse`. The payload has no other
//! source for the host, so a repository without that link is rejected, naming the field.

use serde::Deserialize;
use serde_json::Value;

use super::{first_name, pushes, BranchPush, DcTime, Facts, Pr, ZERO_SHA};
use crate::ingest::json::{from_value, null_as_default};
use crate::ingest::{repo_name, IngestError, Normalized};
use crate::model::{Actor, Commit, EntityKey, PrAction, RepoName, ReviewState};

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
        first_name(&[&self.name, &self.slug, &self.display_name])
    }

    fn key(&self) -> String {
        self.id.map_or_else(|| self.login(), |id| id.to_string())
    }
}

fn actor(user: Option<&User>) -> Actor {
    super::actor(user.map(|u| (u.login(), u.kind.as_deref() == Some("SERVICE"))))
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
    let entity = EntityKey::PullRequest {
        repo: repository_name(
            pr.to_ref.repository.as_ref(),
            "pullRequest.toRef.repository",
        )?,
        number: pr.id,
    };
    let merged = pr.state == "MERGED";
    let closed = merged || pr.state == "DECLINED";
    let snapshot = Pr {
        action,
        title: pr.title,
        body: pr.description,
        author: actor(pr.author.as_ref().and_then(|a| a.user.as_ref())),
        draft: pr.draft,
        created_at: pr.created_date.0,
        updated_at: pr.updated_date.0,
        closed_at: closed.then(|| pr.closed_date.unwrap_or(pr.updated_date).0),
        merged,
        merge_commit_sha: pr.properties.and_then(|p| p.merge_commit).map(|c| c.id),
        head_ref: pr.from_ref.branch(),
        head_sha: pr.from_ref.latest_commit.clone(),
        head_repo: repository_name(
            pr.from_ref.repository.as_ref(),
            "pullRequest.fromRef.repository",
        )
        .ok(),
        base_ref: pr.to_ref.branch(),
        main_branch: None,
        html_url: pr.links.as_ref().and_then(Links::first).map(str::to_string),
    }
    .snapshot();
    Ok(facts.pull_request(entity, snapshot))
}

fn review(facts: &Facts, e: ReviewEvent, state: ReviewState) -> Result<Normalized, IngestError> {
    let reviewer = e.participant.user.as_ref();
    Ok(facts.review(
        e.pull_request.entity()?,
        (reviewer.map(User::key).unwrap_or_default(), actor(reviewer)),
        state,
        e.date.0,
        e.pull_request.author(),
    ))
}

fn comment(facts: &Facts, e: CommentEvent) -> Result<Normalized, IngestError> {
    let c = e.comment;
    let on_a_line = c.anchor.as_ref().is_some_and(|a| !a.is_null());
    Ok(facts.comment(
        e.pull_request.entity()?,
        c.id,
        (actor(c.author.as_ref()), on_a_line),
        c.created_date.0,
        e.pull_request.author(),
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
        let newest_first: Vec<PushCommit> = if created {
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
        let push = BranchPush {
            repo: repo.clone(),
            branch: change.ref_id.trim_start_matches("refs/heads/").to_string(),
            before: change.from_hash.clone(),
            after: change.to_hash.clone(),
            at: e.date.0,
            // Data Center says neither whether an update was forced nor which branch is the
            // default.
            forced: false,
            to_default_branch: false,
            newest_first: newest_first.into_iter().map(to_commit).collect(),
        };
        out.push(push.fact());
    }
    Ok(pushes(out))
}

fn to_commit(c: PushCommit) -> Commit {
    Commit {
        sha: c.id,
        authored_at: c.author_timestamp.0,
        author_login: c
            .author
            .filter(|a| a.slug.is_some())
            .and_then(|a| a.name.or(a.slug)),
        message: c.message,
    }
}
