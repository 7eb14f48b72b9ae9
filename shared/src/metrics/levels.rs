//! DORA performance levels (the 2023 report's clusters, with the cut-offs Apache DevLake uses,
//! see `docs/METRICS.md`). Every function is total: `None` only for an input that is not a number
//! (NaN), so a report's level is `null` exactly when the number it grades is.
//!
//! Boundaries, as in DevLake's dashboards: durations use strict `<` (a median of exactly one
//! hour is *not* "less than one hour"), the change failure rate uses `≤`, deployment frequency
//! uses `≥`.
//!
//! A month is **30 days** for lead time, as in DevLake (`median_change_lead_time < 30 * 24 * 60`
//! minutes): a fixed length keeps the level independent of which calendar month the query
//! ends in, and 30 days is the length DORA's "between one week and one month" is usually read
//! with.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DoraLevel {
    Elite,
    High,
    Medium,
    Low,
}

impl DoraLevel {
    /// The lower-case name used in JSON and in the `level` label of `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            DoraLevel::Elite => "elite",
            DoraLevel::High => "high",
            DoraLevel::Medium => "medium",
            DoraLevel::Low => "low",
        }
    }
}

pub const HOUR_SECONDS: f64 = 3_600.0;
pub const DAY_SECONDS: f64 = 86_400.0;
pub const WEEK_SECONDS: f64 = 7.0 * DAY_SECONDS;
/// 30 days, DevLake's month (see the module doc).
pub const MONTH_SECONDS: f64 = 30.0 * DAY_SECONDS;

/// Median deploy days per week at or above which deployment frequency is elite. `docs/METRICS.md`
/// sets 5 (a deploy on every working day); DevLake's 2023 dashboard uses 7.
pub const ELITE_DEPLOY_DAYS_PER_WEEK: u64 = 5;
/// Median deploy days per week at or above which deployment frequency is high.
pub const HIGH_DEPLOY_DAYS_PER_WEEK: u64 = 1;
/// Median deploy days per "month" at or above which deployment frequency is medium.
pub const MEDIUM_DEPLOY_DAYS_PER_MONTH: u64 = 1;
/// The weeks of one "month" span for the medium test of deployment frequency.
pub const WEEKS_PER_MONTH: usize = 4;

/// Lead time for changes from its p50: `< 1 day` elite, `< 1 week` high, `< 30 days` medium,
/// else low.
pub fn lead_time_level(p50_seconds: f64) -> Option<DoraLevel> {
    grade(
        p50_seconds,
        [DAY_SECONDS, WEEK_SECONDS, MONTH_SECONDS],
        below,
    )
}

/// Change failure rate (a fraction): `≤ 5%` elite, `≤ 10%` high, `≤ 15%` medium, else low.
///
/// A rate computed as `failed as f64 / deployments as f64` compares exactly at the boundaries:
/// the division is correctly rounded, so 1/20 is the very double the literal `0.05` is, and a
/// ratio above 5% cannot round down onto it for any realistic count (it would take over 10^16
/// deployments).
pub fn change_failure_level(rate: f64) -> Option<DoraLevel> {
    grade(rate, [0.05, 0.10, 0.15], at_most)
}

/// Failed deployment recovery time from its p50: `< 1 hour` elite, `< 1 day` high, `< 1 week`
/// medium, else low. Exactly 3600 s is high.
pub fn recovery_level(p50_seconds: f64) -> Option<DoraLevel> {
    grade(
        p50_seconds,
        [HOUR_SECONDS, DAY_SECONDS, WEEK_SECONDS],
        below,
    )
}

/// The level of a number that is better lower: elite when it is `within` the first bound,
/// high within the second, medium within the third, else low; `None` for NaN.
fn grade(
    value: f64,
    [elite, high, medium]: [f64; 3],
    within: fn(f64, f64) -> bool,
) -> Option<DoraLevel> {
    if value.is_nan() {
        None
    } else if within(value, elite) {
        Some(DoraLevel::Elite)
    } else if within(value, high) {
        Some(DoraLevel::High)
    } else if within(value, medium) {
        Some(DoraLevel::Medium)
    } else {
        Some(DoraLevel::Low)
    }
}

/// Durations: strictly below the bound.
fn below(value: f64, bound: f64) -> bool {
    value < bound
}

/// The change failure rate: at or below the bound.
fn at_most(value: f64, bound: f64) -> bool {
    value <= bound
}

