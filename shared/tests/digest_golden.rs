//! Golden-file tests of the weekly digest's renderings, and the message limits of a large org.
//!
//! A fixed dataset (3 teams, one of them regressing; rollups folded from
//! `flowmeter::derive::MemberData` with `Rollup::from_members`, as the rollup function does) is
//! rendered to Slack Block Kit JSON, email HTML, email plain text and a Microsoft Teams
//! Adaptive Card, and each rendering is compared with its file in `shared/tests/golden/`
//! (`digest.slack.json`, `digest.html`, `digest.txt`, `digest.teams.json`).
//!
//! After an intended change to the digest, regenerate the files and review the diff:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p flowmeter --test digest_golden
//! ```
//!
//! With `UPDATE_GOLDEN=1` the test writes the files instead of comparing them.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use flowmeter::derive::{MemberData, Rollup};
use flowmeter::digest::{
    build_digest, check_block_kit_limits, check_teams_message, render_email, render_text,
    slack_messages, teams_messages, DigestInput, Links, PrSummary, TeamInput,
};
use flowmeter::metrics::environments::{EnvironmentState, PendingPr, RepoEnvironments};
use flowmeter::metrics::OpenIncident;
use flowmeter::time::IsoWeek;
use serde_json::Value;

const H: f64 = 3_600.0;
const D: f64 = 86_400.0;

fn week(n: u32) -> IsoWeek {
    IsoWeek::new(2026, n).expect("valid week")
}

fn t(text: &str) -> DateTime<Utc> {
    text.parse().expect("timestamp")
}

/// `succeeded` successful production deployments spread over Monday–Friday of `week`, and
/// `failed` failed attempts, each recovered after `recovery` seconds.
fn deployments(week: IsoWeek, succeeded: usize, failed: usize, recovery: f64) -> Vec<MemberData> {
    let monday = week.monday_date();
    let mut out: Vec<MemberData> = (0..succeeded)
        .map(|i| MemberData::Deployment {
            success: true,
            failed: false,
            day: monday + Duration::days((i % 5) as i64),
            rework: false,
            recovery: None,
        })
        .collect();
    out.extend((0..failed).map(|_| MemberData::Deployment {
        success: false,
        failed: true,
        day: monday + Duration::days(2),
        rework: false,
        recovery: Some(recovery),
    }));
    out
}

fn lead_times(seconds: &[f64]) -> Vec<MemberData> {
    seconds
        .iter()
        .map(|s| MemberData::LeadTime { seconds: *s })
        .collect()
}

/// A merged PR: cycle time total, pickup, first-time pass.
fn merged(total: f64, pickup: Option<f64>, passed: bool) -> MemberData {
    MemberData::PrMerged {
        coding: Some(total / 4.0),
        pickup,
        review: pickup.map(|p| p / 2.0),
        deploy: Some(H),
        total,
        first_time_pass: passed,
        comments: 2,
        size: 120,
    }
}

fn incident(service: &str, severity: &str) -> MemberData {
    MemberData::IncidentOpened {
        service: service.to_string(),
        severity: Some(severity.to_string()),
    }
}

fn fold(members: Vec<MemberData>) -> Rollup {
    Rollup::from_members(&members)
}

/// W38..=W42, 2026-W42 (12–18 Oct 2026) being the reported week; `f` gets 0..=4.
fn five(f: impl Fn(usize, IsoWeek) -> Vec<MemberData>) -> Vec<(IsoWeek, Rollup)> {
    (0..5)
        .map(|i| {
            let w = week(38 + i as u32);
            (w, fold(f(i, w)))
        })
        .filter(|(_, r)| !r.is_empty())
        .collect()
}

fn team(
    name: &str,
    slug: &str,
    delivery: Vec<(IsoWeek, Rollup)>,
    prs: Vec<(IsoWeek, Rollup)>,
    incidents: Vec<(IsoWeek, Rollup)>,
) -> TeamInput {
    TeamInput {
        name: name.to_string(),
        delivery_weeks: delivery,
        pr_weeks: prs,
        incident_weeks: incidents,
        repos: vec![format!("acme/{slug}")],
        members: vec![format!("{slug}-lead")],
        goals: Vec::new(),
        ticket_weeks: Vec::new(),
    }
}

fn pr(
    repo: &str,
    number: u64,
    title: &str,
    author: &str,
    total: f64,
    pickup: Option<f64>,
) -> PrSummary {
    PrSummary {
        repo: repo.to_string(),
        number,
        title: title.to_string(),
        author: author.to_string(),
        url: Some(format!("https://github.com/{repo}/pull/{number}")),
        pickup_seconds: pickup,
        total_seconds: total,
        merged_at: t("2026-10-15T14:30:00Z"),
    }
}

