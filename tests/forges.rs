//! The same history told by every source gives the same numbers. One small history of two PRs
//! and four production deployments (one failed, one blamed by an incident) is rendered as each
//! forge sends it: GitHub (webhooks, an incident issue), GitLab (merge request, push, note,
//! deployment and incident-issue hooks), Bitbucket Cloud (push and pull-request events, the
//! generic deployment and incident endpoints Bitbucket Pipelines and an incident tool use) and
//! ArgoCD (GitHub for the code, argocd-notifications for the deployments). Each goes through
//! the real webhook handler into DynamoDB Local and through the rollup, and the read API must
//! answer the numbers computed by hand below, for each repo alike, and summed for a team whose
//! repos live on two hosts.

use chrono::{DateTime, Datelike, Duration, Utc};
use flowmeter_e2e::payload::{self, argocd, bitbucket, generic, github, gitlab};
use flowmeter_e2e::{
    api_call, deliver, drain, fresh_store, Delivery, BITBUCKET_SECRET, GENERIC_SECRET,
    GITHUB_SECRET, GITLAB_TOKEN,
};
use flowmeter_edge::api::ApiState;
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::store::Store;
use flowmeter_kit::delivery::{DEPLOYMENTS, INCIDENTS};
use serde_json::{json, Value};

const API: &str = "read-token";

const GITHUB_REPO: &str = "acme/api";
/// The GitHub repository whose deployments ArgoCD reports.
const ARGOCD_REPO: &str = "acme/argo-api";
const GITLAB_PROJECT: gitlab::Project = gitlab::Project {
    host: "gitlab.com",
    path: "acme/mobile/api",
};
const BITBUCKET_REPO: &str = "acme/api";

const CONFIG: &str = r#"
org: acme
teams:
  hub:
    repos: [acme/api]
  lab:
    repos: [gitlab.com/acme/mobile/api]
  bucket:
    repos: [bitbucket.org/acme/api]
  argo:
    repos: [acme/argo-api]
  mixed:
    repos: [github.com/acme/api, GitLab.com/acme/mobile/api]
incidents:
  github_label: incident
"#;

/// What happens, whatever the source: times are offsets from `t0`, Tuesday 09:00 UTC of the
/// week three weeks back (inside every read's window).
///
/// - main `c0` (authored −2 h) pushed −1:55; deployment D1 of `c0` −1:30 → −1:25 success (the
///   repo's first: ships nothing).
/// - PR 1 by alice: `f1` authored 0:00, pushed 0:05; opened 1:00; bob comments 1:30; bob
///   approves 2:00; merged 3:00 as `m1`, pushed to main 3:00:02.
/// - D2 of `m1` 4:00 → 4:10 success: ships PR 1.
/// - PR 2 by bob: `f2` authored 5:00, pushed 5:05; opened 6:00; alice comments on the diff and
///   requests changes 7:00; bob pushes `f3` (authored 7:20) at 7:30; alice approves 8:00;
///   merged 8:30 as `m2`, pushed to main 8:30:02.
/// - D3 of `m2` 9:00 → 9:05 failure; D4 of `m2` 10:00 → 10:05 success: ships PR 2.
/// - An incident of the repo opened 11:00, resolved 11:45: it blames D4, the latest success.
trait Source {
    fn push(&mut self, at: DateTime<Utc>, branch: &str, before: &str, commit: Commit);
    fn opened(&mut self, pr: &Pr, at: DateTime<Utc>);
    fn comment(&mut self, pr: &Pr, at: DateTime<Utc>, by: &str, on_diff: bool);
    fn review(&mut self, pr: &Pr, at: DateTime<Utc>, by: &str, approved: bool);
    fn merged(&mut self, pr: &Pr, at: DateTime<Utc>, merge_sha: &str);
    fn deployment(&mut self, id: u64, sha: &str, span: Span, ok: bool);
    fn incident(&mut self, opened: DateTime<Utc>, resolved: DateTime<Utc>);
    fn deliveries(&mut self) -> Vec<(DateTime<Utc>, Delivery)>;
}

/// A commit of the history: its sha and when it was authored.
type Commit<'a> = (&'a str, DateTime<Utc>);

/// When a deployment started and finished.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// A PR of the history: its number, title, author, head branch and current head commit.
struct Pr {
    number: u64,
    title: &'static str,
    author: &'static str,
    branch: &'static str,
    head: String,
    created: DateTime<Utc>,
}

