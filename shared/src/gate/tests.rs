//! The release-version gate, given a branch and what an environment runs, when a sha is
//! asked about, then the verdict.

use super::*;
use crate::derive::testing::*;
use crate::model::{DeploymentState, TicketCategory, TicketSource};

const GITHUB: &str = "https://github.com";

fn config() -> OrgConfig {
    OrgConfig::from_yaml(
        "org: acme\nenvironments: { qa: [qa, 'qa-*'], production: [prod] }\nteams: { payments: {} }\ntickets: { jira: { PAY: payments }, linear: { ENG: payments } }",
    )
    .expect("config")
}

fn request(sha: &str) -> GateRequest {
    GateRequest {
        repo: "acme/api".into(),
        environment: "qa".into(),
        sha: sha.into(),
    }
}

/// acme/api's main (`main_pushes`): aaaaaaa; bbbbbbb, ccccccc; ddddddd; with commit messages.
fn pushes_with_messages(messages: &[(&str, &str)]) -> Vec<Fact> {
    let mut pushes = main_pushes();
    for fact in &mut pushes {
        if let FactBody::Push { commits, .. } = &mut fact.body {
            for commit in commits {
                commit.message = messages
                    .iter()
                    .find(|(sha, _)| *sha == commit.sha)
                    .map(|(_, m)| m.to_string());
            }
        }
    }
    pushes
}

fn in_qa(sha: &str, finished: &str) -> Deployment {
    let mut d = production_deployment("gh:7", sha, finished, DeploymentState::Success);
    d.is_production = false;
    d.stage = Some("qa".into());
    d.environment = Some("qa-eu".into());
    d
}

fn pr(number: u64, merge_sha: &str, tickets: &[&str]) -> PullRequest {
    let mut pr = merged_pr_with(number, "2026-10-05T10:00:00Z", merge_sha, |s| {
        s.title = format!("PR {number}");
    });
    pr.tickets = tickets.iter().map(|t| t.to_string()).collect();
    pr
}

fn ticket(id: &str, fix_versions: &[&str]) -> Ticket {
    let (source, key) = match id.split_once(':') {
        Some(("linear", key)) => (TicketSource::Linear, key),
        Some((_, key)) => (TicketSource::Jira, key),
        None => (TicketSource::Jira, id),
    };
    Ticket {
        id: id.into(),
        source,
        project: key.split('-').next().unwrap_or_default().into(),
        title: format!("Ticket {key}"),
        status: "In Progress".into(),
        category: TicketCategory::Started,
        started_at: None,
        done_at: None,
        fix_versions: fix_versions.iter().map(|v| v.to_string()).collect(),
        sprint: None,
        deleted: false,
        html_url: Some(format!("https://acme.atlassian.net/browse/{key}")),
        updated_at: t("2026-10-05T09:00:00Z"),
        prs: vec![],
        shipped_at: None,
    }
}

fn known(tickets: Vec<Ticket>) -> BTreeMap<String, Ticket> {
    tickets.into_iter().map(|t| (t.id.clone(), t)).collect()
}

/// QA runs aaaaaaa; ccccccc brings bbbbbbb (PR #1 → PAY-1), ccccccc (PR #2 → PAY-2, and its
/// message names PAY-3).
fn shipment_to_ccccccc() -> Shipment {
    let pushes = pushes_with_messages(&[("ccccccc", "Merge pull request #2\n\nPAY-3 refunds")]);
    let merged = vec![
        pr(1, "bbbbbbb", &["jira:PAY-1"]),
        pr(2, "ccccccc", &["jira:PAY-2"]),
        pr(3, "ddddddd", &["jira:PAY-4"]),
    ];
    let deployed = in_qa("aaaaaaa", "2026-10-05T09:30:00Z");
    Shipment::between(
        &request("ccccccc"),
        Some(&deployed),
        &pushes,
        &merged,
        config().ticket_projects(),
        30,
    )
    .expect("placed")
}

/// The verdict on releasing ccccccc to QA ([`shipment_to_ccccccc`]) when the tracker has sent
/// `tickets`.
fn verdict_on_ccccccc(tickets: Vec<Ticket>) -> GateVerdict {
    let shipment = shipment_to_ccccccc();
    verdict(&request("ccccccc"), &shipment, &known(tickets), GITHUB)
}

