//! Bitbucket webhook deliveries to facts, for Bitbucket Cloud (bitbucket.org) and Bitbucket
//! Data Center (self-hosted, formerly Server). The two send different JSON under different event
//! keys (`pullrequest:created` vs `pr:opened`), so the `X-Event-Key` header picks the parser:
//! [`cloud`] or [`data_center`]. Both produce the facts GitHub's parser produces (a pull request
//! is a pull request, an approval or a "needs work" is a review, a comment is a comment, a ref
//! change is a push), so every metric works for Bitbucket repositories unchanged.
//!
//! Fact ids come from the body, never from the delivery header (`X-Request-UUID` /
//! `X-Request-Id`), which the signature does not cover: a lifecycle step is `pr:<step>` under
//! the PR's update time (`pr:opened`, `pr:merged`, `pr:declined`), any other PR change is a hash
//! of the raw body, a comment is its own id, a review (Bitbucket gives approvals no id) is a
//! hash of who, what and when, and a push is `push:<before>..<after>`. The same bytes always
//! give the same facts, so a redelivery writes nothing new.

mod cloud;
mod data_center;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;

use super::json::IsoTimestamp;
use super::{check_id, parse_body, push_body, IngestError, Normalized};
use crate::model::{
    short_digest, Actor, CommentKind, Commit, EntityKey, Fact, FactBody, PrAction, PrSnapshot,
    RepoName, ReviewState,
};
use crate::time::is_supported_instant;

/// Normalizes one delivery. `event_key` is the `X-Event-Key` header, `delivery` the
/// `X-Request-UUID` header (Cloud) or `X-Request-Id` (Data Center); Cloud keys look like
/// `pullrequest:created`, Data Center's like `pr:opened`, so the key tells the two apart.
pub fn normalize_bitbucket(
    event_key: &str,
    delivery: &str,
    body: &[u8],
) -> Result<Normalized, IngestError> {
    let data_center = is_data_center(event_key);
    // Required and checked (Bitbucket always sends it), but never part of a fact's identity.
    let header = if data_center {
        "X-Request-Id"
    } else {
        "X-Request-UUID"
    };
    check_id(delivery, header)?;
    // Parsed whatever the event: a malformed body is the sender's 400 even for events we skip.
    let root = parse_body(body)?;
    let facts = Facts { body };
    if data_center {
        data_center::normalize(&facts, event_key, &root)
    } else {
        cloud::normalize(&facts, event_key, &root)
    }
}

/// Data Center's keys: `pr:*`, `repo:refs_changed` and its other repository, project, mirror
/// and diagnostics events. Everything else (`pullrequest:*`, `repo:push`, `issue:*`, …) is
/// Cloud's.
fn is_data_center(event_key: &str) -> bool {
    const PREFIXES: &[&str] = &["pr:", "repo:comment:", "mirror:", "diagnostics:", "proj:"];
    const KEYS: &[&str] = &[
        "repo:refs_changed",
        "repo:modified",
        "repo:forked",
        "repo:secret_detected",
    ];
    PREFIXES.iter().any(|p| event_key.starts_with(p)) || KEYS.contains(&event_key)
}

/// Builds facts whose ids come from the delivery's content: `<identity>#<n>`.
struct Facts<'a> {
    body: &'a [u8],
}

impl Facts<'_> {
    fn one(
        &self,
        identity: &str,
        entity: EntityKey,
        at: DateTime<Utc>,
        body: FactBody,
    ) -> Normalized {
        Normalized::Facts(vec![fact(identity, entity, at, body)])
    }

    /// A PR snapshot at its update time. A lifecycle step (`pr:opened`, `pr:merged`,
    /// `pr:declined`) happens once; any other change is identified by the body's hash.
    fn pull_request(&self, entity: EntityKey, snapshot: PrSnapshot) -> Normalized {
        let identity = match (snapshot.action, snapshot.merged_at) {
            (PrAction::Opened, _) => "pr:opened".to_string(),
            (PrAction::Closed, Some(_)) => "pr:merged".to_string(),
            (PrAction::Closed, None) => "pr:declined".to_string(),
            _ => format!("pr:{}", short_digest(self.body)),
        };
        let at = snapshot.updated_at;
        self.one(&identity, entity, at, FactBody::PullRequest(snapshot))
    }

    /// A review. Neither flavor gives one an id: who (`reviewer.0`, the account's stable id),
    /// how and when is its identity.
    fn review(
        &self,
        entity: EntityKey,
        reviewer: (String, Actor),
        state: ReviewState,
        at: DateTime<Utc>,
        pr_author: Option<String>,
    ) -> Normalized {
        let seed = format!("{}\n{state:?}\n{}", reviewer.0, at.timestamp_micros());
        let identity = format!("review:{}", short_digest(seed.as_bytes()));
        let body = FactBody::Review {
            reviewer: reviewer.1,
            state,
            submitted_at: at,
            // Approvals and change requests carry no text; review text arrives as comments.
            body_nonempty: false,
            pr_author,
        };
        self.one(&identity, entity, at, body)
    }

    /// A comment, by its id: `rc:` on a line of the diff (a review comment), `ic:` on the PR.
    fn comment(
        &self,
        entity: EntityKey,
        id: u64,
        (commenter, on_a_line): (Actor, bool),
        created_at: DateTime<Utc>,
        pr_author: Option<String>,
    ) -> Normalized {
        let (prefix, kind) = if on_a_line {
            ("rc", CommentKind::Review)
        } else {
            ("ic", CommentKind::Conversation)
        };
        let body = FactBody::Comment {
            commenter,
            kind,
            created_at,
            pr_author,
        };
        self.one(&format!("{prefix}:{id}"), entity, created_at, body)
    }
}

