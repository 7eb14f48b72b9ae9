//! The hand-rendered notifications under `tests/fixtures/argocd` go through the normalizer with
//! their facts checked whole; the shipped template renders to what the parser reads.

use serde_json::{json, Value};

use super::normalize_argocd;
use crate::config::OrgConfig;
use crate::derive::{project_app_state, project_deployment};
use crate::ingest::testing::{facts_of, mutate, remove, set, ts};
use crate::ingest::{check_storable, IngestError, Normalized};
use crate::model::{Actor, DeploymentState, EntityKey, Fact, FactBody};

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../../tests/fixtures/argocd/", $path)).as_slice()
    };
}

pub(crate) const RUNNING: &[u8] = fixture!("running.json");
pub(crate) const SUCCEEDED: &[u8] = fixture!("succeeded.json");
pub(crate) const DEGRADED: &[u8] = fixture!("degraded.json");
pub(crate) const FAILED: &[u8] = fixture!("failed.json");
pub(crate) const OUT_OF_SYNC: &[u8] = fixture!("out_of_sync.json");
const CONFIG_MAP: &str = include_str!("../../../../infra/argocd/argocd-notifications-cm.yaml");
const CATALOG_ON_SYNC_SUCCEEDED: &str =
    include_str!("../../../../tests/fixtures/argocd/catalog.triggers.on-sync-succeeded.yaml");

/// Every fixture, for the fuzz seeds.
pub(crate) const ALL: [&[u8]; 5] = [RUNNING, SUCCEEDED, DEGRADED, FAILED, OUT_OF_SYNC];

const REPO: &str = "argoproj/argocd-example-apps";
const NEW: &str = "53e28ff20cc530b9ada2173fbbd64d48338583ba";
const OLD: &str = "9c1f0ef2b4e3a8d7c6b5a4f3e2d1c0b9a8f7e6d5";
const BROKEN: &str = "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d0";
const ENV: &str = "guestbook-prod";

fn facts(body: &[u8]) -> Vec<Fact> {
    facts_of(normalize_argocd(body).expect("accepted"))
}

fn error(body: &[u8]) -> IngestError {
    normalize_argocd(body).expect_err("rejected")
}

fn missing(path: &str) -> IngestError {
    IngestError::MissingField { path: path.into() }
}

fn deployment(started: &str) -> EntityKey {
    EntityKey::Deployment {
        repo: REPO.into(),
        id: format!("argocd:guestbook@{ENV}:{started}"),
    }
}

fn guestbook() -> EntityKey {
    EntityKey::App {
        id: format!("argocd:guestbook@{ENV}"),
    }
}

fn argocd_bot() -> Option<Actor> {
    Some(Actor {
        login: "argocd".into(),
        is_bot: true,
    })
}

/// The request of the sync started at `started`, as every notification of it carries it.
fn request(started: &str, sha: &str, creator: Option<Actor>) -> Fact {
    Fact {
        entity: deployment(started),
        id: "sync#0".into(),
        at: ts(started),
        body: FactBody::DeploymentRequested {
            environment: ENV.into(),
            sha: sha.into(),
            git_ref: Some("HEAD".into()),
            creator,
            workflow: None,
            workflow_run: None,
        },
    }
}

/// The outcome of the sync started at `started`.
fn outcome(started: &str, finished: &str, state: DeploymentState, sha: &str) -> Fact {
    Fact {
        entity: deployment(started),
        id: "sync#1".into(),
        at: ts(finished),
        body: FactBody::DeploymentStatus {
            state,
            environment: Some(ENV.into()),
            sha: Some(sha.into()),
            started_at: Some(ts(started)),
            workflow_run: None,
        },
    }
}

/// The automated sync of 10:00.
fn request_of_the_10_00_sync() -> Fact {
    request("2026-10-05T10:00:00Z", NEW, argocd_bot())
}

