//! A weekly rollup: counts and mergeable quantile sketches folded from a bucket's members.
//! Merging rollups (a team's repos, several weeks) gives the same numbers as folding all their
//! members at once, so reads never touch events.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::members::MemberData;
use crate::sketch::QuantileSketch;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    // PRs (bots excluded upstream)
    pub prs_opened: u64,
    pub prs_merged: u64,
    pub coding: QuantileSketch,
    pub pickup: QuantileSketch,
    pub review: QuantileSketch,
    pub deploy: QuantileSketch,
    pub total: QuantileSketch,
    pub first_time_pass: u64,
    pub comments: u64,
    pub size: QuantileSketch,
    pub lead_time: QuantileSketch,
    // Deployments (terminal production attempts)
    pub deployments: u64,
    pub deployments_succeeded: u64,
    pub deployments_failed: u64,
    pub rework: u64,
    pub deploy_days: BTreeSet<NaiveDate>,
    pub recovery: QuantileSketch,
    // Incidents
    pub incidents_opened: u64,
    pub incidents_resolved: u64,
    pub mttr: QuantileSketch,
    pub opened_by_severity: BTreeMap<String, u64>,
    pub opened_by_service: BTreeMap<String, u64>,
    pub mttr_by_service: BTreeMap<String, QuantileSketch>,
    // Tickets (Jira, Linear): only in ticket projects' buckets, so left out of every other
    // rollup's item (absent from rollups written before tickets were rolled up, too).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tickets_done: u64,
    /// Started → done, of the tickets done in the week that were started.
    #[serde(default, skip_serializing_if = "QuantileSketch::is_empty")]
    pub ticket_cycle: QuantileSketch,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tickets_shipped: u64,
    /// Started → the first production deployment shipping a PR that names the ticket.
    #[serde(default, skip_serializing_if = "QuantileSketch::is_empty")]
    pub ticket_lead: QuantileSketch,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Rollup {
    /// Folds members; the result does not depend on their order.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a MemberData>) -> Rollup {
        let mut r = Rollup::default();
        for member in members {
            r.add(member);
        }
        r
    }

    fn add(&mut self, member: &MemberData) {
        let add_opt = |sketch: &mut QuantileSketch, v: &Option<f64>| {
            if let Some(v) = v {
                sketch.add(*v);
            }
        };
        match member {
            MemberData::PrOpened => self.prs_opened += 1,
            MemberData::PrMerged {
                coding,
                pickup,
                review,
                deploy,
                total,
                first_time_pass,
                comments,
                size,
            } => {
                self.prs_merged += 1;
                add_opt(&mut self.coding, coding);
                add_opt(&mut self.pickup, pickup);
                add_opt(&mut self.review, review);
                add_opt(&mut self.deploy, deploy);
                self.total.add(*total);
                self.first_time_pass += u64::from(*first_time_pass);
                self.comments += u64::from(*comments);
                self.size.add(*size as f64);
            }
            MemberData::LeadTime { seconds } => self.lead_time.add(*seconds),
            MemberData::Deployment {
                success,
                failed,
                day,
                rework,
                recovery,
            } => {
                self.deployments += 1;
                if *success {
                    self.deployments_succeeded += 1;
                    self.deploy_days.insert(*day);
                }
                self.deployments_failed += u64::from(*failed);
                self.rework += u64::from(*rework);
                add_opt(&mut self.recovery, recovery);
            }
            MemberData::IncidentOpened { service, severity } => {
                self.incidents_opened += 1;
                *self.opened_by_service.entry(service.clone()).or_default() += 1;
                if let Some(sev) = severity {
                    *self.opened_by_severity.entry(sev.clone()).or_default() += 1;
                }
            }
            MemberData::TicketDone { cycle } => {
                self.tickets_done += 1;
                add_opt(&mut self.ticket_cycle, cycle);
            }
            MemberData::TicketShipped { lead } => {
                self.tickets_shipped += 1;
                add_opt(&mut self.ticket_lead, lead);
            }
            MemberData::IncidentResolved { service, mttr } => {
                self.incidents_resolved += 1;
                self.mttr.add(*mttr);
                self.mttr_by_service
                    .entry(service.clone())
                    .or_default()
                    .add(*mttr);
            }
        }
    }

    /// Adds another rollup's counts and sketches into this one (a team across repos, a period
    /// across weeks).
    pub fn merge(&mut self, other: &Rollup) {
        self.prs_opened += other.prs_opened;
        self.prs_merged += other.prs_merged;
        self.coding.merge(&other.coding);
        self.pickup.merge(&other.pickup);
        self.review.merge(&other.review);
        self.deploy.merge(&other.deploy);
        self.total.merge(&other.total);
        self.first_time_pass += other.first_time_pass;
        self.comments += other.comments;
        self.size.merge(&other.size);
        self.lead_time.merge(&other.lead_time);
        self.deployments += other.deployments;
        self.deployments_succeeded += other.deployments_succeeded;
        self.deployments_failed += other.deployments_failed;
        self.rework += other.rework;
        self.deploy_days.extend(other.deploy_days.iter().copied());
        self.recovery.merge(&other.recovery);
        self.incidents_opened += other.incidents_opened;
        self.incidents_resolved += other.incidents_resolved;
        self.mttr.merge(&other.mttr);
        for (k, v) in &other.opened_by_severity {
            *self.opened_by_severity.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.opened_by_service {
            *self.opened_by_service.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.mttr_by_service {
            self.mttr_by_service.entry(k.clone()).or_default().merge(v);
        }
        self.tickets_done += other.tickets_done;
        self.ticket_cycle.merge(&other.ticket_cycle);
        self.tickets_shipped += other.tickets_shipped;
        self.ticket_lead.merge(&other.ticket_lead);
    }

    pub fn is_empty(&self) -> bool {
        *self == Rollup::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(day: &str, success: bool, failed: bool) -> MemberData {
        MemberData::Deployment {
            success,
            failed,
            day: day.parse().expect("date"),
            rework: false,
            recovery: failed.then_some(600.0),
        }
    }

    #[test]
    fn fold_counts_and_is_order_independent() {
        let members = vec![
            deploy("2026-10-05", true, false),
            deploy("2026-10-05", true, false),
            deploy("2026-10-06", false, true),
            MemberData::LeadTime { seconds: 100.0 },
            MemberData::LeadTime { seconds: 300.0 },
        ];
        let a = Rollup::from_members(&members);
        let b = Rollup::from_members(members.iter().rev());
        assert_eq!(a, b);
        assert_eq!(a.deployments, 3);
        assert_eq!(a.deployments_succeeded, 2);
        assert_eq!(a.deployments_failed, 1);
        assert_eq!(a.deploy_days.len(), 1);
        assert_eq!(a.lead_time.count(), 2);
    }

    #[test]
    fn merge_equals_folding_everything() {
        let left = vec![
            deploy("2026-10-05", true, false),
            MemberData::LeadTime { seconds: 5.0 },
        ];
        let right = vec![
            deploy("2026-10-06", false, true),
            MemberData::LeadTime { seconds: 7.0 },
            MemberData::TicketDone { cycle: Some(60.0) },
            MemberData::TicketDone { cycle: None },
            MemberData::TicketShipped { lead: Some(90.0) },
        ];
        let mut merged = Rollup::from_members(&left);
        merged.merge(&Rollup::from_members(&right));
        assert_eq!(merged, Rollup::from_members(left.iter().chain(&right)));
        assert_eq!((merged.tickets_done, merged.ticket_cycle.count()), (2, 1));
        assert_eq!((merged.tickets_shipped, merged.ticket_lead.count()), (1, 1));
    }

    #[test]
    fn a_rollup_without_tickets_is_stored_as_before_tickets_existed() {
        let plain = Rollup::from_members(&[deploy("2026-10-05", true, false)]);
        let json = serde_json::to_value(&plain).expect("json");
        assert!(json.get("tickets_done").is_none() && json.get("ticket_lead").is_none());
        let back: Rollup = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, plain);
        let with = Rollup::from_members(&[MemberData::TicketDone { cycle: Some(5.0) }]);
        let back: Rollup =
            serde_json::from_value(serde_json::to_value(&with).expect("json")).expect("back");
        assert_eq!(back, with);
    }
}
