//! Given canned GitHub answers, when a repository's backfill is driven to its end, then it
//! asks for exactly what it needs, in order, and resumes from a checkpoint.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::*;
use crate::config::OrgConfig;
use crate::model::{Fact, FactBody};

fn since() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 1).expect("date")
}

fn config(extra: &str) -> OrgConfig {
    OrgConfig::from_yaml(&format!("org: acme\n{extra}")).expect("config")
}

fn user(login: &str) -> Value {
    json!({"login": login, "type": "User"})
}

fn pull(number: u64, updated: &str, comments: u64) -> Value {
    json!({"number": number, "state": "closed", "title": format!("Change {number}"), "body": null,
           "user": user("alice"), "labels": [], "draft": false,
           "created_at": "2026-10-05T10:00:00Z", "updated_at": updated,
           "closed_at": updated, "merged_at": updated,
           "merge_commit_sha": "cccccccccccccccccccccccccccccccccccccccc",
           "head": {"ref": format!("feature-{number}"), "sha": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                    "repo": {"full_name": "acme/api"}},
           "base": {"ref": "main", "sha": "1111111111111111111111111111111111111111",
                    "repo": {"full_name": "acme/api"}},
           "additions": 10, "deletions": 2, "commits": 1, "comments": comments, "review_comments": 0})
}

/// GitHub for the test: answers by URL; an unknown URL is a test failure.
struct Canned(BTreeMap<String, Answer>);

impl Canned {
    fn page(mut self, url: &str, body: Value, next: Option<&str>) -> Canned {
        let next = next.map(str::to_string);
        self.0.insert(url.to_string(), Answer::Page { body, next });
        self
    }

    fn of_one_pr(comments: u64) -> Canned {
        let base = "/repos/acme/api";
        Canned(BTreeMap::new())
            .page(base, json!({"full_name": "acme/api", "default_branch": "main"}), None)
            .page(
                &format!("{base}/pulls?state=all&sort=updated&direction=desc&per_page=100"),
                json!([{"number": 7, "updated_at": "2026-10-06T16:00:00Z"},
                       {"number": 3, "updated_at": "2026-09-20T16:00:00Z"}]),
                Some("https://api.github.com/repositories/1/pulls?page=2"),
            )
            .page(&format!("{base}/pulls/7"), pull(7, "2026-10-06T16:00:00Z", comments), None)
            .page(&format!("{base}/pulls/7/commits?per_page=100"), json!([]), None)
            .page(
                &format!("{base}/pulls/7/reviews?per_page=100"),
                json!([{"id": 80, "user": user("bob"), "body": "", "state": "APPROVED",
                        "submitted_at": "2026-10-06T09:00:00Z"}]),
                Some("https://api.github.com/repositories/1/pulls/7/reviews?page=2"),
            )
            .page(
                "https://api.github.com/repositories/1/pulls/7/reviews?page=2",
                json!([{"id": 81, "user": user("carol"), "body": "", "state": "COMMENTED",
                        "submitted_at": "2026-10-06T10:00:00Z"}]),
                None,
            )
            .page(
                &format!("{base}/issues/7/comments?per_page=100"),
                json!([{"id": 90, "user": user("bob"), "created_at": "2026-10-06T08:00:00Z"}]),
                None,
            )
            .page(&format!("{base}/issues/7/events?per_page=100"), json!([]), None)
            .page(
                &format!("{base}/commits?sha=main&since=2026-10-01T00:00:00Z&per_page=100"),
                json!([]),
                None,
            )
            .page(&format!("{base}/deployments?environment=production&per_page=100"), json!([]), None)
            .page(&format!("{base}/deployments?environment=prod&per_page=100"), json!([]), None)
            .page(&format!("{base}/deployments?environment=prd&per_page=100"), json!([]), None)
            .page(
                &format!("{base}/issues?labels=incident&state=all&since=2026-10-01T00:00:00Z&per_page=100"),
                json!([]),
                None,
            )
    }
}

/// Drives `progress` to its end against `github`; the URLs asked and the facts given.
fn drive(
    progress: &mut RepoProgress,
    config: &OrgConfig,
    github: &Canned,
) -> (Vec<String>, Vec<Fact>) {
    let mut asked = Vec::new();
    let mut facts = Vec::new();
    while let Some(request) = progress.next_request(since(), config) {
        assert!(asked.len() < 100, "runaway: {asked:?}");
        let answer = github
            .0
            .get(&request.url)
            .unwrap_or_else(|| panic!("unexpected request {}", request.url))
            .clone();
        asked.push(request.url);
        facts.extend(
            progress
                .apply(since(), config, answer)
                .expect("apply")
                .facts,
        );
    }
    (asked, facts)
}

