//! `POST /v1/share` mints a share key for the executive status page; `GET /v1/attention`
//! answers each team's needs-attention verdict by the digest's rule (docs/API.md, "Share
//! links", "`GET /v1/attention`").

use chrono::Utc;
use flowmeter::time::{iso_week, IsoWeek};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

use super::{Answer, ApiError, ApiState};
use crate::http::{body_bytes, json};

/// Largest body `POST /v1/share` reads: `{"hours": 2160}` fits many times over.
const MAX_BODY_BYTES: usize = 1024;

#[derive(Serialize)]
struct Minted {
    key: String,
    expires_at: chrono::DateTime<Utc>,
    /// The status page's path with the key in its fragment (never sent to a server log).
    status_path: String,
}

pub async fn mint(state: &ApiState, request: &Request) -> Answer {
    let body = body_bytes(request.body());
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let expires_at =
        flowmeter::share::requested_expiry(body, Utc::now()).map_err(ApiError::BadRequest)?;
    let key = flowmeter::share::mint(&state.share_secret, expires_at)
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    Ok(json(
        StatusCode::CREATED,
        &Minted {
            status_path: format!("/dashboard/status#key={key}"),
            key,
            expires_at,
        },
    ))
}

#[derive(Serialize)]
struct TeamVerdict {
    team: String,
    needs_attention: bool,
    /// Nothing at all was recorded for the team that week.
    no_data: bool,
    reasons: Vec<String>,
    /// The reasons in one line, as the digest prints them; empty when steady.
    summary: String,
}

#[derive(Serialize)]
struct Verdicts {
    week: String,
    /// Whether the week is still going on (the current week, so far).
    partial: bool,
    teams: Vec<TeamVerdict>,
}

/// `?week=YYYY-Www`, default the current ISO week in the org's timezone (so far).
pub async fn attention(state: &ApiState, query: &str) -> Answer {
    let config = state.config().await?;
    let now = Utc::now();
    let current = iso_week(now, config.timezone());
    let mut week = current;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "week" => {
                week = value.parse::<IsoWeek>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "`week`: expected an ISO week YYYY-Www, got {value:?}"
                    ))
                })?;
                if week > current {
                    return Err(ApiError::bad_request(format!(
                        "`week`: {week} has not started yet"
                    )));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`"
                )))
            }
        }
    }
    let digest = crate::digest::build(&state.store, &config, week, now).await?;
    let teams = digest
        .teams
        .iter()
        .map(|row| {
            let flagged = digest.attention.iter().find(|a| a.team == row.name);
            TeamVerdict {
                team: row.name.clone(),
                needs_attention: row.needs_attention,
                no_data: row.no_data,
                reasons: flagged
                    .map(|a| a.reasons.iter().map(|r| r.text.clone()).collect())
                    .unwrap_or_default(),
                summary: flagged.map(|a| a.summary.clone()).unwrap_or_default(),
            }
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &Verdicts {
            week: week.to_string(),
            partial: week == current,
            teams,
        },
    ))
}
