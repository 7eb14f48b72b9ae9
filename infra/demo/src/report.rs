//! The terminal report: per team, the DORA four with their levels, cycle time, review latency,
//! first-time pass rate and the week-over-week trend, all from the read API's JSON answers, and
//! the needs-attention verdict of the weekly digest (`flowmeter::digest`), so that the demo and
//! the Monday digest flag teams by one rule; per repo what staging and production run
//! (`/v1/environments`); and the events the rollup announced and the chat messages routed from
//! them (`GET /dev/events`, the demo's Slack stand-in).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// What the read API answered for one team (or the org).
#[derive(Clone, Debug, Default)]
pub struct TeamNumbers {
    pub name: String,
    /// `/v1/dora`, `/v1/cycle-time`, `/v1/pull-requests` over the whole history.
    pub dora: Value,
    pub cycle: Value,
    pub prs: Value,
    /// `/v1/dora` and `/v1/pull-requests` over the last three weeks, and over the weeks before.
    pub recent_dora: Value,
    pub earlier_dora: Value,
    pub recent_prs: Value,
    pub earlier_prs: Value,
    /// `/v1/pull-requests` of the last week and of the week before it.
    pub last_week_prs: Value,
    pub previous_week_prs: Value,
}

fn num(v: &Value, pointer: &str) -> Option<f64> {
    v.pointer(pointer).and_then(Value::as_f64)
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// `45m`, `3.2h`, `2.5d`; `–` for no data.
pub fn duration(seconds: Option<f64>) -> String {
    match seconds {
        None => "–".into(),
        Some(s) if s < 3600.0 => format!("{:.0}m", s / 60.0),
        Some(s) if s < 48.0 * 3600.0 => format!("{:.1}h", s / 3600.0),
        Some(s) => format!("{:.1}d", s / 86400.0),
    }
}

pub fn percent(rate: Option<f64>) -> String {
    rate.map_or("–".into(), |r| format!("{:.0}%", r * 100.0))
}

fn level(v: &Value, pointer: &str) -> String {
    text(v, pointer).unwrap_or_else(|| "–".into())
}

fn arrow(before: Option<f64>, now: Option<f64>, worse_when_up: bool) -> &'static str {
    match (before, now) {
        (Some(b), Some(n)) if n > b * 1.1 && n - b > 1e-9 => {
            if worse_when_up {
                "▲"
            } else {
                "△"
            }
        }
        (Some(b), Some(n)) if n < b * 0.9 && b - n > 1e-9 => {
            if worse_when_up {
                "▽"
            } else {
                "▼"
            }
        }
        (Some(_), Some(_)) => "=",
        _ => " ",
    }
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// One table row: each cell padded to its width, and a space after each.
fn row<S: AsRef<str>>(cells: &[S], widths: &[usize]) -> String {
    let mut out = String::new();
    for (cell, width) in cells.iter().zip(widths) {
        out.push_str(&pad(cell.as_ref(), *width));
        out.push(' ');
    }
    out.push('\n');
    out
}

/// Appends one table row to `out` without the trailing padding of its last cell.
fn push_row<S: AsRef<str>>(out: &mut String, cells: &[S], widths: &[usize]) {
    out.push_str(row(cells, widths).trim_end());
    out.push('\n');
}

/// A count at `pointer` of an API answer, or a dash where the answer has none.
fn count(answer: &Value, pointer: &str) -> String {
    num(answer, pointer).map_or("–".to_string(), |n| format!("{n:.0}"))
}

/// The terminal report. `attention` is the digest's verdict, `(team, reasons)` for each flagged
/// team, or `None` when the digest did not run: the demo shows the product's own rule, not one
/// of its own.
pub fn render(
    title: &str,
    teams: &[TeamNumbers],
    last_week: &str,
    previous_week: &str,
    attention: Option<&[(String, String)]>,
) -> String {
    [
        format!("{title}\n\n"),
        health_table(teams),
        week_over_week(teams, last_week, previous_week),
        recent_against_earlier(teams),
        needs_attention(teams, last_week, attention),
    ]
    .concat()
}

/// The whole history: the DORA four with their levels, cycle time, review latency and the
/// first-time pass rate.
fn health_table(teams: &[TeamNumbers]) -> String {
    const WIDTHS: [usize; 8] = [10, 17, 17, 15, 16, 10, 11, 8];
    let header = [
        "team",
        "deploys/wk",
        "lead time p50",
        "change fail",
        "recovery p50",
        "cycle p50",
        "review p50",
        "1st-pass",
    ];
    let mut out = row(&header, &WIDTHS);
    for t in teams {
        let cells = [
            t.name.clone(),
            format!(
                "{:>5.1} {}",
                num(&t.dora, "/deployment_frequency/per_week").unwrap_or(0.0),
                level(&t.dora, "/deployment_frequency/level")
            ),
            format!(
                "{:>6} {}",
                duration(num(&t.dora, "/lead_time/p50_seconds")),
                level(&t.dora, "/lead_time/level")
            ),
            format!(
                "{:>4} {}",
                percent(num(&t.dora, "/change_failure_rate/rate")),
                level(&t.dora, "/change_failure_rate/level")
            ),
            format!(
                "{:>6} {}",
                duration(num(&t.dora, "/recovery_time/p50_seconds")),
                level(&t.dora, "/recovery_time/level")
            ),
            format!("{:>6}", duration(num(&t.cycle, "/total/p50_seconds"))),
            format!(
                "{:>6}",
                duration(num(&t.prs, "/review_latency/p50_seconds"))
            ),
            format!("{:>5}", percent(num(&t.prs, "/first_time_pass_rate"))),
        ];
        out.push_str(&row(&cells, &WIDTHS));
    }
    out
}

/// The last week against the week before, with an arrow for the direction of each change.
fn week_over_week(teams: &[TeamNumbers], last_week: &str, previous_week: &str) -> String {
    const WIDTHS: [usize; 5] = [10, 16, 20, 16, 20];
    let mut out = format!(
        "\nWeek over week ({previous_week} → {last_week}; ▲ worse, ▼ better, △▽ neutral)\n"
    );
    let header = [
        "team",
        "deployments",
        "lead time p50",
        "change fail",
        "review latency p50",
    ];
    out.push_str(&row(&header, &WIDTHS));
    for t in teams {
        let weeks = t
            .dora
            .get("weeks")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let last = weeks.last().cloned().unwrap_or(Value::Null);
        let prev = weeks
            .len()
            .checked_sub(2)
            .and_then(|i| weeks.get(i))
            .cloned()
            .unwrap_or(Value::Null);
        let d = |v: &Value| num(v, "/deployments");
        let l = |v: &Value| num(v, "/lead_time_p50_seconds");
        let c = |v: &Value| num(v, "/change_failure_rate");
        let r = |v: &Value| num(v, "/review_latency/p50_seconds");
        let cells = [
            t.name.clone(),
            format!(
                "{:>3} → {:<3} {}",
                d(&prev).unwrap_or(0.0),
                d(&last).unwrap_or(0.0),
                arrow(d(&prev), d(&last), false)
            ),
            format!(
                "{:>6} → {:<6} {}",
                duration(l(&prev)),
                duration(l(&last)),
                arrow(l(&prev), l(&last), true)
            ),
            format!(
                "{:>4} → {:<4} {}",
                percent(c(&prev)),
                percent(c(&last)),
                arrow(c(&prev), c(&last), true)
            ),
            format!(
                "{:>6} → {:<6} {}",
                duration(r(&t.previous_week_prs)),
                duration(r(&t.last_week_prs)),
                arrow(r(&t.previous_week_prs), r(&t.last_week_prs), true)
            ),
        ];
        out.push_str(&row(&cells, &WIDTHS));
    }
    out
}

/// Review latency and change failure rate of the last three weeks against the weeks before.
fn recent_against_earlier(teams: &[TeamNumbers]) -> String {
    let mut out = format!(
        "\nLast 3 weeks against the weeks before\n{}{}{}\n",
        pad("team", 11),
        pad("review latency p50", 22),
        "change failure rate"
    );
    for t in teams {
        let latency = |v: &Value| num(v, "/review_latency/p50_seconds");
        let cfr = |v: &Value| num(v, "/change_failure_rate/rate");
        out.push_str(&format!(
            "{}{}{} → {}\n",
            pad(&t.name, 11),
            pad(
                &format!(
                    "{} → {}",
                    duration(latency(&t.earlier_prs)),
                    duration(latency(&t.recent_prs))
                ),
                22
            ),
            percent(cfr(&t.earlier_dora)),
            percent(cfr(&t.recent_dora))
        ));
    }
    out
}

/// The digest's verdict per team (not the org).
fn needs_attention(
    teams: &[TeamNumbers],
    last_week: &str,
    attention: Option<&[(String, String)]>,
) -> String {
    let mut out = format!(
        "\nNeeds attention (the digest of {last_week}: each team against its own previous 4 weeks)\n"
    );
    let Some(flagged) = attention else {
        out.push_str("  (the digest did not run: no verdict)\n");
        return out;
    };
    for t in teams.iter().filter(|t| t.name != "org") {
        match flagged.iter().find(|(team, _)| *team == t.name) {
            Some((_, why)) => out.push_str(&format!("  ✗ {:<10} needs attention: {why}\n", t.name)),
            None => out.push_str(&format!("  ✓ {:<10} steady\n", t.name)),
        }
    }
    out
}

/// What each environment runs now, per repo, from `GET /v1/environments`: the deployed commit
/// (short) and its age, and how many merged PRs the next environment lacks ("staging is 3 PRs
/// ahead of production").
pub fn environments(answer: &Value) -> String {
    let repos = answer
        .get("repos")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = repos
        .first()
        .and_then(|r| r["environments"].as_array())
        .map(|all| {
            all.iter()
                .filter_map(|e| e["environment"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut out = String::from(
        "\nEnvironments (deployed commit and its age; what the next environment lacks)\n",
    );
    let mut header = vec!["repo".to_string()];
    header.extend(names.iter().cloned());
    let mut widths = vec![20];
    widths.extend(names.iter().map(|_| 15));
    push_row(&mut out, &header, &widths);
    for repo in &repos {
        let name = repo["repo"].as_str().unwrap_or_default();
        let short = name.rsplit_once('/').map_or(name, |(_, n)| n);
        let mut cells = vec![short.to_string()];
        let mut ahead = Vec::new();
        for env in repo["environments"].as_array().into_iter().flatten() {
            let sha = env.pointer("/deployment/sha").and_then(Value::as_str);
            cells.push(match sha {
                Some(sha) => format!(
                    "{} {:>6}",
                    sha.get(..7).unwrap_or(sha),
                    duration(num(env, "/age_seconds"))
                ),
                None => "–".into(),
            });
            if let (Some(prs), Some(next)) = (env["ahead_of_next"].as_array(), env["next"].as_str())
            {
                let this = env["environment"].as_str().unwrap_or_default();
                ahead.push(match prs.len() {
                    0 => format!("{next} runs {this}'s commit"),
                    1 => format!("{this} is 1 PR ahead of {next}"),
                    n => format!("{this} is {n} PRs ahead of {next}"),
                });
            }
        }
        let line = row(&cells, &widths);
        let line = format!("{}  {}", line.trim_end(), ahead.join(", "));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if repos.is_empty() {
        out.push_str("  (no deployments)\n");
    }
    out
}

/// Each team's tickets over the whole history, from `GET /v1/tickets` (`(team, answer)`):
/// done with their cycle time, shipped with their lead time; then the tickets each
/// environment holds that the next one lacks, from `GET /v1/environments`.
pub fn tickets(teams: &[(String, Value)], environments: &Value) -> String {
    const WIDTHS: [usize; 5] = [10, 8, 15, 9, 15];
    let mut out =
        String::from("\nTickets (Jira, Linear: started → done, started → in production)\n");
    let header = ["team", "done", "cycle p50", "shipped", "lead p50"];
    push_row(&mut out, &header, &WIDTHS);
    for (team, answer) in teams {
        let cells = [
            team.clone(),
            count(answer, "/cycle_time/count"),
            duration(num(answer, "/cycle_time/p50_seconds")),
            count(answer, "/lead_time/count"),
            duration(num(answer, "/lead_time/p50_seconds")),
        ];
        push_row(&mut out, &cells, &WIDTHS);
    }
    let mut waiting: Vec<String> = Vec::new();
    for repo in environments["repos"].as_array().into_iter().flatten() {
        for env in repo["environments"].as_array().into_iter().flatten() {
            let (Some(prs), Some(next)) = (env["ahead_of_next"].as_array(), env["next"].as_str())
            else {
                continue;
            };
            let this = env["environment"].as_str().unwrap_or_default();
            for pr in prs {
                for ticket in pr["tickets"].as_array().into_iter().flatten() {
                    let key = ticket.as_str().unwrap_or_default();
                    let key = flowmeter::derive::ticket_key(key);
                    waiting.push(format!("{key} ({this}, not yet in {next})"));
                }
            }
        }
    }
    waiting.sort();
    waiting.dedup();
    out.push_str(&match waiting.len() {
        0 => "No ticket waits between environments.\n".to_string(),
        n => format!(
            "Waiting for the next environment ({n}): {}\n",
            waiting.join(", ")
        ),
    });
    out
}

/// Each team's security alerts over the whole history, from `GET /v1/security`
/// (`(team, answer)`): open now by severity, fixed, and the time to fix.
pub fn security(teams: &[(String, Value)]) -> String {
    const WIDTHS: [usize; 7] = [10, 9, 6, 8, 5, 7, 15];
    let mut out = String::from(
        "\nSecurity alerts (GitHub Dependabot, code scanning, secret scanning: open now; fixed in the history)\n",
    );
    let header = [
        "team",
        "critical",
        "high",
        "medium",
        "low",
        "fixed",
        "time to fix p50",
    ];
    push_row(&mut out, &header, &WIDTHS);
    for (team, answer) in teams {
        let cells = [
            team.clone(),
            count(answer, "/totals/open/critical"),
            count(answer, "/totals/open/high"),
            count(answer, "/totals/open/medium"),
            count(answer, "/totals/open/low"),
            count(answer, "/totals/fixed"),
            duration(num(answer, "/totals/time_to_fix/p50_seconds")),
        ];
        push_row(&mut out, &cells, &WIDTHS);
    }
    out
}

/// The promotions to ask the release-version gate about (`{repo, environment, sha}`): each
/// repo's default-branch head (`heads`) to the first environment, where that does not run it
/// yet, and each environment that is ahead of the next to the next (`GET /v1/environments`).
pub fn gate_requests(environments: &Value, heads: &BTreeMap<String, String>) -> Vec<Value> {
    let mut requests = Vec::new();
    for repo in environments["repos"].as_array().into_iter().flatten() {
        let name = repo["repo"].as_str().unwrap_or_default();
        let first = &repo["environments"][0];
        if let (Some(head), Some(env)) = (heads.get(name), first["environment"].as_str()) {
            if first["deployment"]["sha"].as_str() != Some(head.as_str()) {
                requests.push(serde_json::json!({"repo": name, "environment": env, "sha": head}));
            }
        }
        for env in repo["environments"].as_array().into_iter().flatten() {
            let ahead = env["ahead_of_next"]
                .as_array()
                .is_some_and(|p| !p.is_empty());
            let (Some(next), Some(sha)) = (env["next"].as_str(), env["deployment"]["sha"].as_str())
            else {
                continue;
            };
            if ahead {
                requests.push(
                    serde_json::json!({"repo": repo["repo"], "environment": next, "sha": sha}),
                );
            }
        }
    }
    requests
}

/// The release-version gate's verdicts (`POST /v1/gates/release-version` answers): one line
/// per promotion, the tickets that block it named.
pub fn release_gates(verdicts: &[Value]) -> String {
    let mut out =
        String::from("\nRelease gate (every Jira ticket a promotion brings needs a fix version)\n");
    if verdicts.is_empty() {
        out.push_str("Nothing waits to be promoted.\n");
    }
    for verdict in verdicts {
        let repo = text(verdict, "/repo").unwrap_or_default();
        let env = text(verdict, "/environment").unwrap_or_default();
        let sha = text(verdict, "/sha").unwrap_or_default();
        let short = sha.get(..7).unwrap_or(&sha);
        let missing: Vec<String> = verdict["missing_fix_version"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["key"].as_str().map(str::to_string))
            .collect();
        let said = if verdict["allowed"] == true {
            let message = text(verdict, "/message").unwrap_or_default();
            let first = message.lines().next().unwrap_or_default();
            format!("allowed: {}", first.trim_start_matches("Release allowed: "))
        } else {
            format!("blocked: {} without a fix version", missing.join(", "))
        };
        out.push_str(&format!("  {repo} → {env} at {short}: {said}\n"));
    }
    out
}

/// One chat channel of the config's `notifications.routes`, as the demo's Slack stand-in saw
/// it.
#[derive(Clone, Debug, Default)]
pub struct ChannelMessages {
    pub channel: String,
    /// What its route sends it (`deployment.failed, deployment.recovered in production`).
    pub route: String,
    /// The bodies posted to its webhook, oldest first (Slack's `{"text": …, "blocks": …}`).
    pub messages: Vec<Value>,
}

/// The most characters of a message's text the report shows.
const MESSAGE_CHARS: usize = 90;

/// A message's text fallback as one line of the report: its first line, control characters
/// escaped (`\t`, `\u{1b}`), cut at [`MESSAGE_CHARS`] with `…`.
fn one_line(message: &Value) -> String {
    let text = match message {
        Value::String(s) => s.as_str(),
        other => other["text"].as_str().unwrap_or_default(),
    };
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut escaped = String::new();
    for c in first.trim().chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    if escaped.is_empty() {
        return "(no text)".into();
    }
    match escaped.char_indices().nth(MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Events out: the domain events on the dev server's local bus by type (`bus`, the answer of
/// `GET /dev/events`; `Value::Null` when the server has none), and per channel of the
/// config's routes the messages it got, with the text of the most recent (`channels`; empty
/// when nothing watched them). `newest_change` (the history's newest change) and `now` say why
/// the bus is empty when it is: only changes of the last `MAX_AGE_HOURS` are announced.
pub fn events_out(
    bus: &Value,
    channels: &[ChannelMessages],
    newest_change: Option<DateTime<Utc>>,
    live: Option<&str>,
    now: DateTime<Utc>,
) -> String {
    let max_age = flowmeter::events::MAX_AGE_HOURS;
    let mut out = format!(
        "\nEvents out (what the rollup announced on the event bus, and the chat channels \
         notifications.routes sent it to; only changes of the last {max_age}h are announced)\n"
    );
    if bus.is_null() {
        out.push_str("Bus: not available (the dev server answers no GET /dev/events)\n");
    } else {
        let by_type: Vec<(&String, u64)> = bus["by_type"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(kind, n)| (kind, n.as_u64().unwrap_or(0)))
            .collect();
        let total: u64 = by_type.iter().map(|(_, n)| n).sum();
        let name = bus["bus"]
            .as_str()
            .filter(|b| !b.is_empty())
            .unwrap_or("(any)");
        out.push_str(&format!(
            "Bus {name}: {}\n",
            plural(total as usize, "event", "events")
        ));
        for (kind, n) in &by_type {
            out.push_str(&format!("  {kind:<22} {n:>5}\n"));
        }
        // Why the history's changes are not on it, when they are too old (events decided at
        // the time of asking, such as a team's verdict, may be), and what is: the live step's.
        match newest_change {
            Some(at) if now - at > chrono::Duration::hours(max_age) => out.push_str(&format!(
                "  the history's newest change ({}) is {} old: none of its changes is announced\n",
                at.format("%Y-%m-%d %H:%M UTC"),
                duration(Some((now - at).num_seconds() as f64))
            )),
            None if total == 0 && live.is_none() => out.push_str("  none: the history is empty\n"),
            _ => {}
        }
        if let Some(live) = live {
            out.push_str(&format!("  live, after the history: {live}\n"));
        }
    }
    if channels.is_empty() {
        out.push_str(
            "Channels: not watched (`flowmeter-demo stack` points them at its Slack stand-in)\n",
        );
        return out;
    }
    out.push_str("Channels (their Slack webhooks: the demo's stand-in)\n");
    for channel in channels {
        out.push_str(&format!("  {:<10} {}\n", channel.channel, channel.route));
        let count = plural(channel.messages.len(), "message", "messages");
        match channel.messages.last() {
            Some(last) => out.push_str(&format!(
                "  {:<10} {count}; the last: \"{}\"\n",
                "",
                one_line(last)
            )),
            None => out.push_str(&format!("  {:<10} {count}\n", "")),
        }
    }
    out
}

#[cfg(test)]
mod tests;
