//! Every GitHub fixture under `tests/fixtures/github` goes through the normalizer; supported
//! events are checked field by field against values read in the fixture files.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::normalize_github;
use crate::ingest::testing::{
    facts_of, ignored_of, mutate, person, pr_entity, pr_snapshot, remove, set, single_of, ts,
};
use crate::ingest::{IngestError, Normalized};
use crate::model::{
    Actor, CommentKind, DeploymentState, EntityKey, Fact, FactBody, IncidentAction, PrAction,
    PrSnapshot, ReviewState,
};

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../../tests/fixtures/github/", $path)).as_slice()
    };
}

const PR_OPENED: &[u8] = fixture!("pull_request/opened.payload.json");
const PR_OPENED_NULL_BODY: &[u8] = fixture!("pull_request/opened.with-null-body.json");
const PR_CLOSED: &[u8] = fixture!("pull_request/closed.payload.json");
const PR_MERGED: &[u8] =
    fixture!("pull_request/create-issue-branch.pull_request.closed.merged.json");
const PR_REOPENED: &[u8] = fixture!("pull_request/reopened.payload.json");
const PR_SYNCHRONIZE: &[u8] = fixture!("pull_request/synchronize.payload.json");
const PR_READY: &[u8] = fixture!("pull_request/ready_for_review.payload.json");
const PR_TO_DRAFT: &[u8] = fixture!("pull_request/converted_to_draft.payload.json");
const PR_REVIEW_REQUESTED: &[u8] = fixture!("pull_request/review_requested.payload.json");
const REVIEW_COMMENTED: &[u8] = fixture!("pull_request_review/submitted.payload.json");
const REVIEW_APPROVED: &[u8] =
    fixture!("pull_request_review/github-owners-bot.submitted.approved.json");
const REVIEW_CHANGES_PROBOT: &[u8] = fixture!(
    "pull_request_review/angular-github-robot.submitted.changes_requested.probot-wrapped.json"
);
const REVIEW_DISMISSED: &[u8] = fixture!("pull_request_review/dismissed.payload.json");
const REVIEW_COMMENT: &[u8] = fixture!("pull_request_review_comment/created.payload.json");
const ISSUE_COMMENT: &[u8] = fixture!("issue_comment/created.payload.json");
const PUSH_TAG_DELETED: &[u8] = fixture!("push/payload.json");
const PUSH_NEW_BRANCH: &[u8] = fixture!("push/with-new-branch.payload.json");
const DEPLOYMENT: &[u8] = fixture!("deployment/payload.json");
const DEPLOYMENT_PAGES: &[u8] = fixture!("deployment/gh-pages.payload.json");
const DEPLOYMENT_STATUS: &[u8] = fixture!("deployment_status/payload.json");
const DEPLOYMENT_STATUS_PAGES: &[u8] = fixture!("deployment_status/gh-pages.payload.json");
const WORKFLOW_RUN_COMPLETED: &[u8] = fixture!("workflow_run/completed.payload.json");
const WORKFLOW_RUN_WITH_PRS: &[u8] =
    fixture!("workflow_run/completed.with-pull-requests.payload.json");
const WORKFLOW_RUN_REQUESTED: &[u8] = fixture!("workflow_run/requested.payload.json");
const ISSUE_OPENED: &[u8] = fixture!("issues/opened.payload.json");
const ISSUE_LABELED: &[u8] = fixture!("issues/labeled.payload.json");
const ISSUE_REOPENED: &[u8] = fixture!("issues/reopened.payload.json");
const ISSUE_CLOSED: &[u8] = fixture!("issues/comment-when-done.issues.closed.json");
const PING: &[u8] = fixture!("ping/payload.json");
const CHECK_SUITE: &[u8] = fixture!("check_suite/completed.payload.json");
const RELEASE: &[u8] = fixture!("release/published.payload.json");
const WORKFLOW_JOB_OK: &[u8] =
    fixture!("workflow_job/completed.success.with-organization.payload.json");
const WORKFLOW_JOB_FAILED: &[u8] =
    fixture!("workflow_job/completed.failure.with-organization.payload.json");
const WORKFLOW_JOB_QUEUED: &[u8] = fixture!("workflow_job/queued.with-deployment.payload.json");

/// Every fixture file with the `X-GitHub-Event` it would arrive with.
pub(crate) const ALL: &[(&str, &[u8])] = &[
    ("pull_request", PR_OPENED),
    ("pull_request", PR_OPENED_NULL_BODY),
    ("pull_request", PR_CLOSED),
    ("pull_request", PR_MERGED),
    ("pull_request", PR_REOPENED),
    ("pull_request", PR_SYNCHRONIZE),
    ("pull_request", PR_READY),
    ("pull_request", PR_TO_DRAFT),
    ("pull_request", PR_REVIEW_REQUESTED),
    ("pull_request_review", REVIEW_COMMENTED),
    ("pull_request_review", REVIEW_APPROVED),
    ("pull_request_review", REVIEW_CHANGES_PROBOT),
    ("pull_request_review", REVIEW_DISMISSED),
    ("pull_request_review_comment", REVIEW_COMMENT),
    ("issue_comment", ISSUE_COMMENT),
    ("push", PUSH_TAG_DELETED),
    ("push", PUSH_NEW_BRANCH),
    ("deployment", DEPLOYMENT),
    ("deployment", DEPLOYMENT_PAGES),
    ("deployment_status", DEPLOYMENT_STATUS),
    ("deployment_status", DEPLOYMENT_STATUS_PAGES),
    ("workflow_run", WORKFLOW_RUN_COMPLETED),
    ("workflow_run", WORKFLOW_RUN_WITH_PRS),
    ("workflow_run", WORKFLOW_RUN_REQUESTED),
    ("issues", ISSUE_OPENED),
    ("issues", ISSUE_LABELED),
    ("issues", ISSUE_REOPENED),
    ("issues", ISSUE_CLOSED),
    ("ping", PING),
    ("check_suite", CHECK_SUITE),
    ("release", RELEASE),
    ("workflow_job", WORKFLOW_JOB_OK),
    ("workflow_job", WORKFLOW_JOB_FAILED),
    ("workflow_job", WORKFLOW_JOB_QUEUED),
];

