//! How the emulation serves: pagination and `Link`, ETags, authentication, the primary and
//! secondary rate limits, scripted 502s, GitHub's headers and errors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{get, get_with, serve, walk, BULK};
use crate::github_api::Limits;

#[tokio::test]
async fn pulls_pages_walk_every_item_and_link_keeps_the_query() {
    let api = serve(Limits::default()).await;
    let first = get(&api, "/repos/acme/shop/pulls?state=all&per_page=20").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.items().len(), 20);
    let base = format!("{}/repos/acme/shop/pulls", api.url);
    assert_eq!(
        first.link("next").as_deref(),
        Some(format!("{base}?state=all&per_page=20&page=2").as_str())
    );
    assert_eq!(
        first.link("last").as_deref(),
        Some(format!("{base}?state=all&per_page=20&page=4").as_str())
    );
    assert_eq!(first.link("prev"), None);
    assert_eq!(first.link("first"), None);

    let third = get(&api, "/repos/acme/shop/pulls?state=all&page=3&per_page=20").await;
    assert_eq!(
        third.link("prev").as_deref(),
        Some(format!("{base}?state=all&per_page=20&page=2").as_str())
    );
    assert_eq!(
        third.link("first").as_deref(),
        Some(format!("{base}?state=all&per_page=20&page=1").as_str())
    );
    let last = get(&api, &first.link("last").expect("last")).await;
    assert_eq!(last.items().len(), (BULK as usize + 1) - 60);
    assert_eq!(last.link("next"), None);
    assert!(last.link("prev").is_some());

    let (items, pages) = walk(&api, "/repos/acme/shop/pulls?state=all&per_page=20").await;
    assert_eq!(pages, 4);
    let numbers: Vec<u64> = items.iter().filter_map(|p| p["number"].as_u64()).collect();
    // Default sort: created, newest first; #7 was opened before every bulk PR.
    let mut expected: Vec<u64> = (100..100 + BULK).rev().collect();
    expected.push(7);
    assert_eq!(numbers, expected);

    // Everything on one page: no Link at all.
    let all = get(&api, "/repos/acme/shop/pulls?state=all&per_page=100").await;
    assert_eq!(all.items().len(), BULK as usize + 1);
    assert_eq!(all.header("link"), "");
    // per_page: junk and 0 are the default (30), more than 100 is 100.
    for (query, len) in [
        ("per_page=0", 30),
        ("per_page=abc", 30),
        ("per_page=500", 66),
    ] {
        let got = get(&api, &format!("/repos/acme/shop/pulls?state=all&{query}")).await;
        assert_eq!(got.items().len(), len, "{query}");
    }
    // state defaults to open: the merged #7 is left out.
    let (open, _) = walk(&api, "/repos/acme/shop/pulls").await;
    assert_eq!(open.len(), BULK as usize);
    let closed = get(&api, "/repos/acme/shop/pulls?state=closed").await;
    assert_eq!(closed.items().len(), 1);
    // Ascending by creation: #7 first.
    let asc = get(
        &api,
        "/repos/acme/shop/pulls?state=all&direction=asc&per_page=2",
    )
    .await;
    assert_eq!(asc.items()[0]["number"], json!(7));
    assert_eq!(api.stats().endpoint("/repos/{o}/{r}/pulls"), 16);
}

#[tokio::test]
async fn a_matching_if_none_match_is_a_304_that_costs_no_rate_limit() {
    let api = serve(Limits::default()).await;
    let first = get(&api, "/repos/acme/shop/pulls/7").await;
    assert_eq!(first.status, 200);
    let etag = first.header("etag").to_string();
    assert!(etag.starts_with("W/\"") && etag.len() == 64 + 4, "{etag}");
    assert_eq!(first.number("x-ratelimit-remaining"), 4999);

    let again = get_with(
        &api,
        "/repos/acme/shop/pulls/7",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.raw.is_empty());
    assert_eq!(again.header("etag"), etag);
    assert_eq!(again.number("x-ratelimit-remaining"), 4999);
    assert_eq!(again.number("x-ratelimit-used"), 1);

    // Another resource's ETag does not match: a full answer, counted.
    let other = get_with(&api, "/repos/acme/shop", &[("if-none-match", &etag)]).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.number("x-ratelimit-remaining"), 4998);
    let stats = api.stats();
    assert_eq!((stats.requests, stats.ok, stats.not_modified), (3, 2, 1));
}

