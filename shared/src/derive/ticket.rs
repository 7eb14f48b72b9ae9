//! A ticket's state, folded from its facts (Jira and Linear deliveries, `ingest::{jira,linear}`).
//!
//! Every fact is a full snapshot of the ticket at its event time, so the latest snapshot gives
//! what the ticket is now (title, status, category, fix versions, sprint, deleted). The work
//! times come from the whole history, read in event-time order (then fact id, so the order the
//! deliveries arrived in never matters):
//!
//! - `started_at`: the time of the first fact that shows the ticket in the `Started` category;
//! - `done_at`: the time of the first fact at or after that start that shows it `Done`. A ticket
//!   reopened and finished again (done → started → done) keeps its *first* done after its
//!   first start: the work was delivered then, and the rework shows as a later status, not as
//!   a longer cycle. A ticket that goes to done without ever being started has no `started_at`
//!   and its first done as `done_at`; one that is done, then started, then done again is done at
//!   the second done (the first was before any work began).
//!
//! The PRs naming the ticket come as links (`FactBody::NamedByPr`, written when a PR's
//! projection changes): `shipped_at` is the earliest production deployment of any of them.
//!
//! A fact "shows the ticket in" a category by its snapshot's category, whether or not it
//! carries a transition: the delivery of a transition may be lost, and the next delivery still
//! shows where the ticket stands (a later and therefore more conservative time). `Canceled` is
//! neither started nor done.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deployment::facts_in_order;
use crate::model::{EntityKey, Fact, FactBody, TicketCategory, TicketSnapshot, TicketSource};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The entity id: `jira:ENG-1`, `linear:ENG-1`.
    pub id: String,
    pub source: TicketSource,
    /// Jira's project key or Linear's team key.
    pub project: String,
    pub title: String,
    /// The current status's name.
    pub status: String,
    pub category: TicketCategory,
    /// First seen in a started category.
    pub started_at: Option<DateTime<Utc>>,
    /// First seen done at or after `started_at` (the first done at all when never started).
    pub done_at: Option<DateTime<Utc>>,
    pub fix_versions: Vec<String>,
    pub sprint: Option<String>,
    pub deleted: bool,
    /// The ticket's page, from the latest event that gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_url: Option<String>,
    /// The time of the latest fact.
    pub updated_at: DateTime<Utc>,
    /// The PRs naming it, by key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prs: Vec<TicketPr>,
    /// The first production deployment of any of those PRs finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<DateTime<Utc>>,
}

/// A PR that names a ticket, as its link says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketPr {
    pub pr: EntityKey,
    pub merged_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
}

impl Ticket {
    pub fn key(&self) -> EntityKey {
        EntityKey::Ticket {
            id: self.id.clone(),
        }
    }
}

/// The key people write of a ticket id, `PAY-142` of `jira:PAY-142` (an id without a source is
/// its own key): the gate, the tickets report and the digest show tickets by it.
pub fn ticket_key(id: &str) -> &str {
    id.split_once(':').map_or(id, |(_, key)| key)
}

