//! The simulation: engineers write pull requests, teammates review them, merges land on `main`,
//! deploy pipelines ship `main` to staging and production, some deployments fail and are
//! re-run, some changes cause incidents that are fixed by a hotfix or a revert. Every step is
//! emitted as the webhook delivery its source would send, and recorded as ground truth
//! (`truth`), from which the expected metrics are computed independently of Flowmeter.
//!
//! Deterministic: one SplitMix64 stream drives everything, consumed in a fixed order (sorted
//! maps, a time-ordered event queue with insertion sequence numbers as tie-breakers).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use flowmeter::time::IsoWeek;
use serde_json::{json, Value};

use crate::payloads::{
    generic_delivery, github_delivery, is_bot, label, organization, pagerduty_delivery, pr_url,
    push_repository, repository, ts, ts_local, ts_millis, user, DemoDelivery, Secrets,
};
use crate::rng::Rng;
use crate::spec::{
    full_name, repo_spec, service_of_repo, team_of_member, team_of_repo, Deploys, RepoSpec,
    ServiceSpec, TeamSpec, ORG, SERVICES, STRUGGLE_CANDIDATES, TEAMS, TIMEZONE,
};
use crate::truth::{DeploymentTruth, IncidentTruth, PrTruth, Truth};

/// What to generate.
#[derive(Clone, Debug)]
pub struct Params {
    pub seed: u64,
    /// History ends at the last full ISO week (org timezone) before this instant.
    pub now: DateTime<Utc>,
    /// Weeks of history (the demo: 12). The last 3 are the struggling team's bad weeks.
    pub weeks: u32,
    /// Multiplies every engineer's PR rate (1.0 = the demo's org).
    pub activity: f64,
    pub secrets: Secrets,
}

impl Params {
    pub fn new(seed: u64, now: DateTime<Utc>) -> Params {
        Params {
            seed,
            now,
            weeks: 12,
            activity: 1.0,
            secrets: Secrets::default(),
        }
    }
}

/// What the simulation produced.
pub struct Output {
    pub deliveries: Vec<DemoDelivery>,
    pub truth: Truth,
    pub struggling_team: String,
    pub first_week: IsoWeek,
    pub last_week: IsoWeek,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Review {
    Approved,
    ChangesRequested,
    Commented,
}

#[derive(Clone, Debug)]
enum Interaction {
    Review {
        login: String,
        state: Review,
        body: String,
    },
    ReviewComment {
        login: String,
        body: String,
    },
    IssueComment {
        login: String,
        body: String,
    },
}

#[derive(Clone, Debug)]
struct Commit {
    sha: String,
    authored: DateTime<Utc>,
    message: String,
}

#[derive(Clone, Debug)]
struct Push {
    at: DateTime<Utc>,
    before: String,
    commits: Vec<Commit>,
}

/// A pull request's whole life, planned up front (its merge lands through the event queue).
#[derive(Clone, Debug)]
struct PrPlan {
    repo: &'static str,
    number: u64,
    author: String,
    title: String,
    body: Option<String>,
    branch: String,
    labels: Vec<&'static str>,
    draft: bool,
    created: DateTime<Utc>,
    ready: Option<DateTime<Utc>>,
    pushes: Vec<Push>,
    interactions: Vec<(DateTime<Utc>, Interaction)>,
    merged: Option<DateTime<Utc>>,
    closed_unmerged: Option<DateTime<Utc>>,
    merge_sha: String,
    merger: String,
    additions: u64,
    deletions: u64,
    reverts: Option<u64>,
    /// Hotfixes and reverts go out right after their merge.
    expedite: bool,
}

#[derive(Clone, Debug)]
struct DeployRun {
    repo: &'static str,
    sha: String,
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
    success: bool,
    attempt: u32,
    /// Entity id as Flowmeter stores it: `gh:<id>` or `gen:<id>`.
    entity: String,
    github: Option<Value>,
}

#[derive(Clone, Debug)]
enum Event {
    Merge(Box<PrPlan>),
    DeploySlot(&'static str),
    DeployFinish(Box<DeployRun>),
}

/// A merged PR not yet shipped: number, title, author, head branch, merge commit.
#[derive(Clone, Debug)]
struct Pending {
    number: u64,
    title: String,
    author: String,
    branch: String,
    sha: String,
}

struct RepoState {
    next_number: u64,
    head: String,
    last_success_sha: Option<String>,
    busy: bool,
    /// PRs merged since the last successful production deployment.
    pending: Vec<Pending>,
    ci_run: u64,
}

struct World {
    rng: Rng,
    secrets: Secrets,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    weeks: u32,
    struggling: &'static str,
    deliveries: Vec<DemoDelivery>,
    truth: Truth,
    repos: BTreeMap<&'static str, RepoState>,
    queue: BinaryHeap<Reverse<(DateTime<Utc>, u64)>>,
    events: BTreeMap<u64, Event>,
    seq: u64,
    next_github_id: u64,
    next_pd_number: u64,
    activity: f64,
    /// What the deliveries being emitted are about (a PR, a deployment, a branch, an incident):
    /// the replay keeps an entity's deliveries together.
    entity: String,
}

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// Whole seconds: webhook payloads carry second-precision times, so the ground truth must too.
fn minutes(m: f64) -> Duration {
    Duration::seconds((m * 60.0).round() as i64)
}

fn hours(h: f64) -> Duration {
    minutes(h * 60.0)
}

fn local_at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let naive = date.and_hms_opt(hour, minute, 0).unwrap_or_default();
    match TIMEZONE.from_local_datetime(&naive).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // Inside a DST gap: an hour later exists.
        None => Utc.from_utc_datetime(&naive) - Duration::hours(1),
    }
}

fn is_weekend(day: Weekday) -> bool {
    matches!(day, Weekday::Sat | Weekday::Sun)
}

