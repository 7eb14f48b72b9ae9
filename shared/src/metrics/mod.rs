//! Weekly rollups → the numbers and the JSON shapes of the read API (`docs/API.md`), and the
//! Prometheus exposition of the DORA numbers. Pure: the caller loads the rollups of the scope
//! (a team's repos and authors merged per week with [`merge_weeks`]) and hands them in.
//!
//! Conventions shared by every report (definitions in `docs/METRICS.md`):
//!
//! * **Period.** `from`/`to` are dates in the org timezone, both inclusive. The `weeks` array of
//!   a report lists every ISO week with at least one day in `from..=to`
//!   ([`weeks_between`]), oldest first, whether or not the caller had a rollup for it: a missing
//!   week and a `Rollup::default()` are the same, zero counts and `null` quantiles. Rollups of
//!   weeks outside the period are ignored, and several rollups of one week are merged, so totals
//!   always equal the sum of the listed weeks. Rollups are weekly, so a period that starts or
//!   ends inside a week counts that whole week (the default period, the last 4 full weeks, is
//!   always aligned).
//!   Each report's `build` takes a [`ReportWindow`] whose weeks the caller (the API,
//!   `/metrics`, the digest) has computed and validated (`flowmeter::time::WeekWindow`).
//! * **Quantiles.** p50 = `quantile(0.5)`, p90 = `quantile(0.9)` of the merged sketch: the
//!   nearest-rank quantile, so the median of an even count is the lower middle value; exact
//!   below 1000 samples, within 1% above. `null` when there is no sample.
//! * **Rates** are fractions in `[0, 1]`, `null` when the denominator is 0.
//! * **Levels** ([`levels`]) are `null` exactly when the number they grade is `null`.
//!
//! [`weeks_between`]: crate::time::weeks_between

pub mod clusters;
pub mod cycle_time;
pub mod dora;
pub mod environments;
pub mod goals;
pub mod incidents;
pub mod levels;
pub mod lists;
pub mod prometheus;
pub mod pull_requests;
pub mod security;
pub mod tickets;

#[cfg(test)]
pub(crate) mod testing;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::derive::Rollup;
use crate::sketch::QuantileSketch;
use crate::time::IsoWeek;

pub use cycle_time::{CycleTimeReport, CycleTimeWeek};
pub use dora::{
    ChangeFailureRate, DeploymentFrequency, DoraReport, DoraWeek, DurationLevel, ReworkRate,
};
pub use incidents::{
    BySeverity, IncidentReport, IncidentWeek, OpenIncident, OpenIncidentEntry, ServiceIncidents,
};
pub use levels::DoraLevel;
pub use pull_requests::{PullRequestReport, PullRequestWeek, SizeQuantiles};

/// Merges the rollups of the same week (a team's `repo:` and `author:` rollups, several shards)
/// and returns one rollup per week, oldest first. Merging is exact for counts and sketches, so
/// the result equals folding all the weeks' members at once.
pub fn merge_weeks(parts: impl IntoIterator<Item = (IsoWeek, Rollup)>) -> Vec<(IsoWeek, Rollup)> {
    let mut by_week: BTreeMap<IsoWeek, Rollup> = BTreeMap::new();
    for (week, rollup) in parts {
        match by_week.get_mut(&week) {
            Some(merged) => merged.merge(&rollup),
            None => {
                by_week.insert(week, rollup);
            }
        }
    }
    by_week.into_iter().collect()
}

/// p50 and p90 of a duration, in seconds; `null` when there is no sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub p50_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

impl Quantiles {
    pub fn of(sketch: &QuantileSketch) -> Quantiles {
        Quantiles {
            p50_seconds: p50(sketch),
            p90_seconds: p90(sketch),
        }
    }
}

pub(crate) fn p50(sketch: &QuantileSketch) -> Option<f64> {
    sketch.quantile(0.5)
}

pub(crate) fn p90(sketch: &QuantileSketch) -> Option<f64> {
    sketch.quantile(0.9)
}

/// `numerator / denominator`, `None` when the denominator is 0.
pub(crate) fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Which scope and which period a report is about. Every report labels itself and lists its
/// weeks from the same four values, and the reports of one answer (the goals, each scope of
/// `/metrics`, a team's digest) must cover the same period: the caller works the window out
/// once and hands it to each report, rather than four loose arguments to every call that
/// could drift apart or be passed in another order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportWindow<'a> {
    /// The label the report carries (`team:payments`).
    pub scope: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The ISO weeks the report lists, as the caller computed and validated them from
    /// `from`/`to`; listing sorts them and drops repeats.
    pub weeks: &'a [IsoWeek],
}

impl ReportWindow<'_> {
    /// The window's rollups, one per listed week; rollups of other weeks are ignored.
    pub(crate) fn period(&self, rollups: &[(IsoWeek, Rollup)]) -> Period {
        Period::listing(self.from, self.to, self.weeks, rollups)
    }
}

