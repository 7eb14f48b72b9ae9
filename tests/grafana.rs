//! The Grafana dashboard (`infra/grafana/flowmeter.json`): a valid dashboard model whose every
//! query is PromQL (parsed with `promql-parser`), and — end to end on DynamoDB Local — every
//! metric those queries select is in what `GET /metrics` answers for a store loaded with the
//! demo org's last weeks. A panel that queries a family `/metrics` does not expose (a typo, a
//! renamed family) fails the test, naming the metric and the panel.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use flowmeter_e2e::drain;
use flowmeter_edge::api::{handle_api, ApiState};
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::lambda_http::{Body, Request};
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use serde_json::Value;

mod demo_org;

const DASHBOARD: &str = include_str!("../infra/grafana/flowmeter.json");
const TOKEN: &str = "grafana-test-token";

fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("infra/grafana/flowmeter.json is JSON")
}

/// Every panel, rows' nested panels (a collapsed row holds its own) included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        out.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

/// Every query of the dashboard, as (where it is, PromQL): the panels' `targets[].expr` and the
/// query variables' queries (`label_values(<selector>, label)` contributes its selector).
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in all_panels(dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push((format!("panel {title:?}"), expr.to_string()));
            }
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] != "query" {
            continue;
        }
        let name = variable["name"].as_str().unwrap_or_default();
        let query = match &variable["query"] {
            Value::String(q) => q.as_str(),
            other => other["query"].as_str().unwrap_or_default(),
        };
        if let Some(promql) = variable_promql(query) {
            out.push((format!("variable {name:?}"), promql));
        }
    }
    out
}

/// The PromQL of a Grafana Prometheus variable query: the selector of
/// `label_values(<selector>, <label>)`, the expression of `query_result(<expr>)`, none for
/// `label_values(<label>)`, `label_names()` and `metrics(<regex>)`; anything else is PromQL.
fn variable_promql(query: &str) -> Option<String> {
    let query = query.trim();
    let inner = |prefix: &str| {
        query
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .map(str::trim)
    };
    if let Some(args) = inner("label_values(") {
        let (selector, _label) = args.rsplit_once(',')?;
        Some(selector.trim().to_string())
    } else if let Some(expr) = inner("query_result(") {
        Some(expr.to_string())
    } else if query.starts_with("label_names(") || query.starts_with("metrics(") {
        None
    } else {
        Some(query.to_string())
    }
}

