//! GitHub's security alert examples (octokit/webhooks, tests/fixtures/README.md) and mutations
//! of them through the normalizer: each is one dated snapshot of its alert, or a clear skip.

use serde_json::{json, Value};

use super::super::normalize_github;
use crate::ingest::testing::{mutate, ts};
use crate::ingest::{IngestError, Normalized};
use crate::model::{
    AlertKind, AlertSeverity, AlertSnapshot, AlertState, EntityKey, Fact, FactBody,
};

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../../tests/fixtures/github/", $path)).as_slice()
    };
}

const DEPENDABOT_CREATED: &[u8] = fixture!("dependabot_alert/created.payload.json");
const DEPENDABOT_FIXED: &[u8] = fixture!("dependabot_alert/fixed.payload.json");
const CODE_CREATED: &[u8] = fixture!("code_scanning_alert/created.payload.json");
const CODE_FIXED: &[u8] = fixture!("code_scanning_alert/fixed.payload.json");
const CODE_CLOSED: &[u8] = fixture!("code_scanning_alert/closed-by-user.payload.json");
const CODE_REOPENED: &[u8] = fixture!("code_scanning_alert/reopened.payload.json");
const SECRET_REOPENED: &[u8] = fixture!("secret_scanning_alert/reopened.payload.json");

fn one(event: &str, body: &[u8]) -> (Fact, AlertSnapshot) {
    match normalize_github(event, "d-1", body) {
        Ok(Normalized::Facts(facts)) if facts.len() == 1 => {
            let fact = facts[0].clone();
            match &fact.body {
                FactBody::SecurityAlert(snapshot) => {
                    let snapshot = snapshot.clone();
                    (fact, snapshot)
                }
                other => panic!("{event}: not an alert: {other:?}"),
            }
        }
        other => panic!("{event}: expected one fact, got {other:?}"),
    }
}

#[test]
fn a_dependabot_alert_is_found_then_fixed_with_its_advisory_s_severity() {
    let (fact, created) = one("dependabot_alert", DEPENDABOT_CREATED);
    assert_eq!(
        fact.entity,
        EntityKey::Alert {
            repo: "wolfy1339/pika-pack".into(),
            id: "dependabot:20".into()
        }
    );
    assert_eq!(fact.at, ts("2023-06-24T13:57:12Z"));
    assert_eq!(
        created,
        AlertSnapshot {
            kind: AlertKind::Dependabot,
            number: 20,
            state: AlertState::Open,
            severity: AlertSeverity::Medium,
            title: "semver vulnerable to Regular Expression Denial of Service".into(),
            created_at: ts("2023-06-24T13:57:12Z"),
            closed_at: None,
            html_url: Some("https://github.com/wolfy1339/pika-pack/security/dependabot/20".into()),
        }
    );
    let (fact, fixed) = one("dependabot_alert", DEPENDABOT_FIXED);
    assert_eq!(fixed.state, AlertState::Fixed);
    assert_eq!(fixed.closed_at, Some(ts("2022-06-15T13:55:40Z")));
    assert_eq!(fact.at, ts("2022-06-15T13:55:40Z"), "updated_at");
    assert!(fact.id.starts_with("alert:fixed:"), "{}", fact.id);
}

#[test]
fn code_scanning_alerts_take_the_rule_s_severity_and_their_closing() {
    let (fact, created) = one("code_scanning_alert", CODE_CREATED);
    assert_eq!(
        (created.kind, created.state, created.severity),
        (
            AlertKind::CodeScanning,
            AlertState::Open,
            AlertSeverity::High
        ),
        "rule severity `error`, no security severity: high"
    );
    assert_eq!(created.title, "Query built from user-controlled sources");
    assert_eq!(fact.at, ts("2021-02-11T03:10:43Z"));
    // fixed, undated in GitHub's example: at its creation, closed when the fact is
    let (fact, fixed) = one("code_scanning_alert", CODE_FIXED);
    assert_eq!((fixed.state, fixed.closed_at), (AlertState::Fixed, None));
    assert_eq!(fact.at, ts("2021-02-11T03:10:43Z"));
    let (fact, dismissed) = one("code_scanning_alert", CODE_CLOSED);
    assert_eq!(dismissed.state, AlertState::Dismissed);
    assert_eq!(dismissed.closed_at, Some(ts("2021-02-11T02:59:08Z")));
    assert_eq!(fact.at, ts("2021-02-11T02:59:08Z"));
    let (_, reopened) = one("code_scanning_alert", CODE_REOPENED);
    assert_eq!(
        (reopened.state, reopened.severity),
        (AlertState::Open, AlertSeverity::Low),
        "rule severity `note`: low"
    );
    // a security severity wins over the rule's
    let graded = mutate(CODE_CREATED, |v| {
        v["alert"]["rule"]["security_severity_level"] = json!("critical");
    });
    assert_eq!(
        one("code_scanning_alert", &graded).1.severity,
        AlertSeverity::Critical
    );
}