const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

fn run(event: &str, body: &[u8]) -> Normalized {
    normalize_github(event, DELIVERY, body).expect("fixture is accepted")
}

fn facts(event: &str, body: &[u8]) -> Vec<Fact> {
    facts_of(run(event, body))
}

fn single(event: &str, body: &[u8]) -> Fact {
    single_of(run(event, body))
}

fn ignored(event: &str, body: &[u8]) -> &'static str {
    ignored_of(run(event, body))
}

#[test]
fn every_fixture_is_accepted() {
    for (event, body) in ALL {
        if let Err(e) = normalize_github(event, DELIVERY, body) {
            panic!("{event}: {e}");
        }
    }
}

#[test]
fn redelivery_gives_identical_facts() {
    for (event, body) in ALL {
        let first = normalize_github(event, DELIVERY, body).expect("accepted");
        let again = normalize_github(event, DELIVERY, body).expect("accepted");
        assert_eq!(first, again, "{event}");
    }
}

/// The HMAC covers the body, not `X-GitHub-Delivery`: a signed body replayed under another
/// delivery id must be the very same facts (same ids, so the same keys), or it is counted twice.
#[test]
fn a_replay_under_a_new_delivery_id_is_the_same_facts() {
    for (event, body) in ALL {
        let first = normalize_github(event, DELIVERY, body).expect("accepted");
        let replay = normalize_github(event, "00000000-replayed-delivery", body).expect("accepted");
        assert_eq!(first, replay, "{event}");
    }
}

#[test]
fn fact_ids_come_from_the_payload_and_never_from_the_delivery_id() {
    for (event, body) in ALL {
        if let Normalized::Facts(facts) = run(event, body) {
            for (n, fact) in facts.iter().enumerate() {
                assert!(!fact.id.contains(DELIVERY), "{event}: {}", fact.id);
                assert!(fact.id.ends_with(&format!("#{n}")), "{event}: {}", fact.id);
                assert!(fact.id.len() <= 100, "{event}: bounded id {}", fact.id);
                assert!(!fact.body.is_derived());
            }
        }
    }
}

/// The ids read from the fixtures themselves: the review's, the comment's, the status's, the
/// run's and attempt, the push's before..after.
#[test]
fn fact_ids_are_the_payloads_own_ids() {
    let id_of = |event: &str, body: &[u8]| single(event, body).id;
    let review: Value = serde_json::from_slice(REVIEW_COMMENTED).expect("json");
    assert_eq!(
        id_of("pull_request_review", REVIEW_COMMENTED),
        format!("review:{}#0", review["review"]["id"])
    );
    let comment: Value = serde_json::from_slice(ISSUE_COMMENT).expect("json");
    let on_pr = mutate(ISSUE_COMMENT, |v| {
        v["issue"]["pull_request"] = json!({"url": "https://api.github.com/x"});
    });
    assert_eq!(
        id_of("issue_comment", &on_pr),
        format!("ic:{}#0", comment["comment"]["id"])
    );
    let comment: Value = serde_json::from_slice(REVIEW_COMMENT).expect("json");
    assert_eq!(
        id_of("pull_request_review_comment", REVIEW_COMMENT),
        format!("rc:{}#0", comment["comment"]["id"])
    );
    let status: Value = serde_json::from_slice(DEPLOYMENT_STATUS).expect("json");
    assert_eq!(
        id_of("deployment_status", DEPLOYMENT_STATUS),
        format!("status:{}#0", status["deployment_status"]["id"])
    );
    let deployment: Value = serde_json::from_slice(DEPLOYMENT).expect("json");
    assert_eq!(
        id_of("deployment", DEPLOYMENT),
        format!("deployment:{}#0", deployment["deployment"]["id"])
    );
    let push: Value = serde_json::from_slice(PUSH_NEW_BRANCH).expect("json");
    assert_eq!(
        id_of("push", PUSH_NEW_BRANCH),
        format!(
            "push:{}..{}#0",
            push["before"].as_str().expect("before"),
            push["after"].as_str().expect("after")
        )
    );
    let run: Value = serde_json::from_slice(WORKFLOW_RUN_COMPLETED).expect("json");
    let ids: Vec<String> = facts("workflow_run", WORKFLOW_RUN_COMPLETED)
        .into_iter()
        .map(|f| f.id)
        .collect();
    let base = format!(
        "run:{}:{}",
        run["workflow_run"]["id"],
        run["workflow_run"]["run_attempt"].as_u64().unwrap_or(1)
    );
    assert_eq!(ids, [format!("{base}#0"), format!("{base}#1")]);
}

