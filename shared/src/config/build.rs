//! From the file format to the validated config: every default filled, every name normalized,
//! every mistake a [`ConfigError`] naming its field.

use std::collections::BTreeMap;

use chrono::Duration;
use chrono_tz::Tz;

use super::goals::build_goals;
use super::raw::{Entries, RawConfig, RawIncidents, RawNotifications, RawRework, RawSeverity};
use super::tickets::build_tickets;
use super::validate::{
    eq_ignore_case, no_duplicates, non_empty, normalize_repos, normalize_severity, parse_window,
    strings, validate_channel, validate_email, validate_login, validate_name, Patterns,
};
use super::{ConfigError, DigestConfig, OrgConfig, Service, Team, PRODUCTION};
use crate::events::EventType;
use crate::notifications::{
    NotificationConfig, Route, Severity, DEFAULT_GROUP_AFTER, DEFAULT_REVIEW_WAIT_HOURS,
};

impl OrgConfig {
    pub(super) fn build(raw: RawConfig) -> Result<OrgConfig, ConfigError> {
        let org = build_org(raw.org)?;
        let timezone = build_timezone(raw.timezone)?;
        let environments = build_environments(raw.environments)?;
        let deploy_workflows =
            Patterns::new("deploy_workflows", raw.deploy_workflows.unwrap_or_default())?;
        let teams = build_teams(raw.teams)?;
        let services = build_services(raw.services)?;
        let bots = raw.bots.unwrap_or_default();
        for (i, login) in bots.iter().enumerate() {
            validate_login(&format!("bots[{i}]"), login, true)?;
        }
        let (incident_label, blame_window) = build_incidents(raw.incidents.unwrap_or_default())?;
        let Rework {
            labels: rework_labels,
            branches: rework_branches,
            revert_titles,
        } = build_rework(raw.rework.unwrap_or_default())?;
        let digest = raw.digest.unwrap_or_default();
        validate_digest(&digest)?;
        let (severity_by_urgency, severity_by_priority) =
            build_severity(raw.severity.unwrap_or_default())?;
        let goals = build_goals(raw.goals, teams.keys().map(String::as_str))?;
        let ticket_projects = build_tickets(raw.tickets, teams.keys().map(String::as_str))?;
        let notifications =
            build_notifications(raw.notifications.unwrap_or_default(), &environments, &teams)?;
        Ok(OrgConfig {
            org,
            timezone,
            environments,
            deploy_workflows,
            teams,
            services,
            bots,
            incident_label,
            blame_window,
            rework_labels,
            rework_branches,
            revert_titles,
            digest,
            severity_by_urgency,
            severity_by_priority,
            goals,
            ticket_projects,
            notifications,
        })
    }
}

/// The environments in promotion order, each a name and its globs. `production` is the DORA
/// environment and always present: appended last with its default globs when not written.
fn build_environments(
    raw: Option<Entries<Vec<String>>>,
) -> Result<Vec<(String, Patterns)>, ConfigError> {
    let mut environments: Vec<(String, Patterns)> = Vec::new();
    for (name, globs) in raw.map(|e| e.0).unwrap_or_default() {
        let field = format!("environments.{name}");
        let name = validate_name(&field, &name, "environment")?;
        if environments.iter().any(|(seen, _)| *seen == name) {
            return Err(ConfigError::new(field, "named twice"));
        }
        if globs.is_empty() {
            return Err(ConfigError::new(field, "needs at least one pattern"));
        }
        environments.push((name, Patterns::new(&field, globs)?));
    }
    if !environments.iter().any(|(name, _)| name == PRODUCTION) {
        let defaults = strings(&["production", "prod", "prd"]);
        environments.push((
            PRODUCTION.to_string(),
            Patterns::new("environments.production", defaults)?,
        ));
    }
    Ok(environments)
}

fn build_org(org: Option<String>) -> Result<String, ConfigError> {
    let org = org.ok_or_else(|| ConfigError::new("org", "required"))?;
    if org.trim().is_empty() {
        return Err(ConfigError::new("org", "must not be empty"));
    }
    if org
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '#')
    {
        // '#' separates the parts of table keys.
        return Err(ConfigError::new(
            "org",
            "must not contain whitespace, control characters or '#'",
        ));
    }
    Ok(org)
}

fn build_timezone(timezone: Option<String>) -> Result<Tz, ConfigError> {
    match timezone {
        None => Ok(Tz::UTC),
        Some(name) => name.trim().parse::<Tz>().map_err(|_| {
            ConfigError::new(
                "timezone",
                format!("unknown time zone {name:?}; use an IANA name like Europe/Berlin"),
            )
        }),
    }
}

