use super::*;
use serde_json::json;

#[test]
fn the_security_table_shows_each_team_s_open_alerts_and_fixes() {
    let payments = json!({"totals": {"open": {"critical": 1, "high": 2, "medium": 0, "low": 3},
        "fixed": 14, "time_to_fix": {"p50_seconds": 172800.0}}});
    let none = json!({"totals": {"open": {"critical": 0, "high": 0, "medium": 0, "low": 0},
        "fixed": 0, "time_to_fix": {"p50_seconds": null}}});
    let text = security(&[("payments".into(), payments), ("mobile".into(), none)]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[2],
        "team       critical  high   medium   low   fixed   time to fix p50"
    );
    assert_eq!(
        lines[3],
        "payments   1         2      0        3     14      2.0d"
    );
    assert_eq!(
        lines[4],
        "mobile     0         0      0        0     0       –"
    );
}

#[test]
fn the_gates_ask_for_each_environment_ahead_and_name_what_blocks() {
    let environments = json!({"repos": [{"repo": "acme/web", "environments": [
        {"environment": "staging", "next": "production", "deployment": {"sha": "abcdef0123"},
         "ahead_of_next": [{"number": 4}]},
        {"environment": "production", "next": null, "deployment": {"sha": "0123abc"},
         "ahead_of_next": null}]},
        {"repo": "acme/api", "environments": [
        {"environment": "staging", "next": "production", "deployment": {"sha": "1111111"},
         "ahead_of_next": []}]}]});
    let heads = BTreeMap::from([
        ("acme/web".to_string(), "abcdef0123".to_string()),
        ("acme/api".to_string(), "2222222".to_string()),
    ]);
    assert_eq!(
        gate_requests(&environments, &heads),
        [
            json!({"repo": "acme/web", "environment": "production", "sha": "abcdef0123"}),
            json!({"repo": "acme/api", "environment": "staging", "sha": "2222222"}),
        ],
        "main's head where the first environment lacks it, and each environment ahead"
    );
    let blocked = json!({"allowed": false, "repo": "acme/web", "environment": "production",
        "sha": "abcdef0123", "tickets": [{"checked": true}, {"checked": true}],
        "missing_fix_version": [{"key": "WEB-7"}]});
    let allowed = json!({"allowed": true, "repo": "acme/api", "environment": "production",
        "sha": "1111111", "missing_fix_version": [],
        "message": "Release allowed: all 1 Jira ticket(s) going to production have a fix version."});
    let text = release_gates(&[blocked, allowed]);
    assert!(
        text.contains("  acme/web → production at abcdef0: blocked: WEB-7 without a fix version\n"),
        "{text}"
    );
    assert!(text.contains("  acme/api → production at 1111111: allowed: all 1 Jira ticket(s) going to production have a fix version.\n"), "{text}");
    assert!(release_gates(&[]).ends_with("Nothing waits to be promoted.\n"));
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("instant")
}

#[test]
fn events_out_counts_the_bus_by_type_and_shows_each_channel_s_last_message() {
    let bus = json!({"bus": "flowmeter-local",
        "by_type": {"deployment.failed": 2, "deployment.finished": 31, "pull_request.merged": 9},
        "events": []});
    let long = format!("🔀 acme/ledger#7 merged: {}", "x".repeat(120));
    let channels = [
        ChannelMessages {
            channel: "platform".into(),
            route: "deployment.failed, deployment.recovered in production".into(),
            messages: vec![
                json!({"text": "🔥 acme/api failed in production", "blocks": []}),
                json!({"text": "✅ acme/api\trecovered\u{1b}[31m in production\nafter 42m",
                       "blocks": [{"type": "section"}]}),
            ],
        },
        ChannelMessages {
            channel: "payments".into(),
            route: "pull_request.merged of acme/ledger".into(),
            messages: vec![json!({"text": long})],
        },
        ChannelMessages {
            channel: "security".into(),
            route: "security.alert of severity high or above".into(),
            messages: vec![],
        },
    ];
    let text = events_out(&bus, &channels, None, None, at("2026-03-02T09:00:00Z"));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("Events out ("), "{text}");
    assert!(lines[1].contains("last 24h"), "{text}");
    assert_eq!(lines[2], "Bus flowmeter-local: 42 events");
    assert_eq!(lines[3], "  deployment.failed          2");
    assert_eq!(lines[4], "  deployment.finished       31");
    assert_eq!(lines[5], "  pull_request.merged        9");
    assert_eq!(
        lines[7],
        "  platform   deployment.failed, deployment.recovered in production"
    );
    assert_eq!(
        lines[8],
        "             2 messages; the last: \"✅ acme/api\\trecovered\\u{1b}[31m in production\"",
        "the most recent, its first line, control characters escaped"
    );
    let cut = format!("🔀 acme/ledger#7 merged: {}…", "x".repeat(90 - 24));
    assert_eq!(
        lines[10],
        format!("             1 message; the last: \"{cut}\"")
    );
    assert_eq!(lines[12], "             0 messages");
    assert_eq!(lines.len(), 13, "{text}");
}

