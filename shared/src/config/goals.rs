//! `goals:` — targets per team or org-wide (docs/CONFIG.md "goals"). Pure: parsed and validated
//! with the rest of the config, every error naming its field (`goals.payments.lead_time_p50`).
//! Whether a goal is met is decided in `crate::metrics::goals`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::raw::Entries;
use super::ConfigError;
use crate::metrics::levels::DoraLevel;

/// The `goals:` key that means "the whole org" rather than a team.
pub const ORG_GOALS: &str = "org";

/// A metric a goal can be set on. Whether lower or higher is better is the metric's
/// ([`GoalMetric::higher_is_better`]), never the user's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalMetric {
    DeploymentFrequency,
    LeadTimeP50,
    RecoveryTimeP50,
    CycleTimeP50,
    ReviewLatencyP50,
    ChangeFailureRate,
    ReworkRate,
    FirstTimePassRate,
}

impl GoalMetric {
    pub const ALL: [GoalMetric; 8] = [
        GoalMetric::DeploymentFrequency,
        GoalMetric::LeadTimeP50,
        GoalMetric::RecoveryTimeP50,
        GoalMetric::CycleTimeP50,
        GoalMetric::ReviewLatencyP50,
        GoalMetric::ChangeFailureRate,
        GoalMetric::ReworkRate,
        GoalMetric::FirstTimePassRate,
    ];

    /// The config and API name: `lead_time_p50`.
    pub fn as_str(self) -> &'static str {
        match self {
            GoalMetric::DeploymentFrequency => "deployment_frequency",
            GoalMetric::LeadTimeP50 => "lead_time_p50",
            GoalMetric::RecoveryTimeP50 => "recovery_time_p50",
            GoalMetric::CycleTimeP50 => "cycle_time_p50",
            GoalMetric::ReviewLatencyP50 => "review_latency_p50",
            GoalMetric::ChangeFailureRate => "change_failure_rate",
            GoalMetric::ReworkRate => "rework_rate",
            GoalMetric::FirstTimePassRate => "first_time_pass_rate",
        }
    }

    /// In plain words, for the digest: `lead time p50`.
    pub fn label(self) -> &'static str {
        match self {
            GoalMetric::DeploymentFrequency => "deployment frequency",
            GoalMetric::LeadTimeP50 => "lead time p50",
            GoalMetric::RecoveryTimeP50 => "recovery time p50",
            GoalMetric::CycleTimeP50 => "cycle time p50",
            GoalMetric::ReviewLatencyP50 => "review latency p50",
            GoalMetric::ChangeFailureRate => "change failure rate",
            GoalMetric::ReworkRate => "rework rate",
            GoalMetric::FirstTimePassRate => "first-time pass rate",
        }
    }

    /// Deployment frequency and first-time pass rate are better higher; durations and failure
    /// rates lower.
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            GoalMetric::DeploymentFrequency | GoalMetric::FirstTimePassRate
        )
    }

    fn parse(name: &str) -> Option<GoalMetric> {
        GoalMetric::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name.trim()))
    }

    fn kind(self) -> TargetKind {
        match self {
            GoalMetric::DeploymentFrequency => TargetKind::Frequency,
            GoalMetric::LeadTimeP50
            | GoalMetric::RecoveryTimeP50
            | GoalMetric::CycleTimeP50
            | GoalMetric::ReviewLatencyP50 => TargetKind::Duration,
            GoalMetric::ChangeFailureRate
            | GoalMetric::ReworkRate
            | GoalMetric::FirstTimePassRate => TargetKind::Percent,
        }
    }
}

impl fmt::Display for GoalMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum TargetKind {
    Frequency,
    Duration,
    Percent,
}

/// A goal's target, as a number in the metric's unit or as a DORA level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// Deployment frequency: the DORA level to reach (at least).
    Level(DoraLevel),
    /// Deployment frequency: successful production deployments per week (at least).
    PerWeek(f64),
    /// Seconds (at most).
    Seconds(f64),
    /// A fraction in `[0, 1]` (at most, or at least for the first-time pass rate).
    Fraction(f64),
}

/// One goal: a metric, its target, and the target as written (trimmed), which the API and
/// `GET /v1/config` show.
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    pub metric: GoalMetric,
    pub target: Target,
    pub written: String,
}

/// The org's goals: org-wide ones and each team's, metrics in name order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Goals {
    pub org: Vec<Goal>,
    /// Team names lower-cased, as in `teams:`.
    pub teams: BTreeMap<String, Vec<Goal>>,
}

impl Goals {
    /// The goals that apply to a team: its own, then the org-wide ones on metrics it did not
    /// set itself; each with whom it was set for (`team:payments` or `org`), metric order.
    pub fn for_team(&self, team: &str) -> Vec<(&Goal, String)> {
        let key = team.to_ascii_lowercase();
        let own = self.teams.get(&key).map(Vec::as_slice).unwrap_or_default();
        let mut goals: Vec<(&Goal, String)> =
            own.iter().map(|g| (g, format!("team:{key}"))).collect();
        for goal in &self.org {
            if !own.iter().any(|g| g.metric == goal.metric) {
                goals.push((goal, ORG_GOALS.to_string()));
            }
        }
        goals.sort_by_key(|(g, _)| g.metric);
        goals
    }

