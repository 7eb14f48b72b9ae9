//! GitHub security alerts of the org's GitHub repositories: Dependabot finds vulnerable
//! dependencies most weeks, code scanning now and then, and once in a while a secret is pushed
//! and revoked within hours. Most alerts are fixed within days, some are dismissed, the latest
//! are still open. Drawn from a stream of their own (`Rng::fork(seed, "security")`), so that
//! adding them changed nothing else the seed decides.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::calendar::minutes;
use super::World;
use crate::payloads::{github_delivery, ts};
use crate::rng::Rng;
use crate::spec::{full_name, host_of, Host, TEAMS};
use crate::truth::AlertTruth;

const ADVISORIES: [(&str, &str, &str); 6] = [
    ("lodash", "npm", "Prototype pollution in lodash"),
    (
        "jackson-databind",
        "maven",
        "Deserialization of untrusted data in jackson-databind",
    ),
    (
        "requests",
        "pip",
        "Requests leaks Proxy-Authorization headers",
    ),
    (
        "golang.org/x/net",
        "go",
        "HTTP/2 rapid reset can cause excessive work",
    ),
    (
        "semver",
        "npm",
        "semver vulnerable to Regular Expression Denial of Service",
    ),
    (
        "openssl",
        "cargo",
        "Use-after-free in openssl's X509 name handling",
    ),
];

const RULES: [(&str, &str, &str); 4] = [
    (
        "js/sql-injection",
        "critical",
        "Database query built from user-controlled sources",
    ),
    ("js/xss", "high", "Client-side cross-site scripting"),
    (
        "js/path-injection",
        "high",
        "Uncontrolled data used in path expression",
    ),
    ("js/insecure-randomness", "medium", "Insecure randomness"),
];

/// One alert's life, as the deliveries will tell it.
struct Alert {
    repo: String,
    event: &'static str,
    number: u64,
    severity: &'static str,
    opened: DateTime<Utc>,
    /// When it was fixed (`true`) or dismissed (`false`).
    closed: Option<(DateTime<Utc>, bool)>,
    body: Value,
}

impl World {
    /// Every GitHub repository's alerts over the history, with their ground truth.
    pub(super) fn emit_security_alerts(&mut self, seed: u64) {
        let mut rng = Rng::fork(seed, "security");
        let weeks = (self.end - self.start).num_weeks();
        for team in TEAMS {
            for spec in team.repos {
                if host_of(spec.name) != Host::GitHub {
                    continue;
                }
                let repo = full_name(spec.name);
                let mut numbers = (0u64, 0u64, 0u64);
                for week in 0..weeks {
                    let monday = self.start + Duration::weeks(week);
                    if rng.chance(0.45) {
                        numbers.0 += 1;
                        let alert = dependabot(&mut rng, &repo, numbers.0, monday);
                        self.alert(&mut rng, alert);
                    }
                    if rng.chance(0.15) {
                        numbers.1 += 1;
                        let alert = code_scanning(&mut rng, &repo, numbers.1, monday);
                        self.alert(&mut rng, alert);
                    }
                    if rng.chance(0.04) {
                        numbers.2 += 1;
                        let alert = secret(&mut rng, &repo, numbers.2, monday);
                        self.alert(&mut rng, alert);
                    }
                }
            }
        }
    }

    /// Sends the alert's creation and, if it closed before the end, its closing; records it.
    fn alert(&mut self, rng: &mut Rng, alert: Alert) {
        if alert.opened >= self.end {
            return;
        }
        let closed = alert.closed.filter(|(at, _)| *at < self.end);
        let kind = match alert.event {
            "dependabot_alert" => "dependabot",
            "code_scanning_alert" => "code_scanning",
            _ => "secret_scanning",
        };
        let mut send = |at: DateTime<Utc>, action: &str, alert_body: Value| {
            let body = json!({"action": action, "alert": alert_body,
                "repository": {"name": alert.repo.split('/').nth(1), "full_name": alert.repo,
                               "private": true, "html_url": format!("https://github.com/{}", alert.repo)},
                "sender": {"login": "github", "type": "Bot"}});
            let mut d = github_delivery(&self.secrets, at, alert.event, &rng.uuid(), &body);
            d.entity = format!("alert:{}:{kind}:{}", alert.repo, alert.number);
            self.deliveries.push(d);
        };
        let opened = stamp(&alert.body, "open", alert.opened);
        send(alert.opened, "created", opened);
        if let Some((at, fixed)) = closed {
            let (action, state) = match (alert.event, fixed) {
                ("secret_scanning_alert", _) => ("resolved", "resolved"),
                (_, true) => ("fixed", "fixed"),
                (_, false) => ("dismissed", "dismissed"),
            };
            let mut body = stamp(&alert.body, state, at);
            if alert.event == "secret_scanning_alert" {
                body["resolution"] = json!(if fixed { "revoked" } else { "false_positive" });
                body["resolved_at"] = json!(ts(at));
            } else if fixed {
                body["fixed_at"] = json!(ts(at));
            } else {
                body["dismissed_at"] = json!(ts(at));
                body["dismissed_reason"] = json!("tolerable_risk");
            }
            send(at, action, body);
        }
        self.truth.alerts.push(AlertTruth {
            id: format!("{kind}:{}", alert.number),
            repo: alert.repo,
            severity: alert.severity,
            opened_at: alert.opened,
            closed_at: closed.map(|(at, _)| at),
            fixed: closed.is_some_and(|(_, fixed)| fixed),
        });
    }
}

