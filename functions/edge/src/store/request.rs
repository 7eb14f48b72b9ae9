//! The one way a request reaches the table: [`Store::send`] counts it, meters the capacity it
//! consumed (every request asks for it) and maps its error to a [`StoreError`]; [`Store::pages`]
//! follows a query or scan over all its pages. Operations only say what to ask.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::{
    batch_get_item::{builders::BatchGetItemFluentBuilder, BatchGetItemOutput},
    batch_write_item::{builders::BatchWriteItemFluentBuilder, BatchWriteItemOutput},
    delete_item::{builders::DeleteItemFluentBuilder, DeleteItemOutput},
    get_item::{builders::GetItemFluentBuilder, GetItemOutput},
    put_item::{builders::PutItemFluentBuilder, PutItemOutput},
    query::{builders::QueryFluentBuilder, QueryOutput},
    scan::{builders::ScanFluentBuilder, ScanOutput},
    update_item::{builders::UpdateItemFluentBuilder, UpdateItemOutput},
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};

use super::codec::Item;
use super::error::OldItem;
use super::{Store, StoreError};

/// Counts requests and consumed capacity, so tests and the load harness can measure what a
/// read or a delivery costs.
#[derive(Debug, Default)]
pub struct Meter {
    pub requests: AtomicU64,
    /// Consumed capacity in thousandths of a unit.
    pub read_milli: AtomicU64,
    pub write_milli: AtomicU64,
}

impl Meter {
    fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn consumed(&self, capacity: &[ConsumedCapacity], write: bool) {
        for c in capacity {
            let units = if write {
                c.write_capacity_units().or(c.capacity_units())
            } else {
                c.read_capacity_units().or(c.capacity_units())
            };
            let milli = (units.unwrap_or(0.0) * 1000.0).round() as u64;
            let counter = if write {
                &self.write_milli
            } else {
                &self.read_milli
            };
            counter.fetch_add(milli, Ordering::Relaxed);
        }
    }
}

/// What a request's answer says it consumed, and whether it counts as writes or reads.
pub(super) trait Consumed {
    const WRITES: bool;
    fn capacity(&self) -> &[ConsumedCapacity];
}

macro_rules! consumed_once {
    ($($output:ty => $writes:expr),* $(,)?) => {$(
        impl Consumed for $output {
            const WRITES: bool = $writes;
            fn capacity(&self) -> &[ConsumedCapacity] {
                self.consumed_capacity().map(std::slice::from_ref).unwrap_or_default()
            }
        }
    )*};
}

consumed_once!(
    PutItemOutput => true,
    DeleteItemOutput => true,
    UpdateItemOutput => true,
    GetItemOutput => false,
    QueryOutput => false,
    ScanOutput => false,
);

impl Consumed for BatchWriteItemOutput {
    const WRITES: bool = true;
    fn capacity(&self) -> &[ConsumedCapacity] {
        self.consumed_capacity()
    }
}

impl Consumed for BatchGetItemOutput {
    const WRITES: bool = false;
    fn capacity(&self) -> &[ConsumedCapacity] {
        self.consumed_capacity()
    }
}

/// One page of a query or scan.
pub(super) trait Page {
    fn page_items(&self) -> &[Item];
    fn next_start(&self) -> Option<&Item>;
}

macro_rules! page {
    ($($output:ty),*) => {$(
        impl Page for $output {
            fn page_items(&self) -> &[Item] {
                self.items()
            }
            fn next_start(&self) -> Option<&Item> {
                self.last_evaluated_key().filter(|key| !key.is_empty())
            }
        }
    )*};
}

page!(QueryOutput, ScanOutput);

/// `name: Builder = operation(table);`: `Store::name()` starts an `operation` request (on the
/// table, for the single-table ones) that asks for the capacity it consumes, so that
/// [`Store::send`] can meter it.
macro_rules! metered {
    ($($name:ident: $builder:ty = $op:ident($($table:ident)?);)*) => {$(
        pub(super) fn $name(&self) -> $builder {
            let request = self.client.$op()$(.table_name(&self.$table))?;
            request.return_consumed_capacity(ReturnConsumedCapacity::Total)
        }
    )*};
}

impl Store {
    /// Sends one request (`op` names it in errors): counts it, meters what it consumed, maps
    /// its error.
    pub(super) async fn send<O, E, R>(
        &self,
        op: &'static str,
        request: impl Future<Output = Result<O, SdkError<E, R>>>,
    ) -> Result<O, StoreError>
    where
        O: Consumed,
        E: ProvideErrorMetadata + OldItem + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        self.meter.request();
        let out = request.await.map_err(|e| StoreError::from_sdk(op, e))?;
        self.meter.consumed(out.capacity(), O::WRITES);
        Ok(out)
    }

    /// Every item of a query or scan, page after page (`page(start)` sends one), at most
    /// `limit` of them.
    pub(super) async fn pages<O, E, R, F, Fut>(
        &self,
        op: &'static str,
        limit: Option<usize>,
        page: F,
    ) -> Result<Vec<Item>, StoreError>
    where
        O: Consumed + Page,
        E: ProvideErrorMetadata + OldItem + std::error::Error + 'static,
        R: std::fmt::Debug,
        F: Fn(Option<Item>) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
    {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self.send(op, page(start.take())).await?;
            items.extend(out.page_items().iter().cloned());
            if let Some(limit) = limit.filter(|l| items.len() >= *l) {
                items.truncate(limit);
                return Ok(items);
            }
            match out.next_start() {
                Some(key) => start = Some(key.clone()),
                None => return Ok(items),
            }
        }
    }

    metered! {
        put: PutItemFluentBuilder = put_item(table);
        get: GetItemFluentBuilder = get_item(table);
        delete: DeleteItemFluentBuilder = delete_item(table);
        update: UpdateItemFluentBuilder = update_item(table);
        query: QueryFluentBuilder = query(table);
        scan: ScanFluentBuilder = scan(table);
        batch_write: BatchWriteItemFluentBuilder = batch_write_item();
        batch_get: BatchGetItemFluentBuilder = batch_get_item();
    }

    /// Every item of a partition (whose sort key begins with `sk_prefix`, if given), strongly
    /// consistent, all pages.
    pub(super) async fn query_partition(
        &self,
        pk: &str,
        sk_prefix: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .query()
            .consistent_read(true)
            .expression_attribute_values(":pk", super::codec::s(pk));
        let query = match sk_prefix {
            Some(prefix) => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", super::codec::s(prefix)),
            None => query.key_condition_expression("pk = :pk"),
        };
        self.pages("Query", None, |start| {
            query.clone().set_exclusive_start_key(start).send()
        })
        .await
    }
}
