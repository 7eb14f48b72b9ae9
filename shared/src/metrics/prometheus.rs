//! `GET /metrics`: current DORA, cycle time, pull request and incident values per scope in the
//! Prometheus text exposition format 0.0.4 (`Content-Type: text/plain; version=0.0.4;
//! charset=utf-8`). Every value is one the JSON reports (`/v1/dora`, `/v1/cycle-time`,
//! `/v1/pull-requests`, `/v1/incidents`) answer for the same scope and period: the caller builds
//! those reports ([`ScopeReports`]) and this module only renders them.
//!
//! Names follow Prometheus' conventions as `promtool check metrics` lints them:
//!
//! * every value is a windowed number that can go down, so the families are gauges and none
//!   ends in `_total` (reserved for counters): `flowmeter_deployments`, not
//!   `flowmeter_deployments_total`;
//! * units are base units spelled as a suffix (`_seconds`); a name may not contain a non-base
//!   unit word, which is why the deploy-day count is `flowmeter_deploy_dates` and not
//!   `…_deploy_days` (promtool: `use base unit "seconds" instead of "days"`);
//! * the `quantile` label is reserved for summaries (promtool: `non-summary metrics should not
//!   have "quantile" label`), so the families that carry it — as the example in docs/API.md,
//!   `flowmeter_lead_time_seconds{scope="team:payments",quantile="0.5"}`, does — are typed
//!   `summary`. They expose only their quantile samples: a summary's `_count`/`_sum` are
//!   cumulative counters by convention, and these windowed numbers are not;
//! * a fraction of a whole that is new here ends in `_ratio`
//!   (`flowmeter_first_time_pass_ratio`); the DORA rates keep the names they were published
//!   under (`flowmeter_change_failure_rate`, `flowmeter_rework_rate`);
//! * `flowmeter_dora_level` is info-style: value 1, the level in a label, one sample per
//!   metric that has a level.
//!
//! A sample whose number is `null` in the JSON report (a quantile or rate without data) is
//! left out rather than written as NaN.

use std::collections::BTreeSet;

use super::cycle_time::CycleTimeReport;
use super::dora::DoraReport;
use super::environments::AppDrift;
use super::incidents::IncidentReport;
use super::levels::DoraLevel;
use super::pull_requests::PullRequestReport;
use super::Quantiles;

/// The four reports of one scope over the `/metrics` period, as the JSON routes build them.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeReports {
    pub dora: DoraReport,
    pub cycle_time: CycleTimeReport,
    pub pull_requests: PullRequestReport,
    pub incidents: IncidentReport,
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: fn(&ScopeReports) -> Vec<Sample>,
}

