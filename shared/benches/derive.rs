//! Projection and rollup rebuild: what the rollup function computes per changed entity and per
//! dirty bucket, without I/O. A PR's projection from a realistic fact history (opened, pushed
//! again, changes requested, commented, approved, merged; two pushes on its head branch), its
//! bucket members, a deployment's projection, and a weekly rollup recomputed from ~500 members.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use flowmeter::config::OrgConfig;
use flowmeter::derive::members::members_of_pull_request;
use flowmeter::derive::{
    project_deployment, project_pull_request, HeadHistory, MemberData, Rollup,
};
use flowmeter::ingest::github::normalize_github;
use flowmeter::ingest::Normalized;
use flowmeter::model::{EntityKey, Fact};
use serde_json::{json, Value};

#[path = "common.rs"]
mod common;

const REPO: &str = "acme/api";

fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn facts(event: &str, id: &str, body: Value) -> Vec<Fact> {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    match normalize_github(event, id, &bytes) {
        Ok(Normalized::Facts(facts)) => facts,
        other => panic!("{event} {id}: {other:?}"),
    }
}

fn repository() -> Value {
    json!({"full_name": REPO, "default_branch": "main"})
}

fn pr_snapshot(action: &str, at: DateTime<Utc>, opened: DateTime<Utc>, merged: bool) -> Value {
    json!({"action": action, "repository": repository(), "pull_request": {
        "number": 7, "title": "Add caching", "body": "details", "user": {"login": "alice", "type": "User"},
        "draft": false, "created_at": ts(opened), "updated_at": ts(at),
        "closed_at": merged.then(|| ts(at)), "merged_at": merged.then(|| ts(at)),
        "merge_commit_sha": merged.then_some("m".repeat(40)),
        "head": {"ref": "feature-7"}, "base": {"ref": "main"},
        "additions": 120, "deletions": 30, "labels": [{"name": "backend"}],
        "html_url": "https://github.com/acme/api/pull/7"}})
}

fn review(at: DateTime<Utc>, id: u64, state: &str) -> Value {
    json!({"action": "submitted", "repository": repository(),
           "review": {"id": id, "user": {"login": "bob"}, "state": state, "submitted_at": ts(at), "body": "ok"},
           "pull_request": {"number": 7, "user": {"login": "alice"}, "updated_at": ts(at)}})
}

fn comment(at: DateTime<Utc>) -> Value {
    json!({"action": "created", "repository": repository(),
           "comment": {"user": {"login": "carol"}, "created_at": ts(at)},
           "issue": {"number": 7, "user": {"login": "alice"}, "pull_request": {"url": "x"}}})
}

fn push(at: DateTime<Utc>, before: &str, after: &str) -> Value {
    json!({"ref": "refs/heads/feature-7", "before": before, "after": after, "repository": repository(),
           "commits": [{"id": after, "timestamp": ts(at - Duration::hours(3)), "author": {"username": "alice"}}]})
}

/// A PR's facts and its head branch's pushes.
fn pull_request_history() -> (EntityKey, Vec<Fact>, Vec<Fact>) {
    let t0: DateTime<Utc> = "2026-10-05T09:00:00Z".parse().unwrap_or_default();
    let opened = t0 + Duration::minutes(20);
    let mut pr = Vec::new();
    pr.extend(facts(
        "pull_request",
        "d1",
        pr_snapshot("opened", opened, opened, false),
    ));
    pr.extend(facts(
        "pull_request_review",
        "d2",
        review(t0 + Duration::hours(2), 1, "changes_requested"),
    ));
    pr.extend(facts(
        "issue_comment",
        "d3",
        comment(t0 + Duration::hours(2) + Duration::minutes(5)),
    ));
    pr.extend(facts(
        "pull_request",
        "d4",
        pr_snapshot("synchronize", t0 + Duration::hours(4), opened, false),
    ));
    pr.extend(facts(
        "issue_comment",
        "d5",
        comment(t0 + Duration::hours(5)),
    ));
    pr.extend(facts(
        "pull_request_review",
        "d6",
        review(t0 + Duration::hours(6), 2, "approved"),
    ));
    pr.extend(facts(
        "pull_request",
        "d7",
        pr_snapshot("closed", t0 + Duration::hours(7), opened, true),
    ));
    let mut pushes = Vec::new();
    pushes.extend(facts(
        "push",
        "p1",
        push(t0, &"0".repeat(40), &"a".repeat(40)),
    ));
    pushes.extend(facts(
        "push",
        "p2",
        push(t0 + Duration::hours(4), &"a".repeat(40), &"b".repeat(40)),
    ));
    let key = EntityKey::PullRequest {
        repo: REPO.into(),
        number: 7,
    };
    (key, pr, pushes)
}

