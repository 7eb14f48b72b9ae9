//! A local EventBridge `PutEvents` endpoint: a real HTTP server speaking the AWS JSON 1.1
//! protocol the SDK uses (`POST /`, `X-Amz-Target: AWSEvents.PutEvents`), so the publisher
//! runs unchanged against it (`FLOWMETER_EVENTBRIDGE_ENDPOINT`). It validates as EventBridge
//! does: more than 10 entries or over 256 KiB (counted as EventBridge counts, see
//! `flowmeter_edge::publish::entry_size`) is a 400 `ValidationException`, an unknown bus a 400
//! `ResourceNotFoundException`; an entry without a Source or a DetailType, or whose Detail is
//! not a JSON object, fails alone with `InvalidArgument`. Any SigV4 signature is accepted.
//!
//! It records what it accepted (and which event ids each request carried), can be told to
//! fail entries or whole requests, and hands accepted entries to subscribers (the dev server's
//! rule to the notifier).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Most entries a request may carry.
pub const MAX_ENTRIES: usize = 10;
/// Most bytes (EventBridge's count, summed over the entries) a request may carry.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// Bodies above this are refused unread (413): far above any valid request, JSON-escaped.
const BODY_LIMIT: usize = 16 * 1024 * 1024;
const TARGET: &str = "AWSEvents.PutEvents";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// An entry the bus accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEntry {
    /// The id the bus answered for it.
    pub event_id: String,
    pub source: String,
    pub detail_type: String,
    pub detail: Value,
    /// The bus it was put on (`default` when the entry named none).
    pub bus: String,
    /// The entry's `Time`, or when it arrived if it had none.
    pub time: DateTime<Utc>,
    pub resources: Vec<String>,
}

#[derive(Default)]
struct State {
    entries: Vec<RecordedEntry>,
    requests: Vec<Vec<String>>,
    /// Codes the next entries fail with, one per entry.
    failing_entries: VecDeque<String>,
    failing_requests: usize,
    subscribers: Vec<UnboundedSender<Vec<RecordedEntry>>>,
}

/// Numbers the accepted entries of every bus of this process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct Shared {
    /// The only bus that exists; empty: any bus does.
    bus: String,
    state: Mutex<State>,
}

impl Shared {
    /// The state, even if a panicking holder poisoned the lock (the data stays consistent:
    /// every change is made under one lock).
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stops accepting connections when the last handle of the bus is dropped.
struct Server(tokio::task::JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running local bus. Clones share it; it stops accepting when the last clone is dropped.
#[derive(Clone)]
pub struct LocalEventBus {
    shared: Arc<Shared>,
    address: std::net::SocketAddr,
    _server: Arc<Server>,
}

impl LocalEventBus {
    /// Starts a bus named `bus_name` on 127.0.0.1 (a free port). Requests naming another bus
    /// are refused with `ResourceNotFoundException`; an empty name accepts any bus.
    pub async fn start(bus_name: &str) -> std::io::Result<LocalEventBus> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            bus: bus_name.to_string(),
            state: Mutex::new(State::default()),
        });
        let serving = shared.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(shared.clone(), request));
                    if let Err(err) = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(error = %err, "event bus connection ended with an error");
                    }
                });
            }
        });
        Ok(LocalEventBus {
            shared,
            address,
            _server: Arc::new(Server(server)),
        })
    }

    /// `http://127.0.0.1:<port>`, for `FLOWMETER_EVENTBRIDGE_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The bus's name (empty: it accepts any).
    pub fn bus_name(&self) -> &str {
        &self.shared.bus
    }

    /// The accepted entries, in the order they arrived.
    pub fn entries(&self) -> Vec<RecordedEntry> {
        self.shared.state().entries.clone()
    }

    /// Per `PutEvents` request that could be read (whatever its answer, a 400 or a 500
    /// included): the event ids (`detail["id"]`) of its entries, accepted or not, in order; an
    /// entry without one counts as an empty string.
    pub fn requests(&self) -> Vec<Vec<String>> {
        self.shared.state().requests.clone()
    }

    /// The next `n` entries (counted across requests) fail with `code` (e.g.
    /// `ThrottlingException`) instead of being recorded. Calls add up.
    pub fn fail_next_entries(&self, n: usize, code: &str) {
        let mut state = self.shared.state();
        state
            .failing_entries
            .extend(std::iter::repeat_n(code.to_string(), n));
    }

    /// The next `n` requests are answered HTTP 500 `InternalException`. Calls add up.
    pub fn fail_next_requests(&self, n: usize) {
        self.shared.state().failing_requests += n;
    }

    /// Accepted entries are also sent here: one `Vec` per request that accepted any (a request
    /// whose entries all failed sends nothing).
    pub fn subscribe(&self) -> UnboundedReceiver<Vec<RecordedEntry>> {
        let (sender, receiver) = unbounded_channel();
        self.shared.state().subscribers.push(sender);
        receiver
    }
}

