use std::collections::BTreeMap;

use super::*;
use crate::derive::Rollup;
use crate::metrics::incidents::OpenIncident;
use crate::metrics::testing::*;
use crate::time::IsoWeek;

/// A parsed sample line: name, labels, value.
type Parsed = (String, Vec<(String, String)>, f64);

/// Why a line is not a sample of the text format.
#[derive(Debug, PartialEq, thiserror::Error)]
enum SampleError {
    #[error("no value")]
    NoValue,
    #[error("bad metric name {0:?}")]
    BadName(String),
    #[error("label {0} value not quoted")]
    Unquoted(String),
    #[error("unterminated label value")]
    Unterminated,
    #[error("dangling escape")]
    DanglingEscape,
    #[error("bad escape \\{0}")]
    BadEscape(char),
    #[error("raw newline in label value")]
    RawNewline,
    #[error("unexpected {0:?} after a label")]
    AfterLabel(Option<char>),
    #[error("no space before the value")]
    NoSpace,
    #[error("bad value {0:?}")]
    BadValue(String),
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Parses one sample line of the text format (no timestamps), undoing label escapes.
fn parse_sample(line: &str) -> Result<Parsed, SampleError> {
    let name_end = line.find(['{', ' ']).ok_or(SampleError::NoValue)?;
    let name = &line[..name_end];
    let valid_name = name.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    });
    if name.is_empty() || !valid_name {
        return Err(SampleError::BadName(name.to_string()));
    }
    let mut rest = line[name_end..].chars().peekable();
    let labels = if rest.peek() == Some(&'{') {
        rest.next();
        parse_labels(&mut rest)?
    } else {
        Vec::new()
    };
    if rest.next() != Some(' ') {
        return Err(SampleError::NoSpace);
    }
    let value: String = rest.collect();
    let value = match value.as_str() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse()
            .map_err(|_| SampleError::BadValue(v.to_string()))?,
    };
    Ok((name.to_string(), labels, value))
}

/// `name="value",…}` after the opening brace.
fn parse_labels(rest: &mut Chars<'_>) -> Result<Vec<(String, String)>, SampleError> {
    let mut labels = Vec::new();
    loop {
        let label: String = rest.by_ref().take_while(|c| *c != '=').collect();
        if rest.next() != Some('"') {
            return Err(SampleError::Unquoted(label));
        }
        labels.push((label, parse_label_value(rest)?));
        match rest.next() {
            Some(',') => continue,
            Some('}') => return Ok(labels),
            other => return Err(SampleError::AfterLabel(other)),
        }
    }
}

/// A quoted label value after its opening quote, escapes undone.
fn parse_label_value(rest: &mut Chars<'_>) -> Result<String, SampleError> {
    let mut value = String::new();
    loop {
        match rest.next().ok_or(SampleError::Unterminated)? {
            '\\' => match rest.next().ok_or(SampleError::DanglingEscape)? {
                '\\' => value.push('\\'),
                '"' => value.push('"'),
                'n' => value.push('\n'),
                other => return Err(SampleError::BadEscape(other)),
            },
            '"' => return Ok(value),
            '\n' => return Err(SampleError::RawNewline),
            c => value.push(c),
        }
    }
}