fn success_of_the_10_00_sync() -> Fact {
    outcome(
        "2026-10-05T10:00:00Z",
        "2026-10-05T10:01:12Z",
        DeploymentState::Success,
        NEW,
    )
}

/// Guestbook's state as observed at `at`; the id is checked separately (a content hash).
fn guestbook_state(at: &str, sync: &str, health: &str, synced: &str) -> FactBody {
    FactBody::AppState {
        app: "guestbook".into(),
        environment: ENV.into(),
        repo: Some(REPO.into()),
        desired_revision: Some("HEAD".into()),
        synced_revision: Some(synced.into()),
        sync_status: sync.into(),
        health: health.into(),
        observed_at: ts(at),
    }
}

/// The app-state fact of a notification: its entity, time and body; its id has the form
/// `state:<32 hex digits>#0`.
fn assert_state(fact: &Fact, entity: &EntityKey, body: FactBody) {
    assert_eq!(&fact.entity, entity);
    let FactBody::AppState { observed_at, .. } = &body else {
        panic!("an app state")
    };
    assert_eq!(fact.at, *observed_at);
    assert_eq!(fact.body, body);
    let hash = fact
        .id
        .strip_prefix("state:")
        .and_then(|rest| rest.strip_suffix("#0"))
        .expect("state:<hash>#0");
    assert_eq!(hash.len(), 32);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
}

// ---- each notification ------------------------------------------------------------------------

#[test]
fn a_running_sync_writes_its_request_and_the_app_state() {
    // given the notification of an automated sync that started at 10:00
    // when it is normalized
    let all = facts(RUNNING);
    // then the deployment is requested (no outcome yet), and the app is seen out of sync
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0], request_of_the_10_00_sync());
    assert_state(
        &all[1],
        &guestbook(),
        guestbook_state("2026-10-05T10:00:01.112Z", "OutOfSync", "Healthy", OLD),
    );
}

#[test]
fn a_succeeded_sync_is_a_finished_successful_deployment() {
    // given the notification of the same sync, succeeded at 10:01:12
    let all = facts(SUCCEEDED);
    // then the request is the running notification's, the outcome is a success at the finish
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all[0], request_of_the_10_00_sync());
    assert_eq!(all[1], success_of_the_10_00_sync());
    assert_state(
        &all[2],
        &guestbook(),
        guestbook_state("2026-10-05T10:01:12.345Z", "Synced", "Progressing", NEW),
    );
    assert_eq!(check_storable(&all), Ok(()));
}

#[test]
fn a_degraded_app_repeats_its_last_sync_and_reports_the_health() {
    // given the app degraded after that sync
    let all = facts(DEGRADED);
    // then the sync's two facts are the ones already written (nothing new), and the app is
    // seen degraded
    assert_eq!(
        all[..2],
        [request_of_the_10_00_sync(), success_of_the_10_00_sync()]
    );
    assert_state(
        &all[2],
        &guestbook(),
        guestbook_state("2026-10-05T10:07:30.500Z", "Synced", "Degraded", NEW),
    );
    assert_ne!(all[2].id, facts(SUCCEEDED)[2].id, "another observation");
}

#[test]
fn a_failed_manual_sync_is_a_failed_deployment_by_its_user() {
    // given alice's sync of a broken commit, failed at 11:00:09, with a quoted name in its
    // message
    let all = facts(FAILED);
    // then it is another deployment (its own start), requested by alice, failed at its finish
    let alice = Some(Actor {
        login: "alice".into(),
        is_bot: false,
    });
    let started = "2026-10-05T11:00:00Z";
    assert_eq!(
        all[..2],
        [
            request(started, BROKEN, alice),
            outcome(
                started,
                "2026-10-05T11:00:09Z",
                DeploymentState::Failure,
                BROKEN
            ),
        ]
    );
    // and the app still runs the last good commit, out of sync with its source
    assert_state(
        &all[2],
        &guestbook(),
        guestbook_state("2026-10-05T11:00:09.871Z", "OutOfSync", "Healthy", NEW),
    );
}