/// Events without an id of their own: a lifecycle step (opened, closed, to and from draft)
/// is the PR's or issue's step at its time, whatever else the body says, so a backfill's
/// rebuilt delivery is the same fact; any other change is identified by its body: the same
/// bytes are the same fact, and a different change (another label) is another fact.
#[test]
fn events_without_an_id_are_a_lifecycle_step_or_their_body() {
    let opened = single("pull_request", PR_OPENED);
    assert_eq!(opened.id, "pr:opened#0");
    let rebuilt = mutate(PR_OPENED, |v| {
        set(v, "/pull_request/title", json!("Another title"));
        set(v, "/sender", json!(null));
    });
    let again = single("pull_request", &rebuilt);
    assert_eq!((again.id, again.at), (opened.id.clone(), opened.at));
    let edited = mutate(PR_OPENED, |v| set(v, "/action", json!("edited")));
    let edited_id = single("pull_request", &edited).id;
    assert!(
        edited_id.starts_with("pr:") && edited_id != opened.id,
        "{edited_id}"
    );
    let retitled = mutate(&edited, |v| {
        set(v, "/pull_request/title", json!("Another title"))
    });
    assert_ne!(single("pull_request", &retitled).id, edited_id);
    let issue = single("issues", ISSUE_LABELED);
    assert!(issue.id.starts_with("issue:"), "{}", issue.id);
    let relabeled = mutate(ISSUE_LABELED, |v| set(v, "/label/name", json!("sev2")));
    assert_ne!(single("issues", &relabeled).id, issue.id);
    let closed = mutate(ISSUE_LABELED, |v| set(v, "/action", json!("closed")));
    assert_eq!(single("issues", &closed).id, "issue:closed#0");
}

/// A re-run of a workflow run is another attempt, another deployment outcome: other facts.
#[test]
fn a_rerun_attempt_is_other_facts() {
    let first = facts("workflow_run", WORKFLOW_RUN_COMPLETED);
    let rerun = mutate(WORKFLOW_RUN_COMPLETED, |v| {
        set(v, "/workflow_run/run_attempt", json!(2))
    });
    let second = facts("workflow_run", &rerun);
    assert_ne!(first[0].id, second[0].id);
    assert!(second[0].id.contains(":2#"), "{}", second[0].id);
}

#[test]
fn pull_request_opened() {
    let fact = single("pull_request", PR_OPENED);
    assert_eq!(fact.entity, pr_entity("codertocat/hello-world", 2));
    assert_eq!(fact.id, "pr:opened#0");
    assert_eq!(fact.at, ts("2019-05-15T15:20:33Z"));
    let expected = PrSnapshot {
        action: PrAction::Opened,
        title: "Update the README with new information.".into(),
        body: Some("This is a pretty simple change that we need to pull into master.".into()),
        author: person("Codertocat"),
        draft: false,
        created_at: ts("2019-05-15T15:20:33Z"),
        updated_at: ts("2019-05-15T15:20:33Z"),
        closed_at: None,
        merged_at: None,
        merge_commit_sha: None,
        head_ref: "changes".into(),
        base_ref: "master".into(),
        default_branch: "master".into(),
        additions: Some(1),
        deletions: Some(1),
        labels: vec!["bug".into()],
        html_url: Some("https://github.com/Codertocat/Hello-World/pull/2".into()),
        head_repo: Some("codertocat/hello-world".into()),
        head_sha: Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821".into()),
    };
    assert_eq!(pr_snapshot(&fact), &expected);
}

#[test]
fn pull_request_with_null_body() {
    let fact = single("pull_request", PR_OPENED_NULL_BODY);
    assert_eq!(pr_snapshot(&fact).body, None);
    assert_eq!(pr_snapshot(&fact).action, PrAction::Opened);
}

#[test]
fn merged_pull_request() {
    let fact = single("pull_request", PR_MERGED);
    assert_eq!(
        fact.entity,
        pr_entity("robvanderleek/create-issue-branch", 117)
    );
    let s = pr_snapshot(&fact);
    assert_eq!(s.action, PrAction::Closed);
    assert_eq!(s.title, "Revert \"Update README.md\"");
    assert_eq!(s.created_at, ts("2020-03-23T06:36:20Z"));
    assert_eq!(s.merged_at, Some(ts("2020-03-23T06:46:56Z")));
    assert_eq!(s.closed_at, Some(ts("2020-03-23T06:46:56Z")));
    assert_eq!(
        s.merge_commit_sha.as_deref(),
        Some("5a47c3f3c22f54f37a3297f2f1c98d860fba4489")
    );
    assert_eq!(s.head_ref, "issue-111-robvanderleek-patch-1");
    assert_eq!(s.base_ref, "main");
    assert_eq!(s.default_branch, "main");
    assert_eq!(s.labels, Vec::<String>::new());
    assert_eq!(fact.at, ts("2020-03-23T06:46:56Z"));
}

#[test]
fn closed_unmerged_pull_request_drops_the_test_merge_sha() {
    let s = pr_snapshot(&single("pull_request", PR_CLOSED)).clone();
    assert_eq!(s.action, PrAction::Closed);
    assert_eq!(s.closed_at, Some(ts("2019-05-15T15:21:18Z")));
    assert_eq!(s.merged_at, None);
    // The payload carries c4295bd… as a test merge; it never landed.
    assert_eq!(s.merge_commit_sha, None);
}

