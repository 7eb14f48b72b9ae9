use super::super::routes::DEFAULT_GROUP_AFTER;
use super::*;
use crate::digest::{check_block_kit_limits, check_teams_message};
use crate::events::{AlertDetail, DeploymentDetail, IncidentDetail, PullRequestDetail};
use chrono::{DateTime, Utc};

const TZ: Tz = chrono_tz::Europe::Berlin;
const HOSTILE: &str = "<!channel> [x](https://evil) *bold*";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("time")
}

fn config(group_after: usize) -> NotificationConfig {
    NotificationConfig {
        routes: Vec::new(),
        group_after,
        review_wait_hours: 24,
    }
}

fn event(id: &str, kind: EventType) -> DomainEvent {
    let mut e = DomainEvent::new(kind, id.to_string(), at("2026-10-07T12:00:00Z"), "acme");
    e.repo = Some("acme/api".into());
    e.teams = vec!["payments".into()];
    e
}

fn deployment(id: &str, sha: &str, state: &str) -> DeploymentDetail {
    DeploymentDetail {
        id: id.into(),
        repo: "acme/api".into(),
        environment: Some("production".into()),
        source_environment: Some("prod".into()),
        sha: Some(sha.into()),
        workflow: Some("Deploy".into()),
        state: state.into(),
        started_at: Some(at("2026-10-07T11:56:00Z")),
        finished_at: Some(at("2026-10-07T12:00:00Z")),
        duration_seconds: Some(240.0),
        url: Some(format!("https://github.com/acme/api/commit/{sha}")),
    }
}

fn pr(number: u64, title: &str, author: &str, tickets: &[&str]) -> PullRequestDetail {
    PullRequestDetail {
        repo: "acme/api".into(),
        number,
        title: title.into(),
        author: author.into(),
        url: Some(format!("https://github.com/acme/api/pull/{number}")),
        merged_at: Some(at("2026-10-07T10:00:00Z")),
        cycle_seconds: Some(2.0 * 86_400.0),
        tickets: tickets.iter().map(|t| t.to_string()).collect(),
    }
}

fn finished(id: &str, shipped: Vec<PullRequestDetail>) -> DomainEvent {
    let mut e = event(id, EventType::DeploymentFinished);
    e.environment = Some("production".into());
    e.deployment = Some(deployment("gh:2", "def5678aa", "success"));
    e.shipped = Some(shipped);
    e
}

fn failed(id: &str) -> DomainEvent {
    let mut e = event(id, EventType::DeploymentFailed);
    e.environment = Some("production".into());
    e.deployment = Some(deployment("gh:1", "abc1234ff", "failure"));
    e
}

fn recovered(id: &str) -> DomainEvent {
    let mut e = event(id, EventType::DeploymentRecovered);
    e.environment = Some("production".into());
    e.deployment = Some(deployment("gh:1", "abc1234ff", "failure"));
    e.recovered_by = Some(deployment("gh:2", "def5678aa", "success"));
    e.recovery_seconds = Some(25.0 * 60.0);
    e
}

fn incident(id: &str, title: &str, resolved: bool) -> DomainEvent {
    let kind = if resolved {
        EventType::IncidentResolved
    } else {
        EventType::IncidentOpened
    };
    let mut e = event(id, kind);
    e.repo = None;
    e.severity = Some("sev1".into());
    e.incident = Some(IncidentDetail {
        id: "pd:P1".into(),
        title: title.into(),
        service: "checkout".into(),
        services: vec!["checkout".into(), "ledger".into()],
        opened_at: at("2026-10-07T10:00:00Z"),
        resolved_at: resolved.then(|| at("2026-10-07T11:30:00Z")),
        duration_seconds: resolved.then_some(5400.0),
        url: Some("https://acme.pagerduty.com/incidents/P1".into()),
    });
    e
}

fn merged(id: &str, detail: PullRequestDetail) -> DomainEvent {
    let mut e = event(id, EventType::PullRequestMerged);
    e.pull_request = Some(detail);
    e
}

fn alert(id: &str, title: &str) -> DomainEvent {
    let mut e = event(id, EventType::SecurityAlert);
    e.severity = Some("critical".into());
    e.alert = Some(AlertDetail {
        kind: "code_scanning".into(),
        number: 20,
        title: title.into(),
        found_at: at("2026-10-07T08:00:00Z"),
        url: Some("https://github.com/acme/api/security/code-scanning/20".into()),
    });
    e
}