type Response = hyper::Response<Full<Bytes>>;

fn respond(status: u16, body: &Value, error_type: Option<&str>) -> Response {
    let mut builder = hyper::Response::builder()
        .status(status)
        .header("content-type", CONTENT_TYPE)
        .header("x-amzn-requestid", request_id());
    if let Some(error_type) = error_type {
        builder = builder.header("x-amzn-errortype", error_type);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

fn error(status: u16, error_type: &str, message: impl Into<String>) -> Response {
    let body = json!({ "__type": error_type, "message": message.into() });
    respond(status, &body, Some(error_type))
}

fn request_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:032x}")
}

/// An id shaped like EventBridge's (a UUID), unique within this process's buses.
fn event_id(n: u64) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        std::process::id(),
        n & 0xffff_ffff_ffff
    )
}

/// An entry's size as EventBridge counts it: 14 for a Time, then Source, DetailType, Detail
/// and each Resource in UTF-8 bytes.
fn entry_size(entry: &Value) -> usize {
    let text = |key: &str| entry.get(key).and_then(Value::as_str).map_or(0, str::len);
    let time = if entry.get("Time").is_some_and(|t| !t.is_null()) {
        14
    } else {
        0
    };
    let resources: usize = entry
        .get("Resources")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(str::len).sum())
        .unwrap_or_default();
    time + text("Source") + text("DetailType") + text("Detail") + resources
}

/// The bus an entry names: its `EventBusName` (a name, or an ARN ending in `event-bus/<name>`),
/// `default` when absent.
fn bus_of(entry: &Value) -> String {
    match entry.get("EventBusName").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name
            .strip_prefix("arn:")
            .and_then(|arn| arn.rsplit_once('/'))
            .map_or(name, |(_, bus)| bus)
            .to_string(),
        _ => "default".to_string(),
    }
}

/// The event id a consumer would dedupe by: the detail's `id`.
fn detail_id(entry: &Value) -> String {
    entry
        .get("Detail")
        .and_then(Value::as_str)
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .and_then(|d| d.get("id").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

fn time_of(entry: &Value) -> Result<DateTime<Utc>, String> {
    match entry.get("Time") {
        None | Some(Value::Null) => Ok(Utc::now()),
        Some(Value::Number(n)) => {
            let seconds = n.as_f64().unwrap_or(f64::NAN);
            if !seconds.is_finite() {
                return Err("Time is not a valid timestamp".into());
            }
            let whole = seconds.floor();
            let nanos = ((seconds - whole) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
            DateTime::from_timestamp(whole as i64, nanos)
                .ok_or_else(|| "Time is out of range".to_string())
        }
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| "Time is not a valid timestamp".to_string()),
        Some(_) => Err("Time is not a valid timestamp".into()),
    }
}

/// The entry as recorded, or why EventBridge would refuse it (`InvalidArgument`).
fn validate(entry: &Value) -> Result<RecordedEntry, String> {
    let required = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                format!("Parameter {key} is not valid. Reason: {key} is a required argument.")
            })
    };
    let source = required("Source")?;
    let detail_type = required("DetailType")?;
    let detail = match entry.get("Detail").and_then(Value::as_str) {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => value,
            _ => {
                return Err(
                    "Parameter Detail is not valid. Reason: Detail must be a JSON object.".into(),
                )
            }
        },
        None => {
            return Err(
                "Parameter Detail is not valid. Reason: Detail is a required argument.".into(),
            )
        }
    };
    let resources = match entry.get("Resources") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| r.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or("Parameter Resources is not valid. Reason: resources must be strings.")?,
        Some(_) => return Err("Parameter Resources is not valid.".into()),
    };
    let time = time_of(entry)
        .map_err(|reason| format!("Parameter Time is not valid. Reason: {reason}."))?;
    Ok(RecordedEntry {
        event_id: String::new(),
        source,
        detail_type,
        detail,
        bus: bus_of(entry),
        time,
        resources,
    })
}

