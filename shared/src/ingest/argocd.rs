//! Argo CD notifications to facts.
//!
//! Argo CD has no webhook payload of its own: its notifications controller posts whatever a
//! template renders from the Application. Flowmeter ships that template
//! (`infra/argocd/argocd-notifications-cm.yaml`, docs/sources/argocd.md), so this parser reads
//! exactly the JSON it renders: the application, the environment, its source's repository and
//! target revision, its sync and health status, and its last sync operation.
//!
//! Two things come of one notification:
//!
//! - **A deployment**, when the notification carries a sync operation: the sync of the
//!   application's repository to the reported environment. Its entity id is
//!   `argocd:<app>@<environment>:<operation start>`: every notification of one operation (it
//!   running, it finishing, the app degrading afterwards) names the same start, and an
//!   application runs one operation at a time, so two operations never share one. The request
//!   is `sync#0` at the start; a finished operation adds its outcome, `sync#1` at its finish.
//!   Later notifications repeat the last operation, and write the same two facts again: nothing.
//! - **The application's state** (`FactBody::AppState` on `EntityKey::App`), every time: the
//!   target revision against the synced one, sync status and health, observed when the template
//!   rendered. Its id is a hash of that content, so a notification sent again says the same
//!   thing under the same id.
//!
//! Nothing here depends on a delivery id (Argo CD sends none) or a clock: the same body always
//! gives the same facts.

use serde::Deserialize;

use super::json::{from_value, Timestamp};
use super::{check_id, parse_body, IngestError, Normalized};
use crate::model::{short_digest, Actor, DeploymentState, EntityKey, Fact, FactBody, RepoName};

/// Normalizes one notification rendered by Flowmeter's template. Authentication (the bearer
/// token of the webhook service) is the caller's.
pub fn normalize_argocd(body: &[u8]) -> Result<Normalized, IngestError> {
    let root = parse_body(body)?;
    let notification: Notification = from_value(&root)?;
    notification.facts()
}

// ---- the body the template renders (only the fields we read) --------------------------------

#[derive(Deserialize)]
struct Notification {
    app: String,
    observed_at: Option<Timestamp>,
    environment: Option<String>,
    repo_url: Option<String>,
    target_revision: Option<String>,
    sync_status: Option<String>,
    synced_revision: Option<String>,
    health_status: Option<String>,
    #[serde(default)]
    operation: Option<Operation>,
    #[serde(default)]
    destination: Option<Destination>,
}

#[derive(Deserialize)]
struct Operation {
    phase: Option<String>,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    sync_revision: Option<String>,
    initiated_by: Option<String>,
    automated: Option<bool>,
}

#[derive(Deserialize)]
struct Destination {
    name: Option<String>,
    namespace: Option<String>,
}

/// Go templates render a field the Application lacks as `null`, and some as `""`: both are
/// absent.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Where an operation stands.
enum Phase {
    /// `Running` (or `Terminating`): only the request is known.
    Running,
    /// Finished with this outcome, at this time.
    Finished(DeploymentState, Timestamp),
}

/// A sync operation as far as a deployment needs it.
struct Sync {
    phase: Phase,
    started_at: Timestamp,
    revision: Option<String>,
    creator: Option<Actor>,
}

impl Notification {
    fn facts(self) -> Result<Normalized, IngestError> {
        check_id(&self.app, "app")?;
        let sync = self.sync()?;
        let sync_status = present(self.sync_status.clone());
        let health = present(self.health_status.clone());
        if sync.is_none() && sync_status.is_none() && health.is_none() {
            return Ok(Normalized::Ignored(
                "no sync operation and no application state",
            ));
        }
        let environment = self.environment()?;
        let repo = match present(self.repo_url.clone()) {
            Some(url) => Some(
                crate::repo::from_clone_url(&url)
                    .map_err(|e| IngestError::invalid("repo_url", e.to_string()))?,
            ),
            None => None,
        };
        let qualified = format!("argocd:{}@{environment}", self.app);
        let mut facts = Vec::new();
        if let Some(sync) = sync {
            let repo = repo.clone().ok_or(IngestError::MissingField {
                path: "repo_url".into(),
            })?;
            facts.extend(self.deployment(sync, repo, &qualified, &environment)?);
        }
        if sync_status.is_some() || health.is_some() {
            facts.push(self.app_state(repo, qualified, environment, sync_status, health)?);
        }
        if facts.is_empty() {
            return Ok(Normalized::Ignored(
                "a running operation whose commit is not resolved yet",
            ));
        }
        Ok(Normalized::Facts(facts))
    }

    /// The reported environment; the destination's namespace, then its cluster name, when the
    /// template was edited to report none.
    fn environment(&self) -> Result<String, IngestError> {
        let destination = self.destination.as_ref();
        let environment = present(self.environment.clone())
            .or_else(|| present(destination.and_then(|d| d.namespace.clone())))
            .or_else(|| present(destination.and_then(|d| d.name.clone())))
            .ok_or(IngestError::MissingField {
                path: "environment".into(),
            })?;
        check_id(&environment, "environment")?;
        Ok(environment)
    }

