//! GitHub's deployment events to facts: a `deployment` is a request, a `deployment_status` its
//! outcome, and a completed `workflow_run` both at once. Every completed run is kept as a
//! candidate; whether its workflow deploys is config (`deploy_workflows`), decided at derive
//! time so a config change needs no re-ingest.

use serde::Deserialize;

use super::super::json::Timestamp;
use super::super::{IngestError, Normalized};
use super::{actor, Facts, Repository, User};
use crate::model::{DeploymentState, EntityKey, FactBody, RepoName};

#[derive(Deserialize)]
pub(super) struct DeploymentEvent {
    action: String,
    deployment: Deployment,
    repository: Repository,
    /// The Actions run whose job (`environment:`) created the deployment, if any.
    #[serde(default)]
    workflow_run: Option<RunRef>,
}

#[derive(Deserialize)]
struct RunRef {
    id: u64,
}

#[derive(Deserialize)]
struct Deployment {
    id: u64,
    sha: String,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    environment: String,
    creator: Option<User>,
    created_at: Timestamp,
}

#[derive(Deserialize)]
pub(super) struct DeploymentStatusEvent {
    action: String,
    deployment_status: DeploymentStatus,
    deployment: Deployment,
    repository: Repository,
    #[serde(default)]
    workflow_run: Option<RunRef>,
}

#[derive(Deserialize)]
struct DeploymentStatus {
    #[serde(default)]
    id: Option<u64>,
    state: String,
    environment: Option<String>,
    created_at: Timestamp,
    updated_at: Option<Timestamp>,
}

#[derive(Deserialize)]
pub(super) struct WorkflowRunEvent {
    action: String,
    workflow_run: WorkflowRun,
    workflow: Option<Workflow>,
    repository: Repository,
}

#[derive(Deserialize)]
struct WorkflowRun {
    id: u64,
    /// 1 for the first attempt; a re-run of the same run is a new attempt (a new deployment
    /// outcome), so it is part of the facts' identity.
    #[serde(default)]
    run_attempt: Option<u64>,
    name: Option<String>,
    head_sha: String,
    head_branch: Option<String>,
    conclusion: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
    run_started_at: Option<Timestamp>,
    actor: Option<User>,
    triggering_actor: Option<User>,
}

#[derive(Deserialize)]
struct Workflow {
    name: Option<String>,
}

fn deployment_entity(repo: RepoName, id: u64) -> EntityKey {
    EntityKey::Deployment {
        repo,
        id: format!("gh:{id}"),
    }
}

pub(super) fn deployment(facts: &Facts, e: DeploymentEvent) -> Result<Normalized, IngestError> {
    if e.action != "created" {
        return Ok(Normalized::Ignored("unsupported action"));
    }
    let d = e.deployment;
    let entity = deployment_entity(e.repository.name()?, d.id);
    let body = FactBody::DeploymentRequested {
        environment: d.environment,
        sha: d.sha,
        git_ref: d.git_ref,
        creator: d.creator.as_ref().map(|u| actor(Some(u))),
        workflow: None,
        workflow_run: e.workflow_run.map(|r| r.id),
    };
    let identity = format!("deployment:{}", d.id);
    Ok(facts.one(&identity, entity, d.created_at, body))
}

pub(super) fn deployment_status(
    facts: &Facts,
    e: DeploymentStatusEvent,
) -> Result<Normalized, IngestError> {
    if e.action != "created" {
        return Ok(Normalized::Ignored("unsupported action"));
    }
    let status = e.deployment_status;
    let state = match status.state.as_str() {
        "success" => DeploymentState::Success,
        "failure" => DeploymentState::Failure,
        "error" => DeploymentState::Error,
        "in_progress" => DeploymentState::InProgress,
        "queued" => DeploymentState::Queued,
        "pending" => DeploymentState::Pending,
        "inactive" => DeploymentState::Inactive,
        _ => return Ok(Normalized::Ignored("deployment status state not tracked")),
    };
    let d = e.deployment;
    let entity = deployment_entity(e.repository.name()?, d.id);
    // The status repeats the deployment's environment and sha, so the deployment is complete
    // even if its `deployment` delivery was lost.
    let body = FactBody::DeploymentStatus {
        state,
        environment: status.environment.or(Some(d.environment)),
        sha: Some(d.sha),
        started_at: Some(d.created_at.0),
        workflow_run: e.workflow_run.map(|r| r.id),
    };
    let at = status.updated_at.unwrap_or(status.created_at);
    let identity = facts.identity("status", status.id);
    Ok(facts.one(&identity, entity, at, body))
}

pub(super) fn workflow_run(facts: &Facts, e: WorkflowRunEvent) -> Result<Normalized, IngestError> {
    if e.action != "completed" {
        return Ok(Normalized::Ignored("workflow run not completed"));
    }
    let run = e.workflow_run;
    let state = match run.conclusion.as_deref() {
        Some("success") => DeploymentState::Success,
        Some("failure" | "timed_out" | "startup_failure") => DeploymentState::Failure,
        // cancelled, skipped, neutral, action_required, stale: nothing was deployed, and a
        // deployment that never finished must not count as an attempt.
        _ => {
            return Ok(Normalized::Ignored(
                "workflow run neither succeeded nor failed",
            ))
        }
    };
    // `workflow_run.name` is the workflow's name but may be empty; `workflow.name` is the same.
    let workflow = [run.name, e.workflow.and_then(|w| w.name)]
        .into_iter()
        .flatten()
        .find(|n| !n.is_empty());
    let entity = EntityKey::Deployment {
        repo: e.repository.name()?,
        id: format!("wr:{}", run.id),
    };
    let started = run.run_started_at.unwrap_or(run.created_at);
    let creator = run
        .triggering_actor
        .as_ref()
        .or(run.actor.as_ref())
        .map(|u| actor(Some(u)));
    // Whether this workflow deploys, and to production, is decided at derive time from config
    // (`deploy_workflows`); ingest records every completed run as a candidate.
    let requested = FactBody::DeploymentRequested {
        environment: "production".into(),
        sha: run.head_sha.clone(),
        git_ref: run.head_branch,
        creator,
        workflow,
        workflow_run: None,
    };
    let status = FactBody::DeploymentStatus {
        state,
        environment: Some("production".into()),
        sha: Some(run.head_sha),
        started_at: Some(started.0),
        workflow_run: None,
    };
    let identity = format!("run:{}:{}", run.id, run.run_attempt.unwrap_or(1));
    Ok(Normalized::Facts(vec![
        facts.fact(&identity, 0, entity.clone(), started, requested),
        facts.fact(&identity, 1, entity, run.updated_at, status),
    ]))
}
