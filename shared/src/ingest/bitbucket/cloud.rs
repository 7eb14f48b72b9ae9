//! Bitbucket Cloud (bitbucket.org): `repo:push` and `pullrequest:*`.

use serde::Deserialize;
use serde_json::Value;

use super::{first_name, pushes, BranchPush, Facts, Pr, ZERO_SHA};
use crate::ingest::json::{from_value, null_as_default, Timestamp};
use crate::ingest::{repo_name, IngestError, Normalized};
use crate::model::{Actor, Commit, EntityKey, PrAction, RepoName, ReviewState};

/// The host every Cloud repository's web address starts with.
const HOST: &str = "bitbucket.org";

pub(super) fn normalize(
    facts: &Facts,
    event_key: &str,
    root: &Value,
) -> Result<Normalized, IngestError> {
    match event_key {
        "repo:push" => push(from_value(root)?),
        "pullrequest:created" => pull_request(facts, from_value(root)?, PrAction::Opened),
        "pullrequest:updated" => pull_request(facts, from_value(root)?, PrAction::Edited),
        "pullrequest:fulfilled" | "pullrequest:rejected" => {
            pull_request(facts, from_value(root)?, PrAction::Closed)
        }
        "pullrequest:approved" => review(facts, from_value(root)?, ReviewState::Approved),
        "pullrequest:changes_request_created" => {
            review(facts, from_value(root)?, ReviewState::ChangesRequested)
        }
        // Withdrawing an approval or a change request does not undo the review that happened
        // (its time is still the PR's pickup), and nothing downstream reads a withdrawal.
        "pullrequest:unapproved" | "pullrequest:changes_request_removed" => {
            Ok(Normalized::Ignored("review withdrawn"))
        }
        "pullrequest:comment_created" => comment(facts, from_value(root)?),
        _ => Ok(Normalized::Ignored("unsupported event")),
    }
}

// ---- payload shapes (only the fields we read) -----------------------------------------------

/// An account (`user`, `team`, or `app_user` for apps and bots). `username` was removed from
/// Cloud payloads in 2019; older captures still have it.
#[derive(Deserialize)]
struct Account {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    nickname: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    account_id: Option<String>,
    uuid: Option<String>,
}

impl Account {
    /// The name metrics show and config lists: the nickname, else what else names the account.
    fn login(&self) -> String {
        first_name(&[
            &self.nickname,
            &self.username,
            &self.display_name,
            &self.account_id,
            &self.uuid,
        ])
    }

    /// The account's stable id, for review identities.
    fn key(&self) -> String {
        self.uuid
            .clone()
            .or_else(|| self.account_id.clone())
            .unwrap_or_else(|| self.login())
    }
}

/// Cloud marks apps and their bot users `type: app_user`.
fn actor(account: Option<&Account>) -> Actor {
    super::actor(account.map(|u| (u.login(), u.kind.as_deref() == Some("app_user"))))
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
    /// The main branch; the REST API's repository has it, webhook payloads so far do not.
    #[serde(default)]
    mainbranch: Option<Named>,
}

impl Repository {
    fn name(&self) -> Result<RepoName, IngestError> {
        repo_name(
            &format!("{HOST}/{}", self.full_name),
            "repository.full_name",
        )
    }

