//! What can go wrong talking to the table, typed so that the pipeline, logs and alarms can
//! tell a throttle (retry later) from a lost race, an undecodable item or a bug.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::codec::Item;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB shed the request (over the table's or the account's rate): retry later.
    #[error("DynamoDB {op} throttled ({code}): {message}")]
    Throttled {
        op: &'static str,
        code: String,
        message: String,
    },
    /// No answer: a timeout or a connection that failed. Retry later.
    #[error("DynamoDB {op} did not answer: {message}")]
    Transport { op: &'static str, message: String },
    /// A condition of the request failed (the item changed under it). Operations that expect
    /// this turn it into their answer; `old` is the item there, when the request asked for it.
    #[error("DynamoDB {op}: its condition failed")]
    Conflict { op: &'static str, old: Option<Item> },
    /// The work did not settle: a compare-and-set lost to other writers too often, or a run
    /// did not converge. A later retry, with fresh reads, usually does.
    #[error("{op} did not settle: {reason}")]
    Unsettled { op: &'static str, reason: String },
    /// Items of a batch request still unprocessed after every retry (throttling).
    #[error("DynamoDB {op}: {left} items still unprocessed after {tries} tries")]
    Unprocessed {
        op: &'static str,
        left: usize,
        tries: u32,
    },
    /// A stored item that does not decode (or one that cannot be encoded): the same item
    /// fails the same way every time.
    #[error("item (de)serialization failed (a corrupt item): {0}")]
    Corrupt(String),
    /// DynamoDB refused the request itself (a key over 2,048 / 1,024 bytes, an item over
    /// 400 KB, a full item collection): it never accepts it, however often it is sent.
    #[error("DynamoDB {op} rejected the request ({code}): {message}")]
    Rejected {
        op: &'static str,
        code: String,
        message: String,
    },
    /// A derived write (link, projection, PR-by-head record, link delete) met a source fact at
    /// its key, or was handed a source fact to write as derived: it is refused and nothing
    /// changes (source facts are the only record of what a source said; everything derived
    /// can be rebuilt from them).
    #[error(
        "{op} refused at {pk} / {sk}: a derived write never replaces or deletes a source fact"
    )]
    WouldReplaceSourceFact {
        op: &'static str,
        pk: String,
        sk: String,
    },
    /// Any other error of the service or the client.
    #[error("DynamoDB {op} failed: {message}")]
    Service { op: &'static str, message: String },
}

/// Error codes by which DynamoDB sheds load: the request is fine, just not now.
const THROTTLING_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
];

/// Error codes that retrying cannot cure: the request itself is one the table never accepts.
const PERMANENT_CODES: &[&str] = &[
    "ValidationException",
    "ItemCollectionSizeLimitExceededException",
];

const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

impl StoreError {
    /// A poison error: the same request fails the same way on every retry, so a stream batch
    /// that keeps retrying it stalls behind it for good. The pipeline parks the entity instead.
    /// Everything else (throttling, timeouts, lost races, an unreachable store) is transient.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            StoreError::Rejected { .. }
                | StoreError::Corrupt(_)
                | StoreError::WouldReplaceSourceFact { .. }
        )
    }

    /// The store was busy or out of reach (throttled, no answer, batch items left over): the
    /// same request is expected to succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Throttled { .. }
                | StoreError::Transport { .. }
                | StoreError::Unprocessed { .. }
        )
    }

    /// The error of a failed SDK call of `op`: no answer is [`StoreError::Transport`], an
    /// answer is classified by its error code ([`StoreError::from_code`]).
    pub fn from_sdk<E, R>(op: &'static str, err: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + OldItem + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let message = DisplayErrorContext(&err).to_string();
        if matches!(
            err,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
        ) {
            return StoreError::Transport { op, message };
        }
        let service = err.as_service_error();
        match StoreError::from_code(op, service.and_then(|e| e.code()), message) {
            StoreError::Conflict { op, .. } => StoreError::Conflict {
                op,
                old: service.and_then(OldItem::old_item),
            },
            other => other,
        }
    }

    /// Classifies an error DynamoDB answered with by its code (`None`: it gave none).
    pub fn from_code(op: &'static str, code: Option<&str>, message: String) -> StoreError {
        let Some(code) = code else {
            return StoreError::Service { op, message };
        };
        let code_string = code.to_string();
        if code == CONDITION_FAILED {
            StoreError::Conflict { op, old: None }
        } else if THROTTLING_CODES.contains(&code) {
            StoreError::Throttled {
                op,
                code: code_string,
                message,
            }
        } else if PERMANENT_CODES.contains(&code) {
            StoreError::Rejected {
                op,
                code: code_string,
                message,
            }
        } else {
            StoreError::Service { op, message }
        }
    }

    /// An error of a request the SDK could not build (a missing required field).
    pub(super) fn unbuildable(op: &'static str, err: impl std::error::Error + 'static) -> Self {
        StoreError::Corrupt(format!("{op}: {}", DisplayErrorContext(err)))
    }
}

