//! The events outbox: one item per domain event (`OUTBOX#<event id>` / `EVENT`), written before
//! the projection whose change it tells, marked `published` once EventBridge took it. Its key is
//! the event's id, so the same change decided again (a redelivery, a retried batch, a
//! reprocess) finds its item and is not published twice. An event whose publishing failed is
//! put on `gsi2` under `OUTBOX` until a later run publishes it; a published one leaves the
//! index, so the partition holds only what is still owed.

use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use flowmeter::events::DomainEvent;

use super::codec::{n, s, text};
use super::keys::{self, Index};
use super::{Store, StoreError};

/// How long an outbox item is kept: longer than any redelivery or retry can come back with
/// the same change, and a reprocess within it announces nothing again (older changes are not
/// announced anyway, `flowmeter::events::MAX_AGE_HOURS`).
pub const OUTBOX_TTL_S: i64 = 30 * 86_400;

pub(super) const PENDING: &str = "pending";
const PUBLISHED: &str = "published";

/// What putting an event into the outbox found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outboxed {
    /// A new event, now pending: publish it.
    New,
    /// Already there and not yet published (a run that died before publishing it, or one whose
    /// publishing failed): publish it.
    Pending,
    /// Already published: nothing to do.
    Published,
}

/// The index key of an owed event: the time its publishing last failed, so an event that
/// keeps failing moves behind the others instead of holding the head of every sweep.
fn unpublished_sk(event: &DomainEvent, failed_at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}#{}", keys::time(failed_at), event.id)
}

impl Store {
    /// Puts `event` into the outbox unless its id is there; says what was there.
    pub async fn put_outbox(
        &self,
        event: &DomainEvent,
        now_s: i64,
    ) -> Result<Outboxed, StoreError> {
        let request = self
            .put()
            .item("pk", s(keys::outbox_pk(&event.id)))
            .item("sk", s(keys::OUTBOX_SK))
            .item("type", s(event.kind.as_str()))
            .item("detail", s(event.detail_json()))
            .item("state", s(PENDING))
            .item("at", n(now_s))
            .item("expires_at", n(now_s + OUTBOX_TTL_S))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match self.send("PutItem(outbox)", request.send()).await {
            Ok(_) => Ok(Outboxed::New),
            Err(StoreError::Conflict { old, .. }) => {
                let published = old.as_ref().is_some_and(|o| text(o, "state") == PUBLISHED);
                Ok(if published {
                    Outboxed::Published
                } else {
                    Outboxed::Pending
                })
            }
            Err(err) => Err(err),
        }
    }

    /// Marks an event published (and off the unpublished index).
    pub async fn mark_published(&self, event_id: &str, now_s: i64) -> Result<(), StoreError> {
        let index = Index::Gsi2;
        let request = self
            .update()
            .key("pk", s(keys::outbox_pk(event_id)))
            .key("sk", s(keys::OUTBOX_SK))
            .update_expression(format!(
                "SET #state = :published, published_at = :now REMOVE {}, {}",
                index.pk_attribute(),
                index.sk_attribute()
            ))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":published", s(PUBLISHED))
            .expression_attribute_values(":now", n(now_s));
        match self
            .send("UpdateItem(outbox published)", request.send())
            .await
        {
            // Expired between the put and now: nothing is owed.
            Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Puts a pending event on the unpublished index (or moves it to the back of it), for a
    /// later run to publish.
    pub async fn mark_unpublished(&self, event: &DomainEvent) -> Result<(), StoreError> {
        let index = Index::Gsi2;
        let request = self
            .update()
            .key("pk", s(keys::outbox_pk(&event.id)))
            .key("sk", s(keys::OUTBOX_SK))
            .update_expression(format!(
                "SET {} = :pk, {} = :sk",
                index.pk_attribute(),
                index.sk_attribute()
            ))
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":pk", s(keys::UNPUBLISHED))
            .expression_attribute_values(":sk", s(unpublished_sk(event, chrono::Utc::now())));
        match self
            .send("UpdateItem(outbox unpublished)", request.send())
            .await
        {
            Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
