//! Which channels an event goes to: the org config's `notifications.routes`, each a channel and
//! the filters an event must pass (docs/CONFIG.md, "notifications"). Pure: the notifier loads
//! the config and the events, asks [`route`], and posts what [`super::message`] renders.

use std::collections::{BTreeMap, BTreeSet};

use crate::events::{DomainEvent, EventType};

/// `notifications.review_wait_hours` when the config does not set it: a working day.
pub const DEFAULT_REVIEW_WAIT_HOURS: u64 = 24;

/// `notifications.group_after` when the config does not set it.
pub const DEFAULT_GROUP_AFTER: usize = 3;

/// A route's minimum severity, and an event's severity on the same scale
/// ([`event_severity`]), lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// A route's `severity` as the config spells it (`low`, `medium`, `high`, `critical`, any
    /// case); `None` for anything else.
    pub fn parse(name: &str) -> Option<Severity> {
        let name = name.trim();
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event's severity word on the routes' scale. Alerts say `critical`, `high`, `medium` or
/// `low`; incidents say `sev1`…`sev4` or their source's own word (`P1`, `SEV-2`, `moderate`):
/// `sev1`/`p1`/`critical` (and `sev0`/`p0`, which some orgs put above sev1) are critical,
/// `sev2`/`p2`/`high` high, `sev3`/`p3`/`medium`/`moderate` medium, anything else low. Case,
/// spaces, `-` and `_` do not matter.
pub fn event_severity(text: &str) -> Severity {
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect();
    match compact.as_str() {
        "sev0" | "p0" | "sev1" | "p1" | "critical" => Severity::Critical,
        "sev2" | "p2" | "high" => Severity::High,
        "sev3" | "p3" | "medium" | "moderate" => Severity::Medium,
        _ => Severity::Low,
    }
}

/// One `notifications.routes` entry: an event goes to `channel` when it passes every filter
/// set; an empty list (or no `severity`) lets every event through on that count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// A name of the channels secret (its webhook URL is a secret, not config).
    pub channel: String,
    /// The event types; empty: every type.
    pub events: Vec<EventType>,
    /// Configured environment names, matched against the event's `environment`.
    pub environments: Vec<String>,
    /// Repository names, normalized as the config's repos are, matched against `repo`.
    pub repos: Vec<String>,
    /// Configured team names; an event matches when any of its `teams` is one.
    pub teams: Vec<String>,
    /// The minimum severity; an event without a severity does not pass a route that sets one.
    pub severity: Option<Severity>,
}

impl Route {
    /// A route to `channel` with no filter: every event.
    pub fn new(channel: impl Into<String>) -> Route {
        Route {
            channel: channel.into(),
            events: Vec::new(),
            environments: Vec::new(),
            repos: Vec::new(),
            teams: Vec::new(),
            severity: None,
        }
    }

    /// Whether `event` passes every filter this route sets. Names compare ignoring ASCII case
    /// (the config stores them lower-cased, as the events carry them).
    pub fn matches(&self, event: &DomainEvent) -> bool {
        let listed =
            |list: &[String], value: &str| list.iter().any(|x| x.eq_ignore_ascii_case(value));
        let kind_ok = self.events.is_empty() || self.events.contains(&event.kind);
        let environment_ok = self.environments.is_empty()
            || event
                .environment
                .as_deref()
                .is_some_and(|e| listed(&self.environments, e));
        let repo_ok = self.repos.is_empty()
            || event
                .repo
                .as_deref()
                .is_some_and(|r| listed(&self.repos, r));
        let team_ok = self.teams.is_empty() || event.teams.iter().any(|t| listed(&self.teams, t));
        let severity_ok = match self.severity {
            None => true,
            Some(minimum) => event
                .severity
                .as_deref()
                .is_some_and(|s| event_severity(s) >= minimum),
        };
        kind_ok && environment_ok && repo_ok && team_ok && severity_ok
    }
}

/// The config's `notifications:`: the routes, and how many events one channel gets one by one
/// in a batch before they are grouped ([`super::message`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationConfig {
    pub routes: Vec<Route>,
    /// A channel getting more than this many events of one batch gets one grouped message
    /// (set) instead of one message per event.
    pub group_after: usize,
    /// Hours an open PR may wait for its first review before `pull_request.waiting`.
    pub review_wait_hours: u64,
}

