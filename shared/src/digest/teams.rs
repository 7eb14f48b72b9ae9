//! The digest as Microsoft Teams messages: an Adaptive Card (schema 1.2, what Teams incoming
//! webhooks and Workflows accept) in the `{"type":"message","attachments":[…]}` envelope.
//!
//! Teams refuses messages over about 28 KB ("Request Entity too large"), and some setups fail
//! earlier, so the card body is packed into as many messages as needed, each at most
//! [`TEAMS_TARGET_BYTES`] of JSON; [`check_teams_message`] checks the envelope and the size.

use serde_json::{json, Value};

use super::model::{Digest, ListRow, Metric, TeamRow, ATTENTION_RULE, FLOW_TITLE, GOALS_TITLE};
use super::{format, layout};

/// The documented limit of a Teams webhook message, in bytes of JSON.
pub const TEAMS_MAX_BYTES: usize = 28_000;
/// Where the digest starts a new message: well below [`TEAMS_MAX_BYTES`] (one library measured
/// failures from about 21 KB).
pub const TEAMS_TARGET_BYTES: usize = 20_000;

const MAX_NAME_CHARS: usize = 150;

/// The digest as one or more Teams messages, to be posted in order. Every message passes
/// [`check_teams_message`].
pub fn teams_messages(digest: &Digest) -> Vec<Value> {
    let units = units(digest);
    let title = format!(
        "Weekly digest · {} · {}",
        md_escape(&digest.org),
        digest.week
    );
    // The envelope with a worst-case title and the actions, measured once.
    let overhead = size(&message(
        &format!("{title} (99/99)"),
        Vec::new(),
        actions(digest),
    ));
    let mut chunks: Vec<Vec<Value>> = vec![Vec::new()];
    let mut used = overhead;
    for unit in units {
        let unit_size: usize = unit.iter().map(|v| size(v) + 1).sum();
        let fits = used + unit_size <= TEAMS_TARGET_BYTES;
        if !fits && chunks.last().is_some_and(|c| !c.is_empty()) {
            chunks.push(Vec::new());
            used = overhead;
        }
        used += unit_size;
        if let Some(chunk) = chunks.last_mut() {
            chunk.extend(unit);
        }
    }
    let parts = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let heading = if parts == 1 {
                title.clone()
            } else {
                format!("{title} ({}/{parts})", i + 1)
            };
            let last = i + 1 == parts;
            message(
                &heading,
                body,
                if last { actions(digest) } else { Vec::new() },
            )
        })
        .collect()
}

/// Why a message is not one Teams takes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TeamsMessageError {
    #[error("`type` is not \"message\"")]
    NotAMessage,
    #[error("no `attachments` array")]
    NoAttachmentsArray,
    #[error("no attachment")]
    NoAttachment,
    #[error("attachment {0} is not an Adaptive Card")]
    NotAnAdaptiveCard(usize),
    #[error("attachment {0} has no `content`")]
    NoContent(usize),
    #[error("attachment {0}: content is not an AdaptiveCard")]
    ContentNotACard(usize),
    #[error("attachment {0}: the card has no `body` array")]
    NoBody(usize),
    #[error("the message is {bytes} bytes, more than {TEAMS_MAX_BYTES}")]
    TooLarge { bytes: usize },
}

/// Checks the Teams envelope (a `message` with one Adaptive Card attachment with a body) and
/// that the JSON is at most [`TEAMS_MAX_BYTES`].
pub fn check_teams_message(message: &Value) -> Result<(), TeamsMessageError> {
    if message.get("type").and_then(Value::as_str) != Some("message") {
        return Err(TeamsMessageError::NotAMessage);
    }
    let attachments = message
        .get("attachments")
        .and_then(Value::as_array)
        .ok_or(TeamsMessageError::NoAttachmentsArray)?;
    if attachments.is_empty() {
        return Err(TeamsMessageError::NoAttachment);
    }
    for (i, attachment) in attachments.iter().enumerate() {
        if attachment.get("contentType").and_then(Value::as_str)
            != Some("application/vnd.microsoft.card.adaptive")
        {
            return Err(TeamsMessageError::NotAnAdaptiveCard(i));
        }
        let content = attachment
            .get("content")
            .ok_or(TeamsMessageError::NoContent(i))?;
        if content.get("type").and_then(Value::as_str) != Some("AdaptiveCard") {
            return Err(TeamsMessageError::ContentNotACard(i));
        }
        if !content.get("body").is_some_and(Value::is_array) {
            return Err(TeamsMessageError::NoBody(i));
        }
    }
    let bytes = size(message);
    if bytes > TEAMS_MAX_BYTES {
        return Err(TeamsMessageError::TooLarge { bytes });
    }
    Ok(())
}

