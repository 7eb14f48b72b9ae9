//! Every Bitbucket fixture under `tests/fixtures/bitbucket` goes through the normalizer; the
//! facts are checked against values read in the fixture files. Cloud here, Data Center in
//! `dc_tests.rs`.

use serde_json::{json, Value};

use super::normalize_bitbucket;
use crate::ingest::signature::{sign_hex, verify_sha256, SignatureError};
use crate::ingest::testing::{
    facts_of, ignored_of, mutate, person, pr_entity, pr_snapshot, remove, set, signature_vector,
    single_of, ts,
};
use crate::ingest::{IngestError, Normalized};
use crate::model::{CommentKind, EntityKey, Fact, FactBody, PrAction, PrSnapshot, ReviewState};

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../../tests/fixtures/bitbucket/", $path)).as_slice()
    };
}

pub(crate) const PUSH_SIGNED: &[u8] = fixture!("bbs-plugin.repo_push.signed_payload.json");
pub(crate) const PR_CREATED: &[u8] = fixture!("bbs-plugin.pullrequest_created.json");
pub(crate) const PR_FULFILLED: &[u8] =
    fixture!("bbs-plugin.pullrequest_fulfilled.fulfilledPayload.json");
pub(crate) const PR_REJECTED: &[u8] = fixture!("bbs-plugin.pullrequest_rejected.json");
pub(crate) const APPROVED: &[u8] = fixture!("cloud.pullrequest_approved.json");
pub(crate) const CHANGES_REQUESTED: &[u8] =
    fixture!("cloud.pullrequest_changes_request_created.json");
pub(crate) const COMMENT: &[u8] = fixture!("cloud.pullrequest_comment_created.json");
pub(crate) const DC_PUSH: &[u8] = fixture!("bbs-plugin.server.repo_refs_changed.pushPayload.json");
pub(crate) const DC_PUSH_V10: &[u8] =
    fixture!("bbs-plugin.server.repo_refs_changed.pushPayload_v10.json");
pub(crate) const DC_OPENED_V10: &[u8] =
    fixture!("bbs-plugin.server.pr_opened.newPRPayload_v10.json");
pub(crate) const DC_OPENED: &[u8] = fixture!("dc.pr_opened.json");
pub(crate) const DC_NEEDS_WORK: &[u8] = fixture!("dc.pr_reviewer_needs_work.json");
pub(crate) const DC_COMMENT: &[u8] = fixture!("dc.pr_comment_added.json");
pub(crate) const DC_MERGED: &[u8] = fixture!("dc.pr_merged.json");
pub(crate) const DC_REFS_CHANGED: &[u8] = fixture!("dc.repo_refs_changed.json");

/// Every fixture with the `X-Event-Key` it arrives with.
pub(crate) const ALL: &[(&str, &[u8])] = &[
    ("repo:push", PUSH_SIGNED),
    ("pullrequest:created", PR_CREATED),
    ("pullrequest:fulfilled", PR_FULFILLED),
    ("pullrequest:rejected", PR_REJECTED),
    ("pullrequest:approved", APPROVED),
    ("pullrequest:changes_request_created", CHANGES_REQUESTED),
    ("pullrequest:comment_created", COMMENT),
    ("repo:refs_changed", DC_PUSH),
    ("repo:refs_changed", DC_PUSH_V10),
    ("repo:refs_changed", DC_REFS_CHANGED),
    ("pr:opened", DC_OPENED_V10),
    ("pr:opened", DC_OPENED),
    ("pr:reviewer:needs_work", DC_NEEDS_WORK),
    ("pr:comment:added", DC_COMMENT),
    ("pr:merged", DC_MERGED),
];

pub(super) const DELIVERY: &str = "3b8f5a2c-9e1d-4c7b-a6f0-2d4e8b1c9a73";

pub(super) fn run(key: &str, body: &[u8]) -> Normalized {
    normalize_bitbucket(key, DELIVERY, body).expect("fixture is accepted")
}

pub(super) fn facts(key: &str, body: &[u8]) -> Vec<Fact> {
    facts_of(run(key, body))
}

pub(super) fn single(key: &str, body: &[u8]) -> Fact {
    single_of(run(key, body))
}

pub(super) fn ignored(key: &str, body: &[u8]) -> &'static str {
    ignored_of(run(key, body))
}

