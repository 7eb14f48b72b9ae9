//! The client's decisions, pure so that every one of GitHub's rules is tested without a network:
//! what an answer means (page, wait, retry, failure), whether it used up the primary limit, the
//! `Link` header's next page, and which URLs may carry the token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::Url;

/// Waited past `x-ratelimit-reset`: GitHub's clock and ours may disagree by a little, and a
/// request sent a moment too early is a wasted 403.
pub const RESET_MARGIN: Duration = Duration::from_secs(1);

/// GitHub: without `retry-after`, wait at least a minute after a secondary limit.
pub const SECONDARY_FLOOR: Duration = Duration::from_secs(60);

/// What to do with an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// 2xx: read the body.
    Page,
    /// 304 to `If-None-Match`.
    NotModified,
    /// A rate limit: wait, then send the same request again.
    Wait(Wait),
    /// 5xx: retry with backoff.
    Retry,
    Fail(Failure),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The primary limit is used up: until `x-ratelimit-reset` (plus [`RESET_MARGIN`]).
    UntilReset(Duration),
    /// `retry-after` said how long.
    RetryAfter(Duration),
    /// A secondary limit without `retry-after`: the client backs off from [`SECONDARY_FLOOR`],
    /// doubling on repeats.
    Backoff,
}

impl Wait {
    /// Whether this is the primary limit (bounded separately from the secondary one).
    pub fn is_primary(self) -> bool {
        matches!(self, Wait::UntilReset(_))
    }
}

/// An answer no retry will change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    NotFound,
    BadCredentials,
    /// 403 that is not a rate limit, with GitHub's message.
    Forbidden(String),
    /// Any other 4xx, with status and message.
    Rejected(u16, String),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// GitHub's error `message`, or the body's start when it is not GitHub's error shape.
pub fn message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| {
            String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_string()
        })
}

/// How long until the primary limit's window resets, when `x-ratelimit-remaining` is 0: the
/// next request would be refused, so it is not sent before then.
pub fn exhausted(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if header(headers, "x-ratelimit-remaining")? != "0" {
        return None;
    }
    let reset: u64 = header(headers, "x-ratelimit-reset")?.parse().ok()?;
    let at = UNIX_EPOCH + Duration::from_secs(reset) + RESET_MARGIN;
    Some(at.duration_since(now).unwrap_or_default())
}

/// `retry-after` in seconds (GitHub sends seconds, never a date).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header(headers, "retry-after")?
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// What an answer means, by GitHub's documented rules (REST API, "Rate limits" and "Best
/// practices"): `retry-after` first, then an exhausted primary limit, then the secondary
/// limit's message or any 429; a 403 that is none of these is a missing permission.
pub fn decide(status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Decision {
    match status {
        200..=299 => Decision::Page,
        304 => Decision::NotModified,
        401 => Decision::Fail(Failure::BadCredentials),
        403 | 429 => {
            if let Some(wait) = retry_after(headers) {
                return Decision::Wait(Wait::RetryAfter(wait));
            }
            if let Some(wait) = exhausted(headers, now) {
                return Decision::Wait(Wait::UntilReset(wait));
            }
            let message = message(body);
            if status == 429 || message.to_ascii_lowercase().contains("rate limit") {
                return Decision::Wait(Wait::Backoff);
            }
            Decision::Fail(Failure::Forbidden(message))
        }
        // 410: a resource that is gone (issues turned off) is as absent as a 404.
        404 | 410 => Decision::Fail(Failure::NotFound),
        500..=599 => Decision::Retry,
        _ => Decision::Fail(Failure::Rejected(status, message(body))),
    }
}

/// The `rel="next"` URL of a `Link` header (RFC 8288: `<url>; rel="next", <url>; rel="last"`;
/// `rel` may list several relations). An error names what is wrong with the header.
pub fn next_link(value: &str) -> Result<Option<String>, String> {
    let mut rest = value.trim();
    while !rest.is_empty() {
        let Some(after_open) = rest.strip_prefix('<') else {
            return Err(format!("expected '<' at {rest:?}"));
        };
        let close = after_open
            .find('>')
            .ok_or_else(|| format!("no '>' after {after_open:?}"))?;
        let url = &after_open[..close];
        rest = &after_open[close + 1..];
        // The parameters run to the next ',' outside quotes.
        let mut end = rest.len();
        let mut quoted = false;
        for (i, c) in rest.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        if quoted {
            return Err(format!("unclosed quote in {rest:?}"));
        }
        let params = &rest[..end];
        rest = rest[end..].trim_start_matches(',').trim_start();
        let is_next = params.split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            if url.trim().is_empty() {
                return Err("empty rel=\"next\" URL".to_string());
            }
            return Ok(Some(url.trim().to_string()));
        }
    }
    Ok(None)
}

/// Whether `url` is on the base URL's scheme, host and port: only there is the token sent.
pub fn same_origin(base: &Url, url: &Url) -> bool {
    base.scheme() == url.scheme()
        && base.host_str().map(str::to_ascii_lowercase)
            == url.host_str().map(str::to_ascii_lowercase)
        && base.port_or_known_default() == url.port_or_known_default()
}

/// A request's URL: a path (`/repos/…`) on `base`, or an absolute URL (a `Link` GitHub gave).
/// `Err(true)` when it is absolute but off the base's origin, `Err(false)` when it is neither.
pub fn resolve(base: &str, base_url: &Url, url: &str) -> Result<Url, bool> {
    let joined = if url.starts_with('/') {
        format!("{base}{url}")
    } else {
        url.to_string()
    };
    let parsed = Url::parse(&joined).map_err(|_| false)?;
    if same_origin(base_url, &parsed) {
        Ok(parsed)
    } else {
        Err(true)
    }
}

/// The fine-grained permission a request needs, named for a 403's message.
pub fn permission_for(url: &str) -> &'static str {
    let path = url.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    let after_repo = segments
        .iter()
        .position(|s| *s == "repos")
        .and_then(|i| segments.get(i + 3))
        .copied()
        .unwrap_or_default();
    match after_repo {
        "pulls" => "Pull requests: read",
        "commits" | "git" | "branches" => "Contents: read",
        "deployments" => "Deployments: read",
        "actions" => "Actions: read",
        "issues" => "Issues: read",
        _ => "Metadata: read",
    }
}
