//! Folding webhook deliveries into the REST resources GitHub would serve after them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::git::{Graph, Push};
use super::objects::{self, Ctx};
use super::shapes::{self, parse_time, stable_id, str_of, RepoFacts, Users};

/// The REST resources a webhook history describes (see [`RestHistory::from_webhooks`]).
#[derive(Debug, Default)]
pub struct RestHistory {
    /// By lower-case `owner/name` (GitHub's names are case-insensitive).
    pub(crate) repos: BTreeMap<String, Repo>,
}

/// One repository's resources, as served.
#[derive(Debug)]
pub(crate) struct Repo {
    pub(crate) json: Value,
    pub(crate) default_branch: String,
    pub(crate) pulls: BTreeMap<u64, Pull>,
    /// Issues that are not pull requests.
    pub(crate) issues: BTreeMap<u64, Value>,
    /// Conversation comments of issues and pull requests, oldest first.
    pub(crate) issue_comments: BTreeMap<u64, Vec<Value>>,
    /// Issue events of issues and pull requests, oldest first.
    pub(crate) issue_events: BTreeMap<u64, Vec<Value>>,
    pub(crate) graph: Graph,
    /// Newest first.
    pub(crate) deployments: Vec<Deployment>,
    /// Newest first.
    pub(crate) runs: Vec<Value>,
}

#[derive(Debug)]
pub(crate) struct Pull {
    /// The "pull-request" object.
    pub(crate) json: Value,
    /// The pull request as the issues list serves it.
    pub(crate) issue: Value,
    pub(crate) reviews: Vec<Value>,
    pub(crate) comments: Vec<Value>,
    /// Its commits' shas, oldest first.
    pub(crate) commits: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Deployment {
    pub(crate) id: u64,
    pub(crate) json: Value,
    /// Newest first.
    pub(crate) statuses: Vec<Value>,
}

impl RestHistory {
    /// Folds GitHub webhook deliveries (`X-GitHub-Event` name, parsed JSON body), in delivery
    /// order, into the REST resources GitHub would serve after them. Deliveries of other events,
    /// or without a `repository`, are skipped.
    pub fn from_webhooks<'a>(
        deliveries: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> RestHistory {
        let mut fold = Fold::default();
        for (event, body) in deliveries {
            fold.delivery(event, body);
        }
        fold.finish()
    }

    /// `owner/name` of every repository, as the webhooks spelled it.
    pub fn repositories(&self) -> Vec<String> {
        self.repos
            .values()
            .map(|r| str_of(&r.json, "full_name").to_string())
            .collect()
    }

    pub fn pull_request_count(&self) -> usize {
        self.repos.values().map(|r| r.pulls.len()).sum()
    }

    pub fn commit_count(&self) -> usize {
        self.repos.values().map(|r| r.graph.len()).sum()
    }

    pub fn review_count(&self) -> usize {
        self.repos
            .values()
            .flat_map(|r| r.pulls.values())
            .map(|p| p.reviews.len())
            .sum()
    }

    pub fn deployment_count(&self) -> usize {
        self.repos.values().map(|r| r.deployments.len()).sum()
    }

    pub fn workflow_run_count(&self) -> usize {
        self.repos.values().map(|r| r.runs.len()).sum()
    }

    /// Issues that are not pull requests.
    pub fn issue_count(&self) -> usize {
        self.repos.values().map(|r| r.issues.len()).sum()
    }

    /// The pull request as `/repos/{o}/{r}/pulls/{n}` serves it.
    pub fn pull_request(&self, repo: &str, number: u64) -> Option<&Value> {
        let pull = self.repo(repo)?.pulls.get(&number)?;
        Some(&pull.json)
    }

    /// The shas `/repos/{o}/{r}/pulls/{n}/commits` serves, oldest first.
    pub fn pull_request_commits(&self, repo: &str, number: u64) -> Option<&[String]> {
        let pull = self.repo(repo)?.pulls.get(&number)?;
        Some(&pull.commits)
    }

    /// A branch's head commit.
    pub fn branch_head(&self, repo: &str, branch: &str) -> Option<&str> {
        self.repo(repo)?.graph.head(branch)
    }

