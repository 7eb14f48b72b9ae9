//! Jira webhooks (Cloud and Server/Data Center) to ticket facts.
//!
//! Read: `jira:issue_created`, `jira:issue_updated` and `jira:issue_deleted`. Every other event
//! (`comment_created`, `jira:version_released`, `sprint_started`, …) is ignored. Both products
//! send the same issue shape; they differ in the user object (Cloud `accountId`, Server `name`),
//! which is not read, in the offset form of their times (`+0100`, read by `IsoTimestamp`) and in
//! how a sprint field looks (see [`sprint_of`]).
//!
//! Each delivery carries the whole issue, so a fact is a snapshot: key, project, summary, status
//! and its category, fix versions, sprint. A status change is in the `changelog`, whose items
//! carry status *names* only; the category of the new status is the issue's
//! `fields.status.statusCategory`, which in the delivery of the change is the new status's, so a
//! transition records it when the issue's status is the transition's target (and `None` when
//! not, which a delivery of the change itself never shows).
//!
//! Fact ids come from the body: a creation and a deletion happen once (`issue:created`,
//! `issue:deleted`), an update is its changelog's id (`changelog:<id>`, unique per change in
//! Jira) or, for an update without one (a comment), a hash of the raw body. The time is the
//! payload's `timestamp` (when the event fired). Jira resends a failed delivery with the same
//! body, so a redelivery writes nothing.

use serde::Deserialize;
use serde_json::Value;

use super::json::{from_value, null_as_default, EpochMillis, IsoTimestamp};
use super::{check_id, parse_body, IngestError, Normalized};
use crate::model::{
    short_digest, EntityKey, Fact, FactBody, StatusTransition, TicketCategory, TicketSnapshot,
    TicketSource,
};

/// The Jira events that change a ticket.
const ISSUE_EVENTS: [&str; 3] = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
];

pub fn normalize_jira(body: &[u8]) -> Result<Normalized, IngestError> {
    let root = parse_body(body)?;
    // The event first, so events of other shapes never fail on fields we would not read.
    let head: Head = from_value(&root)?;
    if !ISSUE_EVENTS.contains(&head.webhook_event.as_str()) {
        return Ok(Normalized::Ignored("unsupported event"));
    }
    let delivery: Delivery = from_value(&root)?;
    let issue = delivery.issue;
    check_id(&issue.key, "issue.key")?;
    let project = issue.fields.project.key;
    check_id(&project, "issue.fields.project.key")?;
    let status = issue.fields.status;
    let category = category_of(&status.status_category.key)?;
    let at = delivery.timestamp.0;

    let changes = delivery
        .changelog
        .as_ref()
        .map_or(&[][..], |c| &c.items[..]);
    let transition = changes
        .iter()
        .rev()
        .find(|item| item.is_field("status"))
        .and_then(|item| {
            let to = item.to_string.clone()?;
            Some(StatusTransition {
                from: item.from_string.clone(),
                category: (to == status.name).then_some(category),
                to,
                at,
            })
        });
    let fix_versions = fix_versions(&issue.fields.fix_versions, changes);
    let fields = root.pointer("/issue/fields");
    let sprint = fields.and_then(sprint_of).or_else(|| {
        changes
            .iter()
            .rev()
            .find(|item| item.is_field("sprint"))
            .and_then(|item| last_listed(item.to_string.as_deref()?))
    });

    let identity = match (head.webhook_event.as_str(), &delivery.changelog) {
        ("jira:issue_created", _) => "issue:created".to_string(),
        ("jira:issue_deleted", _) => "issue:deleted".to_string(),
        (_, Some(Changelog { id: Some(id), .. })) => {
            check_id(id, "changelog.id")?;
            format!("changelog:{id}")
        }
        _ => format!("issue:{}", short_digest(body)),
    };
    let fact = Fact {
        entity: EntityKey::Ticket {
            id: format!("{}:{}", TicketSource::Jira.prefix(), issue.key),
        },
        id: format!("{identity}#0"),
        at,
        body: FactBody::TicketChanged(TicketSnapshot {
            source: TicketSource::Jira,
            html_url: issue.url.as_deref().and_then(|u| browse_url(u, &issue.key)),
            key: issue.key,
            project,
            title: issue.fields.summary.unwrap_or_default(),
            status: status.name,
            category,
            transition,
            fix_versions,
            sprint,
            deleted: head.webhook_event == "jira:issue_deleted",
            created_at: issue.fields.created.map(|t| t.0),
        }),
    };
    Ok(Normalized::Facts(vec![fact]))
}

