//! Every GitLab fixture under `tests/fixtures/gitlab` goes through the normalizer and its facts
//! are checked against values read in the files; shapes no fixture shows are the fixtures
//! changed in place.

use serde_json::json;

use super::normalize_gitlab;
use crate::ingest::testing::{
    facts_of, ignored_of, mutate, person, pr_entity, pr_snapshot, set, single_of, ts,
};
use crate::ingest::{IngestError, Normalized};
use crate::model::{CommentKind, EntityKey, Fact, FactBody, PrAction, PrSnapshot, ReviewState};

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../../../tests/fixtures/gitlab/", $path)).as_slice()
    };
}

pub(crate) const MERGE_REQUEST: &[u8] = fixture!("go-gitlab.merge_request.json");
pub(crate) const GROUP_MERGE_REQUEST: &[u8] = fixture!("go-gitlab.group_merge_request.json");
pub(crate) const DEPLOYMENT: &[u8] = fixture!("go-gitlab.deployment.json");
pub(crate) const PIPELINE: &[u8] = fixture!("go-gitlab.pipeline.json");
pub(crate) const PUSH: &[u8] = fixture!("doc.push_hook.json");
pub(crate) const NOTE: &[u8] = fixture!("doc.note_hook.merge_request.json");
pub(crate) const INCIDENT: &[u8] = fixture!("doc.issue_hook.incident.json");

/// Every fixture the normalizer accepts, with the `X-Gitlab-Event` it arrives with.
pub(crate) const ALL: &[(&str, &[u8])] = &[
    ("Merge Request Hook", MERGE_REQUEST),
    ("Deployment Hook", DEPLOYMENT),
    ("Pipeline Hook", PIPELINE),
    ("Push Hook", PUSH),
    ("Note Hook", NOTE),
    ("Issue Hook", INCIDENT),
];

pub(super) const DELIVERY: &str = "9cdbd1a6-5b4e-4c4a-a1e4-3b1f0c8f4e21";

pub(super) fn run(event: &str, body: &[u8]) -> Normalized {
    normalize_gitlab(event, DELIVERY, body).expect("accepted")
}

pub(super) fn facts(event: &str, body: &[u8]) -> Vec<Fact> {
    facts_of(run(event, body))
}

pub(super) fn single(event: &str, body: &[u8]) -> Fact {
    single_of(run(event, body))
}

pub(super) fn ignored(event: &str, body: &[u8]) -> &'static str {
    ignored_of(run(event, body))
}

pub(super) fn error(event: &str, body: &[u8]) -> IngestError {
    normalize_gitlab(event, DELIVERY, body).expect_err("rejected")
}

const MR_REPO: &str = "example.com/gitlabhq/gitlab-test";

pub(super) fn mr_entity(number: u64) -> EntityKey {
    pr_entity(MR_REPO, number)
}

/// The merge request fixture with `action` and any other change.
pub(super) fn mr_with(action: &str, change: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    mutate(MERGE_REQUEST, |v| {
        set(v, "/object_attributes/action", json!(action));
        change(v);
    })
}

#[test]
fn every_fixture_is_accepted_and_redelivery_gives_identical_facts() {
    for (event, body) in ALL {
        let first = normalize_gitlab(event, DELIVERY, body).expect("accepted");
        let again = normalize_gitlab(event, "another-event-uuid", body).expect("accepted");
        assert_eq!(first, again, "{event}");
        let Normalized::Facts(facts) = first else {
            panic!("{event}: every fixture makes facts");
        };
        for (n, fact) in facts.iter().enumerate() {
            assert!(!fact.id.contains(DELIVERY), "{event}: {}", fact.id);
            assert!(fact.id.ends_with(&format!("#{n}")), "{event}: {}", fact.id);
        }
        assert_eq!(crate::ingest::check_storable(&facts), Ok(()), "{event}");
    }
}

#[test]
fn the_event_uuid_is_required_and_checked() {
    for bad in ["", "a\nb"] {
        let err = normalize_gitlab("Push Hook", bad, PUSH).expect_err("refused");
        assert!(
            matches!(&err, IngestError::InvalidField { path, .. } if path == "X-Gitlab-Event-UUID"),
            "{err}"
        );
    }
}

#[test]
fn an_opened_merge_request_is_a_pull_request_snapshot() {
    // given the go-gitlab merge request, opened by user1 (id 1) for author 51
    let fact = single("Merge Request Hook", MERGE_REQUEST);
    // then it is the PR's opening step, at its update time, with every field read
    assert_eq!(fact.entity, mr_entity(1));
    assert_eq!(fact.id, "pr:opened#0");
    assert_eq!(fact.at, ts("2013-12-03T17:23:34Z"));
    let expected = PrSnapshot {
        action: PrAction::Opened,
        title: "MS-Viewport".into(),
        body: Some(String::new()),
        // Nobody the payload names has the author's id 51.
        author: person("gitlab-user:51"),
        draft: false,
        created_at: ts("2013-12-03T17:23:34Z"),
        updated_at: ts("2013-12-03T17:23:34Z"),
        closed_at: None,
        merged_at: None,
        merge_commit_sha: None,
        head_ref: "ms-viewport".into(),
        head_sha: Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7".into()),
        head_repo: Some("example.com/awesome_space/awesome_project".into()),
        base_ref: "master".into(),
        default_branch: "master".into(),
        additions: None,
        deletions: None,
        labels: vec!["API".into()],
        html_url: Some("http://example.com/diaspora/merge_requests/1".into()),
    };
    assert_eq!(pr_snapshot(&fact), &expected);
}