/// Grafana's variables replaced by values PromQL parses: the interval variables by a duration,
/// any other (`$scope`, `${scope}`, `[[scope]]` is not used) by `org`.
fn substitute_variables(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').unwrap_or(braced.len());
            (&braced[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        out.push_str(match name {
            "__interval" | "__rate_interval" | "__range" => "5m",
            _ => "org",
        });
        rest = &after[len.min(after.len())..];
    }
    out.push_str(rest);
    out
}

/// The metric names an expression selects: each vector selector's name, or its
/// `__name__="…"` matcher.
fn selected_metrics(expr: &Expr, out: &mut BTreeSet<String>) {
    match expr {
        Expr::VectorSelector(vs) => {
            let by_matcher = vs
                .matchers
                .matchers
                .iter()
                .filter(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
                .map(|m| m.value.clone());
            out.extend(vs.name.clone().into_iter().chain(by_matcher));
        }
        Expr::MatrixSelector(ms) => selected_metrics(&Expr::VectorSelector(ms.vs.clone()), out),
        Expr::Aggregate(a) => {
            selected_metrics(&a.expr, out);
            if let Some(param) = &a.param {
                selected_metrics(param, out);
            }
        }
        Expr::Unary(u) => selected_metrics(&u.expr, out),
        Expr::Binary(b) => {
            selected_metrics(&b.lhs, out);
            selected_metrics(&b.rhs, out);
        }
        Expr::Paren(p) => selected_metrics(&p.expr, out),
        Expr::Subquery(s) => selected_metrics(&s.expr, out),
        Expr::Call(call) => {
            for arg in &call.args.args {
                selected_metrics(arg, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Every metric the dashboard selects, with where it is selected; panics naming a query that
/// does not parse or selects no metric.
fn dashboard_metrics(dashboard: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut metrics: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (place, query) in queries(dashboard) {
        let expr = parser::parse(&substitute_variables(&query))
            .unwrap_or_else(|e| panic!("{place}: {query:?} is not PromQL: {e}"));
        let mut names = BTreeSet::new();
        selected_metrics(&expr, &mut names);
        assert!(!names.is_empty(), "{place}: {query:?} selects no metric");
        for name in names {
            metrics.entry(name).or_default().insert(place.clone());
        }
    }
    metrics
}

/// The metric names with at least one sample in a text exposition.
fn exposed(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// The dashboard's metrics without a sample in `exposition`, each with where it is used.
fn missing(
    wanted: &BTreeMap<String, BTreeSet<String>>,
    exposition: &str,
) -> Vec<(String, BTreeSet<String>)> {
    let have = exposed(exposition);
    wanted
        .iter()
        .filter(|(name, _)| !have.contains(*name))
        .map(|(name, places)| (name.clone(), places.clone()))
        .collect()
}

#[test]
fn the_dashboard_is_a_valid_grafana_dashboard() {
    let d = dashboard();
    assert_eq!(d["uid"], "flowmeter");
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()), "title");
    assert!(
        d["schemaVersion"].as_u64().is_some_and(|v| v >= 39),
        "schemaVersion {}",
        d["schemaVersion"]
    );
    let variables = d["templating"]["list"].as_array().expect("templating.list");
    let datasource = variables
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a data source variable");
    assert_eq!(datasource["name"], "DS_PROMETHEUS");
    assert_eq!(datasource["query"], "prometheus");
    let scope = variables
        .iter()
        .find(|v| v["name"] == "scope")
        .expect("a scope variable");
    assert_eq!(scope["type"], "query");
    assert_eq!(scope["datasource"]["uid"], "${DS_PROMETHEUS}");
    assert_eq!(
        scope["query"]["query"],
        "label_values(flowmeter_deployments, scope)"
    );

    let panels = all_panels(&d);
    assert!(panels.len() > 4, "panels");
    let mut ids = BTreeSet::new();
    let mut rows = Vec::new();
    for panel in &panels {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "a panel without a title: {panel}");
        assert!(ids.insert(panel["id"].as_u64()), "{title}: id repeated");
        for key in ["h", "w", "x", "y"] {
            assert!(panel["gridPos"][key].is_u64(), "{title}: gridPos.{key}");
        }
        if panel["type"] == "row" {
            rows.push(title);
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${DS_PROMETHEUS}",
            "{title}: datasource"
        );
        let targets = panel["targets"].as_array().map_or(&[][..], Vec::as_slice);
        assert!(!targets.is_empty(), "{title}: no target");
        for target in targets {
            assert!(
                target["expr"].as_str().is_some_and(|e| !e.is_empty()),
                "{title}: a target without expr"
            );
            assert!(target["refId"].is_string(), "{title}: refId");
            assert_eq!(target["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
        }
    }
    assert_eq!(rows, ["DORA", "Cycle time", "Pull requests", "Incidents"]);

    // Every query parses and every panel's queries filter on the scope variable.
    let metrics = dashboard_metrics(&d);
    for family in [
        "flowmeter_deploy_dates",
        "flowmeter_lead_time_seconds",
        "flowmeter_change_failure_rate",
        "flowmeter_recovery_time_seconds",
        "flowmeter_rework_rate",
        "flowmeter_dora_level",
        "flowmeter_cycle_time_seconds",
        "flowmeter_pull_requests_merged",
        "flowmeter_review_latency_seconds",
        "flowmeter_first_time_pass_ratio",
        "flowmeter_pull_request_size_lines",
        "flowmeter_incident_mttr_seconds",
        "flowmeter_incidents_open",
    ] {
        assert!(metrics.contains_key(family), "no panel shows {family}");
    }
    for (place, query) in queries(&d) {
        if place.starts_with("panel") {
            assert!(query.contains("scope=\"$scope\""), "{place}: {query}");
        }
    }
}

/// The threshold steps (after the base) of the DORA panel titled `title`.
fn threshold_steps(dashboard: &Value, title: &str) -> Vec<f64> {
    let panel = all_panels(dashboard)
        .into_iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no panel {title:?}"));
    let steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("{title}: no thresholds"));
    assert!(steps[0]["value"].is_null(), "{title}: base step first");
    steps[1..]
        .iter()
        .map(|s| s["value"].as_f64().expect("a step value"))
        .collect()
}

/// The DORA panels are coloured at Flowmeter's own level cut-offs (`metrics::levels`): a
/// value at a step takes the step's (worse) colour, as the level function grades it.
#[test]
fn the_dora_colours_follow_the_level_cut_offs() {
    use flowmeter::metrics::levels::{self, DoraLevel};
    let d = dashboard();
    let lead = threshold_steps(&d, "Lead time for changes (p50)");
    assert_eq!(
        lead,
        [
            levels::DAY_SECONDS,
            levels::WEEK_SECONDS,
            levels::MONTH_SECONDS
        ]
    );
    let recovery = threshold_steps(&d, "Failed deployment recovery time (p50)");
    assert_eq!(
        recovery,
        [
            levels::HOUR_SECONDS,
            levels::DAY_SECONDS,
            levels::WEEK_SECONDS
        ]
    );
    let worse = [DoraLevel::High, DoraLevel::Medium, DoraLevel::Low];
    let better = [DoraLevel::Elite, DoraLevel::High, DoraLevel::Medium];
    for (grade, steps) in [
        (
            levels::lead_time_level as fn(f64) -> Option<DoraLevel>,
            &lead,
        ),
        (levels::recovery_level, &recovery),
    ] {
        for (i, step) in steps.iter().enumerate() {
            assert_eq!(grade(*step), Some(worse[i]), "at {step}");
            assert_eq!(grade(step - 1.0), Some(better[i]), "below {step}");
        }
    }
    // The change failure rate grades with `<=`: each step sits just above its bound.
    for (i, step) in threshold_steps(&d, "Change failure rate")
        .iter()
        .enumerate()
    {
        let bound = [0.05, 0.10, 0.15][i];
        assert!(*step > bound && *step < bound + 1e-6, "{step}");
        assert_eq!(levels::change_failure_level(bound), Some(better[i]));
        assert_eq!(levels::change_failure_level(*step), Some(worse[i]));
    }
    // Deploy dates per week, higher is better: medium from once a month, high from once a
    // week, elite from every working day.
    assert_eq!(
        threshold_steps(&d, "Deployment frequency"),
        [
            1.0 / levels::WEEKS_PER_MONTH as f64,
            levels::HIGH_DEPLOY_DAYS_PER_WEEK as f64,
            levels::ELITE_DEPLOY_DAYS_PER_WEEK as f64,
        ]
    );
}

#[test]
fn the_collector_finds_every_selector_and_names_what_is_missing() {
    // given an expression with a binary operation, an aggregation, a function over a range
    // and a `__name__` matcher
    let expr = parser::parse(&substitute_variables(
        "sum by (phase) (rate(a_seconds{scope=\"$scope\"}[$__rate_interval])) / \
         on() group_left() max({__name__=\"b_total\"}) + 2 * (c)",
    ))
    .expect("PromQL");
    let mut names = BTreeSet::new();
    selected_metrics(&expr, &mut names);
    assert_eq!(
        names,
        BTreeSet::from(["a_seconds".into(), "b_total".into(), "c".into()])
    );
    assert_eq!(
        substitute_variables("x{scope=\"${scope}\"}[$__range]"),
        "x{scope=\"org\"}[5m]"
    );
    assert_eq!(
        variable_promql("label_values(up{job=\"a,b\"}, scope)").as_deref(),
        Some("up{job=\"a,b\"}")
    );
    assert_eq!(variable_promql("label_values(scope)"), None);

    // when an exposition lacks one of them (only its HELP/TYPE lines is not enough)
    let wanted = BTreeMap::from([
        (
            "a_seconds".to_string(),
            BTreeSet::from(["panel \"A\"".into()]),
        ),
        (
            "b_total".to_string(),
            BTreeSet::from(["panel \"B\"".into()]),
        ),
    ]);
    let exposition = "# HELP b_total b\n# TYPE b_total counter\na_seconds{scope=\"org\"} 1\n";
    // then it is named, with its panel
    assert_eq!(
        missing(&wanted, exposition),
        [(
            "b_total".to_string(),
            BTreeSet::from(["panel \"B\"".to_string()])
        )]
    );
}

/// The demo org's last 4 weeks (at a third of its activity), delivered into a fresh table.
async fn loaded_state() -> ApiState {
    let org = demo_org::org(14, Utc::now(), 4, 0.35);
    let store = demo_org::load("grafana", &org, &org.deliveries).await;
    drain(&store, &mut None).await;
    ApiState::new(store, TOKEN.into(), "grafana-admin".into())
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exposed() {
    let state = loaded_state().await;
    let request: Request = flowmeter_edge::lambda_http::http::Request::builder()
        .method("GET")
        .uri("/metrics")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::Empty)
        .expect("request");
    let response = handle_api(&state, &request).await;
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    assert_eq!(response.status(), StatusCode::OK, "{text}");

    let wanted = dashboard_metrics(&dashboard());
    let absent = missing(&wanted, &text);
    assert!(
        absent.is_empty(),
        "the dashboard queries metrics /metrics does not expose:\n{}\n--- exposition ---\n{text}",
        absent
            .iter()
            .map(|(name, places)| format!(
                "  {name} (used by {})",
                places.iter().cloned().collect::<Vec<_>>().join(", ")
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The scope variable has values to offer: the org and the demo's teams.
    let scopes: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("flowmeter_deployments{scope=\""))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert!(scopes.contains("org"), "{scopes:?}");
    assert!(scopes.iter().any(|s| s.starts_with("team:")), "{scopes:?}");
}
