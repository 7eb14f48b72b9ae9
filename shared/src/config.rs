//! Org configuration (CONFIG.md).
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

use std::collections::BTreeMap;
use std::fmt;

use chrono::Duration;
use chrono_tz::Tz;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A config rejected at load time. `field` is the dotted path of the offending value (`config`
/// when the document as a whole is unreadable), so API clients can point at it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The validated org configuration. Pure data: every method answers from the config alone, so
/// the same config gives the same metrics on every Lambda and in the dev server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawConfig", into = "RawConfig")]
pub struct OrgConfig {
    org: String,
    timezone: Tz,
    production: Patterns,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackDigest {
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
    /// gives an equal config.
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
        self.production.is_match(environment)
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

    fn build(raw: RawConfig) -> Result<OrgConfig, ConfigError> {
        let org = match raw.org {
            None => return Err(ConfigError::new("org", "required")),
            Some(org) => org,
        };
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

        let timezone = match raw.timezone {
            None => Tz::UTC,
            Some(name) => name.trim().parse::<Tz>().map_err(|_| {
                ConfigError::new(
                    "timezone",
                    format!("unknown time zone {name:?}; use an IANA name like Europe/Berlin"),
                )
            })?,
        };

        let production = Patterns::new(
            "environments.production",
            raw.environments
                .and_then(|e| e.production)
                .unwrap_or_else(|| strings(&["production", "prod", "prd"])),
        )?;
        let deploy_workflows =
            Patterns::new("deploy_workflows", raw.deploy_workflows.unwrap_or_default())?;

        let mut teams = BTreeMap::new();
        for (name, mut team) in raw.teams.map(|e| e.0).unwrap_or_default() {
            let field = format!("teams.{name}");
            let key = validate_name(&field, &name, "team")?;
            for (i, login) in team.members.iter().enumerate() {
                validate_login(&format!("{field}.members[{i}]"), login, false)?;
            }
            no_duplicates(&format!("{field}.members"), &key, "team", &team.members)?;
            normalize_repos(&format!("{field}.repos"), &mut team.repos)?;
            no_duplicates(&format!("{field}.repos"), &key, "team", &team.repos)?;
            if teams.insert(key, team).is_some() {
                return Err(ConfigError::new(
                    field,
                    "duplicate team (names are case-insensitive)",
                ));
            }
        }

        let mut services: BTreeMap<String, Service> = BTreeMap::new();
        let mut pagerduty_ids: Vec<(String, String)> = Vec::new();
        for (name, mut service) in raw.services.map(|e| e.0).unwrap_or_default() {
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
                if let Some((_, other)) = pagerduty_ids.iter().find(|(p, _)| eq_ignore_case(p, id))
                {
                    return Err(ConfigError::new(
                        f,
                        format!("PagerDuty id {id} is already mapped to service {other}"),
                    ));
                }
                pagerduty_ids.push((id.clone(), key.clone()));
            }
            if services.insert(key, service).is_some() {
                return Err(ConfigError::new(
                    field,
                    "duplicate service (names are case-insensitive)",
                ));
            }
        }

        let bots = raw.bots.unwrap_or_default();
        for (i, login) in bots.iter().enumerate() {
            validate_login(&format!("bots[{i}]"), login, true)?;
        }

        let incidents = raw.incidents.unwrap_or_default();
        let incident_label = incidents
            .github_label
            .unwrap_or_else(|| "incident".to_string());
        non_empty("incidents.github_label", &incident_label)?;
        let blame_window = match incidents.blame_window {
            None => Some(Duration::days(7)),
            Some(text) => {
                parse_window(&text).map_err(|m| ConfigError::new("incidents.blame_window", m))?
            }
        };

        let rework = raw.rework.unwrap_or_default();
        let rework_labels = rework.labels.unwrap_or_else(|| strings(&["hotfix", "bug"]));
        for (i, label) in rework_labels.iter().enumerate() {
            non_empty(&format!("rework.labels[{i}]"), label)?;
        }
        let rework_branches = Patterns::new(
            "rework.branches",
            rework.branches.unwrap_or_else(|| strings(&["hotfix/*"])),
        )?;
        let revert_titles = Patterns::new(
            "rework.revert_titles",
            rework
                .revert_titles
                .unwrap_or_else(|| strings(&["Revert \"*\""])),
        )?;

        let digest = raw.digest.unwrap_or_default();
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

        let severity = raw.severity.unwrap_or_default();
        let severity_by_urgency = severity_map(
            "severity.pagerduty_urgency",
            severity.pagerduty_urgency,
            &[("high", "sev2"), ("low", "sev4")],
        )?;
        let severity_by_priority = severity_map(
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

        Ok(OrgConfig {
            org,
            timezone,
            production,
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
        })
    }

    fn to_raw(&self) -> RawConfig {
        RawConfig {
            org: Some(self.org.clone()),
            timezone: Some(self.timezone.name().to_string()),
            environments: Some(RawEnvironments {
                production: Some(self.production.sources.clone()),
            }),
            deploy_workflows: Some(self.deploy_workflows.sources.clone()),
            teams: Some(Entries(
                self.teams
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )),
            services: Some(Entries(
                self.services
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )),
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
                pagerduty_urgency: Some(Entries(
                    self.severity_by_urgency
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )),
                pagerduty_priority: Some(Entries(
                    self.severity_by_priority
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )),
            }),
        }
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

// ---- the file format ---------------------------------------------------------------------------

/// The schema as written by people: every field optional (defaults are applied in `build`, so
/// that "absent" and "explicit default" are told apart only there), unknown fields rejected.
/// An explicit `null` counts as absent; unlimited blame is spelled `none`.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    environments: Option<RawEnvironments>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deploy_workflows: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    teams: Option<Entries<Team>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    services: Option<Entries<Service>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bots: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    incidents: Option<RawIncidents>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rework: Option<RawRework>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    digest: Option<DigestConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    severity: Option<RawSeverity>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironments {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    production: Option<Vec<String>>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncidents {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    github_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blame_window: Option<String>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRework {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    labels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    branches: Option<Vec<String>>,
    /// Not in CONFIG.md's example: the revert detection of METRICS.md ("configurable").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revert_titles: Option<Vec<String>>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeverity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pagerduty_urgency: Option<Entries<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pagerduty_priority: Option<Entries<String>>,
}

/// A mapping read in document order with duplicates kept: a `BTreeMap` would silently keep the
/// last of two `payments:` teams, and a config mistake must be reported, not resolved.
struct Entries<T>(Vec<(String, T)>);

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

impl<T: Serialize> Serialize for Entries<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Compiled case-insensitive globs that remember their source text: `GlobSet` has no
/// `PartialEq` and its `Debug` is unreadable, and two configs are the same when their patterns
/// are, so the sources stand for the set.
#[derive(Clone)]
struct Patterns {
    sources: Vec<String>,
    set: GlobSet,
}

impl Patterns {
    fn new(field: &str, sources: Vec<String>) -> Result<Patterns, ConfigError> {
        let mut builder = GlobSetBuilder::new();
        for (i, source) in sources.iter().enumerate() {
            let f = format!("{field}[{i}]");
            if source.trim().is_empty() {
                return Err(ConfigError::new(f, "empty pattern"));
            }
            let glob = GlobBuilder::new(source)
                .case_insensitive(true)
                .build()
                .map_err(|e| ConfigError::new(&f, format!("bad pattern: {}", e.kind())))?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| ConfigError::new(field, format!("bad patterns: {e}")))?;
        Ok(Patterns { sources, set })
    }

    fn is_match(&self, text: &str) -> bool {
        self.set.is_match(text)
    }
}

impl PartialEq for Patterns {
    fn eq(&self, other: &Patterns) -> bool {
        self.sources == other.sources
    }
}

impl fmt::Debug for Patterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.sources).finish()
    }
}

