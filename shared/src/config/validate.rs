//! The checks and normal forms of config values: names, logins, repos, addresses, windows,
//! severities, and the compiled glob patterns.

use std::fmt;

use chrono::Duration;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::ConfigError;

/// Compiled case-insensitive globs that remember their source text: `GlobSet` has no
/// `PartialEq` and its `Debug` is unreadable, and two configs are the same when their patterns
/// are, so the sources stand for the set.
#[derive(Clone)]
pub(super) struct Patterns {
    pub(super) sources: Vec<String>,
    set: GlobSet,
}

impl Patterns {
    pub(super) fn new(field: &str, sources: Vec<String>) -> Result<Patterns, ConfigError> {
        let mut builder = GlobSetBuilder::new();
        for (i, source) in sources.iter().enumerate() {
            let f = format!("{field}[{i}]");
            if source.trim().is_empty() {
                return Err(ConfigError::new(f, "empty pattern"));
            }
            let glob = GlobBuilder::new(source)
                .case_insensitive(true)
                .build()
                .map_err(|e| ConfigError::new(&f, format!("bad pattern: {}", e.kind())))?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| ConfigError::new(field, format!("bad patterns: {e}")))?;
        Ok(Patterns { sources, set })
    }

    pub(super) fn is_match(&self, text: &str) -> bool {
        self.set.is_match(text)
    }
}

impl PartialEq for Patterns {
    fn eq(&self, other: &Patterns) -> bool {
        self.sources == other.sources
    }
}

impl fmt::Debug for Patterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.sources).finish()
    }
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub(super) fn non_empty(field: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// A team listing `alice` and `Alice` (or `acme/api` twice) would read that author's or repo's
/// rollups twice and count everything in them double: a mistake to report, not to resolve.
/// Logins compare case-insensitively (as GitHub's do); repos are already lower-cased.
pub(super) fn no_duplicates(
    field: &str,
    owner: &str,
    what: &str,
    items: &[String],
) -> Result<(), ConfigError> {
    for (i, item) in items.iter().enumerate() {
        if let Some(first) = items[..i].iter().position(|x| eq_ignore_case(x, item)) {
            return Err(ConfigError::new(
                format!("{field}[{i}]"),
                format!(
                    "{item:?} is listed twice in {what} {owner} (also at [{first}]; \
                     names are case-insensitive)"
                ),
            ));
        }
    }
    Ok(())
}

/// Longest team or service name, and longest owner or name part of a repo, in bytes. They
/// become rollup keys (`ROLLUP#service:<name>`, `ROLLUP#repo:<owner/name>`), which DynamoDB
/// bounds at 2048 bytes; GitHub's own limits are 39 (owner) and 100 (repo name).
pub(super) const MAX_NAME_BYTES: usize = 100;

/// Team and service names appear in API scopes (`team:payments`) and table keys, so they are
/// restricted to `[a-z0-9][a-z0-9_-]*` of at most [`MAX_NAME_BYTES`]; upper case is accepted
/// and lower-cased.
pub(super) fn validate_name(field: &str, name: &str, what: &str) -> Result<String, ConfigError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(ConfigError::new(
            field,
            format!("a {what} name is at most {MAX_NAME_BYTES} characters"),
        ));
    }
    let lowered = name.to_ascii_lowercase();
    let mut chars = lowered.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(lowered)
    } else {
        Err(ConfigError::new(
            field,
            format!(
                "a {what} name is letters, digits, '_' and '-', starting with a letter or digit"
            ),
        ))
    }
}

/// GitHub logins: letters, digits and hyphens (underscores for Enterprise Managed Users), not
/// starting with a hyphen. Bot logins may carry the `[bot]` suffix.
pub(super) fn validate_login(
    field: &str,
    login: &str,
    allow_bot_suffix: bool,
) -> Result<(), ConfigError> {
    let base = if allow_bot_suffix && ends_with_ignore_case(login, "[bot]") {
        &login[..login.len() - "[bot]".len()]
    } else {
        login
    };
    let ok = !base.is_empty()
        && base.len() <= 100
        && !base.starts_with('-')
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    require(ok, field, login, "a GitHub login")
}

