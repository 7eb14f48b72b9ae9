//! The run's domain events (`flowmeter::events`): decided where a projection changes or a
//! repo's production links are derived, put in the outbox before the change they tell is
//! written, published together at the end of the run, then marked. A run that dies anywhere
//! in between leaves its projections written by an unfinished run, so its retry decides the
//! same events again (same ids): one that went out is found published and is not sent again;
//! one found still pending goes on the unpublished index, as does one EventBridge would not
//! take after the publisher's retries, and a later run's sweep publishes it once it settled.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use chrono::Utc;
use flowmeter::derive::{Bucket, Scope};
use flowmeter::derive::{Deployment, Projection, PullRequest};
use flowmeter::events::decide::{
    announces, attention_events, deployment_events, projection_events, waiting_events,
};
use flowmeter::events::DomainEvent;
use flowmeter::model::EntityKey;
use flowmeter::time::{iso_week, last_full_week, IsoWeek};
use futures::stream::StreamExt;

use super::{Pipeline, Work};
use crate::store::{Outboxed, StoreError};

/// Seconds between sweeps of the unpublished index by one container, when none of its own
/// publishes failed (another container's may have).
const SWEEP_EVERY_S: i64 = 300;
/// Seconds between sweeps while this container knows of owed events.
const OWED_SWEEP_EVERY_S: i64 = 30;
/// How old an owed event's outbox item must be before a sweep publishes it: the rollup's
/// timeout (template.yaml, 300 s) and a margin, so the run that put it there has published it
/// or died by then, and two runs never both publish one event.
pub const SETTLE_S: i64 = 360;
/// Unpublished events a sweep takes at most.
const SWEEP_LIMIT: usize = 100;

/// Seconds between one container's evaluations of the digest's attention rule: each reads
/// five weeks of every team's rollups, the week's merged PRs and the environments (what
/// `GET /v1/attention` reads), and a busy stream recomputes the current week's buckets in
/// nearly every run.
pub(super) const ATTENTION_EVERY_S: i64 = 600;

/// How long before its review wait a PR may have been opened and still be looked at: one
/// opened as a draft and made ready later waits from then.
const WAITING_OPENED_WITHIN_DAYS: i64 = 14;

/// When this container last evaluated the attention rule.
static LAST_ATTENTION_S: AtomicI64 = AtomicI64::new(0);

/// When this container last swept, and whether a publish of its own failed since.
static LAST_SWEEP_S: AtomicI64 = AtomicI64::new(0);
static OWED: AtomicBool = AtomicBool::new(false);

/// The events one job of a run decided and put in the outbox, to publish at the run's end;
/// and the production deployments whose finish the repo's link phase is to announce.
#[derive(Default)]
pub(super) struct RunEvents {
    pub to_publish: Vec<DomainEvent>,
    pub announce: BTreeMap<EntityKey, Deployment>,
}

impl RunEvents {
    pub fn merge(&mut self, other: RunEvents) {
        self.to_publish.extend(other.to_publish);
        self.announce.extend(other.announce);
    }
}

/// What a run's publishing did: events published, and events left owed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventsOutcome {
    pub published: usize,
    pub unpublished: usize,
}