#[test]
fn every_fixture_is_accepted_and_redelivery_gives_identical_facts() {
    for (key, body) in ALL {
        let first = normalize_bitbucket(key, DELIVERY, body).expect(key);
        let again = normalize_bitbucket(key, "another-delivery-id", body).expect(key);
        assert_eq!(first, again, "{key}");
        let Normalized::Facts(facts) = first else {
            panic!("{key}: every fixture gives facts");
        };
        for fact in &facts {
            assert!(fact.id.ends_with("#0"), "{key}: {}", fact.id);
            assert!(fact.id.len() <= 100, "{key}: {}", fact.id);
            assert!(!fact.id.contains(DELIVERY), "{key}: {}", fact.id);
        }
        assert_eq!(crate::ingest::check_storable(&facts), Ok(()), "{key}");
    }
}

/// Both flavors sign `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`, the scheme of
/// `signature::verify_sha256`: it verifies the real signed Cloud delivery as it is.
#[test]
fn the_signed_delivery_verifies_with_verify_sha256() {
    let secret = signature_vector("bitbucket_cloud", "secret").as_bytes();
    let good = signature_vector("bitbucket_cloud", "header_value");
    let bad = signature_vector("bitbucket_cloud", "bad_header_value_from_same_test");
    assert_eq!(verify_sha256(secret, PUSH_SIGNED, Some(good)), Ok(()));
    assert_eq!(
        verify_sha256(secret, PUSH_SIGNED, Some(bad)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_sha256(secret, PUSH_SIGNED, None),
        Err(SignatureError::Missing)
    );
    // A Data Center delivery signed the same way verifies the same way.
    let header = format!("sha256={}", sign_hex(secret, DC_PUSH));
    assert_eq!(verify_sha256(secret, DC_PUSH, Some(&header)), Ok(()));
    assert_eq!(
        verify_sha256(secret, DC_OPENED, Some(&header)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn a_new_branch_push_keeps_only_its_tip() {
    // given the real signed push: branch feature/webhook created, five commits listed back to
    // the repository's 2018 initial commit
    let fact = single("repo:push", PUSH_SIGNED);
    // then one push fact, from nothing to the new tip, timed at the tip's commit
    assert_eq!(
        fact.entity,
        EntityKey::Branch {
            repo: "bitbucket.org/nfalco79/test-repos".into(),
            branch: "feature/webhook".into(),
        }
    );
    let tip = "d7f300a32270053bdfd97a6d64113f58202c33e7";
    assert_eq!(fact.id, format!("push:{}..{tip}#0", super::ZERO_SHA));
    assert_eq!(fact.at, ts("2025-05-16T07:36:56Z"));
    let FactBody::Push {
        before,
        after,
        commits,
        forced,
        to_default_branch,
    } = &fact.body
    else {
        panic!("expected a push: {:?}", fact.body);
    };
    assert_eq!((before.as_str(), after.as_str()), (super::ZERO_SHA, tip));
    assert!(!forced && !to_default_branch);
    // and only the tip of the five: the other four are history the branch was created from
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].sha, tip);
    assert_eq!(commits[0].authored_at, ts("2025-05-16T07:36:56Z"));
    assert_eq!(commits[0].author_login.as_deref(), Some("Nikolas Falco"));
    assert_eq!(
        commits[0].message.as_deref(),
        Some("Test for webhook signature\n")
    );
}

/// The issue's example: Cloud lists at most five commits per change, newest first, and says
/// `truncated: true` when there were more. Flowmeter keeps those five, oldest first as push
/// facts hold them; the before..after link still chains the branch's pushes.
#[test]
fn a_truncated_update_keeps_the_five_listed_commits_oldest_first() {
    // given the signed push turned into an update of the branch with its five commits listed
    let body = mutate(PUSH_SIGNED, |v| {
        // (only the old target's hash is read: a target without its date is fine)
        let old = json!({"type": "branch", "name": "feature/webhook",
            "target": {"type": "commit", "hash": "1".repeat(40)}});
        set(v, "/push/changes/0/old", old);
        set(v, "/push/changes/0/truncated", json!(true));
        set(v, "/push/changes/0/forced", json!(true));
    });
    let payload: Value = serde_json::from_slice(PUSH_SIGNED).expect("json");
    let listed: Vec<&str> = payload["push"]["changes"][0]["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .filter_map(|c| c["hash"].as_str())
        .collect();
    // when
    let fact = single("repo:push", &body);
    // then
    let FactBody::Push {
        before,
        commits,
        forced,
        ..
    } = &fact.body
    else {
        panic!("expected a push");
    };
    assert_eq!(before, &"1".repeat(40));
    assert!(forced);
    let kept: Vec<&str> = commits.iter().map(|c| c.sha.as_str()).collect();
    let mut oldest_first = listed.clone();
    oldest_first.reverse();
    assert_eq!(kept, oldest_first);
    assert_eq!(commits[0].authored_at, ts("2018-09-21T14:04:55Z"));
    // a commit whose author Bitbucket could not link to an account has no login
    assert_eq!(commits[0].author_login, None);
}

#[test]
fn deletions_tags_and_the_main_branch() {
    let deleted = mutate(PUSH_SIGNED, |v| set(v, "/push/changes/0/new", Value::Null));
    assert_eq!(
        ignored("repo:push", &deleted),
        "push without a branch update"
    );
    let tag = mutate(PUSH_SIGNED, |v| {
        set(v, "/push/changes/0/new/type", json!("tag"))
    });
    assert_eq!(ignored("repo:push", &tag), "push without a branch update");
    // A repository that names its main branch (the REST shape) marks pushes to it.
    let main = mutate(PUSH_SIGNED, |v| {
        v["repository"]["mainbranch"] = json!({"name": "feature/webhook", "type": "branch"});
    });
    assert!(matches!(
        single("repo:push", &main).body,
        FactBody::Push {
            to_default_branch: true,
            ..
        }
    ));
}

#[test]
fn pullrequest_created() {
    let fact = single("pullrequest:created", PR_CREATED);
    assert_eq!(
        fact.entity,
        pr_entity("bitbucket.org/amuniz/test-repos", 735)
    );
    assert_eq!(fact.id, "pr:opened#0");
    assert_eq!(fact.at, ts("2024-11-09T13:02:57.098060Z"));
    let expected = PrSnapshot {
        action: PrAction::Opened,
        title: "BUILD test".into(),
        body: Some(String::new()),
        author: person("Nikolas Falco"),
        draft: false,
        created_at: ts("2024-11-09T13:02:56.285477Z"),
        updated_at: ts("2024-11-09T13:02:57.098060Z"),
        closed_at: None,
        merged_at: None,
        merge_commit_sha: None,
        head_ref: "feature/test".into(),
        // Cloud abbreviates it (d31df3425c5b): not a sha the head history can find.
        head_sha: None,
        head_repo: Some("bitbucket.org/amuniz/test-repos".into()),
        base_ref: "master".into(),
        default_branch: "master".into(),
        additions: None,
        deletions: None,
        labels: vec![],
        html_url: Some("https://bitbucket.org/amuniz/test-repos/pull-requests/735".into()),
    };
    assert_eq!(pr_snapshot(&fact), &expected);
}

#[test]
fn pullrequest_fulfilled_is_merged_with_its_merge_commit() {
    let fact = single("pullrequest:fulfilled", PR_FULFILLED);
    assert_eq!(fact.entity, pr_entity("bitbucket.org/cloudbeers/temp", 2));
    assert_eq!(fact.id, "pr:merged#0");
    let s = pr_snapshot(&fact);
    assert_eq!(s.action, PrAction::Closed);
    assert_eq!(s.merged_at, Some(ts("2017-03-06T10:41:59.551194Z")));
    assert_eq!(s.closed_at, s.merged_at);
    assert_eq!(s.merge_commit_sha.as_deref(), Some("1986c2284946"));
    assert_eq!((s.head_ref.as_str(), s.base_ref.as_str()), ("foo", "main"));
    assert_eq!(s.author, person("Stephen Connolly"));
}

#[test]
fn pullrequest_rejected_is_declined_closed_unmerged() {
    let fact = single("pullrequest:rejected", PR_REJECTED);
    assert_eq!(fact.id, "pr:declined#0");
    let s = pr_snapshot(&fact);
    assert_eq!(s.action, PrAction::Closed);
    assert_eq!(s.closed_at, Some(ts("2024-11-09T13:14:33.659528Z")));
    assert_eq!((s.merged_at, s.merge_commit_sha.as_deref()), (None, None));
}

#[test]
fn pullrequest_updated_is_an_edit_identified_by_its_body() {
    let a = single("pullrequest:updated", PR_CREATED);
    assert_eq!(pr_snapshot(&a).action, PrAction::Edited);
    assert!(a.id.starts_with("pr:") && a.id != "pr:opened#0", "{}", a.id);
    let retitled = mutate(PR_CREATED, |v| {
        set(v, "/pullrequest/title", json!("Another title"))
    });
    assert_ne!(single("pullrequest:updated", &retitled).id, a.id);
    // A draft and an app's PR say so.
    let draft_by_app = mutate(PR_CREATED, |v| {
        v["pullrequest"]["draft"] = json!(true);
        set(v, "/pullrequest/author/type", json!("app_user"));
    });
    let fact = single("pullrequest:updated", &draft_by_app);
    let s = pr_snapshot(&fact);
    assert!(s.draft && s.author.is_bot);
}

#[test]
fn approvals_and_change_requests_are_reviews() {
    let approved = single("pullrequest:approved", APPROVED);
    assert_eq!(approved.entity, pr_entity("bitbucket.org/acme/api", 42));
    assert_eq!(approved.at, ts("2026-03-02T11:40:27.889041Z"));
    assert_eq!(
        approved.body,
        FactBody::Review {
            reviewer: person("bob"),
            state: ReviewState::Approved,
            submitted_at: ts("2026-03-02T11:40:27.889041Z"),
            body_nonempty: false,
            pr_author: Some("alice".into()),
        }
    );
    let changes = single("pullrequest:changes_request_created", CHANGES_REQUESTED);
    assert!(matches!(
        changes.body,
        FactBody::Review { state: ReviewState::ChangesRequested, submitted_at, .. }
            if submitted_at == ts("2026-03-02T10:05:51.330117Z")
    ));
    // Reviews have no id: who, what and when are theirs, so another approval is another fact.
    assert!(approved.id.starts_with("review:"), "{}", approved.id);
    assert_ne!(approved.id, changes.id);
    let later = mutate(APPROVED, |v| {
        set(v, "/approval/date", json!("2026-03-03T08:00:00+00:00"))
    });
    assert_ne!(single("pullrequest:approved", &later).id, approved.id);
    for key in [
        "pullrequest:unapproved",
        "pullrequest:changes_request_removed",
    ] {
        assert_eq!(ignored(key, APPROVED), "review withdrawn");
    }
}

#[test]
fn comments_inline_is_a_review_comment() {
    let fact = single("pullrequest:comment_created", COMMENT);
    assert_eq!(fact.id, "rc:517338912#0");
    assert_eq!(
        fact.body,
        FactBody::Comment {
            commenter: person("bob"),
            kind: CommentKind::Review,
            created_at: ts("2026-03-02T10:02:13.441876Z"),
            pr_author: Some("alice".into()),
        }
    );
    let general = mutate(COMMENT, |v| remove(v, "/comment/inline"));
    let fact = single("pullrequest:comment_created", &general);
    assert_eq!(fact.id, "ic:517338912#0");
    assert!(matches!(
        fact.body,
        FactBody::Comment {
            kind: CommentKind::Conversation,
            ..
        }
    ));
}

#[test]
fn unsupported_events_are_ignored_but_must_be_json() {
    for key in ["repo:fork", "issue:created", "pullrequest:comment_updated"] {
        assert_eq!(ignored(key, PR_CREATED), "unsupported event");
        assert!(matches!(
            normalize_bitbucket(key, DELIVERY, b"{"),
            Err(IngestError::MalformedJson(_))
        ));
    }
}

#[test]
fn errors_name_the_field() {
    let missing = mutate(PR_CREATED, |v| remove(v, "/pullrequest/created_on"));
    assert_eq!(
        normalize_bitbucket("pullrequest:created", DELIVERY, &missing),
        Err(IngestError::MissingField {
            path: "pullrequest.created_on".into()
        })
    );
    let bad_time = mutate(APPROVED, |v| set(v, "/approval/date", json!("yesterday")));
    assert_eq!(
        normalize_bitbucket("pullrequest:approved", DELIVERY, &bad_time),
        Err(IngestError::BadTimestamp {
            path: "approval.date".into(),
            value: "yesterday".into()
        })
    );
    let commit = mutate(PUSH_SIGNED, |v| remove(v, "/push/changes/0/commits/2/hash"));
    assert_eq!(
        normalize_bitbucket("repo:push", DELIVERY, &commit),
        Err(IngestError::MissingField {
            path: "push.changes[0].commits[2].hash".into()
        })
    );
    let bad_repo = mutate(PR_CREATED, |v| {
        set(v, "/repository/full_name", json!("a/b#c"))
    });
    assert!(matches!(
        normalize_bitbucket("pullrequest:created", DELIVERY, &bad_repo),
        Err(IngestError::InvalidField { path, .. }) if path == "repository.full_name"
    ));
    assert!(matches!(
        normalize_bitbucket("pullrequest:created", "", PR_CREATED),
        Err(IngestError::InvalidField { path, .. }) if path == "X-Request-UUID"
    ));
    assert!(matches!(
        normalize_bitbucket("pr:opened", "", DC_OPENED),
        Err(IngestError::InvalidField { path, .. }) if path == "X-Request-Id"
    ));
}

#[test]
fn hostile_strings_are_just_strings() {
    let hostile = "\u{0}\u{202e}💥\"'<script>".repeat(50);
    let body = mutate(COMMENT, |v| {
        set(v, "/pullrequest/author/nickname", json!(hostile));
        set(v, "/comment/user", Value::Null);
    });
    let fact = single("pullrequest:comment_created", &body);
    assert!(matches!(
        &fact.body,
        FactBody::Comment { commenter, pr_author: Some(author), .. }
            if commenter.login == "ghost" && author == &hostile
    ));
}

/// What `infra/bitbucket-pipelines/report-deployment.sh` sent to a local HTTP server (with
/// `FLOWMETER_WEBHOOK_SECRET=pipelines-test-secret`, `BITBUCKET_EXIT_CODE=1`): the generic
/// deployment endpoint verifies its signature and accepts its body.
#[test]
fn the_pipelines_script_report_is_a_signed_generic_deployment() {
    let body = br#"{"repo":"bitbucket.org/Acme/Payments-API","environment":"production","sha":"f95f852bd8fca8fcc58a9a2d6c842781e32a215e","status":"failure","started_at":"2026-12-06T07:23:07Z","finished_at":"2026-12-06T07:23:08Z","id":"bbp-4711-0f9b7a1c-2d3e-4f5a-8b6c-7d8e9f0a1b2c"}"#;
    let header = "sha256=a7aaff29884801f0daae9af7c203ba594e3c7b7b53e64733f434659159340e3c";
    assert_eq!(
        verify_sha256(b"pipelines-test-secret", body, Some(header)),
        Ok(())
    );
    let Ok(Normalized::Facts(facts)) = crate::ingest::generic::normalize_generic_deployment(body)
    else {
        panic!("the report is accepted");
    };
    assert_eq!(
        facts[0].entity,
        EntityKey::Deployment {
            repo: "bitbucket.org/acme/payments-api".into(),
            id: "gen:bbp-4711-0f9b7a1c-2d3e-4f5a-8b6c-7d8e9f0a1b2c".into(),
        }
    );
    assert!(matches!(
        facts[1].body,
        FactBody::DeploymentStatus {
            state: crate::model::DeploymentState::Failure,
            ..
        }
    ));
    assert_eq!(facts[1].at, ts("2026-12-06T07:23:08Z"));
}

/// What the five-commit limit does to the metrics (docs/sources/bitbucket.md, "What Bitbucket
/// cannot tell"): a PR whose branch got more commits than Cloud lists in one push has its first
/// commit, where coding time and lead time start, at the oldest *listed* commit: understated,
/// never overstated.
#[test]
fn a_truncated_push_starts_the_pr_s_coding_time_at_the_oldest_listed_commit() {
    use crate::derive::testing::{opened_with, project_pr};
    // given a truncated update of the PR's branch (an unknown older head before it)
    let body = mutate(PUSH_SIGNED, |v| {
        let old = json!({"type": "branch", "name": "feature/webhook",
            "target": {"type": "commit", "hash": "1".repeat(40)}});
        set(v, "/push/changes/0/old", old);
        set(v, "/push/changes/0/truncated", json!(true));
    });
    let push = single("repo:push", &body);
    let EntityKey::Branch { repo, branch } = &push.entity else {
        panic!("a push is about a branch");
    };
    let FactBody::Push { after, commits, .. } = &push.body else {
        panic!("expected a push");
    };
    // and the PR whose head it is, opened the next day
    let pr_key = EntityKey::PullRequest {
        repo: repo.clone(),
        number: 7,
    };
    let opened = opened_with(&pr_key, "2018-09-22T10:00:00Z", |s| {
        s.created_at = ts("2018-09-22T10:00:00Z");
        s.head_ref = branch.clone();
        s.head_sha = Some(after.clone());
    });
    // when the PR is projected with its branch's pushes
    let pr = project_pr(&pr_key, &[opened], std::slice::from_ref(&push));
    // then its first commit is the oldest of the five listed, all Flowmeter was told of
    assert_eq!(commits.len(), 5);
    assert_eq!(pr.first_commit_at, Some(commits[0].authored_at));
    assert_eq!(pr.first_commit_at, Some(ts("2018-09-21T14:04:55Z")));
}