fn next_working_day(date: NaiveDate) -> NaiveDate {
    let mut d = date.succ_opt().unwrap_or(date);
    while is_weekend(d.weekday()) {
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

fn slug(text: &str) -> String {
    let s: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let parts: Vec<&str> = s.split('-').filter(|p| !p.is_empty()).collect();
    parts.join("-").chars().take(40).collect()
}

const VERBS: &[&str] = &[
    "Add",
    "Fix",
    "Refactor",
    "Speed up",
    "Clean up",
    "Harden",
    "Instrument",
    "Simplify",
    "Support",
    "Migrate",
];
const DETAILS: &[&str] = &[
    "for EU customers",
    "behind a feature flag",
    "edge cases",
    "error handling",
    "metrics",
    "tests",
    "logging",
    "timeouts",
    "pagination",
    "retries",
];
const REVIEW_NITS: &[&str] = &[
    "Could we add a test for the empty case?",
    "nit: this name is a bit vague",
    "Should this be behind the flag too?",
    "This allocates on every call; worth caching?",
    "Let's log the request id here.",
    "Is this safe if the upstream times out?",
];
const DEPS: &[(&str, &str)] = &[
    ("cargo", "serde"),
    ("cargo", "tokio"),
    ("npm_and_yarn", "react"),
    ("npm_and_yarn", "typescript"),
    ("npm_and_yarn", "eslint"),
    ("cargo", "reqwest"),
    ("github_actions", "actions/checkout"),
    ("npm_and_yarn", "vite"),
    ("cargo", "rustls"),
    ("docker", "node"),
];

impl World {
    // ---- time ----------------------------------------------------------------------------

    /// Moves an instant that falls outside working hours to the next working morning, most of
    /// the time (some people do work late or on a Sunday).
    fn snap(&mut self, t: DateTime<Utc>) -> DateTime<Utc> {
        let local = t.with_timezone(&TIMEZONE);
        let date = local.date_naive();
        let hour = local.hour();
        let morning = |w: &mut World, d: NaiveDate| {
            let m = w.rng.range(0, 110) as u32;
            local_at(d, 8 + (30 + m) / 60, (30 + m) % 60)
        };
        if is_weekend(local.weekday()) {
            if self.rng.chance(0.93) {
                let d = next_working_day(date);
                return morning(self, d);
            }
        } else if hour < 8 {
            if self.rng.chance(0.85) {
                return morning(self, date);
            }
        } else if hour >= 19 && self.rng.chance(0.85) {
            let d = next_working_day(date);
            return morning(self, d);
        }
        t
    }

    fn week_index(&self, t: DateTime<Utc>) -> i64 {
        (t - self.start).num_days().div_euclid(7)
    }

    /// 0 outside the struggle; 1, 2, 3 in the last three weeks for the struggling team.
    fn struggle(&self, team: &str, t: DateTime<Utc>) -> u32 {
        if team != self.struggling {
            return 0;
        }
        let from_end = i64::from(self.weeks) - self.week_index(t);
        match from_end {
            1 => 3,
            2 => 2,
            3 => 1,
            _ => 0,
        }
    }

    // ---- ids -----------------------------------------------------------------------------

    fn github_id(&mut self) -> u64 {
        self.next_github_id += self.rng.range(1, 900) as u64;
        self.next_github_id
    }

    fn sha(&mut self) -> String {
        self.rng.hex(40)
    }

    // ---- output --------------------------------------------------------------------------

    fn github(&mut self, at: DateTime<Utc>, event: &str, body: Value) {
        if at >= self.end {
            return;
        }
        let id = self.rng.uuid();
        let mut d = github_delivery(&self.secrets, at, event, &id, &body);
        d.entity.clone_from(&self.entity);
        self.deliveries.push(d);
    }

    fn schedule(&mut self, at: DateTime<Utc>, event: Event) {
        if at >= self.end {
            return;
        }
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq)));
        self.events.insert(self.seq, event);
    }

    // ---- pull requests -------------------------------------------------------------------

    fn teammate(&mut self, team: &TeamSpec, not: &str) -> String {
        loop {
            let m = *self.rng.pick(team.members);
            if m != not || team.members.len() < 2 {
                return m.to_string();
            }
        }
    }

    fn commits(
        &mut self,
        login: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: usize,
        title: &str,
    ) -> Vec<Commit> {
        let span = (to - from).num_seconds().max(60);
        let mut times: Vec<DateTime<Utc>> = (1..n)
            .map(|_| from + Duration::seconds(self.rng.range(30, span)))
            .collect();
        times.push(from);
        times.sort();
        times
            .into_iter()
            .enumerate()
            .map(|(i, authored)| Commit {
                sha: self.sha(),
                authored,
                message: if i == 0 {
                    title.to_string()
                } else {
                    format!("{} ({login}, part {})", title.to_lowercase(), i + 1)
                },
            })
            .collect()
    }

    fn human_title(&mut self, spec: &RepoSpec) -> String {
        let verb = *self.rng.pick(VERBS);
        let topic = *self.rng.pick(spec.topics);
        if self.rng.chance(0.4) {
            let detail = *self.rng.pick(DETAILS);
            format!("{verb} {topic} {detail}")
        } else {
            format!("{verb} {topic}")
        }
    }

    /// A teammate's pull request, from first commit to merge.
    fn plan_human_pr(
        &mut self,
        repo: &'static str,
        author: &str,
        t0: DateTime<Utc>,
    ) -> Option<PrPlan> {
        let spec = repo_spec(repo)?;
        let team = team_of_repo(repo)?;
        let author_team = team_of_member(author).map_or(team.name, |t| t.name);
        let title = self.human_title(spec);
        let coding = self.rng.lognormal(4.0, 1.0).clamp(0.15, 96.0);
        let push_at = self.snap(t0 + hours(coding));
        let created = push_at + minutes(self.rng.range(1, 15) as f64);
        let n_commits = (1 + self.rng.poisson(1.5)).min(6) as usize;
        let commits = self.commits(
            author,
            t0,
            push_at - Duration::minutes(1),
            n_commits,
            &title,
        );
        let draft = self.rng.chance(0.12);
        let ready = if draft {
            let r = created + hours(self.rng.lognormal(3.0, 0.9).clamp(0.2, 72.0));
            Some(self.snap(r))
        } else {
            None
        };
        let reviewable = ready.unwrap_or(created);
        let level = self.struggle(author_team, reviewable);
        let slow = [1.0, 2.5, 4.0, 6.0][level as usize];
        let spread = if level > 0 { 0.6 } else { 0.75 };
        let pickup = self
            .rng
            .lognormal(2.0 * slow, spread)
            .clamp(0.05, 24.0 * 6.0);
        let first_review = self.snap(reviewable + hours(pickup));
        let reviewer = self.teammate(team, author);
        let p_changes = [0.18, 0.3, 0.38, 0.45][level as usize];
        let roll = self.rng.unit();
        let state = if roll < p_changes {
            Review::ChangesRequested
        } else if roll < p_changes + 0.12 {
            Review::Commented
        } else {
            Review::Approved
        };
        let mut interactions = Vec::new();
        let mut pushes = vec![Push {
            at: push_at,
            before: ZERO_SHA.to_string(),
            commits,
        }];
        if self.rng.chance(0.2) {
            let at = created + minutes(self.rng.range(3, 9) as f64);
            interactions.push((
                at,
                Interaction::IssueComment {
                    login: "codecov-commenter".into(),
                    body: format!(
                        "## Codecov Report\nPatch coverage: `{}.{}%`",
                        self.rng.range(60, 99),
                        self.rng.range(0, 9)
                    ),
                },
            ));
        }
        let review_body = match state {
            Review::Approved => {
                if self.rng.chance(0.5) {
                    "LGTM".to_string()
                } else {
                    String::new()
                }
            }
            Review::ChangesRequested => "A few things before we merge.".to_string(),
            Review::Commented => "Looks close, one question inline.".to_string(),
        };
        if state != Review::Approved {
            let n = self.rng.range(1, 3);
            for _ in 0..n {
                let body = self.rng.pick(REVIEW_NITS).to_string();
                interactions.push((
                    first_review,
                    Interaction::ReviewComment {
                        login: reviewer.clone(),
                        body,
                    },
                ));
            }
        }
        interactions.push((
            first_review,
            Interaction::Review {
                login: reviewer.clone(),
                state,
                body: review_body,
            },
        ));
        let mut approved = first_review;
        match state {
            Review::ChangesRequested => {
                let fix_at = {
                    let d = hours(self.rng.lognormal(2.0, 0.8).clamp(0.1, 48.0));
                    self.snap(first_review + d)
                };
                let before = pushes
                    .last()
                    .and_then(|p| p.commits.last())
                    .map(|c| c.sha.clone())
                    .unwrap_or_default();
                let fix = self.commits(
                    author,
                    fix_at - Duration::minutes(5),
                    fix_at - Duration::minutes(1),
                    1,
                    "Address review comments",
                );
                pushes.push(Push {
                    at: fix_at,
                    before,
                    commits: fix,
                });
                approved = {
                    let d = hours(self.rng.lognormal(1.5 * slow, 0.9).clamp(0.05, 72.0));
                    self.snap(fix_at + d)
                };
                interactions.push((
                    approved,
                    Interaction::Review {
                        login: reviewer.clone(),
                        state: Review::Approved,
                        body: "Thanks, all good now.".into(),
                    },
                ));
            }
            Review::Commented => {
                let second = self.teammate(team, author);
                approved = {
                    let d = hours(self.rng.lognormal(2.0, 1.0).clamp(0.05, 48.0));
                    self.snap(first_review + d)
                };
                interactions.push((
                    approved,
                    Interaction::Review {
                        login: second,
                        state: Review::Approved,
                        body: String::new(),
                    },
                ));
            }
            Review::Approved => {}
        }
        if self.rng.chance(0.3) {
            let login = self.teammate(team, author);
            let at = first_review + minutes(self.rng.lognormal(40.0, 0.8).clamp(1.0, 600.0));
            interactions.push((
                at,
                Interaction::IssueComment {
                    login,
                    body: "Nice, this will help with the on-call load.".into(),
                },
            ));
        }
        let (merged, closed_unmerged) = if self.rng.chance(0.03) {
            (
                None,
                Some({
                    let d = hours(self.rng.lognormal(24.0, 0.5));
                    self.snap(approved + d)
                }),
            )
        } else {
            let m = {
                let d = minutes(self.rng.lognormal(45.0, 0.9).clamp(1.0, 2880.0));
                self.snap(approved + d)
            };
            (Some(m), None)
        };
        let additions = self.rng.lognormal(60.0, 1.2).clamp(1.0, 4000.0) as u64;
        let deletions = (additions as f64 * self.rng.unit() * 0.6) as u64;
        let labels = if title.starts_with("Fix") {
            vec!["bug"]
        } else {
            vec![]
        };
        let number = self.next_number(repo);
        let merge_sha = self.sha();
        Some(PrPlan {
            repo,
            number,
            author: author.to_string(),
            branch: format!(
                "{}/{}-{number}-{}",
                author.split('-').next().unwrap_or(author),
                &team.name[..3],
                slug(&title)
            ),
            title,
            body: Some("## What\nSee title.\n\n## Why\nPart of this quarter's roadmap.".into()),
            labels,
            draft,
            created,
            ready,
            pushes,
            interactions,
            merged,
            closed_unmerged,
            merge_sha,
            merger: author.to_string(),
            additions,
            deletions,
            reverts: None,
            expedite: false,
        })
    }

    fn next_number(&mut self, repo: &str) -> u64 {
        match self.repos.get_mut(repo) {
            Some(r) => {
                r.next_number += 1;
                r.next_number
            }
            None => 0,
        }
    }

    /// A dependency update from dependabot or renovate, approved and merged by a human.
    fn plan_bot_pr(&mut self, repo: &'static str, created: DateTime<Utc>) -> Option<PrPlan> {
        let spec = repo_spec(repo)?;
        let team = team_of_repo(repo)?;
        let (eco, dep) = *self.rng.pick(DEPS);
        let (major, minor, patch) = (
            self.rng.range(1, 9),
            self.rng.range(0, 40),
            self.rng.range(0, 20),
        );
        let (bot, title, branch) = if spec.bot == "dependabot" {
            (
                "dependabot[bot]",
                format!(
                    "Bump {dep} from {major}.{minor}.{patch} to {major}.{minor}.{}",
                    patch + 1
                ),
                format!(
                    "dependabot/{eco}/{}-{major}.{minor}.{}",
                    slug(dep),
                    patch + 1
                ),
            )
        } else {
            (
                "renovate[bot]",
                format!("Update dependency {dep} to v{major}.{}", minor + 1),
                format!("renovate/{}-{major}.x", slug(dep)),
            )
        };
        let commits = vec![Commit {
            sha: self.sha(),
            authored: created - Duration::seconds(50),
            message: title.clone(),
        }];
        let reviewer = self.teammate(team, "");
        let review_at = {
            let d = hours(self.rng.lognormal(8.0, 1.0).clamp(0.2, 120.0));
            self.snap(created + d)
        };
        let mut interactions = vec![(
            review_at,
            Interaction::Review {
                login: reviewer.clone(),
                state: Review::Approved,
                body: String::new(),
            },
        )];
        if self.rng.chance(0.1) {
            interactions.push((
                created + Duration::minutes(4),
                Interaction::IssueComment {
                    login: "codecov-commenter".into(),
                    body: "## Codecov Report\nNo coverage change.".into(),
                },
            ));
        }
        let (merged, closed_unmerged) = if self.rng.chance(0.12) {
            (None, Some(created + Duration::days(7)))
        } else {
            (
                Some(review_at + minutes(self.rng.range(2, 30) as f64)),
                None,
            )
        };
        let number = self.next_number(repo);
        let merge_sha = self.sha();
        Some(PrPlan {
            repo,
            number,
            author: bot.to_string(),
            title,
            body: Some(format!("Bumps {dep}. See the changelog for details.")),
            branch,
            labels: vec!["dependencies"],
            draft: false,
            created,
            ready: None,
            pushes: vec![Push {
                at: created - Duration::seconds(30),
                before: ZERO_SHA.to_string(),
                commits,
            }],
            interactions,
            merged,
            closed_unmerged,
            merge_sha,
            merger: reviewer,
            additions: self.rng.range(2, 30) as u64,
            deletions: self.rng.range(2, 30) as u64,
            reverts: None,
            expedite: false,
        })
    }

    /// A fast, urgent PR: a hotfix branch, or GitHub's revert of a shipped PR.
    fn plan_urgent_pr(
        &mut self,
        repo: &'static str,
        at: DateTime<Utc>,
        revert: Option<Pending>,
    ) -> Option<PrPlan> {
        let spec = repo_spec(repo)?;
        let team = team_of_repo(repo)?;
        let (author, title, body, branch, labels) = match &revert {
            Some(target) => (
                target.author.clone(),
                format!("Revert \"{}\"", target.title),
                format!("Reverts {}#{}", full_name(repo), target.number),
                format!("revert-{}-{}", target.number, target.branch),
                vec![],
            ),
            None => {
                let author = self.teammate(team, "");
                let topic = *self.rng.pick(spec.topics);
                let title = format!("Hotfix: {topic} errors after last deploy");
                let branch = format!(
                    "hotfix/{}-{}",
                    slug(topic),
                    self.repos.get(repo).map_or(0, |r| r.next_number + 1)
                );
                (
                    author,
                    title,
                    "Fixes the incident; follow-up in the postmortem.".into(),
                    branch,
                    vec!["hotfix"],
                )
            }
        };
        let t0 = at + minutes(self.rng.lognormal(20.0, 0.6).clamp(3.0, 240.0));
        let push_at = t0 + minutes(self.rng.lognormal(15.0, 0.6).clamp(2.0, 180.0));
        let created = push_at + Duration::minutes(2);
        let commits = self.commits(&author, t0, push_at - Duration::minutes(1), 1, &title);
        let reviewer = self.teammate(team, &author);
        let review_at = created + minutes(self.rng.lognormal(12.0, 0.7).clamp(1.0, 240.0));
        let merged = review_at + minutes(self.rng.range(2, 15) as f64);
        let number = self.next_number(repo);
        let merge_sha = self.sha();
        Some(PrPlan {
            repo,
            number,
            author: author.clone(),
            title,
            body: Some(body),
            branch,
            labels,
            draft: false,
            created,
            ready: None,
            pushes: vec![Push {
                at: push_at,
                before: ZERO_SHA.to_string(),
                commits,
            }],
            interactions: vec![(
                review_at,
                Interaction::Review {
                    login: reviewer,
                    state: Review::Approved,
                    body: "Approving to stop the bleeding.".into(),
                },
            )],
            merged: Some(merged),
            closed_unmerged: None,
            merge_sha,
            merger: author,
            additions: self.rng.range(1, 40) as u64,
            deletions: self.rng.range(1, 40) as u64,
            reverts: revert.map(|r| r.number),
            expedite: true,
        })
    }

    fn pr_json(
        &self,
        p: &PrPlan,
        at: DateTime<Utc>,
        draft: bool,
        head: &str,
        merged: bool,
        closed: bool,
    ) -> Value {
        let full = full_name(p.repo);
        let closed_at = if closed { Some(ts(at)) } else { None };
        json!({
            "url": format!("https://api.github.com/repos/{full}/pulls/{}", p.number),
            "id": crate::payloads::stable_id(&format!("{full}#{}", p.number), 1_800_000_000),
            "html_url": pr_url(p.repo, p.number),
            "number": p.number,
            "state": if closed { "closed" } else { "open" },
            "locked": false,
            "title": p.title,
            "user": user(&p.author),
            "body": p.body,
            "labels": p.labels.iter().map(|l| label(l)).collect::<Vec<_>>(),
            "created_at": ts(p.created),
            "updated_at": ts(at),
            "closed_at": closed_at,
            "merged_at": if merged { Some(ts(at)) } else { None },
            "merge_commit_sha": if merged { Some(p.merge_sha.clone()) } else { None },
            "draft": draft,
            "head": {"label": format!("{ORG}:{}", p.branch), "ref": p.branch, "sha": head},
            "base": {"label": format!("{ORG}:main"), "ref": "main", "sha": ""},
            "author_association": if is_bot(&p.author) { "NONE" } else { "MEMBER" },
            "merged": merged,
            "merged_by": if merged { Some(user(&p.merger)) } else { None },
            "commits": p.pushes.iter().map(|x| x.commits.len()).sum::<usize>(),
            "additions": p.additions,
            "deletions": p.deletions,
            "changed_files": 1 + (p.additions + p.deletions) / 40,
        })
    }

    fn push_json(
        &self,
        repo: &str,
        branch: &str,
        push: &Push,
        after: &str,
        pusher: &str,
        created: bool,
    ) -> Value {
        let full = full_name(repo);
        let commits: Vec<Value> = push
            .commits
            .iter()
            .map(|c| {
                let author = json!({"name": pusher, "email": format!("{pusher}@users.noreply.github.com"), "username": pusher});
                json!({"id": c.sha, "tree_id": c.sha.chars().rev().collect::<String>(), "distinct": true,
                       "message": c.message, "timestamp": ts_local(c.authored),
                       "url": format!("https://github.com/{full}/commit/{}", c.sha),
                       "author": author, "committer": author,
                       "added": [], "removed": [], "modified": ["src/lib.rs"]})
            })
            .collect();
        json!({
            "ref": format!("refs/heads/{branch}"),
            "before": push.before,
            "after": after,
            "repository": push_repository(repo, push.at),
            "pusher": {"name": pusher, "email": format!("{pusher}@users.noreply.github.com")},
            "organization": organization(),
            "sender": user(pusher),
            "created": created,
            "deleted": false,
            "forced": false,
            "base_ref": null,
            "compare": format!("https://github.com/{full}/compare/{}...{}", &push.before[..12.min(push.before.len())], &after[..12.min(after.len())]),
            "head_commit": commits.last(),
            "commits": commits,
        })
    }

    /// Emits a PR's deliveries (up to the end of the history), records its truth, and queues its
    /// merge.
    fn emit_pr(&mut self, p: PrPlan) {
        if p.created >= self.end {
            return;
        }
        self.entity = format!("pr:{}", p.number);
        let end = self.end;
        let pusher = p.author.clone();
        let mut head = String::new();
        for (i, push) in p.pushes.iter().enumerate() {
            let after = push
                .commits
                .last()
                .map(|c| c.sha.clone())
                .unwrap_or_default();
            let body = self.push_json(p.repo, &p.branch, push, &after, &pusher, i == 0);
            self.github(push.at, "push", body);
            if i > 0 && push.at < end {
                let pr = self.pr_json(
                    &p,
                    push.at + Duration::seconds(3),
                    false,
                    &after,
                    false,
                    false,
                );
                let body = json!({"action": "synchronize", "number": p.number, "before": push.before, "after": after,
                                  "pull_request": pr, "repository": repository(p.repo), "organization": organization(), "sender": user(&pusher)});
                self.github(push.at + Duration::seconds(3), "pull_request", body);
            }
            if i == 0 {
                head = after;
            }
        }
        let opened = self.pr_json(&p, p.created, p.draft, &head, false, false);
        let body = json!({"action": "opened", "number": p.number, "pull_request": opened,
                          "repository": repository(p.repo), "organization": organization(), "sender": user(&p.author)});
        self.github(p.created, "pull_request", body);
        if let Some(ready) = p.ready {
            let pr = self.pr_json(&p, ready, false, &head, false, false);
            let body = json!({"action": "ready_for_review", "number": p.number, "pull_request": pr,
                              "repository": repository(p.repo), "organization": organization(), "sender": user(&p.author)});
            self.github(ready, "pull_request", body);
        }
        let final_head = p
            .pushes
            .last()
            .and_then(|x| x.commits.last())
            .map(|c| c.sha.clone())
            .unwrap_or_default();
        let mut interactions_truth = Vec::new();
        let mut changes_requested = false;
        for (at, interaction) in &p.interactions {
            if *at >= end {
                continue;
            }
            let small_pr = json!({"url": format!("https://api.github.com/repos/{}/pulls/{}", full_name(p.repo), p.number),
                                  "number": p.number, "title": p.title, "state": "open", "user": user(&p.author),
                                  "html_url": pr_url(p.repo, p.number), "created_at": ts(p.created), "updated_at": ts(*at),
                                  "draft": false, "head": {"ref": p.branch, "sha": final_head}, "base": {"ref": "main"}});
            match interaction {
                Interaction::Review { login, state, body } => {
                    let id = self.github_id();
                    let state_name = match state {
                        Review::Approved => "approved",
                        Review::ChangesRequested => "changes_requested",
                        Review::Commented => "commented",
                    };
                    changes_requested |= *state == Review::ChangesRequested;
                    let review = json!({"id": id, "node_id": format!("PRR_kwDO{id}"), "user": user(login), "body": body,
                                        "commit_id": final_head, "submitted_at": ts(*at), "state": state_name,
                                        "html_url": format!("{}#pullrequestreview-{id}", pr_url(p.repo, p.number)),
                                        "author_association": "MEMBER"});
                    self.github(*at, "pull_request_review", json!({"action": "submitted", "review": review, "pull_request": small_pr,
                                 "repository": repository(p.repo), "organization": organization(), "sender": user(login)}));
                    interactions_truth.push((login.clone(), *at));
                }
                Interaction::ReviewComment { login, body } => {
                    let id = self.github_id();
                    let comment = json!({"id": id, "user": user(login), "body": body, "path": "src/lib.rs",
                                         "line": self.rng.range(5, 400), "side": "RIGHT", "commit_id": final_head,
                                         "created_at": ts(*at), "updated_at": ts(*at),
                                         "html_url": format!("{}#discussion_r{id}", pr_url(p.repo, p.number)),
                                         "author_association": "MEMBER"});
                    self.github(*at, "pull_request_review_comment", json!({"action": "created", "comment": comment, "pull_request": small_pr,
                                 "repository": repository(p.repo), "organization": organization(), "sender": user(login)}));
                    interactions_truth.push((login.clone(), *at));
                }
                Interaction::IssueComment { login, body } => {
                    let id = self.github_id();
                    let issue = json!({"number": p.number, "title": p.title, "user": user(&p.author), "state": "open",
                                       "html_url": pr_url(p.repo, p.number), "created_at": ts(p.created), "updated_at": ts(*at),
                                       "pull_request": {"url": format!("https://api.github.com/repos/{}/pulls/{}", full_name(p.repo), p.number),
                                                        "html_url": pr_url(p.repo, p.number)}});
                    let comment = json!({"id": id, "user": user(login), "body": body, "created_at": ts(*at), "updated_at": ts(*at),
                                         "html_url": format!("{}#issuecomment-{id}", pr_url(p.repo, p.number)),
                                         "author_association": if login.contains("codecov") { "NONE" } else { "MEMBER" }});
                    self.github(*at, "issue_comment", json!({"action": "created", "issue": issue, "comment": comment,
                                 "repository": repository(p.repo), "organization": organization(), "sender": user(login)}));
                    interactions_truth.push((login.clone(), *at));
                }
            }
        }
        let merged = p.merged.filter(|m| *m + Duration::seconds(10) < end);
        if let Some(m) = merged {
            let pr = self.pr_json(&p, m, false, &final_head, true, true);
            let body = json!({"action": "closed", "number": p.number, "pull_request": pr,
                              "repository": repository(p.repo), "organization": organization(), "sender": user(&p.merger)});
            self.github(m, "pull_request", body);
        } else if let Some(c) = p.closed_unmerged {
            let pr = self.pr_json(&p, c, false, &final_head, false, true);
            let body = json!({"action": "closed", "number": p.number, "pull_request": pr,
                              "repository": repository(p.repo), "organization": organization(), "sender": user(&p.author)});
            self.github(c, "pull_request", body);
        }
        self.truth.prs.push(PrTruth {
            repo: full_name(p.repo),
            number: p.number,
            author: p.author.clone(),
            is_bot: is_bot(&p.author) || p.author == "codecov-commenter",
            title: p.title.clone(),
            created_at: p.created,
            reviewable_at: p
                .ready
                .filter(|r| *r < end)
                .map_or(p.created, |r| r.max(p.created)),
            head_pushes: p
                .pushes
                .iter()
                .filter(|x| x.at < end)
                .map(|x| (x.at, x.commits.iter().map(|c| c.authored).collect()))
                .collect(),
            interactions: interactions_truth,
            changes_requested,
            merged_at: merged,
            merge_sha: merged.map(|_| p.merge_sha.clone()),
            reverts: p.reverts,
            hotfix: p.branch.starts_with("hotfix/"),
        });
        if let Some(m) = merged {
            self.schedule(m, Event::Merge(Box::new(p)));
        }
    }

    // ---- deployments ---------------------------------------------------------------------

    fn on_merge(&mut self, p: PrPlan) {
        self.entity = "branch:main".into();
        let Some(state) = self.repos.get_mut(p.repo) else {
            return;
        };
        let before = std::mem::replace(&mut state.head, p.merge_sha.clone());
        state.pending.push(Pending {
            number: p.number,
            title: p.title.clone(),
            author: p.author.clone(),
            branch: p.branch.clone(),
            sha: p.merge_sha.clone(),
        });
        let merged = p.merged.unwrap_or(self.start);
        let push = Push {
            at: merged + Duration::seconds(2),
            before,
            commits: vec![Commit {
                sha: p.merge_sha.clone(),
                authored: merged,
                message: format!("{} (#{})", p.title, p.number),
            }],
        };
        self.truth
            .main_history
            .entry(full_name(p.repo))
            .or_default()
            .push(p.merge_sha.clone());
        let body = self.push_json(p.repo, "main", &push, &p.merge_sha, &p.merger, false);
        self.github(push.at, "push", body);
        let deploys = repo_spec(p.repo).map_or(Deploys::Never, |s| s.deploys);
        if p.expedite && deploys != Deploys::Never {
            let at = merged + minutes(self.rng.range(3, 8) as f64);
            self.schedule(at, Event::DeploySlot(p.repo));
        } else if matches!(deploys, Deploys::Continuous | Deploys::GenericCi) {
            let at = merged + minutes(self.rng.range(8, 25) as f64);
            self.schedule(at, Event::DeploySlot(p.repo));
        }
    }

    fn deployment_json(
        &self,
        id: u64,
        repo: &str,
        sha: &str,
        environment: &str,
        at: DateTime<Utc>,
    ) -> Value {
        let full = full_name(repo);
        json!({"url": format!("https://api.github.com/repos/{full}/deployments/{id}"), "id": id,
               "node_id": format!("DE_kwDO{id}"), "task": "deploy", "sha": sha, "ref": "main",
               "environment": environment, "original_environment": environment, "description": "Deploy main",
               "creator": user("github-actions[bot]"), "created_at": ts(at), "updated_at": ts(at),
               "payload": {}, "transient_environment": false, "production_environment": environment == "production",
               "statuses_url": format!("https://api.github.com/repos/{full}/deployments/{id}/statuses")})
    }

    fn deployment_status(
        &mut self,
        repo: &str,
        deployment: &Value,
        environment: &str,
        state: &str,
        at: DateTime<Utc>,
    ) {
        let id = self.github_id();
        let full = full_name(repo);
        let status = json!({"id": id, "node_id": format!("DES_kwDO{id}"), "state": state, "environment": environment,
                            "creator": user("github-actions[bot]"), "description": format!("Deployment {state}"),
                            "target_url": format!("https://github.com/{full}/actions/runs/{id}"),
                            "log_url": format!("https://github.com/{full}/actions/runs/{id}"),
                            "created_at": ts(at), "updated_at": ts(at)});
        self.github(at, "deployment_status", json!({"action": "created", "deployment_status": status, "deployment": deployment,
                     "repository": repository(repo), "organization": organization(), "sender": user("github-actions[bot]")}));
    }

    /// Starts a production deployment of `sha` (after staging, unless it is a re-run).
    fn start_deploy(&mut self, repo: &'static str, sha: String, at: DateTime<Utc>, attempt: u32) {
        self.entity = format!("deploy:{sha}");
        let deploys = repo_spec(repo).map_or(Deploys::Never, |s| s.deploys);
        let team = team_of_repo(repo).map_or("", |t| t.name);
        let mut prod_start = at;
        if attempt == 1 {
            let staging_done = at + minutes(self.rng.range(2, 6) as f64);
            if deploys == Deploys::GenericCi {
                let run = self.next_ci_run(repo);
                let body = json!({"repo": full_name(repo), "environment": "staging", "sha": sha, "status": "success",
                                  "started_at": ts(at), "finished_at": ts(staging_done), "id": format!("buildkite-{repo}-{run}")});
                self.generic(staging_done, "/webhooks/deployments", body);
            } else {
                let id = self.github_id();
                let d = self.deployment_json(id, repo, &sha, "staging", at);
                self.github(at, "deployment", json!({"action": "created", "deployment": d.clone(), "repository": repository(repo),
                             "organization": organization(), "sender": user("github-actions[bot]")}));
                self.deployment_status(repo, &d, "staging", "success", staging_done);
            }
            prod_start = staging_done + minutes(self.rng.range(1, 4) as f64);
        }
        let level = self.struggle(team, prod_start);
        let mut p_fail = [0.05, 0.24, 0.3, 0.35][level as usize];
        if attempt > 1 {
            p_fail /= 3.0;
        }
        let success = !self.rng.chance(p_fail);
        let finished = prod_start + minutes(self.rng.range(3, 12) as f64);
        let (entity, github) = if deploys == Deploys::GenericCi {
            let run = self.next_ci_run(repo);
            (format!("gen:buildkite-{repo}-{run}"), None)
        } else {
            let id = self.github_id();
            let d = self.deployment_json(id, repo, &sha, "production", prod_start);
            self.github(
                prod_start,
                "deployment",
                json!({"action": "created", "deployment": d.clone(), "repository": repository(repo),
                         "organization": organization(), "sender": user("github-actions[bot]")}),
            );
            // Some pipelines report progress too (not terminal: counts for nothing).
            if self.rng.chance(0.15) {
                self.deployment_status(
                    repo,
                    &d,
                    "production",
                    "in_progress",
                    prod_start + Duration::seconds(20),
                );
            }
            (format!("gh:{id}"), Some(d))
        };
        if let Some(state) = self.repos.get_mut(repo) {
            state.busy = true;
        }
        let run = DeployRun {
            repo,
            sha,
            started: prod_start,
            finished,
            success,
            attempt,
            entity,
            github,
        };
        self.schedule(finished, Event::DeployFinish(Box::new(run)));
    }

    fn next_ci_run(&mut self, repo: &str) -> u64 {
        match self.repos.get_mut(repo) {
            Some(r) => {
                r.ci_run += 1;
                r.ci_run
            }
            None => 0,
        }
    }

    fn generic(&mut self, at: DateTime<Utc>, path: &'static str, body: Value) {
        if at < self.end {
            let mut d = generic_delivery(&self.secrets, at, path, &body);
            d.entity.clone_from(&self.entity);
            self.deliveries.push(d);
        }
    }

    fn on_slot(&mut self, repo: &'static str, at: DateTime<Utc>) {
        let Some(state) = self.repos.get(repo) else {
            return;
        };
        if state.busy || state.last_success_sha.as_deref() == Some(state.head.as_str()) {
            return;
        }
        let sha = state.head.clone();
        self.start_deploy(repo, sha, at, 1);
    }

    fn on_finish(&mut self, run: DeployRun) {
        self.entity = format!("deploy:{}", run.sha);
        let repo = run.repo;
        let state_name = if run.success { "success" } else { "failure" };
        match &run.github {
            Some(d) => {
                let d = d.clone();
                self.deployment_status(repo, &d, "production", state_name, run.finished);
            }
            None => {
                let id = run.entity.trim_start_matches("gen:").to_string();
                let body = json!({"repo": full_name(repo), "environment": "production", "sha": run.sha, "status": state_name,
                                  "started_at": ts(run.started), "finished_at": ts(run.finished), "id": id});
                self.generic(run.finished, "/webhooks/deployments", body);
            }
        }
        self.truth.deployments.push(DeploymentTruth {
            repo: full_name(repo),
            entity: run.entity.clone(),
            sha: run.sha.clone(),
            success: run.success,
            started_at: run.started,
            finished_at: run.finished,
        });
        if !run.success {
            // A re-run of the same commit after someone looked at the logs.
            let retry = run.finished + minutes(self.rng.range(10, 45) as f64);
            let attempt = run.attempt + 1;
            self.start_deploy_later(repo, run.sha, retry, attempt);
            return;
        }
        let Some(state) = self.repos.get_mut(repo) else {
            return;
        };
        state.busy = false;
        state.last_success_sha = Some(run.sha.clone());
        // Merges that landed while deploying stay pending for the next deployment.
        let mut shipped = std::mem::take(&mut state.pending);
        let later = match shipped.iter().position(|p| p.sha == run.sha) {
            Some(i) => shipped.split_off(i + 1),
            None => std::mem::take(&mut shipped),
        };
        state.pending = later;
        let more = state.head != run.sha;
        let deploys = repo_spec(repo).map_or(Deploys::Never, |s| s.deploys);
        if more && matches!(deploys, Deploys::Continuous | Deploys::GenericCi) {
            let at = run.finished + minutes(self.rng.range(2, 10) as f64);
            self.schedule(at, Event::DeploySlot(repo));
        }
        let team = team_of_repo(repo).map_or("", |t| t.name);
        let level = self.struggle(team, run.finished);
        let humans: Vec<Pending> = shipped.into_iter().filter(|p| !is_bot(&p.author)).collect();
        if let Some(service) = service_of_repo(repo) {
            let p_incident = [0.025, 0.15, 0.2, 0.25][level as usize];
            if self.rng.chance(p_incident) {
                let at = run.finished + minutes(self.rng.lognormal(35.0, 0.8).clamp(4.0, 600.0));
                self.open_incident(service, at, Some((repo, humans.clone())));
                return;
            }
        }
        let p_revert = [0.015, 0.06, 0.08, 0.1][level as usize];
        if !humans.is_empty() && self.rng.chance(p_revert) {
            // QA finds the bug a few hours later; the change is reverted without an incident.
            let target = humans[humans.len() - 1].clone();
            let d = hours(self.rng.lognormal(5.0, 0.7));
            let at = self.snap(run.finished + d);
            if let Some(plan) = self.plan_urgent_pr(repo, at, Some(target)) {
                self.emit_pr(plan);
            }
        }
    }

    fn start_deploy_later(
        &mut self,
        repo: &'static str,
        sha: String,
        at: DateTime<Utc>,
        attempt: u32,
    ) {
        // Kept busy until the re-run; the slot handler would otherwise start a parallel one.
        if at >= self.end {
            return;
        }
        self.start_deploy(repo, sha, at, attempt);
    }

    // ---- incidents -----------------------------------------------------------------------

    fn open_incident(
        &mut self,
        service: &'static ServiceSpec,
        at: DateTime<Utc>,
        cause: Option<(&'static str, Vec<Pending>)>,
    ) {
        if at >= self.end {
            return;
        }
        let resolved = at + minutes(self.rng.lognormal(70.0, 0.9).clamp(8.0, 2880.0));
        let titles = [
            "Elevated 5xx error rate",
            "p99 latency above SLO",
            "Error budget burn rate alert",
            "Health check failing in eu-central-1",
            "Queue backlog growing",
        ];
        let title = format!("{}: {}", service.pagerduty_name, self.rng.pick(&titles));
        let repo = cause.as_ref().map_or(service.repos[0], |c| c.0);
        let use_github = self.rng.chance(0.15);
        self.entity = format!("incident:{}", self.truth.incidents.len());
        let id = if use_github {
            let team = team_of_repo(repo).map_or(TEAMS[0], |t| *t);
            let reporter = self.teammate(&team, "");
            let number = self.next_number(repo);
            let full = full_name(repo);
            let issue = |state: &str, updated: DateTime<Utc>, closed: Option<DateTime<Utc>>| {
                json!({"url": format!("https://api.github.com/repos/{full}/issues/{number}"),
                       "html_url": format!("https://github.com/{full}/issues/{number}"),
                       "id": crate::payloads::stable_id(&format!("{full}/issues/{number}"), 2_400_000_000),
                       "number": number, "title": title, "user": user(&reporter),
                       "labels": [label("incident"), label("sev2")], "state": state, "locked": false,
                       "comments": 0, "created_at": ts(at), "updated_at": ts(updated),
                       "closed_at": closed.map(ts), "author_association": "MEMBER",
                       "body": "Customers report failures. Investigating."})
            };
            let opened = issue("open", at, None);
            self.github(
                at,
                "issues",
                json!({"action": "opened", "issue": opened, "repository": repository(repo),
                         "organization": organization(), "sender": user(&reporter)}),
            );
            let closed = issue("closed", resolved, Some(resolved));
            self.github(
                resolved,
                "issues",
                json!({"action": "closed", "issue": closed, "repository": repository(repo),
                         "organization": organization(), "sender": user(&reporter)}),
            );
            format!("gh:{full}#{number}")
        } else {
            self.next_pd_number += 1;
            let number = self.next_pd_number;
            let id = format!("Q{}", self.rng.alnum_upper(13));
            let urgency = if self.rng.chance(0.7) { "high" } else { "low" };
            let data = |status: &str| {
                json!({"id": id, "type": "incident", "self": format!("https://api.pagerduty.com/incidents/{id}"),
                       "html_url": format!("https://{ORG}.pagerduty.com/incidents/{id}"), "number": number,
                       "status": status, "incident_key": format!("{}-{number}", service.name), "created_at": ts(at),
                       "title": title,
                       "service": {"html_url": format!("https://{ORG}.pagerduty.com/services/{}", service.pagerduty_id),
                                   "id": service.pagerduty_id, "self": format!("https://api.pagerduty.com/services/{}", service.pagerduty_id),
                                   "summary": service.pagerduty_name, "type": "service_reference"},
                       "assignees": [], "escalation_policy": {"id": "PESC0DM", "summary": "Engineering on-call", "type": "escalation_policy_reference"},
                       "teams": [], "priority": null, "urgency": urgency, "conference_bridge": null, "resolve_reason": null})
            };
            let ack = at + minutes(self.rng.range(1, 12) as f64);
            for (event_type, status, when) in [
                ("incident.triggered", "triggered", at),
                ("incident.acknowledged", "acknowledged", ack),
                ("incident.resolved", "resolved", resolved),
            ] {
                if when >= self.end {
                    continue;
                }
                let event_id = self.rng.alnum_upper(26);
                let body = json!({"event": {"id": event_id, "event_type": event_type, "resource_type": "incident",
                                            "occurred_at": ts_millis(when), "agent": null, "client": null, "data": data(status)}});
                let mut d = pagerduty_delivery(&self.secrets, when, &body);
                d.entity = format!("incident:{id}");
                self.deliveries.push(d);
            }
            format!("pd:{id}")
        };
        self.truth.incidents.push(IncidentTruth {
            id,
            service: service.name.to_string(),
            opened_at: at,
            resolved_at: Some(resolved).filter(|r| *r < self.end),
        });
        // Remediation: revert the change that caused it, or ship a hotfix.
        if let Some((repo, humans)) = cause {
            let team = team_of_repo(repo).map_or("", |t| t.name);
            let struggling = self.struggle(team, at) > 0;
            if let Some(target) = humans
                .last()
                .cloned()
                .filter(|_| self.rng.chance(if struggling { 0.6 } else { 0.3 }))
            {
                if let Some(plan) = self.plan_urgent_pr(repo, at, Some(target)) {
                    self.emit_pr(plan);
                }
            } else if self.rng.chance(0.6) {
                if let Some(plan) = self.plan_urgent_pr(repo, at, None) {
                    self.emit_pr(plan);
                }
            }
        }
    }

    // ---- the whole history ---------------------------------------------------------------

    fn bootstrap(&mut self) {
        // Each repository exists and was deployed once before the history starts, so the first
        // deployment inside it has a predecessor (a repo's first deployment ships nothing).
        let day = (self.start - Duration::days(3))
            .with_timezone(&TIMEZONE)
            .date_naive();
        self.entity = "branch:main".into();
        for team in TEAMS {
            for spec in team.repos {
                let at = local_at(day, 10, self.rng.range(0, 50) as u32);
                let root = self.sha();
                let pusher = team.members[0];
                let push = Push {
                    at,
                    before: ZERO_SHA.to_string(),
                    commits: vec![Commit {
                        sha: root.clone(),
                        authored: at - Duration::minutes(5),
                        message: "Release branch cut".into(),
                    }],
                };
                let body = self.push_json(spec.name, "main", &push, &root, pusher, false);
                self.github(at, "push", body);
                self.truth
                    .main_history
                    .insert(full_name(spec.name), vec![root.clone()]);
                self.repos.insert(
                    spec.name,
                    RepoState {
                        next_number: self.rng.range(100, 2400) as u64,
                        head: root.clone(),
                        last_success_sha: None,
                        busy: false,
                        pending: Vec::new(),
                        ci_run: self.rng.range(1000, 9000) as u64,
                    },
                );
                if spec.deploys != Deploys::Never {
                    self.schedule(at + Duration::minutes(20), Event::DeploySlot(spec.name));
                }
            }
        }
    }

    fn schedule_trains(&mut self) {
        let first_day = self.start.with_timezone(&TIMEZONE).date_naive();
        for day_index in 0..(self.weeks * 7) {
            let Some(day) = first_day.checked_add_signed(Duration::days(i64::from(day_index)))
            else {
                continue;
            };
            if is_weekend(day.weekday()) {
                continue;
            }
            for team in TEAMS {
                for spec in team.repos {
                    let hours_of_day: Vec<u32> = match spec.deploys {
                        Deploys::Train(h) => h.to_vec(),
                        Deploys::Weekly if matches!(day.weekday(), Weekday::Tue | Weekday::Thu) => {
                            vec![14]
                        }
                        _ => vec![],
                    };
                    for h in hours_of_day {
                        let at = local_at(day, h, self.rng.range(0, 15) as u32);
                        self.schedule(at, Event::DeploySlot(spec.name));
                    }
                }
            }
        }
    }

    fn plan_work(&mut self) {
        let first_day = self.start.with_timezone(&TIMEZONE).date_naive();
        let mut plans = Vec::new();
        for team in TEAMS {
            for member in team.members {
                let rate = self.rng.lognormal(2.6, 0.3).clamp(1.2, 5.5) * self.activity;
                let vacation = if self.rng.chance(0.35) && self.weeks > 4 {
                    Some(self.rng.range(0, i64::from(self.weeks) - 4))
                } else {
                    None
                };
                for day_index in 0..(self.weeks * 7) {
                    let Some(day) =
                        first_day.checked_add_signed(Duration::days(i64::from(day_index)))
                    else {
                        continue;
                    };
                    if Some(i64::from(day_index / 7)) == vacation {
                        continue;
                    }
                    let weekend = is_weekend(day.weekday());
                    if weekend && !self.rng.chance(0.03) {
                        continue;
                    }
                    let n = if weekend {
                        1
                    } else {
                        self.rng.poisson(rate / 5.0)
                    };
                    for _ in 0..n {
                        let minute = self.rng.range(0, 8 * 60 + 30) as u32;
                        let t0 = local_at(day, 9 + minute / 60, minute % 60);
                        let repo = if self.rng.chance(0.07) {
                            let other = self.rng.pick(TEAMS);
                            self.weighted_repo(other)
                        } else {
                            self.weighted_repo(team)
                        };
                        plans.push((t0, repo, member.to_string()));
                    }
                }
            }
        }
        // Dependency bots open their PRs early on Monday (dependabot) and Wednesday (renovate).
        for week in 0..self.weeks {
            for team in TEAMS {
                for spec in team.repos {
                    let weekday_offset = if spec.bot == "dependabot" { 0 } else { 2 };
                    let Some(day) = first_day
                        .checked_add_signed(Duration::days(i64::from(week * 7 + weekday_offset)))
                    else {
                        continue;
                    };
                    let n = self.rng.poisson(1.0);
                    for k in 0..n.min(3) {
                        let at =
                            local_at(day, 5, (self.rng.range(0, 40) + 7 * i64::from(k)) as u32);
                        plans.push((at, spec.name, String::new()));
                    }
                }
            }
        }
        plans.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        for (t0, repo, author) in plans {
            let plan = if author.is_empty() {
                self.plan_bot_pr(repo, t0)
            } else {
                self.plan_human_pr(repo, &author, t0)
            };
            if let Some(plan) = plan {
                self.emit_pr(plan);
            }
        }
        // Background incidents that no deployment caused (a cloud provider, a traffic spike).
        for service in SERVICES {
            for week in 0..self.weeks {
                if self.rng.chance(0.22) {
                    let at = self.start
                        + Duration::days(i64::from(week) * 7)
                        + Duration::minutes(self.rng.range(0, 7 * 24 * 60));
                    self.open_incident(service, at, None);
                }
            }
        }
    }

    fn weighted_repo(&mut self, team: &TeamSpec) -> &'static str {
        let total: f64 = team.repos.iter().map(|r| r.weight).sum();
        let mut x = self.rng.unit() * total;
        for spec in team.repos {
            if x < spec.weight {
                return spec.name;
            }
            x -= spec.weight;
        }
        TEAMS
            .iter()
            .find(|t| t.name == team.name)
            .and_then(|t| t.repos.last())
            .map_or("web", |r| r.name)
    }

    fn run(&mut self) {
        while let Some(Reverse((at, seq))) = self.queue.pop() {
            let Some(event) = self.events.remove(&seq) else {
                continue;
            };
            match event {
                Event::Merge(p) => self.on_merge(*p),
                Event::DeploySlot(repo) => self.on_slot(repo, at),
                Event::DeployFinish(run) => self.on_finish(*run),
            }
        }
    }
}

