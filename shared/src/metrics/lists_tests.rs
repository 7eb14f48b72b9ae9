use std::collections::BTreeSet;

use super::*;
use crate::config::OrgConfig;
use crate::derive::deployment::Blame;
use crate::derive::pull_request::Shipment;
use crate::derive::testing::{
    dep_key, incident_key, merged_pr_with, pr_key, production_deployment, t,
};
use crate::scope::RequestedScope;

const GITHUB: &str = "https://github.com";

fn period() -> (DateTime<Utc>, DateTime<Utc>) {
    (t("2026-10-05T00:00:00Z"), t("2026-10-19T00:00:00Z"))
}

/// PR `number` opened at 09:00 on `opened_day`, first commit a day before, first review after
/// `pickup_hours`, merged at `merged`, shipped 2 hours after the merge.
fn pr(number: u64, author: &str, opened: &str, pickup_hours: i64, merged: &str) -> PullRequest {
    let mut pr = merged_pr_with(number, merged, "abc", |_| {});
    pr.author = author.into();
    pr.created_at = t(opened);
    pr.reviewable_at = t(opened);
    pr.first_commit_at = Some(t(opened) - Duration::days(1));
    pr.first_review_at = Some(t(opened) + Duration::hours(pickup_hours));
    pr.shipped_by = Some(Shipment {
        deployment: dep_key("acme/api", "gh:1"),
        sha: "abc".into(),
        finished_at: t(merged) + Duration::hours(2),
    });
    pr
}

fn everyone() -> ListScope {
    ListScope {
        deployment_repos: vec!["acme/api".into()],
        pr_repos: vec!["acme/api".into()],
        authors: None,
    }
}

#[test]
fn slowest_prs_are_ordered_by_total_with_their_parts_by_hand() {
    // given three PRs merged in the period, one merged before it and one by a bot
    let slow = pr(
        1,
        "alice",
        "2026-10-05T09:00:00Z",
        30,
        "2026-10-08T09:00:00Z",
    );
    let fast = pr(2, "bob", "2026-10-12T09:00:00Z", 1, "2026-10-12T15:00:00Z");
    let middle = pr(
        3,
        "carol",
        "2026-10-13T09:00:00Z",
        4,
        "2026-10-15T09:00:00Z",
    );
    let before = pr(
        4,
        "alice",
        "2026-09-20T09:00:00Z",
        4,
        "2026-10-04T23:59:59Z",
    );
    let mut bot = pr(
        5,
        "renovate[bot]",
        "2026-10-05T09:00:00Z",
        200,
        "2026-10-18T09:00:00Z",
    );
    bot.author_is_bot = true;
    let prs = [fast, before, slow, bot, middle];

    // when the two slowest are listed
    let (merged, listed) = slowest_pull_requests(&prs, &everyone(), period(), 2, GITHUB);

    // then three PRs were merged in the period, and #1 and #3 are the slowest
    assert_eq!(merged, 3);
    let numbers: Vec<u64> = listed.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 3]);
    // #1: coding 1 d, open → merge 3 d, deploy 2 h; pickup 30 h, review 72 h − 30 h = 42 h
    let first = &listed[0];
    assert_eq!(first.coding_seconds, Some(86_400.0));
    assert_eq!(first.pickup_seconds, Some(30.0 * 3600.0));
    assert_eq!(first.review_seconds, Some(42.0 * 3600.0));
    assert_eq!(first.deploy_seconds, Some(7200.0));
    assert_eq!(first.total_seconds, 86_400.0 + 3.0 * 86_400.0 + 7200.0);
    assert_eq!(first.url, "https://github.com/acme/api/pull/1");
}

#[test]
fn a_team_with_members_lists_only_their_prs() {
    // given PRs by alice and Bob, and a team whose members are alice and bob
    let prs = [
        pr(
            1,
            "alice",
            "2026-10-05T09:00:00Z",
            3,
            "2026-10-06T09:00:00Z",
        ),
        pr(2, "Bob", "2026-10-05T09:00:00Z", 3, "2026-10-07T09:00:00Z"),
        pr(
            3,
            "mallory",
            "2026-10-05T09:00:00Z",
            3,
            "2026-10-09T09:00:00Z",
        ),
    ];
    let team = ListScope {
        deployment_repos: vec!["acme/api".into()],
        pr_repos: vec!["acme/api".into()],
        authors: Some(BTreeSet::from(["alice".to_string(), "bob".to_string()])),
    };

    // when / then: logins compare without case
    let (merged, listed) = slowest_pull_requests(&prs, &team, period(), 10, GITHUB);
    assert_eq!(merged, 2);
    assert_eq!(listed.iter().map(|p| p.number).collect::<Vec<_>>(), [2, 1]);
}

#[test]
fn a_payload_url_that_is_not_http_is_replaced_by_the_github_link() {
    // given a PR whose html_url is a script
    let mut hostile = pr(
        7,
        "alice",
        "2026-10-05T09:00:00Z",
        3,
        "2026-10-06T09:00:00Z",
    );
    hostile.html_url = Some("javascript:alert(1)".into());
    let mut fine = pr(
        8,
        "alice",
        "2026-10-05T09:00:00Z",
        3,
        "2026-10-06T09:00:00Z",
    );
    fine.html_url = Some("https://ghe.example.com/acme/api/pull/8".into());

    // when
    let (_, listed) = slowest_pull_requests(&[hostile, fine], &everyone(), period(), 10, GITHUB);

    // then
    let urls: Vec<&str> = listed.iter().map(|p| p.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://github.com/acme/api/pull/7",
            "https://ghe.example.com/acme/api/pull/8"
        ]
    );
}

