//! Source parsers: signature check + raw bytes to facts. No I/O, no clock, no config: the same
//! bytes always give the same facts, which is what makes redeliveries write nothing new, and
//! every decision that depends on configuration (is this a production environment, a deploy
//! workflow, an incident label, a bot) is left to `derive`, so a config change needs no re-ingest.

pub mod argocd;
pub mod bitbucket;
pub mod generic;
pub mod github;
pub mod github_rest;
pub mod gitlab;
pub mod jira;
mod json;
pub mod linear;
pub mod pagerduty;
pub mod signature;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
pub(crate) mod testing;

use crate::model::{
    capped_commit_message, commit_message_share, Actor, Commit, Fact, FactBody, RepoName,
};

/// Largest body any webhook route accepts (docs/API.md: 413 above 25 MiB). GitHub caps its own
/// payloads at 25 MB, so nothing legitimate is turned away.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// Longest partition or sort key a fact may have, in bytes. DynamoDB allows 2048 for a partition
/// key and 1024 for a sort key (and the same for index keys, which projections build from these
/// parts); a branch name or repo name past this is not one any forge produces.
pub const MAX_KEY_BYTES: usize = 1024;

/// Largest fact, serialized, in bytes: below DynamoDB's 400 KB item limit with room for the
/// item's key attributes and hash.
pub const MAX_FACT_BYTES: usize = 350 * 1024;

/// Rejects facts the table could never store, before any is written: a delivery that DynamoDB
/// would refuse must be the sender's 400, not a 503 that the sender retries forever.
pub fn check_storable(facts: &[Fact]) -> Result<(), IngestError> {
    for fact in facts {
        let pk = fact.entity.partition_key();
        if pk.len() > MAX_KEY_BYTES {
            return Err(IngestError::invalid(
                "repository/ref",
                format!(
                    "names an entity whose key is {} bytes; at most {MAX_KEY_BYTES}",
                    pk.len()
                ),
            ));
        }
        let sk = fact.sort_key();
        if sk.len() > MAX_KEY_BYTES {
            return Err(IngestError::invalid(
                "id",
                format!("makes a {}-byte key; at most {MAX_KEY_BYTES}", sk.len()),
            ));
        }
        let size = serde_json::to_vec(fact).map_or(usize::MAX, |v| v.len());
        if size > MAX_FACT_BYTES {
            return Err(IngestError::invalid(
                "body",
                format!("one event is {size} bytes once parsed; at most {MAX_FACT_BYTES}"),
            ));
        }
    }
    Ok(())
}

/// What a delivery amounts to. `Ignored` is still a success (202): the source did nothing wrong,
/// we just keep nothing from it; the reason is for logs.
#[derive(Clone, Debug, PartialEq)]
pub enum Normalized {
    Facts(Vec<Fact>),
    Ignored(&'static str),
}

/// Why a delivery was rejected. Every variant is the sender's fault (400, or 413 for
/// [`IngestError::TooLarge`]); the messages name the offending field so the sender can fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("body is {size} bytes; the limit is {MAX_BODY_BYTES}")]
    TooLarge { size: usize },
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("missing field `{path}`")]
    MissingField { path: String },
    #[error(
        "`{path}`: invalid timestamp {value:?} (expected RFC 3339, e.g. 2026-01-31T09:30:00Z)"
    )]
    BadTimestamp { path: String, value: String },
    /// Present but unusable: wrong type, value out of range, unknown field, failed validation.
    #[error("`{path}`: {message}")]
    InvalidField { path: String, message: String },
}

