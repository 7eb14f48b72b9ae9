//! `GET /v1/cycle-time`: the parts of cycle time of the PRs merged in the period (bucketed by
//! merge time; bots excluded upstream).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{p50, week_string, Quantiles, ReportWindow};
use crate::derive::Rollup;
use crate::time::IsoWeek;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleTimeReport {
    pub scope: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// PRs merged in the period.
    pub count: u64,
    /// Opened − first commit (PRs whose first commit is after opening have none).
    pub coding: Quantiles,
    /// First review − opened (or ready for review); PRs without a review have none.
    pub pickup: Quantiles,
    /// Merged − first review.
    pub review: Quantiles,
    /// First shipping deployment − merged; PRs not shipped yet have none.
    pub deploy: Quantiles,
    /// coding (0 if none) + (merged − opened) + deploy (0 if none); every merged PR has one.
    pub total: Quantiles,
    pub weeks: Vec<CycleTimeWeek>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleTimeWeek {
    #[serde(with = "week_string")]
    pub week: IsoWeek,
    pub count: u64,
    pub total_p50_seconds: Option<f64>,
    /// The week's phase medians (the dashboard stacks them per week).
    pub coding_p50_seconds: Option<f64>,
    pub pickup_p50_seconds: Option<f64>,
    pub review_p50_seconds: Option<f64>,
    pub deploy_p50_seconds: Option<f64>,
}

impl CycleTimeReport {
    /// The report of `window` (rollups of other weeks are ignored).
    pub fn build(window: &ReportWindow, rollups: &[(IsoWeek, Rollup)]) -> CycleTimeReport {
        let period = window.period(rollups);
        let total = &period.total;
        CycleTimeReport {
            scope: window.scope.to_string(),
            from: window.from,
            to: window.to,
            count: total.prs_merged,
            coding: Quantiles::of(&total.coding),
            pickup: Quantiles::of(&total.pickup),
            review: Quantiles::of(&total.review),
            deploy: Quantiles::of(&total.deploy),
            total: Quantiles::of(&total.total),
            weeks: period.each_week(|week, r| CycleTimeWeek {
                week,
                count: r.prs_merged,
                total_p50_seconds: p50(&r.total),
                coding_p50_seconds: p50(&r.coding),
                pickup_p50_seconds: p50(&r.pickup),
                review_p50_seconds: p50(&r.review),
                deploy_p50_seconds: p50(&r.deploy),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::metrics::testing::*;

    #[test]
    fn five_prs_by_hand() {
        let report = cycle_time_report(
            "repo:acme/api",
            date("2026-10-05"),
            date("2026-10-25"),
            &five_prs(),
        );
        // coding [60, 120, 3600, 7200] (b has none), n = 4: p50 rank 2 → 120, p90 rank
        // ceil(3.6) = 4 → 7200.
        // pickup [30, 60, 600, 6000]: p50 → 60, p90 → 6000.
        // review [90, 300, 600, 1200]: p50 → 300, p90 → 1200.
        // deploy [900, 1800, 86400] (b, d unshipped), n = 3: p50 rank 2 → 1800, p90 rank
        // ceil(2.7) = 3 → 86400.
        // total [2000, 4000, 10000, 50000, 90000], n = 5: p50 rank 3 → 10000, p90 rank 5 →
        // 90000.
        // weeks: W41 totals [2000, 4000, 10000, 50000] → rank 2 → 4000; W42 none; W43 90000.
        // W41 phases (a, c, d; b has none): coding [60, 3600, 7200] → 3600, pickup [60, 600,
        // 6000] → 600, review [300, 600, 1200] → 600, deploy [900, 1800] (d unshipped) → 900.
        let expected = json!({
            "scope": "repo:acme/api",
            "from": "2026-10-05",
            "to": "2026-10-25",
            "count": 5,
            "coding": {"p50_seconds": 120.0, "p90_seconds": 7200.0},
            "pickup": {"p50_seconds": 60.0, "p90_seconds": 6000.0},
            "review": {"p50_seconds": 300.0, "p90_seconds": 1200.0},
            "deploy": {"p50_seconds": 1800.0, "p90_seconds": 86400.0},
            "total": {"p50_seconds": 10000.0, "p90_seconds": 90000.0},
            "weeks": [
                {"week": "2026-W41", "count": 4, "total_p50_seconds": 4000.0,
                 "coding_p50_seconds": 3600.0, "pickup_p50_seconds": 600.0,
                 "review_p50_seconds": 600.0, "deploy_p50_seconds": 900.0},
                {"week": "2026-W42", "count": 0, "total_p50_seconds": null,
                 "coding_p50_seconds": null, "pickup_p50_seconds": null,
                 "review_p50_seconds": null, "deploy_p50_seconds": null},
                {"week": "2026-W43", "count": 1, "total_p50_seconds": 90000.0,
                 "coding_p50_seconds": 120.0, "pickup_p50_seconds": 30.0,
                 "review_p50_seconds": 90.0, "deploy_p50_seconds": 86400.0}
            ]
        });
        assert_serializes_to(&report, &expected);
        assert_round_trips(&report);
    }

    #[test]
    fn empty_period_has_null_quantiles() {
        let report = cycle_time_report("org", date("2026-10-05"), date("2026-10-11"), &[]);
        let json = serde_json::to_value(&report).expect("serialize");
        assert_eq!(json["count"], json!(0));
        for part in ["coding", "pickup", "review", "deploy", "total"] {
            assert_eq!(
                json[part],
                json!({"p50_seconds": null, "p90_seconds": null}),
                "{part}"
            );
        }
        assert_eq!(
            json["weeks"],
            json!([{"week": "2026-W41", "count": 0, "total_p50_seconds": null,
                    "coding_p50_seconds": null, "pickup_p50_seconds": null,
                    "review_p50_seconds": null, "deploy_p50_seconds": null}])
        );
    }
}
