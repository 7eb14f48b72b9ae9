//! One repository's backfill: which request comes next, and what its answer gives.
//!
//! The phases read, in order: the repository (its default branch); the pull requests updated
//! since the start (`sort=updated`, newest first, so the listing stops at the first older one);
//! each of them (`/pulls/{n}` with its counts, then its commits, reviews, review comments,
//! conversation comments and issue events, skipping a list whose count is zero); the default
//! branch's commits since the start; the production deployments and their statuses; completed
//! workflow runs when `deploy_workflows` is configured; issues with the incident label.

use std::collections::VecDeque;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::OrgConfig;
use crate::ingest::github_rest::{
    deployment_facts, incident_issue_facts, pull_request_facts, workflow_run_facts,
    FirstParentWalk, PullRequestAnswers, RestRepo,
};
use crate::ingest::IngestError;
use crate::model::Fact;

/// GitHub's largest page.
const PER_PAGE: &str = "per_page=100";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Repository,
    PullList,
    PullRequests,
    Commits,
    Deployments,
    WorkflowRuns,
    Incidents,
    Done,
    /// The repository could not be read (`error` says why); the others go on.
    Failed,
}

impl Phase {
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Done | Phase::Failed)
    }
}

/// The next request: a path on the API's base URL, or a `Link` URL GitHub gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub url: String,
    /// May be sent with the ETag of an earlier answer (`If-None-Match`): a `304` then means
    /// nothing under it changed since it was read to the end.
    pub conditional: bool,
}

/// A request's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Page {
        body: Value,
        next: Option<String>,
    },
    /// `304 Not Modified` to a conditional request.
    NotModified,
}

/// What an answer gave: facts to write, then the URLs whose ETags may be kept (everything
/// under them is written once those facts are).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    pub facts: Vec<Fact>,
    pub settled: Vec<String>,
}

/// The parts of a pull request read so far (not checkpointed: a resumed backfill reads the
/// pull request it was in again).
#[derive(Clone, Debug, Default, PartialEq)]
struct PullReading {
    number: u64,
    step: PullStep,
    cursor: Option<String>,
    pull: Value,
    commits: Vec<Value>,
    reviews: Vec<Value>,
    review_comments: Vec<Value>,
    comments: Vec<Value>,
    events: Vec<Value>,
}