impl Pipeline<'_> {
    /// Puts `events` in the outbox. A new one is queued for the run's end; one already there
    /// and still pending was put by a run that died, or by one still running (a PR rebuilt from
    /// two shards at once): it goes on the unpublished index, which a sweep publishes once the
    /// item has settled ([`SETTLE_S`]), so it is never published by two runs.
    async fn outbox(&self, events: Vec<DomainEvent>, work: &mut Work) -> Result<(), StoreError> {
        let now_s = Utc::now().timestamp();
        for event in events {
            match self.store.put_outbox(&event, now_s).await? {
                Outboxed::New => work.events.to_publish.push(event),
                Outboxed::Pending => {
                    self.store.mark_unpublished(&event).await?;
                    OWED.store(true, Ordering::Relaxed);
                }
                Outboxed::Published => {}
            }
        }
        Ok(())
    }

    /// The events of one projection's change (`old` → `new`), into the outbox; a production
    /// deployment's finish is queued for its repo's link phase. Nothing when the run publishes
    /// no events (a reprocess).
    pub(super) async fn projection_changed(
        &self,
        old: Option<&Projection>,
        new: &Projection,
        work: &mut Work,
    ) -> Result<(), StoreError> {
        if self.publisher.is_none() {
            return Ok(());
        }
        if let Some(d) = announces(old, new) {
            work.events.announce.insert(d.key(), d.clone());
        }
        let events = projection_events(old, new, &self.config, Utc::now());
        self.outbox(events, work).await
    }

    /// The production deployment events of a repo's link phase: `deployments` as
    /// `decide::with_announced` gave them, `history` and `merged` as `link_edits::repo_links` read
    /// them.
    pub(super) async fn repo_linked(
        &self,
        deployments: &[Deployment],
        announced: &BTreeSet<EntityKey>,
        history: &[String],
        merged: &[PullRequest],
        work: &mut Work,
    ) -> Result<(), StoreError> {
        if self.publisher.is_none() || announced.is_empty() {
            return Ok(());
        }
        let events = deployment_events(
            deployments,
            history,
            merged,
            announced,
            &self.config,
            Utc::now(),
        );
        self.outbox(events, work).await
    }

    /// The run, which brought live data, recomputed buckets of these weeks: when due
    /// ([`ATTENTION_EVERY_S`]), PRs waiting for review are looked for, and the
    /// digest's attention rule is evaluated for those of them that are the current week or
    /// the last full one (`flowmeter::events::decide::attention_events`), and each new verdict
    /// goes into the outbox. A failure to read is logged: the next evaluation decides again.
    pub(super) async fn weeks_recomputed(&self, weeks: &BTreeSet<IsoWeek>, work: &mut Work) {
        if self.publisher.is_none() || weeks.is_empty() {
            return;
        }
        let now = Utc::now();
        let tz = self.config.timezone();
        let current = iso_week(now, tz);
        let wanted: Vec<IsoWeek> = [last_full_week(now, tz), current]
            .into_iter()
            .filter(|w| weeks.contains(w))
            .collect();
        let now_s = now.timestamp();
        if wanted.is_empty()
            || now_s - LAST_ATTENTION_S.load(Ordering::Relaxed) < self.attention_every_s
        {
            return;
        }
        LAST_ATTENTION_S.store(now_s, Ordering::Relaxed);
        // Boxed, here and below: the digest's reads make a large future, which would otherwise
        // be part of every run's future (and of the stack of whatever polls it).
        if let Err(err) = Box::pin(self.announce_attention_into(&wanted, work)).await {
            tracing::warn!(error = %err, "the attention rule could not be evaluated");
        }
        if let Err(err) = Box::pin(self.announce_waiting_into(work)).await {
            tracing::warn!(error = %err, "waiting PRs could not be looked for");
        }
    }

    /// Puts a `pull_request.waiting` in the outbox for each open PR without a first review
    /// `notifications.review_wait_hours` after it became reviewable: among the PRs opened in
    /// the weeks from [`WAITING_OPENED_WITHIN_DAYS`] before the wait to now (the org's buckets
    /// of those weeks list them), their projections decide
    /// (`flowmeter::events::decide::waiting_events`).
    pub(super) async fn announce_waiting_into(&self, work: &mut Work) -> Result<(), StoreError> {
        let now = Utc::now();
        let tz = self.config.timezone();
        let hours = i64::try_from(self.config.notifications().review_wait_hours).unwrap_or(24);
        let wait = chrono::Duration::hours(hours);
        let oldest = now - wait - chrono::Duration::days(WAITING_OPENED_WITHIN_DAYS);
        let (mut week, last) = (iso_week(oldest, tz), iso_week(now, tz));
        let mut keys = BTreeSet::new();
        loop {
            let bucket = Bucket {
                scope: Scope::Org,
                week,
            };
            keys.extend(self.store.bucket_pull_requests(&bucket).await?);
            if week >= last {
                break;
            }
            week = week.next();
        }
        let loaded: Vec<Result<Option<crate::store::ProjectionItem>, StoreError>> =
            futures::stream::iter(keys)
                .map(|key| async move { self.store.projection(&key).await })
                .buffer_unordered(super::CONCURRENCY)
                .collect()
                .await;
        let mut prs = Vec::new();
        for item in loaded {
            if let Some(Projection::PullRequest(pr)) = item?.map(|i| i.projection) {
                prs.push(pr);
            }
        }
        let events = waiting_events(&prs, wait, &self.config, now);
        self.outbox(events, work).await
    }

    /// Evaluates the digest's attention rule for `weeks` and puts each verdict's event in the
    /// outbox, to publish at the run's end.
    pub(super) async fn announce_attention_into(
        &self,
        weeks: &[IsoWeek],
        work: &mut Work,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        for week in weeks {
            let digest = crate::digest::build(self.store, &self.config, *week, now).await?;
            let events = attention_events(&digest.attention, *week, &self.config, now);
            self.outbox(events, work).await?;
        }
        Ok(())
    }

    /// Publishes the run's events (and, when due, those earlier runs could not), then marks
    /// each published, or puts it on the unpublished index. Store errors here are logged, not
    /// returned: the events are in the outbox, and failing the run would only retry it.
    pub(super) async fn publish_events(&self, work: &mut Work) -> EventsOutcome {
        let Some(publisher) = self.publisher else {
            return EventsOutcome::default();
        };
        let mut events = std::mem::take(&mut work.events.to_publish);
        let now_s = Utc::now().timestamp();
        let every = if OWED.load(Ordering::Relaxed) {
            OWED_SWEEP_EVERY_S
        } else {
            SWEEP_EVERY_S
        };
        if now_s - LAST_SWEEP_S.load(Ordering::Relaxed) >= every.min(self.sweep_every_s) {
            LAST_SWEEP_S.store(now_s, Ordering::Relaxed);
            match self
                .store
                .unpublished_events(now_s - self.settle_s, SWEEP_LIMIT)
                .await
            {
                Ok((owed, more)) => {
                    OWED.store(more, Ordering::Relaxed);
                    events.extend(owed);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the unpublished events");
                    OWED.store(true, Ordering::Relaxed);
                }
            }
        }
        let mut seen = BTreeSet::new();
        events.retain(|e| seen.insert(e.id.clone()));
        if events.is_empty() {
            return EventsOutcome::default();
        }
        let published = publisher.publish(&events).await;
        let mut outcome = EventsOutcome::default();
        for id in &published.sent {
            if let Err(err) = self.store.mark_published(id, now_s).await {
                tracing::warn!(error = %err, event = %id, "published, but not marked so");
            }
            outcome.published += 1;
        }
        for failed in &published.failed {
            tracing::error!(event = %failed.id, code = %failed.code, message = %failed.message, "event not published; a later run retries it");
            OWED.store(true, Ordering::Relaxed);
            outcome.unpublished += 1;
            let Some(event) = events.iter().find(|e| e.id == failed.id) else {
                continue;
            };
            if failed.code == crate::publish::TOO_LARGE {
                // No request can ever carry it: owing it would only fill the sweeps.
                continue;
            }
            if let Err(err) = self.store.mark_unpublished(event).await {
                tracing::warn!(error = %err, event = %failed.id, "could not index an unpublished event");
            }
        }
        outcome
    }
}
