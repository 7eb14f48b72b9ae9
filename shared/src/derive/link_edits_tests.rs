//! Given/when/then tests of the link decisions.

use super::*;
use crate::derive::deployment::Blame;
use crate::derive::pull_request::Shipment;
use crate::derive::testing::*;
use crate::model::{DeploymentState, Fact};

use DeploymentState::{Failure, Success};

fn config() -> OrgConfig {
    OrgConfig::from_yaml("org: acme\nservices: { payments: { repos: [acme/api, acme/worker] } }")
        .expect("config")
}

fn puts(edits: &[LinkEdit]) -> Vec<(&EntityKey, &str)> {
    edits
        .iter()
        .filter_map(|e| match e {
            LinkEdit::Put(fact) => Some((&fact.entity, fact.id.as_str())),
            LinkEdit::Remove { .. } => None,
        })
        .collect()
}

fn removes(edits: &[LinkEdit]) -> Vec<(&EntityKey, &str)> {
    edits
        .iter()
        .filter_map(|e| match e {
            LinkEdit::Remove { entity, link } => Some((entity, link.as_str())),
            LinkEdit::Put(_) => None,
        })
        .collect()
}

/// A deployment's ships list of `pr` alone (not rework).
fn shipping(pr: &EntityKey) -> Vec<ShippedPr> {
    vec![ShippedPr {
        pr: pr.clone(),
        rework: false,
    }]
}

/// acme/api re-linked over `main_pushes`' history, from the start of 2026-10-05.
fn relink_api(deployments: &[Deployment], merged: &[PullRequest]) -> Vec<LinkEdit> {
    let history = links::branch_history(&main_pushes());
    repo_links(deployments, &history, merged, t("2026-10-05T00:00:00Z"))
}

fn incident(opened: &str, service: &str) -> Incident {
    Incident {
        id: "pd:1".into(),
        title: "checkout down".into(),
        service: service.into(),
        services: vec![service.into()],
        severity: Some("high".into()),
        opened_at: t(opened),
        resolved_at: None,
        deployment_sha: None,
        repo: None,
        html_url: None,
    }
}

// ---- a repo's deployment links -----------------------------------------------------------

#[test]
fn a_deployment_ships_the_prs_merged_since_the_previous_one() {
    // given two successful deployments and PR 1 merged (as bbbbbbb) between them
    let first = production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z", Success);
    let second = production_deployment("gh:2", "ccccccc", "2026-10-05T11:00:00Z", Success);
    let merged = vec![merged_pr_with(1, "2026-10-05T09:55:00Z", "bbbbbbb", |_| {})];
    // when the repo is re-linked
    let edits = relink_api(&[first.clone(), second.clone()], &merged);
    // then the second deployment lists PR 1 and PR 1 names it as its shipper
    let pr = pr_key("acme/api", 1);
    assert_eq!(
        puts(&edits),
        vec![
            (&second.key(), link_id::SHIPS),
            (&pr, link_id::shipped_by(&second.key()).as_str())
        ]
    );
    assert!(removes(&edits).is_empty());
}

#[test]
fn links_the_projections_already_show_are_not_written_again() {
    // given the second deployment already lists PR 1, which already names it
    let first = production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z", Success);
    let mut second = production_deployment("gh:2", "ccccccc", "2026-10-05T11:00:00Z", Success);
    let pr = pr_key("acme/api", 1);
    second.ships = shipping(&pr);
    let mut merged = merged_pr_with(1, "2026-10-05T09:55:00Z", "bbbbbbb", |_| {});
    merged.shipped_by = Some(Shipment {
        deployment: second.key(),
        sha: "ccccccc".into(),
        finished_at: t("2026-10-05T11:00:00Z"),
    });
    // when the repo is re-linked, then nothing is written
    let edits = relink_api(&[first, second], &[merged]);
    assert_eq!(edits, vec![]);
}

#[test]
fn a_pr_no_longer_shipped_loses_its_shipped_by_and_an_empty_ships_is_removed() {
    // given the second deployment lists PR 9, which no merge shows any more
    let first = production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z", Success);
    let mut second = production_deployment("gh:2", "ccccccc", "2026-10-05T11:00:00Z", Success);
    let gone = pr_key("acme/api", 9);
    second.ships = shipping(&gone);
    // when the repo is re-linked with no merged PR
    let edits = relink_api(&[first, second.clone()], &[]);
    // then PR 9's shipped_by goes, and so does the deployment's ships list
    let shipped_by = link_id::shipped_by(&second.key());
    assert_eq!(
        removes(&edits),
        vec![
            (&gone, shipped_by.as_str()),
            (&second.key(), link_id::SHIPS)
        ]
    );
}

