//! One number of one week: its value, how it is written, its DORA level and its change
//! against the week before.

use serde::Serialize;

use crate::derive::Rollup;
use crate::digest::format::{self, Trend};
use crate::metrics::levels::{
    change_failure_level, deployment_frequency_level, lead_time_level, recovery_level, DoraLevel,
    WEEKS_PER_MONTH,
};
use crate::metrics::{p50, ratio};
use crate::sketch::QuantileSketch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Successful production deployments.
    Deployments,
    LeadTime,
    ChangeFailureRate,
    Recovery,
    CycleTime,
    /// Pickup time: first review − opened.
    ReviewLatency,
    FirstTimePass,
    IncidentsOpened,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unit {
    Count,
    Duration,
    Rate,
}

impl MetricKind {
    /// The full label: `Lead time p50`.
    pub fn label(self) -> &'static str {
        match self {
            MetricKind::Deployments => "Deployments",
            MetricKind::LeadTime => "Lead time p50",
            MetricKind::ChangeFailureRate => "Change failure rate",
            MetricKind::Recovery => "Recovery p50",
            MetricKind::CycleTime => "Cycle time p50",
            MetricKind::ReviewLatency => "Review latency p50",
            MetricKind::FirstTimePass => "First-time pass rate",
            MetricKind::IncidentsOpened => "Incidents opened",
        }
    }

    /// A column heading for narrow tables: `Lead time`.
    pub fn short_label(self) -> &'static str {
        match self {
            MetricKind::Deployments => "Deploys",
            MetricKind::LeadTime => "Lead time",
            MetricKind::ChangeFailureRate => "Change failure",
            MetricKind::Recovery => "Recovery",
            MetricKind::CycleTime => "Cycle time",
            MetricKind::ReviewLatency => "Review latency",
            MetricKind::FirstTimePass => "1st-time pass",
            MetricKind::IncidentsOpened => "Incidents",
        }
    }

    /// The label inside a sentence: `lead time p50`.
    pub(super) fn phrase(self) -> &'static str {
        match self {
            MetricKind::Deployments => "deployments",
            MetricKind::LeadTime => "lead time p50",
            MetricKind::ChangeFailureRate => "change failure rate",
            MetricKind::Recovery => "recovery p50",
            MetricKind::CycleTime => "cycle time p50",
            MetricKind::ReviewLatency => "review latency p50",
            MetricKind::FirstTimePass => "first-time pass rate",
            MetricKind::IncidentsOpened => "incidents opened",
        }
    }

    pub fn higher_is_better(self) -> bool {
        matches!(self, MetricKind::Deployments | MetricKind::FirstTimePass)
    }

    pub(super) fn unit(self) -> Unit {
        match self {
            MetricKind::Deployments | MetricKind::IncidentsOpened => Unit::Count,
            MetricKind::ChangeFailureRate | MetricKind::FirstTimePass => Unit::Rate,
            MetricKind::LeadTime
            | MetricKind::Recovery
            | MetricKind::CycleTime
            | MetricKind::ReviewLatency => Unit::Duration,
        }
    }
}

/// One number of one week, ready to print.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metric {
    pub kind: MetricKind,
    /// Seconds, a fraction or a count; `None` when the week has no data for it.
    pub value: Option<f64>,
    /// Samples behind the value: deployments (attempts), shipped PRs, recoveries, merged PRs,
    /// reviewed PRs, incidents.
    pub count: u64,
    /// The DORA level (the four DORA metrics only). Deployment frequency is graded over the 4
    /// weeks ending this week, as the dashboard's default period.
    pub level: Option<DoraLevel>,
    /// The value (`6 h`, `20%`, `12`), or when there is none, why in a few words (`no
    /// deployments recorded`).
    pub display: String,
    /// When there is no value: the sentence to print instead (`no deployments recorded this
    /// week`).
    pub no_data: Option<String>,
    /// Against the previous week; `None` when this week has no value.
    pub change: Option<Change>,
}

impl Metric {
    /// `6 h · elite`, or the no-data words.
    pub fn value_with_level(&self) -> String {
        match self.level {
            Some(level) => format!("{} · {}", self.display, format::level(level)),
            None => self.display.clone(),
        }
    }
}

/// The change against the previous week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// Last week's value; `None` when last week had no data.
    pub previous: Option<f64>,
    /// `None` when last week had no data.
    pub trend: Option<Trend>,
    /// Whether the move is good news; `None` for no change or no comparison.
    pub better: Option<bool>,
    /// `▲ 2 (from 5)`, `▼ 3.1 h (from 9.2 h)`, `no change`, `no data the week before`.
    pub text: String,
}

/// A metric's reading of one week.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Obs {
    pub(super) value: Option<f64>,
    /// The samples or denominator behind the value.
    pub(super) count: u64,
    /// Rates: the bad events (failed deployments, PRs that needed rework).
    pub(super) bad: u64,
}

impl Obs {
    /// A duration's median, over its samples.
    fn median_of(sketch: &QuantileSketch) -> Obs {
        Obs {
            value: p50(sketch),
            count: sketch.count(),
            bad: 0,
        }
    }
}

