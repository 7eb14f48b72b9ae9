//! The smallest webhook bodies Flowmeter reads, as the tests' and the load generator's
//! histories send them: the fields the parsers use and a few a source always sends, no more.
//! JSON objects are key-sorted (serde_json without `preserve_order`), so a body's bytes depend
//! only on its fields and values.

pub mod argocd;
pub mod bitbucket;
pub mod generic;
pub mod github;
pub mod gitlab;
pub mod linear;
pub mod pagerduty;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// `2026-03-02T09:15:00Z`: how GitHub and the generic endpoints write times.
pub fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A body as the bytes a source sends (compact JSON).
pub fn bytes(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}
