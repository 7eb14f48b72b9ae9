//! The digest's one model: what the Monday digest says, decided once, from the weekly rollups
//! the edge loads. The renderers ([`super::slack`], [`super::email`], [`super::text`],
//! [`super::teams`]) only lay it out, so the three channels can never disagree.
//!
//! # What counts as "needs attention"
//!
//! Each team is compared with **its own previous 4 weeks** (robust to one odd week, and fair to
//! teams with different baselines). For every metric of the team row:
//!
//! * the **baseline** is the median of the previous weeks that have a value (at least
//!   [`MIN_HISTORY_WEEKS`] of them, else the team is not judged on that metric);
//! * the spread is the median absolute deviation (MAD) of those weeks, floored so that a flat
//!   history does not turn a small move into an alarm: durations `max(baseline / 3, 1 h)`,
//!   rates 5 percentage points, deployments `max(15% of baseline, √baseline / 1.5, 1)` (weekly
//!   deployment counts scatter like a Poisson count, √mean, so 6.5 a week against 3 is noise
//!   and against 1 is not), incidents 1;
//! * the metric **regressed** when this week is worse than `baseline ± k·spread`, k =
//!   [`MAD_K`] (3) — in the bad direction only (fewer deployments, higher lead time, …);
//! * or its **DORA level dropped**: the level of this week's value is below the level of the
//!   baseline and this week is worse than every one of the previous weeks (a 9% → 15% change
//!   failure rate on 13 deployments crosses a DORA boundary on one failure; a 5-week low that
//!   crosses it is news), or, for deployment frequency, the level of the 4 weeks ending this
//!   week is below that of the 4 weeks ending the week before;
//! * a rate (change failure rate, first-time pass rate) must also be unlikely from a team still
//!   at its baseline rate: the one-sided binomial tail of this week's count is below
//!   [`RATE_ALPHA`] (4 of 13 PRs needing rework against a usual 7% happens one week in a
//!   hundred per team: luck, in an org of several teams); a level drop that is not a regression
//!   must also be worse than the baseline by [`LEVEL_DROP_K`] spreads;
//! * never on tiny counts: duration medians need [`MIN_DURATION_SAMPLES`] samples this week;
//!   rates need [`MIN_RATE_DENOMINATOR`] deployments or PRs and [`MIN_RATE_EVENTS`] failures
//!   (one failed deployment is not a trend); deployments need a baseline of
//!   [`MIN_DEPLOYMENT_BASELINE`]; incidents need [`MIN_INCIDENTS`] this week. A week without
//!   data is never flagged (it is shown as "no data", not as a drop to zero).
//!
//! A flagged team's reasons say what moved, from the baseline to this week ("lead time p50 rose
//! from 6 h to 2.1 d"), and how many of its PRs merged this week waited more than 2 days for a
//! first review.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::format::{self, Trend};
use crate::derive::Rollup;
use crate::metrics::incidents::OpenIncident;
use crate::metrics::levels::{
    change_failure_level, deployment_frequency_level, lead_time_level, recovery_level, DoraLevel,
    DAY_SECONDS, HOUR_SECONDS, WEEKS_PER_MONTH,
};
use crate::metrics::{merge_weeks, p50, ratio};
use crate::time::{iso_week, IsoWeek};

/// Weeks of history each team is compared with.
pub const HISTORY_WEEKS: usize = 4;
/// Previous weeks with a value needed before a metric can be judged.
pub const MIN_HISTORY_WEEKS: usize = 3;
/// How many spreads (MADs) away from the baseline a worse value must be.
pub const MAD_K: f64 = 3.0;
/// Samples this week before a duration median (lead time, recovery, cycle time, review
/// latency) can flag a team.
pub const MIN_DURATION_SAMPLES: u64 = 3;
/// Deployments (change failure rate) or merged PRs (first-time pass rate) this week before a
/// rate can flag a team.
pub const MIN_RATE_DENOMINATOR: u64 = 5;
/// Failed deployments or PRs that needed rework this week before a rate can flag a team.
pub const MIN_RATE_EVENTS: u64 = 2;
/// The median weekly deployments a team needs before fewer deployments can flag it.
pub const MIN_DEPLOYMENT_BASELINE: f64 = 5.0;
/// A rate flags a team only when a week this bad would come from a team still at its baseline
/// rate less often than this (one-sided binomial tail): 1 week in 200. Four teams and two rates
/// make eight such tests a week, so a looser level would flag someone most months on luck alone.
pub const RATE_ALPHA: f64 = 0.005;
/// A DORA level drop that is not a regression must still move this many spreads the bad way:
/// crossing a boundary by a hair is not news.
pub const LEVEL_DROP_K: f64 = 2.0;
/// Incidents opened this week before more incidents can flag a team.
pub const MIN_INCIDENTS: u64 = 3;
/// A PR "waited for a first review" when its pickup took longer than this (2 days).
pub const REVIEW_WAIT_SECONDS: f64 = 2.0 * DAY_SECONDS;
/// The slowest PRs listed.
pub const SLOWEST_PRS: usize = 3;
/// Open incidents listed; the rest are counted.
pub const OPEN_INCIDENTS_SHOWN: usize = 10;

/// How "needs attention" is decided, in one sentence every renderer prints the same way.
pub const ATTENTION_RULE: &str = "Each team is compared with its own previous 4 weeks: \
flagged when a number is worse than their median by more than 3 × MAD (with a floor, so a \
flat history does not flag small moves; rates also only when that bad a week would be a \
1-in-200 fluke) or its DORA level dropped to a 5-week low. Small weeks are never \
flagged: durations need 3 samples, rates 5 deployments or PRs and 2 failures.";