/// The fixed dataset.
///
/// * **Platform** — steady: 6 deployments and 6 PRs a week, lead time p50 4 h, cycle time
///   p50 1 d, review latency 2 h, one incident two weeks ago.
/// * **Payments** — regressing: lead time p50 6 h for four weeks, 2.1 d this week (4 shipped
///   PRs); review latency 3 h, then 2.2 d; 3 of its PRs merged this week waited over 2 days
///   for a first review.
/// * **Mobile & Web <Apps> …** (a long name with HTML metacharacters) — small and noisy: a
///   failed deployment two weeks ago, no deployment recorded this week, 2 PRs that both needed
///   rework (too few to flag), 1 incident.
///
/// The org's rollups are the merge of the teams'.
fn dataset() -> DigestInput {
    let platform = platform();
    let mut payments = payments();
    // Payments tracks PAY in Jira: 3 tickets done this week (cycle 4 h, 1 d, 3 d), 2 shipped
    // (lead 2 d and 5 d).
    payments.ticket_weeks = vec![(
        week(42),
        Rollup::from_members(&[
            MemberData::TicketDone {
                cycle: Some(4.0 * H),
            },
            MemberData::TicketDone { cycle: Some(D) },
            MemberData::TicketDone {
                cycle: Some(3.0 * D),
            },
            MemberData::TicketShipped {
                lead: Some(2.0 * D),
            },
            MemberData::TicketShipped {
                lead: Some(5.0 * D),
            },
        ]),
    )];
    let mobile = mobile();

    let mut org = Vec::new();
    for team in [&platform, &payments, &mobile] {
        org.extend(team.delivery_weeks.iter().cloned());
        org.extend(team.pr_weeks.iter().cloned());
        org.extend(team.incident_weeks.iter().cloned());
    }

    DigestInput {
        org: "Acme Corp".to_string(),
        week: week(42),
        timezone: chrono_tz::Europe::Berlin,
        now: t("2026-10-19T07:00:00Z"),
        org_weeks: org,
        teams: vec![platform, payments, mobile],
        week_prs: week_prs(),
        open_incidents: open_incidents(),
        links: Links {
            dashboard: Some("https://flowmeter.example.com/acme".to_string()),
            github: Some("https://github.com".to_string()),
        },
        environments: environments(),
    }
}

/// acme/payments' staging runs PR 311 (PAY-7) and PR 312 (no ticket), which production does
/// not yet; a hostile title is in the PR, not in the line.
fn environments() -> Vec<RepoEnvironments> {
    let pending = |number: u64, tickets: &[&str]| PendingPr {
        number,
        title: "<b>Refunds</b>".into(),
        author: "payments-lead".into(),
        merged_at: Some(t("2026-10-16T10:00:00Z")),
        url: format!("https://github.com/acme/payments/pull/{number}"),
        tickets: tickets.iter().map(|t| t.to_string()).collect(),
    };
    let state =
        |environment: &str, next: Option<&str>, ahead: Option<Vec<PendingPr>>| EnvironmentState {
            environment: environment.into(),
            deployment: None,
            age_seconds: None,
            next: next.map(str::to_string),
            ahead_of_next: ahead,
            apps: Vec::new(),
        };
    vec![RepoEnvironments {
        repo: "acme/payments".into(),
        environments: vec![
            state(
                "staging",
                Some("production"),
                Some(vec![pending(311, &["jira:PAY-7"]), pending(312, &[])]),
            ),
            state("production", None, None),
        ],
    }]
}

/// Platform, steady (see [`dataset`]).
fn platform() -> TeamInput {
    team(
        "Platform",
        "platform",
        five(|_, w| {
            let mut m = deployments(w, 6, 0, 0.0);
            m.extend(lead_times(&[3.0 * H, 4.0 * H, 5.0 * H, 6.0 * H]));
            m
        }),
        five(|i, _| {
            (0..6)
                .map(|k| merged(D + (k as f64) * H, Some(2.0 * H), k != i))
                .collect()
        }),
        five(|i, _| {
            if i == 2 {
                vec![incident("platform-api", "sev3")]
            } else {
                Vec::new()
            }
        }),
    )
}

