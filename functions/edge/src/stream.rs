//! The rollup function's entry: DynamoDB stream records (the Lambda event shape) → changed
//! entities → the derivation pipeline, with partial batch failure responses.

use std::collections::BTreeMap;

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{DateTime, Utc};
use flowmeter::model::EntityKey;
use serde_dynamo::AttributeValue;

use crate::pipeline::{Changes, Pipeline};
use crate::publish::EventPublisher;
use crate::store::{Store, StoreError};

fn key_string(keys: &serde_dynamo::Item, name: &str) -> Option<String> {
    match keys.get(name)? {
        AttributeValue::S(s) => Some(s.clone()),
        _ => None,
    }
}

/// The event time inside a source fact's sort key (`FACT#<time>#<id>`); derived facts
/// (`FACT#LINK#…`) carry none and count from the beginning of time.
fn fact_time(sort_key: &str) -> DateTime<Utc> {
    sort_key
        .strip_prefix("FACT#")
        .and_then(|rest| rest.get(..24))
        .and_then(|t| t.parse().ok())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The entities a batch of stream records changed. Records that are not facts (the event source
/// filter should have dropped them) are skipped.
pub fn changes_of(event: &Event) -> Changes {
    let mut changes: Changes = BTreeMap::new();
    for record in &event.records {
        let keys = &record.change.keys;
        let (Some(pk), Some(sk)) = (key_string(keys, "pk"), key_string(keys, "sk")) else {
            continue;
        };
        if !sk.starts_with("FACT#") {
            continue;
        }
        let Some(entity) = EntityKey::from_partition_key(&pk) else {
            continue;
        };
        let at = fact_time(&sk);
        let entry = changes.entry(entity).or_insert(at);
        *entry = (*entry).min(at);
    }
    changes
}

/// Runs the pipeline over one batch. A poison entity is parked by the pipeline and does not
/// fail the batch. On a transient failure the batch reports the first record of the entities
/// whose derivation failed (every other entity was derived; Lambda checkpoints before that
/// record, retries from it, and with `BisectBatchOnFunctionError` halves towards it), or the
/// batch's first record when the failure is not one entity's. Re-deriving what already
/// succeeded writes nothing.
pub async fn handle_stream_event(
    store: &Store,
    publisher: Option<&EventPublisher>,
    event: Event,
) -> Result<DynamoDbEventResponse, StoreError> {
    let config = crate::settings::load_config(store).await?;
    let pipeline = Pipeline::new(store, config).with_publisher(publisher);
    let changes = changes_of(&event);
    let mut response = DynamoDbEventResponse::default();
    match pipeline.process(&changes).await {
        Ok(outcome) => {
            if !outcome.parked.is_empty() {
                tracing::warn!(
                    parked = outcome.parked.len(),
                    "batch derived; some entities parked"
                );
            }
            if outcome.events.unpublished > 0 {
                tracing::warn!(
                    published = outcome.events.published,
                    unpublished = outcome.events.unpublished,
                    "some events could not be published; a later run retries them"
                );
            }
        }
        Err(failed) => {
            tracing::error!(error = %failed.error, entities = failed.entities.len(), records = event.records.len(), "derivation failed; retrying from the first failing record");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = first_failing_record(&event, &failed.entities);
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

/// The lowest sequence number among the records of `entities`; of the whole batch when
/// `entities` is empty or none of its records can be found.
pub fn first_failing_record(event: &Event, entities: &[EntityKey]) -> Option<String> {
    let lowest = |only_failed: bool| {
        event
            .records
            .iter()
            .filter(|r| {
                !only_failed
                    || key_string(&r.change.keys, "pk")
                        .and_then(|pk| EntityKey::from_partition_key(&pk))
                        .is_some_and(|e| entities.contains(&e))
            })
            .filter_map(|r| r.change.sequence_number.clone())
            .min_by(|a, b| compare_sequence_numbers(a, b))
    };
    if entities.is_empty() {
        return lowest(false);
    }
    lowest(true).or_else(|| lowest(false))
}

/// Sequence numbers are decimal strings of varying length: compare them as integers.
pub fn compare_sequence_numbers(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_integers() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_sequence_numbers("900", "1000"), Less);
        assert_eq!(compare_sequence_numbers("1000", "999"), Greater);
        assert_eq!(compare_sequence_numbers("0042", "42"), Equal);
    }

    fn record(seq: &str, pk: &str) -> serde_json::Value {
        serde_json::json!({"eventID": seq, "eventName": "INSERT", "awsRegion": "ddblocal", "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "FACT#2026-10-05T12:00:00.000Z#x#0"}},
                         "SequenceNumber": seq, "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"}})
    }

    /// Given a batch whose third entity failed, the retry starts at that entity's first
    /// record, not at the batch's first: what came before it is done.
    #[test]
    fn the_batch_reports_the_first_record_of_the_failed_entities() {
        let event: Event = serde_json::from_value(serde_json::json!({"Records": [
            record("100", "PR#acme/api#1"),
            record("200", "PR#acme/api#2"),
            record("900", "PR#acme/api#3"),
            record("300", "PR#acme/api#3"),
            record("1000", "PR#acme/api#4"),
        ]}))
        .expect("event");
        let failed = EntityKey::PullRequest {
            repo: "acme/api".into(),
            number: 3,
        };
        assert_eq!(
            first_failing_record(&event, std::slice::from_ref(&failed)).as_deref(),
            Some("300")
        );
        // Not one entity's failure: from the batch's first record.
        assert_eq!(first_failing_record(&event, &[]).as_deref(), Some("100"));
    }

    #[test]
    fn fact_time_reads_the_sort_key() {
        assert_eq!(
            fact_time("FACT#2026-10-05T10:00:00.000Z#d1#0"),
            "2026-10-05T10:00:00Z"
                .parse::<DateTime<Utc>>()
                .expect("time")
        );
        assert_eq!(fact_time("FACT#LINK#ships"), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn changes_keep_the_earliest_fact_time_per_entity() {
        let event: Event = serde_json::from_value(serde_json::json!({"Records": [
            {"eventID": "1", "eventName": "INSERT", "awsRegion": "ddblocal", "eventSource": "aws:dynamodb",
             "dynamodb": {"Keys": {"pk": {"S": "BR#acme/api#main"}, "sk": {"S": "FACT#2026-10-05T12:00:00.000Z#d2#0"}},
                          "SequenceNumber": "200", "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"}},
            {"eventID": "2", "eventName": "INSERT", "awsRegion": "ddblocal", "eventSource": "aws:dynamodb",
             "dynamodb": {"Keys": {"pk": {"S": "BR#acme/api#main"}, "sk": {"S": "FACT#2026-10-05T10:00:00.000Z#d1#0"}},
                          "SequenceNumber": "100", "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"}},
            {"eventID": "3", "eventName": "MODIFY", "awsRegion": "ddblocal", "eventSource": "aws:dynamodb",
             "dynamodb": {"Keys": {"pk": {"S": "ROLLUP#org"}, "sk": {"S": "2026-W41"}},
                          "SequenceNumber": "300", "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
        ]}))
        .expect("event");
        let changes = changes_of(&event);
        assert_eq!(changes.len(), 1);
        let (_, at) = changes.iter().next().expect("one change");
        assert_eq!(
            *at,
            "2026-10-05T10:00:00Z"
                .parse::<DateTime<Utc>>()
                .expect("time")
        );
    }
}
