//! Org configuration (docs/CONFIG.md).
//!
//! The configuration arrives as text from people (a file at dev-server start, `PUT /v1/config`)
//! and is applied to all history at read time, so a mistake must be caught when it is loaded,
//! not discovered later as a wrong number. Hence: unknown fields are errors, every pattern is
//! compiled up front, and every error names the field (`teams.payments.repos[1]`) so a 400 tells
//! the user exactly what to fix.
//!
//! Parsing is two-step: serde reads a `RawConfig` of optional fields (wrapped in
//! `serde_path_to_error` so type errors and unknown fields carry their path), then `build`
//! validates it, fills defaults and normalizes. The stored form serializes back through the same
//! `RawConfig` with every default spelled out, so `from_yaml(to_json())` gives an equal config
//! and the JSON shown by `GET /v1/config` is the full effective configuration.
//!
//! Case rules (GitHub and PagerDuty names are case-insensitive, people type them either way):
//! repos, team names and service names are lower-cased when stored; logins, labels, PagerDuty
//! ids and severity map keys keep their spelling and compare case-insensitively; glob patterns
//! match case-insensitively.

mod build;
mod goals;
mod raw;
#[cfg(test)]
mod tests;
mod tickets;
mod validate;

use std::collections::BTreeMap;

use chrono::Duration;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::notifications::NotificationConfig;
pub use goals::{Goal, GoalMetric, Goals, Target, ORG_GOALS};
use raw::{path_error, RawConfig};
pub use tickets::TicketProject;
use validate::{ends_with_ignore_case, eq_ignore_case, normalize_severity, Patterns};

/// A config rejected at load time. `field` is the dotted path of the offending value (`config`
/// when the document as a whole is unreadable), so API clients can point at it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The DORA environment's name: the one environment always configured.
pub const PRODUCTION: &str = "production";

/// The validated org configuration. Pure data: every method answers from the config alone, so
/// the same config gives the same metrics on every Lambda and in the dev server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawConfig", into = "RawConfig")]
pub struct OrgConfig {
    org: String,
    timezone: Tz,
    /// In promotion order (`dev`, `qa`, …, `production`); `production` is always present.
    environments: Vec<(String, Patterns)>,
    deploy_workflows: Patterns,
    teams: BTreeMap<String, Team>,
    services: BTreeMap<String, Service>,
    bots: Vec<String>,
    incident_label: String,
    blame_window: Option<Duration>,
    rework_labels: Vec<String>,
    rework_branches: Patterns,
    revert_titles: Patterns,
    digest: DigestConfig,
    severity_by_urgency: BTreeMap<String, String>,
    severity_by_priority: BTreeMap<String, String>,
    goals: Goals,
    /// `tickets:`, Jira's then Linear's, each in the order written.
    ticket_projects: Vec<TicketProject>,
    /// `notifications:`, the routes in the order written.
    notifications: NotificationConfig,
}

/// A team is a set of people and a set of repos; the read API merges the rollups of either, so
/// a team change applies to all history without reprocessing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// GitHub logins as written in the config.
    #[serde(default)]
    pub members: Vec<String>,
    /// `owner/name`, lower-cased.
    #[serde(default)]
    pub repos: Vec<String>,
}

/// A service owns incidents; its repos are where the blamed deployment is looked for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `owner/name`, lower-cased.
    #[serde(default)]
    pub repos: Vec<String>,
    /// PagerDuty service ids that map to this service whatever their PagerDuty name.
    #[serde(default)]
    pub pagerduty: Vec<String>,
}

/// Where the weekly digest goes. Secrets (Slack webhook URL or token) are not config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailDigest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackDigest>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailDigest {
    pub from: String,
    pub to: Vec<String>,
}

/// Slack delivery. The webhook URL is a secret and decides the channel: an incoming webhook
/// always posts to the channel it was created for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackDigest {
    /// The channel that webhook posts to (`#engineering-metrics`), as the config's reader and
    /// the digest run's report name it; it does not redirect the webhook.
    pub channel: String,
}