fn fact(identity: &str, entity: EntityKey, at: DateTime<Utc>, body: FactBody) -> Fact {
    Fact {
        entity,
        id: format!("{identity}#0"),
        at,
        body,
    }
}

/// The PR parts both flavors fill; [`Pr::snapshot`] adds what is the same for both.
struct Pr {
    action: PrAction,
    title: String,
    body: Option<String>,
    author: Actor,
    draft: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Set when the PR is closed (merged or declined).
    closed_at: Option<DateTime<Utc>>,
    merged: bool,
    merge_commit_sha: Option<String>,
    head_ref: String,
    head_sha: Option<String>,
    head_repo: Option<RepoName>,
    base_ref: String,
    /// The repository's main branch when the payload names it.
    main_branch: Option<String>,
    html_url: Option<String>,
}

impl Pr {
    fn snapshot(self) -> PrSnapshot {
        PrSnapshot {
            action: self.action,
            title: self.title,
            body: self.body,
            author: self.author,
            draft: self.draft,
            created_at: self.created_at,
            updated_at: self.updated_at,
            closed_at: self.closed_at,
            merged_at: self.closed_at.filter(|_| self.merged),
            merge_commit_sha: self.merge_commit_sha.filter(|_| self.merged),
            // Cloud abbreviates hashes in PR payloads; the head history is keyed by full shas.
            head_sha: full_sha(self.head_sha),
            head_repo: self.head_repo,
            head_ref: self.head_ref,
            // No payload names the default branch: the PR's destination stands for it.
            default_branch: self.main_branch.unwrap_or_else(|| self.base_ref.clone()),
            base_ref: self.base_ref,
            additions: None,
            deletions: None,
            labels: Vec::new(),
            html_url: self.html_url,
        }
    }
}

/// The zero sha a push from or to nothing names (git's convention, which Data Center follows).
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// A full commit id (SHA-1 or SHA-256 hex).
fn full_sha(sha: Option<String>) -> Option<String> {
    sha.filter(|s| (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One branch's move in a push, from either flavor.
struct BranchPush {
    repo: RepoName,
    branch: String,
    before: String,
    after: String,
    at: DateTime<Utc>,
    forced: bool,
    to_default_branch: bool,
    /// As Bitbucket lists them: newest first.
    newest_first: Vec<Commit>,
}

impl BranchPush {
    /// The push fact, with its commits oldest first, as push facts hold them.
    fn fact(self) -> Fact {
        let (identity, body) = push_body(
            self.before,
            self.after,
            self.newest_first.into_iter().rev(),
            self.forced,
            self.to_default_branch,
        );
        let entity = EntityKey::Branch {
            repo: self.repo,
            branch: self.branch,
        };
        fact(&identity, entity, self.at, body)
    }
}

/// The push facts, or why there are none.
fn pushes(facts: Vec<Fact>) -> Normalized {
    if facts.is_empty() {
        Normalized::Ignored("push without a branch update")
    } else {
        Normalized::Facts(facts)
    }
}

/// An account as metrics see it: its name and whether it is a bot; a missing account is
/// `ghost`, as GitHub shows a deleted one.
fn actor(named: Option<(String, bool)>) -> Actor {
    let (login, is_bot) = named.unwrap_or_else(|| ("ghost".to_string(), false));
    Actor { login, is_bot }
}

/// The first non-empty name, else `ghost` (as GitHub shows a deleted account).
fn first_name(names: &[&Option<String>]) -> String {
    names
        .iter()
        .filter_map(|n| n.as_deref())
        .find(|n| !n.is_empty())
        .map_or_else(|| "ghost".to_string(), str::to_string)
}

/// Data Center's times: epoch milliseconds (up to 9.x) or, from 10.0, ISO 8601 strings
/// (`2026-06-05T13:54:44+0000`, `2018-09-21T14:09:51.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DcTime(DateTime<Utc>);

impl<'de> Deserialize<'de> for DcTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DcTimeVisitor)
    }
}

struct DcTimeVisitor;

impl Visitor<'_> for DcTimeVisitor {
    type Value = DcTime;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("epoch milliseconds or an ISO 8601 timestamp")
    }

    fn visit_i64<E: de::Error>(self, ms: i64) -> Result<DcTime, E> {
        DateTime::from_timestamp_millis(ms)
            .filter(|t| is_supported_instant(*t))
            .map(DcTime)
            .ok_or_else(|| {
                E::invalid_value(Unexpected::Signed(ms), &"a time in the years 1970 to 9999")
            })
    }

    fn visit_u64<E: de::Error>(self, ms: u64) -> Result<DcTime, E> {
        match i64::try_from(ms) {
            Ok(ms) => self.visit_i64(ms),
            Err(_) => Err(E::invalid_value(Unexpected::Unsigned(ms), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DcTime, E> {
        IsoTimestamp::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| DcTime(t.0))
    }
}

#[cfg(test)]
mod dc_tests;
#[cfg(test)]
pub(crate) mod tests;