    fn main_branch(&self) -> Option<&str> {
        self.mainbranch.as_ref().map(|b| b.name.as_str())
    }
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Hash {
    hash: String,
}

#[derive(Deserialize)]
struct Link {
    href: String,
}

#[derive(Deserialize)]
struct PrLinks {
    html: Option<Link>,
}

#[derive(Deserialize)]
struct Endpoint {
    branch: Named,
    commit: Option<Hash>,
    repository: Option<EndpointRepository>,
}

#[derive(Deserialize)]
struct EndpointRepository {
    full_name: String,
}

#[derive(Deserialize)]
struct PullRequest {
    id: u64,
    title: String,
    description: Option<String>,
    author: Option<Account>,
    state: String,
    #[serde(default, deserialize_with = "null_as_default")]
    draft: bool,
    created_on: Timestamp,
    updated_on: Timestamp,
    source: Endpoint,
    destination: Endpoint,
    merge_commit: Option<Hash>,
    links: Option<PrLinks>,
}

#[derive(Deserialize)]
struct PullRequestEvent {
    pullrequest: PullRequest,
    repository: Repository,
}

#[derive(Deserialize)]
struct ReviewEvent {
    pullrequest: PrRef,
    repository: Repository,
    /// `approval` for `pullrequest:approved`, `changes_request` for a change request.
    #[serde(alias = "changes_request")]
    approval: Participation,
}

#[derive(Deserialize)]
struct Participation {
    date: Timestamp,
    user: Option<Account>,
}

/// The slice of a PR that review and comment payloads need.
#[derive(Deserialize)]
struct PrRef {
    id: u64,
    author: Option<Account>,
}

#[derive(Deserialize)]
struct CommentEvent {
    pullrequest: PrRef,
    repository: Repository,
    comment: Comment,
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    created_on: Timestamp,
    user: Option<Account>,
    /// Present on a comment on a line of the diff.
    inline: Option<Value>,
}

#[derive(Deserialize)]
struct PushEvent {
    push: Push,
    repository: Repository,
}

#[derive(Deserialize)]
struct Push {
    #[serde(default, deserialize_with = "null_as_default")]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    /// Where the branch was; only its commit is read.
    old: Option<OldRef>,
    new: Option<RefState>,
    #[serde(default)]
    forced: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    commits: Vec<PushCommit>,
}

#[derive(Deserialize)]
struct RefState {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    target: PushCommit,
}

#[derive(Deserialize)]
struct OldRef {
    target: Hash,
}

#[derive(Deserialize)]
struct PushCommit {
    hash: String,
    date: Timestamp,
    author: Option<CommitAuthor>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct CommitAuthor {
    /// The Bitbucket account the commit's author is, when Bitbucket could link one.
    user: Option<Account>,
}

// ---- events -----------------------------------------------------------------------------------

fn pull_request(
    facts: &Facts,
    e: PullRequestEvent,
    action: PrAction,
) -> Result<Normalized, IngestError> {
    let pr = e.pullrequest;
    let merged = pr.state == "MERGED";
    let closed = merged || pr.state == "DECLINED" || pr.state == "SUPERSEDED";
    let entity = EntityKey::PullRequest {
        repo: e.repository.name()?,
        number: pr.id,
    };
    let snapshot = Pr {
        action,
        title: pr.title,
        body: pr.description,
        author: actor(pr.author.as_ref()),
        draft: pr.draft,
        created_at: pr.created_on.0,
        updated_at: pr.updated_on.0,
        // A close's time is the PR's last update: Cloud's payload has no closed_on.
        closed_at: closed.then_some(pr.updated_on.0),
        merged,
        // Abbreviated (12 digits); the default branch's history matches short shas by prefix.
        merge_commit_sha: pr.merge_commit.map(|c| c.hash),
        head_ref: pr.source.branch.name,
        head_sha: pr.source.commit.map(|c| c.hash),
        head_repo: pr
            .source
            .repository
            .and_then(|r| crate::repo::parse_repo(&format!("{HOST}/{}", r.full_name)).ok()),
        base_ref: pr.destination.branch.name,
        main_branch: e.repository.main_branch().map(str::to_string),
        html_url: pr.links.and_then(|l| l.html).map(|l| l.href),
    }
    .snapshot();
    Ok(facts.pull_request(entity, snapshot))
}

fn entity(repository: &Repository, pr: &PrRef) -> Result<EntityKey, IngestError> {
    Ok(EntityKey::PullRequest {
        repo: repository.name()?,
        number: pr.id,
    })
}

fn review(facts: &Facts, e: ReviewEvent, state: ReviewState) -> Result<Normalized, IngestError> {
    let reviewer = e.approval.user.as_ref();
    Ok(facts.review(
        entity(&e.repository, &e.pullrequest)?,
        (
            reviewer.map(Account::key).unwrap_or_default(),
            actor(reviewer),
        ),
        state,
        e.approval.date.0,
        e.pullrequest.author.as_ref().map(Account::login),
    ))
}

fn comment(facts: &Facts, e: CommentEvent) -> Result<Normalized, IngestError> {
    let c = e.comment;
    let on_a_line = c.inline.as_ref().is_some_and(|i| !i.is_null());
    Ok(facts.comment(
        entity(&e.repository, &e.pullrequest)?,
        c.id,
        (actor(c.user.as_ref()), on_a_line),
        c.created_on.0,
        e.pullrequest.author.as_ref().map(Account::login),
    ))
}

/// One push fact per branch the push moved. Cloud lists at most five commits per change, newest
/// first, with `truncated: true` when there were more: the five are kept, the rest are not
/// known. A branch's creation lists the newest commits of its whole history, which other
/// branches mostly had already, so only its tip is kept.
fn push(e: PushEvent) -> Result<Normalized, IngestError> {
    let repo = e.repository.name()?;
    let main = e.repository.main_branch();
    let mut out = Vec::new();
    for change in e.push.changes {
        let Some(new) = change.new.filter(|n| n.kind == "branch") else {
            // A deletion (`new: null`) or a tag.
            continue;
        };
        let push = BranchPush {
            repo: repo.clone(),
            before: change
                .old
                .as_ref()
                .map_or(ZERO_SHA.to_string(), |o| o.target.hash.clone()),
            after: new.target.hash.clone(),
            // Cloud's push has no time of its own: the new tip's commit time stands for it.
            at: new.target.date.0,
            forced: change.forced,
            to_default_branch: main == Some(new.name.as_str()),
            newest_first: if change.old.is_none() {
                vec![to_commit(new.target)]
            } else {
                change.commits.into_iter().map(to_commit).collect()
            },
            branch: new.name,
        };
        out.push(push.fact());
    }
    Ok(pushes(out))
}

fn to_commit(c: PushCommit) -> Commit {
    Commit {
        sha: c.hash,
        authored_at: c.date.0,
        author_login: c.author.and_then(|a| a.user).map(|u| u.login()),
        message: c.message,
    }
}