impl OrgConfig {
    /// Parses and validates a config file or `PUT /v1/config` body. JSON is accepted too: it is
    /// read as JSON when it looks like an object and parses as one (tab-indented JSON is not
    /// valid YAML), and otherwise as YAML, of which JSON is nearly a subset.
    pub fn from_yaml(text: &str) -> Result<OrgConfig, ConfigError> {
        if text.trim_start().starts_with('{') {
            let mut de = serde_json::Deserializer::from_str(text);
            match serde_path_to_error::deserialize::<_, RawConfig>(&mut de) {
                // Trailing text after the object falls through to YAML, which reports it.
                Ok(raw) if de.end().is_ok() => return OrgConfig::build(raw),
                Err(e) if e.inner().is_data() => return Err(path_error(&e)),
                // Not JSON after all (e.g. a YAML flow mapping): let the YAML parser decide.
                _ => {}
            }
        }
        let de = serde_yaml_ng::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, RawConfig>(de) {
            Ok(raw) => OrgConfig::build(raw),
            Err(e) => Err(path_error(&e)),
        }
    }

    /// The effective configuration with every default spelled out; `from_yaml` of its text
    /// gives an equal config, except for the order of `environments`, which a JSON map sorts:
    /// serialize the config itself where that order matters.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.to_raw()).expect("config serializes: every map key is a string")
    }

    pub fn org(&self) -> &str {
        &self.org
    }

    /// Week boundaries and the digest's Monday 09:00 are in this zone.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    pub fn is_production(&self, environment: &str) -> bool {
        self.environment_of(environment) == Some(PRODUCTION)
    }

    /// The configured environment a deployment's environment name belongs to: production when
    /// its globs match (the DORA environment wins any overlap), else the first in promotion
    /// order whose globs match; `None`: not a configured environment, and ignored.
    pub fn environment_of(&self, environment: &str) -> Option<&str> {
        let matches = |(_, patterns): &&(String, Patterns)| patterns.is_match(environment);
        let production = self
            .environments
            .iter()
            .filter(|(name, _)| name == PRODUCTION)
            .find(matches);
        production
            .or_else(|| self.environments.iter().find(matches))
            .map(|(name, _)| name.as_str())
    }

    /// The configured environments' names, in promotion order.
    pub fn environment_names(&self) -> impl Iterator<Item = &str> {
        self.environments.iter().map(|(name, _)| name.as_str())
    }

    /// The environment a deployment of `environment` is promoted to next (`qa` → `preprod`);
    /// `None` for the last one and for a name that is not configured.
    pub fn next_environment(&self, environment: &str) -> Option<&str> {
        let at = self
            .environments
            .iter()
            .position(|(name, _)| name == environment)?;
        self.environments.get(at + 1).map(|(name, _)| name.as_str())
    }

    /// Every configured environment's patterns as literal names, in order, so a backfill can
    /// ask GitHub for their deployments alone; `None` when a pattern is a glob, which only a
    /// full listing matches.
    pub fn configured_environment_sources(&self) -> Option<Vec<String>> {
        let literal = |p: &String| !p.contains(['*', '?', '[', ']', '{', '}', '\\']);
        let sources: Vec<String> = self
            .environments
            .iter()
            .flat_map(|(_, patterns)| patterns.sources.iter().cloned())
            .collect();
        sources.iter().all(literal).then_some(sources)
    }

    /// Whether any workflow is configured as a deployment (`deploy_workflows`).
    pub fn has_deploy_workflows(&self) -> bool {
        !self.deploy_workflows.sources.is_empty()
    }

    /// Every repository a team or a service names, lower-cased, sorted, once each: what a
    /// backfill reads when it is given no repos.
    pub fn configured_repos(&self) -> Vec<String> {
        let teams = self.teams.values().flat_map(|t| &t.repos);
        let services = self.services.values().flat_map(|s| &s.repos);
        let mut repos: Vec<String> = teams
            .chain(services)
            .map(|r| r.to_ascii_lowercase())
            .collect();
        repos.sort();
        repos.dedup();
        repos
    }

    /// Whether a GitHub Actions workflow run of this name is a deployment.
    pub fn is_deploy_workflow(&self, workflow_name: &str) -> bool {
        self.deploy_workflows.is_match(workflow_name)
    }

    /// Ingest decides `flagged_bot` from the payload (type `Bot`, `[bot]` suffix) so that a
    /// config change needs no re-ingest; the configured logins are added here, at derive time.
    pub fn is_bot(&self, login: &str, flagged_bot: bool) -> bool {
        flagged_bot
            || ends_with_ignore_case(login, "[bot]")
            || self.bots.iter().any(|b| eq_ignore_case(b, login))
    }

    pub fn incident_label(&self) -> &str {
        &self.incident_label
    }

    /// Whether a GitHub issue with these labels is an incident.
    pub fn is_incident_labels(&self, labels: &[String]) -> bool {
        labels
            .iter()
            .any(|l| eq_ignore_case(l, &self.incident_label))
    }

    /// How long before an incident a deployment can still be blamed; `None` is unlimited.
    pub fn blame_window(&self) -> Option<Duration> {
        self.blame_window
    }

    pub fn is_rework_label(&self, label: &str) -> bool {
        self.rework_labels.iter().any(|l| eq_ignore_case(l, label))
    }

    pub fn is_rework_branch(&self, head_branch: &str) -> bool {
        self.rework_branches.is_match(head_branch)
    }

    pub fn is_revert_title(&self, title: &str) -> bool {
        self.revert_titles.is_match(title)
    }

    /// The services that own `repo` (case-insensitive), in name order.
    pub fn services_of_repo(&self, repo: &str) -> Vec<&str> {
        self.services
            .iter()
            .filter(|(_, s)| s.repos.iter().any(|r| r.eq_ignore_ascii_case(repo)))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// `None` when no such service is configured (the API answers 404 for its scope).
    pub fn repos_of_service(&self, service: &str) -> Option<&[String]> {
        self.service(service).map(|s| s.repos.as_slice())
    }

    pub fn services(&self) -> impl Iterator<Item = (&str, &Service)> {
        self.services.iter().map(|(n, s)| (n.as_str(), s))
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.get(&name.to_ascii_lowercase())
    }

    /// The service a PagerDuty incident belongs to: by configured id first (ids survive a
    /// rename in PagerDuty), then by name, and otherwise the PagerDuty name itself, lower-cased
    /// so that "Checkout" and "checkout" do not split one service's history.
    pub fn service_for_pagerduty(&self, name: &str, id: Option<&str>) -> String {
        if let Some(id) = id {
            if let Some((service, _)) = self
                .services
                .iter()
                .find(|(_, s)| s.pagerduty.iter().any(|p| eq_ignore_case(p, id)))
            {
                return service.clone();
            }
        }
        let lowered = name.trim().to_lowercase();
        match self.services.get_key_value(&lowered) {
            Some((service, _)) => service.clone(),
            None => lowered,
        }
    }

    /// `sev1`…`sev4` for an incident: an explicit severity wins (`sev1`, `SEV-1`, `Sev 1` or
    /// `1`), then the PagerDuty priority mapping, then the urgency mapping. `None` when nothing
    /// maps, so the incident counts under "unknown" rather than under a guessed level.
    pub fn severity_for(
        &self,
        severity: Option<&str>,
        urgency: Option<&str>,
        priority: Option<&str>,
    ) -> Option<String> {
        if let Some(level) = severity.and_then(normalize_severity) {
            return Some(level);
        }
        let lookup = |map: &BTreeMap<String, String>, key: Option<&str>| {
            let key = key?.trim();
            map.iter()
                .find(|(k, _)| eq_ignore_case(k, key))
                .map(|(_, v)| v.clone())
        };
        lookup(&self.severity_by_priority, priority)
            .or_else(|| lookup(&self.severity_by_urgency, urgency))
    }

    /// Teams in name order.
    pub fn teams(&self) -> impl Iterator<Item = (&str, &Team)> {
        self.teams.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// Team names are stored lower-cased, so `team("Payments")` finds `payments`.
    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.get(&name.to_ascii_lowercase())
    }

    pub fn digest(&self) -> &DigestConfig {
        &self.digest
    }

    /// The configured Jira projects and Linear teams (docs/CONFIG.md "tickets").
    pub fn ticket_projects(&self) -> &[TicketProject] {
        &self.ticket_projects
    }

    /// The upper-case keys whose tickets are looked for in PRs and commits.
    pub fn ticket_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.ticket_projects.iter().map(|p| p.key.clone()).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The org-wide and per-team goals (docs/CONFIG.md "goals").
    pub fn goals(&self) -> &Goals {
        &self.goals
    }

    /// Which chat channels get which events, and when a channel's events are grouped
    /// (docs/CONFIG.md "notifications"); no routes by default.
    pub fn notifications(&self) -> &NotificationConfig {
        &self.notifications
    }
}

impl Default for OrgConfig {
    /// The config of an org that configured nothing yet: every documented default, org
    /// `default`. Lets the dev server start without a config file.
    fn default() -> OrgConfig {
        OrgConfig::build(RawConfig {
            org: Some("default".to_string()),
            ..RawConfig::default()
        })
        .expect("the built-in defaults are valid")
    }
}

impl TryFrom<RawConfig> for OrgConfig {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<OrgConfig, ConfigError> {
        OrgConfig::build(raw)
    }
}

impl From<OrgConfig> for RawConfig {
    fn from(config: OrgConfig) -> RawConfig {
        config.to_raw()
    }
}
