//! The client's pure parts: GitHub's answers → decisions, `Link`, the origin check, settings
//! from secrets, the App's JWT.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Url;

use super::auth::{app_jwt, encoding_key};
use super::decide::{
    decide, exhausted, next_link, permission_for, resolve, Decision, Failure, Wait,
};
use super::*;
use crate::secrets::Secrets;

const PRIVATE_KEY: &str = include_str!("../../../../tests/fixtures/github-app/app.private-key.pem");
const PUBLIC_KEY: &str = include_str!("../../../../tests/fixtures/github-app/app.public-key.pem");

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).expect("header value"));
    }
    map
}

fn at(epoch: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(epoch)
}

const NOW: u64 = 1_772_442_000;

#[test]
fn successes_and_not_modified() {
    let ok = headers(&[("x-ratelimit-remaining", "4999")]);
    assert_eq!(decide(200, &ok, b"[]", at(NOW)), Decision::Page);
    assert_eq!(decide(304, &ok, b"", at(NOW)), Decision::NotModified);
    assert_eq!(exhausted(&ok, at(NOW)), None);
}

#[test]
fn the_last_request_of_a_window_pauses_until_its_reset() {
    let reset = (NOW + 120).to_string();
    let last = headers(&[
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", &reset),
    ]);
    // A 200 that used the last request is a page, and the next request waits.
    assert_eq!(decide(200, &last, b"{}", at(NOW)), Decision::Page);
    assert_eq!(exhausted(&last, at(NOW)), Some(Duration::from_secs(121)));
    // A reset already past: no wait.
    assert_eq!(exhausted(&last, at(NOW + 500)), Some(Duration::ZERO));
    // A 403 or 429 with remaining 0: wait until the reset, then again.
    for status in [403, 429] {
        assert_eq!(
            decide(
                status,
                &last,
                br#"{"message":"API rate limit exceeded for user ID 1."}"#,
                at(NOW)
            ),
            Decision::Wait(Wait::UntilReset(Duration::from_secs(121)))
        );
    }
    // No reset header or junk: not a pause.
    assert_eq!(
        exhausted(&headers(&[("x-ratelimit-remaining", "0")]), at(NOW)),
        None
    );
    assert_eq!(
        exhausted(
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "soon")
            ]),
            at(NOW)
        ),
        None
    );
}

#[test]
fn secondary_limits_wait_for_retry_after_or_back_off() {
    let body = br#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
    let plenty = headers(&[
        ("x-ratelimit-remaining", "4000"),
        ("x-ratelimit-reset", "1"),
    ]);
    assert_eq!(
        decide(403, &plenty, body, at(NOW)),
        Decision::Wait(Wait::Backoff)
    );
    // retry-after wins, on 403 and 429, even over an exhausted primary limit.
    let retry = headers(&[
        ("retry-after", "7"),
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", &(NOW + 900).to_string()),
    ]);
    for status in [403, 429] {
        assert_eq!(
            decide(status, &retry, body, at(NOW)),
            Decision::Wait(Wait::RetryAfter(Duration::from_secs(7)))
        );
    }
    // Any 429 is a limit, whatever its body.
    assert_eq!(
        decide(429, &plenty, b"", at(NOW)),
        Decision::Wait(Wait::Backoff)
    );
    assert!(!Wait::Backoff.is_primary() && Wait::UntilReset(Duration::ZERO).is_primary());
}