impl PullReading {
    /// The list the current step reads into, and what GitHub lists there; `None` for the
    /// pull request itself.
    fn list_mut(&mut self) -> Option<(&mut Vec<Value>, &'static str)> {
        Some(match self.step {
            PullStep::Pull => return None,
            PullStep::Commits => (&mut self.commits, "commits"),
            PullStep::Reviews => (&mut self.reviews, "reviews"),
            PullStep::ReviewComments => (&mut self.review_comments, "comments"),
            PullStep::Comments => (&mut self.comments, "comments"),
            PullStep::Events => (&mut self.events, "events"),
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum PullStep {
    #[default]
    Pull,
    Commits,
    Reviews,
    ReviewComments,
    Comments,
    Events,
}

/// The production deployments of the listing page being read, whose statuses are still to
/// read (not checkpointed: the page is read again on resume, and its statuses are conditional).
#[derive(Clone, Debug, Default, PartialEq)]
struct DeploymentPage {
    queue: VecDeque<Value>,
    statuses: Vec<Value>,
    status_cursor: Option<String>,
    /// The listing's next page once this one is done; `None` ends the listing.
    next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepoProgress {
    /// `owner/name`, lower-cased.
    pub repo: String,
    pub phase: Phase,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub default_branch: Option<String>,
    /// The page of the current listing to read next; `None` is its first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Pull requests found and not yet read, in listing order.
    #[serde(default)]
    pub pulls_left: VecDeque<u64>,
    #[serde(default)]
    pub pulls_found: u64,
    #[serde(default)]
    pub pulls_read: u64,
    /// Read pull requests GitHub answered `304` for: unchanged since an earlier backfill.
    #[serde(default)]
    pub pulls_unchanged: u64,
    #[serde(default)]
    pub walk: FirstParentWalk,
    #[serde(default)]
    pub commits: u64,
    /// Deployment listings still to read (first pages): one per production environment.
    #[serde(default)]
    pub listings_left: Vec<String>,
    #[serde(default)]
    pub deployments: u64,
    #[serde(default)]
    pub workflow_runs: u64,
    #[serde(default)]
    pub incidents: u64,
    #[serde(default)]
    pub facts: u64,
    #[serde(skip)]
    reading: Option<PullReading>,
    #[serde(skip)]
    deployment_page: Option<DeploymentPage>,
}

impl RepoProgress {
    pub fn new(repo: String) -> RepoProgress {
        RepoProgress {
            repo,
            phase: Phase::Repository,
            error: None,
            default_branch: None,
            cursor: None,
            pulls_left: VecDeque::new(),
            pulls_found: 0,
            pulls_read: 0,
            pulls_unchanged: 0,
            walk: FirstParentWalk::default(),
            commits: 0,
            listings_left: Vec::new(),
            deployments: 0,
            workflow_runs: 0,
            incidents: 0,
            facts: 0,
            reading: None,
            deployment_page: None,
        }
    }

    /// Gives up on the repository: `name` is what the job counts, `message` what it shows.
    pub fn fail(&mut self, name: &str, message: &str) {
        self.phase = Phase::Failed;
        self.error = Some(format!("{name}: {message}"));
        self.reading = None;
        self.deployment_page = None;
    }

    fn base(&self) -> String {
        format!("/repos/{}", self.repo)
    }

    /// The request to make next; `None` once the repository is done or failed.
    pub fn next_request(&self, since: NaiveDate, config: &OrgConfig) -> Option<Request> {
        let base = self.base();
        let plain = |url: String| Request {
            url,
            conditional: false,
        };
        let page = |first: String| plain(self.cursor.clone().unwrap_or(first));
        let start = format!("{since}T00:00:00Z");
        Some(match self.phase {
            Phase::Repository => plain(base),
            Phase::PullList => page(format!(
                "{base}/pulls?state=all&sort=updated&direction=desc&{PER_PAGE}"
            )),
            Phase::PullRequests => self.pull_request(&base)?,
            Phase::Commits => {
                let branch = encode(self.default_branch.as_deref().unwrap_or("main"));
                page(format!(
                    "{base}/commits?sha={branch}&since={start}&{PER_PAGE}"
                ))
            }
            Phase::Deployments => match &self.deployment_page {
                Some(DeploymentPage {
                    queue,
                    status_cursor,
                    ..
                }) if !queue.is_empty() => {
                    let id = queue.front().and_then(|d| d.get("id")).cloned();
                    let id = id.unwrap_or_default();
                    let first = format!("{base}/deployments/{id}/statuses?{PER_PAGE}");
                    Request {
                        conditional: status_cursor.is_none(),
                        url: status_cursor.clone().unwrap_or(first),
                    }
                }
                _ => plain(
                    self.cursor
                        .clone()
                        .or_else(|| self.listings_left.first().cloned())?,
                ),
            },
            Phase::WorkflowRuns => page(format!(
                "{base}/actions/runs?status=completed&created=%3E%3D{since}&{PER_PAGE}"
            )),
            Phase::Incidents => page(format!(
                "{base}/issues?labels={}&state=all&since={start}&{PER_PAGE}",
                encode(config.incident_label())
            )),
            Phase::Done | Phase::Failed => return None,
        })
    }

    fn pull_request(&self, base: &str) -> Option<Request> {
        let Some(reading) = &self.reading else {
            let number = self.pulls_left.front()?;
            return Some(Request {
                url: format!("{base}/pulls/{number}"),
                conditional: true,
            });
        };
        let n = reading.number;
        let first = match reading.step {
            PullStep::Pull => format!("{base}/pulls/{n}"),
            PullStep::Commits => format!("{base}/pulls/{n}/commits?{PER_PAGE}"),
            PullStep::Reviews => format!("{base}/pulls/{n}/reviews?{PER_PAGE}"),
            PullStep::ReviewComments => format!("{base}/pulls/{n}/comments?{PER_PAGE}"),
            PullStep::Comments => format!("{base}/issues/{n}/comments?{PER_PAGE}"),
            PullStep::Events => format!("{base}/issues/{n}/events?{PER_PAGE}"),
        };
        Some(Request {
            url: reading.cursor.clone().unwrap_or(first),
            conditional: false,
        })
    }

    /// Takes the answer to [`RepoProgress::next_request`]'s request. A malformed answer is an
    /// error naming its field; the caller fails the repository with it.
    pub fn apply(
        &mut self,
        since: NaiveDate,
        config: &OrgConfig,
        answer: Answer,
    ) -> Result<Applied, IngestError> {
        let applied = match (self.phase, answer) {
            (Phase::PullRequests, answer) => self.apply_pull_request(answer)?,
            (Phase::Deployments, answer) => self.apply_deployments(since, config, answer)?,
            (_, Answer::NotModified) => Applied::default(),
            (phase, Answer::Page { body, next }) => {
                self.apply_listing(phase, since, config, &body, next)?
            }
        };
        self.facts += applied.facts.len() as u64;
        Ok(applied)
    }

    fn repo(&self) -> RestRepo {
        RestRepo {
            full_name: self.repo.clone(),
            default_branch: self.default_branch.clone().unwrap_or_default(),
        }
    }

    fn apply_listing(
        &mut self,
        phase: Phase,
        since: NaiveDate,
        config: &OrgConfig,
        body: &Value,
        next: Option<String>,
    ) -> Result<Applied, IngestError> {
        let mut facts = Vec::new();
        let mut more = next.is_some();
        match phase {
            Phase::Repository => {
                self.default_branch = Some(RestRepo::parse(body)?.default_branch);
                more = false;
            }
            Phase::PullList => {
                for item in items(body, "pulls")? {
                    let number = item.get("number").and_then(Value::as_u64);
                    let updated = item.get("updated_at").and_then(Value::as_str);
                    let (Some(number), Some(updated)) = (number, updated) else {
                        return Err(IngestError::MissingField {
                            path: "pulls[].number/updated_at".into(),
                        });
                    };
                    if before(updated, since) {
                        more = false;
                        break;
                    }
                    if !self.pulls_left.contains(&number) {
                        self.pulls_left.push_back(number);
                        self.pulls_found += 1;
                    }
                }
            }
            Phase::Commits => {
                let branch = self.default_branch.clone().unwrap_or_default();
                let page = items(body, "commits")?;
                facts = self.walk.page(&self.repo(), &branch, page)?;
                self.commits += facts.len() as u64;
            }
            Phase::WorkflowRuns => {
                let runs = body.get("workflow_runs").unwrap_or(&Value::Null);
                for run in items(runs, "workflow_runs")? {
                    let name = run.get("name").and_then(Value::as_str).unwrap_or_default();
                    if config.is_deploy_workflow(name) {
                        facts.extend(workflow_run_facts(&self.repo(), run)?);
                        self.workflow_runs += 1;
                    }
                }
            }
            Phase::Incidents => {
                for issue in items(body, "issues")? {
                    let issue_facts = incident_issue_facts(&self.repo(), issue)?;
                    self.incidents += u64::from(!issue_facts.is_empty());
                    facts.extend(issue_facts);
                }
            }
            _ => {}
        }
        if more {
            self.cursor = next;
        } else {
            self.next_phase(config);
        }
        Ok(Applied {
            facts,
            settled: Vec::new(),
        })
    }

    /// The phase after the current one, its listing at its first page.
    fn next_phase(&mut self, config: &OrgConfig) {
        self.cursor = None;
        self.phase = match self.phase {
            Phase::Repository => Phase::PullList,
            Phase::PullList => Phase::PullRequests,
            Phase::PullRequests => Phase::Commits,
            Phase::Commits => {
                let base = self.base();
                self.listings_left = match config.configured_environment_sources() {
                    Some(names) => names
                        .iter()
                        .map(|e| format!("{base}/deployments?environment={}&{PER_PAGE}", encode(e)))
                        .collect(),
                    None => vec![format!("{base}/deployments?{PER_PAGE}")],
                };
                Phase::Deployments
            }
            Phase::Deployments if config.has_deploy_workflows() => Phase::WorkflowRuns,
            Phase::Deployments | Phase::WorkflowRuns => Phase::Incidents,
            Phase::Incidents | Phase::Done => Phase::Done,
            Phase::Failed => Phase::Failed,
        };
        if self.phase == Phase::PullRequests && self.pulls_left.is_empty() {
            self.next_phase(config);
        }
    }

    fn apply_pull_request(&mut self, answer: Answer) -> Result<Applied, IngestError> {
        let base = self.base();
        let mut reading = match self.reading.take() {
            Some(reading) => reading,
            None => PullReading {
                number: self.pulls_left.front().copied().unwrap_or_default(),
                ..PullReading::default()
            },
        };
        let pull_url = format!("{base}/pulls/{}", reading.number);
        let (body, next) = match answer {
            // Unchanged since an earlier backfill read it to the end: nothing new under it.
            Answer::NotModified => {
                self.pulls_unchanged += 1;
                return Ok(self.finish_pull(Vec::new(), pull_url));
            }
            Answer::Page { body, next } => (body, next),
        };
        match reading.list_mut() {
            Some((list, what)) => list.extend(items(&body, what)?.iter().cloned()),
            None => reading.pull = body,
        }
        if next.is_some() && reading.step != PullStep::Pull {
            reading.cursor = next;
            self.reading = Some(reading);
            return Ok(Applied::default());
        }
        reading.cursor = None;
        match next_step(reading.step, &reading.pull) {
            Some(step) => {
                reading.step = step;
                self.reading = Some(reading);
                Ok(Applied::default())
            }
            None => {
                let answers = PullRequestAnswers {
                    pull: &reading.pull,
                    commits: &reading.commits,
                    reviews: &reading.reviews,
                    review_comments: &reading.review_comments,
                    comments: &reading.comments,
                    events: &reading.events,
                };
                let facts = pull_request_facts(&self.repo(), &answers)?;
                Ok(self.finish_pull(facts, pull_url))
            }
        }
    }

    fn finish_pull(&mut self, facts: Vec<Fact>, pull_url: String) -> Applied {
        self.pulls_left.pop_front();
        self.pulls_read += 1;
        self.reading = None;
        if self.pulls_left.is_empty() {
            self.phase = Phase::Commits;
            self.cursor = None;
        }
        Applied {
            facts,
            settled: vec![pull_url],
        }
    }

    fn apply_deployments(
        &mut self,
        since: NaiveDate,
        config: &OrgConfig,
        answer: Answer,
    ) -> Result<Applied, IngestError> {
        let reading_statuses = self
            .deployment_page
            .as_ref()
            .is_some_and(|p| !p.queue.is_empty());
        if !reading_statuses {
            let Answer::Page { body, next } = answer else {
                return Ok(Applied::default());
            };
            let mut page = DeploymentPage {
                next,
                ..DeploymentPage::default()
            };
            for deployment in items(&body, "deployments")? {
                let created = deployment.get("created_at").and_then(Value::as_str);
                if created.is_some_and(|c| before(c, since)) {
                    page.next = None;
                    break;
                }
                let environment = deployment.get("environment").and_then(Value::as_str);
                if environment.is_some_and(|e| config.environment_of(e).is_some()) {
                    page.queue.push_back(deployment.clone());
                }
            }
            self.deployment_page = Some(page);
            self.advance_deployment_page(config);
            return Ok(Applied::default());
        }
        let repo = self.repo();
        let base = self.base();
        let Some(page) = self.deployment_page.as_mut() else {
            return Ok(Applied::default());
        };
        let id = page.queue.front().and_then(|d| d.get("id")).cloned();
        let url = format!(
            "{base}/deployments/{}/statuses?{PER_PAGE}",
            id.unwrap_or_default()
        );
        let mut applied = Applied::default();
        match answer {
            Answer::NotModified => {}
            Answer::Page { body, next } => {
                page.statuses
                    .extend(items(&body, "statuses")?.iter().cloned());
                if next.is_some() {
                    page.status_cursor = next;
                    return Ok(applied);
                }
                if let Some(deployment) = page.queue.front() {
                    applied.facts = deployment_facts(&repo, deployment, &page.statuses)?;
                }
            }
        }
        applied.settled.push(url);
        page.queue.pop_front();
        page.statuses.clear();
        page.status_cursor = None;
        self.deployments += 1;
        self.advance_deployment_page(config);
        Ok(applied)
    }

    /// Once a page's statuses are all read: the listing's next page, or the next listing.
    fn advance_deployment_page(&mut self, config: &OrgConfig) {
        let Some(page) = &self.deployment_page else {
            return;
        };
        if !page.queue.is_empty() {
            return;
        }
        match page.next.clone() {
            Some(next) => self.cursor = Some(next),
            None => {
                self.cursor = None;
                if !self.listings_left.is_empty() {
                    self.listings_left.remove(0);
                }
            }
        }
        self.deployment_page = None;
        if self.listings_left.is_empty() {
            self.next_phase(config);
        }
    }
}

/// The step after `step`, skipping lists the pull request's counts say are empty.
fn next_step(step: PullStep, pull: &Value) -> Option<PullStep> {
    let count = |field: &str| pull.get(field).and_then(Value::as_u64);
    let mut step = step;
    loop {
        step = match step {
            PullStep::Pull => PullStep::Commits,
            PullStep::Commits => PullStep::Reviews,
            PullStep::Reviews => PullStep::ReviewComments,
            PullStep::ReviewComments => PullStep::Comments,
            PullStep::Comments => PullStep::Events,
            PullStep::Events => return None,
        };
        let empty = match step {
            PullStep::Commits => count("commits") == Some(0),
            PullStep::ReviewComments => count("review_comments") == Some(0),
            PullStep::Comments => count("comments") == Some(0),
            _ => false,
        };
        if !empty {
            return Some(step);
        }
    }
}

/// Whether a GitHub time is before the start of day `since` (UTC); an unreadable time is not.
fn before(time: &str, since: NaiveDate) -> bool {
    DateTime::parse_from_rfc3339(time).is_ok_and(|t| t.with_timezone(&Utc).date_naive() < since)
}

fn items<'a>(body: &'a Value, what: &str) -> Result<&'a [Value], IngestError> {
    body.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| IngestError::InvalidField {
            path: what.to_string(),
            message: "expected a JSON array".into(),
        })
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved characters.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
