//! The queries of the secondary indexes, one typed operation each. Indexes are eventually
//! consistent: callers re-run on the next change.

use std::ops::RangeBounds;

use chrono::{DateTime, Utc};
use flowmeter::derive::{AppState, Deployment, Incident, PullRequest, SecurityAlert};
use flowmeter::events::DomainEvent;

use super::codec::{number, s, text, Item};
use super::keys::{self, Index, IndexPartition};
use super::projections::{Projection, ProjectionItem};
use super::{Store, StoreError};

/// Every index query of [`Store`] and the index it reads: what a function's role must be
/// granted `Query` on when its code calls one (tests/template.rs checks the roles with it).
pub const INDEX_QUERIES: &[(&str, Index)] = &[
    ("merged_prs", Index::Gsi2),
    ("production_deployments", Index::Gsi1),
    ("deployments_before", Index::Gsi1),
    ("latest_deployments", Index::Gsi1),
    ("deployments_in", Index::Gsi1),
    ("deployments_in_before", Index::Gsi1),
    ("incidents_of_service", Index::Gsi1),
    ("open_incidents", Index::Gsi2),
    ("app_states", Index::Gsi2),
    ("security_alerts", Index::Gsi1),
    ("unpublished_events", Index::Gsi2),
];

/// How an index partition is read: in order or newest first, all or the first `limit`.
#[derive(Clone, Copy, Default)]
struct Read {
    descending: bool,
    limit: Option<usize>,
}

impl Store {
    /// The PRs of `repo` merged to its default branch at times in `merged`, by merge time.
    pub async fn merged_prs(
        &self,
        repo: &str,
        merged: impl RangeBounds<DateTime<Utc>>,
    ) -> Result<Vec<PullRequest>, StoreError> {
        let partition = keys::merged_prs_of_repo(repo);
        self.index_read(partition, &merged, Read::default(), pull_request)
            .await
    }

    /// The production attempts of `repo` that finished at times in `finished`, by finish.
    pub async fn production_deployments(
        &self,
        repo: &str,
        finished: impl RangeBounds<DateTime<Utc>>,
    ) -> Result<Vec<Deployment>, StoreError> {
        let partition = keys::deployments_of_repo(repo);
        self.index_read(partition, &finished, Read::default(), deployment)
            .await
    }

