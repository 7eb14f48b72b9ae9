use super::super::testing::*;
use super::attention::{assess, binomial_tail, median};
use super::*;
use crate::derive::MemberData;

fn reasons_of(digest: &Digest, team: &str) -> Vec<String> {
    digest
        .attention
        .iter()
        .filter(|a| a.team == team)
        .flat_map(|a| a.reasons.iter().map(|r| r.text.clone()))
        .collect()
}

#[test]
fn digest_noise_from_tiny_counts_is_not_flagged() {
    // Usually 3 deployments, 1 h lead time, 5 PRs that pass first time, no incidents.
    // This week: 1 success and 2 failures (67% change failure rate from 3 attempts), two
    // shipped PRs with a 5-day lead time, two PRs that both needed rework and waited 5
    // days for review, 2 incidents. All worse, all too few to mean anything.
    let tiny = team(
        "Tiny",
        five(|i, w| {
            if i == 4 {
                rollup(&[deployments(w, 1, 2), lead_times(&[5.0 * D, 5.0 * D])])
            } else {
                rollup(&[deployments(w, 3, 0), lead_times(&[H, H, H])])
            }
        }),
        five(|i, _| {
            if i == 4 {
                rollup(&[merged_prs(2, 10.0 * D, Some(5.0 * D), false)])
            } else {
                rollup(&[merged_prs(5, D, Some(H), true)])
            }
        }),
        vec![(reported(), rollup(&[incidents(2)]))],
    );
    let digest = build_digest(&input(vec![tiny]));
    assert!(digest.attention.is_empty(), "{:#?}", digest.attention);
    let row = &digest.teams[0];
    assert!(!row.needs_attention);
    // The numbers are still shown as they are.
    assert_eq!(row.change_failure_rate.display, "67%");
    assert_eq!(row.lead_time.display, "5 d");
    assert_eq!(row.incidents_opened.display, "2");
}

#[test]
fn digest_binomial_tail_matches_the_exact_sum() {
    // Exact values: P(X ≥ 4 | 13, 0.07) = 0.010276, P(X ≥ 3 | 17, 0.06) = 0.078180.
    assert!((binomial_tail(4, 13, 0.07) - 0.010_275_5).abs() < 1e-6);
    assert!((binomial_tail(3, 17, 0.06) - 0.078_179_5).abs() < 1e-6);
    assert_eq!(binomial_tail(0, 10, 0.3), 1.0);
    assert_eq!(binomial_tail(11, 10, 0.3), 0.0);
    assert!((binomial_tail(10, 10, 0.5) - 0.5f64.powi(10)).abs() < 1e-15);
    // Large n stays finite and sensible.
    let t = binomial_tail(60, 500, 0.1);
    assert!(t > 0.05 && t < 0.3, "{t}");
}

#[test]
fn digest_ordinary_scatter_is_not_flagged_and_a_real_move_is() {
    // Deployments 6, 7, 6, 7 a week: 3 is within a Poisson count's scatter of 6.5 (it
    // happens about one week in ten); 1 is not.
    let deploying = |name: &str, this_week: usize| {
        team(
            name,
            five(move |i, w| {
                let n = if i == 4 { this_week } else { [6, 7, 6, 7][i] };
                rollup(&[deployments(w, n, 0)])
            }),
            Vec::new(),
            Vec::new(),
        )
    };
    // Change failure rate 9%, 10%, 20%, 9%, then 2 of 13 (15%, DORA low): the level
    // boundary is crossed, but three weeks ago was worse, and 2 of 13 at a 9% rate happens
    // one week in three. Against a flat 9%, 5 of 13 (38%) happens once in 250 weeks.
    let failing = |name: &str, history: [(usize, usize); 4], this_week: (usize, usize)| {
        team(
            name,
            five(move |i, w| {
                let (ok, failed) = if i == 4 { this_week } else { history[i] };
                rollup(&[deployments(w, ok, failed)])
            }),
            Vec::new(),
            Vec::new(),
        )
    };
    let digest = build_digest(&input(vec![
        deploying("Scatter", 3),
        deploying("Stalled", 1),
        failing("Unlucky", [(10, 1), (9, 1), (8, 2), (10, 1)], (11, 2)),
        failing("Lucky", [(10, 1); 4], (11, 2)),
        failing("Slipping", [(10, 1); 4], (8, 5)),
    ]));
    let names: Vec<&str> = digest.attention.iter().map(|a| a.team.as_str()).collect();
    assert_eq!(names, ["Stalled", "Slipping"], "{:#?}", digest.attention);
    assert_eq!(
        reasons_of(&digest, "Stalled"),
        ["deployments fell from 6.5 to 1"]
    );
    assert_eq!(
        reasons_of(&digest, "Slipping"),
        ["change failure rate rose from 9% to 38% (5 of 13 deployments failed)"]
    );
}

