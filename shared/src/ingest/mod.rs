//! Source parsers: signature check + raw bytes to facts. No I/O, no clock, no config: the same
//! bytes always give the same facts, which is what makes redeliveries write nothing new, and
//! every decision that depends on configuration (is this a production environment, a deploy
//! workflow, an incident label, a bot) is left to `derive`, so a config change needs no re-ingest.

pub mod generic;
pub mod github;
mod json;
pub mod pagerduty;
pub mod signature;

#[cfg(test)]
mod fuzz_tests;

use crate::model::{Actor, Fact, RepoName};

/// Largest body any webhook route accepts (API.md: 413 above 25 MiB). GitHub caps its own
/// payloads at 25 MB, so nothing legitimate is turned away.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

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

/// Lower-cases and checks `owner/name`. Keys are built from it (`DEP#<repo>#<id>` is split at
/// the first `#`), so a name with `#` or without exactly one `/` would corrupt keys.
fn repo_name(raw: &str, path: &str) -> Result<RepoName, IngestError> {
    let valid_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match raw.split_once('/') {
        Some((owner, name)) if valid_part(owner) && valid_part(name) => Ok(raw.to_lowercase()),
        _ => Err(IngestError::invalid(
            path,
            format!("{raw:?} is not a repository name of the form owner/name"),
        )),
    }
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