/// Deployment frequency from the number of distinct deploy days of each ISO week of the period
/// (oldest first, weeks without a deployment included as 0).
///
/// The rule, after DevLake's 2023 benchmark ("median number of deployment days per week /
/// per month"):
///
/// 1. the **median deploy days per week** ≥ [`ELITE_DEPLOY_DAYS_PER_WEEK`] (5) → elite;
/// 2. else ≥ [`HIGH_DEPLOY_DAYS_PER_WEEK`] (1) → high;
/// 3. else the **median deploy days per month** ≥ 1 → medium;
/// 4. else low (this includes a period with no deployment at all: we know there was none);
/// 5. no weeks (an empty period) → `None`.
///
/// *Median* is the lower median, the value of rank `ceil(n/2)` in ascending order — the same
/// nearest-rank rule as the quantile sketch, and what DevLake's SQL computes (`max(x)` over the
/// rows with `percent_rank() ≤ 0.5`). So four weeks of 4, 4, 5, 5 deploy days have a median
/// of 4: high, not elite.
///
/// *Month*: DevLake groups the calendar days of the window into calendar months, partial
/// months at both ends included. Our data is weekly, and a 4-week query (the default) almost
/// always straddles two calendar months, so that rule would make "deployed once in the last
/// four weeks" medium or low depending on which side of the 1st the deploy fell (the lower
/// median of two partial months is the smaller one). Instead a month is a span of
/// [`WEEKS_PER_MONTH`] (4) consecutive weeks, counted back from the period's last week
/// ([`monthly_deploy_days`]): 28 days, the whole weeks closest to DORA's "once per month". A
/// leading remainder of 1–3 weeks is left out of the monthly test when at least one full
/// span exists (a partial span's low count would drag the lower median down); a period
/// shorter than 4 weeks is one span.
pub fn deployment_frequency_level(weekly_deploy_days: &[u64]) -> Option<DoraLevel> {
    let weekly = lower_median(weekly_deploy_days)?;
    if weekly >= ELITE_DEPLOY_DAYS_PER_WEEK {
        return Some(DoraLevel::Elite);
    }
    if weekly >= HIGH_DEPLOY_DAYS_PER_WEEK {
        return Some(DoraLevel::High);
    }
    let monthly = lower_median(&monthly_deploy_days(weekly_deploy_days)).unwrap_or(0);
    if monthly >= MEDIUM_DEPLOY_DAYS_PER_MONTH {
        Some(DoraLevel::Medium)
    } else {
        Some(DoraLevel::Low)
    }
}

/// Deploy days per 4-week span, oldest span first, as [`deployment_frequency_level`] groups
/// them: spans end at the last week; a leading remainder shorter than 4 weeks is dropped unless
/// it is the whole period.
pub fn monthly_deploy_days(weekly_deploy_days: &[u64]) -> Vec<u64> {
    if weekly_deploy_days.is_empty() {
        return Vec::new();
    }
    if weekly_deploy_days.len() < WEEKS_PER_MONTH {
        return vec![weekly_deploy_days.iter().sum()];
    }
    let remainder = weekly_deploy_days.len() % WEEKS_PER_MONTH;
    weekly_deploy_days[remainder..]
        .chunks(WEEKS_PER_MONTH)
        .map(|span| span.iter().sum())
        .collect()
}

