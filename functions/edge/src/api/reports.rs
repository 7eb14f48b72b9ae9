//! The weekly reports and `/metrics`: plan the scope against the config (`OrgConfig::plan`),
//! read the planned rollups in one batch, merge them per week, build the report.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use flowmeter::config::OrgConfig;
use flowmeter::derive::{Rollup, Scope};
use flowmeter::metrics::{self, ReportWindow};
use flowmeter::scope::{rollup_keys, RequestedScope, ScopePlan};
use flowmeter::time::{IsoWeek, WeekWindow};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use super::error::ApiError;
use super::query::{parse_query, parse_query_any_environment, Query};
use super::route::Report;
use super::ApiState;
use crate::http::json;
use crate::store::{rollup_pk, StoreError};

/// DynamoDB's limit on a partition key, in bytes (UTF-8). A rollup key beyond it is refused by
/// the store with a validation error, which would surface as a 503: the scope is checked
/// against it first and a 400 names it.
const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// `/metrics` reports the last full weeks.
const METRICS_WEEKS: usize = 4;

/// A requested scope's plan; a `repo:` or `service:` name too long for any rollup key is a 400
/// whether or not the read would touch that key (a service's DORA reads its repos).
pub(super) fn plan(scope: &RequestedScope, config: &OrgConfig) -> Result<ScopePlan, ApiError> {
    let plan = config.plan(scope)?;
    check_key_sizes(plan.scopes())?;
    Ok(plan)
}

/// A 400 naming the first scope whose rollup key DynamoDB could not hold.
pub(super) fn check_key_sizes<'a>(
    scopes: impl IntoIterator<Item = &'a Scope>,
) -> Result<(), ApiError> {
    for scope in scopes {
        let pk = rollup_pk(scope).len();
        if pk > MAX_PARTITION_KEY_BYTES {
            let shown: String = scope.to_string().chars().take(80).collect();
            return Err(ApiError::bad_request(format!(
                "`scope`: {shown}… is too long (its key would be {pk} bytes; \
                 DynamoDB allows {MAX_PARTITION_KEY_BYTES})"
            )));
        }
    }
    Ok(())
}

/// Reads the rollups of `scopes` × `weeks` (one `BatchGetItem` per 100 keys) and merges them
/// per week. An unconfigured scope without any data is unknown (404).
pub(super) async fn weekly(
    state: &ApiState,
    scopes: &[Scope],
    query: &Query,
    configured: bool,
) -> Result<Vec<(IsoWeek, Rollup)>, ApiError> {
    let keys = rollup_keys(scopes, &query.weeks);
    let found = state.store.rollups(&keys).await?;
    if found.is_empty() && !configured && !scopes_have_data(state, scopes).await? {
        return Err(ApiError::UnknownScope(format!(
            "unknown scope {:?}: not in the config and no data",
            query.scope
        )));
    }
    Ok(metrics::merge_weeks(
        found.into_iter().map(|(_, w, r)| (w, r)),
    ))
}

