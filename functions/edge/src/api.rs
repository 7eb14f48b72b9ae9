//! The read API (`/v1/*`, `/metrics`, `/healthz`). The metrics engine issue fills in `/v1/*`;
//! until then only the health check answers.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::http::{error, json};
use crate::store::Store;

pub async fn handle_api(_store: &Store, request: &Request) -> Response<Body> {
    match request.uri().path() {
        "/healthz" => json(StatusCode::OK, &serde_json::json!({"ok": true})),
        path => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route {path}"),
        ),
    }
}
