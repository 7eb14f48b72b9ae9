//! Fact builders for the derive tests.

use chrono::{DateTime, Utc};

use crate::model::*;

pub fn t(text: &str) -> DateTime<Utc> {
    text.parse().expect("test timestamp")
}

pub fn pr_key(repo: &str, number: u64) -> EntityKey {
    EntityKey::PullRequest {
        repo: repo.into(),
        number,
    }
}

pub fn incident_key(id: &str) -> EntityKey {
    EntityKey::Incident { id: id.into() }
}

pub fn dep_key(repo: &str, id: &str) -> EntityKey {
    EntityKey::Deployment {
        repo: repo.into(),
        id: id.into(),
    }
}

/// The first fact of `delivery` about `key`.
fn fact(key: &EntityKey, delivery: &str, at: DateTime<Utc>, body: FactBody) -> Fact {
    Fact {
        entity: key.clone(),
        id: format!("{delivery}#0"),
        at,
        body,
    }
}

fn person(login: &str, is_bot: bool) -> Actor {
    Actor {
        login: login.into(),
        is_bot,
    }
}

pub fn pr_fact(
    key: &EntityKey,
    delivery: &str,
    action: PrAction,
    at: DateTime<Utc>,
    edit: impl FnOnce(&mut PrSnapshot),
) -> Fact {
    let number = match key {
        EntityKey::PullRequest { number, .. } => *number,
        _ => 0,
    };
    let mut snapshot = PrSnapshot {
        action,
        title: format!("Change {number}"),
        body: None,
        author: person("alice", false),
        draft: false,
        created_at: t("2026-10-05T10:00:00Z"),
        updated_at: at,
        closed_at: None,
        merged_at: None,
        merge_commit_sha: None,
        head_ref: "feature".into(),
        base_ref: "main".into(),
        default_branch: "main".into(),
        additions: None,
        deletions: None,
        labels: vec![],
        html_url: None,
        head_repo: None,
        head_sha: None,
    };
    edit(&mut snapshot);
    fact(key, delivery, at, FactBody::PullRequest(snapshot))
}

/// PR `key` opened by alice at `at` (delivery d1).
pub fn opened(key: &EntityKey, at: &str) -> Fact {
    opened_with(key, at, |_| {})
}

/// PR `key` opened at `at` (delivery d1); `edit` adjusts the snapshot (draft, head, labels).
pub fn opened_with(key: &EntityKey, at: &str, edit: impl FnOnce(&mut PrSnapshot)) -> Fact {
    pr_fact(key, "d1", PrAction::Opened, t(at), edit)
}

/// PR `key` closed as merged at `at`.
pub fn merged(key: &EntityKey, delivery: &str, at: &str) -> Fact {
    merged_with(key, delivery, at, |_| {})
}

/// PR `key` closed as merged at `at`; `edit` adds to the snapshot (a merge sha, a title).
pub fn merged_with(
    key: &EntityKey,
    delivery: &str,
    at: &str,
    edit: impl FnOnce(&mut PrSnapshot),
) -> Fact {
    pr_fact(key, delivery, PrAction::Closed, t(at), |s| {
        s.merged_at = Some(t(at));
        edit(s);
    })
}

/// A push of commit `sha` (authored at `authored`) to acme/api's `feature` branch, a PR's head.
pub fn feature_push(delivery: &str, at: &str, sha: &str, authored: &str) -> Fact {
    push_fact(
        "acme/api",
        "feature",
        delivery,
        t(at),
        &[(sha, authored)],
        false,
    )
}

/// The projection of PR `key` under the default config, its head branch being `pushes`.
pub fn projection_of(
    key: &EntityKey,
    facts: &[Fact],
    pushes: &[Fact],
) -> Option<crate::derive::PullRequest> {
    crate::derive::project_pull_request(
        key,
        facts,
        &crate::derive::HeadHistory::of_pushes(pushes),
        &crate::config::OrgConfig::default(),
    )
}

/// As `projection_of`, for facts that hold a snapshot.
pub fn project_pr(key: &EntityKey, facts: &[Fact], pushes: &[Fact]) -> crate::derive::PullRequest {
    projection_of(key, facts, pushes).expect("pr")
}

/// A review of PR `key` by bob.
pub fn bob_reviews(key: &EntityKey, delivery: &str, state: ReviewState, at: &str) -> Fact {
    let review = FactBody::Review {
        reviewer: person("bob", false),
        state,
        submitted_at: t(at),
        body_nonempty: false,
        pr_author: Some("alice".into()),
    };
    fact(key, delivery, t(at), review)
}

