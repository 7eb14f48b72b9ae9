//! The simulation: engineers write pull requests, teammates review them, merges land on `main`,
//! deploy pipelines ship `main` to staging and production, some deployments fail and are
//! re-run, some changes cause incidents that are fixed by a hotfix or a revert. Every step is
//! emitted as the webhook delivery its source would send, and recorded as ground truth
//! (`truth`), from which the expected metrics are computed independently of Flowmeter.
//!
//! Deterministic: one SplitMix64 stream drives everything, consumed in a fixed order (sorted
//! maps, a time-ordered event queue with insertion sequence numbers as tie-breakers).
//!
//! One module per kind of activity, each adding to the one [`World`]: the calendar
//! (`calendar`), planning pull requests (`plans`) and emitting them (`pull_requests`),
//! deployments (`deployments`), incidents (`incidents`), the org's schedule of work
//! (`schedule`), and the Jira and Linear tickets the pull requests name (`tickets`, drawn from a
//! stream of their own: `Rng::fork(seed, "tickets")`), and GitHub's security alerts of the
//! GitHub repositories (`security`, from `Rng::fork(seed, "security")`).

mod calendar;
mod deployments;
mod gitlab;
mod incidents;
mod plans;
mod pull_requests;
mod schedule;
mod security;
mod tickets;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use chrono::{DateTime, Utc};
use flowmeter::time::IsoWeek;
use serde_json::Value;

use crate::payloads::{generic_delivery, github_delivery, DemoDelivery, Secrets};
use crate::rng::Rng;
use crate::spec::{deploy_reporter, host_of, DeployReporter, Host, STRUGGLE_CANDIDATES, TIMEZONE};
use crate::truth::Truth;

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
    /// The ticket (`PAY-142`) the title or head branch names (a revert names its target's).
    ticket: Option<String>,
}

#[derive(Clone, Debug)]
struct DeployRun {
    repo: &'static str,
    sha: String,
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
    success: bool,
    attempt: u32,
    /// Entity id as Flowmeter stores it: `gh:<id>`, `gl:<id>`, `argocd:<app>@<env>:<start>`
    /// or `gen:<id>`.
    entity: String,
    report: DeployReport,
}

/// How a production deployment's end is reported. The GitHub deployment is there for every
/// reporter but the CI: GitHub's status is drawn whoever sends it (`World::github`).
#[derive(Clone, Debug)]
enum DeployReport {
    /// A status of this GitHub deployment.
    GitHub(Value),
    /// A Deployment Hook of this GitLab deployment id.
    GitLab(Value, u64),
    /// A finished sync of the Argo CD Application.
    ArgoCd(Value),
    /// The CI's `POST /webhooks/deployments` (the run id: `entity` without `gen:`).
    Generic,
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
    ticket: Option<String>,
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
    /// Tickets: their own stream, so that adding them changed nothing else the seed decides.
    tickets: tickets::Tickets,
    /// The ids of what GitLab and Argo CD send: their own stream, for the same reason.
    hosts: Rng,
}

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

impl World {
    // ---- ids -----------------------------------------------------------------------------

    fn github_id(&mut self) -> u64 {
        self.next_github_id += self.rng.range(1, 900) as u64;
        self.next_github_id
    }

    fn sha(&mut self) -> String {
        self.rng.hex(40)
    }

    // ---- output --------------------------------------------------------------------------

    /// Sends a GitHub delivery, unless GitHub does not report it: a repository on GitLab, or
    /// the deployments Argo CD reports. Those are still drawn (their id), so that the seed
    /// decides the same history wherever a repository is hosted; GitLab's and Argo CD's own
    /// deliveries are sent beside them ([`gitlab`]).
    fn github(&mut self, at: DateTime<Utc>, event: &str, body: Value) {
        if at >= self.end {
            return;
        }
        let id = self.rng.uuid();
        if reported_elsewhere(event, &body) {
            return;
        }
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

    fn generic(&mut self, at: DateTime<Utc>, path: &'static str, body: Value) {
        if at < self.end {
            let mut d = generic_delivery(&self.secrets, at, path, &body);
            d.entity.clone_from(&self.entity);
            self.deliveries.push(d);
        }
    }

    // ---- the event loop ------------------------------------------------------------------

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

/// Whether another source than GitHub reports what this GitHub delivery says.
fn reported_elsewhere(event: &str, body: &Value) -> bool {
    let repo = body["repository"]["name"].as_str().unwrap_or_default();
    host_of(repo) == Host::GitLab
        || (matches!(event, "deployment" | "deployment_status")
            && deploy_reporter(repo) == DeployReporter::ArgoCd)
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
        tickets: tickets::Tickets::new(params.seed),
        hosts: Rng::fork(params.seed, "hosts"),
    };
    world.bootstrap();
    world.schedule_trains();
    world.plan_work();
    world.run();
    world.emit_tickets();
    world.emit_security_alerts(params.seed);
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
