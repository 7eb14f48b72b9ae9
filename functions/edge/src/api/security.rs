//! `GET /v1/security`: per repo of the scope, its security alerts (one `gsi1` query per repo,
//! every alert as it stands); `flowmeter::metrics::security` counts the open ones by severity
//! and the period's finds, fixes and dismissals, with the time to fix.

use chrono::Utc;
use flowmeter::config::OrgConfig;
use flowmeter::metrics::lists::ListScope;
use flowmeter::metrics::security::{security_report, SecurityReport};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use super::error::ApiError;
use super::query::{parse_query, Query};
use super::reports::plan;
use super::ApiState;
use crate::http::json;
use crate::store::{Store, StoreError};

pub async fn security(state: &ApiState, query_string: &str) -> Result<Response<Body>, ApiError> {
    let config = state.config().await?;
    let query = parse_query(query_string, &config)?;
    let report = report(&state.store, &config, &query).await?;
    Ok(json(StatusCode::OK, &report))
}

/// The report of `query`'s scope and period (`/metrics` reads the org's).
pub async fn report(
    store: &Store,
    config: &OrgConfig,
    query: &Query,
) -> Result<SecurityReport, ApiError> {
    let plan = plan(&query.scope.parse()?, config)?;
    let period = query.span(config)?;
    let repos = alerts_of(store, &ListScope::of(&plan, config).deployment_repos).await?;
    Ok(security_report(
        &query.scope,
        (query.from, query.to),
        period,
        &repos,
        Utc::now(),
    ))
}

async fn alerts_of(
    store: &Store,
    repos: &[String],
) -> Result<Vec<(String, Vec<flowmeter::derive::SecurityAlert>)>, StoreError> {
    let mut out = Vec::with_capacity(repos.len());
    for repo in repos {
        out.push((repo.clone(), store.security_alerts(repo).await?));
    }
    Ok(out)
}