#[test]
fn a_secret_is_critical_and_revoking_it_fixes_it() {
    let secret = |action: &str, state: &str, resolution: Value| {
        let body = json!({
            "action": action,
            "alert": {
                "number": 3, "state": state, "resolution": resolution,
                "secret_type": "github_personal_access_token",
                "secret_type_display_name": "GitHub Personal Access Token",
                "created_at": "2026-10-05T08:00:00Z", "updated_at": "2026-10-05T09:30:00Z",
                "resolved_at": if state == "resolved" { json!("2026-10-05T09:30:00Z") } else { Value::Null },
                "html_url": "https://github.com/acme/api/security/secret-scanning/3"
            },
            "repository": {"full_name": "acme/api"}
        });
        one("secret_scanning_alert", body.to_string().as_bytes()).1
    };
    let created = secret("created", "open", Value::Null);
    assert_eq!(
        (created.kind, created.state, created.severity),
        (
            AlertKind::SecretScanning,
            AlertState::Open,
            AlertSeverity::Critical
        )
    );
    assert_eq!(created.title, "GitHub Personal Access Token");
    let revoked = secret("resolved", "resolved", json!("revoked"));
    assert_eq!(revoked.state, AlertState::Fixed);
    assert_eq!(revoked.closed_at, Some(ts("2026-10-05T09:30:00Z")));
    let false_positive = secret("resolved", "resolved", json!("false_positive"));
    assert_eq!(false_positive.state, AlertState::Dismissed);
    // GitHub's example carries no time: accepted and skipped
    assert!(matches!(
        normalize_github("secret_scanning_alert", "d-1", SECRET_REOPENED),
        Ok(Normalized::Ignored("security alert without a time"))
    ));
}

#[test]
fn the_same_body_is_the_same_fact_and_a_broken_alert_is_a_400_naming_the_field() {
    let first = one("dependabot_alert", DEPENDABOT_CREATED).0;
    let again = match normalize_github("dependabot_alert", "another-delivery", DEPENDABOT_CREATED) {
        Ok(Normalized::Facts(facts)) => facts[0].clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(first, again, "the delivery id is not the fact's identity");
    let cases = [
        (
            "alert.number",
            mutate(DEPENDABOT_CREATED, |v| {
                v["alert"]["number"] = json!("twenty")
            }),
        ),
        (
            "alert.created_at",
            mutate(DEPENDABOT_CREATED, |v| {
                v["alert"]["created_at"] = json!("yesterday")
            }),
        ),
        (
            "repository.full_name",
            mutate(CODE_CREATED, |v| {
                v["repository"]["full_name"] = json!("a/b/c")
            }),
        ),
    ];
    for (field, body) in cases {
        match normalize_github("dependabot_alert", "d-1", &body) {
            Err(err @ (IngestError::InvalidField { .. } | IngestError::BadTimestamp { .. })) => {
                assert!(err.to_string().contains(field), "{field}: {err}")
            }
            other => panic!("{field}: expected a 400, got {other:?}"),
        }
    }
    // an action that changes nothing counted, without a state, is skipped
    let assigned = mutate(CODE_CREATED, |v| {
        v["action"] = json!("updated_assignment");
        v["alert"]["state"] = Value::Null;
    });
    assert!(matches!(
        normalize_github("code_scanning_alert", "d-1", &assigned),
        Ok(Normalized::Ignored("alert action not tracked"))
    ));
}
