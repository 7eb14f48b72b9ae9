//! The digest as an email: subject, HTML and plain-text parts (for SES v2 `SendEmail`).
//!
//! The HTML is written for real mail clients, which ignore or strip `<style>`, scripts, SVG
//! and often remote images: tables for layout, inline CSS only, no images or other external
//! assets, one column at most 600 px wide (`width="600"` for Outlook, `max-width:600px` and
//! `width:100%` for the rest). Every table has `table-layout:fixed` and every cell breaks long
//! words (`word-break:break-word; overflow-wrap:anywhere`), so a long team name or an unbroken
//! PR title wraps inside its column instead of widening the page.

use std::fmt::Write;

use super::format::{self, html_escape as h};
use super::model::{
    Digest, ListRow, Metric, MetricKind, TeamRow, ATTENTION_RULE, FLOW_TITLE, GOALS_TITLE,
};
use super::text::render_text;

/// What SES sends: a subject and the two bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailContent {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Subject, HTML and plain text of the digest.
pub fn render_email(digest: &Digest) -> EmailContent {
    EmailContent {
        subject: email_subject(digest),
        html: render_html(digest),
        text: render_text(digest),
    }
}

/// `acme weekly digest, 12–18 Oct 2026: 1 team needs attention`.
pub fn email_subject(digest: &Digest) -> String {
    let attention = match digest.attention.len() {
        0 => "no team needs attention".to_string(),
        1 => "1 team needs attention".to_string(),
        n => format!("{n} teams need attention"),
    };
    format!(
        "{} weekly digest, {}: {attention}",
        format::truncate(&digest.org, 100),
        digest.dates
    )
}

const FONT: &str =
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;";
const WRAP: &str = "word-break:break-word;overflow-wrap:anywhere;";
const TABLE: &str =
    r#"role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0""#;
const MUTED: &str = "#6b7280";
const BETTER: &str = "#067647";
const WORSE: &str = "#b42318";
const LINK: &str = "#1d4ed8";
const BORDER: &str = "#e5e7eb";

/// The HTML part: a complete document.
pub fn render_html(digest: &Digest) -> String {
    let mut o = String::new();
    let title = h(&email_subject(digest));
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"x-apple-disable-message-reformatting\">\n<title>{title}</title>\n</head>\n\
         <body style=\"margin:0;padding:0;background-color:#f3f4f6;\">\n\
         <table {TABLE} style=\"width:100%;background-color:#f3f4f6;\">\n\
         <tr><td align=\"center\" style=\"padding:16px 8px;{WRAP}\">\n\
         <table role=\"presentation\" width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
         style=\"width:100%;max-width:600px;table-layout:fixed;border-collapse:collapse;\
         background-color:#ffffff;{FONT}font-size:14px;line-height:20px;color:#111827;\">"
    );

    // Title.
    let _ = writeln!(
        o,
        "<tr><td style=\"padding:20px 20px 8px 20px;{WRAP}\">\
         <div style=\"font-size:12px;color:{MUTED};text-transform:uppercase;letter-spacing:1px;\">Weekly digest</div>\
         <div style=\"font-size:22px;line-height:28px;font-weight:bold;\">{}</div>\
         <div style=\"font-size:14px;color:#374151;\">{} · {}</div></td></tr>",
        h(&digest.org),
        h(&digest.week),
        h(&digest.dates)
    );

    headline(&mut o, digest);
    attention(&mut o, digest);
    listed(&mut o, GOALS_TITLE, digest.goal_rows());
    listed(&mut o, FLOW_TITLE, digest.flow_rows());
    teams(&mut o, digest);
    slowest_prs(&mut o, digest);
    open_incidents(&mut o, digest);

    // Footer.
    let _ = write!(
        o,
        "<tr><td style=\"padding:16px 20px 20px 20px;border-top:1px solid {BORDER};font-size:12px;line-height:18px;color:{MUTED};{WRAP}\">"
    );
    if let Some(url) = &digest.dashboard_url {
        let _ = write!(
            o,
            "<p style=\"margin:0 0 8px 0;\"><a href=\"{}\" style=\"color:{LINK};font-weight:bold;\">Open the dashboard</a></p>",
            h(url)
        );
    }
    let _ = writeln!(
        o,
        "<p style=\"margin:0 0 8px 0;\">{}</p><p style=\"margin:0;\">Generated {}.</p></td></tr>",
        h(ATTENTION_RULE),
        h(&digest.generated)
    );
    o.push_str("</table>\n</td></tr>\n</table>\n</body>\n</html>\n");
    o
}