fn sha(label: &str) -> String {
    format!("{label:0>40}")
}

fn t0() -> DateTime<Utc> {
    let today = Utc::now().date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    (monday - Duration::weeks(3) + Duration::days(1))
        .and_hms_opt(9, 0, 0)
        .unwrap_or_default()
        .and_utc()
}

fn at(hours: i64, minutes: i64) -> DateTime<Utc> {
    t0() + Duration::hours(hours) + Duration::minutes(minutes)
}

/// Tells the history to `source`.
fn tell(source: &mut dyn Source) -> Vec<Delivery> {
    let zero = "0".repeat(40);
    let (c0, m1, m2) = (sha("c0"), sha("e1"), sha("e2"));
    source.push(at(-1, -55), "main", &zero, (&c0, at(-2, 0)));
    source.deployment(1, &c0, (at(-1, -30), at(-1, -25)), true);

    let mut pr1 = Pr {
        number: 1,
        title: "Change 1",
        author: "alice",
        branch: "feature-1",
        head: sha("f1"),
        created: at(1, 0),
    };
    source.push(at(0, 5), "feature-1", &zero, (&sha("f1"), at(0, 0)));
    source.opened(&pr1, at(1, 0));
    source.comment(&pr1, at(1, 30), "bob", false);
    source.review(&pr1, at(2, 0), "bob", true);
    source.merged(&pr1, at(3, 0), &m1);
    source.push(
        at(3, 0) + Duration::seconds(2),
        "main",
        &c0,
        (&m1, at(3, 0)),
    );
    source.deployment(2, &m1, (at(4, 0), at(4, 10)), true);
    pr1.head = m1.clone();

    let mut pr2 = Pr {
        number: 2,
        title: "Change 2",
        author: "bob",
        branch: "feature-2",
        head: sha("f2"),
        created: at(6, 0),
    };
    source.push(at(5, 5), "feature-2", &zero, (&sha("f2"), at(5, 0)));
    source.opened(&pr2, at(6, 0));
    source.comment(&pr2, at(7, 0), "alice", true);
    source.review(&pr2, at(7, 0), "alice", false);
    source.push(at(7, 30), "feature-2", &sha("f2"), (&sha("f3"), at(7, 20)));
    pr2.head = sha("f3");
    source.review(&pr2, at(8, 0), "alice", true);
    source.merged(&pr2, at(8, 30), &m2);
    source.push(
        at(8, 30) + Duration::seconds(2),
        "main",
        &m1,
        (&m2, at(8, 30)),
    );
    source.deployment(3, &m2, (at(9, 0), at(9, 5)), false);
    source.deployment(4, &m2, (at(10, 0), at(10, 5)), true);
    source.incident(at(11, 0), at(11, 45));

    let mut out = source.deliveries();
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, d)| d).collect()
}

// ---- GitHub ---------------------------------------------------------------------------------

struct GitHub {
    repo: &'static str,
    out: Vec<(DateTime<Utc>, Delivery)>,
    /// Deployments go to ArgoCD instead (the ArgoCD rendering).
    argocd: bool,
}

impl GitHub {
    fn new() -> GitHub {
        GitHub {
            repo: GITHUB_REPO,
            out: Vec::new(),
            argocd: false,
        }
    }

    /// The code on GitHub, the deployments by ArgoCD.
    fn with_argocd() -> GitHub {
        GitHub {
            repo: ARGOCD_REPO,
            out: Vec::new(),
            argocd: true,
        }
    }

    fn send(&mut self, at: DateTime<Utc>, event: &str, body: Value) {
        let id = format!("forges-gh-{}", self.out.len());
        let delivery = Delivery::github(GITHUB_SECRET, event, &id, payload::bytes(&body));
        self.out.push((at, delivery));
    }

    fn pr_ref<'a>(&self, pr: &'a Pr) -> github::PrRef<'a> {
        github::PrRef {
            repo: self.repo,
            number: pr.number,
            author: pr.author,
        }
    }

    fn pull_request<'a>(
        &self,
        pr: &'a Pr,
        closed: Option<(DateTime<Utc>, Option<&'a str>)>,
    ) -> github::PullRequest<'a> {
        github::PullRequest {
            repo: self.repo,
            number: pr.number,
            title: pr.title,
            body: None,
            author: pr.author,
            created: pr.created,
            closed,
            head: (pr.branch, &pr.head),
            base_sha: "",
            additions: 10,
            deletions: 2,
        }
    }
}

