//! A deterministic generator of realistic delivery histories, one per repository, so histories
//! never collide: pushes to feature branches, PRs opened, updated, reviewed (sometimes changes
//! requested first), commented, merged or abandoned, merge commits chaining on the default
//! branch, production deployments (GitHub deployments or the generic CI endpoint) that sometimes
//! fail and are retried, the occasional revert, and incidents from PagerDuty or the generic
//! endpoint. Activity is spread over 16 ISO weeks so buckets have a realistic size.

use chrono::{DateTime, Duration, Utc};
use flowmeter_kit::delivery::{DEPLOYMENTS, INCIDENTS};
use flowmeter_kit::payload::github::{self, PrRef, PullRequest, ZERO_SHA};
use flowmeter_kit::payload::{bytes, generic, pagerduty};
use serde_json::{json, Value};

pub const GITHUB_SECRET: &str = "load-github-secret";
pub const PAGERDUTY_SECRET: &str = "load-pagerduty-secret";
pub const GENERIC_SECRET: &str = "load-generic-secret";

/// One webhook delivery as its source would send it, signed (the kit's).
pub use flowmeter_kit::Delivery;
/// The end-to-end tests' SplitMix64 generator (the kit's): one deterministic stream for both.
pub use flowmeter_kit::Rng;

pub const ORG: &str = "loadorg";
const AUTHORS: i64 = 40;
const WEEKS: i64 = 16;

/// Who writes a pull request and what it says.
struct PrPlan {
    number: u64,
    author: String,
    reviewer: String,
    title: String,
    body: Option<String>,
    /// A revert of an earlier merged PR (GitHub's revert button).
    revert: bool,
}

/// Where a pull request's review round left it: its head and the time.
struct Reviewed {
    opened: DateTime<Utc>,
    head: String,
    at: DateTime<Utc>,
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
    /// Merged PRs, oldest first: what a revert can revert.
    merged_titles: Vec<(u64, String)>,
}

