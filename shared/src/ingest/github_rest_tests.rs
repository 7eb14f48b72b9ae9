//! Given REST answers shaped as GitHub's (its OpenAPI examples' fields), when they are read
//! back, then they are the facts their webhooks made, and rebuilt states project as the
//! deliveries did.

use serde_json::{json, Value};

use super::*;
use crate::derive::testing::{projection_of, t};
use crate::model::{EntityKey, FactBody, PrAction};

const SHA_BASE: &str = "1111111111111111111111111111111111111111";
const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SHA_MERGE: &str = "cccccccccccccccccccccccccccccccccccccccc";

fn repo() -> RestRepo {
    RestRepo::parse(
        &json!({"id": 1, "full_name": "Acme/API", "default_branch": "main",
                            "private": true}),
    )
    .expect("repo")
}

fn user(login: &str) -> Value {
    json!({"login": login, "id": 7, "type": "User", "site_admin": false})
}

fn pull(draft: bool, state: &str) -> Value {
    let closed = state == "closed";
    json!({"url": "https://api.github.com/repos/Acme/API/pulls/42", "id": 9, "number": 42,
           "state": state, "title": "Add retries", "body": "Closes #7", "user": user("alice"),
           "labels": [{"id": 1, "name": "hotfix"}], "draft": draft,
           "created_at": "2026-10-05T10:00:00Z", "updated_at": "2026-10-06T16:00:00Z",
           "closed_at": if closed { json!("2026-10-06T16:00:00Z") } else { Value::Null },
           "merged_at": if closed { json!("2026-10-06T16:00:00Z") } else { Value::Null },
           "merge_commit_sha": SHA_MERGE,
           "head": {"label": "acme:feature", "ref": "feature", "sha": SHA_B,
                    "repo": {"full_name": "Acme/API"}},
           "base": {"label": "acme:main", "ref": "main", "sha": SHA_BASE,
                    "repo": {"full_name": "Acme/API"}},
           "html_url": "https://github.com/Acme/API/pull/42",
           "additions": 120, "deletions": 30, "changed_files": 4, "commits": 2})
}

fn commit(sha: &str, parents: &[&str], authored: &str, committed: &str) -> Value {
    json!({"sha": sha, "node_id": "C_1",
           "commit": {"author": {"name": "Alice", "email": "a@example.com", "date": authored},
                      "committer": {"name": "Alice", "email": "a@example.com", "date": committed},
                      "message": "work", "comment_count": 0},
           "author": user("alice"), "committer": user("alice"),
           "parents": parents.iter().map(|p| json!({"sha": p, "url": "u"})).collect::<Vec<_>>()})
}

fn review(id: u64, state: &str, at: &str) -> Value {
    json!({"id": id, "node_id": "R_1", "user": user("bob"), "body": "Looks fine", "state": state,
           "html_url": "h", "pull_request_url": "p", "author_association": "MEMBER",
           "submitted_at": at, "commit_id": SHA_B})
}

fn event(id: u64, kind: &str, at: &str) -> Value {
    json!({"id": id, "node_id": "E_1", "url": "u", "actor": user("alice"), "event": kind,
           "commit_id": null, "commit_url": null, "created_at": at})
}

fn facts_of(pull: &Value, events: &[Value], reviews: &[Value], commits: &[Value]) -> Vec<Fact> {
    let answers = PullRequestAnswers {
        pull,
        commits,
        reviews,
        review_comments: &[],
        comments: &[],
        events,
    };
    pull_request_facts(&repo(), &answers).expect("facts")
}

fn webhook(event: &str, payload: &Value) -> Vec<Fact> {
    match normalize_github(event, "a-delivery", payload.to_string().as_bytes()) {
        Ok(Normalized::Facts(facts)) => facts,
        other => panic!("{event} normalizes to facts: {other:?}"),
    }
}

#[test]
fn a_review_read_back_is_the_fact_its_webhook_made() {
    // Given a review as its webhook delivered it (lower-case state) and as the API lists it.
    let delivered = webhook(
        "pull_request_review",
        &json!({"action": "submitted", "review": review(80, "approved", "2026-10-06T09:00:00Z"),
                "pull_request": pull(false, "open"), "repository": repo().payload()}),
    );
    // When the API's answer is read back.
    let facts = facts_of(
        &pull(false, "open"),
        &[],
        &[review(80, "APPROVED", "2026-10-06T09:00:00Z")],
        &[],
    );
    // Then it is the same fact: same entity, sort key and body.
    let read = facts
        .iter()
        .find(|f| matches!(f.body, FactBody::Review { .. }))
        .expect("review fact");
    assert_eq!(read, &delivered[0]);
    assert_eq!(read.sort_key(), delivered[0].sort_key());
}

