//! The web dashboard (`/dashboard/`) on the dev server, loaded with the demo org.
//!
//! - `the_dev_server_serves_the_dashboard_without_a_token` (in `make test`): the page, its hashed
//!   assets and their headers over HTTP, while the read API still wants its token.
//! - `the_dashboard_renders_the_api_numbers_in_chromium` (`#[ignore]`, run by
//!   `make test-browser`): `node tests/browser/dashboard.mjs <url> <token>` drives Debian's
//!   Chromium through every view and compares the numbers shown with the API's answers (see that
//!   script). `FLOWMETER_DASHBOARD_MEASURE=1` (`make bench-dashboard`) adds `--measure`: the
//!   gzip size of the page's JS+CSS and the time to first view, printed as JSON.

use std::path::PathBuf;

use chrono::Utc;
use flowmeter_e2e::http::RunningDevServer;
use flowmeter_e2e::{drain, fresh_store};

mod demo_org;

const TOKEN: &str = "dashboard-read-token";

/// A dev server on a free port over a fresh table holding the demo org (`weeks` up to the last
/// full week, so the dashboard's default periods cover it).
async fn demo_server(weeks: u32) -> RunningDevServer {
    let store = if weeks > 0 {
        let org = demo_org::org(flowmeter_demo::DEFAULT_SEED, Utc::now(), weeks, 0.6);
        demo_org::load("dashboard", &org, &org.deliveries).await
    } else {
        let store = fresh_store("dashboard").await;
        store
            .put_config("org: acme\nteams:\n  core:\n    members: [alice]\n    repos: [acme/api]\n")
            .await
            .expect("config");
        store
    };
    drain(&store, &mut None).await;
    RunningDevServer::start(store, TOKEN, "dashboard-admin-token").await
}

#[tokio::test]
async fn the_dev_server_serves_the_dashboard_without_a_token() {
    let server = demo_server(0).await;
    let base = &server.base;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // The page, without a token: HTML, no-cache, the CSP and the hardening headers.
    let page = client
        .get(format!("{base}/dashboard/"))
        .send()
        .await
        .expect("GET /dashboard/");
    assert_eq!(page.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        header(&page, "content-security-policy"),
        flowmeter_edge::api::dashboard::CONTENT_SECURITY_POLICY
    );
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "referrer-policy"), "no-referrer");
    let html = page.text().await.expect("html");

    // Every hashed asset the page names is served, immutable, with its type.
    let mut served = 0;
    for asset in flowmeter_edge::api::dashboard::assets() {
        if !html.contains(&asset.url) {
            continue;
        }
        let r = client
            .get(format!("{base}{}", asset.url))
            .send()
            .await
            .expect("asset");
        assert_eq!(r.status(), 200, "{}", asset.url);
        assert_eq!(
            header(&r, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&r, "content-type"), asset.content_type);
        served += 1;
    }
    assert_eq!(served, 4, "app.js, app.css and uPlot's JS and CSS");

    // /dashboard redirects; an unknown asset is the API's JSON 404; the API still wants a token.
    let r = client
        .get(format!("{base}/dashboard?weeks=4"))
        .send()
        .await
        .expect("redirect");
    assert_eq!(r.status(), 308);
    assert_eq!(header(&r, "location"), "/dashboard/?weeks=4");
    let r = client
        .get(format!("{base}/dashboard/assets/app.0000000000.js"))
        .send()
        .await
        .expect("404");
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_found");
    let r = client
        .get(format!("{base}/v1/dora"))
        .send()
        .await
        .expect("dora");
    assert_eq!(r.status(), 401, "the read API keeps its token");

    server.stop_cleanly().await;
}

#[tokio::test]
#[ignore = "needs Chromium and node: run with `make test-browser`"]
async fn the_dashboard_renders_the_api_numbers_in_chromium() {
    let server = demo_server(8).await;
    let base = &server.base;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = vec![
        root.join("tests/browser/dashboard.mjs")
            .display()
            .to_string(),
        base.clone(),
        TOKEN.to_string(),
        "dashboard-admin-token".to_string(),
    ];
    if std::env::var("FLOWMETER_DASHBOARD_MEASURE").is_ok_and(|v| v == "1") {
        args.push("--measure".into());
    }
    let dir = root.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .args(&args)
            .current_dir(&dir)
            .output()
    })
    .await
    .expect("join")
    .expect("node (and chromium: `make test-browser` installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "the browser test failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let figures: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the script's figures as its last JSON line");
    assert!(
        figures["numbers_compared"].as_u64().unwrap_or(0) > 50,
        "{figures}"
    );
    server.stop_cleanly().await;
}
