//! Authentication and rate limits: which tokens are accepted, the primary rate limit (requests
//! per window, the window starting at the first request), and the faults scripted on purpose
//! (every Nth request a secondary rate limit or a 502).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the server accepts and how it limits. The "every Nth" faults count the authenticated
/// requests since these limits were set (at start or by [`super::GitHubApi::set_limits`]).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Accepted tokens (`Authorization: Bearer <t>` or `token <t>`); default `["test-token"]`.
    pub tokens: Vec<String>,
    /// The primary rate limit: requests per window (default 5000).
    pub per_window: u32,
    /// The primary rate limit's window (default 1 hour); it starts at the first request, ends
    /// at the whole second `x-ratelimit-reset` names, and the next request starts a new one.
    pub window: Duration,
    /// Every Nth request answers a secondary rate limit (403 and 429 in turn).
    pub secondary_every: Option<u32>,
    /// The secondary rate limit's `retry-after` (default 1).
    pub secondary_retry_after_s: u64,
    /// Every Nth request answers 502.
    pub server_error_every: Option<u32>,
    /// A GitHub App whose installation tokens `POST /app/installations/{id}/access_tokens`
    /// mints (and the server then accepts, until they expire); `None`: that route is a 404.
    pub app: Option<AppKey>,
}

/// The GitHub App the server trusts: its id (the JWT's `iss`), its one installation and the
/// public half of its key, which the minting route checks the RS256 JWT against.
#[derive(Clone, Debug)]
pub struct AppKey {
    pub app_id: String,
    pub installation_id: u64,
    pub public_key_pem: String,
    /// How long a minted installation token lives (GitHub: one hour); short in tests so that
    /// a client's refresh shows.
    pub token_ttl: Duration,
}

impl AppKey {
    /// An app with GitHub's one-hour installation tokens.
    pub fn new(app_id: &str, installation_id: u64, public_key_pem: &str) -> AppKey {
        AppKey {
            app_id: app_id.to_string(),
            installation_id,
            public_key_pem: public_key_pem.to_string(),
            token_ttl: Duration::from_secs(3600),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            tokens: vec!["test-token".to_string()],
            per_window: 5000,
            window: Duration::from_secs(3600),
            secondary_every: None,
            secondary_retry_after_s: 1,
            server_error_every: None,
            app: None,
        }
    }
}

impl Limits {
    /// Whether an `Authorization` header's value carries an accepted token.
    pub(crate) fn accepts(&self, authorization: &str) -> bool {
        let mut parts = authorization.split_whitespace();
        let scheme = parts.next().unwrap_or_default().to_ascii_lowercase();
        let token = parts.next().unwrap_or_default();
        matches!(scheme.as_str(), "bearer" | "token")
            && parts.next().is_none()
            && self.tokens.iter().any(|t| t == token)
    }
}

/// What the meter decides for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A scripted 502.
    ServerError,
    /// A scripted secondary rate limit, with its status (403 or 429).
    Secondary(u16),
    /// The primary rate limit is used up until the window's reset.
    Exhausted,
    /// Served; one request of the window is taken (given back by [`Meter::refund`] for a 304).
    Proceed,
}

/// The `x-ratelimit-*` values of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateHeaders {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    pub(crate) used: u32,
    /// Epoch seconds when the window ends.
    pub(crate) reset: u64,
}

/// The rate-limit state of a running server.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    /// Epoch seconds the current window ends at (`None` before the first request).
    window_end: Option<u64>,
    used: u32,
    /// Authenticated requests since the limits were set.
    since_set: u64,
    /// Secondary rate limits answered (they alternate 403, 429).
    secondaries: u64,
}

fn epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// The whole second at or after `t + window`.
fn window_end(now: SystemTime, window: Duration) -> u64 {
    let end = epoch(now) + window;
    end.as_secs() + u64::from(end.subsec_nanos() > 0)
}

impl Meter {
    /// The limits changed: the scripted faults count from here.
    pub(crate) fn limits_set(&mut self) {
        self.since_set = 0;
    }

    fn roll(&mut self, limits: &Limits, now: SystemTime) {
        let expired = self
            .window_end
            .is_none_or(|end| epoch(now) >= Duration::from_secs(end));
        if expired {
            self.window_end = Some(window_end(now, limits.window));
            self.used = 0;
        }
    }

    /// Decides an authenticated request's fate.
    pub(crate) fn check(&mut self, limits: &Limits, now: SystemTime) -> Verdict {
        self.roll(limits, now);
        self.since_set += 1;
        let since_set = self.since_set;
        let due = |every: Option<u32>| {
            every.is_some_and(|n| n > 0 && since_set.is_multiple_of(u64::from(n)))
        };
        if due(limits.server_error_every) {
            return Verdict::ServerError;
        }
        if due(limits.secondary_every) {
            self.secondaries += 1;
            let status = if self.secondaries.is_multiple_of(2) {
                429
            } else {
                403
            };
            return Verdict::Secondary(status);
        }
        if self.used >= limits.per_window {
            return Verdict::Exhausted;
        }
        self.used += 1;
        Verdict::Proceed
    }

    /// Gives back the request [`Meter::check`] took (a 304 does not count).
    pub(crate) fn refund(&mut self) {
        self.used = self.used.saturating_sub(1);
    }

    pub(crate) fn headers(&self, limits: &Limits, now: SystemTime) -> RateHeaders {
        let current = self
            .window_end
            .filter(|end| epoch(now) < Duration::from_secs(*end));
        let used = if current.is_some() { self.used } else { 0 };
        RateHeaders {
            limit: limits.per_window,
            remaining: limits.per_window.saturating_sub(used),
            used,
            reset: current.unwrap_or_else(|| window_end(now, limits.window)),
        }
    }
}
