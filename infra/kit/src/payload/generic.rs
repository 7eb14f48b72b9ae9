//! Bodies of the generic endpoints, `/webhooks/deployments` and `/webhooks/incidents`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ts;

/// A finished deployment of `sha` to `environment` (`status`: `success` or `failure`).
pub fn deployment(
    repo: &str,
    environment: &str,
    sha: &str,
    status: &str,
    (started, finished): (DateTime<Utc>, DateTime<Utc>),
    id: &str,
) -> Value {
    json!({"repo": repo, "environment": environment, "sha": sha, "status": status,
           "started_at": ts(started), "finished_at": ts(finished), "id": id})
}

/// An incident of `service`, open from `opened` (until `resolved`, if it is), not attributed
/// to a deployment.
pub fn incident(
    id: &str,
    service: &str,
    severity: &str,
    title: &str,
    opened: DateTime<Utc>,
    resolved: Option<DateTime<Utc>>,
) -> Value {
    json!({"id": id, "service": service, "severity": severity, "title": title,
           "opened_at": ts(opened), "resolved_at": resolved.map(ts), "deployment_sha": null})
}
