//! The webhook function: verify the source's signature over the raw body, normalize it into
//! facts, write them idempotently. 202 only once every fact is stored; a redelivery writes
//! nothing new and is still 202; a store failure is a 503 so the sender retries.

use chrono::{DateTime, Utc};
use flowmeter::ingest::signature::{self, SignatureError};
use flowmeter::ingest::{
    argocd, bitbucket, generic, github, gitlab, jira, linear, pagerduty, IngestError, Normalized,
    MAX_BODY_BYTES,
};
use flowmeter::model::Fact;
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::http::{body_bytes, error, header, json};
use crate::settings::WebhookSecrets;
use crate::store::Store;

/// The webhook routes, as in docs/API.md and template.yaml (`{token}` is a path parameter).
pub const ROUTES: [&str; 10] = [
    "/webhooks/github",
    "/webhooks/pagerduty",
    "/webhooks/deployments",
    "/webhooks/incidents",
    "/webhooks/jira",
    "/webhooks/jira/{token}",
    "/webhooks/linear",
    "/webhooks/gitlab",
    "/webhooks/bitbucket",
    "/webhooks/argocd",
];

/// A webhook route a request's path names; any other path is no route (404).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    GitHub,
    PagerDuty,
    Deployments,
    Incidents,
    /// Jira Cloud, signed with the Jira secret.
    Jira,
    /// Jira Server/Data Center, which cannot sign: the token is the path's last segment.
    JiraServer {
        token: &'a str,
    },
    Linear,
    /// GitLab.com and self-managed GitLab: `X-Gitlab-Token`, and a signature where configured.
    GitLab,
    /// Bitbucket Cloud and Data Center, signed with `X-Hub-Signature`.
    Bitbucket,
    /// argocd-notifications' webhook service, with a bearer token.
    ArgoCd,
}

impl<'a> Route<'a> {
    pub fn parse(path: &'a str) -> Option<Route<'a>> {
        Some(match path {
            "/webhooks/github" => Route::GitHub,
            "/webhooks/pagerduty" => Route::PagerDuty,
            "/webhooks/deployments" => Route::Deployments,
            "/webhooks/incidents" => Route::Incidents,
            "/webhooks/jira" => Route::Jira,
            "/webhooks/linear" => Route::Linear,
            "/webhooks/gitlab" => Route::GitLab,
            "/webhooks/bitbucket" => Route::Bitbucket,
            "/webhooks/argocd" => Route::ArgoCd,
            other => {
                let token = other.strip_prefix("/webhooks/jira/")?;
                if token.is_empty() || token.contains('/') {
                    return None;
                }
                Route::JiraServer { token }
            }
        })
    }

    /// The route as [`ROUTES`] spells it: what logs name, never the path, which may hold a
    /// token.
    pub fn pattern(self) -> &'static str {
        match self {
            Route::GitHub => ROUTES[0],
            Route::PagerDuty => ROUTES[1],
            Route::Deployments => ROUTES[2],
            Route::Incidents => ROUTES[3],
            Route::Jira => ROUTES[4],
            Route::JiraServer { .. } => ROUTES[5],
            Route::Linear => ROUTES[6],
            Route::GitLab => ROUTES[7],
            Route::Bitbucket => ROUTES[8],
            Route::ArgoCd => ROUTES[9],
        }
    }
}

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
    match accept(store, secrets, request).await {
        Ok(accepted) => json(StatusCode::ACCEPTED, &accepted),
        Err(refusal) => refusal.into_response(),
    }
}

/// Why a delivery was not stored. Each step only decides; the answer (4xx for what the sender
/// must fix, 503 for what a retry fixes) is chosen in one place.
#[derive(Debug)]
enum Refusal {
    NoRoute(String),
    NotPost,
    Signature(SignatureError),
    /// A source's required headers (which event, which delivery) are missing.
    MissingHeaders(&'static str),
    Ingest(IngestError),
    Unavailable,
}

impl Refusal {
    fn into_response(self) -> Response<Body> {
        match self {
            Refusal::NoRoute(path) => error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no route {path}"),
            ),
            Refusal::NotPost => error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "webhooks take POST",
            ),
            Refusal::Signature(err) => signature_error(err),
            Refusal::MissingHeaders(which) => error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("{which} headers are required"),
            ),
            Refusal::Ingest(err) => ingest_error(err),
            Refusal::Unavailable => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the delivery could not be stored; retry later",
            ),
        }
    }
}

