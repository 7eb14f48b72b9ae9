use super::validate::{parse_window, strings, MAX_NAME_BYTES};
use super::*;
use crate::events::EventType;
use crate::metrics::levels::DoraLevel;
use crate::model::TicketSource;
use crate::notifications::{NotificationConfig, Severity};
use proptest::prelude::*;

const EXAMPLE: &str = r##"
org: acme
timezone: Europe/Berlin          # week boundaries and the digest's Monday 09:00
environments:
  production: ["production", "prod", "prd"]   # glob patterns, case-insensitive
deploy_workflows: ["Deploy*", "release"]      # GitHub Actions workflow names that are deployments
teams:
  payments:
    members: [alice, bob, carol]
    repos: [acme/payments-api, acme/ledger]
  platform:
    members: [dave]
    repos: [acme/infra]
services:                        # a PagerDuty service maps by its name, or by the ids listed
  checkout: { repos: [acme/payments-api], pagerduty: [PA2P440] }
bots: ["renovate-bot"]            # in addition to type Bot and logins ending in [bot]
incidents:
  github_label: incident
  blame_window: 7d
rework:
  labels: [hotfix, bug]
  branches: ["hotfix/*"]
digest:
  email: { from: metrics@acme.example, to: [vp-eng@acme.example] }
  slack: { channel: "#engineering-metrics" }   # webhook URL or bot token is a secret, not config
"##;

fn example() -> OrgConfig {
    OrgConfig::from_yaml(EXAMPLE).expect("the CONFIG.md example parses")
}

fn err(text: &str) -> ConfigError {
    OrgConfig::from_yaml(text).expect_err("config should be rejected")
}

fn labels(items: &[&str]) -> Vec<String> {
    strings(items)
}

#[test]
fn the_documented_example_parses() {
    let c = example();
    assert_eq!(c.org(), "acme");
    assert_eq!(c.timezone(), chrono_tz::Europe::Berlin);
    let names: Vec<&str> = c.teams().map(|(n, _)| n).collect();
    assert_eq!(names, ["payments", "platform"]);
    let payments = c.team("payments").expect("payments team");
    assert_eq!(payments.members, labels(&["alice", "bob", "carol"]));
    assert_eq!(
        payments.repos,
        labels(&["acme/payments-api", "acme/ledger"])
    );
    assert_eq!(c.blame_window(), Some(Duration::days(7)));
    let digest = c.digest();
    let email = digest.email.as_ref().expect("email digest");
    assert_eq!(email.from, "metrics@acme.example");
    assert_eq!(email.to, labels(&["vp-eng@acme.example"]));
    assert_eq!(
        digest.slack.as_ref().map(|s| s.channel.as_str()),
        Some("#engineering-metrics")
    );
}

#[test]
fn defaults_apply_to_absent_fields() {
    let c = OrgConfig::from_yaml("org: solo").expect("minimal config");
    assert_eq!(c.org(), "solo");
    assert_eq!(c.timezone(), Tz::UTC);
    for env in ["production", "Prod", "PRD"] {
        assert!(c.is_production(env), "{env}");
    }
    assert!(!c.is_production("staging"));
    assert!(!c.is_production("production-eu"));
    assert!(!c.is_deploy_workflow("Deploy"));
    assert!(!c.is_bot("renovate-bot", false));
    assert_eq!(c.incident_label(), "incident");
    assert_eq!(c.blame_window(), Some(Duration::days(7)));
    assert!(c.is_rework_label("hotfix") && c.is_rework_label("Bug"));
    assert!(c.is_rework_branch("hotfix/login"));
    assert!(c.is_revert_title("Revert \"Add ledger\""));
    assert_eq!(c.teams().count(), 0);
    assert_eq!(c.digest(), &DigestConfig::default());
    assert_eq!(
        c.severity_for(None, Some("high"), None).as_deref(),
        Some("sev2")
    );
    assert_eq!(
        c.severity_for(None, None, Some("P3")).as_deref(),
        Some("sev3")
    );
    // Explicit nulls are absent fields.
    let nulls = OrgConfig::from_yaml("org: solo\ntimezone: ~\nincidents: { blame_window: null }")
        .expect("nulls are defaults");
    assert_eq!(nulls, c);
}

#[test]
fn default_config_is_the_defaults_with_org_default() {
    let d = OrgConfig::default();
    assert_eq!(d.org(), "default");
    let parsed = OrgConfig::from_yaml("org: default").expect("minimal config");
    assert_eq!(d, parsed);
}

