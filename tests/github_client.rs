//! The edge's GitHub REST client (`flowmeter_edge::github`) against the test kit's GitHub
//! emulation, in-process: pagination, ETags, the primary and secondary rate limits, 502s,
//! deadlines, the origin check and a GitHub App's installation tokens. No emulator needed;
//! windows and waits are a few seconds at most.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flowmeter::backfill::{Answer, Counters};
use flowmeter_edge::github::{GitHubAuth, GitHubClient, GitHubError, RetryPolicy};
use flowmeter_kit::github_api::{AppKey, GitHubApi, Limits, RestHistory};
use flowmeter_kit::payload::github::PullRequest;
use serde_json::Value;

const PULLS: &str = "/repos/acme/shop/pulls?state=all&sort=updated&direction=desc&per_page=2";
const PRIVATE_KEY: &str = include_str!("fixtures/github-app/app.private-key.pem");
const PUBLIC_KEY: &str = include_str!("fixtures/github-app/app.public-key.pem");
const OTHER_KEY: &str = include_str!("fixtures/github-app/other.private-key.pem");

/// Five pull requests of acme/shop, opened an hour apart: three pages of two.
fn history() -> RestHistory {
    let start: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().expect("time");
    let events: Vec<Value> = (1..=5u64)
        .map(|n| {
            let created = start + chrono::Duration::hours(n as i64);
            let sha = format!("{n:040}");
            PullRequest {
                repo: "acme/shop",
                number: n,
                title: "Change",
                body: None,
                author: "alice",
                created,
                closed: None,
                head: ("feat", &sha),
                base_sha: "",
                additions: 1,
                deletions: 1,
            }
            .event("opened", created)
        })
        .collect();
    RestHistory::from_webhooks(events.iter().map(|b| ("pull_request", b)))
}

async fn serve(limits: Limits) -> GitHubApi {
    GitHubApi::start(history(), limits)
        .await
        .expect("start the emulation")
}

/// Short backoff, so that retried 502s cost milliseconds.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_backoff: Duration::from_millis(10),
        max_wait: Duration::from_secs(60),
    }
}

fn client_for(base: &str, auth: GitHubAuth) -> GitHubClient {
    GitHubClient::new(reqwest::Client::new(), base, auth, quick()).expect("client")
}

