//! Linear webhooks to ticket facts.
//!
//! Read: `type: "Issue"` with `action` `create`, `update` or `remove`; every other type
//! (comments, projects, cycles, labels…) and action is ignored. The payload's `data` is the whole
//! issue: identifier, team, title, its workflow state with the state's `type`, its cycle (the
//! ticket's sprint). On an update, `updatedFrom` holds the previous values of what changed; a
//! `stateId` there is a status change. It names the previous state by id only, so the
//! transition's `from` is unknown (`None`); its category is the new state's type.
//!
//! Linear dates every delivery (`webhookTimestamp`, ms) and signs it, so a retry is a different
//! body: fact ids must not hash it. A creation and a removal happen once (`issue:create`,
//! `issue:remove`); an update is a hash of the body without the fields that change per delivery
//! (`webhookTimestamp`, `webhookId`, `createdAt`). The time is the issue's own: `data.createdAt`
//! for a creation, `data.updatedAt` for a change (the payload's `createdAt` when absent).
//! The timestamp itself is checked against the clock by the webhook, before this runs
//! ([`webhook_timestamp`], `signature::check_timestamp`).

use serde::Deserialize;
use serde_json::Value;

use super::json::{from_value, Timestamp};
use super::{check_id, parse_body, IngestError, Normalized};
use crate::model::{
    short_digest, EntityKey, Fact, FactBody, StatusTransition, TicketCategory, TicketSnapshot,
    TicketSource,
};

/// Fields of a delivery that differ between two deliveries of the same change.
const PER_DELIVERY_FIELDS: [&str; 3] = ["webhookTimestamp", "webhookId", "createdAt"];

/// The delivery's `webhookTimestamp`: when Linear sent it, in milliseconds since the epoch.
pub fn webhook_timestamp(body: &[u8]) -> Result<i64, IngestError> {
    #[derive(Deserialize)]
    struct Dated {
        #[serde(rename = "webhookTimestamp")]
        webhook_timestamp: i64,
    }
    let root = parse_body(body)?;
    let dated: Dated = from_value(&root)?;
    Ok(dated.webhook_timestamp)
}

pub fn normalize_linear(body: &[u8]) -> Result<Normalized, IngestError> {
    let root = parse_body(body)?;
    let head: Head = from_value(&root)?;
    if head.kind != "Issue" {
        return Ok(Normalized::Ignored("not an issue event"));
    }
    if !matches!(head.action.as_str(), "create" | "update" | "remove") {
        return Ok(Normalized::Ignored("unsupported action"));
    }
    let delivery: Delivery = from_value(&root)?;
    let issue = delivery.data;
    check_id(&issue.identifier, "data.identifier")?;
    let project = match &issue.team {
        Some(team) => team.key.clone(),
        // Linear's identifiers are `<team key>-<number>`.
        None => issue
            .identifier
            .rsplit_once('-')
            .map_or(issue.identifier.clone(), |(team, _)| team.to_string()),
    };
    check_id(&project, "data.team.key")?;
    let category = category_of(&issue.state.kind)?;
    let (identity, at) = match head.action.as_str() {
        "create" => (
            "issue:create".to_string(),
            issue.created_at.unwrap_or(delivery.created_at),
        ),
        "remove" => (
            "issue:remove".to_string(),
            issue.updated_at.unwrap_or(delivery.created_at),
        ),
        _ => (
            format!("issue:update:{}", change_digest(&root)),
            issue.updated_at.unwrap_or(delivery.created_at),
        ),
    };
    let state_changed = head.action == "update"
        && delivery
            .updated_from
            .as_ref()
            .is_some_and(|from| from.get("stateId").is_some());
    let transition = state_changed.then(|| StatusTransition {
        from: None,
        to: issue.state.name.clone(),
        category: Some(category),
        at: at.0,
    });
    let sprint = issue.cycle.and_then(|c| match (c.name, c.number) {
        (Some(name), _) if !name.trim().is_empty() => Some(name),
        (_, Some(number)) => Some(format!("Cycle {number}")),
        _ => None,
    });
    let fact = Fact {
        entity: EntityKey::Ticket {
            id: format!("{}:{}", TicketSource::Linear.prefix(), issue.identifier),
        },
        id: format!("{identity}#0"),
        at: at.0,
        body: FactBody::TicketChanged(TicketSnapshot {
            source: TicketSource::Linear,
            key: issue.identifier,
            project,
            title: issue.title.unwrap_or_default(),
            status: issue.state.name,
            category,
            transition,
            fix_versions: Vec::new(),
            sprint,
            deleted: head.action == "remove",
            created_at: issue.created_at.map(|t| t.0),
            html_url: issue.url.or(delivery.url),
        }),
    };
    Ok(Normalized::Facts(vec![fact]))
}