#[test]
fn an_error_phase_is_an_errored_deployment() {
    let body = mutate(FAILED, |v| set(v, "/operation/phase", json!("Error")));
    let all = facts(&body);
    assert!(matches!(
        all[1].body,
        FactBody::DeploymentStatus {
            state: DeploymentState::Error,
            ..
        }
    ));
}

#[test]
fn an_app_never_synced_reports_its_state_only() {
    // given an out-of-sync notification of an app that has no operation
    let all = facts(OUT_OF_SYNC);
    // then only its state is written
    assert_eq!(all.len(), 1, "{all:?}");
    assert_state(
        &all[0],
        &EntityKey::App {
            id: "argocd:helm-guestbook@guestbook-staging".into(),
        },
        FactBody::AppState {
            app: "helm-guestbook".into(),
            environment: "guestbook-staging".into(),
            repo: Some(REPO.into()),
            desired_revision: Some("master".into()),
            synced_revision: Some(NEW.into()),
            sync_status: "OutOfSync".into(),
            health: "Missing".into(),
            observed_at: ts("2026-10-05T12:30:00.004Z"),
        },
    );
}

// ---- identity ---------------------------------------------------------------------------------

#[test]
fn the_same_notification_twice_gives_identical_facts() {
    for body in ALL {
        assert_eq!(facts(body), facts(body));
    }
}

#[test]
fn the_state_id_is_the_contents_not_the_bytes_or_the_trigger() {
    // given the succeeded notification re-indented, and sent by another trigger
    let value: Value = serde_json::from_slice(SUCCEEDED).expect("JSON");
    let compact = serde_json::to_vec(&value).expect("serializes");
    let other_trigger = mutate(SUCCEEDED, |v| {
        set(v, "/trigger", json!("flowmeter-in-sync"))
    });
    // then the facts are the same
    assert_eq!(facts(&compact), facts(SUCCEEDED));
    assert_eq!(facts(&other_trigger), facts(SUCCEEDED));
    // and another observation time is another fact
    let later = mutate(SUCCEEDED, |v| {
        set(v, "/observed_at", json!("2026-10-05T10:01:13Z"))
    });
    assert_ne!(facts(&later)[2].id, facts(SUCCEEDED)[2].id);
}

// ---- degraded input ---------------------------------------------------------------------------

#[test]
fn a_running_sync_of_an_unresolved_revision_writes_no_request() {
    // given a manual sync still running, that asked for HEAD
    let body = mutate(RUNNING, |v| {
        set(v, "/operation/sync_revision", json!("HEAD"))
    });
    // then only the app state is written: the request comes with the resolved commit
    let all = facts(&body);
    assert_eq!(all.len(), 1);
    assert!(matches!(all[0].body, FactBody::AppState { .. }));
    // and with no app state either, the notification is ignored
    let bare = mutate(&body, |v| {
        set(v, "/sync_status", Value::Null);
        set(v, "/health_status", Value::Null);
    });
    assert!(matches!(
        normalize_argocd(&bare),
        Ok(Normalized::Ignored(_))
    ));
}

#[test]
fn a_finished_sync_without_its_revision_takes_the_synced_one() {
    let body = mutate(SUCCEEDED, |v| set(v, "/operation/sync_revision", json!("")));
    assert_eq!(facts(&body)[..2], facts(SUCCEEDED)[..2]);
    let neither = mutate(&body, |v| set(v, "/synced_revision", Value::Null));
    assert_eq!(error(&neither), missing("operation.sync_revision"));
}

