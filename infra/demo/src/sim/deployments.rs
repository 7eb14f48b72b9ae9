//! Deployments: merges land on `main`, deploy pipelines (continuous, trains, weekly, or the
//! generic CI) ship it to staging and production, failures are re-run, and some successes
//! cause an incident or a revert.

use chrono::{DateTime, Duration, Utc};
use flowmeter_kit::delivery::DEPLOYMENTS;
use flowmeter_kit::payload::{argocd, generic};
use serde_json::{json, Value};

use super::calendar::{hours, minutes};
use super::{Commit, DeployReport, DeployRun, Event, Pending, PrPlan, Push, World};
use crate::payloads::{argocd_delivery, is_bot, org_event, ts, user};
use crate::spec::{
    argocd_environment, deploy_reporter, full_name, host_of, repo_spec, service_of_repo,
    team_of_repo, DeployReporter, Deploys, Host,
};
use crate::truth::DeploymentTruth;

/// Who creates the org's GitHub deployments and their statuses.
const ACTIONS: &str = "github-actions[bot]";

impl World {
    pub(super) fn on_merge(&mut self, p: PrPlan) {
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
            ticket: p.ticket.clone(),
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
        if host_of(p.repo) == Host::GitLab {
            self.gitlab_push(p.repo, "main", &push, &p.merger);
        }
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
        let body =
            json!({"action": "created", "deployment_status": status, "deployment": deployment});
        self.github(at, "deployment_status", org_event(repo, ACTIONS, body));
    }

