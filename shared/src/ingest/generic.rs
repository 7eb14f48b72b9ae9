//! Flowmeter's own JSON for deployments from any CI and incidents from any tool (docs/API.md).
//!
//! Unlike third-party payloads, this format is ours, so it is validated strictly: unknown
//! fields, a non-terminal status or a short sha are rejected with a message naming the field,
//! because a typo accepted silently would become a wrong number on a dashboard.
//!
//! Senders have no delivery id, so idempotency comes from content: fact ids start with the
//! first 16 hex digits of a SHA-256 over the parsed, normalized fields. Re-sending the same report
//! (even re-serialized with other whitespace or key order) writes nothing new; a changed report
//! (an incident now resolved, a deployment re-reported with another status) is a new fact on
//! the same entity, and the projection's fold decides which one counts.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::json::{from_value, Timestamp};
use super::{check_id, parse_body, repo_name, IngestError, Normalized};
use crate::model::{DeploymentState, EntityKey, Fact, FactBody, IncidentAction};

/// `POST /webhooks/deployments`: one finished deployment. Gives a `DeploymentRequested` fact at
/// `started_at` (or `finished_at`) and a terminal `DeploymentStatus` at `finished_at`, on entity
/// `Deployment { repo, id: "gen:<id>" }`; without an `id` the entity id is the full content hash,
/// so identical reports are one deployment.
pub fn normalize_generic_deployment(body: &[u8]) -> Result<Normalized, IngestError> {
    let root = parse_body(body)?;
    let report: DeploymentReport = from_value(&root)?;

    let repo = repo_name(&report.repo, "repo")?;
    check_text(&report.environment, "environment", 100)?;
    let sha = full_sha(&report.sha, "sha")?;
    let state = match report.status.to_ascii_lowercase().as_str() {
        "success" => DeploymentState::Success,
        "failure" => DeploymentState::Failure,
        "error" => DeploymentState::Error,
        _ => {
            return Err(IngestError::invalid(
                "status",
                format!(
                    "{:?} is not a finished deployment status; expected success, failure or error",
                    report.status
                ),
            ))
        }
    };
    let finished = report.finished_at.0;
    let started = report.started_at.map(|t| t.0);
    if started.is_some_and(|s| s > finished) {
        return Err(IngestError::invalid("started_at", "is after finished_at"));
    }
    if let Some(id) = &report.id {
        check_id(id, "id")?;
    }
    let hash = content_hash(
        "deployment",
        &[
            Some(&repo),
            Some(&report.environment),
            Some(&sha),
            Some(state_name(state)),
            started.map(instant).as_deref(),
            Some(&instant(finished)),
            report.id.as_deref(),
        ],
    );
    let id = report.id.unwrap_or_else(|| hash.clone());
    let prefix = short(&hash);
    let entity = EntityKey::Deployment {
        repo,
        id: format!("gen:{id}"),
    };
    let requested = Fact {
        entity: entity.clone(),
        id: format!("{prefix}#0"),
        at: started.unwrap_or(finished),
        body: FactBody::DeploymentRequested {
            environment: report.environment.clone(),
            sha: sha.clone(),
            git_ref: None,
            creator: None,
            workflow: None,
            workflow_run: None,
        },
    };
    let status = Fact {
        entity,
        id: format!("{prefix}#1"),
        at: finished,
        body: FactBody::DeploymentStatus {
            state,
            environment: Some(report.environment),
            sha: Some(sha),
            started_at: started,
            workflow_run: None,
        },
    };
    Ok(Normalized::Facts(vec![requested, status]))
}

