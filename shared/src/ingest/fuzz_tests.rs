//! No input may panic a normalizer (docs/API.md: no request gets a 5xx). Arbitrary bytes, and real
//! fixtures with fields replaced by values of the wrong type, removed, or the body cut short,
//! must all come back as `Ok` or `Err`.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::argocd::normalize_argocd;
use super::bitbucket::normalize_bitbucket;
use super::generic::{normalize_generic_deployment, normalize_generic_incident};
use super::github::normalize_github;
use super::gitlab::normalize_gitlab;
use super::jira::normalize_jira;
use super::linear::{normalize_linear, webhook_timestamp};
use super::pagerduty::normalize_pagerduty;
use super::{argocd, bitbucket, generic, github, gitlab, jira, linear, pagerduty};

const EVENTS: &[&str] = &[
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "issue_comment",
    "push",
    "deployment",
    "deployment_status",
    "workflow_run",
    "issues",
    "ping",
    "check_suite",
    "dependabot_alert",
    "code_scanning_alert",
    "secret_scanning_alert",
];

/// The `X-Gitlab-Event` values `normalize_gitlab` reads (and one it ignores).
const GITLAB_EVENTS: &[&str] = &[
    "Merge Request Hook",
    "Push Hook",
    "Note Hook",
    "Deployment Hook",
    "Pipeline Hook",
    "Issue Hook",
    "Tag Push Hook",
];

/// Bitbucket's event keys, Cloud's and Data Center's.
const BITBUCKET_KEYS: &[&str] = &[
    "repo:push",
    "pullrequest:created",
    "pullrequest:fulfilled",
    "pullrequest:approved",
    "pullrequest:comment_created",
    "repo:refs_changed",
    "pr:opened",
    "pr:merged",
    "pr:reviewer:needs_work",
    "pr:comment:added",
];

/// Runs every normalizer on `body`; the results are irrelevant, only that each returns.
fn run_all(body: &[u8]) {
    for event in EVENTS {
        let _ = normalize_github(event, "delivery", body);
    }
    for event in GITLAB_EVENTS {
        let _ = normalize_gitlab(event, "delivery", body);
    }
    for key in BITBUCKET_KEYS {
        let _ = normalize_bitbucket(key, "delivery", body);
    }
    let _ = normalize_pagerduty(body);
    let _ = normalize_generic_deployment(body);
    let _ = normalize_generic_incident(body);
    let _ = normalize_jira(body);
    let _ = normalize_linear(body);
    let _ = webhook_timestamp(body);
    let _ = normalize_argocd(body);
}

fn seeds() -> Vec<Value> {
    let mut seeds: Vec<Value> = github::tests::ALL
        .iter()
        .map(|(_, body)| serde_json::from_slice(body).expect("fixture is JSON"))
        .collect();
    for body in [
        pagerduty::tests::TRIGGERED,
        pagerduty::tests::RESOLVED,
        pagerduty::tests::PRIORITY_UPDATED,
    ] {
        seeds.push(serde_json::from_slice(body).expect("fixture is JSON"));
    }
    for (_, body) in gitlab::tests::ALL {
        seeds.push(serde_json::from_slice(body).expect("fixture is JSON"));
    }
    seeds
        .push(serde_json::from_slice(gitlab::tests::GROUP_MERGE_REQUEST).expect("fixture is JSON"));
    for body in jira::tests::ALL
        .into_iter()
        .chain([linear::tests::UPDATE, linear::tests::CREATE])
    {
        seeds.push(serde_json::from_slice(body).expect("fixture is JSON"));
    }
    for body in argocd::tests::ALL {
        seeds.push(serde_json::from_slice(body).expect("fixture is JSON"));
    }
    for (_, body) in bitbucket::tests::ALL {
        seeds.push(serde_json::from_slice(body).expect("fixture is JSON"));
    }
    seeds.push(generic::tests::deployment_json());
    seeds.push(generic::tests::incident_json());
    seeds
}

/// JSON pointers of every node, so a mutation can hit any depth.
fn pointers(value: &Value, prefix: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                let path = format!("{prefix}/{escaped}");
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{prefix}/{i}");
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
}

