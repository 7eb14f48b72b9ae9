//! Pushes, deployments, pipelines, incidents, and what every event shares: bots, repository
//! names, times, errors.

use serde_json::json;

use super::*;
use crate::config::OrgConfig;
use crate::derive::deployment::project_deployment;
use crate::derive::incident::project_incident;
use crate::ingest::testing::{incident, mutate, remove, set, ts};
use crate::ingest::{IngestError, Normalized};
use crate::model::{Commit, DeploymentState, EntityKey, FactBody, IncidentAction};

#[test]
fn a_push_is_the_branch_moving_with_its_commits_oldest_first() {
    // given the documented push of 2 listed commits (4 in all) to master, the default branch
    let fact = single("Push Hook", PUSH);
    assert_eq!(
        fact.entity,
        EntityKey::Branch {
            repo: "example.com/mike/diaspora".into(),
            branch: "master".into()
        }
    );
    assert_eq!(
        fact.id,
        "push:95790bf891e76fee5e1747ab589903a6a1f80f22..da1560886d4f094c3e6c9ef40349f7d38b5d27d7#0"
    );
    // the head commit's time stands for the push's
    assert_eq!(fact.at, ts("2012-01-03T21:36:29Z"));
    let FactBody::Push {
        commits,
        forced,
        to_default_branch,
        before,
        after,
    } = &fact.body
    else {
        panic!("{fact:?}");
    };
    assert_eq!(
        (before.as_str(), after.as_str()),
        (
            "95790bf891e76fee5e1747ab589903a6a1f80f22",
            "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
        )
    );
    assert!(!forced);
    assert!(to_default_branch);
    assert_eq!(
        commits,
        &vec![
            Commit {
                sha: "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327".into(),
                authored_at: ts("2011-12-12T12:27:31Z"),
                author_login: None,
                message: Some("Update Catalan translation to e38cb41.\n\nSee https://gitlab.com/gitlab-org/gitlab for more information".into()),
            },
            Commit {
                sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7".into(),
                authored_at: ts("2012-01-03T21:36:29Z"),
                author_login: None,
                message: Some("fixed readme".into()),
            },
        ]
    );
    // a list sent newest first is put in Git's order
    let reversed = mutate(PUSH, |v| {
        let list = v["commits"].as_array_mut().expect("commits");
        list.reverse();
    });
    assert_eq!(single("Push Hook", &reversed).body, fact.body);
}

#[test]
fn push_messages_are_capped_as_for_github() {
    let long = "ENG-1 ".repeat(400);
    let body = mutate(PUSH, |v| set(v, "/commits/1/message", json!(long)));
    let FactBody::Push { commits, .. } = single("Push Hook", &body).body else {
        panic!("push");
    };
    let kept = commits[1].message.as_deref().expect("message");
    assert_eq!(kept.len(), crate::model::MAX_COMMIT_MESSAGE_BYTES);
    assert!(long.starts_with(kept));
}

#[test]
fn tag_pushes_deletions_and_empty_pushes_are_ignored() {
    let tag = mutate(PUSH, |v| set(v, "/ref", json!("refs/tags/v1.0.0")));
    assert_eq!(ignored("Push Hook", &tag), "tag push");
    assert_eq!(ignored("Tag Push Hook", PUSH), "tag push");
    let deleted = mutate(PUSH, |v| {
        set(
            v,
            "/after",
            json!("0000000000000000000000000000000000000000"),
        );
        set(v, "/commits", json!([]));
    });
    assert_eq!(ignored("Push Hook", &deleted), "branch deletion");
    let empty = mutate(PUSH, |v| set(v, "/commits", json!([])));
    assert_eq!(
        ignored("Push Hook", &empty),
        "push without commits carries no time"
    );
    let other = mutate(PUSH, |v| {
        set(v, "/ref", json!("refs/merge-requests/1/head"))
    });
    assert_eq!(
        ignored("Push Hook", &other),
        "push to a ref that is not a branch"
    );
    let feature = mutate(PUSH, |v| set(v, "/ref", json!("refs/heads/feature/x")));
    assert!(matches!(
        single("Push Hook", &feature).body,
        FactBody::Push {
            to_default_branch: false,
            ..
        }
    ));
}

