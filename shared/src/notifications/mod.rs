//! Routed notifications: which configured channels an event goes to, and the chat messages a
//! channel gets for a group of events.
//!
//! The weekly digest tells leadership how the org is doing; these tell the people who can act
//! that something happened now: a production deployment failed or recovered, an incident
//! opened, a serious security alert was found. Teams want different slices of that stream
//! (platform every failed production deployment, payments its own merges), so the org config
//! routes events to named channels (`notifications.routes`, docs/CONFIG.md), whose webhook URLs
//! are secrets. Both steps are pure, like the rest of this crate: [`routes::route`] splits a
//! batch of [`crate::events::DomainEvent`]s by channel, and [`message`] renders one channel's
//! events as Slack Block Kit or Teams Adaptive Card messages, one per event or, for a burst
//! (a busy release train, a backfill), grouped so a channel is not flooded. The notifier in
//! `flowmeter-edge` loads the config, the events and the secret, and posts.
//!
//! The renderers reuse the digest's text hygiene (`crate::digest::format`) and its escaping
//! for each chat, and every message they make passes the digest's own limit checks
//! ([`crate::digest::check_block_kit_limits`], [`crate::digest::check_teams_message`]).

mod card;
pub mod message;
pub mod routes;

pub use message::{slack_messages, teams_messages, MAX_SHIPPED_LISTED};
pub use routes::{
    event_severity, route, NotificationConfig, Route, Severity, DEFAULT_GROUP_AFTER,
    DEFAULT_REVIEW_WAIT_HOURS,
};
