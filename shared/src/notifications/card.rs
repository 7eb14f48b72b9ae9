//! Each event laid out for people, before any chat's markup: its headline, its context a line
//! each, a list (a deployment's shipped PRs), a footer, and the one line a grouped message
//! gives it. `message` turns cards into Slack's and Teams' messages.

use chrono_tz::Tz;

use super::message::{
    MAX_NAME_CHARS, MAX_SHIPPED_LISTED, MAX_TICKETS, MAX_TITLE_CHARS, MAX_URL_CHARS,
};
use crate::config::PRODUCTION;
use crate::digest::format;
use crate::events::{DeploymentDetail, DomainEvent, EventType, PullRequestDetail};

/// A piece of a line. Every string in it is raw text, escaped only when rendered.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Piece {
    Text(String),
    /// Bold in both chats.
    Strong(String),
    /// A link when the URL is one ([`link_target`]), else the label as text.
    Link(Option<String>, String),
}

/// One line of a message, in pieces.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Line(pub(super) Vec<Piece>);

impl Line {
    pub(super) fn text(mut self, text: impl Into<String>) -> Line {
        self.0.push(Piece::Text(text.into()));
        self
    }

    pub(super) fn strong(mut self, text: impl Into<String>) -> Line {
        self.0.push(Piece::Strong(text.into()));
        self
    }

    pub(super) fn link(mut self, url: Option<String>, label: impl Into<String>) -> Line {
        self.0.push(Piece::Link(url, label.into()));
        self
    }

    /// The pieces joined by `·`, skipping empty ones.
    pub(super) fn joined(parts: Vec<Line>) -> Line {
        let mut line = Line::default();
        for (i, part) in parts.into_iter().filter(|p| !p.0.is_empty()).enumerate() {
            if i > 0 {
                line = line.text(" · ");
            }
            line.0.extend(part.0);
        }
        line
    }
}

