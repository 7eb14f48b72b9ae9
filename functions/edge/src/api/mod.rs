//! The read API (`/v1/*`, `/metrics`, `/healthz`): the route parsed once ([`route`]),
//! bearer-token auth, query validation ([`query`]), the scope planned against the current config
//! and one batched read of weekly rollups per answer ([`reports`]); every failure is one
//! [`ApiError`] with one conversion to a response. The numbers themselves come from
//! `flowmeter::metrics`.

mod backfill;
pub mod dashboard;
mod environments;
mod error;
mod gate;
mod lists;
mod query;
mod reports;
mod route;
mod security;
mod share;
mod tickets;

use std::time::{Duration, Instant};

use flowmeter::config::OrgConfig;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tokio::sync::RwLock;

pub use dashboard::DASHBOARD_ROUTES;
pub use environments::repo_answer as repo_environments;
pub use error::ApiError;
pub use route::{Report, Route, ROUTES};

use crate::http::{bearer, body_bytes, json, token_matches};
use crate::store::{Store, StoreError};

/// How long a container trusts its copy of the org config before reading it again. A config
/// pushed to another container applies here within this time; the container that took the PUT
/// applies it at once.
const CONFIG_TTL: Duration = Duration::from_secs(30);
/// Largest config body accepted by `PUT /v1/config`.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

pub struct ApiState {
    pub store: Store,
    api_token: String,
    admin_token: String,
    /// Opens `POST /v1/gates/release-version` and nothing else, so a CI job's credential reads
    /// no report; empty: only the read and admin tokens open the gate.
    gate_token: String,
    /// Signs and checks share keys (`flowmeter::share`); empty turns share links off.
    share_secret: Vec<u8>,
    config: RwLock<Option<(Instant, OrgConfig)>>,
    /// Where a started backfill's id goes to be run in this process (the dev server); `None`
    /// in AWS, where the backfill function picks running jobs up from the table.
    backfill_runner: Option<tokio::sync::mpsc::UnboundedSender<String>>,
}

impl ApiState {
    pub fn new(store: Store, api_token: String, admin_token: String) -> ApiState {
        ApiState {
            store,
            share_secret: flowmeter::share::signing_secret("", &admin_token),
            api_token,
            admin_token,
            gate_token: String::new(),
            config: RwLock::new(None),
            backfill_runner: None,
        }
    }