fn section_title(o: &mut String, title: &str) {
    let _ = writeln!(
        o,
        "<tr><td style=\"padding:16px 20px 6px 20px;font-size:16px;line-height:22px;font-weight:bold;{WRAP}\">{}</td></tr>",
        h(title)
    );
}

/// A muted line in place of a section that has nothing to list.
fn none_row(o: &mut String, text: &str) {
    let _ = writeln!(
        o,
        "<tr><td style=\"padding:0 20px 8px 20px;color:{MUTED};font-style:italic;{WRAP}\">{text}</td></tr>"
    );
}

fn change_html(metric: &Metric) -> String {
    let Some(change) = &metric.change else {
        return String::new();
    };
    let color = match change.better {
        Some(true) => BETTER,
        Some(false) => WORSE,
        None => MUTED,
    };
    format!("<span style=\"color:{color};\">{}</span>", h(&change.text))
}

fn headline(o: &mut String, digest: &Digest) {
    section_title(o, "Org — DORA");
    if digest.headline.no_data {
        none_row(
            o,
            "No data was recorded for the org this week: no deployments, PRs or incidents.",
        );
        return;
    }
    let _ = writeln!(
        o,
        "<tr><td style=\"padding:0 20px 8px 20px;{WRAP}\">\n<table {TABLE} style=\"width:100%;table-layout:fixed;border-collapse:collapse;\">"
    );
    let metrics = digest.headline.metrics();
    for pair in metrics.chunks(2) {
        o.push_str("<tr>");
        for metric in pair {
            let value = match &metric.no_data {
                Some(sentence) => format!(
                    "<div style=\"font-size:14px;line-height:20px;color:{MUTED};font-style:italic;\">{}</div>",
                    h(sentence)
                ),
                None => format!(
                    "<div style=\"font-size:20px;line-height:26px;font-weight:bold;\">{}</div>",
                    h(&metric.display)
                ),
            };
            let level = metric
                .level
                .map(|l| format!("DORA {}", format::level(l)))
                .unwrap_or_default();
            let notes: Vec<String> = [h(&level), change_html(metric)]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(
                    "<div style=\"font-size:12px;line-height:18px;\">{}</div>",
                    notes.join(" · ")
                )
            };
            let _ = write!(
                o,
                "<td width=\"50%\" style=\"width:50%;padding:10px;vertical-align:top;border:1px solid {BORDER};background-color:#f9fafb;{WRAP}\">\
                 <div style=\"font-size:12px;color:{MUTED};\">{}</div>{value}{notes}</td>",
                h(metric.kind.label()),
            );
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n</td></tr>\n");
}

fn attention(o: &mut String, digest: &Digest) {
    section_title(o, "Needs attention");
    if digest.attention.is_empty() {
        let _ = writeln!(
            o,
            "<tr><td style=\"padding:0 20px 8px 20px;{WRAP}\">No team needs attention this week.</td></tr>"
        );
        return;
    }
    for item in &digest.attention {
        let _ = writeln!(
            o,
            "<tr><td style=\"padding:0 20px 8px 20px;{WRAP}\">\
             <table {TABLE} style=\"width:100%;table-layout:fixed;border-collapse:collapse;\"><tr>\
             <td style=\"padding:8px 10px;border-left:4px solid #d92d20;background-color:#fef3f2;{WRAP}\">\
             <strong>{}</strong><br>{}</td></tr></table></td></tr>",
            h(&item.team),
            h(&item.summary)
        );
    }
}

/// A titled list of `subject: summary` rows; nothing when there is none.
fn listed<'a>(o: &mut String, title: &str, items: impl ExactSizeIterator<Item = ListRow<'a>>) {
    if items.len() == 0 {
        return;
    }
    section_title(o, title);
    for (subject, summary) in items {
        let _ = writeln!(
            o,
            "<tr><td style=\"padding:0 20px 8px 20px;{WRAP}\"><strong>{}</strong>: {}</td></tr>",
            h(subject),
            h(summary)
        );
    }
}

