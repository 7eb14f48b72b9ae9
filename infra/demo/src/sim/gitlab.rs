//! The team on GitLab: the same pull requests, pushes, reviews, comments, deployments and
//! incident issues as on GitHub, sent as GitLab's project webhooks send them (Merge Request,
//! Push, Note, Deployment and Issue Hooks), with the test kit's bodies
//! (`flowmeter_kit::payload::gitlab`). Flowmeter must make the same numbers of them. They are
//! sent beside the GitHub deliveries the same history would have given, which are drawn but
//! not sent (`World::github`); their own ids come from a stream of their own (`World::hosts`).

use chrono::{DateTime, Duration, Utc};
use flowmeter_kit::payload::gitlab::{self, MergeRequest, Project};
use serde_json::{json, Value};

use super::{Interaction, PrPlan, Push, Review, World};
use crate::payloads::gitlab_delivery;
use crate::spec::{full_name, gitlab_path, GITLAB_HOST};

/// Who creates the GitLab team's deployments (its CI job's user).
const DEPLOYER: &str = "gitlab-ci-deployer";

/// A merge request as it stands at one delivery: its head, draft state and closing.
#[derive(Clone, Copy)]
pub(super) struct MrState<'a> {
    pub head: &'a str,
    pub draft: bool,
    pub closed: Option<(DateTime<Utc>, Option<&'a str>)>,
}

impl World {
    /// Sends a GitLab hook of `repo` (before the end of the history).
    fn gitlab(&mut self, at: DateTime<Utc>, repo: &str, event: &str, body: Value) {
        if at >= self.end {
            return;
        }
        let uuid = self.hosts.uuid();
        let mut d = gitlab_delivery(&self.secrets, at, &full_name(repo), (event, &uuid), &body);
        d.entity.clone_from(&self.entity);
        self.deliveries.push(d);
    }

    /// A Push Hook of `push` onto `branch`.
    pub(super) fn gitlab_push(&mut self, repo: &str, branch: &str, push: &Push, pusher: &str) {
        let path = gitlab_path(repo);
        let project = project(&path);
        let commits = push
            .commits
            .iter()
            .map(|c| gitlab::commit(&project, &c.sha, c.authored, pusher, &c.message))
            .collect();
        let body = gitlab::push(&project, branch, &push.before, commits, pusher);
        self.gitlab(push.at, repo, "Push Hook", body);
    }

    /// A Merge Request Hook: `action` by `actor` at `at` on the merge request in `state`.
    pub(super) fn gitlab_mr(
        &mut self,
        p: &PrPlan,
        state: MrState,
        (action, actor, at): (&str, &str, DateTime<Utc>),
        changes: Value,
    ) {
        let path = gitlab_path(p.repo);
        let body = merge_request(p, &path, state).event(action, actor, at, changes);
        self.gitlab(at, p.repo, "Merge Request Hook", body);
    }

    /// New commits on the merge request's branch: an `update` whose `oldrev` is the head
    /// before them.
    pub(super) fn gitlab_synchronize(&mut self, p: &PrPlan, push: &Push, after: &str) {
        let at = push.at + Duration::seconds(3);
        let path = gitlab_path(p.repo);
        let state = MrState {
            head: after,
            draft: false,
            closed: None,
        };
        let mut body = merge_request(p, &path, state).event("update", &p.author, at, json!({}));
        body["object_attributes"]["oldrev"] = json!(push.before);
        self.gitlab(at, p.repo, "Merge Request Hook", body);
    }

    /// A review or comment on the merge request: an approval is an `approved` Merge Request
    /// Hook; a review that requests changes (or only comments) an `update` showing the
    /// reviewer's new state; comments are Note Hooks (a `DiffNote` on a line of the diff).
    pub(super) fn gitlab_interaction(
        &mut self,
        p: &PrPlan,
        head: &str,
        at: DateTime<Utc>,
        interaction: &Interaction,
    ) {
        let path = gitlab_path(p.repo);
        let mr = merge_request(
            p,
            &path,
            MrState {
                head,
                draft: false,
                closed: None,
            },
        );
        match interaction {
            Interaction::Review { login, state, .. } => {
                let body = match state {
                    Review::Approved => mr.event("approved", login, at, json!({})),
                    Review::ChangesRequested => mr.reviewed(login, "requested_changes", at),
                    Review::Commented => mr.reviewed(login, "reviewed", at),
                };
                self.gitlab(at, p.repo, "Merge Request Hook", body);
            }
            Interaction::ReviewComment { login, body }
            | Interaction::IssueComment { login, body } => {
                let diff = matches!(interaction, Interaction::ReviewComment { .. });
                let id = self.hosts.range(1_000_000, 2_000_000_000) as u64;
                let note = mr.note(id, login, at, body, diff);
                self.gitlab(at, p.repo, "Note Hook", note);
            }
        }
    }

    /// A Deployment Hook of deployment `id`: `status` (`running`, `success`, `failed`) at `at`.
    pub(super) fn gitlab_deployment(
        &mut self,
        repo: &str,
        (id, sha, environment): (u64, &str, &str),
        status: &str,
        at: DateTime<Utc>,
    ) {
        let path = gitlab_path(repo);
        let project = project(&path);
        let body = gitlab::deployment(&project, id, sha, environment, status, at, DEPLOYER);
        self.gitlab(at, repo, "Deployment Hook", body);
    }

    /// A GitLab incident (an issue of type Incident) opened at `at` and closed when resolved;
    /// returns its id as Flowmeter names it (`gl:<repo>#<iid>`).
    pub(super) fn gitlab_incident(
        &mut self,
        repo: &str,
        (iid, title): (u64, &str),
        (at, resolved): (DateTime<Utc>, DateTime<Utc>),
    ) -> String {
        let path = gitlab_path(repo);
        let project = project(&path);
        let open = gitlab::incident(&project, iid, title, at, None, "open", at);
        self.gitlab(at, repo, "Issue Hook", open);
        let close = gitlab::incident(&project, iid, title, at, Some(resolved), "close", resolved);
        self.gitlab(resolved, repo, "Issue Hook", close);
        format!("gl:{}#{iid}", full_name(repo))
    }
}

/// The GitLab project at `path` (from [`gitlab_path`]).
fn project(path: &str) -> Project<'_> {
    Project {
        host: GITLAB_HOST,
        path,
    }
}

/// The merge request of `p` in GitLab project `path`.
fn merge_request<'a>(p: &'a PrPlan, path: &'a str, state: MrState<'a>) -> MergeRequest<'a> {
    MergeRequest {
        project: project(path),
        iid: p.number,
        title: &p.title,
        description: p.body.as_deref().unwrap_or_default(),
        author: &p.author,
        created: p.created,
        draft: state.draft,
        source: (&p.branch, state.head),
        closed: state.closed,
        labels: &p.labels,
    }
}