#[test]
fn a_redeploy_of_an_older_commit_marks_a_rollback_and_a_failure_names_its_recovery() {
    // given a deployment of ddddddd, then one of the older ccccccc, then a failure and a success
    let first = production_deployment("gh:1", "ddddddd", "2026-10-05T12:30:00Z", Success);
    let rollback = production_deployment("gh:2", "ccccccc", "2026-10-05T13:00:00Z", Success);
    // when the repo is re-linked
    let edits = relink_api(&[first.clone(), rollback.clone()], &[]);
    // then the first is rolled back by the second, and (failed by it) followed by it
    assert_eq!(
        edits,
        vec![
            LinkEdit::Put(Fact {
                entity: first.key(),
                id: link_id::ROLLED_BACK_BY.into(),
                at: t("2026-10-05T12:30:00Z"),
                body: FactBody::RolledBackBy {
                    deployment: rollback.key()
                },
            }),
            LinkEdit::Put(Fact {
                entity: first.key(),
                id: link_id::FOLLOWED_BY.into(),
                at: t("2026-10-05T13:00:00Z"),
                body: FactBody::FollowedBy {
                    deployment: rollback.key(),
                    finished_at: t("2026-10-05T13:00:00Z"),
                },
            }),
        ]
    );
}

#[test]
fn a_failure_whose_recovery_is_gone_loses_its_followed_by() {
    // given a failed deployment that shows a next success no deployment provides
    let mut failed = production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z", Failure);
    failed.next_success_at = Some(t("2026-10-05T10:00:00Z"));
    // when the repo is re-linked, then its followed_by is removed
    let edits = repo_links(&[failed.clone()], &[], &[], t("2026-10-05T00:00:00Z"));
    assert_eq!(removes(&edits), vec![(&failed.key(), link_id::FOLLOWED_BY)]);
}

#[test]
fn a_repo_history_window_spans_the_deployments_with_slack() {
    let a = production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z", Success);
    let b = production_deployment("gh:2", "ccccccc", "2026-10-06T09:30:00Z", Success);
    let window = repo_history_window(&[b, a]).expect("window");
    assert_eq!(*window.start(), t("2026-09-05T09:30:00Z"));
    assert_eq!(*window.end(), t("2026-10-07T09:30:00Z"));
    assert_eq!(repo_history_window(&[]), None);
}

// ---- reverts ------------------------------------------------------------------------------

fn revert_of_1(merged: &str) -> PullRequest {
    merged_pr_with(5, merged, "eeeeeee", |s| {
        s.title = "Revert \"Change 1\"".into();
        s.body = Some("Reverts acme/api#1".into());
    })
}

#[test]
fn a_merged_revert_links_the_pr_it_reverts() {
    // given PR 1 merged, and a revert of it merged later
    let original = merged_pr_with(1, "2026-10-05T09:55:00Z", "bbbbbbb", |_| {});
    let revert_pr = revert_of_1("2026-10-06T10:00:00Z");
    assert!(revert_candidates_window(&revert_pr).is_some());
    // when its link is decided
    let decided = revert(&revert_pr, std::slice::from_ref(&original), None);
    // then PR 1 gets a reverted_by link and the revert remembers PR 1
    assert_eq!(decided.target, Some(original.key()));
    assert_eq!(
        puts(&decided.edits),
        vec![(
            &original.key(),
            link_id::reverted_by(&revert_pr.key()).as_str()
        )]
    );
}

#[test]
fn a_revert_already_shown_on_its_target_writes_nothing() {
    let mut original = merged_pr_with(1, "2026-10-05T09:55:00Z", "bbbbbbb", |_| {});
    let revert_pr = revert_of_1("2026-10-06T10:00:00Z");
    original.reverted_by = vec![revert_pr.key()];
    let decided = revert(&revert_pr, &[original.clone()], Some(&original.key()));
    assert_eq!(decided.target, Some(original.key()));
    assert_eq!(decided.edits, vec![]);
}

#[test]
fn a_revert_whose_target_vanished_retracts_its_old_link() {
    // given the revert linked PR 1 before, and PR 1 is no candidate now
    let revert_pr = revert_of_1("2026-10-06T10:00:00Z");
    let old = pr_key("acme/api", 1);
    // when its link is decided, then the old link is removed and nothing is remembered
    let decided = revert(&revert_pr, &[], Some(&old));
    assert_eq!(decided.target, None);
    assert_eq!(
        removes(&decided.edits),
        vec![(&old, link_id::reverted_by(&revert_pr.key()).as_str())]
    );
}