#[test]
fn failures_that_no_retry_changes() {
    let h = headers(&[("x-ratelimit-remaining", "4000")]);
    assert_eq!(
        decide(
            403,
            &h,
            br#"{"message":"Resource not accessible by personal access token"}"#,
            at(NOW)
        ),
        Decision::Fail(Failure::Forbidden(
            "Resource not accessible by personal access token".into()
        ))
    );
    assert_eq!(
        decide(401, &h, br#"{"message":"Bad credentials"}"#, at(NOW)),
        Decision::Fail(Failure::BadCredentials)
    );
    for status in [404, 410] {
        assert_eq!(
            decide(status, &h, b"{}", at(NOW)),
            Decision::Fail(Failure::NotFound)
        );
    }
    assert_eq!(
        decide(422, &h, br#"{"message":"Validation Failed"}"#, at(NOW)),
        Decision::Fail(Failure::Rejected(422, "Validation Failed".into()))
    );
    for status in [500, 502, 503, 504] {
        assert_eq!(decide(status, &h, b"<html>", at(NOW)), Decision::Retry);
    }
}

#[test]
fn link_next_is_found_among_the_relations() {
    let github = r#"<https://api.github.com/repositories/1/pulls?state=all&page=2>; rel="next", <https://api.github.com/repositories/1/pulls?state=all&page=5>; rel="last""#;
    assert_eq!(
        next_link(github),
        Ok(Some(
            "https://api.github.com/repositories/1/pulls?state=all&page=2".into()
        ))
    );
    // Last page: prev and first only.
    assert_eq!(
        next_link(r#"<https://x/a?page=1>; rel="prev", <https://x/a?page=1>; rel="first""#),
        Ok(None)
    );
    // Order, spacing, case, unquoted and multi-valued rel, extra parameters.
    assert_eq!(
        next_link(
            r#"<https://x/l?page=1>;rel="last",<https://x/n?page=2> ; title="a, b"; REL=next"#
        ),
        Ok(Some("https://x/n?page=2".into()))
    );
    assert_eq!(
        next_link(r#"<https://x/n>; rel="next last""#),
        Ok(Some("https://x/n".into()))
    );
    assert_eq!(next_link(""), Ok(None));
    for bad in [
        r#"https://x/n; rel="next""#,
        r#"<https://x/n; rel="next""#,
        r#"<https://x/n>; rel="next"#,
        r#"<>; rel="next""#,
    ] {
        assert!(next_link(bad).is_err(), "{bad}");
    }
}

#[test]
fn only_the_base_urls_origin_gets_the_token() {
    let base = "https://ghe.example.com/api/v3";
    let base_url = Url::parse(base).expect("url");
    let ok = |u: &str| resolve(base, &base_url, u).map(|u| u.to_string());
    assert_eq!(
        ok("/repos/o/r/pulls?per_page=100"),
        Ok("https://ghe.example.com/api/v3/repos/o/r/pulls?per_page=100".into())
    );
    assert_eq!(
        ok("https://GHE.example.com:443/api/v3/repositories/1/pulls?page=2"),
        Ok("https://ghe.example.com/api/v3/repositories/1/pulls?page=2".into())
    );
    for off in [
        "https://evil.example.com/api/v3/repos/o/r",
        "http://ghe.example.com/api/v3/repos/o/r",
        "https://ghe.example.com:8443/api/v3/repos/o/r",
        "https://ghe.example.com.evil.io/x",
        "file:///etc/passwd",
    ] {
        assert_eq!(resolve(base, &base_url, off), Err(true), "{off}");
    }
    assert_eq!(resolve(base, &base_url, "repos/o/r"), Err(false));
}

#[test]
fn base_urls_are_checked_and_trimmed() {
    assert_eq!(
        validate_base_url("https://api.github.com/").expect("ok").0,
        "https://api.github.com"
    );
    assert_eq!(
        validate_base_url("https://ghe.example.com/api/v3")
            .expect("ok")
            .0,
        "https://ghe.example.com/api/v3"
    );
    for bad in [
        "api.github.com",
        "ftp://api.github.com",
        "https://api.github.com/?x=1",
        "https://user:pw@api.github.com",
    ] {
        let err = validate_base_url(bad).expect_err(bad);
        assert_eq!(err.name(), "config");
        assert!(err.to_string().contains(API_URL_VAR), "{err}");
    }
}

#[test]
fn a_403_names_the_permission_its_request_needs() {
    assert_eq!(
        permission_for("/repos/o/r/pulls/7/reviews"),
        "Pull requests: read"
    );
    assert_eq!(
        permission_for("https://api.github.com/repos/o/r/deployments/9/statuses"),
        "Deployments: read"
    );
    assert_eq!(
        permission_for("/repos/o/r/actions/runs?status=completed"),
        "Actions: read"
    );
    assert_eq!(
        permission_for("/repos/o/r/commits?sha=main"),
        "Contents: read"
    );
    assert_eq!(
        permission_for("/repos/o/r/issues?labels=incident"),
        "Issues: read"
    );
    assert_eq!(permission_for("/repos/o/r"), "Metadata: read");
}

#[test]
fn error_names_are_stable() {
    let url = || "/repos/o/r".to_string();
    let until = DateTime::<Utc>::from_timestamp(NOW as i64, 0).expect("time");
    let cases = [
        (GitHubError::NotFound { url: url() }, "not_found"),
        (
            GitHubError::BadCredentials { url: url() },
            "bad_credentials",
        ),
        (
            GitHubError::Forbidden {
                url: url(),
                message: "m".into(),
            },
            "forbidden",
        ),
        (GitHubError::RateLimited { until }, "rate_limited"),
        (
            GitHubError::Unavailable {
                url: url(),
                reason: "r".into(),
            },
            "unavailable",
        ),
        (
            GitHubError::Malformed {
                url: url(),
                reason: "r".into(),
            },
            "malformed_answer",
        ),
        (GitHubError::OffHost { url: url() }, "off_host"),
        (GitHubError::Auth { reason: "r".into() }, "auth"),
    ];
    for (err, name) in cases {
        assert_eq!(err.name(), name, "{err}");
    }
    let text = GitHubError::Forbidden {
        url: "/repos/o/r/pulls?state=all".into(),
        message: "Resource not accessible by personal access token".into(),
    }
    .to_string();
    assert!(text.contains("\"Pull requests: read\""), "{text}");
    let text = GitHubError::NotFound { url: url() }.to_string();
    assert!(
        text.contains("/repos/o/r not found (or the token cannot see it)"),
        "{text}"
    );
}

fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    let object: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    crate::secrets::parse_secret_string(&serde_json::Value::Object(object).to_string())
        .expect("secrets")
        .0
}

#[test]
fn settings_from_secrets() {
    // Nothing configured: the default API, no credentials.
    let none = GitHubSettings::from_secrets(&Secrets::default(), None).expect("settings");
    assert_eq!(none.api_url, DEFAULT_API_URL);
    assert_eq!(none.auth, None);
    // A token, and GHES by the environment.
    let token = GitHubSettings::from_secrets(
        &secrets(&[("github_token", " ghp_abc ")]),
        Some("https://ghe.example.com/api/v3/".into()),
    )
    .expect("settings");
    assert_eq!(token.api_url, "https://ghe.example.com/api/v3");
    assert_eq!(token.auth, Some(GitHubAuth::Token("ghp_abc".into())));
    // An empty variable is the default.
    let blank = GitHubSettings::from_secrets(&Secrets::default(), Some(" ".into()));
    assert_eq!(blank.expect("settings").api_url, DEFAULT_API_URL);
    // All three App keys win over the token; a one-line PEM gets its line breaks back.
    let app = GitHubSettings::from_secrets(
        &secrets(&[
            ("github_token", "ghp_abc"),
            ("github_app_id", "12345"),
            (
                "github_app_private_key",
                "-----BEGIN RSA PRIVATE KEY-----\\nAAA\\n-----END RSA PRIVATE KEY-----",
            ),
            ("github_app_installation_id", "678"),
        ]),
        None,
    )
    .expect("settings");
    assert_eq!(
        app.auth,
        Some(GitHubAuth::App {
            app_id: "12345".into(),
            private_key_pem: "-----BEGIN RSA PRIVATE KEY-----\nAAA\n-----END RSA PRIVATE KEY-----"
                .into(),
            installation_id: 678,
        })
    );
    let shown = format!("{:?}", app.auth);
    assert!(shown.contains("12345") && !shown.contains("AAA"), "{shown}");
    assert!(!format!("{:?}", token.auth).contains("ghp_abc"));
}

#[test]
fn a_partial_app_config_names_what_is_missing() {
    let err = GitHubSettings::from_secrets(
        &secrets(&[("github_token", "ghp_abc"), ("github_app_id", "12345")]),
        None,
    )
    .expect_err("partial");
    assert_eq!(err.name(), "auth");
    let text = err.to_string();
    assert!(
        text.contains("github_app_private_key, github_app_installation_id missing"),
        "{text}"
    );
    let err = GitHubSettings::from_secrets(
        &secrets(&[
            ("github_app_id", "1"),
            ("github_app_private_key", "k"),
            ("github_app_installation_id", "abc"),
        ]),
        None,
    )
    .expect_err("not a number");
    assert!(err
        .to_string()
        .contains("github_app_installation_id must be a number"));
    let err = GitHubSettings::from_secrets(&Secrets::default(), Some("ftp://x".into()))
        .expect_err("bad url");
    assert_eq!(err.name(), "config");
}

#[test]
fn the_app_jwt_carries_githubs_claims_signed_rs256() {
    let now = DateTime::<Utc>::from_timestamp(NOW as i64, 0).expect("time");
    let key = encoding_key(PRIVATE_KEY).expect("key");
    let jwt = app_jwt("12345", &key, now).expect("jwt");
    let header = jsonwebtoken::decode_header(&jwt).expect("header");
    assert_eq!(header.alg, Algorithm::RS256);
    let mut validation = Validation::new(Algorithm::RS256);
    // The claims are checked against NOW, not the clock.
    validation.validate_exp = false;
    validation.set_issuer(&["12345"]);
    let decoded = jsonwebtoken::decode::<AppClaims>(
        &jwt,
        &DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).expect("public key"),
        &validation,
    )
    .expect("verifies with the public key");
    assert_eq!(
        decoded.claims,
        AppClaims {
            iat: NOW as i64 - 60,
            exp: NOW as i64 + 540,
            iss: "12345".into(),
        }
    );
}

#[test]
fn a_bad_private_key_fails_the_client_not_its_first_request() {
    let err = GitHubClient::new(
        reqwest::Client::new(),
        DEFAULT_API_URL,
        GitHubAuth::App {
            app_id: "1".into(),
            private_key_pem: "not a key".into(),
            installation_id: 2,
        },
        RetryPolicy::default(),
    )
    .expect_err("bad pem");
    assert_eq!(err.name(), "auth");
    assert!(err.to_string().contains("github_app_private_key"), "{err}");
    assert!(GitHubClient::from_settings(
        reqwest::Client::new(),
        &GitHubSettings {
            api_url: DEFAULT_API_URL.into(),
            auth: None
        }
    )
    .is_err());
}

#[test]
fn installation_tokens_are_refreshed_five_minutes_before_they_expire() {
    let expires: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().expect("time");
    let token = InstallationToken {
        token: "ghs_x".into(),
        expires_at: expires,
    };
    assert!(token.fresh(expires - chrono::Duration::seconds(301)));
    assert!(!token.fresh(expires - chrono::Duration::seconds(300)));
    // GitHub's answer parses as it comes.
    let parsed: InstallationToken = serde_json::from_str(
        r#"{"token":"ghs_16C7e42F292c6912E7710c838347Ae178B4a","expires_at":"2016-07-11T22:14:10Z","permissions":{"issues":"write"},"repository_selection":"selected"}"#,
    )
    .expect("answer");
    assert_eq!(parsed.token, "ghs_16C7e42F292c6912E7710c838347Ae178B4a");
}
