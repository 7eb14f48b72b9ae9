//! What a failed read answers. Every failure of the read API is one [`ApiError`], turned into
//! a response in one place, so a status and its code cannot drift apart between routes.

use flowmeter::config::ConfigError;
use flowmeter::scope::ScopeError;
use flowmeter::time::WindowError;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::http::error;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query, scope or body the API cannot read: 400 `bad_request`.
    #[error("{0}")]
    BadRequest(String),
    /// No such team, or an unconfigured repo or service without data: 404 `unknown_scope`.
    #[error("{0}")]
    UnknownScope(String),
    /// 404 `not_found`.
    #[error("no route {path}")]
    NoRoute { path: String },
    /// A thing the request names does not exist (a backfill id): 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be done now, as things stand (a backfill already running): 409
    /// `conflict`.
    #[error("{0}")]
    Conflict(String),
    /// 405 `method_not_allowed`.
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// 401 `unauthorized`.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 413 `payload_too_large`.
    #[error("body over {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A config `PUT /v1/config` refuses: 400 `invalid_config`, naming the field.
    #[error(transparent)]
    InvalidConfig(#[from] ConfigError),
    /// The store failed (throttled, or worse): 503 `unavailable`, which a client retries.
    #[error("the metrics store is unavailable; retry later")]
    Store(#[from] StoreError),
    /// A response that could not be built: 500 `internal`.
    #[error("{0}")]
    Internal(String),
}

impl From<ScopeError> for ApiError {
    fn from(err: ScopeError) -> ApiError {
        match err {
            ScopeError::Unknown { .. } => ApiError::UnknownScope(err.to_string()),
            ScopeError::Malformed { .. }
            | ScopeError::BadRepo { .. }
            | ScopeError::RepoTooLong { .. } => ApiError::BadRequest(err.to_string()),
        }
    }
}

impl From<WindowError> for ApiError {
    fn from(err: WindowError) -> ApiError {
        ApiError::BadRequest(err.to_string())
    }
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidConfig(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownScope(_) | ApiError::NoRoute { .. } | ApiError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `code` of the error body (docs/API.md).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::InvalidConfig(_) => "invalid_config",
            ApiError::UnknownScope(_) => "unknown_scope",
            ApiError::NoRoute { .. } | ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Store(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The one conversion to a response: `{"error": {"code", "message"}}` with its status. A
    /// store failure is logged with its cause, which the client does not see.
    pub fn into_response(self) -> Response<Body> {
        if let ApiError::Store(err) = &self {
            tracing::error!(error = %err, "store read failed");
        }
        error(self.status(), self.code(), self.to_string())
    }
}