pub(crate) fn size(value: &Value) -> usize {
    serde_json::to_string(value).map_or(usize::MAX / 2, |s| s.len())
}

pub(crate) fn message(title: &str, body: Vec<Value>, actions: Vec<Value>) -> Value {
    let mut all = vec![json!({
        "type": "TextBlock",
        "text": format::truncate(title, 300),
        "size": "Large",
        "weight": "Bolder",
        "wrap": true
    })];
    all.extend(body);
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": all
    });
    if !actions.is_empty() {
        content["actions"] = Value::Array(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content
        }]
    })
}

fn actions(digest: &Digest) -> Vec<Value> {
    digest
        .dashboard_url
        .iter()
        .map(|url| json!({"type": "Action.OpenUrl", "title": "Open the dashboard", "url": url}))
        .collect()
}

pub(crate) fn text(text: &str) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true})
}

pub(crate) fn subtle(text: &str) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true, "isSubtle": true, "size": "Small"})
}

fn heading(text: &str) -> Value {
    json!({
        "type": "TextBlock",
        "text": text,
        "wrap": true,
        "size": "Medium",
        "weight": "Bolder",
        "separator": true,
        "spacing": "Large"
    })
}

/// Untrusted text (names, titles, ids from webhooks and the config) as literal TextBlock text.
///
/// TextBlock (and FactSet) text is Markdown, a CommonMark subset: `**bold**`, `_italic_`,
/// `- ` and `1. ` lists, `[text](url)` links. A PR titled `[Re-authenticate](https://evil)`
/// must read as that text, not as a link that looks like ours, so every character that
/// subset gives meaning to is backslash-escaped (CommonMark's escape for ASCII punctuation):
/// `\`, `*`, `_`, `~`, `` ` ``, `[`, `]`, `(`, `)`, `<`, `>` anywhere, and a `-`, `+`, `#` or
/// `N.` that would start a list or heading at the start of a line. Both brackets *and*
/// parentheses are escaped, so that even a renderer that ignores backslash escapes never sees
/// the `](` a link needs.
pub fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let trimmed = line.trim_start();
        out.push_str(&line[..line.len() - trimmed.len()]);
        let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
        let starts_block = matches!(trimmed.chars().next(), Some('-' | '+' | '#'));
        for (at, c) in trimmed.char_indices() {
            let list_number = digits > 0 && at == digits && matches!(c, '.' | ')');
            if matches!(
                c,
                '\\' | '*' | '_' | '~' | '`' | '[' | ']' | '(' | ')' | '<' | '>'
            ) || (at == 0 && starts_block)
                || list_number
            {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// A link's destination: `format::safe_url` already refused whitespace, `<`, `>` and `"`;
/// what could end the Markdown link early or start another (`(`, `)`, `[`, `]`, `\`) is
/// percent-encoded, which the URL means the same with.
pub(crate) fn link_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            '\\' => out.push_str("%5C"),
            c => out.push(c),
        }
    }
    out
}

fn fact(title: &str, metric: &Metric, sentence: bool) -> Value {
    let mut value = match (&metric.no_data, sentence) {
        (Some(no_data), true) => no_data.clone(),
        _ => metric.value_with_level(),
    };
    if let Some(change) = &metric.change {
        value.push_str(" — ");
        value.push_str(&change.text);
    }
    json!({"title": title, "value": value})
}

fn team_container(team: &TeamRow) -> Value {
    let name = md_escape(&format::truncate(&team.name, MAX_NAME_CHARS));
    let mut items = vec![json!({
        "type": "TextBlock",
        "text": name,
        "wrap": true,
        "weight": "Bolder"
    })];
    if team.no_data {
        items.push(subtle("no data recorded for this team this week"));
    } else {
        if team.needs_attention {
            items.push(json!({
                "type": "TextBlock",
                "text": "needs attention",
                "wrap": true,
                "color": "Attention",
                "size": "Small"
            }));
        }
        let facts: Vec<Value> = team
            .metrics()
            .into_iter()
            .map(|m| fact(m.kind.short_label(), m, false))
            .collect();
        items.push(json!({"type": "FactSet", "facts": facts}));
    }
    json!({"type": "Container", "items": items, "separator": true})
}

/// The card body after the title, in groups that stay in one message.
fn units(digest: &Digest) -> Vec<Vec<Value>> {
    let mut units = vec![vec![subtle(&format!(
        "{} · {} · generated {}",
        digest.week, digest.dates, digest.generated
    ))]];
    units.push(org_headline(digest));
    units.extend(attention_units(digest));
    units.extend(listed_units(GOALS_TITLE, digest.goal_rows()));
    units.extend(listed_units(FLOW_TITLE, digest.flow_rows()));
    units.extend(team_units(digest));
    units.push(slowest_prs(digest));
    units.push(open_incidents(digest));
    units.push(vec![subtle(ATTENTION_RULE)]);
    units
}