/// Jira's three status categories, and its "No Category" (`undefined`, statuses an admin has
/// not sorted), which counts as not started.
fn category_of(key: &str) -> Result<TicketCategory, IngestError> {
    match key {
        "new" | "undefined" => Ok(TicketCategory::Todo),
        "indeterminate" => Ok(TicketCategory::Started),
        "done" => Ok(TicketCategory::Done),
        other => Err(IngestError::invalid(
            "issue.fields.status.statusCategory.key",
            format!("{other:?} is not a Jira status category (new, indeterminate, done)"),
        )),
    }
}

/// The issue's fix versions (`fields.fixVersions`), with the changelog's `Fix Version` items
/// applied on top: an item adds its `toString` and removes its `fromString`. In a delivery of
/// the change the fields already show it; the changelog is what a payload trimmed of fields
/// still says.
fn fix_versions(from_fields: &[Version], changes: &[ChangeItem]) -> Vec<String> {
    let mut names: Vec<String> = from_fields.iter().filter_map(|v| v.name.clone()).collect();
    for item in changes.iter().filter(|i| i.is_field("fixVersions")) {
        match (&item.from_string, &item.to_string) {
            (_, Some(added)) if !names.contains(added) => names.push(added.clone()),
            (Some(removed), None) => names.retain(|n| n != removed),
            _ => {}
        }
    }
    names
}

/// The sprint of the issue's fields. Sprints are a custom field whose id differs per site, so
/// every `customfield_*` is looked at: Cloud sends a list of objects with `boardId`, `name` and
/// `state`; Server and Data Center a list of strings
/// `com.atlassian.greenhopper.service.sprint.Sprint@…[id=1,…,state=ACTIVE,name=Sprint 1,…]`.
/// Of several sprints (an issue carried over), the active one, else the last listed.
fn sprint_of(fields: &Value) -> Option<String> {
    let fields = fields.as_object()?;
    let mut sprints: Vec<(String, bool)> = Vec::new();
    for (name, value) in fields {
        if !name.starts_with("customfield_") {
            continue;
        }
        let Some(entries) = value.as_array() else {
            continue;
        };
        for entry in entries {
            match entry {
                Value::Object(sprint) if sprint.contains_key("boardId") => {
                    if let Some(name) = sprint.get("name").and_then(Value::as_str) {
                        let active = sprint.get("state").and_then(Value::as_str) == Some("active");
                        sprints.push((name.to_string(), active));
                    }
                }
                Value::String(text) if text.starts_with(SERVER_SPRINT) => {
                    if let Some(name) = server_sprint_attribute(text, "name") {
                        let active =
                            server_sprint_attribute(text, "state").as_deref() == Some("ACTIVE");
                        sprints.push((name, active));
                    }
                }
                _ => {}
            }
        }
    }
    let active = sprints.iter().find(|(_, active)| *active);
    active.or(sprints.last()).map(|(name, _)| name.clone())
}

const SERVER_SPRINT: &str = "com.atlassian.greenhopper.service.sprint.Sprint@";

