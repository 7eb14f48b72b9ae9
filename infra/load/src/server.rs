//! An in-process HTTP server over the edge handlers, like the dev server's, except that the
//! webhook side, the read side and the stream side each get their own `Store` (so their own
//! `Meter` and profile): ingest and rollup capacity are measured apart.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowmeter_devserver::{lambda_request, to_hyper};
use flowmeter_edge::api::{handle_api, ApiState};
use flowmeter_edge::local_stream::StreamPoller;
use flowmeter_edge::settings::WebhookSecrets;
use flowmeter_edge::store::Store;
use flowmeter_edge::webhook::handle_webhook;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::generate::{GENERIC_SECRET, GITHUB_SECRET, PAGERDUTY_SECRET};

pub const API_TOKEN: &str = "load-api-token";

/// `GET url` on the read API with [`API_TOKEN`]: the status and the body.
pub async fn api_get(client: &reqwest::Client, url: &str) -> Result<(u16, Vec<u8>), String> {
    let response = client
        .get(url)
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    Ok((status, body.to_vec()))
}

pub fn secrets() -> WebhookSecrets {
    WebhookSecrets {
        github: GITHUB_SECRET.into(),
        pagerduty: PAGERDUTY_SECRET.into(),
        generic: GENERIC_SECRET.into(),
        ..WebhookSecrets::default()
    }
}

struct State {
    webhook_store: Store,
    secrets: WebhookSecrets,
    api: ApiState,
}

async fn serve_one(
    state: Arc<State>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let request = match lambda_request(request).await {
        Ok(request) => request,
        Err(refused) => return Ok(to_hyper(refused)),
    };
    let response = if request.uri().path().starts_with("/webhooks/") {
        handle_webhook(&state.webhook_store, &state.secrets, &request).await
    } else {
        handle_api(&state.api, &request).await
    };
    Ok(to_hyper(response))
}

pub struct Server {
    pub address: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(webhook_store: Store, read_store: Store) -> Result<Server, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let state = Arc::new(State {
            webhook_store,
            secrets: secrets(),
            api: ApiState::new(read_store, API_TOKEN.into(), String::new()),
        });
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stopped.changed() => break,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| serve_one(state.clone(), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Server {
            address,
            stop,
            task,
        })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// What the stream consumer has done so far.
#[derive(Debug, Default, Clone)]
pub struct PollState {
    pub polls: u64,
    /// Stream records handed to the rollup handler (and handled).
    pub records: u64,
    /// Polls that failed outright (DynamoDB unreachable) or reported a failed batch.
    pub failed_polls: u64,
    /// When the last poll that handled records ended.
    pub last_busy: Option<Instant>,
    /// Consecutive polls that found nothing, and when that streak began.
    pub quiet_streak: u32,
    pub quiet_since: Option<Instant>,
    /// Every poll that handled records: how long it took (ms) and how many it handled.
    pub busy_polls: Vec<(f64, usize)>,
}

/// The local stream consumer: polls the table's stream and feeds the rollup handler, as the
/// dev server does, recording when it was last busy.
pub struct Poller {
    pub state: Arc<Mutex<PollState>>,
    pub batch_failures: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Poller {
    /// Polls again at once after a poll that handled records, 100 ms after an empty one.
    pub fn start(store: Store) -> Poller {
        Poller::start_with_window(store, Duration::ZERO)
    }

    /// As [`Poller::start`], and polls start at least `window` apart: a record waits up to
    /// `window` before it is handled, like the template's `MaximumBatchingWindowInSeconds` in
    /// AWS when batches do not fill.
    pub fn start_with_window(store: Store, window: Duration) -> Poller {
        let state = Arc::new(Mutex::new(PollState::default()));
        let batch_failures = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = watch::channel(false);
        let shared = state.clone();
        let failures = batch_failures.clone();
        let task = tokio::spawn(async move {
            let mut poller = loop {
                match StreamPoller::new(&store).await {
                    Ok(p) => break p,
                    Err(e) => {
                        eprintln!("stream not ready ({e}); retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                            _ = stopped.changed() => return,
                        }
                    }
                }
            };
            loop {
                if *stopped.borrow() {
                    return;
                }
                let started = Instant::now();
                let result = poller.poll_once(&store).await;
                let now = Instant::now();
                let failing = poller.failing_polls > 0;
                let handled = match &result {
                    Ok(n) => *n,
                    Err(_) => 0,
                };
                if let Ok(mut s) = shared.lock() {
                    s.polls += 1;
                    s.records += handled as u64;
                    if result.is_err() || failing {
                        s.failed_polls += 1;
                    }
                    if handled > 0 {
                        let ms = now.duration_since(started).as_secs_f64() * 1000.0;
                        s.busy_polls.push((ms, handled));
                    }
                    if handled > 0 || result.is_err() || failing {
                        s.last_busy = Some(now);
                        s.quiet_streak = 0;
                        s.quiet_since = None;
                    } else {
                        if s.quiet_streak == 0 {
                            s.quiet_since = Some(now);
                        }
                        s.quiet_streak += 1;
                    }
                }
                if failing {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                if let Err(e) = &result {
                    eprintln!("stream poll failed (will retry): {e}");
                }
                let pause = match (handled, result.is_err()) {
                    (0, true) => Duration::from_millis(500),
                    (0, false) => Duration::from_millis(100),
                    _ => Duration::ZERO,
                };
                let resume = (now + pause).max(started + window);
                if resume > now {
                    tokio::select! {
                        _ = tokio::time::sleep_until(resume.into()) => {}
                        _ = stopped.changed() => return,
                    }
                }
            }
        });
        Poller {
            state,
            batch_failures,
            stop,
            task,
        }
    }

    pub fn snapshot(&self) -> PollState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