/// Folds a ticket's facts into its state; `None` for another kind of entity or a ticket without
/// ticket facts. Facts of other bodies are ignored.
pub fn project_ticket(key: &EntityKey, facts: &[Fact]) -> Option<Ticket> {
    let EntityKey::Ticket { id } = key else {
        return None;
    };
    let snapshots: Vec<(DateTime<Utc>, &TicketSnapshot)> = facts_in_order(facts)
        .into_iter()
        .filter_map(|fact| match &fact.body {
            FactBody::TicketChanged(snapshot) => Some((fact.at, snapshot)),
            _ => None,
        })
        .collect();
    let (updated_at, latest) = *snapshots.last()?;
    let first_in = |category: TicketCategory, from: usize| {
        snapshots
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, (_, s))| s.category == category)
    };
    let mut prs: Vec<TicketPr> = facts
        .iter()
        .filter_map(|fact| match &fact.body {
            FactBody::NamedByPr {
                pr,
                merged_at,
                shipped_at,
            } => Some(TicketPr {
                pr: pr.clone(),
                merged_at: *merged_at,
                shipped_at: *shipped_at,
            }),
            _ => None,
        })
        .collect();
    prs.sort_by(|a, b| a.pr.cmp(&b.pr));
    prs.dedup_by(|a, b| a.pr == b.pr);
    let shipped_at = prs.iter().filter_map(|p| p.shipped_at).min();
    let started = first_in(TicketCategory::Started, 0);
    let done = first_in(TicketCategory::Done, started.map_or(0, |(i, _)| i));
    Some(Ticket {
        id: id.clone(),
        source: latest.source,
        project: latest.project.clone(),
        title: latest.title.clone(),
        status: latest.status.clone(),
        category: latest.category,
        started_at: started.map(|(_, (at, _))| *at),
        done_at: done.map(|(_, (at, _))| *at),
        fix_versions: latest.fix_versions.clone(),
        sprint: latest.sprint.clone(),
        deleted: latest.deleted,
        html_url: snapshots.iter().rev().find_map(|(_, s)| s.html_url.clone()),
        updated_at,
        prs,
        shipped_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::testing::ts;
    use crate::model::StatusTransition;

    fn key() -> EntityKey {
        EntityKey::Ticket {
            id: "jira:ENG-7".into(),
        }
    }

    /// A snapshot of ENG-7 at `at` in `status` (`category`), as delivery `id`.
    fn fact(id: &str, at: &str, status: &str, category: TicketCategory) -> Fact {
        Fact {
            entity: key(),
            id: format!("{id}#0"),
            at: ts(at),
            body: FactBody::TicketChanged(TicketSnapshot {
                source: TicketSource::Jira,
                key: "ENG-7".into(),
                project: "ENG".into(),
                title: format!("title as of {id}"),
                status: status.into(),
                category,
                transition: Some(StatusTransition {
                    from: None,
                    to: status.into(),
                    category: Some(category),
                    at: ts(at),
                }),
                fix_versions: vec![],
                sprint: None,
                deleted: false,
                created_at: None,
                html_url: None,
            }),
        }
    }

    use TicketCategory::{Canceled, Done, Started, Todo};

    /// Created Mon 09:00, started Mon 10:00, in review Tue 15:00 (still started), done Wed
    /// 11:00.
    fn history() -> Vec<Fact> {
        vec![
            fact("issue:created", "2026-10-05T09:00:00Z", "To Do", Todo),
            fact(
                "changelog:1",
                "2026-10-05T10:00:00Z",
                "In Progress",
                Started,
            ),
            fact("changelog:2", "2026-10-06T15:00:00Z", "In Review", Started),
            fact("changelog:3", "2026-10-07T11:00:00Z", "Done", Done),
        ]
    }

    #[test]
    fn a_plain_history() {
        let ticket = project_ticket(&key(), &history()).expect("ticket");
        assert_eq!(
            ticket,
            Ticket {
                id: "jira:ENG-7".into(),
                source: TicketSource::Jira,
                project: "ENG".into(),
                title: "title as of changelog:3".into(),
                status: "Done".into(),
                category: Done,
                started_at: Some(ts("2026-10-05T10:00:00Z")),
                done_at: Some(ts("2026-10-07T11:00:00Z")),
                fix_versions: vec![],
                sprint: None,
                deleted: false,
                html_url: None,
                updated_at: ts("2026-10-07T11:00:00Z"),
                prs: vec![],
                shipped_at: None,
            }
        );
    }

    /// PR `number` of acme/api naming ENG-7, shipped at `shipped` if given.
    fn named_by(number: u64, shipped: Option<&str>) -> Fact {
        let pr = EntityKey::PullRequest {
            repo: "acme/api".into(),
            number,
        };
        Fact {
            entity: key(),
            id: format!("named_by_pr:{}", pr.partition_key()),
            at: ts("2026-10-06T12:00:00Z"),
            body: FactBody::NamedByPr {
                pr,
                merged_at: Some(ts("2026-10-06T12:00:00Z")),
                shipped_at: shipped.map(ts),
            },
        }
    }

    #[test]
    fn it_ships_with_the_first_production_deployment_of_a_pr_naming_it() {
        // given two PRs naming ENG-7, one shipped Wed 14:00, one Tue 16:00, and one not yet
        let mut facts = history();
        facts.push(named_by(3, Some("2026-10-07T14:00:00Z")));
        facts.push(named_by(2, Some("2026-10-06T16:00:00Z")));
        facts.push(named_by(4, None));
        let ticket = project_ticket(&key(), &facts).expect("ticket");
        // then it shipped at the earlier, and lists the three PRs by key
        assert_eq!(ticket.shipped_at, Some(ts("2026-10-06T16:00:00Z")));
        let numbers: Vec<String> = ticket.prs.iter().map(|p| p.pr.partition_key()).collect();
        assert_eq!(numbers, ["PR#acme/api#2", "PR#acme/api#3", "PR#acme/api#4"]);
        // and links alone, without the tracker's facts, make no ticket
        assert_eq!(project_ticket(&key(), &[named_by(2, None)]), None);
    }

    #[test]
    fn the_order_of_arrival_does_not_matter() {
        let expected = project_ticket(&key(), &history());
        let mut facts = history();
        facts.reverse();
        assert_eq!(project_ticket(&key(), &facts), expected);
        facts.swap(0, 2);
        assert_eq!(project_ticket(&key(), &facts), expected);
        // Two facts at the same instant: the fact id decides, not the arrival.
        let same_time = vec![
            fact("changelog:9", "2026-10-05T10:00:00Z", "Done", Done),
            fact(
                "changelog:8",
                "2026-10-05T10:00:00Z",
                "In Progress",
                Started,
            ),
        ];
        let ticket = project_ticket(&key(), &same_time).expect("ticket");
        assert_eq!(ticket.status, "Done");
        assert_eq!(ticket.started_at, Some(ts("2026-10-05T10:00:00Z")));
        let mut reversed = same_time.clone();
        reversed.reverse();
        assert_eq!(project_ticket(&key(), &reversed), Some(ticket));
    }

    #[test]
    fn a_redelivered_fact_changes_nothing() {
        let expected = project_ticket(&key(), &history());
        let mut facts = history();
        facts.push(facts[1].clone());
        facts.push(facts[3].clone());
        assert_eq!(project_ticket(&key(), &facts), expected);
    }

    #[test]
    fn a_reopened_ticket_keeps_its_first_done_after_its_first_start() {
        let mut facts = history();
        // Reopened Thu 09:00, done again Fri 16:00.
        facts.push(fact(
            "changelog:4",
            "2026-10-08T09:00:00Z",
            "In Progress",
            Started,
        ));
        facts.push(fact("changelog:5", "2026-10-09T16:00:00Z", "Done", Done));
        let ticket = project_ticket(&key(), &facts).expect("ticket");
        assert_eq!(ticket.started_at, Some(ts("2026-10-05T10:00:00Z")));
        assert_eq!(ticket.done_at, Some(ts("2026-10-07T11:00:00Z")));
        assert_eq!(ticket.updated_at, ts("2026-10-09T16:00:00Z"));
        // While reopened it is started again, and still done at its first done.
        facts.pop();
        let reopened = project_ticket(&key(), &facts).expect("ticket");
        assert_eq!(reopened.category, Started);
        assert_eq!(reopened.done_at, Some(ts("2026-10-07T11:00:00Z")));
    }

    #[test]
    fn straight_to_done_has_no_start() {
        let facts = vec![
            fact("issue:created", "2026-10-05T09:00:00Z", "To Do", Todo),
            fact("changelog:1", "2026-10-05T09:30:00Z", "Done", Done),
        ];
        let ticket = project_ticket(&key(), &facts).expect("ticket");
        assert_eq!(ticket.started_at, None);
        assert_eq!(ticket.done_at, Some(ts("2026-10-05T09:30:00Z")));
    }

    #[test]
    fn done_before_any_start_is_not_the_done_after_it() {
        // Closed by mistake Mon 09:30, picked up Tue 10:00, done Wed 12:00.
        let facts = vec![
            fact("changelog:1", "2026-10-05T09:30:00Z", "Done", Done),
            fact(
                "changelog:2",
                "2026-10-06T10:00:00Z",
                "In Progress",
                Started,
            ),
            fact("changelog:3", "2026-10-07T12:00:00Z", "Done", Done),
        ];
        let ticket = project_ticket(&key(), &facts).expect("ticket");
        assert_eq!(ticket.started_at, Some(ts("2026-10-06T10:00:00Z")));
        assert_eq!(ticket.done_at, Some(ts("2026-10-07T12:00:00Z")));
    }

    #[test]
    fn a_lost_transition_is_seen_at_the_next_snapshot() {
        // The delivery of To Do → In Progress never came; a comment's delivery shows it started.
        let facts = vec![
            fact("issue:created", "2026-10-05T09:00:00Z", "To Do", Todo),
            fact("issue:abc", "2026-10-05T13:00:00Z", "In Progress", Started),
        ];
        let ticket = project_ticket(&key(), &facts).expect("ticket");
        assert_eq!(ticket.started_at, Some(ts("2026-10-05T13:00:00Z")));
        assert_eq!(ticket.done_at, None);
    }

    #[test]
    fn canceled_and_deleted() {
        let mut facts = vec![
            fact("issue:create", "2026-10-05T09:00:00Z", "Backlog", Todo),
            fact(
                "issue:update:1",
                "2026-10-05T10:00:00Z",
                "Canceled",
                Canceled,
            ),
        ];
        let ticket = project_ticket(&key(), &facts).expect("ticket");
        assert_eq!((ticket.started_at, ticket.done_at), (None, None));
        assert_eq!(ticket.category, Canceled);
        let mut removed = fact("issue:remove", "2026-10-06T10:00:00Z", "Canceled", Canceled);
        if let FactBody::TicketChanged(s) = &mut removed.body {
            s.deleted = true;
            s.sprint = Some("Sprint 4".into());
            s.fix_versions = vec!["7.2".into()];
        }
        facts.push(removed);
        let ticket = project_ticket(&key(), &facts).expect("ticket");
        assert!(ticket.deleted);
        assert_eq!(ticket.sprint.as_deref(), Some("Sprint 4"));
        assert_eq!(ticket.fix_versions, ["7.2"]);
    }

    #[test]
    fn the_key_is_the_id_without_its_source() {
        assert_eq!(ticket_key("jira:PAY-142"), "PAY-142");
        assert_eq!(ticket_key("linear:ENG-7"), "ENG-7");
        assert_eq!(ticket_key("PAY-142"), "PAY-142");
    }

    #[test]
    fn no_ticket_without_ticket_facts() {
        assert_eq!(project_ticket(&key(), &[]), None);
        let other = EntityKey::Incident { id: "pd:1".into() };
        assert_eq!(project_ticket(&other, &history()), None);
    }
}
