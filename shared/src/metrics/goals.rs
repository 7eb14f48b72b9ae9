//! `GET /v1/goals`: each configured goal of a scope against the scope's reports over a period,
//! and the scope's DORA benchmark (docs/METRICS.md "Goals"). Pure: the caller builds the
//! reports exactly as `GET /v1/dora`, `/v1/cycle-time` and `/v1/pull-requests` do and hands
//! them in, so a goal's value is always the number those reports show.
//!
//! * **value**: the period's number (p50 seconds, a rate, deployments per week); `null` when the
//!   report's is.
//! * **on_track**: the value meets the target — at most the target for durations and failure
//!   rates, at least for deployment frequency and first-time pass rate, and for a DORA level
//!   target the period's level is that level or better. `null` without a value: no data is not
//!   "off track".
//! * **weeks / trend**: the metric's value per listed week, from the reports' `weeks[]`; the
//!   trend compares the mean of the non-null weekly values of the period's last half with its
//!   first half (an odd middle week belongs to neither): `improving` when the last half is
//!   better in the metric's direction, `worsening` when worse, `steady` when equal, `null` when
//!   either half has no value.
//! * **benchmark**: the scope's four DORA levels, its rank among the configured teams (1 =
//!   best, ties share a rank, teams without a value are not ranked) and its cluster: the lowest
//!   of its levels, as a team is only as far along as its weakest DORA metric.

use chrono::NaiveDate;
use serde::Serialize;