/// Every string under a `text` key (Slack's text objects, Teams' TextBlocks), in order.
fn texts(message: &Value) -> String {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("text", Value::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(message, &mut out);
    out.join("\n")
}

/// The characters of a Slack message's block texts, together (and a newline between each
/// two).
fn blocks_text_chars(message: &Value) -> usize {
    texts(&message["blocks"]).chars().count()
}

/// The one Slack and the one Teams message of a single event, checked against the limits.
fn single(event: &DomainEvent) -> (Value, String, Value, String) {
    let slack = slack_messages(std::slice::from_ref(event), &config(3), TZ);
    let teams = teams_messages(std::slice::from_ref(event), &config(3), TZ);
    assert_eq!((slack.len(), teams.len()), (1, 1));
    check_block_kit_limits(&slack[0]).expect("within Block Kit limits");
    assert!(blocks_text_chars(&slack[0]) <= MAX_SLACK_BLOCKS_TEXT_CHARS);
    check_teams_message(&teams[0]).expect("a valid Teams message");
    let (slack_text, teams_text) = (texts(&slack[0]), texts(&teams[0]));
    (slack[0].clone(), slack_text, teams[0].clone(), teams_text)
}

fn teams_title(message: &Value) -> &str {
    message["attachments"][0]["content"]["body"][0]["text"]
        .as_str()
        .expect("title")
}

fn teams_action(message: &Value) -> (&str, &str) {
    let action = &message["attachments"][0]["content"]["actions"][0];
    (
        action["title"].as_str().expect("action title"),
        action["url"].as_str().expect("action url"),
    )
}

#[test]
fn a_finished_production_deployment_tells_its_commit_duration_workflow_and_prs() {
    // given
    let e = finished(
        "evt_1",
        vec![
            pr(12, "Add retries", "alice", &["PAY-12", "PAY-13"]),
            pr(13, "Fix & tidy", "bob", &[]),
        ],
    );
    // when
    let (slack, s, teams, t) = single(&e);
    // then
    assert_eq!(slack["text"], "🚀 acme/api deployed to production");
    assert!(
        s.contains(
            "*🚀 acme/api deployed to production*\nCommit \
             <https://github.com/acme/api/commit/def5678aa|def5678> · took 4 min · workflow Deploy"
        ),
        "{s}"
    );
    assert!(
        s.contains(
            "*Shipped 2 PRs:*\n• <https://github.com/acme/api/pull/12|#12 Add retries> by alice · \
             PAY-12, PAY-13\n• <https://github.com/acme/api/pull/13|#13 Fix &amp; tidy> by bob"
        ),
        "{s}"
    );
    assert!(
        s.contains("Wed 7 Oct 14:00 · deployment.finished · teams: payments"),
        "{s}"
    );
    assert_eq!(teams_title(&teams), "🚀 acme/api deployed to production");
    assert!(
        t.contains(
            "Commit [def5678](https://github.com/acme/api/commit/def5678aa) · took 4 min · workflow Deploy"
        ),
        "{t}"
    );
    assert!(t.contains("**Shipped 2 PRs:**"), "{t}");
    assert!(
        t.contains(
            r"• [\#12 Add retries](https://github.com/acme/api/pull/12) by alice · PAY-12, PAY-13"
        ),
        "{t}"
    );
    assert_eq!(
        teams_action(&teams),
        (
            "View commit",
            "https://github.com/acme/api/commit/def5678aa"
        )
    );
}

#[test]
fn a_deployment_outside_production_gets_a_check_and_an_empty_one_says_so() {
    // given
    let mut e = finished("evt_1", Vec::new());
    e.environment = Some("qa".into());
    // when
    let (slack, s, _, t) = single(&e);
    // then
    assert_eq!(slack["text"], "✅ acme/api deployed to qa");
    assert!(s.contains("Shipped no new PRs."), "{s}");
    assert!(t.contains("Shipped no new PRs."), "{t}");
}

#[test]
fn a_long_shipped_list_is_capped_with_a_count_of_the_rest() {
    // given
    let prs = (1..=14)
        .map(|n| pr(n, &format!("Change {n}"), "alice", &["PAY-1"]))
        .collect();
    let e = finished("evt_1", prs);
    // when
    let (_, s, _, t) = single(&e);
    // then
    for text in [&s, &t] {
        assert!(text.contains("Shipped 14 PRs:"), "{text}");
        assert!(text.contains("Change 10"), "{text}");
        assert!(!text.contains("Change 11"), "{text}");
        assert!(text.contains("…and 4 more"), "{text}");
    }
    assert_eq!(s.matches("\n• ").count(), MAX_SHIPPED_LISTED);
}

#[test]
fn a_deployment_shipping_hostile_prs_still_fits_one_slack_message() {
    // given ten PRs whose titles and URLs grow fivefold when escaped
    let prs = (1..=10)
        .map(|n| {
            let mut p = pr(n, &"&".repeat(300), &"<".repeat(300), &["PAY-1"; 9]);
            p.url = Some(format!("https://github.com/x?{}", "&a".repeat(75)));
            p
        })
        .collect();
    // when
    let (slack, s, _, t) = single(&finished("evt_1", prs));
    // then the list stops where the message's text would be too long, and says so
    assert!(blocks_text_chars(&slack) <= MAX_SLACK_BLOCKS_TEXT_CHARS);
    assert!(s.contains("more not shown"), "{s}");
    assert!(
        s.contains("&amp;a|#1 &amp;&amp;"),
        "the links are whole: {s}"
    );
    assert!(
        s.contains("PAY-1, PAY-1, PAY-1, PAY-1, PAY-1, 4 more"),
        "{s}"
    );
    assert!(t.contains("Shipped 10 PRs:"), "{t}");
}

#[test]
fn a_failed_deployment_says_what_failed_and_that_it_is_not_recovered() {
    // given
    let e = failed("evt_1");
    // when
    let (slack, s, teams, t) = single(&e);
    // then
    assert_eq!(
        slack["text"],
        "❌ acme/api deployment to production failed (failure)"
    );
    assert!(
        s.contains(
            "Commit <https://github.com/acme/api/commit/abc1234ff|abc1234> · took 4 min · \
             workflow Deploy\nNot recovered yet."
        ),
        "{s}"
    );
    assert_eq!(
        teams_title(&teams),
        r"❌ acme/api deployment to production failed \(failure\)"
    );
    assert!(t.contains("Not recovered yet."), "{t}");
}

#[test]
fn a_recovery_names_the_failed_deployment_its_fix_and_the_recovery_time() {
    // given
    let e = recovered("evt_1");
    // when
    let (slack, s, teams, t) = single(&e);
    // then
    assert_eq!(
        slack["text"],
        "🩹 acme/api recovered on production after 25 min"
    );
    assert!(
        s.contains(
            "Failed: <https://github.com/acme/api/commit/abc1234ff|abc1234> (gh:1, failure)"
        ),
        "{s}"
    );
    assert!(
        s.contains("Recovered by: <https://github.com/acme/api/commit/def5678aa|def5678> (gh:2)"),
        "{s}"
    );
    assert!(s.contains("Recovery time: 25 min"), "{s}");
    assert!(
        t.contains(
            r"Failed: [abc1234](https://github.com/acme/api/commit/abc1234ff) \(gh:1, failure\)"
        ),
        "{t}"
    );
    assert_eq!(
        teams_action(&teams),
        (
            "View the fix",
            "https://github.com/acme/api/commit/def5678aa"
        )
    );
}

#[test]
fn an_incident_tells_its_title_services_severity_link_and_when_resolved_its_duration() {
    // given
    let opened = incident("evt_1", "Checkout 500s", false);
    let resolved = incident("evt_2", "Checkout 500s", true);
    // when
    let (slack, s, teams, _) = single(&opened);
    let (slack_resolved, r, _, rt) = single(&resolved);
    // then
    assert_eq!(slack["text"], "🚨 Incident opened: Checkout 500s");
    assert!(
        s.contains("Services: checkout, ledger\nSeverity: sev1"),
        "{s}"
    );
    assert!(
        s.contains(
            "Incident <https://acme.pagerduty.com/incidents/P1|pd:P1> · opened Wed 7 Oct 12:00"
        ),
        "{s}"
    );
    assert!(!s.contains("Open for"), "{s}");
    assert_eq!(
        teams_action(&teams),
        (
            "Open the incident",
            "https://acme.pagerduty.com/incidents/P1"
        )
    );
    assert_eq!(
        slack_resolved["text"],
        "✅ Incident resolved: Checkout 500s"
    );
    assert!(r.contains(", resolved Wed 7 Oct 13:30"), "{r}");
    assert!(r.contains("Open for 1.5 h"), "{r}");
    assert!(rt.contains("Open for 1.5 h"), "{rt}");
}

#[test]
fn a_merged_pr_tells_its_author_cycle_time_tickets_and_link() {
    // given
    let e = merged("evt_1", pr(7, "Add retries", "alice", &["PAY-12"]));
    // when
    let (slack, s, teams, t) = single(&e);
    // then
    assert_eq!(slack["text"], "🔀 acme/api#7 merged: Add retries");
    assert!(
        s.contains(
            "<https://github.com/acme/api/pull/7|acme/api#7> by alice\nCycle time: 2 d\nTickets: PAY-12"
        ),
        "{s}"
    );
    assert!(
        t.contains("[acme/api#7](https://github.com/acme/api/pull/7) by alice"),
        "{t}"
    );
    assert_eq!(
        teams_action(&teams),
        ("Open the PR", "https://github.com/acme/api/pull/7")
    );
}

#[test]
fn a_security_alert_tells_its_severity_kind_repo_title_and_link() {
    // given
    let e = alert("evt_1", "SQL injection in search");
    // when
    let (slack, s, _, t) = single(&e);
    // then
    assert_eq!(
        slack["text"],
        "🔒 critical security alert in acme/api: SQL injection in search"
    );
    assert!(
        s.contains(
            "Severity: critical\nAlert \
             <https://github.com/acme/api/security/code-scanning/20|code scanning #20> in acme/api"
        ),
        "{s}"
    );
    assert!(
        t.contains(
            "Alert [code scanning #20](https://github.com/acme/api/security/code-scanning/20) in acme/api"
        ),
        "{t}"
    );
}

#[test]
fn up_to_group_after_events_get_a_message_each_and_more_one_grouped_message() {
    // given
    let events = vec![
        failed("evt_1"),
        recovered("evt_2"),
        merged("evt_3", pr(7, "Add retries", "alice", &[])),
        alert("evt_4", "Leaked key"),
    ];
    // when
    let three = slack_messages(&events[..3], &config(DEFAULT_GROUP_AFTER), TZ);
    let four = slack_messages(&events, &config(DEFAULT_GROUP_AFTER), TZ);
    let four_teams = teams_messages(&events, &config(DEFAULT_GROUP_AFTER), TZ);
    let one_by_one = teams_messages(&events, &config(4), TZ);
    // then
    assert_eq!(three.len(), 3);
    assert_eq!(one_by_one.len(), 4);
    assert_eq!((four.len(), four_teams.len()), (1, 1));
    check_block_kit_limits(&four[0]).expect("within limits");
    check_teams_message(&four_teams[0]).expect("valid");
    let heading = "4 events: 1 deployment failed, 1 recovered, 1 PR merged, 1 security alert found";
    assert_eq!(four[0]["text"], heading);
    assert_eq!(four[0]["blocks"][0]["text"]["text"], heading);
    let s = texts(&four[0]);
    assert!(
        s.contains(
            "❌ *acme/api* deployment to production failed (failure) · \
             <https://github.com/acme/api/commit/abc1234ff|abc1234>\n\
             🩹 *acme/api* recovered on production after 25 min: \
             <https://github.com/acme/api/commit/abc1234ff|abc1234> fixed by \
             <https://github.com/acme/api/commit/def5678aa|def5678>\n\
             🔀 <https://github.com/acme/api/pull/7|acme/api#7> Add retries by alice · cycle time 2 d\n\
             🔒 critical code scanning alert in *acme/api*: \
             <https://github.com/acme/api/security/code-scanning/20|Leaked key>"
        ),
        "{s}"
    );
    assert_eq!(teams_title(&four_teams[0]), heading);
    let t = texts(&four_teams[0]);
    assert!(
        t.contains("🔀 [acme/api#7](https://github.com/acme/api/pull/7) Add retries by alice"),
        "{t}"
    );
    assert!(slack_messages(&[], &config(3), TZ).is_empty());
    assert!(teams_messages(&[], &config(3), TZ).is_empty());
}

#[test]
fn the_group_heading_counts_each_kind_and_shares_the_noun() {
    // given
    let mut events: Vec<DomainEvent> = (0..9)
        .map(|i| finished(&format!("evt_f{i}"), Vec::new()))
        .collect();
    events.extend([failed("evt_x1"), failed("evt_x2"), recovered("evt_r")]);
    // when / then
    assert_eq!(
        group_heading(&events),
        "12 events: 9 deployments finished, 2 failed, 1 recovered"
    );
    let mixed = [
        incident("evt_1", "a", true),
        incident("evt_2", "b", false),
        incident("evt_3", "c", false),
        merged("evt_4", pr(1, "x", "a", &[])),
        merged("evt_5", pr(2, "y", "a", &[])),
    ];
    assert_eq!(
        group_heading(&mixed),
        "5 events: 2 incidents opened, 1 resolved, 2 PRs merged"
    );
}

/// 200 events of every kind, each with a 300-character hostile title and repo name.
fn hostile_burst() -> Vec<DomainEvent> {
    let title = |n: usize| {
        let mut t = format!("{HOSTILE} <@U{n:03}> & \"q\" \\ ");
        while t.chars().count() < 300 {
            t.push_str("<é>&*_[x](y) ");
        }
        format::truncate(&t, 300)
    };
    (0..200)
        .map(|n| {
            let id = format!("evt_{n:03}");
            let mut e = match n % 6 {
                0 => finished(&id, vec![pr(1, &title(n), "a", &[]); 30]),
                1 => failed(&id),
                2 => recovered(&id),
                3 => incident(&id, &title(n), n % 2 == 0),
                4 => merged(
                    &id,
                    pr(n as u64, &title(n), &format!("u{n:03}"), &["PAY-1"]),
                ),
                _ => alert(&id, &title(n)),
            };
            e.repo = Some(format!("acme/<!here>{}", "r".repeat(200)));
            e
        })
        .collect()
}

#[test]
fn two_hundred_hostile_events_split_into_valid_slack_messages() {
    // given
    let events = hostile_burst();
    // when
    let messages = slack_messages(&events, &config(3), TZ);
    // then
    let blocks: usize = messages
        .iter()
        .map(|m| m["blocks"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(
        messages.len() > 1,
        "{} messages, {blocks} blocks",
        messages.len()
    );
    let parts = messages.len();
    let mut lines = 0;
    for (i, message) in messages.iter().enumerate() {
        check_block_kit_limits(message).expect("within Block Kit limits");
        assert!(blocks_text_chars(message) <= MAX_SLACK_BLOCKS_TEXT_CHARS);
        let header = message["blocks"][0]["text"]["text"]
            .as_str()
            .expect("header");
        assert!(header.starts_with("200 events: "), "{header}");
        assert!(
            header.ends_with(&format!("({}/{parts})", i + 1)),
            "{header}"
        );
        let all = texts(message);
        lines += all.lines().filter(|l| !l.starts_with("200 events")).count();
        assert!(
            !all.contains("<!channel>") && !all.contains("<!here>"),
            "{all}"
        );
        assert!(!all.contains("<@U"), "{all}");
    }
    assert_eq!(lines, 200, "one line per event");
}

#[test]
fn two_hundred_hostile_events_split_into_valid_teams_messages() {
    // given
    let events = hostile_burst();
    // when
    let messages = teams_messages(&events, &config(3), TZ);
    // then
    assert!(messages.len() > 1, "{}", messages.len());
    let mut blocks = 0;
    for message in &messages {
        check_teams_message(message).expect("a valid Teams message");
        assert!(teams::size(message) <= TEAMS_TARGET_BYTES);
        let body = message["attachments"][0]["content"]["body"]
            .as_array()
            .expect("body");
        blocks += body.len() - 1;
        let all = texts(message);
        assert!(!all.contains("[x]("), "{all}");
        assert!(
            !all.contains("](https://evil") && !all.contains("](y)"),
            "{all}"
        );
    }
    assert_eq!(blocks, 200, "one TextBlock per event");
}

#[test]
fn a_hostile_title_makes_no_slack_mention_and_no_teams_link() {
    for e in [
        merged("evt_1", pr(7, HOSTILE, "a<b>", &[])),
        incident("evt_2", HOSTILE, true),
        alert("evt_3", HOSTILE),
        finished("evt_4", vec![pr(7, HOSTILE, "x", &[])]),
    ] {
        // given a title that would be a mention, a link and bold text
        // when
        let (slack, s, _, t) = single(&e);
        // then
        let raw = slack.to_string();
        assert!(!raw.contains("<!channel>"), "{raw}");
        assert!(
            s.contains("&lt;!channel&gt; [x](https://evil) *bold*"),
            "{s}"
        );
        assert!(!t.contains("[x]("), "{t}");
        assert!(
            t.contains(r"\<!channel\> \[x\]\(https://evil\) \*bold\*"),
            "{t}"
        );
        // Every remaining Markdown link is one of ours.
        assert_eq!(
            t.matches("](").count(),
            t.matches("](https://github.com/").count()
                + t.matches("](https://acme.pagerduty.com/").count(),
            "{t}"
        );
    }
}

#[test]
fn untrusted_text_is_one_line_and_only_http_urls_become_links() {
    // given
    let mut detail = pr(7, "Add\nretries\tnow", "al\nice", &[]);
    detail.url = Some("javascript:alert(1)".into());
    let mut long = pr(8, "Long", "bob", &[]);
    long.url = Some(format!("https://github.com/{}", "a".repeat(600)));
    // when
    let (_, s, _, t) = single(&merged("evt_1", detail));
    let (_, long_s, _, long_t) = single(&merged("evt_2", long));
    // then
    assert!(s.contains("merged: Add retries now"), "{s}");
    assert!(s.contains("acme/api#7 by al ice"), "{s}");
    assert!(
        !s.contains("javascript") && !t.contains("javascript"),
        "{s}\n{t}"
    );
    assert!(!long_s.contains("<https://github.com/aaa"), "{long_s}");
    assert!(!long_t.contains("](https://github.com/aaa"), "{long_t}");
}

#[test]
fn a_team_needing_attention_tells_its_week_and_reasons() {
    // given
    let mut e = event("evt_9", EventType::TeamNeedsAttention);
    e.teams = vec!["payments".into()];
    e.attention = Some(crate::events::AttentionDetail {
        team: "payments".into(),
        week: "2026-W41".into(),
        reasons: vec![format!("lead time p50 rose from 6 h to 2.1 d {HOSTILE}")],
        waited_for_review: 3,
        summary: "lead time p50 rose from 6 h to 2.1 d".into(),
    });
    // when
    let (slack, s, _, t) = single(&e);
    // then
    assert_eq!(slack["text"], "⚠️ Team payments needs attention (2026-W41)");
    assert!(s.contains("• lead time p50 rose from 6 h to 2.1 d"), "{s}");
    assert!(
        s.contains("• 3 PRs waited over 2 days for a first review"),
        "{s}"
    );
    assert!(!s.contains("<!channel>"), "{s}");
    assert!(!t.contains("](https://evil)"), "{t}");
    // and in a group, one line names the team
    let group = slack_messages(&vec![e; 5], &config(3), TZ);
    assert!(
        group[0].to_string().contains("5 teams flagged"),
        "{}",
        group[0]
    );
}

#[test]
fn a_waiting_pr_tells_how_long_it_waited_and_links_to_it() {
    // given
    let mut e = event("evt_10", EventType::PullRequestWaiting);
    e.pull_request = Some(pr(42, "Add idempotency keys", "alice", &["PAY-7"]));
    e.waiting_seconds = Some(26.0 * 3600.0);
    // when
    let (slack, s, _, t) = single(&e);
    // then
    assert_eq!(
        slack["text"],
        "⏳ acme/api#42 waits for a first review (1.1 d)"
    );
    assert!(s.contains("by alice · no review after 1.1 d"), "{s}");
    assert!(
        t.contains("[\\#42 Add idempotency keys](https://github.com/acme/api/pull/42)"),
        "{t}"
    );
}