/// Takes a delivery from the request to the table: what the 202 reports, or why not.
async fn accept(
    store: &Store,
    secrets: &WebhookSecrets,
    request: &Request,
) -> Result<Accepted, Refusal> {
    let path = request.uri().path();
    let route = Route::parse(path).ok_or_else(|| Refusal::NoRoute(redacted(path)))?;
    let body = deliverable_body(request)?;
    let headers = request.headers();
    let rejected = |err: SignatureError| {
        tracing::warn!(route = route.pattern(), error = %err, "rejected webhook signature");
        Refusal::Signature(err)
    };
    verify_signature(route, secrets, headers, body).map_err(rejected)?;
    if route == Route::Linear {
        let sent = linear::webhook_timestamp(body).map_err(Refusal::Ingest)?;
        signature::check_timestamp(sent, now()).map_err(rejected)?;
    }
    let path = route.pattern();
    let facts = match normalize(route, headers, body)? {
        Normalized::Facts(facts) => facts,
        Normalized::Ignored(reason) => {
            return Ok(Accepted {
                accepted: true,
                facts_written: 0,
                facts: 0,
                ignored: Some(reason),
            })
        }
    };
    flowmeter::ingest::check_storable(&facts).map_err(Refusal::Ingest)?;
    let facts_written = store_facts(store, path, &facts).await?;
    Ok(Accepted {
        accepted: true,
        facts_written,
        facts: facts.len(),
        ignored: None,
    })
}

/// The clock the Linear timestamp is checked against.
fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A path for a 404's message: a path under the Jira route may be a mistyped token.
fn redacted(path: &str) -> String {
    match path.strip_prefix("/webhooks/jira/") {
        Some(_) => "/webhooks/jira/…".to_string(),
        None => path.to_string(),
    }
}

/// The body of a POST to a webhook route, refused before any signature work when the method
/// or the size is wrong: those are the sender's mistakes, whatever it signed.
fn deliverable_body(request: &Request) -> Result<&[u8], Refusal> {
    if request.method() != Method::POST {
        return Err(Refusal::NotPost);
    }
    let body = body_bytes(request.body());
    if body.len() > MAX_BODY_BYTES {
        return Err(Refusal::Ingest(IngestError::TooLarge { size: body.len() }));
    }
    Ok(body)
}

/// Checks the route's source's signature over the raw body, before anything parses it: each
/// source signs with its own secret and header.
fn verify_signature(
    route: Route,
    secrets: &WebhookSecrets,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), SignatureError> {
    match route {
        Route::GitHub => signature::verify_github(
            &secrets.github,
            body,
            header(headers, "x-hub-signature-256"),
        ),
        Route::PagerDuty => signature::verify_pagerduty(
            &secrets.pagerduty,
            body,
            header(headers, "x-pagerduty-signature"),
        ),
        Route::Jira => {
            signature::verify_jira(&secrets.jira, body, header(headers, "x-hub-signature"))
        }
        Route::JiraServer { token } => signature::verify_token(&secrets.jira_token, Some(token)),
        Route::Linear => {
            signature::verify_linear(&secrets.linear, body, header(headers, "linear-signature"))
        }
        Route::Deployments | Route::Incidents => signature::verify_generic(
            &secrets.generic,
            body,
            header(headers, "x-flowmeter-signature-256"),
        ),
        Route::GitLab => verify_gitlab(secrets, headers, body),
        Route::Bitbucket => signature::verify_bitbucket(
            &secrets.bitbucket,
            body,
            header(headers, "x-hub-signature"),
        ),
        Route::ArgoCd => signature::verify_token(
            &secrets.argocd,
            header(headers, "authorization").and_then(|h| h.strip_prefix("Bearer ")),
        ),
    }
}

