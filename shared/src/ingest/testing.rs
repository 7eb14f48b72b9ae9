//! Helpers the parsers' tests share: timestamps, fixtures changed in place for shapes no real
//! capture shows (failed deployment statuses, a comment on a PR, broken payloads), and what an
//! accepted delivery came to, so each parser's tests fail with the same message for the same
//! surprise.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Normalized;
use crate::model::{Actor, EntityKey, Fact, FactBody, PrSnapshot, TicketSnapshot};

pub fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamp is RFC 3339")
        .with_timezone(&Utc)
}

/// A fixture with a change applied.
pub fn mutate(body: &[u8], change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(body).expect("fixture is JSON");
    change(&mut value);
    serde_json::to_vec(&value).expect("serializes")
}

/// Sets the field at a JSON pointer that the fixture has.
pub fn set(value: &mut Value, pointer: &str, new: Value) {
    *value
        .pointer_mut(pointer)
        .expect("pointer exists in fixture") = new;
}

/// Removes the field at a JSON pointer that the fixture has.
pub fn remove(value: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key))
        .expect("field exists in fixture");
}

/// The facts of an accepted delivery that a test expects to be kept.
pub fn facts_of(normalized: Normalized) -> Vec<Fact> {
    match normalized {
        Normalized::Facts(facts) => facts,
        Normalized::Ignored(reason) => panic!("expected facts, got Ignored({reason:?})"),
    }
}

/// The one fact of an accepted delivery; more or fewer is the test's failure.
pub fn single_of(normalized: Normalized) -> Fact {
    let mut all = facts_of(normalized);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

/// Why an accepted delivery was ignored; facts are the test's failure.
pub fn ignored_of(normalized: Normalized) -> &'static str {
    match normalized {
        Normalized::Ignored(reason) => reason,
        Normalized::Facts(facts) => panic!("expected Ignored, got {facts:?}"),
    }
}

pub fn pr_snapshot(fact: &Fact) -> &PrSnapshot {
    match &fact.body {
        FactBody::PullRequest(s) => s,
        other => panic!("expected a PR snapshot, got {other:?}"),
    }
}

pub fn ticket_snapshot(fact: &Fact) -> &TicketSnapshot {
    match &fact.body {
        FactBody::TicketChanged(s) => s,
        other => panic!("expected a ticket, got {other:?}"),
    }
}

/// A human account: what every forge's fixtures name as authors and reviewers.
pub fn person(login: &str) -> Actor {
    Actor {
        login: login.into(),
        is_bot: false,
    }
}

pub fn pr_entity(repo: &str, number: u64) -> EntityKey {
    EntityKey::PullRequest {
        repo: repo.into(),
        number,
    }
}

pub fn ticket(id: &str) -> EntityKey {
    EntityKey::Ticket { id: id.into() }
}

pub fn incident(id: &str) -> EntityKey {
    EntityKey::Incident { id: id.into() }
}

/// A field of tests/fixtures/signatures/vectors.json, the signatures the sources document or
/// sent: every verifier's tests check against the same file, parsed once.
pub fn signature_vector(section: &str, key: &str) -> &'static str {
    static VECTORS: OnceLock<Value> = OnceLock::new();
    VECTORS
        .get_or_init(|| {
            serde_json::from_str(include_str!(
                "../../../tests/fixtures/signatures/vectors.json"
            ))
            .expect("vectors.json is valid JSON")
        })
        .get(section)
        .and_then(|s| s.get(key))
        .and_then(Value::as_str)
        .expect("vector field present")
}
