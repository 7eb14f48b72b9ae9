//! Digest rendering: `build_digest` over an org of 12 teams (five weeks of rollups each, folded
//! from members as the rollup function does), 80 merged PRs and 6 open incidents, then each
//! renderer (email HTML + text, Slack Block Kit, Microsoft Teams cards, plain text).

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use flowmeter::derive::{MemberData, Rollup};
use flowmeter::digest::{
    build_digest, render_email, render_text, slack_messages, teams_messages, DigestInput, Links,
    PrSummary, TeamInput,
};
use flowmeter::metrics::incidents::OpenIncident;
use flowmeter::time::IsoWeek;

#[path = "common.rs"]
mod common;

fn rollup(week: IsoWeek, seed: u64, scale: usize) -> Rollup {
    let monday = week.monday_date();
    let mut next = common::xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let members: Vec<MemberData> = (0..scale)
        .map(|i| match i % 10 {
            0..=3 => MemberData::PrMerged {
                coding: Some(next(200_000) as f64),
                pickup: Some(next(80_000) as f64),
                review: Some(next(150_000) as f64),
                deploy: Some(next(90_000) as f64),
                total: 3_600.0 + next(600_000) as f64,
                first_time_pass: next(10) < 7,
                comments: next(8) as u32,
                size: 1 + next(1_000),
            },
            4 => MemberData::PrOpened,
            5 | 6 => MemberData::LeadTime {
                seconds: 3_600.0 + next(500_000) as f64,
            },
            7 | 8 => MemberData::Deployment {
                success: next(10) < 8,
                failed: next(10) < 2,
                day: monday + Duration::days(next(5) as i64),
                rework: false,
                recovery: (next(5) == 0).then(|| next(20_000) as f64),
            },
            _ => MemberData::IncidentOpened {
                service: "checkout".into(),
                severity: Some("sev2".into()),
            },
        })
        .collect();
    Rollup::from_members(&members)
}

fn input() -> DigestInput {
    let week = IsoWeek::new(2026, 42).unwrap_or_else(|| IsoWeek::of_date(Default::default()));
    let weeks: Vec<IsoWeek> = (0..5).fold(vec![week], |mut w, _| {
        let first = w[0].prev();
        w.insert(0, first);
        w
    });
    let weeks = &weeks[1..];
    let now: DateTime<Utc> = "2026-10-19T07:00:00Z".parse().unwrap_or_default();
    let teams = (0..12u64)
        .map(|t| TeamInput {
            name: format!("team-{t}"),
            delivery_weeks: weeks
                .iter()
                .map(|w| (*w, rollup(*w, t * 31 + 1, 40)))
                .collect(),
            pr_weeks: weeks
                .iter()
                .map(|w| (*w, rollup(*w, t * 31 + 2, 40)))
                .collect(),
            incident_weeks: weeks
                .iter()
                .map(|w| (*w, rollup(*w, t * 31 + 3, 10)))
                .collect(),
            repos: vec![format!("acme/repo-{t}")],
            members: vec![format!("dev-{t}")],
            goals: Vec::new(),
            ticket_weeks: Vec::new(),
        })
        .collect();
    let monday = week.monday(chrono_tz::UTC);
    DigestInput {
        org: "acme".into(),
        week,
        timezone: chrono_tz::Europe::Berlin,
        now,
        org_weeks: weeks.iter().map(|w| (*w, rollup(*w, 7, 500))).collect(),
        teams,
        week_prs: (0..80u64)
            .map(|n| PrSummary {
                repo: format!("acme/repo-{}", n % 12),
                number: n,
                title: format!("Change number {n} with a <title> & \"quotes\""),
                author: format!("dev-{}", n % 12),
                url: None,
                pickup_seconds: Some((n * 977 % 90_000) as f64),
                total_seconds: (3_600 + n * 7_919 % 700_000) as f64,
                merged_at: monday + Duration::hours(1 + (n % 120) as i64),
            })
            .collect(),
        open_incidents: (0..6)
            .map(|i| OpenIncident {
                id: format!("pd:P{i}"),
                service: "checkout".into(),
                severity: Some("sev2".into()),
                opened_at: now - Duration::hours(3 * i + 1),
            })
            .collect(),
        links: Links {
            dashboard: Some("https://flowmeter.example.com".into()),
            github: Some("https://github.com".into()),
        },
        environments: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let input = input();
    let digest = build_digest(&input);
    assert_eq!(digest.teams.len(), 12);
    let mut group = c.benchmark_group("digest");
    group.bench_function("build_digest (12 teams, 80 PRs)", |b| {
        b.iter(|| build_digest(std::hint::black_box(&input)))
    });
    group.bench_function("render_email (html + text)", |b| {
        b.iter(|| render_email(std::hint::black_box(&digest)))
    });
    group.bench_function("slack_messages", |b| {
        b.iter(|| slack_messages(std::hint::black_box(&digest)))
    });
    group.bench_function("teams_messages", |b| {
        b.iter(|| teams_messages(std::hint::black_box(&digest)))
    });
    group.bench_function("render_text", |b| {
        b.iter(|| render_text(std::hint::black_box(&digest)))
    });
    group.finish();
    common::percentiles("digest/build + all renderers", 2_000, || {
        let d = build_digest(&input);
        (
            render_email(&d),
            slack_messages(&d),
            teams_messages(&d),
            render_text(&d),
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