/// The org's four DORA numbers, or that nothing was recorded, under their heading.
fn org_headline(digest: &Digest) -> Vec<Value> {
    let org = format!(
        "{} — DORA",
        md_escape(&format::truncate(&digest.org, MAX_NAME_CHARS))
    );
    if digest.headline.no_data {
        return vec![
            heading(&org),
            text("No data was recorded for the org this week: no deployments, PRs or incidents."),
        ];
    }
    let facts: Vec<Value> = digest
        .headline
        .metrics()
        .into_iter()
        .map(|m| fact(m.kind.label(), m, true))
        .collect();
    vec![heading(&org), json!({"type": "FactSet", "facts": facts})]
}

/// The flagged teams, one unit each, the heading kept with the first.
fn attention_units(digest: &Digest) -> Vec<Vec<Value>> {
    if digest.attention.is_empty() {
        return vec![vec![
            heading("Needs attention"),
            text("No team needs attention this week."),
        ]];
    }
    let items = digest.attention.iter().map(|attention| {
        json!({
            "type": "TextBlock",
            "text": format!(
                "**{}**: {}",
                md_escape(&format::truncate(&attention.team, MAX_NAME_CHARS)),
                md_escape(&attention.summary)
            ),
            "wrap": true,
            "color": "Attention"
        })
    });
    layout::titled(heading("Needs attention"), items)
}

/// A titled list, one `**subject**: summary` block per unit, the heading kept with the
/// first; nothing when the list is empty.
fn listed_units<'a>(
    title: &str,
    items: impl ExactSizeIterator<Item = ListRow<'a>>,
) -> Vec<Vec<Value>> {
    if items.len() == 0 {
        return Vec::new();
    }
    let items = items.map(|(subject, summary)| {
        json!({
            "type": "TextBlock",
            "text": format!(
                "**{}**: {}",
                md_escape(&format::truncate(subject, MAX_NAME_CHARS)),
                md_escape(summary)
            ),
            "wrap": true
        })
    });
    layout::titled(heading(title), items)
}

/// One unit per team row, the heading kept with the first.
fn team_units(digest: &Digest) -> Vec<Vec<Value>> {
    if digest.teams.is_empty() {
        return vec![vec![heading("Teams"), text("No teams configured.")]];
    }
    layout::titled(heading("Teams"), digest.teams.iter().map(team_container))
}

fn slowest_prs(digest: &Digest) -> Vec<Value> {
    let mut prs = vec![heading("Slowest PRs merged this week")];
    if digest.slowest_prs.is_empty() {
        prs.push(text("No PRs merged this week."));
    }
    for pr in &digest.slowest_prs {
        let name = format!("{}#{}", pr.repo, pr.number);
        let name = match &pr.url {
            Some(url) => format!("[{}]({})", md_escape(&name), link_url(url)),
            None => md_escape(&name),
        };
        prs.push(text(&format!(
            "{name} {} — {}",
            md_escape(&format::truncate(&pr.title, MAX_NAME_CHARS)),
            pr.details(md_escape).join(", ")
        )));
    }
    prs
}

fn open_incidents(digest: &Digest) -> Vec<Value> {
    let mut incidents = vec![heading("Open incidents")];
    if digest.open_incidents.is_empty() {
        incidents.push(text("No incidents open."));
    }
    for incident in &digest.open_incidents {
        let severity = incident
            .severity
            .as_deref()
            .map(|s| format!(" ({})", md_escape(s)))
            .unwrap_or_default();
        incidents.push(text(&format!(
            "{} {}{severity} — open {}, since {}",
            md_escape(&format::truncate(&incident.id, 80)),
            md_escape(&format::truncate(&incident.service, 80)),
            incident.age,
            incident.opened
        )));
    }
    if digest.more_open_incidents > 0 {
        incidents.push(text(&format!("…and {} more", digest.more_open_incidents)));
    }
    incidents
}

