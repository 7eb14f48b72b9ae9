//! One channel's events as chat messages: Slack Block Kit ([`slack_messages`]) and Microsoft
//! Teams Adaptive Cards ([`teams_messages`], in the envelope the digest's Teams sender posts).
//!
//! Up to `group_after` events ([`NotificationConfig`]) each get a message of their own, with
//! their context (a deployment's commit, duration, workflow and shipped PRs; an incident's
//! services and severity; …). A bigger batch gets one grouped message set instead: a heading
//! that counts the events by kind (`12 events: 9 deployments finished, 2 failed, 1 recovered`)
//! and one line per event, split into as many messages as the chat's limits need.
//!
//! Each event is first laid out once as a [`Card`] of channel-neutral [`Line`]s (text, emphasis,
//! links), whose untrusted parts (titles, authors, repo, workflow and service names) are already
//! on one line and cut (`format::one_line`, `format::truncate`), and whose links are `http(s)`
//! only (`format::safe_url`). Each renderer then escapes every piece exactly as the digest
//! does for that chat (Slack: `&`, `<`, `>`; Teams: the Markdown metacharacters) and adds only
//! its own markup around them, so no event text can mention a channel or make a link.

use chrono_tz::Tz;
use serde_json::{json, Value};

use super::routes::NotificationConfig;
use crate::config::PRODUCTION;
use crate::digest::format;
use crate::digest::slack::{self, MAX_BLOCKS, MAX_HEADER_CHARS, MAX_SECTION_TEXT_CHARS};
use crate::digest::teams::{self, md_escape, TEAMS_TARGET_BYTES};
use crate::events::{DeploymentDetail, DomainEvent, EventType, PullRequestDetail};

/// Shipped PRs listed in a deployment's own message; the rest are counted (`…and 3 more`).
pub const MAX_SHIPPED_LISTED: usize = 10;
/// A title (PR, incident, alert) is cut to this many characters before it is escaped.
const MAX_TITLE_CHARS: usize = 150;
/// A name (repo, author, workflow, environment, service, id) is cut to this many.
const MAX_NAME_CHARS: usize = 100;
/// Longer URLs (counted escaped) are not linked (their label stays, as text): a link must
/// not eat a section.
const MAX_URL_CHARS: usize = 500;
/// Tickets named per PR; more are counted.
const MAX_TICKETS: usize = 5;
/// The Slack `text` fallback (a notification's preview), far inside Slack's 40,000.
const MAX_FALLBACK_CHARS: usize = 3000;
/// All block texts of one Slack message together. Slack refuses longer ones with
/// `msg_blocks_too_long` well before 50 full sections: the limit is undocumented and reported
/// at about 13,000 characters, so messages are split below it.
pub const MAX_SLACK_BLOCKS_TEXT_CHARS: usize = 12_000;

/// The events as Slack messages (`{"text": …, "blocks": […]}`), to be posted in order: one per
/// event up to `config.group_after` events, else the grouped set. Every message passes
/// [`crate::digest::check_block_kit_limits`].
pub fn slack_messages(events: &[DomainEvent], config: &NotificationConfig, tz: Tz) -> Vec<Value> {
    let cards: Vec<Card> = events.iter().map(|e| card(e, tz)).collect();
    if events.len() > config.group_after {
        slack_grouped(&group_heading(events), &cards)
    } else {
        cards.iter().map(slack_single).collect()
    }
}

/// The events as Teams messages (`{"type": "message", "attachments": [Adaptive Card]}`), to be
/// posted in order, grouped as [`slack_messages`] are. Every message passes
/// [`crate::digest::check_teams_message`].
pub fn teams_messages(events: &[DomainEvent], config: &NotificationConfig, tz: Tz) -> Vec<Value> {
    let cards: Vec<Card> = events.iter().map(|e| card(e, tz)).collect();
    if events.len() > config.group_after {
        teams_grouped(&group_heading(events), &cards)
    } else {
        cards.iter().map(teams_single).collect()
    }
}

/// A piece of a line. Every string in it is raw text, escaped only when rendered.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    /// Bold in both chats.
    Strong(String),
    /// A link when the URL is one ([`link_target`]), else the label as text.
    Link(Option<String>, String),
}

/// One line of a message, in pieces.
#[derive(Clone, Debug, Default, PartialEq)]
struct Line(Vec<Piece>);

impl Line {
    fn text(mut self, text: impl Into<String>) -> Line {
        self.0.push(Piece::Text(text.into()));
        self
    }

    fn strong(mut self, text: impl Into<String>) -> Line {
        self.0.push(Piece::Strong(text.into()));
        self
    }

    fn link(mut self, url: Option<String>, label: impl Into<String>) -> Line {
        self.0.push(Piece::Link(url, label.into()));
        self
    }