async fn answer(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
) -> Result<Response, Infallible> {
    if request.method() != hyper::Method::POST {
        return Ok(error(
            405,
            "UnknownOperationException",
            "only POST is supported",
        ));
    }
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if target != TARGET {
        return Ok(error(
            400,
            "UnknownOperationException",
            format!("this endpoint answers {TARGET} only"),
        ));
    }
    let body = match Limited::new(request.into_body(), BODY_LIMIT)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(error(
                413,
                "RequestEntityTooLarge",
                "the request body is too large",
            ))
        }
    };
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return Ok(error(400, "SerializationException", "the body is not JSON"));
    };
    let Some(entries) = payload.get("Entries").and_then(Value::as_array) else {
        return Ok(error(
            400,
            "ValidationException",
            "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
        ));
    };
    Ok(put_events(&shared, entries))
}

fn put_events(shared: &Shared, entries: &[Value]) -> Response {
    let mut state = shared.state();
    state.requests.push(entries.iter().map(detail_id).collect());
    if state.failing_requests > 0 {
        state.failing_requests -= 1;
        return error(
            500,
            "InternalException",
            "Internal service error (injected).",
        );
    }
    if entries.is_empty() || entries.len() > MAX_ENTRIES {
        return error(
            400,
            "ValidationException",
            format!(
                "1 validation error detected: Value at 'entries' failed to satisfy constraint: \
                 Member must have length less than or equal to {MAX_ENTRIES} and greater than or equal to 1 (got {})",
                entries.len()
            ),
        );
    }
    let size: usize = entries.iter().map(entry_size).sum();
    if size > MAX_REQUEST_BYTES {
        return error(
            400,
            "ValidationException",
            format!("Total size of the entries in the request is over the limit ({size} > {MAX_REQUEST_BYTES} bytes)."),
        );
    }
    if !shared.bus.is_empty() {
        if let Some(unknown) = entries.iter().map(bus_of).find(|bus| *bus != shared.bus) {
            return error(
                400,
                "ResourceNotFoundException",
                format!("Event bus {unknown} does not exist."),
            );
        }
    }
    let mut results = Vec::with_capacity(entries.len());
    let mut accepted = Vec::new();
    let mut failed = 0usize;
    for entry in entries {
        let outcome = match state.failing_entries.pop_front() {
            Some(code) => Err((code, "Injected failure.".to_string())),
            None => validate(entry).map_err(|message| ("InvalidArgument".to_string(), message)),
        };
        match outcome {
            Ok(mut recorded) => {
                recorded.event_id = event_id(NEXT_ID.fetch_add(1, Ordering::Relaxed));
                results.push(json!({ "EventId": recorded.event_id }));
                accepted.push(recorded);
            }
            Err((code, message)) => {
                failed += 1;
                results.push(json!({ "ErrorCode": code, "ErrorMessage": message }));
            }
        }
    }
    state.entries.extend(accepted.iter().cloned());
    if !accepted.is_empty() {
        state
            .subscribers
            .retain(|subscriber| subscriber.send(accepted.clone()).is_ok());
    }
    drop(state);
    respond(
        200,
        &json!({ "FailedEntryCount": failed, "Entries": results }),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_as_eventbridge_counts() {
        let entry = json!({
            "Source": "flowmeter", "DetailType": "x", "Detail": "{}", "Time": 1.5,
            "Resources": ["ab"], "EventBusName": "ignored"
        });
        assert_eq!(entry_size(&entry), 14 + 9 + 1 + 2 + 2);
        assert_eq!(entry_size(&json!({"Source": "s"})), 1);
    }

    #[test]
    fn a_bus_is_named_by_name_or_arn() {
        assert_eq!(bus_of(&json!({})), "default");
        assert_eq!(bus_of(&json!({"EventBusName": "b"})), "b");
        assert_eq!(
            bus_of(&json!({"EventBusName": "arn:aws:events:us-east-1:1:event-bus/b"})),
            "b"
        );
    }

    #[test]
    fn entries_are_validated_like_eventbridge() {
        let good = json!({"Source": "s", "DetailType": "t", "Detail": "{\"id\":\"e\"}", "Time": 1_700_000_000.25});
        let recorded = validate(&good).expect("valid");
        assert_eq!(recorded.time.timestamp_millis(), 1_700_000_000_250);
        assert_eq!(detail_id(&good), "e");
        for bad in [
            json!({"DetailType": "t", "Detail": "{}"}),
            json!({"Source": "s", "Detail": "{}"}),
            json!({"Source": "s", "DetailType": "t", "Detail": "[1]"}),
            json!({"Source": "s", "DetailType": "t", "Detail": "not json"}),
            json!({"Source": "s", "DetailType": "t"}),
            json!({"Source": "s", "DetailType": "t", "Detail": "{}", "Time": "yesterday"}),
        ] {
            assert!(validate(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_unique() {
        let ids: std::collections::HashSet<String> = (1..1000).map(event_id).collect();
        assert_eq!(ids.len(), 999);
    }
}