pub fn simulate(params: &Params) -> Output {
    let mut rng = Rng::new(params.seed);
    let struggling = *rng.pick(STRUGGLE_CANDIDATES);
    let this_week = flowmeter::time::iso_week(params.now, TIMEZONE);
    let last_week = this_week.prev();
    let mut first_week = last_week;
    for _ in 1..params.weeks.max(1) {
        first_week = first_week.prev();
    }
    let start = first_week.monday(TIMEZONE);
    let end = this_week.monday(TIMEZONE);
    let mut world = World {
        rng,
        secrets: params.secrets.clone(),
        start,
        end,
        weeks: params.weeks.max(1),
        struggling,
        deliveries: Vec::new(),
        truth: Truth::new(start, end),
        repos: BTreeMap::new(),
        queue: BinaryHeap::new(),
        events: BTreeMap::new(),
        seq: 0,
        next_github_id: 2_100_000_000,
        next_pd_number: 4100,
        activity: params.activity,
        entity: String::new(),
    };
    world.bootstrap();
    world.schedule_trains();
    world.plan_work();
    world.run();
    let mut deliveries = std::mem::take(&mut world.deliveries);
    // Stable: equal times keep their emission order.
    deliveries.sort_by_key(|d| d.at);
    Output {
        deliveries,
        truth: world.truth,
        struggling_team: struggling.to_string(),
        first_week,
        last_week,
    }
}