#[tokio::test]
async fn an_exhausted_primary_limit_answers_403_until_the_reset_then_a_new_window() {
    let limits = Limits {
        per_window: 3,
        window: Duration::from_secs(1),
        ..Limits::default()
    };
    let api = serve(limits).await;
    for left in [2, 1, 0] {
        let got = get(&api, "/repos/acme/shop").await;
        assert_eq!(got.status, 200);
        assert_eq!(got.number("x-ratelimit-remaining"), left);
    }
    let limited = get(&api, "/repos/acme/shop").await;
    assert_eq!(limited.status, 403);
    assert_eq!(limited.number("x-ratelimit-remaining"), 0);
    assert_eq!(limited.number("x-ratelimit-limit"), 3);
    assert_eq!(limited.number("x-ratelimit-used"), 3);
    assert_eq!(limited.header("x-ratelimit-resource"), "core");
    let message = limited.body["message"].as_str().expect("message");
    assert!(
        message.starts_with("API rate limit exceeded for user ID 1."),
        "{message}"
    );
    assert!(message.contains(limited.header("x-github-request-id")));
    assert_eq!(
        limited.body["documentation_url"],
        json!("https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
    );
    assert_eq!(limited.body["status"], json!("403"));

    let reset = limited.number("x-ratelimit-reset");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("now");
    assert!(
        reset >= now.as_secs() && reset <= now.as_secs() + 2,
        "{reset}"
    );
    let wait = Duration::from_secs(reset).saturating_sub(now) + Duration::from_millis(50);
    tokio::time::sleep(wait).await;
    let recovered = get(&api, "/repos/acme/shop").await;
    assert_eq!(recovered.status, 200);
    assert_eq!(recovered.number("x-ratelimit-remaining"), 2);
    assert!(recovered.number("x-ratelimit-reset") > reset - 1);
    assert_eq!(api.stats().rate_limited, 1);
}

#[tokio::test]
async fn secondary_limits_alternate_403_and_429_with_retry_after() {
    let limits = Limits {
        secondary_every: Some(2),
        secondary_retry_after_s: 7,
        ..Limits::default()
    };
    let api = serve(limits).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let got = get(&api, "/repos/acme/shop").await;
        statuses.push(got.status);
        if got.status != 200 {
            assert_eq!(got.header("retry-after"), "7");
            let message = got.body["message"].as_str().expect("message");
            assert!(message.starts_with("You have exceeded a secondary rate limit."));
            assert!(got.number("x-ratelimit-remaining") > 0);
        }
    }
    assert_eq!(statuses, [200, 403, 200, 429, 200, 403]);
    assert_eq!(api.stats().secondary_limited, 3);
}