#[test]
fn pull_request_actions() {
    let cases = [
        (PR_REOPENED, PrAction::Reopened, false),
        (PR_SYNCHRONIZE, PrAction::Synchronize, false),
        (PR_READY, PrAction::ReadyForReview, false),
        (PR_TO_DRAFT, PrAction::ConvertedToDraft, true),
        (PR_REVIEW_REQUESTED, PrAction::Other, false),
    ];
    for (body, action, draft) in cases {
        let fact = single("pull_request", body);
        assert_eq!(pr_snapshot(&fact).action, action);
        assert_eq!(pr_snapshot(&fact).draft, draft, "{action:?}");
    }
    let labeled = mutate(PR_OPENED, |v| set(v, "/action", json!("labeled")));
    assert_eq!(
        pr_snapshot(&single("pull_request", &labeled)).action,
        PrAction::Labeled
    );
}

#[test]
fn bots_are_recognized_by_type_and_login() {
    let by_type = mutate(PR_OPENED, |v| {
        set(v, "/pull_request/user/type", json!("Bot"))
    });
    assert!(pr_snapshot(&single("pull_request", &by_type)).author.is_bot);
    let by_login = mutate(PR_OPENED, |v| {
        set(v, "/pull_request/user/login", json!("dependabot[bot]"))
    });
    let fact = single("pull_request", &by_login);
    let author = &pr_snapshot(&fact).author;
    assert_eq!(author.login, "dependabot[bot]");
    assert!(author.is_bot);
}

#[test]
fn review_commented_with_null_body() {
    let fact = single("pull_request_review", REVIEW_COMMENTED);
    assert_eq!(fact.entity, pr_entity("codertocat/hello-world", 2));
    assert_eq!(fact.at, ts("2019-05-15T15:20:38Z"));
    assert_eq!(
        fact.body,
        FactBody::Review {
            reviewer: person("Codertocat"),
            state: ReviewState::Commented,
            submitted_at: ts("2019-05-15T15:20:38Z"),
            body_nonempty: false,
            pr_author: Some("Codertocat".into()),
        }
    );
}

#[test]
fn review_approved_with_empty_body() {
    let fact = single("pull_request_review", REVIEW_APPROVED);
    assert_eq!(
        fact.entity,
        pr_entity("erwinmombay/github-owners-bot-test-repo", 35)
    );
    assert_eq!(
        fact.body,
        FactBody::Review {
            reviewer: person("erwinmombay"),
            state: ReviewState::Approved,
            submitted_at: ts("2019-02-26T20:53:31Z"),
            body_nonempty: false,
            pr_author: Some("ampprojectbot".into()),
        }
    );
}

#[test]
fn probot_wrapped_review_is_unwrapped() {
    let fact = single("pull_request_review", REVIEW_CHANGES_PROBOT);
    assert_eq!(fact.entity, pr_entity("ocombe/test", 35));
    assert_eq!(
        fact.body,
        FactBody::Review {
            reviewer: person("ocombe"),
            state: ReviewState::ChangesRequested,
            submitted_at: ts("2019-01-30T16:02:36Z"),
            body_nonempty: true,
            pr_author: Some("Toxicable".into()),
        }
    );
}

#[test]
fn review_dismissed() {
    let fact = single("pull_request_review", REVIEW_DISMISSED);
    assert_eq!(fact.entity, pr_entity("codertocat/hello-world", 2));
    assert_eq!(
        fact.body,
        FactBody::ReviewDismissed {
            reviewer: person("Codertocat"),
            review_id: 237895671,
        }
    );
    assert_eq!(fact.at, ts("2019-05-15T15:20:38Z"));
}

#[test]
fn review_comment() {
    let fact = single("pull_request_review_comment", REVIEW_COMMENT);
    assert_eq!(fact.entity, pr_entity("codertocat/hello-world", 2));
    assert_eq!(fact.at, ts("2019-05-15T15:20:37Z"));
    assert_eq!(
        fact.body,
        FactBody::Comment {
            commenter: person("Codertocat"),
            kind: CommentKind::Review,
            created_at: ts("2019-05-15T15:20:37Z"),
            pr_author: Some("Codertocat".into()),
        }
    );
}

