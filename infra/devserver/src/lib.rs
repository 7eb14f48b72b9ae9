//! The local dev server: every route of docs/API.md on one port, answered by the very handler
//! functions the Lambdas call, plus a stream poller that feeds the rollup handler Lambda-shaped
//! stream events from DynamoDB Local. The emulators themselves are started by
//! `infra/with-emulators.sh` (`make dev`), which stops them when this process ends.

pub mod backfill_command;
pub mod event_bus;

pub use event_bus::LocalEventBus;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flowmeter::config::OrgConfig;
use flowmeter_edge::api::{handle_api, ApiState};
use flowmeter_edge::digest::{run as run_digest, Channels, DigestEvent};
use flowmeter_edge::github::{GitHubClient, GitHubSettings};
use flowmeter_edge::http::{error, json};
use flowmeter_edge::lambda_http::http::{Method, StatusCode};
use flowmeter_edge::lambda_http::{
    Body as LambdaBody, Request as LambdaRequest, Response as LambdaResponse,
};
use flowmeter_edge::local_stream::StreamPoller;
use flowmeter_edge::notifier::notify;
use flowmeter_edge::publish::EventPublisher;
use flowmeter_edge::reprocess::reprocess;
use flowmeter_edge::schema::{create_table, TEMPLATE};
use flowmeter_edge::secrets::{channels_from_text, ChatChannels};
use flowmeter_edge::settings::{load_config, WebhookSecrets};
use flowmeter_edge::store::Store;
use flowmeter_edge::webhook::handle_webhook;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Why the dev server cannot start: each names the setting or resource at fault.
#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    #[error("FLOWMETER_PORT: not a port number: {0}")]
    Port(String),
    #[error("FLOWMETER_CONFIG {path}: {message}")]
    Config { path: String, message: String },
    #[error("the table from template.yaml: {0}")]
    Schema(#[from] flowmeter_edge::schema::SchemaError),
    #[error(transparent)]
    Store(#[from] flowmeter_edge::store::StoreError),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("GitHub API settings: {0}")]
    GitHub(#[from] flowmeter_edge::github::GitHubError),
    #[error("{0}")]
    Channels(#[from] flowmeter_edge::secrets::SecretsError),
    #[error("cannot start the local event bus: {0}")]
    EventBus(std::io::Error),
}

/// Everything the dev server reads from its environment (docs/API.md, "Local dev server").
#[derive(Clone)]
pub struct Settings {
    pub port: u16,
    pub secrets: WebhookSecrets,
    pub api_token: String,
    pub admin_token: String,
    /// Opens the release-version gate alone (`FLOWMETER_GATE_TOKEN`).
    pub gate_token: String,
    /// Signs share keys (`FLOWMETER_SHARE_SECRET`); unset, derived from the admin token.
    pub share_secret: String,
    pub config_path: Option<String>,
    /// Where backfills read GitHub (`FLOWMETER_GITHUB_API_URL`) and as whom
    /// (`FLOWMETER_GITHUB_TOKEN` or the `FLOWMETER_GITHUB_APP_*` keys); no credentials fail
    /// each backfilled repository with an `auth` error that says what to set.
    pub github: GitHubSettings,
    /// The notifier's chat channels (`FLOWMETER_CHANNELS`, the secret's `channels` as JSON).
    pub channels: ChatChannels,
    /// The local EventBridge the rollup publishes domain events to, and the notifier routes
    /// from. `None`: the server starts its own (a test passes one in, to watch or fail it).
    pub event_bus: Option<LocalEventBus>,
}

impl Settings {
    pub fn from_env() -> Result<Settings, DevServerError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let port = match var("FLOWMETER_PORT") {
            Some(p) => p.parse().map_err(|_| DevServerError::Port(p))?,
            None => 3000,
        };
        Ok(Settings {
            port,
            secrets: WebhookSecrets::from_env(),
            api_token: var("FLOWMETER_API_TOKEN").unwrap_or_default(),
            admin_token: var("FLOWMETER_ADMIN_TOKEN").unwrap_or_default(),
            gate_token: var("FLOWMETER_GATE_TOKEN").unwrap_or_default(),
            share_secret: var("FLOWMETER_SHARE_SECRET").unwrap_or_default(),
            config_path: var("FLOWMETER_CONFIG"),
            github: GitHubSettings::from_secrets(
                &flowmeter_edge::secrets::from_env(),
                var("FLOWMETER_GITHUB_API_URL"),
            )?,
            channels: match var("FLOWMETER_CHANNELS") {
                Some(text) => flowmeter_edge::secrets::with_slack_bot_token(
                    channels_from_text(&text)?,
                    &var("FLOWMETER_SLACK_BOT_TOKEN").unwrap_or_default(),
                ),
                None => ChatChannels::new(),
            },
            event_bus: None,
        })
    }
}

struct State {
    store: Store,
    settings: Settings,
    api: ApiState,
    bus: LocalEventBus,
}

/// Bodies above this are refused with 413 before they are read in full.
const BODY_LIMIT: usize = flowmeter::ingest::MAX_BODY_BYTES;

/// Prepares the table (from template.yaml) and the config (from `FLOWMETER_CONFIG`, validated;
/// a bad file is an error naming the field).
pub async fn prepare(store: &Store, settings: &Settings) -> Result<(), DevServerError> {
    create_table(store, TEMPLATE).await?;
    if let Some(path) = &settings.config_path {
        let config_error = |message: String| DevServerError::Config {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| config_error(e.to_string()))?;
        OrgConfig::from_yaml(&text).map_err(|e| config_error(e.to_string()))?;
        store.put_config(&text).await?;
    }
    Ok(())
}

/// The handlers' answer as a hyper response.
pub fn to_hyper(response: LambdaResponse<LambdaBody>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        LambdaBody::Text(t) => Bytes::from(t),
        LambdaBody::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

fn bearer_matches(request: &LambdaRequest, token: &str) -> bool {
    flowmeter_edge::http::token_matches(flowmeter_edge::http::bearer(request.headers()), token)
}

async fn route(state: &State, request: LambdaRequest) -> LambdaResponse<LambdaBody> {
    let path = request.uri().path().to_string();
    if path.starts_with("/webhooks/") {
        return handle_webhook(&state.store, &state.settings.secrets, &request).await;
    }
    let answer = match path.as_str() {
        "/dev/digest" => dev_digest(state, &request).await,
        "/dev/reprocess" => dev_reprocess(state, &request).await,
        "/dev/events" => Ok(dev_events(state, &request)),
        _ => return handle_api(&state.api, &request).await,
    };
    answer.unwrap_or_else(|refusal| refusal)
}

/// An answer, or the error response that stands in for it.
type Answer = Result<LambdaResponse<LambdaBody>, LambdaResponse<LambdaBody>>;

/// The refusal of a dev request that is not a POST with the admin token.
fn admin_refusal(state: &State, request: &LambdaRequest) -> Option<LambdaResponse<LambdaBody>> {
    if request.method() != Method::POST {
        return Some(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST",
        ));
    }
    if !bearer_matches(request, &state.settings.admin_token) {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin token required",
        ));
    }
    None
}