/// The alert's body at a state, dated.
fn stamp(body: &Value, state: &str, updated: DateTime<Utc>) -> Value {
    let mut body = body.clone();
    body["state"] = json!(state);
    body["updated_at"] = json!(ts(updated));
    body
}

/// Found some time in the week starting `monday`; fixed in days, sometimes dismissed.
fn dependabot(rng: &mut Rng, repo: &str, number: u64, monday: DateTime<Utc>) -> Alert {
    let (package, ecosystem, summary) = *rng.pick(&ADVISORIES);
    let severity = *rng.pick(&["low", "medium", "medium", "high", "high", "critical"]);
    let opened = monday + minutes(rng.range(0, 7 * 24 * 60) as f64);
    let closed = opened
        + minutes(
            rng.lognormal(3.0 * 24.0 * 60.0, 0.8)
                .clamp(60.0, 40.0 * 24.0 * 60.0),
        );
    let fixed = !rng.chance(0.12);
    Alert {
        repo: repo.to_string(),
        event: "dependabot_alert",
        number,
        severity,
        opened,
        closed: Some((closed, fixed)),
        body: json!({"number": number, "created_at": ts(opened),
            "html_url": format!("https://github.com/{repo}/security/dependabot/{number}"),
            "dependency": {"package": {"ecosystem": ecosystem, "name": package}, "scope": "runtime"},
            "security_advisory": {"severity": severity, "summary": summary},
            "security_vulnerability": {"severity": severity}}),
    }
}

/// A CodeQL finding, fixed by a PR within about a week.
fn code_scanning(rng: &mut Rng, repo: &str, number: u64, monday: DateTime<Utc>) -> Alert {
    let (rule, severity, description) = *rng.pick(&RULES);
    let opened = monday + minutes(rng.range(0, 5 * 24 * 60) as f64);
    let closed = opened
        + minutes(
            rng.lognormal(5.0 * 24.0 * 60.0, 0.7)
                .clamp(120.0, 40.0 * 24.0 * 60.0),
        );
    Alert {
        repo: repo.to_string(),
        event: "code_scanning_alert",
        number,
        severity,
        opened,
        closed: Some((closed, !rng.chance(0.1))),
        body: json!({"number": number, "created_at": ts(opened),
            "html_url": format!("https://github.com/{repo}/security/code-scanning/{number}"),
            "rule": {"id": rule, "severity": "error", "security_severity_level": severity,
                     "description": description},
            "tool": {"name": "CodeQL"}}),
    }
}

/// A pushed credential, revoked within hours.
fn secret(rng: &mut Rng, repo: &str, number: u64, monday: DateTime<Utc>) -> Alert {
    let opened = monday + minutes(rng.range(0, 5 * 24 * 60) as f64);
    let closed = opened + minutes(rng.lognormal(180.0, 0.6).clamp(10.0, 2880.0));
    Alert {
        repo: repo.to_string(),
        event: "secret_scanning_alert",
        number,
        severity: "critical",
        opened,
        closed: Some((closed, true)),
        body: json!({"number": number, "created_at": ts(opened),
            "html_url": format!("https://github.com/{repo}/security/secret-scanning/{number}"),
            "secret_type": "aws_access_key_id",
            "secret_type_display_name": "Amazon AWS Access Key ID"}),
    }
}