#[test]
fn events_out_says_why_the_bus_is_empty_and_what_was_not_watched() {
    let channels = [ChannelMessages {
        channel: "platform".into(),
        route: "deployment.failed in production".into(),
        messages: vec![],
    }];
    let (newest, now) = (at("2026-12-05T21:37:00Z"), at("2026-12-07T01:07:00Z"));
    let stale = "  the history's newest change (2026-12-05 21:37 UTC) is 27.5h old: none of its changes is announced\n";
    let empty = json!({"bus": "flowmeter-local", "by_type": {}, "events": []});
    let text = events_out(&empty, &channels, Some(newest), None, now);
    assert!(
        text.contains(&format!("Bus flowmeter-local: 0 events\n{stale}")),
        "{text}"
    );
    assert!(
        text.ends_with("  platform   deployment.failed in production\n             0 messages\n"),
        "{text}"
    );
    // Events decided at the time of asking (a team's verdict) do not hide why the
    // history's changes are missing.
    let verdicts = json!({"bus": "flowmeter-local", "by_type": {"team.needs_attention": 2}});
    let text = events_out(&verdicts, &channels, Some(newest), None, now);
    assert!(
        text.contains(&format!(
            "Bus flowmeter-local: 2 events\n  team.needs_attention       2\n{stale}"
        )),
        "{text}"
    );
    // After the history, the live step's deliveries: said where they come from.
    let lived = json!({"bus": "flowmeter-local", "by_type": {"deployment.failed": 1}});
    let live = "7 deliveries now (a merged PR of acme/payments-api)";
    let text = events_out(&lived, &channels, Some(newest), Some(live), now);
    assert!(
        text.contains(&format!(
            "  deployment.failed          1\n{stale}  live, after the history: {live}\n"
        )),
        "{text}"
    );
    let fresh = events_out(
        &verdicts,
        &channels,
        Some(at("2026-12-06T21:37:00Z")),
        None,
        now,
    );
    assert!(!fresh.contains("newest change"), "{fresh}");
    assert!(
        events_out(&empty, &channels, None, None, now).contains("  none: the history is empty\n")
    );
    let unwatched = events_out(&Value::Null, &[], None, None, at("2026-12-07T01:07:00Z"));
    assert!(
        unwatched.contains("Bus: not available (the dev server answers no GET /dev/events)\n"),
        "{unwatched}"
    );
    assert!(
        unwatched.ends_with(
            "Channels: not watched (`flowmeter-demo stack` points them at its Slack stand-in)\n"
        ),
        "{unwatched}"
    );
}

#[test]
fn durations_read_well() {
    assert_eq!(duration(None), "–");
    assert_eq!(duration(Some(600.0)), "10m");
    assert_eq!(duration(Some(5400.0)), "1.5h");
    assert_eq!(duration(Some(3.0 * 86400.0)), "3.0d");
}

