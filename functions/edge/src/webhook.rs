//! The webhook function: verify the source's signature over the raw body, normalize it into
//! facts, write them idempotently. 202 only once every fact is stored; a redelivery writes
//! nothing new and is still 202; a store failure is a 503 so the sender retries.

use flowmeter::ingest::signature::{self, SignatureError};
use flowmeter::ingest::{generic, github, pagerduty, IngestError, Normalized, MAX_BODY_BYTES};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::http::{body_bytes, error, header, json};
use crate::settings::WebhookSecrets;
use crate::store::Store;

/// The webhook routes, as in docs/API.md and template.yaml.
pub const ROUTES: [&str; 4] = [
    "/webhooks/github",
    "/webhooks/pagerduty",
    "/webhooks/deployments",
    "/webhooks/incidents",
];

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Accepted {
    pub accepted: bool,
    /// Facts newly written by this delivery (0 for a redelivery or an ignored event).
    pub facts_written: usize,
    pub facts: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<&'static str>,
}

fn signature_error(err: SignatureError) -> Response<Body> {
    error(StatusCode::UNAUTHORIZED, "unauthorized", err.to_string())
}

fn ingest_error(err: IngestError) -> Response<Body> {
    match err {
        IngestError::TooLarge { .. } => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            err.to_string(),
        ),
        other => error(StatusCode::BAD_REQUEST, "bad_request", other.to_string()),
    }
}

/// Handles one webhook delivery. Never panics and never answers 5xx for bad input; 503 only
/// when the table could not be written.
pub async fn handle_webhook(
    store: &Store,
    secrets: &WebhookSecrets,
    request: &Request,
) -> Response<Body> {
    let path = request.uri().path();
    if !ROUTES.contains(&path) {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route {path}"),
        );
    }
    if request.method() != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "webhooks take POST",
        );
    }
    let body = body_bytes(request.body());
    if body.len() > MAX_BODY_BYTES {
        return ingest_error(IngestError::TooLarge { size: body.len() });
    }
    let headers = request.headers();
    let verified = match path {
        "/webhooks/github" => signature::verify_github(
            &secrets.github,
            body,
            header(headers, "x-hub-signature-256"),
        ),
        "/webhooks/pagerduty" => signature::verify_pagerduty(
            &secrets.pagerduty,
            body,
            header(headers, "x-pagerduty-signature"),
        ),
        _ => signature::verify_generic(
            &secrets.generic,
            body,
            header(headers, "x-flowmeter-signature-256"),
        ),
    };
    if let Err(err) = verified {
        tracing::warn!(path, error = %err, "rejected webhook signature");
        return signature_error(err);
    }
    let normalized = match path {
        "/webhooks/github" => {
            let (Some(event), Some(delivery)) = (
                header(headers, "x-github-event"),
                header(headers, "x-github-delivery"),
            ) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "X-GitHub-Event and X-GitHub-Delivery headers are required",
                );
            };
            github::normalize_github(event, delivery, body)
        }
        "/webhooks/pagerduty" => pagerduty::normalize_pagerduty(body),
        "/webhooks/deployments" => generic::normalize_generic_deployment(body),
        _ => generic::normalize_generic_incident(body),
    };
    let facts = match normalized {
        Ok(Normalized::Facts(facts)) => facts,
        Ok(Normalized::Ignored(reason)) => {
            return json(
                StatusCode::ACCEPTED,
                &Accepted {
                    accepted: true,
                    facts_written: 0,
                    facts: 0,
                    ignored: Some(reason),
                },
            )
        }
        Err(err) => return ingest_error(err),
    };
    if let Err(err) = flowmeter::ingest::check_storable(&facts) {
        return ingest_error(err);
    }
    let mut written = 0;
    for fact in &facts {
        match store.put_fact(fact).await {
            Ok(true) => written += 1,
            Ok(false) => {}
            Err(err) => {
                tracing::error!(path, error = %err, "could not store facts");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the delivery could not be stored; retry later",
                );
            }
        }
    }
    json(
        StatusCode::ACCEPTED,
        &Accepted {
            accepted: true,
            facts_written: written,
            facts: facts.len(),
            ignored: None,
        },
    )
}