#[test]
fn one_ticket_of_three_without_a_fix_version_blocks_the_release_and_is_named() {
    // given QA at aaaaaaa and ccccccc bringing PAY-1 and PAY-3 (versioned) and PAY-2 (not)
    let shipment = shipment_to_ccccccc();
    assert_eq!(shipment.range, Range::Exact);
    assert_eq!(shipment.commits, ["bbbbbbb", "ccccccc"]);
    // when the gate decides
    let verdict = verdict_on_ccccccc(vec![
        ticket("jira:PAY-1", &["2026.41"]),
        ticket("jira:PAY-2", &[]),
        ticket("jira:PAY-3", &["2026.41"]),
    ]);
    // then it is blocked by PAY-2 alone, which the message names with its page and its PR
    assert!(!verdict.allowed);
    assert_eq!(verdict.commits, 2);
    let ids: Vec<&str> = verdict.tickets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        ["jira:PAY-1", "jira:PAY-2", "jira:PAY-3"],
        "PR #3 is not in the range"
    );
    let missing: Vec<&str> = verdict
        .missing_fix_version
        .iter()
        .map(|t| t.key.as_str())
        .collect();
    assert_eq!(missing, ["PAY-2"]);
    assert_eq!(
        verdict.message,
        "Release blocked: 1 of 3 Jira ticket(s) going to qa have no fix version:\n  \
         PAY-2  Ticket PAY-2  https://acme.atlassian.net/browse/PAY-2  (named by acme/api#2)\n\
         Set a fix version on each in Jira, then run this job again."
    );
    assert_eq!(
        verdict.tickets[2].named_by,
        ["ccccccc"],
        "named by a commit message"
    );
    let numbers: Vec<u64> = verdict.pull_requests.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(
        verdict.pull_requests[0].url,
        "https://github.com/acme/api/pull/1"
    );
}

#[test]
fn every_ticket_with_a_fix_version_lets_the_release_through() {
    let verdict = verdict_on_ccccccc(vec![
        ticket("jira:PAY-1", &["2026.41"]),
        ticket("jira:PAY-2", &["2026.42"]),
        ticket("jira:PAY-3", &["2026.41"]),
    ]);
    assert!(verdict.allowed);
    assert!(verdict.missing_fix_version.is_empty());
    assert_eq!(
        verdict.message,
        "Release allowed: all 3 Jira ticket(s) going to qa have a fix version."
    );
}

#[test]
fn a_jira_ticket_no_event_has_reached_counts_as_without_a_version() {
    let verdict = verdict_on_ccccccc(vec![
        ticket("jira:PAY-1", &["2026.41"]),
        ticket("jira:PAY-3", &["2026.41"]),
    ]);
    assert!(!verdict.allowed);
    assert_eq!(verdict.missing_fix_version[0].key, "PAY-2");
    assert_eq!(verdict.missing_fix_version[0].title, None);
    assert!(
        verdict
            .message
            .contains("PAY-2  (no Jira event has reached Flowmeter)  (named by acme/api#2)"),
        "{}",
        verdict.message
    );
}

#[test]
fn linear_tickets_and_deleted_jira_tickets_are_listed_but_not_checked() {
    let pushes = main_pushes();
    let merged = vec![pr(1, "bbbbbbb", &["linear:ENG-7", "jira:PAY-9"])];
    let deployed = in_qa("aaaaaaa", "2026-10-05T09:30:00Z");
    let shipment = Shipment::between(
        &request("bbbbbbb"),
        Some(&deployed),
        &pushes,
        &merged,
        config().ticket_projects(),
        30,
    )
    .expect("placed");
    let mut deleted = ticket("jira:PAY-9", &[]);
    deleted.deleted = true;
    let tickets = known(vec![ticket("linear:ENG-7", &[]), deleted]);
    let verdict = verdict(&request("bbbbbbb"), &shipment, &tickets, GITHUB);
    assert!(verdict.allowed, "{}", verdict.message);
    assert_eq!(verdict.tickets.len(), 2);
    assert!(verdict.tickets.iter().all(|t| !t.checked));
    assert_eq!(
        verdict.message,
        "Release allowed: the 1 commit(s) going to qa name no Jira ticket."
    );
}

#[test]
fn nothing_deployed_there_yet_is_allowed_and_says_so() {
    let shipment =
        Shipment::between(&request("ccccccc"), None, &main_pushes(), &[], &[], 30).expect("placed");
    assert_eq!(shipment.range, Range::NothingDeployed);
    let verdict = verdict(&request("ccccccc"), &shipment, &BTreeMap::new(), GITHUB);
    assert!(verdict.allowed);
    assert_eq!(verdict.deployed, None);
    assert!(
        verdict
            .message
            .contains("nothing has been deployed to qa yet"),
        "{}",
        verdict.message
    );
}

#[test]
fn a_redeploy_or_a_rollback_brings_nothing_new() {
    let deployed = in_qa("ccccccc", "2026-10-05T10:30:00Z");
    let merged = vec![pr(1, "bbbbbbb", &["jira:PAY-1"])];
    for sha in ["ccccccc", "aaaaaaa"] {
        let shipment = Shipment::between(
            &request(sha),
            Some(&deployed),
            &main_pushes(),
            &merged,
            config().ticket_projects(),
            30,
        )
        .expect("placed");
        assert_eq!(shipment.range, Range::NotAhead, "{sha}");
        assert!(shipment.tickets.is_empty());
        let verdict = verdict(&request(sha), &shipment, &BTreeMap::new(), GITHUB);
        assert!(verdict.allowed);
        assert!(verdict
            .message
            .contains("is not ahead of what qa runs (ccccccc)"));
    }
}

