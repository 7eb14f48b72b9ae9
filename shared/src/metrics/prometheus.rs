//! `GET /metrics`: current DORA values per scope in the Prometheus text exposition format
//! 0.0.4 (`Content-Type: text/plain; version=0.0.4; charset=utf-8`).
//!
//! Names follow Prometheus' conventions as `promtool check metrics` lints them:
//!
//! * every value is a windowed number that can go down, so the families are gauges and none
//!   ends in `_total` (reserved for counters): `flowmeter_deployments`, not
//!   `flowmeter_deployments_total`;
//! * units are base units spelled as a suffix (`_seconds`); a name may not contain a non-base
//!   unit word, which is why the deploy-day count is `flowmeter_deploy_dates` and not
//!   `…_deploy_days` (promtool: `use base unit "seconds" instead of "days"`);
//! * the `quantile` label is reserved for summaries (promtool: `non-summary metrics should not
//!   have "quantile" label`), so the two duration families that carry it — as the example in
//!   docs/API.md, `flowmeter_lead_time_seconds{scope="team:payments",quantile="0.5"}`, does —
//!   are typed `summary`. They expose only their quantile samples: a summary's `_count`/`_sum` are
//!   cumulative counters by convention, and these windowed numbers are not;
//! * `flowmeter_dora_level` is info-style: value 1, the level in a label, one sample per
//!   metric that has a level.
//!
//! A sample whose number is `null` in the JSON report (a quantile or rate without data) is
//! left out rather than written as NaN.

use std::collections::BTreeSet;

use super::dora::DoraReport;
use super::levels::DoraLevel;

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: fn(&DoraReport) -> Vec<Sample>,
}

/// Extra labels (after `scope`) and the value.
struct Sample {
    labels: Vec<(&'static str, String)>,
    value: String,
}

fn plain(value: impl ToString) -> Vec<Sample> {
    vec![Sample {
        labels: Vec::new(),
        value: value.to_string(),
    }]
}

fn optional(value: Option<f64>) -> Vec<Sample> {
    value.map(|v| plain(float(v))).unwrap_or_default()
}

fn quantiles(p50: Option<f64>, p90: Option<f64>) -> Vec<Sample> {
    [("0.5", p50), ("0.9", p90)]
        .into_iter()
        .filter_map(|(q, v)| {
            v.map(|v| Sample {
                labels: vec![("quantile", q.to_string())],
                value: float(v),
            })
        })
        .collect()
}

fn levels(report: &DoraReport) -> Vec<Sample> {
    let graded: [(&str, Option<DoraLevel>); 4] = [
        ("deployment_frequency", report.deployment_frequency.level),
        ("lead_time", report.lead_time.level),
        ("change_failure_rate", report.change_failure_rate.level),
        ("recovery_time", report.recovery_time.level),
    ];
    graded
        .into_iter()
        .filter_map(|(metric, level)| {
            level.map(|level| Sample {
                labels: vec![
                    ("metric", metric.to_string()),
                    ("level", level.as_str().to_string()),
                ],
                value: "1".to_string(),
            })
        })
        .collect()
}

const FAMILIES: &[Family] = &[
    Family {
        name: "flowmeter_deployments",
        kind: "gauge",
        help: "Successful production deployments in the reporting window.",
        samples: |r| plain(r.deployment_frequency.deployments),
    },
    Family {
        name: "flowmeter_deploy_dates",
        kind: "gauge",
        help: "Distinct dates (org timezone) with a successful production deployment in the reporting window.",
        samples: |r| plain(r.deployment_frequency.deploy_days),
    },
    Family {
        name: "flowmeter_lead_time_seconds",
        kind: "summary",
        help: "Lead time for changes (first commit to production deployment) of the changes shipped in the reporting window.",
        samples: |r| quantiles(r.lead_time.p50_seconds, r.lead_time.p90_seconds),
    },
    Family {
        name: "flowmeter_change_failure_rate",
        kind: "gauge",
        help: "Failed production deployments divided by production deployment attempts in the reporting window.",
        samples: |r| optional(r.change_failure_rate.rate),
    },
    Family {
        name: "flowmeter_recovery_time_seconds",
        kind: "summary",
        help: "Failed deployment recovery time of the failed deployments in the reporting window.",
        samples: |r| quantiles(r.recovery_time.p50_seconds, r.recovery_time.p90_seconds),
    },
    Family {
        name: "flowmeter_rework_rate",
        kind: "gauge",
        help: "Share of successful production deployments in the reporting window that only shipped unplanned fixes.",
        samples: |r| optional(r.rework_rate.rate),
    },
    Family {
        name: "flowmeter_dora_level",
        kind: "gauge",
        help: "DORA 2023 performance level of each metric (always 1; the level is the label).",
        samples: levels,
    },
];

/// Renders the DORA reports of several scopes (label values like `team:payments`, in the
/// order given; a scope given twice is rendered once, from its first report). Every family's
/// `# HELP` and `# TYPE` lines come once, before its samples, even when it has none.
pub fn render(series: &[(String, DoraReport)]) -> String {
    let mut seen = BTreeSet::new();
    let unique: Vec<&(String, DoraReport)> = series
        .iter()
        .filter(|(scope, _)| seen.insert(scope.as_str()))
        .collect();
    let mut out = String::new();
    for family in FAMILIES {
        out.push_str(&format!(
            "# HELP {} {}\n# TYPE {} {}\n",
            family.name,
            escape_help(family.help),
            family.name,
            family.kind
        ));
        for (scope, report) in &unique {
            for sample in (family.samples)(report) {
                out.push_str(family.name);
                out.push_str("{scope=\"");
                out.push_str(&escape_label_value(scope));
                out.push('"');
                for (name, value) in &sample.labels {
                    out.push_str(&format!(",{name}=\"{}\"", escape_label_value(value)));
                }
                out.push_str("} ");
                out.push_str(&sample.value);
                out.push('\n');
            }
        }
    }
    out
}

/// Label values escape backslash, double quote and line feed.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `# HELP` text escapes backslash and line feed.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: Rust's shortest round-trip decimal, which Prometheus' parser reads back
/// exactly; the format's own spellings for the non-finite values.
fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::derive::Rollup;
    use crate::metrics::testing::*;

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

    fn sample_reports() -> Vec<(String, DoraReport)> {
        // team:payments: W41 successes on 5 and 6 Oct, one failed attempt on 7 Oct recovered
        // in 3600 s; lead times 600, 1200 s.
        let weeks = [(
            week(2026, 41),
            rollup(&[
                deployment("2026-10-05", true, false, false),
                deployment("2026-10-06", true, false, true),
                failed_deployment("2026-10-07", false, 3600.0),
                lead(600.0),
                lead(1200.0),
            ]),
        )];
        let payments = dora_report(
            "team:payments",
            date("2026-10-05"),
            date("2026-10-11"),
            &weeks,
        );
        let empty = dora_report(
            "repo:acme/api",
            date("2026-10-05"),
            date("2026-10-11"),
            &[(week(2026, 41), Rollup::default())],
        );
        vec![
            ("team:payments".to_string(), payments),
            ("repo:acme/api".to_string(), empty),
        ]
    }

    #[test]
    fn renders_every_family_with_help_and_type_first() {
        let text = render(&sample_reports());
        let samples = check_exposition(&text);
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
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
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
            ]
        );
        for name in &names {
            assert_eq!(
                text.matches(&format!("# HELP {name} ")).count(),
                1,
                "{name}"
            );
        }
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
}
