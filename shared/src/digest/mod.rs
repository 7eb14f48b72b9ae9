//! The weekly leadership digest, pure: [`build_digest`] turns the rollups of the last full ISO
//! week and the 4 before it (plus the week's PRs and the open incidents) into one [`Digest`]
//! model, and the renderers lay that model out for Slack ([`slack_messages`], Block Kit),
//! email ([`render_email`]: subject, HTML for mail clients, plain text) and Microsoft Teams
//! ([`teams_messages`], Adaptive Cards). No I/O and no clock: the edge loads the input, passes
//! `now`, and sends the output.
//!
//! Which teams "need attention", and why, is decided in [`model`] (its `attention.rs` gives the
//! thresholds); how numbers are written is decided in [`format`].

pub mod email;
pub mod format;
mod layout;
pub mod model;
pub mod slack;
pub mod teams;
pub mod text;

#[cfg(test)]
pub(crate) mod testing;

pub use email::{email_subject, render_email, render_html, EmailContent};
pub use format::Trend;
pub use model::{
    build_digest, Attention, Change, Digest, DigestInput, GoalsOffTrack, Headline, Links, Metric,
    MetricKind, OpenIncidentLine, PrSummary, Reason, ReasonKind, SlowPr, TeamInput, TeamRow,
};
pub use slack::{check_block_kit_limits, slack_messages, BlockKitError};
pub use teams::{check_teams_message, teams_messages, TeamsMessageError};
pub use text::render_text;
