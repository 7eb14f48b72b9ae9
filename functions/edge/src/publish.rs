//! Publishing domain events to the EventBridge bus.
//!
//! `PutEvents` takes at most [`MAX_ENTRIES`] entries and [`MAX_REQUEST_BYTES`] per request, the
//! size counted as EventBridge counts it ([`entry_size`]): the events are cut into batches that
//! fit, in their order, and an event too large to fit any request fails alone (`TooLarge`)
//! without a request. A request answers per entry: the entries that failed with an error that
//! retrying can fix (throttling, an internal failure) are sent again, alone, with backoff, up
//! to [`ATTEMPTS`] requests in all; the others are reported at once. A request that fails as a
//! whole (throttled, a 5xx, the endpoint unreachable) is retried the same way; after the last
//! attempt every event of it is reported failed with the error's code.
//!
//! Nothing here logs an event's detail: only ids, counts and error codes.

use std::time::Duration;

use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_sdk_eventbridge::primitives::DateTime as SdkDateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use flowmeter::events::{DomainEvent, SOURCE};

/// Most entries one `PutEvents` request may carry.
pub const MAX_ENTRIES: usize = 10;
/// Most bytes (as [`entry_size`] counts them, summed) one `PutEvents` request may carry.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// What a `Time` counts towards an entry's size, whatever the time.
const TIME_BYTES: usize = 14;
/// How many requests an event is sent in at most (the first and three retries).
pub const ATTEMPTS: u32 = 4;
/// The code of an event too large for any request.
pub const TOO_LARGE: &str = "TooLarge";
/// The code of an entry the answer said nothing about (fewer result entries than sent).
pub const NO_RESULT: &str = "NoResult";

/// Sends domain events to one EventBridge bus.
#[derive(Clone, Debug)]
pub struct EventPublisher {
    client: Client,
    bus: String,
}

/// What became of the events of one [`EventPublisher::publish`].
#[derive(Debug, Default)]
pub struct Published {
    /// The ids of the events EventBridge accepted.
    pub sent: Vec<String>,
    pub failed: Vec<FailedEvent>,
}

/// An event that is not on the bus: its id, the error code (EventBridge's own, e.g.
/// `ThrottlingException`, `AccessDeniedException`, `ResourceNotFoundException`; or
/// [`TOO_LARGE`], `Unreachable`, `Timeout`, `DispatchFailure`, [`NO_RESULT`]) and the error's
/// message.
#[derive(Debug)]
pub struct FailedEvent {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// An event as the entry it is sent as.
#[derive(Clone, Debug)]
struct Entry {
    id: String,
    detail_type: &'static str,
    detail: String,
    time: SdkDateTime,
    size: usize,
}

impl Entry {
    fn of(event: &DomainEvent) -> Entry {
        let detail_type = event.kind.as_str();
        let detail = event.detail_json();
        let time = SdkDateTime::from_secs_and_nanos(
            event.occurred_at.timestamp(),
            event.occurred_at.timestamp_subsec_nanos(),
        );
        Entry {
            id: event.id.clone(),
            size: entry_size(detail_type, &detail),
            detail_type,
            detail,
            time,
        }
    }

    fn request_entry(&self, bus: &str) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(self.detail_type)
            .detail(self.detail.clone())
            .time(self.time)
            .event_bus_name(bus)
            .build()
    }
}

/// An entry's size as EventBridge counts it against the request limit: Source, DetailType and
/// Detail in UTF-8 bytes (and Resources, which Flowmeter does not send), plus 14 for the Time.
pub fn entry_size(detail_type: &str, detail: &str) -> usize {
    TIME_BYTES + SOURCE.len() + detail_type.len() + detail.len()
}