/// Linear's workflow state types. `triage` (the inbox of issues not yet accepted) is not
/// started work either.
fn category_of(kind: &str) -> Result<TicketCategory, IngestError> {
    match kind {
        "triage" | "backlog" | "unstarted" => Ok(TicketCategory::Todo),
        "started" => Ok(TicketCategory::Started),
        "completed" => Ok(TicketCategory::Done),
        "canceled" => Ok(TicketCategory::Canceled),
        other => Err(IngestError::invalid(
            "data.state.type",
            format!(
                "{other:?} is not a Linear state type (triage, backlog, unstarted, started, \
                 completed, canceled)"
            ),
        )),
    }
}

/// A hash of what the change is: the body without the fields each delivery dates anew.
/// serde_json writes an object's keys in one order for one input (sorted, or as sent), so the
/// same change always hashes the same.
fn change_digest(root: &Value) -> String {
    let mut change = root.clone();
    if let Some(object) = change.as_object_mut() {
        for field in PER_DELIVERY_FIELDS {
            object.remove(field);
        }
    }
    short_digest(&serde_json::to_vec(&change).unwrap_or_default())
}

// ---- payload shapes (only the fields we read) -----------------------------------------------

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    action: String,
}

#[derive(Deserialize)]
struct Delivery {
    #[serde(rename = "createdAt")]
    created_at: Timestamp,
    data: Issue,
    #[serde(default, rename = "updatedFrom")]
    updated_from: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct Issue {
    identifier: String,
    #[serde(default)]
    title: Option<String>,
    state: State,
    #[serde(default)]
    team: Option<Team>,
    #[serde(default)]
    cycle: Option<Cycle>,
    #[serde(default, rename = "createdAt")]
    created_at: Option<Timestamp>,
    #[serde(default, rename = "updatedAt")]
    updated_at: Option<Timestamp>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct State {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Team {
    key: String,
}

#[derive(Deserialize)]
struct Cycle {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    number: Option<u64>,
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::ingest::testing::{mutate, remove, set, single_of, ticket, ticket_snapshot, ts};

    /// ENG-123 moved from Todo to In Progress (built from Linear's documented payload shape:
    /// tests/fixtures/linear/README.md).
    pub(crate) const UPDATE: &[u8] =
        include_bytes!("../../../tests/fixtures/linear/issue_update_state.json");
    pub(crate) const CREATE: &[u8] =
        include_bytes!("../../../tests/fixtures/linear/issue_create.json");

    fn single(body: &[u8]) -> Fact {
        single_of(normalize_linear(body).expect("accepted"))
    }

    #[test]
    fn a_state_change() {
        let fact = single(UPDATE);
        assert_eq!(fact.entity, ticket("linear:ENG-123"));
        assert!(fact.id.starts_with("issue:update:"), "{}", fact.id);
        assert_eq!(fact.at, ts("2026-10-06T09:15:02.418Z"));
        assert_eq!(
            fact.body,
            FactBody::TicketChanged(TicketSnapshot {
                source: TicketSource::Linear,
                key: "ENG-123".into(),
                project: "ENG".into(),
                title: "Checkout times out for carts over 50 items".into(),
                status: "In Progress".into(),
                category: TicketCategory::Started,
                transition: Some(StatusTransition {
                    from: None,
                    to: "In Progress".into(),
                    category: Some(TicketCategory::Started),
                    at: ts("2026-10-06T09:15:02.418Z"),
                }),
                fix_versions: vec![],
                sprint: Some("Cycle 42".into()),
                deleted: false,
                created_at: Some(ts("2026-10-05T14:02:11.902Z")),
                html_url: Some(
                    "https://linear.app/acme/issue/ENG-123/checkout-times-out-for-carts-over-50-items"
                        .into()
                ),
            })
        );
    }

    #[test]
    fn create_and_remove() {
        let fact = single(CREATE);
        assert_eq!(fact.id, "issue:create#0");
        assert_eq!(fact.at, ts("2026-10-05T14:02:11.902Z"));
        let s = ticket_snapshot(&fact);
        assert_eq!(s.category, TicketCategory::Todo);
        assert_eq!(s.status, "Todo");
        assert_eq!(s.transition, None);
        assert_eq!(s.sprint, None);

        let removed = mutate(UPDATE, |v| {
            set(v, "/action", json!("remove"));
            remove(v, "/updatedFrom");
        });
        let fact = single(&removed);
        assert_eq!(fact.id, "issue:remove#0");
        assert!(ticket_snapshot(&fact).deleted);
    }

    #[test]
    fn state_types() {
        for (kind, category) in [
            ("triage", TicketCategory::Todo),
            ("backlog", TicketCategory::Todo),
            ("unstarted", TicketCategory::Todo),
            ("started", TicketCategory::Started),
            ("completed", TicketCategory::Done),
            ("canceled", TicketCategory::Canceled),
        ] {
            let body = mutate(UPDATE, |v| set(v, "/data/state/type", json!(kind)));
            assert_eq!(ticket_snapshot(&single(&body)).category, category, "{kind}");
        }
        let bad = mutate(UPDATE, |v| set(v, "/data/state/type", json!("paused")));
        assert!(matches!(
            normalize_linear(&bad),
            Err(IngestError::InvalidField { path, .. }) if path == "data.state.type"
        ));
    }

    #[test]
    fn an_update_of_something_else_has_no_transition() {
        let body = mutate(UPDATE, |v| {
            set(
                v,
                "/updatedFrom",
                json!({"updatedAt": "2026-10-06T09:00:00.000Z", "title": "old"}),
            )
        });
        assert_eq!(ticket_snapshot(&single(&body)).transition, None);
    }

    #[test]
    fn a_retry_dated_anew_is_the_same_fact() {
        let retry = mutate(UPDATE, |v| {
            set(v, "/webhookTimestamp", json!(1_791_278_200_000_i64));
            set(
                v,
                "/webhookId",
                json!("0b7e9d1c-0000-4000-8000-000000000000"),
            );
            set(v, "/createdAt", json!("2026-10-06T09:16:40.000Z"));
        });
        assert_eq!(normalize_linear(&retry), normalize_linear(UPDATE));
        // A different change of the same issue is another fact.
        let other = mutate(UPDATE, |v| set(v, "/data/title", json!("Renamed")));
        assert_ne!(single(&other).id, single(UPDATE).id);
    }

    #[test]
    fn other_types_and_actions_are_ignored() {
        for kind in ["Comment", "Project", "Cycle", "IssueLabel", "Reaction"] {
            let body = mutate(UPDATE, |v| set(v, "/type", json!(kind)));
            assert_eq!(
                normalize_linear(&body),
                Ok(Normalized::Ignored("not an issue event")),
                "{kind}"
            );
        }
        let restore = mutate(UPDATE, |v| set(v, "/action", json!("restore")));
        assert_eq!(
            normalize_linear(&restore),
            Ok(Normalized::Ignored("unsupported action"))
        );
    }

    #[test]
    fn the_webhook_timestamp() {
        assert_eq!(webhook_timestamp(UPDATE), Ok(1_791_278_102_530));
        let missing = mutate(UPDATE, |v| remove(v, "/webhookTimestamp"));
        assert_eq!(
            webhook_timestamp(&missing),
            Err(IngestError::MissingField {
                path: "webhookTimestamp".into()
            })
        );
        let text = mutate(UPDATE, |v| set(v, "/webhookTimestamp", json!("now")));
        assert!(matches!(
            webhook_timestamp(&text),
            Err(IngestError::InvalidField { path, .. }) if path == "webhookTimestamp"
        ));
    }

    #[test]
    fn hostile_strings_and_errors_name_the_field() {
        let title = format!("\u{7}{}", "y".repeat(400_000));
        let body = mutate(UPDATE, |v| set(v, "/data/title", json!(title)));
        let fact = single(&body);
        assert_eq!(ticket_snapshot(&fact).title, title);
        assert!(crate::ingest::check_storable(&[fact]).is_err());
        let bad_key = mutate(UPDATE, |v| set(v, "/data/identifier", json!("ENG-\u{0}1")));
        assert!(matches!(
            normalize_linear(&bad_key),
            Err(IngestError::InvalidField { path, .. }) if path == "data.identifier"
        ));
        let no_state = mutate(UPDATE, |v| remove(v, "/data/state"));
        assert_eq!(
            normalize_linear(&no_state),
            Err(IngestError::MissingField {
                path: "data.state".into()
            })
        );
        let bad_time = mutate(UPDATE, |v| set(v, "/data/updatedAt", json!("soon")));
        assert_eq!(
            normalize_linear(&bad_time),
            Err(IngestError::BadTimestamp {
                path: "data.updatedAt".into(),
                value: "soon".into()
            })
        );
        assert_eq!(
            normalize_linear(b"{}"),
            Err(IngestError::MissingField {
                path: "type".into()
            })
        );
    }
}