fn dep_entity() -> EntityKey {
    EntityKey::Deployment {
        repo: "10.126.0.2:3000/root/test-deployment-webhooks".into(),
        id: "gl:15".into(),
    }
}

#[test]
fn a_deployment_is_its_request_and_status() {
    // given the go-gitlab deployment 15 to staging, succeeded at 21:50 +02:00
    let all = facts("Deployment Hook", DEPLOYMENT);
    let at = ts("2021-04-28T19:50:00Z");
    let sha = "279484c09fbe69ededfced8c1bb6e6d24616b468";
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|f| f.entity == dep_entity() && f.at == at));
    assert_eq!(all[0].id, "deployment:15:success#0");
    assert_eq!(all[1].id, "deployment:15:success#1");
    assert_eq!(
        all[0].body,
        FactBody::DeploymentRequested {
            environment: "staging".into(),
            sha: sha.into(),
            git_ref: Some("1.0.0".into()),
            creator: Some(person("user1")),
            workflow: None,
            workflow_run: None,
        }
    );
    assert_eq!(
        all[1].body,
        FactBody::DeploymentStatus {
            state: DeploymentState::Success,
            environment: Some("staging".into()),
            sha: Some(sha.into()),
            started_at: None,
            workflow_run: None,
        }
    );
    // and derive counts it as a finished attempt where staging is configured
    let cfg =
        OrgConfig::from_yaml("org: acme\nenvironments: { staging: [staging], production: [prod] }")
            .expect("config");
    let d = project_deployment(&dep_entity(), &all, &cfg).expect("deployment");
    assert!(d.is_attempt() && d.is_successful_attempt());
    assert_eq!(d.finished_at, Some(at));
    assert_eq!(d.sha.as_deref(), Some(sha));
}

#[test]
fn deployment_statuses_map_to_deployment_states() {
    for (status, state) in [
        ("running", Some(DeploymentState::InProgress)),
        ("failed", Some(DeploymentState::Failure)),
        ("canceled", None),
        ("skipped", None),
    ] {
        let body = mutate(DEPLOYMENT, |v| set(v, "/status", json!(status)));
        match (state, run("Deployment Hook", &body)) {
            (Some(state), Normalized::Facts(facts)) => {
                assert!(
                    matches!(facts[1].body, FactBody::DeploymentStatus { state: s, .. } if s == state),
                    "{status}"
                );
                assert_eq!(facts[1].id, format!("deployment:15:{status}#1"));
            }
            (None, Normalized::Ignored(_)) => {}
            (_, other) => panic!("{status}: {other:?}"),
        }
    }
    // without a full SHA in the commit link, the short one is all there is
    let short = mutate(DEPLOYMENT, |v| remove(v, "/commit_url"));
    assert!(
        matches!(&facts("Deployment Hook", &short)[0].body, FactBody::DeploymentRequested { sha, .. } if sha == "279484c0")
    );
    let neither = mutate(&short, |v| remove(v, "/short_sha"));
    assert_eq!(
        error("Deployment Hook", &neither),
        IngestError::MissingField {
            path: "short_sha".into()
        }
    );
}