fn token_client(api: &GitHubApi) -> GitHubClient {
    client_for(&api.url, GitHubAuth::Token("test-token".into()))
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// Every pull request number of the list, following `next`, and the pages read.
async fn walk(client: &GitHubClient) -> (Vec<u64>, usize) {
    let mut numbers = Vec::new();
    let mut pages = 0;
    let mut next = Some(PULLS.to_string());
    while let Some(url) = next {
        let fetched = client.get(&url, None, far()).await.expect("a page");
        let Answer::Page { body, next: more } = fetched.answer else {
            panic!("{url}: not a page");
        };
        assert!(fetched.etag.is_some(), "{url}: no ETag");
        numbers.extend(
            body.as_array()
                .expect("a list")
                .iter()
                .filter_map(|p| p["number"].as_u64()),
        );
        pages += 1;
        next = more;
    }
    (numbers, pages)
}

#[tokio::test]
async fn pages_follow_link_and_every_request_is_counted() {
    let api = serve(Limits::default()).await;
    let client = token_client(&api);
    let (numbers, pages) = walk(&client).await;
    assert_eq!(numbers, vec![5, 4, 3, 2, 1]);
    assert_eq!(pages, 3);
    assert_eq!(
        client.take_counters(),
        Counters {
            requests: 3,
            ..Counters::default()
        }
    );
    // Taken: the next read starts from zero.
    assert_eq!(client.take_counters(), Counters::default());
    assert_eq!(api.stats().ok, 3);
}

#[tokio::test]
async fn an_etag_brings_a_304_that_costs_no_rate_limit() {
    let api = serve(Limits {
        per_window: 2,
        ..Limits::default()
    })
    .await;
    let client = token_client(&api);
    let first = client.get(PULLS, None, far()).await.expect("page");
    let etag = first.etag.expect("etag");
    for _ in 0..3 {
        let again = client.get(PULLS, Some(&etag), far()).await.expect("304");
        assert_eq!(again.answer, Answer::NotModified);
        assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
    }
    let counters = client.take_counters();
    assert_eq!((counters.requests, counters.not_modified), (4, 3));
    assert_eq!(counters.rate_limit_waits, 0);
    let stats = api.stats();
    assert_eq!(
        (stats.ok, stats.not_modified, stats.rate_limited),
        (1, 3, 0)
    );
}

#[tokio::test]
async fn a_wrong_token_and_a_missing_repo_fail_by_name() {
    let api = serve(Limits::default()).await;
    let wrong = client_for(&api.url, GitHubAuth::Token("nope".into()));
    let err = wrong.get(PULLS, None, far()).await.expect_err("401");
    assert!(matches!(err, GitHubError::BadCredentials { .. }), "{err}");
    assert_eq!(err.name(), "bad_credentials");

    let err = token_client(&api)
        .get("/repos/acme/nope", None, far())
        .await
        .expect_err("404");
    assert_eq!(err.name(), "not_found");
    assert!(
        err.to_string().contains("/repos/acme/nope not found"),
        "{err}"
    );
}

#[tokio::test]
async fn the_primary_limit_is_waited_out_without_spending_a_request() {
    let api = serve(Limits {
        per_window: 2,
        window: Duration::from_secs(2),
        ..Limits::default()
    })
    .await;
    let client = token_client(&api);
    let started = Instant::now();
    let (numbers, _) = walk(&client).await;
    assert_eq!(numbers.len(), 5);
    let counters = client.take_counters();
    // The second answer said remaining 0: the third request waited for the reset.
    assert_eq!((counters.requests, counters.rate_limit_waits), (3, 1));
    assert!(counters.waited_seconds > 0.5, "{counters:?}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(api.stats().rate_limited, 0);

    // A client that did not see the last answer learns it from a 403 and waits the same way.
    let other = GitHubClient::new(
        reqwest::Client::new(),
        &api.url,
        GitHubAuth::Token("test-token".into()),
        quick(),
    )
    .expect("client");
    // The walk's last request opened a new window; this one uses it up.
    client
        .get(PULLS, None, far())
        .await
        .expect("uses the window");
    let got = other
        .get(PULLS, None, far())
        .await
        .expect("after the reset");
    assert!(matches!(got.answer, Answer::Page { .. }));
    let counters = other.take_counters();
    assert_eq!((counters.requests, counters.rate_limit_waits), (2, 1));
    assert_eq!(api.stats().rate_limited, 1);
}

#[tokio::test]
async fn secondary_limits_are_waited_out_as_retry_after_says() {
    let api = serve(Limits {
        secondary_every: Some(2),
        secondary_retry_after_s: 1,
        ..Limits::default()
    })
    .await;
    let client = token_client(&api);
    let started = Instant::now();
    let (numbers, pages) = walk(&client).await;
    assert_eq!((numbers.len(), pages), (5, 3));
    let counters = client.take_counters();
    // 200, 403 (wait 1 s), 200, 429 (wait 1 s), 200.
    assert_eq!(counters.requests, 5);
    assert_eq!(counters.rate_limit_waits, 2);
    assert_eq!(counters.retries, 0);
    assert!(
        (1.9..3.0).contains(&counters.waited_seconds),
        "{counters:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(api.stats().secondary_limited, 2);
}

#[tokio::test]
async fn server_errors_are_retried_then_given_up() {
    let api = serve(Limits {
        server_error_every: Some(2),
        ..Limits::default()
    })
    .await;
    let client = token_client(&api);
    let (numbers, _) = walk(&client).await;
    assert_eq!(numbers.len(), 5);
    let counters = client.take_counters();
    assert_eq!((counters.requests, counters.retries), (5, 2));
    assert_eq!(api.stats().server_errors, 2);

    api.set_limits(Limits {
        server_error_every: Some(1),
        ..Limits::default()
    });
    let err = client
        .get(PULLS, None, far())
        .await
        .expect_err("always 502");
    assert_eq!(err.name(), "unavailable");
    assert!(err.to_string().contains("502"), "{err}");
    let counters = client.take_counters();
    // The first try and max_retries (3) more.
    assert_eq!((counters.requests, counters.retries), (4, 3));
}

#[tokio::test]
async fn a_wait_past_the_deadline_returns_rate_limited() {
    // A secondary limit asking for 30 s, with 1 s left: not waited.
    let api = serve(Limits {
        secondary_every: Some(1),
        secondary_retry_after_s: 30,
        ..Limits::default()
    })
    .await;
    let client = token_client(&api);
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(1);
    let err = client
        .get(PULLS, None, deadline)
        .await
        .expect_err("limited");
    let GitHubError::RateLimited { until } = err else {
        panic!("{err}");
    };
    let ahead = until - Utc::now();
    assert!(ahead > chrono::Duration::seconds(25), "{until}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(client.take_counters().rate_limit_waits, 0);

    // An exhausted primary limit an hour away: the next call does not even send.
    let api = serve(Limits {
        per_window: 1,
        ..Limits::default()
    })
    .await;
    let client = token_client(&api);
    client
        .get(PULLS, None, far())
        .await
        .expect("the one request");
    let err = client.get(PULLS, None, far()).await.expect_err("limited");
    assert_eq!(err.name(), "rate_limited");
    assert_eq!(api.stats().requests, 1);
}

#[tokio::test]
async fn urls_off_the_api_host_are_refused_before_the_token_goes_out() {
    let api = serve(Limits::default()).await;
    let client = token_client(&api);
    let err = client
        .get("https://evil.example.com/repos/acme/shop", None, far())
        .await
        .expect_err("off host");
    assert_eq!(err.name(), "off_host");
    assert_eq!(api.stats().requests, 0);

    // The emulation's Link URLs name 127.0.0.1; a client of "localhost" (the same server, not
    // the same origin) must not follow them.
    let port = api.url.rsplit(':').next().expect("port");
    let localhost = client_for(
        &format!("http://localhost:{port}"),
        GitHubAuth::Token("test-token".into()),
    );
    let err = localhost
        .get(PULLS, None, far())
        .await
        .expect_err("next is off host");
    assert!(
        matches!(err, GitHubError::OffHost { ref url } if url.starts_with("http://127.0.0.1:")),
        "{err}"
    );
}

fn app_api_limits(ttl: Duration) -> Limits {
    let mut app = AppKey::new("12345", 678, PUBLIC_KEY);
    app.token_ttl = ttl;
    Limits {
        // Only minted tokens are accepted.
        tokens: Vec::new(),
        app: Some(app),
        ..Limits::default()
    }
}

fn app_client(api: &GitHubApi, key: &str) -> GitHubClient {
    client_for(
        &api.url,
        GitHubAuth::App {
            app_id: "12345".into(),
            private_key_pem: key.into(),
            installation_id: 678,
        },
    )
}

#[tokio::test]
async fn a_github_app_mints_uses_and_refreshes_its_installation_token() {
    // 303 s: fresh for about 3 s, then within the 5-minute refresh margin.
    let api = serve(app_api_limits(Duration::from_secs(303))).await;
    let client = app_client(&api, PRIVATE_KEY);
    let (numbers, _) = walk(&client).await;
    assert_eq!(numbers.len(), 5);
    assert_eq!(api.stats().app_tokens_minted, 1);
    // Minting is a request too.
    assert_eq!(client.take_counters().requests, 4);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    client.get(PULLS, None, far()).await.expect("a page");
    assert_eq!(api.stats().app_tokens_minted, 2);
    client.get(PULLS, None, far()).await.expect("a page");
    assert_eq!(api.stats().app_tokens_minted, 2);
    assert_eq!(api.stats().unauthorized, 0);
}

#[tokio::test]
async fn a_github_app_with_the_wrong_key_is_an_auth_error() {
    let api = serve(app_api_limits(Duration::from_secs(3600))).await;
    let err = app_client(&api, OTHER_KEY)
        .get(PULLS, None, far())
        .await
        .expect_err("wrong key");
    assert_eq!(err.name(), "auth");
    let text = err.to_string();
    assert!(
        text.contains("refused the JWT of App 12345") && text.contains("github_app_private_key"),
        "{text}"
    );
    assert_eq!(api.stats().app_tokens_minted, 0);
}