/// A conversation comment on PR `key` by `who`.
pub fn comment_fact(key: &EntityKey, delivery: &str, who: &str, bot: bool, at: &str) -> Fact {
    let comment = FactBody::Comment {
        commenter: person(who, bot),
        kind: CommentKind::Conversation,
        created_at: t(at),
        pr_author: Some("alice".into()),
    };
    fact(key, delivery, t(at), comment)
}

pub fn push_fact(
    repo: &str,
    branch: &str,
    delivery: &str,
    at: DateTime<Utc>,
    commits: &[(&str, &str)],
    to_default_branch: bool,
) -> Fact {
    let branch = EntityKey::Branch {
        repo: repo.into(),
        branch: branch.into(),
    };
    let push = FactBody::Push {
        before: "0".repeat(40),
        after: commits.last().map(|c| c.0.to_string()).unwrap_or_default(),
        commits: commits
            .iter()
            .map(|(sha, authored)| Commit {
                sha: sha.to_string(),
                authored_at: t(authored),
                author_login: None,
                message: None,
            })
            .collect(),
        forced: false,
        to_default_branch,
    };
    fact(&branch, delivery, at, push)
}

/// A push to `main` of acme/api that continues the chain from `before`.
pub fn push_chain(delivery: &str, before: &str, after: &str, at: &str, shas: &[&str]) -> Fact {
    let mut fact = push_fact(
        "acme/api",
        "main",
        delivery,
        t(at),
        &shas.iter().map(|s| (*s, at)).collect::<Vec<_>>(),
        true,
    );
    if let FactBody::Push {
        before: b,
        after: a,
        ..
    } = &mut fact.body
    {
        *b = before.into();
        *a = after.into();
    }
    fact
}

pub fn dep_request(key: &EntityKey, delivery: &str, env: &str, sha: &str, at: &str) -> Fact {
    let request = FactBody::DeploymentRequested {
        environment: env.into(),
        sha: sha.into(),
        git_ref: None,
        creator: None,
        workflow: None,
        workflow_run: None,
    };
    fact(key, delivery, t(at), request)
}

pub fn dep_status(key: &EntityKey, delivery: &str, state: DeploymentState, at: &str) -> Fact {
    let status = FactBody::DeploymentStatus {
        state,
        environment: None,
        sha: None,
        started_at: None,
        workflow_run: None,
    };
    fact(key, delivery, t(at), status)
}

pub fn incident_fact(key: &EntityKey, event: &str, action: IncidentAction, at: &str) -> Fact {
    let incident = FactBody::Incident {
        action,
        title: "API down".into(),
        service: Some("api".into()),
        service_id: None,
        severity: Some("sev2".into()),
        urgency: None,
        priority: None,
        labels: vec![],
        deployment_sha: None,
        repo: None,
        html_url: None,
        opened_at: None,
        resolved_at: None,
    };
    fact(key, event, t(at), incident)
}

/// A production deployment of acme/api that finished at `finished` (started 5 minutes before).
pub fn production_deployment(
    id: &str,
    sha: &str,
    finished: &str,
    state: DeploymentState,
) -> crate::derive::Deployment {
    crate::derive::Deployment {
        repo: "acme/api".into(),
        id: id.into(),
        environment: Some("production".into()),
        sha: Some(sha.into()),
        stage: Some("production".into()),
        is_production: true,
        state: Some(state),
        started_at: Some(t(finished) - chrono::Duration::minutes(5)),
        finished_at: Some(t(finished)),
        ..Default::default()
    }
}

/// PR `number` of acme/api, merged at `merged_at` as `sha`, projected from one close fact;
/// `edit` adjusts the snapshot (a title, a head).
pub fn merged_pr_with(
    number: u64,
    merged_at: &str,
    sha: &str,
    edit: impl FnOnce(&mut PrSnapshot),
) -> crate::derive::PullRequest {
    let key = pr_key("acme/api", number);
    let fact = merged_with(&key, &format!("m{number}"), merged_at, |s| {
        s.closed_at = Some(t(merged_at));
        s.merge_commit_sha = Some(sha.into());
        edit(s);
    });
    project_pr(&key, &[fact], &[])
}

/// acme/api's default branch: aaaaaaa, then bbbbbbb and ccccccc in one push, then ddddddd.
pub fn main_pushes() -> Vec<Fact> {
    vec![
        push_chain(
            "p1",
            "0000000",
            "aaaaaaa",
            "2026-10-05T09:00:00Z",
            &["aaaaaaa"],
        ),
        push_chain(
            "p2",
            "aaaaaaa",
            "ccccccc",
            "2026-10-05T10:00:00Z",
            &["bbbbbbb", "ccccccc"],
        ),
        push_chain(
            "p3",
            "ccccccc",
            "ddddddd",
            "2026-10-05T12:00:00Z",
            &["ddddddd"],
        ),
    ]
}
