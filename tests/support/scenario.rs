//! A small, realistic delivery history for one repository, deterministic from a seed: pushes to
//! a feature branch, PRs opened, reviewed, commented and merged, merge commits pushed to the
//! default branch, production deployments (some failing) with their statuses, and an incident.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::Delivery;

pub const REPO: &str = "acme/api";

/// A tiny deterministic generator (SplitMix64): tests must not depend on a crate's RNG stream.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn sha(label: &str, n: usize) -> String {
    format!("{:0>40}", format!("{label}{n}"))
}

fn repository() -> serde_json::Value {
    json!({"full_name": REPO, "default_branch": "main", "name": "api", "owner": {"login": "acme"}})
}

fn user(login: &str) -> serde_json::Value {
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({"login": login, "type": kind})
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
            main_head: "0".repeat(40),
            pr_body: None,
        }
    }

    /// The repo's first commit `c0`, pushed to main at `base` (authored an hour before).
    fn start_main(&mut self, base: DateTime<Utc>) -> String {
        let c0 = sha("c", 0);
        let zero = "0".repeat(40);
        self.push(
            base,
            "main",
            &zero,
            &[(c0.clone(), base - Duration::hours(1))],
        );
        self.main_head = c0.clone();
        c0
    }

    /// The deliveries in the order the events happened.
    fn deliveries(self) -> Vec<Delivery> {
        let mut out = self.out;
        out.sort_by_key(|(at, _)| *at);
        out.into_iter().map(|(_, d)| d).collect()
    }

    fn github(&mut self, at: DateTime<Utc>, event: &str, body: serde_json::Value) {
        let id = format!("gh-{}-{}", self.seed, self.out.len());
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        self.out.push((at, Delivery::github(event, &id, bytes)));
    }

    fn push(
        &mut self,
        at: DateTime<Utc>,
        branch: &str,
        before: &str,
        commits: &[(String, DateTime<Utc>)],
    ) {
        let after = commits.last().map(|c| c.0.clone()).unwrap_or_default();
        let commit_json: Vec<_> = commits
            .iter()
            .map(|(id, authored)| json!({"id": id, "timestamp": ts(*authored), "author": {"username": "alice"}}))
            .collect();
        let mut repo = repository();
        repo["pushed_at"] = json!(at.timestamp());
        self.github(
            at,
            "push",
            json!({"ref": format!("refs/heads/{branch}"), "before": before, "after": after,
                   "created": false, "deleted": false, "forced": false,
                   "commits": commit_json, "head_commit": commit_json.last(), "repository": repo}),
        );
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
        let pr = json!({
            "number": number, "title": title, "body": self.pr_body, "user": user(author), "draft": false,
            "created_at": ts(created), "updated_at": ts(at),
            "closed_at": merged.map(|(m, _)| ts(m)), "merged_at": merged.map(|(m, _)| ts(m)),
            "merge_commit_sha": merged.map(|(_, s)| s), "merged": merged.is_some(),
            "head": {"ref": format!("feature-{number}"), "sha": sha("f", number)},
            "base": {"ref": "main", "sha": self.main_head},
            "additions": 10 * number, "deletions": 3, "labels": [],
            "html_url": format!("https://github.com/{REPO}/pull/{number}"),
            "state": if merged.is_some() { "closed" } else { "open" }
        });
        self.github(at, "pull_request", json!({"action": action, "number": number, "pull_request": pr, "repository": repository()}));
    }

    fn deployment(
        &mut self,
        id: u64,
        sha: &str,
        started: DateTime<Utc>,
        finished: DateTime<Utc>,
        state: &str,
    ) {
        let deployment = json!({"id": id, "sha": sha, "ref": "main", "environment": "production",
                                "creator": user("deployer"), "created_at": ts(started), "updated_at": ts(started)});
        self.github(
            started,
            "deployment",
            json!({"action": "created", "deployment": deployment, "repository": repository()}),
        );
        let status = json!({"id": id * 10, "state": state, "environment": "production",
                            "created_at": ts(finished), "updated_at": ts(finished)});
        self.github(
            finished,
            "deployment_status",
            json!({"action": "created", "deployment_status": status, "deployment": deployment, "repository": repository()}),
        );
    }
}