/// Repos are keys everywhere (`crate::repo`: `owner/name` for GitHub, the web address for
/// other forges, lower-cased at ingest), so config repos are normalized the same way or they
/// would never match.
pub(super) fn normalize_repos(field: &str, repos: &mut [String]) -> Result<(), ConfigError> {
    for (i, repo) in repos.iter_mut().enumerate() {
        *repo = crate::repo::parse_repo(repo)
            .map_err(|e| ConfigError::new(format!("{field}[{i}]"), e.to_string()))?;
    }
    Ok(())
}

/// Longest chat channel name.
pub(super) const MAX_CHANNEL_CHARS: usize = 100;

/// A notification route's channel: a name of the channels secret, which maps it to a webhook
/// URL. Letters, digits, `-` and `_`, kept as written (the secret's keys are looked up
/// exactly).
pub(super) fn validate_channel(field: &str, channel: &str) -> Result<(), ConfigError> {
    if channel.is_empty() {
        return Err(ConfigError::new(field, "must not be empty"));
    }
    let ok = channel.len() <= MAX_CHANNEL_CHARS
        && channel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!(
                "{channel:?} is not a channel name: letters, digits, '-' and '_', at most \
                 {MAX_CHANNEL_CHARS}, as the channels secret names it"
            ),
        ))
    }
}

pub(super) fn validate_email(field: &str, address: &str) -> Result<(), ConfigError> {
    let ok = address
        .rsplit_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !address.chars().any(|c| c.is_whitespace() || c.is_control());
    require(ok, field, address, "an email address")
}

/// `Ok` when `ok`; else an error at `field` saying that `value` is not `what` (`a GitHub
/// login`).
fn require(ok: bool, field: &str, value: &str, what: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(field, format!("{value:?} is not {what}")))
    }
}

/// Longest accepted blame window; a longer one is almost surely a typo (`70d` for `7d` is
/// still accepted, `7000d` is not).
const MAX_WINDOW_DAYS: i64 = 3650;

/// `none` (unlimited) or a positive whole number with a unit: `s`, `m`, `h`, `d`, `w`.
pub(super) fn parse_window(field: &str, text: &str) -> Result<Option<Duration>, ConfigError> {
    let t = text.trim().to_ascii_lowercase();
    if t == "none" {
        return Ok(None);
    }
    let bad = || {
        ConfigError::new(
            field,
            format!("{text:?} is not a duration; use e.g. 7d, 12h, 30m, or none"),
        )
    };
    let unit_at = t.len().checked_sub(1).ok_or_else(bad)?;
    let (digits, unit) = t.split_at(unit_at);
    let seconds_per_unit: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(ConfigError::new(
            field,
            "must be positive; use none for an unlimited window",
        ));
    }
    match n.checked_mul(seconds_per_unit) {
        Some(s) if s <= MAX_WINDOW_DAYS * 86_400 => Ok(Some(Duration::seconds(s))),
        _ => Err(ConfigError::new(
            field,
            format!("at most {MAX_WINDOW_DAYS}d; use none for unlimited"),
        )),
    }
}

pub(super) fn format_window(window: Option<Duration>) -> String {
    let Some(d) = window else {
        return "none".to_string();
    };
    let s = d.num_seconds();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s % size == 0 {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}

/// Reads a `sevN` level as people write it: `sev1`, `SEV1`, `Sev-1`, `sev 1`, `1`.
pub(super) fn normalize_severity(text: &str) -> Option<String> {
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .collect::<String>()
        .to_ascii_lowercase();
    let digit = compact.strip_prefix("sev").unwrap_or(&compact);
    matches!(digit, "1" | "2" | "3" | "4").then(|| format!("sev{digit}"))
}

pub(super) fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

pub(super) fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.is_char_boundary(text.len() - suffix.len())
        && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}