impl Source for GitHub {
    fn push(&mut self, at: DateTime<Utc>, branch: &str, before: &str, (id, authored): Commit) {
        let commits = vec![github::commit(id, authored, "dev")];
        let body = github::push(
            self.repo,
            at,
            branch,
            before,
            commits,
            github::creates_branch(before),
        );
        self.send(at, "push", body);
    }

    fn opened(&mut self, pr: &Pr, at: DateTime<Utc>) {
        let body = self.pull_request(pr, None).event("opened", at);
        self.send(at, "pull_request", body);
    }

    fn comment(&mut self, pr: &Pr, at: DateTime<Utc>, by: &str, on_diff: bool) {
        let r = self.pr_ref(pr);
        if on_diff {
            self.send(
                at,
                "pull_request_review_comment",
                r.review_comment(at, by, "nit"),
            );
        } else {
            self.send(at, "issue_comment", r.issue_comment(at, by, "looks good"));
        }
    }

    fn review(&mut self, pr: &Pr, at: DateTime<Utc>, by: &str, approved: bool) {
        let state = if approved {
            "approved"
        } else {
            "changes_requested"
        };
        let id = pr.number * 100 + u64::from(approved);
        let body = self.pr_ref(pr).review(at, id, by, state, "");
        self.send(at, "pull_request_review", body);
    }

    fn merged(&mut self, pr: &Pr, at: DateTime<Utc>, merge_sha: &str) {
        let body = self
            .pull_request(pr, Some((at, Some(merge_sha))))
            .event("closed", at);
        self.send(at, "pull_request", body);
    }

    fn deployment(&mut self, id: u64, sha: &str, (started, finished): Span, ok: bool) {
        if self.argocd {
            let body = argocd_sync(sha, (started, finished), ok);
            self.out.push((finished, argocd_delivery(body)));
            return;
        }
        let state = if ok { "success" } else { "failure" };
        let deliveries = github::deployment(self.repo, id, sha, started, finished, state);
        for (at, event, body) in deliveries {
            self.send(at, event, body);
        }
    }

    fn incident(&mut self, opened: DateTime<Utc>, resolved: DateTime<Utc>) {
        let url = format!("https://github.com/{}/issues/90", self.repo);
        let issue = |state: &str, closed: Option<DateTime<Utc>>| {
            json!({"number": 90, "title": "Checkout errors", "state": state,
                   "labels": [{"name": "incident"}], "user": github::user("oncall"),
                   "created_at": payload::ts(opened), "closed_at": closed.map(payload::ts),
                   "html_url": url})
        };
        let repository = github::repository(self.repo);
        let open =
            json!({"action": "opened", "issue": issue("open", None), "repository": repository});
        self.send(opened, "issues", open);
        let closed = json!({"action": "closed", "issue": issue("closed", Some(resolved)),
                            "repository": repository});
        self.send(resolved, "issues", closed);
    }

    fn deliveries(&mut self) -> Vec<(DateTime<Utc>, Delivery)> {
        std::mem::take(&mut self.out)
    }
}

// ---- ArgoCD ---------------------------------------------------------------------------------

/// The ArgoCD application deploying [`ARGOCD_REPO`] to production.
const ARGOCD_APP: argocd::App = argocd::App {
    name: "api-prod",
    repo_url: "https://github.com/acme/argo-api.git",
    environment: "production",
};

/// The body the shipped argocd-notifications template renders for a finished sync of `sha`.
fn argocd_sync(sha: &str, span: Span, ok: bool) -> Value {
    ARGOCD_APP.sync(sha, span, if ok { "Succeeded" } else { "Failed" })
}

fn argocd_delivery(body: Value) -> Delivery {
    Delivery::argocd(flowmeter_e2e::ARGOCD_TOKEN, payload::bytes(&body))
}

// ---- GitLab ---------------------------------------------------------------------------------

#[derive(Default)]
struct GitLab {
    out: Vec<(DateTime<Utc>, Delivery)>,
}