/// One attribute of a Server sprint string. A sprint name may hold commas, so a value runs to
/// the next `,<attribute>=` of the ones Jira writes, or to the closing `]`.
fn server_sprint_attribute(text: &str, attribute: &str) -> Option<String> {
    const ATTRIBUTES: [&str; 12] = [
        "id",
        "rapidViewId",
        "state",
        "name",
        "goal",
        "startDate",
        "endDate",
        "completeDate",
        "activatedDate",
        "sequence",
        "autoStartStop",
        "synced",
    ];
    let inner = text.split_once('[')?.1.strip_suffix(']')?;
    let start = if inner.starts_with(&format!("{attribute}=")) {
        attribute.len() + 1
    } else {
        inner.find(&format!(",{attribute}="))? + attribute.len() + 2
    };
    let rest = &inner[start..];
    let end = ATTRIBUTES
        .iter()
        .filter_map(|a| rest.find(&format!(",{a}=")))
        .min()
        .unwrap_or(rest.len());
    let value = &rest[..end];
    (!value.is_empty() && value != "<null>").then(|| value.to_string())
}

/// The last of a changelog's comma-separated list (`Sprint 1, Sprint 2`): the sprint the issue
/// moved on to. Empty means it left every sprint.
fn last_listed(list: &str) -> Option<String> {
    list.rsplit(',')
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// The issue's page: its REST `self` URL (`https://acme.atlassian.net/rest/api/2/issue/10000`)
/// points at the site, the page is `<site>/browse/<key>`.
fn browse_url(rest_url: &str, key: &str) -> Option<String> {
    let (site, _) = rest_url.split_once("/rest/api/")?;
    Some(format!("{site}/browse/{key}"))
}

// ---- payload shapes (only the fields we read) -----------------------------------------------

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "webhookEvent")]
    webhook_event: String,
}

#[derive(Deserialize)]
struct Delivery {
    timestamp: EpochMillis,
    issue: Issue,
    #[serde(default)]
    changelog: Option<Changelog>,
}

#[derive(Deserialize)]
struct Issue {
    key: String,
    #[serde(default, rename = "self")]
    url: Option<String>,
    fields: Fields,
}

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    summary: Option<String>,
    status: Status,
    project: Project,
    #[serde(default, rename = "fixVersions", deserialize_with = "null_as_default")]
    fix_versions: Vec<Version>,
    #[serde(default)]
    created: Option<IsoTimestamp>,
}

#[derive(Deserialize)]
struct Status {
    name: String,
    #[serde(rename = "statusCategory")]
    status_category: StatusCategory,
}

#[derive(Deserialize)]
struct StatusCategory {
    key: String,
}

#[derive(Deserialize)]
struct Project {
    key: String,
}

#[derive(Deserialize)]
struct Version {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Changelog {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    items: Vec<ChangeItem>,
}

#[derive(Deserialize)]
struct ChangeItem {
    #[serde(default)]
    field: Option<String>,
    /// Cloud only; Server names the field in `field` alone.
    #[serde(default, rename = "fieldId")]
    field_id: Option<String>,
    #[serde(default, rename = "fromString")]
    from_string: Option<String>,
    #[serde(default, rename = "toString")]
    to_string: Option<String>,
}

impl ChangeItem {
    /// Whether the item changes `field_id` (Cloud's id, or the display name Server sends:
    /// `status`, `Fix Version`, `Sprint`).
    fn is_field(&self, field_id: &str) -> bool {
        let display = match field_id {
            "fixVersions" => "Fix Version",
            "sprint" => "Sprint",
            other => other,
        };
        self.field_id.as_deref() == Some(field_id)
            || self
                .field
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case(display))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::ingest::testing::{mutate, remove, set, single_of, ticket, ticket_snapshot, ts};

    /// Jira Cloud (zulipp.atlassian.net): TEST-1 moved To Do → In Progress.
    pub(crate) const CLOUD_STATUS: &[u8] =
        include_bytes!("../../../tests/fixtures/jira/zulip.issue_updated__status.json");
    /// Jira Server (a local dev instance): TEST-11 moved To Do → Done.
    pub(crate) const SERVER_STATUS: &[u8] = include_bytes!(
        "../../../tests/fixtures/jira/jira-trigger-plugin.issue_updated_status_updated.json"
    );
    /// Jira Server: TEST-11's summary, description, priority and resolution changed.
    pub(crate) const SERVER_FIELDS: &[u8] = include_bytes!(
        "../../../tests/fixtures/jira/jira-trigger-plugin.issue_updated_fields_updated.json"
    );
    pub(crate) const ALL: [&[u8]; 3] = [CLOUD_STATUS, SERVER_STATUS, SERVER_FIELDS];