/// Payments, regressing this week (see [`dataset`]).
fn payments() -> TeamInput {
    team(
        "Payments",
        "payments",
        five(|i, w| {
            let mut m = deployments(w, 5, usize::from(i == 1), 2.0 * H);
            if i == 4 {
                m.extend(lead_times(&[1.8 * D, 2.1 * D, 2.1 * D, 2.6 * D]));
            } else {
                m.extend(lead_times(&[5.0 * H, 6.0 * H, 6.0 * H, 8.0 * H]));
            }
            m
        }),
        five(|i, _| {
            let pickup = if i == 4 { 2.2 * D } else { 3.0 * H };
            (0..5)
                .map(|k| merged(1.5 * D + k as f64 * H, Some(pickup), true))
                .collect()
        }),
        Vec::new(),
    )
}

/// Mobile & Web, small and noisy (see [`dataset`]).
fn mobile() -> TeamInput {
    team(
        "Mobile & Web <Apps> — consumer experience squad for iOS, Android and the responsive site",
        "mobile",
        five(|i, w| match i {
            4 => Vec::new(),
            2 => deployments(w, 1, 1, 5.0 * H),
            _ => deployments(w, 2, 0, 0.0),
        }),
        five(|i, _| {
            if i == 4 {
                vec![
                    merged(6.0 * D, Some(4.0 * D), false),
                    merged(5.0 * D, Some(3.0 * D), false),
                ]
            } else {
                vec![
                    merged(2.0 * D, Some(5.0 * H), true),
                    merged(3.0 * D, None, true),
                ]
            }
        }),
        five(|i, _| {
            if i == 4 {
                vec![incident("mobile-gateway", "sev2")]
            } else {
                Vec::new()
            }
        }),
    )
}

/// The PRs merged in the reported week, the slowest first.
fn week_prs() -> Vec<PrSummary> {
    vec![
        pr("acme/payments", 412, "Retry card authorisations on gateway timeouts", "dana", 5.4 * D, Some(3.1 * D)),
        pr("acme/payments", 415, "Move ledger exports to the new <batch> runner & drop cron", "eli", 4.2 * D, Some(2.6 * D)),
        pr("acme/payments", 418, "Fix rounding in refunds", "payments-lead", 3.9 * D, Some(2.2 * D)),
        pr(
            "acme/mobile",
            77,
            "refactor(checkout):ExtractPaymentSheetPresentationControllerIntoItsOwnModuleWithoutAnyBreaksInTheTitle",
            "mobile-lead",
            6.0 * D,
            Some(4.0 * D),
        ),
        pr("acme/platform", 1201, "Bump base image", "sam", 20.0 * H, Some(H)),
        pr("acme/platform", 1202, "Add canary step to deploy pipeline", "kim", 1.1 * D, Some(2.0 * H)),
    ]
}

/// The incidents open when the digest is built.
fn open_incidents() -> Vec<OpenIncident> {
    vec![
        OpenIncident {
            id: "pd:Q1X2Y3".to_string(),
            service: "mobile-gateway".to_string(),
            severity: Some("sev2".to_string()),
            opened_at: t("2026-10-17T21:15:00Z"),
        },
        OpenIncident {
            id: "gh:acme/platform#88".to_string(),
            service: "platform-api".to_string(),
            severity: None,
            opened_at: t("2026-10-02T08:00:00Z"),
        },
    ]
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
        .join(name)
}

/// Compares `actual` with the golden file, or writes it when `UPDATE_GOLDEN=1`.
fn check_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("create golden dir");
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             If the change is intended, run with UPDATE_GOLDEN=1 and review the diff.",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

fn pretty(value: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("serialize");
    text.push('\n');
    text
}

#[test]
fn digest_golden_renderings() {
    let digest = build_digest(&dataset());

    // The dataset says what the golden files show.
    let flagged: Vec<&str> = digest.attention.iter().map(|a| a.team.as_str()).collect();
    assert_eq!(flagged, ["Payments"]);
    assert_eq!(
        digest.attention[0].summary,
        "lead time p50 rose from 6 h to 2.1 d; review latency p50 rose from 3 h to 2.2 d; \
         3 PRs waited over 2 days for a first review"
    );
    assert!(digest.teams[2].deployments.value.is_none());

    let slack = slack_messages(&digest);
    assert_eq!(slack.len(), 1);
    for message in &slack {
        check_block_kit_limits(message).expect("within Block Kit limits");
    }
    let email = render_email(&digest);
    assert_eq!(
        email.subject,
        "Acme Corp weekly digest, 12–18 Oct 2026: 1 team needs attention"
    );
    assert_eq!(email.text, render_text(&digest));
    let teams = teams_messages(&digest);
    assert_eq!(teams.len(), 1);
    for message in &teams {
        check_teams_message(message).expect("a valid Teams message");
    }

    check_golden("digest.slack.json", &pretty(&slack));
    check_golden("digest.html", &email.html);
    check_golden("digest.txt", &email.text);
    check_golden("digest.teams.json", &pretty(&teams));
}