#[test]
fn the_environment_falls_back_to_the_destination() {
    // given a template edited to report no environment
    let body = mutate(SUCCEEDED, |v| set(v, "/environment", Value::Null));
    // then the destination namespace is the environment
    assert_eq!(facts(&body), facts(SUCCEEDED));
    // then the destination cluster's name, then nothing: a 400
    let named = mutate(&body, |v| {
        set(v, "/destination/namespace", json!(""));
        set(v, "/destination/name", json!("prod-eu"));
    });
    assert_eq!(
        facts(&named)[0].entity,
        EntityKey::Deployment {
            repo: REPO.into(),
            id: "argocd:guestbook@prod-eu:2026-10-05T10:00:00Z".into(),
        }
    );
    let none = mutate(&body, |v| remove(v, "/destination"));
    assert_eq!(error(&none), missing("environment"));
}

#[test]
fn the_app_state_time_falls_back_to_the_operation() {
    let body = mutate(SUCCEEDED, |v| remove(v, "/observed_at"));
    assert_eq!(facts(&body)[2].at, ts("2026-10-05T10:01:12Z"));
    let unsynced = mutate(OUT_OF_SYNC, |v| remove(v, "/observed_at"));
    assert_eq!(error(&unsynced), missing("observed_at"));
}

#[test]
fn repositories_of_other_forges_are_named_by_their_address() {
    for (url, repo) in [
        (
            "git@gitlab.com:platform/deploy/guestbook.git",
            "gitlab.com/platform/deploy/guestbook",
        ),
        (
            "https://bitbucket.org/acme/guestbook",
            "bitbucket.org/acme/guestbook",
        ),
        ("https://GitHub.com/ArgoProj/argocd-example-apps", REPO),
    ] {
        let body = mutate(SUCCEEDED, |v| set(v, "/repo_url", json!(url)));
        let EntityKey::Deployment { repo: got, .. } = &facts(&body)[0].entity else {
            panic!("a deployment")
        };
        assert_eq!(got, repo, "{url}");
    }
}

