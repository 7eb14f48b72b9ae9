//! `GET /v1/tickets`: ticket cycle time and lead time of a team's Jira projects and Linear
//! teams (from the weekly rollups), and the tickets an environment's deployments carried in
//! the period (from the deployments, the PRs they shipped and the tickets those name).
//! Definitions: docs/METRICS.md, "Tickets".

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{p50, week_string, Quantiles, ReportWindow};
use crate::derive::links::prs_between;
use crate::derive::{ticket_key, Deployment, PullRequest, Rollup, Ticket};
use crate::model::TicketCategory;
use crate::sketch::QuantileSketch;
use crate::time::IsoWeek;

/// Tickets one answer lists at most (the most recently carried first); `truncated` says when
/// there were more.
pub const MAX_LISTED: usize = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketsReport {
    pub scope: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// First move to a started status → first move to done, of the tickets done in the period.
    pub cycle_time: TicketTimes,
    /// Started → the first production deployment shipping a PR that names the ticket, of the
    /// tickets first shipped in the period.
    pub lead_time: TicketTimes,
    pub weeks: Vec<TicketWeek>,
    /// The environment `tickets` lists.
    pub environment: String,
    /// The tickets the environment's deployments in the period carried, latest first.
    pub tickets: Vec<TicketInEnvironment>,
    pub truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketTimes {
    /// Tickets done (cycle time) or shipped (lead time) in the period.
    pub count: u64,
    /// Those of them that were started before, whose span the quantiles are of.
    pub measured: u64,
    #[serde(flatten)]
    pub quantiles: Quantiles,
}

impl TicketTimes {
    /// `count` tickets, of which those in `spans` were started before and are measured.
    fn of(count: u64, spans: &QuantileSketch) -> TicketTimes {
        TicketTimes {
            count,
            measured: spans.count(),
            quantiles: Quantiles::of(spans),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketWeek {
    #[serde(with = "week_string")]
    pub week: IsoWeek,
    pub done: u64,
    pub cycle_p50_seconds: Option<f64>,
    pub shipped: u64,
    pub lead_p50_seconds: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketInEnvironment {
    /// `jira:PAY-142`.
    pub id: String,
    /// `PAY-142`.
    pub key: String,
    /// `null` for the tracker's fields of a ticket it never sent (named in code only).
    pub title: Option<String>,
    pub status: Option<String>,
    pub category: Option<TicketCategory>,
    pub fix_versions: Vec<String>,
    pub sprint: Option<String>,
    /// The PRs naming it that these deployments shipped: `owner/repo#number`.
    pub prs: Vec<String>,
    /// The deployments that carried them, oldest first.
    pub deployments: Vec<CarryingDeployment>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CarryingDeployment {
    pub repo: String,
    /// Source-qualified, as in `GET /v1/environments`.
    pub id: String,
    pub sha: Option<String>,
    pub finished_at: DateTime<Utc>,
}

impl TicketsReport {
    /// The report of `window` (rollups of the scope's ticket projects merged per week) and the
    /// environment's tickets (`carried_tickets`).
    pub fn build(
        window: &ReportWindow,
        rollups: &[(IsoWeek, Rollup)],
        environment: &str,
        mut tickets: Vec<TicketInEnvironment>,
    ) -> TicketsReport {
        let period = window.period(rollups);
        let total = &period.total;
        let truncated = tickets.len() > MAX_LISTED;
        tickets.truncate(MAX_LISTED);
        TicketsReport {
            scope: window.scope.to_string(),
            from: window.from,
            to: window.to,
            cycle_time: TicketTimes::of(total.tickets_done, &total.ticket_cycle),
            lead_time: TicketTimes::of(total.tickets_shipped, &total.ticket_lead),
            weeks: period.each_week(|week, r| TicketWeek {
                week,
                done: r.tickets_done,
                cycle_p50_seconds: p50(&r.ticket_cycle),
                shipped: r.tickets_shipped,
                lead_p50_seconds: p50(&r.ticket_lead),
            }),
            environment: environment.to_string(),
            tickets,
            truncated,
        }
    }
}

/// What each of one repo's successful deployments to an environment carried: the PRs merged
/// between the previous successful deployment there and it (`links::prs_between`, the rule
/// of what a production deployment shipped). `deployments` are that environment's attempts
/// oldest first, the first successful one the baseline (it carries nothing of its own: what
/// came before it is not known from these). Only those finishing at or after `from` count.
pub fn carried_prs<'a>(
    deployments: &'a [Deployment],
    history: &[String],
    merged: &'a [PullRequest],
    from: DateTime<Utc>,
) -> Vec<(&'a Deployment, Vec<&'a PullRequest>)> {
    let mut carried = Vec::new();
    let mut previous: Option<&Deployment> = None;
    for deployment in deployments.iter().filter(|d| d.is_successful_attempt()) {
        if let Some(older) = previous {
            if deployment.finished_at.is_some_and(|f| f >= from) {
                carried.push((deployment, prs_between(older, deployment, history, merged)));
            }
        }
        previous = Some(deployment);
    }
    carried
}

/// The tickets the carried PRs name, each with its PRs and deployments and, when the tracker
/// sent it, its status and fix versions (`known`, by id); deleted tickets are left out. Latest
/// carried first, then by id.
pub fn carried_tickets(
    carried: &[(&Deployment, Vec<&PullRequest>)],
    known: &BTreeMap<String, Ticket>,
) -> Vec<TicketInEnvironment> {
    let mut by_id: BTreeMap<&str, TicketInEnvironment> = BTreeMap::new();
    for (deployment, prs) in carried {
        let Some(finished_at) = deployment.finished_at else {
            continue;
        };
        for pr in prs {
            for id in &pr.tickets {
                let ticket = known.get(id);
                if ticket.is_some_and(|t| t.deleted) {
                    continue;
                }
                let entry = by_id.entry(id).or_insert_with(|| TicketInEnvironment {
                    id: id.clone(),
                    key: ticket_key(id).to_string(),
                    title: ticket.map(|t| t.title.clone()),
                    status: ticket.map(|t| t.status.clone()),
                    category: ticket.map(|t| t.category),
                    fix_versions: ticket.map(|t| t.fix_versions.clone()).unwrap_or_default(),
                    sprint: ticket.and_then(|t| t.sprint.clone()),
                    prs: Vec::new(),
                    deployments: Vec::new(),
                });
                let pr_name = format!("{}#{}", pr.repo, pr.number);
                if !entry.prs.contains(&pr_name) {
                    entry.prs.push(pr_name);
                }
                let carrying = CarryingDeployment {
                    repo: deployment.repo.clone(),
                    id: deployment.id.clone(),
                    sha: deployment.sha.clone(),
                    finished_at,
                };
                if !entry.deployments.contains(&carrying) {
                    entry.deployments.push(carrying);
                }
            }
        }
    }
    let mut tickets: Vec<TicketInEnvironment> = by_id.into_values().collect();
    for ticket in &mut tickets {
        ticket
            .deployments
            .sort_by(|a, b| (a.finished_at, &a.id).cmp(&(b.finished_at, &b.id)));
        ticket.prs.sort();
    }
    let latest = |t: &TicketInEnvironment| t.deployments.last().map(|d| d.finished_at);
    tickets.sort_by(|a, b| latest(b).cmp(&latest(a)).then_with(|| a.id.cmp(&b.id)));
    tickets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::links::branch_history;
    use crate::derive::testing::*;
    use crate::derive::MemberData;
    use crate::model::DeploymentState::{Failure, Success};
    use crate::model::TicketSource;

    /// A QA deployment of acme/api.
    fn qa(id: &str, sha: &str, finished: &str, ok: bool) -> Deployment {
        let state = if ok { Success } else { Failure };
        let mut d = production_deployment(id, sha, finished, state);
        d.is_production = false;
        d.stage = Some("qa".into());
        d.environment = Some("qa".into());
        d
    }

    /// PR `number` merged as `sha` at `merged`, naming `tickets`.
    fn pr(number: u64, merged: &str, sha: &str, tickets: &[&str]) -> PullRequest {
        let mut pr = merged_pr_with(number, merged, sha, |_| {});
        pr.tickets = tickets.iter().map(|t| t.to_string()).collect();
        pr
    }

    fn ticket(id: &str, status: &str, deleted: bool) -> Ticket {
        Ticket {
            id: id.into(),
            source: TicketSource::Jira,
            project: "PAY".into(),
            title: format!("{id} title"),
            status: status.into(),
            category: TicketCategory::Started,
            started_at: None,
            done_at: None,
            fix_versions: vec!["2026.41".into()],
            sprint: None,
            deleted,
            html_url: None,
            updated_at: t("2026-10-05T08:00:00Z"),
            prs: vec![],
            shipped_at: None,
        }
    }

    #[test]
    fn an_environments_deployments_carry_the_tickets_their_prs_name() {
        // given main aaaaaaa → bbbbbbb, ccccccc → ddddddd; QA deployed aaaaaaa at 09:30 (the
        // baseline), failed at 10:30, deployed ccccccc at 11:00 and ddddddd at 13:00
        let history = branch_history(&main_pushes());
        let deployments = [
            qa("1", "aaaaaaa", "2026-10-05T09:30:00Z", true),
            qa("2", "ccccccc", "2026-10-05T10:30:00Z", false),
            qa("3", "ccccccc", "2026-10-05T11:00:00Z", true),
            qa("4", "ddddddd", "2026-10-05T13:00:00Z", true),
        ];
        // and PRs 2 (bbbbbbb: PAY-1, PAY-2), 3 (ccccccc: PAY-1) and 4 (ddddddd: PAY-3, deleted)
        let merged = [
            pr(
                2,
                "2026-10-05T09:55:00Z",
                "bbbbbbb",
                &["jira:PAY-1", "jira:PAY-2"],
            ),
            pr(3, "2026-10-05T09:58:00Z", "ccccccc", &["jira:PAY-1"]),
            pr(4, "2026-10-05T12:00:00Z", "ddddddd", &["jira:PAY-3"]),
        ];
        let known = BTreeMap::from([
            (
                "jira:PAY-1".to_string(),
                ticket("jira:PAY-1", "In QA", false),
            ),
            ("jira:PAY-3".to_string(), ticket("jira:PAY-3", "Done", true)),
        ]);
        // when the period starts at 09:00
        let carried = carried_prs(&deployments, &history, &merged, t("2026-10-05T09:00:00Z"));
        // then deployment 3 carried PRs 2 and 3, deployment 4 PR 4; the failure carried none
        let shape: Vec<(&str, Vec<u64>)> = carried
            .iter()
            .map(|(d, prs)| (d.id.as_str(), prs.iter().map(|p| p.number).collect()))
            .collect();
        assert_eq!(shape, [("3", vec![2, 3]), ("4", vec![4])]);
        let tickets = carried_tickets(&carried, &known);
        // and PAY-1 (both PRs, known) and PAY-2 (named only) are in QA; deleted PAY-3 is not
        let ids: Vec<&str> = tickets.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["jira:PAY-1", "jira:PAY-2"]);
        assert_eq!(tickets[0].key, "PAY-1");
        assert_eq!(tickets[0].status.as_deref(), Some("In QA"));
        assert_eq!(tickets[0].fix_versions, ["2026.41"]);
        assert_eq!(tickets[0].prs, ["acme/api#2", "acme/api#3"]);
        assert_eq!(tickets[0].deployments.len(), 1);
        assert_eq!(tickets[0].deployments[0].id, "3");
        assert_eq!(tickets[1].title, None);
        // when the period starts after deployment 3, only what deployment 4 carried counts
        let later = carried_prs(&deployments, &history, &merged, t("2026-10-05T12:00:00Z"));
        assert!(carried_tickets(&later, &known).is_empty());
    }

    #[test]
    fn the_numbers_come_from_the_ticket_rollups() {
        // cycle [3600, 7200, 36000] and one done never started; lead [1800, 5400]
        let week = |w: &str| w.parse::<IsoWeek>().expect("week");
        let first = Rollup::from_members(&[
            MemberData::TicketDone {
                cycle: Some(3600.0),
            },
            MemberData::TicketDone { cycle: None },
            MemberData::TicketShipped { lead: Some(1800.0) },
        ]);
        let second = Rollup::from_members(&[
            MemberData::TicketDone {
                cycle: Some(7200.0),
            },
            MemberData::TicketDone {
                cycle: Some(36000.0),
            },
            MemberData::TicketShipped { lead: Some(5400.0) },
        ]);
        let weeks = [week("2026-W41"), week("2026-W42")];
        let window = ReportWindow {
            scope: "team:payments",
            from: "2026-10-05".parse().expect("date"),
            to: "2026-10-18".parse().expect("date"),
            weeks: &weeks,
        };
        let report = TicketsReport::build(
            &window,
            &[(weeks[0], first), (weeks[1], second)],
            "qa",
            Vec::new(),
        );
        // n = 3: p50 rank 2 → 7200, p90 rank ceil(2.7) = 3 → 36000
        assert_eq!(
            (report.cycle_time.count, report.cycle_time.measured),
            (4, 3)
        );
        assert_eq!(report.cycle_time.quantiles.p50_seconds, Some(7200.0));
        assert_eq!(report.cycle_time.quantiles.p90_seconds, Some(36000.0));
        // n = 2: p50 rank 1 → 1800, p90 rank 2 → 5400
        assert_eq!((report.lead_time.count, report.lead_time.measured), (2, 2));
        assert_eq!(report.lead_time.quantiles.p50_seconds, Some(1800.0));
        assert_eq!(report.lead_time.quantiles.p90_seconds, Some(5400.0));
        assert_eq!(report.weeks[0].done, 2);
        assert_eq!(report.weeks[0].cycle_p50_seconds, Some(3600.0));
        assert_eq!(report.weeks[1].lead_p50_seconds, Some(5400.0));
        assert_eq!(report.environment, "qa");
        assert!(!report.truncated);
    }
}
