//! Data Center fixtures through the normalizer (shared helpers in `tests.rs`).

use serde_json::{json, Value};

use super::normalize_bitbucket;
use super::tests::{
    facts, ignored, single, DC_COMMENT, DC_MERGED, DC_NEEDS_WORK, DC_OPENED, DC_OPENED_V10,
    DC_PUSH, DC_PUSH_V10, DC_REFS_CHANGED, DELIVERY,
};
use crate::ingest::testing::{mutate, person, pr_entity, pr_snapshot, remove, set, ts};
use crate::ingest::{IngestError, Normalized};
use crate::model::{CommentKind, EntityKey, FactBody, PrAction, PrSnapshot, ReviewState};

const REPO: &str = "bitbucket.acme.example/projects/pay/repos/api";

#[test]
fn pr_opened_from_the_documented_shape_with_epoch_milliseconds() {
    let fact = single("pr:opened", DC_OPENED);
    assert_eq!(fact.entity, pr_entity(REPO, 7));
    assert_eq!(fact.id, "pr:opened#0");
    assert_eq!(fact.at, ts("2026-03-02T09:00:00Z"));
    let expected = PrSnapshot {
        action: PrAction::Opened,
        title: "PAY-12 Idempotent refunds".into(),
        body: Some("Makes refunds idempotent.".into()),
        author: person("carol"),
        draft: false,
        created_at: ts("2026-03-02T09:00:00Z"),
        updated_at: ts("2026-03-02T09:00:00Z"),
        closed_at: None,
        merged_at: None,
        merge_commit_sha: None,
        head_ref: "feature/idempotent-refunds".into(),
        head_sha: Some("4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39".into()),
        head_repo: Some(REPO.into()),
        base_ref: "master".into(),
        default_branch: "master".into(),
        additions: None,
        deletions: None,
        labels: vec![],
        html_url: Some(
            "https://bitbucket.acme.example/projects/PAY/repos/api/pull-requests/7".into(),
        ),
    };
    assert_eq!(pr_snapshot(&fact), &expected);
}

/// Data Center 10 sends ISO 8601 strings where 9.x sent epoch milliseconds; a context path
/// (`/bitbucket`) and a port stay in the repository's name.
#[test]
fn pr_opened_from_data_center_10_with_iso_times() {
    let fact = single("pr:opened", DC_OPENED_V10);
    let repo = "localhost:7990/bitbucket/projects/amuniz/repos/test-repos";
    assert_eq!(fact.entity, pr_entity(repo, 1));
    assert_eq!(fact.at, ts("2026-08-19T17:27:55.266Z"));
    let s = pr_snapshot(&fact);
    assert_eq!(s.created_at, ts("2026-08-19T17:27:55.266Z"));
    assert_eq!(s.author, person("admin"));
    assert_eq!(s.head_ref, "feature/diffstat");
    assert_eq!(
        s.head_sha.as_deref(),
        Some("251fce291f086cdde68ae2a896148abb5b58033e")
    );
    assert_eq!(
        (s.base_ref.as_str(), s.title.as_str()),
        ("master", "Feature/diffstat")
    );
}

#[test]
fn pr_merged_carries_its_merge_commit_and_close_time() {
    let fact = single("pr:merged", DC_MERGED);
    assert_eq!(fact.id, "pr:merged#0");
    assert_eq!(fact.at, ts("2026-03-02T12:30:00Z"));
    let s = pr_snapshot(&fact);
    assert_eq!(s.action, PrAction::Closed);
    assert_eq!(s.merged_at, Some(ts("2026-03-02T12:30:00Z")));
    assert_eq!(
        s.merge_commit_sha.as_deref(),
        Some("b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8")
    );
    let declined = mutate(DC_MERGED, |v| {
        set(v, "/pullRequest/state", json!("DECLINED"))
    });
    let fact = single("pr:declined", &declined);
    assert_eq!(fact.id, "pr:declined#0");
    let s = pr_snapshot(&fact);
    assert_eq!(s.closed_at, Some(ts("2026-03-02T12:30:00Z")));
    assert_eq!((s.merged_at, s.merge_commit_sha.as_deref()), (None, None));
}

