//! The digest as Slack Block Kit messages (for an incoming webhook or `chat.postMessage`).
//!
//! Slack rejects a message that breaks a Block Kit limit (`invalid_blocks`), so the digest is
//! laid out to stay inside them whatever the org looks like: one section per team (8 fields,
//! ≤ [`MAX_FIELDS`]), free text cut to [`MAX_SECTION_TEXT_CHARS`] / [`MAX_FIELD_CHARS`], and the
//! blocks packed into as many messages as needed, each with at most [`MAX_BLOCKS`] blocks, its
//! own header (`(2/3)`) and a `text` fallback for notifications. [`check_block_kit_limits`]
//! checks a message against the same limits; the tests and the edge's Slack stand-in use it.

use serde_json::{json, Map, Value};

use super::model::{Digest, ListRow, Metric, TeamRow, ATTENTION_RULE, FLOW_TITLE, GOALS_TITLE};
use super::{format, layout};

/// Blocks per message.
pub const MAX_BLOCKS: usize = 50;
/// A header block's `plain_text`.
pub const MAX_HEADER_CHARS: usize = 150;
/// A section block's `text`.
pub const MAX_SECTION_TEXT_CHARS: usize = 3000;
/// Fields per section block.
pub const MAX_FIELDS: usize = 10;
/// Each field's text.
pub const MAX_FIELD_CHARS: usize = 2000;
/// Elements per context block.
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
/// A `block_id`.
pub const MAX_BLOCK_ID_CHARS: usize = 255;
/// The top-level `text` (Slack truncates beyond this; the digest keeps it far shorter).
pub const MAX_TEXT_CHARS: usize = 40_000;

/// Longest team name, PR title, … before it is cut (well inside every limit).
const MAX_NAME_CHARS: usize = 150;
/// The fallback text is a summary, not the digest.
const MAX_FALLBACK_CHARS: usize = 3000;

/// The digest as one or more Slack messages (`{"text": …, "blocks": […]}`), to be posted in
/// order. Every message passes [`check_block_kit_limits`].
pub fn slack_messages(digest: &Digest) -> Vec<Value> {
    let units = units(digest);
    // One block of each message is its header.
    let budget = MAX_BLOCKS - 1;
    let mut chunks: Vec<Vec<Value>> = vec![Vec::new()];
    for unit in units {
        let fits = chunks
            .last()
            .is_some_and(|chunk| chunk.len() + unit.len() <= budget);
        if !fits {
            chunks.push(Vec::new());
        }
        if let Some(chunk) = chunks.last_mut() {
            chunk.extend(unit);
        }
    }
    for chunk in &mut chunks {
        trim_dividers(chunk);
    }
    chunks.retain(|chunk| !chunk.is_empty());
    let parts = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, blocks)| {
            let suffix = if parts == 1 {
                String::new()
            } else {
                format!(" ({}/{parts})", i + 1)
            };
            let title = format!("Weekly digest · {} · {}", digest.org, digest.week);
            let header_text = format!(
                "{}{suffix}",
                format::truncate(&title, MAX_HEADER_CHARS - suffix.chars().count())
            );
            let mut all = vec![header(&header_text)];
            all.extend(blocks);
            let text = if i == 0 {
                fallback(digest)
            } else {
                format!(
                    "Weekly digest for {}, {} (part {} of {parts})",
                    esc(&format::truncate(&digest.org, MAX_NAME_CHARS)),
                    digest.week,
                    i + 1
                )
            };
            json!({"text": text, "blocks": all})
        })
        .collect()
}

