//! Reads a DynamoDB Local table's stream and feeds the rollup handler the same event shape
//! Lambda would, applying the same filter as the template's event source mapping (only `FACT#`
//! items). Used by the dev server and the integration tests; in AWS the event source mapping
//! does this.
//!
//! It speaks the DynamoDB Streams JSON protocol directly instead of through the SDK: the raw
//! `GetRecords` records are already the Lambda event's records, and the SDK's typed parser
//! rejects some of DynamoDB Local's stream images ("Union did not contain a valid variant").
//! DynamoDB Local checks no signatures, so a fixed credential header suffices.

use std::collections::BTreeMap;

use aws_lambda_events::dynamodb::Event;
use serde_json::{json, Value};

use crate::publish::EventPublisher;
use crate::store::{Store, StoreError};
use crate::stream::handle_stream_event;

fn stream_error(op: &'static str, message: impl ToString) -> StoreError {
    StoreError::Service {
        op,
        message: message.to_string(),
    }
}

/// Records per GetRecords call (the API's maximum). The rollup's own writes share the stream and
/// are filtered out after reading, as Lambda's filter does.
const GET_RECORDS_LIMIT: usize = 1000;

/// Facts per handler call: the template's `BatchSize`, so the handler sees Lambda's batches.
pub const BATCH_SIZE: usize = 5000;

/// `GetRecords` pages one poll reads from a shard at most while filling a batch.
const MAX_PAGES_PER_POLL: usize = 50;

/// What one poll read from a shard: the facts among its records, the sequence number of the
/// last record read (fact or not) and the iterator after it.
struct ShardRead {
    facts: Vec<Value>,
    last_sequence: Option<String>,
    next: Option<String>,
}

/// A poller over every shard of one table's stream, remembering its position.
pub struct StreamPoller {
    http: reqwest::Client,
    endpoint: String,
    stream_arn: String,
    iterators: BTreeMap<String, Option<String>>,
    /// The last sequence number handled per shard, to resume after an iterator goes stale.
    handled_up_to: BTreeMap<String, String>,
    /// Consecutive polls in which the handler reported a failed batch.
    pub failing_polls: usize,
    /// When the shards were last listed, and how many of them had closed then.
    described: Option<(std::time::Instant, usize)>,
    /// Where the rollup's domain events go (the dev server's local bus), as the rollup
    /// function's `EVENT_BUS_NAME`; `None`: none are decided.
    publisher: Option<EventPublisher>,
}

/// How often the shards are listed again when none closed: a shard's children appear only
/// when it closes, so this is a safety net. `DescribeStream` is what DynamoDB Local makes
/// slowest: its cost grows with every stream record in the emulator (all tables' alike), and
/// listing on every poll (every 30 ms while draining, in every test and dev server at once)
/// kept its one database thread busy late in a full test run.
const DESCRIBE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