#[test]
fn other_pr_changes_are_identified_by_their_body() {
    let modified = single("pr:modified", DC_OPENED);
    assert_eq!(pr_snapshot(&modified).action, PrAction::Edited);
    assert!(modified.id.starts_with("pr:") && modified.id != "pr:opened#0");
    let pushed = single("pr:from_ref_updated", DC_OPENED);
    assert_eq!(pr_snapshot(&pushed).action, PrAction::Synchronize);
    let service = mutate(DC_OPENED, |v| {
        set(v, "/pullRequest/author/user/type", json!("SERVICE"))
    });
    assert!(pr_snapshot(&single("pr:modified", &service)).author.is_bot);
}

#[test]
fn needs_work_and_approval_are_reviews_at_the_event_time() {
    let fact = single("pr:reviewer:needs_work", DC_NEEDS_WORK);
    assert_eq!(fact.entity, pr_entity(REPO, 7));
    assert_eq!(fact.at, ts("2026-03-02T10:20:00Z"));
    assert_eq!(
        fact.body,
        FactBody::Review {
            reviewer: person("dave"),
            state: ReviewState::ChangesRequested,
            submitted_at: ts("2026-03-02T10:20:00Z"),
            body_nonempty: false,
            pr_author: Some("carol".into()),
        }
    );
    let same = single("pr:reviewer:changes_requested", DC_NEEDS_WORK);
    assert_eq!(same.id, fact.id);
    let approved = single("pr:reviewer:approved", DC_NEEDS_WORK);
    assert!(matches!(
        approved.body,
        FactBody::Review {
            state: ReviewState::Approved,
            ..
        }
    ));
    assert_ne!(approved.id, fact.id);
    assert_eq!(
        ignored("pr:reviewer:unapproved", DC_NEEDS_WORK),
        "review withdrawn"
    );
}

#[test]
fn comments_with_an_anchor_are_review_comments() {
    let fact = single("pr:comment:added", DC_COMMENT);
    assert_eq!(fact.id, "ic:62#0");
    assert_eq!(
        fact.body,
        FactBody::Comment {
            commenter: person("dave"),
            kind: CommentKind::Conversation,
            created_at: ts("2026-03-02T10:12:30Z"),
            pr_author: Some("carol".into()),
        }
    );
    let on_a_line = mutate(DC_COMMENT, |v| {
        v["comment"]["anchor"] = json!({"line": 12, "path": "src/refunds.rs"});
    });
    let fact = single("pr:comment:added", &on_a_line);
    assert_eq!(fact.id, "rc:62#0");
    assert!(matches!(
        fact.body,
        FactBody::Comment {
            kind: CommentKind::Review,
            ..
        }
    ));
}

/// Up to 7.x (the documented example) a ref change names only fromHash and toHash: the push
/// fact chains the branch's history but lists no commits.
#[test]
fn refs_changed_without_commits_is_a_push_without_commits_and_tags_are_skipped() {
    let fact = single("repo:refs_changed", DC_REFS_CHANGED);
    assert_eq!(
        fact.entity,
        EntityKey::Branch {
            repo: REPO.into(),
            branch: "master".into()
        }
    );
    assert_eq!(fact.at, ts("2026-03-02T12:30:02Z"));
    assert_eq!(
        fact.body,
        FactBody::Push {
            before: "0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a392817".into(),
            after: "b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8".into(),
            commits: vec![],
            forced: false,
            to_default_branch: false,
        }
    );
    assert_eq!(
        fact.id,
        "push:0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a392817..b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8#0"
    );
}

#[test]
fn refs_changed_with_commits_keeps_them_oldest_first() {
    let fact = single("repo:refs_changed", DC_PUSH);
    assert_eq!(
        fact.entity,
        EntityKey::Branch {
            repo: "localhost:7990/projects/amuniz/repos/test-repos".into(),
            branch: "main".into()
        }
    );
    assert_eq!(fact.at, ts("2024-11-27T01:34:45Z"));
    let FactBody::Push { commits, after, .. } = &fact.body else {
        panic!("expected a push");
    };
    assert_eq!(after, "9fdd7b96d3f5c276d0b9e0bf38c879eb112d889a");
    let payload: Value = serde_json::from_slice(DC_PUSH).expect("json");
    let listed = payload["commits"].as_array().expect("commits");
    assert_eq!(commits.len(), listed.len());
    let newest = commits.last().expect("a commit");
    assert_eq!(newest.sha, after.as_str());
    assert_eq!(newest.authored_at, ts("2024-11-13T11:54:36Z"));
    assert_eq!(newest.author_login.as_deref(), Some("amuniz"));
}