// ---- validation helpers -----------------------------------------------------------------------

fn path_error<E: fmt::Display>(e: &serde_path_to_error::Error<E>) -> ConfigError {
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

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn non_empty(field: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// A team listing `alice` and `Alice` (or `acme/api` twice) would read that author's or repo's
/// rollups twice and count everything in them double: a mistake to report, not to resolve.
/// Logins compare case-insensitively (as GitHub's do); repos are already lower-cased.
fn no_duplicates(
    field: &str,
    owner: &str,
    what: &str,
    items: &[String],
) -> Result<(), ConfigError> {
    for (i, item) in items.iter().enumerate() {
        if let Some(first) = items[..i].iter().position(|x| eq_ignore_case(x, item)) {
            return Err(ConfigError::new(
                format!("{field}[{i}]"),
                format!(
                    "{item:?} is listed twice in {what} {owner} (also at [{first}]; \
                     names are case-insensitive)"
                ),
            ));
        }
    }
    Ok(())
}

/// Longest team or service name, and longest owner or name part of a repo, in bytes. They
/// become rollup keys (`ROLLUP#service:<name>`, `ROLLUP#repo:<owner/name>`), which DynamoDB
/// bounds at 2048 bytes; GitHub's own limits are 39 (owner) and 100 (repo name).
const MAX_NAME_BYTES: usize = 100;

/// Team and service names appear in API scopes (`team:payments`) and table keys, so they are
/// restricted to `[a-z0-9][a-z0-9_-]*` of at most [`MAX_NAME_BYTES`]; upper case is accepted
/// and lower-cased.
fn validate_name(field: &str, name: &str, what: &str) -> Result<String, ConfigError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(ConfigError::new(
            field,
            format!("a {what} name is at most {MAX_NAME_BYTES} characters"),
        ));
    }
    let lowered = name.to_ascii_lowercase();
    let mut chars = lowered.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(lowered)
    } else {
        Err(ConfigError::new(
            field,
            format!(
                "a {what} name is letters, digits, '_' and '-', starting with a letter or digit"
            ),
        ))
    }
}