/// GitLab sends the webhook's secret token as is, in `X-Gitlab-Token`. An instance with a
/// signing token also signs each delivery (Standard Webhooks: `webhook-id`,
/// `webhook-timestamp`, `webhook-signature`); when one is configured, a valid signature made
/// within 60 s of now is required too, so a captured delivery cannot be replayed.
fn verify_gitlab(
    secrets: &WebhookSecrets,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), SignatureError> {
    signature::verify_token(&secrets.gitlab, header(headers, "x-gitlab-token"))?;
    if secrets.gitlab_signing.is_empty() {
        return Ok(());
    }
    let timestamp = header(headers, "webhook-timestamp");
    gitlab::verify_signing_token(
        &secrets.gitlab_signing,
        header(headers, "webhook-id"),
        timestamp,
        header(headers, "webhook-signature"),
        body,
    )?;
    signature::check_timestamp(gitlab::signing_timestamp_ms(timestamp)?, now())
}

/// Turns a verified delivery into facts with the route's normalizer. GitHub names the event
/// and the delivery in headers, without which its body cannot be read or made idempotent.
fn normalize(route: Route, headers: &HeaderMap, body: &[u8]) -> Result<Normalized, Refusal> {
    let normalized = match route {
        Route::GitHub => {
            let (event, delivery) = named(
                header(headers, "x-github-event"),
                header(headers, "x-github-delivery"),
                "X-GitHub-Event and X-GitHub-Delivery",
            )?;
            github::normalize_github(event, delivery, body)
        }
        Route::PagerDuty => pagerduty::normalize_pagerduty(body),
        Route::Deployments => generic::normalize_generic_deployment(body),
        Route::Incidents => generic::normalize_generic_incident(body),
        Route::Jira | Route::JiraServer { .. } => jira::normalize_jira(body),
        Route::Linear => linear::normalize_linear(body),
        Route::GitLab => {
            let (event, delivery) = named(
                header(headers, "x-gitlab-event"),
                header(headers, "x-gitlab-event-uuid"),
                "X-Gitlab-Event and X-Gitlab-Event-UUID",
            )?;
            gitlab::normalize_gitlab(event, delivery, body)
        }
        Route::Bitbucket => {
            // Cloud names its delivery in X-Request-UUID, Data Center in X-Request-Id.
            let delivery =
                header(headers, "x-request-uuid").or_else(|| header(headers, "x-request-id"));
            let (event, delivery) = named(
                header(headers, "x-event-key"),
                delivery,
                "X-Event-Key and X-Request-UUID (Cloud) or X-Request-Id (Data Center)",
            )?;
            bitbucket::normalize_bitbucket(event, delivery, body)
        }
        Route::ArgoCd => argocd::normalize_argocd(body),
    };
    normalized.map_err(Refusal::Ingest)
}

/// The event name and delivery id a forge sends in headers, or the refusal naming the headers
/// it must send (`headers`).
fn named<'a>(
    event: Option<&'a str>,
    delivery: Option<&'a str>,
    headers: &'static str,
) -> Result<(&'a str, &'a str), Refusal> {
    event.zip(delivery).ok_or(Refusal::MissingHeaders(headers))
}

/// Writes every fact, counting the new ones (a redelivery's are already there). Any store
/// failure refuses the whole delivery so that the sender retries it; the facts already written
/// are then found again, not duplicated.
async fn store_facts(store: &Store, path: &str, facts: &[Fact]) -> Result<usize, Refusal> {
    let mut written = 0;
    for fact in facts {
        match store.put_fact(fact).await {
            Ok(true) => written += 1,
            Ok(false) => {}
            Err(err) => {
                tracing::error!(path, error = %err, "could not store facts");
                return Err(Refusal::Unavailable);
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_to_their_patterns() {
        for pattern in ROUTES {
            let path = pattern.replace("{token}", "s3cr3t-token");
            let route = Route::parse(&path).expect("a route");
            assert_eq!(route.pattern(), pattern);
        }
        assert_eq!(
            Route::parse("/webhooks/jira/abc"),
            Some(Route::JiraServer { token: "abc" })
        );
        for no_route in [
            "/webhooks/jira/",
            "/webhooks/jira/a/b",
            "/webhooks/linear/x",
            "/webhooks/gitlab/x",
            "/webhooks",
            "",
        ] {
            assert_eq!(Route::parse(no_route), None, "{no_route}");
        }
        assert_eq!(redacted("/webhooks/jira/a/b"), "/webhooks/jira/…");
        assert_eq!(redacted("/webhooks/x"), "/webhooks/x");
    }
}