    pub(crate) fn repo(&self, full_name: &str) -> Option<&Repo> {
        self.repos.get(&full_name.to_ascii_lowercase())
    }
}

/// The latest version of an object: by its time (`updated_at`…), a later delivery winning ties
/// and replacing versions without a time.
#[derive(Debug)]
struct Latest {
    value: Value,
    at: Option<DateTime<Utc>>,
}

fn offer(slot: &mut Option<Latest>, value: &Value, at: Option<DateTime<Utc>>) {
    let older =
        matches!((slot.as_ref().and_then(|l| l.at), at), (Some(old), Some(new)) if new < old);
    if !older {
        *slot = Some(Latest {
            value: value.clone(),
            at,
        });
    }
}

fn latest_value(slot: &Option<Latest>) -> Option<&Value> {
    slot.as_ref().map(|l| &l.value)
}

#[derive(Default)]
struct Fold {
    repos: BTreeMap<String, RepoFold>,
    users: Users,
    seq: u64,
    next_event_id: u64,
}

#[derive(Default)]
struct RepoFold {
    full_name: String,
    raw: Value,
    organization: Option<Value>,
    first_seen: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
    pushed_at: Option<DateTime<Utc>>,
    pulls: BTreeMap<u64, PullFold>,
    issues: BTreeMap<u64, Option<Latest>>,
    issue_comments: BTreeMap<u64, BTreeMap<u64, Value>>,
    events: BTreeMap<u64, Vec<RawEvent>>,
    pushes: Vec<Push>,
    /// `(merge_commit_sha, head sha)` of each merged pull request.
    merges: BTreeMap<u64, (String, String)>,
    deployments: BTreeMap<u64, DeploymentFold>,
    /// By run id, then attempt.
    runs: BTreeMap<u64, BTreeMap<u64, Option<Latest>>>,
}

#[derive(Default)]
struct PullFold {
    /// From `pull_request` deliveries.
    latest: Option<Latest>,
    /// From review and review-comment deliveries (which carry less), if there is nothing else.
    partial: Option<Latest>,
    reviews: BTreeMap<u64, Value>,
    comments: BTreeMap<u64, Value>,
}

#[derive(Default)]
struct DeploymentFold {
    latest: Option<Latest>,
    statuses: BTreeMap<u64, Option<Latest>>,
}

/// An issue event, before its repository's URLs are known.
pub(crate) struct RawEvent {
    pub(crate) id: u64,
    pub(crate) event: &'static str,
    pub(crate) created_at: Value,
    pub(crate) actor: Value,
    pub(crate) commit_id: Option<String>,
    pub(crate) label: Option<Value>,
}

/// When a delivery's event happened, for the repository's `created_at`/`updated_at`.
fn delivery_time(event: &str, body: &Value) -> Option<DateTime<Utc>> {
    let pointer = match event {
        "push" => "/repository/pushed_at",
        "pull_request" => "/pull_request/updated_at",
        "pull_request_review" => "/review/submitted_at",
        "pull_request_review_comment" | "issue_comment" => "/comment/updated_at",
        "issues" => "/issue/updated_at",
        "deployment" => "/deployment/created_at",
        "deployment_status" => "/deployment_status/created_at",
        "workflow_run" => "/workflow_run/updated_at",
        _ => return None,
    };
    body.pointer(pointer).and_then(parse_time)
}

/// An object's id, or a stable one made up from `what` when the webhook gave none.
fn id_of(value: &Value, what: &str) -> u64 {
    value
        .get("id")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| stable_id(what))
}

impl Fold {
    fn delivery(&mut self, event: &str, body: &Value) {
        self.seq += 1;
        let seq = self.seq;
        let Some(full_name) = body
            .pointer("/repository/full_name")
            .and_then(Value::as_str)
        else {
            return;
        };
        self.users.collect(body);
        let repo = self
            .repos
            .entry(full_name.to_ascii_lowercase())
            .or_default();
        repo.see(full_name, body, delivery_time(event, body));
        match event {
            "push" => {
                if let Some(push) = Push::from_body(seq, body) {
                    repo.pushed_at = repo.pushed_at.max(Some(push.at()));
                    repo.pushes.push(push);
                }
            }
            "pull_request" => repo.pull_request(body, &mut self.next_event_id),
            "pull_request_review" => repo.review(body, seq),
            "pull_request_review_comment" => repo.review_comment(body, seq),
            "issue_comment" => repo.issue_comment(body, seq),
            "issues" => repo.issue(body, &mut self.next_event_id),
            "deployment" | "deployment_status" => repo.deployment(body, seq),
            "workflow_run" => repo.workflow_run(body),
            _ => {}
        }
    }

    fn finish(self) -> RestHistory {
        let users = self.users;
        let repos = self
            .repos
            .into_iter()
            .map(|(key, repo)| (key, repo.finish(&users)))
            .collect();
        RestHistory { repos }
    }
}

