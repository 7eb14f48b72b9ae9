//! `flowmeter-kit`: what the end-to-end tests (`tests/`), the demo (`infra/demo`) and the load
//! generator (`infra/load`) need to play a webhook source.
//!
//! - [`Delivery`]: one webhook delivery (route, headers, body), signed for its source
//!   ([`Source`]) with that source's secret, as GitHub, PagerDuty or a generic CI signs it.
//! - [`payload`]: the smallest GitHub, PagerDuty and generic bodies Flowmeter reads (the demo
//!   builds its own, fuller ones, and signs them here).
//! - [`Sender`]: posts deliveries to a running server, retrying 5xx answers and connection
//!   errors with exponential backoff, and counts its retries.
//! - [`Rng`]: the SplitMix64 generator every deterministic history here is drawn from.
//! - [`github_api`]: a local GitHub REST API, folded from webhook deliveries, that answers as
//!   GitHub does (its JSON shapes, pagination, ETags, rate limits, errors), for the backfill.

pub mod delivery;
pub mod github_api;
pub mod payload;
pub mod rng;
pub mod send;

pub use delivery::{Delivery, Source};
pub use rng::Rng;
pub use send::{Answer, Attempt, Retry, Sender, Sent};