#[test]
fn a_deployment_and_its_statuses_read_back_are_their_webhooks_facts() {
    let deployment = json!({"id": 5001, "sha": SHA_MERGE, "ref": "main", "task": "deploy",
                            "environment": "production", "creator": user("deployer"),
                            "created_at": "2026-10-06T17:00:00Z", "updated_at": "2026-10-06T17:00:00Z"});
    let status = json!({"id": 9001, "state": "success", "environment": "production",
                        "creator": user("deployer"), "created_at": "2026-10-06T17:05:00Z",
                        "updated_at": "2026-10-06T17:05:00Z"});
    let mut delivered = webhook(
        "deployment",
        &json!({"action": "created", "deployment": deployment, "repository": repo().payload()}),
    );
    delivered.extend(webhook(
        "deployment_status",
        &json!({"action": "created", "deployment_status": status, "deployment": deployment,
                "repository": repo().payload()}),
    ));
    let read = deployment_facts(&repo(), &deployment, &[status]).expect("facts");
    assert_eq!(read, delivered);
}

#[test]
fn a_draft_becomes_reviewable_when_its_event_says_it_was_readied() {
    // Given a PR opened as a draft, readied on 6 October at 09:00, merged.
    let events = [
        event(1, "ready_for_review", "2026-10-06T09:00:00Z"),
        event(2, "merged", "2026-10-06T16:00:00Z"),
    ];
    let facts = facts_of(&pull(false, "closed"), &events, &[], &[]);
    // Then the deliveries are opened (a draft), ready for review, closed.
    let snapshots: Vec<(PrAction, bool)> = facts
        .iter()
        .filter_map(|f| match &f.body {
            FactBody::PullRequest(s) => Some((s.action, s.draft)),
            _ => None,
        })
        .collect();
    assert_eq!(
        snapshots,
        [
            (PrAction::Opened, true),
            (PrAction::ReadyForReview, false),
            (PrAction::Closed, false)
        ]
    );
    // And the projection counts pickup from the readying, with the PR's final state.
    let key = EntityKey::PullRequest {
        repo: "acme/api".into(),
        number: 42,
    };
    let pr = projection_of(&key, &facts, &[]).expect("projection");
    assert_eq!(pr.reviewable_at, t("2026-10-06T09:00:00Z"));
    assert_eq!(pr.created_at, t("2026-10-05T10:00:00Z"));
    assert_eq!(pr.merged_at, Some(t("2026-10-06T16:00:00Z")));
    assert_eq!((pr.additions, pr.deletions), (120, 30));
    assert_eq!(pr.labels, ["hotfix"]);
}

#[test]
fn a_pr_never_drafted_is_reviewable_from_creation() {
    let facts = facts_of(&pull(false, "open"), &[], &[], &[]);
    let key = EntityKey::PullRequest {
        repo: "acme/api".into(),
        number: 42,
    };
    let pr = projection_of(&key, &facts, &[]).expect("projection");
    assert_eq!(pr.reviewable_at, t("2026-10-05T10:00:00Z"));
    assert_eq!(pr.merged_at, None);
}

#[test]
fn a_prs_commits_are_pushes_of_its_head_branch_and_give_its_first_commit() {
    let commits = [
        commit(
            SHA_A,
            &[SHA_BASE],
            "2026-10-04T15:00:00Z",
            "2026-10-05T09:00:00Z",
        ),
        commit(
            SHA_B,
            &[SHA_A],
            "2026-10-05T11:00:00Z",
            "2026-10-05T11:30:00Z",
        ),
    ];
    let facts = facts_of(&pull(false, "closed"), &[], &[], &commits);
    let pushes: Vec<&Fact> = facts
        .iter()
        .filter(|f| matches!(f.body, FactBody::Push { .. }))
        .collect();
    assert_eq!(pushes.len(), 2);
    assert_eq!(
        pushes[1].entity,
        EntityKey::Branch {
            repo: "acme/api".into(),
            branch: "feature".into()
        }
    );
    // Each push is its commit's move from its first parent, at the committer time.
    assert_eq!(pushes[1].id, format!("push:{SHA_A}..{SHA_B}#0"));
    assert_eq!(pushes[1].at, t("2026-10-05T11:30:00Z"));
    // with the commit's message
    let FactBody::Push { commits, .. } = &pushes[1].body else {
        panic!("a push");
    };
    assert_eq!(commits[0].message.as_deref(), Some("work"));
    // The projection walks them back from the head: the first commit is the first authored.
    let key = EntityKey::PullRequest {
        repo: "acme/api".into(),
        number: 42,
    };
    let branch_pushes: Vec<Fact> = pushes.into_iter().cloned().collect();
    let pr = projection_of(&key, &facts, &branch_pushes).expect("projection");
    assert_eq!(pr.first_commit_at, Some(t("2026-10-04T15:00:00Z")));
}

