//! The executive status page's share keys and the attention verdicts it shows: a key minted by
//! `POST /v1/share` reads the org and team aggregates and nothing else; a forged, expired or
//! rotated-out key is 401; `GET /v1/attention` answers the digest's verdicts.

use chrono::{DateTime, Duration, Utc};
use flowmeter_demo::DEFAULT_SEED;
use flowmeter_e2e::{drain, fresh_store};
use flowmeter_edge::api::ApiState;
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::settings::load_config;
use flowmeter_edge::store::Store;
use serde_json::Value;

mod demo_org;

const READ_TOKEN: &str = "share-read";
const ADMIN_TOKEN: &str = "share-admin";

/// Three weeks of the demo org at a third of its activity, in the demo's replay order.
async fn loaded(now: DateTime<Utc>) -> Store {
    let org = demo_org::org(DEFAULT_SEED, now, 3, 0.3);
    let store = demo_org::load("share", &org, flowmeter_demo::replay_order(&org.deliveries)).await;
    drain(&store, &mut None).await;
    store
}

use flowmeter_e2e::api_call as call;

fn message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_share_key_reads_the_org_and_team_aggregates_and_nothing_else() {
    let store = loaded(Utc::now()).await;
    let state = ApiState::new(store.clone(), READ_TOKEN.into(), ADMIN_TOKEN.into());

    // given a key minted with the admin token (the read token may not mint one)
    let (status, answer) = call(&state, "POST", "/v1/share", READ_TOKEN, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let (status, minted) = call(&state, "POST", "/v1/share", ADMIN_TOKEN, r#"{"hours": 24}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let key = minted["key"].as_str().expect("key").to_string();
    assert_eq!(
        minted["status_path"],
        format!("/dashboard/status#key={key}")
    );
    let expires: DateTime<Utc> = minted["expires_at"]
        .as_str()
        .expect("expiry")
        .parse()
        .expect("instant");
    assert!(
        (expires - Utc::now() - Duration::hours(24))
            .num_seconds()
            .abs()
            < 60
    );

    // when it reads the org's and a team's aggregates, then it sees what the read token sees
    for uri in [
        "/v1/dora",
        "/v1/dora?scope=org&from=2026-01-05&to=2026-03-01",
        "/v1/dora?scope=team:payments",
        "/v1/cycle-time?scope=team:platform",
        "/v1/pull-requests?scope=org",
        "/v1/goals?scope=team:payments",
    ] {
        let (status, shared) = call(&state, "GET", uri, &key, "").await;
        assert_eq!(status, StatusCode::OK, "{uri}: {shared}");
        let (_, read) = call(&state, "GET", uri, READ_TOKEN, "").await;
        assert_eq!(shared, read, "{uri}");
    }
    let (status, verdicts) = call(&state, "GET", "/v1/attention", &key, "").await;
    assert_eq!(status, StatusCode::OK, "{verdicts}");

    // and everything else is 401: names, config, repos, services, incidents, metrics, writes
    for (method, uri, says) in [
        ("GET", "/v1/config", "aggregates"),
        ("GET", "/v1/teams", "aggregates"),
        ("GET", "/v1/incidents", "aggregates"),
        ("GET", "/v1/backfill", "aggregates"),
        ("GET", "/metrics", "aggregates"),
        ("GET", "/v1/dora?scope=repo:acme/web", "org and team scopes"),
        (
            "GET",
            "/v1/dora?scope=service:payments",
            "org and team scopes",
        ),
        (
            "GET",
            "/v1/dora?scope=team:payments&scope=repo:acme/web",
            "org and team scopes",
        ),
        ("PUT", "/v1/config", "admin token"),
        ("POST", "/v1/share", "admin token"),
    ] {
        let (status, answer) = call(&state, method, uri, &key, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}: {answer}");
        assert!(
            message(&answer).contains(says) || says == "admin token",
            "{uri}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_forged_expired_or_rotated_out_key_is_401() {
    let store = fresh_store("share-keys").await;
    let state = ApiState::new(store.clone(), READ_TOKEN.into(), ADMIN_TOKEN.into());
    let (_, minted) = call(&state, "POST", "/v1/share", ADMIN_TOKEN, "").await;
    let key = minted["key"].as_str().expect("key").to_string();
    let (status, _) = call(&state, "GET", "/v1/dora", &key, "").await;
    assert_eq!(status, StatusCode::OK);

    // a forged signature, and a later expiry under the old signature
    let mut forged = key.clone();
    let last = forged.pop().expect("a char");
    forged.push(if last == '0' { '1' } else { '0' });
    let (_, tag) = key.rsplit_once('.').expect("tag");
    let stretched = format!(
        "fms1.{}.{tag}",
        (Utc::now() + Duration::days(3650)).timestamp()
    );
    for bad in [
        forged.as_str(),
        stretched.as_str(),
        "fms1.garbage",
        "fms1.1.zz",
    ] {
        let (status, answer) = call(&state, "GET", "/v1/dora", bad, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {answer}");
        assert_eq!(message(&answer), "the share key is not valid", "{bad}");
    }

    // an expired key, signed right (the secret derived from the admin token)
    let secret = flowmeter::share::signing_secret("", ADMIN_TOKEN);
    let expired = flowmeter::share::mint(&secret, Utc::now() - Duration::minutes(1)).expect("mint");
    let (status, answer) = call(&state, "GET", "/v1/dora", &expired, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(message(&answer), "the share key has expired");

    // rotating the share secret revokes every key minted before
    let rotated = ApiState::new(store, READ_TOKEN.into(), ADMIN_TOKEN.into())
        .with_share_secret("a-new-share-secret");
    let (status, _) = call(&rotated, "GET", "/v1/dora", &key, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, fresh) = call(&rotated, "POST", "/v1/share", ADMIN_TOKEN, "").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call(
        &rotated,
        "GET",
        "/v1/dora",
        fresh["key"].as_str().expect("key"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // a bad body changes nothing and says why; no admin token means no share links
    let (status, answer) = call(
        &state,
        "POST",
        "/v1/share",
        ADMIN_TOKEN,
        r#"{"hours": 99999}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(message(&answer).contains("`hours`"), "{answer}");
    let locked = ApiState::new(
        fresh_store("share-off").await,
        READ_TOKEN.into(),
        String::new(),
    );
    let (status, _) = call(&locked, "GET", "/v1/dora", &key, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn attention_answers_the_digest_s_verdicts_for_a_week() {
    let now = Utc::now();
    let store = loaded(now).await;
    let state = ApiState::new(store.clone(), READ_TOKEN.into(), ADMIN_TOKEN.into());
    let config = load_config(&store).await.expect("config");
    let week = flowmeter::time::last_full_week(now, config.timezone());

    // given the digest of the last full week
    let digest = flowmeter_edge::digest::build(&store, &config, week, now)
        .await
        .expect("digest");

    // when its verdicts are read through the API
    let (status, answer) = call(
        &state,
        "GET",
        &format!("/v1/attention?week={week}"),
        READ_TOKEN,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // then every team is there, in config order, flagged exactly as the digest flags it
    assert_eq!(answer["week"], week.to_string());
    assert_eq!(answer["partial"], false);
    let teams = answer["teams"].as_array().expect("teams");
    let names: Vec<&str> = teams.iter().filter_map(|t| t["team"].as_str()).collect();
    let expected: Vec<&str> = digest.teams.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, expected);
    assert!(!names.is_empty());
    for (shown, row) in teams.iter().zip(&digest.teams) {
        assert_eq!(shown["needs_attention"], row.needs_attention, "{shown}");
        let flagged = digest.attention.iter().find(|a| a.team == row.name);
        assert_eq!(
            shown["summary"].as_str().unwrap_or_default(),
            flagged.map(|a| a.summary.as_str()).unwrap_or_default()
        );
    }

    // and the rollup announces the same verdicts as team.needs_attention events, once
    let bus = flowmeter_devserver::LocalEventBus::start("attention")
        .await
        .expect("bus");
    let publisher =
        flowmeter_edge::publish::EventPublisher::at(Some(&bus.endpoint()), "attention").await;
    let pipeline = flowmeter_edge::pipeline::Pipeline::new(&store, config.clone())
        .with_publisher(Some(&publisher));
    let first = pipeline
        .announce_attention(&[week])
        .await
        .expect("announce");
    let announced: Vec<String> = bus
        .entries()
        .iter()
        .filter(|e| e.detail_type == "team.needs_attention")
        .filter_map(|e| e.detail["attention"]["team"].as_str().map(str::to_string))
        .collect();
    let flagged: Vec<String> = digest.attention.iter().map(|a| a.team.clone()).collect();
    assert!(
        !flagged.is_empty(),
        "the sample org's struggling team is flagged"
    );
    assert_eq!(announced, flagged);
    assert_eq!(first.published, flagged.len());
    flowmeter_e2e::events::assert_details_match_their_schemas(&bus.entries());
    let again = pipeline.announce_attention(&[week]).await.expect("again");
    assert_eq!(again.published, 0, "the same verdicts are the same events");

    // the current week is the default, marked partial; a bad or future week is a clear 400
    let (status, current) = call(&state, "GET", "/v1/attention", READ_TOKEN, "").await;
    assert_eq!(status, StatusCode::OK, "{current}");
    assert_eq!(current["partial"], true);
    // The week of the moment of asking: a run across midnight of a Sunday (org time) is
    // already in the week after `week.next()`.
    let asked = flowmeter::time::last_full_week(Utc::now(), config.timezone()).next();
    assert!(
        current["week"] == week.next().to_string() || current["week"] == asked.to_string(),
        "{current}"
    );
    for (query, says) in [
        ("week=2026-13", "`week`"),
        ("week=2999-W01", "has not started"),
        ("scope=org", "unknown query parameter `scope`"),
    ] {
        let (status, answer) = call(
            &state,
            "GET",
            &format!("/v1/attention?{query}"),
            READ_TOKEN,
            "",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {answer}");
        assert!(message(&answer).contains(says), "{query}: {answer}");
    }
}