#[test]
fn the_report_names_the_teams_the_digest_flagged_and_only_those() {
    let team = |name: &str| TeamNumbers {
        name: name.into(),
        earlier_prs: json!({"review_latency": {"p50_seconds": 7200.0}}),
        recent_prs: json!({"review_latency": {"p50_seconds": 30000.0}}),
        earlier_dora: json!({"change_failure_rate": {"rate": 0.06}}),
        recent_dora: json!({"change_failure_rate": {"rate": 0.3}}),
        ..TeamNumbers::default()
    };
    let teams = [team("payments"), team("platform"), team("org")];
    let flagged = [("payments".to_string(), "lead time p50 rose".to_string())];
    let text = render("t", &teams, "2026-W10", "2026-W09", Some(&flagged));
    assert!(
        text.contains("✗ payments   needs attention: lead time p50 rose"),
        "{text}"
    );
    assert!(text.contains("✓ platform   steady"), "{text}");
    assert!(!text.contains("✓ org"), "{text}");
    assert!(text.contains("2.0h → 8.3h"), "{text}");
    assert!(text.contains("6% → 30%"), "{text}");
    let none = render("t", &teams, "2026-W10", "2026-W09", None);
    assert!(none.contains("the digest did not run"), "{none}");
    assert!(!none.contains("steady"), "{none}");
}

#[test]
fn the_environments_show_each_commit_its_age_and_the_lead_over_the_next() {
    let answer = json!({"scope": "org", "repos": [
        {"repo": "acme/web", "environments": [
            {"environment": "staging", "deployment": {"sha": "1a2b3c4d5e6f"},
             "age_seconds": 7200.0, "next": "production",
             "ahead_of_next": [{"number": 1}, {"number": 2}, {"number": 3}]},
            {"environment": "production", "deployment": {"sha": "9f8e7d6c5b4a"},
             "age_seconds": 18000.0, "next": null, "ahead_of_next": null}]},
        {"repo": "acme/ledger", "environments": [
            {"environment": "staging", "deployment": {"sha": "abcdef0123"},
             "age_seconds": 600.0, "next": "production", "ahead_of_next": []},
            {"environment": "production", "deployment": {"sha": "abcdef0123"},
             "age_seconds": 300.0, "next": null, "ahead_of_next": null}]},
        {"repo": "acme/design-system", "environments": [
            {"environment": "staging", "deployment": null, "age_seconds": null,
             "next": "production", "ahead_of_next": null},
            {"environment": "production", "deployment": null, "age_seconds": null,
             "next": null, "ahead_of_next": null}]}
    ]});
    let text = environments(&answer);
    assert!(
        text.contains("repo                 staging         production\n"),
        "{text}"
    );
    assert!(
        text.contains("web                  1a2b3c4   2.0h  9f8e7d6   5.0h  staging is 3 PRs ahead of production\n"),
        "{text}"
    );
    assert!(text.contains("production runs staging's commit"), "{text}");
    assert!(
        text.contains("design-system        –               –\n"),
        "{text}"
    );
    assert_eq!(
        environments(&json!({})).lines().last(),
        Some("  (no deployments)")
    );
}

#[test]
fn the_tickets_show_each_teams_times_and_what_waits_between_environments() {
    let payments = json!({
        "cycle_time": {"count": 12, "p50_seconds": 7200.0},
        "lead_time": {"count": 9, "p50_seconds": 90000.0}
    });
    let growth = json!({"cycle_time": {"count": 0, "p50_seconds": null},
                        "lead_time": {"count": 0, "p50_seconds": null}});
    let environments = json!({"repos": [{"repo": "acme/web", "environments": [
        {"environment": "staging", "next": "production", "ahead_of_next": [
            {"number": 1, "tickets": ["jira:PAY-7", "linear:GRO-2"]},
            {"number": 2, "tickets": ["jira:PAY-7"]}]},
        {"environment": "production", "next": null, "ahead_of_next": null}]}]});
    let teams = [
        ("payments".to_string(), payments),
        ("growth".to_string(), growth),
    ];
    let text = tickets(&teams, &environments);
    assert!(
        text.contains("team       done     cycle p50       shipped   lead p50\n"),
        "{text}"
    );
    assert!(
        text.contains("payments   12       2.0h            9         25.0h\n"),
        "{text}"
    );
    assert!(
        text.contains("growth     0        –               0         –\n"),
        "{text}"
    );
    assert!(
        text.contains("Waiting for the next environment (2): GRO-2 (staging, not yet in production), PAY-7 (staging, not yet in production)"),
        "{text}"
    );
    let none = tickets(&teams, &json!({}));
    assert!(
        none.ends_with("No ticket waits between environments.\n"),
        "{none}"
    );
}
