//! The HTTP server: authentication, rate limits and scripted faults, the routes, ETags and
//! GitHub's headers on every answer.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, AUTHORIZATION, IF_NONE_MATCH};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::app::{self, Minted};
use super::history::RestHistory;
use super::limits::{Limits, Meter, RateHeaders, Verdict};
use super::page::{link, Query};
use super::routes::{self, error_body, Answer, DOCS};

/// What a running server answered, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiStats {
    /// Every request, whatever its answer.
    pub requests: u64,
    /// Requests by the route template they asked for (`/repos/{o}/{r}/pulls/{n}/reviews`),
    /// whatever their answer; paths no route matches are not counted here.
    pub per_endpoint: BTreeMap<String, u64>,
    /// 200 answers.
    pub ok: u64,
    /// 304 answers (`If-None-Match` named the current ETag).
    pub not_modified: u64,
    pub not_found: u64,
    /// 401 answers (no token, or one not accepted).
    pub unauthorized: u64,
    /// 403 answers of an exhausted primary rate limit.
    pub rate_limited: u64,
    /// Secondary rate limits (403 or 429, with `retry-after`).
    pub secondary_limited: u64,
    /// Scripted 502 answers.
    pub server_errors: u64,
    /// Installation tokens minted (`POST /app/installations/{id}/access_tokens` answered 201).
    pub app_tokens_minted: u64,
}

impl ApiStats {
    /// Requests counted under a route template.
    pub fn endpoint(&self, template: &str) -> u64 {
        self.per_endpoint.get(template).copied().unwrap_or_default()
    }
}

struct State {
    limits: Limits,
    meter: Meter,
    stats: ApiStats,
    /// Installation tokens minted so far (accepted until they expire).
    minted: Vec<Minted>,
}

struct Shared {
    history: RestHistory,
    /// The base URL (`http://127.0.0.1:<port>`), for `Link` URLs.
    base: String,
    state: Mutex<State>,
    requests: AtomicU64,
}

/// A running emulation of `api.github.com` serving a [`RestHistory`]. Stops serving when
/// dropped.
pub struct GitHubApi {
    /// The base URL, as `https://api.github.com` is (no `/api/v3`): `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl GitHubApi {
    /// Serves `history` on `127.0.0.1`, on a port the system picks.
    pub async fn start(history: RestHistory, limits: Limits) -> std::io::Result<GitHubApi> {
        GitHubApi::start_on(0, history, limits).await
    }

    /// Serves `history` on `127.0.0.1:<port>` (0: a port the system picks).
    pub async fn start_on(
        port: u16,
        history: RestHistory,
        limits: Limits,
    ) -> std::io::Result<GitHubApi> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            history,
            base: url.clone(),
            state: Mutex::new(State {
                limits,
                meter: Meter::default(),
                stats: ApiStats::default(),
                minted: Vec::new(),
            }),
            requests: AtomicU64::new(0),
        });
        let serving = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let shared = shared.clone();
                        async move {
                            let (parts, _body) = request.into_parts();
                            Ok::<_, Infallible>(shared.answer(
                                &parts.method,
                                &parts.uri,
                                &parts.headers,
                            ))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(GitHubApi {
            url,
            shared,
            accept,
        })
    }

    pub fn stats(&self) -> ApiStats {
        self.shared.state().stats.clone()
    }

    /// Changes the limits of the running server: tokens and the primary limit apply to the
    /// next request (the current window keeps its requests and reset), and the "every Nth"
    /// faults count from here.
    pub fn set_limits(&self, limits: Limits) {
        let mut state = self.shared.state();
        state.limits = limits;
        state.meter.limits_set();
    }

    pub fn limits(&self) -> Limits {
        self.shared.state().limits.clone()
    }

    pub fn history(&self) -> &RestHistory {
        &self.shared.history
    }
}

