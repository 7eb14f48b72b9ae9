//! The file format: the config as people write it, every field optional, unknown fields
//! rejected, read in document order; and the way back from a validated config to it.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::validate::format_window;
use super::{ConfigError, DigestConfig, OrgConfig, Service, Team};
use crate::notifications::NotificationConfig;

/// The schema as written by people: every field optional (defaults are applied in `build`, so
/// that "absent" and "explicit default" are told apart only there), unknown fields rejected.
/// An explicit `null` counts as absent; unlimited blame is spelled `none`.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) environments: Option<Entries<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) deploy_workflows: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) teams: Option<Entries<Team>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) services: Option<Entries<Service>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) bots: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) incidents: Option<RawIncidents>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rework: Option<RawRework>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) digest: Option<DigestConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) severity: Option<RawSeverity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) goals: Option<Entries<Entries<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) tickets: Option<super::tickets::RawTickets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) notifications: Option<RawNotifications>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIncidents {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) github_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) blame_window: Option<String>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRework {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) labels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) branches: Option<Vec<String>>,
    /// Not in the example of docs/CONFIG.md: the revert detection of docs/METRICS.md ("Change
    /// failure rate").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) revert_titles: Option<Vec<String>>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSeverity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) pagerduty_urgency: Option<Entries<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) pagerduty_priority: Option<Entries<String>>,
}

/// `notifications:`: the routes of events to chat channels (`crate::notifications`).
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotifications {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) routes: Option<Vec<RawRoute>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) group_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) review_wait_hours: Option<u64>,
}

/// One `notifications.routes` entry as written: names, checked and normalized in `build`.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) environments: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) repos: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) teams: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) severity: Option<String>,
}

/// A mapping read in document order with duplicates kept: a `BTreeMap` would silently keep the
/// last of two `payments:` teams, and a config mistake must be reported, not resolved.
pub(super) struct Entries<T>(pub(super) Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
            type Value = Entries<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<T>()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

impl<T: Clone> Entries<T> {
    /// A validated map's entries, in key order.
    fn of(map: &BTreeMap<String, T>) -> Entries<T> {
        Entries(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

impl<T: Serialize> Serialize for Entries<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl OrgConfig {
    /// The effective config in the file format, every default spelled out.
    pub(super) fn to_raw(&self) -> RawConfig {
        RawConfig {
            org: Some(self.org.clone()),
            timezone: Some(self.timezone.name().to_string()),
            environments: Some(Entries(
                self.environments
                    .iter()
                    .map(|(name, patterns)| (name.clone(), patterns.sources.clone()))
                    .collect(),
            )),
            deploy_workflows: Some(self.deploy_workflows.sources.clone()),
            teams: Some(Entries::of(&self.teams)),
            services: Some(Entries::of(&self.services)),
            bots: Some(self.bots.clone()),
            incidents: Some(RawIncidents {
                github_label: Some(self.incident_label.clone()),
                blame_window: Some(format_window(self.blame_window)),
            }),
            rework: Some(RawRework {
                labels: Some(self.rework_labels.clone()),
                branches: Some(self.rework_branches.sources.clone()),
                revert_titles: Some(self.revert_titles.sources.clone()),
            }),
            digest: Some(self.digest.clone()),
            severity: Some(RawSeverity {
                pagerduty_urgency: Some(Entries::of(&self.severity_by_urgency)),
                pagerduty_priority: Some(Entries::of(&self.severity_by_priority)),
            }),
            goals: Some(self.goals.to_raw()),
            tickets: Some(super::tickets::raw_tickets(&self.ticket_projects)),
            notifications: Some(raw_notifications(&self.notifications)),
        }
    }
}

/// The effective `notifications:` back in the file format, every filter spelled out (an
/// empty list lets everything through; an absent `severity` sets no minimum).
fn raw_notifications(config: &NotificationConfig) -> RawNotifications {
    let routes = config
        .routes
        .iter()
        .map(|route| RawRoute {
            channel: Some(route.channel.clone()),
            events: Some(
                route
                    .events
                    .iter()
                    .map(|kind| kind.as_str().to_string())
                    .collect(),
            ),
            environments: Some(route.environments.clone()),
            repos: Some(route.repos.clone()),
            teams: Some(route.teams.clone()),
            severity: route.severity.map(|s| s.as_str().to_string()),
        })
        .collect();
    RawNotifications {
        routes: Some(routes),
        group_after: Some(config.group_after as u64),
        review_wait_hours: Some(config.review_wait_hours),
    }
}

pub(super) fn path_error<E: fmt::Display>(e: &serde_path_to_error::Error<E>) -> ConfigError {
    // Segments the tracker could not name (syntax errors) print as `?`; they add nothing.
    let path = e.path().to_string();
    let mut field = path.as_str();
    while let Some(parent) = field.strip_suffix(".?") {
        field = parent;
    }
    let field = match field {
        "." | "?" | "" => "config",
        named => named,
    };
    let mut message = e.inner().to_string();
    // serde_yaml_ng prefixes nested errors with its own (parent) path; ours is in `field`.
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.is_empty() && !prefix.contains(' ') && field.starts_with(prefix) {
            message = rest.to_string();
        }
    }
    // Serde names our private Rust types in "expected struct RawConfig"; users wrote a mapping.
    for name in [
        "RawConfig",
        "RawEnvironments",
        "RawIncidents",
        "RawRework",
        "RawSeverity",
        "RawNotifications",
        "RawRoute",
        "DigestConfig",
        "EmailDigest",
        "SlackDigest",
        "Service",
        "Team",
    ] {
        message = message.replace(&format!("expected struct {name}"), "expected a mapping");
    }
    // A repeated key is reported at its parent; point at the key itself.
    let field = match message
        .strip_prefix("duplicate field `")
        .and_then(|rest| rest.split_once('`'))
    {
        Some((key, _)) if field == "config" => key.to_string(),
        Some((key, _)) => format!("{field}.{key}"),
        None => field.to_string(),
    };
    ConfigError::new(field, message)
}