#[test]
fn digest_lead_time_regression_is_flagged_with_the_reason() {
    let digest = sample_digest();
    let names: Vec<&str> = digest.attention.iter().map(|a| a.team.as_str()).collect();
    assert_eq!(names, ["Payments"]);
    let payments = &digest.attention[0];
    // Previous weeks' p50 is 6 h (5, 6, 7 h each week); this week 2.1 d from 3 shipped
    // PRs. Three of the team's PRs waited over 2 days (3, 2.5, 2.1 d); the platform PR
    // with a 1 h pickup is another team's.
    assert_eq!(
        payments.summary,
        "lead time p50 rose from 6 h to 2.1 d; 3 PRs waited over 2 days for a first review"
    );
    assert_eq!(payments.waited_for_review, 3);
    let reason = &payments.reasons[0];
    assert_eq!(reason.metric, MetricKind::LeadTime);
    assert_eq!(reason.kind, ReasonKind::Regression);
    assert_eq!(reason.baseline, 6.0 * H);
    assert_eq!(reason.current, 2.1 * D);
    assert_eq!(reason.level_drop, Some((DoraLevel::Elite, DoraLevel::High)));
    let row = digest
        .teams
        .iter()
        .find(|t| t.name == "Payments")
        .expect("row");
    assert!(row.needs_attention);
    assert_eq!(row.lead_time.value_with_level(), "2.1 d · high");
    assert_eq!(
        row.lead_time.change.as_ref().map(|c| c.text.as_str()),
        Some("▲ 1.9 d (from 6 h)")
    );
    assert_eq!(
        row.lead_time.change.as_ref().and_then(|c| c.better),
        Some(false)
    );
}

#[test]
fn digest_dora_level_drop_is_flagged() {
    // Lead time p50 20 h (elite) every week, 36 h (high) this week: inside the regression
    // threshold (baseline + 3 × 6.7 h), beyond 2 spreads, a 5-week low, and the DORA level
    // dropped.
    let drifting = team(
        "Drifting",
        five(|i, w| {
            let lead = if i == 4 { 36.0 * H } else { 20.0 * H };
            rollup(&[deployments(w, 5, 0), lead_times(&[lead; 3])])
        }),
        Vec::new(),
        Vec::new(),
    );
    let digest = build_digest(&input(vec![drifting]));
    assert_eq!(
        reasons_of(&digest, "Drifting"),
        ["lead time p50 dropped from DORA elite to high (20 h to 1.5 d)"]
    );
    let reason = &digest.attention[0].reasons[0];
    assert_eq!(reason.kind, ReasonKind::LevelDrop);
    assert_eq!(reason.level_drop, Some((DoraLevel::Elite, DoraLevel::High)));

    // Deployment frequency: 5 deployments on 5 days a week (elite), then two weeks with as
    // many deployments all on Monday: the lower median of the last 4 weeks' deploy days
    // falls to 1 (high), while the count rule sees no change.
    let slower = team(
        "Slower",
        five(|i, w| {
            if i >= 3 {
                let monday: Vec<MemberData> = (0..5).flat_map(|_| deployments(w, 1, 0)).collect();
                rollup(&[monday])
            } else {
                rollup(&[deployments(w, 5, 0)])
            }
        }),
        Vec::new(),
        Vec::new(),
    );
    let digest = build_digest(&input(vec![slower]));
    assert_eq!(
        reasons_of(&digest, "Slower"),
        ["deployment frequency over the last 4 weeks dropped from DORA elite to high"]
    );
}