#[test]
fn a_reverted_shipped_pr_fails_its_deployment_and_a_moved_mark_is_retracted() {
    // given PR 1 shipped by gh:2 and reverted, having marked gh:1 before
    let mut pr = merged_pr_with(1, "2026-10-05T09:55:00Z", "bbbbbbb", |_| {});
    let shipper = dep_key("acme/api", "gh:2");
    pr.shipped_by = Some(Shipment {
        deployment: shipper.clone(),
        sha: "ccccccc".into(),
        finished_at: t("2026-10-05T11:00:00Z"),
    });
    pr.reverted_by = vec![pr_key("acme/api", 5)];
    let earlier = dep_key("acme/api", "gh:1");
    // when decided
    let decided = reverted_deployment(&pr, Some(&earlier));
    // then gh:1's mark goes, gh:2 is marked, and gh:2 is remembered
    let link = link_id::shipped_pr_reverted(&pr.key());
    assert_eq!(removes(&decided.edits), vec![(&earlier, link.as_str())]);
    assert_eq!(puts(&decided.edits), vec![(&shipper, link.as_str())]);
    assert_eq!(decided.target, Some(shipper));
    // and a PR not reverted marks nothing
    pr.reverted_by.clear();
    assert_eq!(reverted_deployment(&pr, None), Retarget::default());
}

// ---- incidents ------------------------------------------------------------------------------

#[test]
fn an_incident_blames_the_latest_deployment_of_its_services_repos() {
    // given payments (acme/api, acme/worker) and two api deployments before the incident
    let config = config();
    let early = production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:00:00Z", Success);
    let late = production_deployment("gh:2", "bbbbbbb", "2026-10-05T10:00:00Z", Success);
    let incident = incident("2026-10-05T10:30:00Z", "payments");
    let repos = blame_repos(&incident, &config);
    assert_eq!(repos, ["acme/api", "acme/worker"]);
    // when its blame is decided
    let key = incident.key();
    let decided = blame(
        &key,
        Some(&incident),
        &[early, late.clone()],
        &repos,
        None,
        None,
    );
    // then the later deployment is blamed
    assert_eq!(decided.target, Some(late.key()));
    assert_eq!(
        puts(&decided.edits),
        vec![(&late.key(), link_id::blamed_by(&key).as_str())]
    );
}

#[test]
fn a_blame_the_deployment_already_shows_writes_nothing_and_a_gone_incident_retracts() {
    let mut late = production_deployment("gh:2", "bbbbbbb", "2026-10-05T10:00:00Z", Success);
    let incident = incident("2026-10-05T10:30:00Z", "payments");
    let key = incident.key();
    late.blamed_by = vec![Blame {
        incident: key.clone(),
        opened_at: incident.opened_at,
        resolved_at: None,
    }];
    let repos = vec!["acme/api".to_string()];
    let shown = blame(
        &key,
        Some(&incident),
        &[late.clone()],
        &repos,
        None,
        Some(&late.key()),
    );
    assert_eq!(shown.edits, vec![]);
    assert_eq!(shown.target, Some(late.key()));
    // when the entity is no incident any more, the old blame is removed
    let gone = blame(&key, None, &[late.clone()], &repos, None, Some(&late.key()));
    assert_eq!(gone.target, None);
    assert_eq!(
        removes(&gone.edits),
        vec![(&late.key(), link_id::blamed_by(&key).as_str())]
    );
}

#[test]
fn an_unconfigured_service_blames_its_issue_repo_or_its_own_owner_name() {
    let config = config();
    let mut from_issue = incident("2026-10-05T10:30:00Z", "unlisted");
    from_issue.repo = Some("acme/web".into());
    assert_eq!(blame_repos(&from_issue, &config), ["acme/web"]);
    assert_eq!(
        blame_repos(&incident("2026-10-05T10:30:00Z", "acme/cli"), &config),
        ["acme/cli"]
    );
    assert!(blame_repos(&incident("2026-10-05T10:30:00Z", "unlisted"), &config).is_empty());
    assert_eq!(
        blaming_services("acme/worker", &config),
        ["payments", "acme/worker"]
    );
}

// ---- superseded workflow runs and reused branches -------------------------------------------

