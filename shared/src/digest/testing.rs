//! Builders for the digest tests: rollups are folded from members with
//! `Rollup::from_members`, as the rollup function does.

use chrono::{DateTime, Duration, Utc};

use super::model::{build_digest, Digest, DigestInput, Links, PrSummary, TeamInput};
use crate::derive::{MemberData, Rollup};
use crate::metrics::incidents::OpenIncident;
use crate::time::IsoWeek;

pub const H: f64 = 3_600.0;
pub const D: f64 = 86_400.0;

/// The reported week of every test: 2026-W42 (12–18 Oct 2026).
pub fn reported() -> IsoWeek {
    week(42)
}

pub fn week(n: u32) -> IsoWeek {
    IsoWeek::new(2026, n).expect("valid test week")
}

pub fn t(text: &str) -> DateTime<Utc> {
    text.parse().expect("test timestamp")
}

pub fn lead_times(seconds: &[f64]) -> Vec<MemberData> {
    seconds
        .iter()
        .map(|s| MemberData::LeadTime { seconds: *s })
        .collect()
}

/// `succeeded` successful deployments spread over Monday–Friday of `week`, and `failed`
/// failed attempts that recovered after 30 minutes.
pub fn deployments(week: IsoWeek, succeeded: usize, failed: usize) -> Vec<MemberData> {
    let monday = week.monday_date();
    let mut out = Vec::new();
    for i in 0..succeeded {
        out.push(MemberData::Deployment {
            success: true,
            failed: false,
            day: monday + Duration::days((i % 5) as i64),
            rework: false,
            recovery: None,
        });
    }
    for _ in 0..failed {
        out.push(MemberData::Deployment {
            success: false,
            failed: true,
            day: monday,
            rework: false,
            recovery: Some(1800.0),
        });
    }
    out
}

/// `n` merged PRs with the same cycle time total and pickup.
pub fn merged_prs(n: usize, total: f64, pickup: Option<f64>, passed: bool) -> Vec<MemberData> {
    (0..n)
        .map(|_| MemberData::PrMerged {
            coding: None,
            pickup,
            review: None,
            deploy: None,
            total,
            first_time_pass: passed,
            comments: 1,
            size: 50,
        })
        .collect()
}

pub fn incidents(n: usize) -> Vec<MemberData> {
    (0..n)
        .map(|_| MemberData::IncidentOpened {
            service: "checkout".to_string(),
            severity: Some("sev2".to_string()),
        })
        .collect()
}

pub fn rollup(parts: &[Vec<MemberData>]) -> Rollup {
    Rollup::from_members(parts.iter().flatten())
}

/// W38..=W42 rollups; `f` gets 0 (W38) to 4 (W42, the reported week) and the week.
pub fn five(f: impl Fn(usize, IsoWeek) -> Rollup) -> Vec<(IsoWeek, Rollup)> {
    (0..5)
        .map(|i| {
            let w = week(38 + i as u32);
            (w, f(i, w))
        })
        .collect()
}

pub fn team(
    name: &str,
    delivery_weeks: Vec<(IsoWeek, Rollup)>,
    pr_weeks: Vec<(IsoWeek, Rollup)>,
    incident_weeks: Vec<(IsoWeek, Rollup)>,
) -> TeamInput {
    let slug = name.to_lowercase();
    TeamInput {
        name: name.to_string(),
        delivery_weeks,
        pr_weeks,
        incident_weeks,
        repos: vec![format!("acme/{slug}")],
        members: vec![format!("{slug}-dev")],
        goals: Vec::new(),
        ticket_weeks: Vec::new(),
    }
}

pub fn input(teams: Vec<TeamInput>) -> DigestInput {
    DigestInput {
        org: "acme".to_string(),
        week: reported(),
        timezone: chrono_tz::UTC,
        now: t("2026-10-19T09:00:00Z"),
        org_weeks: Vec::new(),
        teams,
        week_prs: Vec::new(),
        open_incidents: Vec::new(),
        links: Links::default(),
        environments: Vec::new(),
    }
}

