//! `GET /v1/tickets`: the scope's ticket cycle and lead times from the rollups of its ticket
//! projects, and the tickets an environment's deployments carried in the period. Per repo of
//! the scope: that environment's attempts in the period (one `gsi1` query) and the ones
//! before it, then the default branch's history and merged PRs over their span (as
//! `/v1/environments` reads them); `flowmeter::metrics::tickets` decides what each carried and
//! which tickets those PRs name; the tickets' own state is read by key.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use flowmeter::derive::link_edits::repo_history_window;
use flowmeter::derive::links::branch_history;
use flowmeter::derive::{Deployment, Projection, PullRequest, Ticket};
use flowmeter::metrics::environments::ATTEMPTS_READ;
use flowmeter::metrics::lists::ListScope;
use flowmeter::metrics::tickets::{carried_prs, carried_tickets, TicketsReport};
use flowmeter::model::EntityKey;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use super::error::ApiError;
use super::query::parse_query_any_environment;
use super::reports::{plan, weekly};
use super::ApiState;
use crate::http::json;
use crate::store::{Store, StoreError};

/// One repo's deployments to the environment that carried something, each with its PRs.
type Carried = Vec<(Deployment, Vec<PullRequest>)>;

pub async fn tickets(state: &ApiState, query_string: &str) -> Result<Response<Body>, ApiError> {
    let config = state.config().await?;
    let query = parse_query_any_environment(query_string, &config)?;
    let plan = plan(&query.scope.parse()?, &config)?;
    let found = weekly(state, &plan.tickets, &query, plan.configured).await?;
    let period = query.span(&config)?;
    let mut carried: Carried = Vec::new();
    for repo in ListScope::of(&plan, &config).deployment_repos {
        carried.extend(carried_in_repo(&state.store, &repo, &query.environment, period).await?);
    }
    let ids: BTreeSet<String> = carried
        .iter()
        .flat_map(|(_, prs)| prs.iter().flat_map(|pr| pr.tickets.iter().cloned()))
        .collect();
    let known = read_tickets(&state.store, ids).await?;
    let refs: Vec<(&Deployment, Vec<&PullRequest>)> = carried
        .iter()
        .map(|(d, prs)| (d, prs.iter().collect()))
        .collect();
    let report = TicketsReport::build(
        &query.window(),
        &found,
        &query.environment,
        carried_tickets(&refs, &known),
    );
    Ok(json(StatusCode::OK, &report))
}

/// What `repo`'s deployments to `environment` finishing in `period` carried: reads them, the
/// successful one before (the baseline, among the [`ATTEMPTS_READ`] before), and the history
/// between.
async fn carried_in_repo(
    store: &Store,
    repo: &str,
    environment: &str,
    period: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Carried, StoreError> {
    let in_period = store
        .deployments_in(repo, environment, period.0..period.1)
        .await?;
    if in_period.is_empty() {
        return Ok(Vec::new());
    }
    let before = store
        .deployments_in_before(repo, environment, period.0, ATTEMPTS_READ)
        .await?;
    let baseline = before.into_iter().find(Deployment::is_successful_attempt);
    let deployments: Vec<Deployment> = baseline.into_iter().chain(in_period).collect();
    let Some(window) = repo_history_window(&deployments) else {
        return Ok(Vec::new());
    };
    let history = match store.default_branch(repo).await? {
        Some(branch) => {
            let pushes = store
                .branch_facts(repo, &branch, Some(*window.start()), Some(*window.end()))
                .await?;
            branch_history(&pushes)
        }
        None => Vec::new(),
    };
    let merged = store.merged_prs(repo, window).await?;
    Ok(carried_prs(&deployments, &history, &merged, period.0)
        .into_iter()
        .filter(|(_, prs)| prs.iter().any(|pr| !pr.tickets.is_empty()))
        .map(|(d, prs)| (d.clone(), prs.into_iter().cloned().collect()))
        .collect())
}

/// The tickets of `ids` the trackers sent, by id (one `BatchGetItem` per 100).
pub(super) async fn read_tickets(
    store: &Store,
    ids: BTreeSet<String>,
) -> Result<BTreeMap<String, Ticket>, StoreError> {
    let keys: Vec<EntityKey> = ids.into_iter().map(|id| EntityKey::Ticket { id }).collect();
    Ok(store
        .projections(&keys)
        .await?
        .into_iter()
        .filter_map(|item| match item.projection {
            Projection::Ticket(ticket) => Some((ticket.id.clone(), ticket)),
            _ => None,
        })
        .collect())
}
