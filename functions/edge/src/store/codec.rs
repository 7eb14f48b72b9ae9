//! Items to and from values: serde through `serde_dynamo`, deflate for bodies, sizes as
//! DynamoDB counts them, content hashes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute of an item (empty when absent or not a string).
pub(super) fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// An item's partition and sort key (each empty when absent).
pub fn item_keys(item: &Item) -> (String, String) {
    (text(item, "pk"), text(item, "sk"))
}

/// A number attribute of an item (`None` when absent or not a number).
pub(super) fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len() / 2 + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len() / 2 + 1).sum(),
        _ => 1,
    }
}

/// An item's size as DynamoDB counts it for capacity (names plus values; numbers about one
/// byte per two digits; a map or list 3 bytes plus 1 per element): what the load harness and
/// the capacity test report, and what write units round up per 1 KB.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// A short content hash: lets a write be skipped (or made conditional) when nothing changed, so
/// unchanged derivations cost no write and trigger no stream record.
pub use flowmeter::model::content_hash;

pub(super) fn deflate(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Write;
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::Corrupt(format!("deflate: {e}")))
}

/// Inflates at most `MAX_INFLATED` bytes: the table is ours, but a corrupt item must give an
/// error, not exhaust memory.
pub(super) fn inflate(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Read;
    const MAX_INFLATED: u64 = 16 << 20;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(MAX_INFLATED)
        .read_to_end(&mut out)
        .map_err(|e| StoreError::Corrupt(format!("inflate: {e}")))?;
    Ok(out)
}

/// JSON, deflated: the stored form of projection bodies and digest plans.
pub(super) fn deflate_json<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    let json =
        serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
    deflate(&json)
}

/// The inverse of [`deflate_json`].
pub(super) fn inflate_json<T: for<'de> Deserialize<'de>>(
    what: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(&inflate(bytes)?)
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}
