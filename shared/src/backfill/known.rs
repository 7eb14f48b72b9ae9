//! Which rebuilt facts a table already knows under other keys (docs/METRICS.md, "Backfilled
//! facts").
//!
//! Most backfilled facts are their webhook's fact, key for key, and the conditional put keeps
//! one. Two kinds cannot be: the REST API does not say how commits were grouped into pushes
//! (a backfill rebuilds one push per commit, the webhooks carried one per `git push`), nor
//! which delivery brought an open PR or incident to its current state (a backfill rebuilds it
//! as an edit at `updated_at`). Written over a table the webhooks filled, those would be second
//! copies of what is there: the numbers stay the same, but the table grows and a reader of the
//! facts sees a push nobody made. So the edge loads the entities these facts belong to and
//! writes only what [`unknown_facts`] keeps.

use std::collections::{HashMap, HashSet};

use crate::model::{EntityKey, Fact, FactBody, IncidentAction, PrAction};

/// Whether a rebuilt fact may be known under another key: the entities of these are the ones
/// to load.
pub fn may_be_known(fact: &Fact) -> bool {
    match &fact.body {
        FactBody::Push { .. } => true,
        FactBody::PullRequest(snapshot) => snapshot.action == PrAction::Edited,
        FactBody::Incident { action, .. } => *action == IncidentAction::Updated,
        _ => false,
    }
}

/// The rebuilt facts the table does not know yet, given the facts it holds of the entities
/// [`may_be_known`] names:
/// - a push, when its commit is already in one of the branch's pushes (as its head or among
///   its commits);
/// - an open PR's or incident's current state, when the table has a change of it at or after
///   that time.
///
/// Everything else is kept: its key is its webhook's, and the conditional put decides.
pub fn unknown_facts(rebuilt: Vec<Fact>, known: &HashMap<EntityKey, Vec<Fact>>) -> Vec<Fact> {
    let pushed: HashMap<&EntityKey, HashSet<&str>> = known
        .iter()
        .map(|(entity, facts)| (entity, pushed_commits(facts)))
        .collect();
    rebuilt
        .into_iter()
        .filter(|fact| {
            let held = known.get(&fact.entity).map(Vec::as_slice).unwrap_or(&[]);
            match &fact.body {
                FactBody::Push { after, .. } => !pushed
                    .get(&fact.entity)
                    .is_some_and(|shas| shas.contains(after.as_str())),
                _ if may_be_known(fact) => !held.iter().any(|k| is_change_since(k, fact)),
                _ => true,
            }
        })
        .collect()
}

/// Every commit a branch's pushes brought: their heads and their listed commits.
fn pushed_commits(facts: &[Fact]) -> HashSet<&str> {
    let mut shas = HashSet::new();
    for fact in facts {
        if let FactBody::Push { after, commits, .. } = &fact.body {
            shas.insert(after.as_str());
            shas.extend(commits.iter().map(|c| c.sha.as_str()));
        }
    }
    shas
}