async fn scopes_have_data(state: &ApiState, scopes: &[Scope]) -> Result<bool, StoreError> {
    for scope in scopes {
        if state.store.has_rollups(scope).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn report(
    state: &ApiState,
    query_string: &str,
    report: Report,
) -> Result<Response<Body>, ApiError> {
    let config = state.config().await?;
    let query = parse_query_any_environment(query_string, &config)?;
    let plan = plan(&query.scope.parse()?, &config)?;
    let window = query.window();
    let body = match report {
        Report::Dora => {
            let delivery = plan.delivery_in(&query.environment);
            check_key_sizes(&delivery)?;
            let found = weekly(state, &delivery, &query, plan.configured).await?;
            serde_json::to_value(metrics::dora::DoraReport::build(
                &window,
                &found,
                &query.environment,
            ))
        }
        Report::CycleTime => {
            let found = weekly(state, &plan.pull_requests, &query, plan.configured).await?;
            serde_json::to_value(metrics::cycle_time::CycleTimeReport::build(&window, &found))
        }
        Report::PullRequests => {
            let found = weekly(state, &plan.pull_requests, &query, plan.configured).await?;
            serde_json::to_value(metrics::pull_requests::PullRequestReport::build(
                &window, &found,
            ))
        }
        Report::Incidents => {
            let found = weekly(state, &plan.incidents, &query, plan.configured).await?;
            let open = open_incidents(state, &plan).await?;
            serde_json::to_value(metrics::incidents::IncidentReport::build(
                &window,
                &found,
                &open,
                Utc::now(),
            ))
        }
    };
    let body = body.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json(StatusCode::OK, &body))
}

/// `GET /v1/goals`: the goals of `org` or of a team (its own and the org-wide ones it did not
/// set) against the scope's DORA, cycle-time and pull-request reports of the period, and its
/// DORA benchmark; a team is ranked among all configured teams. One batched read.
pub async fn goals(state: &ApiState, query_string: &str) -> Result<Response<Body>, ApiError> {
    let config = state.config().await?;
    let query = parse_query(query_string, &config)?;
    let requested: RequestedScope = query.scope.parse()?;
    let scope_plan = plan(&requested, &config)?;
    let goals = match &requested {
        RequestedScope::Org => config.goals().for_org(),
        RequestedScope::Team(name) => config.goals().for_team(name),
        RequestedScope::Repo(_) | RequestedScope::Service(_) => {
            return Err(ApiError::bad_request(format!(
                "`scope`: goals are set for org or team:<name>, got {:?}",
                query.scope
            )))
        }
    };
    let team_plans: Vec<(String, Vec<Scope>)> = match requested {
        RequestedScope::Team(_) => {
            let mut plans = Vec::new();
            for (name, _) in config.teams() {
                let team = RequestedScope::Team(name.to_string());
                plans.push((name.to_string(), plan(&team, &config)?.delivery));
            }
            plans
        }
        _ => Vec::new(),
    };
    let keys = rollup_keys(
        scope_plan
            .delivery
            .iter()
            .chain(&scope_plan.pull_requests)
            .chain(team_plans.iter().flat_map(|(_, d)| d)),
        &query.weeks,
    );
    let found = state.store.rollups(&keys).await?;
    let of = |scopes: &[Scope]| {
        metrics::merge_weeks(
            found
                .iter()
                .filter(|(s, _, _)| scopes.contains(s))
                .map(|(_, w, r)| (*w, r.clone())),
        )
    };
    let window = query.window();
    let dora = |label: &str, scopes: &[Scope]| {
        let labelled = ReportWindow {
            scope: label,
            ..window
        };
        metrics::dora::DoraReport::build(&labelled, &of(scopes), &query.environment)
    };
    let scope_dora = dora(window.scope, &scope_plan.delivery);
    let pr_weeks = of(&scope_plan.pull_requests);
    let cycle_time = metrics::cycle_time::CycleTimeReport::build(&window, &pr_weeks);
    let pull_requests = metrics::pull_requests::PullRequestReport::build(&window, &pr_weeks);
    let peers: Vec<(String, metrics::dora::DoraReport)> = team_plans
        .iter()
        .map(|(name, delivery)| (name.clone(), dora(&format!("team:{name}"), delivery)))
        .collect();
    let report = metrics::goals::evaluate(
        &goals,
        &metrics::goals::ScopeReports {
            dora: &scope_dora,
            cycle_time: &cycle_time,
            pull_requests: &pull_requests,
        },
        (!peers.is_empty()).then_some(peers.as_slice()),
    );
    let body = serde_json::to_value(report).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json(StatusCode::OK, &body))
}

async fn open_incidents(
    state: &ApiState,
    plan: &ScopePlan,
) -> Result<Vec<metrics::incidents::OpenIncident>, StoreError> {
    let incidents = state.store.open_incidents().await?;
    Ok(incidents
        .into_iter()
        .filter(|i| plan.owns_incidents_of(&i.service))
        .map(Into::into)
        .collect())
}