#[test]
fn digest_small_moves_on_a_flat_history_are_not_flagged() {
    // Exactly 12 deployments, 2 h review latency and 1 d cycle time every week: the MAD
    // is 0, and the floors keep 10 deployments, 3 h and 1.5 d from counting as outliers.
    let flat = team(
        "Flat",
        five(|i, w| rollup(&[deployments(w, if i == 4 { 10 } else { 12 }, 0)])),
        five(|i, _| {
            if i == 4 {
                rollup(&[merged_prs(5, 1.5 * D, Some(3.0 * H), true)])
            } else {
                rollup(&[merged_prs(5, D, Some(2.0 * H), true)])
            }
        }),
        Vec::new(),
    );
    let digest = build_digest(&input(vec![flat]));
    assert!(digest.attention.is_empty(), "{:#?}", digest.attention);
    let row = &digest.teams[0];
    assert_eq!(
        row.deployments.change.as_ref().map(|c| c.text.as_str()),
        Some("▼ 2 (from 12)")
    );
    assert_eq!(
        row.review_latency.change.as_ref().map(|c| c.text.as_str()),
        Some("▲ 1 h (from 2 h)")
    );
}

#[test]
fn digest_rate_and_count_regressions_read_plainly() {
    // 1 of 10 deployments failed each week, 5 of 10 this week; 0–1 incidents a week, 5
    // this week; 10 PRs a week all passing first time, 3 of 10 this week.
    let shaky = team(
        "Shaky",
        five(|i, w| {
            rollup(&[deployments(
                w,
                9 - 4 * usize::from(i == 4),
                1 + 4 * usize::from(i == 4),
            )])
        }),
        five(|i, _| {
            if i == 4 {
                rollup(&[
                    merged_prs(3, D, Some(H), true),
                    merged_prs(7, D, Some(H), false),
                ])
            } else {
                rollup(&[merged_prs(10, D, Some(H), true)])
            }
        }),
        five(|i, _| rollup(&[incidents([0, 1, 0, 0, 5][i])])),
    );
    let digest = build_digest(&input(vec![shaky]));
    assert_eq!(
        reasons_of(&digest, "Shaky"),
        [
            "change failure rate rose from 10% to 50% (5 of 10 deployments failed)",
            "first-time pass rate fell from 100% to 30% (7 of 10 PRs needed rework)",
            "incidents opened rose from 0 to 5",
        ]
    );
}

#[test]
fn digest_weeks_without_data_say_so() {
    // No org rollups at all; one team with nothing; one that deployed without failures,
    // merged no PRs, and had no data the week before.
    let quiet = team(
        "Quiet",
        vec![
            (week(40), rollup(&[deployments(week(40), 2, 0)])),
            (reported(), rollup(&[deployments(reported(), 3, 0)])),
        ],
        Vec::new(),
        Vec::new(),
    );
    let empty = team("Empty", Vec::new(), Vec::new(), Vec::new());
    let digest = build_digest(&input(vec![quiet, empty]));

    assert!(digest.headline.no_data);
    for metric in digest.headline.metrics() {
        assert_eq!(metric.value, None);
        assert_eq!(metric.level, None);
        assert_eq!(metric.change, None);
    }
    assert_eq!(
        digest.headline.deployments.no_data.as_deref(),
        Some("no deployments recorded this week")
    );
    assert_eq!(
        digest.headline.deployments.display,
        "no deployments recorded"
    );

    let quiet = &digest.teams[0];
    assert!(!quiet.no_data);
    assert_eq!(quiet.deployments.display, "3");
    assert_eq!(
        quiet.deployments.change.as_ref().map(|c| c.text.as_str()),
        Some("no data the week before")
    );
    assert_eq!(quiet.lead_time.display, "no PRs shipped");
    assert_eq!(quiet.change_failure_rate.display, "0%");
    assert_eq!(quiet.recovery.display, "no failed deployments");
    assert_eq!(quiet.cycle_time.display, "no PRs merged");
    assert_eq!(quiet.review_latency.display, "no PRs merged");
    assert_eq!(quiet.first_time_pass.display, "no PRs merged");
    assert_eq!(quiet.incidents_opened.display, "none");

    let empty = &digest.teams[1];
    assert!(empty.no_data);
    assert_eq!(
        empty.deployments.no_data.as_deref(),
        Some("no deployments recorded this week")
    );
    assert!(digest.attention.is_empty());
    assert!(digest.slowest_prs.is_empty());
    assert_eq!(digest.prs_merged, 0);
}