/// Why a message breaks a Block Kit rule, and where; its text names the block and the limit
/// (`block 3: field 1 has 2001 characters, more than 2000`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockKitError {
    /// The JSON is not what Slack expects there: not an object, no `type`, no or an empty
    /// text, the wrong text type.
    #[error("{0}")]
    Shape(String),
    /// A text longer than Slack takes.
    #[error("{what} has {chars} characters, more than {max}")]
    TooLong {
        what: String,
        chars: usize,
        max: usize,
    },
    /// More blocks than one message may carry.
    #[error("{count} blocks, more than {MAX_BLOCKS}")]
    TooManyBlocks { count: usize },
    /// A section's fields or a context's elements: none, or more than the limit.
    #[error("{block} has {count} {items}, not 1 to {max}")]
    Count {
        block: &'static str,
        items: &'static str,
        count: usize,
        max: usize,
    },
    /// A block type the digest does not use.
    #[error("unsupported block type {0:?}")]
    UnsupportedBlock(String),
    /// The error is inside a part of the message: `block 3`, `field 1`, `element 0`.
    #[error("{part} {index}: {error}")]
    In {
        part: &'static str,
        index: usize,
        error: Box<BlockKitError>,
    },
}

impl BlockKitError {
    fn shape(what: impl Into<String>) -> Self {
        BlockKitError::Shape(what.into())
    }

    /// This error, placed inside part `index` of the message (`block`, `field`, `element`).
    fn inside(self, part: &'static str, index: usize) -> Self {
        BlockKitError::In {
            part,
            index,
            error: Box::new(self),
        }
    }
}

/// Checks a message against Slack's Block Kit limits (see the module doc) and that it has a
/// non-empty `text` fallback. The error names the block and the limit.
pub fn check_block_kit_limits(message: &Value) -> Result<(), BlockKitError> {
    let object = message
        .as_object()
        .ok_or_else(|| BlockKitError::shape("the message is not a JSON object"))?;
    let text = object
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| BlockKitError::shape("the message has no `text` fallback"))?;
    if text.trim().is_empty() {
        return Err(BlockKitError::shape("the `text` fallback is empty"));
    }
    check_len("`text`", text, MAX_TEXT_CHARS)?;
    let Some(blocks) = object.get("blocks") else {
        return Ok(());
    };
    let blocks = blocks
        .as_array()
        .ok_or_else(|| BlockKitError::shape("`blocks` is not an array"))?;
    if blocks.len() > MAX_BLOCKS {
        return Err(BlockKitError::TooManyBlocks {
            count: blocks.len(),
        });
    }
    for (i, block) in blocks.iter().enumerate() {
        check_block(block).map_err(|e| e.inside("block", i))?;
    }
    Ok(())
}

fn check_block(block: &Value) -> Result<(), BlockKitError> {
    let object = block
        .as_object()
        .ok_or_else(|| BlockKitError::shape("not a JSON object"))?;
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| BlockKitError::shape("no `type`"))?;
    if let Some(id) = object.get("block_id") {
        let id = id
            .as_str()
            .ok_or_else(|| BlockKitError::shape("`block_id` is not a string"))?;
        check_len("`block_id`", id, MAX_BLOCK_ID_CHARS)?;
    }
    match kind {
        "header" => {
            let (text_type, text) = text_object(object.get("text"), "header `text`")?;
            if text_type != "plain_text" {
                return Err(BlockKitError::shape("header `text` must be plain_text"));
            }
            check_len("header text", text, MAX_HEADER_CHARS)
        }
        "section" => check_section(object),
        "context" => check_context(object),
        "divider" => Ok(()),
        other => Err(BlockKitError::UnsupportedBlock(other.to_string())),
    }
}

fn check_context(object: &Map<String, Value>) -> Result<(), BlockKitError> {
    let elements = object
        .get("elements")
        .and_then(Value::as_array)
        .ok_or_else(|| BlockKitError::shape("context without `elements`"))?;
    check_count("context", "elements", elements.len(), MAX_CONTEXT_ELEMENTS)?;
    for (i, element) in elements.iter().enumerate() {
        let (_, text) =
            text_object(Some(element), "context element").map_err(|e| e.inside("element", i))?;
        check_len("context text", text, MAX_SECTION_TEXT_CHARS)?;
    }
    Ok(())
}