/// 503: what the request needs (the store, the config, a channel) cannot be had now.
fn unavailable(e: impl std::fmt::Display) -> LambdaResponse<LambdaBody> {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        e.to_string(),
    )
}

/// `GET /dev/events` with the admin token: what the local bus holds, the domain events the
/// rollup published (the EventBridge entries' details, in arrival order), and their count by
/// type.
fn dev_events(state: &State, request: &LambdaRequest) -> LambdaResponse<LambdaBody> {
    if request.method() != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use GET",
        );
    }
    if !bearer_matches(request, &state.settings.admin_token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin token required",
        );
    }
    let entries = state.bus.entries();
    let mut by_type = std::collections::BTreeMap::<String, usize>::new();
    for entry in &entries {
        *by_type.entry(entry.detail_type.clone()).or_default() += 1;
    }
    let events: Vec<&serde_json::Value> = entries.iter().map(|e| &e.detail).collect();
    json(
        StatusCode::OK,
        &serde_json::json!({"bus": state.bus.bus_name(), "by_type": by_type, "events": events}),
    )
}

/// `POST /dev/reprocess` with the admin token: rebuilds everything derived, and answers the
/// report.
async fn dev_reprocess(state: &State, request: &LambdaRequest) -> Answer {
    if let Some(refusal) = admin_refusal(state, request) {
        return Err(refusal);
    }
    let config = load_config(&state.store).await.map_err(unavailable)?;
    let report = reprocess(&state.store, config).await.map_err(unavailable)?;
    Ok(json(StatusCode::OK, &report))
}

