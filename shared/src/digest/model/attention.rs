//! Which teams "need attention", and why: the one rule every renderer states as
//! [`ATTENTION_RULE`].
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

use super::metric::{frequency_level, level_of, observe, value_text, Obs, Unit};
use super::{MetricKind, Reason, ReasonKind};
use crate::derive::Rollup;
use crate::digest::format;
use crate::metrics::levels::{DoraLevel, HOUR_SECONDS};

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

/// How "needs attention" is decided, in one sentence every renderer prints the same way.
pub const ATTENTION_RULE: &str = "Each team is compared with its own previous 4 weeks: \
flagged when a number is worse than their median by more than 3 × MAD (with a floor, so a \
flat history does not flag small moves; rates also only when that bad a week would be a \
1-in-200 fluke) or its DORA level dropped to a 5-week low. Small weeks are never \
flagged: durations need 3 samples, rates 5 deployments or PRs and 2 failures.";

/// The median (the mean of the two middle values for an even count); `None` when empty.
pub(super) fn median(values: &[f64]) -> Option<f64> {
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
pub(super) fn binomial_tail(bad: u64, n: u64, p: f64) -> f64 {
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
pub(super) fn assess(kind: MetricKind, weeks: &[Option<Rollup>]) -> Option<Reason> {
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
    let spread = median(&deviations)?.max(spread_floor(kind, baseline));
    let worse_by = if kind.higher_is_better() {
        baseline - value
    } else {
        value - baseline
    };
    let surprising = surprising(kind, &current, baseline);
    let regressed = surprising && worse_by > MAD_K * spread;

    // Outside deployment frequency (already smoothed over 4 weeks), a level drop must also be
    // this week's worst value of the 5, so one unlucky week next to a boundary is not news.
    let new_low = kind == MetricKind::Deployments
        || (surprising
            && worse_by > LEVEL_DROP_K * spread
            && history.iter().all(|&past| {
                if kind.higher_is_better() {
                    value < past
                } else {
                    value > past
                }
            }));
    let level_drop = match levels(kind, weeks, baseline, value) {
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
    Some(Reason {
        metric: kind,
        kind: ReasonKind::LevelDrop,
        baseline,
        current: value,
        level_drop: Some((from, to)),
        text: level_drop_text(kind, (from, to), baseline, value),
    })
}

/// Whether this week is unlikely from a team still at its baseline: a rate must be, given this
/// week's count (one-sided binomial tail below [`RATE_ALPHA`]); durations and counts always are.
fn surprising(kind: MetricKind, current: &Obs, baseline: f64) -> bool {
    match kind.unit() {
        Unit::Rate => {
            let bad_rate = if kind.higher_is_better() {
                1.0 - baseline
            } else {
                baseline
            };
            binomial_tail(current.bad, current.count, bad_rate.clamp(0.01, 0.99)) < RATE_ALPHA
        }
        Unit::Duration | Unit::Count => true,
    }
}

/// The DORA level before and this week: deployment frequency's over the 4 weeks ending last
/// week and this week, the others' of the baseline and of this week's value.
fn levels(
    kind: MetricKind,
    weeks: &[Option<Rollup>],
    baseline: f64,
    value: f64,
) -> (Option<DoraLevel>, Option<DoraLevel>) {
    let last = weeks.len() - 1;
    if kind == MetricKind::Deployments {
        (
            frequency_level(weeks, last - 1),
            frequency_level(weeks, last),
        )
    } else {
        (level_of(kind, baseline), level_of(kind, value))
    }
}

fn level_drop_text(
    kind: MetricKind,
    (from, to): (DoraLevel, DoraLevel),
    baseline: f64,
    value: f64,
) -> String {
    if kind == MetricKind::Deployments {
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
    }
}

fn rank(level: DoraLevel) -> u8 {
    match level {
        DoraLevel::Elite => 0,
        DoraLevel::High => 1,
        DoraLevel::Medium => 2,
        DoraLevel::Low => 3,
    }
}
