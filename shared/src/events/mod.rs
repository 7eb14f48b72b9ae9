//! Domain events: what Flowmeter tells the outside world when the thing an event describes
//! changes (a deployment finished or failed, an incident opened, a PR merged, a critical alert
//! was found, a team's week turned bad by the digest's rule). The rollup decides them from the projections it writes (`decide`), keeps each
//! in an outbox item keyed by its id until it is on the EventBridge bus, and the notifier routes
//! them to chat channels (`crate::notifications`).
//!
//! An event's id is a hash of what makes it *this* change (the entity, the kind of change and
//! the instant it happened), never of when it was decided: the same change decided twice (a
//! redelivered fact, a retried batch, a reprocess) has the same id, so the outbox publishes it
//! once and a consumer can dedupe by it. The detail shapes are documented as JSON Schema in
//! `docs/events/`; `tests/events.rs` validates every event the pipeline emits against them.

pub mod decide;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The EventBridge `Source` of every Flowmeter event.
pub const SOURCE: &str = "flowmeter";

/// How old a change may be and still be announced. Older ones are history arriving late (a
/// backfill, a reprocess, a source's redelivery days after): the numbers take them in, the
/// channels are not paged about them.
pub const MAX_AGE_HOURS: i64 = 24;

/// The kinds of event, as EventBridge's `detail-type` and the detail's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "deployment.finished")]
    DeploymentFinished,
    #[serde(rename = "deployment.failed")]
    DeploymentFailed,
    #[serde(rename = "deployment.recovered")]
    DeploymentRecovered,
    #[serde(rename = "incident.opened")]
    IncidentOpened,
    #[serde(rename = "incident.resolved")]
    IncidentResolved,
    #[serde(rename = "pull_request.merged")]
    PullRequestMerged,
    #[serde(rename = "pull_request.waiting")]
    PullRequestWaiting,
    #[serde(rename = "security.alert")]
    SecurityAlert,
    #[serde(rename = "team.needs_attention")]
    TeamNeedsAttention,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::DeploymentFinished,
        EventType::DeploymentFailed,
        EventType::DeploymentRecovered,
        EventType::IncidentOpened,
        EventType::IncidentResolved,
        EventType::PullRequestMerged,
        EventType::PullRequestWaiting,
        EventType::SecurityAlert,
        EventType::TeamNeedsAttention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::DeploymentFinished => "deployment.finished",
            EventType::DeploymentFailed => "deployment.failed",
            EventType::DeploymentRecovered => "deployment.recovered",
            EventType::IncidentOpened => "incident.opened",
            EventType::IncidentResolved => "incident.resolved",
            EventType::PullRequestMerged => "pull_request.merged",
            EventType::PullRequestWaiting => "pull_request.waiting",
            EventType::SecurityAlert => "security.alert",
            EventType::TeamNeedsAttention => "team.needs_attention",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event's detail: the fields every event has (what routes match on), then the subject of
/// its type (the others absent). See `docs/events/<type>.schema.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// `evt_` and 32 hex digits, the same for the same change however often it is decided.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When the change happened (a deployment's finish, an incident's opening), not when it
    /// was decided.
    pub occurred_at: DateTime<Utc>,
    pub org: String,
    /// The repository (`owner/name`, or a host-qualified name for other forges).
    pub repo: Option<String>,
    /// A deployment's configured environment (`production`, `qa`).
    pub environment: Option<String>,
    /// The configured teams owning `repo` (an incident's: owning its services' repos).
    pub teams: Vec<String>,
    /// An incident's or an alert's severity (`critical`, `high`, `medium`, `low`, or an
    /// incident's own word), lower-cased.
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentDetail>,
    /// What a deployment shipped: the PRs new in it, oldest merge first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped: Option<Vec<PullRequestDetail>>,
    /// On `deployment.recovered`: the successful deployment after the failed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_by: Option<DeploymentDetail>,
    /// On `deployment.recovered`: seconds from the failure to the recovery's finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestDetail>,
    /// On `pull_request.waiting`: seconds since the PR became reviewable, without a review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionDetail>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentDetail {
    /// The deployment's entity id (`gh:123`, `argocd:api@prod:…`).
    pub id: String,
    pub repo: String,
    /// The configured environment.
    pub environment: Option<String>,
    /// The environment as the source named it.
    pub source_environment: Option<String>,
    pub sha: Option<String>,
    pub workflow: Option<String>,
    /// `success`, `failure` or `error`.
    pub state: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    /// The commit's page on its forge.
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullRequestDetail {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub author: String,
    pub url: Option<String>,
    pub merged_at: Option<DateTime<Utc>>,
    /// Seconds from the first commit (or the opening) to the merge.
    pub cycle_seconds: Option<f64>,
    /// The configured ticket keys the PR names (`PAY-12`).
    pub tickets: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentDetail {
    pub id: String,
    pub title: String,
    pub service: String,
    pub services: Vec<String>,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Seconds from opening to resolution, once resolved.
    pub duration_seconds: Option<f64>,
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertDetail {
    /// `dependabot`, `code_scanning` or `secret_scanning`.
    pub kind: String,
    pub number: u64,
    pub title: String,
    pub found_at: DateTime<Utc>,
    pub url: Option<String>,
}

/// Why a team needs attention in a week, by the digest's rule (`digest::model::attention`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionDetail {
    pub team: String,
    /// The ISO week the verdict is about (`2026-W49`), so far when it is the current one.
    pub week: String,
    /// One per reason, in plain words: `lead time p50 rose from 6 h to 2.1 d`.
    pub reasons: Vec<String>,
    /// The team's PRs merged in the week that waited over 2 days for a first review.
    pub waited_for_review: u64,
    /// The reasons in one line.
    pub summary: String,
}

/// `evt_` and the first 32 hex digits of SHA-256 over the parts that make a change itself.
pub fn event_id(kind: EventType, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    hash.update(kind.as_str().as_bytes());
    for part in parts {
        hash.update([0u8]);
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    format!("evt_{}", hex::encode(&digest[..16]))
}

impl DomainEvent {
    /// A bare event of `kind`, the subject fields empty.
    pub fn new(kind: EventType, id: String, occurred_at: DateTime<Utc>, org: &str) -> DomainEvent {
        DomainEvent {
            id,
            kind,
            occurred_at,
            org: org.to_string(),
            repo: None,
            environment: None,
            teams: Vec::new(),
            severity: None,
            deployment: None,
            shipped: None,
            recovered_by: None,
            recovery_seconds: None,
            incident: None,
            pull_request: None,
            waiting_seconds: None,
            alert: None,
            attention: None,
        }
    }

    /// The detail as EventBridge carries it.
    pub fn detail_json(&self) -> String {
        // A struct of strings, numbers and times always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether the change is recent enough to announce at `now` ([`MAX_AGE_HOURS`]).
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        now - self.occurred_at <= chrono::Duration::hours(MAX_AGE_HOURS)
    }
}