/// The rollups of a report's period: one per ISO week of `from..=to`, in order, plus their
/// merge.
pub(crate) struct Period {
    pub weeks: Vec<(IsoWeek, Rollup)>,
    pub total: Rollup,
    /// Days in `from..=to` (0 when `from > to`).
    pub days: u64,
}

impl Period {
    /// The period `from..=to` listing every week of [`weeks_between`]`(from, to)`.
    ///
    /// [`weeks_between`]: crate::time::weeks_between
    #[cfg(test)]
    pub fn new(from: NaiveDate, to: NaiveDate, rollups: &[(IsoWeek, Rollup)]) -> Period {
        Period::listing(from, to, &crate::time::weeks_between(from, to), rollups)
    }

    /// The period `from..=to` listing `weeks` (sorted, each once); rollups of other weeks are
    /// ignored.
    pub fn listing(
        from: NaiveDate,
        to: NaiveDate,
        weeks: &[IsoWeek],
        rollups: &[(IsoWeek, Rollup)],
    ) -> Period {
        let mut by_week: BTreeMap<IsoWeek, Rollup> =
            weeks.iter().map(|w| (*w, Rollup::default())).collect();
        for (week, rollup) in rollups {
            if let Some(merged) = by_week.get_mut(week) {
                merged.merge(rollup);
            }
        }
        let mut total = Rollup::default();
        for rollup in by_week.values() {
            total.merge(rollup);
        }
        let days = u64::try_from((to - from).num_days() + 1).unwrap_or(0);
        Period {
            weeks: by_week.into_iter().collect(),
            total,
            days,
        }
    }

    /// One row per listed week, oldest first: a report's `weeks` array.
    pub fn each_week<T>(&self, row: impl Fn(IsoWeek, &Rollup) -> T) -> Vec<T> {
        self.weeks.iter().map(|(week, r)| row(*week, r)).collect()
    }
}

/// Serializes an [`IsoWeek`] as `YYYY-Www`, the API's spelling (its own serde form is a struct).
pub(crate) mod week_string {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::time::IsoWeek;

    pub fn serialize<S: Serializer>(week: &IsoWeek, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(week)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<IsoWeek, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::derive::MemberData;

    #[test]
    fn merge_weeks_merges_same_week_and_sorts() {
        let a = rollup(&[MemberData::PrOpened]);
        let b = rollup(&[MemberData::PrOpened, MemberData::PrOpened]);
        let c = rollup(&[MemberData::LeadTime { seconds: 5.0 }]);
        let merged = merge_weeks(vec![
            (week(2026, 43), c.clone()),
            (week(2026, 41), a.clone()),
            (week(2026, 41), b.clone()),
        ]);
        let mut ab = a;
        ab.merge(&b);
        assert_eq!(merged, vec![(week(2026, 41), ab), (week(2026, 43), c)]);
        assert_eq!(merged[0].1.prs_opened, 3);
        assert!(merge_weeks(Vec::new()).is_empty());
    }

    #[test]
    fn period_lists_every_week_and_ignores_weeks_outside() {
        let inside = rollup(&[MemberData::PrOpened]);
        let outside = rollup(&[MemberData::PrOpened, MemberData::PrOpened]);
        let p = Period::new(
            date("2026-10-05"),
            date("2026-10-25"),
            &[
                (week(2026, 43), inside.clone()),
                (week(2026, 40), outside.clone()),
                (week(2026, 44), outside),
                (week(2026, 43), inside),
            ],
        );
        let weeks: Vec<String> = p.weeks.iter().map(|(w, _)| w.to_string()).collect();
        assert_eq!(weeks, ["2026-W41", "2026-W42", "2026-W43"]);
        assert!(p.weeks[0].1.is_empty());
        assert!(p.weeks[1].1.is_empty());
        assert_eq!(p.weeks[2].1.prs_opened, 2);
        assert_eq!(p.total.prs_opened, 2);
        // 5 Oct .. 25 Oct inclusive = 21 days.
        assert_eq!(p.days, 21);

        let empty = Period::new(date("2026-10-06"), date("2026-10-05"), &[]);
        assert!(empty.weeks.is_empty());
        assert_eq!(empty.days, 0);
    }

    #[test]
    fn ratio_is_null_without_denominator() {
        assert_eq!(ratio(1, 4), Some(0.25));
        assert_eq!(ratio(0, 4), Some(0.0));
        assert_eq!(ratio(0, 0), None);
    }

    #[test]
    fn weeks_serialize_as_iso_strings() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct W {
            #[serde(with = "week_string")]
            week: IsoWeek,
        }
        let w = W {
            week: week(2026, 1),
        };
        let json = serde_json::to_string(&w).expect("serialize");
        assert_eq!(json, r#"{"week":"2026-W01"}"#);
        assert_eq!(serde_json::from_str::<W>(&json).expect("deserialize"), w);
        assert!(serde_json::from_str::<W>(r#"{"week":"2026-W54"}"#).is_err());
    }
}
