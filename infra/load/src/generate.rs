//! A deterministic generator of realistic delivery histories, one per repository, so histories
//! never collide: pushes to feature branches, PRs opened, updated, reviewed (sometimes changes
//! requested first), commented, merged or abandoned, merge commits chaining on the default
//! branch, production deployments (GitHub deployments or the generic CI endpoint) that sometimes
//! fail and are retried, the occasional revert, and incidents from PagerDuty or the generic
//! endpoint. Activity is spread over 16 ISO weeks so buckets have a realistic size.

use chrono::{DateTime, Duration, Utc};
use flowmeter::ingest::signature::sign_hex;
use flowmeter::ingest::{generic, github, pagerduty, IngestError, Normalized};
use serde_json::{json, Value};

pub const GITHUB_SECRET: &str = "load-github-secret";
pub const PAGERDUTY_SECRET: &str = "load-pagerduty-secret";
pub const GENERIC_SECRET: &str = "load-generic-secret";

/// The end-to-end tests' SplitMix64 generator: one deterministic stream for both.
pub use flowmeter_e2e::scenario::Rng;

/// One webhook delivery as its source would send it, signed.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn github(event: &str, delivery_id: &str, body: Vec<u8>) -> Delivery {
        let signature = format!("sha256={}", sign_hex(GITHUB_SECRET.as_bytes(), &body));
        Delivery {
            path: "/webhooks/github",
            headers: vec![
                ("x-github-event", event.to_string()),
                ("x-github-delivery", delivery_id.to_string()),
                ("x-hub-signature-256", signature),
                ("content-type", "application/json".into()),
            ],
            body,
        }
    }

    pub fn pagerduty(body: Vec<u8>) -> Delivery {
        let signature = format!("v1={}", sign_hex(PAGERDUTY_SECRET.as_bytes(), &body));
        Delivery {
            path: "/webhooks/pagerduty",
            headers: vec![
                ("x-pagerduty-signature", signature),
                ("content-type", "application/json".into()),
            ],
            body,
        }
    }

    pub fn generic(path: &'static str, body: Vec<u8>) -> Delivery {
        let signature = format!("sha256={}", sign_hex(GENERIC_SECRET.as_bytes(), &body));
        Delivery {
            path,
            headers: vec![
                ("x-flowmeter-signature-256", signature),
                ("content-type", "application/json".into()),
            ],
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `(pk, sk)` of every fact this delivery must store, from the same parsers the
    /// webhook runs.
    pub fn expected_keys(&self) -> Result<Vec<(String, String)>, IngestError> {
        let normalized = match self.path {
            "/webhooks/github" => github::normalize_github(
                self.header("x-github-event").unwrap_or_default(),
                self.header("x-github-delivery").unwrap_or_default(),
                &self.body,
            )?,
            "/webhooks/pagerduty" => pagerduty::normalize_pagerduty(&self.body)?,
            "/webhooks/deployments" => generic::normalize_generic_deployment(&self.body)?,
            _ => generic::normalize_generic_incident(&self.body)?,
        };
        Ok(match normalized {
            Normalized::Facts(facts) => facts
                .iter()
                .map(|f| (f.entity.partition_key(), f.sort_key()))
                .collect(),
            Normalized::Ignored(_) => Vec::new(),
        })
    }
}

pub const ORG: &str = "loadorg";
const AUTHORS: i64 = 40;
const WEEKS: i64 = 16;

fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn user(login: &str) -> Value {
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({"login": login, "type": kind})
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

struct Repo<'a> {
    rng: &'a mut Rng,
    index: usize,
    name: String,
    out: Vec<(DateTime<Utc>, Delivery)>,
    main_head: String,
    commits: u64,
    next_deployment: u64,
    next_event: u64,
}

impl Repo<'_> {
    /// A full 40-hex sha unique to this repo.
    fn sha(&mut self) -> String {
        self.commits += 1;
        format!("{:08x}{:032x}", self.index, self.commits)
    }

    fn repository(&self) -> Value {
        let (owner, short) = self.name.split_once('/').unwrap_or((ORG, "x"));
        json!({"full_name": self.name, "default_branch": "main", "name": short,
               "owner": {"login": owner}})
    }

    fn github(&mut self, at: DateTime<Utc>, event: &str, body: Value) {
        self.next_event += 1;
        let id = format!("load-{}-{}", self.index, self.next_event);
        self.out
            .push((at, Delivery::github(event, &id, to_bytes(&body))));
    }

    fn push(&mut self, at: DateTime<Utc>, branch: &str, before: &str, commits: &[(String, i64)]) {
        let after = commits.last().map(|c| c.0.clone()).unwrap_or_default();
        let commit_json: Vec<Value> = commits
            .iter()
            .map(|(id, hours_before)| {
                json!({"id": id, "timestamp": ts(at - Duration::hours(*hours_before)),
                       "author": {"username": "dev"}, "message": "work"})
            })
            .collect();
        let mut repo = self.repository();
        repo["pushed_at"] = json!(at.timestamp());
        self.github(
            at,
            "push",
            json!({"ref": format!("refs/heads/{branch}"), "before": before, "after": after,
                   "created": before.chars().all(|c| c == '0'), "deleted": false, "forced": false,
                   "commits": commit_json, "head_commit": commit_json.last(), "repository": repo}),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn pull_request(
        &mut self,
        at: DateTime<Utc>,
        action: &str,
        number: u64,
        author: &str,
        created: DateTime<Utc>,
        closed: Option<(DateTime<Utc>, Option<&str>)>,
        title: &str,
        body: Option<&str>,
        head_sha: &str,
    ) {
        let merged = closed.and_then(|(at, sha)| sha.map(|s| (at, s)));
        let pr = json!({
            "number": number, "title": title, "body": body, "user": user(author), "draft": false,
            "created_at": ts(created), "updated_at": ts(at),
            "closed_at": closed.map(|(c, _)| ts(c)), "merged_at": merged.map(|(m, _)| ts(m)),
            "merge_commit_sha": merged.map(|(_, s)| s), "merged": merged.is_some(),
            "head": {"ref": format!("feature-{number}"), "sha": head_sha},
            "base": {"ref": "main", "sha": self.main_head},
            "additions": 5 + 7 * number, "deletions": 3, "labels": [],
            "html_url": format!("https://github.com/{}/pull/{number}", self.name),
            "state": if closed.is_some() { "closed" } else { "open" }
        });
        let repository = self.repository();
        self.github(
            at,
            "pull_request",
            json!({"action": action, "number": number, "pull_request": pr,
                   "repository": repository}),
        );
    }

    fn review(
        &mut self,
        at: DateTime<Utc>,
        number: u64,
        author: &str,
        reviewer: &str,
        state: &str,
    ) {
        self.next_event += 1;
        let review = json!({"id": self.index as u64 * 100_000 + self.next_event, "user": user(reviewer),
                            "state": state, "submitted_at": ts(at), "body": "reviewed"});
        let pr_ref = json!({"number": number, "user": user(author), "updated_at": ts(at)});
        let repository = self.repository();
        self.github(
            at,
            "pull_request_review",
            json!({"action": "submitted", "review": review, "pull_request": pr_ref,
                   "repository": repository}),
        );
    }

    fn comment(&mut self, at: DateTime<Utc>, number: u64, author: &str, commenter: &str) {
        let repository = self.repository();
        if self.rng.chance(50) {
            let issue =
                json!({"number": number, "user": user(author), "pull_request": {"url": "x"}});
            let comment = json!({"user": user(commenter), "created_at": ts(at), "body": "nit"});
            self.github(
                at,
                "issue_comment",
                json!({"action": "created", "issue": issue, "comment": comment,
                       "repository": repository}),
            );
        } else {
            let pr_ref = json!({"number": number, "user": user(author), "updated_at": ts(at)});
            let comment = json!({"user": user(commenter), "created_at": ts(at), "body": "why?"});
            self.github(
                at,
                "pull_request_review_comment",
                json!({"action": "created", "comment": comment, "pull_request": pr_ref,
                       "repository": repository}),
            );
        }
    }

    /// A production deployment of `sha`, through GitHub or the generic CI endpoint.
    fn deployment(
        &mut self,
        sha: &str,
        started: DateTime<Utc>,
        finished: DateTime<Utc>,
        state: &str,
    ) {
        self.next_deployment += 1;
        let id = self.index as u64 * 1000 + self.next_deployment;
        if self.rng.chance(25) {
            let body = json!({"repo": self.name, "environment": "production", "sha": sha,
                              "status": state, "started_at": ts(started), "finished_at": ts(finished),
                              "id": format!("ci-{id}")});
            self.out.push((
                finished,
                Delivery::generic("/webhooks/deployments", to_bytes(&body)),
            ));
            return;
        }
        let deployment = json!({"id": id, "sha": sha, "ref": "main", "environment": "production",
                                "creator": user("deployer"), "created_at": ts(started),
                                "updated_at": ts(started)});
        let repository = self.repository();
        self.github(
            started,
            "deployment",
            json!({"action": "created", "deployment": deployment, "repository": repository}),
        );
        let status = json!({"id": id * 10, "state": state, "environment": "production",
                            "created_at": ts(finished), "updated_at": ts(finished)});
        let repository = self.repository();
        self.github(
            finished,
            "deployment_status",
            json!({"action": "created", "deployment_status": status, "deployment": deployment,
                   "repository": repository}),
        );
    }

    fn incident(&mut self, opened: DateTime<Utc>, resolved: DateTime<Utc>) {
        self.next_event += 1;
        let id = format!("{}-{}", self.index, self.next_event);
        if self.rng.chance(50) {
            let body = json!({"id": format!("inc-{id}"), "service": self.name, "severity": "sev2",
                              "title": "errors up", "opened_at": ts(opened),
                              "resolved_at": ts(resolved), "deployment_sha": null});
            self.out.push((
                opened,
                Delivery::generic("/webhooks/incidents", to_bytes(&body)),
            ));
            return;
        }
        for (kind, at) in [
            ("incident.triggered", opened),
            ("incident.resolved", resolved),
        ] {
            let body = json!({"event": {
                "id": format!("EV{id}{}", if at == opened { "T" } else { "R" }),
                "event_type": kind, "resource_type": "incident", "occurred_at": ts(at),
                "agent": null, "client": null,
                "data": {"id": format!("P{id}"), "type": "incident", "number": 1,
                         "status": if at == opened { "triggered" } else { "resolved" },
                         "title": "errors up", "urgency": "high", "priority": null,
                         "created_at": ts(opened),
                         "service": {"id": "PSVC", "summary": self.name, "type": "service_reference"}}
            }});
            self.out.push((at, Delivery::pagerduty(to_bytes(&body))));
        }
    }
}

/// The deliveries of one repository's history, in the order its events happened.
fn repo_history(rng: &mut Rng, index: usize, start: DateTime<Utc>) -> Vec<Delivery> {
    let mut repo = Repo {
        rng,
        index,
        name: format!("{ORG}/svc-{index:04}"),
        out: Vec::new(),
        main_head: "0".repeat(40),
        commits: 0,
        next_deployment: 0,
        next_event: 0,
    };
    let zero = "0".repeat(40);
    let mut clock = start + Duration::minutes(repo.rng.range(0, (WEEKS - 4) * 7 * 24 * 60));
    let c0 = repo.sha();
    repo.push(clock, "main", &zero, &[(c0.clone(), 1)]);
    repo.main_head = c0.clone();
    repo.deployment(
        &c0,
        clock + Duration::minutes(5),
        clock + Duration::minutes(9),
        "success",
    );
    clock += Duration::minutes(30);

    let prs = repo.rng.range(3, 7) as u64;
    let mut merged_titles: Vec<(u64, String)> = Vec::new();
    for number in 1..=prs {
        let author_n = repo.rng.range(0, AUTHORS - 1);
        let author = if repo.rng.chance(8) {
            "renovate[bot]".to_string()
        } else {
            format!("dev-{author_n}")
        };
        let reviewer = format!(
            "dev-{}",
            (author_n + repo.rng.range(1, AUTHORS - 1)) % AUTHORS
        );
        // A revert of an earlier merged PR, now and then (GitHub's revert button).
        let revert_of = if number > 2 && repo.rng.chance(10) {
            merged_titles.first().cloned()
        } else {
            None
        };
        let (title, body) = match &revert_of {
            Some((n, t)) => (
                format!("Revert \"{t}\""),
                Some(format!("Reverts {}#{n}", repo.name)),
            ),
            None => (format!("Change {number}"), None),
        };

        let mut head = repo.sha();
        let pushed = clock;
        let authored_hours_before = repo.rng.range(1, 30);
        repo.push(
            pushed,
            &format!("feature-{number}"),
            &zero,
            &[(head.clone(), authored_hours_before)],
        );
        let opened = pushed + Duration::minutes(repo.rng.range(1, 60));
        repo.pull_request(
            opened,
            "opened",
            number,
            &author,
            opened,
            None,
            &title,
            body.as_deref(),
            &head,
        );
        let mut at = opened + Duration::minutes(repo.rng.range(10, 900));
        if repo.rng.chance(30) {
            let before = head.clone();
            head = repo.sha();
            repo.push(
                at,
                &format!("feature-{number}"),
                &before,
                &[(head.clone(), 0)],
            );
            repo.pull_request(
                at + Duration::seconds(5),
                "synchronize",
                number,
                &author,
                opened,
                None,
                &title,
                body.as_deref(),
                &head,
            );
            at += Duration::minutes(repo.rng.range(5, 300));
        }
        if repo.rng.chance(25) {
            repo.review(at, number, &author, &reviewer, "changes_requested");
            at += Duration::minutes(repo.rng.range(30, 600));
        }
        if repo.rng.chance(50) {
            repo.comment(at, number, &author, &reviewer);
            at += Duration::minutes(repo.rng.range(1, 60));
        }
        repo.review(at, number, &author, &reviewer, "approved");
        at += Duration::minutes(repo.rng.range(5, 240));
        if repo.rng.chance(10) && revert_of.is_none() {
            // Abandoned.
            repo.pull_request(
                at,
                "closed",
                number,
                &author,
                opened,
                Some((at, None)),
                &title,
                body.as_deref(),
                &head,
            );
            clock = at + Duration::minutes(repo.rng.range(30, 600));
            continue;
        }
        let merge_sha = repo.sha();
        repo.pull_request(
            at,
            "closed",
            number,
            &author,
            opened,
            Some((at, Some(&merge_sha))),
            &title,
            body.as_deref(),
            &head,
        );
        let before = repo.main_head.clone();
        repo.push(
            at + Duration::seconds(2),
            "main",
            &before,
            &[(merge_sha.clone(), 0)],
        );
        repo.main_head = merge_sha.clone();
        merged_titles.push((number, title.clone()));
        clock = at + Duration::minutes(repo.rng.range(5, 120));

        if number == prs || repo.rng.chance(60) {
            let fails = repo.rng.chance(20);
            let started = clock;
            let finished = started + Duration::minutes(repo.rng.range(2, 15));
            let state = if fails { "failure" } else { "success" };
            repo.deployment(&merge_sha, started, finished, state);
            clock = finished;
            if fails {
                let retry = finished + Duration::minutes(repo.rng.range(5, 60));
                repo.deployment(&merge_sha, retry, retry + Duration::minutes(5), "success");
                clock = retry + Duration::minutes(10);
            } else if repo.rng.chance(20) {
                let opened = finished + Duration::minutes(repo.rng.range(5, 120));
                let resolved = opened + Duration::minutes(repo.rng.range(10, 240));
                repo.incident(opened, resolved);
                clock = resolved;
            }
        }
        clock += Duration::minutes(repo.rng.range(30, 3 * 24 * 60));
    }
    let mut out = repo.out;
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, d)| d).collect()
}

/// Whole repository histories until at least `count` deliveries.
pub fn deliveries(count: usize, seed: u64) -> Vec<Delivery> {
    let mut rng = Rng::new(seed);
    let start: DateTime<Utc> = "2026-06-01T08:00:00Z".parse().unwrap_or_default();
    let mut out = Vec::with_capacity(count + 64);
    let mut index = 0;
    while out.len() < count {
        index += 1;
        out.extend(repo_history(&mut rng, index, start));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_delivery_is_valid_and_distinct() {
        let all = deliveries(2000, 7);
        assert!(all.len() >= 2000);
        let mut keys = std::collections::BTreeSet::new();
        let mut facts = 0;
        for d in &all {
            let expected = d.expected_keys().expect("valid delivery");
            assert!(
                !expected.is_empty(),
                "{:?}",
                String::from_utf8_lossy(&d.body)
            );
            for key in expected {
                facts += 1;
                assert!(keys.insert(key.clone()), "duplicate fact key {key:?}");
            }
        }
        assert_eq!(keys.len(), facts);
    }
}