#[test]
fn issue_comment_counts_only_on_pull_requests() {
    assert_eq!(
        ignored("issue_comment", ISSUE_COMMENT),
        "comment on an issue, not a pull request"
    );
    let on_pr = mutate(ISSUE_COMMENT, |v| {
        set(
            v,
            "/issue",
            json!({
                "number": 1,
                "user": {"login": "Codertocat", "type": "User"},
                "pull_request": {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
            }),
        )
    });
    let fact = single("issue_comment", &on_pr);
    assert_eq!(fact.entity, pr_entity("codertocat/hello-world", 1));
    assert_eq!(
        fact.body,
        FactBody::Comment {
            commenter: person("Codertocat"),
            kind: CommentKind::Conversation,
            created_at: ts("2019-05-15T15:20:21Z"),
            pr_author: Some("Codertocat".into()),
        }
    );
    let edited = mutate(&on_pr, |v| set(v, "/action", json!("edited")));
    assert_eq!(ignored("issue_comment", &edited), "unsupported action");
}

#[test]
fn push_to_a_tag_is_ignored() {
    assert_eq!(ignored("push", PUSH_TAG_DELETED), "tag push");
}

#[test]
fn branch_deletion_and_other_refs_are_ignored() {
    let deleted = mutate(PUSH_TAG_DELETED, |v| {
        set(v, "/ref", json!("refs/heads/feature"))
    });
    assert_eq!(ignored("push", &deleted), "branch deletion");
    let note = mutate(PUSH_NEW_BRANCH, |v| {
        set(v, "/ref", json!("refs/notes/commits"))
    });
    assert_eq!(ignored("push", &note), "push to a ref that is not a branch");
}

#[test]
fn push_to_default_branch() {
    let fact = single("push", PUSH_NEW_BRANCH);
    assert_eq!(
        fact.entity,
        EntityKey::Branch {
            repo: "codertocat/hello-world".into(),
            branch: "master".into(),
        }
    );
    // repository.pushed_at = 1557933657.
    assert_eq!(fact.at, ts("2019-05-15T15:20:57Z"));
    let FactBody::Push {
        before,
        after,
        commits,
        forced,
        to_default_branch,
    } = &fact.body
    else {
        panic!("expected a push, got {:?}", fact.body);
    };
    assert_eq!(before, "0000000000000000000000000000000000000000");
    assert_eq!(after, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    assert!(!forced);
    assert!(to_default_branch);
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    assert_eq!(commits[0].authored_at, ts("2019-05-15T15:19:25Z"));
    assert_eq!(commits[0].author_login.as_deref(), Some("Codertocat"));
    let payload: Value = serde_json::from_slice(PUSH_NEW_BRANCH).expect("json");
    assert_eq!(
        commits[0].message.as_deref(),
        payload["commits"][0]["message"].as_str()
    );
}

fn push_commits(body: &[u8]) -> Vec<crate::model::Commit> {
    match single("push", body).body {
        FactBody::Push { commits, .. } => commits,
        other => panic!("expected a push, got {other:?}"),
    }
}

/// The fixture's push with its one commit repeated `n` times (distinct ids), each with `message`.
fn push_of(n: usize, message: &str) -> Vec<u8> {
    mutate(PUSH_NEW_BRANCH, |v| {
        let mut commit = v["commits"][0].clone();
        commit["message"] = json!(message);
        commit["author"]["username"] = json!("l".repeat(39));
        let commits: Vec<Value> = (0..n)
            .map(|i| {
                let mut c = commit.clone();
                c["id"] = json!(format!("{i:040x}"));
                c
            })
            .collect();
        set(v, "/commits", json!(commits));
    })
}

#[test]
fn a_long_commit_message_keeps_its_first_kilobyte_cut_at_a_character_boundary() {
    // given a commit whose message is a subject naming a ticket and 4,000 bytes of 'é' (2 bytes)
    let message = format!("ENG-42 {}", "é".repeat(2_000));
    let body = mutate(PUSH_NEW_BRANCH, |v| {
        set(v, "/commits/0/message", json!(message))
    });
    // when
    let kept = push_commits(&body)[0].message.clone().expect("message");
    // then the longest start within 1,024 bytes: "ENG-42 " and 508 'é', no half character
    assert_eq!(kept.len(), 1_023);
    assert!(message.starts_with(&kept));
    assert!(kept.starts_with("ENG-42 "));
    assert_eq!(crate::model::MAX_COMMIT_MESSAGE_BYTES, 1_024);
}

#[test]
fn hostile_commit_messages_are_capped_as_stored_and_never_panic() {
    let nasty = [
        format!("a\u{0}b\u{1b}[31m{}", "\u{1}".repeat(1_000_000)),
        "\"\\\n".repeat(500_000),
        format!("{}🦀", "x".repeat(1_023)),
        "\u{2028}\u{feff}\u{7f}".repeat(10_000),
    ];
    for message in nasty {
        let body = mutate(PUSH_NEW_BRANCH, |v| {
            set(v, "/commits/0/message", json!(message))
        });
        let fact = single("push", &body);
        let FactBody::Push { commits, .. } = &fact.body else {
            panic!("expected a push");
        };
        let kept = commits[0].message.as_deref().expect("message");
        // a start of the message, whose JSON string (quotes aside) is at most 1,024 bytes
        assert!(message.starts_with(kept));
        let stored = serde_json::to_string(kept).expect("json").len() - 2;
        assert!(stored <= 1_024, "{stored}");
        assert!(stored > 1_024 - 6, "{stored}");
        assert_eq!(crate::ingest::check_storable(&[fact]), Ok(()));
    }
}

#[test]
fn a_commit_without_a_message_keeps_none() {
    for message in [Value::Null, json!("")] {
        let body = mutate(PUSH_NEW_BRANCH, |v| set(v, "/commits/0/message", message));
        assert_eq!(push_commits(&body)[0].message, None);
    }
    let body = mutate(PUSH_NEW_BRANCH, |v| remove(v, "/commits/0/message"));
    assert_eq!(push_commits(&body)[0].message, None);
    // A message that is not a string is the sender's error, named.
    let body = mutate(PUSH_NEW_BRANCH, |v| set(v, "/commits/0/message", json!(7)));
    assert!(matches!(
        normalize_github("push", DELIVERY, &body),
        Err(IngestError::InvalidField { path, .. }) if path == "commits[0].message"
    ));
}

#[test]
fn a_large_push_shares_the_message_budget_and_stays_well_within_a_fact() {
    let long = "ENG-7 ".repeat(400);
    // up to 32 commits keep 1,024 bytes each
    let commits = push_commits(&push_of(32, &long));
    assert!(commits
        .iter()
        .all(|c| c.message.as_ref().map(String::len) == Some(1_024)));
    // 100 commits share 32 KiB: 327 bytes each
    let commits = push_commits(&push_of(100, &long));
    assert!(commits
        .iter()
        .all(|c| c.message.as_ref().map(String::len) == Some(327)));
    // 1,024 commits keep 32 bytes each, and the fact (39-character logins) is under 200 KiB
    let fact = single("push", &push_of(1_024, &long));
    let size = serde_json::to_vec(&fact).expect("json").len();
    assert!(size < 200 * 1024, "{size}");
    let FactBody::Push { commits, .. } = &fact.body else {
        panic!("expected a push");
    };
    assert_eq!(commits[0].message.as_deref(), Some(&long[..32]));
    // past 1,024 commits none is kept: GitHub's largest push is the fact it was without them
    for n in [1_025, 2_048] {
        let fact = single("push", &push_of(n, &long));
        let FactBody::Push { commits, .. } = &fact.body else {
            panic!("expected a push");
        };
        assert!(commits.iter().all(|c| c.message.is_none()));
        assert_eq!(crate::ingest::check_storable(&[fact]), Ok(()));
    }
}

#[test]
fn push_time_falls_back_to_the_head_commit() {
    let feature = mutate(PUSH_NEW_BRANCH, |v| {
        set(v, "/ref", json!("refs/heads/feature/x"));
        remove(v, "/repository/pushed_at");
        set(
            v,
            "/head_commit/timestamp",
            json!("2019-05-15T11:19:25-04:00"),
        );
    });
    let fact = single("push", &feature);
    assert_eq!(fact.at, ts("2019-05-15T15:19:25Z"));
    assert_eq!(
        fact.entity,
        EntityKey::Branch {
            repo: "codertocat/hello-world".into(),
            branch: "feature/x".into(),
        }
    );
    assert!(matches!(
        fact.body,
        FactBody::Push {
            to_default_branch: false,
            ..
        }
    ));
}

#[test]
fn deployment_created() {
    let fact = single("deployment", DEPLOYMENT);
    assert_eq!(
        fact.entity,
        EntityKey::Deployment {
            repo: "codertocat/hello-world".into(),
            id: "gh:145988746".into(),
        }
    );
    assert_eq!(fact.at, ts("2019-05-15T15:20:53Z"));
    assert_eq!(
        fact.body,
        FactBody::DeploymentRequested {
            environment: "production".into(),
            sha: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into(),
            git_ref: Some("master".into()),
            creator: Some(person("Codertocat")),
            workflow: None,
            workflow_run: None,
        }
    );
    let pages = single("deployment", DEPLOYMENT_PAGES);
    let FactBody::DeploymentRequested {
        environment,
        creator,
        ..
    } = &pages.body
    else {
        panic!("expected a deployment request");
    };
    assert_eq!(environment, "github-pages");
    assert_eq!(
        creator,
        &Some(Actor {
            login: "github-pages[bot]".into(),
            is_bot: true,
        })
    );
}

#[test]
fn deployment_status_success() {
    let fact = single("deployment_status", DEPLOYMENT_STATUS);
    assert_eq!(
        fact.entity,
        EntityKey::Deployment {
            repo: "codertocat/hello-world".into(),
            id: "gh:145988746".into(),
        }
    );
    assert_eq!(fact.at, ts("2019-05-15T15:20:55Z"));
    assert_eq!(
        fact.body,
        FactBody::DeploymentStatus {
            state: DeploymentState::Success,
            environment: Some("production".into()),
            sha: Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into()),
            started_at: Some(ts("2019-05-15T15:20:53Z")),
            workflow_run: None,
        }
    );
}

#[test]
fn deployment_status_states() {
    let pages = single("deployment_status", DEPLOYMENT_STATUS_PAGES);
    assert!(matches!(
        pages.body,
        FactBody::DeploymentStatus {
            state: DeploymentState::InProgress,
            ..
        }
    ));
    for (raw, state) in [
        ("failure", DeploymentState::Failure),
        ("error", DeploymentState::Error),
        ("queued", DeploymentState::Queued),
        ("pending", DeploymentState::Pending),
        ("inactive", DeploymentState::Inactive),
    ] {
        let body = mutate(DEPLOYMENT_STATUS, |v| {
            set(v, "/deployment_status/state", json!(raw))
        });
        let fact = single("deployment_status", &body);
        assert!(
            matches!(&fact.body, FactBody::DeploymentStatus { state: s, .. } if *s == state),
            "{raw}"
        );
    }
    let waiting = mutate(DEPLOYMENT_STATUS, |v| {
        set(v, "/deployment_status/state", json!("waiting"))
    });
    assert_eq!(
        ignored("deployment_status", &waiting),
        "deployment status state not tracked"
    );
}

#[test]
fn workflow_run_completed_gives_request_and_status() {
    for body in [WORKFLOW_RUN_COMPLETED, WORKFLOW_RUN_WITH_PRS] {
        let all = facts("workflow_run", body);
        assert_eq!(all.len(), 2);
        let entity = EntityKey::Deployment {
            repo: "octo-org/octo-repo".into(),
            id: "wr:289782451".into(),
        };
        assert_eq!(all[0].entity, entity);
        assert_eq!(all[1].entity, entity);
        assert_eq!(all[0].id, "run:289782451:1#0");
        assert_eq!(all[1].id, "run:289782451:1#1");
        assert_eq!(all[0].at, ts("2020-10-05T16:33:49Z"));
        assert_eq!(all[1].at, ts("2020-10-05T16:33:49Z"));
        assert_eq!(
            all[0].body,
            FactBody::DeploymentRequested {
                environment: "production".into(),
                sha: "3484a3fb816e0859fd6e1cea078d76385ff50625".into(),
                git_ref: Some("master".into()),
                creator: Some(person("Codertocat")),
                // `workflow_run.name` is empty in the fixture; `workflow.name` is "test".
                workflow: Some("test".into()),
                workflow_run: None,
            }
        );
        assert_eq!(
            all[1].body,
            FactBody::DeploymentStatus {
                state: DeploymentState::Success,
                environment: Some("production".into()),
                sha: Some("3484a3fb816e0859fd6e1cea078d76385ff50625".into()),
                started_at: Some(ts("2020-10-05T16:33:49Z")),
                workflow_run: None,
            }
        );
    }
}

#[test]
fn workflow_run_conclusions() {
    for (conclusion, state) in [
        ("failure", DeploymentState::Failure),
        ("timed_out", DeploymentState::Failure),
        ("startup_failure", DeploymentState::Failure),
    ] {
        let body = mutate(WORKFLOW_RUN_COMPLETED, |v| {
            set(v, "/workflow_run/conclusion", json!(conclusion));
            set(v, "/workflow_run/name", json!("Deploy production"));
        });
        let all = facts("workflow_run", &body);
        assert!(
            matches!(&all[1].body, FactBody::DeploymentStatus { state: s, .. } if *s == state),
            "{conclusion}"
        );
        assert!(matches!(
            &all[0].body,
            FactBody::DeploymentRequested { workflow: Some(w), .. } if w == "Deploy production"
        ));
    }
    for conclusion in [
        json!("cancelled"),
        json!("skipped"),
        json!("neutral"),
        Value::Null,
    ] {
        let body = mutate(WORKFLOW_RUN_COMPLETED, |v| {
            set(v, "/workflow_run/conclusion", conclusion)
        });
        assert_eq!(
            ignored("workflow_run", &body),
            "workflow run neither succeeded nor failed"
        );
    }
    assert_eq!(
        ignored("workflow_run", WORKFLOW_RUN_REQUESTED),
        "workflow run not completed"
    );
}

fn incident_parts(fact: &Fact) -> (IncidentAction, Vec<String>, Option<DateTime<Utc>>) {
    match &fact.body {
        FactBody::Incident {
            action,
            labels,
            resolved_at,
            ..
        } => (*action, labels.clone(), *resolved_at),
        other => panic!("expected an incident, got {other:?}"),
    }
}

#[test]
fn issue_opened_is_an_incident_candidate() {
    let fact = single("issues", ISSUE_OPENED);
    assert_eq!(
        fact.entity,
        EntityKey::Incident {
            id: "gh:codertocat/hello-world#1".into(),
        }
    );
    assert_eq!(fact.at, ts("2019-05-15T15:20:18Z"));
    assert_eq!(
        fact.body,
        FactBody::Incident {
            action: IncidentAction::Opened,
            title: "Spelling error in the README file".into(),
            service: None,
            service_id: None,
            severity: None,
            urgency: None,
            priority: None,
            labels: vec!["bug".into()],
            deployment_sha: None,
            repo: Some("codertocat/hello-world".into()),
            html_url: Some("https://github.com/Codertocat/Hello-World/issues/1".into()),
            opened_at: Some(ts("2019-05-15T15:20:18Z")),
            resolved_at: None,
        }
    );
}

#[test]
fn issue_actions() {
    let closed = single("issues", ISSUE_CLOSED);
    assert_eq!(
        closed.entity,
        EntityKey::Incident {
            id: "gh:c-saunders/flynn_env_test#1".into(),
        }
    );
    assert_eq!(
        incident_parts(&closed),
        (
            IncidentAction::Resolved,
            vec![],
            Some(ts("2018-11-18T18:42:08Z"))
        )
    );
    assert_eq!(closed.at, ts("2018-11-18T18:42:08Z"));

    // Reopened: closed_at is still set in the payload, but the issue is open again.
    let reopened = single("issues", ISSUE_REOPENED);
    assert_eq!(
        incident_parts(&reopened),
        (IncidentAction::Reopened, vec!["bug".into()], None)
    );

    let labeled = single("issues", ISSUE_LABELED);
    assert_eq!(incident_parts(&labeled).0, IncidentAction::Updated);

    let assigned = mutate(ISSUE_OPENED, |v| set(v, "/action", json!("assigned")));
    assert_eq!(ignored("issues", &assigned), "unsupported action");
}

#[test]
fn severity_label_is_carried() {
    let body = mutate(ISSUE_LABELED, |v| {
        set(
            v,
            "/issue/labels",
            json!([{"name": "incident"}, {"name": "SEV2"}]),
        )
    });
    let fact = single("issues", &body);
    assert!(matches!(
        &fact.body,
        FactBody::Incident { severity: Some(s), .. } if s == "sev2"
    ));
}

#[test]
fn unsupported_events_are_ignored() {
    assert_eq!(ignored("ping", PING), "ping");
    for (event, body) in [
        ("check_suite", CHECK_SUITE),
        ("release", RELEASE),
        ("workflow_job", WORKFLOW_JOB_OK),
        ("workflow_job", WORKFLOW_JOB_FAILED),
        ("workflow_job", WORKFLOW_JOB_QUEUED),
    ] {
        assert_eq!(ignored(event, body), "unsupported event");
    }
}

#[test]
fn errors_name_the_field() {
    let missing = mutate(PR_OPENED, |v| remove(v, "/pull_request/created_at"));
    assert_eq!(
        normalize_github("pull_request", DELIVERY, &missing),
        Err(IngestError::MissingField {
            path: "pull_request.created_at".into()
        })
    );

    let bad_time = mutate(PR_OPENED, |v| {
        set(v, "/pull_request/updated_at", json!("15 May 2019"))
    });
    assert_eq!(
        normalize_github("pull_request", DELIVERY, &bad_time),
        Err(IngestError::BadTimestamp {
            path: "pull_request.updated_at".into(),
            value: "15 May 2019".into(),
        })
    );

    let wrong_type = mutate(PR_OPENED, |v| set(v, "/pull_request/number", json!("2")));
    let err = normalize_github("pull_request", DELIVERY, &wrong_type).expect_err("rejected");
    assert!(
        matches!(&err, IngestError::InvalidField { path, .. } if path == "pull_request.number"),
        "{err:?}"
    );
    assert!(err.to_string().contains("pull_request.number"), "{err}");

    let label = mutate(PR_OPENED, |v| {
        set(
            v,
            "/pull_request/labels",
            json!([{"name": "ok"}, {"name": 7}]),
        )
    });
    let err = normalize_github("pull_request", DELIVERY, &label).expect_err("rejected");
    assert!(
        matches!(&err, IngestError::InvalidField { path, .. } if path == "pull_request.labels[1].name"),
        "{err:?}"
    );

    let commit = mutate(PUSH_NEW_BRANCH, |v| remove(v, "/commits/0/timestamp"));
    assert_eq!(
        normalize_github("push", DELIVERY, &commit),
        Err(IngestError::MissingField {
            path: "commits[0].timestamp".into()
        })
    );

    let probot = mutate(REVIEW_CHANGES_PROBOT, |v| {
        remove(v, "/payload/review/state")
    });
    assert_eq!(
        normalize_github("pull_request_review", DELIVERY, &probot),
        Err(IngestError::MissingField {
            path: "review.state".into()
        })
    );
}

#[test]
fn malformed_bodies_and_bad_headers_are_rejected() {
    for body in [&b""[..], b"{", b"not json", b"\xff\xfe"] {
        assert!(matches!(
            normalize_github("pull_request", DELIVERY, body),
            Err(IngestError::MalformedJson(_))
        ));
        // Even for events we skip: a broken sender should hear about it.
        assert!(matches!(
            normalize_github("ping", DELIVERY, body),
            Err(IngestError::MalformedJson(_))
        ));
    }
    assert!(matches!(
        normalize_github("pull_request", DELIVERY, b"[]"),
        Err(IngestError::InvalidField { path, .. }) if path == "(body)"
    ));
    assert!(matches!(
        normalize_github("pull_request", "", PR_OPENED),
        Err(IngestError::InvalidField { path, .. }) if path == "X-GitHub-Delivery"
    ));
    let bad_repo = mutate(PR_OPENED, |v| {
        set(v, "/repository/full_name", json!("no-slash"))
    });
    assert!(matches!(
        normalize_github("pull_request", DELIVERY, &bad_repo),
        Err(IngestError::InvalidField { path, .. }) if path == "repository.full_name"
    ));
}

#[test]
fn null_users_become_ghost() {
    let body = mutate(PR_OPENED, |v| set(v, "/pull_request/user", Value::Null));
    assert_eq!(
        pr_snapshot(&single("pull_request", &body)).author,
        person("ghost")
    );
}

/// A Deployment created by an Actions job names its workflow run; so does its status. That is
/// what lets the pair (`gh:` and `wr:`) count once.
#[test]
fn deployments_made_by_an_actions_job_name_their_run() {
    let payload: Value = serde_json::from_slice(DEPLOYMENT_PAGES).expect("json");
    let run = payload["workflow_run"]["id"].as_u64().expect("run id");
    match single("deployment", DEPLOYMENT_PAGES).body {
        FactBody::DeploymentRequested { workflow_run, .. } => assert_eq!(workflow_run, Some(run)),
        other => panic!("{other:?}"),
    }
    let payload: Value = serde_json::from_slice(DEPLOYMENT_STATUS_PAGES).expect("json");
    let run = payload["workflow_run"]["id"].as_u64().expect("run id");
    match single("deployment_status", DEPLOYMENT_STATUS_PAGES).body {
        FactBody::DeploymentStatus { workflow_run, .. } => assert_eq!(workflow_run, Some(run)),
        other => panic!("{other:?}"),
    }
    // A deployment made by hand or by another CI names none.
    let manual = mutate(DEPLOYMENT_PAGES, |v| remove(v, "/workflow_run"));
    match single("deployment", &manual).body {
        FactBody::DeploymentRequested { workflow_run, .. } => assert_eq!(workflow_run, None),
        other => panic!("{other:?}"),
    }
}

/// The head commit and the repository the head ref lives in: a fork PR's head is the fork's.
#[test]
fn pull_requests_carry_their_head_sha_and_head_repository() {
    let payload: Value = serde_json::from_slice(PR_OPENED).expect("json");
    let pr = single("pull_request", PR_OPENED);
    let s = pr_snapshot(&pr);
    assert_eq!(
        s.head_sha.as_deref(),
        payload["pull_request"]["head"]["sha"].as_str()
    );
    assert_eq!(
        s.head_repo.as_deref(),
        payload["pull_request"]["head"]["repo"]["full_name"]
            .as_str()
            .map(|n| n.to_ascii_lowercase())
            .as_deref()
    );
    let fork = mutate(PR_OPENED, |v| {
        set(
            v,
            "/pull_request/head/repo/full_name",
            json!("Someone/Fork"),
        )
    });
    let pr = single("pull_request", &fork);
    assert_eq!(pr_snapshot(&pr).head_repo.as_deref(), Some("someone/fork"));
    let deleted_fork = mutate(PR_OPENED, |v| {
        set(v, "/pull_request/head/repo", Value::Null)
    });
    let pr = single("pull_request", &deleted_fork);
    assert_eq!(pr_snapshot(&pr).head_repo, None);
}