#[test]
fn a_finished_pipeline_is_a_deploy_workflow_candidate() {
    // given the go-gitlab pipeline 31 on master, succeeded, without a name
    let all = facts("Pipeline Hook", PIPELINE);
    let entity = EntityKey::Deployment {
        repo: "192.168.64.1:3005/gitlab-org/gitlab-test".into(),
        id: "glp:31".into(),
    };
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0].id.as_str(), all[1].id.as_str()),
        ("pipeline:31:success#0", "pipeline:31:success#1")
    );
    assert_eq!(all[0].at, ts("2016-08-12T15:23:28Z"));
    assert_eq!(all[1].at, ts("2016-08-12T15:26:29Z"));
    let sha = "bcbb5ec396a2c0f828686f14fac9b80b780504f2";
    assert_eq!(
        all[0].body,
        FactBody::DeploymentRequested {
            environment: "production".into(),
            sha: sha.into(),
            git_ref: Some("master".into()),
            creator: Some(person("user1")),
            workflow: Some("pipeline:master".into()),
            workflow_run: None,
        }
    );
    assert!(matches!(
        all[1].body,
        FactBody::DeploymentStatus {
            state: DeploymentState::Success,
            ..
        }
    ));
    // then derive counts it only when config names it a deploy workflow
    assert!(all.iter().all(|f| f.entity == entity));
    assert_eq!(
        project_deployment(&entity, &all, &OrgConfig::default()),
        None
    );
    let cfg =
        OrgConfig::from_yaml("org: acme\ndeploy_workflows: ['pipeline:master']").expect("config");
    let d = project_deployment(&entity, &all, &cfg).expect("deployment");
    assert!(d.is_successful_production());
    // a named pipeline goes by its name
    let named = mutate(PIPELINE, |v| {
        v["object_attributes"]["name"] = json!("Deploy production")
    });
    assert!(matches!(&facts("Pipeline Hook", &named)[0].body,
        FactBody::DeploymentRequested { workflow: Some(w), .. } if w == "Deploy production"));
}

#[test]
fn unfinished_pipelines_are_ignored_and_failures_kept() {
    for status in ["running", "pending", "canceled", "skipped", "manual"] {
        let body = mutate(PIPELINE, |v| {
            set(v, "/object_attributes/status", json!(status))
        });
        assert_eq!(
            ignored("Pipeline Hook", &body),
            "pipeline neither succeeded nor failed"
        );
    }
    let failed = mutate(PIPELINE, |v| {
        set(v, "/object_attributes/status", json!("failed"))
    });
    let all = facts("Pipeline Hook", &failed);
    assert_eq!(all[1].id, "pipeline:31:failed#1");
    assert!(matches!(
        all[1].body,
        FactBody::DeploymentStatus {
            state: DeploymentState::Failure,
            ..
        }
    ));
}

#[test]
fn an_incident_is_an_incident_fact_that_counts_without_labels() {
    // given the documented issue event, as an incident opened with severity high
    let fact = single("Issue Hook", INCIDENT);
    let id = "gl:example.com/gitlabhq/gitlab-test#23";
    assert_eq!(fact.entity, incident(id));
    assert_eq!(fact.id, "issue:opened#0");
    assert_eq!(fact.at, ts("2013-12-03T17:15:43Z"));
    assert_eq!(
        fact.body,
        FactBody::Incident {
            action: IncidentAction::Opened,
            title: "New API: create/update/delete file".into(),
            service: None,
            service_id: None,
            severity: Some("sev2".into()),
            urgency: None,
            priority: None,
            labels: vec!["API".into()],
            deployment_sha: None,
            repo: Some("example.com/gitlabhq/gitlab-test".into()),
            html_url: Some("http://example.com/diaspora/issues/23".into()),
            opened_at: Some(ts("2013-12-03T17:15:43Z")),
            resolved_at: None,
        }
    );
    // then it counts under its repository, with no incident label configured or carried
    let incident = project_incident(
        &fact.entity,
        std::slice::from_ref(&fact),
        &OrgConfig::default(),
    )
    .expect("incident");
    assert_eq!(incident.opened_at, ts("2013-12-03T17:15:43Z"));
    assert_eq!(
        incident.services,
        vec!["example.com/gitlabhq/gitlab-test".to_string()]
    );
    assert_eq!(incident.severity.as_deref(), Some("sev2"));
}

