//! Facts in their entity partitions: source facts (written once), derived facts (links,
//! upserted only when changed) and the other derived items that share those partitions
//! (projections, PR-by-head records), which never replace a source fact.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use flowmeter::model::{EntityKey, Fact};
use serde::{Deserialize, Serialize};

use super::codec::{content_hash, from_item, item_keys, s, text, to_item, Item};
use super::projections::ProjectionItem;
use super::{keys, Store, StoreError};

#[derive(Serialize, Deserialize)]
struct FactItem {
    pk: String,
    sk: String,
    fact: Fact,
    /// Content hash, the condition for upserting derived facts.
    h: String,
}

/// The stored `fact.body.type` of every derived fact ([`FactBody::is_derived`]). Link facts
/// share their partitions with source facts, so a link is written or deleted only where the
/// item at its key, if any, carries one of these: a source fact is never replaced.
///
/// [`FactBody::is_derived`]: flowmeter::model::FactBody::is_derived
pub const DERIVED_FACT_TYPES: &[&str] = &[
    "shipped_by",
    "ships_prs",
    "blamed_by",
    "reverted_by",
    "shipped_pr_reverted",
    "rolled_back_by",
    "followed_by",
    "superseded_by",
    "earlier_pr_head",
    "named_by_pr",
];

/// The condition of every derived write into an entity partition: no item at the key, or a
/// derived one. Projections and PR-by-head records have no `fact`; link facts have a derived
/// `fact.body.type` ([`DERIVED_FACT_TYPES`]). Costs nothing on success (DynamoDB bills the
/// write, not the condition). Returns the expression and fills in its names and values.
fn not_a_source_fact(
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, AttributeValue>,
) -> String {
    names.insert("#fact".into(), "fact".into());
    names.insert("#body".into(), "body".into());
    names.insert("#type".into(), "type".into());
    let mut placeholders = Vec::new();
    for (i, kind) in DERIVED_FACT_TYPES.iter().enumerate() {
        placeholders.push(format!(":d{i}"));
        values.insert(format!(":d{i}"), s(*kind));
    }
    format!(
        "attribute_not_exists(#fact) OR #fact.#body.#type IN ({})",
        placeholders.join(", ")
    )
}

/// Whether a stored item is derived (see [`not_a_source_fact`]): no `fact`, or a derived one.
fn is_derived_item(item: &Item) -> bool {
    let Some(AttributeValue::M(fact)) = item.get("fact") else {
        return !item.contains_key("fact");
    };
    let kind = fact
        .get("body")
        .and_then(|b| b.as_m().ok())
        .and_then(|b| b.get("type"))
        .and_then(|t| t.as_s().ok());
    kind.is_some_and(|k| DERIVED_FACT_TYPES.contains(&k.as_str()))
}

fn refused(op: &'static str, pk: String, sk: String) -> StoreError {
    StoreError::WouldReplaceSourceFact { op, pk, sk }
}

impl Store {
    /// Writes a source fact unless it exists. Returns whether it was new: a redelivery
    /// writes nothing.
    pub async fn put_fact(&self, fact: &Fact) -> Result<bool, StoreError> {
        let item = to_item(&FactItem {
            pk: fact.entity.partition_key(),
            sk: fact.sort_key(),
            fact: fact.clone(),
            h: content_hash(fact),
        })?;
        let request = self
            .put()
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)");
        match self.send("PutItem(fact)", request.send()).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Upserts a derived fact only when its content changed. Returns whether it was written.
    /// It shares its partition with source facts, so it replaces only a derived item
    /// ([`not_a_source_fact`]); a source fact at its key is an error, and stays as it was.
    pub async fn put_derived(&self, fact: &Fact) -> Result<bool, StoreError> {
        const OP: &str = "PutItem(derived)";
        let (pk, sk) = (fact.entity.partition_key(), fact.sort_key());
        if !fact.body.is_derived() {
            return Err(refused(OP, pk, sk));
        }
        let hash = content_hash(fact);
        let item = to_item(&FactItem {
            pk: pk.clone(),
            sk: sk.clone(),
            fact: fact.clone(),
            h: hash.clone(),
        })?;
        let mut names = HashMap::new();
        let mut values = HashMap::from([(":h".to_string(), s(hash))]);
        let derived = not_a_source_fact(&mut names, &mut values);
        let request = self
            .put()
            .set_item(Some(item))
            .condition_expression(format!(
                "attribute_not_exists(pk) OR (h <> :h AND ({derived}))"
            ))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            // On a failed condition the old item comes back (at no extra cost), to tell an
            // unchanged link (nothing to do) from a source fact in the way (an error).
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match self.send(OP, request.send()).await {
            Ok(_) => Ok(true),
            // The condition failed, so an item is there and comes back: unchanged if it is
            // derived; anything else is refused.
            Err(StoreError::Conflict { old: Some(old), .. }) if is_derived_item(&old) => Ok(false),
            Err(StoreError::Conflict { .. }) => Err(refused(OP, pk, sk)),
            Err(err) => Err(err),
        }
    }