impl GitLab {
    fn send(&mut self, at: DateTime<Utc>, event: &str, body: Value) {
        let uuid = format!("00000000-0000-4000-8000-{:012}", self.out.len());
        let delivery = Delivery::gitlab(GITLAB_TOKEN, event, &uuid, payload::bytes(&body));
        self.out.push((at, delivery));
    }

    fn merge_request<'a>(
        pr: &'a Pr,
        closed: Option<(DateTime<Utc>, Option<&'a str>)>,
    ) -> gitlab::MergeRequest<'a> {
        gitlab::MergeRequest {
            project: GITLAB_PROJECT,
            iid: pr.number,
            title: pr.title,
            description: "",
            author: pr.author,
            created: pr.created,
            draft: false,
            source: (pr.branch, &pr.head),
            closed,
            labels: &[],
        }
    }
}

impl Source for GitLab {
    fn push(&mut self, at: DateTime<Utc>, branch: &str, before: &str, (id, authored): Commit) {
        let commits = vec![gitlab::commit(
            &GITLAB_PROJECT,
            id,
            authored,
            "dev",
            "change",
        )];
        self.send(
            at,
            "Push Hook",
            gitlab::push(&GITLAB_PROJECT, branch, before, commits, "dev"),
        );
    }

    fn opened(&mut self, pr: &Pr, at: DateTime<Utc>) {
        let body = Self::merge_request(pr, None).event("open", pr.author, at, json!({}));
        self.send(at, "Merge Request Hook", body);
    }

    fn comment(&mut self, pr: &Pr, at: DateTime<Utc>, by: &str, on_diff: bool) {
        let id = pr.number * 1000 + u64::from(on_diff);
        let body = Self::merge_request(pr, None).note(id, by, at, "looks good", on_diff);
        self.send(at, "Note Hook", body);
    }

    fn review(&mut self, pr: &Pr, at: DateTime<Utc>, by: &str, approved: bool) {
        let mr = Self::merge_request(pr, None);
        let body = if approved {
            mr.event("approved", by, at, json!({}))
        } else {
            mr.reviewed(by, "requested_changes", at)
        };
        self.send(at, "Merge Request Hook", body);
    }

    fn merged(&mut self, pr: &Pr, at: DateTime<Utc>, merge_sha: &str) {
        let body = Self::merge_request(pr, Some((at, Some(merge_sha)))).event(
            "merge",
            pr.author,
            at,
            json!({}),
        );
        self.send(at, "Merge Request Hook", body);
    }

    fn deployment(&mut self, id: u64, sha: &str, (started, finished): Span, ok: bool) {
        let running = gitlab::deployment(
            &GITLAB_PROJECT,
            id,
            sha,
            "production",
            "running",
            started,
            "deployer",
        );
        self.send(started, "Deployment Hook", running);
        let status = if ok { "success" } else { "failed" };
        let done = gitlab::deployment(
            &GITLAB_PROJECT,
            id,
            sha,
            "production",
            status,
            finished,
            "deployer",
        );
        self.send(finished, "Deployment Hook", done);
    }

    fn incident(&mut self, opened: DateTime<Utc>, resolved: DateTime<Utc>) {
        let p = &GITLAB_PROJECT;
        let open = gitlab::incident(p, 90, "Checkout errors", opened, None, "open", opened);
        self.send(opened, "Issue Hook", open);
        let closed = gitlab::incident(
            p,
            90,
            "Checkout errors",
            opened,
            Some(resolved),
            "close",
            resolved,
        );
        self.send(resolved, "Issue Hook", closed);
    }

    fn deliveries(&mut self) -> Vec<(DateTime<Utc>, Delivery)> {
        std::mem::take(&mut self.out)
    }
}

// ---- Bitbucket Cloud ------------------------------------------------------------------------

#[derive(Default)]
struct Bitbucket {
    out: Vec<(DateTime<Utc>, Delivery)>,
}

impl Bitbucket {
    const REPO: &'static str = "bitbucket.org/acme/api";

    fn send(&mut self, at: DateTime<Utc>, event_key: &str, body: Value) {
        let uuid = format!("00000000-0000-4000-9000-{:012}", self.out.len());
        let delivery =
            Delivery::bitbucket(BITBUCKET_SECRET, event_key, &uuid, payload::bytes(&body));
        self.out.push((at, delivery));
    }