/// Checks the structure of an exposition: each family's HELP then TYPE once, before its
/// samples, and all its samples together. Returns the samples by family.
fn check_exposition(text: &str) -> BTreeMap<String, Vec<Parsed>> {
    assert!(text.ends_with('\n'), "the last line ends with a line feed");
    let mut helped = BTreeSet::new();
    let mut typed = BTreeSet::new();
    let mut closed = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut samples: BTreeMap<String, Vec<Parsed>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().expect("name").to_string();
            assert!(helped.insert(name.clone()), "second HELP for {name}");
            assert!(!typed.contains(&name), "HELP after TYPE for {name}");
            if let Some(previous) = current.replace(name) {
                closed.insert(previous);
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().expect("name").to_string();
            let kind = parts.next().expect("type");
            assert!(
                ["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind),
                "{kind}"
            );
            assert!(helped.contains(&name), "TYPE before HELP for {name}");
            assert!(typed.insert(name.clone()), "second TYPE for {name}");
            assert_eq!(current.as_deref(), Some(name.as_str()));
            if kind != "counter" {
                assert!(!name.ends_with("_total"), "{name}: _total is for counters");
            }
        } else {
            let (name, labels, value) =
                parse_sample(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert!(typed.contains(&name), "sample before TYPE: {line}");
            assert!(!closed.contains(&name), "samples of {name} not together");
            assert_eq!(current.as_deref(), Some(name.as_str()), "{line}");
            samples
                .entry(name.clone())
                .or_default()
                .push((name, labels, value));
        }
    }
    assert_eq!(helped, typed);
    samples
}

#[test]
fn deployment_ages_are_one_gauge_per_repo_and_environment() {
    let ages = [
        DeploymentAge {
            repo: "acme/api".into(),
            environment: "qa".into(),
            age_seconds: 3600.0,
        },
        DeploymentAge {
            repo: "acme/\"odd\"".into(),
            environment: "production".into(),
            age_seconds: 90.5,
        },
    ];
    let text = render_deployment_ages(&ages);
    let samples = check_exposition(&text);
    let got = &samples["flowmeter_deployment_age_seconds"];
    assert_eq!(got.len(), 2);
    assert!(
        text.contains(
            "flowmeter_deployment_age_seconds{repo=\"acme/api\",environment=\"qa\"} 3600\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"{repo="acme/\"odd\"",environment="production"} 90.5"#),
        "{text}"
    );
    assert!(text.contains("# TYPE flowmeter_deployment_age_seconds gauge\n"));
}

#[test]
fn pending_tickets_are_gauges_joined_by_ticket_to_their_fix_versions() {
    let pending = [
        PendingTicket {
            ticket: "jira:PAY-1".into(),
            repo: "acme/api".into(),
            environment: "qa".into(),
            fix_versions: vec!["2026.41".into(), "hot\"fix".into()],
        },
        PendingTicket {
            ticket: "jira:PAY-1".into(),
            repo: "acme/worker".into(),
            environment: "qa".into(),
            fix_versions: vec!["2026.41".into(), "hot\"fix".into()],
        },
    ];
    let text = render_pending_tickets(&pending);
    let samples = check_exposition(&text);
    assert_eq!(samples["flowmeter_ticket_in_environment"].len(), 2);
    // one sample per ticket and version, however many repos hold it
    assert_eq!(samples["flowmeter_ticket_fix_version"].len(), 2);
    assert!(text.contains(
        "flowmeter_ticket_in_environment{ticket=\"jira:PAY-1\",repo=\"acme/api\",environment=\"qa\"} 1\n"
    ));
    assert!(
        text.contains(
            r#"flowmeter_ticket_fix_version{ticket="jira:PAY-1",fix_version="hot\"fix"} 1"#
        ),
        "{text}"
    );
    // nothing pending: the families are still declared, with no samples
    let empty = render_pending_tickets(&[]);
    assert!(empty.contains("# TYPE flowmeter_ticket_fix_version gauge\n"));
}

/// The four reports of `scope` over W41 (5–11 Oct 2026) from its rollups: `delivery` for
/// DORA, `prs` for cycle time and pull requests, `incidents` and the open ones for incidents.
fn scope_reports(
    scope: &str,
    delivery: &[(IsoWeek, Rollup)],
    prs: &[(IsoWeek, Rollup)],
    incidents: &[(IsoWeek, Rollup)],
    open: &[OpenIncident],
) -> ScopeReports {
    let (from, to) = (date("2026-10-05"), date("2026-10-11"));
    ScopeReports {
        dora: dora_report(scope, from, to, delivery),
        cycle_time: cycle_time_report(scope, from, to, prs),
        pull_requests: pull_request_report(scope, from, to, prs),
        incidents: incident_report(scope, from, to, incidents, open, t("2026-10-12T10:00:00Z")),
    }
}

fn sample_reports() -> Vec<(String, ScopeReports)> {
    // team:payments: W41 successes on 5 and 6 Oct, one failed attempt on 7 Oct recovered
    // in 3600 s; lead times 600, 1200 s. PRs: W41 of `five_prs` (a–d merged, three
    // opened; W42 and W43 lie outside the period). Incidents: two opened, one resolved in
    // 1800 s, one open now.
    let delivery = [(
        week(2026, 41),
        rollup(&[
            deployment("2026-10-05", true, false, false),
            deployment("2026-10-06", true, false, true),
            failed_deployment("2026-10-07", false, 3600.0),
            lead(600.0),
            lead(1200.0),
        ]),
    )];
    let incidents = [(
        week(2026, 41),
        rollup(&[
            opened("payments-api", Some("sev2")),
            opened("payments-api", None),
            resolved("payments-api", 1800.0),
        ]),
    )];
    let open = [OpenIncident {
        id: "inc-7".to_string(),
        service: "payments-api".to_string(),
        severity: Some("sev2".to_string()),
        opened_at: t("2026-10-10T08:00:00Z"),
    }];
    let payments = scope_reports("team:payments", &delivery, &five_prs(), &incidents, &open);
    let nothing = [(week(2026, 41), Rollup::default())];
    let empty = scope_reports("repo:acme/api", &nothing, &nothing, &nothing, &[]);
    vec![
        ("team:payments".to_string(), payments),
        ("repo:acme/api".to_string(), empty),
    ]
}

#[test]
fn renders_the_numbers_of_every_scope() {
    let text = render(&sample_reports());
    check_exposition(&text);
    // Lead [600, 1200]: p50 rank 1 → 600, p90 rank 2 → 1200. CFR 1/3. Recovery [3600]:
    // both quantiles 3600 (exactly 1 h: high). Rework 1/2. Deploy days [2] → high.
    // repo:acme/api has no data: deployments 0, deploy days 0, frequency low, no
    // quantile, rate or other level samples.
    for line in [
        "# TYPE flowmeter_deployments gauge",
        "# TYPE flowmeter_lead_time_seconds summary",
        "# TYPE flowmeter_recovery_time_seconds summary",
        "# TYPE flowmeter_dora_level gauge",
        "flowmeter_deployments{scope=\"team:payments\"} 2",
        "flowmeter_deployments{scope=\"repo:acme/api\"} 0",
        "flowmeter_deploy_dates{scope=\"team:payments\"} 2",
        "flowmeter_deploy_dates{scope=\"repo:acme/api\"} 0",
        "flowmeter_lead_time_seconds{scope=\"team:payments\",quantile=\"0.5\"} 600",
        "flowmeter_lead_time_seconds{scope=\"team:payments\",quantile=\"0.9\"} 1200",
        "flowmeter_change_failure_rate{scope=\"team:payments\"} 0.3333333333333333",
        "flowmeter_recovery_time_seconds{scope=\"team:payments\",quantile=\"0.5\"} 3600",
        "flowmeter_rework_rate{scope=\"team:payments\"} 0.5",
        "flowmeter_dora_level{scope=\"team:payments\",metric=\"deployment_frequency\",level=\"high\"} 1",
        "flowmeter_dora_level{scope=\"team:payments\",metric=\"lead_time\",level=\"elite\"} 1",
        "flowmeter_dora_level{scope=\"team:payments\",metric=\"change_failure_rate\",level=\"low\"} 1",
        "flowmeter_dora_level{scope=\"team:payments\",metric=\"recovery_time\",level=\"high\"} 1",
        "flowmeter_dora_level{scope=\"repo:acme/api\",metric=\"deployment_frequency\",level=\"low\"} 1",
        // W41 of `five_prs`: coding [60, 3600, 7200] (b has none) → p50 rank 2, p90 rank 3;
        // pickup [60, 600, 6000]; review [300, 600, 1200]; deploy [900, 1800] (b, d
        // unshipped) → p50 rank 1, p90 rank 2; total [2000, 4000, 10000, 50000] → p50
        // rank 2, p90 rank 4.
        "# TYPE flowmeter_cycle_time_seconds summary",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"coding\",quantile=\"0.5\"} 3600",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"coding\",quantile=\"0.9\"} 7200",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"pickup\",quantile=\"0.5\"} 600",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"pickup\",quantile=\"0.9\"} 6000",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"review\",quantile=\"0.5\"} 600",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"review\",quantile=\"0.9\"} 1200",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"deploy\",quantile=\"0.5\"} 900",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"deploy\",quantile=\"0.9\"} 1800",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"total\",quantile=\"0.5\"} 4000",
        "flowmeter_cycle_time_seconds{scope=\"team:payments\",phase=\"total\",quantile=\"0.9\"} 50000",
        // Merged a–d, three opened; review latency is pickup; a, b, d pass first time;
        // size [10, 25, 40, 500].
        "flowmeter_pull_requests_merged{scope=\"team:payments\"} 4",
        "flowmeter_pull_requests_merged{scope=\"repo:acme/api\"} 0",
        "flowmeter_pull_requests_opened{scope=\"team:payments\"} 3",
        "flowmeter_pull_requests_opened{scope=\"repo:acme/api\"} 0",
        "# TYPE flowmeter_review_latency_seconds summary",
        "flowmeter_review_latency_seconds{scope=\"team:payments\",quantile=\"0.5\"} 600",
        "flowmeter_review_latency_seconds{scope=\"team:payments\",quantile=\"0.9\"} 6000",
        "# TYPE flowmeter_first_time_pass_ratio gauge",
        "flowmeter_first_time_pass_ratio{scope=\"team:payments\"} 0.75",
        "# TYPE flowmeter_pull_request_size_lines summary",
        "flowmeter_pull_request_size_lines{scope=\"team:payments\",quantile=\"0.5\"} 25",
        "flowmeter_pull_request_size_lines{scope=\"team:payments\",quantile=\"0.9\"} 500",
        "flowmeter_incidents_opened{scope=\"team:payments\"} 2",
        "flowmeter_incidents_opened{scope=\"repo:acme/api\"} 0",
        "flowmeter_incidents_resolved{scope=\"team:payments\"} 1",
        "# TYPE flowmeter_incident_mttr_seconds summary",
        "flowmeter_incident_mttr_seconds{scope=\"team:payments\",quantile=\"0.5\"} 1800",
        "flowmeter_incident_mttr_seconds{scope=\"team:payments\",quantile=\"0.9\"} 1800",
        "flowmeter_incidents_open{scope=\"team:payments\"} 1",
        "flowmeter_incidents_open{scope=\"repo:acme/api\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn renders_every_family_with_help_and_type_first() {
    let text = render(&sample_reports());
    check_exposition(&text);
    let names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "flowmeter_deployments",
            "flowmeter_deploy_dates",
            "flowmeter_lead_time_seconds",
            "flowmeter_change_failure_rate",
            "flowmeter_recovery_time_seconds",
            "flowmeter_rework_rate",
            "flowmeter_dora_level",
            "flowmeter_cycle_time_seconds",
            "flowmeter_pull_requests_merged",
            "flowmeter_pull_requests_opened",
            "flowmeter_review_latency_seconds",
            "flowmeter_first_time_pass_ratio",
            "flowmeter_pull_request_size_lines",
            "flowmeter_incidents_opened",
            "flowmeter_incidents_resolved",
            "flowmeter_incident_mttr_seconds",
            "flowmeter_incidents_open",
        ]
    );
    for name in &names {
        assert_eq!(
            text.matches(&format!("# HELP {name} ")).count(),
            1,
            "{name}"
        );
    }
}

#[test]
fn leaves_out_nulls_and_labels_the_phase_before_the_quantile() {
    let samples = check_exposition(&render(&sample_reports()));
    // Nulls are left out: the empty scope has no quantile or rate samples.
    let scopes_of = |family: &str| -> Vec<String> {
        samples
            .get(family)
            .map(|rows| {
                rows.iter()
                    .map(|(_, labels, _)| labels[0].1.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        scopes_of("flowmeter_lead_time_seconds"),
        ["team:payments"; 2]
    );
    assert_eq!(
        scopes_of("flowmeter_change_failure_rate"),
        ["team:payments"]
    );
    assert_eq!(scopes_of("flowmeter_rework_rate"), ["team:payments"]);
    assert_eq!(
        scopes_of("flowmeter_dora_level"),
        [
            "team:payments",
            "team:payments",
            "team:payments",
            "team:payments",
            "repo:acme/api"
        ]
    );
    assert_eq!(samples["flowmeter_change_failure_rate"][0].2, 1.0 / 3.0);
    for family in [
        "flowmeter_cycle_time_seconds",
        "flowmeter_review_latency_seconds",
        "flowmeter_first_time_pass_ratio",
        "flowmeter_pull_request_size_lines",
        "flowmeter_incident_mttr_seconds",
    ] {
        assert!(
            scopes_of(family).iter().all(|s| s == "team:payments"),
            "{family}: the empty scope has no sample"
        );
    }
    // Five phases × two quantiles, the phase label before the quantile.
    let cycle = &samples["flowmeter_cycle_time_seconds"];
    assert_eq!(cycle.len(), 10);
    for (_, labels, _) in cycle {
        let names: Vec<&str> = labels.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["scope", "phase", "quantile"]);
    }
}

/// Every sample equals the number the JSON report answers for the same scope and period.
#[test]
fn values_are_the_json_reports_numbers() {
    let reports = sample_reports();
    let text = render(&reports);
    let samples = check_exposition(&text);
    let (scope, r) = &reports[0];
    let value = |family: &str, labels: &[(&str, &str)]| -> Option<f64> {
        samples.get(family)?.iter().find_map(|(_, l, v)| {
            let wanted: Vec<(String, String)> = std::iter::once(("scope", scope.as_str()))
                .chain(labels.iter().copied())
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            (l == &wanted).then_some(*v)
        })
    };
    let c = &r.cycle_time;
    for (phase, q) in [
        ("coding", &c.coding),
        ("pickup", &c.pickup),
        ("review", &c.review),
        ("deploy", &c.deploy),
        ("total", &c.total),
    ] {
        let f = "flowmeter_cycle_time_seconds";
        assert_eq!(
            value(f, &[("phase", phase), ("quantile", "0.5")]),
            q.p50_seconds
        );
        assert_eq!(
            value(f, &[("phase", phase), ("quantile", "0.9")]),
            q.p90_seconds
        );
    }
    let p = &r.pull_requests;
    assert_eq!(
        value("flowmeter_pull_requests_merged", &[]),
        Some(p.merged as f64)
    );
    assert_eq!(
        value("flowmeter_pull_requests_opened", &[]),
        Some(p.opened as f64)
    );
    let latency = "flowmeter_review_latency_seconds";
    assert_eq!(
        value(latency, &[("quantile", "0.5")]),
        p.review_latency.p50_seconds
    );
    assert_eq!(
        value(latency, &[("quantile", "0.9")]),
        p.review_latency.p90_seconds
    );
    assert_eq!(
        value("flowmeter_first_time_pass_ratio", &[]),
        p.first_time_pass_rate
    );
    let size = "flowmeter_pull_request_size_lines";
    assert_eq!(value(size, &[("quantile", "0.5")]), p.size.p50_lines);
    assert_eq!(value(size, &[("quantile", "0.9")]), p.size.p90_lines);
    let i = &r.incidents;
    assert_eq!(
        value("flowmeter_incidents_opened", &[]),
        Some(i.opened as f64)
    );
    assert_eq!(
        value("flowmeter_incidents_resolved", &[]),
        Some(i.resolved as f64)
    );
    let mttr = "flowmeter_incident_mttr_seconds";
    assert_eq!(value(mttr, &[("quantile", "0.5")]), i.mttr.p50_seconds);
    assert_eq!(value(mttr, &[("quantile", "0.9")]), i.mttr.p90_seconds);
    assert_eq!(
        value("flowmeter_incidents_open", &[]),
        Some(i.open.len() as f64)
    );
}

#[test]
fn label_values_are_escaped() {
    let scope = "team:a\"b\\c\nd";
    let report = sample_reports().remove(0).1;
    let text = render(&[(scope.to_string(), report)]);
    assert!(
        text.contains("flowmeter_deployments{scope=\"team:a\\\"b\\\\c\\nd\"} 2\n"),
        "{text}"
    );
    let samples = check_exposition(&text);
    for rows in samples.values() {
        for (_, labels, _) in rows {
            assert_eq!(labels[0], ("scope".to_string(), scope.to_string()));
        }
    }
    assert_eq!(escape_label_value("plain"), "plain");
    assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
}

#[test]
fn no_series_still_declares_the_families_and_duplicates_render_once() {
    let text = render(&[]);
    let samples = check_exposition(&text);
    assert!(samples.is_empty());
    assert_eq!(text.lines().count(), 2 * FAMILIES.len());

    let mut reports = sample_reports();
    reports.push(reports[0].clone());
    assert_eq!(render(&reports), render(&sample_reports()));
}

#[test]
fn float_spellings() {
    assert_eq!(float(3600.0), "3600");
    assert_eq!(float(0.125), "0.125");
    assert_eq!(float(f64::NAN), "NaN");
    assert_eq!(float(f64::INFINITY), "+Inf");
    assert_eq!(float(f64::NEG_INFINITY), "-Inf");
    assert_eq!(float(1.0 / 3.0).parse::<f64>(), Ok(1.0 / 3.0));
}

/// `promtool check metrics` (parse + lint) on the output, when promtool is installed.
#[test]
fn promtool_accepts_the_output_when_available() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut reports = sample_reports();
    reports.push(("team:a\"b\\c\nd".to_string(), reports[0].1.clone()));
    let text = render(&reports);
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed; skipped");
        return;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool runs");
    assert!(
        output.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
