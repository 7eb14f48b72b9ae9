//! GitHub's security alert webhooks (`dependabot_alert`, `code_scanning_alert`,
//! `secret_scanning_alert`) to facts: each delivery carries the whole alert, so each is a
//! snapshot of it (`FactBody::SecurityAlert`) on the alert's entity, and the latest wins.
//!
//! The fact's time is the alert's latest dated change (`updated_at`, else when it was fixed,
//! dismissed or resolved, else `created_at`); its id is the action and a hash of the body, so
//! a redelivery is the same fact. An alert that carries no time at all (GitHub's documentation
//! example of `secret_scanning_alert`) is accepted and skipped: a fact must be dated, and a 400
//! would only make GitHub show the delivery as failed.

use serde::Deserialize;

use super::super::json::{from_value, Timestamp};
use super::super::{parse_body, repo_name, IngestError, Normalized};
use super::Facts;
use crate::model::{AlertKind, AlertSeverity, AlertSnapshot, AlertState, EntityKey, FactBody};

/// The scanner of a security alert event (`X-GitHub-Event`); `None` for any other event.
pub(super) fn alert_kind(event: &str) -> Option<AlertKind> {
    match event {
        "dependabot_alert" => Some(AlertKind::Dependabot),
        "code_scanning_alert" => Some(AlertKind::CodeScanning),
        "secret_scanning_alert" => Some(AlertKind::SecretScanning),
        _ => None,
    }
}