/// The item a failed condition returns, for the errors that can carry one.
pub trait OldItem {
    fn old_item(&self) -> Option<Item> {
        None
    }
}

impl OldItem for aws_sdk_dynamodb::operation::put_item::PutItemError {
    fn old_item(&self) -> Option<Item> {
        match self {
            Self::ConditionalCheckFailedException(failed) => failed.item().cloned(),
            _ => None,
        }
    }
}

macro_rules! no_old_item {
    ($($error:ty),* $(,)?) => { $(impl OldItem for $error {})* };
}

no_old_item!(
    aws_sdk_dynamodb::operation::get_item::GetItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::operation::query::QueryError,
    aws_sdk_dynamodb::operation::scan::ScanError,
    aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError,
    aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError,
    aws_sdk_dynamodb::operation::create_table::CreateTableError,
    aws_sdk_dynamodb::operation::describe_table::DescribeTableError,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(code: &str) -> StoreError {
        StoreError::from_code(
            "PutItem",
            Some(code),
            format!("{code}: the service said so"),
        )
    }

    #[test]
    fn throttling_codes_are_retryable_and_not_permanent() {
        for code in THROTTLING_CODES {
            let err = classify(code);
            assert!(matches!(err, StoreError::Throttled { .. }), "{code}");
            assert!(err.is_retryable() && !err.is_permanent(), "{code}");
        }
    }

    #[test]
    fn a_request_the_table_never_accepts_is_permanent() {
        for code in PERMANENT_CODES {
            let err = classify(code);
            assert!(matches!(err, StoreError::Rejected { .. }), "{code}");
            assert!(err.is_permanent() && !err.is_retryable(), "{code}");
        }
    }

    #[test]
    fn a_failed_condition_is_a_conflict() {
        let err = classify(CONDITION_FAILED);
        assert!(matches!(
            err,
            StoreError::Conflict {
                op: "PutItem",
                old: None
            }
        ));
        assert!(!err.is_permanent() && !err.is_retryable());
    }

    #[test]
    fn other_service_errors_are_neither_permanent_nor_throttles() {
        for err in [
            classify("InternalServerError"),
            StoreError::from_code("Query", None, "HTTP 500".into()),
        ] {
            assert!(matches!(err, StoreError::Service { .. }));
            assert!(!err.is_permanent() && !err.is_retryable());
        }
    }

    #[test]
    fn messages_name_the_operation_and_the_code() {
        let text = classify("ThrottlingException").to_string();
        assert!(
            text.contains("PutItem") && text.contains("ThrottlingException"),
            "{text}"
        );
        let text = StoreError::Unprocessed {
            op: "BatchWriteItem(member)",
            left: 3,
            tries: 8,
        }
        .to_string();
        assert!(
            text.contains("3 items still unprocessed after 8 tries"),
            "{text}"
        );
    }
}