/// Extra labels (after `scope`) and the value.
struct Sample {
    labels: Vec<(&'static str, String)>,
    value: String,
}

fn plain(value: impl ToString) -> Vec<Sample> {
    vec![Sample {
        labels: Vec::new(),
        value: value.to_string(),
    }]
}

fn optional(value: Option<f64>) -> Vec<Sample> {
    value.map(|v| plain(float(v))).unwrap_or_default()
}

fn quantiles(p50: Option<f64>, p90: Option<f64>) -> Vec<Sample> {
    [("0.5", p50), ("0.9", p90)]
        .into_iter()
        .filter_map(|(q, v)| {
            v.map(|v| Sample {
                labels: vec![("quantile", q.to_string())],
                value: float(v),
            })
        })
        .collect()
}

fn seconds(q: &Quantiles) -> Vec<Sample> {
    quantiles(q.p50_seconds, q.p90_seconds)
}

/// The cycle-time parts, each as `phase` × `quantile` samples.
fn phases(report: &CycleTimeReport) -> Vec<Sample> {
    let parts: [(&str, &Quantiles); 5] = [
        ("coding", &report.coding),
        ("pickup", &report.pickup),
        ("review", &report.review),
        ("deploy", &report.deploy),
        ("total", &report.total),
    ];
    parts
        .into_iter()
        .flat_map(|(phase, q)| {
            seconds(q).into_iter().map(move |mut sample| {
                sample.labels.insert(0, ("phase", phase.to_string()));
                sample
            })
        })
        .collect()
}

fn levels(report: &DoraReport) -> Vec<Sample> {
    let graded: [(&str, Option<DoraLevel>); 4] = [
        ("deployment_frequency", report.deployment_frequency.level),
        ("lead_time", report.lead_time.level),
        ("change_failure_rate", report.change_failure_rate.level),
        ("recovery_time", report.recovery_time.level),
    ];
    graded
        .into_iter()
        .filter_map(|(metric, level)| {
            level.map(|level| Sample {
                labels: vec![
                    ("metric", metric.to_string()),
                    ("level", level.as_str().to_string()),
                ],
                value: "1".to_string(),
            })
        })
        .collect()
}

const FAMILIES: &[Family] = &[
    Family {
        name: "flowmeter_deployments",
        kind: "gauge",
        help: "Successful production deployments in the reporting window.",
        samples: |r| plain(r.dora.deployment_frequency.deployments),
    },
    Family {
        name: "flowmeter_deploy_dates",
        kind: "gauge",
        help: "Distinct dates (org timezone) with a successful production deployment in the reporting window.",
        samples: |r| plain(r.dora.deployment_frequency.deploy_days),
    },
    Family {
        name: "flowmeter_lead_time_seconds",
        kind: "summary",
        help: "Lead time for changes (first commit to production deployment) of the changes shipped in the reporting window.",
        samples: |r| quantiles(r.dora.lead_time.p50_seconds, r.dora.lead_time.p90_seconds),
    },
    Family {
        name: "flowmeter_change_failure_rate",
        kind: "gauge",
        help: "Failed production deployments divided by production deployment attempts in the reporting window.",
        samples: |r| optional(r.dora.change_failure_rate.rate),
    },
    Family {
        name: "flowmeter_recovery_time_seconds",
        kind: "summary",
        help: "Failed deployment recovery time of the failed deployments in the reporting window.",
        samples: |r| quantiles(r.dora.recovery_time.p50_seconds, r.dora.recovery_time.p90_seconds),
    },
    Family {
        name: "flowmeter_rework_rate",
        kind: "gauge",
        help: "Share of successful production deployments in the reporting window that only shipped unplanned fixes.",
        samples: |r| optional(r.dora.rework_rate.rate),
    },
    Family {
        name: "flowmeter_dora_level",
        kind: "gauge",
        help: "DORA 2023 performance level of each metric (always 1; the level is the label).",
        samples: |r| levels(&r.dora),
    },
    Family {
        name: "flowmeter_cycle_time_seconds",
        kind: "summary",
        help: "Cycle time parts (phase coding, pickup, review, deploy, total) of the pull requests merged in the reporting window.",
        samples: |r| phases(&r.cycle_time),
    },
    Family {
        name: "flowmeter_pull_requests_merged",
        kind: "gauge",
        help: "Pull requests merged in the reporting window (bots excluded).",
        samples: |r| plain(r.pull_requests.merged),
    },
    Family {
        name: "flowmeter_pull_requests_opened",
        kind: "gauge",
        help: "Pull requests opened in the reporting window (bots excluded).",
        samples: |r| plain(r.pull_requests.opened),
    },
    Family {
        name: "flowmeter_review_latency_seconds",
        kind: "summary",
        help: "Review latency (first review minus opened or ready for review) of the pull requests merged in the reporting window.",
        samples: |r| seconds(&r.pull_requests.review_latency),
    },
    Family {
        name: "flowmeter_first_time_pass_ratio",
        kind: "gauge",
        help: "Share of the pull requests merged in the reporting window with no changes requested and no commit after their first review.",
        samples: |r| optional(r.pull_requests.first_time_pass_rate),
    },
    Family {
        name: "flowmeter_pull_request_size_lines",
        kind: "summary",
        help: "Size (lines added plus lines deleted) of the pull requests merged in the reporting window.",
        samples: |r| quantiles(r.pull_requests.size.p50_lines, r.pull_requests.size.p90_lines),
    },
    Family {
        name: "flowmeter_incidents_opened",
        kind: "gauge",
        help: "Incidents opened in the reporting window.",
        samples: |r| plain(r.incidents.opened),
    },
    Family {
        name: "flowmeter_incidents_resolved",
        kind: "gauge",
        help: "Incidents resolved in the reporting window.",
        samples: |r| plain(r.incidents.resolved),
    },
    Family {
        name: "flowmeter_incident_mttr_seconds",
        kind: "summary",
        help: "Time to restore (resolved minus opened) of the incidents resolved in the reporting window.",
        samples: |r| seconds(&r.incidents.mttr),
    },
    Family {
        name: "flowmeter_incidents_open",
        kind: "gauge",
        help: "Incidents open now.",
        samples: |r| plain(r.incidents.open.len()),
    },
];

/// Renders the reports of several scopes (label values like `team:payments`, in the order
/// given; a scope given twice is rendered once, from its first reports). Every family's
/// `# HELP` and `# TYPE` lines come once, before its samples, even when it has none.
pub fn render(series: &[(String, ScopeReports)]) -> String {
    let mut seen = BTreeSet::new();
    let unique: Vec<&(String, ScopeReports)> = series
        .iter()
        .filter(|(scope, _)| seen.insert(scope.as_str()))
        .collect();
    let mut out = String::new();
    for family in FAMILIES {
        out.push_str(&format!(
            "# HELP {} {}\n# TYPE {} {}\n",
            family.name,
            escape_help(family.help),
            family.name,
            family.kind
        ));
        for (scope, report) in &unique {
            for sample in (family.samples)(report) {
                out.push_str(family.name);
                out.push_str("{scope=\"");
                out.push_str(&escape_label_value(scope));
                out.push('"');
                for (name, value) in &sample.labels {
                    out.push_str(&format!(",{name}=\"{}\"", escape_label_value(value)));
                }
                out.push_str("} ");
                out.push_str(&sample.value);
                out.push('\n');
            }
        }
    }
    out
}

/// How long an environment has run its current deployment (`GET /v1/environments`).
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentAge {
    pub repo: String,
    pub environment: String,
    pub age_seconds: f64,
}

/// `flowmeter_deployment_age_seconds{repo,environment}`: per repo and configured environment
/// rather than per scope, since a deployment belongs to one repo; a gauge, appended after the
/// scope families.
pub fn render_deployment_ages(ages: &[DeploymentAge]) -> String {
    let name = "flowmeter_deployment_age_seconds";
    let mut out = format!(
        "# HELP {name} {}\n# TYPE {name} gauge\n",
        escape_help("Seconds since the deployment a repo's environment runs (its last successful one) finished.")
    );
    for age in ages {
        out.push_str(&format!(
            "{name}{{repo=\"{}\",environment=\"{}\"}} {}\n",
            escape_label_value(&age.repo),
            escape_label_value(&age.environment),
            float(age.age_seconds)
        ));
    }
    out
}

/// A ticket an environment holds that the next one does not (a PR naming it is in
/// `ahead_of_next` of `GET /v1/environments`), with its fix versions as the tracker sent them.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingTicket {
    pub ticket: String,
    pub repo: String,
    pub environment: String,
    pub fix_versions: Vec<String>,
}

