//! `GET /v1/pull-requests`: PR analytics of the PRs merged in the period (bots excluded
//! upstream).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{p50, p90, ratio, week_string, Quantiles, ReportWindow};
use crate::derive::Rollup;
use crate::time::IsoWeek;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullRequestReport {
    pub scope: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// PRs merged in the period.
    pub merged: u64,
    /// PRs opened in the period (bucketed by opening, so not a subset of `merged`).
    pub opened: u64,
    /// Pickup time (first review − opened or ready for review) of the merged PRs.
    pub review_latency: Quantiles,
    /// Merged PRs with no `changes_requested` review and no commit after their first review,
    /// divided by merged PRs.
    pub first_time_pass_rate: Option<f64>,
    /// Review comments + conversation comments + non-empty review bodies by others, per merged
    /// PR.
    pub comments_per_pr: Option<f64>,
    /// Additions + deletions of the merged PRs.
    pub size: SizeQuantiles,
    /// PRs merged (the same number as `merged`, under the name METRICS.md gives it).
    pub throughput: u64,
    pub weeks: Vec<PullRequestWeek>,
}

/// p50 and p90 of PR size in lines; `null` when no PR was merged.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeQuantiles {
    pub p50_lines: Option<f64>,
    pub p90_lines: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullRequestWeek {
    #[serde(with = "week_string")]
    pub week: IsoWeek,
    pub merged: u64,
    /// p50 of the pickup time of the week's merged PRs.
    pub review_latency_p50_seconds: Option<f64>,
    pub first_time_pass_rate: Option<f64>,
}

impl PullRequestReport {
    /// The report of `window` (rollups of other weeks are ignored).
    pub fn build(window: &ReportWindow, rollups: &[(IsoWeek, Rollup)]) -> PullRequestReport {
        let period = window.period(rollups);
        let total = &period.total;
        PullRequestReport {
            scope: window.scope.to_string(),
            from: window.from,
            to: window.to,
            merged: total.prs_merged,
            opened: total.prs_opened,
            review_latency: Quantiles::of(&total.pickup),
            first_time_pass_rate: ratio(total.first_time_pass, total.prs_merged),
            comments_per_pr: ratio(total.comments, total.prs_merged),
            size: SizeQuantiles {
                p50_lines: p50(&total.size),
                p90_lines: p90(&total.size),
            },
            throughput: total.prs_merged,
            weeks: period.each_week(|week, r| PullRequestWeek {
                week,
                merged: r.prs_merged,
                review_latency_p50_seconds: p50(&r.pickup),
                first_time_pass_rate: ratio(r.first_time_pass, r.prs_merged),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::metrics::testing::*;

    #[test]
    fn five_prs_by_hand() {
        let report = pull_request_report(
            "author:alice",
            date("2026-10-05"),
            date("2026-10-25"),
            &five_prs(),
        );
        // merged: a, b, c, d (W41) + e (W43) = 5; opened 3 + 2 + 1 = 6.
        // review latency = pickup [30, 60, 600, 6000]: p50 rank 2 → 60, p90 rank 4 → 6000.
        // first-time pass: a, b, d = 3 of 5 = 0.6; comments 2+0+5+1+3 = 11 → 11/5 = 2.2.
        // size [10, 25, 40, 500, 1000]: p50 rank 3 → 40, p90 rank 5 → 1000.
        // weeks: W41 3 of 4 pass = 0.75, pickup [60, 600, 6000] → rank 2 → 600; W42 nothing
        // merged → null; W43 0 of 1 = 0, pickup 30.
        let expected = json!({
            "scope": "author:alice",
            "from": "2026-10-05",
            "to": "2026-10-25",
            "merged": 5,
            "opened": 6,
            "review_latency": {"p50_seconds": 60.0, "p90_seconds": 6000.0},
            "first_time_pass_rate": 0.6,
            "comments_per_pr": 2.2,
            "size": {"p50_lines": 40.0, "p90_lines": 1000.0},
            "throughput": 5,
            "weeks": [
                {"week": "2026-W41", "merged": 4, "review_latency_p50_seconds": 600.0,
                 "first_time_pass_rate": 0.75},
                {"week": "2026-W42", "merged": 0, "review_latency_p50_seconds": null,
                 "first_time_pass_rate": null},
                {"week": "2026-W43", "merged": 1, "review_latency_p50_seconds": 30.0,
                 "first_time_pass_rate": 0.0}
            ]
        });
        assert_serializes_to(&report, &expected);
        assert_round_trips(&report);
    }

    #[test]
    fn nothing_merged_means_null_rates() {
        let weeks = [(
            week(2026, 41),
            rollup(&[crate::derive::MemberData::PrOpened]),
        )];
        let report = pull_request_report("org", date("2026-10-05"), date("2026-10-11"), &weeks);
        assert_eq!((report.merged, report.opened, report.throughput), (0, 1, 0));
        assert_eq!(report.first_time_pass_rate, None);
        assert_eq!(report.comments_per_pr, None);
        assert_eq!(
            report.size,
            SizeQuantiles {
                p50_lines: None,
                p90_lines: None
            }
        );
        assert_eq!(report.review_latency.p50_seconds, None);
    }
}