    /// The sync operation, if the notification has one: a phase and a start.
    fn sync(&self) -> Result<Option<Sync>, IngestError> {
        let Some(op) = &self.operation else {
            return Ok(None);
        };
        let Some(phase) = present(op.phase.clone()) else {
            return Ok(None);
        };
        let missing = |field: &str| IngestError::MissingField {
            path: format!("operation.{field}"),
        };
        let started_at = op.started_at.ok_or_else(|| missing("started_at"))?;
        let finished = |state| {
            op.finished_at
                .map(|at| Phase::Finished(state, at))
                .ok_or_else(|| missing("finished_at"))
        };
        let phase = match phase.as_str() {
            "Running" | "Terminating" => Phase::Running,
            "Succeeded" => finished(DeploymentState::Success)?,
            "Failed" => finished(DeploymentState::Failure)?,
            "Error" => finished(DeploymentState::Error)?,
            _ => {
                return Err(IngestError::invalid(
                    "operation.phase",
                    format!("{phase:?} is not an Argo CD operation phase"),
                ))
            }
        };
        // An automated sync has no user; the sync policy started it.
        let user = present(op.initiated_by.clone());
        let creator = match (op.automated, user) {
            (Some(true), user) => Some(Actor {
                login: user.unwrap_or_else(|| "argocd".into()),
                is_bot: true,
            }),
            (_, Some(login)) => Some(Actor {
                login,
                is_bot: false,
            }),
            (_, None) => None,
        };
        Ok(Some(Sync {
            phase,
            started_at,
            revision: present(op.sync_revision.clone()),
            creator,
        }))
    }

    /// The request, and the outcome if the operation finished. The request is the same fact in
    /// every notification of the operation, so a running operation writes it only when its
    /// revision is already a commit (a manual sync asks for `HEAD` until Argo CD resolves it).
    fn deployment(
        &self,
        sync: Sync,
        repo: RepoName,
        qualified: &str,
        environment: &str,
    ) -> Result<Vec<Fact>, IngestError> {
        let sha = match (&sync.phase, sync.revision) {
            (Phase::Running, Some(revision)) if is_commit(&revision) => revision,
            (Phase::Running, _) => return Ok(Vec::new()),
            (Phase::Finished(..), Some(revision)) => revision,
            // A finished operation names what it synced.
            (Phase::Finished(..), None) => {
                present(self.synced_revision.clone()).ok_or(IngestError::MissingField {
                    path: "operation.sync_revision".into(),
                })?
            }
        };
        let start = sync.started_at.0;
        let entity = EntityKey::Deployment {
            repo,
            id: format!("{qualified}:{}", start.format("%Y-%m-%dT%H:%M:%SZ")),
        };
        let mut facts = vec![Fact {
            entity: entity.clone(),
            id: "sync#0".into(),
            at: start,
            body: FactBody::DeploymentRequested {
                environment: environment.to_string(),
                sha: sha.clone(),
                git_ref: present(self.target_revision.clone()),
                creator: sync.creator,
                workflow: None,
                workflow_run: None,
            },
        }];
        if let Phase::Finished(state, finished_at) = sync.phase {
            facts.push(Fact {
                entity,
                id: "sync#1".into(),
                at: finished_at.0,
                body: FactBody::DeploymentStatus {
                    state,
                    environment: Some(environment.to_string()),
                    sha: Some(sha),
                    started_at: Some(start),
                    workflow_run: None,
                },
            });
        }
        Ok(facts)
    }

    /// The application's state as observed; its id is its content's hash.
    fn app_state(
        &self,
        repo: Option<RepoName>,
        qualified: String,
        environment: String,
        sync_status: Option<String>,
        health: Option<String>,
    ) -> Result<Fact, IngestError> {
        let sync = self.operation.as_ref();
        let observed_at = self
            .observed_at
            .or(sync.and_then(|op| op.finished_at))
            .or(sync.and_then(|op| op.started_at))
            .ok_or(IngestError::MissingField {
                path: "observed_at".into(),
            })?;
        let body = FactBody::AppState {
            app: self.app.clone(),
            environment,
            repo,
            desired_revision: present(self.target_revision.clone()),
            synced_revision: present(self.synced_revision.clone()),
            sync_status: sync_status.unwrap_or_else(|| UNKNOWN.into()),
            health: health.unwrap_or_else(|| UNKNOWN.into()),
            observed_at: observed_at.0,
        };
        let content = serde_json::to_vec(&body).unwrap_or_default();
        Ok(Fact {
            entity: EntityKey::App { id: qualified },
            id: format!("state:{}#0", short_digest(&content)),
            at: observed_at.0,
            body,
        })
    }
}

/// Argo CD's word for a status it could not determine.
const UNKNOWN: &str = "Unknown";

/// A full Git commit id: 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_commit(revision: &str) -> bool {
    matches!(revision.len(), 40 | 64) && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
pub(crate) mod tests;