/// Everything the digest is built from; the edge fills it from the table and the config.
#[derive(Clone, Debug)]
pub struct DigestInput {
    pub org: String,
    /// The last full ISO week, the one being reported.
    pub week: IsoWeek,
    pub timezone: Tz,
    /// When the digest is built: ages of open incidents and the "generated" line.
    pub now: DateTime<Utc>,
    /// The org's rollups of the reported week and the 4 before it; a missing week has no data.
    /// Several rollups of one week are merged.
    pub org_weeks: Vec<(IsoWeek, Rollup)>,
    /// In config order, which is the order of the team rows.
    pub teams: Vec<TeamInput>,
    /// PRs merged in the reported week (bots excluded), any team. PRs whose merge falls
    /// outside the week (in the org timezone) are ignored.
    pub week_prs: Vec<PrSummary>,
    pub open_incidents: Vec<OpenIncident>,
    pub links: Links,
}

/// One team's rollups for the reported week and the 4 before it. Each list may hold several
/// rollups per week (one per repo, author or service); they are merged.
#[derive(Clone, Debug, Default)]
pub struct TeamInput {
    pub name: String,
    /// Deployments, lead time, change failure rate, recovery (the team's `repo:` rollups).
    pub delivery_weeks: Vec<(IsoWeek, Rollup)>,
    /// Cycle time, review latency, first-time pass rate (the team's PR rollups).
    pub pr_weeks: Vec<(IsoWeek, Rollup)>,
    /// Incidents opened (the team's `service:` rollups).
    pub incident_weeks: Vec<(IsoWeek, Rollup)>,
    /// `owner/repo`; with `members`, which of `week_prs` are the team's.
    pub repos: Vec<String>,
    /// GitHub logins.
    pub members: Vec<String>,
}

/// A merged PR, for the slowest-PR list and the review-wait count.
#[derive(Clone, Debug, PartialEq)]
pub struct PrSummary {
    /// `owner/repo`.
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub author: String,
    /// GitHub's `html_url`; when missing, `Links::github` builds one.
    pub url: Option<String>,
    /// First review − opened (or ready for review); `None` without a review.
    pub pickup_seconds: Option<f64>,
    /// Cycle time total.
    pub total_seconds: f64,
    pub merged_at: DateTime<Utc>,
}

/// Base URLs the digest links to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Links {
    /// The dashboard (e.g. `https://flowmeter.example.com`); linked at the end when set.
    pub dashboard: Option<String>,
    /// GitHub's web base (e.g. `https://github.com`), for PRs without a `url`:
    /// `<github>/<owner/repo>/pull/<number>`.
    pub github: Option<String>,
}

/// The digest: one per org and week, rendered three ways.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Digest {
    pub org: String,
    /// `2026-W42`.
    pub week: String,
    /// `12–18 Oct 2026`.
    pub dates: String,
    /// IANA name of the org timezone.
    pub timezone: String,
    pub generated_at: DateTime<Utc>,
    /// `Mon 19 Oct 2026 09:00 (Europe/Berlin)`.
    pub generated: String,
    pub headline: Headline,
    /// In config order.
    pub teams: Vec<TeamRow>,
    /// The flagged teams, in config order.
    pub attention: Vec<Attention>,
    /// PRs merged this week (bots excluded), as handed in and inside the week.
    pub prs_merged: usize,
    /// The slowest PRs by cycle time total, slowest first.
    pub slowest_prs: Vec<SlowPr>,
    /// The oldest open incidents first, at most [`OPEN_INCIDENTS_SHOWN`].
    pub open_incidents: Vec<OpenIncidentLine>,
    /// Open incidents not listed.
    pub more_open_incidents: usize,
    pub dashboard_url: Option<String>,
}

/// The org's four DORA numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Headline {
    pub deployments: Metric,
    pub lead_time: Metric,
    pub change_failure_rate: Metric,
    pub recovery: Metric,
    /// No org rollup (or an empty one) for the week: nothing was recorded at all.
    pub no_data: bool,
}

impl Headline {
    pub fn metrics(&self) -> [&Metric; 4] {
        [
            &self.deployments,
            &self.lead_time,
            &self.change_failure_rate,
            &self.recovery,
        ]
    }
}

/// One team row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamRow {
    pub name: String,
    pub deployments: Metric,
    pub lead_time: Metric,
    pub change_failure_rate: Metric,
    pub recovery: Metric,
    pub cycle_time: Metric,
    pub review_latency: Metric,
    pub first_time_pass: Metric,
    pub incidents_opened: Metric,
    /// Nothing at all was recorded for the team this week.
    pub no_data: bool,
    pub needs_attention: bool,
}

impl TeamRow {
    /// The team's metrics in display order: the four DORA numbers, then PRs and incidents.
    pub fn metrics(&self) -> [&Metric; 8] {
        [
            &self.deployments,
            &self.lead_time,
            &self.change_failure_rate,
            &self.recovery,
            &self.cycle_time,
            &self.review_latency,
            &self.first_time_pass,
            &self.incidents_opened,
        ]
    }
}

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
enum Unit {
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
    fn phrase(self) -> &'static str {
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

    fn unit(self) -> Unit {
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

/// A team that needs attention, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attention {
    pub team: String,
    pub reasons: Vec<Reason>,
    /// The team's PRs merged this week that waited over 2 days for a first review.
    pub waited_for_review: u64,
    /// The reasons in one line: `lead time p50 rose from 6 h to 2.1 d; 3 PRs waited over 2
    /// days for a first review`.
    pub summary: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// Worse than the baseline by more than k·MAD.
    Regression,
    /// The DORA level fell (without a regression beyond the threshold).
    LevelDrop,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    pub metric: MetricKind,
    pub kind: ReasonKind,
    /// The median of the previous weeks (deployment frequency's level drop: last week's
    /// value).
    pub baseline: f64,
    pub current: f64,
    /// The baseline's level and this week's, when the level dropped.
    pub level_drop: Option<(DoraLevel, DoraLevel)>,
    /// In plain words: `lead time p50 rose from 6 h to 2.1 d`.
    pub text: String,
}

/// One of the slowest PRs of the week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlowPr {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub author: String,
    /// A safe `http(s)` link, or `None` (then the PR is named without a link).
    pub url: Option<String>,
    pub total_seconds: f64,
    /// `4.2 d`.
    pub total: String,
    /// Time to first review, `None` without a review.
    pub pickup: Option<String>,
    /// The first team (config order) owning the repo or the author.
    pub team: Option<String>,
}