#[test]
fn an_app_with_no_state_and_no_operation_is_ignored() {
    assert_eq!(
        normalize_argocd(br#"{"app": "guestbook"}"#),
        Ok(Normalized::Ignored(
            "no sync operation and no application state"
        ))
    );
}

// ---- bad input --------------------------------------------------------------------------------

#[test]
fn broken_bodies_are_rejected_naming_the_field() {
    assert!(matches!(
        error(b"{\"app\": "),
        IngestError::MalformedJson(_)
    ));
    let cases: Vec<(Vec<u8>, IngestError)> = vec![
        (mutate(SUCCEEDED, |v| remove(v, "/app")), missing("app")),
        (
            mutate(SUCCEEDED, |v| set(v, "/operation/finished_at", Value::Null)),
            missing("operation.finished_at"),
        ),
        (
            mutate(RUNNING, |v| remove(v, "/operation/started_at")),
            missing("operation.started_at"),
        ),
        (
            mutate(SUCCEEDED, |v| remove(v, "/repo_url")),
            missing("repo_url"),
        ),
        (
            mutate(SUCCEEDED, |v| {
                set(v, "/operation/started_at", json!("5 minutes ago"))
            }),
            IngestError::BadTimestamp {
                path: "operation.started_at".into(),
                value: "5 minutes ago".into(),
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(error(&body), expected);
    }
    let invalid = |body: &[u8], path: &str| match error(body) {
        IngestError::InvalidField { path: p, .. } => assert_eq!(p, path),
        other => panic!("expected {path} invalid, got {other:?}"),
    };
    // a Helm repository is no Git repository Flowmeter can name
    invalid(
        &mutate(SUCCEEDED, |v| {
            set(v, "/repo_url", json!("https://charts.bitnami.com/bitnami"))
        }),
        "repo_url",
    );
    invalid(
        &mutate(SUCCEEDED, |v| set(v, "/operation/phase", json!("Done"))),
        "operation.phase",
    );
    invalid(&mutate(SUCCEEDED, |v| set(v, "/app", json!(7))), "app");
    invalid(
        &mutate(SUCCEEDED, |v| set(v, "/operation", json!([]))),
        "operation",
    );
}

#[test]
fn hostile_strings_are_refused_or_kept_as_strings() {
    // control characters in a name that becomes a key: refused
    let body = mutate(SUCCEEDED, |v| set(v, "/app", json!("guest\nbook")));
    assert!(matches!(error(&body), IngestError::InvalidField { path, .. } if path == "app"));
    let body = mutate(SUCCEEDED, |v| {
        set(v, "/environment", json!("x".repeat(201)))
    });
    assert!(
        matches!(error(&body), IngestError::InvalidField { path, .. } if path == "environment")
    );
    // quotes, '#', '@' and non-ASCII in names: just strings, and storable
    let body = mutate(SUCCEEDED, |v| {
        set(v, "/app", json!("g\"uest#bo@ok ☃"));
        set(v, "/environment", json!("prod#1 \"eu\""));
        set(v, "/target_revision", json!("\u{202e}evil"));
    });
    let all = facts(&body);
    assert_eq!(check_storable(&all), Ok(()));
    assert_eq!(
        EntityKey::from_partition_key(&all[2].entity.partition_key()),
        Some(all[2].entity.clone())
    );
}

// ---- what derive makes of them ----------------------------------------------------------------

#[test]
fn derive_counts_the_syncs_as_production_deployments_and_tracks_the_drift() {
    // given every notification of guestbook, in the order they might arrive
    let config = OrgConfig::from_yaml(
        "org: acme\nenvironments: { production: [production, prod, '*-prod'] }",
    )
    .expect("config");
    let all: Vec<Fact> = [DEGRADED, FAILED, RUNNING, SUCCEEDED, DEGRADED]
        .into_iter()
        .flat_map(facts)
        .collect();
    let of = |entity: &EntityKey| -> Vec<Fact> {
        all.iter()
            .filter(|f| &f.entity == entity)
            .cloned()
            .collect()
    };
    // when the deployments are projected
    let ok = project_deployment(
        &deployment("2026-10-05T10:00:00Z"),
        &of(&deployment("2026-10-05T10:00:00Z")),
        &config,
    )
    .expect("a deployment");
    let failed = project_deployment(
        &deployment("2026-10-05T11:00:00Z"),
        &of(&deployment("2026-10-05T11:00:00Z")),
        &config,
    )
    .expect("a deployment");
    // then both count as finished production deployments, one failed
    assert!(ok.is_successful_production());
    assert_eq!(ok.sha.as_deref(), Some(NEW));
    assert_eq!(ok.started_at, Some(ts("2026-10-05T10:00:00Z")));
    assert_eq!(ok.finished_at, Some(ts("2026-10-05T10:01:12Z")));
    assert!(failed.is_production_attempt() && failed.is_failed());
    // and the app has drifted since the sync began (out of sync, then progressing, degraded,
    // then out of sync with the broken commit)
    let state = project_app_state(&guestbook(), &of(&guestbook())).expect("a state");
    assert_eq!(state.drift_since, Some(ts("2026-10-05T10:00:01.112Z")));
    assert_eq!(state.synced_revision.as_deref(), Some(NEW));
    assert_eq!(state.sync_status, "OutOfSync");
}

// ---- the shipped template ---------------------------------------------------------------------

/// The keys of the template's data, parsed: `data.<key>` as YAML.
fn config_map_entry(key: &str) -> serde_yaml_ng::Value {
    let config_map: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(CONFIG_MAP).expect("the ConfigMap is YAML");
    let text = config_map["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("data.{key} is a string"));
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("data.{key} is YAML: {e}"))
}

fn body_template() -> String {
    config_map_entry("template.app-flowmeter")["webhook"]["flowmeter"]["body"]
        .as_str()
        .expect("webhook.flowmeter.body")
        .to_string()
}

/// The template's actions (`{{ ... }}`), in order, with the text before each.
fn actions(template: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once("{{") {
        let (action, tail) = after.split_once("}}").expect("an action is closed");
        out.push((before, action.trim_matches('-').trim()));
        rest = tail;
    }
    out.push((rest, ""));
    out
}

/// A test-only rendering of the body: an action that prints (`toJson ...`) becomes the value
/// that `sample` holds under the JSON key the action is the value of; every other action
/// (comments, variables, `if`/`with`/`end`) prints nothing, as in Go.
fn render(template: &str, sample: &Value) -> String {
    let mut leaves = std::collections::BTreeMap::new();
    collect_leaves(sample, &mut leaves);
    let mut out = String::new();
    for (text, action) in actions(template) {
        out.push_str(text);
        if action.contains("toJson") {
            let key = out
                .rsplit_once("\":")
                .and_then(|(head, _)| head.rsplit_once('"'))
                .map(|(_, key)| key.to_string())
                .expect("a printed value follows a key");
            let value = leaves
                .get(&key)
                .unwrap_or_else(|| panic!("the sample has no {key:?}"));
            out.push_str(&value.to_string());
        }
    }
    out
}

fn collect_leaves(value: &Value, out: &mut std::collections::BTreeMap<String, Value>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            if child.is_object() {
                collect_leaves(child, out);
            } else {
                assert!(
                    out.insert(key.clone(), child.clone()).is_none(),
                    "leaf key {key:?} is unique"
                );
            }
        }
    }
}

#[test]
fn the_shipped_template_renders_what_the_parser_reads() {
    // given the template of infra/argocd, rendered with the succeeded notification's values
    let sample: Value = serde_json::from_slice(SUCCEEDED).expect("JSON");
    let rendered = render(&body_template(), &sample);
    // then it is that notification, key for key
    let value: Value = serde_json::from_str(&rendered).expect("the rendering is JSON");
    assert_eq!(value, sample);
    // and it normalizes to the same facts
    assert_eq!(facts(rendered.as_bytes()), facts(SUCCEEDED));
}

#[test]
fn every_value_the_template_prints_goes_through_to_json() {
    for (_, action) in actions(&body_template()) {
        let silent = action.is_empty()
            || action.starts_with("/*")
            || ["if ", "with ", "else", "end"]
                .iter()
                .any(|k| action.starts_with(k))
            || action.starts_with('$') && (action.contains(":=") || action.contains(" = "));
        assert!(
            silent || action.starts_with("toJson "),
            "{action:?} prints a value without toJson"
        );
    }
}

#[test]
fn every_trigger_sends_the_template_and_is_subscribed_under_its_name() {
    let triggers = [
        "flowmeter-sync-running",
        "flowmeter-sync-succeeded",
        "flowmeter-sync-failed",
        "flowmeter-health-degraded",
        "flowmeter-sync-status-unknown",
        "flowmeter-out-of-sync",
        "flowmeter-in-sync",
    ];
    let subscriptions = config_map_entry("subscriptions");
    for trigger in triggers {
        let conditions = config_map_entry(&format!("trigger.{trigger}"));
        assert_eq!(
            conditions[0]["send"],
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>("[app-flowmeter]").expect("YAML"),
            "{trigger}"
        );
        let recipient = format!("flowmeter:{trigger}");
        let subscribed = subscriptions
            .as_sequence()
            .expect("a list")
            .iter()
            .any(|s| {
                s["recipients"][0].as_str() == Some(&recipient)
                    && s["triggers"][0].as_str() == Some(trigger)
            });
        assert!(subscribed, "{trigger} is subscribed as {recipient}");
    }
    // The succeeded trigger is the catalog's condition (with a guard for apps never synced).
    let catalog: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(CATALOG_ON_SYNC_SUCCEEDED).expect("YAML");
    let ours = config_map_entry("trigger.flowmeter-sync-succeeded");
    let (theirs, ours) = (
        catalog[0]["when"].as_str().expect("when"),
        ours[0]["when"].as_str().expect("when"),
    );
    assert!(ours.ends_with(theirs), "{ours} vs {theirs}");
}