#[test]
fn digest_golden_email_is_built_for_mail_clients() {
    let html = render_email(&build_digest(&dataset())).html;
    let lower = html.to_lowercase();
    for forbidden in [
        "<style", "<script", "<svg", "<img", "<link", "url(", "@import", "class=",
    ] {
        assert!(!lower.contains(forbidden), "the email contains {forbidden}");
    }
    assert!(html.contains("max-width:600px"));
    assert!(html.contains("table-layout:fixed"));
    // Every cell wraps long words, so nothing can widen the page past 600 px.
    let cells = html.split("<td").skip(1).chain(html.split("<th ").skip(1));
    for tag in cells {
        let tag = &tag[..tag.find('>').expect("tag end")];
        assert!(
            tag.contains("word-break:break-word") && tag.contains("overflow-wrap:anywhere"),
            "cell without word wrapping: <td{tag}>"
        );
    }
    // Team names and titles are escaped, never markup.
    assert!(html.contains("Mobile &amp; Web &lt;Apps&gt;"));
    assert!(html.contains("new &lt;batch&gt; runner &amp; drop cron"));
    assert!(!html.contains("<Apps>"));
    // Only https links, to GitHub and the dashboard.
    for href in html.split("href=\"").skip(1) {
        let url = &href[..href.find('"').expect("href end")];
        assert!(
            url.starts_with("https://github.com/")
                || url.starts_with("https://flowmeter.example.com/"),
            "{url}"
        );
    }
}

/// 50 teams with long names, all regressing, and 40 open incidents.
fn fifty_teams() -> DigestInput {
    let mut input = dataset();
    input.teams = (0..50)
        .map(|i| {
            team(
                &format!("Team {i:02} · checkout experience, payments platform and reliability engineering guild"),
                &format!("repo-{i}"),
                five(|k, w| {
                    let mut m = deployments(w, 6, 0, 0.0);
                    let lead = if k == 4 { 12.0 * D } else { 3.0 * H };
                    m.extend(lead_times(&[lead; 4]));
                    m
                }),
                five(|_, _| (0..6).map(|_| merged(D, Some(2.0 * H), true)).collect()),
                Vec::new(),
            )
        })
        .collect();
    input.open_incidents = (0..40)
        .map(|i| OpenIncident {
            id: format!("pd:INCIDENT-{i:03}-{}", "x".repeat(60)),
            service: format!("service-{i}-{}", "y".repeat(60)),
            severity: Some("sev1".to_string()),
            opened_at: t("2026-09-01T00:00:00Z") + Duration::hours(i),
        })
        .collect();
    input
}

#[test]
fn digest_golden_fifty_teams_split_within_slack_limits() {
    let input = fifty_teams();
    let digest = build_digest(&input);
    assert_eq!(digest.attention.len(), 50);
    let messages = slack_messages(&digest);
    assert!(messages.len() > 1, "50 teams need more than one message");
    for (i, message) in messages.iter().enumerate() {
        check_block_kit_limits(message).unwrap_or_else(|e| panic!("message {i}: {e}"));
    }
    let all: String = messages.iter().map(Value::to_string).collect();
    for team in &input.teams {
        // Each team has its row, and its needs-attention line.
        let row = format!("\"*{}*", team.name);
        assert!(all.contains(&row), "{} has no row", team.name);
        let flagged = format!(":warning: *{}*:", team.name);
        assert!(all.contains(&flagged), "{} is not flagged", team.name);
    }
    // Each message names its part.
    for (i, message) in messages.iter().enumerate() {
        let header = message["blocks"][0]["text"]["text"]
            .as_str()
            .expect("header");
        assert!(
            header.ends_with(&format!("({}/{})", i + 1, messages.len())),
            "{header}"
        );
    }

    let teams = teams_messages(&digest);
    for (i, message) in teams.iter().enumerate() {
        check_teams_message(message).unwrap_or_else(|e| panic!("Teams message {i}: {e}"));
    }
    let all: String = teams.iter().map(Value::to_string).collect();
    for team in &input.teams {
        assert!(all.contains(&team.name), "{} missing from Teams", team.name);
    }
}