/// `POST /webhooks/incidents`: the current state of one incident. One `Incident` fact on entity
/// `Incident { id: "gen:<id>" }`: `Opened` at `opened_at`, or `Resolved` at `resolved_at` when
/// that is set. Sending the open report and later the resolved one gives two facts.
pub fn normalize_generic_incident(body: &[u8]) -> Result<Normalized, IngestError> {
    let root = parse_body(body)?;
    let report: IncidentReport = from_value(&root)?;

    check_id(&report.id, "id")?;
    if let Some(service) = &report.service {
        check_text(service, "service", 200)?;
    }
    let severity = match report.severity.as_deref().map(str::to_ascii_lowercase) {
        None => None,
        Some(s) if matches!(s.as_str(), "sev1" | "sev2" | "sev3" | "sev4") => Some(s),
        Some(_) => {
            return Err(IngestError::invalid(
                "severity",
                "must be one of sev1, sev2, sev3, sev4",
            ))
        }
    };
    let deployment_sha = report
        .deployment_sha
        .as_deref()
        .map(|s| commit_sha(s, "deployment_sha"))
        .transpose()?;
    let opened = report.opened_at.0;
    let resolved = report.resolved_at.map(|t| t.0);
    if resolved.is_some_and(|r| r < opened) {
        return Err(IngestError::invalid("resolved_at", "is before opened_at"));
    }
    let title = report.title.unwrap_or_default();
    let hash = content_hash(
        "incident",
        &[
            Some(&report.id),
            Some(&title),
            report.service.as_deref(),
            severity.as_deref(),
            Some(&instant(opened)),
            resolved.map(instant).as_deref(),
            deployment_sha.as_deref(),
        ],
    );
    let action = match resolved {
        Some(_) => IncidentAction::Resolved,
        None => IncidentAction::Opened,
    };
    let fact = Fact {
        entity: EntityKey::Incident {
            id: format!("gen:{}", report.id),
        },
        id: format!("{}#0", short(&hash)),
        at: resolved.unwrap_or(opened),
        body: FactBody::Incident {
            action,
            title,
            service: report.service,
            service_id: None,
            severity,
            urgency: None,
            priority: None,
            labels: Vec::new(),
            deployment_sha,
            repo: None,
            html_url: None,
            opened_at: Some(opened),
            resolved_at: resolved,
        },
    };
    Ok(Normalized::Facts(vec![fact]))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeploymentReport {
    repo: String,
    environment: String,
    sha: String,
    status: String,
    started_at: Option<Timestamp>,
    finished_at: Timestamp,
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentReport {
    id: String,
    title: Option<String>,
    service: Option<String>,
    severity: Option<String>,
    opened_at: Timestamp,
    resolved_at: Option<Timestamp>,
    deployment_sha: Option<String>,
}

fn check_text(value: &str, path: &str, max: usize) -> Result<(), IngestError> {
    if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(IngestError::invalid(
            path,
            format!("must be 1 to {max} printable characters"),
        ));
    }
    Ok(())
}

/// A deployment's sha is matched exactly against the commits of pushes, which are always full
/// shas; an abbreviated one would never match and silently ship nothing.
fn full_sha(raw: &str, path: &str) -> Result<String, IngestError> {
    if matches!(raw.len(), 40 | 64) && raw.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(IngestError::invalid(
            path,
            format!("{raw:?} is not a full commit sha (40 or 64 hex digits)"),
        ))
    }
}

/// An incident's blamed sha is often typed by a person, so an abbreviation is accepted; derive
/// matches it as a prefix.
fn commit_sha(raw: &str, path: &str) -> Result<String, IngestError> {
    if (7..=64).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(IngestError::invalid(
            path,
            format!("{raw:?} is not a commit sha (7 to 64 hex digits)"),
        ))
    }
}

