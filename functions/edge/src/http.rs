//! HTTP plumbing shared by the webhook and api handlers: JSON answers and the error shape of
//! docs/API.md.

use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

/// `{"error": {"code": "...", "message": "..."}}` with a fitting status (docs/API.md).
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response<Body> {
    json(
        status,
        &serde_json::json!({"error": {"code": code, "message": message.into()}}),
    )
}

/// A header as text; a header that is not valid UTF-8 reads as absent.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// Compares a presented secret token with the expected one in constant time. An empty expected
/// token matches nothing: an unset token locks the route rather than opening it.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> &str {
    header(headers, "authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default()
}