/// GitHub logins: letters, digits and hyphens (underscores for Enterprise Managed Users), not
/// starting with a hyphen. Bot logins may carry the `[bot]` suffix.
fn validate_login(field: &str, login: &str, allow_bot_suffix: bool) -> Result<(), ConfigError> {
    let base = if allow_bot_suffix && ends_with_ignore_case(login, "[bot]") {
        &login[..login.len() - "[bot]".len()]
    } else {
        login
    };
    let ok = !base.is_empty()
        && base.len() <= 100
        && !base.starts_with('-')
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("{login:?} is not a GitHub login"),
        ))
    }
}

/// Repos are keys everywhere (`owner/name`, lower-cased at ingest), so config repos are
/// lower-cased too or they would never match.
fn normalize_repos(field: &str, repos: &mut [String]) -> Result<(), ConfigError> {
    for (i, repo) in repos.iter_mut().enumerate() {
        let valid_part = |p: &str| {
            !p.is_empty()
                && p.len() <= MAX_NAME_BYTES
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        };
        match repo.split_once('/') {
            Some((owner, name)) if valid_part(owner) && valid_part(name) => {
                *repo = repo.to_ascii_lowercase();
            }
            _ => {
                return Err(ConfigError::new(
                    format!("{field}[{i}]"),
                    format!(
                        "{repo:?} is not a repository; expected owner/name, each part at most \
                         {MAX_NAME_BYTES} characters"
                    ),
                ))
            }
        }
    }
    Ok(())
}

fn validate_email(field: &str, address: &str) -> Result<(), ConfigError> {
    let ok = address
        .rsplit_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !address.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("{address:?} is not an email address"),
        ))
    }
}

/// Longest accepted blame window; a longer one is almost surely a typo (`70d` for `7d` is
/// still accepted, `7000d` is not).
const MAX_WINDOW_DAYS: i64 = 3650;

/// `none` (unlimited) or a positive whole number with a unit: `s`, `m`, `h`, `d`, `w`.
fn parse_window(text: &str) -> Result<Option<Duration>, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "none" {
        return Ok(None);
    }
    let bad = || format!("{text:?} is not a duration; use e.g. 7d, 12h, 30m, or none");
    let unit_at = t.len().checked_sub(1).ok_or_else(bad)?;
    let (digits, unit) = t.split_at(unit_at);
    let seconds_per_unit: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err("must be positive; use none for an unlimited window".to_string());
    }
    match n.checked_mul(seconds_per_unit) {
        Some(s) if s <= MAX_WINDOW_DAYS * 86_400 => Ok(Some(Duration::seconds(s))),
        _ => Err(format!(
            "at most {MAX_WINDOW_DAYS}d; use none for unlimited"
        )),
    }
}