/// An event laid out for people, before any chat's markup.
pub(super) struct Card {
    /// The message's title, all text (no links): Teams shows it as the card's title.
    pub(super) headline: String,
    /// The event's context, a line each.
    pub(super) details: Vec<Line>,
    /// A list under the details (a deployment's shipped PRs), its title first.
    pub(super) list: Vec<Line>,
    /// When, what kind, whose.
    pub(super) footer: Line,
    /// The event as one line of a grouped message.
    pub(super) summary: Line,
    /// Teams' button: its title and URL.
    pub(super) action: Option<(&'static str, String)>,
}

impl Card {
    /// A card of its headline alone: an event whose subject is missing (no source sends one;
    /// a hand-made event on the bus might).
    pub(super) fn bare(headline: String) -> Card {
        Card {
            details: Vec::new(),
            list: Vec::new(),
            footer: Line::default(),
            summary: Line::default().text(&headline),
            headline,
            action: None,
        }
    }
}

/// Untrusted text on one line, cut to `max` characters.
pub(super) fn clean(text: &str, max: usize) -> String {
    format::truncate(&format::one_line(text), max)
}

/// A URL that may become a link: `format::safe_url`, and at most [`MAX_URL_CHARS`] once a
/// chat has escaped it (Slack writes `&` as `&amp;`, Teams percent-encodes brackets).
pub(super) fn link_target(url: Option<&str>) -> Option<String> {
    let escaped_len = |u: &str| -> usize {
        u.chars()
            .map(|c| match c {
                '&' => 5,
                '(' | ')' | '[' | ']' | '\\' => 3,
                _ => 1,
            })
            .sum()
    };
    url.and_then(format::safe_url)
        .filter(|u| escaped_len(u) <= MAX_URL_CHARS)
        .map(str::to_string)
}

pub(super) fn card(event: &DomainEvent, tz: Tz) -> Card {
    let mut card = match event.kind {
        EventType::DeploymentFinished => deployment_finished(event),
        EventType::DeploymentFailed => deployment_failed(event),
        EventType::DeploymentRecovered => deployment_recovered(event),
        EventType::IncidentOpened | EventType::IncidentResolved => incident(event, tz),
        EventType::PullRequestMerged => pull_request_merged(event),
        EventType::PullRequestWaiting => pull_request_waiting(event),
        EventType::SecurityAlert => security_alert(event),
        EventType::TeamNeedsAttention => team_needs_attention(event),
    };
    let mut footer = vec![
        Line::default().text(format::local_time(event.occurred_at, tz)),
        Line::default().text(event.kind.as_str()),
    ];
    if !event.teams.is_empty() {
        let teams: Vec<String> = event
            .teams
            .iter()
            .map(|t| clean(t, MAX_NAME_CHARS))
            .collect();
        footer.push(Line::default().text(format!("teams: {}", teams.join(", "))));
    }
    card.footer = Line::joined(footer);
    card
}

pub(super) fn repo_of(event: &DomainEvent) -> String {
    let repo = event
        .repo
        .as_deref()
        .or(event.deployment.as_ref().map(|d| d.repo.as_str()))
        .unwrap_or("an unknown repository");
    clean(repo, MAX_NAME_CHARS)
}

fn environment_of(event: &DomainEvent) -> String {
    let deployment = event.deployment.as_ref();
    let environment = event
        .environment
        .as_deref()
        .or(deployment.and_then(|d| d.environment.as_deref()))
        .or(deployment.and_then(|d| d.source_environment.as_deref()))
        .unwrap_or("an unknown environment");
    clean(environment, MAX_NAME_CHARS)
}

/// A deployment's commit as people name it: the short sha, else its id.
fn short_commit(d: &DeploymentDetail) -> String {
    match &d.sha {
        Some(sha) => format::one_line(sha).chars().take(7).collect(),
        None => clean(&d.id, MAX_NAME_CHARS),
    }
}

/// `Commit <abc1234> · took 4 min · workflow Deploy`, each part when known.
fn deployment_facts(d: &DeploymentDetail) -> Line {
    let mut parts = vec![Line::default()
        .text("Commit ")
        .link(link_target(d.url.as_deref()), short_commit(d))];
    if let Some(seconds) = d.duration_seconds {
        parts.push(Line::default().text(format!("took {}", format::duration(seconds))));
    }
    if let Some(workflow) = &d.workflow {
        parts.push(
            Line::default()
                .text("workflow ")
                .text(clean(workflow, MAX_NAME_CHARS)),
        );
    }
    Line::joined(parts)
}

fn commit_action(d: Option<&DeploymentDetail>) -> Option<(&'static str, String)> {
    d.and_then(|d| link_target(d.url.as_deref()))
        .map(|url| ("View commit", url))
}

/// `PAY-12, PAY-13`, the first [`MAX_TICKETS`] and a count of the rest.
fn tickets(tickets: &[String]) -> String {
    let mut named: Vec<String> = tickets
        .iter()
        .take(MAX_TICKETS)
        .map(|t| clean(t, 30))
        .collect();
    if tickets.len() > MAX_TICKETS {
        named.push(format!("{} more", tickets.len() - MAX_TICKETS));
    }
    named.join(", ")
}

/// `• #12 Add retries by alice · PAY-12`, the number and title linked to the PR.
fn shipped_line(pr: &PullRequestDetail) -> Line {
    let label = format!("#{} {}", pr.number, clean(&pr.title, MAX_TITLE_CHARS));
    let mut line = Line::default()
        .text("• ")
        .link(link_target(pr.url.as_deref()), label)
        .text(format!(" by {}", clean(&pr.author, MAX_NAME_CHARS)));
    if !pr.tickets.is_empty() {
        line = line.text(format!(" · {}", tickets(&pr.tickets)));
    }
    line
}

fn deployment_finished(event: &DomainEvent) -> Card {
    let (repo, environment) = (repo_of(event), environment_of(event));
    let icon = if environment == PRODUCTION {
        "🚀"
    } else {
        "✅"
    };
    let d = event.deployment.as_ref();
    let shipped = event.shipped.as_deref();
    let mut list = Vec::new();
    match shipped {
        Some([]) => list.push(Line::default().text("Shipped no new PRs.")),
        Some(prs) => {
            list.push(Line::default().strong(format!(
                "Shipped {}:",
                format::plural(prs.len() as u64, "PR", "PRs")
            )));
            list.extend(prs.iter().take(MAX_SHIPPED_LISTED).map(shipped_line));
            if prs.len() > MAX_SHIPPED_LISTED {
                list.push(
                    Line::default().text(format!("…and {} more", prs.len() - MAX_SHIPPED_LISTED)),
                );
            }
        }
        None => {}
    }
    let mut summary = vec![Line::default()
        .text(format!("{icon} "))
        .strong(repo.clone())
        .text(format!(" deployed to {environment}"))];
    if let Some(d) = d {
        summary.push(Line::default().link(link_target(d.url.as_deref()), short_commit(d)));
        if let Some(seconds) = d.duration_seconds {
            summary.push(Line::default().text(format::duration(seconds)));
        }
    }
    if let Some(prs) = shipped {
        summary.push(Line::default().text(format::plural(prs.len() as u64, "PR", "PRs")));
    }
    Card {
        headline: format!("{icon} {repo} deployed to {environment}"),
        details: d.map(deployment_facts).into_iter().collect(),
        list,
        footer: Line::default(),
        summary: Line::joined(summary),
        action: commit_action(d),
    }
}

fn deployment_failed(event: &DomainEvent) -> Card {
    let (repo, environment) = (repo_of(event), environment_of(event));
    let d = event.deployment.as_ref();
    let state = d.map_or("failure".to_string(), |d| clean(&d.state, 30));
    let mut details: Vec<Line> = d.map(deployment_facts).into_iter().collect();
    details.push(Line::default().text("Not recovered yet."));
    let mut summary = vec![Line::default()
        .text("❌ ")
        .strong(repo.clone())
        .text(format!(" deployment to {environment} failed ({state})"))];
    if let Some(d) = d {
        summary.push(Line::default().link(link_target(d.url.as_deref()), short_commit(d)));
    }
    Card {
        headline: format!("❌ {repo} deployment to {environment} failed ({state})"),
        details,
        list: Vec::new(),
        footer: Line::default(),
        summary: Line::joined(summary),
        action: commit_action(d),
    }
}

/// `abc1234 (gh:123, failure)`, the short sha linked to the commit.
fn named_deployment(label: &str, d: &DeploymentDetail, with_state: bool) -> Line {
    let id = clean(&d.id, MAX_NAME_CHARS);
    let about = if with_state {
        format!(" ({id}, {})", clean(&d.state, 30))
    } else {
        format!(" ({id})")
    };
    Line::default()
        .text(label)
        .link(link_target(d.url.as_deref()), short_commit(d))
        .text(about)
}

fn deployment_recovered(event: &DomainEvent) -> Card {
    let (repo, environment) = (repo_of(event), environment_of(event));
    let after = event
        .recovery_seconds
        .map(|s| format!(" after {}", format::duration(s)))
        .unwrap_or_default();
    let failed = event.deployment.as_ref();
    let fix = event.recovered_by.as_ref();
    let mut details = Vec::new();
    details.extend(failed.map(|d| named_deployment("Failed: ", d, true)));
    details.extend(fix.map(|d| named_deployment("Recovered by: ", d, false)));
    if let Some(seconds) = event.recovery_seconds {
        details.push(Line::default().text(format!("Recovery time: {}", format::duration(seconds))));
    }
    let mut summary = Line::default()
        .text("🩹 ")
        .strong(repo.clone())
        .text(format!(" recovered on {environment}{after}"));
    if let Some(d) = failed {
        summary = summary
            .text(": ")
            .link(link_target(d.url.as_deref()), short_commit(d));
    }
    if let Some(d) = fix {
        summary = summary
            .text(" fixed by ")
            .link(link_target(d.url.as_deref()), short_commit(d));
    }
    Card {
        headline: format!("🩹 {repo} recovered on {environment}{after}"),
        details,
        list: Vec::new(),
        footer: Line::default(),
        summary,
        action: fix
            .and_then(|d| link_target(d.url.as_deref()))
            .map(|url| ("View the fix", url)),
    }
}

fn incident(event: &DomainEvent, tz: Tz) -> Card {
    let resolved = event.kind == EventType::IncidentResolved;
    let icon = if resolved { "✅" } else { "🚨" };
    let what = if resolved {
        "Incident resolved"
    } else {
        "Incident opened"
    };
    let severity = event.severity.as_deref().map(|s| clean(s, 30));
    let Some(i) = &event.incident else {
        return Card::bare(format!("{icon} {what}"));
    };
    let title = clean(&i.title, MAX_TITLE_CHARS);
    let url = link_target(i.url.as_deref());
    let services: Vec<String> = if i.services.is_empty() {
        vec![clean(&i.service, MAX_NAME_CHARS)]
    } else {
        i.services
            .iter()
            .take(10)
            .map(|s| clean(s, MAX_NAME_CHARS))
            .collect()
    };
    let services = format!(
        "{}: {}",
        if services.len() == 1 {
            "Service"
        } else {
            "Services"
        },
        services.join(", ")
    );
    let duration = i
        .duration_seconds
        .filter(|_| resolved)
        .map(format::duration);
    let mut details = vec![Line::default().text(&services)];
    if let Some(severity) = &severity {
        details.push(Line::default().text(format!("Severity: {severity}")));
    }
    let mut opened = Line::default()
        .text("Incident ")
        .link(url.clone(), clean(&i.id, MAX_NAME_CHARS))
        .text(format!(" · opened {}", format::local_time(i.opened_at, tz)));
    if let (true, Some(at)) = (resolved, i.resolved_at) {
        opened = opened.text(format!(", resolved {}", format::local_time(at, tz)));
    }
    details.push(opened);
    if let Some(duration) = &duration {
        details.push(Line::default().text(format!("Open for {duration}")));
    }
    let lead = match &duration {
        Some(duration) => format!("{icon} {what} after {duration}: "),
        None => format!("{icon} {what}: "),
    };
    let mut summary = vec![
        Line::default().text(lead).link(url.clone(), title.clone()),
        Line::default().text(services),
    ];
    if let Some(severity) = severity {
        summary.push(Line::default().text(severity));
    }
    Card {
        headline: format!("{icon} {what}: {title}"),
        details,
        list: Vec::new(),
        footer: Line::default(),
        summary: Line::joined(summary),
        action: url.map(|url| ("Open the incident", url)),
    }
}

fn pull_request_merged(event: &DomainEvent) -> Card {
    let Some(pr) = &event.pull_request else {
        return Card::bare(format!("🔀 PR merged in {}", repo_of(event)));
    };
    let name = format!("{}#{}", clean(&pr.repo, MAX_NAME_CHARS), pr.number);
    let title = clean(&pr.title, MAX_TITLE_CHARS);
    let author = clean(&pr.author, MAX_NAME_CHARS);
    let url = link_target(pr.url.as_deref());
    let mut details = vec![Line::default()
        .link(url.clone(), name.clone())
        .text(format!(" by {author}"))];
    let cycle = pr.cycle_seconds.map(format::duration);
    if let Some(cycle) = &cycle {
        details.push(Line::default().text(format!("Cycle time: {cycle}")));
    }
    if !pr.tickets.is_empty() {
        details.push(Line::default().text(format!("Tickets: {}", tickets(&pr.tickets))));
    }
    let mut summary = vec![Line::default()
        .text("🔀 ")
        .link(url.clone(), name.clone())
        .text(format!(" {title} by {author}"))];
    if let Some(cycle) = cycle {
        summary.push(Line::default().text(format!("cycle time {cycle}")));
    }
    if !pr.tickets.is_empty() {
        summary.push(Line::default().text(tickets(&pr.tickets)));
    }
    Card {
        headline: format!("🔀 {name} merged: {title}"),
        details,
        list: Vec::new(),
        footer: Line::default(),
        summary: Line::joined(summary),
        action: url.map(|url| ("Open the PR", url)),
    }
}

fn security_alert(event: &DomainEvent) -> Card {
    let repo = repo_of(event);
    let severity = clean(event.severity.as_deref().unwrap_or("unknown"), 30);
    let Some(a) = &event.alert else {
        return Card::bare(format!("🔒 {severity} security alert in {repo}"));
    };
    let title = clean(&a.title, MAX_TITLE_CHARS);
    let kind = clean(&a.kind, 30).replace('_', " ");
    let url = link_target(a.url.as_deref());
    let details = vec![
        Line::default().text(format!("Severity: {severity}")),
        Line::default()
            .text("Alert ")
            .link(url.clone(), format!("{kind} #{}", a.number))
            .text(format!(" in {repo}")),
    ];
    let summary = Line::default()
        .text(format!("🔒 {severity} {kind} alert in "))
        .strong(repo.clone())
        .text(": ")
        .link(url.clone(), title.clone());
    Card {
        headline: format!("🔒 {severity} security alert in {repo}: {title}"),
        details,
        list: Vec::new(),
        footer: Line::default(),
        summary,
        action: url.map(|url| ("Open the alert", url)),
    }
}

fn pull_request_waiting(event: &DomainEvent) -> Card {
    let Some(pr) = &event.pull_request else {
        return Card::bare(format!("⏳ A PR waits for review in {}", repo_of(event)));
    };
    let repo = clean(&pr.repo, MAX_NAME_CHARS);
    let title = clean(&pr.title, MAX_TITLE_CHARS);
    let author = clean(&pr.author, MAX_NAME_CHARS);
    let url = link_target(pr.url.as_deref());
    let waited = event
        .waiting_seconds
        .map(format::duration)
        .unwrap_or_else(|| "a while".into());
    let summary = Line::default()
        .text("⏳ ")
        .link(url.clone(), format!("{repo}#{}", pr.number))
        .text(format!(" {title} by {author}: no review after {waited}"));
    Card {
        headline: format!(
            "⏳ {repo}#{} waits for a first review ({waited})",
            pr.number
        ),
        details: vec![
            Line::default().link(url.clone(), format!("#{} {title}", pr.number)),
            Line::default().text(format!("by {author} · no review after {waited}")),
        ],
        list: Vec::new(),
        footer: Line::default(),
        summary,
        action: url.map(|url| ("Review the PR", url)),
    }
}

fn team_needs_attention(event: &DomainEvent) -> Card {
    let Some(a) = &event.attention else {
        return Card::bare("⚠️ A team needs attention".to_string());
    };
    let team = clean(&a.team, MAX_NAME_CHARS);
    let week = clean(&a.week, 10);
    let mut details: Vec<Line> = a
        .reasons
        .iter()
        .map(|reason| Line::default().text(format!("• {}", clean(reason, MAX_TITLE_CHARS))))
        .collect();
    if a.waited_for_review > 0 {
        details.push(Line::default().text(format!(
            "• {} waited over 2 days for a first review",
            format::plural(a.waited_for_review, "PR", "PRs")
        )));
    }
    let summary = Line::default()
        .text("⚠️ ")
        .strong(team.clone())
        .text(format!(
            " needs attention ({week}): {}",
            clean(&a.summary, MAX_TITLE_CHARS)
        ));
    Card {
        headline: format!("⚠️ Team {team} needs attention ({week})"),
        details,
        list: Vec::new(),
        footer: Line::default(),
        summary,
        action: None,
    }
}