use super::clusters::dora_2024_cluster;
use super::levels::DoraLevel;
use super::week_string;
use super::{CycleTimeReport, DoraReport, PullRequestReport};
use crate::config::{Goal, GoalMetric, Target};
use crate::time::IsoWeek;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoalsReport {
    pub scope: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub goals: Vec<GoalStatus>,
    pub benchmark: Benchmark,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalTrend {
    Improving,
    Worsening,
    Steady,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoalStatus {
    pub metric: GoalMetric,
    /// As written in the config: `24h`, `10%`, `elite`, `5/week`.
    pub target: String,
    /// The target in `unit`; `null` for a DORA level target.
    pub target_value: Option<f64>,
    /// The level a deployment frequency goal asks for; `null` for a number.
    pub target_level: Option<DoraLevel>,
    pub value: Option<f64>,
    /// `seconds`, `fraction` or `deployments_per_week`.
    pub unit: &'static str,
    /// The period's DORA level of the metric (deployment frequency, lead time, change failure
    /// rate, recovery time); `null` for the others.
    pub level: Option<DoraLevel>,
    pub on_track: Option<bool>,
    pub trend: Option<GoalTrend>,
    pub weeks: Vec<GoalWeek>,
    /// `org` or `team:<name>`: whom the goal was set for.
    pub set_for: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoalWeek {
    #[serde(with = "week_string")]
    pub week: IsoWeek,
    pub value: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Benchmark {
    pub metrics: Vec<BenchmarkMetric>,
    /// The lowest level of `metrics` that has one; `null` when none has.
    pub cluster: Option<DoraLevel>,
    /// The DORA 2024 cluster whose profile most of the four numbers fit
    /// ([`dora_2024_cluster`]); `null` when none has a value.
    pub cluster_2024: Option<DoraLevel>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchmarkMetric {
    /// `deployment_frequency`, `lead_time`, `change_failure_rate`, `recovery_time`.
    pub metric: &'static str,
    pub value: Option<f64>,
    pub unit: &'static str,
    pub level: Option<DoraLevel>,
    /// Among the org's teams, 1 = best; `null` for a scope that is not a team or has no value.
    pub rank: Option<usize>,
    /// Teams with a value for this metric (the ranked ones); `null` for a scope that is not a
    /// team.
    pub of: Option<usize>,
}

/// The reports of one scope and period, as the read API builds them.
pub struct ScopeReports<'a> {
    pub dora: &'a DoraReport,
    pub cycle_time: &'a CycleTimeReport,
    pub pull_requests: &'a PullRequestReport,
}

/// Evaluates `goals` (each with whom it was set for) on `reports`; `peers` are every team's DORA
/// report of the same period when the scope is a team (for its rank), `None` otherwise.
pub fn evaluate(
    goals: &[(&Goal, String)],
    reports: &ScopeReports<'_>,
    peers: Option<&[(String, DoraReport)]>,
) -> GoalsReport {
    let dora = reports.dora;
    GoalsReport {
        scope: dora.scope.clone(),
        from: dora.from,
        to: dora.to,
        goals: goals
            .iter()
            .map(|(goal, set_for)| status(goal, set_for, reports))
            .collect(),
        benchmark: benchmark(dora, peers),
    }
}

/// Level order: elite is the best.
pub fn level_rank(level: DoraLevel) -> u8 {
    match level {
        DoraLevel::Elite => 3,
        DoraLevel::High => 2,
        DoraLevel::Medium => 1,
        DoraLevel::Low => 0,
    }
}

/// The period value, its DORA level, and the weekly values of a metric.
fn read(
    metric: GoalMetric,
    r: &ScopeReports<'_>,
) -> (Option<f64>, Option<DoraLevel>, Vec<GoalWeek>) {
    let (dora, cycle, prs) = (r.dora, r.cycle_time, r.pull_requests);
    match metric {
        GoalMetric::DeploymentFrequency => (
            dora.deployment_frequency.per_week,
            dora.deployment_frequency.level,
            weekly(&dora.weeks, |w| (w.week, Some(w.deployments as f64))),
        ),
        GoalMetric::LeadTimeP50 => (
            dora.lead_time.p50_seconds,
            dora.lead_time.level,
            weekly(&dora.weeks, |w| (w.week, w.lead_time_p50_seconds)),
        ),
        GoalMetric::RecoveryTimeP50 => (
            dora.recovery_time.p50_seconds,
            dora.recovery_time.level,
            weekly(&dora.weeks, |w| (w.week, w.recovery_time_p50_seconds)),
        ),
        GoalMetric::ChangeFailureRate => (
            dora.change_failure_rate.rate,
            dora.change_failure_rate.level,
            weekly(&dora.weeks, |w| (w.week, w.change_failure_rate)),
        ),
        GoalMetric::ReworkRate => (
            dora.rework_rate.rate,
            None,
            weekly(&dora.weeks, |w| (w.week, w.rework_rate)),
        ),
        GoalMetric::CycleTimeP50 => (
            cycle.total.p50_seconds,
            None,
            weekly(&cycle.weeks, |w| (w.week, w.total_p50_seconds)),
        ),
        GoalMetric::ReviewLatencyP50 => (
            prs.review_latency.p50_seconds,
            None,
            weekly(&prs.weeks, |w| (w.week, w.review_latency_p50_seconds)),
        ),
        GoalMetric::FirstTimePassRate => (
            prs.first_time_pass_rate,
            None,
            weekly(&prs.weeks, |w| (w.week, w.first_time_pass_rate)),
        ),
    }
}

/// A metric's value in each week of a report's `weeks[]`: `week_value` picks the week and the
/// value from a row, whichever report it is of.
fn weekly<W>(rows: &[W], week_value: impl Fn(&W) -> (IsoWeek, Option<f64>)) -> Vec<GoalWeek> {
    rows.iter()
        .map(|row| {
            let (week, value) = week_value(row);
            GoalWeek { week, value }
        })
        .collect()
}

fn unit(metric: GoalMetric) -> &'static str {
    match metric {
        GoalMetric::DeploymentFrequency => "deployments_per_week",
        GoalMetric::LeadTimeP50
        | GoalMetric::RecoveryTimeP50
        | GoalMetric::CycleTimeP50
        | GoalMetric::ReviewLatencyP50 => "seconds",
        GoalMetric::ChangeFailureRate | GoalMetric::ReworkRate | GoalMetric::FirstTimePassRate => {
            "fraction"
        }
    }
}

/// Whether `a` is better than `b` for `metric`.
fn better(metric: GoalMetric, a: f64, b: f64) -> bool {
    if metric.higher_is_better() {
        a > b
    } else {
        a < b
    }
}

fn status(goal: &Goal, set_for: &str, reports: &ScopeReports<'_>) -> GoalStatus {
    let metric = goal.metric;
    let (value, level, weeks) = read(metric, reports);
    let (target_value, target_level) = match goal.target {
        Target::Level(level) => (None, Some(level)),
        Target::PerWeek(n) | Target::Seconds(n) | Target::Fraction(n) => (Some(n), None),
    };
    let on_track = match (target_level, target_value) {
        (Some(wanted), _) => level.map(|l| level_rank(l) >= level_rank(wanted)),
        (None, Some(target)) => value.map(|v| v == target || better(metric, v, target)),
        (None, None) => None,
    };
    GoalStatus {
        metric,
        target: goal.written.clone(),
        target_value,
        target_level,
        value,
        unit: unit(metric),
        level,
        on_track,
        trend: trend(metric, &weeks),
        weeks,
        set_for: set_for.to_string(),
    }
}

/// The last half of the weeks against the first half (see the module doc).
pub fn trend(metric: GoalMetric, weeks: &[GoalWeek]) -> Option<GoalTrend> {
    let half = weeks.len() / 2;
    if half == 0 {
        return None;
    }
    let mean = |part: &[GoalWeek]| {
        let values: Vec<f64> = part.iter().filter_map(|w| w.value).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let first = mean(&weeks[..half])?;
    let last = mean(&weeks[weeks.len() - half..])?;
    Some(if better(metric, last, first) {
        GoalTrend::Improving
    } else if better(metric, first, last) {
        GoalTrend::Worsening
    } else {
        GoalTrend::Steady
    })
}

/// One DORA metric of a report: name, value, unit, level, and whether higher is better.
type DoraMetric = (
    &'static str,
    Option<f64>,
    &'static str,
    Option<DoraLevel>,
    bool,
);

/// The four DORA metrics of a report.
fn dora_metrics(r: &DoraReport) -> [DoraMetric; 4] {
    [
        (
            "deployment_frequency",
            r.deployment_frequency.per_week,
            "deployments_per_week",
            r.deployment_frequency.level,
            true,
        ),
        (
            "lead_time",
            r.lead_time.p50_seconds,
            "seconds",
            r.lead_time.level,
            false,
        ),
        (
            "change_failure_rate",
            r.change_failure_rate.rate,
            "fraction",
            r.change_failure_rate.level,
            false,
        ),
        (
            "recovery_time",
            r.recovery_time.p50_seconds,
            "seconds",
            r.recovery_time.level,
            false,
        ),
    ]
}

/// The scope's DORA levels, ranks among `peers` (every configured team, this one included) and
/// cluster.
pub fn benchmark(report: &DoraReport, peers: Option<&[(String, DoraReport)]>) -> Benchmark {
    let mut metrics = Vec::new();
    for (i, (metric, value, unit, level, higher)) in dora_metrics(report).into_iter().enumerate() {
        let (rank, of) = match peers {
            None => (None, None),
            Some(peers) => {
                let values: Vec<f64> = peers
                    .iter()
                    .filter_map(|(_, r)| dora_metrics(r)[i].1)
                    .filter(|v| !v.is_nan())
                    .collect();
                let rank = value.filter(|v| !v.is_nan()).map(|v| {
                    1 + values
                        .iter()
                        .filter(|o| if higher { **o > v } else { **o < v })
                        .count()
                });
                (rank, Some(values.len()))
            }
        };
        metrics.push(BenchmarkMetric {
            metric,
            value,
            unit,
            level,
            rank,
            of,
        });
    }
    let cluster = metrics
        .iter()
        .filter_map(|m| m.level)
        .min_by_key(|l| level_rank(*l));
    let cluster_2024 = dora_2024_cluster(
        report.deployment_frequency.level,
        report.lead_time.level,
        report.change_failure_rate.rate,
        report.recovery_time.p50_seconds,
    );
    Benchmark {
        metrics,
        cluster,
        cluster_2024,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::OrgConfig;
    use crate::derive::Rollup;
    use crate::metrics::testing::*;

    const CONFIG: &str = r#"
org: acme
teams:
  payments: { repos: [acme/pay] }
  platform: { repos: [acme/infra] }
goals:
  org:
    deployment_frequency: elite
    change_failure_rate: 10%
  payments:
    lead_time_p50: 24h
    change_failure_rate: 30%
    first_time_pass_rate: 80%
    deployment_frequency: 2/week
    review_latency_p50: 1h
"#;

    fn config() -> OrgConfig {
        OrgConfig::from_yaml(CONFIG).expect("test config")
    }

    /// Four weeks W41–W44 (5 Oct – 1 Nov 2026) of the payments team.
    ///
    /// W41: 2 successful deployments on 5 and 6 Oct, a failed attempt on 7 Oct; lead times
    ///      100 000 and 120 000 s.
    /// W42: 1 deployment on 12 Oct; lead time 90 000 s.
    /// W43: nothing.
    /// W44: 3 deployments on 26, 27, 28 Oct; lead times 40 000, 50 000, 60 000 s.
    fn payments_dora() -> DoraReport {
        let w41 = rollup(&[
            deployment("2026-10-05", true, false, false),
            deployment("2026-10-06", true, false, false),
            deployment("2026-10-07", false, true, false),
            lead(100_000.0),
            lead(120_000.0),
        ]);
        let w42 = rollup(&[deployment("2026-10-12", true, false, false), lead(90_000.0)]);
        let w44 = rollup(&[
            deployment("2026-10-26", true, false, false),
            deployment("2026-10-27", true, false, false),
            deployment("2026-10-28", true, false, false),
            lead(40_000.0),
            lead(50_000.0),
            lead(60_000.0),
        ]);
        dora_report(
            "team:payments",
            date("2026-10-05"),
            date("2026-11-01"),
            &[
                (week(2026, 41), w41),
                (week(2026, 42), w42),
                (week(2026, 44), w44),
            ],
        )
    }

    /// The reports [`ScopeReports`] borrows, owned by the test that evaluates goals on them.
    struct Reports {
        dora: DoraReport,
        cycle_time: CycleTimeReport,
        pull_requests: PullRequestReport,
    }

    impl Reports {
        /// The three reports of `scope` over W41–W44 (5 Oct – 1 Nov 2026) from `weeks`.
        fn of(scope: &str, weeks: &[(IsoWeek, Rollup)]) -> Reports {
            let (from, to) = (date("2026-10-05"), date("2026-11-01"));
            Reports {
                dora: dora_report(scope, from, to, weeks),
                cycle_time: cycle_time_report(scope, from, to, weeks),
                pull_requests: pull_request_report(scope, from, to, weeks),
            }
        }

        fn evaluate(&self, goals: &[(&Goal, String)]) -> GoalsReport {
            let reports = ScopeReports {
                dora: &self.dora,
                cycle_time: &self.cycle_time,
                pull_requests: &self.pull_requests,
            };
            evaluate(goals, &reports, None)
        }
    }

    fn by_metric(report: &GoalsReport, metric: GoalMetric) -> &GoalStatus {
        report
            .goals
            .iter()
            .find(|g| g.metric == metric)
            .unwrap_or_else(|| panic!("no {metric} goal"))
    }

    #[test]
    fn review_latency_and_rework_goals_have_weekly_values_and_a_trend() {
        // given review latency and rework goals, and four weeks: W41 two PRs picked up after
        // 2 h and 4 h (lower median 2 h), two successful deployments of which one only shipped
        // fixes; W44 one PR picked up after 1 h, two deployments, no rework
        let config = OrgConfig::from_yaml(
            "org: acme\ngoals:\n  org:\n    review_latency_p50: 3h\n    rework_rate: 30%\n",
        )
        .expect("config");
        let goals = config.goals().for_team("any");
        let picked_up = |hours: f64| {
            merged(Pr {
                coding: None,
                pickup: Some(hours * 3600.0),
                review: None,
                deploy: None,
                total: 86_400.0,
                first_time_pass: true,
                comments: 0,
                size: 10,
            })
        };
        let w41 = rollup(&[
            picked_up(2.0),
            picked_up(4.0),
            deployment("2026-10-05", true, false, true),
            deployment("2026-10-06", true, false, false),
        ]);
        let w44 = rollup(&[
            picked_up(1.0),
            deployment("2026-10-26", true, false, false),
            deployment("2026-10-27", true, false, false),
        ]);
        let weeks = [(week(2026, 41), w41), (week(2026, 44), w44)];
        let reports = Reports::of("org", &weeks);

        // when
        let report = reports.evaluate(&goals);

        // then review latency: W41 2 h, W42/W43 null, W44 1 h → improving (lower is better);
        // the period's p50 of [1 h, 2 h, 4 h] is 2 h ≤ 3 h: on track
        let review = by_metric(&report, GoalMetric::ReviewLatencyP50);
        let weekly: Vec<Option<f64>> = review.weeks.iter().map(|w| w.value).collect();
        assert_eq!(weekly, [Some(7200.0), None, None, Some(3600.0)]);
        assert_eq!(review.trend, Some(GoalTrend::Improving));
        assert_eq!(review.on_track, Some(true));
        // rework: W41 1 of 2, W44 0 of 2 → improving; 1 of 4 = 25% ≤ 30%: on track
        let rework = by_metric(&report, GoalMetric::ReworkRate);
        let weekly: Vec<Option<f64>> = rework.weeks.iter().map(|w| w.value).collect();
        assert_eq!(weekly, [Some(0.5), None, None, Some(0.0)]);
        assert_eq!(rework.trend, Some(GoalTrend::Improving));
        assert_eq!(rework.value, Some(0.25));
    }

    #[test]
    fn payments_goals_by_hand() {
        // given payments' own goals and the org's deployment frequency (payments sets its own
        // change failure rate, which replaces the org's)
        let config = config();
        let goals = config.goals().for_team("payments");
        let reports = Reports {
            dora: payments_dora(),
            ..Reports::of("team:payments", &[])
        };
        // when
        let report = reports.evaluate(&goals);
        // then
        let metrics: Vec<(GoalMetric, &str)> = report
            .goals
            .iter()
            .map(|g| (g.metric, g.set_for.as_str()))
            .collect();
        assert_eq!(
            metrics,
            [
                (GoalMetric::DeploymentFrequency, "team:payments"),
                (GoalMetric::LeadTimeP50, "team:payments"),
                (GoalMetric::ReviewLatencyP50, "team:payments"),
                (GoalMetric::ChangeFailureRate, "team:payments"),
                (GoalMetric::FirstTimePassRate, "team:payments"),
            ]
        );
        // Lead time: 6 samples [40k, 50k, 60k, 90k, 100k, 120k], rank ceil(6/2)=3 → 60 000 s
        // ≤ 86 400: on track. Weeks 110 000 (rank 1 of 2: 100 000), 90 000, null, 50 000:
        // first half mean (100 000 + 90 000)/2 = 95 000, last half 50 000 → improving.
        let lead = by_metric(&report, GoalMetric::LeadTimeP50);
        assert_eq!(lead.value, Some(60_000.0));
        assert_eq!(lead.target_value, Some(86_400.0));
        assert_eq!(lead.unit, "seconds");
        assert_eq!(lead.on_track, Some(true));
        assert_eq!(lead.level, Some(DoraLevel::Elite));
        let weekly: Vec<Option<f64>> = lead.weeks.iter().map(|w| w.value).collect();
        assert_eq!(
            weekly,
            [Some(100_000.0), Some(90_000.0), None, Some(50_000.0)]
        );
        assert_eq!(lead.trend, Some(GoalTrend::Improving));
        // Deployment frequency: 6 successes in 28 days = 1.5/week < 2/week: off track. Weekly
        // 2, 1, 0, 3: first half 1.5, last half 1.5 → steady.
        let freq = by_metric(&report, GoalMetric::DeploymentFrequency);
        assert_eq!(freq.value, Some(1.5));
        assert_eq!(freq.on_track, Some(false));
        assert_eq!(freq.unit, "deployments_per_week");
        assert_eq!(freq.trend, Some(GoalTrend::Steady));
        // Change failure rate: 1 failed of 7 attempts = 0.142… ≤ 30%: on track; weekly 1/3,
        // 0, null, 0: first half 1/6, last half 0 → improving (lower is better).
        let cfr = by_metric(&report, GoalMetric::ChangeFailureRate);
        assert_eq!(cfr.value, Some(1.0 / 7.0));
        assert_eq!(cfr.on_track, Some(true));
        assert_eq!(cfr.trend, Some(GoalTrend::Improving));
        // No PR data: value null, on_track null (not false), trend null.
        let ftp = by_metric(&report, GoalMetric::FirstTimePassRate);
        assert_eq!((ftp.value, ftp.on_track, ftp.trend), (None, None, None));
        let review = by_metric(&report, GoalMetric::ReviewLatencyP50);
        assert_eq!(review.on_track, None);
        assert_eq!(review.weeks.len(), 4);
        assert!(review.weeks.iter().all(|w| w.value.is_none()));
        assert_eq!(review.trend, None);
    }

    #[test]
    fn a_level_target_is_met_by_that_level_or_better() {
        // given the org's "elite" deployment frequency goal on payments' data: weekly deploy
        // days 2, 1, 0, 3 → lower median 1 → high
        let config = config();
        let goals = config.goals().for_org();
        let reports = Reports {
            dora: payments_dora(),
            ..Reports::of("team:payments", &[])
        };
        // when
        let report = reports.evaluate(&goals);
        // then
        let freq = by_metric(&report, GoalMetric::DeploymentFrequency);
        assert_eq!(freq.level, Some(DoraLevel::High));
        assert_eq!(freq.target_level, Some(DoraLevel::Elite));
        assert_eq!(freq.target_value, None);
        assert_eq!(freq.on_track, Some(false));
        assert_eq!(freq.set_for, "org");
        // A high target is met by high; a medium one too.
        for (wanted, met) in [
            (DoraLevel::Elite, false),
            (DoraLevel::High, true),
            (DoraLevel::Medium, true),
            (DoraLevel::Low, true),
        ] {
            let goal = Goal {
                metric: GoalMetric::DeploymentFrequency,
                target: Target::Level(wanted),
                written: wanted.as_str().to_string(),
            };
            let report = reports.evaluate(&[(&goal, "org".to_string())]);
            assert_eq!(report.goals[0].on_track, Some(met), "{wanted:?}");
        }
    }

    #[test]
    fn a_target_equal_to_the_value_is_on_track_in_either_direction() {
        let reports = Reports::of("org", &[]);
        // given no deployments: 0/week, a frequency goal of 0.5/week is off track; a change
        // failure rate goal has no value (no attempts)
        let freq = Goal {
            metric: GoalMetric::DeploymentFrequency,
            target: Target::PerWeek(0.5),
            written: "0.5/week".to_string(),
        };
        let cfr = Goal {
            metric: GoalMetric::ChangeFailureRate,
            target: Target::Fraction(0.0),
            written: "0%".to_string(),
        };
        // when
        let report = reports.evaluate(&[(&freq, "org".to_string()), (&cfr, "org".to_string())]);
        // then
        assert_eq!(report.goals[0].value, Some(0.0));
        assert_eq!(report.goals[0].on_track, Some(false));
        assert_eq!(report.goals[1].value, None);
        assert_eq!(report.goals[1].on_track, None);
        assert_eq!(report.goals[1].trend, None);
    }

    #[test]
    fn trend_compares_halves_and_leaves_the_middle_week_out() {
        let weeks = |values: &[Option<f64>]| -> Vec<GoalWeek> {
            values
                .iter()
                .enumerate()
                .map(|(i, v)| GoalWeek {
                    week: week(2026, 41 + i as u32),
                    value: *v,
                })
                .collect()
        };
        let lead = GoalMetric::LeadTimeP50;
        let ftp = GoalMetric::FirstTimePassRate;
        // Odd: [10, 999, 5]: the middle week is in neither half; 5 < 10 → improving.
        assert_eq!(
            trend(lead, &weeks(&[Some(10.0), Some(999.0), Some(5.0)])),
            Some(GoalTrend::Improving)
        );
        assert_eq!(
            trend(ftp, &weeks(&[Some(0.9), Some(0.1), Some(0.5), Some(0.4)])),
            Some(GoalTrend::Worsening),
            "higher is better: 0.45 after 0.5"
        );
        assert_eq!(trend(lead, &weeks(&[Some(1.0)])), None, "one week");
        assert_eq!(
            trend(lead, &weeks(&[None, None, Some(1.0), Some(2.0)])),
            None,
            "no value in the first half"
        );
        assert_eq!(
            trend(lead, &weeks(&[Some(3.0), Some(1.0), Some(2.0), Some(2.0)])),
            Some(GoalTrend::Steady)
        );
    }

    #[test]
    fn benchmark_ranks_a_team_among_the_org_teams() {
        // given payments (lead p50 60 000 s, 1.5 deploys/week, CFR 1/7, no recovery) and
        // platform with one deployment (0.25/week, W41) and lead time 30 000 s
        let payments = payments_dora();
        let platform = dora_report(
            "team:platform",
            date("2026-10-05"),
            date("2026-11-01"),
            &[(
                week(2026, 41),
                rollup(&[deployment("2026-10-05", true, false, false), lead(30_000.0)]),
            )],
        );
        let idle = dora_report("team:idle", date("2026-10-05"), date("2026-11-01"), &[]);
        let peers = vec![
            ("payments".to_string(), payments.clone()),
            ("platform".to_string(), platform),
            ("idle".to_string(), idle),
        ];
        // when
        let bench = benchmark(&payments, Some(&peers));
        // then
        let json = serde_json::to_value(&bench).expect("serialize");
        assert_eq!(
            json,
            json!({
                "metrics": [
                    // 1.5 vs 0.25 vs 0 per week
                    {"metric": "deployment_frequency", "value": 1.5, "unit": "deployments_per_week",
                     "level": "high", "rank": 1, "of": 3},
                    // 60 000 vs 30 000 s; idle has no lead time
                    {"metric": "lead_time", "value": 60000.0, "unit": "seconds",
                     "level": "elite", "rank": 2, "of": 2},
                    // 1/7 vs 0/1
                    {"metric": "change_failure_rate", "value": 1.0 / 7.0, "unit": "fraction",
                     "level": "medium", "rank": 2, "of": 2},
                    {"metric": "recovery_time", "value": null, "unit": "seconds",
                     "level": null, "rank": null, "of": 0}
                ],
                // high, elite, medium → the lowest is medium
                "cluster": "medium",
                // 2024 profiles: frequency high, lead time elite, 1/7 ≈ 14% nearest medium's
                // 10%, no recovery: one vote each, the tie goes to the lowest, medium
                "cluster_2024": "medium"
            })
        );
        // The org is not ranked.
        let org = benchmark(&payments, None);
        assert!(org
            .metrics
            .iter()
            .all(|m| m.rank.is_none() && m.of.is_none()));
        assert_eq!(org.cluster, Some(DoraLevel::Medium));
    }
}
