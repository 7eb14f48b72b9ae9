//! Flowmeter's domain logic. Everything here is pure: bytes and facts in, facts, projections,
//! rollups and metrics out. DynamoDB, HTTP and the Lambda runtime live in `flowmeter-edge`.

pub mod backfill;
pub mod config;
pub mod derive;
pub mod digest;
pub mod events;
pub mod gate;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod notifications;
pub mod repo;
pub mod scope;
pub mod share;
pub mod sketch;
pub mod time;
