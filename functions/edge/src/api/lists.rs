//! `GET /v1/pull-requests/slowest` and `GET /v1/deployments/failed`: the scope's merged PRs and
//! production deployments of the period, read from the projections' indexes (one query per
//! repo) and listed by `flowmeter::metrics::lists`.

use flowmeter::config::OrgConfig;
use flowmeter::metrics::lists::{
    failed_deployments, slowest_pull_requests, FailedDeployments, ListScope, PeriodSpan,
    SlowestPullRequests, DEFAULT_LIMIT, GITHUB_WEB, MAX_LIMIT,
};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use super::error::ApiError;
use super::query::{parse_query, Query};
use super::ApiState;
use crate::http::json;

/// A list's query: the reports' `scope`, `from`, `to` (and `env`), and `limit`.
struct ListQuery {
    query: Query,
    limit: usize,
}

/// Reads `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and hands the rest to the
/// reports' parser, so a list and a report of the same query string cover the same weeks.
fn parse_list_query(query_string: &str, config: &OrgConfig) -> Result<ListQuery, ApiError> {
    let mut limit = DEFAULT_LIMIT;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(query_string.as_bytes()) {
        if name == "limit" {
            limit = value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`limit`: expected a whole number from 1 to {MAX_LIMIT}, got {value:?}"
                    ))
                })?;
        } else {
            rest.append_pair(&name, &value);
        }
    }
    Ok(ListQuery {
        query: parse_query(&rest.finish(), config)?,
        limit,
    })
}

/// The scope's list plan and the instants its period spans (whole ISO weeks in the org's
/// timezone, as the reports count them).
fn plan(query: &Query, config: &OrgConfig) -> Result<(ListScope, PeriodSpan), ApiError> {
    let plan = config.plan(&query.scope.parse()?)?;
    super::reports::check_key_sizes(plan.scopes())?;
    Ok((ListScope::of(&plan, config), query.span(config)?))
}

pub async fn slowest(state: &ApiState, query_string: &str) -> Result<Response<Body>, ApiError> {
    let config = state.config().await?;
    let ListQuery { query, limit } = parse_list_query(query_string, &config)?;
    let (scope, period) = plan(&query, &config)?;
    let mut prs = Vec::new();
    for repo in &scope.pr_repos {
        prs.extend(state.store.merged_prs(repo, period.0..period.1).await?);
    }
    let (merged, pull_requests) = slowest_pull_requests(&prs, &scope, period, limit, GITHUB_WEB);
    Ok(json(
        StatusCode::OK,
        &SlowestPullRequests {
            scope: query.scope,
            from: query.from,
            to: query.to,
            merged,
            pull_requests,
        },
    ))
}

pub async fn failed(state: &ApiState, query_string: &str) -> Result<Response<Body>, ApiError> {
    let config = state.config().await?;
    let ListQuery { query, limit } = parse_list_query(query_string, &config)?;
    let (scope, period) = plan(&query, &config)?;
    let mut deployments = Vec::new();
    for repo in &scope.deployment_repos {
        deployments.extend(
            state
                .store
                .production_deployments(repo, period.0..period.1)
                .await?,
        );
    }
    let (attempts, mut failed) = failed_deployments(&deployments, period, GITHUB_WEB);
    let total_failed = failed.len();
    failed.truncate(limit);
    Ok(json(
        StatusCode::OK,
        &FailedDeployments {
            scope: query.scope,
            from: query.from,
            to: query.to,
            attempts,
            failed: total_failed,
            deployments: failed,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(q: &str) -> String {
        match parse_list_query(q, &OrgConfig::default()) {
            Ok(_) => panic!("{q} should be refused"),
            Err(err) => {
                assert_eq!(err.code(), "bad_request", "{q}: {err}");
                err.to_string()
            }
        }
    }

    #[test]
    fn limit_is_a_whole_number_from_1_to_100() {
        for q in ["limit=0", "limit=101", "limit=-1", "limit=ten", "limit="] {
            assert!(refused(q).contains("`limit`"), "{q}");
        }
        let parsed = parse_list_query("limit=100&scope=org", &OrgConfig::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((parsed.limit, parsed.query.scope.as_str()), (100, "org"));
        let default = parse_list_query("", &OrgConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(default.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn the_reports_parameters_are_checked_as_the_reports_check_them() {
        assert!(refused("limit=5&colour=blue").contains("unknown query parameter `colour`"));
        assert!(refused("from=1969-12-01&to=1970-01-04").contains("1970 to 9999"));
    }
}