#[test]
fn incident_actions_and_plain_issues() {
    let closed = mutate(INCIDENT, |v| {
        set(v, "/object_attributes/action", json!("close"));
        set(v, "/object_attributes/state", json!("closed"));
        v["object_attributes"]["closed_at"] = json!("2013-12-03 18:15:43 UTC");
        set(
            v,
            "/object_attributes/updated_at",
            json!("2013-12-03T18:15:44Z"),
        );
    });
    let fact = single("Issue Hook", &closed);
    assert_eq!(fact.id, "issue:closed#0");
    assert!(
        matches!(fact.body, FactBody::Incident { action: IncidentAction::Resolved, resolved_at: Some(t), .. } if t == ts("2013-12-03T18:15:43Z"))
    );
    let reopened = mutate(INCIDENT, |v| {
        set(v, "/object_attributes/action", json!("reopen"))
    });
    assert!(matches!(
        single("Issue Hook", &reopened).body,
        FactBody::Incident {
            action: IncidentAction::Reopened,
            ..
        }
    ));
    let updated = mutate(INCIDENT, |v| {
        set(v, "/object_attributes/action", json!("update"))
    });
    let update = single("Issue Hook", &updated);
    assert!(update.id.starts_with("issue:") && update.id != "issue:opened#0");
    // an older payload says it with issue_type
    let old = mutate(INCIDENT, |v| {
        remove(v, "/object_attributes/type");
        v["object_attributes"]["issue_type"] = json!("incident");
    });
    assert_eq!(single("Issue Hook", &old).entity, fact.entity);
    let plain = mutate(INCIDENT, |v| {
        set(v, "/object_attributes/type", json!("Issue"))
    });
    assert_eq!(
        ignored("Issue Hook", &plain),
        "issue that is not an incident"
    );
    let unknown = mutate(INCIDENT, |v| {
        set(v, "/object_attributes/severity", json!("unknown"))
    });
    assert!(matches!(
        single("Issue Hook", &unknown).body,
        FactBody::Incident { severity: None, .. }
    ));
    assert!(matches!(
        single("Confidential Issue Hook", INCIDENT).body,
        FactBody::Incident { .. }
    ));
}

#[test]
fn bots_are_recognized_by_username() {
    for (username, bot) in [
        ("project_42_bot", true),
        ("project_42_bot_3f9a1c0d", true),
        ("group_7_bot_aa01", true),
        ("service_account_group_7_1a2b", true),
        ("alert-bot", true),
        ("renovate[bot]", true),
        ("project_bot", false),
        ("project_42_bottle", false),
        ("alice", false),
    ] {
        let body = mr_with("approval", |v| set(v, "/user/username", json!(username)));
        let FactBody::Review { reviewer, .. } = single("Merge Request Hook", &body).body else {
            panic!("review");
        };
        assert_eq!(reviewer.is_bot, bot, "{username}");
    }
    let flagged = mr_with("approval", |v| v["user"]["bot"] = json!(true));
    assert!(
        matches!(single("Merge Request Hook", &flagged).body, FactBody::Review { ref reviewer, .. } if reviewer.is_bot)
    );
}

#[test]
fn nested_groups_and_self_managed_hosts_name_the_repository() {
    for (web_url, repo) in [
        (
            "https://gitlab.com/gitlab-org/sub/proj",
            "gitlab.com/gitlab-org/sub/proj",
        ),
        (
            "https://git.acme.example/Platform/API",
            "git.acme.example/platform/api",
        ),
        (
            "http://gitlab.local:8080/a/b/c/d",
            "gitlab.local:8080/a/b/c/d",
        ),
    ] {
        let body = mutate(PUSH, |v| set(v, "/project/web_url", json!(web_url)));
        assert!(
            matches!(single("Push Hook", &body).entity, EntityKey::Branch { repo: r, .. } if r == repo),
            "{web_url}"
        );
    }
    let bad = mutate(PUSH, |v| {
        set(v, "/project/web_url", json!("https://gitlab.com/g/p#1"))
    });
    assert!(
        matches!(error("Push Hook", &bad), IngestError::InvalidField { path, .. } if path == "project.web_url")
    );
}

