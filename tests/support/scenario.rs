//! A small, realistic delivery history for one repository, deterministic from a seed: pushes to
//! a feature branch, PRs opened, reviewed, commented and merged, merge commits pushed to the
//! default branch, production deployments (some failing) with their statuses, and an incident.

use chrono::{DateTime, Duration, Utc};
use flowmeter_kit::delivery::INCIDENTS;
use flowmeter_kit::payload::github::{self, PrRef, PullRequest, ZERO_SHA};
use flowmeter_kit::payload::{bytes, generic};
use serde_json::Value;

use crate::{Delivery, GENERIC_SECRET, GITHUB_SECRET};

pub const REPO: &str = "acme/api";

/// The tests' deterministic generator (SplitMix64), shared with the load generator.
pub use flowmeter_kit::Rng;

fn sha(label: &str, n: usize) -> String {
    format!("{:0>40}", format!("{label}{n}"))
}

struct Builder {
    seed: u64,
    out: Vec<(DateTime<Utc>, Delivery)>,
    main_head: String,
    /// Body of the next pull_request deliveries (GitHub's revert button writes one).
    pr_body: Option<String>,
}

impl Builder {
    fn new(seed: u64) -> Builder {
        Builder {
            seed,
            out: Vec::new(),
            main_head: ZERO_SHA.to_string(),
            pr_body: None,
        }
    }

    /// The repo's first commit `c0`, pushed to main at `base` (authored an hour before), and
    /// deployment 1 of it, `deployed` minutes after `base`, for 5 minutes.
    fn start_main(&mut self, base: DateTime<Utc>, deployed: i64) -> String {
        let c0 = sha("c", 0);
        self.push(
            base,
            "main",
            ZERO_SHA,
            &[(c0.clone(), base - Duration::hours(1))],
        );
        self.main_head = c0.clone();
        let started = base + Duration::minutes(deployed);
        self.deployment(1, &c0, started, started + Duration::minutes(5), "success");
        c0
    }

    /// The deliveries in the order the events happened.
    fn deliveries(self) -> Vec<Delivery> {
        let mut out = self.out;
        out.sort_by_key(|(at, _)| *at);
        out.into_iter().map(|(_, d)| d).collect()
    }

    fn github(&mut self, at: DateTime<Utc>, event: &str, body: Value) {
        let id = format!("gh-{}-{}", self.seed, self.out.len());
        let delivery = Delivery::github(GITHUB_SECRET, event, &id, bytes(&body));
        self.out.push((at, delivery));
    }

    fn push(
        &mut self,
        at: DateTime<Utc>,
        branch: &str,
        before: &str,
        commits: &[(String, DateTime<Utc>)],
    ) {
        let commits = commits
            .iter()
            .map(|(id, authored)| github::commit(id, *authored, "alice"))
            .collect();
        let body = github::push(REPO, at, branch, before, commits, false);
        self.github(at, "push", body);
    }

    /// PR `number` merged at `merged` as `m<number>`, which is pushed to main 2 s later;
    /// returns the merge commit.
    fn merge(
        &mut self,
        number: usize,
        author: &str,
        (opened, merged): (DateTime<Utc>, DateTime<Utc>),
        title: &str,
    ) -> String {
        let merge_sha = sha("m", number);
        let closed = Some((merged, merge_sha.as_str()));
        self.pull_request(merged, "closed", number, author, opened, closed, title);
        let before = std::mem::replace(&mut self.main_head, merge_sha.clone());
        let commits = [(merge_sha.clone(), merged)];
        self.push(merged + Duration::seconds(2), "main", &before, &commits);
        merge_sha
    }

    #[allow(clippy::too_many_arguments)]
    fn pull_request(
        &mut self,
        at: DateTime<Utc>,
        action: &str,
        number: usize,
        author: &str,
        created: DateTime<Utc>,
        merged: Option<(DateTime<Utc>, &str)>,
        title: &str,
    ) {
        let (branch, head) = (format!("feature-{number}"), sha("f", number));
        let pr = PullRequest {
            repo: REPO,
            number: number as u64,
            title,
            body: self.pr_body.as_deref(),
            author,
            created,
            closed: merged.map(|(at, sha)| (at, Some(sha))),
            head: (&branch, &head),
            base_sha: &self.main_head,
            additions: 10 * number as u64,
            deletions: 3,
        };
        let body = pr.event(action, at);
        self.github(at, "pull_request", body);
    }

    fn deployment(
        &mut self,
        id: u64,
        sha: &str,
        started: DateTime<Utc>,
        finished: DateTime<Utc>,
        state: &str,
    ) {
        for (at, event, body) in github::deployment(REPO, id, sha, started, finished, state) {
            self.github(at, event, body);
        }
    }
}