const TEAM_COLUMN: &str = "28%";
const METRIC_COLUMN: &str = "18%";

fn teams(o: &mut String, digest: &Digest) {
    section_title(o, "Teams");
    if digest.teams.is_empty() {
        let _ = writeln!(
            o,
            "<tr><td style=\"padding:0 20px 8px 20px;color:{MUTED};{WRAP}\">No teams configured.</td></tr>"
        );
        return;
    }
    team_table(
        o,
        digest,
        "Delivery",
        |t| {
            [
                &t.deployments,
                &t.lead_time,
                &t.change_failure_rate,
                &t.recovery,
            ]
        },
        [
            MetricKind::Deployments,
            MetricKind::LeadTime,
            MetricKind::ChangeFailureRate,
            MetricKind::Recovery,
        ],
    );
    team_table(
        o,
        digest,
        "Pull requests and incidents",
        |t| {
            [
                &t.cycle_time,
                &t.review_latency,
                &t.first_time_pass,
                &t.incidents_opened,
            ]
        },
        [
            MetricKind::CycleTime,
            MetricKind::ReviewLatency,
            MetricKind::FirstTimePass,
            MetricKind::IncidentsOpened,
        ],
    );
}

fn team_table(
    o: &mut String,
    digest: &Digest,
    caption: &str,
    pick: impl Fn(&TeamRow) -> [&Metric; 4],
    kinds: [MetricKind; 4],
) {
    let th = format!(
        "padding:6px 4px;font-size:11px;line-height:14px;color:{MUTED};text-align:left;font-weight:bold;border-bottom:2px solid {BORDER};{WRAP}"
    );
    let _ = write!(
        o,
        "<tr><td style=\"padding:0 20px 12px 20px;{WRAP}\">\n\
         <div style=\"font-size:13px;font-weight:bold;color:#374151;padding:4px 0;\">{}</div>\n\
         <table {TABLE} style=\"width:100%;table-layout:fixed;border-collapse:collapse;\">\n<tr>\
         <th width=\"{TEAM_COLUMN}\" style=\"width:{TEAM_COLUMN};{th}\">Team</th>",
        h(caption)
    );
    for kind in kinds {
        let _ = write!(
            o,
            "<th width=\"{METRIC_COLUMN}\" style=\"width:{METRIC_COLUMN};{th}\">{}</th>",
            h(kind.short_label())
        );
    }
    o.push_str("</tr>\n");
    let td = format!(
        "padding:6px 4px;vertical-align:top;border-bottom:1px solid {BORDER};font-size:13px;line-height:18px;{WRAP}"
    );
    for team in &digest.teams {
        let flag = if team.needs_attention {
            format!(
                "<br><span style=\"font-size:11px;color:{WORSE};font-weight:normal;\">needs attention</span>"
            )
        } else {
            String::new()
        };
        let _ = write!(
            o,
            "<tr><td style=\"{td}font-weight:bold;\">{}{flag}</td>",
            h(&team.name)
        );
        if team.no_data {
            let _ = writeln!(
                o,
                "<td colspan=\"4\" style=\"{td}color:{MUTED};font-style:italic;\">no data recorded for this team this week</td></tr>"
            );
            continue;
        }
        let metrics = pick(team);
        if metrics.iter().all(|m| m.value.is_none()) {
            // One sentence instead of four cells saying the same thing.
            let sentence = metrics[0].no_data.as_deref().unwrap_or("no data this week");
            let _ = writeln!(
                o,
                "<td colspan=\"4\" style=\"{td}color:{MUTED};font-style:italic;\">{}</td></tr>",
                h(sentence)
            );
            continue;
        }
        for metric in metrics {
            let value = match metric.value {
                Some(_) => h(&metric.display),
                None => format!(
                    "<span style=\"color:{MUTED};font-style:italic;\">{}</span>",
                    h(&metric.display)
                ),
            };
            let level = metric
                .level
                .map(|l| {
                    format!(
                        "<br><span style=\"font-size:11px;color:#374151;\">{}</span>",
                        format::level(l)
                    )
                })
                .unwrap_or_default();
            let change = if metric.change.is_some() {
                format!(
                    "<br><span style=\"font-size:11px;line-height:14px;\">{}</span>",
                    change_html(metric)
                )
            } else {
                String::new()
            };
            let _ = write!(o, "<td style=\"{td}\">{value}{level}{change}</td>");
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n</td></tr>\n");
}

fn slowest_prs(o: &mut String, digest: &Digest) {
    section_title(o, "Slowest PRs merged this week");
    if digest.slowest_prs.is_empty() {
        none_row(o, "No PRs merged this week.");
        return;
    }
    for pr in &digest.slowest_prs {
        let title = match &pr.url {
            Some(url) => format!(
                "<a href=\"{}\" style=\"color:{LINK};\">{}</a>",
                h(url),
                h(&pr.title)
            ),
            None => h(&pr.title),
        };
        let mut details = vec![format!("{}#{}", pr.repo, pr.number)];
        details.extend(pr.details(str::to_string));
        let _ = writeln!(
            o,
            "<tr><td style=\"padding:0 20px 8px 20px;{WRAP}\">{title}<br>\
             <span style=\"font-size:12px;color:{MUTED};\">{}</span></td></tr>",
            h(&details.join(" · "))
        );
    }
}

fn open_incidents(o: &mut String, digest: &Digest) {
    section_title(o, "Open incidents");
    if digest.open_incidents.is_empty() {
        none_row(o, "No incidents open.");
        return;
    }
    for incident in &digest.open_incidents {
        let severity = incident
            .severity
            .as_deref()
            .map(|s| format!(" · {s}"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "<tr><td style=\"padding:0 20px 8px 20px;{WRAP}\"><strong>{}</strong> · {}{}<br>\
             <span style=\"font-size:12px;color:{MUTED};\">open {}, since {}</span></td></tr>",
            h(&incident.service),
            h(&incident.id),
            h(&severity),
            h(&incident.age),
            h(&incident.opened)
        );
    }
    if digest.more_open_incidents > 0 {
        let _ = writeln!(
            o,
            "<tr><td style=\"padding:0 20px 8px 20px;color:{MUTED};{WRAP}\">…and {} more</td></tr>",
            digest.more_open_incidents
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::build_digest;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn digest_email_subject_counts_flagged_teams() {
        let digest = sample_digest();
        assert_eq!(
            email_subject(&digest),
            "acme weekly digest, 12–18 Oct 2026: 1 team needs attention"
        );
        let quiet = build_digest(&input(vec![steady("Platform")]));
        assert_eq!(
            email_subject(&quiet),
            "acme weekly digest, 12–18 Oct 2026: no team needs attention"
        );
        let two = build_digest(&big_input(2));
        assert_eq!(
            email_subject(&two),
            "acme weekly digest, 12–18 Oct 2026: 2 teams need attention"
        );
        // The model keeps names on one line, so a subject never breaks a header line.
        let mut odd = input(Vec::new());
        odd.org = "line\nbreak".to_string();
        assert_eq!(
            email_subject(&build_digest(&odd)),
            "line break weekly digest, 12–18 Oct 2026: no team needs attention"
        );
    }

    #[test]
    fn digest_email_html_escapes_and_says_when_there_is_no_data() {
        let content = render_email(&sample_digest());
        assert!(content.html.contains("Mobile &lt;&amp; Web&gt;"));
        assert!(content
            .html
            .contains("no data recorded for this team this week"));
        assert!(content
            .html
            .contains("href=\"https://github.com/acme/payments/pull/7\""));
        assert!(content.html.starts_with("<!DOCTYPE html>"));
        assert!(content.html.ends_with("</html>\n"));
        assert_eq!(content.text, render_text(&sample_digest()));

        let empty = render_email(&build_digest(&input(Vec::new())));
        assert!(empty.html.contains(
            "No data was recorded for the org this week: no deployments, PRs or incidents."
        ));
        assert!(empty.html.contains("No teams configured."));
        assert!(empty.html.contains("No PRs merged this week."));
        assert!(empty.html.contains("No incidents open."));
        assert!(!empty.html.contains("Open the dashboard"));
    }
}