#[test]
fn json_is_accepted_and_round_trips() {
    let c = example();
    let json = c.to_json();
    assert_eq!(json["timezone"], "Europe/Berlin");
    assert_eq!(json["incidents"]["blame_window"], "7d");
    assert_eq!(json["rework"]["revert_titles"][0], "Revert \"*\"");
    let compact = serde_json::to_string(&json).expect("serialize");
    assert_eq!(OrgConfig::from_yaml(&compact), Ok(c.clone()));
    // Tab-indented JSON is not valid YAML, but it is valid JSON.
    let tabbed = serde_json::to_string_pretty(&json)
        .expect("serialize")
        .replace("  ", "\t");
    assert_eq!(OrgConfig::from_yaml(&tabbed), Ok(c.clone()));
    // Serde derive goes through the same validation.
    let back: OrgConfig = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, c);
    // A YAML flow mapping that is not JSON still parses as YAML.
    let flow = OrgConfig::from_yaml("{org: acme, timezone: Europe/Berlin}").expect("flow");
    assert_eq!(flow.timezone(), chrono_tz::Europe::Berlin);
}

#[test]
fn round_trip_keeps_unusual_values() {
    let c = OrgConfig::from_yaml(
        "org: acme\nincidents: { blame_window: none }\nrework: { labels: [], branches: [] }\n\
             severity: { pagerduty_urgency: { High: SEV-1 } }\nbots: ['dependabot[bot]']",
    )
    .expect("valid");
    assert_eq!(c.blame_window(), None);
    let text = serde_json::to_string(&c).expect("serialize");
    assert_eq!(OrgConfig::from_yaml(&text), Ok(c));
    for (window, expected) in [
        ("90m", "90m"),
        ("36h", "36h"),
        ("2w", "14d"),
        ("45s", "45s"),
    ] {
        let c = OrgConfig::from_yaml(&format!("org: a\nincidents: {{ blame_window: {window} }}"))
            .expect("valid window");
        assert_eq!(c.to_json()["incidents"]["blame_window"], expected);
        let again = OrgConfig::from_yaml(&c.to_json().to_string()).expect("round trip");
        assert_eq!(again, c);
    }
}

/// Each case's error names its field, carries a message, and reads `field: message`.
fn assert_errors_name_the_field(cases: &[(&str, &str)]) {
    for (text, field) in cases {
        let e = err(text);
        assert_eq!(&e.field, field, "{text:?} gave {e}");
        assert!(!e.message.is_empty());
        assert_eq!(e.to_string(), format!("{}: {}", e.field, e.message));
    }
}

#[test]
fn errors_name_the_field_of_the_org_and_of_unknown_keys() {
    // The org, the timezone and keys the config does not have.
    assert_errors_name_the_field(&[
        ("timezone: UTC", "org"),
        ("org: ''", "org"),
        ("org: acme\ncolour: blue", "colour"),
        (
            "org: acme\nteams:\n  payments:\n    owner: alice",
            "teams.payments.owner",
        ),
        ("org: acme\nincidents: { label: x }", "incidents.label"),
        (
            "org: acme\ndigest: { email: { from: a@b, to: [c@d], cc: [] } }",
            "digest.email.cc",
        ),
        ("org: acme\ntimezone: Mars/Olympus_Mons", "timezone"),
        ("org: acme\ntimezone: europe/berlin", "timezone"),
    ]);
}

#[test]
fn errors_name_the_field_of_patterns_and_windows() {
    // Environment and workflow patterns, rework rules, incident windows and labels.
    assert_errors_name_the_field(&[
        (
            "org: acme\nenvironments: { production: [prod, 'prod[uction'] }",
            "environments.production[1]",
        ),
        (
            "org: acme\nenvironments: { staging: [] }",
            "environments.staging",
        ),
        (
            "org: acme\nenvironments: { 'q a': [qa] }",
            "environments.q a",
        ),
        (
            "org: acme\nenvironments: { QA: [qa], qa: [test] }",
            "environments.qa",
        ),
        (
            "org: acme\ndeploy_workflows: ['{deploy']",
            "deploy_workflows[0]",
        ),
        (
            "org: acme\nrework: { branches: ['hotfix/[*'] }",
            "rework.branches[0]",
        ),
        (
            "org: acme\nrework: { revert_titles: [''] }",
            "rework.revert_titles[0]",
        ),
        (
            "org: acme\nincidents: { blame_window: 7 days }",
            "incidents.blame_window",
        ),
        (
            "org: acme\nincidents: { blame_window: 0d }",
            "incidents.blame_window",
        ),
        (
            "org: acme\nincidents: { blame_window: 7 }",
            "incidents.blame_window",
        ),
        (
            "org: acme\nincidents: { blame_window: 99999d }",
            "incidents.blame_window",
        ),
        (
            "org: acme\nincidents: { github_label: ' ' }",
            "incidents.github_label",
        ),
    ]);
}