    /// Deletes a derived fact by its sort key. Returns whether something was deleted. Only a
    /// derived item is deleted ([`not_a_source_fact`]); a source fact at the key is an error.
    pub async fn delete_derived(
        &self,
        entity: &EntityKey,
        sort_key: &str,
    ) -> Result<bool, StoreError> {
        const OP: &str = "DeleteItem(derived)";
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let derived = not_a_source_fact(&mut names, &mut values);
        let request = self
            .delete()
            .key("pk", s(entity.partition_key()))
            .key("sk", s(sort_key))
            .condition_expression(derived)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllOld);
        match self.send(OP, request.send()).await {
            Ok(out) => Ok(out.attributes().is_some()),
            Err(StoreError::Conflict { .. }) => {
                Err(refused(OP, entity.partition_key(), sort_key.to_string()))
            }
            Err(err) => Err(err),
        }
    }

    /// Puts an item into an entity partition unless a source fact holds its key.
    pub(super) async fn put_derived_item(
        &self,
        op: &'static str,
        item: Item,
    ) -> Result<(), StoreError> {
        let (pk, sk) = item_keys(&item);
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let derived = not_a_source_fact(&mut names, &mut values);
        let request = self
            .put()
            .set_item(Some(item))
            .condition_expression(derived)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values));
        match self.send(op, request.send()).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict { .. }) => Err(refused(op, pk, sk)),
            Err(err) => Err(err),
        }
    }

    /// An entity's facts and its stored projection, in one query.
    pub async fn entity(
        &self,
        entity: &EntityKey,
    ) -> Result<(Vec<Fact>, Option<ProjectionItem>), StoreError> {
        let mut facts = Vec::new();
        let mut projection = None;
        for item in self.query_partition(&entity.partition_key(), None).await? {
            let sk = text(&item, "sk");
            if keys::is_fact(&sk) {
                facts.push(from_item::<FactItem>(item)?.fact);
            } else if sk == keys::PROJECTION_SK {
                projection = Some(ProjectionItem::from_item(item)?);
            }
        }
        Ok((facts, projection))
    }

    /// A branch's push facts with `at` in `[from, to]` (either bound optional).
    pub async fn branch_facts(
        &self,
        repo: &str,
        branch: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<Fact>, StoreError> {
        let pk = EntityKey::Branch {
            repo: repo.to_string(),
            branch: branch.to_string(),
        }
        .partition_key();
        let lower = format!("{}{}", keys::FACT, from.map(keys::time).unwrap_or_default());
        // '~' sorts after every character used in keys: the upper bound includes all ids at `to`.
        let upper = format!(
            "{}{}~",
            keys::FACT,
            to.map(keys::time).unwrap_or_else(|| "9999".into())
        );
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":lo", s(lower))
            .expression_attribute_values(":hi", s(upper));
        let items = self
            .pages("Query(branch)", None, |start| {
                query.clone().set_exclusive_start_key(start).send()
            })
            .await?;
        items
            .into_iter()
            .map(|item| Ok(from_item::<FactItem>(item)?.fact))
            .collect()
    }

    /// Records a PR under its head branch: an item in the branch's own partition, sort key
    /// the PR's key. A push to the branch must rebuild its PRs (first-commit time); finding
    /// them in the partition the push landed in needs no index, where an entry in a GSI
    /// (the starting design put the projection itself in `gsi1`) costs an index write on every
    /// projection rewrite. Written once per PR and head.
    pub async fn put_head_index(
        &self,
        branch: &EntityKey,
        pr: &EntityKey,
    ) -> Result<(), StoreError> {
        // In the branch's partition, beside its push facts: conditional like a projection.
        let item = HashMap::from([
            ("pk".to_string(), s(branch.partition_key())),
            ("sk".to_string(), s(pr.partition_key())),
        ]);
        self.put_derived_item("PutItem(head index)", item).await
    }

    /// The PRs recorded under a head branch ([`Store::put_head_index`]).
    pub async fn prs_with_head(&self, branch: &EntityKey) -> Result<Vec<EntityKey>, StoreError> {
        let items = self
            .query_partition(&branch.partition_key(), Some(keys::PULL_REQUEST))
            .await?;
        Ok(items
            .iter()
            .filter_map(|item| EntityKey::from_partition_key(&text(item, "sk")))
            .collect())
    }
}
