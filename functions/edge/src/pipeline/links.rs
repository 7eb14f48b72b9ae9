//! The link phases: for each decision of `flowmeter::derive::link_edits`, load what it reads,
//! decide, and apply its edits through [`Pipeline::apply`]. A decision an entity remembers
//! (its `LinkState`) is stored back on that entity's projection.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use flowmeter::derive::link_edits::{self, PREDECESSORS};
use flowmeter::derive::links::branch_history;
use flowmeter::derive::{Deployment, Incident, Projection};
use flowmeter::events::decide::with_announced;
use flowmeter::model::EntityKey;

use super::{Pipeline, Work};
use crate::store::{LinkState, StoreError};

impl Pipeline<'_> {
    /// The links a projection's new state writes once: a GitHub Deployment superseding its
    /// workflow run, a merged PR telling the other PRs of its branch where its commits end.
    pub(super) async fn link_new_state(
        &self,
        new: &Projection,
        old: Option<&Projection>,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        match new {
            Projection::Deployment(deployment) => {
                let old = match old {
                    Some(Projection::Deployment(o)) => Some(o),
                    _ => None,
                };
                let edits = link_edits::superseded(deployment, old)
                    .into_iter()
                    .collect();
                self.apply(edits, work).await
            }
            Projection::PullRequest(pr) => {
                let old = match old {
                    Some(Projection::PullRequest(o)) => Some(o),
                    _ => None,
                };
                let Some(branch) = link_edits::branch_to_tell(pr, old) else {
                    return Ok(());
                };
                let others = self.store.prs_with_head(&branch).await?;
                self.apply(link_edits::earlier_pr_heads(pr, &others), work)
                    .await
            }
            Projection::Incident(_)
            | Projection::Ticket(_)
            | Projection::App(_)
            | Projection::SecurityAlert(_) => Ok(()),
        }
    }

    /// Tells the tickets a PR names (or stopped naming) of it (`link_edits::ticket_links`);
    /// `old: None` writes every link of `new` again (its content unchanged writes nothing).
    pub(super) async fn relink_tickets(
        &self,
        new: Option<&Projection>,
        old: Option<&Projection>,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        fn pr(p: Option<&Projection>) -> Option<&flowmeter::derive::PullRequest> {
            match p {
                Some(Projection::PullRequest(pr)) => Some(pr),
                _ => None,
            }
        }
        let (new, old) = (pr(new), pr(old));
        if new.is_none() && old.is_none() {
            return Ok(());
        }
        self.apply(link_edits::ticket_links(new, old), work).await
    }

    /// Stores a changed link decision on the asserting entity's projection.
    async fn remember_links(
        &self,
        entity: &EntityKey,
        edit: impl FnOnce(&mut LinkState),
    ) -> Result<(), StoreError> {
        if let Some(mut item) = self.store.projection(entity).await? {
            let before = item.links.clone();
            edit(&mut item.links);
            if item.links != before {
                self.store.put_projection(&item).await?;
            }
        }
        Ok(())
    }

    /// Links a merged revert PR to the PR it reverts (`link_edits::revert`).
    pub(super) async fn link_revert(
        &self,
        revert_key: &EntityKey,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let Some(item) = self.store.projection(revert_key).await? else {
            return Ok(());
        };
        let Projection::PullRequest(revert) = &item.projection else {
            return Ok(());
        };
        let candidates = match link_edits::revert_candidates_window(revert) {
            Some(window) => self.store.merged_prs(&revert.repo, window).await?,
            None => Vec::new(),
        };
        let decided = link_edits::revert(revert, &candidates, item.links.reverts.as_ref());
        self.apply(decided.edits, work).await?;
        self.remember_links(revert_key, |links| links.reverts = decided.target)
            .await
    }

    /// Links an incident to the deployment it blames (`link_edits::blame`), among the latest
    /// production attempts of its repos (`link_edits::blame_repos`).
    pub(super) async fn link_blame(
        &self,
        incident_key: &EntityKey,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let item = self.store.projection(incident_key).await?;
        let incident: Option<&Incident> = match item.as_ref().map(|i| &i.projection) {
            Some(Projection::Incident(i)) => Some(i),
            _ => None,
        };
        let repos = incident
            .map(|i| link_edits::blame_repos(i, &self.config))
            .unwrap_or_default();
        let mut deployments = Vec::new();
        if let Some(incident) = incident {
            for repo in &repos {
                deployments.extend(self.deployments_before(repo, incident.opened_at).await?);
            }
        }
        let old = item.as_ref().and_then(|i| i.links.blames.as_ref());
        let decided = link_edits::blame(
            incident_key,
            incident,
            &deployments,
            &repos,
            self.config.blame_window(),
            old,
        );
        self.apply(decided.edits, work).await?;
        self.remember_links(incident_key, |links| links.blames = decided.target)
            .await
    }

    /// The latest production attempts of a repo that finished before `until`.
    async fn deployments_before(
        &self,
        repo: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<Deployment>, StoreError> {
        self.store
            .deployments_before(repo, until, PREDECESSORS)
            .await
    }

    /// Re-derives the deployment links of `repo` from `from` on (`link_edits::repo_links`):
    /// loads its production deployments from then (and their predecessors), the default
    /// branch's pushes and the merged PRs over their span.
    pub(super) async fn link_repo(
        &self,
        repo: &str,
        from: DateTime<Utc>,
        announce: &BTreeMap<EntityKey, Deployment>,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let later = self.store.production_deployments(repo, from..).await?;
        let relink = !later.is_empty();
        let mut deployments = Vec::new();
        if relink {
            deployments = self.deployments_before(repo, from).await?;
            deployments.extend(later);
        }
        let (with_announced, announced) = with_announced(repo, &deployments, announce);
        if !relink && announced.is_empty() {
            return Ok(());
        }
        let Some(window) = link_edits::repo_history_window(&with_announced) else {
            return Ok(());
        };
        let pushes = match self.default_branch(repo).await? {
            Some(branch) => {
                self.store
                    .branch_facts(repo, &branch, Some(*window.start()), Some(*window.end()))
                    .await?
            }
            None => Vec::new(),
        };
        let merged = self.store.merged_prs(repo, window).await?;
        let history = branch_history(&pushes);
        self.repo_linked(&with_announced, &announced, &history, &merged, work)
            .await?;
        if !relink {
            return Ok(());
        }
        let edits = link_edits::repo_links(&deployments, &history, &merged, from);
        self.apply(edits, work).await
    }
}
