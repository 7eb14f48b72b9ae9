//! `tickets:`: the Jira projects and Linear teams whose keys Flowmeter looks for in PRs and
//! commits, each mapped to the team its tickets count for.

use serde::{Deserialize, Serialize};

use super::raw::Entries;
use super::ConfigError;
use crate::model::TicketSource;

/// The file format: `tickets: { jira: { PAY: payments }, linear: { ENG: platform } }`.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTickets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) jira: Option<Entries<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) linear: Option<Entries<String>>,
}

/// A configured project (Jira) or team (Linear) key and the team its tickets count for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketProject {
    pub source: TicketSource,
    /// Upper-case, as the tracker writes it in ticket keys (`PAY` of `PAY-142`).
    pub key: String,
    pub team: String,
}

/// Longest key accepted; Jira's own limit is 10 by default and configurable, Linear's 5.
const MAX_KEY_CHARS: usize = 20;

/// Validates the keys (a letter, then letters, digits or `_`; upper-cased) and that each names
/// a configured team; a key is configured once per tracker.
pub(super) fn build_tickets<'a>(
    raw: Option<RawTickets>,
    teams: impl Iterator<Item = &'a str> + Clone,
) -> Result<Vec<TicketProject>, ConfigError> {
    let raw = raw.unwrap_or_default();
    let mut projects: Vec<TicketProject> = Vec::new();
    for (source, entries) in [
        (TicketSource::Jira, raw.jira),
        (TicketSource::Linear, raw.linear),
    ] {
        let tracker = match source {
            TicketSource::Jira => "jira",
            TicketSource::Linear => "linear",
        };
        for (key, team) in entries.map(|e| e.0).unwrap_or_default() {
            let field = format!("tickets.{tracker}.{key}");
            let upper = key.to_ascii_uppercase();
            let mut chars = upper.chars();
            let well_formed = chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && upper.len() <= MAX_KEY_CHARS;
            if !well_formed {
                return Err(ConfigError::new(
                    field,
                    format!(
                        "a key is a letter, then letters, digits or '_', at most {MAX_KEY_CHARS}"
                    ),
                ));
            }
            if projects
                .iter()
                .any(|p| p.source == source && p.key == upper)
            {
                return Err(ConfigError::new(field, "named twice"));
            }
            let team = team.to_ascii_lowercase();
            if !teams.clone().any(|t| t == team) {
                return Err(ConfigError::new(
                    field,
                    format!("no team {team:?} in `teams`"),
                ));
            }
            projects.push(TicketProject {
                source,
                key: upper,
                team,
            });
        }
    }
    Ok(projects)
}

/// The effective `tickets:` back in the file format.
pub(super) fn raw_tickets(projects: &[TicketProject]) -> RawTickets {
    let of = |source: TicketSource| {
        Entries(
            projects
                .iter()
                .filter(|p| p.source == source)
                .map(|p| (p.key.clone(), p.team.clone()))
                .collect(),
        )
    };
    RawTickets {
        jira: Some(of(TicketSource::Jira)),
        linear: Some(of(TicketSource::Linear)),
    }
}