impl Drop for GitHubApi {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A request id in GitHub's form (`CF3E:2B1A:1C9F3E:1D4A21:67A0B1C2`), distinct per request.
fn request_id(n: u64) -> String {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!(
        "{:04X}:{:04X}:{:06X}:{:06X}:{:08X}",
        z >> 48,
        (z >> 32) & 0xFFFF,
        (z >> 8) & 0xFF_FFFF,
        n & 0xFF_FFFF,
        (z as u32) ^ (n as u32)
    )
}

/// The weak ETag of a body: `W/"<sha-256 hex>"`.
fn etag(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("W/\"{}\"", hex::encode(Sha256::digest(body)))
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, lists, `*`).
fn matches_etag(if_none_match: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

/// One answer being built: status, body and GitHub's headers.
struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(body).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    fn finish(self, request_id: &str, rate: RateHeaders) -> Response<Full<Bytes>> {
        let mut builder = Response::builder()
            .status(self.status)
            .header("content-type", "application/json; charset=utf-8")
            .header("x-github-api-version-selected", "2022-11-28")
            .header("x-github-media-type", "github.v3; format=json")
            .header("x-github-request-id", request_id)
            .header("x-ratelimit-limit", rate.limit.to_string())
            .header("x-ratelimit-remaining", rate.remaining.to_string())
            .header("x-ratelimit-used", rate.used.to_string())
            .header("x-ratelimit-reset", rate.reset.to_string())
            .header("x-ratelimit-resource", "core")
            .header("cache-control", "private, max-age=60, s-maxage=60")
            .header("vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
            .header("server", "github.com");
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(Bytes::from(self.body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }
}

/// `… please include the request ID <id> and timestamp <t> UTC.`
fn support_note(request_id: &str, now: SystemTime) -> String {
    let at: chrono::DateTime<chrono::Utc> = now.into();
    format!(
        "If you reach out to GitHub Support for help, please include the request ID {request_id} and timestamp {} UTC.",
        at.format("%Y-%m-%d %H:%M:%S")
    )
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn answer(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response<Full<Bytes>> {
        let now = SystemTime::now();
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let id = request_id(n);
        if let Some(installation) = app::installation(uri.path()) {
            return self.mint(method, installation, headers, now, n, &id);
        }
        let route = routes::parse(uri.path()).map(|(_, r)| r);
        let (limits, verdict) = {
            let mut state = self.state();
            state.stats.requests += 1;
            if let Some(route) = route {
                *state
                    .stats
                    .per_endpoint
                    .entry(route.template().to_string())
                    .or_default() += 1;
            }
            let limits = state.limits.clone();
            let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
            let verdict = match authorization {
                None => Err("Requires authentication"),
                Some(a) if !limits.accepts(a) && !app::accepts(&state.minted, a, now) => {
                    Err("Bad credentials")
                }
                Some(_) => Ok(state.meter.check(&limits, now)),
            };
            (limits, verdict)
        };
        let reply = match verdict {
            Err(message) => {
                self.state().stats.unauthorized += 1;
                Reply::json(401, &error_body(message, DOCS, 401))
            }
            Ok(Verdict::ServerError) => {
                self.state().stats.server_errors += 1;
                Reply::json(502, &json!({"message": "Server Error"}))
            }
            Ok(Verdict::Secondary(status)) => {
                self.state().stats.secondary_limited += 1;
                let message = format!(
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. {}",
                    support_note(&id, now)
                );
                let docs = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
                Reply::json(status, &error_body(&message, docs, status))
                    .header("retry-after", limits.secondary_retry_after_s.to_string())
            }
            Ok(Verdict::Exhausted) => {
                self.state().stats.rate_limited += 1;
                let message = format!(
                    "API rate limit exceeded for user ID 1. {}",
                    support_note(&id, now)
                );
                let docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
                Reply::json(403, &error_body(&message, docs, 403))
            }
            Ok(Verdict::Proceed) => self.serve(method, uri, headers),
        };
        let rate = self.state().meter.headers(&limits, now);
        reply.finish(&id, rate)
    }

    /// `POST /app/installations/{id}/access_tokens`: outside the rate limit and the faults, as
    /// the App's own JWT is not an installation's token.
    fn mint(
        &self,
        method: &Method,
        installation: &str,
        headers: &HeaderMap,
        now: SystemTime,
        n: u64,
        id: &str,
    ) -> Response<Full<Bytes>> {
        let mut state = self.state();
        state.stats.requests += 1;
        *state
            .stats
            .per_endpoint
            .entry(app::TEMPLATE.to_string())
            .or_default() += 1;
        let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let reply = if method != Method::POST {
            state.stats.not_found += 1;
            Reply::json(404, &error_body("Not Found", DOCS, 404))
        } else {
            match app::mint(
                state.limits.app.as_ref(),
                installation,
                authorization,
                now,
                n,
            ) {
                Ok(minted) => {
                    state.stats.app_tokens_minted += 1;
                    let reply = Reply::json(201, &minted.body());
                    state.minted.push(minted);
                    reply
                }
                Err(refused) => {
                    if refused.status == 401 {
                        state.stats.unauthorized += 1;
                    } else if refused.status == 404 {
                        state.stats.not_found += 1;
                    }
                    let docs = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";
                    Reply::json(
                        refused.status,
                        &error_body(&refused.message, docs, refused.status),
                    )
                }
            }
        };
        let rate = state.meter.headers(&state.limits, now);
        drop(state);
        reply.finish(id, rate)
    }

    /// A request the limits let through.
    fn serve(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Reply {
        let query = Query::parse(uri.query());
        let answer = if method == Method::GET {
            routes::answer(&self.history, uri.path(), &query)
        } else {
            routes::not_found()
        };
        let Answer {
            status,
            body,
            pages,
        } = answer;
        if status != 200 {
            let mut state = self.state();
            if status == 404 {
                state.stats.not_found += 1;
            }
            return Reply::json(status, &body);
        }
        let reply = Reply::json(200, &body);
        let tag = etag(&reply.body);
        let if_none_match = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok());
        if if_none_match.is_some_and(|v| matches_etag(v, &tag)) {
            let mut state = self.state();
            state.meter.refund();
            state.stats.not_modified += 1;
            return Reply {
                status: 304,
                body: Vec::new(),
                headers: vec![("etag", tag)],
            };
        }
        self.state().stats.ok += 1;
        let mut reply = reply.header("etag", tag);
        if let Some(link) = pages.and_then(|p| link(&self.base, uri.path(), &query, p)) {
            reply = reply.header("link", link);
        }
        reply
    }
}