#[test]
fn a_github_deployment_supersedes_its_workflow_run_once() {
    // given a production Deployment made by run 77
    let mut deployment = production_deployment("gh:9", "aaaaaaa", "2026-10-05T09:30:00Z", Success);
    deployment.workflow_run = Some(77);
    let run = deployment.supersedes().expect("a run to supersede");
    // when it first finishes, the run gets the link; when it is unchanged, nothing
    let edit = superseded(&deployment, None).expect("a link");
    assert_eq!(edit.entity(), &run);
    assert_eq!(superseded(&deployment, Some(&deployment)), None);
    // and a staging deployment supersedes nothing
    deployment.is_production = false;
    deployment.stage = Some("preprod".into());
    deployment.environment = Some("staging".into());
    assert_eq!(superseded(&deployment, None), None);
}

#[test]
fn a_merged_pr_tells_the_other_prs_of_its_branch_where_its_commits_end() {
    // given PR 1 merged with head fffffff, and PRs 1 and 2 recorded under its branch
    let pr = merged_pr_with(1, "2026-10-05T09:55:00Z", "bbbbbbb", |s| {
        s.head_sha = Some("fffffff".into());
    });
    let branch = branch_to_tell(&pr, None).expect("a branch to tell");
    assert_eq!(Some(branch), pr.head_branch());
    // when the links are decided, then only PR 2 gets one
    let others = [pr.key(), pr_key("acme/api", 2)];
    let edits = earlier_pr_heads(&pr, &others);
    assert_eq!(
        puts(&edits),
        vec![(&others[1], link_id::earlier_pr_head(&pr.key()).as_str())]
    );
    // and an unchanged merge tells nobody again
    assert_eq!(branch_to_tell(&pr, Some(&pr)), None);
}

#[test]
fn windows_saturate_at_the_ends_of_time() {
    assert_eq!(
        before(DateTime::<Utc>::MIN_UTC, HISTORY_WINDOW),
        DateTime::<Utc>::MIN_UTC
    );
    assert_eq!(
        after(DateTime::<Utc>::MAX_UTC, LINK_SLACK),
        DateTime::<Utc>::MAX_UTC
    );
}

/// Ticket `id`'s entity.
fn ticket(id: &str) -> EntityKey {
    EntityKey::Ticket { id: id.into() }
}

#[test]
fn a_pr_links_to_the_tickets_it_names_and_forgets_those_it_stops_naming() {
    // given PR 1 naming PAY-1 and PAY-2, merged and not shipped
    let mut old = merged_pr_with(1, "2026-10-05T09:55:00Z", "bbbbbbb", |_| {});
    old.tickets = vec!["jira:PAY-1".into(), "jira:PAY-2".into()];
    // when first projected, then both tickets get a link saying when it merged
    let edits = ticket_links(Some(&old), None);
    let link = link_id::named_by_pr(&old.key());
    assert_eq!(
        puts(&edits),
        vec![
            (&ticket("jira:PAY-1"), link.as_str()),
            (&ticket("jira:PAY-2"), link.as_str())
        ]
    );
    let LinkEdit::Put(fact) = &edits[0] else {
        panic!("a put");
    };
    assert_eq!(
        fact.body,
        FactBody::NamedByPr {
            pr: old.key(),
            merged_at: Some(t("2026-10-05T09:55:00Z")),
            shipped_at: None,
        }
    );
    // when it is unchanged, nothing is written again
    assert!(ticket_links(Some(&old), Some(&old)).is_empty());
    // when its title drops PAY-2 for PAY-3, then PAY-3 is told and PAY-2 forgets it
    let mut new = old.clone();
    new.tickets = vec!["jira:PAY-1".into(), "jira:PAY-3".into()];
    let edits = ticket_links(Some(&new), Some(&old));
    assert_eq!(puts(&edits), vec![(&ticket("jira:PAY-3"), link.as_str())]);
    assert_eq!(
        removes(&edits),
        vec![(&ticket("jira:PAY-2"), link.as_str())]
    );
    // when it ships, every ticket it names learns when
    let mut shipped = new.clone();
    shipped.shipped_by = Some(Shipment {
        deployment: dep_key("acme/api", "gh:9"),
        sha: "bbbbbbb".into(),
        finished_at: t("2026-10-05T11:00:00Z"),
    });
    let edits = ticket_links(Some(&shipped), Some(&new));
    assert_eq!(puts(&edits).len(), 2);
    assert!(edits.iter().all(|e| matches!(e,
        LinkEdit::Put(Fact { body: FactBody::NamedByPr { shipped_at: Some(at), .. }, .. })
            if *at == t("2026-10-05T11:00:00Z"))));
    // and a PR that is gone forgets them all
    assert_eq!(removes(&ticket_links(None, Some(&shipped))).len(), 2);
}