#[test]
fn errors_name_the_field_of_teams_services_and_bots() {
    // Team and service names, their repos, members and PagerDuty ids, bots.
    assert_errors_name_the_field(&[
        (
            "org: acme\nteams: { payments: { repos: [acme/a, payments-api] } }",
            "teams.payments.repos[1]",
        ),
        (
            "org: acme\nteams: { payments: { repos: [a/b/c] } }",
            "teams.payments.repos[0]",
        ),
        (
            "org: acme\nteams: { payments: { members: [ok, 'not a login'] } }",
            "teams.payments.members[1]",
        ),
        (
            "org: acme\nteams: { payments: { members: alice } }",
            "teams.payments.members",
        ),
        ("org: acme\nteams: { 'pay ments': {} }", "teams.pay ments"),
        (
            "org: acme\nteams: { Payments: {}, payments: {} }",
            "teams.payments",
        ),
        (
            "org: acme\nteams: { payments: {}, payments: {} }",
            "teams.payments",
        ),
        (
            "org: acme\nservices: { checkout: { repos: [nope] } }",
            "services.checkout.repos[0]",
        ),
        (
            "org: acme\nservices: { a: { pagerduty: [P1] }, b: { pagerduty: [p1] } }",
            "services.b.pagerduty[0]",
        ),
        ("org: acme\nservices: { _x: {} }", "services._x"),
        (
            "org: acme\nteams: { payments: { members: [Alice, bob, alice] } }",
            "teams.payments.members[2]",
        ),
        (
            "org: acme\nteams: { payments: { repos: [Acme/API, acme/ledger, acme/api] } }",
            "teams.payments.repos[2]",
        ),
        (
            "org: acme\nservices: { checkout: { repos: [acme/api, ACME/Api] } }",
            "services.checkout.repos[1]",
        ),
        ("org: acme\nbots: [ok, '-bad']", "bots[1]"),
    ]);
}

#[test]
fn errors_name_the_field_of_the_digest_and_severity() {
    // Digest channels and severity maps.
    assert_errors_name_the_field(&[
        (
            "org: acme\ndigest: { email: { from: nobody, to: [a@b] } }",
            "digest.email.from",
        ),
        (
            "org: acme\ndigest: { email: { from: a@b, to: [a@b, c] } }",
            "digest.email.to[1]",
        ),
        (
            "org: acme\ndigest: { email: { from: a@b, to: [] } }",
            "digest.email.to",
        ),
        (
            "org: acme\ndigest: { slack: { channel: '' } }",
            "digest.slack.channel",
        ),
        (
            "org: acme\nseverity: { pagerduty_priority: { P1: critical } }",
            "severity.pagerduty_priority.P1",
        ),
        (
            "org: acme\nseverity: { pagerduty_urgency: { high: sev2, HIGH: sev1 } }",
            "severity.pagerduty_urgency.HIGH",
        ),
        (
            "org: acme\nseverity: { pagerduty_impact: {} }",
            "severity.pagerduty_impact",
        ),
    ]);
}