    /// Runs started backfills in this process: each new job's id is sent to `runner`.
    pub fn with_backfill_runner(
        mut self,
        runner: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> ApiState {
        self.backfill_runner = Some(runner);
        self
    }

    /// Signs share keys with `secret` (the secret's `share_secret`) rather than with the
    /// secret derived from the admin token; an empty one keeps the derived secret.
    pub fn with_share_secret(mut self, secret: &str) -> ApiState {
        self.share_secret = flowmeter::share::signing_secret(secret, &self.admin_token);
        self
    }

    /// Lets `token` open the release-version gate (the secret's `gate_token`).
    pub fn with_gate_token(mut self, token: &str) -> ApiState {
        self.gate_token = token.to_string();
        self
    }

    /// Tokens from the function's settings (`settings::ApiTokens`); unset locks the routes.
    pub async fn from_env(store: Store) -> Result<ApiState, crate::secrets::SecretsError> {
        let tokens = crate::settings::ApiTokens::load().await?;
        Ok(ApiState::new(store, tokens.api, tokens.admin)
            .with_share_secret(&tokens.share)
            .with_gate_token(&tokens.gate))
    }

    /// The current org config (defaults when none was pushed), cached for [`CONFIG_TTL`].
    pub async fn config(&self) -> Result<OrgConfig, StoreError> {
        if let Some((at, config)) = self.config.read().await.as_ref() {
            if at.elapsed() < CONFIG_TTL {
                return Ok(config.clone());
            }
        }
        let config = crate::settings::load_config(&self.store).await?;
        *self.config.write().await = Some((Instant::now(), config.clone()));
        Ok(config)
    }
}

type Answer = Result<Response<Body>, ApiError>;

pub async fn handle_api(state: &ApiState, request: &Request) -> Response<Body> {
    answer(state, request)
        .await
        .unwrap_or_else(ApiError::into_response)
}

async fn answer(state: &ApiState, request: &Request) -> Answer {
    let route = Route::parse(request.method().as_str(), request.uri().path())?;
    // The health check and the dashboard's static files need no token.
    if !matches!(route, Route::Health | Route::Dashboard) {
        authorize(state, request, route)?;
    }
    match route {
        Route::Health => Ok(json(StatusCode::OK, &serde_json::json!({"ok": true}))),
        Route::PutConfig => put_config(state, request).await,
        Route::GetConfig => get_config(state).await,
        Route::StartBackfill => backfill::start(state, request).await,
        Route::Backfill => backfill::status(state, request.uri().query().unwrap_or_default()).await,
        Route::Goals => reports::goals(state, request.uri().query().unwrap_or_default()).await,
        Route::Teams => teams(state).await,
        Route::Metrics => reports::prometheus(state).await,
        Route::Dashboard => Ok(dashboard::serve(
            request.uri().path(),
            request.uri().query(),
        )),
        Route::Attention => {
            share::attention(state, request.uri().query().unwrap_or_default()).await
        }
        Route::Share => share::mint(state, request).await,
        Route::ReleaseVersionGate => gate::release_version(state, request).await,
        Route::SlowestPullRequests => {
            lists::slowest(state, request.uri().query().unwrap_or_default()).await
        }
        Route::FailedDeployments => {
            lists::failed(state, request.uri().query().unwrap_or_default()).await
        }
        Route::Environments => {
            environments::environments(state, request.uri().query().unwrap_or_default()).await
        }
        Route::Tickets => tickets::tickets(state, request.uri().query().unwrap_or_default()).await,
        Route::Security => {
            security::security(state, request.uri().query().unwrap_or_default()).await
        }
        Route::Report(report) => {
            reports::report(state, request.uri().query().unwrap_or_default(), report).await
        }
    }
}

/// Every route but `/healthz` needs the read token or the admin token; `PUT /v1/config`,
/// `POST /v1/backfill` and `POST /v1/share` need the admin token. A share key (`fms1.…`) reads
/// only the routes open to it, and only the org and team scopes; the gate token opens the
/// release-version gate alone.
fn authorize(state: &ApiState, request: &Request, route: Route) -> Result<(), ApiError> {
    let presented = bearer(request.headers());
    if token_matches(presented, &state.gate_token) {
        return match route {
            Route::ReleaseVersionGate => Ok(()),
            _ => Err(ApiError::Unauthorized(
                "the gate token opens only POST /v1/gates/release-version",
            )),
        };
    }
    let is_admin = token_matches(presented, &state.admin_token);
    if !is_admin && !token_matches(presented, &state.api_token) {
        return if flowmeter::share::is_share_key(presented) {
            authorize_share_key(state, presented, route, request.uri().query())
        } else {
            Err(ApiError::Unauthorized("a valid bearer token is required"))
        };
    }
    if route.needs_admin() && !is_admin {
        return Err(ApiError::Unauthorized(match route {
            Route::StartBackfill => "POST /v1/backfill needs the admin token",
            Route::Share => "POST /v1/share needs the admin token",
            _ => "PUT /v1/config needs the admin token",
        }));
    }
    Ok(())
}

/// A share key opens the org and team aggregates, once its signature and expiry hold.
fn authorize_share_key(
    state: &ApiState,
    key: &str,
    route: Route,
    query: Option<&str>,
) -> Result<(), ApiError> {
    use flowmeter::share::ShareKeyError;
    match flowmeter::share::verify(&state.share_secret, key, chrono::Utc::now()) {
        Ok(_) => {}
        Err(ShareKeyError::Expired(_)) => {
            return Err(ApiError::Unauthorized("the share key has expired"))
        }
        Err(_) => return Err(ApiError::Unauthorized("the share key is not valid")),
    }
    if !route.open_to_share_keys() {
        return Err(ApiError::Unauthorized(
            "a share key reads only the org and team aggregates",
        ));
    }
    let scope = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(name, _)| name == "scope")
        .last()
        .map(|(_, value)| value.into_owned());
    match scope.as_deref() {
        None | Some("org") => Ok(()),
        Some(s) if s.starts_with("team:") => Ok(()),
        Some(_) => Err(ApiError::Unauthorized(
            "a share key reads only the org and team scopes",
        )),
    }
}

async fn teams(state: &ApiState) -> Answer {
    let config = state.config().await?;
    let teams: Vec<serde_json::Value> = config
        .teams()
        .map(|(name, team)| serde_json::json!({"name": name, "members": team.members, "repos": team.repos}))
        .collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "teams": teams })))
}

async fn get_config(state: &ApiState) -> Answer {
    let config = state.config().await?;
    // Serialized from the config itself, not `to_json`'s map: environments keep their order.
    Ok(json(StatusCode::OK, &config))
}

/// Replaces the org config: validated first; a bad config is a 400 naming the field and the old
/// config stays.
async fn put_config(state: &ApiState, request: &Request) -> Answer {
    let body = body_bytes(request.body());
    if body.len() > MAX_CONFIG_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_CONFIG_BYTES,
        });
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("config: body is not UTF-8"))?;
    let config = OrgConfig::from_yaml(text)?;
    state.store.put_config(text).await?;
    *state.config.write().await = Some((Instant::now(), config.clone()));
    Ok(json(StatusCode::OK, &config))
}
