//! The digest as plain text: the email's `text/plain` part (and a readable preview file).

use std::fmt::Write;

use super::model::{Digest, ListRow, Metric, ATTENTION_RULE, FLOW_TITLE, GOALS_TITLE};

/// The digest as plain text, lines ending in `\n`.
pub fn render_text(digest: &Digest) -> String {
    let mut out = String::new();
    line(
        &mut out,
        &format!("Weekly digest · {} · {}", digest.org, digest.week),
    );
    line(&mut out, &digest.dates);
    line(&mut out, &format!("Generated {}", digest.generated));
    org_headline(&mut out, digest);
    attention(&mut out, digest);
    listed(&mut out, GOALS_TITLE, digest.goal_rows());
    listed(&mut out, FLOW_TITLE, digest.flow_rows());
    teams(&mut out, digest);
    slowest_prs(&mut out, digest);
    open_incidents(&mut out, digest);

    out.push('\n');
    if let Some(url) = &digest.dashboard_url {
        line(&mut out, &format!("Dashboard: {url}"));
    }
    line(&mut out, ATTENTION_RULE);
    out
}

fn org_headline(out: &mut String, digest: &Digest) {
    heading(out, &format!("{} — DORA", digest.org));
    if digest.headline.no_data {
        line(
            out,
            "No data was recorded for the org this week: no deployments, PRs or incidents.",
        );
        return;
    }
    for metric in digest.headline.metrics() {
        line(out, &format!("- {}", metric_line(metric, true)));
    }
}

fn attention(out: &mut String, digest: &Digest) {
    heading(out, "Needs attention");
    if digest.attention.is_empty() {
        line(out, "No team needs attention this week.");
    }
    for attention in &digest.attention {
        line(out, &format!("- {}: {}", attention.team, attention.summary));
    }
}

/// A titled list of `subject: summary` lines; nothing when there is none.
fn listed<'a>(out: &mut String, title: &str, items: impl ExactSizeIterator<Item = ListRow<'a>>) {
    if items.len() == 0 {
        return;
    }
    heading(out, title);
    for (subject, summary) in items {
        line(out, &format!("- {subject}: {summary}"));
    }
}

fn teams(out: &mut String, digest: &Digest) {
    heading(out, "Teams");
    if digest.teams.is_empty() {
        line(out, "No teams configured.");
    }
    for (i, team) in digest.teams.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if team.no_data {
            line(
                out,
                &format!("{}: no data recorded for this team this week", team.name),
            );
            continue;
        }
        if team.needs_attention {
            line(out, &format!("{} (needs attention)", team.name));
        } else {
            line(out, &team.name);
        }
        for metric in team.metrics() {
            line(out, &format!("  {}", metric_line(metric, false)));
        }
    }
}

fn slowest_prs(out: &mut String, digest: &Digest) {
    heading(out, "Slowest PRs merged this week");
    if digest.slowest_prs.is_empty() {
        line(out, "No PRs merged this week.");
    }
    for pr in &digest.slowest_prs {
        line(
            out,
            &format!(
                "- {}#{} {} ({})",
                pr.repo,
                pr.number,
                pr.title,
                pr.details(str::to_string).join(", ")
            ),
        );
        if let Some(url) = &pr.url {
            line(out, &format!("  {url}"));
        }
    }
}

fn open_incidents(out: &mut String, digest: &Digest) {
    heading(out, "Open incidents");
    if digest.open_incidents.is_empty() {
        line(out, "No incidents open.");
    }
    for incident in &digest.open_incidents {
        let severity = incident
            .severity
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        line(
            out,
            &format!(
                "- {} {}{severity} — open {}, since {}",
                incident.id, incident.service, incident.age, incident.opened
            ),
        );
    }
    if digest.more_open_incidents > 0 {
        line(out, &format!("…and {} more", digest.more_open_incidents));
    }
}

fn line(out: &mut String, text: &str) {
    let _ = writeln!(out, "{text}");
}

fn heading(out: &mut String, text: &str) {
    let _ = writeln!(out, "\n{text}\n{}", "=".repeat(text.chars().count()));
}

/// `Lead time p50: 6 h · elite — ▼ 1 h (from 7 h)`, or the no-data words.
fn metric_line(metric: &Metric, sentence: bool) -> String {
    let value = match (&metric.no_data, sentence) {
        (Some(no_data), true) => no_data.clone(),
        _ => metric.value_with_level(),
    };
    match &metric.change {
        Some(change) => format!("{}: {value} — {}", metric.kind.label(), change.text),
        None => format!("{}: {value}", metric.kind.label()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::build_digest;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn digest_text_reads_without_markup() {
        let text = render_text(&sample_digest());
        assert!(text.starts_with("Weekly digest · acme · 2026-W42\n12–18 Oct 2026\n"));
        assert!(text.contains(
            "\nNeeds attention\n===============\n- Payments: lead time p50 rose from 6 h to 2.1 d; \
             3 PRs waited over 2 days for a first review\n"
        ));
        assert!(
            text.contains("\nPayments (needs attention)\n  Deployments: 5 · elite — no change\n")
        );
        assert!(text.contains("\nMobile <& Web>: no data recorded for this team this week\n"));
        assert!(text.contains("  https://github.com/acme/payments/pull/7\n"));
        assert!(text.contains("- pd:Q1 checkout (sev2) — open 2 d, since Sat 17 Oct 09:00\n"));
        assert!(text.contains("Dashboard: https://flowmeter.example.com\n"));
    }

    #[test]
    fn digest_text_says_when_there_is_no_data() {
        let text = render_text(&build_digest(&input(vec![team(
            "Empty",
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )])));
        assert!(text.contains(
            "No data was recorded for the org this week: no deployments, PRs or incidents.\n"
        ));
        assert!(text.contains("Empty: no data recorded for this team this week\n"));
        assert!(text.contains("No team needs attention this week.\n"));
        assert!(text.contains("No PRs merged this week.\n"));
        assert!(text.contains("No incidents open.\n"));
        assert!(!text.contains(": 0\n"));
    }
}