#[test]
fn the_author_is_named_when_someone_in_the_payload_has_their_id() {
    // the acting user is the author
    let by_author = mr_with("open", |v| set(v, "/object_attributes/author_id", json!(1)));
    assert_eq!(
        pr_snapshot(&single("Merge Request Hook", &by_author)).author,
        person("user1")
    );
    // an assignee is the author, the acting user someone else
    let assigned = mr_with("update", |v| {
        set(v, "/object_attributes/author_id", json!(7));
        set(v, "/assignees/0/id", json!(7));
        set(v, "/assignees/0/username", json!("alice"));
    });
    assert_eq!(
        pr_snapshot(&single("Merge Request Hook", &assigned)).author,
        person("alice")
    );
}

#[test]
fn the_trailing_space_quirk_file_is_refused_naming_iid_and_reads_once_repaired() {
    // given go-gitlab's group merge request, whose keys end in spaces ("iid ", "state ")
    let err = error("Merge Request Hook", GROUP_MERGE_REQUEST);
    // then it is no merge request GitLab sends: a 400 naming the missing iid
    assert_eq!(
        err,
        IngestError::MissingField {
            path: "object_attributes.iid".into()
        }
    );
    // when its keys are trimmed, it is the merge the file means
    let repaired = mutate(GROUP_MERGE_REQUEST, |v| {
        let attrs = v["object_attributes"].as_object_mut().expect("object");
        let trimmed: serde_json::Map<String, serde_json::Value> = attrs
            .iter()
            .map(|(k, v)| (k.trim().to_string(), v.clone()))
            .collect();
        *attrs = trimmed;
    });
    let fact = single("Merge Request Hook", &repaired);
    assert_eq!(
        fact.entity,
        pr_entity("example.com/exm-namespace/example-project", 1402)
    );
    assert_eq!(fact.id, "pr:closed#0");
    let s = pr_snapshot(&fact);
    assert_eq!(s.action, PrAction::Closed);
    assert_eq!(s.merged_at, Some(ts("2016-12-01T13:21:20Z")));
    assert_eq!(s.closed_at, s.merged_at);
    assert_eq!(s.created_at, ts("2016-12-01T13:11:10Z"));
    assert_eq!(
        s.merge_commit_sha.as_deref(),
        Some("ac3ca1559bc39abf963586372eff7f8fdded646e")
    );
    assert_eq!(s.author, person("gitlab-user:15"));
}

#[test]
fn merge_request_actions_map_to_github_actions() {
    let cases = [
        ("reopen", PrAction::Reopened, "pr:reopened#0"),
        ("close", PrAction::Closed, "pr:closed#0"),
    ];
    for (action, expected, id) in cases {
        let fact = single("Merge Request Hook", &mr_with(action, |_| {}));
        assert_eq!(
            (pr_snapshot(&fact).action, fact.id.as_str()),
            (expected, id),
            "{action}"
        );
    }
    let closed = single("Merge Request Hook", &mr_with("close", |_| {}));
    assert_eq!(
        pr_snapshot(&closed).closed_at,
        Some(ts("2013-12-03T17:23:34Z"))
    );
    assert_eq!(pr_snapshot(&closed).merged_at, None);
    // an unmerged merge request's merge_commit_sha is no landed commit
    let unmerged = mr_with("update", |v| {
        set(v, "/object_attributes/state", json!("opened"));
        v["object_attributes"]["merge_commit_sha"] = json!("abc");
    });
    assert_eq!(
        pr_snapshot(&single("Merge Request Hook", &unmerged)).merge_commit_sha,
        None
    );
}

#[test]
fn updates_say_what_changed() {
    let update = |change: serde_json::Value| {
        let body = mr_with("update", |v| v["changes"] = change);
        single("Merge Request Hook", &body)
    };
    let ready = update(json!({"draft": {"previous": true, "current": false}}));
    assert_eq!(
        (pr_snapshot(&ready).action, ready.id.as_str()),
        (PrAction::ReadyForReview, "pr:ready_for_review#0")
    );
    let to_draft = update(json!({"draft": {"previous": false, "current": true}}));
    assert_eq!(pr_snapshot(&to_draft).action, PrAction::ConvertedToDraft);
    assert_eq!(to_draft.id, "pr:converted_to_draft#0");
    let labeled = update(json!({"labels": {"previous": [], "current": [{"title": "bug"}]}}));
    assert_eq!(pr_snapshot(&labeled).action, PrAction::Labeled);
    assert!(
        labeled.id.starts_with("pr:") && labeled.id.len() == "pr:".len() + 32 + 2,
        "{}",
        labeled.id
    );
    let unlabeled = update(json!({"labels": {"previous": [{"title": "bug"}], "current": []}}));
    assert_eq!(pr_snapshot(&unlabeled).action, PrAction::Unlabeled);
    let edited = update(json!({"title": {"previous": "a", "current": "b"}}));
    assert_eq!(pr_snapshot(&edited).action, PrAction::Edited);
    assert_ne!(edited.id, labeled.id, "another change is another fact");
    let pushed = mr_with("update", |v| {
        v["object_attributes"]["oldrev"] = json!("0f1e")
    });
    assert_eq!(
        pr_snapshot(&single("Merge Request Hook", &pushed)).action,
        PrAction::Synchronize
    );
    // the older draft flag counts when `draft` is absent
    let wip = mr_with("open", |v| {
        set(v, "/object_attributes/work_in_progress", json!(true))
    });
    assert!(pr_snapshot(&single("Merge Request Hook", &wip)).draft);
}

