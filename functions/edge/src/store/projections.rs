//! Projections: one entity's folded state, stored beside its facts under `PROJ`.

use aws_sdk_dynamodb::types::AttributeValue;
pub use flowmeter::derive::{MemberRef, Projection};
use flowmeter::model::EntityKey;
use serde::{Deserialize, Serialize};

use super::codec::{deflate_json, from_item, inflate_json, s, to_item, Item};
use super::{keys, Store, StoreError};

/// Which links this entity asserted on others, so a changed decision can retract the old link.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blames: Option<EntityKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverts: Option<EntityKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marked_reverted: Option<EntityKey>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionItem {
    pub pk: String,
    pub sk: String,
    pub projection: Projection,
    pub members: Vec<MemberRef>,
    pub links: LinkState,
    /// The pipeline run that wrote this projection, and the buckets its member diff changed
    /// (deletions included). A run that fails after writing a projection leaves that entity's
    /// buckets and links undone; the retry finds the projection unchanged, so it redoes them
    /// from here unless the run is recorded done (`Store::run_done`).
    pub run: Option<String>,
    pub run_buckets: Vec<String>,
    /// The head branch this PR is recorded under ([`Store::put_head_index`]), so the record
    /// is written again only when the head changes.
    pub head_indexed: Option<String>,
    pub gsi1pk: Option<String>,
    pub gsi1sk: Option<String>,
    pub gsi2pk: Option<String>,
    pub gsi2sk: Option<String>,
}

/// A projection as stored: the keys the table and its indexes need as plain attributes, and
/// everything else (the projection, its member refs, links and touched buckets) as one
/// deflated JSON document in `z`. Stored plainly a pull request's item is ~1.6 KB, mostly
/// attribute names and repeated bucket keys; deflated it fits in 1 KB, and DynamoDB bills a
/// projection write three times (the table and both indexes project it whole), so this halves
/// the rollup's largest write cost and every read of projections with it (BENCHMARKS.md).
#[derive(Serialize, Deserialize)]
struct StoredProjection {
    pk: String,
    sk: String,
    // `z` (binary) is added and taken off around serde_dynamo, which has no bytes type.
    /// The run that wrote it (stored as `batch`, its first name).
    #[serde(default, rename = "batch", skip_serializing_if = "Option::is_none")]
    run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
}

/// The deflated part of a [`StoredProjection`].
#[derive(Serialize, Deserialize)]
struct ProjectionBody {
    projection: Projection,
    #[serde(default)]
    members: Vec<MemberRef>,
    #[serde(default)]
    links: LinkState,
    /// [`ProjectionItem::run_buckets`] (stored as `touched`, its first name).
    #[serde(default, rename = "touched", skip_serializing_if = "Vec::is_empty")]
    run_buckets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    head_indexed: Option<String>,
}

impl ProjectionItem {
    /// A projection to store, with the index keys it is found by (`keys::index_keys`).
    pub fn new(
        projection: Projection,
        members: Vec<MemberRef>,
        links: LinkState,
        run: String,
        run_buckets: Vec<String>,
        head_indexed: Option<String>,
    ) -> ProjectionItem {
        let [gsi1pk, gsi1sk, gsi2pk, gsi2sk] = keys::index_keys(&projection);
        ProjectionItem {
            pk: projection.key().partition_key(),
            sk: keys::PROJECTION_SK.into(),
            projection,
            members,
            links,
            run: Some(run),
            run_buckets,
            head_indexed,
            gsi1pk,
            gsi1sk,
            gsi2pk,
            gsi2sk,
        }
    }

    /// The item as stored (see [`StoredProjection`]).
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let body = deflate_json(
            "projection body",
            &ProjectionBody {
                projection: self.projection.clone(),
                members: self.members.clone(),
                links: self.links.clone(),
                run_buckets: self.run_buckets.clone(),
                head_indexed: self.head_indexed.clone(),
            },
        )?;
        let mut item = to_item(&StoredProjection {
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            run: self.run.clone(),
            gsi1pk: self.gsi1pk.clone(),
            gsi1sk: self.gsi1sk.clone(),
            gsi2pk: self.gsi2pk.clone(),
            gsi2sk: self.gsi2sk.clone(),
        })?;
        item.insert("z".into(), AttributeValue::B(body.into()));
        Ok(item)
    }

    /// Reads a stored projection item (see [`StoredProjection`]).
    pub fn from_item(mut item: Item) -> Result<ProjectionItem, StoreError> {
        let Some(AttributeValue::B(z)) = item.remove("z") else {
            return Err(StoreError::Corrupt(format!(
                "projection {} has no body",
                item.get("pk")
                    .and_then(|v| v.as_s().ok())
                    .map_or("?", String::as_str)
            )));
        };
        let stored: StoredProjection = from_item(item)?;
        let body: ProjectionBody = inflate_json("projection body", z.as_ref())?;
        Ok(ProjectionItem {
            pk: stored.pk,
            sk: stored.sk,
            projection: body.projection,
            members: body.members,
            links: body.links,
            run: stored.run,
            run_buckets: body.run_buckets,
            head_indexed: body.head_indexed,
            gsi1pk: stored.gsi1pk,
            gsi1sk: stored.gsi1sk,
            gsi2pk: stored.gsi2pk,
            gsi2sk: stored.gsi2sk,
        })
    }
}