#[test]
fn a_repository_is_read_phase_by_phase_and_stops_at_the_first_older_pr() {
    let mut progress = RepoProgress::new("acme/api".into());
    let (asked, facts) = drive(&mut progress, &config(""), &Canned::of_one_pr(1));
    // PR 3 was last updated before the start: neither it nor the list's second page is read.
    assert_eq!(progress.pulls_found, 1);
    assert_eq!(progress.pulls_read, 1);
    assert_eq!(progress.phase, Phase::Done);
    assert!(!asked
        .iter()
        .any(|u| u.contains("page=2") && u.contains("/pulls?")));
    assert!(!asked.iter().any(|u| u.contains("/pulls/3")));
    // The default production environments are listed one by one.
    let listings = asked
        .iter()
        .filter(|u| u.contains("/deployments?environment="))
        .count();
    assert_eq!(listings, 3);
    // No review comments (count 0): that list is not asked for.
    assert!(!asked.iter().any(|u| u.contains("/pulls/7/comments")));
    assert_eq!(asked.len(), 13, "{asked:#?}");
    // Both review pages were read.
    let reviews = facts
        .iter()
        .filter(|f| matches!(f.body, FactBody::Review { .. }))
        .count();
    assert_eq!(reviews, 2);
    assert_eq!(progress.facts, facts.len() as u64);
}

#[test]
fn a_pr_with_no_conversation_skips_its_comments() {
    let mut progress = RepoProgress::new("acme/api".into());
    let (asked, _) = drive(&mut progress, &config(""), &Canned::of_one_pr(0));
    assert!(!asked.iter().any(|u| u.contains("/issues/7/comments")));
}

#[test]
fn an_unchanged_pr_costs_one_conditional_request_and_is_settled() {
    let mut progress = RepoProgress::new("acme/api".into());
    let config = config("");
    let github = Canned::of_one_pr(1);
    // Read up to the PR.
    while progress.phase != Phase::PullRequests {
        let request = progress.next_request(since(), &config).expect("request");
        let answer = github.0[&request.url].clone();
        progress.apply(since(), &config, answer).expect("apply");
    }
    let request = progress.next_request(since(), &config).expect("the PR");
    assert_eq!(request.url, "/repos/acme/api/pulls/7");
    assert!(request.conditional);
    let applied = progress
        .apply(since(), &config, Answer::NotModified)
        .expect("apply");
    assert_eq!(applied.settled, ["/repos/acme/api/pulls/7"]);
    assert!(applied.facts.is_empty());
    assert_eq!((progress.pulls_read, progress.pulls_unchanged), (1, 1));
    assert_eq!(progress.phase, Phase::Commits);
}

#[test]
fn a_checkpoint_mid_pr_resumes_by_reading_that_pr_again_and_nothing_before_it() {
    let mut progress = RepoProgress::new("acme/api".into());
    let config = config("");
    let github = Canned::of_one_pr(1);
    // Read the repository, the list, the PR and its commits, then stop.
    for _ in 0..4 {
        let request = progress.next_request(since(), &config).expect("request");
        let answer = github.0[&request.url].clone();
        progress.apply(since(), &config, answer).expect("apply");
    }
    let checkpoint = serde_json::to_string(&progress).expect("checkpoint");
    let mut resumed: RepoProgress = serde_json::from_str(&checkpoint).expect("resume");
    let (asked, _) = drive(&mut resumed, &config, &github);
    assert_eq!(asked[0], "/repos/acme/api/pulls/7", "the PR again");
    assert!(
        !asked.iter().any(|u| u.contains("/pulls?")),
        "the list is not read again"
    );
    assert_eq!(resumed.phase, Phase::Done);
}

#[test]
fn every_configured_environment_is_listed_by_name() {
    let named = config("environments:\n  qa: [qa, qa-eu]\n  production: [production]\n");
    assert_eq!(
        named.configured_environment_sources(),
        Some(vec!["qa".into(), "qa-eu".into(), "production".into()])
    );
    let globbed = config("environments:\n  qa: ['qa-*']\n  production: [production]\n");
    assert_eq!(globbed.configured_environment_sources(), None);
}