fn check_section(object: &Map<String, Value>) -> Result<(), BlockKitError> {
    let text = object.get("text");
    let fields = object.get("fields");
    if text.is_none() && fields.is_none() {
        return Err(BlockKitError::shape("section needs `text` or `fields`"));
    }
    if text.is_some() {
        let (_, text) = text_object(text, "section `text`")?;
        check_len("section text", text, MAX_SECTION_TEXT_CHARS)?;
    }
    if let Some(fields) = fields {
        let fields = fields
            .as_array()
            .ok_or_else(|| BlockKitError::shape("`fields` is not an array"))?;
        check_count("section", "fields", fields.len(), MAX_FIELDS)?;
        for (i, field) in fields.iter().enumerate() {
            let (_, text) = text_object(Some(field), "field").map_err(|e| e.inside("field", i))?;
            check_len(&format!("field {i}"), text, MAX_FIELD_CHARS)?;
        }
    }
    Ok(())
}

/// A text object's type and text; the text must not be empty (Slack rejects that).
fn text_object<'a>(
    value: Option<&'a Value>,
    what: &str,
) -> Result<(&'a str, &'a str), BlockKitError> {
    let object = value
        .and_then(Value::as_object)
        .ok_or_else(|| BlockKitError::shape(format!("{what} is not a text object")))?;
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| BlockKitError::shape(format!("{what} has no `type`")))?;
    if kind != "plain_text" && kind != "mrkdwn" {
        return Err(BlockKitError::shape(format!("{what} has type {kind:?}")));
    }
    let text = object
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| BlockKitError::shape(format!("{what} has no `text`")))?;
    if text.is_empty() {
        return Err(BlockKitError::shape(format!("{what} is empty")));
    }
    Ok((kind, text))
}

fn check_len(what: &str, text: &str, max: usize) -> Result<(), BlockKitError> {
    let chars = text.chars().count();
    if chars > max {
        Err(BlockKitError::TooLong {
            what: what.to_string(),
            chars,
            max,
        })
    } else {
        Ok(())
    }
}

/// 1 to `max` fields of a section or elements of a context.
fn check_count(
    block: &'static str,
    items: &'static str,
    count: usize,
    max: usize,
) -> Result<(), BlockKitError> {
    if count == 0 || count > max {
        Err(BlockKitError::Count {
            block,
            items,
            count,
            max,
        })
    } else {
        Ok(())
    }
}

/// Escapes the three characters Slack's mrkdwn gives meaning to.
pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `<url|label>`. The model lets only `format::safe_url` URLs through (http(s), no `<`, `>`,
/// `|`, whitespace), so neither part can end the link early; `&` is escaped in both, as Slack
/// asks of all text, and the label's `<`/`>` cannot open a link or a mention of its own.
pub(crate) fn link(url: Option<&str>, label: &str) -> String {
    match url {
        Some(url) => format!("<{}|{}>", esc(url), esc(label)),
        None => esc(label),
    }
}

pub(crate) fn header(text: &str) -> Value {
    json!({"type": "header", "text": {"type": "plain_text", "text": text, "emoji": true}})
}

pub(crate) fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": format::truncate(text, MAX_SECTION_TEXT_CHARS)}})
}

fn section_with_fields(text: &str, fields: Vec<String>) -> Value {
    let fields: Vec<Value> = fields
        .into_iter()
        .take(MAX_FIELDS)
        .map(|f| json!({"type": "mrkdwn", "text": format::truncate(&f, MAX_FIELD_CHARS)}))
        .collect();
    json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format::truncate(text, MAX_SECTION_TEXT_CHARS)},
        "fields": fields
    })
}

pub(crate) fn context(texts: &[String]) -> Value {
    let elements: Vec<Value> = texts
        .iter()
        .take(MAX_CONTEXT_ELEMENTS)
        .map(|t| json!({"type": "mrkdwn", "text": format::truncate(t, MAX_SECTION_TEXT_CHARS)}))
        .collect();
    json!({"type": "context", "elements": elements})
}

