//! Day-one history: the demo org's GitHub history backfilled from the local GitHub REST API
//! (`flowmeter_kit::github_api`, folded from the very webhook deliveries) gives exactly the
//! rollups the webhook replay gives, and backfilling a table the webhooks already filled
//! changes no number. The backfill is started and read through the API (`POST`/`GET
//! /v1/backfill`) and run by the runner the dev server and the backfill function use.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use flowmeter::backfill::{BackfillJob, JobState, Phase};
use flowmeter::model::{EntityKey, FactBody};
use flowmeter_demo::{generate_with, DemoDelivery, DemoOrg, Params, DEFAULT_SEED};
use flowmeter_e2e::{derived_state, drain, fresh_store};
use flowmeter_edge::api::ApiState;
use flowmeter_edge::backfill::run_to_end;
use flowmeter_edge::github::{GitHubAuth, GitHubClient, RetryPolicy};
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::settings::load_config;
use flowmeter_edge::store::{keys, Store};
use flowmeter_kit::github_api::{GitHubApi, Limits, RestHistory};
use serde_json::Value;
use tokio::sync::mpsc;

mod demo_org;

const READ_TOKEN: &str = "backfill-read";
const ADMIN_TOKEN: &str = "backfill-admin";

fn now() -> DateTime<Utc> {
    "2026-03-18T12:00:00Z".parse().expect("instant")
}

/// The demo org over 6 weeks at 60% of its activity (the whole 12 weeks is `make
/// demo-backfill`'s), signed with the tests' secrets.
fn org() -> DemoOrg {
    demo_org::org(DEFAULT_SEED, now(), 6, 0.6)
}

fn is_github(d: &DemoDelivery) -> bool {
    !d.github_event().is_empty()
}

/// The local GitHub REST API serving the org's GitHub history.
async fn github_api(org: &DemoOrg, limits: Limits) -> GitHubApi {
    let bodies: Vec<(String, Value)> = org
        .deliveries
        .iter()
        .filter(|d| is_github(d))
        .map(|d| {
            let body = serde_json::from_slice(&d.delivery.body).expect("JSON body");
            (d.github_event().to_string(), body)
        })
        .collect();
    let history = RestHistory::from_webhooks(bodies.iter().map(|(e, b)| (e.as_str(), b)));
    GitHubApi::start(history, limits).await.expect("GitHub API")
}

/// A table with the org's config and the chosen deliveries, in the demo's replay order.
async fn replayed(label: &str, org: &DemoOrg, keep: impl Fn(&DemoDelivery) -> bool) -> Store {
    let chosen = flowmeter_demo::replay_order(&org.deliveries)
        .into_iter()
        .filter(|d| keep(d));
    demo_org::load(label, org, chosen).await
}

use flowmeter_e2e::api_call as call;