/// An incident still open at `now`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpenIncidentLine {
    pub id: String,
    pub service: String,
    pub severity: Option<String>,
    pub opened_at: DateTime<Utc>,
    /// On the org's wall clock: `Wed 14 Oct 12:00`.
    pub opened: String,
    pub age_seconds: f64,
    /// `11.5 d`.
    pub age: String,
}

/// Builds the digest. Pure: the same input gives the same digest.
pub fn build_digest(input: &DigestInput) -> Digest {
    let tz = input.timezone;
    let org_weeks = weeks_of(&input.org_weeks, input.week);
    let headline = Headline {
        deployments: metric(MetricKind::Deployments, &org_weeks),
        lead_time: metric(MetricKind::LeadTime, &org_weeks),
        change_failure_rate: metric(MetricKind::ChangeFailureRate, &org_weeks),
        recovery: metric(MetricKind::Recovery, &org_weeks),
        no_data: is_blank(&org_weeks),
    };

    let week_prs: Vec<&PrSummary> = input
        .week_prs
        .iter()
        .filter(|pr| iso_week(pr.merged_at, tz) == input.week)
        .collect();

    let mut teams = Vec::new();
    let mut attention = Vec::new();
    for team in &input.teams {
        let (row, flagged) = team_row(team, input.week, &week_prs);
        if let Some(flagged) = flagged {
            attention.push(flagged);
        }
        teams.push(row);
    }

    Digest {
        org: format::one_line(&input.org),
        week: input.week.to_string(),
        dates: format::week_dates(input.week),
        timezone: tz.name().to_string(),
        generated_at: input.now,
        generated: format::local_time_with_zone(input.now, tz),
        headline,
        teams,
        attention,
        prs_merged: week_prs.len(),
        slowest_prs: slowest_prs(&week_prs, &input.teams, &input.links),
        open_incidents: open_incidents(&input.open_incidents, input.now, tz),
        more_open_incidents: input
            .open_incidents
            .len()
            .saturating_sub(OPEN_INCIDENTS_SHOWN),
        dashboard_url: input
            .links
            .dashboard
            .as_deref()
            .and_then(format::safe_url)
            .map(str::to_string),
    }
}

/// The rollups of `week − 4 ..= week`, oldest first, same-week parts merged; `None` for a
/// week without a rollup.
fn weeks_of(parts: &[(IsoWeek, Rollup)], week: IsoWeek) -> Vec<Option<Rollup>> {
    let merged: BTreeMap<IsoWeek, Rollup> =
        merge_weeks(parts.iter().cloned()).into_iter().collect();
    let mut weeks = vec![week];
    for _ in 0..HISTORY_WEEKS {
        let earliest = weeks[weeks.len() - 1];
        weeks.push(earliest.prev());
    }
    weeks.reverse();
    weeks.iter().map(|w| merged.get(w).cloned()).collect()
}

/// Whether the reported (last) week has no rollup or an empty one.
fn is_blank(weeks: &[Option<Rollup>]) -> bool {
    weeks
        .last()
        .and_then(Option::as_ref)
        .is_none_or(Rollup::is_empty)
}

/// A metric's reading of one week.
#[derive(Clone, Copy, Debug, Default)]
struct Obs {
    value: Option<f64>,
    /// The samples or denominator behind the value.
    count: u64,
    /// Rates: the bad events (failed deployments, PRs that needed rework).
    bad: u64,
}

