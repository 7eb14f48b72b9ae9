//! Builders for the metrics tests: rollups are folded from members with
//! `Rollup::from_members`, as the rollup function does.

use std::fmt::Debug;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::dora::PRODUCTION;
use super::{
    CycleTimeReport, DoraReport, IncidentReport, OpenIncident, PullRequestReport, ReportWindow,
};
use crate::derive::{MemberData, Rollup};
use crate::time::{weeks_between, IsoWeek};

pub fn week(year: i32, week: u32) -> IsoWeek {
    IsoWeek::new(year, week).expect("valid test week")
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().expect("test date")
}

pub fn t(text: &str) -> DateTime<Utc> {
    text.parse().expect("test timestamp")
}

pub fn rollup(members: &[MemberData]) -> Rollup {
    Rollup::from_members(members)
}

/// A terminal production deployment finishing on `day`.
pub fn deployment(day: &str, success: bool, failed: bool, rework: bool) -> MemberData {
    MemberData::Deployment {
        success,
        failed,
        day: date(day),
        rework,
        recovery: None,
    }
}

/// A failed deployment that recovered after `recovery` seconds.
pub fn failed_deployment(day: &str, success: bool, recovery: f64) -> MemberData {
    MemberData::Deployment {
        success,
        failed: true,
        day: date(day),
        rework: false,
        recovery: Some(recovery),
    }
}

pub fn lead(seconds: f64) -> MemberData {
    MemberData::LeadTime { seconds }
}

pub struct Pr {
    pub coding: Option<f64>,
    pub pickup: Option<f64>,
    pub review: Option<f64>,
    pub deploy: Option<f64>,
    pub total: f64,
    pub first_time_pass: bool,
    pub comments: u32,
    pub size: u64,
}

pub fn merged(pr: Pr) -> MemberData {
    MemberData::PrMerged {
        coding: pr.coding,
        pickup: pr.pickup,
        review: pr.review,
        deploy: pr.deploy,
        total: pr.total,
        first_time_pass: pr.first_time_pass,
        comments: pr.comments,
        size: pr.size,
    }
}

pub fn opened(service: &str, severity: Option<&str>) -> MemberData {
    MemberData::IncidentOpened {
        service: service.to_string(),
        severity: severity.map(str::to_string),
    }
}

pub fn resolved(service: &str, mttr: f64) -> MemberData {
    MemberData::IncidentResolved {
        service: service.to_string(),
        mttr,
    }
}

/// Merged PRs with known cycle-time parts. W41: a–d merged, three PRs opened; W42: two
/// opened, none merged; W43: e merged, one opened.
pub fn five_prs() -> Vec<(IsoWeek, Rollup)> {
    let a = Pr {
        coding: Some(3600.0),
        pickup: Some(600.0),
        review: Some(1200.0),
        deploy: Some(1800.0),
        total: 10000.0,
        first_time_pass: true,
        comments: 2,
        size: 10,
    };
    let b = Pr {
        coding: None,
        pickup: None,
        review: None,
        deploy: None,
        total: 2000.0,
        first_time_pass: true,
        comments: 0,
        size: 500,
    };
    let c = Pr {
        coding: Some(7200.0),
        pickup: Some(60.0),
        review: Some(300.0),
        deploy: Some(900.0),
        total: 50000.0,
        first_time_pass: false,
        comments: 5,
        size: 40,
    };
    let d = Pr {
        coding: Some(60.0),
        pickup: Some(6000.0),
        review: Some(600.0),
        deploy: None,
        total: 4000.0,
        first_time_pass: true,
        comments: 1,
        size: 25,
    };
    let e = Pr {
        coding: Some(120.0),
        pickup: Some(30.0),
        review: Some(90.0),
        deploy: Some(86400.0),
        total: 90000.0,
        first_time_pass: false,
        comments: 3,
        size: 1000,
    };
    use crate::derive::MemberData::PrOpened;
    vec![
        (
            week(2026, 41),
            rollup(&[
                merged(a),
                merged(b),
                merged(c),
                merged(d),
                PrOpened,
                PrOpened,
                PrOpened,
            ]),
        ),
        (week(2026, 42), rollup(&[PrOpened, PrOpened])),
        (week(2026, 43), rollup(&[merged(e), PrOpened])),
    ]
}

/// Builds a report over the window of `scope` listing every week of
/// [`weeks_between`]`(from, to)`.
fn every_week<T>(
    scope: &str,
    from: NaiveDate,
    to: NaiveDate,
    build: impl FnOnce(&ReportWindow) -> T,
) -> T {
    let weeks = weeks_between(from, to);
    build(&ReportWindow {
        scope,
        from,
        to,
        weeks: &weeks,
    })
}

/// Builds the `/v1/cycle-time` answer, listing every week of [`weeks_between`]`(from, to)`.
pub fn cycle_time_report(
    scope: &str,
    from: NaiveDate,
    to: NaiveDate,
    rollups: &[(IsoWeek, Rollup)],
) -> CycleTimeReport {
    every_week(scope, from, to, |window| {
        CycleTimeReport::build(window, rollups)
    })
}

/// Builds the `/v1/pull-requests` answer, listing every week of
/// [`weeks_between`]`(from, to)`.
pub fn pull_request_report(
    scope: &str,
    from: NaiveDate,
    to: NaiveDate,
    rollups: &[(IsoWeek, Rollup)],
) -> PullRequestReport {
    every_week(scope, from, to, |window| {
        PullRequestReport::build(window, rollups)
    })
}

/// Builds the `/v1/incidents` answer, listing every week of [`weeks_between`]`(from, to)`;
/// `open` is the list of incidents open now, aged at `now`.
pub fn incident_report(
    scope: &str,
    from: NaiveDate,
    to: NaiveDate,
    rollups: &[(IsoWeek, Rollup)],
    open: &[OpenIncident],
    now: DateTime<Utc>,
) -> IncidentReport {
    every_week(scope, from, to, |window| {
        IncidentReport::build(window, rollups, open, now)
    })
}

/// Builds the `/v1/dora` answer from the scope's weekly rollups, listing every week of
/// [`weeks_between`]`(from, to)` (see [`crate::metrics`] for how weeks are listed and merged).
pub fn dora_report(
    scope: &str,
    from: NaiveDate,
    to: NaiveDate,
    rollups: &[(IsoWeek, Rollup)],
) -> DoraReport {
    every_week(scope, from, to, |window| {
        DoraReport::build(window, rollups, PRODUCTION)
    })
}

/// The report's JSON is `expected` (the report, pretty, is the failure message).
pub fn assert_serializes_to(report: &impl Serialize, expected: &Value) {
    assert_eq!(
        &serde_json::to_value(report).expect("serialize"),
        expected,
        "{}",
        serde_json::to_string_pretty(report).expect("serialize")
    );
}

/// The report reads back from its JSON as itself.
pub fn assert_round_trips<T: Serialize + DeserializeOwned + PartialEq + Debug>(report: &T) {
    let text = serde_json::to_string(report).expect("serialize");
    let back: T = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(&back, report);
}