    fn pull_request<'a>(
        pr: &'a Pr,
        closed: Option<(DateTime<Utc>, Option<&'a str>)>,
    ) -> bitbucket::PullRequest<'a> {
        bitbucket::PullRequest {
            full_name: BITBUCKET_REPO,
            id: pr.number,
            title: pr.title,
            description: "",
            author: pr.author,
            created: pr.created,
            draft: false,
            source: (pr.branch, &pr.head),
            closed,
        }
    }
}

impl Source for Bitbucket {
    fn push(&mut self, at: DateTime<Utc>, branch: &str, before: &str, (id, authored): Commit) {
        let commits = [bitbucket::commit(id, authored, "dev", "change")];
        let before = (!github::creates_branch(before)).then_some(before);
        self.send(
            at,
            "repo:push",
            bitbucket::push(BITBUCKET_REPO, branch, before, &commits, "dev"),
        );
    }

    fn opened(&mut self, pr: &Pr, at: DateTime<Utc>) {
        let body = Self::pull_request(pr, None).event(pr.author, at);
        self.send(at, "pullrequest:created", body);
    }

    fn comment(&mut self, pr: &Pr, at: DateTime<Utc>, by: &str, on_diff: bool) {
        let id = pr.number * 1000 + u64::from(on_diff);
        let body = Self::pull_request(pr, None).comment(id, by, at, "looks good", on_diff);
        self.send(at, "pullrequest:comment_created", body);
    }

    fn review(&mut self, pr: &Pr, at: DateTime<Utc>, by: &str, approved: bool) {
        let bb = Self::pull_request(pr, None);
        if approved {
            self.send(at, "pullrequest:approved", bb.verdict("approval", by, at));
        } else {
            let body = bb.verdict("changes_request", by, at);
            self.send(at, "pullrequest:changes_request_created", body);
        }
    }

    fn merged(&mut self, pr: &Pr, at: DateTime<Utc>, merge_sha: &str) {
        let body = Self::pull_request(pr, Some((at, Some(merge_sha)))).event(pr.author, at);
        self.send(at, "pullrequest:fulfilled", body);
    }

    fn deployment(&mut self, id: u64, sha: &str, span: Span, ok: bool) {
        let status = if ok { "success" } else { "failure" };
        let body = generic::deployment(
            Self::REPO,
            "production",
            sha,
            status,
            span,
            &format!("bb-{id}"),
        );
        let delivery = Delivery::generic(GENERIC_SECRET, DEPLOYMENTS, payload::bytes(&body));
        self.out.push((span.1, delivery));
    }

    fn incident(&mut self, opened: DateTime<Utc>, resolved: DateTime<Utc>) {
        let body = generic::incident(
            "bb-inc",
            Self::REPO,
            "sev2",
            "Checkout errors",
            opened,
            Some(resolved),
        );
        let delivery = Delivery::generic(GENERIC_SECRET, INCIDENTS, payload::bytes(&body));
        self.out.push((opened, delivery));
    }

    fn deliveries(&mut self) -> Vec<(DateTime<Utc>, Delivery)> {
        std::mem::take(&mut self.out)
    }
}

// ---- the checks -----------------------------------------------------------------------------

async fn loaded(label: &str, histories: Vec<Vec<Delivery>>) -> (Store, ApiState) {
    let store = fresh_store(label).await;
    store.put_config(CONFIG).await.expect("config");
    for delivery in histories.iter().flatten() {
        let (status, body) = deliver(&store, delivery).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}: {body}", delivery.path);
        assert!(body["ignored"].is_null(), "{}: {body}", delivery.path);
    }
    drain(&store, &mut None).await;
    let state = ApiState::new(store.clone(), API.into(), "admin-token".into());
    (store, state)
}