#[test]
fn a_deployed_commit_off_the_branch_compares_by_push_time() {
    // given QA runs a hotfix-branch commit, deployed at 11:00: of main, only ddddddd (12:00)
    // was pushed after
    let deployed = in_qa("hotfix0", "2026-10-05T11:00:00Z");
    let merged = vec![
        pr(2, "ccccccc", &["jira:PAY-2"]),
        pr(3, "ddddddd", &["jira:PAY-4"]),
    ];
    let shipment = Shipment::between(
        &request("ddddddd"),
        Some(&deployed),
        &main_pushes(),
        &merged,
        config().ticket_projects(),
        30,
    )
    .expect("placed");
    assert_eq!(shipment.range, Range::SinceDeployment);
    assert_eq!(shipment.commits, ["ddddddd"]);
    assert_eq!(shipment.ticket_ids().collect::<Vec<_>>(), ["jira:PAY-4"]);
}

#[test]
fn a_sha_is_found_by_its_prefix_and_an_unknown_or_ambiguous_one_is_refused() {
    let mut pushes = main_pushes();
    pushes.push(push_chain(
        "p4",
        "ddddddd",
        "ddddddd0ther",
        "2026-10-05T13:00:00Z",
        &["ddddddd0ther"],
    ));
    let place =
        |sha: &str| Shipment::between(&request(sha), None, &pushes, &[], &[], 30).map(|s| s.sha);
    assert_eq!(place("bbbbbbb").as_deref(), Ok("bbbbbbb"));
    assert_eq!(place("ddddddd0").as_deref(), Ok("ddddddd0ther"));
    let unknown = place("eeeeeee").expect_err("not on main");
    assert_eq!(
        unknown.to_string(),
        "`sha`: `eeeeeee` is not on acme/api's default branch as far as its pushes reached Flowmeter (the last 30 days before the environment's deployment)"
    );
    assert!(matches!(
        place("ddddddd"),
        Err(GateError::AmbiguousSha { .. })
    ));
}

#[test]
fn a_request_is_read_and_checked_field_by_field() {
    let config = config();
    let parse = |body: &str| GateRequest::parse(body.as_bytes(), &config);
    assert_eq!(
        parse(r#"{"repo":"Acme/API","environment":"qa-eu","sha":"ABCDEF0123"}"#),
        Ok(GateRequest {
            repo: "acme/api".into(),
            environment: "qa".into(),
            sha: "abcdef0123".into(),
        }),
        "the repo as keys name it, the configured environment, a lower-case sha"
    );
    let error = |body: &str| parse(body).expect_err(body).to_string();
    assert!(error("[1]").starts_with("the body is not a JSON object"));
    assert!(error("{").starts_with("the body is not a JSON object"));
    assert_eq!(
        error(r#"{"environment":"qa","sha":"abcdef0"}"#),
        "`repo` is required (a non-empty string)"
    );
    assert_eq!(
        error(r#"{"repo":"acme/api","environment":7,"sha":"abcdef0"}"#),
        "`environment` is required (a non-empty string)"
    );
    assert_eq!(
        error(r#"{"repo":"acme/api","environment":"sandbox","sha":"abcdef0"}"#),
        "`environment`: `sandbox` is not a configured environment (configured: qa, production)"
    );
    assert_eq!(
        error(r#"{"repo":"acme/api","environment":"qa","sha":"abc"}"#),
        "`sha`: `abc` is not a commit sha (7 to 40 hexadecimal digits)"
    );
    assert!(
        error(r#"{"repo":"acme/api","environment":"qa","sha":"zzzzzzzz"}"#).contains("`zzzzzzzz`")
    );
    assert!(
        error(r#"{"repo":"a/b/c","environment":"qa","sha":"abcdef0"}"#)
            .starts_with("`repo`: `a/b/c`")
    );
}

#[test]
fn hostile_ticket_titles_cannot_forge_or_hide_lines_of_the_message() {
    let mut hostile = ticket("jira:PAY-2", &[]);
    hostile.title = "ok\n  PAY-1  fine\u{1b}[2J\u{202e}evil".into();
    let verdict = verdict_on_ccccccc(vec![
        ticket("jira:PAY-1", &["1"]),
        hostile,
        ticket("jira:PAY-3", &["1"]),
    ]);
    assert_eq!(verdict.message.lines().count(), 3, "{}", verdict.message);
    assert!(!verdict.message.contains('\u{1b}'));
    assert!(!verdict.message.contains('\u{202e}'));
    assert_eq!(printable(&"x".repeat(300), 120).chars().count(), 121);
}