fn deployment_history() -> (EntityKey, Vec<Fact>) {
    let t0: DateTime<Utc> = "2026-10-05T09:00:00Z".parse().unwrap_or_default();
    let deployment = json!({"id": 42, "sha": "m".repeat(40), "ref": "main", "environment": "production",
                            "creator": {"login": "deployer"}, "created_at": ts(t0)});
    let mut all = facts(
        "deployment",
        "e1",
        json!({"action": "created", "deployment": deployment, "repository": repository()}),
    );
    for (i, state) in ["in_progress", "success"].iter().enumerate() {
        let at = t0 + Duration::minutes(3 * (i as i64 + 1));
        all.extend(facts("deployment_status", &format!("e{}", i + 2), json!({
            "action": "created", "deployment": deployment, "repository": repository(),
            "deployment_status": {"state": state, "environment": "production", "created_at": ts(at)}})));
    }
    let key = all[0].entity.clone();
    (key, all)
}

/// A week's bucket: a realistic mix of members (an org bucket of a mid-size org).
fn bucket(n: usize) -> Vec<MemberData> {
    let monday = NaiveDate::from_ymd_opt(2026, 10, 5).unwrap_or_default();
    let mut next = common::xorshift(0x2545_F491_4F6C_DD1D);
    (0..n)
        .map(|i| match i % 20 {
            0..=6 => MemberData::PrMerged {
                coding: Some(3_600.0 + next(200_000) as f64),
                pickup: Some(next(80_000) as f64),
                review: Some(next(150_000) as f64),
                deploy: Some(next(90_000) as f64),
                total: 7_200.0 + next(600_000) as f64,
                first_time_pass: next(10) < 7,
                comments: next(12) as u32,
                size: 1 + next(2_000),
            },
            7..=11 => MemberData::PrOpened,
            12..=15 => MemberData::LeadTime {
                seconds: 3_600.0 + next(900_000) as f64,
            },
            16..=18 => MemberData::Deployment {
                success: next(10) < 8,
                failed: next(10) < 1,
                day: monday + chrono::Duration::days(next(7) as i64),
                rework: next(20) == 0,
                recovery: (next(10) == 0).then(|| next(40_000) as f64),
            },
            _ => MemberData::IncidentResolved {
                service: format!("svc-{}", next(8)),
                mttr: next(50_000) as f64,
            },
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let config = OrgConfig::default();
    let (pr_key, pr_facts, pushes) = pull_request_history();
    let projected = project_pull_request(
        &pr_key,
        &pr_facts,
        &HeadHistory::of_pushes(&pushes),
        &config,
    )
    .expect("a PR");
    let (dep_key, dep_facts) = deployment_history();
    assert!(project_deployment(&dep_key, &dep_facts, &config).is_some());

    let mut group = c.benchmark_group("projection");
    group.bench_function(
        format!(
            "pull_request ({} facts + {} pushes)",
            pr_facts.len(),
            pushes.len()
        ),
        |b| {
            b.iter(|| {
                project_pull_request(
                    &pr_key,
                    std::hint::black_box(&pr_facts),
                    &HeadHistory::of_pushes(&pushes),
                    &config,
                )
            })
        },
    );
    group.bench_function("pull_request members", |b| {
        b.iter(|| members_of_pull_request(std::hint::black_box(&projected), &config))
    });
    group.bench_function(format!("deployment ({} facts)", dep_facts.len()), |b| {
        b.iter(|| project_deployment(&dep_key, std::hint::black_box(&dep_facts), &config))
    });
    group.finish();

    let mut group = c.benchmark_group("rollup");
    for n in [50, 500, 2_000] {
        let members = bucket(n);
        group.bench_with_input(BenchmarkId::new("from_members", n), &members, |b, m| {
            b.iter(|| Rollup::from_members(std::hint::black_box(m)))
        });
    }
    group.finish();

    common::percentiles("projection/pull_request", 50_000, || {
        project_pull_request(
            &pr_key,
            &pr_facts,
            &HeadHistory::of_pushes(&pushes),
            &config,
        )
    });
    let members = bucket(500);
    common::percentiles("rollup/from_members (500 members)", 5_000, || {
        Rollup::from_members(&members)
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