#[test]
fn approvals_are_reviews_and_withdrawals_change_nothing() {
    // given user1 approves author 1's merge request (individually, then as the last approval)
    for action in ["approval", "approved"] {
        let body = mr_with(action, |v| {
            set(v, "/object_attributes/author_id", json!(51))
        });
        let fact = single("Merge Request Hook", &body);
        assert_eq!(fact.entity, mr_entity(1));
        // one review, whichever of the two deliveries tells of it
        assert_eq!(fact.id, "approval:user1#0");
        assert_eq!(fact.at, ts("2013-12-03T17:23:34Z"));
        assert_eq!(
            fact.body,
            FactBody::Review {
                reviewer: person("user1"),
                state: ReviewState::Approved,
                submitted_at: ts("2013-12-03T17:23:34Z"),
                body_nonempty: false,
                pr_author: None,
            }
        );
    }
    for action in ["unapproval", "unapproved"] {
        assert_eq!(
            ignored("Merge Request Hook", &mr_with(action, |_| {})),
            "approval withdrawn"
        );
    }
}

#[test]
fn a_reviewer_requesting_changes_is_a_changes_requested_review() {
    let body = mr_with("update", |v| {
        v["changes"] = json!({"reviewers": {
            "previous": [{"id": 6, "username": "bob", "state": "unreviewed"},
                         {"id": 7, "username": "carol", "state": "reviewed"}],
            "current": [{"id": 6, "username": "bob", "state": "requested_changes"},
                        {"id": 7, "username": "carol", "state": "reviewed"}]
        }});
    });
    let all = facts("Merge Request Hook", &body);
    assert_eq!(
        all.len(),
        2,
        "the snapshot and bob's review; carol's state did not change"
    );
    assert!(matches!(all[0].body, FactBody::PullRequest(_)));
    assert_eq!(all[1].id, all[0].id.replace("#0", "#1"));
    assert!(matches!(
        &all[1].body,
        FactBody::Review { reviewer, state: ReviewState::ChangesRequested, .. } if reviewer.login == "bob"
    ));
}

#[test]
fn a_note_on_a_merge_request_is_a_comment() {
    // given the documented comment on merge request !1 by root
    let fact = single("Note Hook", NOTE);
    assert_eq!(
        fact.entity,
        pr_entity("example.com/gitlab-org/gitlab-test", 1)
    );
    assert_eq!(fact.id, "note:1244#0");
    assert_eq!(fact.at, ts("2015-05-17T18:21:36Z"));
    assert_eq!(
        fact.body,
        FactBody::Comment {
            commenter: person("root"),
            kind: CommentKind::Conversation,
            created_at: ts("2015-05-17T18:21:36Z"),
            pr_author: None,
        }
    );
    let diff_note = mutate(NOTE, |v| v["object_attributes"]["type"] = json!("DiffNote"));
    assert!(matches!(
        single("Note Hook", &diff_note).body,
        FactBody::Comment {
            kind: CommentKind::Review,
            ..
        }
    ));
    let positioned = mutate(NOTE, |v| {
        v["object_attributes"]["position"] = json!({"new_line": 3})
    });
    assert!(matches!(
        single("Note Hook", &positioned).body,
        FactBody::Comment {
            kind: CommentKind::Review,
            ..
        }
    ));
    let by_author = mutate(NOTE, |v| set(v, "/merge_request/author_id", json!(1)));
    assert!(
        matches!(single("Note Hook", &by_author).body, FactBody::Comment { pr_author: Some(ref a), .. } if a == "root")
    );
}

#[test]
fn notes_that_are_not_merge_request_comments_are_ignored() {
    for (pointer, value) in [
        ("/object_attributes/noteable_type", json!("Issue")),
        ("/object_attributes/noteable_type", json!("Commit")),
        ("/object_attributes/noteable_type", json!("Snippet")),
        ("/object_attributes/system", json!(true)),
        ("/object_attributes/action", json!("update")),
    ] {
        let body = mutate(NOTE, |v| set(v, pointer, value.clone()));
        let reason = ignored("Note Hook", &body);
        assert!(!reason.is_empty(), "{pointer}");
    }
}

mod delivery;