/// The deliveries of one seeded history, in the order the events happened.
pub fn history(seed: u64) -> Vec<Delivery> {
    let mut rng = Rng::new(seed);
    let base: DateTime<Utc> = "2026-10-05T08:00:00Z".parse().unwrap_or_default();
    let mut b = Builder::new(seed);
    b.start_main(base, 10);

    let prs = rng.range(2, 4) as usize;
    let mut clock = base + Duration::minutes(30);
    let mut deployment_id = 2;
    for number in 1..=prs {
        let authored = clock - Duration::hours(rng.range(1, 20));
        let pushed = clock;
        b.push(
            pushed,
            &format!("feature-{number}"),
            ZERO_SHA,
            &[(sha("f", number), authored)],
        );
        let opened = pushed + Duration::minutes(rng.range(1, 30));
        let author = if number == prs && rng.chance(30) {
            "renovate[bot]"
        } else {
            "alice"
        };
        let title = format!("Change {number}");
        b.pull_request(opened, "opened", number, author, opened, None, &title);
        let reviewed = opened + Duration::minutes(rng.range(5, 600));
        let state = if rng.chance(30) {
            "changes_requested"
        } else {
            "approved"
        };
        let pr = PrRef {
            repo: REPO,
            number: number as u64,
            author,
        };
        let review = pr.review(reviewed, 100 + number as u64, "bob", state, "looks fine");
        b.github(reviewed, "pull_request_review", review);
        if rng.chance(50) {
            let commented = reviewed + Duration::minutes(3);
            let comment = pr.issue_comment(commented, "carol", "nit");
            b.github(commented, "issue_comment", comment);
        }
        let merged = reviewed + Duration::minutes(rng.range(10, 120));
        let merge_sha = b.merge(number, author, (opened, merged), &title);
        clock = merged + Duration::minutes(rng.range(5, 90));
        if number % 2 == 0 || number == prs {
            let fails = rng.chance(35);
            let started = clock;
            let finished = started + Duration::minutes(rng.range(2, 15));
            b.deployment(
                deployment_id,
                &merge_sha,
                started,
                finished,
                if fails { "failure" } else { "success" },
            );
            deployment_id += 1;
            if fails {
                let retry = finished + Duration::minutes(rng.range(5, 60));
                b.deployment(
                    deployment_id,
                    &merge_sha,
                    retry,
                    retry + Duration::minutes(5),
                    "success",
                );
                deployment_id += 1;
                clock = retry + Duration::minutes(10);
            } else if rng.chance(50) {
                let opened = finished + Duration::minutes(rng.range(5, 120));
                let resolved = opened + Duration::minutes(rng.range(10, 240));
                let id = format!("inc-{seed}-{number}");
                let body =
                    generic::incident(&id, REPO, "sev2", "errors up", opened, Some(resolved));
                let delivery = Delivery::generic(GENERIC_SECRET, INCIDENTS, bytes(&body));
                b.out.push((opened, delivery));
                clock = resolved;
            } else {
                clock = finished;
            }
        }
    }
    b.deliveries()
}

/// A PR shipped by a deployment, then reverted by a revert PR (GitHub's revert button: title
/// `Revert "…"`, body `Reverts owner/repo#N`) shipped by the next deployment.
pub fn revert_history() -> Vec<Delivery> {
    let base: DateTime<Utc> = "2026-10-05T08:00:00Z".parse().unwrap_or_default();
    let mut b = Builder::new(99);
    b.start_main(base, 5);
    let mut at = base + Duration::hours(1);
    for (number, title) in [
        (1usize, "Add caching".to_string()),
        (2, "Revert \"Add caching\"".to_string()),
    ] {
        if number == 2 {
            b.pr_body = Some(format!("Reverts {REPO}#1"));
        }
        b.push(
            at,
            &format!("feature-{number}"),
            ZERO_SHA,
            &[(sha("f", number), at - Duration::hours(2))],
        );
        let opened = at + Duration::minutes(5);
        b.pull_request(opened, "opened", number, "alice", opened, None, &title);
        let merged = opened + Duration::minutes(30);
        let merge_sha = b.merge(number, "alice", (opened, merged), &title);
        let started = merged + Duration::minutes(10);
        b.deployment(
            1 + number as u64,
            &merge_sha,
            started,
            started + Duration::minutes(5),
            "success",
        );
        at = started + Duration::hours(2);
    }
    b.deliveries()
}

/// A repo where a change is rolled back: deployment 1 ships c0, deployment 2 ships PR 1's merge
/// commit, deployment 3 deploys c0 again (the rollback), deployment 4 redeploys c0 (no rollback).
pub fn rollback_history() -> Vec<Delivery> {
    let base: DateTime<Utc> = "2026-10-05T08:00:00Z".parse().unwrap_or_default();
    let mut b = Builder::new(98);
    let c0 = b.start_main(base, 5);
    let minutes = |m: i64| base + Duration::minutes(m);
    b.push(
        minutes(20),
        "feature-1",
        ZERO_SHA,
        &[(sha("f", 1), minutes(-60))],
    );
    b.pull_request(
        minutes(25),
        "opened",
        1,
        "alice",
        minutes(25),
        None,
        "Add caching",
    );
    let merge_sha = sha("m", 1);
    b.pull_request(
        minutes(55),
        "closed",
        1,
        "alice",
        minutes(25),
        Some((minutes(55), &merge_sha)),
        "Add caching",
    );
    b.push(
        minutes(56),
        "main",
        &c0,
        &[(merge_sha.clone(), minutes(55))],
    );
    b.main_head = merge_sha.clone();
    b.deployment(2, &merge_sha, minutes(60), minutes(65), "success");
    b.deployment(3, &c0, minutes(90), minutes(95), "success");
    b.deployment(4, &c0, minutes(120), minutes(125), "success");
    b.deliveries()
}