fn observe(kind: MetricKind, rollup: Option<&Rollup>) -> Obs {
    let empty = Rollup::default();
    let r = rollup.unwrap_or(&empty);
    match kind {
        MetricKind::Deployments => Obs {
            value: (r.deployments > 0).then_some(r.deployments_succeeded as f64),
            count: r.deployments,
            bad: r.deployments_failed,
        },
        MetricKind::LeadTime => Obs {
            value: p50(&r.lead_time),
            count: r.lead_time.count(),
            bad: 0,
        },
        MetricKind::ChangeFailureRate => Obs {
            value: ratio(r.deployments_failed, r.deployments),
            count: r.deployments,
            bad: r.deployments_failed,
        },
        MetricKind::Recovery => Obs {
            value: p50(&r.recovery),
            count: r.recovery.count(),
            bad: 0,
        },
        MetricKind::CycleTime => Obs {
            value: p50(&r.total),
            count: r.prs_merged,
            bad: 0,
        },
        MetricKind::ReviewLatency => Obs {
            value: p50(&r.pickup),
            count: r.pickup.count(),
            bad: 0,
        },
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
    match kind.unit() {
        Unit::Duration => format::duration(value),
        Unit::Rate => format::percent(value),
        Unit::Count if kind == MetricKind::IncidentsOpened && value == 0.0 => "none".to_string(),
        Unit::Count => format::number(value),
    }
}

fn level_of(kind: MetricKind, value: f64) -> Option<DoraLevel> {
    match kind {
        MetricKind::LeadTime => lead_time_level(value),
        MetricKind::ChangeFailureRate => change_failure_level(value),
        MetricKind::Recovery => recovery_level(value),
        _ => None,
    }
}

/// Deployment frequency's level over the [`WEEKS_PER_MONTH`] weeks ending at `weeks[end]`
/// (weeks without a rollup had no deploy day).
fn frequency_level(weeks: &[Option<Rollup>], end: usize) -> Option<DoraLevel> {
    let start = (end + 1).checked_sub(WEEKS_PER_MONTH)?;
    let days: Vec<u64> = weeks
        .get(start..=end)?
        .iter()
        .map(|r| r.as_ref().map_or(0, |r| r.deploy_days.len() as u64))
        .collect();
    deployment_frequency_level(&days)
}

fn rank(level: DoraLevel) -> u8 {
    match level {
        DoraLevel::Elite => 0,
        DoraLevel::High => 1,
        DoraLevel::Medium => 2,
        DoraLevel::Low => 3,
    }
}

fn change_text(kind: MetricKind, current: f64, previous: f64) -> (Trend, String) {
    match kind.unit() {
        Unit::Duration => format::duration_change(current, previous),
        Unit::Rate => format::percent_change(current, previous),
        Unit::Count => format::count_change(current, previous),
    }
}

/// The metric of the last week of `weeks` (see [`weeks_of`]).
fn metric(kind: MetricKind, weeks: &[Option<Rollup>]) -> Metric {
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

/// The median (the mean of the two middle values for an even count); `None` when empty.
fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// P(X ≥ `bad`) for X ~ Binomial(`n`, `p`): how often a week at least this bad comes from a team
/// whose true rate is `p`. Summed term by term from the first, each from the one before, in
/// floating point (n is a week's deployments or PRs: hundreds at most).
fn binomial_tail(bad: u64, n: u64, p: f64) -> f64 {
    if bad == 0 {
        return 1.0;
    }
    if bad > n {
        return 0.0;
    }
    let q = 1.0 - p;
    // ln of the first term, C(n, bad) p^bad q^(n-bad).
    let ln_choose: f64 = (0..bad)
        .map(|i| ((n - i) as f64).ln() - ((i + 1) as f64).ln())
        .sum();
    let mut term = (ln_choose + bad as f64 * p.ln() + (n - bad) as f64 * q.ln()).exp();
    let mut total = 0.0;
    for i in bad..=n {
        total += term;
        term *= (n - i) as f64 / (i + 1) as f64 * p / q;
    }
    total.min(1.0)
}

/// The smallest spread the threshold uses (see the module doc).
fn spread_floor(kind: MetricKind, baseline: f64) -> f64 {
    match kind.unit() {
        Unit::Duration => (baseline / 3.0).max(HOUR_SECONDS),
        Unit::Rate => 0.05,
        Unit::Count if kind == MetricKind::Deployments => (baseline * 0.15)
            .max(baseline.max(0.0).sqrt() / 1.5)
            .max(1.0),
        Unit::Count => 1.0,
    }
}

/// Whether this week has enough behind it to flag anything.
fn enough_data(kind: MetricKind, current: &Obs, baseline: f64) -> bool {
    match kind.unit() {
        Unit::Duration => current.count >= MIN_DURATION_SAMPLES,
        Unit::Rate => current.count >= MIN_RATE_DENOMINATOR && current.bad >= MIN_RATE_EVENTS,
        Unit::Count if kind == MetricKind::Deployments => baseline >= MIN_DEPLOYMENT_BASELINE,
        Unit::Count => current.count >= MIN_INCIDENTS,
    }
}

fn value_text(kind: MetricKind, value: f64) -> String {
    match kind.unit() {
        Unit::Duration => format::duration(value),
        Unit::Rate => format::percent(value),
        Unit::Count => format::number(value),
    }
}

fn regression_text(kind: MetricKind, baseline: f64, current: &Obs, value: f64) -> String {
    let verb = if kind.higher_is_better() {
        "fell"
    } else {
        "rose"
    };
    let mut text = format!(
        "{} {verb} from {} to {}",
        kind.phrase(),
        value_text(kind, baseline),
        value_text(kind, value)
    );
    match kind {
        MetricKind::ChangeFailureRate => text.push_str(&format!(
            " ({} of {} failed)",
            current.bad,
            format::plural(current.count, "deployment", "deployments")
        )),
        MetricKind::FirstTimePass => text.push_str(&format!(
            " ({} of {} needed rework)",
            current.bad,
            format::plural(current.count, "PR", "PRs")
        )),
        _ => {}
    }
    text
}

/// Judges the last week of `weeks` against the ones before it (see the module doc).
fn assess(kind: MetricKind, weeks: &[Option<Rollup>]) -> Option<Reason> {
    let last = weeks.len() - 1;
    let current = observe(kind, weeks[last].as_ref());
    let value = current.value?;
    let history: Vec<f64> = weeks[..last]
        .iter()
        .filter_map(|r| observe(kind, r.as_ref()).value)
        .collect();
    if history.len() < MIN_HISTORY_WEEKS {
        return None;
    }
    let baseline = median(&history)?;
    if !enough_data(kind, &current, baseline) {
        return None;
    }
    let deviations: Vec<f64> = history.iter().map(|x| (x - baseline).abs()).collect();
    let mad = median(&deviations)?;
    let threshold = MAD_K * mad.max(spread_floor(kind, baseline));
    let worse_by = if kind.higher_is_better() {
        baseline - value
    } else {
        value - baseline
    };
    // A rate must also be unlikely under the baseline rate, given this week's count.
    let surprising = match kind.unit() {
        Unit::Rate => {
            let bad_rate = if kind.higher_is_better() {
                1.0 - baseline
            } else {
                baseline
            };
            binomial_tail(current.bad, current.count, bad_rate.clamp(0.01, 0.99)) < RATE_ALPHA
        }
        Unit::Duration | Unit::Count => true,
    };
    let regressed = surprising && worse_by > threshold;

    let (from_level, to_level) = if kind == MetricKind::Deployments {
        (
            frequency_level(weeks, last - 1),
            frequency_level(weeks, last),
        )
    } else {
        (level_of(kind, baseline), level_of(kind, value))
    };
    // Outside deployment frequency (already smoothed over 4 weeks), a level drop must also be
    // this week's worst value of the 5, so one unlucky week next to a boundary is not news.
    let new_low = kind == MetricKind::Deployments
        || (surprising
            && worse_by > LEVEL_DROP_K * mad.max(spread_floor(kind, baseline))
            && history.iter().all(|&past| {
                if kind.higher_is_better() {
                    value < past
                } else {
                    value > past
                }
            }));
    let level_drop = match (from_level, to_level) {
        (Some(from), Some(to)) if rank(to) > rank(from) && new_low => Some((from, to)),
        _ => None,
    };

    if regressed {
        return Some(Reason {
            metric: kind,
            kind: ReasonKind::Regression,
            baseline,
            current: value,
            level_drop,
            text: regression_text(kind, baseline, &current, value),
        });
    }
    let (from, to) = level_drop?;
    let text = if kind == MetricKind::Deployments {
        format!(
            "deployment frequency over the last 4 weeks dropped from DORA {} to {}",
            format::level(from),
            format::level(to)
        )
    } else {
        format!(
            "{} dropped from DORA {} to {} ({} to {})",
            kind.phrase(),
            format::level(from),
            format::level(to),
            value_text(kind, baseline),
            value_text(kind, value)
        )
    };
    Some(Reason {
        metric: kind,
        kind: ReasonKind::LevelDrop,
        baseline,
        current: value,
        level_drop: Some((from, to)),
        text,
    })
}

fn owns(team: &TeamInput, pr: &PrSummary) -> bool {
    team.repos.iter().any(|r| r.eq_ignore_ascii_case(&pr.repo))
        || team
            .members
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&pr.author))
}