#[derive(Deserialize)]
struct AlertEvent {
    action: String,
    alert: Alert,
    repository: Repository,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Alert {
    number: u64,
    state: Option<String>,
    html_url: Option<String>,
    created_at: Option<Timestamp>,
    updated_at: Option<Timestamp>,
    fixed_at: Option<Timestamp>,
    dismissed_at: Option<Timestamp>,
    auto_dismissed_at: Option<Timestamp>,
    resolved_at: Option<Timestamp>,
    /// Secret scanning: `revoked` (fixed), `false_positive`, `wont_fix`, `used_in_tests`,
    /// `pattern_deleted`, `pattern_edited` (dismissed).
    resolution: Option<String>,
    /// Dependabot.
    security_advisory: Option<Advisory>,
    /// Dependabot, the vulnerable range's own severity.
    security_vulnerability: Option<Vulnerability>,
    /// Code scanning.
    rule: Option<Rule>,
    /// Secret scanning.
    secret_type_display_name: Option<String>,
    secret_type: Option<String>,
}

#[derive(Deserialize)]
struct Advisory {
    severity: Option<String>,
    summary: Option<String>,
}

#[derive(Deserialize)]
struct Vulnerability {
    severity: Option<String>,
}

#[derive(Deserialize)]
struct Rule {
    /// `low` … `critical`, for rules with a security severity.
    security_severity_level: Option<String>,
    /// `none`, `note`, `warning`, `error`.
    severity: Option<String>,
    description: Option<String>,
    id: Option<String>,
}

pub(super) fn normalize(
    kind: AlertKind,
    facts: &Facts,
    body: &[u8],
) -> Result<Normalized, IngestError> {
    let root = parse_body(body)?;
    let event: AlertEvent = from_value(&root)?;
    let alert = event.alert;
    let Some(state) = state_of(kind, &event.action, &alert) else {
        return Ok(Normalized::Ignored("alert action not tracked"));
    };
    let closed_at = match state {
        AlertState::Open => None,
        _ => [
            &alert.fixed_at,
            &alert.dismissed_at,
            &alert.auto_dismissed_at,
            &alert.resolved_at,
        ]
        .into_iter()
        .flatten()
        .map(|t| t.0)
        .max(),
    };
    let Some(created_at) = alert.created_at.as_ref().map(|t| t.0) else {
        return Ok(Normalized::Ignored("security alert without a time"));
    };
    let at = alert
        .updated_at
        .as_ref()
        .map(|t| t.0)
        .or(closed_at)
        .unwrap_or(created_at)
        .max(created_at);
    let repo = repo_name(&event.repository.full_name, "repository.full_name")?;
    let entity = EntityKey::Alert {
        repo,
        id: format!("{}:{}", kind.prefix(), alert.number),
    };
    let snapshot = AlertSnapshot {
        kind,
        number: alert.number,
        state,
        severity: severity_of(kind, &alert),
        title: title_of(kind, &alert),
        created_at,
        closed_at,
        html_url: alert.html_url.clone(),
    };
    let identity = facts.body_identity(&format!("alert:{}", event.action));
    Ok(facts.one(
        &identity,
        entity,
        Timestamp(at),
        FactBody::SecurityAlert(snapshot),
    ))
}

/// The alert's state after the event: what the payload's `state` says, else what the action
/// implies. Actions that change nothing we count (an assignee, a validity check) keep the
/// payload's state; without one they are skipped.
fn state_of(kind: AlertKind, action: &str, alert: &Alert) -> Option<AlertState> {
    let resolved = || match alert.resolution.as_deref() {
        Some("revoked") => AlertState::Fixed,
        _ => AlertState::Dismissed,
    };
    let from_state = match alert.state.as_deref() {
        Some("open") => Some(AlertState::Open),
        Some("fixed") => Some(AlertState::Fixed),
        Some("dismissed" | "auto_dismissed" | "closed") => Some(AlertState::Dismissed),
        Some("resolved") => Some(resolved()),
        _ => None,
    };
    let from_action = match action {
        "created" | "reopened" | "reopened_by_user" | "reintroduced" | "auto_reopened"
        | "appeared_in_branch" => Some(AlertState::Open),
        "fixed" => Some(AlertState::Fixed),
        "dismissed" | "auto_dismissed" | "closed_by_user" => Some(AlertState::Dismissed),
        "resolved" if kind == AlertKind::SecretScanning => Some(resolved()),
        _ => None,
    };
    from_state.or(from_action)
}

/// Dependabot's advisory severity; code scanning's security severity, else its rule severity
/// (`error` as high, `warning` as medium, `note` and `none` as low); a leaked secret is
/// critical (GitHub grades none).
fn severity_of(kind: AlertKind, alert: &Alert) -> AlertSeverity {
    let graded = |text: Option<&str>| match text.map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => Some(AlertSeverity::Critical),
        Some("high") => Some(AlertSeverity::High),
        Some("medium" | "moderate") => Some(AlertSeverity::Medium),
        Some("low") => Some(AlertSeverity::Low),
        _ => None,
    };
    match kind {
        AlertKind::SecretScanning => AlertSeverity::Critical,
        AlertKind::Dependabot => graded(
            alert
                .security_advisory
                .as_ref()
                .and_then(|a| a.severity.as_deref()),
        )
        .or_else(|| {
            graded(
                alert
                    .security_vulnerability
                    .as_ref()
                    .and_then(|v| v.severity.as_deref()),
            )
        })
        .unwrap_or(AlertSeverity::Medium),
        AlertKind::CodeScanning => {
            let rule = alert.rule.as_ref();
            graded(rule.and_then(|r| r.security_severity_level.as_deref())).unwrap_or(
                match rule.and_then(|r| r.severity.as_deref()) {
                    Some("error") => AlertSeverity::High,
                    Some("warning") => AlertSeverity::Medium,
                    _ => AlertSeverity::Low,
                },
            )
        }
    }
}

/// What was found, at most 200 characters.
fn title_of(kind: AlertKind, alert: &Alert) -> String {
    let text = match kind {
        AlertKind::Dependabot => alert
            .security_advisory
            .as_ref()
            .and_then(|a| a.summary.clone()),
        AlertKind::CodeScanning => alert.rule.as_ref().and_then(|r| {
            r.description
                .clone()
                .filter(|d| !d.is_empty())
                .or(r.id.clone())
        }),
        AlertKind::SecretScanning => alert
            .secret_type_display_name
            .clone()
            .or(alert.secret_type.clone()),
    };
    let text = text.unwrap_or_else(|| format!("{} alert {}", kind.prefix(), alert.number));
    text.chars().take(200).collect()
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