#[test]
fn only_configured_environments_deployments_are_read_with_their_statuses() {
    let base = "/repos/acme/api";
    let deployment = |id: u64, env: &str, at: &str| {
        json!({"id": id, "sha": "cccccccccccccccccccccccccccccccccccccccc", "ref": "main",
               "environment": env, "creator": user("ci"), "created_at": at})
    };
    let github = Canned::of_one_pr(1)
        .page(
            &format!("{base}/deployments?per_page=100"),
            json!([
                deployment(3, "production", "2026-10-06T17:00:00Z"),
                deployment(2, "staging", "2026-10-06T16:30:00Z"),
                deployment(1, "production", "2026-09-01T00:00:00Z")
            ]),
            Some("https://api.github.com/repositories/1/deployments?page=2"),
        )
        .page(
            &format!("{base}/deployments/3/statuses?per_page=100"),
            json!([{"id": 30, "state": "success", "created_at": "2026-10-06T17:05:00Z"}]),
            None,
        );
    // A glob among the production patterns: one listing of every environment.
    let config = config("environments:\n  production: [production, prod-*]\n");
    let mut progress = RepoProgress::new("acme/api".into());
    let (asked, facts) = drive(&mut progress, &config, &github);
    let deployments: Vec<&String> = asked
        .iter()
        .filter(|u| u.contains("/deployments"))
        .collect();
    assert_eq!(
        deployments,
        [
            &format!("{base}/deployments?per_page=100"),
            &format!("{base}/deployments/3/statuses?per_page=100")
        ],
        "staging gets no statuses; the old one ends the listing"
    );
    assert_eq!(progress.deployments, 1);
    let statuses = facts
        .iter()
        .filter(|f| matches!(f.body, FactBody::DeploymentStatus { .. }))
        .count();
    assert_eq!(statuses, 1);
}

#[test]
fn deploy_workflows_add_the_completed_runs_and_keep_the_deploying_ones() {
    let base = "/repos/acme/api";
    let run = |id: u64, name: &str| {
        json!({"id": id, "name": name, "head_sha": "cccccccccccccccccccccccccccccccccccccccc",
               "head_branch": "main", "conclusion": "success", "run_attempt": 1,
               "created_at": "2026-10-06T17:00:00Z", "updated_at": "2026-10-06T17:10:00Z",
               "run_started_at": "2026-10-06T17:00:00Z", "actor": user("alice")})
    };
    let github = Canned::of_one_pr(1).page(
        &format!("{base}/actions/runs?status=completed&created=%3E%3D2026-10-01&per_page=100"),
        json!({"total_count": 2, "workflow_runs": [run(1, "Deploy"), run(2, "CI")]}),
        None,
    );
    let mut progress = RepoProgress::new("acme/api".into());
    let (_, facts) = drive(
        &mut progress,
        &config("deploy_workflows: [Deploy]\n"),
        &github,
    );
    assert_eq!(progress.workflow_runs, 1);
    assert!(facts.iter().any(|f| f.id.starts_with("run:1:1")));
    assert!(!facts.iter().any(|f| f.id.starts_with("run:2:")));
}

#[test]
fn a_malformed_answer_is_an_error_and_a_failed_repo_asks_nothing_more() {
    let mut progress = RepoProgress::new("acme/api".into());
    let config = config("");
    let err = progress
        .apply(
            since(),
            &config,
            Answer::Page {
                body: json!({"message": "not a repo"}),
                next: None,
            },
        )
        .expect_err("not a repository");
    assert!(err.to_string().contains("repository.full_name"), "{err}");
    progress.fail("malformed_answer", &err.to_string());
    assert_eq!(progress.next_request(since(), &config), None);
    assert!(progress
        .error
        .as_deref()
        .is_some_and(|e| e.starts_with("malformed_answer: ")));
}

#[test]
fn a_job_is_done_when_every_repo_is_final_and_failed_only_when_all_failed() {
    let now = "2026-10-07T00:00:00Z".parse().expect("now");
    let repos = ["Acme/API".to_string(), "acme/api".into(), "acme/web".into()];
    let mut job = BackfillJob::new("bf-1".into(), &repos, since(), now);
    assert_eq!(job.repos.len(), 2, "one repo once, whatever its case");
    job.repos[0].fail("not_found", "acme/api: Not Found");
    job.settle(now);
    assert_eq!(job.state, JobState::Running);
    job.repos[1].phase = Phase::Done;
    job.settle(now);
    assert_eq!(job.state, JobState::Done);
    assert_eq!(job.finished_at, Some(now));
    let mut failed = BackfillJob::new("bf-2".into(), &repos[..1], since(), now);
    failed.repos[0].fail("bad_credentials", "Bad credentials");
    failed.settle(now);
    assert_eq!(failed.state, JobState::Failed);
}

#[test]
fn the_eta_follows_the_pace_of_pull_requests_read() {
    let start = "2026-10-07T00:00:00Z".parse().expect("start");
    let mut job = BackfillJob::new("bf-1".into(), &["acme/api".to_string()], since(), start);
    assert_eq!(job.eta_seconds(start), None);
    job.repos[0].pulls_found = 30;
    job.repos[0].pulls_read = 10;
    let later = "2026-10-07T00:00:20Z".parse().expect("later");
    // 10 PRs in 20 s, 20 left: 40 s.
    assert_eq!(job.eta_seconds(later), Some(40.0));
}