fn client(api: &GitHubApi) -> GitHubClient {
    let policy = RetryPolicy {
        base_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    GitHubClient::new(
        reqwest::Client::new(),
        &api.url,
        GitHubAuth::Token("test-token".into()),
        policy,
    )
    .expect("client")
}

/// Starts a backfill of every configured repository through `POST /v1/backfill`, runs it to
/// its end as the dev server does, and checks `GET /v1/backfill` says it is done.
async fn backfill(store: &Store, api: &GitHubApi, since: NaiveDate) -> BackfillJob {
    let (runner, mut started) = mpsc::unbounded_channel();
    let state = ApiState::new(store.clone(), READ_TOKEN.into(), ADMIN_TOKEN.into())
        .with_backfill_runner(runner);
    let body = format!(r#"{{"since": "{since}"}}"#);
    let (status, answer) = call(&state, "POST", "/v1/backfill", ADMIN_TOKEN, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = answer["id"].as_str().expect("id").to_string();
    assert_eq!(started.recv().await.as_deref(), Some(id.as_str()));
    let config = load_config(store).await.expect("config");
    let job = run_to_end(store, &client(api), &config, &id, |_| {})
        .await
        .expect("backfill runs");
    let (status, shown) = call(&state, "GET", "/v1/backfill", READ_TOKEN, "").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["state"], "done", "{shown}");
    assert_eq!(shown["errors"], serde_json::json!({}), "{shown}");
    job
}

async fn fact_count(store: &Store) -> usize {
    let mut n = 0;
    for prefix in keys::ENTITY_PARTITIONS {
        n += store
            .scan_prefix(prefix)
            .await
            .expect("scan")
            .iter()
            .filter(|item| {
                let (_, sk) = flowmeter_edge::store::item_keys(item);
                keys::is_source_fact(&sk)
            })
            .count();
    }
    n
}

/// The message each commit of the table's push facts carries, by sha.
async fn commit_messages(store: &Store) -> BTreeMap<String, Option<String>> {
    let mut branches = BTreeSet::new();
    for item in store.scan_prefix(keys::BRANCH).await.expect("scan") {
        let (pk, sk) = flowmeter_edge::store::item_keys(&item);
        if keys::is_source_fact(&sk) {
            branches.insert(pk);
        }
    }
    let mut messages = BTreeMap::new();
    for pk in branches {
        let branch = EntityKey::from_partition_key(&pk).expect("branch key");
        let (facts, _) = store.entity(&branch).await.expect("branch facts");
        for fact in facts {
            if let FactBody::Push { commits, .. } = fact.body {
                messages.extend(commits.into_iter().map(|c| (c.sha, c.message)));
            }
        }
    }
    messages
}

/// The rollups two tables differ in, for the failure message.
fn differences(a: &[String], b: &[String]) -> String {
    let only_a: Vec<&String> = a.iter().filter(|r| !b.contains(r)).take(5).collect();
    let only_b: Vec<&String> = b.iter().filter(|r| !a.contains(r)).take(5).collect();
    format!("only by webhooks: {only_a:#?}\nonly by backfill: {only_b:#?}")
}

#[tokio::test]
async fn a_backfill_gives_the_webhook_replay_s_rollups_and_changes_none_of_them() {
    let org = org();
    let since = org.from() - chrono::Days::new(7);
    let api = github_api(&org, Limits::default()).await;

    // given the org replayed by webhooks
    let by_webhooks = replayed("bf-webhooks", &org, |_| true).await;
    drain(&by_webhooks, &mut None).await;
    let (webhook_rollups, _) = derived_state(&by_webhooks).await;
    assert!(
        webhook_rollups.len() > 100,
        "{} rollups",
        webhook_rollups.len()
    );

    // when the same org's GitHub history is backfilled instead (PagerDuty and the generic CI
    // still by webhook)
    let by_backfill = replayed("bf-backfill", &org, |d| !is_github(d)).await;
    let job = backfill(&by_backfill, &api, since).await;
    drain(&by_backfill, &mut None).await;

    // then every rollup is the same
    let (backfill_rollups, _) = derived_state(&by_backfill).await;
    assert!(
        backfill_rollups == webhook_rollups,
        "{}",
        differences(&webhook_rollups, &backfill_rollups)
    );
    // every repository was read to its end
    assert_eq!(job.state, JobState::Done);
    assert!(
        job.repos.iter().all(|r| r.phase == Phase::Done),
        "{:?}",
        job.repos
    );
    let (found, read) = job.pull_requests();
    assert_eq!(found, read);
    assert_eq!(found as usize, api.history().pull_request_count());
    // every backfilled commit carries its webhook push's message
    let webhook_messages = commit_messages(&by_webhooks).await;
    let backfill_messages = commit_messages(&by_backfill).await;
    assert!(backfill_messages.len() > 100, "{}", backfill_messages.len());
    let mut both = 0;
    for (sha, message) in &backfill_messages {
        assert!(message.is_some(), "{sha} has no message");
        if let Some(by_webhook) = webhook_messages.get(sha) {
            assert_eq!(message, by_webhook, "{sha}");
            both += 1;
        }
    }
    assert!(both > 100, "{both} commits in both tables");
    // within the request budget: at most 7 requests per pull request on average
    let requests = api.stats().requests;
    assert!(
        requests as f64 <= 7.0 * found as f64,
        "{requests} requests for {found} pull requests"
    );

    // and backfilling the table the webhooks filled writes no fact and changes no number:
    // every rebuilt fact is its webhook's (the same key), or a push or current state the
    // table already holds
    let facts = fact_count(&by_webhooks).await;
    backfill(&by_webhooks, &api, since).await;
    drain(&by_webhooks, &mut None).await;
    assert_eq!(fact_count(&by_webhooks).await, facts);
    let (again, _) = derived_state(&by_webhooks).await;
    assert!(
        again == webhook_rollups,
        "{}",
        differences(&webhook_rollups, &again)
    );
}

/// A small org (3 weeks, a third of the activity) whose GitHub history only comes by backfill.
fn small_org() -> DemoOrg {
    let mut params = Params::new(DEFAULT_SEED, now());
    params.weeks = 3;
    params.activity = 0.3;
    generate_with(&params)
}

/// Starts a backfill of `repos` and answers its id.
async fn start(store: &Store, repos: &[&str], since: NaiveDate) -> String {
    let state = ApiState::new(store.clone(), READ_TOKEN.into(), ADMIN_TOKEN.into());
    let body = serde_json::json!({"repos": repos, "since": since}).to_string();
    let (status, answer) = call(&state, "POST", "/v1/backfill", ADMIN_TOKEN, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    answer["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn killed_mid_way_it_resumes_from_its_checkpoint_without_reading_pages_again() {
    let org = small_org();
    let since = org.from() - chrono::Days::new(7);
    let repos = ["acme/payments-api"];
    let config = flowmeter::config::OrgConfig::from_yaml(&org.config_yaml).expect("config");

    // given a backfill run to its end in one go, for the request count
    let whole_api = github_api(&org, Limits::default()).await;
    let whole = fresh_store("bf-whole").await;
    whole.put_config(&org.config_yaml).await.expect("config");
    let id = start(&whole, &repos, since).await;
    let started = std::time::Instant::now();
    run_to_end(&whole, &client(&whole_api), &config, &id, |_| {})
        .await
        .expect("runs");
    let in_one_go = whole_api.stats().requests;
    // About eight stops whatever the machine's speed: a fixed deadline stops a loaded machine
    // before it finishes a single pull request.
    let slice = (started.elapsed() / 8).max(Duration::from_millis(50));

    // when the same backfill is stopped again and again by a deadline (as a Lambda is by its
    // timeout) and continued from its checkpoint each time
    let api = github_api(&org, Limits::default()).await;
    let store = fresh_store("bf-resumed").await;
    store.put_config(&org.config_yaml).await.expect("config");
    let id = start(&store, &repos, since).await;
    let github = client(&api);
    let mut runs = 0;
    let job = loop {
        runs += 1;
        let deadline = std::time::Instant::now() + slice;
        let (job, stop) =
            flowmeter_edge::backfill::run(&store, &github, &config, &id, deadline, |_| {})
                .await
                .expect("run");
        if stop == flowmeter_edge::backfill::Stop::Finished {
            break job;
        }
        assert_eq!(stop, flowmeter_edge::backfill::Stop::Deadline);
        assert!(runs < 500, "no end in sight");
    };

    // then it ended as the whole run did, each stop costing a few requests (the one in flight,
    // the pull request it was in), far less than starting again would: a quarter of the whole.
    // (About 6 a stop on a quiet machine, up to 12 with the other end-to-end tests running.)
    assert!(runs > 2, "{runs} runs: the deadline never struck");
    assert_eq!(job.state, JobState::Done);
    let resumed = api.stats().requests;
    assert!(
        resumed <= in_one_go + in_one_go / 4 * (runs as u64 - 1),
        "{resumed} requests in {runs} runs, {in_one_go} in one go: {:?} against {:?}",
        api.stats().per_endpoint,
        whole_api.stats().per_endpoint
    );
    assert_eq!(fact_count(&store).await, fact_count(&whole).await);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_waited_out_and_retried_and_counted() {
    let org = small_org();
    let since = org.from() - chrono::Days::new(7);
    let config = flowmeter::config::OrgConfig::from_yaml(&org.config_yaml).expect("config");
    // given GitHub allowing 40 requests a second, a secondary limit every 25th request and a
    // 502 every 30th
    let api = github_api(
        &org,
        Limits {
            per_window: 40,
            window: Duration::from_secs(1),
            secondary_every: Some(25),
            secondary_retry_after_s: 1,
            server_error_every: Some(30),
            ..Limits::default()
        },
    )
    .await;
    let store = fresh_store("bf-limits").await;
    store.put_config(&org.config_yaml).await.expect("config");
    let id = start(&store, &["acme/payments-api", "acme/web"], since).await;

    // when it runs
    let job = run_to_end(&store, &client(&api), &config, &id, |_| {})
        .await
        .expect("runs");

    // then it finished, having paused and retried rather than failed
    assert_eq!(job.state, JobState::Done, "{:?}", job.errors);
    assert!(job.errors.is_empty(), "{:?}", job.errors);
    let stats = api.stats();
    assert!(
        stats.secondary_limited > 0 && stats.server_errors > 0,
        "{stats:?}"
    );
    assert!(
        job.counters.rate_limit_waits >= stats.secondary_limited,
        "{:?}",
        job.counters
    );
    assert!(
        job.counters.retries >= stats.server_errors,
        "{:?}",
        job.counters
    );
    assert_eq!(
        job.counters.requests, stats.requests,
        "every request counted"
    );
    assert!(job.counters.waited_seconds > 0.0);
}

#[tokio::test]
async fn an_unknown_repo_or_a_bad_token_fails_by_name_and_the_others_go_on() {
    let org = small_org();
    let since = org.from() - chrono::Days::new(7);
    let config = flowmeter::config::OrgConfig::from_yaml(&org.config_yaml).expect("config");
    let api = github_api(&org, Limits::default()).await;

    // given a backfill naming a repository GitHub does not have, between two it has
    let store = fresh_store("bf-unknown").await;
    store.put_config(&org.config_yaml).await.expect("config");
    let id = start(
        &store,
        &["acme/payments-api", "acme/gone", "acme/web"],
        since,
    )
    .await;
    // when it runs
    let job = run_to_end(&store, &client(&api), &config, &id, |_| {})
        .await
        .expect("runs");
    // then that one failed with an error naming it, and the others were read
    assert_eq!(job.state, JobState::Done);
    let phases: Vec<(&str, Phase)> = job
        .repos
        .iter()
        .map(|r| (r.repo.as_str(), r.phase))
        .collect();
    assert_eq!(
        phases,
        [
            ("acme/payments-api", Phase::Done),
            ("acme/gone", Phase::Failed),
            ("acme/web", Phase::Done)
        ]
    );
    let error = job.repos[1].error.clone().unwrap_or_default();
    assert!(
        error.starts_with("not_found") && error.contains("acme/gone"),
        "{error}"
    );
    assert_eq!(job.errors.get("not_found"), Some(&1));

    // given a token GitHub refuses
    let store = fresh_store("bf-token").await;
    store.put_config(&org.config_yaml).await.expect("config");
    let id = start(&store, &["acme/payments-api", "acme/web"], since).await;
    let refused = GitHubClient::new(
        reqwest::Client::new(),
        &api.url,
        GitHubAuth::Token("revoked".into()),
        RetryPolicy::default(),
    )
    .expect("client");
    // when it runs
    let job = run_to_end(&store, &refused, &config, &id, |_| {})
        .await
        .expect("runs");
    // then every repository failed on it, the job failed, and nothing was written
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(
        job.errors.get("bad_credentials"),
        Some(&2),
        "{:?}",
        job.errors
    );
    assert_eq!(fact_count(&store).await, 0);
}

#[tokio::test]
async fn the_api_refuses_bad_starts_and_a_second_running_backfill() {
    let store = fresh_store("bf-api").await;
    store
        .put_config("org: acme\nteams:\n  web:\n    members: [ana]\n    repos: [acme/web]\n")
        .await
        .expect("config");
    let state = ApiState::new(store.clone(), READ_TOKEN.into(), ADMIN_TOKEN.into());
    let post = |token: &'static str, body: &'static str| {
        let state = &state;
        async move { call(state, "POST", "/v1/backfill", token, body).await }
    };
    // the read token cannot start one
    let (status, body) = post(READ_TOKEN, r#"{"since": "2026-01-01"}"#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // a malformed body, a hostile repo, a future day: 400s that say which field
    for (bad, field) in [
        (r#"{"since": "01/01/2026"}"#, "`since`"),
        (
            r#"{"repos": ["acme/../../etc"], "since": "2026-01-01"}"#,
            "`repos`",
        ),
        (r#"{"since": "2999-01-01"}"#, "`since`"),
        ("{", "body"),
    ] {
        let (status, body) = post(ADMIN_TOKEN, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{bad}: {message}");
    }
    // nothing was started
    let (status, _) = call(&state, "GET", "/v1/backfill", READ_TOKEN, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // the repos default to the config's; a second start while it runs is a 409 naming it
    let (status, first) = post(ADMIN_TOKEN, r#"{"since": "2026-01-01"}"#).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["repos"], serde_json::json!(["acme/web"]));
    let (status, second) = post(ADMIN_TOKEN, r#"{"since": "2026-01-01"}"#).await;
    assert_eq!(status, StatusCode::CONFLICT, "{second}");
    let id = first["id"].as_str().unwrap_or_default();
    assert!(second["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains(id));
    // and it is shown, running, with every repository still to read
    let uri = format!("/v1/backfill?id={id}");
    let (status, shown) = call(&state, "GET", &uri, READ_TOKEN, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["state"], "running");
    assert_eq!(shown["repos"][0]["phase"], "repository");
    let (status, _) = call(&state, "GET", "/v1/backfill?id=nope", READ_TOKEN, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