/// `POST /dev/digest?week=YYYY-Www` with the admin token: runs the digest for that week
/// (default: the last full week) now, against the SES emulator and
/// `FLOWMETER_SLACK_WEBHOOK_URL`. Admin only, like `/dev/reprocess`: it sends email and chat
/// messages in the org's name, and its answer holds the whole digest.
async fn dev_digest(state: &State, request: &LambdaRequest) -> Answer {
    if let Some(refusal) = admin_refusal(state, request) {
        return Err(refusal);
    }
    let week = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("week="))
        .map(str::to_string);
    let event = DigestEvent {
        scheduled_time: None,
        week,
    };
    let config = load_config(&state.store).await.map_err(unavailable)?;
    let (now, week) = event
        .resolve(&config, chrono::Utc::now())
        .map_err(|message| error(StatusCode::BAD_REQUEST, "bad_request", message))?;
    let channels = Channels::load().await.map_err(unavailable)?;
    let ses = flowmeter_edge::notify::ses_client().await;
    let http = reqwest::Client::new();
    match run_digest(&state.store, &ses, &http, &config, &channels, week, now).await {
        Ok(outcome) => Ok(json(StatusCode::OK, &outcome)),
        Err(e) => Err(error(
            StatusCode::BAD_GATEWAY,
            "digest_failed",
            e.to_string(),
        )),
    }
}

/// A hyper request as the Lambda request the handlers take, its body read up to
/// [`BODY_LIMIT`]; the 413 (too large) or 400 (unreadable) answer instead when it cannot be.
/// Shared with the load benchmark's server, so both refuse bodies alike.
pub async fn lambda_request(
    request: hyper::Request<Incoming>,
) -> Result<LambdaRequest, LambdaResponse<LambdaBody>> {
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("body over {BODY_LIMIT} bytes"),
            ))
        }
        Err(err) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("unreadable body: {err}"),
            ))
        }
    };
    let body = if bytes.is_empty() {
        LambdaBody::Empty
    } else {
        LambdaBody::Binary(bytes.to_vec())
    };
    Ok(LambdaRequest::from_parts(parts, body))
}

async fn serve_one(
    state: Arc<State>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let response = match lambda_request(request).await {
        Ok(request) => route(&state, request).await,
        Err(refused) => refused,
    };
    Ok(to_hyper(response))
}