impl Store {
    /// Writes a projection over the old one. It sits in its entity's partition beside the
    /// source facts, so the put is conditional on the item at its key not being a fact: a
    /// source fact there is an error, never replaced.
    pub async fn put_projection(&self, item: &ProjectionItem) -> Result<(), StoreError> {
        self.put_derived_item("PutItem(projection)", item.to_item()?)
            .await
    }

    /// The stored projections of `entities` (eventually consistent, `BatchGetItem`: a read
    /// view's, never a derivation's); entities without one are absent.
    pub async fn projections(
        &self,
        entities: &[EntityKey],
    ) -> Result<Vec<ProjectionItem>, StoreError> {
        let wanted = entities
            .iter()
            .map(|e| (e.partition_key(), keys::PROJECTION_SK.to_string()))
            .collect();
        self.batch_get_items(wanted)
            .await?
            .into_iter()
            .map(ProjectionItem::from_item)
            .collect()
    }

    /// An entity's stored projection (strongly consistent).
    pub async fn projection(
        &self,
        entity: &EntityKey,
    ) -> Result<Option<ProjectionItem>, StoreError> {
        let request = self
            .get()
            .consistent_read(true)
            .key("pk", s(entity.partition_key()))
            .key("sk", s(keys::PROJECTION_SK));
        let out = self.send("GetItem(projection)", request.send()).await?;
        out.item.map(ProjectionItem::from_item).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use flowmeter::derive::Deployment;
    use flowmeter::model::DeploymentState;

    fn deployment_item() -> ProjectionItem {
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let key = EntityKey::Deployment {
            repo: "acme/api".into(),
            id: "42".into(),
        };
        let projection = Projection::Deployment(Deployment {
            repo: "acme/api".into(),
            id: "42".into(),
            environment: Some("production".into()),
            sha: Some("abc123".into()),
            stage: Some("production".into()),
            is_production: true,
            state: Some(DeploymentState::Success),
            started_at: Some(at),
            finished_at: Some(at),
            ..Deployment::default()
        });
        let [gsi1pk, gsi1sk, gsi2pk, gsi2sk] = keys::index_keys(&projection);
        ProjectionItem {
            pk: key.partition_key(),
            sk: keys::PROJECTION_SK.into(),
            projection,
            members: vec![MemberRef {
                b: "repo:acme/api|2026-W49".into(),
                id: "DEP#acme/api#42".into(),
                h: "0123456789abcdef".into(),
            }],
            links: LinkState {
                blames: None,
                reverts: None,
                marked_reverted: Some(key),
            },
            run: Some("run-1".into()),
            run_buckets: vec!["repo:acme/api|2026-W49".into()],
            head_indexed: None,
            gsi1pk,
            gsi1sk,
            gsi2pk,
            gsi2sk,
        }
    }

    #[test]
    fn a_projection_round_trips_through_its_deflated_item() {
        let item = deployment_item();
        let stored = item.to_item().expect("to item");
        // The indexes and the run check read these plainly; the rest is in `z`.
        for plain in ["pk", "sk", "batch", "gsi1pk", "gsi1sk"] {
            assert!(stored.get(plain).is_some_and(|v| v.is_s()), "{plain}");
        }
        assert_eq!(stored.get("gsi1pk"), Some(&s("DEPS#acme/api")));
        assert_eq!(
            stored.get("gsi1sk"),
            Some(&s("2026-11-30T10:00:00.000Z#42"))
        );
        assert!(stored.get("z").is_some_and(|v| v.is_b()));
        assert!(!stored.contains_key("projection") && !stored.contains_key("members"));
        assert_eq!(ProjectionItem::from_item(stored).expect("from item"), item);
    }

    #[test]
    fn a_projection_without_its_deflated_body_is_corrupt() {
        let mut stored = deployment_item().to_item().expect("to item");
        stored.remove("z");
        assert!(matches!(
            ProjectionItem::from_item(stored),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn a_corrupt_projection_body_is_an_error() {
        let mut stored = deployment_item().to_item().expect("to item");
        stored.insert(
            "z".into(),
            AttributeValue::B(b"not deflate".to_vec().into()),
        );
        assert!(matches!(
            ProjectionItem::from_item(stored),
            Err(StoreError::Corrupt(_))
        ));
    }
}