fn state_name(state: DeploymentState) -> &'static str {
    match state {
        DeploymentState::Success => "success",
        DeploymentState::Failure => "failure",
        DeploymentState::Error => "error",
        DeploymentState::InProgress => "in_progress",
        DeploymentState::Queued => "queued",
        DeploymentState::Pending => "pending",
        DeploymentState::Inactive => "inactive",
    }
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// SHA-256 over length-prefixed fields, so no two different field lists hash the same input
/// (plain concatenation would let `("ab", "c")` equal `("a", "bc")`).
fn content_hash(kind: &str, fields: &[Option<&str>]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    for field in fields {
        match field {
            Some(text) => {
                hasher.update([1u8]);
                hasher.update((text.len() as u64).to_be_bytes());
                hasher.update(text.as_bytes());
            }
            None => hasher.update([0u8]),
        }
    }
    hex::encode(hasher.finalize())
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::ingest::testing::{facts_of, incident, ts};

    pub(crate) const SHA: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";

    pub(crate) fn deployment_json() -> Value {
        json!({
            "repo": "Acme/Payments-API",
            "environment": "production",
            "sha": SHA,
            "status": "success",
            "started_at": "2026-10-05T08:00:00Z",
            "finished_at": "2026-10-05T10:12:30+02:00",
            "id": "build-4711"
        })
    }

    pub(crate) fn incident_json() -> Value {
        json!({
            "id": "INC-42",
            "service": "checkout",
            "severity": "sev1",
            "opened_at": "2026-10-05T11:00:00Z",
            "resolved_at": null,
            "title": "Checkout is down",
            "deployment_sha": null
        })
    }

    fn bytes(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).expect("serializes")
    }

    fn facts(result: Result<Normalized, IngestError>) -> Vec<Fact> {
        facts_of(result.expect("accepted"))
    }

    fn with(mut v: Value, key: &str, new: Value) -> Value {
        if let Some(o) = v.as_object_mut() {
            o.insert(key.to_string(), new);
        }
        v
    }

    fn without(mut v: Value, key: &str) -> Value {
        if let Some(o) = v.as_object_mut() {
            o.remove(key);
        }
        v
    }

    fn deployment_error(v: &Value) -> IngestError {
        normalize_generic_deployment(&bytes(v)).expect_err("rejected")
    }

    fn incident_error(v: &Value) -> IngestError {
        normalize_generic_incident(&bytes(v)).expect_err("rejected")
    }

    fn field_of(e: &IngestError) -> &str {
        match e {
            IngestError::MissingField { path }
            | IngestError::BadTimestamp { path, .. }
            | IngestError::InvalidField { path, .. } => path,
            other => panic!("no field in {other:?}"),
        }
    }

    #[test]
    fn deployment_gives_request_and_terminal_status() {
        let all = facts(normalize_generic_deployment(&bytes(&deployment_json())));
        assert_eq!(all.len(), 2);
        let entity = EntityKey::Deployment {
            repo: "acme/payments-api".into(),
            id: "gen:build-4711".into(),
        };
        assert_eq!(all[0].entity, entity);
        assert_eq!(all[1].entity, entity);
        assert_eq!(all[0].at, ts("2026-10-05T08:00:00Z"));
        assert_eq!(all[1].at, ts("2026-10-05T08:12:30Z"));
        assert!(all[0].id.ends_with("#0") && all[1].id.ends_with("#1"));
        assert_eq!(all[0].id.len(), 18);
        assert_eq!(
            all[0].body,
            FactBody::DeploymentRequested {
                environment: "production".into(),
                sha: SHA.into(),
                git_ref: None,
                creator: None,
                workflow: None,
                workflow_run: None,
            }
        );
        assert_eq!(
            all[1].body,
            FactBody::DeploymentStatus {
                state: DeploymentState::Success,
                environment: Some("production".into()),
                sha: Some(SHA.into()),
                started_at: Some(ts("2026-10-05T08:00:00Z")),
                workflow_run: None,
            }
        );
    }

    #[test]
    fn deployment_without_id_or_start() {
        let v = without(without(deployment_json(), "id"), "started_at");
        let v = with(v, "status", json!("failure"));
        let all = facts(normalize_generic_deployment(&bytes(&v)));
        let EntityKey::Deployment { id, .. } = &all[0].entity else {
            panic!("expected a deployment entity");
        };
        let hash = id.strip_prefix("gen:").expect("gen: prefix");
        assert_eq!(hash.len(), 64);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(all[0].at, ts("2026-10-05T08:12:30Z"));
        assert!(matches!(
            all[1].body,
            FactBody::DeploymentStatus {
                state: DeploymentState::Failure,
                started_at: None,
                ..
            }
        ));
        // Same content, other whitespace: the same deployment and the same facts.
        let pretty = serde_json::to_vec_pretty(&v).expect("serializes");
        assert_eq!(
            normalize_generic_deployment(&pretty),
            normalize_generic_deployment(&bytes(&v))
        );
    }

    #[test]
    fn deployment_resend_is_idempotent_and_a_change_is_new() {
        let first = facts(normalize_generic_deployment(&bytes(&deployment_json())));
        let again = facts(normalize_generic_deployment(&bytes(&deployment_json())));
        assert_eq!(first, again);
        let changed = with(deployment_json(), "status", json!("error"));
        let later = facts(normalize_generic_deployment(&bytes(&changed)));
        assert_eq!(later[1].entity, first[1].entity);
        assert_ne!(later[1].id, first[1].id);
    }

    #[test]
    fn deployment_validation() {
        let cases = [
            (with(deployment_json(), "repo", json!("payments")), "repo"),
            (with(deployment_json(), "repo", json!("a/b/c")), "repo"),
            (
                with(deployment_json(), "repo", json!("acme/pay#ments")),
                "repo",
            ),
            (
                with(deployment_json(), "status", json!("in_progress")),
                "status",
            ),
            (with(deployment_json(), "status", json!(1)), "status"),
            (with(deployment_json(), "sha", json!("f95f852")), "sha"),
            (with(deployment_json(), "sha", json!("z".repeat(40))), "sha"),
            (
                with(deployment_json(), "environment", json!(" ")),
                "environment",
            ),
            (
                with(deployment_json(), "started_at", json!("2026-10-05 10:00")),
                "started_at",
            ),
            (
                with(
                    deployment_json(),
                    "started_at",
                    json!("2026-10-06T00:00:00Z"),
                ),
                "started_at",
            ),
            (with(deployment_json(), "id", json!("")), "id"),
            (with(deployment_json(), "branch", json!("main")), "branch"),
            (without(deployment_json(), "finished_at"), "finished_at"),
            (without(deployment_json(), "repo"), "repo"),
        ];
        for (v, field) in cases {
            let e = deployment_error(&v);
            assert_eq!(field_of(&e), field, "{e}");
            assert!(e.to_string().contains(field), "{e}");
        }
        let unknown = deployment_error(&with(deployment_json(), "branch", json!("main")));
        assert!(unknown.to_string().contains("unknown field"), "{unknown}");
        assert!(matches!(
            deployment_error(&with(deployment_json(), "finished_at", json!("yesterday"))),
            IngestError::BadTimestamp { .. }
        ));
        assert!(matches!(
            normalize_generic_deployment(b"{\"repo\":"),
            Err(IngestError::MalformedJson(_))
        ));
    }

    #[test]
    fn open_incident() {
        let all = facts(normalize_generic_incident(&bytes(&incident_json())));
        assert_eq!(all.len(), 1);
        let fact = &all[0];
        assert_eq!(fact.entity, incident("gen:INC-42"));
        assert_eq!(fact.at, ts("2026-10-05T11:00:00Z"));
        assert_eq!(
            fact.body,
            FactBody::Incident {
                action: IncidentAction::Opened,
                title: "Checkout is down".into(),
                service: Some("checkout".into()),
                service_id: None,
                severity: Some("sev1".into()),
                urgency: None,
                priority: None,
                labels: vec![],
                deployment_sha: None,
                repo: None,
                html_url: None,
                opened_at: Some(ts("2026-10-05T11:00:00Z")),
                resolved_at: None,
            }
        );
    }

    #[test]
    fn resolving_an_incident_is_a_new_fact() {
        let open = facts(normalize_generic_incident(&bytes(&incident_json())));
        let open_again = facts(normalize_generic_incident(&bytes(&incident_json())));
        assert_eq!(open, open_again);

        let resolved = with(
            incident_json(),
            "resolved_at",
            json!("2026-10-05T12:30:00Z"),
        );
        let resolved = with(resolved, "deployment_sha", json!("F95F852"));
        let later = facts(normalize_generic_incident(&bytes(&resolved)));
        assert_eq!(later[0].entity, open[0].entity);
        assert_ne!(later[0].id, open[0].id);
        assert_eq!(later[0].at, ts("2026-10-05T12:30:00Z"));
        assert!(matches!(
            &later[0].body,
            FactBody::Incident {
                action: IncidentAction::Resolved,
                resolved_at: Some(_),
                deployment_sha: Some(sha),
                ..
            } if sha == "f95f852"
        ));
    }

    #[test]
    fn minimal_incident() {
        let v = json!({"id": "x", "opened_at": "2026-10-05T11:00:00Z"});
        let all = facts(normalize_generic_incident(&bytes(&v)));
        assert!(matches!(
            &all[0].body,
            FactBody::Incident { title, service: None, severity: None, .. } if title.is_empty()
        ));
    }

    #[test]
    fn incident_validation() {
        let cases = [
            (with(incident_json(), "severity", json!("sev5")), "severity"),
            (
                with(incident_json(), "severity", json!("critical")),
                "severity",
            ),
            (
                with(incident_json(), "opened_at", json!("10/05/2026")),
                "opened_at",
            ),
            (
                with(
                    incident_json(),
                    "resolved_at",
                    json!("2026-10-05T10:00:00Z"),
                ),
                "resolved_at",
            ),
            (
                with(incident_json(), "deployment_sha", json!("abc")),
                "deployment_sha",
            ),
            (with(incident_json(), "service", json!("")), "service"),
            (with(incident_json(), "repo", json!("acme/api")), "repo"),
            (with(incident_json(), "id", json!(42)), "id"),
            (without(incident_json(), "id"), "id"),
            (without(incident_json(), "opened_at"), "opened_at"),
        ];
        for (v, field) in cases {
            let e = incident_error(&v);
            assert_eq!(field_of(&e), field, "{e}");
        }
        let upper = with(incident_json(), "severity", json!("SEV2"));
        let all = facts(normalize_generic_incident(&bytes(&upper)));
        assert!(matches!(
            &all[0].body,
            FactBody::Incident { severity: Some(s), .. } if s == "sev2"
        ));
    }
}
