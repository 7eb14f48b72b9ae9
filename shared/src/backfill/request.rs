//! `POST /v1/backfill`'s body, read and checked before anything is stored: the repositories
//! (named, or every repository of the config's teams and services) and the first day.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::config::OrgConfig;

/// The most repositories one backfill reads: a larger org backfills in several jobs, each of
/// which fits a token's hourly rate limit.
pub const MAX_REPOS: usize = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackfillRequestError {
    #[error("body: {0}")]
    Body(String),
    #[error(
        "`repos`: {0:?} is not a GitHub owner/name (letters, digits, '-', '_' and '.'); backfill \
         reads GitHub's REST API only"
    )]
    BadRepo(String),
    #[error("`repos`: no repository named, and the config's teams and services name none")]
    NoRepos,
    #[error("`repos`: {count} repositories, at most {MAX_REPOS} per backfill")]
    TooManyRepos { count: usize },
    #[error("`since`: {0:?} is not a date (YYYY-MM-DD)")]
    BadSince(String),
    #[error("`since`: {since} is after today ({today})")]
    FutureSince { since: NaiveDate, today: NaiveDate },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    repos: Option<Vec<String>>,
    since: String,
}

/// What a backfill reads: lower-cased `owner/name`s, each once, and the first day (UTC).
#[derive(Debug, PartialEq, Eq)]
pub struct BackfillRequest {
    pub repos: Vec<String>,
    pub since: NaiveDate,
}

/// Whether `name` is a GitHub `owner/name`: it is put into URL paths, so nothing else passes.
pub fn is_repo_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    matches!(name.split_once('/'), Some((owner, repo)) if part(owner) && part(repo))
}

impl BackfillRequest {
    /// Reads the body. Repos default to the config's ([`OrgConfig::configured_repos`]).
    pub fn parse(
        body: &[u8],
        config: &OrgConfig,
        today: NaiveDate,
    ) -> Result<BackfillRequest, BackfillRequestError> {
        let body: Body =
            serde_json::from_slice(body).map_err(|e| BackfillRequestError::Body(e.to_string()))?;
        let since = NaiveDate::parse_from_str(&body.since, "%Y-%m-%d")
            .map_err(|_| BackfillRequestError::BadSince(body.since.clone()))?;
        if since > today {
            return Err(BackfillRequestError::FutureSince { since, today });
        }
        let named = body.repos.is_some();
        let candidates = body.repos.unwrap_or_else(|| config.configured_repos());
        let mut repos = Vec::new();
        for repo in candidates {
            if !is_repo_name(&repo) {
                if named {
                    return Err(BackfillRequestError::BadRepo(repo));
                }
                continue;
            }
            let repo = repo.to_ascii_lowercase();
            if !repos.contains(&repo) {
                repos.push(repo);
            }
        }
        if repos.is_empty() {
            return Err(BackfillRequestError::NoRepos);
        }
        if repos.len() > MAX_REPOS {
            return Err(BackfillRequestError::TooManyRepos { count: repos.len() });
        }
        Ok(BackfillRequest { repos, since })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 5).expect("date")
    }

    fn config() -> OrgConfig {
        OrgConfig::from_yaml(
            "org: acme\nteams:\n  web:\n    members: [ana]\n    repos: [Acme/Web, acme/api]\n  ops:\n    members: [bo]\n    repos: [acme/api, acme/infra]\n",
        )
        .expect("config")
    }

    #[test]
    fn named_repos_are_lower_cased_and_kept_once_in_order() {
        // given a body naming two repos, one twice
        let body = br#"{"repos": ["Acme/Web", "acme/api", "acme/web"], "since": "2026-09-01"}"#;
        // when
        let request = BackfillRequest::parse(body, &config(), today()).expect("valid");
        // then
        assert_eq!(request.repos, ["acme/web", "acme/api"]);
        assert_eq!(
            request.since,
            NaiveDate::from_ymd_opt(2026, 9, 1).expect("date")
        );
    }

    #[test]
    fn without_repos_every_configured_repo_is_read() {
        // given a body naming no repos / when
        let request = BackfillRequest::parse(br#"{"since": "2026-09-01"}"#, &config(), today())
            .expect("valid");
        // then the teams' repos, sorted, each once
        assert_eq!(request.repos, ["acme/api", "acme/infra", "acme/web"]);
    }

    #[test]
    fn a_hostile_or_malformed_repo_is_refused_by_name() {
        for bad in [
            "acme",
            "acme/api/pulls",
            "../etc",
            "acme/..",
            "acme/a b",
            "acme/a?x=1",
            "/api",
        ] {
            // given / when
            let body = serde_json::json!({"repos": [bad], "since": "2026-09-01"}).to_string();
            let err = BackfillRequest::parse(body.as_bytes(), &config(), today()).expect_err(bad);
            // then
            assert_eq!(err, BackfillRequestError::BadRepo(bad.to_string()), "{bad}");
        }
    }

    #[test]
    fn since_must_be_a_day_not_after_today() {
        let parse = |since: &str| {
            let body = serde_json::json!({"repos": ["acme/api"], "since": since}).to_string();
            BackfillRequest::parse(body.as_bytes(), &config(), today())
        };
        assert_eq!(
            parse("2026-13-01"),
            Err(BackfillRequestError::BadSince("2026-13-01".into()))
        );
        assert!(matches!(
            parse("2026-12-06"),
            Err(BackfillRequestError::FutureSince { .. })
        ));
        assert!(parse("2026-12-05").is_ok());
    }

    #[test]
    fn bodies_that_are_not_the_documented_object_are_refused() {
        for body in [
            &b"not json"[..],
            b"{}",
            br#"{"since": 20260901}"#,
            br#"{"since": "2026-09-01", "repo": "acme/api"}"#,
        ] {
            assert!(matches!(
                BackfillRequest::parse(body, &config(), today()),
                Err(BackfillRequestError::Body(_))
            ));
        }
    }

    #[test]
    fn no_repos_at_all_is_an_error_that_says_where_repos_come_from() {
        // given a config without teams / when
        let err = BackfillRequest::parse(
            br#"{"since": "2026-09-01"}"#,
            &OrgConfig::default(),
            today(),
        )
        .expect_err("no repos");
        // then
        assert_eq!(err, BackfillRequestError::NoRepos);
        assert!(err.to_string().contains("teams and services"));
    }
}
