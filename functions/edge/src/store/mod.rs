//! The only module that talks to DynamoDB. The table layout lives here (and in ARCHITECTURE.md);
//! every key is spelled once, in [`keys`]:
//!
//! | item            | pk                          | sk                         |
//! |-----------------|-----------------------------|----------------------------|
//! | source fact     | entity key (`PR#…`, `DEP#…`, `INC#…`, `BR#…`) | `FACT#<at>#<fact id>` |
//! | derived fact    | entity key                  | `FACT#LINK#<link id>`      |
//! | projection      | entity key                  | `PROJ`                     |
//! | PR by head      | branch entity key (`BR#…`)  | PR entity key (`PR#…`)     |
//! | run done        | `BATCH#<run>`               | `DONE`                     |
//! | repo metadata   | `REPO#<owner/name>`         | `META`                     |
//! | bucket member   | `BUCKET#<scope>|<week>`     | `M#<entity>` (packed)      |
//! | rollup          | `ROLLUP#<scope>`            | `<week>`                   |
//! | parked entity   | `PARKED#<entity key>`       | `PARKED`                   |
//! | event outbox    | `OUTBOX#<event id>`         | `EVENT`                    |
//! | org config      | `CONFIG`                    | `CURRENT`                  |
//! | digest ledger   | `DIGEST#<org>#<week>`       | part or channel            |
//! | backfill        | `BACKFILL`                  | `<id>` (job, checkpoint, lease) |
//! | GitHub ETag     | `ETAG#<url>`                | `ETAG`                     |
//!
//! GSIs (on projections only, [`keys::Index`]): `gsi1` = deployments of a repo by finish
//! (`DEPS#<repo>`), incidents of a service by opening (`INCS#<service>`); `gsi2` = merged PRs of
//! a repo by merge time (`MERGED#<repo>`), open incidents (`OPENINC`). They are read only
//! through the typed queries of [`index`].
//!
//! Every request goes through one helper ([`request`]): it counts the request, meters the
//! capacity it consumed and maps its error to a [`StoreError`].

mod backfill;
mod buckets;
mod codec;
mod config;
mod error;
mod facts;
mod index;
pub mod keys;
mod ledger;
mod outbox;
mod projections;
mod request;
mod rollups;
mod runs;

use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::Client;
use std::sync::Arc;

pub use aws_sdk_dynamodb::types::AttributeValue;
pub use backfill::{BackfillLease, BACKFILL_LEASE_S};
pub use buckets::member_data;
pub use codec::{content_hash, item_keys, item_size, Item};
pub use error::StoreError;
pub use facts::DERIVED_FACT_TYPES;
pub use index::INDEX_QUERIES;
pub use keys::{
    bucket_pk, rollup_pk, PARKED_PREFIX, PARKED_SK, PROJECTION_SK, ROLLUP_WRITE_PREFIXES,
};
pub use ledger::{DigestClaim, DIGEST_LEDGER_TTL_S};
pub use outbox::{Outboxed, OUTBOX_TTL_S};
pub use projections::{LinkState, MemberRef, Projection, ProjectionItem};
pub use request::Meter;
pub use runs::RUN_DONE_TTL_S;

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    pub meter: Arc<Meter>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        Store {
            client,
            table: table.into(),
            meter: Arc::new(Meter::default()),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table's description (status, stream); not metered: setup, not traffic.
    pub async fn describe_table(&self) -> Result<DescribeTableOutput, StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("DescribeTable", e))
    }

    /// Items whose pk begins with `prefix`, by full scan (admin and test paths only).
    pub async fn scan_prefix(&self, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let scan = self
            .scan()
            .consistent_read(true)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", codec::s(prefix));
        self.pages("Scan", None, |start| {
            scan.clone().set_exclusive_start_key(start).send()
        })
        .await
    }

    /// Every item in the table, raw (tests compare tables byte for byte with it).
    pub async fn scan_all(&self) -> Result<Vec<Item>, StoreError> {
        self.scan_prefix("").await
    }

    /// Deletes one item, unconditionally (reprocess and admin paths).
    pub async fn delete_item(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        let request = self
            .delete()
            .key("pk", codec::s(pk))
            .key("sk", codec::s(sk));
        self.send("DeleteItem", request.send()).await?;
        Ok(())
    }
}