fn build_teams(teams: Option<Entries<Team>>) -> Result<BTreeMap<String, Team>, ConfigError> {
    let mut built = BTreeMap::new();
    for (name, mut team) in teams.map(|e| e.0).unwrap_or_default() {
        let field = format!("teams.{name}");
        let key = validate_name(&field, &name, "team")?;
        for (i, login) in team.members.iter().enumerate() {
            validate_login(&format!("{field}.members[{i}]"), login, false)?;
        }
        no_duplicates(&format!("{field}.members"), &key, "team", &team.members)?;
        normalize_repos(&format!("{field}.repos"), &mut team.repos)?;
        no_duplicates(&format!("{field}.repos"), &key, "team", &team.repos)?;
        if built.insert(key, team).is_some() {
            return Err(ConfigError::new(
                field,
                "duplicate team (names are case-insensitive)",
            ));
        }
    }
    Ok(built)
}

fn build_services(
    services: Option<Entries<Service>>,
) -> Result<BTreeMap<String, Service>, ConfigError> {
    let mut built: BTreeMap<String, Service> = BTreeMap::new();
    let mut pagerduty_ids: Vec<(String, String)> = Vec::new();
    for (name, mut service) in services.map(|e| e.0).unwrap_or_default() {
        let field = format!("services.{name}");
        let key = validate_name(&field, &name, "service")?;
        normalize_repos(&format!("{field}.repos"), &mut service.repos)?;
        no_duplicates(&format!("{field}.repos"), &key, "service", &service.repos)?;
        for (i, id) in service.pagerduty.iter().enumerate() {
            let f = format!("{field}.pagerduty[{i}]");
            if id.trim().is_empty() || id.chars().any(char::is_whitespace) {
                return Err(ConfigError::new(
                    f,
                    "a PagerDuty service id has no spaces, e.g. PA2P440",
                ));
            }
            if let Some((_, other)) = pagerduty_ids.iter().find(|(p, _)| eq_ignore_case(p, id)) {
                return Err(ConfigError::new(
                    f,
                    format!("PagerDuty id {id} is already mapped to service {other}"),
                ));
            }
            pagerduty_ids.push((id.clone(), key.clone()));
        }
        if built.insert(key, service).is_some() {
            return Err(ConfigError::new(
                field,
                "duplicate service (names are case-insensitive)",
            ));
        }
    }
    Ok(built)
}

fn build_incidents(incidents: RawIncidents) -> Result<(String, Option<Duration>), ConfigError> {
    let label = incidents
        .github_label
        .unwrap_or_else(|| "incident".to_string());
    non_empty("incidents.github_label", &label)?;
    let blame_window = match incidents.blame_window {
        None => Some(Duration::days(7)),
        Some(text) => parse_window("incidents.blame_window", &text)?,
    };
    Ok((label, blame_window))
}

struct Rework {
    labels: Vec<String>,
    branches: Patterns,
    revert_titles: Patterns,
}

fn build_rework(rework: RawRework) -> Result<Rework, ConfigError> {
    let labels = rework.labels.unwrap_or_else(|| strings(&["hotfix", "bug"]));
    for (i, label) in labels.iter().enumerate() {
        non_empty(&format!("rework.labels[{i}]"), label)?;
    }
    let branches = Patterns::new(
        "rework.branches",
        rework.branches.unwrap_or_else(|| strings(&["hotfix/*"])),
    )?;
    let revert_titles = Patterns::new(
        "rework.revert_titles",
        rework
            .revert_titles
            .unwrap_or_else(|| strings(&["Revert \"*\""])),
    )?;
    Ok(Rework {
        labels,
        branches,
        revert_titles,
    })
}

fn validate_digest(digest: &DigestConfig) -> Result<(), ConfigError> {
    if let Some(email) = &digest.email {
        validate_email("digest.email.from", &email.from)?;
        if email.to.is_empty() {
            return Err(ConfigError::new(
                "digest.email.to",
                "needs at least one address",
            ));
        }
        for (i, to) in email.to.iter().enumerate() {
            validate_email(&format!("digest.email.to[{i}]"), to)?;
        }
    }
    if let Some(slack) = &digest.slack {
        non_empty("digest.slack.channel", &slack.channel)?;
    }
    Ok(())
}

type SeverityMap = BTreeMap<String, String>;

/// The urgency and the priority mappings, each the default unless configured.
fn build_severity(severity: RawSeverity) -> Result<(SeverityMap, SeverityMap), ConfigError> {
    let by_urgency = severity_map(
        "severity.pagerduty_urgency",
        severity.pagerduty_urgency,
        &[("high", "sev2"), ("low", "sev4")],
    )?;
    let by_priority = severity_map(
        "severity.pagerduty_priority",
        severity.pagerduty_priority,
        &[
            ("P1", "sev1"),
            ("P2", "sev2"),
            ("P3", "sev3"),
            ("P4", "sev4"),
            ("P5", "sev4"),
        ],
    )?;
    Ok((by_urgency, by_priority))
}