/// GitHub's own example of a `/commits` item: its message is the one its push would have carried.
#[test]
fn a_rest_commit_s_push_keeps_its_message_as_the_webhook_push_would() {
    let items: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/github-rest/commit-items.json"
    ))
    .expect("json");
    let item = &items[0];
    let facts = commit_push(&repo(), "main", item).expect("a push");
    let FactBody::Push { commits, .. } = &facts[0].body else {
        panic!("a push");
    };
    assert_eq!(commits[0].sha, item["sha"].as_str().expect("sha"));
    assert_eq!(
        commits[0].message.as_deref(),
        item["commit"]["message"].as_str()
    );
    // capped as the webhook's (a one-commit push keeps 1,024 bytes)
    let mut long = item.clone();
    long["commit"]["message"] = json!(format!("ENG-9 {}", "ü".repeat(1_000)));
    let facts = commit_push(&repo(), "main", &long).expect("a push");
    let FactBody::Push { commits, .. } = &facts[0].body else {
        panic!("a push");
    };
    assert_eq!(commits[0].message.as_ref().map(String::len), Some(1_024));
}

#[test]
fn a_fork_prs_commits_are_not_pushes_of_this_repository() {
    let mut fork = pull(false, "open");
    fork["head"]["repo"] = json!({"full_name": "someone/API"});
    let commits = [commit(
        SHA_A,
        &[SHA_BASE],
        "2026-10-04T15:00:00Z",
        "2026-10-05T09:00:00Z",
    )];
    let facts = facts_of(&fork, &[], &[], &commits);
    assert!(!facts
        .iter()
        .any(|f| matches!(f.body, FactBody::Push { .. })));
}

#[test]
fn the_first_parent_walk_keeps_the_default_branch_and_leaves_merged_branches_out() {
    // main: m2 merges feature (b on a) into m1. GitHub lists every reachable commit, newest
    // first; a page ends between m2 and its parents.
    let m1 = "1000000000000000000000000000000000000001";
    let m2 = "2000000000000000000000000000000000000002";
    let page_1 = [commit(
        m2,
        &[m1, SHA_B],
        "2026-10-06T16:00:00Z",
        "2026-10-06T16:00:02Z",
    )];
    let page_2 = [
        commit(
            SHA_B,
            &[SHA_A],
            "2026-10-05T11:00:00Z",
            "2026-10-05T11:30:00Z",
        ),
        commit(SHA_A, &[m1], "2026-10-04T15:00:00Z", "2026-10-05T09:00:00Z"),
        commit(m1, &[], "2026-10-01T10:00:00Z", "2026-10-01T10:00:00Z"),
    ];
    let mut walk = FirstParentWalk::default();
    let first = walk.page(&repo(), "main", &page_1).expect("page 1");
    assert_eq!(walk.next(), Some(m1));
    // A walk resumed from its checkpoint goes on where it was.
    let checkpoint = serde_json::to_string(&walk).expect("checkpoint");
    let mut resumed: FirstParentWalk = serde_json::from_str(&checkpoint).expect("resume");
    let second = resumed.page(&repo(), "main", &page_2).expect("page 2");
    let ids: Vec<&str> = first.iter().chain(&second).map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            format!("push:{m1}..{m2}#0"),
            format!("push:{ZERO_SHA}..{m1}#0")
        ]
    );
    assert_eq!(resumed.next(), None, "m1 is the root");
    // Its pushes give the branch order the shipping rule reads.
    let history = crate::derive::links::branch_history(&[first, second].concat());
    assert_eq!(history, [m1, m2]);
}