/// Data Center 10: ISO times; a branch's creation lists its history back to the initial
/// commit, of which only the new tip is kept.
#[test]
fn a_created_branch_on_data_center_10_keeps_its_tip() {
    let fact = single("repo:refs_changed", DC_PUSH_V10);
    assert_eq!(fact.at, ts("2026-06-05T13:54:44Z"));
    let FactBody::Push {
        before, commits, ..
    } = &fact.body
    else {
        panic!("expected a push");
    };
    assert_eq!(before, super::ZERO_SHA);
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].sha, "fb522a6f08c7c7df337312e4e65ec1b57710672e");
    assert_eq!(commits[0].authored_at, ts("2018-09-21T14:09:51Z"));
    // a bare git identity (no Bitbucket user) has no login
    assert_eq!(commits[0].author_login, None);
    let deleted = mutate(DC_PUSH_V10, |v| {
        set(v, "/changes/0/type", json!("DELETE"));
        set(v, "/changes/0/toHash", json!(super::ZERO_SHA));
    });
    assert_eq!(
        ignored("repo:refs_changed", &deleted),
        "push without a branch update"
    );
}

#[test]
fn a_repository_without_its_link_is_rejected_naming_the_field() {
    let push = mutate(DC_REFS_CHANGED, |v| remove(v, "/repository/links"));
    assert_eq!(
        normalize_bitbucket("repo:refs_changed", DELIVERY, &push),
        Err(IngestError::MissingField {
            path: "repository.links.self".into()
        })
    );
    let pr = mutate(DC_NEEDS_WORK, |v| {
        set(v, "/pullRequest/toRef/repository/links/self", json!([]))
    });
    assert_eq!(
        normalize_bitbucket("pr:reviewer:needs_work", DELIVERY, &pr),
        Err(IngestError::MissingField {
            path: "pullRequest.toRef.repository.links.self".into()
        })
    );
    let bad = mutate(DC_OPENED, |v| {
        set(
            v,
            "/pullRequest/toRef/repository/links/self/0/href",
            json!("https://host/projects/P#1/repos/x/browse"),
        )
    });
    assert!(matches!(
        normalize_bitbucket("pr:opened", DELIVERY, &bad),
        Err(IngestError::InvalidField { path, .. })
            if path == "pullRequest.toRef.repository.links.self"
    ));
}

#[test]
fn dc_errors_name_the_field_and_unknown_events_are_ignored() {
    let bad_time = mutate(DC_OPENED, |v| {
        set(v, "/pullRequest/createdDate", json!("March 2nd"))
    });
    assert_eq!(
        normalize_bitbucket("pr:opened", DELIVERY, &bad_time),
        Err(IngestError::BadTimestamp {
            path: "pullRequest.createdDate".into(),
            value: "March 2nd".into()
        })
    );
    let negative = mutate(DC_OPENED, |v| {
        set(v, "/pullRequest/updatedDate", json!(-1e18 as i64))
    });
    assert!(matches!(
        normalize_bitbucket("pr:opened", DELIVERY, &negative),
        Err(IngestError::InvalidField { path, .. }) if path == "pullRequest.updatedDate"
    ));
    assert_eq!(ignored("diagnostics:ping", b"{}"), "ping");
    for key in ["pr:deleted", "repo:modified", "mirror:repo_synchronized"] {
        assert_eq!(ignored(key, DC_OPENED), "unsupported event");
    }
    assert!(matches!(
        normalize_bitbucket("pr:opened", DELIVERY, b"[]"),
        Err(IngestError::InvalidField { path, .. }) if path == "(body)"
    ));
}

#[test]
fn a_push_of_several_branches_is_one_fact_each() {
    let body = mutate(DC_REFS_CHANGED, |v| {
        let mut second = v["changes"][0].clone();
        second["refId"] = json!("refs/heads/release/1.4");
        second["fromHash"] = json!("a".repeat(40));
        v["changes"].as_array_mut().expect("changes").push(second);
    });
    let all = facts("repo:refs_changed", &body);
    let branches: Vec<_> = all
        .iter()
        .map(|f| match &f.entity {
            EntityKey::Branch { branch, .. } => branch.as_str(),
            _ => "",
        })
        .collect();
    assert_eq!(branches, ["master", "release/1.4"]);
    assert!(all.iter().all(|f| f.id.ends_with("#0")));
    assert!(matches!(
        normalize_bitbucket("repo:refs_changed", DELIVERY, &body),
        Ok(Normalized::Facts(f)) if f.len() == 2
    ));
}
