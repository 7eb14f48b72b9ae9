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

use super::card::{card, Card, Line, Piece};
use super::routes::NotificationConfig;
use crate::digest::format;
use crate::digest::slack::{self, MAX_BLOCKS, MAX_HEADER_CHARS, MAX_SECTION_TEXT_CHARS};
use crate::digest::teams::{self, md_escape, TEAMS_TARGET_BYTES};
use crate::events::{DomainEvent, EventType};

/// Shipped PRs listed in a deployment's own message; the rest are counted (`…and 3 more`).
pub const MAX_SHIPPED_LISTED: usize = 10;
/// A title (PR, incident, alert) is cut to this many characters before it is escaped.
pub(super) const MAX_TITLE_CHARS: usize = 150;
/// A name (repo, author, workflow, environment, service, id) is cut to this many.
pub(super) const MAX_NAME_CHARS: usize = 100;
/// Longer URLs (counted escaped) are not linked (their label stays, as text): a link must
/// not eat a section.
pub(super) const MAX_URL_CHARS: usize = 500;
/// Tickets named per PR; more are counted.
pub(super) const MAX_TICKETS: usize = 5;
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
    messages(events, config, tz, slack_single, slack_grouped)
}

/// The events as Teams messages (`{"type": "message", "attachments": [Adaptive Card]}`), to be
/// posted in order, grouped as [`slack_messages`] are. Every message passes
/// [`crate::digest::check_teams_message`].
pub fn teams_messages(events: &[DomainEvent], config: &NotificationConfig, tz: Tz) -> Vec<Value> {
    messages(events, config, tz, teams_single, teams_grouped)
}

/// The grouping rule both chats follow, so a channel on either sees the same messages: one per
/// event (`single`) up to `config.group_after` events, else the grouped set under one heading.
fn messages(
    events: &[DomainEvent],
    config: &NotificationConfig,
    tz: Tz,
    single: fn(&Card) -> Value,
    grouped: fn(&str, &[Card]) -> Vec<Value>,
) -> Vec<Value> {
    let cards: Vec<Card> = events.iter().map(|e| card(e, tz)).collect();
    if events.len() > config.group_after {
        grouped(&group_heading(events), &cards)
    } else {
        cards.iter().map(single).collect()
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
