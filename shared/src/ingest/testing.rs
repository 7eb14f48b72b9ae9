//! Helpers the parsers' tests share: timestamps, and fixtures changed in place for shapes no
//! real capture shows (failed deployment statuses, a comment on a PR, broken payloads).

use chrono::{DateTime, Utc};
use serde_json::Value;

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