#[test]
fn every_gitlab_time_form_is_read() {
    for (raw, utc) in [
        ("2013-12-03T17:23:34Z", "2013-12-03T17:23:34Z"),
        ("2013-12-03T17:23:34.123Z", "2013-12-03T17:23:34.123Z"),
        ("2013-12-03 17:23:34 UTC", "2013-12-03T17:23:34Z"),
        ("2013-12-03 17:23:34 +0100", "2013-12-03T16:23:34Z"),
    ] {
        let body = mr_with("open", |v| {
            set(v, "/object_attributes/updated_at", json!(raw))
        });
        assert_eq!(single("Merge Request Hook", &body).at, ts(utc), "{raw}");
    }
    for raw in [
        "yesterday",
        "2013-12-03 17:23:34",
        "0000-01-01 00:00:00 UTC",
    ] {
        let body = mr_with("open", |v| {
            set(v, "/object_attributes/updated_at", json!(raw))
        });
        let err = error("Merge Request Hook", &body);
        let named = match &err {
            IngestError::BadTimestamp { path, .. } | IngestError::InvalidField { path, .. } => {
                path.as_str()
            }
            _ => "",
        };
        assert_eq!(named, "object_attributes.updated_at", "{raw}: {err}");
    }
}

#[test]
fn malformed_bodies_and_missing_fields_are_named() {
    assert!(matches!(
        error("Push Hook", b"{not json"),
        IngestError::MalformedJson(_)
    ));
    assert!(matches!(
        error("Wiki Page Hook", b"{not json"),
        IngestError::MalformedJson(_)
    ));
    for (event, body, pointer, path) in [
        (
            "Merge Request Hook",
            MERGE_REQUEST,
            "/object_attributes/iid",
            "object_attributes.iid",
        ),
        ("Push Hook", PUSH, "/project", "project"),
        (
            "Push Hook",
            PUSH,
            "/commits/0/timestamp",
            "commits[0].timestamp",
        ),
        (
            "Note Hook",
            NOTE,
            "/object_attributes/id",
            "object_attributes.id",
        ),
        (
            "Deployment Hook",
            DEPLOYMENT,
            "/deployment_id",
            "deployment_id",
        ),
        (
            "Pipeline Hook",
            PIPELINE,
            "/object_attributes/sha",
            "object_attributes.sha",
        ),
        (
            "Issue Hook",
            INCIDENT,
            "/object_attributes/iid",
            "object_attributes.iid",
        ),
    ] {
        let broken = mutate(body, |v| remove(v, pointer));
        assert_eq!(
            error(event, &broken),
            IngestError::MissingField { path: path.into() },
            "{event} {pointer}"
        );
    }
    let no_mr = mutate(NOTE, |v| remove(v, "/merge_request"));
    assert_eq!(
        error("Note Hook", &no_mr),
        IngestError::MissingField {
            path: "merge_request".into()
        }
    );
}

#[test]
fn events_not_read_are_ignored() {
    for event in [
        "Wiki Page Hook",
        "Job Hook",
        "Release Hook",
        "System Hook",
        "Emoji Hook",
        "",
    ] {
        assert_eq!(ignored(event, PUSH), "unsupported event", "{event}");
    }
}

#[test]
fn hostile_strings_are_just_strings() {
    let hostile = "\u{0}#\"'\\<script>\u{202e}é".repeat(50);
    let body = mr_with("open", |v| {
        set(v, "/object_attributes/title", json!(hostile));
        set(v, "/object_attributes/source_branch", json!(hostile));
        set(v, "/user/username", json!(hostile));
    });
    let fact = single("Merge Request Hook", &body);
    assert_eq!(pr_snapshot(&fact).title, hostile);
    let note = mutate(NOTE, |v| {
        set(v, "/object_attributes/noteable_type", json!(hostile))
    });
    let _ = ignored("Note Hook", &note);
}