async fn get(state: &ApiState, uri: &str) -> Value {
    let (status, body) = api_call(state, "GET", uri, API, "").await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn period() -> String {
    let monday = (t0() - Duration::days(1)).date_naive();
    format!("from={monday}&to={}", monday + Duration::days(6))
}

/// The numbers of the history, by hand (nearest-rank quantiles: p50 of [a, b] is a, p90 b):
///
/// - deployments (successes): D1, D2, D4 = 3; attempts D1–D4 = 4, failed D3 (status) and D4
///   (blamed by the incident) = 2, rate 0.5;
/// - lead time: PR 1 `f1` 0:00 → D2 4:10 = 15 000 s; PR 2 `f2` 5:00 → D4 10:05 = 18 300 s;
/// - recovery: D3 9:05 → D4 10:05 (next success) = 3 600 s; D4 10:05 → resolved 11:45 =
///   6 000 s;
/// - cycle time: PR 1 coding 3 600, pickup 1:00 → 1:30 = 1 800, review 1:30 → 3:00 = 5 400,
///   deploy 3:00 → 4:10 = 4 200, total 15 000; PR 2 coding 3 600, pickup 6:00 → 7:00 = 3 600,
///   review 7:00 → 8:30 = 5 400, deploy 8:30 → 10:05 = 5 700, total 18 300;
/// - PRs: 2 merged, 2 opened, first-time pass 1 of 2 (PR 2 had changes requested and a push
///   after its first review), one comment each by someone else: 1.0 a PR;
/// - incidents: 1 opened, 1 resolved, MTTR 45 min = 2 700 s.
fn one_repo(times: u64) -> Value {
    json!({
        "deployments": 3 * times, "attempts": 4 * times, "failed": 2 * times, "rate": 0.5,
        "lead": [2 * times, 15000.0, 18300.0],
        "recovery": [2 * times, 3600.0, 6000.0],
        "cycle": [2 * times, 15000.0, 18300.0],
        "phases": [3600.0, 1800.0, 5400.0, 4200.0],
        "prs": [2 * times, 2 * times, 0.5, 1.0],
        "incidents": [times, times, 2700.0],
    })
}

async fn numbers(state: &ApiState, scope: &str) -> Value {
    let p = period();
    let dora = get(state, &format!("/v1/dora?scope={scope}&{p}")).await;
    let cycle = get(state, &format!("/v1/cycle-time?scope={scope}&{p}")).await;
    let prs = get(state, &format!("/v1/pull-requests?scope={scope}&{p}")).await;
    let incidents = get(state, &format!("/v1/incidents?scope={scope}&{p}")).await;
    json!({
        "deployments": dora["deployment_frequency"]["deployments"],
        "attempts": dora["change_failure_rate"]["deployments"],
        "failed": dora["change_failure_rate"]["failed"],
        "rate": dora["change_failure_rate"]["rate"],
        "lead": [dora["lead_time"]["count"], dora["lead_time"]["p50_seconds"],
                 dora["lead_time"]["p90_seconds"]],
        "recovery": [dora["recovery_time"]["count"], dora["recovery_time"]["p50_seconds"],
                     dora["recovery_time"]["p90_seconds"]],
        "cycle": [cycle["count"], cycle["total"]["p50_seconds"], cycle["total"]["p90_seconds"]],
        "phases": [cycle["coding"]["p50_seconds"], cycle["pickup"]["p50_seconds"],
                   cycle["review"]["p50_seconds"], cycle["deploy"]["p50_seconds"]],
        "prs": [prs["merged"], prs["opened"], prs["first_time_pass_rate"], prs["comments_per_pr"]],
        "incidents": [incidents["opened"], incidents["resolved"], incidents["mttr"]["p50_seconds"]],
    })
}

#[tokio::test]
async fn every_forge_tells_the_same_history_with_the_same_numbers() {
    // given the history told by GitHub, GitHub with ArgoCD, GitLab and Bitbucket Cloud, each
    // in its own repo
    let histories = vec![
        tell(&mut GitHub::new()),
        tell(&mut GitHub::with_argocd()),
        tell(&mut GitLab::default()),
        tell(&mut Bitbucket::default()),
    ];
    // when every delivery went through the webhook and the rollup
    let (_store, state) = loaded("forges", histories).await;
    // then each repo, and the team of each, has the hand-computed numbers
    for scope in [
        "repo:acme/api",
        "team:hub",
        "repo:gitlab.com/acme/mobile/api",
        "team:lab",
        "repo:bitbucket.org/acme/api",
        "team:bucket",
        "repo:acme/argo-api",
        "team:argo",
    ] {
        assert_eq!(numbers(&state, scope).await, one_repo(1), "{scope}");
    }
    // and a team with a repo on GitHub and one on GitLab has both: its quantiles are over
    // [15 000, 15 000, 18 300, 18 300]
    assert_eq!(
        numbers(&state, "team:mixed").await,
        one_repo(2),
        "team:mixed"
    );
}
