//! `flowmeter-demo`: a realistic sample org for Flowmeter, deterministic from a seed.
//!
//! [`generate`] simulates the persona's org — 4 teams, 22 engineers, 12 repositories, 3
//! services, 12 weeks of history ending at the last full ISO week before `now` — and returns it
//! as correctly signed webhook deliveries (GitHub, PagerDuty, a generic CI, Jira Cloud, Jira Data
//! Center and Linear for the tickets most PRs name), the org config that goes with them, and the ground truth the simulation recorded, from which the expected metrics
//! are computed without Flowmeter ([`truth`]). One team starts struggling in the last three
//! weeks: review latency climbs and its change failure rate goes up.
//!
//! The binary (`flowmeter-demo run`) replays the deliveries through a running dev server and
//! prints the org's engineering health ([`report`]).

pub mod payloads;
pub mod report;
pub mod rng;
pub mod sim;
pub mod spec;
pub mod truth;

use chrono::{DateTime, NaiveDate, Utc};
use flowmeter::time::IsoWeek;

pub use payloads::{DemoDelivery, Secrets};
pub use sim::Params;

/// The demo's default seed.
pub const DEFAULT_SEED: u64 = 2026;

/// A team as the config names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    pub name: String,
    pub members: Vec<String>,
    /// `owner/name`.
    pub repos: Vec<String>,
}

/// The generated org.
#[derive(Clone, Debug)]
pub struct DemoOrg {
    pub seed: u64,
    /// The org config file (docs/CONFIG.md) for `FLOWMETER_CONFIG`.
    pub config_yaml: String,
    /// Every delivery, in the order the events happened.
    pub deliveries: Vec<DemoDelivery>,
    /// The team whose last three weeks go badly.
    pub struggling_team: String,
    /// The secrets the deliveries are signed with.
    pub secrets: Secrets,
    pub teams: Vec<Team>,
    pub first_week: IsoWeek,
    pub last_week: IsoWeek,
    /// What happened, for computing expected numbers without Flowmeter.
    pub truth: truth::Truth,
}

impl DemoOrg {
    /// Monday of the first week (org timezone).
    pub fn from(&self) -> NaiveDate {
        self.first_week.monday_date()
    }

    /// Sunday of the last week.
    pub fn to(&self) -> NaiveDate {
        self.last_week.sunday_date()
    }

    /// The weeks of the history, oldest first.
    pub fn weeks(&self) -> Vec<IsoWeek> {
        flowmeter::time::weeks_between(self.from(), self.to())
    }

    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name == name)
    }
}

/// The order the demo replays deliveries in, as a backfill would send them: first the code
/// history (pull requests with their reviews, comments and branch pushes; the default
/// branch's pushes), then the deployments, then the incidents, then the tickets (Jira and
/// Linear); within each, repository by repository (PagerDuty: service by service; tickets:
/// project by project), and each pull request, deployment, incident or ticket's deliveries
/// together, in time order.
///
/// Flowmeter's numbers do not depend on arrival order (the pipeline is tested for that), but
/// the local stack's derivation work does: a stream batch rebuilds each entity it touches once,
/// and re-derives the shipped PRs of each repository it touches, which costs little while the
/// repository has no deployments yet. In event-time order the same history takes several times
/// longer to derive.
pub fn replay_order(deliveries: &[DemoDelivery]) -> Vec<&DemoDelivery> {
    let phase = |d: &DemoDelivery| match (d.delivery.path.as_str(), d.github_event()) {
        ("/webhooks/deployments", _) | (_, "deployment" | "deployment_status") => 1u8,
        ("/webhooks/pagerduty" | "/webhooks/incidents", _) | (_, "issues") => 2,
        (path, _) if path.starts_with("/webhooks/jira") || path == "/webhooks/linear" => 3,
        _ => 0,
    };
    let mut first: std::collections::HashMap<(u8, &str, &str), DateTime<Utc>> =
        std::collections::HashMap::new();
    for d in deliveries {
        let key = (phase(d), d.group.as_str(), d.entity.as_str());
        let at = first.entry(key).or_insert(d.at);
        *at = (*at).min(d.at);
    }
    // (phase, group, the entity's first delivery in that phase, entity, this delivery's time)
    type ReplayKey<'a> = (u8, &'a str, DateTime<Utc>, &'a str, DateTime<Utc>);
    let mut order: Vec<(ReplayKey, &DemoDelivery)> = deliveries
        .iter()
        .map(|d| {
            let p = phase(d);
            let started = first
                .get(&(p, d.group.as_str(), d.entity.as_str()))
                .copied()
                .unwrap_or(d.at);
            ((p, d.group.as_str(), started, d.entity.as_str(), d.at), d)
        })
        .collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    order.into_iter().map(|(_, d)| d).collect()
}

/// The demo's org: 12 weeks ending at the last full ISO week before `now`, signed with the
/// default demo secrets.
pub fn generate(seed: u64, now: DateTime<Utc>) -> DemoOrg {
    generate_with(&Params::new(seed, now))
}

/// [`generate`] with other parameters (fewer weeks, less activity, other secrets).
pub fn generate_with(params: &Params) -> DemoOrg {
    let out = sim::simulate(params);
    let teams = spec::TEAMS
        .iter()
        .map(|t| Team {
            name: t.name.to_string(),
            members: t.members.iter().map(|m| m.to_string()).collect(),
            repos: t.repos.iter().map(|r| spec::full_name(r.name)).collect(),
        })
        .collect();
    DemoOrg {
        seed: params.seed,
        config_yaml: spec::config_yaml(),
        deliveries: out.deliveries,
        struggling_team: out.struggling_team,
        secrets: params.secrets.clone(),
        teams,
        first_week: out.first_week,
        last_week: out.last_week,
        truth: out.truth,
    }
}