pub(super) fn observe(kind: MetricKind, rollup: Option<&Rollup>) -> Obs {
    let empty = Rollup::default();
    let r = rollup.unwrap_or(&empty);
    match kind {
        MetricKind::Deployments => Obs {
            value: (r.deployments > 0).then_some(r.deployments_succeeded as f64),
            count: r.deployments,
            bad: r.deployments_failed,
        },
        MetricKind::LeadTime => Obs::median_of(&r.lead_time),
        MetricKind::ChangeFailureRate => Obs {
            value: ratio(r.deployments_failed, r.deployments),
            count: r.deployments,
            bad: r.deployments_failed,
        },
        MetricKind::Recovery => Obs::median_of(&r.recovery),
        MetricKind::CycleTime => Obs {
            value: p50(&r.total),
            count: r.prs_merged,
            bad: 0,
        },
        MetricKind::ReviewLatency => Obs::median_of(&r.pickup),
        MetricKind::FirstTimePass => Obs {
            value: ratio(r.first_time_pass, r.prs_merged),
            count: r.prs_merged,
            bad: r.prs_merged.saturating_sub(r.first_time_pass),
        },
        // Incident rollups exist only for weeks with incidents: a missing week opened none.
        MetricKind::IncidentsOpened => Obs {
            value: Some(r.incidents_opened as f64),
            count: r.incidents_opened,
            bad: 0,
        },
    }
}

/// Why a week has no value for `kind`, in a few words.
fn no_data_words(kind: MetricKind, rollup: Option<&Rollup>) -> &'static str {
    let empty = Rollup::default();
    let r = rollup.unwrap_or(&empty);
    match kind {
        MetricKind::Deployments | MetricKind::ChangeFailureRate => "no deployments recorded",
        MetricKind::LeadTime if r.deployments == 0 => "no deployments recorded",
        MetricKind::LeadTime => "no PRs shipped",
        MetricKind::Recovery if r.deployments == 0 => "no deployments recorded",
        MetricKind::Recovery if r.deployments_failed == 0 => "no failed deployments",
        MetricKind::Recovery => "not recovered yet",
        MetricKind::CycleTime | MetricKind::FirstTimePass => "no PRs merged",
        MetricKind::ReviewLatency if r.prs_merged == 0 => "no PRs merged",
        MetricKind::ReviewLatency => "no reviewed PRs",
        MetricKind::IncidentsOpened => "none",
    }
}

fn display(kind: MetricKind, value: f64) -> String {
    if kind == MetricKind::IncidentsOpened && value == 0.0 {
        return "none".to_string();
    }
    value_text(kind, value)
}

/// The value in its unit: `6 h`, `20%`, `12`.
pub(super) fn value_text(kind: MetricKind, value: f64) -> String {
    match kind.unit() {
        Unit::Duration => format::duration(value),
        Unit::Rate => format::percent(value),
        Unit::Count => format::number(value),
    }
}

pub(super) fn level_of(kind: MetricKind, value: f64) -> Option<DoraLevel> {
    match kind {
        MetricKind::LeadTime => lead_time_level(value),
        MetricKind::ChangeFailureRate => change_failure_level(value),
        MetricKind::Recovery => recovery_level(value),
        _ => None,
    }
}

/// Deployment frequency's level over the [`WEEKS_PER_MONTH`] weeks ending at `weeks[end]`
/// (weeks without a rollup had no deploy day).
pub(super) fn frequency_level(weeks: &[Option<Rollup>], end: usize) -> Option<DoraLevel> {
    let start = (end + 1).checked_sub(WEEKS_PER_MONTH)?;
    let days: Vec<u64> = weeks
        .get(start..=end)?
        .iter()
        .map(|r| r.as_ref().map_or(0, |r| r.deploy_days.len() as u64))
        .collect();
    deployment_frequency_level(&days)
}

fn change_text(kind: MetricKind, current: f64, previous: f64) -> (Trend, String) {
    match kind.unit() {
        Unit::Duration => format::duration_change(current, previous),
        Unit::Rate => format::percent_change(current, previous),
        Unit::Count => format::count_change(current, previous),
    }
}

/// The metric of the last week of `weeks` (see [`super::weeks_of`]).
pub(super) fn metric(kind: MetricKind, weeks: &[Option<Rollup>]) -> Metric {
    let last = weeks.len() - 1;
    let current_rollup = weeks[last].as_ref();
    let current = observe(kind, current_rollup);
    let previous = observe(kind, weeks[last - 1].as_ref());
    let Some(value) = current.value else {
        let words = no_data_words(kind, current_rollup);
        return Metric {
            kind,
            value: None,
            count: current.count,
            level: None,
            display: words.to_string(),
            no_data: Some(format!("{words} this week")),
            change: None,
        };
    };
    let level = if kind == MetricKind::Deployments {
        frequency_level(weeks, last)
    } else {
        level_of(kind, value)
    };
    let change = match previous.value {
        None => Change {
            previous: None,
            trend: None,
            better: None,
            text: "no data the week before".to_string(),
        },
        Some(before) => {
            let (trend, text) = change_text(kind, value, before);
            let better = match trend {
                Trend::Same => None,
                Trend::Up => Some(kind.higher_is_better()),
                Trend::Down => Some(!kind.higher_is_better()),
            };
            Change {
                previous: Some(before),
                trend: Some(trend),
                better,
                text,
            }
        }
    };
    Metric {
        kind,
        value: Some(value),
        count: current.count,
        level,
        display: display(kind, value),
        no_data: None,
        change: Some(change),
    }
}
