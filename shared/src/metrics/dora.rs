//! `GET /v1/dora`: the four DORA metrics and deployment rework rate of a scope over a period.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::levels::{
    change_failure_level, deployment_frequency_level, lead_time_level, recovery_level, DoraLevel,
};
use super::{p50, p90, ratio, week_string, ReportWindow};
use crate::derive::Rollup;
use crate::sketch::QuantileSketch;
use crate::time::IsoWeek;

/// The environment DORA numbers are about. Rollups only hold production deployments (the
/// configured production pattern), so this is what every report says; the field is public for
/// a caller that ever serves another environment.
pub const PRODUCTION: &str = "production";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoraReport {
    pub scope: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub environment: String,
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: DurationLevel,
    pub change_failure_rate: ChangeFailureRate,
    pub recovery_time: DurationLevel,
    pub rework_rate: ReworkRate,
    pub weeks: Vec<DoraWeek>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentFrequency {
    /// Successful production deployments.
    pub deployments: u64,
    /// Distinct days (org timezone) with at least one successful production deployment.
    pub deploy_days: u64,
    /// `deployments / days in from..=to`; `null` only for an empty period.
    pub per_day: Option<f64>,
    /// `deployments / (days / 7)`; `null` only for an empty period.
    pub per_week: Option<f64>,
    /// See [`deployment_frequency_level`]; `null` only for an empty period.
    pub level: Option<DoraLevel>,
}

/// A duration metric graded by its median: lead time, recovery time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DurationLevel {
    /// Samples: shipped PRs (lead time) or recovered failed deployments (recovery time).
    pub count: u64,
    pub p50_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub level: Option<DoraLevel>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeFailureRate {
    /// Terminal production attempts, success or failure.
    pub deployments: u64,
    pub failed: u64,
    pub rate: Option<f64>,
    pub level: Option<DoraLevel>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReworkRate {
    /// Successful production deployments.
    pub deployments: u64,
    /// Those of them that only shipped unplanned fixes.
    pub rework: u64,
    pub rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoraWeek {
    #[serde(with = "week_string")]
    pub week: IsoWeek,
    /// Successful production deployments (as `deployment_frequency.deployments`; docs/API.md's
    /// example has 4 of them beside a change failure rate of 0.2 = 1 of 5 attempts).
    pub deployments: u64,
    pub lead_time_p50_seconds: Option<f64>,
    /// `deployments_failed / deployments` (all terminal attempts) of the week.
    pub change_failure_rate: Option<f64>,
    pub recovery_time_p50_seconds: Option<f64>,
    /// `rework / deployments` of the week (successful attempts that shipped only fixes).
    pub rework_rate: Option<f64>,
}

impl DoraReport {
    /// The report of `window` (rollups of other weeks are ignored) for `environment`.
    pub fn build(
        window: &ReportWindow,
        rollups: &[(IsoWeek, Rollup)],
        environment: &str,
    ) -> DoraReport {
        let period = window.period(rollups);
        let total = &period.total;
        let days = period.days;
        let deployments = total.deployments_succeeded;
        let weekly_deploy_days: Vec<u64> = period
            .weeks
            .iter()
            .map(|(_, r)| r.deploy_days.len() as u64)
            .collect();
        let cfr = ratio(total.deployments_failed, total.deployments);
        // What a deployment shipped is known for production alone: elsewhere no rework rate.
        let rework = |rework: u64, of: u64| {
            (environment == PRODUCTION)
                .then(|| ratio(rework, of))
                .flatten()
        };
        DoraReport {
            scope: window.scope.to_string(),
            from: window.from,
            to: window.to,
            environment: environment.to_string(),
            deployment_frequency: DeploymentFrequency {
                deployments,
                deploy_days: total.deploy_days.len() as u64,
                per_day: (days > 0).then(|| deployments as f64 / days as f64),
                per_week: (days > 0).then(|| deployments as f64 * 7.0 / days as f64),
                level: deployment_frequency_level(&weekly_deploy_days),
            },
            lead_time: duration_level(&total.lead_time, lead_time_level),
            change_failure_rate: ChangeFailureRate {
                deployments: total.deployments,
                failed: total.deployments_failed,
                rate: cfr,
                level: cfr.and_then(change_failure_level),
            },
            recovery_time: duration_level(&total.recovery, recovery_level),
            rework_rate: ReworkRate {
                deployments,
                rework: total.rework,
                rate: rework(total.rework, deployments),
            },
            weeks: period.each_week(|week, r| DoraWeek {
                week,
                deployments: r.deployments_succeeded,
                lead_time_p50_seconds: p50(&r.lead_time),
                change_failure_rate: ratio(r.deployments_failed, r.deployments),
                recovery_time_p50_seconds: p50(&r.recovery),
                rework_rate: rework(r.rework, r.deployments_succeeded),
            }),
        }
    }
}

fn duration_level(
    sketch: &QuantileSketch,
    level: impl Fn(f64) -> Option<DoraLevel>,
) -> DurationLevel {
    let median = p50(sketch);
    DurationLevel {
        count: sketch.count(),
        p50_seconds: median,
        p90_seconds: p90(sketch),
        level: median.and_then(level),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::metrics::testing::*;

    /// Three weeks, the middle one without data.
    ///
    /// W41 (5–11 Oct): successes on 5 Oct (×2, one of them rework), 7 Oct; a failed attempt on
    /// 8 Oct recovered in 1800 s; a success on 9 Oct that an incident blamed (failed),
    /// recovered in 7200 s; lead times 3600, 7200, 10800 s.
    /// W42: nothing.
    /// W43 (19–25 Oct): successes on 19, 20, 21, 22, 23 (×2) Oct; a failed attempt on 24 Oct
    /// recovered in 90 000 s; lead times 86 400, 172 800 s.
    fn three_weeks() -> Vec<(IsoWeek, Rollup)> {
        let w41 = rollup(&[
            deployment("2026-10-05", true, false, false),
            deployment("2026-10-05", true, false, true),
            deployment("2026-10-07", true, false, false),
            failed_deployment("2026-10-08", false, 1800.0),
            failed_deployment("2026-10-09", true, 7200.0),
            lead(3600.0),
            lead(7200.0),
            lead(10800.0),
        ]);
        let w43 = rollup(&[
            deployment("2026-10-19", true, false, false),
            deployment("2026-10-20", true, false, false),
            deployment("2026-10-21", true, false, false),
            deployment("2026-10-22", true, false, false),
            deployment("2026-10-23", true, false, false),
            deployment("2026-10-23", true, false, false),
            failed_deployment("2026-10-24", false, 90000.0),
            lead(86400.0),
            lead(172800.0),
        ]);
        vec![(week(2026, 41), w41), (week(2026, 43), w43)]
    }

    #[test]
    fn three_weeks_by_hand() {
        let report = dora_report(
            "team:payments",
            date("2026-10-05"),
            date("2026-10-25"),
            &three_weeks(),
        );
        // deployment_frequency: successes 4 (W41) + 6 (W43) = 10; deploy days {5,7,9} +
        // {19..23} = 3 + 5 = 8; the period 5..25 Oct has 21 days: per_day = 10/21, per_week =
        // 10/(21/7) = 10/3. Weekly deploy days [3, 0, 5] → sorted [0,3,5], lower median 3 ≥ 1
        // and < 5 → high.
        // lead_time: [3600, 7200, 10800, 86400, 172800], n = 5: p50 = rank ceil(2.5) = 3 →
        // 10800 (< 1 day: elite); p90 = rank ceil(4.5) = 5 → 172800.
        // change_failure_rate: attempts 5 + 7 = 12, failed 2 + 1 = 3, 3/12 = 0.25 > 0.15 → low.
        // recovery_time: [1800, 7200, 90000], n = 3: p50 = rank 2 → 7200 (≥ 1 h, < 1 day: high);
        // p90 = rank ceil(2.7) = 3 → 90000.
        // rework_rate: 1 of 10 successes = 0.1.
        // weeks: W41 lead p50 of [3600,7200,10800] = rank 2 → 7200, CFR 2/5 = 0.4, recovery
        // p50 of [1800,7200] = rank 1 → 1800; W42 empty; W43 lead p50 of [86400,172800] =
        // rank 1 → 86400, CFR 1/7, recovery 90000; rework W41 1 of 4 successes, W43 0 of 6.
        let expected = json!({
            "scope": "team:payments",
            "from": "2026-10-05",
            "to": "2026-10-25",
            "environment": "production",
            "deployment_frequency": {
                "deployments": 10,
                "deploy_days": 8,
                "per_day": 10.0 / 21.0,
                "per_week": 10.0 / 3.0,
                "level": "high"
            },
            "lead_time": {
                "count": 5,
                "p50_seconds": 10800.0,
                "p90_seconds": 172800.0,
                "level": "elite"
            },
            "change_failure_rate": {
                "deployments": 12,
                "failed": 3,
                "rate": 0.25,
                "level": "low"
            },
            "recovery_time": {
                "count": 3,
                "p50_seconds": 7200.0,
                "p90_seconds": 90000.0,
                "level": "high"
            },
            "rework_rate": { "deployments": 10, "rework": 1, "rate": 0.1 },
            "weeks": [
                {
                    "week": "2026-W41",
                    "deployments": 4,
                    "lead_time_p50_seconds": 7200.0,
                    "change_failure_rate": 0.4,
                    "recovery_time_p50_seconds": 1800.0,
                    "rework_rate": 0.25
                },
                {
                    "week": "2026-W42",
                    "deployments": 0,
                    "lead_time_p50_seconds": null,
                    "change_failure_rate": null,
                    "recovery_time_p50_seconds": null,
                    "rework_rate": null
                },
                {
                    "week": "2026-W43",
                    "deployments": 6,
                    "lead_time_p50_seconds": 86400.0,
                    "change_failure_rate": 1.0 / 7.0,
                    "recovery_time_p50_seconds": 90000.0,
                    "rework_rate": 0.0
                }
            ]
        });
        assert_serializes_to(&report, &expected);
        assert_eq!(
            report.deployment_frequency.per_day,
            Some(0.47619047619047616)
        );
        assert_eq!(
            report.deployment_frequency.per_week,
            Some(3.3333333333333335)
        );
    }

    #[test]
    fn three_weeks_read_the_same_with_the_empty_week_present_and_round_trip() {
        let report = dora_report(
            "team:payments",
            date("2026-10-05"),
            date("2026-10-25"),
            &three_weeks(),
        );
        // The same with the empty week present as a default rollup, in another order.
        let mut with_empty = three_weeks();
        with_empty.insert(0, (week(2026, 42), Rollup::default()));
        let again = dora_report(
            "team:payments",
            date("2026-10-05"),
            date("2026-10-25"),
            &with_empty,
        );
        assert_eq!(again, report);

        // And round-trips through JSON.
        assert_round_trips(&report);
    }

    #[test]
    fn build_lists_the_given_weeks_and_environment() {
        let rollups = three_weeks();
        let window = ReportWindow {
            scope: "team:payments",
            from: date("2026-10-05"),
            to: date("2026-10-25"),
            weeks: &[
                week(2026, 43),
                week(2026, 41),
                week(2026, 42),
                week(2026, 41),
            ],
        };
        let built = DoraReport::build(&window, &rollups, PRODUCTION);
        let expected = dora_report(
            "team:payments",
            date("2026-10-05"),
            date("2026-10-25"),
            &rollups,
        );
        assert_eq!(built, expected);
        // Another environment's report has no rework rate: what it shipped is not known.
        let qa = DoraReport::build(
            &ReportWindow {
                weeks: &[week(2026, 41)],
                ..window
            },
            &rollups,
            "qa",
        );
        assert_eq!(qa.environment, "qa");
        assert_eq!((qa.rework_rate.rework, qa.rework_rate.rate), (1, None));
        assert!(qa.weeks.iter().all(|w| w.rework_rate.is_none()));
        // Listing only W43 (19–25 Oct) leaves W41's rollup out: 6 successes in 7 days.
        let only = DoraReport::build(
            &ReportWindow {
                from: date("2026-10-19"),
                weeks: &[week(2026, 43)],
                ..window
            },
            &rollups,
            PRODUCTION,
        );
        assert_eq!(only.weeks.len(), 1);
        assert_eq!(only.deployment_frequency.deployments, 6);
        assert_eq!(only.deployment_frequency.per_week, Some(6.0));
        // Deploy days [5] → elite.
        assert_eq!(only.deployment_frequency.level, Some(DoraLevel::Elite));
    }

    #[test]
    fn team_rollups_of_one_week_merge() {
        // Two repos' rollups of W41 handed in separately: deploy days are a set, so 5 Oct
        // deployed in both repos counts once (2 days: 5 and 6 Oct).
        let repo_a = rollup(&[deployment("2026-10-05", true, false, false), lead(100.0)]);
        let repo_b = rollup(&[
            deployment("2026-10-05", true, false, false),
            deployment("2026-10-06", true, false, false),
            lead(300.0),
            lead(200.0),
        ]);
        let weeks = crate::metrics::merge_weeks(vec![
            (week(2026, 41), repo_a.clone()),
            (week(2026, 41), repo_b.clone()),
        ]);
        let report = dora_report("team:x", date("2026-10-05"), date("2026-10-11"), &weeks);
        let unmerged = dora_report(
            "team:x",
            date("2026-10-05"),
            date("2026-10-11"),
            &[(week(2026, 41), repo_a), (week(2026, 41), repo_b)],
        );
        assert_eq!(report, unmerged);
        assert_eq!(report.deployment_frequency.deployments, 3);
        assert_eq!(report.deployment_frequency.deploy_days, 2);
        // 3 deployments over 7 days: 3/7 per day, 3 per week; one week with 2 deploy days →
        // high.
        assert_eq!(report.deployment_frequency.per_day, Some(3.0 / 7.0));
        assert_eq!(report.deployment_frequency.per_week, Some(3.0));
        assert_eq!(report.deployment_frequency.level, Some(DoraLevel::High));
        // Lead times [100, 200, 300]: p50 rank 2 → 200, p90 rank 3 → 300.
        assert_eq!(report.lead_time.p50_seconds, Some(200.0));
        assert_eq!(report.lead_time.p90_seconds, Some(300.0));
        assert_eq!(report.change_failure_rate.rate, Some(0.0));
        assert_eq!(report.change_failure_rate.level, Some(DoraLevel::Elite));
        assert_eq!(report.recovery_time.p50_seconds, None);
        assert_eq!(report.recovery_time.level, None);
    }

    #[test]
    fn no_data_gives_zeros_nulls_and_a_low_frequency() {
        let report = dora_report("org", date("2026-10-05"), date("2026-11-01"), &[]);
        let json = serde_json::to_value(&report).expect("serialize");
        assert_eq!(
            json["deployment_frequency"],
            json!({"deployments": 0, "deploy_days": 0, "per_day": 0.0, "per_week": 0.0,
                   "level": "low"})
        );
        assert_eq!(
            json["lead_time"],
            json!({"count": 0, "p50_seconds": null, "p90_seconds": null, "level": null})
        );
        assert_eq!(
            json["change_failure_rate"],
            json!({"deployments": 0, "failed": 0, "rate": null, "level": null})
        );
        assert_eq!(
            json["rework_rate"],
            json!({"deployments": 0, "rework": 0, "rate": null})
        );
        let weeks: Vec<&str> = json["weeks"]
            .as_array()
            .expect("weeks")
            .iter()
            .map(|w| w["week"].as_str().expect("week"))
            .collect();
        assert_eq!(weeks, ["2026-W41", "2026-W42", "2026-W43", "2026-W44"]);

        // An empty period (the API rejects from > to with 400; this must still not panic).
        let empty = dora_report("org", date("2026-10-06"), date("2026-10-05"), &[]);
        assert_eq!(empty.deployment_frequency.per_day, None);
        assert_eq!(empty.deployment_frequency.per_week, None);
        assert_eq!(empty.deployment_frequency.level, None);
        assert!(empty.weeks.is_empty());
    }

    #[test]
    fn api_example_numbers() {
        // docs/API.md's example: two weeks (5–18 Oct), 7 successes on 5 days, 8 attempts with 1
        // failure, recovery 3600 s (exactly one hour: high), lead p50 21600 s (elite).
        // per_day = 7/14 = 0.5, per_week = 7/2 = 3.5; weekly deploy days [3, 2] → lower
        // median 2 → high; CFR 1/8 = 0.125 → medium; rework 1/7.
        let w41 = rollup(&[
            deployment("2026-10-05", true, false, true),
            deployment("2026-10-06", true, false, false),
            deployment("2026-10-07", true, false, false),
            deployment("2026-10-07", true, false, false),
            failed_deployment("2026-10-08", false, 3600.0),
            lead(21600.0),
            lead(21600.0),
            lead(3600.0),
        ]);
        let w42 = rollup(&[
            deployment("2026-10-12", true, false, false),
            deployment("2026-10-13", true, false, false),
            deployment("2026-10-13", true, false, false),
            lead(90000.0),
            lead(90000.0),
            lead(7200.0),
        ]);
        let report = dora_report(
            "team:payments",
            date("2026-10-05"),
            date("2026-10-18"),
            &[(week(2026, 41), w41), (week(2026, 42), w42)],
        );
        let f = &report.deployment_frequency;
        assert_eq!((f.deployments, f.deploy_days), (7, 5));
        assert_eq!((f.per_day, f.per_week), (Some(0.5), Some(3.5)));
        assert_eq!(f.level, Some(DoraLevel::High));
        // Lead [3600, 7200, 21600, 21600, 90000, 90000]: p50 rank 3 → 21600, p90 rank
        // ceil(5.4) = 6 → 90000.
        assert_eq!(report.lead_time.count, 6);
        assert_eq!(report.lead_time.p50_seconds, Some(21600.0));
        assert_eq!(report.lead_time.p90_seconds, Some(90000.0));
        assert_eq!(report.lead_time.level, Some(DoraLevel::Elite));
        let cfr = &report.change_failure_rate;
        assert_eq!((cfr.deployments, cfr.failed, cfr.rate), (8, 1, Some(0.125)));
        assert_eq!(cfr.level, Some(DoraLevel::Medium));
        assert_eq!(report.recovery_time.p50_seconds, Some(3600.0));
        assert_eq!(report.recovery_time.level, Some(DoraLevel::High));
        assert_eq!(report.rework_rate.rate, Some(1.0 / 7.0));
        // W41: 4 successes of 5 attempts, 1 failed → 0.2, as in the example.
        assert_eq!(report.weeks[0].deployments, 4);
        assert_eq!(report.weeks[0].change_failure_rate, Some(0.2));
    }
}