    fn single(body: &[u8]) -> Fact {
        single_of(normalize_jira(body).expect("accepted"))
    }

    #[test]
    fn cloud_status_change() {
        let fact = single(CLOUD_STATUS);
        assert_eq!(fact.entity, ticket("jira:TEST-1"));
        assert_eq!(fact.id, "changelog:10000#0");
        // `timestamp` 1485797534721 ms.
        assert_eq!(fact.at, ts("2017-01-30T17:32:14.721Z"));
        assert_eq!(
            fact.body,
            FactBody::TicketChanged(TicketSnapshot {
                source: TicketSource::Jira,
                key: "TEST-1".into(),
                project: "ABC".into(),
                title: "Fix That".into(),
                status: "In Progress".into(),
                category: TicketCategory::Started,
                transition: Some(StatusTransition {
                    from: Some("To Do".into()),
                    to: "In Progress".into(),
                    category: Some(TicketCategory::Started),
                    at: ts("2017-01-30T17:32:14.721Z"),
                }),
                fix_versions: vec![],
                sprint: None,
                deleted: false,
                // 18:30:41.962+0100
                created_at: Some(ts("2017-01-30T17:30:41.962Z")),
                html_url: Some("https://zulipp.atlassian.net/browse/TEST-1".into()),
            })
        );
    }

    #[test]
    fn server_status_change_to_done() {
        let fact = single(SERVER_STATUS);
        assert_eq!(fact.entity, ticket("jira:TEST-11"));
        assert_eq!(fact.id, "changelog:10202#0");
        assert_eq!(fact.at, ts("2016-01-14T23:06:37.049Z"));
        let s = ticket_snapshot(&fact);
        assert_eq!(s.project, "TEST");
        assert_eq!(s.title, "summary updated");
        assert_eq!(s.status, "Done");
        assert_eq!(s.category, TicketCategory::Done);
        assert_eq!(
            s.transition,
            Some(StatusTransition {
                from: Some("To Do".into()),
                to: "Done".into(),
                category: Some(TicketCategory::Done),
                at: ts("2016-01-14T23:06:37.049Z"),
            })
        );
        assert_eq!(s.created_at, Some(ts("2016-01-06T20:16:41.463Z")));
        assert_eq!(
            s.html_url.as_deref(),
            Some("http://localhost:2990/jira/browse/TEST-11")
        );
    }

    #[test]
    fn an_update_without_a_status_change_has_no_transition() {
        let fact = single(SERVER_FIELDS);
        assert_eq!(fact.id, "changelog:10201#0");
        let s = ticket_snapshot(&fact);
        assert_eq!(s.transition, None);
        assert_eq!(s.category, TicketCategory::Todo);
        assert_eq!(s.title, "summary updated");
    }

    #[test]
    fn created_and_deleted_are_lifecycle_steps() {
        let created = mutate(SERVER_FIELDS, |v| {
            set(v, "/webhookEvent", json!("jira:issue_created"));
            remove(v, "/changelog");
        });
        let fact = single(&created);
        assert_eq!(fact.id, "issue:created#0");
        assert!(!ticket_snapshot(&fact).deleted);

        let deleted = mutate(CLOUD_STATUS, |v| {
            set(v, "/webhookEvent", json!("jira:issue_deleted"));
            remove(v, "/changelog");
        });
        let fact = single(&deleted);
        assert_eq!(fact.id, "issue:deleted#0");
        assert!(ticket_snapshot(&fact).deleted);
        assert_eq!(ticket_snapshot(&fact).transition, None);
    }

    #[test]
    fn an_update_without_a_changelog_is_its_body() {
        let commented = mutate(CLOUD_STATUS, |v| remove(v, "/changelog"));
        let fact = single(&commented);
        assert_eq!(fact.id, format!("issue:{}#0", short_digest(&commented)));
        assert_eq!(ticket_snapshot(&fact).transition, None);
    }