/// Cuts entries of `sizes` into requests, in order: each batch (indices into `sizes`) has at
/// most [`MAX_ENTRIES`] entries and [`MAX_REQUEST_BYTES`] in all. The second list holds the
/// entries that fit no request at all.
pub fn plan_batches(sizes: &[usize]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut too_large = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = 0usize;
    for (index, &size) in sizes.iter().enumerate() {
        if size > MAX_REQUEST_BYTES {
            too_large.push(index);
            continue;
        }
        if current.len() == MAX_ENTRIES || bytes + size > MAX_REQUEST_BYTES {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(index);
        bytes += size;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    (batches, too_large)
}

/// Whether an entry that failed with `code` may succeed when sent again.
pub fn retryable_entry_code(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "InternalFailure"
            | "InternalException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
    )
}

/// How long to wait before attempt `attempt + 1`: 100 ms × 2^attempt, plus up to a quarter
/// more of jitter.
fn backoff(attempt: u32) -> Duration {
    let base = 100u64 * 2u64.pow(attempt.min(6));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or_default();
    Duration::from_millis(base + nanos % (base / 4 + 1))
}

/// A request that failed as a whole: the code events report, a message, whether to retry.
struct RequestError {
    code: String,
    message: String,
    retryable: bool,
}

impl RequestError {
    fn of(err: SdkError<PutEventsError>) -> RequestError {
        let detail = DisplayErrorContext(&err).to_string();
        match &err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = service.err().code().unwrap_or("UnknownError").to_string();
                let retryable = status >= 500
                    || status == 429
                    || retryable_entry_code(&code)
                    || matches!(
                        code.as_str(),
                        "RequestLimitExceeded" | "SlowDown" | "LimitExceededException"
                    );
                let message = service.err().message().map_or(detail, str::to_string);
                RequestError {
                    code,
                    message,
                    retryable,
                }
            }
            SdkError::TimeoutError(_) => RequestError {
                code: "Timeout".into(),
                message: detail,
                retryable: true,
            },
            SdkError::DispatchFailure(failure) => RequestError {
                code: if failure.is_io() {
                    "Unreachable".into()
                } else if failure.is_timeout() {
                    "Timeout".into()
                } else {
                    // Not sent: e.g. no credentials could be had to sign it.
                    "DispatchFailure".into()
                },
                message: detail,
                // A request the client refused as built fails the same way every time.
                retryable: !failure.is_user(),
            },
            SdkError::ResponseError(_) => RequestError {
                code: "ResponseError".into(),
                message: detail,
                retryable: true,
            },
            SdkError::ConstructionFailure(_) => RequestError {
                code: "ConstructionFailure".into(),
                message: detail,
                retryable: false,
            },
            _ => RequestError {
                code: "UnknownError".into(),
                message: detail,
                retryable: true,
            },
        }
    }
}

/// One answered request, entry by entry (in request order): accepted, to retry, or failed.
enum Outcome {
    Sent,
    Retry { code: String, message: String },
    Failed { code: String, message: String },
}

fn outcomes(output: &PutEventsOutput, sent: usize) -> Vec<Outcome> {
    let results = output.entries();
    let mut outcomes = Vec::with_capacity(sent);
    for index in 0..sent {
        let outcome = match results.get(index) {
            Some(result) => match (result.error_code(), result.event_id()) {
                (Some(code), _) => {
                    let message = result.error_message().unwrap_or_default().to_string();
                    if retryable_entry_code(code) {
                        Outcome::Retry {
                            code: code.to_string(),
                            message,
                        }
                    } else {
                        Outcome::Failed {
                            code: code.to_string(),
                            message,
                        }
                    }
                }
                (None, Some(_)) => Outcome::Sent,
                (None, None) => Outcome::Failed {
                    code: NO_RESULT.into(),
                    message: "the answer's entry has neither an event id nor an error".into(),
                },
            },
            None => Outcome::Failed {
                code: NO_RESULT.into(),
                message: format!("the answer has {} entries for {sent} sent", results.len()),
            },
        };
        outcomes.push(outcome);
    }
    let reported = outcomes
        .iter()
        .filter(|o| !matches!(o, Outcome::Sent))
        .count();
    if usize::try_from(output.failed_entry_count()).ok() != Some(reported) {
        tracing::warn!(
            failed_entry_count = output.failed_entry_count(),
            failed_entries = reported,
            "PutEvents: FailedEntryCount disagrees with the entries"
        );
    }
    outcomes
}