/// `flowmeter_ticket_in_environment{ticket,repo,environment} 1` for each ticket an environment
/// holds ahead of the next one ("in QA, not yet in production"), and
/// `flowmeter_ticket_fix_version{ticket,fix_version} 1` for each fix version of those tickets:
/// a join in PromQL answers "which tickets of release 2026.41 are in QA". Bounded by what is
/// pending between environments, not by history.
pub fn render_pending_tickets(pending: &[PendingTicket]) -> String {
    let in_env = "flowmeter_ticket_in_environment";
    let fix = "flowmeter_ticket_fix_version";
    let mut out = format!(
        "# HELP {in_env} {}\n# TYPE {in_env} gauge\n",
        escape_help("1 for each ticket a repo's environment holds that the next environment does not (named by a PR it runs).")
    );
    let mut versions = std::collections::BTreeSet::new();
    for p in pending {
        out.push_str(&format!(
            "{in_env}{{ticket=\"{}\",repo=\"{}\",environment=\"{}\"}} 1\n",
            escape_label_value(&p.ticket),
            escape_label_value(&p.repo),
            escape_label_value(&p.environment)
        ));
        for version in &p.fix_versions {
            versions.insert((p.ticket.as_str(), version.as_str()));
        }
    }
    out.push_str(&format!(
        "# HELP {fix} {}\n# TYPE {fix} gauge\n",
        escape_help("1 for each fix version of a ticket flowmeter_ticket_in_environment lists.")
    ));
    for (ticket, version) in versions {
        out.push_str(&format!(
            "{fix}{{ticket=\"{}\",fix_version=\"{}\"}} 1\n",
            escape_label_value(ticket),
            escape_label_value(version)
        ));
    }
    out
}