fn team_row(
    team: &TeamInput,
    week: IsoWeek,
    week_prs: &[&PrSummary],
) -> (TeamRow, Option<Attention>) {
    let delivery = weeks_of(&team.delivery_weeks, week);
    let prs = weeks_of(&team.pr_weeks, week);
    let incidents = weeks_of(&team.incident_weeks, week);
    let sources = [
        (MetricKind::Deployments, &delivery),
        (MetricKind::LeadTime, &delivery),
        (MetricKind::ChangeFailureRate, &delivery),
        (MetricKind::Recovery, &delivery),
        (MetricKind::CycleTime, &prs),
        (MetricKind::ReviewLatency, &prs),
        (MetricKind::FirstTimePass, &prs),
        (MetricKind::IncidentsOpened, &incidents),
    ];
    let reasons: Vec<Reason> = sources
        .iter()
        .filter_map(|(kind, weeks)| assess(*kind, weeks))
        .collect();
    let row = TeamRow {
        name: format::one_line(&team.name),
        deployments: metric(MetricKind::Deployments, &delivery),
        lead_time: metric(MetricKind::LeadTime, &delivery),
        change_failure_rate: metric(MetricKind::ChangeFailureRate, &delivery),
        recovery: metric(MetricKind::Recovery, &delivery),
        cycle_time: metric(MetricKind::CycleTime, &prs),
        review_latency: metric(MetricKind::ReviewLatency, &prs),
        first_time_pass: metric(MetricKind::FirstTimePass, &prs),
        incidents_opened: metric(MetricKind::IncidentsOpened, &incidents),
        no_data: is_blank(&delivery) && is_blank(&prs) && is_blank(&incidents),
        needs_attention: !reasons.is_empty(),
    };
    if reasons.is_empty() {
        return (row, None);
    }
    let waited_for_review = week_prs
        .iter()
        .filter(|pr| owns(team, pr))
        .filter(|pr| pr.pickup_seconds.is_some_and(|p| p > REVIEW_WAIT_SECONDS))
        .count() as u64;
    let mut parts: Vec<String> = reasons.iter().map(|r| r.text.clone()).collect();
    if waited_for_review > 0 {
        parts.push(format!(
            "{} waited over 2 days for a first review",
            format::plural(waited_for_review, "PR", "PRs")
        ));
    }
    let attention = Attention {
        team: format::one_line(&team.name),
        reasons,
        waited_for_review,
        summary: parts.join("; "),
    };
    (row, Some(attention))
}

fn pr_url(pr: &PrSummary, links: &Links) -> Option<String> {
    if let Some(url) = pr.url.as_deref().and_then(format::safe_url) {
        return Some(url.to_string());
    }
    let base = links.github.as_deref()?;
    let url = format!(
        "{}/{}/pull/{}",
        base.trim_end_matches('/'),
        pr.repo,
        pr.number
    );
    format::safe_url(&url).map(str::to_string)
}

fn slowest_prs(week_prs: &[&PrSummary], teams: &[TeamInput], links: &Links) -> Vec<SlowPr> {
    let mut prs: Vec<&PrSummary> = week_prs.to_vec();
    prs.sort_by(|a, b| {
        b.total_seconds
            .total_cmp(&a.total_seconds)
            .then_with(|| a.repo.cmp(&b.repo))
            .then_with(|| a.number.cmp(&b.number))
    });
    prs.into_iter()
        .take(SLOWEST_PRS)
        .map(|pr| SlowPr {
            repo: format::one_line(&pr.repo),
            number: pr.number,
            title: format::one_line(&pr.title),
            author: format::one_line(&pr.author),
            url: pr_url(pr, links),
            total_seconds: pr.total_seconds,
            total: format::duration(pr.total_seconds),
            pickup: pr.pickup_seconds.map(format::duration),
            team: teams
                .iter()
                .find(|t| owns(t, pr))
                .map(|t| format::one_line(&t.name)),
        })
        .collect()
}