/// `known` is a change of the same kind as `current` (a PR snapshot, an incident change), at or
/// after its time.
fn is_change_since(known: &Fact, current: &Fact) -> bool {
    let same_kind = matches!(
        (&known.body, &current.body),
        (FactBody::PullRequest(_), FactBody::PullRequest(_))
            | (FactBody::Incident { .. }, FactBody::Incident { .. })
    );
    same_kind && known.at >= current.at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Commit;
    use chrono::{DateTime, Utc};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn branch() -> EntityKey {
        EntityKey::Branch {
            repo: "acme/api".into(),
            branch: "feature".into(),
        }
    }

    fn pr() -> EntityKey {
        EntityKey::PullRequest {
            repo: "acme/api".into(),
            number: 42,
        }
    }

    fn commit(sha: &str) -> Commit {
        Commit {
            sha: sha.into(),
            authored_at: t("2026-10-05T10:00:00Z"),
            author_login: Some("alice".into()),
            message: None,
        }
    }

    fn push(before: &str, shas: &[&str], at: &str) -> Fact {
        Fact {
            entity: branch(),
            id: format!(
                "push:{before}..{}#0",
                shas.last().copied().unwrap_or(before)
            ),
            at: t(at),
            body: FactBody::Push {
                before: before.into(),
                after: shas.last().copied().unwrap_or(before).into(),
                commits: shas.iter().map(|s| commit(s)).collect(),
                forced: false,
                to_default_branch: false,
            },
        }
    }

    /// A snapshot of PR 42 with fact id `<id>#0`.
    fn snapshot(action: PrAction, id: &str, at: &str) -> Fact {
        let delivery = id.trim_end_matches("#0");
        crate::derive::testing::pr_fact(&pr(), delivery, action, t(at), |_| {})
    }

    fn ids(facts: &[Fact]) -> Vec<&str> {
        facts.iter().map(|f| f.id.as_str()).collect()
    }

    #[test]
    fn a_commit_one_of_the_branch_s_pushes_brought_is_not_pushed_again() {
        // given a branch whose webhook push brought commits b and c at once
        let known = HashMap::from([(
            branch(),
            vec![push("a", &["b", "c"], "2026-10-05T11:00:00Z")],
        )]);
        // when a backfill rebuilds one push per commit, and a third commit came since
        let rebuilt = vec![
            push("a", &["b"], "2026-10-05T10:30:00Z"),
            push("b", &["c"], "2026-10-05T10:50:00Z"),
            push("c", &["d"], "2026-10-05T12:00:00Z"),
        ];
        // then only the new commit's push is written
        assert_eq!(ids(&unknown_facts(rebuilt, &known)), ["push:c..d#0"]);
    }

    #[test]
    fn on_a_table_without_the_branch_every_push_is_written() {
        let rebuilt = vec![push("a", &["b"], "2026-10-05T10:30:00Z")];
        assert_eq!(unknown_facts(rebuilt.clone(), &HashMap::new()), rebuilt);
    }

    #[test]
    fn an_open_pr_s_current_state_is_not_written_when_a_change_as_late_is_known() {
        // given a PR whose last webhook delivery was a label at 16:00
        let known = HashMap::from([(
            pr(),
            vec![
                snapshot(PrAction::Opened, "pr:opened#0", "2026-10-05T10:00:00Z"),
                snapshot(PrAction::Labeled, "pr:1a2b#0", "2026-10-06T16:00:00Z"),
            ],
        )]);
        // when a backfill rebuilds its opening and its current state at 16:00
        let rebuilt = vec![
            snapshot(PrAction::Opened, "pr:opened#0", "2026-10-05T10:00:00Z"),
            snapshot(PrAction::Edited, "pr:9f8e#0", "2026-10-06T16:00:00Z"),
        ];
        // then the opening goes to the conditional put (same key) and the state is left out
        assert_eq!(ids(&unknown_facts(rebuilt, &known)), ["pr:opened#0"]);
    }

    #[test]
    fn an_open_pr_s_current_state_newer_than_the_table_is_written() {
        let known = HashMap::from([(
            pr(),
            vec![snapshot(
                PrAction::Opened,
                "pr:opened#0",
                "2026-10-05T10:00:00Z",
            )],
        )]);
        let rebuilt = vec![snapshot(
            PrAction::Edited,
            "pr:9f8e#0",
            "2026-10-06T16:00:00Z",
        )];
        assert_eq!(ids(&unknown_facts(rebuilt, &known)), ["pr:9f8e#0"]);
    }

    #[test]
    fn only_pushes_and_current_states_ask_for_their_entity() {
        assert!(may_be_known(&push("a", &["b"], "2026-10-05T10:30:00Z")));
        assert!(may_be_known(&snapshot(
            PrAction::Edited,
            "x",
            "2026-10-05T10:00:00Z"
        )));
        assert!(!may_be_known(&snapshot(
            PrAction::Closed,
            "x",
            "2026-10-05T10:00:00Z"
        )));
    }
}