#[test]
fn digest_headline_has_levels_and_changes() {
    let digest = sample_digest();
    let h = &digest.headline;
    assert!(!h.no_data);
    // W41: 11 deployments; W42: 12 plus one failed attempt.
    assert_eq!(h.deployments.display, "12");
    assert_eq!(h.deployments.level, Some(DoraLevel::Elite));
    let change = h.deployments.change.as_ref().expect("change");
    assert_eq!(change.text, "▲ 1 (from 11)");
    assert_eq!(change.better, Some(true));
    assert_eq!(h.lead_time.value_with_level(), "6 h · elite");
    assert_eq!(
        h.change_failure_rate
            .change
            .as_ref()
            .map(|c| c.text.as_str()),
        Some("▲ 8 pts (from 0%)")
    );
    assert_eq!(h.change_failure_rate.level, Some(DoraLevel::High));
    assert_eq!(h.recovery.display, "30 min");
    assert_eq!(h.recovery.level, Some(DoraLevel::Elite));
    assert_eq!(
        h.recovery.change.as_ref().map(|c| c.text.as_str()),
        Some("no data the week before")
    );
}

#[test]
fn digest_slowest_prs_and_open_incidents() {
    let mut input = sample_input();
    input.week_prs.push(PrSummary {
        url: Some("javascript:alert(1)".to_string()),
        ..pr("acme/platform", 2, 4.5 * D, None)
    });
    // Merged the week before: not this week's.
    input.week_prs.push(PrSummary {
        merged_at: t("2026-10-11T23:00:00Z"),
        ..pr("acme/platform", 3, 50.0 * D, None)
    });
    input.open_incidents.push(OpenIncident {
        id: "gen:older".to_string(),
        service: "search\nengine".to_string(),
        severity: None,
        opened_at: t("2026-10-09T09:00:00Z"),
    });
    let digest = build_digest(&input);
    assert_eq!(digest.prs_merged, 5);
    let slow: Vec<(u64, &str, Option<&str>)> = digest
        .slowest_prs
        .iter()
        .map(|p| (p.number, p.total.as_str(), p.url.as_deref()))
        .collect();
    assert_eq!(
        slow,
        [
            (7, "5 d", Some("https://github.com/acme/payments/pull/7")),
            // An unsafe URL is dropped, and GitHub's base is used instead.
            (2, "4.5 d", Some("https://github.com/acme/platform/pull/2")),
            (8, "4 d", Some("https://github.com/acme/payments/pull/8")),
        ]
    );
    assert_eq!(digest.slowest_prs[0].team.as_deref(), Some("Payments"));
    assert_eq!(digest.slowest_prs[0].pickup.as_deref(), Some("3 d"));

    let open: Vec<(&str, &str, &str, &str)> = digest
        .open_incidents
        .iter()
        .map(|i| {
            (
                i.id.as_str(),
                i.service.as_str(),
                i.age.as_str(),
                i.opened.as_str(),
            )
        })
        .collect();
    assert_eq!(
        open,
        [
            ("gen:older", "search engine", "10 d", "Fri 9 Oct 09:00"),
            ("pd:Q1", "checkout", "2 d", "Sat 17 Oct 09:00"),
        ]
    );
    assert_eq!(digest.more_open_incidents, 0);

    let many = build_digest(&big_input(2));
    assert_eq!(many.open_incidents.len(), OPEN_INCIDENTS_SHOWN);
    assert_eq!(many.more_open_incidents, 30);
}