    /// The latest `limit` production attempts of `repo` that finished before `until`, latest
    /// first.
    pub async fn deployments_before(
        &self,
        repo: &str,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deployment>, StoreError> {
        let read = Read {
            descending: true,
            limit: Some(limit),
        };
        let partition = keys::deployments_of_repo(repo);
        self.index_read(partition, &(..until), read, deployment)
            .await
    }

    /// The latest `limit` finished attempts of `repo` in the configured `environment`
    /// (`production` or another), latest first.
    pub async fn latest_deployments(
        &self,
        repo: &str,
        environment: &str,
        limit: usize,
    ) -> Result<Vec<Deployment>, StoreError> {
        self.latest_in(repo, environment, &(..), limit).await
    }

    /// The latest `limit` finished attempts of `repo` in `environment` that finished before
    /// `until`, latest first.
    pub async fn deployments_in_before(
        &self,
        repo: &str,
        environment: &str,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deployment>, StoreError> {
        self.latest_in(repo, environment, &(..until), limit).await
    }

    async fn latest_in(
        &self,
        repo: &str,
        environment: &str,
        finished: &impl RangeBounds<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<Deployment>, StoreError> {
        let read = Read {
            descending: true,
            limit: Some(limit),
        };
        let partition = keys::deployments_in_environment(repo, environment);
        self.index_read(partition, finished, read, deployment).await
    }

    /// The finished attempts of `repo` in `environment` at times in `finished`, by finish.
    pub async fn deployments_in(
        &self,
        repo: &str,
        environment: &str,
        finished: impl RangeBounds<DateTime<Utc>>,
    ) -> Result<Vec<Deployment>, StoreError> {
        let partition = keys::deployments_in_environment(repo, environment);
        self.index_read(partition, &finished, Read::default(), deployment)
            .await
    }

    /// The incidents of `service` opened at times in `opened`, by opening.
    pub async fn incidents_of_service(
        &self,
        service: &str,
        opened: impl RangeBounds<DateTime<Utc>>,
    ) -> Result<Vec<Incident>, StoreError> {
        let partition = keys::incidents_of_service(service);
        self.index_read(partition, &opened, Read::default(), incident)
            .await
    }

    /// Every GitOps application, each as it stands, by id.
    pub async fn app_states(&self) -> Result<Vec<AppState>, StoreError> {
        let partition = keys::apps();
        self.index_read(partition, &(..), Read::default(), app_state)
            .await
    }

    /// Every security alert of `repo`, open or closed, by opening.
    pub async fn security_alerts(&self, repo: &str) -> Result<Vec<SecurityAlert>, StoreError> {
        let partition = keys::alerts_of_repo(repo);
        self.index_read(partition, &(..), Read::default(), security_alert)
            .await
    }

    /// Every incident not resolved yet, by opening.
    pub async fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let partition = keys::open_incidents();
        self.index_read(partition, &(..), Read::default(), incident)
            .await
    }

    /// The projections on an index partition whose entries' times lie in `range`, those of
    /// the kind `of` picks.
    async fn index_read<T>(
        &self,
        partition: IndexPartition,
        range: &impl RangeBounds<DateTime<Utc>>,
        read: Read,
        of: fn(ProjectionItem) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        let index = partition.index;
        let (lo, hi) = keys::time_bounds(range);
        let query = self
            .query()
            .index_name(index.name())
            .key_condition_expression(format!(
                "{} = :pk AND {} BETWEEN :lo AND :hi",
                index.pk_attribute(),
                index.sk_attribute()
            ))
            .expression_attribute_values(":pk", s(partition.pk))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .scan_index_forward(!read.descending)
            .set_limit(read.limit.map(|l| l.min(1000) as i32));
        let items = self
            .pages("Query(index)", read.limit, |start| {
                query.clone().set_exclusive_start_key(start).send()
            })
            .await?;
        let projections = items
            .into_iter()
            .map(ProjectionItem::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(projections.into_iter().filter_map(of).collect())
    }
}

/// `fn $name(item) -> Option<$kind>`: the projection an index item holds, when it is of that
/// kind (an index partition can hold several kinds).
macro_rules! projection_of {
    ($($name:ident: $variant:ident => $kind:ty),+ $(,)?) => {$(
        fn $name(item: ProjectionItem) -> Option<$kind> {
            match item.projection {
                Projection::$variant(p) => Some(p),
                _ => None,
            }
        }
    )+};
}

projection_of! {
    pull_request: PullRequest => PullRequest,
    deployment: Deployment => Deployment,
    incident: Incident => Incident,
    security_alert: SecurityAlert => SecurityAlert,
    app_state: App => AppState,
}

/// The outbox's index read.
impl Store {
    /// Events whose publishing is owed (their publish failed, or a run that put them died),
    /// oldest first, at most `limit`, of those put in the outbox at or before `settled_s`; and
    /// whether more are owed (unsettled ones or over the limit). An item whose detail no
    /// longer reads as an event is skipped, to expire.
    pub async fn unpublished_events(
        &self,
        settled_s: i64,
        limit: usize,
    ) -> Result<(Vec<DomainEvent>, bool), StoreError> {
        let index = Index::Gsi2;
        let items: Vec<Item> = self
            .pages("Query(unpublished events)", Some(limit + 1), |start| {
                self.query()
                    .index_name(index.name())
                    .key_condition_expression(format!("{} = :pk", index.pk_attribute()))
                    .expression_attribute_values(":pk", s(keys::UNPUBLISHED))
                    .set_exclusive_start_key(start)
                    .send()
            })
            .await?;
        let pending: Vec<&Item> = items
            .iter()
            .filter(|item| text(item, "state") == super::outbox::PENDING)
            .collect();
        let settled: Vec<DomainEvent> = pending
            .iter()
            .filter(|item| number::<i64>(item, "at").is_some_and(|at| at <= settled_s))
            .take(limit)
            .filter_map(|item| serde_json::from_str(&text(item, "detail")).ok())
            .collect();
        let more = pending.len() > settled.len();
        Ok((settled, more))
    }
}