    #[test]
    fn other_events_are_ignored() {
        for event in ["comment_created", "jira:version_released", "sprint_started"] {
            let body = mutate(CLOUD_STATUS, |v| set(v, "/webhookEvent", json!(event)));
            assert_eq!(
                normalize_jira(&body),
                Ok(Normalized::Ignored("unsupported event")),
                "{event}"
            );
        }
        // An ignored event need not have an issue at all.
        let version = br#"{"timestamp":1,"webhookEvent":"jira:version_released","version":{}}"#;
        assert_eq!(
            normalize_jira(version),
            Ok(Normalized::Ignored("unsupported event"))
        );
    }

    #[test]
    fn fix_versions_from_fields_and_changelog() {
        // The changelog item's shape as Jira Cloud sends it (tests/fixtures/jira/README.md).
        let body = mutate(CLOUD_STATUS, |v| {
            set(
                v,
                "/issue/fields/fixVersions",
                json!([{"id": "15468", "name": "7.1"}]),
            );
            let items = v
                .pointer_mut("/changelog/items")
                .and_then(Value::as_array_mut)
                .expect("items");
            items.push(
                json!({"field": "Fix Version", "fieldtype": "jira", "fieldId": "fixVersions",
                "from": null, "fromString": null, "to": "15469", "toString": "7.2"}),
            );
        });
        assert_eq!(ticket_snapshot(&single(&body)).fix_versions, ["7.1", "7.2"]);
        let removed = mutate(CLOUD_STATUS, |v| {
            set(
                v,
                "/issue/fields/fixVersions",
                json!([{"name": "7.1"}, {"name": "7.2"}]),
            );
            set(
                v,
                "/changelog/items",
                json!([{"field": "Fix Version", "fieldtype": "jira",
                "from": "15468", "fromString": "7.1", "to": null, "toString": null}]),
            );
        });
        assert_eq!(ticket_snapshot(&single(&removed)).fix_versions, ["7.2"]);
    }

    /// Adds a field to the issue's fields (a custom field the fixture does not have).
    fn insert(v: &mut Value, field: &str, value: Value) {
        v.pointer_mut("/issue/fields")
            .and_then(Value::as_object_mut)
            .expect("fields")
            .insert(field.to_string(), value);
    }

    #[test]
    fn sprints_in_cloud_and_server_shapes() {
        let cloud = mutate(CLOUD_STATUS, |v| {
            insert(
                v,
                "customfield_10020",
                json!([
                    {"id": 1, "name": "Sprint 1", "state": "closed", "boardId": 1},
                    {"id": 2, "name": "Sprint 2", "state": "active", "boardId": 1, "goal": ""},
                    {"id": 3, "name": "Sprint 3", "state": "future", "boardId": 1}
                ]),
            );
        });
        assert_eq!(
            ticket_snapshot(&single(&cloud)).sprint.as_deref(),
            Some("Sprint 2")
        );
        let server = mutate(SERVER_STATUS, |v| {
            insert(v, "customfield_10100", json!([
                "com.atlassian.greenhopper.service.sprint.Sprint@6f3a[id=4,rapidViewId=1,state=CLOSED,name=Sprint 4,startDate=2016-01-01T10:00:00.000Z,endDate=2016-01-08T10:00:00.000Z,completeDate=<null>,sequence=4]",
                "com.atlassian.greenhopper.service.sprint.Sprint@7a1b[id=5,rapidViewId=1,state=FUTURE,name=Sprint 5, the big one,startDate=<null>,endDate=<null>,completeDate=<null>,sequence=5]"
            ]));
        });
        assert_eq!(
            ticket_snapshot(&single(&server)).sprint.as_deref(),
            Some("Sprint 5, the big one")
        );
        // Only the changelog says it: the issue moved on to the last sprint listed.
        let changelog = mutate(CLOUD_STATUS, |v| {
            let items = v
                .pointer_mut("/changelog/items")
                .and_then(Value::as_array_mut)
                .expect("items");
            items.push(json!({"field": "Sprint", "fieldtype": "custom", "fieldId": "customfield_10020",
                "from": "1", "fromString": "Sprint 1", "to": "1, 2", "toString": "Sprint 1, Sprint 2"}));
        });
        assert_eq!(
            ticket_snapshot(&single(&changelog)).sprint.as_deref(),
            Some("Sprint 2")
        );
    }

