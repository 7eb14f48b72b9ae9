//! GitHub's REST API, as a backfill reads it: one page per call, polite to GitHub's limits.
//!
//! The backfill's state machine (`flowmeter::backfill`) decides which URL comes next; this
//! client sends it and turns GitHub's answer into a [`flowmeter::backfill::Answer`]. It waits out
//! the primary rate limit before it is hit (an answer with `x-ratelimit-remaining: 0` pauses
//! the client until the reset, so no request is spent learning it), waits out secondary limits
//! (`retry-after`, else a minute doubling), retries 5xx and network failures with backoff, and
//! never waits past the caller's deadline: a Lambda that must stop returns
//! [`GitHubError::RateLimited`] and its caller checkpoints and resumes later. The token is only
//! ever sent to the base URL's origin, whatever a `Link` header says.
//!
//! Decisions are pure functions in [`decide`], unit-tested; the HTTP is tested against the test
//! kit's GitHub emulation (`tests/github_client.rs`).

mod auth;
pub mod decide;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use flowmeter::backfill::{Answer, Counters};
use jsonwebtoken::EncodingKey;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, ETAG, IF_NONE_MATCH, LINK, USER_AGENT};
use reqwest::Url;

pub use auth::{
    AppClaims, GitHubAuth, GitHubSettings, InstallationToken, API_URL_VAR, DEFAULT_API_URL,
    REFRESH_MARGIN,
};
use decide::{Decision, Failure, Wait};

/// A request that has not answered in this long is retried: GitHub answers a page in well under
/// a second, so 30 s means a lost connection, not a slow list.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Secondary limits waited out in one call before giving up: 60 s doubling six times is over an
/// hour, past which GitHub is not going to let this client in.
pub const MAX_SECONDARY_WAITS: u32 = 6;
/// Primary-limit waits in one call: one reset should do; more means the window is not
/// resetting as GitHub says, and waiting again would loop.
pub const MAX_PRIMARY_WAITS: u32 = 3;
const API_VERSION: &str = "2022-11-28";
const AGENT: &str = "flowmeter-backfill";

/// How hard to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// 5xx answers, timeouts and connection errors retried per call.
    pub max_retries: u32,
    /// The first retry's pause; each next one doubles.
    pub base_backoff: Duration,
    /// The longest single wait: a rate limit that resets later than this is not waited
    /// (the call returns [`GitHubError::RateLimited`]), and backoff never grows past it.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            base_backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(3600),
        }
    }
}

/// One page as the backfill takes it, with the ETag to keep for a later conditional request.
#[derive(Clone, Debug, PartialEq)]
pub struct Fetched {
    pub answer: Answer,
    pub etag: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("{url} not found (or the token cannot see it)")]
    NotFound { url: String },
    #[error("GitHub refused the credentials for {url} (401 Bad credentials): the token is wrong, expired or revoked")]
    BadCredentials { url: String },
    #[error("GitHub refused {url} (403 {message}): the token lacks a permission; a fine-grained token or GitHub App needs \"{}\" (https://docs.github.com/en/rest/authentication/permissions-required-for-fine-grained-personal-access-tokens)", decide::permission_for(.url))]
    Forbidden { url: String, message: String },
    #[error("GitHub rate limit: the next request may go at {until}")]
    RateLimited { until: DateTime<Utc> },
    #[error("GitHub is unavailable for {url}: {reason}")]
    Unavailable { url: String, reason: String },
    #[error("GitHub's answer to {url} is malformed: {reason}")]
    Malformed { url: String, reason: String },
    #[error("{url} is not on the GitHub API's host: refused, the token is only sent there")]
    OffHost { url: String },
    #[error("GitHub authentication: {reason}")]
    Auth { reason: String },
    /// Any other 4xx (422, 400…): the request itself is wrong, retrying will not help.
    #[error("GitHub refused {url} (HTTP {status}): {message}")]
    Rejected {
        url: String,
        status: u16,
        message: String,
    },
    /// The settings are unusable (the base URL).
    #[error("GitHub client settings: {reason}")]
    Config { reason: String },
}

impl GitHubError {
    /// A stable name, counted in the job's `errors`.
    pub fn name(&self) -> &'static str {
        match self {
            GitHubError::NotFound { .. } => "not_found",
            GitHubError::BadCredentials { .. } => "bad_credentials",
            GitHubError::Forbidden { .. } => "forbidden",
            GitHubError::RateLimited { .. } => "rate_limited",
            GitHubError::Unavailable { .. } => "unavailable",
            GitHubError::Malformed { .. } => "malformed_answer",
            GitHubError::OffHost { .. } => "off_host",
            GitHubError::Auth { .. } => "auth",
            GitHubError::Rejected { .. } => "rejected",
            GitHubError::Config { .. } => "config",
        }
    }
}