fn apply(value: &mut Value, mutation: &Mutation) {
    let mut all = Vec::new();
    pointers(value, String::new(), &mut all);
    if all.is_empty() {
        return;
    }
    match mutation {
        Mutation::Replace(i, new) => {
            if let Some(node) = value.pointer_mut(&all[i % all.len()]) {
                *node = new.clone();
            }
        }
        Mutation::Remove(i) => {
            let pointer = &all[i % all.len()];
            if let Some((parent, key)) = pointer.rsplit_once('/') {
                let key = key.replace("~1", "/").replace("~0", "~");
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&key);
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = key.parse::<usize>() {
                            if i < items.len() {
                                items.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        Just(json!("2019-05-15T15:20:33Z")),
        Just(json!("2019-13-45T99:99:99Z")),
        Just(json!("refs/heads/main")),
        Just(json!("refs/tags/v1")),
        Just(json!("success")),
        Just(json!("incident")),
        Just(json!("incident.resolved")),
        Just(json!("jira:issue_updated")),
        Just(json!("2017-01-30T18:30:41.962+0100")),
        Just(json!(1_485_797_534_721_i64)),
        Just(json!("Issue")),
        Just(json!("Succeeded")),
        Just(json!("Running")),
        Just(json!("git@gitlab.com:g/p.git")),
        Just(json!("2016-08-12 15:23:28 UTC")),
        Just(json!("2021-04-28 21:50:00 +0200")),
        Just(json!("MergeRequest")),
        Just(json!("DiffNote")),
        Just(json!("Incident")),
        Just(json!("requested_changes")),
        Just(json!("branch")),
        Just(json!("MERGED")),
        Just(json!("2026-06-05T13:54:44+0000")),
        Just(json!([{"href": "https://h.example/projects/P/repos/r/browse"}])),
        Just(json!("indeterminate")),
        Just(json!([
            "com.atlassian.greenhopper.service.sprint.Sprint@1[name=,state=]"
        ])),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{"name": 1}])),
        Just(json!({"login": null, "type": 3})),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), any_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        1 => any::<usize>().prop_map(Mutation::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        run_all(&body);
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json()) {
        run_all(&serde_json::to_vec(&value).expect("serializes"));
        run_all(&serde_json::to_vec(&json!({"event": value.clone()})).expect("serializes"));
        run_all(&serde_json::to_vec(&json!({"name": "x", "payload": value})).expect("serializes"));
    }

    #[test]
    fn mutated_fixtures_never_panic(
        seed in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let all = seeds();
        let mut value = all[seed % all.len()].clone();
        for m in &mutations {
            apply(&mut value, m);
        }
        let mut body = serde_json::to_vec(&value).expect("serializes");
        if let Some(cut) = cut {
            body.truncate(cut % (body.len() + 1));
        }
        run_all(&body);
    }
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    run_all(deep.as_bytes());
    let deep_object = format!(
        "{{\"pull_request\":{}1{}}}",
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    run_all(deep_object.as_bytes());
}

#[test]
fn oversized_bodies_are_refused_before_parsing() {
    let body = vec![b' '; super::MAX_BODY_BYTES + 1];
    assert_eq!(
        normalize_pagerduty(&body),
        Err(super::IngestError::TooLarge {
            size: super::MAX_BODY_BYTES + 1
        })
    );
    for (parser, result) in [
        ("github", normalize_github("push", "d", &body)),
        ("gitlab", normalize_gitlab("Push Hook", "d", &body)),
        ("generic deployment", normalize_generic_deployment(&body)),
        ("generic incident", normalize_generic_incident(&body)),
        ("jira", normalize_jira(&body)),
        ("linear", normalize_linear(&body)),
        ("bitbucket", normalize_bitbucket("repo:push", "d", &body)),
        ("argocd", normalize_argocd(&body)),
    ] {
        assert!(
            matches!(result, Err(super::IngestError::TooLarge { .. })),
            "{parser}: {result:?}"
        );
    }
    // The webhook reads Linear's timestamp before it normalizes (to refuse a replay), so that
    // read must refuse the size too.
    assert!(matches!(
        webhook_timestamp(&body),
        Err(super::IngestError::TooLarge { .. })
    ));
}
