//! `POST /v1/gates/release-version`: may this sha go to that environment? Loads what
//! `flowmeter::gate` decides on, in two rounds: the environment's current deployment (one
//! `gsi1` query), the default branch's pushes and the merged PRs over the span from 30 days
//! before it to now; then the tickets those commits name (by key). An unknown repo, environment
//! or sha is a 400 naming it; the verdict itself is a 200 whether it allows or not. Asked
//! for `text/plain`, the answer is the message alone with the verdict in the `Flowmeter-Gate`
//! header, so a CI step needs nothing but `curl` to print it and fail.

use chrono::Utc;
use flowmeter::derive::link_edits::{HISTORY_WINDOW, LINK_SLACK};
use flowmeter::gate::{verdict, GateError, GateRequest, Shipment, MAX_REQUEST_BYTES};
use flowmeter::metrics::environments::{deployed_now, ATTEMPTS_READ};
use flowmeter::metrics::lists::GITHUB_WEB;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::error::ApiError;
use super::tickets::read_tickets;
use super::ApiState;
use crate::http::{body_bytes, header, json};

/// The header of a `text/plain` answer that carries the verdict: `allowed` or `blocked`.
pub const VERDICT_HEADER: &str = "flowmeter-gate";

impl From<GateError> for ApiError {
    fn from(err: GateError) -> ApiError {
        ApiError::BadRequest(err.to_string())
    }
}

pub async fn release_version(
    state: &ApiState,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let wants_text = header(request.headers(), "accept").is_some_and(|a| a.contains("text/plain"));
    let body = body_bytes(request.body());
    if body.len() > MAX_REQUEST_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_REQUEST_BYTES,
        });
    }
    let config = state.config().await?;
    let request = GateRequest::parse(body, &config)?;
    let store = &state.store;
    let branch = store.default_branch(&request.repo).await?;
    let configured = config.configured_repos().contains(&request.repo);
    let Some(branch) = branch else {
        return Err(if configured {
            GateError::UnknownSha {
                repo: request.repo.clone(),
                sha: request.sha.clone(),
                days: HISTORY_WINDOW.num_days(),
            }
        } else {
            GateError::UnknownRepo(request.repo.clone())
        }
        .into());
    };
    let latest = store
        .latest_deployments(&request.repo, &request.environment, ATTEMPTS_READ)
        .await?;
    let deployed = deployed_now(&latest);
    let now = Utc::now();
    let from = deployed.and_then(|d| d.finished_at).unwrap_or(now).min(now) - HISTORY_WINDOW;
    let until = now + LINK_SLACK;
    let pushes = store
        .branch_facts(&request.repo, &branch, Some(from), Some(until))
        .await?;
    let merged = store.merged_prs(&request.repo, from..=until).await?;
    let shipment = Shipment::between(
        &request,
        deployed,
        &pushes,
        &merged,
        config.ticket_projects(),
        HISTORY_WINDOW.num_days(),
    )?;
    let known = read_tickets(store, shipment.ticket_ids().map(str::to_string).collect()).await?;
    let verdict = verdict(&request, &shipment, &known, GITHUB_WEB);
    if !wants_text {
        return Ok(json(StatusCode::OK, &verdict));
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain; charset=utf-8")
        .header(
            VERDICT_HEADER,
            if verdict.allowed {
                "allowed"
            } else {
                "blocked"
            },
        )
        .body(Body::Text(format!("{}\n", verdict.message)))
        .map_err(|e| ApiError::Internal(e.to_string()))
}
