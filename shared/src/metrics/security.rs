//! `GET /v1/security`: the scope's open security alerts by severity, per repo, as things stand,
//! and over the period the alerts found, fixed and dismissed, with the time to fix. Pure: the
//! edge reads each repo's alerts (one `gsi1` query per repo) and hands them in.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::Quantiles;
use crate::derive::SecurityAlert;
use crate::model::{AlertKind, AlertSeverity, AlertState};
use crate::sketch::QuantileSketch;

/// How many open alerts each repo lists by name (the most severe, then the oldest).
pub const LISTED_OPEN: usize = 10;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityReport {
    pub scope: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// When `open` was counted.
    pub at: DateTime<Utc>,
    /// Every repo of the scope together.
    pub totals: SecurityNumbers,
    pub repos: Vec<RepoSecurity>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepoSecurity {
    pub repo: String,
    #[serde(flatten)]
    pub numbers: SecurityNumbers,
    /// The most severe open alerts, oldest first within a severity, at most [`LISTED_OPEN`].
    pub open_alerts: Vec<OpenAlert>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityNumbers {
    /// Open now, by severity.
    pub open: SeverityCounts,
    /// Found in the period.
    pub opened: u64,
    /// Fixed in the period.
    pub fixed: u64,
    /// Dismissed in the period (not fixed: a false positive, a risk accepted).
    pub dismissed: u64,
    /// From found to fixed, of the alerts fixed in the period.
    pub time_to_fix: Quantiles,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

impl SeverityCounts {
    fn add(&mut self, severity: AlertSeverity) {
        *self.slot(severity) += 1;
    }

    fn slot(&mut self, severity: AlertSeverity) -> &mut u64 {
        match severity {
            AlertSeverity::Critical => &mut self.critical,
            AlertSeverity::High => &mut self.high,
            AlertSeverity::Medium => &mut self.medium,
            AlertSeverity::Low => &mut self.low,
        }
    }

    /// The count of `severity`.
    pub fn of(&self, severity: AlertSeverity) -> u64 {
        match severity {
            AlertSeverity::Critical => self.critical,
            AlertSeverity::High => self.high,
            AlertSeverity::Medium => self.medium,
            AlertSeverity::Low => self.low,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenAlert {
    /// `dependabot:20`.
    pub id: String,
    pub kind: AlertKind,
    pub severity: AlertSeverity,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    /// Seconds open, at `at`.
    pub age_seconds: f64,
    pub url: Option<String>,
}

/// The report of `repos`, each with its alerts, over `[start, end)` (the period's instants in
/// the org timezone), open alerts counted at `now`.
pub fn security_report(
    scope: &str,
    (from, to): (NaiveDate, NaiveDate),
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    repos: &[(String, Vec<SecurityAlert>)],
    now: DateTime<Utc>,
) -> SecurityReport {
    let in_period = |t: DateTime<Utc>| t >= start && t < end;
    let mut totals = Tally::default();
    let mut answers = Vec::with_capacity(repos.len());
    for (repo, alerts) in repos {
        let mut tally = Tally::default();
        for alert in alerts {
            tally.count(alert, &in_period);
            totals.count(alert, &in_period);
        }
        let mut open: Vec<&SecurityAlert> = alerts.iter().filter(|a| a.is_open()).collect();
        open.sort_by(|a, b| {
            (b.severity, a.opened_at, &a.id).cmp(&(a.severity, b.opened_at, &b.id))
        });
        answers.push(RepoSecurity {
            repo: repo.clone(),
            numbers: tally.numbers(),
            open_alerts: open
                .into_iter()
                .take(LISTED_OPEN)
                .map(|a| OpenAlert {
                    id: a.id.clone(),
                    kind: a.kind,
                    severity: a.severity,
                    title: a.title.clone(),
                    opened_at: a.opened_at,
                    age_seconds: crate::derive::deployment::seconds_between(a.opened_at, now)
                        .max(0.0),
                    url: a.html_url.clone().filter(|u| crate::repo::is_web_url(u)),
                })
                .collect(),
        });
    }
    SecurityReport {
        scope: scope.to_string(),
        from,
        to,
        at: now,
        totals: totals.numbers(),
        repos: answers,
    }
}

#[derive(Default)]
struct Tally {
    numbers: SecurityNumbers,
    to_fix: QuantileSketch,
}

impl Tally {
    fn count(&mut self, alert: &SecurityAlert, in_period: &impl Fn(DateTime<Utc>) -> bool) {
        if alert.is_open() {
            self.numbers.open.add(alert.severity);
        }
        if in_period(alert.opened_at) {
            self.numbers.opened += 1;
        }
        if !alert.closed_at.is_some_and(in_period) {
            return;
        }
        match alert.state {
            AlertState::Fixed => {
                self.numbers.fixed += 1;
                if let Some(seconds) = alert.time_to_fix() {
                    self.to_fix.add(seconds);
                }
            }
            AlertState::Dismissed => self.numbers.dismissed += 1,
            AlertState::Open => {}
        }
    }

    fn numbers(&self) -> SecurityNumbers {
        SecurityNumbers {
            time_to_fix: Quantiles::of(&self.to_fix),
            ..self.numbers.clone()
        }
    }
}

/// `(repo, severity, open count)` of every repo and severity, zeros included (`/metrics`).
pub fn open_gauges(report: &SecurityReport) -> Vec<(&str, AlertSeverity, u64)> {
    report
        .repos
        .iter()
        .flat_map(|r| {
            AlertSeverity::ALL
                .into_iter()
                .map(move |s| (r.repo.as_str(), s, r.numbers.open.of(s)))
        })
        .collect()
}

/// `flowmeter_security_alerts_open{repo,severity}`: a gauge per configured repo and severity,
/// zeros included (so an alert rule sees a repo go from 1 to 0), appended after the scope
/// families.
pub fn render_open_alerts(report: &SecurityReport) -> String {
    use super::prometheus::{escape_help, escape_label_value};
    let name = "flowmeter_security_alerts_open";
    let mut out = format!(
        "# HELP {name} {}\n# TYPE {name} gauge\n",
        escape_help("Open security alerts (Dependabot, code scanning, secret scanning) of a repo, by severity.")
    );
    for (repo, severity, count) in open_gauges(report) {
        out.push_str(&format!(
            "{name}{{repo=\"{}\",severity=\"{}\"}} {count}\n",
            escape_label_value(repo),
            severity.name()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::testing::t;

    fn alert(
        id: &str,
        severity: AlertSeverity,
        state: AlertState,
        opened: &str,
        closed: Option<&str>,
    ) -> SecurityAlert {
        SecurityAlert {
            repo: "acme/api".into(),
            id: id.into(),
            kind: AlertKind::Dependabot,
            number: 1,
            state,
            severity,
            title: format!("alert {id}"),
            opened_at: t(opened),
            closed_at: closed.map(t),
            html_url: Some(format!("https://github.com/acme/api/security/{id}")),
            updated_at: t(opened),
        }
    }

    #[test]
    fn open_alerts_count_as_they_stand_and_fixes_in_the_period_give_the_time_to_fix() {
        use AlertSeverity::*;
        use AlertState::*;
        // given acme/api's alerts over the week of 5 Oct 2026
        let alerts = vec![
            // open: a critical one found before the period, a high and a low found in it
            alert("d:1", Critical, Open, "2026-09-20T10:00:00Z", None),
            alert("d:2", High, Open, "2026-10-06T10:00:00Z", None),
            alert("d:3", Low, Open, "2026-10-07T10:00:00Z", None),
            // fixed in the period after 2 h and 10 h; one fixed before it
            alert(
                "d:4",
                High,
                Fixed,
                "2026-10-05T08:00:00Z",
                Some("2026-10-05T10:00:00Z"),
            ),
            alert(
                "d:5",
                Medium,
                Fixed,
                "2026-10-01T00:00:00Z",
                Some("2026-10-06T00:00:00Z"),
            ),
            alert(
                "d:6",
                Medium,
                Fixed,
                "2026-09-01T00:00:00Z",
                Some("2026-09-02T00:00:00Z"),
            ),
            // dismissed in the period: not a fix
            alert(
                "d:7",
                High,
                Dismissed,
                "2026-10-05T09:00:00Z",
                Some("2026-10-08T09:00:00Z"),
            ),
        ];
        let repos = vec![("acme/api".to_string(), alerts)];
        let period = (t("2026-10-05T00:00:00Z"), t("2026-10-12T00:00:00Z"));
        let dates = (
            period.0.date_naive(),
            t("2026-10-11T00:00:00Z").date_naive(),
        );
        // when the report is built on 12 Oct
        let report = security_report("org", dates, period, &repos, t("2026-10-12T10:00:00Z"));
        // then
        let numbers = &report.repos[0].numbers;
        assert_eq!(
            numbers.open,
            SeverityCounts {
                critical: 1,
                high: 1,
                medium: 0,
                low: 1
            }
        );
        assert_eq!(
            (numbers.opened, numbers.fixed, numbers.dismissed),
            (4, 2, 1)
        );
        // 2 h and 5 days: the nearest-rank median is the lower one
        assert_eq!(numbers.time_to_fix.p50_seconds, Some(2.0 * 3600.0));
        assert_eq!(numbers.time_to_fix.p90_seconds, Some(5.0 * 86_400.0));
        assert_eq!(
            report.totals, *numbers,
            "one repo: the totals are its numbers"
        );
        // the open ones are listed most severe first
        let listed: Vec<&str> = report.repos[0]
            .open_alerts
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(listed, ["d:1", "d:2", "d:3"]);
        assert_eq!(report.repos[0].open_alerts[0].age_seconds, 22.0 * 86_400.0);
        let gauges = open_gauges(&report);
        assert_eq!(gauges.len(), 4);
        assert!(gauges.contains(&("acme/api", Critical, 1)));
        assert!(gauges.contains(&("acme/api", Medium, 0)));
        let text = render_open_alerts(&report);
        assert!(text.starts_with("# HELP flowmeter_security_alerts_open "));
        assert!(text.contains(
            "\nflowmeter_security_alerts_open{repo=\"acme/api\",severity=\"critical\"} 1\n"
        ));
        assert!(text
            .ends_with("flowmeter_security_alerts_open{repo=\"acme/api\",severity=\"low\"} 1\n"));
    }

    #[test]
    fn a_repo_without_alerts_answers_zeros_and_no_time_to_fix() {
        let repos = vec![("acme/web".to_string(), Vec::new())];
        let period = (t("2026-10-05T00:00:00Z"), t("2026-10-12T00:00:00Z"));
        let dates = (period.0.date_naive(), period.1.date_naive());
        let report = security_report("org", dates, period, &repos, period.1);
        assert_eq!(report.repos[0].numbers, SecurityNumbers::default());
        assert!(report.repos[0].open_alerts.is_empty());
    }
}