/// A configured mapping replaces the default one as a whole, so a config shows everything
/// that maps. Keys keep their spelling and must be unique ignoring case.
fn severity_map(
    field: &str,
    configured: Option<Entries<String>>,
    default: &[(&str, &str)],
) -> Result<SeverityMap, ConfigError> {
    let Some(Entries(entries)) = configured else {
        return Ok(default
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect());
    };
    let mut map = BTreeMap::new();
    for (key, level) in entries {
        let f = format!("{field}.{key}");
        non_empty(&f, &key)?;
        let level = normalize_severity(&level)
            .ok_or_else(|| ConfigError::new(&f, format!("{level:?} is not one of sev1…sev4")))?;
        if map.keys().any(|k: &String| eq_ignore_case(k, &key)) {
            return Err(ConfigError::new(
                f,
                "duplicate key (keys are case-insensitive)",
            ));
        }
        map.insert(key, level);
    }
    Ok(map)
}

/// Most events a channel gets one by one before they are grouped: Slack takes about one
/// message per second from a webhook, so a longer burst of single messages is throttled.
pub(super) const MAX_GROUP_AFTER: u64 = 20;
/// The longest `notifications.review_wait_hours`: a month.
pub(super) const MAX_REVIEW_WAIT_HOURS: u64 = 720;

/// `notifications:`: each route's channel, event types, environments, repos, teams and minimum
/// severity checked (environments and teams must be configured ones: an event only carries
/// those, so any other name would never match), and `group_after`.
fn build_notifications(
    raw: RawNotifications,
    environments: &[(String, Patterns)],
    teams: &BTreeMap<String, Team>,
) -> Result<NotificationConfig, ConfigError> {
    let mut routes = Vec::new();
    for (i, raw_route) in raw.routes.unwrap_or_default().into_iter().enumerate() {
        let field = format!("notifications.routes[{i}]");
        let channel = raw_route
            .channel
            .ok_or_else(|| ConfigError::new(format!("{field}.channel"), "required"))?;
        validate_channel(&format!("{field}.channel"), &channel)?;
        let mut events = Vec::new();
        for (j, name) in raw_route.events.unwrap_or_default().iter().enumerate() {
            let kind = EventType::parse(name.trim()).ok_or_else(|| {
                let known: Vec<&str> = EventType::ALL.iter().map(|k| k.as_str()).collect();
                ConfigError::new(
                    format!("{field}.events[{j}]"),
                    format!("unknown event type {name:?}; known: {}", known.join(", ")),
                )
            })?;
            events.push(kind);
        }
        let mut route_environments = Vec::new();
        for (j, name) in raw_route
            .environments
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let f = format!("{field}.environments[{j}]");
            let name = name.trim().to_ascii_lowercase();
            if !environments.iter().any(|(known, _)| *known == name) {
                let known: Vec<&str> = environments.iter().map(|(n, _)| n.as_str()).collect();
                return Err(ConfigError::new(
                    f,
                    format!(
                        "unknown environment {name:?}; environments are {}",
                        known.join(", ")
                    ),
                ));
            }
            route_environments.push(name);
        }
        let mut repos = raw_route.repos.unwrap_or_default();
        normalize_repos(&format!("{field}.repos"), &mut repos)?;
        let mut route_teams = Vec::new();
        for (j, name) in raw_route.teams.unwrap_or_default().iter().enumerate() {
            let name = name.trim().to_ascii_lowercase();
            if !teams.contains_key(&name) {
                let known = if teams.is_empty() {
                    "no teams are configured".to_string()
                } else {
                    let names: Vec<&str> = teams.keys().map(String::as_str).collect();
                    format!("teams are {}", names.join(", "))
                };
                return Err(ConfigError::new(
                    format!("{field}.teams[{j}]"),
                    format!("unknown team {name:?}; use a team of `teams:` ({known})"),
                ));
            }
            route_teams.push(name);
        }
        let severity = match raw_route.severity {
            None => None,
            Some(text) => Some(Severity::parse(&text).ok_or_else(|| {
                let names: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
                ConfigError::new(
                    format!("{field}.severity"),
                    format!("{text:?} is not one of {}", names.join(", ")),
                )
            })?),
        };
        routes.push(Route {
            channel,
            events,
            environments: route_environments,
            repos,
            teams: route_teams,
            severity,
        });
    }
    let group_after = raw.group_after.unwrap_or(DEFAULT_GROUP_AFTER as u64);
    if !(1..=MAX_GROUP_AFTER).contains(&group_after) {
        return Err(ConfigError::new(
            "notifications.group_after",
            format!("must be from 1 to {MAX_GROUP_AFTER}"),
        ));
    }
    let review_wait_hours = raw.review_wait_hours.unwrap_or(DEFAULT_REVIEW_WAIT_HOURS);
    if !(1..=MAX_REVIEW_WAIT_HOURS).contains(&review_wait_hours) {
        return Err(ConfigError::new(
            "notifications.review_wait_hours",
            format!("must be from 1 to {MAX_REVIEW_WAIT_HOURS} (hours)"),
        ));
    }
    Ok(NotificationConfig {
        routes,
        group_after: group_after as usize,
        review_wait_hours,
    })
}