fn open_incidents(open: &[OpenIncident], now: DateTime<Utc>, tz: Tz) -> Vec<OpenIncidentLine> {
    let mut sorted: Vec<&OpenIncident> = open.iter().collect();
    sorted.sort_by(|a, b| (a.opened_at, &a.id).cmp(&(b.opened_at, &b.id)));
    sorted
        .into_iter()
        .take(OPEN_INCIDENTS_SHOWN)
        .map(|incident| {
            let age_seconds =
                ((now - incident.opened_at).num_milliseconds().max(0) as f64) / 1000.0;
            OpenIncidentLine {
                id: format::one_line(&incident.id),
                service: format::one_line(&incident.service),
                severity: incident.severity.as_deref().map(format::one_line),
                opened_at: incident.opened_at,
                opened: format::local_time(incident.opened_at, tz),
                age_seconds,
                age: format::duration(age_seconds),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::derive::MemberData;

    fn reasons_of(digest: &Digest, team: &str) -> Vec<String> {
        digest
            .attention
            .iter()
            .filter(|a| a.team == team)
            .flat_map(|a| a.reasons.iter().map(|r| r.text.clone()))
            .collect()
    }

    #[test]
    fn digest_noise_from_tiny_counts_is_not_flagged() {
        // Usually 3 deployments, 1 h lead time, 5 PRs that pass first time, no incidents.
        // This week: 1 success and 2 failures (67% change failure rate from 3 attempts), two
        // shipped PRs with a 5-day lead time, two PRs that both needed rework and waited 5
        // days for review, 2 incidents. All worse, all too few to mean anything.
        let tiny = team(
            "Tiny",
            five(|i, w| {
                if i == 4 {
                    rollup(&[deployments(w, 1, 2), lead_times(&[5.0 * D, 5.0 * D])])
                } else {
                    rollup(&[deployments(w, 3, 0), lead_times(&[H, H, H])])
                }
            }),
            five(|i, _| {
                if i == 4 {
                    rollup(&[merged_prs(2, 10.0 * D, Some(5.0 * D), false)])
                } else {
                    rollup(&[merged_prs(5, D, Some(H), true)])
                }
            }),
            vec![(reported(), rollup(&[incidents(2)]))],
        );
        let digest = build_digest(&input(vec![tiny]));
        assert!(digest.attention.is_empty(), "{:#?}", digest.attention);
        let row = &digest.teams[0];
        assert!(!row.needs_attention);
        // The numbers are still shown as they are.
        assert_eq!(row.change_failure_rate.display, "67%");
        assert_eq!(row.lead_time.display, "5 d");
        assert_eq!(row.incidents_opened.display, "2");
    }

    #[test]
    fn digest_binomial_tail_matches_the_exact_sum() {
        // Exact values: P(X ≥ 4 | 13, 0.07) = 0.010276, P(X ≥ 3 | 17, 0.06) = 0.078180.
        assert!((binomial_tail(4, 13, 0.07) - 0.010_275_5).abs() < 1e-6);
        assert!((binomial_tail(3, 17, 0.06) - 0.078_179_5).abs() < 1e-6);
        assert_eq!(binomial_tail(0, 10, 0.3), 1.0);
        assert_eq!(binomial_tail(11, 10, 0.3), 0.0);
        assert!((binomial_tail(10, 10, 0.5) - 0.5f64.powi(10)).abs() < 1e-15);
        // Large n stays finite and sensible.
        let t = binomial_tail(60, 500, 0.1);
        assert!(t > 0.05 && t < 0.3, "{t}");
    }

    #[test]
    fn digest_ordinary_scatter_is_not_flagged_and_a_real_move_is() {
        // Deployments 6, 7, 6, 7 a week: 3 is within a Poisson count's scatter of 6.5 (it
        // happens about one week in ten); 1 is not.
        let deploying = |name: &str, this_week: usize| {
            team(
                name,
                five(move |i, w| {
                    let n = if i == 4 { this_week } else { [6, 7, 6, 7][i] };
                    rollup(&[deployments(w, n, 0)])
                }),
                Vec::new(),
                Vec::new(),
            )
        };
        // Change failure rate 9%, 10%, 20%, 9%, then 2 of 13 (15%, DORA low): the level
        // boundary is crossed, but three weeks ago was worse, and 2 of 13 at a 9% rate happens
        // one week in three. Against a flat 9%, 5 of 13 (38%) happens once in 250 weeks.
        let failing = |name: &str, history: [(usize, usize); 4], this_week: (usize, usize)| {
            team(
                name,
                five(move |i, w| {
                    let (ok, failed) = if i == 4 { this_week } else { history[i] };
                    rollup(&[deployments(w, ok, failed)])
                }),
                Vec::new(),
                Vec::new(),
            )
        };
        let digest = build_digest(&input(vec![
            deploying("Scatter", 3),
            deploying("Stalled", 1),
            failing("Unlucky", [(10, 1), (9, 1), (8, 2), (10, 1)], (11, 2)),
            failing("Lucky", [(10, 1); 4], (11, 2)),
            failing("Slipping", [(10, 1); 4], (8, 5)),
        ]));
        let names: Vec<&str> = digest.attention.iter().map(|a| a.team.as_str()).collect();
        assert_eq!(names, ["Stalled", "Slipping"], "{:#?}", digest.attention);
        assert_eq!(
            reasons_of(&digest, "Stalled"),
            ["deployments fell from 6.5 to 1"]
        );
        assert_eq!(
            reasons_of(&digest, "Slipping"),
            ["change failure rate rose from 9% to 38% (5 of 13 deployments failed)"]
        );
    }

    #[test]
    fn digest_lead_time_regression_is_flagged_with_the_reason() {
        let digest = sample_digest();
        let names: Vec<&str> = digest.attention.iter().map(|a| a.team.as_str()).collect();
        assert_eq!(names, ["Payments"]);
        let payments = &digest.attention[0];
        // Previous weeks' p50 is 6 h (5, 6, 7 h each week); this week 2.1 d from 3 shipped
        // PRs. Three of the team's PRs waited over 2 days (3, 2.5, 2.1 d); the platform PR
        // with a 1 h pickup is another team's.
        assert_eq!(
            payments.summary,
            "lead time p50 rose from 6 h to 2.1 d; 3 PRs waited over 2 days for a first review"
        );
        assert_eq!(payments.waited_for_review, 3);
        let reason = &payments.reasons[0];
        assert_eq!(reason.metric, MetricKind::LeadTime);
        assert_eq!(reason.kind, ReasonKind::Regression);
        assert_eq!(reason.baseline, 6.0 * H);
        assert_eq!(reason.current, 2.1 * D);
        assert_eq!(reason.level_drop, Some((DoraLevel::Elite, DoraLevel::High)));
        let row = digest
            .teams
            .iter()
            .find(|t| t.name == "Payments")
            .expect("row");
        assert!(row.needs_attention);
        assert_eq!(row.lead_time.value_with_level(), "2.1 d · high");
        assert_eq!(
            row.lead_time.change.as_ref().map(|c| c.text.as_str()),
            Some("▲ 1.9 d (from 6 h)")
        );
        assert_eq!(
            row.lead_time.change.as_ref().and_then(|c| c.better),
            Some(false)
        );
    }

    #[test]
    fn digest_dora_level_drop_is_flagged() {
        // Lead time p50 20 h (elite) every week, 36 h (high) this week: inside the regression
        // threshold (baseline + 3 × 6.7 h), beyond 2 spreads, a 5-week low, and the DORA level
        // dropped.
        let drifting = team(
            "Drifting",
            five(|i, w| {
                let lead = if i == 4 { 36.0 * H } else { 20.0 * H };
                rollup(&[deployments(w, 5, 0), lead_times(&[lead; 3])])
            }),
            Vec::new(),
            Vec::new(),
        );
        let digest = build_digest(&input(vec![drifting]));
        assert_eq!(
            reasons_of(&digest, "Drifting"),
            ["lead time p50 dropped from DORA elite to high (20 h to 1.5 d)"]
        );
        let reason = &digest.attention[0].reasons[0];
        assert_eq!(reason.kind, ReasonKind::LevelDrop);
        assert_eq!(reason.level_drop, Some((DoraLevel::Elite, DoraLevel::High)));

        // Deployment frequency: 5 deployments on 5 days a week (elite), then two weeks with as
        // many deployments all on Monday: the lower median of the last 4 weeks' deploy days
        // falls to 1 (high), while the count rule sees no change.
        let slower = team(
            "Slower",
            five(|i, w| {
                if i >= 3 {
                    let monday: Vec<MemberData> =
                        (0..5).flat_map(|_| deployments(w, 1, 0)).collect();
                    rollup(&[monday])
                } else {
                    rollup(&[deployments(w, 5, 0)])
                }
            }),
            Vec::new(),
            Vec::new(),
        );
        let digest = build_digest(&input(vec![slower]));
        assert_eq!(
            reasons_of(&digest, "Slower"),
            ["deployment frequency over the last 4 weeks dropped from DORA elite to high"]
        );
    }

    #[test]
    fn digest_small_moves_on_a_flat_history_are_not_flagged() {
        // Exactly 12 deployments, 2 h review latency and 1 d cycle time every week: the MAD
        // is 0, and the floors keep 10 deployments, 3 h and 1.5 d from counting as outliers.
        let flat = team(
            "Flat",
            five(|i, w| rollup(&[deployments(w, if i == 4 { 10 } else { 12 }, 0)])),
            five(|i, _| {
                if i == 4 {
                    rollup(&[merged_prs(5, 1.5 * D, Some(3.0 * H), true)])
                } else {
                    rollup(&[merged_prs(5, D, Some(2.0 * H), true)])
                }
            }),
            Vec::new(),
        );
        let digest = build_digest(&input(vec![flat]));
        assert!(digest.attention.is_empty(), "{:#?}", digest.attention);
        let row = &digest.teams[0];
        assert_eq!(
            row.deployments.change.as_ref().map(|c| c.text.as_str()),
            Some("▼ 2 (from 12)")
        );
        assert_eq!(
            row.review_latency.change.as_ref().map(|c| c.text.as_str()),
            Some("▲ 1 h (from 2 h)")
        );
    }

    #[test]
    fn digest_rate_and_count_regressions_read_plainly() {
        // 1 of 10 deployments failed each week, 5 of 10 this week; 0–1 incidents a week, 5
        // this week; 10 PRs a week all passing first time, 3 of 10 this week.
        let shaky = team(
            "Shaky",
            five(|i, w| {
                rollup(&[deployments(
                    w,
                    9 - 4 * usize::from(i == 4),
                    1 + 4 * usize::from(i == 4),
                )])
            }),
            five(|i, _| {
                if i == 4 {
                    rollup(&[
                        merged_prs(3, D, Some(H), true),
                        merged_prs(7, D, Some(H), false),
                    ])
                } else {
                    rollup(&[merged_prs(10, D, Some(H), true)])
                }
            }),
            five(|i, _| rollup(&[incidents([0, 1, 0, 0, 5][i])])),
        );
        let digest = build_digest(&input(vec![shaky]));
        assert_eq!(
            reasons_of(&digest, "Shaky"),
            [
                "change failure rate rose from 10% to 50% (5 of 10 deployments failed)",
                "first-time pass rate fell from 100% to 30% (7 of 10 PRs needed rework)",
                "incidents opened rose from 0 to 5",
            ]
        );
    }

    #[test]
    fn digest_weeks_without_data_say_so() {
        // No org rollups at all; one team with nothing; one that deployed without failures,
        // merged no PRs, and had no data the week before.
        let quiet = team(
            "Quiet",
            vec![
                (week(40), rollup(&[deployments(week(40), 2, 0)])),
                (reported(), rollup(&[deployments(reported(), 3, 0)])),
            ],
            Vec::new(),
            Vec::new(),
        );
        let empty = team("Empty", Vec::new(), Vec::new(), Vec::new());
        let digest = build_digest(&input(vec![quiet, empty]));

        assert!(digest.headline.no_data);
        for metric in digest.headline.metrics() {
            assert_eq!(metric.value, None);
            assert_eq!(metric.level, None);
            assert_eq!(metric.change, None);
        }
        assert_eq!(
            digest.headline.deployments.no_data.as_deref(),
            Some("no deployments recorded this week")
        );
        assert_eq!(
            digest.headline.deployments.display,
            "no deployments recorded"
        );

        let quiet = &digest.teams[0];
        assert!(!quiet.no_data);
        assert_eq!(quiet.deployments.display, "3");
        assert_eq!(
            quiet.deployments.change.as_ref().map(|c| c.text.as_str()),
            Some("no data the week before")
        );
        assert_eq!(quiet.lead_time.display, "no PRs shipped");
        assert_eq!(quiet.change_failure_rate.display, "0%");
        assert_eq!(quiet.recovery.display, "no failed deployments");
        assert_eq!(quiet.cycle_time.display, "no PRs merged");
        assert_eq!(quiet.review_latency.display, "no PRs merged");
        assert_eq!(quiet.first_time_pass.display, "no PRs merged");
        assert_eq!(quiet.incidents_opened.display, "none");

        let empty = &digest.teams[1];
        assert!(empty.no_data);
        assert_eq!(
            empty.deployments.no_data.as_deref(),
            Some("no deployments recorded this week")
        );
        assert!(digest.attention.is_empty());
        assert!(digest.slowest_prs.is_empty());
        assert_eq!(digest.prs_merged, 0);
    }

    #[test]
    fn digest_headline_has_levels_and_changes() {
        let digest = sample_digest();
        let h = &digest.headline;
        assert!(!h.no_data);
        // W41: 11 deployments; W42: 12 plus one failed attempt.
        assert_eq!(h.deployments.display, "12");
        assert_eq!(h.deployments.level, Some(DoraLevel::Elite));
        let change = h.deployments.change.as_ref().expect("change");
        assert_eq!(change.text, "▲ 1 (from 11)");
        assert_eq!(change.better, Some(true));
        assert_eq!(h.lead_time.value_with_level(), "6 h · elite");
        assert_eq!(
            h.change_failure_rate
                .change
                .as_ref()
                .map(|c| c.text.as_str()),
            Some("▲ 8 pts (from 0%)")
        );
        assert_eq!(h.change_failure_rate.level, Some(DoraLevel::High));
        assert_eq!(h.recovery.display, "30 min");
        assert_eq!(h.recovery.level, Some(DoraLevel::Elite));
        assert_eq!(
            h.recovery.change.as_ref().map(|c| c.text.as_str()),
            Some("no data the week before")
        );
    }

    #[test]
    fn digest_slowest_prs_and_open_incidents() {
        let mut input = sample_input();
        input.week_prs.push(PrSummary {
            url: Some("javascript:alert(1)".to_string()),
            ..pr("acme/platform", 2, 4.5 * D, None)
        });
        // Merged the week before: not this week's.
        input.week_prs.push(PrSummary {
            merged_at: t("2026-10-11T23:00:00Z"),
            ..pr("acme/platform", 3, 50.0 * D, None)
        });
        input.open_incidents.push(OpenIncident {
            id: "gen:older".to_string(),
            service: "search\nengine".to_string(),
            severity: None,
            opened_at: t("2026-10-09T09:00:00Z"),
        });
        let digest = build_digest(&input);
        assert_eq!(digest.prs_merged, 5);
        let slow: Vec<(u64, &str, Option<&str>)> = digest
            .slowest_prs
            .iter()
            .map(|p| (p.number, p.total.as_str(), p.url.as_deref()))
            .collect();
        assert_eq!(
            slow,
            [
                (7, "5 d", Some("https://github.com/acme/payments/pull/7")),
                // An unsafe URL is dropped, and GitHub's base is used instead.
                (2, "4.5 d", Some("https://github.com/acme/platform/pull/2")),
                (8, "4 d", Some("https://github.com/acme/payments/pull/8")),
            ]
        );
        assert_eq!(digest.slowest_prs[0].team.as_deref(), Some("Payments"));
        assert_eq!(digest.slowest_prs[0].pickup.as_deref(), Some("3 d"));

        let open: Vec<(&str, &str, &str, &str)> = digest
            .open_incidents
            .iter()
            .map(|i| {
                (
                    i.id.as_str(),
                    i.service.as_str(),
                    i.age.as_str(),
                    i.opened.as_str(),
                )
            })
            .collect();
        assert_eq!(
            open,
            [
                ("gen:older", "search engine", "10 d", "Fri 9 Oct 09:00"),
                ("pd:Q1", "checkout", "2 d", "Sat 17 Oct 09:00"),
            ]
        );
        assert_eq!(digest.more_open_incidents, 0);

        let many = build_digest(&big_input(2));
        assert_eq!(many.open_incidents.len(), OPEN_INCIDENTS_SHOWN);
        assert_eq!(many.more_open_incidents, 30);
    }

    #[test]
    fn digest_robust_statistics() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[5.0, 1.0, 100.0]), Some(5.0));
        // One wild week in the history does not move the baseline much.
        let weeks: Vec<Option<Rollup>> = [H, H, 30.0 * D, H, 5.0 * H]
            .iter()
            .map(|v| Some(rollup(&[lead_times(&[*v; 3])])))
            .collect();
        let reason = assess(MetricKind::LeadTime, &weeks).expect("flagged");
        assert_eq!(reason.text, "lead time p50 rose from 1 h to 5 h");
        // Too little history: not judged.
        let short: Vec<Option<Rollup>> = [None, None, Some(H), Some(H), Some(5.0 * D)]
            .iter()
            .map(|v| v.map(|v| rollup(&[lead_times(&[v; 3])])))
            .collect();
        assert_eq!(assess(MetricKind::LeadTime, &short), None);
    }
}
