//! The digest send ledger. `DIGEST#<org>#<week>` holds one item per part (`email`, `slack#<i>`,
//! `teams#<i>`: `state` sending|sent, `owner`, `claimed_at`, `detail`) and one plan per chat
//! channel (`slack`, `teams`: the messages pinned for the week, see [`Store::digest_plan`]).
//! Claims carry the claiming run's owner id; only that owner may mark the part sent or release
//! it, so a run whose claim went stale and was taken over cannot overwrite or free the new
//! owner's claim.

use super::codec::{deflate_json, inflate_json, n, number, s, text, Item};
use super::{keys, Store, StoreError};

/// The state of one digest part in the send ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestClaim {
    /// This run may send it.
    Claimed,
    /// Sent before; `detail` is what the send recorded.
    AlreadySent { detail: String },
    /// Another run (`owner`) claimed it at `claimed_at` (wall clock, Unix seconds) and the
    /// claim is not stale yet: that run may be sending it right now.
    InFlight { owner: String, claimed_at: i64 },
}

/// How long a digest ledger item is kept (TTL `expires_at`): long enough that no retry or
/// manual re-run of a week can find it gone and send again.
pub const DIGEST_LEDGER_TTL_S: i64 = 400 * 86_400;

/// The largest deflated plan [`Store::digest_plan`] stores (DynamoDB items are at most 400 KB).
const MAX_PLAN_BYTES: usize = 350 * 1024;

impl Store {
    /// Claims the right to send one digest part (`part`, e.g. `email`, `slack#0`) for an org
    /// and week as `owner` (unique per run). A part already sent is never claimed again; a
    /// claim left `sending` by a crashed run is taken over once it is older than
    /// `stale_after_s` by `now_s`. `now_s` must be the wall clock, not the schedule's pinned
    /// time: every retry of one scheduled run carries the same `scheduled_time`, so by that
    /// clock a crashed run's claim would never age.
    pub async fn claim_digest(
        &self,
        org: &str,
        week: &str,
        part: &str,
        owner: &str,
        now_s: i64,
        stale_after_s: i64,
    ) -> Result<DigestClaim, StoreError> {
        let pk = keys::digest_ledger_pk(org, week);
        let request = self
            .put()
            .item("pk", s(&pk))
            .item("sk", s(part))
            .item("state", s("sending"))
            .item("owner", s(owner))
            .item("claimed_at", n(now_s))
            .item("expires_at", n(now_s + DIGEST_LEDGER_TTL_S))
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :sending AND claimed_at < :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":stale", n(now_s - stale_after_s));
        match self.send("PutItem(digest claim)", request.send()).await {
            Ok(_) => Ok(DigestClaim::Claimed),
            Err(StoreError::Conflict { .. }) => {
                let item = self.digest_item(&pk, part).await?.unwrap_or_default();
                Ok(if text(&item, "state") == "sent" {
                    DigestClaim::AlreadySent {
                        detail: text(&item, "detail"),
                    }
                } else {
                    // Also when the item was released between the put and this read: the
                    // caller reports the part as in flight and the next run sends it.
                    DigestClaim::InFlight {
                        owner: text(&item, "owner"),
                        claimed_at: number(&item, "claimed_at").unwrap_or_default(),
                    }
                })
            }
            Err(err) => Err(err),
        }
    }

    async fn digest_item(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let request = self
            .get()
            .consistent_read(true)
            .key("pk", s(pk))
            .key("sk", s(sk));
        Ok(self.send("GetItem(digest)", request.send()).await?.item)
    }

    /// Records a digest part as sent by `owner`, with what identifies the send (the SES message
    /// id, `sent`). `Ok(false)`: the claim is no longer `owner`'s (it went stale and another
    /// run took it over), and nothing was written.
    pub async fn mark_digest_sent(
        &self,
        org: &str,
        week: &str,
        part: &str,
        owner: &str,
        detail: &str,
    ) -> Result<bool, StoreError> {
        let request = self
            .update()
            .key("pk", s(keys::digest_ledger_pk(org, week)))
            .key("sk", s(part))
            .update_expression("SET #state = :sent, detail = :detail")
            .condition_expression("#state = :sending AND #owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":detail", s(detail));
        landed(self.send("UpdateItem(digest sent)", request.send()).await)
    }

    /// Gives `owner`'s claim back after a failed send, so the next run tries that part again.
    /// `Ok(false)`: the claim is no longer `owner`'s, and it is left alone.
    pub async fn release_digest(
        &self,
        org: &str,
        week: &str,
        part: &str,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let request = self
            .delete()
            .key("pk", s(keys::digest_ledger_pk(org, week)))
            .key("sk", s(part))
            .condition_expression("#state = :sending AND #owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":owner", s(owner));
        landed(
            self.send("DeleteItem(digest release)", request.send())
                .await,
        )
    }

    /// The messages of a chat channel's digest (`channel`: `slack`, `teams`) for an org and
    /// week, pinned by the first run that gets here: `messages` are stored if no plan exists
    /// yet, and whichever plan is stored is returned. A retry that rebuilds the digest from
    /// changed data (so with other parts, or another number of them) thus still sends the
    /// rest of the rendering whose first parts went out, and the channel receives one coherent
    /// set: no part twice, none skipped, `(2/3)` never after `(1/2)`.
    pub async fn digest_plan(
        &self,
        org: &str,
        week: &str,
        channel: &str,
        messages: &[serde_json::Value],
        now_s: i64,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let pk = keys::digest_ledger_pk(org, week);
        let body = deflate_json("digest plan", &messages)?;
        if body.len() > MAX_PLAN_BYTES {
            return Err(StoreError::Corrupt(format!(
                "the {channel} digest of {week} is {} bytes deflated, more than a ledger item \
                 holds ({MAX_PLAN_BYTES})",
                body.len()
            )));
        }
        let request = self
            .put()
            .item("pk", s(&pk))
            .item("sk", s(channel))
            .item("state", s("plan"))
            .item("parts", n(messages.len()))
            .item("z", aws_sdk_dynamodb::types::AttributeValue::B(body.into()))
            .item("expires_at", n(now_s + DIGEST_LEDGER_TTL_S))
            .condition_expression("attribute_not_exists(pk)");
        match self.send("PutItem(digest plan)", request.send()).await {
            Ok(_) => Ok(messages.to_vec()),
            Err(StoreError::Conflict { .. }) => {
                let item = self.digest_item(&pk, channel).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("the {channel} plan of {week} vanished"))
                })?;
                let z = item.get("z").and_then(|v| v.as_b().ok()).ok_or_else(|| {
                    StoreError::Corrupt(format!("the {channel} plan has no body"))
                })?;
                inflate_json(&format!("the {channel} plan"), z.as_ref())
            }
            Err(err) => Err(err),
        }
    }
}

/// A conditional ledger write's answer: `false` when its condition (the claim is ours) failed.
fn landed<T>(result: Result<T, StoreError>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}