#[test]
fn failed_deployments_name_every_cause_and_their_recovery() {
    // given four attempts in the period: a success, a failed status recovered by the next
    // success, one blamed by two incidents (one resolved later than the other), and one whose
    // shipped PR was reverted and which was rolled back, not yet recovered; plus a failure
    // before the period and a non-production deployment
    let ok = production_deployment(
        "gh:1",
        "a1",
        "2026-10-06T10:00:00Z",
        DeploymentState::Success,
    );
    let mut status = production_deployment(
        "gh:2",
        "b2",
        "2026-10-07T10:00:00Z",
        DeploymentState::Failure,
    );
    status.next_success_at = Some(t("2026-10-07T11:30:00Z"));
    let mut blamed = production_deployment(
        "gh:3",
        "c3",
        "2026-10-08T10:00:00Z",
        DeploymentState::Success,
    );
    blamed.next_success_at = Some(t("2026-10-08T10:10:00Z"));
    blamed.blamed_by = vec![
        Blame {
            incident: incident_key("pd:P1"),
            opened_at: t("2026-10-08T10:30:00Z"),
            resolved_at: Some(t("2026-10-08T12:00:00Z")),
        },
        Blame {
            incident: incident_key("pd:P2"),
            opened_at: t("2026-10-08T10:40:00Z"),
            resolved_at: Some(t("2026-10-08T14:00:00Z")),
        },
    ];
    let mut reverted = production_deployment(
        "wr:99",
        "zz",
        "2026-10-15T10:00:00Z",
        DeploymentState::Success,
    );
    reverted.reverted_prs = vec![pr_key("acme/api", 41)];
    reverted.rolled_back_by = Some(dep_key("acme/api", "gh:5"));
    let earlier =
        production_deployment("gh:0", "00", "2026-10-04T10:00:00Z", DeploymentState::Error);
    let mut staging = production_deployment(
        "gh:9",
        "99",
        "2026-10-09T10:00:00Z",
        DeploymentState::Failure,
    );
    staging.is_production = false;
    staging.stage = Some("qa".into());
    let all = [ok, status, blamed, reverted, earlier, staging];

    // when
    let (attempts, failed) = failed_deployments(&all, period(), GITHUB);

    // then: 3 of 4 attempts failed, latest first
    assert_eq!(attempts, 4);
    let ids: Vec<&str> = failed.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["wr:99", "gh:3", "gh:2"]);
    // reverted and rolled back, no sha a link can use (`zz`): the workflow run's page
    assert_eq!(
        failed[0].causes,
        [
            FailureCause::Revert {
                pull_requests: vec![41]
            },
            FailureCause::Rollback { by: "gh:5".into() }
        ]
    );
    assert_eq!(failed[0].recovered_at, None);
    assert_eq!(
        failed[0].url.as_deref(),
        Some("https://github.com/acme/api/actions/runs/99")
    );
    // blamed: recovered when the later incident resolved, 4 h after the finish
    assert_eq!(
        failed[1].causes,
        [
            FailureCause::Incident { id: "pd:P1".into() },
            FailureCause::Incident { id: "pd:P2".into() }
        ]
    );
    assert_eq!(failed[1].recovery_seconds, Some(4.0 * 3600.0));
    assert_eq!(failed[1].recovered_at, Some(t("2026-10-08T14:00:00Z")));
    // failed status: recovered by the next success, 90 minutes later
    assert_eq!(
        failed[2].causes,
        [FailureCause::Status {
            state: DeploymentState::Failure
        }]
    );
    assert_eq!(failed[2].recovery_seconds, Some(5400.0));
    assert_eq!(
        failed[2].url.as_deref(),
        Some("https://github.com/acme/api/commit/b2")
    );
}

#[test]
fn a_team_lists_its_repos_and_members_and_the_org_every_configured_repo() {
    // given a config with two teams, one naming members
    let config = OrgConfig::from_yaml(
        "org: acme\nteams:\n  payments:\n    repos: [acme/Pay, acme/ledger]\n    members: [Alice]\n  web:\n    repos: [acme/web]\n",
    )
    .expect("config");

    // when
    let team = |name: &str| {
        let plan = config
            .plan(&RequestedScope::Team(name.into()))
            .expect("plan");
        ListScope::of(&plan, &config)
    };
    let org = ListScope::of(&config.plan(&RequestedScope::Org).expect("plan"), &config);

    // then payments' deployments are its repos', its PRs alice's wherever she merges
    let payments = team("payments");
    assert_eq!(payments.deployment_repos, ["acme/ledger", "acme/pay"]);
    assert_eq!(payments.pr_repos, ["acme/ledger", "acme/pay", "acme/web"]);
    assert_eq!(
        payments.authors,
        Some(BTreeSet::from(["alice".to_string()]))
    );
    let web = team("web");
    assert_eq!(
        (web.pr_repos.as_slice(), web.authors),
        (["acme/web".to_string()].as_slice(), None)
    );
    assert_eq!(
        org.deployment_repos,
        ["acme/ledger", "acme/pay", "acme/web"]
    );
    assert_eq!(org.pr_repos, org.deployment_repos);
    assert_eq!(org.authors, None);
}