/// The deliveries of one seeded history, in the order the events happened.
pub fn history(seed: u64) -> Vec<Delivery> {
    let mut rng = Rng::new(seed);
    let base: DateTime<Utc> = "2026-10-05T08:00:00Z".parse().unwrap_or_default();
    let mut b = Builder::new(seed);
    let c0 = b.start_main(base);
    let zero = "0".repeat(40);
    b.deployment(
        1,
        &c0,
        base + Duration::minutes(10),
        base + Duration::minutes(15),
        "success",
    );

    let prs = rng.range(2, 4) as usize;
    let mut clock = base + Duration::minutes(30);
    let mut deployment_id = 2;
    for number in 1..=prs {
        let authored = clock - Duration::hours(rng.range(1, 20));
        let pushed = clock;
        b.push(
            pushed,
            &format!("feature-{number}"),
            &zero,
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
        let review = json!({"id": 100 + number, "user": user("bob"), "state": state,
                            "submitted_at": ts(reviewed), "body": "looks fine"});
        let pr_ref = json!({"number": number, "user": user(author), "updated_at": ts(reviewed)});
        b.github(reviewed, "pull_request_review", json!({"action": "submitted", "review": review, "pull_request": pr_ref, "repository": repository()}));
        if rng.chance(50) {
            let commented = reviewed + Duration::minutes(3);
            let issue =
                json!({"number": number, "user": user(author), "pull_request": {"url": "x"}});
            let comment =
                json!({"user": user("carol"), "created_at": ts(commented), "body": "nit"});
            b.github(commented, "issue_comment", json!({"action": "created", "issue": issue, "comment": comment, "repository": repository()}));
        }
        let merged = reviewed + Duration::minutes(rng.range(10, 120));
        let merge_sha = sha("m", number);
        b.pull_request(
            merged,
            "closed",
            number,
            author,
            opened,
            Some((merged, &merge_sha)),
            &title,
        );
        let before = b.main_head.clone();
        b.push(
            merged + Duration::seconds(2),
            "main",
            &before,
            &[(merge_sha.clone(), merged)],
        );
        b.main_head = merge_sha.clone();
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
                let body = json!({"id": format!("inc-{seed}-{number}"), "service": REPO, "severity": "sev2",
                                  "opened_at": ts(opened), "resolved_at": ts(resolved), "title": "errors up",
                                  "deployment_sha": null});
                let bytes = serde_json::to_vec(&body).unwrap_or_default();
                b.out
                    .push((opened, Delivery::generic("/webhooks/incidents", bytes)));
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
    let zero = "0".repeat(40);
    let mut b = Builder::new(99);
    let c0 = b.start_main(base);
    b.deployment(
        1,
        &c0,
        base + Duration::minutes(5),
        base + Duration::minutes(10),
        "success",
    );
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
            &zero,
            &[(sha("f", number), at - Duration::hours(2))],
        );
        let opened = at + Duration::minutes(5);
        b.pull_request(opened, "opened", number, "alice", opened, None, &title);
        let merged = opened + Duration::minutes(30);
        let merge_sha = sha("m", number);
        b.pull_request(
            merged,
            "closed",
            number,
            "alice",
            opened,
            Some((merged, &merge_sha)),
            &title,
        );
        let before = b.main_head.clone();
        b.push(
            merged + Duration::seconds(2),
            "main",
            &before,
            &[(merge_sha.clone(), merged)],
        );
        b.main_head = merge_sha.clone();
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
    let zero = "0".repeat(40);
    let mut b = Builder::new(98);
    let c0 = b.start_main(base);
    let minutes = |m: i64| base + Duration::minutes(m);
    b.deployment(1, &c0, minutes(5), minutes(10), "success");
    b.push(
        minutes(20),
        "feature-1",
        &zero,
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