fn divider() -> Value {
    json!({"type": "divider"})
}

fn is_divider(block: &Value) -> bool {
    block.get("type").and_then(Value::as_str) == Some("divider")
}

fn trim_dividers(blocks: &mut Vec<Value>) {
    while blocks.first().is_some_and(is_divider) {
        blocks.remove(0);
    }
    while blocks.last().is_some_and(is_divider) {
        blocks.pop();
    }
}

fn fallback(digest: &Digest) -> String {
    let mut text = format!(
        "Weekly digest for {}, {} ({}): ",
        format::truncate(&digest.org, MAX_NAME_CHARS),
        digest.week,
        digest.dates
    );
    if digest.attention.is_empty() {
        text.push_str("no team needs attention.");
    } else {
        let names: Vec<String> = digest
            .attention
            .iter()
            .map(|a| format::truncate(&a.team, MAX_NAME_CHARS))
            .collect();
        text.push_str(&format!(
            "{} {}: {}.",
            format::plural(digest.attention.len() as u64, "team", "teams"),
            if digest.attention.len() == 1 {
                "needs attention"
            } else {
                "need attention"
            },
            names.join(", ")
        ));
    }
    format::truncate(&esc(&text), MAX_FALLBACK_CHARS)
}

/// A headline field: the label, the value with its level (or the no-data sentence), the change.
fn headline_field(metric: &Metric) -> String {
    let mut text = format!("*{}*\n", metric.kind.label());
    match &metric.no_data {
        Some(sentence) => text.push_str(&format!("_{sentence}_")),
        None => text.push_str(&esc(&metric.value_with_level())),
    }
    if let Some(change) = &metric.change {
        text.push('\n');
        text.push_str(&change.text);
    }
    text
}

fn team_field(metric: &Metric) -> String {
    let mut text = format!("*{}*\n", metric.kind.short_label());
    match metric.value {
        Some(_) => text.push_str(&esc(&metric.value_with_level())),
        None => text.push_str(&format!("_{}_", metric.display)),
    }
    if let Some(change) = &metric.change {
        text.push('\n');
        text.push_str(&change.text);
    }
    text
}

fn team_block(team: &TeamRow) -> Value {
    let name = format!("*{}*", esc(&format::truncate(&team.name, MAX_NAME_CHARS)));
    if team.no_data {
        return section(&format!(
            "{name}\n_no data recorded for this team this week_"
        ));
    }
    let title = if team.needs_attention {
        format!("{name}  :warning: needs attention")
    } else {
        name
    };
    section_with_fields(&title, team.metrics().into_iter().map(team_field).collect())
}

/// The digest's blocks after the header, in groups that stay in one message.
fn units(digest: &Digest) -> Vec<Vec<Value>> {
    let mut units: Vec<Vec<Value>> = Vec::new();
    units.push(vec![context(&[format!(
        "{} · {} · generated {}",
        digest.week,
        digest.dates,
        esc(&digest.generated)
    )])]);
    units.push(vec![org_headline(digest)]);
    units.push(vec![divider()]);
    units.extend(attention_units(digest));
    units.extend(listed_units(GOALS_TITLE, ":dart:", digest.goal_rows()));
    units.extend(listed_units(FLOW_TITLE, ":ticket:", digest.flow_rows()));
    units.push(vec![divider()]);
    units.extend(team_units(digest));
    units.push(vec![divider()]);
    units.push(vec![section(&slowest_prs_text(digest))]);
    units.push(vec![section(&open_incidents_text(digest))]);
    units.push(vec![footer(digest)]);
    units
}

