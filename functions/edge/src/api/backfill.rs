//! `POST /v1/backfill` starts a backfill of GitHub history; `GET /v1/backfill` answers how the
//! latest one (or `?id=`) stands (docs/API.md, "Backfill").

use chrono::Utc;
use flowmeter::backfill::{BackfillJob, BackfillRequest};
use lambda_http::http::StatusCode;
use lambda_http::Body;
use lambda_http::{Request, Response};
use serde::Serialize;

use super::{Answer, ApiError, ApiState};
use crate::http::{body_bytes, json};

/// Largest body `POST /v1/backfill` reads: 200 repository names fit many times over.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A job as `GET /v1/backfill` shows it: the job, plus the figures a reader wants at a glance.
#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    job: &'a BackfillJob,
    pull_requests_found: u64,
    pull_requests_read: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    eta_seconds: Option<f64>,
}

fn shown(job: &BackfillJob) -> Response<Body> {
    let (found, read) = job.pull_requests();
    let eta = (job.state == flowmeter::backfill::JobState::Running)
        .then(|| job.eta_seconds(Utc::now()))
        .flatten()
        .map(|s| s.round());
    json(
        StatusCode::OK,
        &Shown {
            job,
            pull_requests_found: found,
            pull_requests_read: read,
            eta_seconds: eta,
        },
    )
}

pub(super) async fn start(state: &ApiState, request: &Request) -> Answer {
    let body = body_bytes(request.body());
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::bad_request(format!(
            "body over {MAX_BODY_BYTES} bytes"
        )));
    }
    let config = state.config().await?;
    let now = Utc::now();
    let wanted = BackfillRequest::parse(body, &config, now.date_naive())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let job = match crate::backfill::start(&state.store, &wanted.repos, wanted.since, now).await? {
        Ok(job) => job,
        Err(running) => {
            return Err(ApiError::Conflict(format!(
                "backfill {running} is running; wait for it (GET /v1/backfill?id={running})"
            )))
        }
    };
    if let Some(runner) = &state.backfill_runner {
        // A closed channel means the dev server is shutting down: the job stays running in
        // the table and the next start of the server or the backfill command resumes it.
        let _ = runner.send(job.id.clone());
    }
    tracing::info!(backfill = %job.id, repos = job.repos.len(), since = %job.since, "backfill started");
    Ok(json(
        StatusCode::ACCEPTED,
        &serde_json::json!({"id": job.id, "state": job.state, "repos": wanted.repos, "since": job.since}),
    ))
}

pub(super) async fn status(state: &ApiState, query: &str) -> Answer {
    let mut id = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "id" => id = Some(value.into_owned()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`"
                )))
            }
        }
    }
    let job = match &id {
        Some(id) => state.store.backfill(id).await?,
        None => state.store.backfills().await?.into_iter().next(),
    };
    match job {
        Some(job) => Ok(shown(&job)),
        None => Err(ApiError::NotFound(match id {
            Some(id) => format!("no backfill {id}"),
            None => "no backfill was started".to_string(),
        })),
    }
}