/// Polls the table's stream until shutdown, feeding the rollup handler, which publishes its
/// domain events with `publisher`.
async fn poll_stream(store: Store, publisher: EventPublisher, mut shutdown: watch::Receiver<bool>) {
    let mut poller = loop {
        match StreamPoller::new(&store).await {
            Ok(p) => break p.with_publisher(Some(publisher)),
            Err(e) => {
                tracing::warn!(error = %e, "stream not ready; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    loop {
        let handled = match poller.poll_once(&store).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "stream poll failed; retrying");
                0
            }
        };
        if handled == 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = shutdown.changed() => return,
            }
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Serves until `shutdown` turns true. Binds first and reports the bound address through
/// `bound`, so a caller asking for port 0 learns the real port.
pub async fn serve(
    store: Store,
    settings: Settings,
    shutdown: watch::Receiver<bool>,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<(), DevServerError> {
    prepare(&store, &settings).await?;
    let listen_error = |source| DevServerError::Listen {
        port: settings.port,
        source,
    };
    let listener = TcpListener::bind(("127.0.0.1", settings.port))
        .await
        .map_err(listen_error)?;
    let address = listener.local_addr().map_err(listen_error)?;
    let bus = match &settings.event_bus {
        Some(bus) => bus.clone(),
        None => LocalEventBus::start(LOCAL_BUS)
            .await
            .map_err(DevServerError::EventBus)?,
    };
    let publisher = EventPublisher::at(Some(&bus.endpoint()), bus.bus_name()).await;
    let notifier = tokio::spawn(route_events(
        store.clone(),
        bus.subscribe(),
        settings.channels.clone(),
        shutdown.clone(),
    ));
    let poller = tokio::spawn(poll_stream(store.clone(), publisher, shutdown.clone()));
    let github = GitHubClient::from_settings(reqwest::Client::new(), &settings.github);
    let (runner, started) = tokio::sync::mpsc::unbounded_channel();
    let backfills = tokio::spawn(run_backfills(
        store.clone(),
        github,
        started,
        shutdown.clone(),
    ));
    let api = ApiState::new(
        store.clone(),
        settings.api_token.clone(),
        settings.admin_token.clone(),
    )
    .with_share_secret(&settings.share_secret)
    .with_gate_token(&settings.gate_token)
    .with_backfill_runner(runner);
    let state = Arc::new(State {
        store,
        settings,
        api,
        bus,
    });
    if let Some(bound) = bound {
        let _ = bound.send(address);
    }
    tracing::info!(%address, "flowmeter dev server listening");
    let mut shutdown = shutdown;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| serve_one(state.clone(), request));
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    let _ = poller.await;
    let _ = backfills.await;
    let _ = notifier.await;
    Ok(())
}

/// The name of the bus the dev server starts when none is given.
pub const LOCAL_BUS: &str = "flowmeter-local";

/// How long the local rule waits for more events after one arrives before handing them to the
/// notifier together: the queue's batching window in AWS (20 s there; short here, so a test
/// or the demo sees its messages at once, and a run's events, published 10 to a request,
/// still arrive as one batch).
const BATCHING_WINDOW: Duration = Duration::from_millis(300);

/// The local rule and notifier: every event the bus accepted → `notifier::notify` with the
/// current config and the channels, as the notifier function does with a queued batch.
async fn route_events(
    store: Store,
    mut entries: tokio::sync::mpsc::UnboundedReceiver<Vec<event_bus::RecordedEntry>>,
    channels: ChatChannels,
    mut shutdown: watch::Receiver<bool>,
) {
    let http = reqwest::Client::new();
    loop {
        let first = tokio::select! {
            batch = entries.recv() => match batch {
                Some(batch) => batch,
                None => return,
            },
            _ = shutdown.changed() => return,
        };
        let mut batch = first;
        let window = tokio::time::sleep(BATCHING_WINDOW);
        tokio::pin!(window);
        loop {
            tokio::select! {
                more = entries.recv() => match more {
                    Some(more) => batch.extend(more),
                    None => break,
                },
                _ = &mut window => break,
            }
        }
        let events: Vec<_> = batch
            .into_iter()
            .filter_map(|entry| match serde_json::from_value(entry.detail) {
                Ok(event) => Some(event),
                Err(e) => {
                    tracing::warn!(error = %e, "an entry on the bus is not a Flowmeter event");
                    None
                }
            })
            .collect();
        let config = match load_config(&store).await {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(error = %e, events = events.len(), "cannot load the config; events not routed");
                continue;
            }
        };
        let outcome = notify(&http, &config, &channels, &events).await;
        tracing::info!(events = events.len(), sent = ?outcome.sent, unrouted = outcome.unrouted, failed = outcome.failed.len(), "events routed");
    }
}

/// Runs backfills in this process, one after another: first those a stopped server left
/// running (once their lease lapses), then each one `POST /v1/backfill` starts. Shutdown
/// stops a run between two requests; its checkpoint is where the next start resumes.
async fn run_backfills(
    store: Store,
    github: Result<GitHubClient, flowmeter_edge::github::GitHubError>,
    mut started: tokio::sync::mpsc::UnboundedReceiver<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let left_running = store
        .unheld_backfills(chrono::Utc::now().timestamp())
        .await
        .unwrap_or_default();
    let mut queue: std::collections::VecDeque<String> = left_running.into();
    loop {
        let id = match queue.pop_front() {
            Some(id) => id,
            None => tokio::select! {
                id = started.recv() => match id {
                    Some(id) => id,
                    None => return,
                },
                _ = shutdown.changed() => return,
            },
        };
        let config = match load_config(&store).await {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(backfill = %id, error = %e, "cannot load the config; backfill left running");
                continue;
            }
        };
        let github = match &github {
            Ok(github) => github,
            Err(e) => {
                if let Err(e) = flowmeter_edge::backfill::fail_unrunnable(&store, &id, e).await {
                    tracing::error!(backfill = %id, error = %e, "cannot record the backfill's failure");
                }
                continue;
            }
        };
        let run = flowmeter_edge::backfill::run_to_end(&store, github, &config, &id, |_| {});
        tokio::select! {
            outcome = run => match outcome {
                Ok(job) => tracing::info!(backfill = %id, state = ?job.state, "backfill ended"),
                Err(e) => tracing::error!(backfill = %id, error = %e, "backfill stopped; it resumes on the next start"),
            },
            _ = shutdown.changed() => return,
        }
    }
}