    #[test]
    fn a_transition_to_a_status_the_issue_has_left_has_no_category() {
        let body = mutate(CLOUD_STATUS, |v| {
            set(v, "/changelog/items/0/toString", json!("In Review"));
        });
        let s = ticket_snapshot(&single(&body)).clone();
        assert_eq!(s.category, TicketCategory::Started);
        let t = s.transition.expect("transition");
        assert_eq!(t.to, "In Review");
        assert_eq!(t.category, None);
    }

    #[test]
    fn status_categories() {
        for (key, category) in [
            ("new", TicketCategory::Todo),
            ("undefined", TicketCategory::Todo),
            ("indeterminate", TicketCategory::Started),
            ("done", TicketCategory::Done),
        ] {
            let body = mutate(CLOUD_STATUS, |v| {
                set(v, "/issue/fields/status/statusCategory/key", json!(key))
            });
            assert_eq!(ticket_snapshot(&single(&body)).category, category, "{key}");
        }
    }

    #[test]
    fn redelivery_gives_identical_facts() {
        for body in ALL {
            assert_eq!(normalize_jira(body), normalize_jira(body));
        }
    }

    #[test]
    fn hostile_strings() {
        // A title is kept as sent, control characters and all; only the size of the whole fact
        // is bounded (`check_storable`), as for a PR title.
        let title = format!("a\u{0}b\u{1b}[31m{}", "x".repeat(1_000_000));
        let body = mutate(CLOUD_STATUS, |v| {
            set(v, "/issue/fields/summary", json!(title))
        });
        let fact = single(&body);
        assert_eq!(ticket_snapshot(&fact).title, title);
        assert!(crate::ingest::check_storable(&[fact]).is_err());
        // Keys go into table keys: control characters there are the sender's error.
        for (pointer, path) in [
            ("/issue/key", "issue.key"),
            ("/issue/fields/project/key", "issue.fields.project.key"),
            ("/changelog/id", "changelog.id"),
        ] {
            let body = mutate(CLOUD_STATUS, |v| set(v, pointer, json!("A\nB")));
            assert!(
                matches!(normalize_jira(&body), Err(IngestError::InvalidField { path: p, .. }) if p == path),
                "{pointer}"
            );
        }
    }

    #[test]
    fn errors_name_the_field() {
        let no_status = mutate(CLOUD_STATUS, |v| remove(v, "/issue/fields/status"));
        assert_eq!(
            normalize_jira(&no_status),
            Err(IngestError::MissingField {
                path: "issue.fields.status".into()
            })
        );
        let no_time = mutate(CLOUD_STATUS, |v| remove(v, "/timestamp"));
        assert_eq!(
            normalize_jira(&no_time),
            Err(IngestError::MissingField {
                path: "timestamp".into()
            })
        );
        let bad_created = mutate(CLOUD_STATUS, |v| {
            set(v, "/issue/fields/created", json!("yesterday"))
        });
        assert_eq!(
            normalize_jira(&bad_created),
            Err(IngestError::BadTimestamp {
                path: "issue.fields.created".into(),
                value: "yesterday".into()
            })
        );
        let bad_category = mutate(CLOUD_STATUS, |v| {
            set(
                v,
                "/issue/fields/status/statusCategory/key",
                json!("blocked"),
            )
        });
        assert!(matches!(
            normalize_jira(&bad_category),
            Err(IngestError::InvalidField { path, .. }) if path == "issue.fields.status.statusCategory.key"
        ));
        assert!(matches!(
            normalize_jira(b"{\"webhookEvent\":"),
            Err(IngestError::MalformedJson(_))
        ));
        assert_eq!(
            normalize_jira(b"{}"),
            Err(IngestError::MissingField {
                path: "webhookEvent".into()
            })
        );
    }
}