/// The org's four DORA numbers, or that nothing was recorded.
fn org_headline(digest: &Digest) -> Value {
    let org = format!(
        "*{}* — DORA",
        esc(&format::truncate(&digest.org, MAX_NAME_CHARS))
    );
    if digest.headline.no_data {
        return section(&format!(
            "{org}\n_No data was recorded for the org this week: no deployments, PRs or incidents._"
        ));
    }
    let fields = digest
        .headline
        .metrics()
        .into_iter()
        .map(headline_field)
        .collect();
    section_with_fields(&org, fields)
}

/// The flagged teams, one unit each, the title kept with the first.
fn attention_units(digest: &Digest) -> Vec<Vec<Value>> {
    if digest.attention.is_empty() {
        return vec![vec![section(
            "*Needs attention*\nNo team needs attention this week.",
        )]];
    }
    let title = section(&format!(
        "*Needs attention* ({})",
        format::plural(digest.attention.len() as u64, "team", "teams")
    ));
    let items = digest.attention.iter().map(|attention| {
        section(&format!(
            ":warning: *{}*: {}",
            esc(&format::truncate(&attention.team, MAX_NAME_CHARS)),
            esc(&attention.summary)
        ))
    });
    layout::titled(title, items)
}

/// A titled list, one `icon *subject*: summary` section per unit, the title kept with the
/// first; nothing when the list is empty.
fn listed_units<'a>(
    title: &str,
    icon: &str,
    items: impl ExactSizeIterator<Item = ListRow<'a>>,
) -> Vec<Vec<Value>> {
    if items.len() == 0 {
        return Vec::new();
    }
    let items = items.map(|(subject, summary)| {
        section(&format!(
            "{icon} *{}*: {}",
            esc(&format::truncate(subject, MAX_NAME_CHARS)),
            esc(summary)
        ))
    });
    layout::titled(section(&format!("*{title}*")), items)
}

/// One unit per team row, the title kept with the first.
fn team_units(digest: &Digest) -> Vec<Vec<Value>> {
    if digest.teams.is_empty() {
        return vec![vec![section("*Teams*\n_no teams configured_")]];
    }
    layout::titled(section("*Teams*"), digest.teams.iter().map(team_block))
}

fn slowest_prs_text(digest: &Digest) -> String {
    let mut prs = String::from("*Slowest PRs merged this week*");
    if digest.slowest_prs.is_empty() {
        prs.push_str("\n_no PRs merged this week_");
    }
    for pr in &digest.slowest_prs {
        let name = format!("{}#{}", pr.repo, pr.number);
        let details = pr.details(|name| esc(&format::truncate(name, 60)));
        prs.push_str(&format!(
            "\n• {} {} — {}",
            link(pr.url.as_deref(), &format::truncate(&name, MAX_NAME_CHARS)),
            esc(&format::truncate(&pr.title, MAX_NAME_CHARS)),
            details.join(", ")
        ));
    }
    prs
}

fn open_incidents_text(digest: &Digest) -> String {
    let mut incidents = String::from("*Open incidents*");
    if digest.open_incidents.is_empty() {
        incidents.push_str("\n_no incidents open_");
    }
    for incident in &digest.open_incidents {
        let severity = incident
            .severity
            .as_deref()
            .map(|s| format!(" ({})", esc(&format::truncate(s, 20))))
            .unwrap_or_default();
        incidents.push_str(&format!(
            "\n• `{}` {}{severity} — open {}, since {}",
            esc(&format::truncate(&incident.id, 80)),
            esc(&format::truncate(&incident.service, 80)),
            incident.age,
            incident.opened
        ));
    }
    if digest.more_open_incidents > 0 {
        incidents.push_str(&format!("\n…and {} more", digest.more_open_incidents));
    }
    incidents
}

/// The dashboard link, when there is one, and the attention rule.
fn footer(digest: &Digest) -> Value {
    let mut footer = Vec::new();
    if let Some(url) = &digest.dashboard_url {
        footer.push(link(Some(url), "Open the dashboard"));
    }
    footer.push(ATTENTION_RULE.to_string());
    context(&footer)
}

