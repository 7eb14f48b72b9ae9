//! The digest's "Tickets and environments" lines: each team's tickets of the week (done with
//! their cycle time, shipped with their lead time: docs/METRICS.md "Tickets"), and what each
//! environment holds that the next one does not yet, over every configured repo ("staging: 5
//! PRs, 4 tickets not yet in production").

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::super::format;
use super::TeamInput;
use crate::derive::{ticket_key, Rollup};
use crate::metrics::environments::RepoEnvironments;
use crate::metrics::merge_weeks;
use crate::time::IsoWeek;

/// Ticket keys named in an environment's line at most; the rest are counted.
pub const TICKETS_NAMED: usize = 5;

/// One line: a team's tickets, or an environment's lead over the next one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowLine {
    /// The team or environment.
    pub subject: String,
    pub summary: String,
}

/// The teams' ticket lines (in their order; a team with no ticket done or shipped in `week`
/// has none), then the environments' (in promotion order; one that holds nothing the next
/// lacks has none).
pub fn flow_lines(
    teams: &[TeamInput],
    environments: &[RepoEnvironments],
    week: IsoWeek,
) -> Vec<FlowLine> {
    let mut lines: Vec<FlowLine> = teams
        .iter()
        .filter_map(|team| ticket_line(team, week))
        .collect();
    lines.extend(environment_lines(environments));
    lines
}

/// `12 tickets done (cycle time p50 2.1 d); 9 shipped (lead time p50 3 d)`.
fn ticket_line(team: &TeamInput, week: IsoWeek) -> Option<FlowLine> {
    let rollup = merge_weeks(
        team.ticket_weeks
            .iter()
            .filter(|(w, _)| *w == week)
            .cloned(),
    )
    .into_iter()
    .next()
    .map_or_else(Rollup::default, |(_, r)| r);
    if rollup.tickets_done == 0 && rollup.tickets_shipped == 0 {
        return None;
    }
    let p50 = |sketch: &crate::sketch::QuantileSketch, name: &str| {
        sketch
            .quantile(0.5)
            .map(|s| format!(" ({name} p50 {})", format::duration(s)))
            .unwrap_or_default()
    };
    Some(FlowLine {
        subject: format::one_line(&team.name),
        summary: format!(
            "{} done{}; {} shipped{}",
            format::plural(rollup.tickets_done, "ticket", "tickets"),
            p50(&rollup.ticket_cycle, "cycle time"),
            rollup.tickets_shipped,
            p50(&rollup.ticket_lead, "lead time"),
        ),
    })
}