#[test]
fn the_walk_waits_for_a_child_listed_after_its_parent() {
    let m1 = "1000000000000000000000000000000000000001";
    let m2 = "2000000000000000000000000000000000000002";
    let m3 = "3000000000000000000000000000000000000003";
    // Equal commit times: GitHub may list m1 before m2.
    let page = [
        commit(m3, &[m2], "2026-10-06T16:00:00Z", "2026-10-06T16:00:00Z"),
        commit(m1, &[], "2026-10-06T15:00:00Z", "2026-10-06T15:00:00Z"),
        commit(m2, &[m1], "2026-10-06T15:00:00Z", "2026-10-06T15:00:00Z"),
    ];
    let mut walk = FirstParentWalk::default();
    let facts = walk.page(&repo(), "main", &page).expect("page");
    assert_eq!(facts.len(), 3);
}

#[test]
fn an_incident_issue_is_opened_then_its_state_and_a_pr_is_no_incident() {
    let issue = json!({"number": 7, "title": "Checkout down", "state": "closed",
                       "labels": [{"name": "incident"}], "user": user("oncall"),
                       "created_at": "2026-10-06T18:00:00Z", "updated_at": "2026-10-06T19:00:00Z",
                       "closed_at": "2026-10-06T19:00:00Z", "html_url": "h"});
    let facts = incident_issue_facts(&repo(), &issue).expect("facts");
    let times: Vec<_> = facts.iter().map(|f| f.at).collect();
    assert_eq!(
        times,
        [t("2026-10-06T18:00:00Z"), t("2026-10-06T19:00:00Z")]
    );
    let incident = crate::derive::project_incident(
        &EntityKey::Incident {
            id: "gh:acme/api#7".into(),
        },
        &facts,
        &crate::config::OrgConfig::default(),
    )
    .expect("an incident");
    assert_eq!(incident.resolved_at, Some(t("2026-10-06T19:00:00Z")));
    let mut pr = issue.clone();
    pr["pull_request"] = json!({"url": "u"});
    assert_eq!(incident_issue_facts(&repo(), &pr), Ok(Vec::new()));
}

#[test]
fn reading_the_same_answers_again_gives_the_same_facts() {
    let events = [event(1, "ready_for_review", "2026-10-06T09:00:00Z")];
    let reviews = [review(80, "CHANGES_REQUESTED", "2026-10-06T10:00:00Z")];
    let once = facts_of(&pull(false, "closed"), &events, &reviews, &[]);
    let again = facts_of(&pull(false, "closed"), &events, &reviews, &[]);
    assert_eq!(once, again);
}

#[test]
fn an_answer_without_a_field_is_an_error_naming_it() {
    let mut broken = pull(false, "open");
    broken.as_object_mut().expect("object").remove("created_at");
    let answers = PullRequestAnswers {
        pull: &broken,
        commits: &[],
        reviews: &[],
        review_comments: &[],
        comments: &[],
        events: &[],
    };
    let err = pull_request_facts(&repo(), &answers).expect_err("no created_at");
    assert!(err.to_string().contains("created_at"), "{err}");
    assert!(RestRepo::parse(&json!({"full_name": "a/b"})).is_err());
}

/// A PR's opening and closing, rebuilt from its current state, are the facts their webhook
/// deliveries made (the same sort keys), even when the PR changed after it closed.
#[test]
fn a_pr_s_opening_and_closing_read_back_are_the_facts_their_webhooks_made() {
    // Given the deliveries GitHub sent as the PR opened (smaller then) and as it merged
    let mut at_open = pull(false, "open");
    at_open["updated_at"] = json!("2026-10-05T10:00:00Z");
    at_open["additions"] = json!(20);
    at_open["labels"] = json!([]);
    let opened = webhook(
        "pull_request",
        &json!({"action": "opened", "pull_request": at_open, "repository": repo().payload()}),
    );
    let closed = webhook(
        "pull_request",
        &json!({"action": "closed", "pull_request": pull(false, "closed"),
                "repository": repo().payload()}),
    );
    // When the PR is read back a day after a label was added to it
    let mut now = pull(false, "closed");
    now["updated_at"] = json!("2026-10-07T09:00:00Z");
    let facts = facts_of(&now, &[], &[], &[]);
    // Then its opening and its closing are those deliveries' facts
    let keys: Vec<String> = facts.iter().map(Fact::sort_key).collect();
    for delivered in [&opened[0], &closed[0]] {
        assert!(keys.contains(&delivered.sort_key()), "{keys:?}");
    }
    assert_eq!(facts.len(), 2, "{keys:?}");
}
