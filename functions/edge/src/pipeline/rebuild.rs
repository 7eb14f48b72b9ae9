//! Rebuilding one entity: load its facts and stored projection, project (`flowmeter::derive`),
//! diff its bucket members (`MemberDiff`), write what changed, and queue the links and buckets
//! that depend on it (`derive::dependents`).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use flowmeter::derive::link_edits::{before, HISTORY_WINDOW, LINK_SLACK};
use flowmeter::derive::pr_commits::own_pushes;
use flowmeter::derive::projection::reverts_among;
use flowmeter::derive::{
    dependents, pack_members, project_app_state, project_deployment, project_incident,
    project_pull_request, project_security_alert, project_ticket, Bucket, HeadHistory, MemberDiff,
    Projection, PullRequest, Rollup,
};
use flowmeter::model::{EntityKey, Fact, FactBody};

use super::{Pipeline, Work};
use crate::store::{ProjectionItem, StoreError};

/// Compare-and-set rounds a bucket recompute tries before failing its run (which the stream
/// then retries): losing 10 in a row means something keeps rewriting the bucket.
const ROLLUP_WRITE_ATTEMPTS: u32 = 10;

impl Pipeline<'_> {
    /// The repo's default branch, read from the table once per run.
    pub(super) async fn default_branch(&self, repo: &str) -> Result<Option<String>, StoreError> {
        if let Some(branch) = self.default_branches.get(repo) {
            return Ok(branch);
        }
        let branch = self.store.default_branch(repo).await?;
        self.default_branches.put(repo, branch.clone());
        Ok(branch)
    }

    async fn put_default_branch(&self, repo: &str, branch: &str) -> Result<(), StoreError> {
        self.store.put_default_branch(repo, branch).await?;
        self.default_branches.put(repo, Some(branch.to_string()));
        Ok(())
    }

    /// A branch's pushes changed: the PRs recorded under it rebuild, and a push to the default
    /// branch (learnt from the push itself when not known yet) re-links the repo's deployments.
    pub(super) async fn branch_changed(
        &self,
        repo: &str,
        branch: &str,
        since: DateTime<Utc>,
        rebuild: &mut BTreeSet<EntityKey>,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let branch_key = EntityKey::Branch {
            repo: repo.to_string(),
            branch: branch.to_string(),
        };
        rebuild.extend(self.store.prs_with_head(&branch_key).await?);
        let mut is_default = self.default_branch(repo).await?.as_deref() == Some(branch);
        if !is_default {
            let recent = self
                .store
                .branch_facts(repo, branch, Some(since), None)
                .await?;
            is_default = recent.iter().any(|f| {
                matches!(
                    f.body,
                    FactBody::Push {
                        to_default_branch: true,
                        ..
                    }
                )
            });
            if is_default {
                self.put_default_branch(repo, branch).await?;
            }
        }
        if is_default {
            work.link_repo(repo, before(since, LINK_SLACK));
        }
        Ok(())
    }

    async fn project(
        &self,
        entity: &EntityKey,
        facts: &[Fact],
    ) -> Result<Option<Projection>, StoreError> {
        Ok(match entity {
            EntityKey::PullRequest { .. } => {
                // The PR as its own facts show it decides what of its head branch to read.
                let Some(bare) =
                    project_pull_request(entity, facts, &HeadHistory::default(), &self.config)
                else {
                    return Ok(None);
                };
                let head = self.head_history(&bare).await?;
                project_pull_request(entity, facts, &head, &self.config)
                    .map(Projection::PullRequest)
            }
            EntityKey::Deployment { .. } => {
                project_deployment(entity, facts, &self.config).map(Projection::Deployment)
            }
            EntityKey::Incident { .. } => {
                project_incident(entity, facts, &self.config).map(Projection::Incident)
            }
            EntityKey::Ticket { .. } => project_ticket(entity, facts).map(Projection::Ticket),
            EntityKey::App { .. } => project_app_state(entity, facts).map(Projection::App),
            EntityKey::Alert { .. } => {
                project_security_alert(entity, facts).map(Projection::SecurityAlert)
            }
            // A branch's pushes rebuild its PRs (`branch_changed`); it has no projection.
            EntityKey::Branch { .. } => None,
        })
    }

    /// What a PR's own commits are decided from (`flowmeter::derive::pr_commits`): its head
    /// branch's pushes over its own lifetime (from [`HISTORY_WINDOW`] before it was opened to
    /// its merge or close), the heads of earlier merged PRs of the same branch, and the default
    /// branch's commits over the span of the PR's pushes. A fork PR's head is not a branch here.
    async fn head_history(&self, pr: &PullRequest) -> Result<HeadHistory, StoreError> {
        let Some(branch) = pr.head_branch() else {
            return Ok(HeadHistory::default());
        };
        let end = pr.merged_at.or(pr.closed_at);
        let pushes = self
            .store
            .branch_facts(
                &pr.repo,
                &pr.head_ref,
                Some(before(pr.created_at, HISTORY_WINDOW)),
                end,
            )
            .await?;
        let mut history = HeadHistory {
            pushes,
            ..HeadHistory::default()
        };
        // Recorded under its head before the others are read, while a merged PR of the branch
        // reads the branch's PRs after writing its projection (`link_later_prs`): of two such
        // rebuilds at once, at least one sees the other.
        let with_head = self.store.prs_with_head(&branch).await?;
        if !with_head.contains(&pr.key()) {
            self.store.put_head_index(&branch, &pr.key()).await?;
        }
        for other in with_head.iter().filter(|other| **other != pr.key()) {
            if let Some(item) = self.store.projection(other).await? {
                if let Projection::PullRequest(earlier) = item.projection {
                    let merged_before = earlier.merged_at.is_some_and(|m| m <= pr.created_at);
                    if let (true, Some(sha)) = (merged_before, earlier.head_sha) {
                        history.earlier_heads.insert(sha);
                    }
                }
            }
        }
        let (chain, _) = own_pushes(&history, pr.head_sha.as_deref(), end);
        let earliest = chain
            .iter()
            .flat_map(|p| p.commits.iter())
            .map(|c| c.authored_at)
            .min();
        let latest_push = chain.iter().map(|p| p.at).max();
        if let (Some(earliest), Some(latest_push)) = (earliest, latest_push) {
            if !pr.default_branch.is_empty() && pr.default_branch != pr.head_ref {
                // A default-branch commit merged into the head was pushed there after it was
                // authored and before the head push that brought it.
                let from = earliest.max(before(pr.created_at, HISTORY_WINDOW));
                let on_default = self
                    .store
                    .branch_facts(
                        &pr.repo,
                        &pr.default_branch,
                        Some(before(from, LINK_SLACK)),
                        Some(latest_push),
                    )
                    .await?;
                for push in on_default {
                    if let FactBody::Push { commits, .. } = push.body {
                        history
                            .on_default_branch
                            .extend(commits.into_iter().map(|c| c.sha));
                    }
                }
            }
        }
        Ok(history)
    }

    /// Rebuilds one entity's projection and members; queues the links that depend on it.
    pub(super) async fn rebuild(
        &self,
        entity: &EntityKey,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let (facts, old_item) = self.store.entity(entity).await?;
        let new = self.project(entity, &facts).await?;
        if old_item.is_none() && new.as_ref().is_some_and(|p| !p.is_worth_storing()) {
            return Ok(());
        }
        let old = old_item.as_ref().map(|i| &i.projection);
        if new.as_ref() == old {
            // Unchanged, but the run that wrote it may have failed before its buckets and
            // links: redo them unless that run is recorded done.
            if let Some(item) = old_item.as_ref() {
                if self.written_by_unfinished_run(item).await? {
                    work.dirty
                        .extend(item.run_buckets.iter().filter_map(|b| Bucket::parse(b)));
                    // Its events too: the outbox tells which went out.
                    Box::pin(self.projection_changed(None, &item.projection, work)).await?;
                    self.relink_tickets(Some(&item.projection), None, work)
                        .await?;
                    self.queue_dependents(&item.projection, work).await?;
                }
            }
            return Ok(());
        }
        let diff = self
            .write_members(old_item.as_ref(), new.as_ref(), work)
            .await?;
        let mut links = old_item
            .as_ref()
            .map(|i| i.links.clone())
            .unwrap_or_default();
        if let Some(projection) = &new {
            // In the outbox before the change it tells is written (the module doc of
            // `pipeline::events`).
            // Boxed: deciding events is kept out of this function's (debug-build) stack frame.
            Box::pin(self.projection_changed(old, projection, work)).await?;
        }
        match &new {
            Some(projection) => {
                if let Projection::PullRequest(pr) = projection {
                    let marked = flowmeter::derive::link_edits::reverted_deployment(
                        pr,
                        links.marked_reverted.as_ref(),
                    );
                    self.apply(marked.edits, work).await?;
                    links.marked_reverted = marked.target;
                }
                // Recorded under its head by `head_history`, which every PR rebuild runs.
                let head_indexed = match projection {
                    Projection::PullRequest(pr) => pr.head_branch().map(|b| b.partition_key()),
                    _ => None,
                };
                let item = ProjectionItem::new(
                    projection.clone(),
                    diff.refs,
                    links,
                    self.run.clone(),
                    diff.buckets.into_iter().collect(),
                    head_indexed,
                );
                self.store.put_projection(&item).await?;
            }
            // Conditional like every derived write into an entity partition: it can never
            // remove a source fact.
            None => {
                self.store
                    .delete_derived(entity, crate::store::keys::PROJECTION_SK)
                    .await?;
            }
        }
        work.outcome.projections_written += 1;
        if let Some(projection) = &new {
            self.link_new_state(projection, old, work).await?;
        }
        self.relink_tickets(new.as_ref(), old, work).await?;
        // Queue the links that read this projection, for the new and the old state alike.
        for projection in new.iter().chain(old) {
            self.queue_dependents(projection, work).await?;
        }
        Ok(())
    }

    /// Writes the member changes between the stored projection and the new one, and takes
    /// over the buckets of a replaced projection whose run died (`MemberDiff::missed`).
    async fn write_members(
        &self,
        old_item: Option<&ProjectionItem>,
        new: Option<&Projection>,
        work: &mut Work,
    ) -> Result<MemberDiff, StoreError> {
        let new_members = new
            .map(|p| pack_members(p.members(&self.config)))
            .unwrap_or_default();
        let old_refs = old_item.map(|i| i.members.as_slice()).unwrap_or_default();
        let mut diff = MemberDiff::between(old_refs, new_members);
        // Dirty before the write: a batch write that fails part way has still changed some.
        work.dirty.extend(diff.dirty.iter().cloned());
        if !diff.writes_nothing() {
            let puts: Vec<_> = diff.puts.iter().collect();
            let deletes: Vec<(&str, &str)> = diff
                .deletes
                .iter()
                .map(|(b, id)| (b.as_str(), id.as_str()))
                .collect();
            self.store.write_members(&puts, &deletes).await?;
        }
        // (Only the buckets this diff does not name need the run looked up.)
        if let Some(item) = old_item {
            let missed = diff.missed(&item.run_buckets);
            if !missed.is_empty() && self.written_by_unfinished_run(item).await? {
                work.dirty.extend(diff.take_over(missed));
            }
        }
        Ok(diff)
    }

    /// Queues what re-derives after a projection changed (`derive::dependents`), loading the
    /// later reverts and the incidents that may blame it.
    pub(super) async fn queue_dependents(
        &self,
        projection: &Projection,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let found = dependents(projection, &self.config);
        if let Some((repo, branch)) = &found.default_branch {
            if self.default_branch(repo).await?.as_deref() != Some(branch.as_str()) {
                self.put_default_branch(repo, branch).await?;
            }
        }
        if let Some((repo, from)) = &found.relink_repo {
            work.link_repo(repo, *from);
        }
        work.reverts.extend(found.revert);
        if let (Some((repo, window)), Projection::PullRequest(pr)) =
            (found.later_reverts, projection)
        {
            let merged = self.store.merged_prs(&repo, window).await?;
            work.reverts.extend(reverts_among(pr.number, &merged));
        }
        for (service, opened) in found.blaming_incidents {
            for incident in self.store.incidents_of_service(&service, opened).await? {
                work.blames.insert(incident.key());
            }
        }
        work.blames.extend(found.blame);
        Ok(())
    }

    /// Recomputes one rollup from its members (never incrementally), compare-and-set on the
    /// rollup's version (`Store::put_rollup_if`): another run's write in between means a
    /// recompute from a fresh read.
    pub async fn recompute_bucket(&self, bucket: &Bucket) -> Result<(), StoreError> {
        for attempt in 0..ROLLUP_WRITE_ATTEMPTS {
            if attempt > 0 {
                // Back off, spread (the current week's org bucket is every run's): 5-15 ms a
                // round, from the clock's nanoseconds.
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| u64::from(d.subsec_nanos()) % 10)
                    .unwrap_or_default();
                let delay = u64::from(attempt) * (5 + jitter);
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            }
            let seen = self.store.rollup_version(bucket).await?;
            let members = self.store.bucket_members(bucket).await?;
            let rollup = Rollup::from_members(&members);
            if self.store.put_rollup_if(bucket, seen, &rollup).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unsettled {
            op: "PutItem(rollup)",
            reason: format!(
                "bucket {bucket}: {ROLLUP_WRITE_ATTEMPTS} recomputes lost the race to other writers"
            ),
        })
    }
}