    /// The pieces joined by `·`, skipping empty ones.
    fn joined(parts: Vec<Line>) -> Line {
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
struct Card {
    /// The message's title, all text (no links): Teams shows it as the card's title.
    headline: String,
    /// The event's context, a line each.
    details: Vec<Line>,
    /// A list under the details (a deployment's shipped PRs), its title first.
    list: Vec<Line>,
    /// When, what kind, whose.
    footer: Line,
    /// The event as one line of a grouped message.
    summary: Line,
    /// Teams' button: its title and URL.
    action: Option<(&'static str, String)>,
}

impl Card {
    /// A card of its headline alone: an event whose subject is missing (no source sends one;
    /// a hand-made event on the bus might).
    fn bare(headline: String) -> Card {
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
fn clean(text: &str, max: usize) -> String {
    format::truncate(&format::one_line(text), max)
}

/// A URL that may become a link: `format::safe_url`, and at most [`MAX_URL_CHARS`] once a
/// chat has escaped it (Slack writes `&` as `&amp;`, Teams percent-encodes brackets).
fn link_target(url: Option<&str>) -> Option<String> {
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

fn card(event: &DomainEvent, tz: Tz) -> Card {
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

fn repo_of(event: &DomainEvent) -> String {
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

/// `12 events: 9 deployments finished, 2 failed, 1 recovered`: the count of each kind present,
/// the kinds of one subject sharing its noun.
fn group_heading(events: &[DomainEvent]) -> String {
    // A subject's noun (singular, plural) and its kinds with their verbs, in heading order.
    type Family<'a> = (&'a str, &'a str, &'a [(EventType, &'a str)]);
    let families: [Family; 5] = [
        (
            "deployment",
            "deployments",
            &[
                (EventType::DeploymentFinished, "finished"),
                (EventType::DeploymentFailed, "failed"),
                (EventType::DeploymentRecovered, "recovered"),
            ],
        ),
        (
            "incident",
            "incidents",
            &[
                (EventType::IncidentOpened, "opened"),
                (EventType::IncidentResolved, "resolved"),
            ],
        ),
        (
            "PR",
            "PRs",
            &[
                (EventType::PullRequestMerged, "merged"),
                (EventType::PullRequestWaiting, "waiting for review"),
            ],
        ),
        (
            "security alert",
            "security alerts",
            &[(EventType::SecurityAlert, "found")],
        ),
        (
            "team",
            "teams",
            &[(EventType::TeamNeedsAttention, "flagged")],
        ),
    ];
    let mut parts = Vec::new();
    for (singular, plural, kinds) in families {
        let mut named = false;
        for (kind, verb) in kinds {
            let n = events.iter().filter(|e| e.kind == *kind).count() as u64;
            if n == 0 {
                continue;
            }
            if named {
                parts.push(format!("{n} {verb}"));
            } else {
                parts.push(format!("{} {verb}", format::plural(n, singular, plural)));
                named = true;
            }
        }
    }
    format!(
        "{}: {}",
        format::plural(events.len() as u64, "event", "events"),
        parts.join(", ")
    )
}

/// Texts joined by newlines into as few chunks of at most `max` characters as their order
/// allows; a text longer than `max` alone is cut.
fn pack(texts: impl IntoIterator<Item = String>, max: usize) -> Vec<String> {
    let mut chunks: Vec<String> = Vec::new();
    let mut chars = 0;
    for text in texts {
        let text = format::truncate(&text, max);
        let n = text.chars().count();
        match chunks.last_mut() {
            Some(chunk) if chars + 1 + n <= max => {
                chunk.push('\n');
                chunk.push_str(&text);
                chars += 1 + n;
            }
            _ => {
                chunks.push(text);
                chars = n;
            }
        }
    }
    chunks
}

/// `(2/3)` after a grouped message's heading when there are several.
fn part_suffix(i: usize, parts: usize) -> String {
    if parts == 1 {
        String::new()
    } else {
        format!(" ({}/{parts})", i + 1)
    }
}

fn slack_line(line: &Line) -> String {
    line.0
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => slack::esc(text),
            Piece::Strong(text) => format!("*{}*", slack::esc(text)),
            Piece::Link(url, label) => slack::link(url.as_deref(), label),
        })
        .collect()
}

fn slack_single(card: &Card) -> Value {
    let mut first = format!("*{}*", slack::esc(&card.headline));
    for line in &card.details {
        first.push('\n');
        first.push_str(&slack_line(line));
    }
    let first = format::truncate(&first, MAX_SECTION_TEXT_CHARS);
    let footer = format::truncate(&slack_line(&card.footer), MAX_SECTION_TEXT_CHARS);
    // The list gets what the other blocks leave of the message's text, less room for a count of
    // the lines that did not fit (only hostile titles and URLs get there).
    let mut budget = MAX_SLACK_BLOCKS_TEXT_CHARS
        .saturating_sub(first.chars().count() + footer.chars().count() + 40);
    let mut list = Vec::new();
    for (i, line) in card.list.iter().map(slack_line).enumerate() {
        let line = format::truncate(&line, MAX_SECTION_TEXT_CHARS);
        let n = line.chars().count() + 1;
        if n > budget {
            list.push(format!("…{} more not shown", card.list.len() - i));
            break;
        }
        budget -= n;
        list.push(line);
    }
    let mut blocks = vec![slack::section(&first)];
    blocks.extend(
        pack(list, MAX_SECTION_TEXT_CHARS)
            .iter()
            .map(|text| slack::section(text)),
    );
    blocks.push(slack::context(&[footer]));
    let text = format::truncate(&slack::esc(&card.headline), MAX_FALLBACK_CHARS);
    json!({"text": text, "blocks": blocks})
}

fn slack_grouped(heading: &str, cards: &[Card]) -> Vec<Value> {
    let sections = pack(
        cards.iter().map(|c| slack_line(&c.summary)),
        MAX_SECTION_TEXT_CHARS,
    );
    // Each message: its header, then as many sections as the block count and the text allow.
    let chunks = split_in_order(
        sections,
        MAX_SLACK_BLOCKS_TEXT_CHARS - MAX_HEADER_CHARS,
        MAX_BLOCKS - 1,
        |section| section.chars().count(),
    );
    let parts = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let suffix = part_suffix(i, parts);
            let title = format!(
                "{}{suffix}",
                format::truncate(heading, MAX_HEADER_CHARS - suffix.chars().count())
            );
            let mut blocks = vec![slack::header(&title)];
            blocks.extend(chunk.iter().map(|text| slack::section(text)));
            let text = if parts == 1 {
                slack::esc(heading)
            } else {
                format!("{} (part {} of {parts})", slack::esc(heading), i + 1)
            };
            json!({"text": format::truncate(&text, MAX_FALLBACK_CHARS), "blocks": blocks})
        })
        .collect()
}

/// Splits `items`, in order, into runs of at most `max_items` whose `cost` sums to at most
/// `budget`: a message's sections or blocks. An item over the budget alone is a run of its own
/// (the renderers cut every line to fit first).
fn split_in_order<T>(
    items: impl IntoIterator<Item = T>,
    budget: usize,
    max_items: usize,
    cost: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut runs: Vec<Vec<T>> = vec![Vec::new()];
    let mut used = 0;
    for item in items {
        let n = cost(&item);
        let fits = runs
            .last()
            .is_some_and(|run| run.len() < max_items && used + n <= budget);
        if !fits && runs.last().is_some_and(|run| !run.is_empty()) {
            runs.push(Vec::new());
            used = 0;
        }
        used += n;
        if let Some(run) = runs.last_mut() {
            run.push(item);
        }
    }
    runs
}

fn teams_line(line: &Line) -> String {
    line.0
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => md_escape(text),
            Piece::Strong(text) => format!("**{}**", md_escape(text)),
            Piece::Link(Some(url), label) => {
                format!("[{}]({})", md_escape(label), teams::link_url(url))
            }
            Piece::Link(None, label) => md_escape(label),
        })
        .collect()
}

fn teams_single(card: &Card) -> Value {
    let mut body: Vec<Value> = card
        .details
        .iter()
        .chain(&card.list)
        .map(|line| teams::text(&teams_line(line)))
        .collect();
    body.push(teams::subtle(&teams_line(&card.footer)));
    let actions = card
        .action
        .iter()
        .map(|(title, url)| json!({"type": "Action.OpenUrl", "title": title, "url": url}))
        .collect();
    teams::message(&md_escape(&card.headline), body, actions)
}

fn teams_grouped(heading: &str, cards: &[Card]) -> Vec<Value> {
    // The envelope with a worst-case heading, measured once.
    let overhead = teams::size(&teams::message(
        &format!("{heading} (99/99)"),
        Vec::new(),
        Vec::new(),
    ));
    let blocks = cards
        .iter()
        .map(|card| teams::text(&teams_line(&card.summary)));
    let chunks = split_in_order(
        blocks,
        TEAMS_TARGET_BYTES.saturating_sub(overhead),
        usize::MAX,
        |block| teams::size(block) + 1,
    );
    let parts = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let title = format!("{}{}", md_escape(heading), part_suffix(i, parts));
            teams::message(&title, body, Vec::new())
        })
        .collect()
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