    /// The org-wide goals, each set for `org`.
    pub fn for_org(&self) -> Vec<(&Goal, String)> {
        self.org
            .iter()
            .map(|g| (g, ORG_GOALS.to_string()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.org.is_empty() && self.teams.values().all(Vec::is_empty)
    }

    /// The file form: `org` first, then teams in name order; targets as written.
    pub(super) fn to_raw(&self) -> Entries<Entries<String>> {
        let entries = |goals: &[Goal]| {
            Entries(
                goals
                    .iter()
                    .map(|g| (g.metric.as_str().to_string(), g.written.clone()))
                    .collect(),
            )
        };
        let mut raw = Vec::new();
        if !self.org.is_empty() {
            raw.push((ORG_GOALS.to_string(), entries(&self.org)));
        }
        for (team, goals) in &self.teams {
            raw.push((team.clone(), entries(goals)));
        }
        Entries(raw)
    }
}

/// Validates `goals:` against the configured team names (lower-cased).
pub(super) fn build_goals<'a>(
    raw: Option<Entries<Entries<String>>>,
    teams: impl Iterator<Item = &'a str> + Clone,
) -> Result<Goals, ConfigError> {
    let mut built = Goals::default();
    let mut seen: Vec<String> = Vec::new();
    for (owner, entries) in raw.map(|e| e.0).unwrap_or_default() {
        let field = format!("goals.{owner}");
        let key = owner.trim().to_ascii_lowercase();
        if seen.contains(&key) {
            return Err(ConfigError::new(
                field,
                "duplicate key (team names are case-insensitive)",
            ));
        }
        seen.push(key.clone());
        let is_org = key == ORG_GOALS;
        if !is_org && !teams.clone().any(|t| t == key) {
            let known: Vec<&str> = teams.clone().collect();
            let known = if known.is_empty() {
                "no teams are configured".to_string()
            } else {
                format!("teams are {}", known.join(", "))
            };
            return Err(ConfigError::new(
                field,
                format!("unknown team {owner:?}; use org or a team of `teams:` ({known})"),
            ));
        }
        let mut goals: Vec<Goal> = Vec::new();
        for (name, text) in entries.0 {
            let field = format!("{field}.{name}");
            let metric = GoalMetric::parse(&name).ok_or_else(|| {
                let names: Vec<&str> = GoalMetric::ALL.iter().map(|m| m.as_str()).collect();
                ConfigError::new(
                    &field,
                    format!("unknown metric {name:?}; use one of {}", names.join(", ")),
                )
            })?;
            if goals.iter().any(|g| g.metric == metric) {
                return Err(ConfigError::new(field, "duplicate goal for this metric"));
            }
            let target = parse_target(&field, metric, &text)?;
            goals.push(Goal {
                metric,
                target,
                written: text.trim().to_string(),
            });
        }
        goals.sort_by_key(|g| g.metric);
        if is_org {
            built.org = goals;
        } else {
            built.teams.insert(key, goals);
        }
    }
    Ok(built)
}

fn parse_target(field: &str, metric: GoalMetric, text: &str) -> Result<Target, ConfigError> {
    let t = text.trim().to_ascii_lowercase();
    match metric.kind() {
        TargetKind::Frequency => {
            let level = [
                DoraLevel::Elite,
                DoraLevel::High,
                DoraLevel::Medium,
                DoraLevel::Low,
            ]
            .into_iter()
            .find(|l| l.as_str() == t);
            if let Some(level) = level {
                return Ok(Target::Level(level));
            }
            t.strip_suffix("/week")
                .and_then(|n| positive_number(n.trim()))
                .map(Target::PerWeek)
                .ok_or_else(|| {
                    ConfigError::new(
                        field,
                        format!(
                            "{text:?} is not a DORA level (elite, high, medium, low) or a rate \
                             per week (5/week)"
                        ),
                    )
                })
        }
        TargetKind::Duration => {
            let bad =
                || ConfigError::new(field, format!("{text:?} is not a duration (30m, 24h, 2d)"));
            let unit_at = t.len().checked_sub(1).ok_or_else(bad)?;
            let (number, unit) = t.split_at(unit_at);
            let seconds = match unit {
                "m" => 60.0,
                "h" => 3_600.0,
                "d" => 86_400.0,
                _ => return Err(bad()),
            };
            let n = positive_number(number.trim()).ok_or_else(bad)?;
            Ok(Target::Seconds(n * seconds))
        }
        TargetKind::Percent => {
            let percent = t
                .strip_suffix('%')
                .and_then(|n| number(n.trim()))
                .filter(|p| (0.0..=100.0).contains(p))
                .ok_or_else(|| {
                    ConfigError::new(
                        field,
                        format!("{text:?} is not a percentage from 0% to 100% (10%)"),
                    )
                })?;
            Ok(Target::Fraction(percent / 100.0))
        }
    }
}

/// A plain decimal (`12`, `2.5`): no sign, exponent, `inf` or `nan`.
fn number(text: &str) -> Option<f64> {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.chars().filter(|c| *c == '.').count() <= 1
        && text.chars().any(|c| c.is_ascii_digit());
    plain.then(|| text.parse().ok()).flatten()
}

fn positive_number(text: &str) -> Option<f64> {
    number(text).filter(|n| *n > 0.0)
}