/// What each GitOps application should run against what it runs, Seed 004's desired and actual
/// state: `flowmeter_deployment_desired_state{app,repo,environment,revision} 1` (its target
/// revision), `flowmeter_deployment_actual_state{app,repo,environment,revision,sync_status,health}
/// 1` (what it last synced to, and how that stands), and
/// `flowmeter_deployment_drift_seconds{app,repo,environment}` (how long it has been out of sync
/// or unhealthy; 0 when it is neither). One series per application and environment, so a
/// revision label only changes when the application is deployed.
pub fn render_app_states(apps: &[(&str, &str, &AppDrift)]) -> String {
    let desired = "flowmeter_deployment_desired_state";
    let actual = "flowmeter_deployment_actual_state";
    let drift = "flowmeter_deployment_drift_seconds";
    let mut out = String::new();
    let mut section = |name: &str, help: &str, line: &dyn Fn(&str, &str, &AppDrift) -> String| {
        out.push_str(&format!(
            "# HELP {name} {}\n# TYPE {name} gauge\n",
            escape_help(help)
        ));
        for (repo, environment, app) in apps {
            out.push_str(&line(repo, environment, app));
        }
    };
    let labels = |repo: &str, environment: &str, app: &AppDrift| {
        format!(
            "app=\"{}\",repo=\"{}\",environment=\"{}\"",
            escape_label_value(&app.app),
            escape_label_value(repo),
            escape_label_value(environment)
        )
    };
    section(
        desired,
        "1 for the revision each GitOps application should run (its source's target revision).",
        &|repo, environment, app| {
            format!(
                "{desired}{{{},revision=\"{}\"}} 1\n",
                labels(repo, environment, app),
                escape_label_value(app.desired_revision.as_deref().unwrap_or_default())
            )
        },
    );
    section(
        actual,
        "1 for the revision each GitOps application last synced to, with its sync status and health.",
        &|repo, environment, app| {
            format!(
                "{actual}{{{},revision=\"{}\",sync_status=\"{}\",health=\"{}\"}} 1\n",
                labels(repo, environment, app),
                escape_label_value(app.synced_revision.as_deref().unwrap_or_default()),
                escape_label_value(&app.sync_status),
                escape_label_value(&app.health)
            )
        },
    );
    section(
        drift,
        "Seconds each GitOps application has been out of sync or unhealthy (0 when it is neither).",
        &|repo, environment, app| {
            format!(
                "{drift}{{{}}} {}\n",
                labels(repo, environment, app),
                float(app.drift_seconds.unwrap_or(0.0))
            )
        },
    );
    out
}

/// Label values escape backslash, double quote and line feed.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `# HELP` text escapes backslash and line feed.
pub(crate) fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: Rust's shortest round-trip decimal, which Prometheus' parser reads back
/// exactly; the format's own spellings for the non-finite values.
fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
#[path = "prometheus_tests.rs"]
mod tests;