fn format_window(window: Option<Duration>) -> String {
    let Some(d) = window else {
        return "none".to_string();
    };
    let s = d.num_seconds();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s % size == 0 {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}

/// Reads a `sevN` level as people write it: `sev1`, `SEV1`, `Sev-1`, `sev 1`, `1`.
fn normalize_severity(text: &str) -> Option<String> {
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .collect::<String>()
        .to_ascii_lowercase();
    let digit = compact.strip_prefix("sev").unwrap_or(&compact);
    matches!(digit, "1" | "2" | "3" | "4").then(|| format!("sev{digit}"))
}

/// A configured mapping replaces the default one as a whole, so a config shows everything
/// that maps. Keys keep their spelling and must be unique ignoring case.
fn severity_map(
    field: &str,
    configured: Option<Entries<String>>,
    default: &[(&str, &str)],
) -> Result<BTreeMap<String, String>, ConfigError> {
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

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.is_char_boundary(text.len() - suffix.len())
        && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = r##"
org: acme
timezone: Europe/Berlin          # week boundaries and the digest's Monday 09:00
environments:
  production: ["production", "prod", "prd"]   # glob patterns, case-insensitive
deploy_workflows: ["Deploy*", "release"]      # GitHub Actions workflow names that are deployments
teams:
  payments:
    members: [alice, bob, carol]
    repos: [acme/payments-api, acme/ledger]
  platform:
    members: [dave]
    repos: [acme/infra]
services:                        # a PagerDuty service maps by its name, or by the ids listed
  checkout: { repos: [acme/payments-api], pagerduty: [PA2P440] }
bots: ["renovate-bot"]            # in addition to type Bot and logins ending in [bot]
incidents:
  github_label: incident
  blame_window: 7d
rework:
  labels: [hotfix, bug]
  branches: ["hotfix/*"]
digest:
  email: { from: metrics@acme.example, to: [vp-eng@acme.example] }
  slack: { channel: "#engineering-metrics" }   # webhook URL or bot token is a secret, not config
"##;

    fn example() -> OrgConfig {
        OrgConfig::from_yaml(EXAMPLE).expect("the CONFIG.md example parses")
    }

    fn err(text: &str) -> ConfigError {
        OrgConfig::from_yaml(text).expect_err("config should be rejected")
    }

    fn labels(items: &[&str]) -> Vec<String> {
        strings(items)
    }

    #[test]
    fn the_documented_example_parses() {
        let c = example();
        assert_eq!(c.org(), "acme");
        assert_eq!(c.timezone(), chrono_tz::Europe::Berlin);
        let names: Vec<&str> = c.teams().map(|(n, _)| n).collect();
        assert_eq!(names, ["payments", "platform"]);
        let payments = c.team("payments").expect("payments team");
        assert_eq!(payments.members, labels(&["alice", "bob", "carol"]));
        assert_eq!(
            payments.repos,
            labels(&["acme/payments-api", "acme/ledger"])
        );
        assert_eq!(c.blame_window(), Some(Duration::days(7)));
        let digest = c.digest();
        let email = digest.email.as_ref().expect("email digest");
        assert_eq!(email.from, "metrics@acme.example");
        assert_eq!(email.to, labels(&["vp-eng@acme.example"]));
        assert_eq!(
            digest.slack.as_ref().map(|s| s.channel.as_str()),
            Some("#engineering-metrics")
        );
    }

    #[test]
    fn defaults_apply_to_absent_fields() {
        let c = OrgConfig::from_yaml("org: solo").expect("minimal config");
        assert_eq!(c.org(), "solo");
        assert_eq!(c.timezone(), Tz::UTC);
        for env in ["production", "Prod", "PRD"] {
            assert!(c.is_production(env), "{env}");
        }
        assert!(!c.is_production("staging"));
        assert!(!c.is_production("production-eu"));
        assert!(!c.is_deploy_workflow("Deploy"));
        assert!(!c.is_bot("renovate-bot", false));
        assert_eq!(c.incident_label(), "incident");
        assert_eq!(c.blame_window(), Some(Duration::days(7)));
        assert!(c.is_rework_label("hotfix") && c.is_rework_label("Bug"));
        assert!(c.is_rework_branch("hotfix/login"));
        assert!(c.is_revert_title("Revert \"Add ledger\""));
        assert_eq!(c.teams().count(), 0);
        assert_eq!(c.digest(), &DigestConfig::default());
        assert_eq!(
            c.severity_for(None, Some("high"), None).as_deref(),
            Some("sev2")
        );
        assert_eq!(
            c.severity_for(None, None, Some("P3")).as_deref(),
            Some("sev3")
        );
        // Explicit nulls are absent fields.
        let nulls =
            OrgConfig::from_yaml("org: solo\ntimezone: ~\nincidents: { blame_window: null }")
                .expect("nulls are defaults");
        assert_eq!(nulls, c);
    }

    #[test]
    fn default_config_is_the_defaults_with_org_default() {
        let d = OrgConfig::default();
        assert_eq!(d.org(), "default");
        let parsed = OrgConfig::from_yaml("org: default").expect("minimal config");
        assert_eq!(d, parsed);
    }

    #[test]
    fn json_is_accepted_and_round_trips() {
        let c = example();
        let json = c.to_json();
        assert_eq!(json["timezone"], "Europe/Berlin");
        assert_eq!(json["incidents"]["blame_window"], "7d");
        assert_eq!(json["rework"]["revert_titles"][0], "Revert \"*\"");
        let compact = serde_json::to_string(&json).expect("serialize");
        assert_eq!(OrgConfig::from_yaml(&compact), Ok(c.clone()));
        // Tab-indented JSON is not valid YAML, but it is valid JSON.
        let tabbed = serde_json::to_string_pretty(&json)
            .expect("serialize")
            .replace("  ", "\t");
        assert_eq!(OrgConfig::from_yaml(&tabbed), Ok(c.clone()));
        // Serde derive goes through the same validation.
        let back: OrgConfig = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, c);
        // A YAML flow mapping that is not JSON still parses as YAML.
        let flow = OrgConfig::from_yaml("{org: acme, timezone: Europe/Berlin}").expect("flow");
        assert_eq!(flow.timezone(), chrono_tz::Europe::Berlin);
    }

    #[test]
    fn round_trip_keeps_unusual_values() {
        let c = OrgConfig::from_yaml(
            "org: acme\nincidents: { blame_window: none }\nrework: { labels: [], branches: [] }\n\
             severity: { pagerduty_urgency: { High: SEV-1 } }\nbots: ['dependabot[bot]']",
        )
        .expect("valid");
        assert_eq!(c.blame_window(), None);
        let text = serde_json::to_string(&c).expect("serialize");
        assert_eq!(OrgConfig::from_yaml(&text), Ok(c));
        for (window, expected) in [
            ("90m", "90m"),
            ("36h", "36h"),
            ("2w", "14d"),
            ("45s", "45s"),
        ] {
            let c =
                OrgConfig::from_yaml(&format!("org: a\nincidents: {{ blame_window: {window} }}"))
                    .expect("valid window");
            assert_eq!(c.to_json()["incidents"]["blame_window"], expected);
            let again = OrgConfig::from_yaml(&c.to_json().to_string()).expect("round trip");
            assert_eq!(again, c);
        }
    }

    #[test]
    fn errors_name_the_field() {
        let cases: &[(&str, &str)] = &[
            ("timezone: UTC", "org"),
            ("org: ''", "org"),
            ("org: acme\ncolour: blue", "colour"),
            (
                "org: acme\nteams:\n  payments:\n    owner: alice",
                "teams.payments.owner",
            ),
            ("org: acme\nincidents: { label: x }", "incidents.label"),
            (
                "org: acme\ndigest: { email: { from: a@b, to: [c@d], cc: [] } }",
                "digest.email.cc",
            ),
            ("org: acme\ntimezone: Mars/Olympus_Mons", "timezone"),
            ("org: acme\ntimezone: europe/berlin", "timezone"),
            (
                "org: acme\nenvironments: { production: [prod, 'prod[uction'] }",
                "environments.production[1]",
            ),
            (
                "org: acme\nenvironments: { staging: [stg] }",
                "environments.staging",
            ),
            (
                "org: acme\ndeploy_workflows: ['{deploy']",
                "deploy_workflows[0]",
            ),
            (
                "org: acme\nrework: { branches: ['hotfix/[*'] }",
                "rework.branches[0]",
            ),
            (
                "org: acme\nrework: { revert_titles: [''] }",
                "rework.revert_titles[0]",
            ),
            (
                "org: acme\nincidents: { blame_window: 7 days }",
                "incidents.blame_window",
            ),
            (
                "org: acme\nincidents: { blame_window: 0d }",
                "incidents.blame_window",
            ),
            (
                "org: acme\nincidents: { blame_window: 7 }",
                "incidents.blame_window",
            ),
            (
                "org: acme\nincidents: { blame_window: 99999d }",
                "incidents.blame_window",
            ),
            (
                "org: acme\nincidents: { github_label: ' ' }",
                "incidents.github_label",
            ),
            (
                "org: acme\nteams: { payments: { repos: [acme/a, payments-api] } }",
                "teams.payments.repos[1]",
            ),
            (
                "org: acme\nteams: { payments: { repos: [a/b/c] } }",
                "teams.payments.repos[0]",
            ),
            (
                "org: acme\nteams: { payments: { members: [ok, 'not a login'] } }",
                "teams.payments.members[1]",
            ),
            (
                "org: acme\nteams: { payments: { members: alice } }",
                "teams.payments.members",
            ),
            ("org: acme\nteams: { 'pay ments': {} }", "teams.pay ments"),
            (
                "org: acme\nteams: { Payments: {}, payments: {} }",
                "teams.payments",
            ),
            (
                "org: acme\nteams: { payments: {}, payments: {} }",
                "teams.payments",
            ),
            (
                "org: acme\nservices: { checkout: { repos: [nope] } }",
                "services.checkout.repos[0]",
            ),
            (
                "org: acme\nservices: { a: { pagerduty: [P1] }, b: { pagerduty: [p1] } }",
                "services.b.pagerduty[0]",
            ),
            ("org: acme\nservices: { _x: {} }", "services._x"),
            (
                "org: acme\nteams: { payments: { members: [Alice, bob, alice] } }",
                "teams.payments.members[2]",
            ),
            (
                "org: acme\nteams: { payments: { repos: [Acme/API, acme/ledger, acme/api] } }",
                "teams.payments.repos[2]",
            ),
            (
                "org: acme\nservices: { checkout: { repos: [acme/api, ACME/Api] } }",
                "services.checkout.repos[1]",
            ),
            ("org: acme\nbots: [ok, '-bad']", "bots[1]"),
            (
                "org: acme\ndigest: { email: { from: nobody, to: [a@b] } }",
                "digest.email.from",
            ),
            (
                "org: acme\ndigest: { email: { from: a@b, to: [a@b, c] } }",
                "digest.email.to[1]",
            ),
            (
                "org: acme\ndigest: { email: { from: a@b, to: [] } }",
                "digest.email.to",
            ),
            (
                "org: acme\ndigest: { slack: { channel: '' } }",
                "digest.slack.channel",
            ),
            (
                "org: acme\nseverity: { pagerduty_priority: { P1: critical } }",
                "severity.pagerduty_priority.P1",
            ),
            (
                "org: acme\nseverity: { pagerduty_urgency: { high: sev2, HIGH: sev1 } }",
                "severity.pagerduty_urgency.HIGH",
            ),
            (
                "org: acme\nseverity: { pagerduty_impact: {} }",
                "severity.pagerduty_impact",
            ),
            ("org: [acme]", "org"),
            ("org: a\norg: b", "org"),
            (
                "org: a\nincidents: { github_label: a, github_label: b }",
                "incidents.github_label",
            ),
            ("org: a\nteams: { payments: [] }", "teams.payments"),
            (
                r#"{"org": "acme", "teams": {"payments": {"repos": ["acme/a", "x"]}}}"#,
                "teams.payments.repos[1]",
            ),
            (r#"{"org": "acme", "extra": 1}"#, "extra"),
            ("org: acme\n  bad: indentation", "config"),
            ("- just\n- a list", "config"),
        ];
        for (text, field) in cases {
            let e = err(text);
            assert_eq!(&e.field, field, "{text:?} gave {e}");
            assert!(!e.message.is_empty());
            assert_eq!(e.to_string(), format!("{}: {}", e.field, e.message));
        }
    }

    #[test]
    fn a_team_listing_a_member_or_repo_twice_is_an_error_naming_both() {
        let e = err("org: acme\nteams: { Payments: { members: [Alice, bob, alice] } }");
        assert_eq!(e.field, "teams.Payments.members[2]");
        assert!(e.message.contains("\"alice\""), "{e}");
        assert!(e.message.contains("team payments"), "{e}");
        let e = err("org: acme\nteams: { payments: { repos: [Org/Repo, org/repo] } }");
        assert_eq!(e.field, "teams.payments.repos[1]");
        assert!(
            e.message
                .contains("\"org/repo\" is listed twice in team payments"),
            "{e}"
        );
        // One repo in two teams is fine: teams may overlap.
        OrgConfig::from_yaml(
            "org: acme\nteams: { a: { repos: [acme/api] }, b: { repos: [acme/api] } }",
        )
        .expect("a repo shared by two teams");
    }

    #[test]
    fn names_and_repo_parts_are_bounded() {
        let long = "a".repeat(MAX_NAME_BYTES + 1);
        let fine = "a".repeat(MAX_NAME_BYTES);
        assert_eq!(
            err(&format!("org: acme\nservices: {{ {long}: {{}} }}")).field,
            format!("services.{long}")
        );
        assert_eq!(
            err(&format!(
                "org: acme\nteams: {{ t: {{ repos: [acme/{long}] }} }}"
            ))
            .field,
            "teams.t.repos[0]"
        );
        OrgConfig::from_yaml(&format!(
            "org: acme\nteams: {{ {fine}: {{ repos: [{fine}/{fine}] }} }}"
        ))
        .expect("names of the maximum length");
    }

    #[test]
    fn unknown_field_messages_are_not_doubled() {
        let e = err("org: acme\nteams:\n  payments:\n    owner: alice");
        assert!(e.message.contains("unknown field `owner`"), "{e}");
        assert!(!e.message.starts_with("teams."), "{e}");
    }

    #[test]
    fn names_and_repos_are_lower_cased() {
        let c = OrgConfig::from_yaml(
            "org: acme\nteams: { Payments: { members: [Alice], repos: [Acme/Payments-API] } }\n\
             services: { Checkout: { repos: [ACME/Payments-API] } }",
        )
        .expect("valid");
        let team = c.team("PAYMENTS").expect("case-insensitive team lookup");
        assert_eq!(team.repos, labels(&["acme/payments-api"]));
        assert_eq!(team.members, labels(&["Alice"]));
        assert_eq!(c.teams().map(|(n, _)| n).collect::<Vec<_>>(), ["payments"]);
        assert_eq!(c.services_of_repo("acme/payments-api"), ["checkout"]);
        assert_eq!(c.services_of_repo("Acme/Payments-Api"), ["checkout"]);
    }

    #[test]
    fn pattern_matching() {
        let c = example();
        assert!(c.is_deploy_workflow("Deploy to prod"));
        assert!(c.is_deploy_workflow("deploy"));
        assert!(c.is_deploy_workflow("Release"));
        assert!(!c.is_deploy_workflow("release notes"));
        assert!(!c.is_deploy_workflow("CI"));
        assert!(c.is_production("production"));
        assert!(!c.is_production("preprod"));
        assert!(c.is_rework_branch("HOTFIX/fix-login"));
        assert!(c.is_rework_branch("hotfix/a/b"));
        assert!(!c.is_rework_branch("feature/hotfix"));
        assert!(c.is_rework_label("HotFix"));
        assert!(!c.is_rework_label("feature"));
        assert!(c.is_revert_title("Revert \"Add ledger export\""));
        assert!(!c.is_revert_title("Revert the ledger"));
        assert!(!c.is_revert_title("Add revert button"));
    }

    #[test]
    fn bots_and_incident_labels() {
        let c = example();
        assert!(c.is_bot("renovate-bot", false));
        assert!(c.is_bot("Renovate-Bot", false));
        assert!(c.is_bot("dependabot[bot]", false));
        assert!(c.is_bot("alice", true));
        assert!(!c.is_bot("alice", false));
        assert!(c.is_incident_labels(&labels(&["bug", "Incident"])));
        assert!(!c.is_incident_labels(&labels(&["bug"])));
        assert!(!c.is_incident_labels(&[]));
        assert_eq!(c.incident_label(), "incident");
    }

    #[test]
    fn services_and_pagerduty_mapping() {
        let c = example();
        assert_eq!(c.services_of_repo("acme/payments-api"), ["checkout"]);
        assert!(c.services_of_repo("acme/infra").is_empty());
        assert_eq!(
            c.repos_of_service("checkout"),
            Some(labels(&["acme/payments-api"]).as_slice())
        );
        assert_eq!(c.repos_of_service("nope"), None);
        assert_eq!(c.services().count(), 1);
        assert!(c.service("Checkout").is_some());
        // By id, whatever PagerDuty calls the service now.
        assert_eq!(
            c.service_for_pagerduty("Payments Prod", Some("PA2P440")),
            "checkout"
        );
        // By name, case-insensitively.
        assert_eq!(
            c.service_for_pagerduty("Checkout", Some("PXXXXXX")),
            "checkout"
        );
        assert_eq!(c.service_for_pagerduty("CHECKOUT", None), "checkout");
        // Unknown: the PagerDuty name itself, lower-cased.
        assert_eq!(c.service_for_pagerduty("Search API", None), "search api");
    }

    #[test]
    fn severity_mapping() {
        let c = OrgConfig::from_yaml(
            "org: acme\nseverity:\n  pagerduty_urgency: { high: sev1, low: sev3 }\n",
        )
        .expect("valid");
        // Explicit severity wins, in any common spelling.
        assert_eq!(
            c.severity_for(Some("SEV-2"), Some("high"), Some("P4"))
                .as_deref(),
            Some("sev2")
        );
        assert_eq!(
            c.severity_for(Some("3"), None, None).as_deref(),
            Some("sev3")
        );
        // Priority wins over urgency; the priority map kept its defaults.
        assert_eq!(
            c.severity_for(None, Some("high"), Some("p4")).as_deref(),
            Some("sev4")
        );
        assert_eq!(
            c.severity_for(Some("critical"), Some("high"), None)
                .as_deref(),
            Some("sev1")
        );
        assert_eq!(
            c.severity_for(None, Some("low"), Some("P9")).as_deref(),
            Some("sev3")
        );
        assert_eq!(c.severity_for(None, Some("suppressed"), None), None);
        assert_eq!(c.severity_for(None, None, None), None);
        assert_eq!(
            OrgConfig::default()
                .severity_for(None, None, Some("P5"))
                .as_deref(),
            Some("sev4")
        );
    }

    #[test]
    fn blame_window_forms() {
        for (text, expected) in [
            ("7d", Some(Duration::days(7))),
            ("12h", Some(Duration::hours(12))),
            ("30m", Some(Duration::minutes(30))),
            ("1w", Some(Duration::weeks(1))),
            (" 90S ", Some(Duration::seconds(90))),
            ("none", None),
            ("None", None),
        ] {
            assert_eq!(parse_window(text), Ok(expected), "{text}");
        }
        for bad in [
            "",
            "d",
            "7",
            "-1d",
            "1.5h",
            "7dd",
            "seven days",
            "+7d",
            "٣d",
        ] {
            assert!(parse_window(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hostile_documents_are_errors_not_crashes() {
        let deep_json = "{\"org\":".repeat(50_000);
        let deep_yaml = "[".repeat(50_000);
        let bomb = "org: acme\nx: &a [1,1,1,1,1,1,1,1,1]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
                    z: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nw: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n";
        for text in [
            "",
            "~",
            "---\norg: a\n---\norg: b\n",
            "org: a\nteams: { [x]: {} }",
            deep_json.as_str(),
            deep_yaml.as_str(),
            bomb,
        ] {
            let e = OrgConfig::from_yaml(text);
            assert!(e.is_err(), "{:.40?} should be rejected", text);
        }
    }

    proptest! {
        #[test]
        fn from_yaml_never_panics(text in any::<String>()) {
            let _ = OrgConfig::from_yaml(&text);
        }

        #[test]
        fn from_yaml_never_panics_on_config_like_text(
            text in "(org|teams|services|bots|incidents|digest|severity|rework|timezone)\
                     (: |:\n  )(\\[|\\{|-|'|\"|[a-z/*{}\\[\\]@ ,:#]){0,40}"
        ) {
            let _ = OrgConfig::from_yaml(&text);
        }
    }
}