impl EventPublisher {
    /// A publisher on `client`. The publisher retries itself ([`ATTEMPTS`]) and turns the
    /// client's own retries off for its requests, so a throttled request is not retried twice
    /// over.
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventPublisher {
            client,
            bus: bus.into(),
        }
    }

    /// From the environment: the bus is `EVENT_BUS_NAME` (unset or empty: `None`, events are
    /// not published); `FLOWMETER_EVENTBRIDGE_ENDPOINT` points the client at a local endpoint
    /// (the dev server's bus), unset in AWS.
    pub async fn from_env() -> Option<EventPublisher> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bus = var("EVENT_BUS_NAME")?;
        let endpoint = var("FLOWMETER_EVENTBRIDGE_ENDPOINT");
        Some(EventPublisher::at(endpoint.as_deref(), &bus).await)
    }

    /// A publisher on `bus` at an explicit endpoint (`None`: the regional one), region and
    /// credentials from the environment: the tests and the dev server.
    pub async fn at(endpoint: Option<&str>, bus: &str) -> EventPublisher {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .build(),
            );
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        EventPublisher::new(Client::new(&shared), bus)
    }

    /// The bus the events go to.
    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Publishes `events` in order, in as few requests as the limits allow, retrying what
    /// may succeed later. Never fails as a whole: every event is either in `sent` or in
    /// `failed`.
    pub async fn publish(&self, events: &[DomainEvent]) -> Published {
        let entries: Vec<Entry> = events.iter().map(Entry::of).collect();
        let sizes: Vec<usize> = entries.iter().map(|e| e.size).collect();
        let (batches, too_large) = plan_batches(&sizes);
        let mut published = Published::default();
        for index in too_large {
            let entry = &entries[index];
            tracing::warn!(event = %entry.id, size = entry.size, "event too large to publish");
            published.failed.push(FailedEvent {
                id: entry.id.clone(),
                code: TOO_LARGE.into(),
                message: format!(
                    "the entry is {} bytes; a PutEvents request takes at most {MAX_REQUEST_BYTES}",
                    entry.size
                ),
            });
        }
        for batch in batches {
            let batch: Vec<&Entry> = batch.iter().map(|&i| &entries[i]).collect();
            self.send_batch(batch, &mut published).await;
        }
        published
    }

    /// Sends one batch until every entry of it is accepted or has failed for good.
    async fn send_batch(&self, mut pending: Vec<&Entry>, published: &mut Published) {
        let mut attempt = 0u32;
        loop {
            let last = attempt + 1 >= ATTEMPTS;
            let request = pending
                .iter()
                .map(|entry| entry.request_entry(&self.bus))
                .collect::<Vec<_>>();
            let result = self
                .client
                .put_events()
                .set_entries(Some(request))
                .customize()
                .config_override(
                    aws_sdk_eventbridge::config::Config::builder()
                        .retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            let mut retry = Vec::new();
            match result {
                Ok(output) => {
                    for (entry, outcome) in pending.iter().zip(outcomes(&output, pending.len())) {
                        match outcome {
                            Outcome::Sent => published.sent.push(entry.id.clone()),
                            Outcome::Retry { code, .. } if !last => {
                                tracing::debug!(event = %entry.id, %code, attempt, "entry failed; retrying");
                                retry.push(*entry);
                            }
                            Outcome::Retry { code, message }
                            | Outcome::Failed { code, message } => {
                                tracing::warn!(event = %entry.id, %code, "event not published");
                                published.failed.push(FailedEvent {
                                    id: entry.id.clone(),
                                    code,
                                    message,
                                });
                            }
                        }
                    }
                }
                Err(err) => {
                    let error = RequestError::of(err);
                    if error.retryable && !last {
                        tracing::debug!(code = %error.code, attempt, entries = pending.len(), "PutEvents failed; retrying");
                        retry = pending.clone();
                    } else {
                        tracing::warn!(code = %error.code, entries = pending.len(), "PutEvents failed; events not published");
                        published
                            .failed
                            .extend(pending.iter().map(|entry| FailedEvent {
                                id: entry.id.clone(),
                                code: error.code.clone(),
                                message: error.message.clone(),
                            }));
                    }
                }
            }
            if retry.is_empty() {
                return;
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
            pending = retry;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_counts_as_eventbridge_counts_it() {
        // 14 for the time, "flowmeter" (9), the detail type and the detail in UTF-8 bytes.
        assert_eq!(entry_size("deployment.finished", "{}"), 14 + 9 + 19 + 2);
        assert_eq!(entry_size("x", "{\"a\":\"é\"}"), 14 + 9 + 1 + 10);
    }

    #[test]
    fn batches_hold_ten_entries_at_most() {
        let (batches, too_large) = plan_batches(&[100; 25]);
        assert!(too_large.is_empty());
        let lens: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![10, 10, 5]);
        let flat: Vec<usize> = batches.into_iter().flatten().collect();
        assert_eq!(flat, (0..25).collect::<Vec<_>>());
    }

    #[test]
    fn exactly_ten_is_one_batch_and_none_is_none() {
        assert_eq!(plan_batches(&[1; 10]).0.len(), 1);
        assert_eq!(plan_batches(&[1; 11]).0.len(), 2);
        let (batches, too_large) = plan_batches(&[]);
        assert!(batches.is_empty() && too_large.is_empty());
    }

    #[test]
    fn batches_hold_256_kib_at_most() {
        let big = 100 * 1024;
        let (batches, _) = plan_batches(&[big, big, big, 10, big]);
        // 200 KiB fit; a third 100 KiB does not; the small one joins the third.
        assert_eq!(batches, vec![vec![0, 1], vec![2, 3, 4]]);
        for batch in &batches {
            let total: usize = batch.iter().map(|&i| [big, big, big, 10, big][i]).sum();
            assert!(total <= MAX_REQUEST_BYTES);
        }
    }

    #[test]
    fn a_request_may_be_exactly_256_kib() {
        let (batches, too_large) = plan_batches(&[MAX_REQUEST_BYTES - 10, 10, MAX_REQUEST_BYTES]);
        assert_eq!(batches, vec![vec![0, 1], vec![2]]);
        assert!(too_large.is_empty());
    }

    #[test]
    fn an_event_over_256_kib_is_set_aside_and_the_others_still_batch() {
        let sizes = [10, MAX_REQUEST_BYTES + 1, 20, 30];
        let (batches, too_large) = plan_batches(&sizes);
        assert_eq!(too_large, vec![1]);
        assert_eq!(batches, vec![vec![0, 2, 3]]);
    }

    #[test]
    fn only_transient_entry_errors_are_retried() {
        for code in [
            "ThrottlingException",
            "InternalFailure",
            "InternalException",
        ] {
            assert!(retryable_entry_code(code), "{code}");
        }
        for code in [
            "AccessDeniedException",
            "InvalidArgument",
            "MalformedDetail",
            "NotAuthorizedForSourceException",
            "NotAuthorizedForDetailTypeException",
            "InvalidAccountIdException",
            "RedactionFailure",
        ] {
            assert!(!retryable_entry_code(code), "{code}");
        }
    }

    #[test]
    fn backoff_doubles_from_100_ms() {
        for (attempt, base) in [(0, 100), (1, 200), (2, 400)] {
            let wait = backoff(attempt).as_millis() as u64;
            assert!(
                (base..=base + base / 4).contains(&wait),
                "{attempt}: {wait}"
            );
        }
    }

    #[test]
    fn an_entry_carries_source_type_detail_time_and_bus() {
        let at = chrono::DateTime::parse_from_rfc3339("2024-05-06T07:08:09.5Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        let event = DomainEvent::new(
            flowmeter::events::EventType::IncidentOpened,
            "evt_1".into(),
            at,
            "acme",
        );
        let entry = Entry::of(&event);
        let request = entry.request_entry("bus-1");
        assert_eq!(request.source(), Some(SOURCE));
        assert_eq!(request.detail_type(), Some("incident.opened"));
        assert_eq!(request.detail(), Some(event.detail_json().as_str()));
        assert_eq!(request.event_bus_name(), Some("bus-1"));
        assert_eq!(request.time().map(|t| t.secs()), Some(at.timestamp()));
        assert_eq!(
            entry.size,
            entry_size("incident.opened", &event.detail_json())
        );
    }
}
