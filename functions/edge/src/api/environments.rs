//! `GET /v1/environments`: per repo of the scope, what each configured environment runs and
//! what it holds that the next one does not. Loads each environment's latest attempts (one
//! index query per repo and environment), then the default branch's history and merged PRs
//! over the span of the deployed commits; `flowmeter::metrics::environments` decides.

use chrono::Utc;
use flowmeter::config::OrgConfig;
use flowmeter::derive::link_edits::repo_history_window;
use flowmeter::derive::links::branch_history;
use flowmeter::derive::AppState;
use flowmeter::derive::Deployment;
use flowmeter::metrics::environments::{
    attach_apps, deployed_now, repo_environments, EnvironmentsReport, RepoEnvironments,
    ATTEMPTS_READ,
};
use flowmeter::metrics::lists::{ListScope, GITHUB_WEB};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use super::error::ApiError;
use super::ApiState;
use crate::http::json;
use crate::store::{Store, StoreError};

/// Reads `scope` (default `org`); any other parameter is a 400 naming it, as on the reports.
fn parse_scope(query_string: &str) -> Result<String, ApiError> {
    let mut scope = "org".to_string();
    for (name, value) in form_urlencoded::parse(query_string.as_bytes()) {
        match name.as_ref() {
            "scope" => scope = value.into_owned(),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`"
                )))
            }
        }
    }
    Ok(scope)
}

pub async fn environments(
    state: &ApiState,
    query_string: &str,
) -> Result<Response<Body>, ApiError> {
    let config = state.config().await?;
    let scope = parse_scope(query_string)?;
    let plan = config.plan(&scope.parse()?)?;
    super::reports::check_key_sizes(plan.scopes())?;
    let repos = ListScope::of(&plan, &config).deployment_repos;
    let now = Utc::now();
    let apps = state.store.app_states().await?;
    let mut answers = Vec::with_capacity(repos.len());
    for repo in &repos {
        answers.push(repo_answer(&state.store, &config, repo, &apps, now).await?);
    }
    Ok(json(
        StatusCode::OK,
        &EnvironmentsReport {
            scope,
            at: now,
            repos: answers,
        },
    ))
}

/// One repo's environments (`/metrics` and the digest read every configured repo's), with the
/// GitOps applications of `apps` that deploy it.
pub async fn repo_answer(
    store: &Store,
    config: &OrgConfig,
    repo: &str,
    apps: &[AppState],
    now: chrono::DateTime<Utc>,
) -> Result<RepoEnvironments, StoreError> {
    let mut deployed: Vec<(String, Deployment)> = Vec::new();
    for environment in config.environment_names() {
        let latest = store
            .latest_deployments(repo, environment, ATTEMPTS_READ)
            .await?;
        if let Some(current) = deployed_now(&latest) {
            deployed.push((environment.to_string(), current.clone()));
        }
    }
    // What lies between two deployed commits needs the branch and its merges; one
    // environment alone is compared with nothing.
    let (mut history, mut merged) = (Vec::new(), Vec::new());
    let deployments: Vec<Deployment> = deployed.iter().map(|(_, d)| d.clone()).collect();
    if deployments.len() > 1 {
        if let Some(window) = repo_history_window(&deployments) {
            if let Some(branch) = store.default_branch(repo).await? {
                let pushes = store
                    .branch_facts(repo, &branch, Some(*window.start()), Some(*window.end()))
                    .await?;
                history = branch_history(&pushes);
            }
            merged = store.merged_prs(repo, window).await?;
        }
    }
    let mut answer = repo_environments(repo, config, &deployed, &history, &merged, now, GITHUB_WEB);
    attach_apps(&mut answer, apps, config, now);
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_the_only_parameter() {
        assert_eq!(parse_scope("").ok().as_deref(), Some("org"));
        assert_eq!(
            parse_scope("scope=team%3Apayments").ok().as_deref(),
            Some("team:payments")
        );
        let refused = parse_scope("scope=org&env=qa").expect_err("env is not a parameter here");
        assert!(refused.to_string().contains("`env`"), "{refused}");
    }
}