impl IngestError {
    fn invalid(path: &str, message: impl Into<String>) -> Self {
        IngestError::InvalidField {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl From<json::PathError> for IngestError {
    fn from(e: json::PathError) -> Self {
        let path = match e.path() {
            p if p.is_empty() => "(body)".to_string(),
            p => p,
        };
        match e.problem() {
            json::Problem::Missing => IngestError::MissingField { path },
            json::Problem::Timestamp(value) => IngestError::BadTimestamp {
                path,
                value: value.clone(),
            },
            json::Problem::Other(message) => IngestError::InvalidField {
                path,
                message: message.clone(),
            },
        }
    }
}

/// Size check plus JSON parse: the shared first step of every normalizer. The size check is
/// repeated here (the edge checks first) so no caller can hand us an unbounded body.
fn parse_body(body: &[u8]) -> Result<serde_json::Value, IngestError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(IngestError::TooLarge { size: body.len() });
    }
    serde_json::from_slice(body).map_err(|e| IngestError::MalformedJson(e.to_string()))
}

/// Lower-cases and checks a repository name (`crate::repo`: `owner/name` for GitHub, the web
/// address for other forges). Keys are built from it (`DEP#<repo>#<id>` is split at the first
/// `#`), so a name with `#` would corrupt keys.
fn repo_name(raw: &str, path: &str) -> Result<RepoName, IngestError> {
    crate::repo::parse_repo(raw).map_err(|e| IngestError::invalid(path, e.to_string()))
}

/// Source ids end up in keys and fact ids: non-empty, bounded, printable.
fn check_id(raw: &str, path: &str) -> Result<(), IngestError> {
    if raw.is_empty() || raw.len() > 200 || raw.chars().any(char::is_control) {
        return Err(IngestError::invalid(
            path,
            "must be 1 to 200 printable characters",
        ));
    }
    Ok(())
}

/// GitHub marks app accounts with `type: Bot`; older integrations only show in the login.
fn github_actor(login: &str, kind: Option<&str>) -> Actor {
    Actor {
        login: login.to_string(),
        is_bot: kind == Some("Bot") || login.ends_with("[bot]"),
    }
}

/// A push's identity and fact body, the same for every forge: the move of one ref from `before`
/// to `after` is the push, so that pair is its identity (`push:<before>..<after>`). The commits,
/// oldest first, keep their messages only up to an equal share of the fact's size budget, so a
/// push of many commits still fits in one item.
fn push_body(
    before: String,
    after: String,
    oldest_first: impl ExactSizeIterator<Item = Commit>,
    forced: bool,
    to_default_branch: bool,
) -> (String, FactBody) {
    let share = commit_message_share(oldest_first.len());
    let commits = oldest_first
        .map(|c| Commit {
            message: c.message.and_then(|m| capped_commit_message(&m, share)),
            ..c
        })
        .collect();
    let identity = format!("push:{before}..{after}");
    let body = FactBody::Push {
        before,
        after,
        commits,
        forced,
        to_default_branch,
    };
    (identity, body)
}

#[cfg(test)]
mod storable_tests {
    use super::*;
    use crate::model::FactBody;

    fn push_with_branch(branch: &str) -> Vec<Fact> {
        let body = serde_json::json!({
            "ref": format!("refs/heads/{branch}"), "before": "0".repeat(40), "after": "1".repeat(40),
            "repository": {"full_name": "acme/api", "default_branch": "main"},
            "commits": [{"id": "1".repeat(40), "timestamp": "2026-10-05T10:00:00Z",
                         "author": {"name": "a"}}],
            "pusher": {"name": "a"}
        });
        match github::normalize_github("push", "d-1", body.to_string().as_bytes()) {
            Ok(Normalized::Facts(facts)) => facts,
            other => panic!("a push normalizes to facts: {other:?}"),
        }
    }

    #[test]
    fn facts_a_table_cannot_hold_are_the_senders_error() {
        assert_eq!(check_storable(&push_with_branch("feature/x")), Ok(()));
        // A branch name too long for a key is keyed by its hash (`model::bounded_branch`), so
        // the push is storable and its derived keys stay bounded.
        let facts = push_with_branch(&"b".repeat(3000));
        assert!(facts[0].entity.partition_key().len() < 100);
        assert_eq!(check_storable(&facts), Ok(()));
        // A fact too large for an item is the sender's 400.
        let mut huge = push_with_branch("feature/x");
        if let FactBody::Push { commits, .. } = &mut huge[0].body {
            let one = commits[0].clone();
            commits.extend(std::iter::repeat_n(one, 5_000));
        }
        let err = check_storable(&huge).expect_err("too large");
        assert!(
            matches!(&err, IngestError::InvalidField { path, message }
                if path == "body" && message.contains("at most")),
            "{err}"
        );
    }
}