/// `/metrics`: the DORA, cycle time, pull request and incident reports of the last 4 full weeks
/// for the org, every configured team, repo and service, in Prometheus text format. The
/// rollups of every scope's plan are read in one batch (each stored scope once, one
/// `BatchGetItem` per 100 keys) and the open incidents in one query, however many scopes share
/// them; each scope's reports are built from its part as the JSON routes build them.
pub async fn prometheus(state: &ApiState) -> Result<Response<Body>, ApiError> {
    let config = state.config().await?;
    let now = Utc::now();
    let window = WeekWindow::last_full(now, config.timezone(), METRICS_WEEKS)?;
    let mut plans = Vec::new();
    for scope in config.reported_scopes() {
        plans.push((scope.to_string(), plan(&scope, &config)?));
    }
    // Ticket numbers are not exported: their projects' rollups are not read.
    let keys = rollup_keys(
        plans.iter().flat_map(|(_, p)| p.exported_scopes()),
        window.weeks(),
    );
    let found = state.store.rollups(&keys).await?;
    let open: Vec<metrics::incidents::OpenIncident> = state
        .store
        .open_incidents()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let (from, to, weeks) = (window.from_date(), window.to_date(), window.weeks());
    let mut by_scope: BTreeMap<&Scope, Vec<(IsoWeek, &Rollup)>> = BTreeMap::new();
    for (scope, week, rollup) in &found {
        by_scope.entry(scope).or_default().push((*week, rollup));
    }
    // A plan's weekly rollups, each stored scope merged once (as `rollup_keys` reads it once).
    let of = |scopes: &[Scope]| {
        let unique: BTreeSet<&Scope> = scopes.iter().collect();
        metrics::merge_weeks(
            unique
                .into_iter()
                .filter_map(|s| by_scope.get(s))
                .flatten()
                .map(|(week, rollup)| (*week, (*rollup).clone())),
        )
    };
    let series: Vec<_> = plans
        .into_iter()
        .map(|(label, plan)| {
            let prs = of(&plan.pull_requests);
            let open: Vec<_> = open
                .iter()
                .filter(|i| plan.owns_incidents_of(&i.service))
                .cloned()
                .collect();
            let scope_window = ReportWindow {
                scope: &label,
                from,
                to,
                weeks,
            };
            let reports = metrics::prometheus::ScopeReports {
                dora: metrics::dora::DoraReport::build(
                    &scope_window,
                    &of(&plan.delivery),
                    "production",
                ),
                cycle_time: metrics::cycle_time::CycleTimeReport::build(&scope_window, &prs),
                pull_requests: metrics::pull_requests::PullRequestReport::build(
                    &scope_window,
                    &prs,
                ),
                incidents: metrics::incidents::IncidentReport::build(
                    &scope_window,
                    &of(&plan.incidents),
                    &open,
                    now,
                ),
            };
            (label, reports)
        })
        .collect();
    let mut text = metrics::prometheus::render(&series);
    text.push_str(&environment_gauges(state, &config, now).await?);
    // Open security alerts of every configured repo (one `gsi1` query per repo).
    let query = super::query::parse_query("", &config)?;
    let security = super::security::report(&state.store, &config, &query).await?;
    text.push_str(&metrics::security::render_open_alerts(&security));
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .body(Body::Text(text))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Each configured repo's environments as `GET /v1/environments` answers them (one index query
/// per repo and environment, and the default branch's pushes and merged PRs of a repo with two
/// environments deployed), read once for the deployment ages and the pending tickets, whose
/// fix versions come from their projections (one read per ticket).
async fn environment_gauges(
    state: &ApiState,
    config: &OrgConfig,
    now: chrono::DateTime<Utc>,
) -> Result<String, ApiError> {
    let mut answers = Vec::new();
    let apps = state.store.app_states().await?;
    for repo in config.configured_repos() {
        answers.push(super::repo_environments(&state.store, config, &repo, &apps, now).await?);
    }
    let ages = metrics::environments::deployment_ages(&answers);
    let pending = metrics::environments::pending_tickets(&answers);
    let ids = pending
        .iter()
        .map(|(_, _, ticket)| ticket.clone())
        .collect();
    let known = super::tickets::read_tickets(&state.store, ids).await?;
    let pending: Vec<metrics::prometheus::PendingTicket> = pending
        .into_iter()
        .map(
            |(repo, environment, ticket)| metrics::prometheus::PendingTicket {
                fix_versions: known
                    .get(&ticket)
                    .map(|t| t.fix_versions.clone())
                    .unwrap_or_default(),
                ticket,
                repo,
                environment,
            },
        )
        .collect();
    let mut text = metrics::prometheus::render_deployment_ages(&ages);
    text.push_str(&metrics::prometheus::render_pending_tickets(&pending));
    let apps = metrics::environments::app_drifts(&answers);
    text.push_str(&metrics::prometheus::render_app_states(&apps));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_over_dynamodbs_key_limit_is_a_400() {
        // `ROLLUP#repo:` is 12 bytes: a 2036-byte name makes a key of exactly 2048.
        let longest = Scope::Repo(format!("a/{}", "b".repeat(2034)));
        assert_eq!(rollup_pk(&longest).len(), MAX_PARTITION_KEY_BYTES);
        assert!(check_key_sizes([&longest]).is_ok());
        for scope in [
            Scope::Repo(format!("a/{}", "b".repeat(2035))),
            Scope::Service("s".repeat(3000)),
        ] {
            match check_key_sizes([&Scope::Org, &scope]) {
                Ok(()) => panic!("a key over 2048 bytes was planned"),
                Err(err) => {
                    let message = err.to_string();
                    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
                    assert!(message.contains("too long"), "{message}");
                    assert!(
                        message.len() < 300,
                        "the message quotes the scope shortened"
                    );
                }
            }
        }
    }

    #[test]
    fn a_long_service_scope_is_refused_before_any_read() {
        // given a service name whose key DynamoDB could not hold
        let scope = RequestedScope::Service("s".repeat(3000));
        // when
        let err = plan(&scope, &OrgConfig::default()).expect_err("too long");
        // then
        assert_eq!(err.code(), "bad_request");
    }
}