enum Position<'a> {
    Start,
    At(&'a str),
    After(&'a str),
}

/// A request to DynamoDB Local's JSON protocol at `endpoint`, for the operation `target` (e.g.
/// `DynamoDBStreams_20120810.GetRecords`): signed with a placeholder, which the emulator
/// accepts without checking.
pub fn local_request(
    http: &reqwest::Client,
    endpoint: &str,
    target: &str,
) -> reqwest::RequestBuilder {
    http.post(endpoint)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", target)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
}

/// Whether a raw stream record is a fact (the template's `FilterCriteria`).
fn is_fact_record(record: &Value) -> bool {
    record
        .pointer("/dynamodb/Keys/sk/S")
        .and_then(Value::as_str)
        .is_some_and(crate::store::keys::is_fact)
}

impl StreamPoller {
    pub async fn new(store: &Store) -> Result<StreamPoller, StoreError> {
        let endpoint = std::env::var("FLOWMETER_DYNAMODB_ENDPOINT").map_err(|_| {
            stream_error(
                "stream",
                "FLOWMETER_DYNAMODB_ENDPOINT is not set (local streams only)",
            )
        })?;
        let table = store.describe_table().await?;
        let stream_arn = table
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| {
                stream_error(
                    "DescribeTable",
                    format!("table {} has no stream", store.table()),
                )
            })?
            .to_string();
        Ok(StreamPoller {
            http: reqwest::Client::new(),
            endpoint,
            stream_arn,
            iterators: BTreeMap::new(),
            handled_up_to: BTreeMap::new(),
            failing_polls: 0,
            described: None,
            publisher: None,
        })
    }

    /// Publishes the rollup's domain events with `publisher`, as the rollup function does.
    pub fn with_publisher(mut self, publisher: Option<EventPublisher>) -> StreamPoller {
        self.publisher = publisher;
        self
    }

    async fn call(&self, op: &'static str, body: Value) -> Result<Value, StoreError> {
        let target = format!("DynamoDBStreams_20120810.{op}");
        let response = local_request(&self.http, &self.endpoint, &target)
            .json(&body)
            .send()
            .await
            .map_err(|e| stream_error(op, e))?;
        let status = response.status();
        let value: Value = response.json().await.map_err(|e| stream_error(op, e))?;
        if !status.is_success() {
            return Err(stream_error(op, format!("{status}: {value}")));
        }
        Ok(value)
    }

    /// An iterator at `sequence` (`AT_SEQUENCE_NUMBER`, a retry), after it
    /// (`AFTER_SEQUENCE_NUMBER`, a resume) or at the shard's start.
    async fn shard_iterator(
        &self,
        shard: &str,
        position: Position<'_>,
    ) -> Result<Option<String>, StoreError> {
        let (kind, sequence) = match position {
            Position::Start => ("TRIM_HORIZON", None),
            Position::At(s) => ("AT_SEQUENCE_NUMBER", Some(s)),
            Position::After(s) => ("AFTER_SEQUENCE_NUMBER", Some(s)),
        };
        let mut request =
            json!({"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": kind});
        if let Some(sequence) = sequence {
            request["SequenceNumber"] = json!(sequence);
        }
        let out = self.call("GetShardIterator", request).await?;
        Ok(out["ShardIterator"].as_str().map(str::to_string))
    }

    /// Lists the shards when none is known yet, when a shard has closed since the last
    /// listing (its children are there now), or [`DESCRIBE_EVERY`].
    async fn refresh_shards(&mut self) -> Result<(), StoreError> {
        let closed = self.iterators.values().filter(|i| i.is_none()).count();
        let due = match self.described {
            None => true,
            Some((at, closed_then)) => closed > closed_then || at.elapsed() >= DESCRIBE_EVERY,
        };
        if !due && !self.iterators.is_empty() {
            return Ok(());
        }
        self.described = Some((std::time::Instant::now(), closed));
        let out = self
            .call("DescribeStream", json!({"StreamArn": self.stream_arn}))
            .await?;
        let shards: Vec<String> = out
            .pointer("/StreamDescription/Shards")
            .and_then(Value::as_array)
            .map(|shards| {
                shards
                    .iter()
                    .filter_map(|s| s["ShardId"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for shard in shards {
            if !self.iterators.contains_key(&shard) {
                let iterator = self.shard_iterator(&shard, Position::Start).await?;
                self.iterators.insert(shard, iterator);
            }
        }
        Ok(())
    }

    /// Reads every shard up to its end (or [`BATCH_SIZE`] facts) and hands each non-empty
    /// batch to the rollup handler. A batch whose handler reports a failure is re-read from the
    /// failed record next time, as Lambda would. Returns the number of records handled.
    pub async fn poll_once(&mut self, store: &Store) -> Result<usize, StoreError> {
        self.refresh_shards().await?;
        let mut handled = 0;
        let mut failed_batches = 0;
        let shards: Vec<String> = self.iterators.keys().cloned().collect();
        for shard in shards {
            let Some(Some(iterator)) = self.iterators.get(&shard).cloned() else {
                continue;
            };
            let Some(read) = self.read_facts(&shard, iterator).await? else {
                continue;
            };
            let mut failed = None;
            for batch in read.facts.chunks(BATCH_SIZE) {
                let event: Event = serde_json::from_value(json!({ "Records": batch }))
                    .map_err(|e| StoreError::Corrupt(format!("stream record: {e}")))?;
                let response = handle_stream_event(store, self.publisher.as_ref(), event).await?;
                failed = response
                    .batch_item_failures
                    .first()
                    .and_then(|f| f.item_identifier.clone());
                if failed.is_some() {
                    break;
                }
                handled += batch.len();
            }
            if let Some(failed) = failed {
                let next = self.shard_iterator(&shard, Position::At(&failed)).await?;
                failed_batches += 1;
                self.iterators.insert(shard, next);
                continue;
            }
            if let Some(sequence) = read.last_sequence {
                self.handled_up_to.insert(shard.clone(), sequence);
            }
            self.iterators.insert(shard, read.next);
        }
        self.failing_polls = if failed_batches > 0 {
            self.failing_polls + 1
        } else {
            0
        };
        Ok(handled)
    }

    /// Reads one shard from `iterator` until it is caught up or [`BATCH_SIZE`] facts are in
    /// hand. Lambda filters before it batches, so its batches hold up to `BatchSize` facts
    /// however many of the rollup's own writes lie between them; stopping at the first
    /// `GetRecords` page (1,000 raw records, most of them projections and rollups) would hand
    /// the handler a fifth of that and make it recompute each bucket five times as often.
    /// `None` when the iterator had gone stale (it is renewed for the next poll).
    async fn read_facts(
        &mut self,
        shard: &str,
        iterator: String,
    ) -> Result<Option<ShardRead>, StoreError> {
        let mut read = ShardRead {
            facts: Vec::new(),
            last_sequence: None,
            next: Some(iterator),
        };
        let mut pages = 0;
        while let Some(iterator) = read.next.clone() {
            if read.facts.len() >= BATCH_SIZE || pages >= MAX_PAGES_PER_POLL {
                break;
            }
            let request = json!({"ShardIterator": iterator, "Limit": GET_RECORDS_LIMIT});
            let out = match self.call("GetRecords", request).await {
                Ok(out) => out,
                Err(err) => {
                    // DynamoDB Local invalidates an iterator taken on an empty shard once
                    // records arrive ("trimmed data"): resume after the last handled record.
                    tracing::debug!(error = %err, shard, "stale shard iterator; resuming");
                    if pages > 0 {
                        // Hand over what was read; the next poll resumes after it.
                        read.next = match &read.last_sequence {
                            Some(seq) => self.shard_iterator(shard, Position::After(seq)).await?,
                            None => None,
                        };
                        return Ok(Some(read));
                    }
                    let position = match self.handled_up_to.get(shard) {
                        Some(seq) => Position::After(seq),
                        None => Position::Start,
                    };
                    let fresh = self.shard_iterator(shard, position).await?;
                    self.iterators.insert(shard.to_string(), fresh);
                    return Ok(None);
                }
            };
            pages += 1;
            read.next = out["NextShardIterator"].as_str().map(str::to_string);
            let records = out["Records"].as_array().cloned().unwrap_or_default();
            if let Some(sequence) = records
                .last()
                .and_then(|r| r.pointer("/dynamodb/SequenceNumber"))
                .and_then(Value::as_str)
            {
                read.last_sequence = Some(sequence.to_string());
            }
            // Not `len() < Limit`: a page also ends at 1 MB of records.
            let caught_up = records.is_empty();
            read.facts
                .extend(records.into_iter().filter(is_fact_record));
            if caught_up {
                break;
            }
        }
        Ok(Some(read))
    }

    /// Polls until the stream stays quiet for `quiet_polls` consecutive reads: the derivation
    /// chain has settled. A batch that keeps failing is an error, not quiet.
    pub async fn drain(&mut self, store: &Store, quiet_polls: usize) -> Result<usize, StoreError> {
        let mut total = 0;
        let mut quiet = 0;
        while quiet < quiet_polls {
            let n = self.poll_once(store).await?;
            if self.failing_polls >= 5 {
                return Err(stream_error(
                    "stream",
                    "the rollup handler failed the same batch 5 times; see its log",
                ));
            }
            total += n;
            if n == 0 {
                quiet += 1;
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            } else {
                quiet = 0;
            }
        }
        Ok(total)
    }
}