#[tokio::test]
async fn every_nth_request_is_a_502_and_limits_change_mid_run() {
    let api = serve(Limits::default()).await;
    for _ in 0..3 {
        assert_eq!(get(&api, "/repos/acme/shop").await.status, 200);
    }
    api.set_limits(Limits {
        server_error_every: Some(3),
        ..Limits::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let got = get(&api, "/repos/acme/shop").await;
        if got.status == 502 {
            assert_eq!(got.body, json!({"message": "Server Error"}));
        }
        statuses.push(got.status);
    }
    assert_eq!(statuses, [200, 200, 502, 200, 200, 502]);
    api.set_limits(Limits::default());
    assert_eq!(get(&api, "/repos/acme/shop").await.status, 200);
    assert_eq!(api.stats().server_errors, 2);
}

#[tokio::test]
async fn tokens_are_checked() {
    let api = serve(Limits::default()).await;
    let none = get_with(&api, "/repos/acme/shop", &[("authorization", "")]).await;
    assert_eq!(none.status, 401);
    let client = reqwest::Client::new();
    let anonymous = client
        .get(format!("{}/repos/acme/shop", api.url))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: serde_json::Value =
        serde_json::from_slice(&anonymous.bytes().await.expect("body")).expect("json");
    assert_eq!(body["message"], json!("Requires authentication"));

    let bad = get_with(
        &api,
        "/repos/acme/shop",
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(bad.status, 401);
    assert_eq!(
        bad.body,
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
               "status": "401"})
    );
    let token = get_with(
        &api,
        "/repos/acme/shop",
        &[("authorization", "token test-token")],
    )
    .await;
    assert_eq!(token.status, 200);
    api.set_limits(Limits {
        tokens: vec!["other".into()],
        ..Limits::default()
    });
    assert_eq!(get(&api, "/repos/acme/shop").await.status, 401);
    assert_eq!(api.stats().unauthorized, 4);
}

#[tokio::test]
async fn every_answer_carries_githubs_headers() {
    let api = serve(Limits::default()).await;
    for path in ["/repos/acme/shop", "/repos/acme/nope", "/rate_limit"] {
        let got = get(&api, path).await;
        assert_eq!(
            got.header("content-type"),
            "application/json; charset=utf-8"
        );
        assert_eq!(got.header("x-github-api-version-selected"), "2022-11-28");
        assert_eq!(got.header("x-ratelimit-resource"), "core");
        assert_eq!(got.number("x-ratelimit-limit"), 5000);
        assert!(got.number("x-ratelimit-reset") > 0);
        assert!(got.header("x-github-request-id").split(':').count() == 5);
    }
}

#[tokio::test]
async fn unknown_things_are_githubs_404_and_malformed_requests_do_not_panic() {
    let api = serve(Limits::default()).await;
    let not_found = json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest",
                           "status": "404"});
    for path in [
        "/repos/acme/nope",
        "/repos/acme/nope/pulls",
        "/repos/acme/shop/pulls/9999",
        "/repos/acme/shop/pulls/abc",
        "/repos/acme/shop/pulls/7/files",
        "/repos/acme/shop/deployments/12345/statuses",
        "/repos/acme/shop/issues/9999/comments",
        "/repos//shop",
        "/repos/acme",
        "/user",
        "/",
    ] {
        let got = get(&api, path).await;
        assert_eq!((got.status, &got.body), (404, &not_found), "{path}");
    }
    let commits = get(&api, "/repos/acme/shop/commits?sha=nope").await;
    assert_eq!(commits.status, 404);
    assert_eq!(
        commits.body["message"],
        json!("No commit found for SHA: nope")
    );
    let posted = reqwest::Client::new()
        .post(format!("{}/repos/acme/shop/pulls", api.url))
        .header("authorization", "Bearer test-token")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status().as_u16(), 404);
    // Repository names are case-insensitive.
    assert_eq!(get(&api, "/repos/ACME/Shop").await.status, 200);
    for query in [
        "page=abc&per_page=-1",
        "page=0",
        "page=99999999999999999999999",
        "per_page=%zz&state=%",
        "sort=nonsense&direction=sideways&since=yesterday",
        "&&=&x",
    ] {
        let got = get(&api, &format!("/repos/acme/shop/pulls?{query}")).await;
        assert_eq!(got.status, 200, "{query}");
    }
    let far = get(&api, "/repos/acme/shop/pulls?page=50").await;
    assert_eq!(far.items().len(), 0);
    let runs = get(
        &api,
        "/repos/acme/shop/actions/runs?created=garbage&status=%3E%3D",
    )
    .await;
    assert_eq!(runs.status, 200);
}