#[cfg(test)]
mod tests {
    use super::super::model::build_digest;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn digest_teams_sample_is_one_adaptive_card_message() {
        let messages = teams_messages(&sample_digest());
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        check_teams_message(message).expect("valid");
        assert_eq!(message["type"], "message");
        let attachment = &message["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(attachment["contentUrl"], Value::Null);
        let card = &attachment["content"];
        assert_eq!(
            card["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.2");
        assert_eq!(card["body"][0]["text"], "Weekly digest · acme · 2026-W42");
        assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
        assert_eq!(card["actions"][0]["url"], "https://flowmeter.example.com");
        let all = message.to_string();
        assert!(all.contains("**Payments**: lead time p50 rose from 6 h to 2.1 d"));
        assert!(all.contains("[acme/payments#7](https://github.com/acme/payments/pull/7)"));
    }

    #[test]
    fn digest_teams_fifty_teams_split_under_the_size_limit() {
        let input = big_input(50);
        let messages = teams_messages(&build_digest(&input));
        assert!(messages.len() > 1);
        for message in &messages {
            check_teams_message(message).expect("valid");
            assert!(size(message) <= TEAMS_TARGET_BYTES, "{}", size(message));
        }
        let all: String = messages.iter().map(Value::to_string).collect();
        for team in &input.teams {
            let name = format::truncate(&team.name, MAX_NAME_CHARS);
            assert_eq!(all.matches(&format!("\"text\":\"{name}\"")).count(), 1);
        }
        // Only the last message carries the dashboard button.
        let with_actions = messages
            .iter()
            .filter(|m| m["attachments"][0]["content"].get("actions").is_some())
            .count();
        assert_eq!(with_actions, 0, "big_input has no dashboard link");
    }

    /// All of a message's TextBlock and Fact texts, joined.
    fn texts(message: &Value) -> String {
        fn walk(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, v) in map {
                        match (key.as_str(), v) {
                            ("text" | "value", Value::String(s)) => out.push(s.clone()),
                            _ => walk(v, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(message, &mut out);
        out.join("\n")
    }

    #[test]
    fn digest_teams_untrusted_text_is_literal_not_markdown() {
        let mut input = sample_input();
        input.week_prs[0].title = "[Re-authenticate](https://evil.example/login)".into();
        input.week_prs[0].author = "**root**".into();
        input.teams[0].name = "- _ops_ `team`".into();
        input.org = "1. acme <b>".into();
        // A URL that safe_url lets through but that would close the Markdown link early.
        input.week_prs[0].url =
            Some("https://github.com/acme/payments/pull/7)[x](https://evil.example".into());
        let messages = teams_messages(&build_digest(&input));
        let all = messages.iter().map(texts).collect::<Vec<_>>().join("\n");
        // The title, escaped by hand: every bracket and parenthesis behind a backslash.
        assert!(
            all.contains(r"\[Re-authenticate\]\(https://evil.example/login\)"),
            "{all}"
        );
        assert!(!all.contains("[Re-authenticate]("), "{all}");
        assert!(all.contains(r"by \*\*root\*\*"), "{all}");
        assert!(all.contains(r"\- \_ops\_ \`team\`"), "{all}");
        assert!(
            all.contains(r"Weekly digest · 1\. acme \<b\> · 2026-W42"),
            "{all}"
        );
        // Our own link stays a link, its destination percent-encoded so it cannot end early.
        assert!(
            all.contains(
                "](https://github.com/acme/payments/pull/7%29%5Bx%5D%28https://evil.example)"
            ),
            "{all}"
        );
        // The only `](` left is that one link per PR line: none comes from the title.
        assert_eq!(all.matches("](").count(), input_links(&all));
    }

    /// How many of our own PR links (`[repo#n](`) a text holds.
    fn input_links(all: &str) -> usize {
        all.matches("](https://github.com/").count()
    }

    #[test]
    fn digest_teams_markdown_escape_by_hand() {
        assert_eq!(md_escape("plain text 2.1 d"), "plain text 2.1 d");
        assert_eq!(md_escape("[a](b)"), r"\[a\]\(b\)");
        assert_eq!(
            md_escape("**x** _y_ ~z~ `c` <u>"),
            r"\*\*x\*\* \_y\_ \~z\~ \`c\` \<u\>"
        );
        assert_eq!(md_escape(r"back\slash"), r"back\\slash");
        assert_eq!(
            md_escape("- item\n+ item\n# head\n12. n\n3) n"),
            "\\- item\n\\+ item\n\\# head\n12\\. n\n3\\) n"
        );
        assert_eq!(md_escape("a - b # c 1. d"), "a - b # c 1. d");
        assert_eq!(md_escape("  - indented"), r"  \- indented");
    }

    #[test]
    fn digest_teams_check_rejects_bad_envelopes() {
        assert!(check_teams_message(&json!({"type": "text"})).is_err());
        assert!(check_teams_message(&json!({"type": "message", "attachments": []})).is_err());
        let huge = message("t", vec![text(&"x".repeat(TEAMS_MAX_BYTES))], Vec::new());
        let e = check_teams_message(&huge)
            .expect_err("too large")
            .to_string();
        assert!(e.contains("more than 28000"), "{e}");
    }
}
