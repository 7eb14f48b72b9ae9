//! Pure derivations: facts → projections (one per PR, deployment, incident, ticket),
//! projections → cross-entity links, projections → bucket members → weekly rollups. The rollup
//! function in
//! `flowmeter-edge` loads the inputs and writes the outputs; every decision is made here.

pub mod app_state;
pub mod deployment;
pub mod incident;
pub mod link_edits;
pub mod links;
pub mod member_diff;
pub mod members;
pub mod pr_commits;
pub mod projection;
pub mod pull_request;
pub mod rollup;
pub mod security;
pub mod ticket;
pub mod ticket_keys;

#[cfg(test)]
pub(crate) mod testing;

pub use app_state::{project_app_state, AppState};
pub use deployment::{project_deployment, Deployment};
pub use incident::{project_incident, Incident};
pub use link_edits::{LinkEdit, Retarget};
pub use member_diff::{MemberDiff, MemberRef};
pub use members::{pack_members, Bucket, Member, MemberData, PackedMember, Scope};
pub use pr_commits::HeadHistory;
pub use projection::{dependents, Dependents, Projection};
pub use pull_request::{project_pull_request, PullRequest};
pub use rollup::Rollup;
pub use security::{project_security_alert, SecurityAlert};
pub use ticket::{project_ticket, ticket_key, Ticket, TicketPr};
