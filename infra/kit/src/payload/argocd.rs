//! Bodies of `POST /webhooks/argocd`: what the argocd-notifications template Flowmeter ships
//! (`infra/argocd/argocd-notifications-cm.yaml`) renders for an Application.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ts;

/// An Application: its name, Git source and environment.
#[derive(Clone, Copy, Debug)]
pub struct App<'a> {
    pub name: &'a str,
    /// `spec.source.repoURL` (`https://github.com/acme/api.git`).
    pub repo_url: &'a str,
    /// The environment the template reports (the destination namespace by default).
    pub environment: &'a str,
}

impl App<'_> {
    /// The notification of a sync of `revision` that ran `started` → `finished` and ended in
    /// `phase` (`Succeeded`, `Failed`, `Error`), observed when it finished; the app is then
    /// in sync and healthy after a success, out of sync and degraded after a failure.
    pub fn sync(
        &self,
        revision: &str,
        (started, finished): (DateTime<Utc>, DateTime<Utc>),
        phase: &str,
    ) -> Value {
        let ok = phase == "Succeeded";
        let trigger = if ok {
            "flowmeter-sync-succeeded"
        } else {
            "flowmeter-sync-failed"
        };
        json!({
            "trigger": trigger, "observed_at": ts(finished), "app": self.name,
            "app_namespace": "argocd", "project": "default", "environment": self.environment,
            "repo_url": self.repo_url, "target_revision": "main",
            "sync_status": if ok { "Synced" } else { "OutOfSync" },
            "synced_revision": revision,
            "health_status": if ok { "Healthy" } else { "Degraded" },
            "operation": {"phase": phase, "message": format!("sync {}", phase.to_lowercase()),
                          "started_at": ts(started), "finished_at": ts(finished),
                          "sync_revision": revision, "initiated_by": null, "automated": true},
            "destination": {"server": "https://kubernetes.default.svc", "name": null,
                            "namespace": self.environment}
        })
    }
}
