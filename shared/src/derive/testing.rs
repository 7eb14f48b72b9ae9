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

pub fn dep_key(repo: &str, id: &str) -> EntityKey {
    EntityKey::Deployment {
        repo: repo.into(),
        id: id.into(),
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
        author: Actor {
            login: "alice".into(),
            is_bot: false,
        },
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
    Fact {
        entity: key.clone(),
        id: format!("{delivery}#0"),
        at,
        body: FactBody::PullRequest(snapshot),
    }
}

pub fn review_fact(
    key: &EntityKey,
    delivery: &str,
    reviewer: &str,
    state: ReviewState,
    at: DateTime<Utc>,
) -> Fact {
    Fact {
        entity: key.clone(),
        id: format!("{delivery}#0"),
        at,
        body: FactBody::Review {
            reviewer: Actor {
                login: reviewer.into(),
                is_bot: false,
            },
            state,
            submitted_at: at,
            body_nonempty: false,
            pr_author: Some("alice".into()),
        },
    }
}

pub fn comment_fact(
    key: &EntityKey,
    delivery: &str,
    who: &str,
    bot: bool,
    at: DateTime<Utc>,
) -> Fact {
    Fact {
        entity: key.clone(),
        id: format!("{delivery}#0"),
        at,
        body: FactBody::Comment {
            commenter: Actor {
                login: who.into(),
                is_bot: bot,
            },
            kind: CommentKind::Conversation,
            created_at: at,
            pr_author: Some("alice".into()),
        },
    }
}

pub fn push_fact(
    repo: &str,
    branch: &str,
    delivery: &str,
    at: DateTime<Utc>,
    commits: &[(&str, &str)],
    to_default_branch: bool,
) -> Fact {
    Fact {
        entity: EntityKey::Branch {
            repo: repo.into(),
            branch: branch.into(),
        },
        id: format!("{delivery}#0"),
        at,
        body: FactBody::Push {
            before: "0".repeat(40),
            after: commits.last().map(|c| c.0.to_string()).unwrap_or_default(),
            commits: commits
                .iter()
                .map(|(sha, authored)| Commit {
                    sha: sha.to_string(),
                    authored_at: t(authored),
                    author_login: None,
                })
                .collect(),
            forced: false,
            to_default_branch,
        },
    }
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

pub fn dep_request(
    key: &EntityKey,
    delivery: &str,
    env: &str,
    sha: &str,
    at: DateTime<Utc>,
) -> Fact {
    Fact {
        entity: key.clone(),
        id: format!("{delivery}#0"),
        at,
        body: FactBody::DeploymentRequested {
            environment: env.into(),
            sha: sha.into(),
            git_ref: None,
            creator: None,
            workflow: None,
            workflow_run: None,
        },
    }
}

pub fn dep_status(
    key: &EntityKey,
    delivery: &str,
    state: DeploymentState,
    at: DateTime<Utc>,
) -> Fact {
    Fact {
        entity: key.clone(),
        id: format!("{delivery}#0"),
        at,
        body: FactBody::DeploymentStatus {
            state,
            environment: None,
            sha: None,
            started_at: None,
            workflow_run: None,
        },
    }
}

pub fn incident_fact(
    key: &EntityKey,
    event: &str,
    action: IncidentAction,
    at: DateTime<Utc>,
) -> Fact {
    Fact {
        entity: key.clone(),
        id: format!("{event}#0"),
        at,
        body: FactBody::Incident {
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
        },
    }
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
        workflow: None,
        is_production: true,
        state: Some(state),
        started_at: Some(t(finished) - chrono::Duration::minutes(5)),
        finished_at: Some(t(finished)),
        ships: vec![],
        blamed_by: vec![],
        reverted_prs: vec![],
        rolled_back_by: None,
        next_success_at: None,
        superseded_by: None,
        workflow_run: None,
    }
}

/// PR `number` of acme/api, merged at `merged` as `sha`, projected from one close fact;
/// `edit` adjusts the snapshot (a title, a head).
pub fn merged_pr_with(
    number: u64,
    merged: &str,
    sha: &str,
    edit: impl FnOnce(&mut PrSnapshot),
) -> crate::derive::PullRequest {
    let key = pr_key("acme/api", number);
    let fact = pr_fact(
        &key,
        &format!("m{number}"),
        PrAction::Closed,
        t(merged),
        |s| {
            s.merged_at = Some(t(merged));
            s.closed_at = Some(t(merged));
            s.merge_commit_sha = Some(sha.into());
            edit(s);
        },
    );
    crate::derive::project_pull_request(
        &key,
        &[fact],
        &crate::derive::HeadHistory::default(),
        &crate::config::OrgConfig::default(),
    )
    .expect("a merged PR projects")
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