#[cfg(test)]
mod tests {
    use super::super::model::build_digest;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn digest_slack_sample_is_one_valid_message_with_a_fallback() {
        let messages = slack_messages(&sample_digest());
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        check_block_kit_limits(message).expect("within limits");
        assert_eq!(
            message["text"],
            "Weekly digest for acme, 2026-W42 (12–18 Oct 2026): 1 team needs attention: Payments."
        );
        assert_eq!(
            message["blocks"][0]["text"]["text"],
            "Weekly digest · acme · 2026-W42"
        );
        let all = message.to_string();
        assert!(all.contains(":warning: *Payments*: lead time p50 rose from 6 h to 2.1 d"));
        // The team name is escaped for mrkdwn.
        assert!(
            all.contains("*Mobile &lt;&amp; Web&gt;*\\n_no data recorded for this team this week_")
        );
        assert!(all.contains("<https://github.com/acme/payments/pull/7|acme/payments#7>"));
        assert!(all.contains("<https://flowmeter.example.com|Open the dashboard>"));
    }

    #[test]
    fn digest_slack_untrusted_text_is_escaped_and_cut_to_fit() {
        let mut input = sample_input();
        input.org = "x".repeat(500);
        input.teams[0].name = format!("<!channel> {}", "long ".repeat(1000));
        input.week_prs[0].title = format!("<@U123> {}", "t".repeat(5000));
        let messages = slack_messages(&build_digest(&input));
        for message in &messages {
            check_block_kit_limits(message).expect("within limits");
        }
        let all: String = messages.iter().map(Value::to_string).collect();
        assert!(!all.contains("<!channel>"));
        assert!(!all.contains("<@U123>"));
        assert!(all.contains("&lt;!channel&gt;"));
        let header = messages[0]["blocks"][0]["text"]["text"]
            .as_str()
            .expect("header");
        assert_eq!(header.chars().count(), MAX_HEADER_CHARS);
        assert!(header.ends_with('…'));
    }

    #[test]
    fn digest_slack_link_injection_is_text() {
        let mut input = sample_input();
        input.week_prs[0].title = "<https://evil.example|Re-authenticate> & <!here>".into();
        input.week_prs[0].author = "a&b".into();
        input.week_prs[0].url = Some("https://github.com/acme/payments/pull/7?a=1&b=2".into());
        input.teams[0].name = "ops <https://evil.example|click>".into();
        let messages = slack_messages(&build_digest(&input));
        let all: String = messages.iter().map(Value::to_string).collect();
        assert!(
            all.contains("&lt;https://evil.example|Re-authenticate&gt; &amp; &lt;!here&gt;"),
            "{all}"
        );
        assert!(all.contains("by a&amp;b"), "{all}");
        assert!(
            all.contains("ops &lt;https://evil.example|click&gt;"),
            "{all}"
        );
        assert!(
            all.contains("<https://github.com/acme/payments/pull/7?a=1&amp;b=2|acme/payments#7>"),
            "{all}"
        );
        assert!(!all.contains("<https://evil.example"), "{all}");
        assert!(!all.contains("<!here>"), "{all}");
        // A URL with a pipe or angle bracket never becomes a link (the model drops it).
        let mut input = sample_input();
        input.week_prs[0].url = Some("https://github.com/x|<!channel>".into());
        let all: String = slack_messages(&build_digest(&input))
            .iter()
            .map(Value::to_string)
            .collect();
        assert!(!all.contains("<!channel>"), "{all}");
        assert!(!all.contains("x|"), "{all}");
    }