/// Checks a base URL and returns it without its trailing `/`, with its parsed form for the
/// origin check.
pub(crate) fn validate_base_url(base_url: &str) -> Result<(String, Url), GitHubError> {
    let bad = |reason: &str| GitHubError::Config {
        reason: format!("{API_URL_VAR} {base_url:?}: {reason}"),
    };
    let trimmed = base_url.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    Ok((trimmed.to_string(), url))
}

/// A GitHub App installation's credentials and its current token.
struct App {
    app_id: String,
    installation_id: u64,
    key: EncodingKey,
    /// Held while minting, so concurrent calls mint once.
    token: tokio::sync::Mutex<Option<InstallationToken>>,
}

enum Authorizer {
    Token(String),
    App(Box<App>),
}

struct Inner {
    http: reqwest::Client,
    base: String,
    base_url: Url,
    auth: Authorizer,
    policy: RetryPolicy,
    counters: Mutex<Counters>,
    /// No request before this: an answer used up the primary limit, or a secondary limit
    /// asked to wait. Shared by every call on the client, as GitHub's limits are.
    paused_until: Mutex<Option<SystemTime>>,
}

/// The client. Cloning shares the connection pool, the counters, the pause and the token.
#[derive(Clone)]
pub struct GitHubClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubClient")
            .field("base_url", &self.inner.base)
            .finish_non_exhaustive()
    }
}

fn epoch_utc(t: SystemTime) -> DateTime<Utc> {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    DateTime::<Utc>::from_timestamp(d.as_secs() as i64, d.subsec_nanos()).unwrap_or_default()
}

