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
use super::{check_id, parse_body, IngestError, Normalized};
use crate::model::{short_digest, Commit, EntityKey, Fact, FactBody};
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

    /// `<kind>:<short digest of the raw body>`: the same bytes always give the same id.
    fn body_identity(&self, kind: &str) -> String {
        format!("{kind}:{}", short_digest(self.body))
    }

    /// A PR lifecycle step (`pr:opened`, `pr:merged`, `pr:declined`) happens once, at the PR's
    /// update time; any other change is identified by its body.
    fn pr_identity(&self, step: Option<&str>) -> String {
        match step {
            Some(step) => format!("pr:{step}"),
            None => self.body_identity("pr"),
        }
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

/// A review has no id in either flavor: who reviewed, how, and when is its identity.
fn review_identity(reviewer_key: &str, state: &str, at: DateTime<Utc>) -> String {
    let seed = format!("{reviewer_key}\n{state}\n{}", at.timestamp_micros());
    format!("review:{}", short_digest(seed.as_bytes()))
}

/// The zero sha a push from or to nothing names (git's convention, which Data Center follows).
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// A full commit id (SHA-1 or SHA-256 hex). Cloud abbreviates the hashes in PR payloads to 12
/// digits; a head sha is only kept when full, since the head history is keyed by full shas.
fn full_sha(sha: Option<String>) -> Option<String> {
    sha.filter(|s| (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Commits as a push fact keeps them: oldest first (Bitbucket lists them newest first).
fn oldest_first(mut commits: Vec<Commit>) -> Vec<Commit> {
    commits.reverse();
    commits
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