    #[test]
    fn digest_slack_fifty_teams_split_into_valid_messages() {
        let input = big_input(50);
        let messages = slack_messages(&build_digest(&input));
        // 50 flagged teams and 50 rows need three messages of at most 50 blocks.
        assert_eq!(messages.len(), 3);
        let mut rows = 0;
        for (i, message) in messages.iter().enumerate() {
            check_block_kit_limits(message).expect("within limits");
            let blocks = message["blocks"].as_array().expect("blocks");
            assert!(blocks.len() <= MAX_BLOCKS);
            assert!(!is_divider(&blocks[1]) && !is_divider(&blocks[blocks.len() - 1]));
            assert_eq!(
                blocks[0]["text"]["text"],
                format!("Weekly digest · acme · 2026-W42 ({}/3)", i + 1)
            );
            rows += blocks
                .iter()
                .filter(|b| {
                    b.get("fields")
                        .is_some_and(|f| f.as_array().is_some_and(|f| f.len() == 8))
                })
                .count();
        }
        assert_eq!(rows, 50);
        assert_eq!(
            messages[1]["text"],
            "Weekly digest for acme, 2026-W42 (part 2 of 3)"
        );
        // The open incidents are capped, with the rest counted.
        let all: String = messages.iter().map(Value::to_string).collect();
        assert!(all.contains("…and 30 more"));
    }

    #[test]
    fn digest_slack_validator_names_the_broken_limit() {
        let ok = |blocks: Vec<Value>| json!({"text": "fallback", "blocks": blocks});
        let err = |message: Value| {
            check_block_kit_limits(&message)
                .expect_err("rejected")
                .to_string()
        };
        assert_eq!(check_block_kit_limits(&ok(vec![divider()])), Ok(()));

        assert_eq!(err(ok(vec![divider(); 51])), "51 blocks, more than 50");
        assert_eq!(
            err(json!({"blocks": []})),
            "the message has no `text` fallback"
        );
        assert_eq!(
            err(json!({"text": " ", "blocks": []})),
            "the `text` fallback is empty"
        );
        let long_header =
            json!({"type": "header", "text": {"type": "plain_text", "text": "h".repeat(151)}});
        assert_eq!(
            err(ok(vec![long_header])),
            "block 0: header text has 151 characters, more than 150"
        );
        let mrkdwn_header = json!({"type": "header", "text": {"type": "mrkdwn", "text": "h"}});
        assert_eq!(
            err(ok(vec![mrkdwn_header])),
            "block 0: header `text` must be plain_text"
        );
        let long_section =
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "s".repeat(3001)}});
        assert_eq!(
            err(ok(vec![divider(), long_section])),
            "block 1: section text has 3001 characters, more than 3000"
        );
        let field = |n: usize| json!({"type": "mrkdwn", "text": "f".repeat(n)});
        let eleven = json!({"type": "section", "fields": vec![field(1); 11]});
        assert_eq!(
            err(ok(vec![eleven])),
            "block 0: section has 11 fields, not 1 to 10"
        );
        let long_field = json!({"type": "section", "fields": [field(1), field(2001)]});
        assert_eq!(
            err(ok(vec![long_field])),
            "block 0: field 1 has 2001 characters, more than 2000"
        );
        let empty_field = json!({"type": "section", "fields": [field(0)]});
        assert_eq!(
            err(ok(vec![empty_field])),
            "block 0: field 0: field is empty"
        );
        assert_eq!(
            err(ok(vec![json!({"type": "section"})])),
            "block 0: section needs `text` or `fields`"
        );
        let context_11 = json!({"type": "context", "elements": vec![field(1); 11]});
        assert_eq!(
            err(ok(vec![context_11])),
            "block 0: context has 11 elements, not 1 to 10"
        );
        assert_eq!(
            err(ok(vec![json!({"type": "video"})])),
            "block 0: unsupported block type \"video\""
        );
        let long_id = json!({"type": "divider", "block_id": "b".repeat(256)});
        assert_eq!(
            err(ok(vec![long_id])),
            "block 0: `block_id` has 256 characters, more than 255"
        );
        // Characters, not bytes: 150 multi-byte characters are fine.
        let accented =
            json!({"type": "header", "text": {"type": "plain_text", "text": "é".repeat(150)}});
        assert_eq!(check_block_kit_limits(&ok(vec![accented])), Ok(()));
    }
}