#[test]
fn digest_robust_statistics() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[3.0]), Some(3.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&[5.0, 1.0, 100.0]), Some(5.0));
    // One wild week in the history does not move the baseline much.
    let weeks: Vec<Option<Rollup>> = [H, H, 30.0 * D, H, 5.0 * H]
        .iter()
        .map(|v| Some(rollup(&[lead_times(&[*v; 3])])))
        .collect();
    let reason = assess(MetricKind::LeadTime, &weeks).expect("flagged");
    assert_eq!(reason.text, "lead time p50 rose from 1 h to 5 h");
    // Too little history: not judged.
    let short: Vec<Option<Rollup>> = [None, None, Some(H), Some(H), Some(5.0 * D)]
        .iter()
        .map(|v| v.map(|v| rollup(&[lead_times(&[v; 3])])))
        .collect();
    assert_eq!(assess(MetricKind::LeadTime, &short), None);
}

#[test]
fn digest_lists_each_teams_goals_off_track_in_every_channel() {
    // given a steady Payments team (lead times 4, 5, 6 h every week, no failures, every PR
    // passes first time) with a 4h lead time goal, a 10% change failure rate goal and the
    // org's 100% first-time pass rate goal; and a steady Platform team without goals
    let config = crate::config::OrgConfig::from_yaml(
        "org: acme\nteams:\n  payments: {}\n  platform: {}\n\
         goals:\n  org: {first_time_pass_rate: 100%}\n  \
         payments: {lead_time_p50: 4h, change_failure_rate: 10%}\n",
    )
    .expect("config");
    let mut payments = steady("Payments");
    payments.goals = config
        .goals()
        .for_team("payments")
        .into_iter()
        .map(|(g, set_for)| (g.clone(), set_for))
        .collect();
    let platform = steady("Platform");
    // when
    let digest = build_digest(&input(vec![payments, platform]));
    // then: over W39–W42 the lead time p50 is rank 6 of [4 h ×4, 5 h ×4, 6 h ×4] = 5 h > 4 h:
    // off track; 0% ≤ 10% and 100% ≥ 100% are on track. Platform has no goal.
    let line = "lead time p50 5 h, goal 4h (off track)";
    assert_eq!(
        digest.goals_off_track,
        [GoalsOffTrack {
            team: "Payments".to_string(),
            goals: vec![line.to_string()],
            summary: line.to_string(),
        }]
    );
    // Goals do not change the needs-attention rule: a steady team needs none.
    assert!(digest.attention.is_empty(), "{:#?}", digest.attention);
    let text = crate::digest::render_text(&digest);
    assert!(text.contains("Goals off track"), "{text}");
    assert!(text.contains(&format!("- Payments: {line}\n")), "{text}");
    let html = crate::digest::render_html(&digest);
    assert!(
        html.contains(&format!("<strong>Payments</strong>: {line}")),
        "{html}"
    );
    let slack = serde_json::to_string(&crate::digest::slack_messages(&digest)).expect("json");
    assert!(
        slack.contains(&format!(":dart: *Payments*: {line}")),
        "{slack}"
    );
    let teams = serde_json::to_string(&crate::digest::teams_messages(&digest)).expect("json");
    // Teams' markdown escapes the parentheses (a backslash each, doubled in JSON).
    assert!(
        teams.contains(r"**Payments**: lead time p50 5 h, goal 4h \\(off track\\)"),
        "{teams}"
    );
    // Without goals off track there is no such section.
    let quiet = build_digest(&input(vec![steady("Platform")]));
    assert!(quiet.goals_off_track.is_empty());
    assert!(!crate::digest::render_text(&quiet).contains("Goals off track"));
}