impl Default for NotificationConfig {
    /// No routes: nothing is sent anywhere.
    fn default() -> NotificationConfig {
        NotificationConfig {
            routes: Vec::new(),
            group_after: DEFAULT_GROUP_AFTER,
            review_wait_hours: DEFAULT_REVIEW_WAIT_HOURS,
        }
    }
}

/// Each channel's events of a batch: every event a route of the channel matches, once however
/// many of its routes match, in input order; an event whose `id` came earlier in the input (a
/// redelivery within the batch) is not sent again. Channels no event matches are absent.
pub fn route(
    config: &NotificationConfig,
    events: &[DomainEvent],
) -> BTreeMap<String, Vec<DomainEvent>> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut routed: BTreeMap<String, Vec<DomainEvent>> = BTreeMap::new();
    for event in events {
        if !seen.insert(event.id.as_str()) {
            continue;
        }
        let channels: BTreeSet<&str> = config
            .routes
            .iter()
            .filter(|r| r.matches(event))
            .map(|r| r.channel.as_str())
            .collect();
        for channel in channels {
            routed
                .entry(channel.to_string())
                .or_default()
                .push(event.clone());
        }
    }
    routed
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("time")
    }

    fn event(id: &str, kind: EventType) -> DomainEvent {
        let mut e = DomainEvent::new(kind, id.to_string(), at("2026-10-07T12:00:00Z"), "acme");
        e.repo = Some("acme/api".into());
        e.teams = vec!["payments".into()];
        e
    }

    fn deployment(id: &str, kind: EventType, environment: &str) -> DomainEvent {
        let mut e = event(id, kind);
        e.environment = Some(environment.into());
        e
    }

    fn incident(id: &str, severity: Option<&str>) -> DomainEvent {
        let mut e = event(id, EventType::IncidentOpened);
        e.severity = severity.map(str::to_string);
        e
    }

    fn platform_and_payments() -> NotificationConfig {
        NotificationConfig {
            routes: vec![
                Route {
                    events: vec![EventType::DeploymentFailed, EventType::DeploymentRecovered],
                    environments: vec!["production".into()],
                    ..Route::new("platform-deploys")
                },
                Route {
                    events: vec![EventType::PullRequestMerged],
                    teams: vec!["payments".into()],
                    ..Route::new("payments")
                },
            ],
            group_after: DEFAULT_GROUP_AFTER,
            review_wait_hours: 24,
        }
    }

    fn ids(events: &[DomainEvent]) -> Vec<&str> {
        events.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn a_failed_production_deployment_goes_only_to_platform() {
        // given
        let config = platform_and_payments();
        let failed = deployment("evt_1", EventType::DeploymentFailed, "production");
        // when
        let routed = route(&config, &[failed]);
        // then
        assert_eq!(routed.keys().collect::<Vec<_>>(), ["platform-deploys"]);
        assert_eq!(ids(&routed["platform-deploys"]), ["evt_1"]);
    }

    #[test]
    fn a_failed_qa_deployment_goes_nowhere() {
        // given
        let config = platform_and_payments();
        let failed = deployment("evt_1", EventType::DeploymentFailed, "qa");
        // when / then
        assert!(route(&config, &[failed]).is_empty());
    }

    #[test]
    fn a_route_without_filters_gets_every_event_in_input_order() {
        // given
        let config = NotificationConfig {
            routes: vec![Route::new("all")],
            group_after: 3,
            review_wait_hours: DEFAULT_REVIEW_WAIT_HOURS,
        };
        let events: Vec<DomainEvent> = EventType::ALL
            .iter()
            .enumerate()
            .map(|(i, kind)| event(&format!("evt_{i}"), *kind))
            .rev()
            .collect();
        // when
        let routed = route(&config, &events);
        // then
        assert_eq!(
            ids(&routed["all"]),
            ["evt_8", "evt_7", "evt_6", "evt_5", "evt_4", "evt_3", "evt_2", "evt_1", "evt_0"]
        );
    }

    #[test]
    fn an_event_two_routes_of_one_channel_match_is_sent_to_it_once() {
        // given two routes to one channel, both matching, and one to another channel
        let config = NotificationConfig {
            routes: vec![
                Route {
                    events: vec![EventType::DeploymentFailed],
                    ..Route::new("ops")
                },
                Route {
                    repos: vec!["acme/api".into()],
                    ..Route::new("ops")
                },
                Route {
                    teams: vec!["payments".into()],
                    ..Route::new("payments")
                },
            ],
            group_after: 3,
            review_wait_hours: 24,
        };
        let failed = deployment("evt_1", EventType::DeploymentFailed, "production");
        // when
        let routed = route(&config, &[failed]);
        // then
        assert_eq!(ids(&routed["ops"]), ["evt_1"]);
        assert_eq!(ids(&routed["payments"]), ["evt_1"]);
    }

    #[test]
    fn an_event_repeated_in_a_batch_is_sent_once() {
        // given
        let config = NotificationConfig {
            routes: vec![Route::new("all")],
            group_after: 3,
            review_wait_hours: DEFAULT_REVIEW_WAIT_HOURS,
        };
        let first = deployment("evt_1", EventType::DeploymentFinished, "production");
        let other = deployment("evt_2", EventType::DeploymentFinished, "production");
        // when
        let routed = route(&config, &[first.clone(), other, first]);
        // then
        assert_eq!(ids(&routed["all"]), ["evt_1", "evt_2"]);
    }

    #[test]
    fn repos_and_teams_filter_an_event() {
        // given
        let by_repo = Route {
            repos: vec!["acme/web".into()],
            ..Route::new("web")
        };
        let by_team = Route {
            teams: vec!["web".into(), "payments".into()],
            ..Route::new("teams")
        };
        let mut api = event("evt_1", EventType::PullRequestMerged);
        let mut shared = event("evt_2", EventType::PullRequestMerged);
        shared.teams = vec!["platform".into(), "web".into()];
        shared.repo = Some("acme/web".into());
        // when / then
        assert!(!by_repo.matches(&api));
        assert!(by_repo.matches(&shared));
        assert!(
            by_team.matches(&api),
            "payments is one of the route's teams"
        );
        assert!(by_team.matches(&shared), "any of the event's teams will do");
        api.teams.clear();
        api.repo = None;
        assert!(!by_team.matches(&api), "an event of no team");
        assert!(!by_repo.matches(&api), "an event of no repo");
    }

    #[test]
    fn an_environment_route_skips_events_without_an_environment() {
        // given
        let production = Route {
            environments: vec!["production".into()],
            ..Route::new("prod")
        };
        // when / then
        assert!(!production.matches(&event("evt_1", EventType::IncidentOpened)));
        assert!(production.matches(&deployment(
            "evt_2",
            EventType::DeploymentFinished,
            "production"
        )));
    }

    #[test]
    fn a_minimum_severity_passes_that_level_and_above_only() {
        // given
        let high = Route {
            severity: Some(Severity::High),
            ..Route::new("pager")
        };
        // when / then
        for (severity, passes) in [
            (Some("sev1"), true),
            (Some("SEV-2"), true),
            (Some("critical"), true),
            (Some("high"), true),
            (Some("p2"), true),
            (Some("sev3"), false),
            (Some("medium"), false),
            (Some("low"), false),
            (Some("sev4"), false),
            (None, false),
        ] {
            assert_eq!(
                high.matches(&incident("evt_1", severity)),
                passes,
                "{severity:?}"
            );
        }
        assert!(
            Route::new("all").matches(&incident("evt_1", None)),
            "no minimum: severity does not matter"
        );
    }

    #[test]
    fn incident_and_alert_severities_map_onto_one_scale() {
        for (text, level) in [
            ("sev1", Severity::Critical),
            ("SEV 1", Severity::Critical),
            ("p1", Severity::Critical),
            ("P0", Severity::Critical),
            ("critical", Severity::Critical),
            ("sev2", Severity::High),
            ("P2", Severity::High),
            ("High", Severity::High),
            ("sev_3", Severity::Medium),
            ("p3", Severity::Medium),
            ("medium", Severity::Medium),
            ("moderate", Severity::Medium),
            ("sev4", Severity::Low),
            ("p5", Severity::Low),
            ("low", Severity::Low),
            ("info", Severity::Low),
            ("", Severity::Low),
        ] {
            assert_eq!(event_severity(text), level, "{text:?}");
        }
        assert_eq!(Severity::parse(" High "), Some(Severity::High));
        assert_eq!(Severity::parse("sev1"), None);
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
    }

    #[test]
    fn no_routes_send_nothing() {
        let routed = route(
            &NotificationConfig::default(),
            &[event("evt_1", EventType::SecurityAlert)],
        );
        assert!(routed.is_empty());
        assert_eq!(NotificationConfig::default().group_after, 3);
    }
}