#[test]
fn errors_name_the_field_of_bad_documents() {
    // Wrong types, duplicate keys, JSON, and text that is no mapping.
    assert_errors_name_the_field(&[
        ("org: [acme]", "org"),
        ("org: a\norg: b", "org"),
        (
            "org: a\nincidents: { github_label: a, github_label: b }",
            "incidents.github_label",
        ),
        ("org: a\nteams: { payments: [] }", "teams.payments"),
        (
            r#"{"org": "acme", "teams": {"payments": {"repos": ["acme/a", "x"]}}}"#,
            "teams.payments.repos[1]",
        ),
        (r#"{"org": "acme", "extra": 1}"#, "extra"),
        ("org: acme\n  bad: indentation", "config"),
        ("- just\n- a list", "config"),
    ]);
}

#[test]
fn a_team_listing_a_member_or_repo_twice_is_an_error_naming_both() {
    let e = err("org: acme\nteams: { Payments: { members: [Alice, bob, alice] } }");
    assert_eq!(e.field, "teams.Payments.members[2]");
    assert!(e.message.contains("\"alice\""), "{e}");
    assert!(e.message.contains("team payments"), "{e}");
    let e = err("org: acme\nteams: { payments: { repos: [Org/Repo, org/repo] } }");
    assert_eq!(e.field, "teams.payments.repos[1]");
    assert!(
        e.message
            .contains("\"org/repo\" is listed twice in team payments"),
        "{e}"
    );
    // One repo in two teams is fine: teams may overlap.
    OrgConfig::from_yaml(
        "org: acme\nteams: { a: { repos: [acme/api] }, b: { repos: [acme/api] } }",
    )
    .expect("a repo shared by two teams");
}

#[test]
fn names_and_repo_parts_are_bounded() {
    let long = "a".repeat(MAX_NAME_BYTES + 1);
    let fine = "a".repeat(MAX_NAME_BYTES);
    assert_eq!(
        err(&format!("org: acme\nservices: {{ {long}: {{}} }}")).field,
        format!("services.{long}")
    );
    assert_eq!(
        err(&format!(
            "org: acme\nteams: {{ t: {{ repos: [acme/{long}] }} }}"
        ))
        .field,
        "teams.t.repos[0]"
    );
    OrgConfig::from_yaml(&format!(
        "org: acme\nteams: {{ {fine}: {{ repos: [{fine}/{fine}] }} }}"
    ))
    .expect("names of the maximum length");
}

#[test]
fn unknown_field_messages_are_not_doubled() {
    let e = err("org: acme\nteams:\n  payments:\n    owner: alice");
    assert!(e.message.contains("unknown field `owner`"), "{e}");
    assert!(!e.message.starts_with("teams."), "{e}");
}

#[test]
fn names_and_repos_are_lower_cased() {
    let c = OrgConfig::from_yaml(
        "org: acme\nteams: { Payments: { members: [Alice], repos: [Acme/Payments-API] } }\n\
             services: { Checkout: { repos: [ACME/Payments-API] } }",
    )
    .expect("valid");
    let team = c.team("PAYMENTS").expect("case-insensitive team lookup");
    assert_eq!(team.repos, labels(&["acme/payments-api"]));
    assert_eq!(team.members, labels(&["Alice"]));
    assert_eq!(c.teams().map(|(n, _)| n).collect::<Vec<_>>(), ["payments"]);
    assert_eq!(c.services_of_repo("acme/payments-api"), ["checkout"]);
    assert_eq!(c.services_of_repo("Acme/Payments-Api"), ["checkout"]);
}

#[test]
fn pattern_matching() {
    let c = example();
    assert!(c.is_deploy_workflow("Deploy to prod"));
    assert!(c.is_deploy_workflow("deploy"));
    assert!(c.is_deploy_workflow("Release"));
    assert!(!c.is_deploy_workflow("release notes"));
    assert!(!c.is_deploy_workflow("CI"));
    assert!(c.is_production("production"));
    assert!(!c.is_production("preprod"));
    assert!(c.is_rework_branch("HOTFIX/fix-login"));
    assert!(c.is_rework_branch("hotfix/a/b"));
    assert!(!c.is_rework_branch("feature/hotfix"));
    assert!(c.is_rework_label("HotFix"));
    assert!(!c.is_rework_label("feature"));
    assert!(c.is_revert_title("Revert \"Add ledger export\""));
    assert!(!c.is_revert_title("Revert the ledger"));
    assert!(!c.is_revert_title("Add revert button"));
}

#[test]
fn bots_and_incident_labels() {
    let c = example();
    assert!(c.is_bot("renovate-bot", false));
    assert!(c.is_bot("Renovate-Bot", false));
    assert!(c.is_bot("dependabot[bot]", false));
    assert!(c.is_bot("alice", true));
    assert!(!c.is_bot("alice", false));
    assert!(c.is_incident_labels(&labels(&["bug", "Incident"])));
    assert!(!c.is_incident_labels(&labels(&["bug"])));
    assert!(!c.is_incident_labels(&[]));
    assert_eq!(c.incident_label(), "incident");
}

#[test]
fn services_and_pagerduty_mapping() {
    let c = example();
    assert_eq!(c.services_of_repo("acme/payments-api"), ["checkout"]);
    assert!(c.services_of_repo("acme/infra").is_empty());
    assert_eq!(
        c.repos_of_service("checkout"),
        Some(labels(&["acme/payments-api"]).as_slice())
    );
    assert_eq!(c.repos_of_service("nope"), None);
    assert_eq!(c.services().count(), 1);
    assert!(c.service("Checkout").is_some());
    // By id, whatever PagerDuty calls the service now.
    assert_eq!(
        c.service_for_pagerduty("Payments Prod", Some("PA2P440")),
        "checkout"
    );
    // By name, case-insensitively.
    assert_eq!(
        c.service_for_pagerduty("Checkout", Some("PXXXXXX")),
        "checkout"
    );
    assert_eq!(c.service_for_pagerduty("CHECKOUT", None), "checkout");
    // Unknown: the PagerDuty name itself, lower-cased.
    assert_eq!(c.service_for_pagerduty("Search API", None), "search api");
}

#[test]
fn severity_mapping() {
    let c = OrgConfig::from_yaml(
        "org: acme\nseverity:\n  pagerduty_urgency: { high: sev1, low: sev3 }\n",
    )
    .expect("valid");
    // Explicit severity wins, in any common spelling.
    assert_eq!(
        c.severity_for(Some("SEV-2"), Some("high"), Some("P4"))
            .as_deref(),
        Some("sev2")
    );
    assert_eq!(
        c.severity_for(Some("3"), None, None).as_deref(),
        Some("sev3")
    );
    // Priority wins over urgency; the priority map kept its defaults.
    assert_eq!(
        c.severity_for(None, Some("high"), Some("p4")).as_deref(),
        Some("sev4")
    );
    assert_eq!(
        c.severity_for(Some("critical"), Some("high"), None)
            .as_deref(),
        Some("sev1")
    );
    assert_eq!(
        c.severity_for(None, Some("low"), Some("P9")).as_deref(),
        Some("sev3")
    );
    assert_eq!(c.severity_for(None, Some("suppressed"), None), None);
    assert_eq!(c.severity_for(None, None, None), None);
    assert_eq!(
        OrgConfig::default()
            .severity_for(None, None, Some("P5"))
            .as_deref(),
        Some("sev4")
    );
}

#[test]
fn blame_window_forms() {
    for (text, expected) in [
        ("7d", Some(Duration::days(7))),
        ("12h", Some(Duration::hours(12))),
        ("30m", Some(Duration::minutes(30))),
        ("1w", Some(Duration::weeks(1))),
        (" 90S ", Some(Duration::seconds(90))),
        ("none", None),
        ("None", None),
    ] {
        assert_eq!(parse_window("w", text), Ok(expected), "{text}");
    }
    for bad in [
        "",
        "d",
        "7",
        "-1d",
        "1.5h",
        "7dd",
        "seven days",
        "+7d",
        "٣d",
    ] {
        assert!(parse_window("w", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn hostile_documents_are_errors_not_crashes() {
    let deep_json = "{\"org\":".repeat(50_000);
    let deep_yaml = "[".repeat(50_000);
    let bomb = "org: acme\nx: &a [1,1,1,1,1,1,1,1,1]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
                    z: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nw: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n";
    for text in [
        "",
        "~",
        "---\norg: a\n---\norg: b\n",
        "org: a\nteams: { [x]: {} }",
        deep_json.as_str(),
        deep_yaml.as_str(),
        bomb,
    ] {
        let e = OrgConfig::from_yaml(text);
        assert!(e.is_err(), "{:.40?} should be rejected", text);
    }
}

proptest! {
    #[test]
    fn from_yaml_never_panics(text in any::<String>()) {
        let _ = OrgConfig::from_yaml(&text);
    }

    #[test]
    fn from_yaml_never_panics_on_config_like_text(
        text in "(org|teams|services|bots|incidents|digest|severity|rework|timezone|notifications)\
                 (: |:\n  )(\\[|\\{|-|'|\"|[a-z/*{}\\[\\]@ ,:#]){0,40}"
    ) {
        let _ = OrgConfig::from_yaml(&text);
    }
}

const GOALS: &str = r##"
org: acme
teams:
  payments: { repos: [acme/payments-api] }
  platform: { repos: [acme/infra] }
goals:
  org:
    deployment_frequency: elite
  Payments:
    lead_time_p50: 24h
    change_failure_rate: 10%
    recovery_time_p50: 1h
    first_time_pass_rate: " 80% "
    review_latency_p50: 30m
    cycle_time_p50: 2d
    rework_rate: 2.5%
  platform:
    deployment_frequency: 3/week
"##;

fn goals_with(owner: &str, metric: &str, target: &str) -> String {
    format!(
        "org: acme\nteams:\n  payments: {{ repos: [acme/payments-api] }}\ngoals:\n  {owner}:\n    {metric}: {target:?}\n"
    )
}

#[test]
fn goals_parse_into_targets_in_the_metrics_units() {
    // given the documented goals
    // when
    let c = OrgConfig::from_yaml(GOALS).expect("goals parse");
    // then
    let goals = c.goals();
    assert_eq!(goals.org.len(), 1);
    assert_eq!(goals.org[0].metric, GoalMetric::DeploymentFrequency);
    assert_eq!(goals.org[0].target, Target::Level(DoraLevel::Elite));
    let payments = &goals.teams["payments"];
    let targets: Vec<(GoalMetric, Target)> =
        payments.iter().map(|g| (g.metric, g.target)).collect();
    assert_eq!(
        targets,
        [
            (GoalMetric::LeadTimeP50, Target::Seconds(86_400.0)),
            (GoalMetric::RecoveryTimeP50, Target::Seconds(3_600.0)),
            (GoalMetric::CycleTimeP50, Target::Seconds(172_800.0)),
            (GoalMetric::ReviewLatencyP50, Target::Seconds(1_800.0)),
            (GoalMetric::ChangeFailureRate, Target::Fraction(0.10)),
            (GoalMetric::ReworkRate, Target::Fraction(0.025)),
            (GoalMetric::FirstTimePassRate, Target::Fraction(0.80)),
        ]
    );
    assert_eq!(payments[6].written, "80%");
    assert_eq!(
        goals.teams["platform"][0].target,
        Target::PerWeek(3.0),
        "N/week"
    );
}

#[test]
fn a_team_gets_its_own_goals_and_the_org_wide_ones_it_did_not_set() {
    // given org-wide deployment frequency, and platform setting its own
    let c = OrgConfig::from_yaml(GOALS).expect("goals parse");
    // when
    let payments = c.goals().for_team("payments");
    let platform = c.goals().for_team("Platform");
    // then
    let payments: Vec<(GoalMetric, &str)> = payments
        .iter()
        .map(|(g, set_for)| (g.metric, set_for.as_str()))
        .collect();
    assert_eq!(payments[0], (GoalMetric::DeploymentFrequency, "org"));
    assert_eq!(payments[1], (GoalMetric::LeadTimeP50, "team:payments"));
    assert_eq!(payments.len(), 8);
    let platform: Vec<(Target, String)> = platform
        .into_iter()
        .map(|(g, set_for)| (g.target, set_for))
        .collect();
    assert_eq!(
        platform,
        [(Target::PerWeek(3.0), "team:platform".to_string())]
    );
    assert_eq!(c.goals().for_team("unknown").len(), 1, "the org's apply");
}

#[test]
fn goals_show_in_to_json_and_round_trip() {
    // given
    let c = OrgConfig::from_yaml(GOALS).expect("goals parse");
    // when
    let json = c.to_json();
    // then
    assert_eq!(json["goals"]["org"]["deployment_frequency"], "elite");
    assert_eq!(json["goals"]["payments"]["lead_time_p50"], "24h");
    assert_eq!(json["goals"]["payments"]["first_time_pass_rate"], "80%");
    assert_eq!(json["goals"]["platform"]["deployment_frequency"], "3/week");
    let again = OrgConfig::from_yaml(&json.to_string()).expect("round trip");
    assert_eq!(again, c);
    assert_eq!(example().to_json()["goals"], serde_json::json!({}));
}

#[test]
fn a_bad_goal_target_is_an_error_naming_the_field() {
    // given / when / then
    let cases = [
        (
            "payments",
            "lead_time_p50",
            "soon",
            "goals.payments.lead_time_p50: \"soon\" is not a duration (30m, 24h, 2d)",
        ),
        (
            "payments",
            "lead_time_p50",
            "0h",
            "goals.payments.lead_time_p50: \"0h\" is not a duration (30m, 24h, 2d)",
        ),
        (
            "payments",
            "change_failure_rate",
            "0.1",
            "goals.payments.change_failure_rate: \"0.1\" is not a percentage from 0% to 100% (10%)",
        ),
        (
            "org",
            "rework_rate",
            "120%",
            "goals.org.rework_rate: \"120%\" is not a percentage from 0% to 100% (10%)",
        ),
        (
            "org",
            "deployment_frequency",
            "great",
            "goals.org.deployment_frequency: \"great\" is not a DORA level (elite, high, medium, low) or a rate per week (5/week)",
        ),
        (
            "org",
            "deployment_frequency",
            "-1/week",
            "goals.org.deployment_frequency: \"-1/week\" is not a DORA level (elite, high, medium, low) or a rate per week (5/week)",
        ),
    ];
    for (owner, metric, target, expected) in cases {
        assert_eq!(
            err(&goals_with(owner, metric, target)).to_string(),
            expected
        );
    }
}

#[test]
fn an_unknown_team_or_metric_in_goals_is_named() {
    // given / when
    let team = err(&goals_with("paymnts", "lead_time_p50", "24h"));
    let metric = err(&goals_with("payments", "lead_time", "24h"));
    // then
    assert_eq!(team.field, "goals.paymnts");
    assert!(team.message.contains("unknown team \"paymnts\""), "{team}");
    assert!(team.message.contains("teams are payments"), "{team}");
    assert_eq!(metric.field, "goals.payments.lead_time");
    assert!(
        metric.message.contains("unknown metric \"lead_time\"")
            && metric.message.contains("lead_time_p50"),
        "{metric}"
    );
}

#[test]
fn a_duplicate_goal_is_an_error() {
    // given the same team twice (case-insensitively) and the same metric twice
    let twice_team = "org: acme\nteams:\n  payments: {}\ngoals:\n  payments: {rework_rate: 5%}\n  Payments: {rework_rate: 5%}\n";
    let twice_metric = "org: acme\ngoals:\n  org: {rework_rate: 5%, REWORK_RATE: 6%}\n";
    // when / then
    assert_eq!(err(twice_team).field, "goals.Payments");
    assert_eq!(err(twice_metric).field, "goals.org.REWORK_RATE");
}

#[test]
fn environments_keep_their_promotion_order_and_production_wins_an_overlap() {
    let c = OrgConfig::from_yaml(
        "org: acme\nenvironments:\n  dev: [dev, 'feature-*']\n  qa: [qa, 'qa-*', 'prod-candidate']\n  preprod: [preprod, staging]\n  production: [production, 'prod*']\n",
    )
    .expect("config");
    assert_eq!(
        c.environment_names().collect::<Vec<_>>(),
        ["dev", "qa", "preprod", "production"]
    );
    assert_eq!(c.environment_of("feature-login"), Some("dev"));
    assert_eq!(c.environment_of("QA-2"), Some("qa"));
    assert_eq!(c.environment_of("staging"), Some("preprod"));
    // `prod-candidate` matches qa's list and production's `prod*`: production wins.
    assert_eq!(c.environment_of("prod-candidate"), Some("production"));
    assert!(c.is_production("prod-candidate"));
    assert_eq!(c.environment_of("sandbox"), None);
    assert_eq!(c.next_environment("dev"), Some("qa"));
    assert_eq!(c.next_environment("preprod"), Some("production"));
    assert_eq!(c.next_environment("production"), None);
    assert_eq!(c.next_environment("sandbox"), None);
}

#[test]
fn production_is_appended_with_its_defaults_when_not_written() {
    let c = OrgConfig::from_yaml("org: acme\nenvironments: { qa: [qa] }").expect("config");
    assert_eq!(
        c.environment_names().collect::<Vec<_>>(),
        ["qa", "production"]
    );
    assert!(c.is_production("prd"));
    assert_eq!(c.next_environment("qa"), Some("production"));
    // The effective config spells it out, so what GET /v1/config shows is what applies.
    // (Serialized as the API serves it: `to_json`'s map would sort the names.)
    let text = serde_json::to_string(&c).expect("serializes");
    assert!(
        text.contains(r#""environments":{"qa":["qa"],"production":["production","prod","prd"]}"#),
        "{text}"
    );
    assert_eq!(OrgConfig::from_yaml(&text).expect("round trip"), c);
}

#[test]
fn ticket_projects_map_to_teams() {
    let c = OrgConfig::from_yaml(
        "org: acme\nteams: { payments: {}, platform: {} }\ntickets:\n  jira: { PAY: payments, plat_2: Platform }\n  linear: { ENG: platform }\n",
    )
    .expect("config");
    let projects: Vec<(TicketSource, &str, &str)> = c
        .ticket_projects()
        .iter()
        .map(|p| (p.source, p.key.as_str(), p.team.as_str()))
        .collect();
    assert_eq!(
        projects,
        [
            (TicketSource::Jira, "PAY", "payments"),
            (TicketSource::Jira, "PLAT_2", "platform"),
            (TicketSource::Linear, "ENG", "platform"),
        ]
    );
    assert_eq!(c.ticket_keys(), ["ENG", "PAY", "PLAT_2"]);
    let text = serde_json::to_string(&c).expect("serializes");
    assert_eq!(OrgConfig::from_yaml(&text).expect("round trip"), c);
    assert!(OrgConfig::from_yaml("org: solo")
        .expect("minimal")
        .ticket_projects()
        .is_empty());
}

#[test]
fn ticket_project_errors_name_the_key() {
    assert_errors_name_the_field(&[
        (
            "org: acme\nteams: { payments: {} }\ntickets: { jira: { PAY: nobody } }",
            "tickets.jira.PAY",
        ),
        (
            "org: acme\nteams: { payments: {} }\ntickets: { jira: { 1PAY: payments } }",
            "tickets.jira.1PAY",
        ),
        (
            "org: acme\nteams: { payments: {} }\ntickets: { linear: { ENG: payments, eng: payments } }",
            "tickets.linear.eng",
        ),
        ("org: acme\ntickets: { github: {} }", "tickets.github"),
    ]);
}

const NOTIFICATIONS: &str = r##"
org: acme
environments:
  qa: [qa]
  production: [production, prod]
teams:
  payments: { repos: [acme/payments-api] }
  platform: { repos: [acme/infra] }
notifications:
  routes:
    - channel: platform-deploys
      events: [deployment.failed, deployment.recovered]
      environments: [production]
    - channel: payments
      events: [pull_request.merged, deployment.finished]
      repos: [Acme/Payments-API]
      teams: [Payments]
    - channel: incidents_high
      events: [incident.opened, security.alert]
      severity: High
  group_after: 5
"##;

#[test]
fn notification_routes_parse_normalized() {
    // given the documented routes
    // when
    let c = OrgConfig::from_yaml(NOTIFICATIONS).expect("notifications parse");
    // then
    let n = c.notifications();
    assert_eq!(n.group_after, 5);
    let channels: Vec<&str> = n.routes.iter().map(|r| r.channel.as_str()).collect();
    assert_eq!(channels, ["platform-deploys", "payments", "incidents_high"]);
    let platform = &n.routes[0];
    assert_eq!(
        platform.events,
        [EventType::DeploymentFailed, EventType::DeploymentRecovered]
    );
    assert_eq!(platform.environments, labels(&["production"]));
    assert!(platform.repos.is_empty() && platform.teams.is_empty());
    assert_eq!(platform.severity, None);
    let payments = &n.routes[1];
    assert_eq!(payments.repos, labels(&["acme/payments-api"]));
    assert_eq!(payments.teams, labels(&["payments"]));
    assert_eq!(n.routes[2].severity, Some(Severity::High));
}

#[test]
fn notifications_default_to_no_routes_grouping_after_three() {
    // given / when
    let c = OrgConfig::from_yaml("org: solo").expect("minimal");
    // then
    assert!(c.notifications().routes.is_empty());
    assert_eq!(c.notifications().group_after, 3);
    assert_eq!(c.notifications(), &NotificationConfig::default());
    assert_eq!(
        c.to_json()["notifications"],
        serde_json::json!({"routes": [], "group_after": 3, "review_wait_hours": 24})
    );
    let empty = OrgConfig::from_yaml("org: solo\nnotifications: {}").expect("empty section");
    assert_eq!(empty, c);
}

#[test]
fn notifications_show_in_to_json_and_round_trip() {
    // given
    let c = OrgConfig::from_yaml(NOTIFICATIONS).expect("notifications parse");
    // when
    let json = c.to_json();
    // then
    let routes = &json["notifications"]["routes"];
    assert_eq!(
        routes[0],
        serde_json::json!({
            "channel": "platform-deploys",
            "events": ["deployment.failed", "deployment.recovered"],
            "environments": ["production"],
            "repos": [],
            "teams": []
        })
    );
    assert_eq!(routes[1]["repos"], serde_json::json!(["acme/payments-api"]));
    assert_eq!(routes[2]["severity"], "high");
    assert_eq!(json["notifications"]["group_after"], 5);
    // (`to_json`'s map sorts the environments; the routes come back the same.)
    let again = OrgConfig::from_yaml(&json.to_string()).expect("round trip");
    assert_eq!(again.notifications(), c.notifications());
    let text = serde_json::to_string(&c).expect("serializes");
    assert_eq!(OrgConfig::from_yaml(&text), Ok(c));
}

fn notifications_with(route: &str) -> String {
    format!(
        "org: acme\nteams: {{ payments: {{}} }}\nnotifications:\n  routes:\n    - {{ channel: ok }}\n    - {route}\n"
    )
}

#[test]
fn a_bad_route_is_an_error_naming_its_field() {
    // given / when / then
    let known = "deployment.finished, deployment.failed, deployment.recovered, incident.opened, \
                 incident.resolved, pull_request.merged, pull_request.waiting, security.alert, team.needs_attention";
    let cases = [
        (
            "{ channel: ops, events: [deploy.done] }",
            format!(
                "notifications.routes[1].events[0]: unknown event type \"deploy.done\"; known: {known}"
            ),
        ),
        (
            "{ events: [deployment.failed] }",
            "notifications.routes[1].channel: required".to_string(),
        ),
        (
            "{ channel: '#ops' }",
            "notifications.routes[1].channel: \"#ops\" is not a channel name: letters, digits, \
             '-' and '_', at most 100, as the channels secret names it"
                .to_string(),
        ),
        (
            "{ channel: '' }",
            "notifications.routes[1].channel: must not be empty".to_string(),
        ),
        (
            "{ channel: ops, environments: [production, prod] }",
            "notifications.routes[1].environments[1]: unknown environment \"prod\"; \
             environments are production"
                .to_string(),
        ),
        (
            "{ channel: ops, teams: [paymnts] }",
            "notifications.routes[1].teams[0]: unknown team \"paymnts\"; use a team of \
             `teams:` (teams are payments)"
                .to_string(),
        ),
        (
            "{ channel: ops, severity: sev1 }",
            "notifications.routes[1].severity: \"sev1\" is not one of low, medium, high, critical"
                .to_string(),
        ),
    ];
    for (route, expected) in cases {
        assert_eq!(err(&notifications_with(route)).to_string(), expected);
    }
}

#[test]
fn notification_errors_name_the_field() {
    assert_errors_name_the_field(&[
        (
            "org: acme\nnotifications: { routes: [{ channel: ops, repos: [acme/a, nope] }] }",
            "notifications.routes[0].repos[1]",
        ),
        (
            "org: acme\nnotifications: { routes: [{ channel: ops, chanel: x }] }",
            "notifications.routes[0].chanel",
        ),
        (
            "org: acme\nnotifications: { routes: [{ channel: ops, events: deployment.failed }] }",
            "notifications.routes[0].events",
        ),
        (
            "org: acme\nnotifications: { group_after: 0 }",
            "notifications.group_after",
        ),
        (
            "org: acme\nnotifications: { group_after: 21 }",
            "notifications.group_after",
        ),
        (
            "org: acme\nnotifications: { group_after: -1 }",
            "notifications.group_after",
        ),
        (
            "org: acme\nnotifications: { colour: blue }",
            "notifications.colour",
        ),
        (
            "org: acme\nnotifications: { routes: {} }",
            "notifications.routes",
        ),
    ]);
    let e = err("org: acme\nnotifications: { routes: [{ channel: ops }], group_after: 0 }");
    assert_eq!(e.message, "must be from 1 to 20");
    let e = err("org: acme\nnotifications: { routes: [{ channel: ops, teams: [x] }] }");
    assert!(e.message.contains("no teams are configured"), "{e}");
}