pub fn pr(repo: &str, number: u64, total: f64, pickup: Option<f64>) -> PrSummary {
    PrSummary {
        repo: repo.to_string(),
        number,
        title: format!("Change {number}"),
        author: "someone".to_string(),
        url: None,
        pickup_seconds: pickup,
        total_seconds: total,
        merged_at: t("2026-10-14T12:00:00Z"),
    }
}

/// A steady team: 5 deployments and 5 PRs a week with the same numbers every week.
pub fn steady(name: &str) -> TeamInput {
    team(
        name,
        five(|_, w| {
            rollup(&[
                deployments(w, 5, 0),
                lead_times(&[4.0 * H, 5.0 * H, 6.0 * H]),
            ])
        }),
        five(|_, _| rollup(&[merged_prs(5, D, Some(2.0 * H), true)])),
        Vec::new(),
    )
}

/// A small but complete digest: an org headline, a steady team, a team whose lead time
/// regressed, a team without data, PRs and open incidents.
pub fn sample_input() -> DigestInput {
    let regressing = team(
        "Payments",
        five(|i, w| {
            let leads = if i == 4 {
                vec![2.1 * D; 3]
            } else {
                vec![5.0 * H, 6.0 * H, 7.0 * H]
            };
            rollup(&[deployments(w, 5, 0), lead_times(&leads)])
        }),
        five(|_, _| rollup(&[merged_prs(5, D, Some(2.0 * H), true)])),
        Vec::new(),
    );
    let mut input = input(vec![
        steady("Platform"),
        regressing,
        team("Mobile <& Web>", Vec::new(), Vec::new(), Vec::new()),
    ]);
    input.org_weeks = five(|i, w| {
        rollup(&[
            deployments(w, 8 + i, usize::from(i == 4)),
            lead_times(&[5.0 * H, 6.0 * H, 7.0 * H + i as f64 * H]),
        ])
    });
    input.week_prs = vec![
        pr("acme/payments", 7, 5.0 * D, Some(3.0 * D)),
        pr("acme/payments", 8, 4.0 * D, Some(2.5 * D)),
        pr("acme/payments", 9, 3.0 * D, Some(2.1 * D)),
        pr("acme/platform", 1, 6.0 * H, Some(H)),
    ];
    input.open_incidents = vec![OpenIncident {
        id: "pd:Q1".to_string(),
        service: "checkout".to_string(),
        severity: Some("sev2".to_string()),
        opened_at: t("2026-10-17T09:00:00Z"),
    }];
    input.links.github = Some("https://github.com".to_string());
    input.links.dashboard = Some("https://flowmeter.example.com".to_string());
    input
}

pub fn sample_digest() -> Digest {
    build_digest(&sample_input())
}

/// An org of `n` teams with long names, every one of them regressing, and many open incidents:
/// the worst case for message limits.
pub fn big_input(n: usize) -> DigestInput {
    let teams = (0..n)
        .map(|i| {
            let mut t = team(
                &format!("Team {i:02} {}", "with a very long name ".repeat(12)),
                five(|k, w| {
                    let leads = if k == 4 { vec![9.0 * D; 4] } else { vec![H; 4] };
                    rollup(&[deployments(w, 6, 0), lead_times(&leads)])
                }),
                five(|_, _| rollup(&[merged_prs(5, D, Some(2.0 * H), true)])),
                Vec::new(),
            );
            t.repos = vec![format!("acme/repo-{i}")];
            t
        })
        .collect();
    let mut input = input(teams);
    input.open_incidents = (0..40)
        .map(|i| OpenIncident {
            id: format!("pd:{i}"),
            service: "checkout".to_string(),
            severity: None,
            opened_at: t("2026-10-01T00:00:00Z"),
        })
        .collect();
    input
}