/// The value of rank `ceil(n/2)` in ascending order; `None` when empty.
pub fn lower_median(values: &[u64]) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len().div_ceil(2) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::DoraLevel::*;
    use super::*;

    #[test]
    fn lead_time_boundaries() {
        assert_eq!(lead_time_level(0.0), Some(Elite));
        assert_eq!(lead_time_level(86_399.999), Some(Elite));
        assert_eq!(lead_time_level(86_400.0), Some(High)); // exactly 1 day is not < 1 day
        assert_eq!(lead_time_level(604_799.999), Some(High));
        assert_eq!(lead_time_level(604_800.0), Some(Medium)); // 7 × 86 400
        assert_eq!(lead_time_level(2_591_999.999), Some(Medium));
        assert_eq!(lead_time_level(2_592_000.0), Some(Low)); // 30 × 86 400
        assert_eq!(lead_time_level(31.0 * 86_400.0), Some(Low));
        assert_eq!(lead_time_level(f64::INFINITY), Some(Low));
        assert_eq!(lead_time_level(f64::NAN), None);
    }

    #[test]
    fn change_failure_boundaries() {
        assert_eq!(change_failure_level(0.0), Some(Elite));
        assert_eq!(change_failure_level(0.05), Some(Elite));
        assert_eq!(change_failure_level(1.0 / 20.0), Some(Elite)); // exactly 5%
        assert_eq!(change_failure_level(3.0 / 60.0), Some(Elite));
        assert_eq!(change_failure_level(0.050_000_1), Some(High));
        assert_eq!(change_failure_level(1.0 / 19.0), Some(High)); // 5.26%
        assert_eq!(change_failure_level(0.10), Some(High));
        assert_eq!(change_failure_level(1.0 / 10.0), Some(High));
        assert_eq!(change_failure_level(3.0 / 30.0), Some(High));
        assert_eq!(change_failure_level(0.100_000_1), Some(Medium));
        assert_eq!(change_failure_level(0.15), Some(Medium));
        assert_eq!(change_failure_level(3.0 / 20.0), Some(Medium)); // exactly 15%
        assert_eq!(change_failure_level(15.0 / 100.0), Some(Medium));
        assert_eq!(change_failure_level(0.150_000_1), Some(Low));
        assert_eq!(change_failure_level(1.0 / 8.0), Some(Medium)); // docs/API.md's 0.125
        assert_eq!(change_failure_level(1.0), Some(Low));
        assert_eq!(change_failure_level(f64::NAN), None);
    }

    #[test]
    fn recovery_boundaries() {
        assert_eq!(recovery_level(0.0), Some(Elite));
        assert_eq!(recovery_level(3_599.999), Some(Elite));
        assert_eq!(recovery_level(3_600.0), Some(High)); // exactly 1 hour is high
        assert_eq!(recovery_level(86_399.999), Some(High));
        assert_eq!(recovery_level(86_400.0), Some(Medium));
        assert_eq!(recovery_level(604_799.999), Some(Medium));
        assert_eq!(recovery_level(604_800.0), Some(Low));
        assert_eq!(recovery_level(f64::NAN), None);
    }

    #[test]
    fn lower_median_is_rank_ceil_half() {
        assert_eq!(lower_median(&[]), None);
        assert_eq!(lower_median(&[7]), Some(7));
        assert_eq!(lower_median(&[5, 4]), Some(4)); // rank ceil(2/2) = 1
        assert_eq!(lower_median(&[2, 0, 1]), Some(1)); // rank 2 of [0,1,2]
        assert_eq!(lower_median(&[5, 4, 5, 4]), Some(4)); // rank 2 of [4,4,5,5]
        assert_eq!(lower_median(&[0, 3, 3, 3]), Some(3)); // rank 2 of [0,3,3,3]
        assert_eq!(lower_median(&[3, 3, 0, 0]), Some(0)); // rank 2 of [0,0,3,3]
    }

    #[test]
    fn deployment_frequency_weekly_boundaries() {
        assert_eq!(deployment_frequency_level(&[]), None);
        assert_eq!(deployment_frequency_level(&[7]), Some(Elite));
        assert_eq!(deployment_frequency_level(&[5]), Some(Elite)); // exactly 5 days
        assert_eq!(deployment_frequency_level(&[4]), Some(High));
        assert_eq!(deployment_frequency_level(&[1]), Some(High)); // exactly 1 day
        assert_eq!(deployment_frequency_level(&[0]), Some(Low));
        // Median of [4,4,5,5] is 4 (lower median): high. [4,5,5,5] → 5: elite.
        assert_eq!(deployment_frequency_level(&[5, 5, 4, 4]), Some(High));
        assert_eq!(deployment_frequency_level(&[5, 4, 5, 5]), Some(Elite));
        // [0,1,1,0] → sorted [0,0,1,1], median 0; the one 4-week span has 2 days: medium.
        assert_eq!(deployment_frequency_level(&[0, 1, 1, 0]), Some(Medium));
        // [0,1,1,1] → median 1: high.
        assert_eq!(deployment_frequency_level(&[0, 1, 1, 1]), Some(High));
    }

    #[test]
    fn deployment_frequency_monthly_boundaries() {
        // One deploy day in four weeks: weekly median 0, monthly 1 → medium (exactly 1).
        assert_eq!(deployment_frequency_level(&[0, 0, 0, 1]), Some(Medium));
        assert_eq!(deployment_frequency_level(&[1, 0, 0, 0]), Some(Medium));
        assert_eq!(deployment_frequency_level(&[0, 0, 0, 0]), Some(Low));
        // Shorter than four weeks: the whole period is one span.
        assert_eq!(deployment_frequency_level(&[0, 1]), Some(Medium));
        assert_eq!(deployment_frequency_level(&[0, 0, 0]), Some(Low));
        // Five weeks: the span is the last four; the oldest week is left out.
        assert_eq!(monthly_deploy_days(&[1, 0, 0, 0, 0]), vec![0]);
        assert_eq!(deployment_frequency_level(&[1, 0, 0, 0, 0]), Some(Low));
        assert_eq!(deployment_frequency_level(&[0, 0, 0, 0, 1]), Some(Medium));
        // Eight weeks = two spans; the lower median of [1, 0] is 0 → low; of [1, 1] → medium.
        assert_eq!(monthly_deploy_days(&[0, 0, 0, 1, 0, 0, 0, 0]), vec![1, 0]);
        assert_eq!(
            deployment_frequency_level(&[0, 0, 0, 1, 0, 0, 0, 0]),
            Some(Low)
        );
        assert_eq!(
            deployment_frequency_level(&[0, 0, 0, 1, 0, 0, 1, 0]),
            Some(Medium)
        );
        // Nine weeks: [w1] dropped, spans w2–w5 and w6–w9.
        assert_eq!(
            monthly_deploy_days(&[9, 1, 0, 0, 0, 0, 2, 0, 0]),
            vec![1, 2]
        );
        assert_eq!(monthly_deploy_days(&[]), Vec::<u64>::new());
        assert_eq!(monthly_deploy_days(&[2, 3]), vec![5]);
    }

    #[test]
    fn levels_serialize_lowercase() {
        let json = serde_json::to_string(&[Elite, High, Medium, Low]).expect("serialize");
        assert_eq!(json, r#"["elite","high","medium","low"]"#);
        for level in [Elite, High, Medium, Low] {
            assert_eq!(
                serde_json::to_string(&level).expect("serialize"),
                format!("\"{}\"", level.as_str())
            );
        }
        let back: DoraLevel = serde_json::from_str(r#""medium""#).expect("deserialize");
        assert_eq!(back, Medium);
    }
}