    /// Starts a production deployment of `sha` (after staging, unless it is a re-run).
    fn start_deploy(&mut self, repo: &'static str, sha: String, at: DateTime<Utc>, attempt: u32) {
        self.entity = format!("deploy:{sha}");
        let team = team_of_repo(repo).map_or("", |t| t.name);
        let mut prod_start = at;
        if attempt == 1 {
            let staging_done = at + minutes(self.rng.range(2, 6) as f64);
            let entity = if deploy_reporter(repo) == DeployReporter::Generic {
                let run = self.next_ci_run(repo);
                let id = format!("buildkite-{repo}-{run}");
                let (repo, span) = (full_name(repo), (at, staging_done));
                let body = generic::deployment(&repo, "staging", &sha, "success", span, &id);
                self.generic(staging_done, DEPLOYMENTS, body);
                format!("gen:{id}")
            } else {
                // GitHub's deployment (sent only where GitHub reports it: `World::github`).
                let id = self.github_id();
                let d = self.deployment_json(id, repo, &sha, "staging", at);
                self.github(at, "deployment", deployment_created(repo, &d));
                self.deployment_status(repo, &d, "staging", "success", staging_done);
                match deploy_reporter(repo) {
                    DeployReporter::GitLab => {
                        let deployment = (id, sha.as_str(), "staging");
                        self.gitlab_deployment(repo, deployment, "running", at);
                        self.gitlab_deployment(repo, deployment, "success", staging_done);
                        format!("gl:{id}")
                    }
                    DeployReporter::ArgoCd => {
                        self.argocd_sync(repo, "staging", &sha, (at, staging_done), true)
                    }
                    _ => format!("gh:{id}"),
                }
            };
            if staging_done < self.end {
                self.truth.staging.push(DeploymentTruth {
                    repo: full_name(repo),
                    entity,
                    sha: sha.clone(),
                    success: true,
                    started_at: at,
                    finished_at: staging_done,
                });
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
        let (entity, report) = if deploy_reporter(repo) == DeployReporter::Generic {
            let run = self.next_ci_run(repo);
            (format!("gen:buildkite-{repo}-{run}"), DeployReport::Generic)
        } else {
            let id = self.github_id();
            let d = self.deployment_json(id, repo, &sha, "production", prod_start);
            self.github(prod_start, "deployment", deployment_created(repo, &d));
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
            match deploy_reporter(repo) {
                DeployReporter::GitLab => {
                    let deployment = (id, sha.as_str(), "production");
                    self.gitlab_deployment(repo, deployment, "running", prod_start);
                    (format!("gl:{id}"), DeployReport::GitLab(d, id))
                }
                DeployReporter::ArgoCd => (
                    argocd_entity(repo, "production", prod_start),
                    DeployReport::ArgoCd(d),
                ),
                _ => (format!("gh:{id}"), DeployReport::GitHub(d)),
            }
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
            report,
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

    pub(super) fn on_slot(&mut self, repo: &'static str, at: DateTime<Utc>) {
        let Some(state) = self.repos.get(repo) else {
            return;
        };
        if state.busy || state.last_success_sha.as_deref() == Some(state.head.as_str()) {
            return;
        }
        let sha = state.head.clone();
        self.start_deploy(repo, sha, at, 1);
    }

    pub(super) fn on_finish(&mut self, run: DeployRun) {
        self.entity = format!("deploy:{}", run.sha);
        let repo = run.repo;
        let state_name = if run.success { "success" } else { "failure" };
        match &run.report {
            DeployReport::GitHub(d) => {
                let d = d.clone();
                self.deployment_status(repo, &d, "production", state_name, run.finished);
            }
            DeployReport::GitLab(d, id) => {
                let (d, id) = (d.clone(), *id);
                self.deployment_status(repo, &d, "production", state_name, run.finished);
                let status = if run.success { "success" } else { "failed" };
                let deployment = (id, run.sha.as_str(), "production");
                self.gitlab_deployment(repo, deployment, status, run.finished);
            }
            DeployReport::ArgoCd(d) => {
                let d = d.clone();
                self.deployment_status(repo, &d, "production", state_name, run.finished);
                let span = (run.started, run.finished);
                self.argocd_sync(repo, "production", &run.sha, span, run.success);
            }
            DeployReport::Generic => {
                let id = run.entity.trim_start_matches("gen:").to_string();
                let span = (run.started, run.finished);
                let body = generic::deployment(
                    &full_name(repo),
                    "production",
                    &run.sha,
                    state_name,
                    span,
                    &id,
                );
                self.generic(run.finished, DEPLOYMENTS, body);
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
}

impl World {
    /// argocd-notifications reports a finished sync of `repo`'s Application for `environment`
    /// (which also reports the Application's state: in sync and healthy after a success, out
    /// of sync and degraded after a failure); returns the deployment's id as Flowmeter names
    /// it.
    fn argocd_sync(
        &mut self,
        repo: &str,
        environment: &str,
        sha: &str,
        span: (DateTime<Utc>, DateTime<Utc>),
        success: bool,
    ) -> String {
        let name = argocd_environment(repo, environment);
        let repo_url = format!("https://github.com/{}.git", full_name(repo));
        let app = argocd::App {
            name: &name,
            repo_url: &repo_url,
            environment: &name,
        };
        let phase = if success { "Succeeded" } else { "Failed" };
        let body = app.sync(sha, span, phase);
        if span.1 < self.end {
            let mut d = argocd_delivery(&self.secrets, span.1, &full_name(repo), &body);
            d.entity.clone_from(&self.entity);
            self.deliveries.push(d);
        }
        argocd_entity(repo, environment, span.0)
    }
}

/// How Flowmeter names a sync of `repo`'s Application for `environment` started at `started`:
/// `argocd:<app>@<reported environment>:<start>`.
fn argocd_entity(repo: &str, environment: &str, started: DateTime<Utc>) -> String {
    let name = argocd_environment(repo, environment);
    format!(
        "argocd:{name}@{name}:{}",
        started.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// A `deployment` (`created`) delivery's body.
fn deployment_created(repo: &str, deployment: &Value) -> Value {
    let body = json!({"action": "created", "deployment": deployment});
    org_event(repo, ACTIONS, body)
}