impl RepoFold {
    fn see(&mut self, full_name: &str, body: &Value, at: Option<DateTime<Utc>>) {
        if self.full_name.is_empty() {
            self.full_name = full_name.to_string();
            self.raw = json!({});
        }
        if let (Some(into), Some(fields)) =
            (self.raw.as_object_mut(), body["repository"].as_object())
        {
            for (key, value) in fields {
                into.insert(key.clone(), value.clone());
            }
        }
        if let Some(org) = body.get("organization").filter(|o| o.is_object()) {
            self.organization = Some(org.clone());
        }
        if let Some(at) = at {
            self.first_seen = Some(self.first_seen.map_or(at, |t| t.min(at)));
            self.last_seen = Some(self.last_seen.map_or(at, |t| t.max(at)));
        }
    }

    fn pull_request(&mut self, body: &Value, next_event_id: &mut u64) {
        let pr = &body["pull_request"];
        let Some(number) = body["number"].as_u64().or_else(|| pr["number"].as_u64()) else {
            return;
        };
        let pull = self.pulls.entry(number).or_default();
        offer(&mut pull.latest, pr, parse_time(&pr["updated_at"]));
        let merged = pr["merged"]
            .as_bool()
            .unwrap_or_else(|| !pr["merged_at"].is_null());
        let merge_sha = pr["merge_commit_sha"].as_str().filter(|_| merged);
        let mut events: Vec<(&'static str, Option<String>)> = Vec::new();
        match str_of(body, "action") {
            "ready_for_review" => events.push(("ready_for_review", None)),
            "converted_to_draft" => events.push(("convert_to_draft", None)),
            "reopened" => events.push(("reopened", None)),
            "labeled" => events.push(("labeled", None)),
            "unlabeled" => events.push(("unlabeled", None)),
            "closed" => {
                if let Some(sha) = merge_sha {
                    let head = pr.pointer("/head/sha").and_then(Value::as_str);
                    self.merges.insert(
                        number,
                        (sha.to_string(), head.unwrap_or_default().to_string()),
                    );
                    events.push(("merged", Some(sha.to_string())));
                }
                events.push(("closed", None));
            }
            _ => {}
        }
        self.record_events(number, body, &pr["updated_at"], events, next_event_id);
    }

    fn issue(&mut self, body: &Value, next_event_id: &mut u64) {
        let issue = &body["issue"];
        let Some(number) = issue["number"].as_u64() else {
            return;
        };
        if issue.get("pull_request").is_some() {
            return;
        }
        let action = str_of(body, "action");
        if action == "deleted" {
            self.issues.remove(&number);
            return;
        }
        offer(
            self.issues.entry(number).or_default(),
            issue,
            parse_time(&issue["updated_at"]),
        );
        let event = match action {
            "closed" => "closed",
            "reopened" => "reopened",
            "labeled" => "labeled",
            "unlabeled" => "unlabeled",
            _ => return,
        };
        let at = issue["updated_at"].clone();
        self.record_events(number, body, &at, vec![(event, None)], next_event_id);
    }

    fn record_events(
        &mut self,
        number: u64,
        body: &Value,
        created_at: &Value,
        events: Vec<(&'static str, Option<String>)>,
        next_event_id: &mut u64,
    ) {
        let actor = body
            .get("sender")
            .or_else(|| body.pointer("/pull_request/user"))
            .cloned()
            .unwrap_or(Value::Null);
        for (event, commit_id) in events {
            *next_event_id += 1;
            let label = matches!(event, "labeled" | "unlabeled").then(|| {
                json!({"name": str_of(&body["label"], "name"),
                       "color": str_of(&body["label"], "color")})
            });
            self.events.entry(number).or_default().push(RawEvent {
                id: 9_000_000_000 + *next_event_id,
                event,
                created_at: created_at.clone(),
                actor: actor.clone(),
                commit_id,
                label,
            });
        }
    }

    /// The pull request a review or review comment is on (kept only if no `pull_request`
    /// delivery describes it).
    fn pull_of(&mut self, body: &Value) -> Option<&mut PullFold> {
        let pr = &body["pull_request"];
        let number = pr["number"].as_u64()?;
        let pull = self.pulls.entry(number).or_default();
        offer(&mut pull.partial, pr, parse_time(&pr["updated_at"]));
        Some(pull)
    }

    fn review(&mut self, body: &Value, seq: u64) {
        let full_name = self.full_name.clone();
        let Some(pull) = self.pull_of(body) else {
            return;
        };
        let review = &body["review"];
        let id = id_of(review, &format!("{full_name} review {seq}"));
        if str_of(body, "action") == "dismissed" {
            // A dismissal changes the state only; the review keeps when it was submitted.
            let dismissed = pull.reviews.entry(id).or_insert_with(|| review.clone());
            dismissed["id"] = json!(id);
            dismissed["state"] = json!("dismissed");
            return;
        }
        let mut review = review.clone();
        review["id"] = json!(id);
        pull.reviews.insert(id, review);
    }

    fn review_comment(&mut self, body: &Value, seq: u64) {
        let full_name = self.full_name.clone();
        let Some(pull) = self.pull_of(body) else {
            return;
        };
        upsert(
            &mut pull.comments,
            body,
            &format!("{full_name} review comment {seq}"),
        );
    }

    fn issue_comment(&mut self, body: &Value, seq: u64) {
        let Some(number) = body.pointer("/issue/number").and_then(Value::as_u64) else {
            return;
        };
        let what = format!("{} issue comment {seq}", self.full_name);
        upsert(self.issue_comments.entry(number).or_default(), body, &what);
    }

    fn deployment(&mut self, body: &Value, seq: u64) {
        let deployment = &body["deployment"];
        let Some(id) = deployment["id"].as_u64() else {
            return;
        };
        let fold = self.deployments.entry(id).or_default();
        offer(
            &mut fold.latest,
            deployment,
            parse_time(&deployment["updated_at"]),
        );
        let status = &body["deployment_status"];
        if status.is_object() {
            let status_id = id_of(status, &format!("{} status {seq}", self.full_name));
            let mut status = status.clone();
            status["id"] = json!(status_id);
            let at =
                parse_time(&status["updated_at"]).or_else(|| parse_time(&status["created_at"]));
            offer(fold.statuses.entry(status_id).or_default(), &status, at);
        }
    }

    fn workflow_run(&mut self, body: &Value) {
        let run = &body["workflow_run"];
        let Some(id) = run["id"].as_u64() else {
            return;
        };
        let attempt = run["run_attempt"].as_u64().unwrap_or(1);
        let slot = self.runs.entry(id).or_default().entry(attempt).or_default();
        offer(slot, run, parse_time(&run["updated_at"]));
    }

    fn finish(self, users: &Users) -> Repo {
        let full_name = self.full_name;
        let default_branch = self
            .raw
            .get("default_branch")
            .and_then(Value::as_str)
            .unwrap_or("main")
            .to_string();
        let merges: Vec<(String, String)> = self.merges.into_values().collect();
        let mut graph = Graph::build(self.pushes, &default_branch, &merges);
        graph.finish(&full_name, users);
        let issues: BTreeMap<u64, &Value> = self
            .issues
            .iter()
            .filter_map(|(n, l)| Some((*n, latest_value(l)?)))
            .collect();
        let pull_bases: BTreeMap<u64, (&Value, &PullFold)> = self
            .pulls
            .iter()
            .filter_map(|(n, p)| {
                let base = latest_value(&p.latest).or_else(|| latest_value(&p.partial))?;
                Some((*n, (base, p)))
            })
            .collect();
        let open = |v: &Value| str_of(v, "state") != "closed";
        let open_issues = issues.values().filter(|i| open(i)).count()
            + pull_bases.values().filter(|(pr, _)| open(pr)).count();
        let facts = RepoFacts {
            raw: &self.raw,
            organization: self.organization.as_ref(),
            default_branch: &default_branch,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            pushed_at: self.pushed_at,
            open_issues,
        };
        let repo_json = shapes::repository(&full_name, &facts, users);
        let ctx = Ctx {
            full_name: &full_name,
            users,
            repo: &repo_json,
        };
        let issue_comments: BTreeMap<u64, Vec<Value>> = self
            .issue_comments
            .into_iter()
            .map(|(n, cs)| {
                let mut cs: Vec<Value> = cs
                    .into_values()
                    .map(|c| objects::issue_comment(&ctx, n, c))
                    .collect();
                sort_oldest_first(&mut cs, "created_at");
                (n, cs)
            })
            .collect();
        let comment_count = |n: u64| issue_comments.get(&n).map_or(0, Vec::len);
        let pulls = pull_bases
            .into_iter()
            .map(|(n, (base, fold))| {
                let pull = finish_pull(&ctx, &graph, base, fold, comment_count(n));
                (n, pull)
            })
            .collect();
        let issues = issues
            .into_iter()
            .map(|(n, i)| (n, objects::issue(&ctx, i, comment_count(n))))
            .collect();
        let issue_events = self
            .events
            .into_iter()
            .map(|(n, events)| {
                let mut events: Vec<Value> = events
                    .into_iter()
                    .map(|e| objects::issue_event(&ctx, e))
                    .collect();
                sort_oldest_first(&mut events, "created_at");
                (n, events)
            })
            .collect();
        let deployments = finish_deployments(&ctx, self.deployments);
        let runs = finish_runs(&ctx, &self.runs);
        Repo {
            json: repo_json.clone(),
            default_branch,
            pulls,
            issues,
            issue_comments,
            issue_events,
            graph,
            deployments,
            runs,
        }
    }
}

/// The repo's deployments as `/deployments` serves them, newest first, each with its statuses
/// newest first.
fn finish_deployments(ctx: &Ctx, folds: BTreeMap<u64, DeploymentFold>) -> Vec<Deployment> {
    let mut deployments: Vec<Deployment> = folds
        .into_iter()
        .filter_map(|(id, fold)| {
            let json = objects::deployment(ctx, latest_value(&fold.latest)?);
            let mut statuses: Vec<Value> = fold
                .statuses
                .values()
                .filter_map(latest_value)
                .map(|s| objects::deployment_status(ctx, id, s))
                .collect();
            sort_newest_first(&mut statuses, "created_at");
            Some(Deployment { id, json, statuses })
        })
        .collect();
    deployments.sort_by(|a, b| newest_first(&a.json, &b.json, "created_at"));
    deployments
}

/// The repo's workflow runs as `/actions/runs` serves them: each run's latest attempt, newest
/// first.
fn finish_runs(ctx: &Ctx, runs: &BTreeMap<u64, BTreeMap<u64, Option<Latest>>>) -> Vec<Value> {
    let mut runs: Vec<Value> = runs
        .values()
        .filter_map(|attempts| attempts.values().rev().find_map(latest_value))
        .map(|run| objects::workflow_run(ctx, run))
        .collect();
    sort_newest_first(&mut runs, "created_at");
    runs
}

fn finish_pull(
    ctx: &Ctx,
    graph: &Graph,
    base: &Value,
    fold: &PullFold,
    comment_count: usize,
) -> Pull {
    let head = base.pointer("/head/sha").and_then(Value::as_str);
    let branch = base.pointer("/head/ref").and_then(Value::as_str);
    let commits: Vec<String> = match (head, branch) {
        (Some(head), Some(branch)) => graph
            .branch_commits(head, branch)
            .into_iter()
            .map(|c| c.sha.clone())
            .collect(),
        _ => Vec::new(),
    };
    let mut reviews: Vec<Value> = fold
        .reviews
        .values()
        .map(|r| objects::review(ctx, base, r))
        .collect();
    sort_oldest_first(&mut reviews, "submitted_at");
    let mut comments: Vec<Value> = fold
        .comments
        .values()
        .map(|c| objects::review_comment(ctx, base, c))
        .collect();
    sort_oldest_first(&mut comments, "created_at");
    let counts = objects::PullCounts {
        comments: comment_count,
        review_comments: comments.len(),
        commits: commits.len(),
    };
    let json = objects::pull_request(ctx, base, &counts);
    let issue = objects::pull_as_issue(ctx, &json);
    Pull {
        json,
        issue,
        reviews,
        comments,
        commits,
    }
}

/// Inserts, replaces (`edited`) or removes (`deleted`) a delivery's `comment` by its id.
fn upsert(comments: &mut BTreeMap<u64, Value>, body: &Value, what: &str) {
    let comment = &body["comment"];
    let id = id_of(comment, what);
    if str_of(body, "action") == "deleted" {
        comments.remove(&id);
        return;
    }
    let mut comment = comment.clone();
    comment["id"] = json!(id);
    comments.insert(id, comment);
}

fn time_and_id(v: &Value, key: &str) -> (Option<DateTime<Utc>>, u64) {
    (parse_time(&v[key]), v["id"].as_u64().unwrap_or_default())
}

fn sort_oldest_first(items: &mut [Value], key: &str) {
    items.sort_by_key(|v| time_and_id(v, key));
}

fn newest_first(a: &Value, b: &Value, key: &str) -> std::cmp::Ordering {
    time_and_id(b, key).cmp(&time_and_id(a, key))
}

fn sort_newest_first(items: &mut [Value], key: &str) {
    items.sort_by(|a, b| newest_first(a, b, key));
}