impl<'a> Repo<'a> {
    fn new(rng: &'a mut Rng, index: usize) -> Repo<'a> {
        Repo {
            rng,
            index,
            name: format!("{ORG}/svc-{index:04}"),
            out: Vec::new(),
            main_head: ZERO_SHA.to_string(),
            commits: 0,
            next_deployment: 0,
            next_event: 0,
            merged_titles: Vec::new(),
        }
    }

    /// The deliveries in the order their events happened.
    fn deliveries(self) -> Vec<Delivery> {
        let mut out = self.out;
        out.sort_by_key(|(at, _)| *at);
        out.into_iter().map(|(_, d)| d).collect()
    }

    /// A full 40-hex sha unique to this repo.
    fn sha(&mut self) -> String {
        self.commits += 1;
        format!("{:08x}{:032x}", self.index, self.commits)
    }

    fn minutes(&mut self, lo: i64, hi: i64) -> Duration {
        Duration::minutes(self.rng.range(lo, hi))
    }

    fn github(&mut self, at: DateTime<Utc>, event: &str, body: Value) {
        self.next_event += 1;
        let id = format!("load-{}-{}", self.index, self.next_event);
        let delivery = Delivery::github(GITHUB_SECRET, event, &id, bytes(&body));
        self.out.push((at, delivery));
    }

    fn generic(&mut self, at: DateTime<Utc>, path: &'static str, body: Value) {
        let delivery = Delivery::generic(GENERIC_SECRET, path, bytes(&body));
        self.out.push((at, delivery));
    }

    /// `commits`: (sha, hours authored before the push).
    fn push(&mut self, at: DateTime<Utc>, branch: &str, before: &str, commits: &[(String, i64)]) {
        let commits = commits
            .iter()
            .map(|(id, hours_before)| {
                let mut commit = github::commit(id, at - Duration::hours(*hours_before), "dev");
                commit["message"] = json!("work");
                commit
            })
            .collect();
        let created = github::creates_branch(before);
        let body = github::push(&self.name, at, branch, before, commits, created);
        self.github(at, "push", body);
    }

    /// A `pull_request` delivery of `action` at `at`, closed (and merged as the given sha) or not.
    fn pull_request(
        &mut self,
        (action, at): (&str, DateTime<Utc>),
        pr: &PrPlan,
        opened: DateTime<Utc>,
        closed: Option<(DateTime<Utc>, Option<&str>)>,
        head: &str,
    ) {
        let branch = format!("feature-{}", pr.number);
        let body = PullRequest {
            repo: &self.name,
            number: pr.number,
            title: &pr.title,
            body: pr.body.as_deref(),
            author: &pr.author,
            created: opened,
            closed,
            head: (&branch, head),
            base_sha: &self.main_head,
            additions: 5 + 7 * pr.number,
            deletions: 3,
        }
        .event(action, at);
        self.github(at, "pull_request", body);
    }

    fn review(&mut self, at: DateTime<Utc>, pr: &PrPlan, state: &str) {
        self.next_event += 1;
        let id = self.index as u64 * 100_000 + self.next_event;
        let body = self
            .pr_ref(pr)
            .review(at, id, &pr.reviewer, state, "reviewed");
        self.github(at, "pull_request_review", body);
    }

    fn comment(&mut self, at: DateTime<Utc>, pr: &PrPlan) {
        if self.rng.chance(50) {
            let body = self.pr_ref(pr).issue_comment(at, &pr.reviewer, "nit");
            self.github(at, "issue_comment", body);
        } else {
            let body = self.pr_ref(pr).review_comment(at, &pr.reviewer, "why?");
            self.github(at, "pull_request_review_comment", body);
        }
    }

    fn pr_ref<'p>(&'p self, pr: &'p PrPlan) -> PrRef<'p> {
        PrRef {
            repo: &self.name,
            number: pr.number,
            author: &pr.author,
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
            let run = format!("ci-{id}");
            let body = generic::deployment(
                &self.name,
                "production",
                sha,
                state,
                (started, finished),
                &run,
            );
            self.generic(finished, DEPLOYMENTS, body);
            return;
        }
        for (at, event, body) in github::deployment(&self.name, id, sha, started, finished, state) {
            self.github(at, event, body);
        }
    }

    /// An incident, through PagerDuty (triggered, resolved) or the generic endpoint.
    fn incident(&mut self, opened: DateTime<Utc>, resolved: DateTime<Utc>) {
        self.next_event += 1;
        let id = format!("{}-{}", self.index, self.next_event);
        if self.rng.chance(50) {
            let id = format!("inc-{id}");
            let body =
                generic::incident(&id, &self.name, "sev2", "errors up", opened, Some(resolved));
            self.generic(opened, INCIDENTS, body);
            return;
        }
        let incident_id = format!("P{id}");
        let incident = pagerduty::Incident {
            id: &incident_id,
            title: "errors up",
            service: &self.name,
            created: opened,
        };
        let events = [
            ("T", "incident.triggered", "triggered", opened),
            ("R", "incident.resolved", "resolved", resolved),
        ]
        .map(|(suffix, kind, status, at)| {
            (
                at,
                incident.event(&format!("EV{id}{suffix}"), kind, status, at),
            )
        });
        for (at, body) in events {
            let delivery = Delivery::pagerduty(PAGERDUTY_SECRET, bytes(&body));
            self.out.push((at, delivery));
        }
    }

    // ---- the steps of a history ----------------------------------------------------------

    /// The first commit on main and its deployment, some time in the first weeks; returns
    /// the time the history goes on from.
    fn start(&mut self, start: DateTime<Utc>) -> DateTime<Utc> {
        let clock = start + self.minutes(0, (WEEKS - 4) * 7 * 24 * 60);
        let c0 = self.sha();
        self.push(clock, "main", ZERO_SHA, &[(c0.clone(), 1)]);
        self.main_head = c0.clone();
        let deployed = (clock + Duration::minutes(5), clock + Duration::minutes(9));
        self.deployment(&c0, deployed.0, deployed.1, "success");
        clock + Duration::minutes(30)
    }

    /// PR `number`'s author (now and then a bot), reviewer, and text; some are reverts.
    fn plan(&mut self, number: u64) -> PrPlan {
        let author_n = self.rng.range(0, AUTHORS - 1);
        let author = if self.rng.chance(8) {
            "renovate[bot]".to_string()
        } else {
            format!("dev-{author_n}")
        };
        let reviewer = format!(
            "dev-{}",
            (author_n + self.rng.range(1, AUTHORS - 1)) % AUTHORS
        );
        let revert_of = if number > 2 && self.rng.chance(10) {
            self.merged_titles.first().cloned()
        } else {
            None
        };
        let (title, body) = match &revert_of {
            Some((n, t)) => (
                format!("Revert \"{t}\""),
                Some(format!("Reverts {}#{n}", self.name)),
            ),
            None => (format!("Change {number}"), None),
        };
        PrPlan {
            number,
            author,
            reviewer,
            title,
            body,
            revert: revert_of.is_some(),
        }
    }

    /// The branch pushed at `clock`, the PR opened on it, then sometimes another push,
    /// changes requested and a comment before the approval.
    fn open_and_review(&mut self, pr: &PrPlan, clock: DateTime<Utc>) -> Reviewed {
        let branch = format!("feature-{}", pr.number);
        let mut head = self.sha();
        let authored_hours_before = self.rng.range(1, 30);
        self.push(
            clock,
            &branch,
            ZERO_SHA,
            &[(head.clone(), authored_hours_before)],
        );
        let opened = clock + self.minutes(1, 60);
        self.pull_request(("opened", opened), pr, opened, None, &head);
        let mut at = opened + self.minutes(10, 900);
        if self.rng.chance(30) {
            let before = std::mem::replace(&mut head, self.sha());
            self.push(at, &branch, &before, &[(head.clone(), 0)]);
            let synchronized = at + Duration::seconds(5);
            self.pull_request(("synchronize", synchronized), pr, opened, None, &head);
            at += self.minutes(5, 300);
        }
        if self.rng.chance(25) {
            self.review(at, pr, "changes_requested");
            at += self.minutes(30, 600);
        }
        if self.rng.chance(50) {
            self.comment(at, pr);
            at += self.minutes(1, 60);
        }
        self.review(at, pr, "approved");
        at += self.minutes(5, 240);
        Reviewed { opened, head, at }
    }

    /// The merge at `r.at`, and its merge commit pushed to main; returns the merge commit.
    fn merge(&mut self, pr: &PrPlan, r: &Reviewed) -> String {
        let merge_sha = self.sha();
        let closed = Some((r.at, Some(merge_sha.as_str())));
        self.pull_request(("closed", r.at), pr, r.opened, closed, &r.head);
        let before = std::mem::replace(&mut self.main_head, merge_sha.clone());
        let pushed = r.at + Duration::seconds(2);
        self.push(pushed, "main", &before, &[(merge_sha.clone(), 0)]);
        self.merged_titles.push((pr.number, pr.title.clone()));
        merge_sha
    }

    /// A deployment of `sha` at `clock`: a failure is retried; a success now and then causes
    /// an incident. Returns when it is all over.
    fn ship(&mut self, sha: &str, clock: DateTime<Utc>) -> DateTime<Utc> {
        let fails = self.rng.chance(20);
        let finished = clock + self.minutes(2, 15);
        let state = if fails { "failure" } else { "success" };
        self.deployment(sha, clock, finished, state);
        if fails {
            let retry = finished + self.minutes(5, 60);
            self.deployment(sha, retry, retry + Duration::minutes(5), "success");
            return retry + Duration::minutes(10);
        }
        if self.rng.chance(20) {
            let opened = finished + self.minutes(5, 120);
            let resolved = opened + self.minutes(10, 240);
            self.incident(opened, resolved);
            return resolved;
        }
        finished
    }

    /// PR `number` of `prs`, from its first push at `clock` to its merge (or abandonment)
    /// and, sometimes (always for the last), its deployment; returns when the next one starts.
    fn pull_request_life(&mut self, number: u64, prs: u64, clock: DateTime<Utc>) -> DateTime<Utc> {
        let pr = self.plan(number);
        let reviewed = self.open_and_review(&pr, clock);
        let at = reviewed.at;
        if self.rng.chance(10) && !pr.revert {
            self.pull_request(
                ("closed", at),
                &pr,
                reviewed.opened,
                Some((at, None)),
                &reviewed.head,
            );
            return at + self.minutes(30, 600);
        }
        let merge_sha = self.merge(&pr, &reviewed);
        let mut clock = at + self.minutes(5, 120);
        if number == prs || self.rng.chance(60) {
            clock = self.ship(&merge_sha, clock);
        }
        clock + self.minutes(30, 3 * 24 * 60)
    }
}

/// The deliveries of one repository's history, in the order its events happened.
fn repo_history(rng: &mut Rng, index: usize, start: DateTime<Utc>) -> Vec<Delivery> {
    let mut repo = Repo::new(rng, index);
    let mut clock = repo.start(start);
    let prs = repo.rng.range(3, 7) as u64;
    for number in 1..=prs {
        clock = repo.pull_request_life(number, prs, clock);
    }
    repo.deliveries()
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