/// Per environment with a next one, over every repo: the PRs it holds ahead of the next and
/// the tickets they name.
fn environment_lines(environments: &[RepoEnvironments]) -> Vec<FlowLine> {
    // environment → (its order, next, PRs ahead, tickets ahead)
    let mut ahead: BTreeMap<&str, (usize, &str, usize, BTreeSet<&str>)> = BTreeMap::new();
    for repo in environments {
        for (order, env) in repo.environments.iter().enumerate() {
            let (Some(next), Some(prs)) = (&env.next, &env.ahead_of_next) else {
                continue;
            };
            let entry = ahead.entry(env.environment.as_str()).or_insert((
                order,
                next.as_str(),
                0,
                BTreeSet::new(),
            ));
            entry.2 += prs.len();
            for pr in prs {
                entry.3.extend(pr.tickets.iter().map(String::as_str));
            }
        }
    }
    let mut by_order: Vec<_> = ahead.into_iter().filter(|(_, a)| a.2 > 0).collect();
    by_order.sort_by_key(|(_, a)| a.0);
    by_order
        .into_iter()
        .map(|(environment, (_, next, prs, tickets))| {
            let keys: Vec<&str> = tickets.iter().map(|id| ticket_key(id)).collect();
            let named = if keys.is_empty() {
                String::new()
            } else {
                let more = keys.len().saturating_sub(TICKETS_NAMED);
                let mut shown = keys[..keys.len().min(TICKETS_NAMED)].join(", ");
                if more > 0 {
                    shown.push_str(&format!(", +{more}"));
                }
                format!(
                    ", {} ({shown})",
                    format::plural(keys.len() as u64, "ticket", "tickets")
                )
            };
            FlowLine {
                subject: format::one_line(environment),
                summary: format!(
                    "{}{named} not yet in {}",
                    format::plural(prs as u64, "PR", "PRs"),
                    format::one_line(next)
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::MemberData;
    use crate::metrics::environments::{EnvironmentState, PendingPr};

    fn week() -> IsoWeek {
        "2026-W41".parse().expect("week")
    }

    fn pending(number: u64, tickets: &[&str]) -> PendingPr {
        PendingPr {
            number,
            title: "t".into(),
            author: "alice".into(),
            merged_at: None,
            url: "https://github.com/acme/api/pull/1".into(),
            tickets: tickets.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn env(name: &str, next: Option<&str>, ahead: Option<Vec<PendingPr>>) -> EnvironmentState {
        EnvironmentState {
            environment: name.into(),
            deployment: None,
            age_seconds: None,
            next: next.map(str::to_string),
            ahead_of_next: ahead,
            apps: Vec::new(),
        }
    }

    #[test]
    fn a_team_with_tickets_this_week_gets_a_line_with_its_medians() {
        // given payments: 2 tickets done this week (cycle 1 h and 3 h), one shipped (lead 2 d),
        // and a ticket done the week before; growth: nothing this week
        let this = Rollup::from_members(&[
            MemberData::TicketDone {
                cycle: Some(3600.0),
            },
            MemberData::TicketDone {
                cycle: Some(10800.0),
            },
            MemberData::TicketShipped {
                lead: Some(172800.0),
            },
        ]);
        let before = Rollup::from_members(&[MemberData::TicketDone { cycle: Some(60.0) }]);
        let payments = TeamInput {
            name: "payments".into(),
            ticket_weeks: vec![(week(), this), (week().prev(), before)],
            ..TeamInput::default()
        };
        let growth = TeamInput {
            name: "growth".into(),
            ..TeamInput::default()
        };
        let lines = flow_lines(&[payments, growth], &[], week());
        // then only payments has a line: p50 of [1 h, 3 h] is the lower middle, 1 h
        assert_eq!(
            lines,
            [FlowLine {
                subject: "payments".into(),
                summary: format!(
                    "2 tickets done (cycle time p50 {}); 1 shipped (lead time p50 {})",
                    format::duration(3600.0),
                    format::duration(172800.0)
                ),
            }]
        );
    }

    #[test]
    fn an_environment_sums_what_its_repos_hold_ahead_of_the_next() {
        // given two repos whose staging holds PRs production lacks, one naming 6 tickets
        let many: Vec<String> = (1..=6).map(|n| format!("jira:PAY-{n}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let api = RepoEnvironments {
            repo: "acme/api".into(),
            environments: vec![
                env("staging", Some("production"), Some(vec![pending(1, &many)])),
                env("production", None, None),
            ],
        };
        let web = RepoEnvironments {
            repo: "acme/web".into(),
            environments: vec![
                env(
                    "staging",
                    Some("production"),
                    Some(vec![pending(2, &["linear:GRO-1"]), pending(3, &[])]),
                ),
                env("production", None, None),
            ],
        };
        let lines = flow_lines(&[], &[api, web], week());
        // then staging has one line: 3 PRs, 7 tickets, the first 5 named
        assert_eq!(
            lines,
            [FlowLine {
                subject: "staging".into(),
                summary:
                    "3 PRs, 7 tickets (PAY-1, PAY-2, PAY-3, PAY-4, PAY-5, +2) not yet in production"
                        .into(),
            }]
        );
        // and an environment level with the next one says nothing
        let level = RepoEnvironments {
            repo: "acme/api".into(),
            environments: vec![env("staging", Some("production"), Some(vec![]))],
        };
        assert!(flow_lines(&[], &[level], week()).is_empty());
    }
}