/// A little jitter (up to a quarter) so that parallel clients do not retry in step.
fn jittered(wait: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    wait + wait.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

impl GitHubClient {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        auth: GitHubAuth,
        policy: RetryPolicy,
    ) -> Result<GitHubClient, GitHubError> {
        let (base, base_url) = validate_base_url(base_url)?;
        let auth = match auth {
            GitHubAuth::Token(token) => {
                let token = token.trim().to_string();
                if token.is_empty() || HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
                    return Err(GitHubError::Auth {
                        reason: "github_token is empty or has characters a header cannot carry"
                            .into(),
                    });
                }
                Authorizer::Token(token)
            }
            GitHubAuth::App {
                app_id,
                private_key_pem,
                installation_id,
            } => Authorizer::App(Box::new(App {
                key: auth::encoding_key(&private_key_pem)?,
                app_id,
                installation_id,
                token: tokio::sync::Mutex::new(None),
            })),
        };
        Ok(GitHubClient {
            inner: Arc::new(Inner {
                http,
                base,
                base_url,
                auth,
                policy,
                counters: Mutex::new(Counters::default()),
                paused_until: Mutex::new(None),
            }),
        })
    }

    /// The client the settings describe; no credentials is an [`GitHubError::Auth`] error.
    pub fn from_settings(
        http: reqwest::Client,
        settings: &GitHubSettings,
    ) -> Result<GitHubClient, GitHubError> {
        let auth = settings.auth.clone().ok_or_else(|| GitHubError::Auth {
            reason: "no GitHub credentials: set the secret's github_token, or github_app_id, github_app_private_key and github_app_installation_id".into(),
        })?;
        GitHubClient::new(http, &settings.api_url, auth, RetryPolicy::default())
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The counters since the last call (and resets them).
    pub fn take_counters(&self) -> Counters {
        std::mem::take(&mut *self.counters())
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.inner
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn resolve(&self, url: &str) -> Result<Url, GitHubError> {
        decide::resolve(&self.inner.base, &self.inner.base_url, url).map_err(|off_host| {
            if off_host {
                GitHubError::OffHost {
                    url: url.to_string(),
                }
            } else {
                GitHubError::Malformed {
                    url: url.to_string(),
                    reason: "neither a path on the API nor an absolute URL".into(),
                }
            }
        })
    }

    /// Pauses every call on this client until `until` (a later pause already set wins).
    fn pause(&self, until: SystemTime) {
        let mut paused = self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// Waits out the pause, unless it ends past the deadline or is longer than `max_wait`.
    async fn wait_out_pause(&self, deadline: Instant) -> Result<(), GitHubError> {
        let until = *self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(until) = until else {
            return Ok(());
        };
        let wait = until.duration_since(SystemTime::now()).unwrap_or_default();
        if wait.is_zero() {
            return Ok(());
        }
        if wait > self.inner.policy.max_wait || Instant::now() + wait > deadline {
            return Err(GitHubError::RateLimited {
                until: epoch_utc(until),
            });
        }
        tracing::warn!(
            until = %epoch_utc(until).to_rfc3339(),
            seconds = wait.as_secs_f64(),
            "GitHub rate limit: pausing until {}",
            epoch_utc(until).to_rfc3339()
        );
        {
            let mut counters = self.counters();
            counters.rate_limit_waits += 1;
            counters.waited_seconds += wait.as_secs_f64();
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Backs off before retry number `retries` (1-based) of a failure that may pass, or gives
    /// up with `Unavailable` once `max_retries` are spent.
    async fn back_off(
        &self,
        retries: &mut u32,
        deadline: Instant,
        url: &Url,
        reason: String,
    ) -> Result<(), GitHubError> {
        let policy = self.inner.policy;
        if *retries >= policy.max_retries {
            return Err(GitHubError::Unavailable {
                url: url.to_string(),
                reason: format!("{reason} (after {} retries)", *retries),
            });
        }
        *retries += 1;
        let exponent = (*retries - 1).min(30);
        let wait = jittered(policy.base_backoff.saturating_mul(1 << exponent)).min(policy.max_wait);
        if Instant::now() + wait > deadline {
            return Err(GitHubError::RateLimited {
                until: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
            });
        }
        tracing::info!(url = %url, retry = *retries, wait_ms = wait.as_millis() as u64, reason = %reason, "GitHub request failed: retrying");
        self.counters().retries += 1;
        tokio::time::sleep(wait).await;
        Ok(())
    }

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static(API_VERSION),
        );
        headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        headers
    }

    /// The bearer token to send: the configured one, or the App installation's (minted or
    /// refreshed here when less than [`REFRESH_MARGIN`] of it is left).
    async fn bearer(&self) -> Result<String, GitHubError> {
        match &self.inner.auth {
            Authorizer::Token(token) => Ok(token.clone()),
            Authorizer::App(app) => {
                let mut cached = app.token.lock().await;
                if let Some(token) = cached.as_ref().filter(|t| t.fresh(Utc::now())) {
                    return Ok(token.token.clone());
                }
                let minted = self.mint(app).await?;
                let token = minted.token.clone();
                *cached = Some(minted);
                Ok(token)
            }
        }
    }

    /// Forgets the installation token (GitHub refused it: revoked, or the clock lied).
    async fn forget_token(&self) {
        if let Authorizer::App(app) = &self.inner.auth {
            *app.token.lock().await = None;
        }
    }

    async fn mint(&self, app: &App) -> Result<InstallationToken, GitHubError> {
        let url = format!(
            "{}/app/installations/{}/access_tokens",
            self.inner.base, app.installation_id
        );
        let jwt = auth::app_jwt(&app.app_id, &app.key, Utc::now())?;
        self.counters().requests += 1;
        let unavailable = |e: reqwest::Error| GitHubError::Unavailable {
            url: url.clone(),
            reason: format!("minting an installation token: {e}"),
        };
        let response = self
            .inner
            .http
            .post(&url)
            .headers(GitHubClient::headers())
            .bearer_auth(jwt)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(unavailable)?;
        let app_id = &app.app_id;
        let installation = app.installation_id;
        match status {
            200 | 201 => serde_json::from_slice::<InstallationToken>(&body).map_err(|e| {
                GitHubError::Auth {
                    reason: format!("GitHub's installation token answer is not {{token, expires_at}}: {e}"),
                }
            }),
            401 => Err(GitHubError::Auth {
                reason: format!(
                    "GitHub refused the JWT of App {app_id} ({}): is github_app_private_key a private key of that App, and github_app_id its id?",
                    decide::message(&body)
                ),
            }),
            404 => Err(GitHubError::Auth {
                reason: format!(
                    "installation {installation} of App {app_id} not found: check github_app_installation_id (the number in the App's installation settings URL)"
                ),
            }),
            500..=599 => Err(GitHubError::Unavailable {
                url,
                reason: format!("minting an installation token: HTTP {status}"),
            }),
            _ => Err(GitHubError::Auth {
                reason: format!(
                    "minting an installation token for App {app_id}: HTTP {status}: {}",
                    decide::message(&body)
                ),
            }),
        }
    }

    /// GET one page. `etag`: the ETag stored for this URL, sent as If-None-Match. `deadline`:
    /// a rate-limit or backoff wait that would end after it is not waited; the call returns
    /// [`GitHubError::RateLimited`] instead (the caller checkpoints and resumes later).
    pub async fn get(
        &self,
        url: &str,
        etag: Option<&str>,
        deadline: Instant,
    ) -> Result<Fetched, GitHubError> {
        let target = self.resolve(url)?;
        let mut retries = 0u32;
        let mut primaries = 0u32;
        let mut secondaries = 0u32;
        let mut reminted = false;
        loop {
            self.wait_out_pause(deadline).await?;
            let token = self.bearer().await?;
            let mut request = self
                .inner
                .http
                .get(target.clone())
                .headers(GitHubClient::headers())
                .bearer_auth(&token)
                .timeout(REQUEST_TIMEOUT);
            if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
                request = request.header(IF_NONE_MATCH, etag);
            }
            self.counters().requests += 1;
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    self.back_off(&mut retries, deadline, &target, e.to_string())
                        .await?;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = match response.bytes().await {
                Ok(body) => body,
                Err(e) => {
                    self.back_off(&mut retries, deadline, &target, e.to_string())
                        .await?;
                    continue;
                }
            };
            let now = SystemTime::now();
            if let Some(wait) = decide::exhausted(&headers, now) {
                self.pause(now + wait);
            }
            match decide::decide(status, &headers, &body, now) {
                Decision::Page => return self.page(url, &headers, &body),
                Decision::NotModified => {
                    self.counters().not_modified += 1;
                    let etag = header_string(&headers, ETAG).or(etag.map(str::to_string));
                    return Ok(Fetched {
                        answer: Answer::NotModified,
                        etag,
                    });
                }
                Decision::Wait(wait) => {
                    let too_many = if wait.is_primary() {
                        primaries += 1;
                        primaries > MAX_PRIMARY_WAITS
                    } else {
                        secondaries += 1;
                        secondaries > MAX_SECONDARY_WAITS
                    };
                    if too_many {
                        return Err(GitHubError::Unavailable {
                            url: target.to_string(),
                            reason: format!(
                                "still rate limited after {} waits (HTTP {status}: {})",
                                primaries + secondaries - 1,
                                decide::message(&body)
                            ),
                        });
                    }
                    let pause = match wait {
                        Wait::UntilReset(d) | Wait::RetryAfter(d) => d,
                        Wait::Backoff => {
                            decide::SECONDARY_FLOOR.saturating_mul(1 << (secondaries - 1).min(20))
                        }
                    };
                    self.pause(now + pause.max(Duration::from_millis(1)));
                }
                Decision::Retry => {
                    let reason = format!("HTTP {status}: {}", decide::message(&body));
                    self.back_off(&mut retries, deadline, &target, reason)
                        .await?;
                }
                Decision::Fail(failure) => {
                    // An installation token GitHub refuses (revoked, or our clock is off) is
                    // minted again once before the 401 is believed.
                    let app = matches!(self.inner.auth, Authorizer::App(_));
                    if failure == Failure::BadCredentials && app && !reminted {
                        self.forget_token().await;
                        reminted = true;
                        continue;
                    }
                    return Err(self.failure(url, failure));
                }
            }
        }
    }

    fn failure(&self, url: &str, failure: Failure) -> GitHubError {
        let url = url.to_string();
        match failure {
            Failure::NotFound => GitHubError::NotFound { url },
            Failure::BadCredentials => GitHubError::BadCredentials { url },
            Failure::Forbidden(message) => GitHubError::Forbidden { url, message },
            Failure::Rejected(status, message) => GitHubError::Rejected {
                url,
                status,
                message,
            },
        }
    }

    fn page(&self, url: &str, headers: &HeaderMap, body: &[u8]) -> Result<Fetched, GitHubError> {
        let malformed = |reason: String| GitHubError::Malformed {
            url: url.to_string(),
            reason,
        };
        let body: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let next = match header_string(headers, LINK) {
            None => None,
            Some(link) => {
                decide::next_link(&link).map_err(|e| malformed(format!("Link header: {e}")))?
            }
        };
        if let Some(next) = &next {
            if next.starts_with('/') {
                return Err(malformed(format!(
                    "Link header: relative next URL {next:?}"
                )));
            }
            self.resolve(next)?;
        }
        Ok(Fetched {
            answer: Answer::Page { body, next },
            etag: header_string(headers, ETAG),
        })
    }
}

fn header_string(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}
