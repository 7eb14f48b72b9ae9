//! Ground truth: what the simulation did, recorded as it did it, and the metrics computed
//! straight from that record by METRICS.md's definitions. Independent of Flowmeter's pipeline
//! (no facts, projections or rollups), so comparing the two checks the pipeline end to end.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use flowmeter::time::IsoWeek;

use crate::spec::{full_name, SERVICES, TIMEZONE};

/// How long a revert may follow the PR it reverts and still be linked (as the pipeline does).
const REVERT_WINDOW: Duration = Duration::days(30);
/// The config's `incidents.blame_window`.
const BLAME_WINDOW: Duration = Duration::days(7);

#[derive(Clone, Debug, PartialEq)]
pub struct PrTruth {
    /// `owner/name`.
    pub repo: String,
    pub number: u64,
    pub author: String,
    /// A `[bot]` account or a login the config lists under `bots`.
    pub is_bot: bool,
    pub title: String,
    pub created_at: DateTime<Utc>,
    /// Opened, or (for a draft) marked ready for review.
    pub reviewable_at: DateTime<Utc>,
    /// Pushes to the head branch: push time and the authored times of its commits.
    pub head_pushes: Vec<(DateTime<Utc>, Vec<DateTime<Utc>>)>,
    /// Reviews, review comments and conversation comments: who and when.
    pub interactions: Vec<(String, DateTime<Utc>)>,
    pub changes_requested: bool,
    pub merged_at: Option<DateTime<Utc>>,
    pub merge_sha: Option<String>,
    /// The PR number this one reverts (`Reverts owner/repo#N`).
    pub reverts: Option<u64>,
    pub hotfix: bool,
    /// The ticket key its title or head branch names (`PAY-142`); a revert names its target's.
    pub ticket: Option<String>,
}

impl PrTruth {
    pub fn first_commit_at(&self) -> Option<DateTime<Utc>> {
        let end = self.merged_at;
        self.head_pushes
            .iter()
            .filter(|(at, _)| end.is_none_or(|e| *at <= e))
            .flat_map(|(_, commits)| commits.iter().copied())
            .min()
    }

    /// The first review, review comment or conversation comment by another human.
    pub fn first_review_at(&self) -> Option<DateTime<Utc>> {
        self.interactions
            .iter()
            .filter(|(login, _)| {
                *login != self.author && !login.ends_with("[bot]") && login != "codecov-commenter"
            })
            .map(|(_, at)| *at)
            .min()
    }

    /// Pickup time (review latency) in seconds; `None` without a review.
    pub fn pickup_seconds(&self) -> Option<f64> {
        let review = self.first_review_at()?;
        (review >= self.reviewable_at).then(|| secs(self.reviewable_at, review))
    }

    pub fn first_time_pass(&self) -> bool {
        let review = self.first_review_at();
        let end = self.merged_at;
        let pushed_after = self.head_pushes.iter().any(|(at, commits)| {
            review.is_some_and(|r| *at > r) && end.is_none_or(|e| *at <= e) && !commits.is_empty()
        });
        !self.changes_requested && !pushed_after
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentTruth {
    pub repo: String,
    /// `gh:<id>` or `gen:<id>`, as Flowmeter names the deployment.
    pub entity: String,
    pub sha: String,
    pub success: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// A Jira or Linear ticket, as its deliveries showed it (only what happened before the end of
/// the history was sent).
#[derive(Clone, Debug, PartialEq)]
pub struct TicketTruth {
    /// `PAY-142`.
    pub key: String,
    /// As Flowmeter names the ticket: `jira:PAY-142`, `linear:GRO-311`.
    pub entity: String,
    /// The team its project counts for (config `tickets:`).
    pub team: String,
    pub created_at: DateTime<Utc>,
    /// The first move to a started status (Jira "In Progress", Linear `started`).
    pub started_at: Option<DateTime<Utc>>,
    /// The move to "Done" (Linear `completed`), after the start.
    pub done_at: Option<DateTime<Utc>>,
    /// Canceled: Linear `canceled`; Jira "Won't Do", which is in Jira's *done* category (Jira
    /// has no other), so Flowmeter sees it done without a start. Only tickets never started are
    /// canceled in Jira.
    pub canceled_at: Option<DateTime<Utc>>,
    /// The mobile team's release (`mobile-2026.09`), set when done.
    pub fix_version: Option<String>,
    /// The sprint (Jira) or cycle (Linear) of its latest delivery.
    pub sprint: Option<String>,
    /// The PRs naming it (`owner/name`, number); a revert of one names it too (see
    /// [`PrTruth::ticket`]).
    pub prs: Vec<(String, u64)>,
    /// How many deliveries were sent for it (each stores one fact).
    pub deliveries: usize,
}

/// Tickets of a team over a period: cycle times of the tickets done in it, lead times of the
/// tickets whose first shipping deployment finished in it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketStats {
    /// Started tickets done in the period.
    pub done: u64,
    /// Started → done, seconds, ascending.
    pub cycle_times: Vec<f64>,
    /// Started → the finish of the first successful production deployment that shipped a PR
    /// naming it, seconds, ascending.
    pub lead_times: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IncidentTruth {
    /// `pd:<id>` or `gh:<owner/repo>#<n>`.
    pub id: String,
    pub service: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Everything the simulation emitted, in the terms METRICS.md defines metrics on.
#[derive(Clone, Debug, PartialEq)]
pub struct Truth {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub prs: Vec<PrTruth>,
    /// Terminal production deployment attempts (including each repo's first, before `start`).
    pub deployments: Vec<DeploymentTruth>,
    pub incidents: Vec<IncidentTruth>,
    /// Each repo's default branch, commit by commit.
    pub main_history: BTreeMap<String, Vec<String>>,
    /// Finished staging deployments (all succeed).
    pub staging: Vec<DeploymentTruth>,
    pub tickets: Vec<TicketTruth>,
    /// GitHub security alerts (Dependabot, code scanning, secret scanning).
    pub alerts: Vec<AlertTruth>,
}

/// A security alert as its deliveries showed it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertTruth {
    /// Full name (`acme/payments-api`).
    pub repo: String,
    /// As Flowmeter names it: `dependabot:3`.
    pub id: String,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: &'static str,
    pub opened_at: DateTime<Utc>,
    /// Fixed or dismissed before the end of the history.
    pub closed_at: Option<DateTime<Utc>>,
    pub fixed: bool,
}

/// DORA numbers of a set of repos over a period, computed from the truth.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DoraTruth {
    /// Successful production deployments.
    pub deployments: u64,
    /// Terminal production attempts.
    pub attempts: u64,
    pub failed: u64,
    /// Lead time of each shipped human PR, ascending.
    pub lead_times: Vec<f64>,
}

/// PR analytics of a set of authors over a period (PRs merged in it, bots excluded).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrStats {
    pub merged: u64,
    /// Pickup times, ascending.
    pub pickups: Vec<f64>,
    pub first_time_pass: u64,
}

/// The nearest-rank quantile (rank `max(1, ceil(q·n))`), as METRICS.md's sketch reports it.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = ((q * n as f64 - 1e-9).ceil() as usize).clamp(1, n);
    sorted.get(rank - 1).copied()
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds().max(0) as f64) / 1000.0
}

fn in_period(at: DateTime<Utc>, from: NaiveDate, to: NaiveDate) -> bool {
    let day = at.with_timezone(&TIMEZONE).date_naive();
    day >= from && day <= to
}

impl Truth {
    /// The security alerts of `repos`: open at the end of the history, and fixed on a day of
    /// `from..=to` (org timezone), as `GET /v1/security` counts them.
    pub fn security(&self, repos: &[String], from: NaiveDate, to: NaiveDate) -> (u64, u64) {
        let of_repos = self.alerts.iter().filter(|a| repos.contains(&a.repo));
        let (mut open, mut fixed) = (0, 0);
        for alert in of_repos {
            match alert.closed_at {
                None => open += 1,
                Some(at) if alert.fixed && in_period(at, from, to) => fixed += 1,
                Some(_) => {}
            }
        }
        (open, fixed)
    }

    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Truth {
        Truth {
            start,
            end,
            prs: Vec::new(),
            deployments: Vec::new(),
            incidents: Vec::new(),
            main_history: BTreeMap::new(),
            staging: Vec::new(),
            tickets: Vec::new(),
            alerts: Vec::new(),
        }
    }

    fn successes_in_order(&self, repo: &str) -> Vec<&DeploymentTruth> {
        let mut v: Vec<&DeploymentTruth> = self
            .deployments
            .iter()
            .filter(|d| d.repo == repo && d.success)
            .collect();
        v.sort_by(|a, b| (a.finished_at, &a.entity).cmp(&(b.finished_at, &b.entity)));
        v
    }

    /// For each shipped PR (`repo`, number): the deployment that first shipped it and when it
    /// finished. A successful deployment ships the PRs whose merge commit lies after the
    /// previous successful deployment's commit and at or before its own; a repo's first
    /// deployment ships nothing.
    pub fn shipments(&self) -> BTreeMap<(String, u64), (String, DateTime<Utc>)> {
        let mut out: BTreeMap<(String, u64), (String, DateTime<Utc>)> = BTreeMap::new();
        for (repo, history) in &self.main_history {
            let by_sha: BTreeMap<&str, &PrTruth> = self
                .prs
                .iter()
                .filter(|p| &p.repo == repo)
                .filter_map(|p| p.merge_sha.as_deref().map(|s| (s, p)))
                .collect();
            let position = |sha: &str| history.iter().position(|c| c == sha);
            let successes = self.successes_in_order(repo);
            for pair in successes.windows(2) {
                let (prev, this) = (pair[0], pair[1]);
                let (Some(p), Some(t)) = (position(&prev.sha), position(&this.sha)) else {
                    continue;
                };
                if t <= p {
                    continue;
                }
                for sha in &history[p + 1..=t] {
                    if let Some(pr) = by_sha.get(sha.as_str()) {
                        let key = (repo.clone(), pr.number);
                        let candidate = (this.entity.clone(), this.finished_at);
                        let earlier = out
                            .get(&key)
                            .is_none_or(|(e, f)| (candidate.1, &candidate.0) < (*f, e));
                        if earlier {
                            out.insert(key, candidate);
                        }
                    }
                }
            }
        }
        out
    }

    /// Deployments (by entity) that failed: by status, by an incident that blames them, or by a
    /// revert of a PR they shipped.
    pub fn failed_deployments(&self) -> BTreeSet<String> {
        let mut failed: BTreeSet<String> = self
            .deployments
            .iter()
            .filter(|d| !d.success)
            .map(|d| d.entity.clone())
            .collect();
        for incident in &self.incidents {
            let Some(service) = SERVICES.iter().find(|s| s.name == incident.service) else {
                continue;
            };
            let repos: Vec<String> = service.repos.iter().map(|r| full_name(r)).collect();
            let blamed = self
                .deployments
                .iter()
                .filter(|d| d.success && repos.contains(&d.repo))
                .filter(|d| {
                    d.finished_at < incident.opened_at
                        && incident.opened_at - d.finished_at <= BLAME_WINDOW
                })
                .max_by(|a, b| (a.finished_at, &a.entity).cmp(&(b.finished_at, &b.entity)));
            if let Some(d) = blamed {
                failed.insert(d.entity.clone());
            }
        }
        let shipments = self.shipments();
        for revert in self.prs.iter().filter(|p| p.title.starts_with("Revert \"")) {
            let (Some(merged), Some(target)) = (revert.merged_at, revert.reverts) else {
                continue;
            };
            let original = self.prs.iter().find(|p| {
                p.repo == revert.repo
                    && p.number == target
                    && p.merged_at
                        .is_some_and(|m| m <= merged && merged - m <= REVERT_WINDOW)
            });
            if let Some(original) = original {
                if let Some((entity, _)) = shipments.get(&(original.repo.clone(), original.number))
                {
                    failed.insert(entity.clone());
                }
            }
        }
        failed
    }

    /// DORA numbers of these repos (`owner/name`) for deployments finishing in [from, to]
    /// (dates in the org's timezone).
    pub fn dora(&self, repos: &[String], from: NaiveDate, to: NaiveDate) -> DoraTruth {
        let failed = self.failed_deployments();
        let mut out = DoraTruth::default();
        for d in self.deployments.iter().filter(|d| repos.contains(&d.repo)) {
            if !in_period(d.finished_at, from, to) {
                continue;
            }
            out.attempts += 1;
            out.deployments += u64::from(d.success);
            out.failed += u64::from(failed.contains(&d.entity));
        }
        let shipments = self.shipments();
        for pr in self
            .prs
            .iter()
            .filter(|p| repos.contains(&p.repo) && !p.is_bot)
        {
            let Some((_, finished)) = shipments.get(&(pr.repo.clone(), pr.number)) else {
                continue;
            };
            if in_period(*finished, from, to) {
                let start = pr.first_commit_at().unwrap_or(pr.created_at);
                out.lead_times.push(secs(start, *finished));
            }
        }
        out.lead_times.sort_by(f64::total_cmp);
        out
    }

    /// PR analytics of PRs by these authors merged in [from, to].
    pub fn pull_requests(&self, authors: &[String], from: NaiveDate, to: NaiveDate) -> PrStats {
        let mut out = PrStats::default();
        for pr in self
            .prs
            .iter()
            .filter(|p| !p.is_bot && authors.contains(&p.author))
        {
            let Some(merged) = pr.merged_at else {
                continue;
            };
            if !in_period(merged, from, to) {
                continue;
            }
            out.merged += 1;
            out.first_time_pass += u64::from(pr.first_time_pass());
            if let Some(p) = pr.pickup_seconds() {
                out.pickups.push(p);
            }
        }
        out.pickups.sort_by(f64::total_cmp);
        out
    }
}

impl Truth {
    /// When each ticket's work first reached production: the finish of the first successful
    /// production deployment that shipped a PR naming it (tickets without one are absent).
    pub fn ticket_first_shipments(&self) -> BTreeMap<String, DateTime<Utc>> {
        let shipments = self.shipments();
        let mut out: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for pr in &self.prs {
            let (Some(key), Some((_, finished))) =
                (&pr.ticket, shipments.get(&(pr.repo.clone(), pr.number)))
            else {
                continue;
            };
            let first = out.entry(key.clone()).or_insert(*finished);
            *first = (*first).min(*finished);
        }
        out
    }

    /// Ticket cycle and lead times of `team`'s tickets (config `tickets:`) in [from, to] (dates
    /// in the org's timezone): cycle time (started → done) in the period it was done in, lead
    /// time (started → first production deployment shipping a PR naming it) in the period
    /// that deployment finished in. Tickets never started have neither.
    pub fn tickets(&self, team: &str, from: NaiveDate, to: NaiveDate) -> TicketStats {
        let shipped = self.ticket_first_shipments();
        let mut out = TicketStats::default();
        for ticket in self.tickets.iter().filter(|t| t.team == team) {
            let Some(started) = ticket.started_at else {
                continue;
            };
            if let Some(done) = ticket.done_at.filter(|d| in_period(*d, from, to)) {
                out.done += 1;
                out.cycle_times.push(secs(started, done));
            }
            if let Some(first) = shipped
                .get(&ticket.key)
                .filter(|f| in_period(**f, from, to))
            {
                out.lead_times.push(secs(started, *first));
            }
        }
        out.cycle_times.sort_by(f64::total_cmp);
        out.lead_times.sort_by(f64::total_cmp);
        out
    }

    /// [`Truth::tickets`] for each ISO week (org timezone) of the history, oldest first.
    pub fn ticket_weeks(&self, team: &str) -> Vec<(IsoWeek, TicketStats)> {
        let from = self.start.with_timezone(&TIMEZONE).date_naive();
        let to = (self.end - Duration::seconds(1))
            .with_timezone(&TIMEZONE)
            .date_naive();
        flowmeter::time::weeks_between(from, to)
            .into_iter()
            .map(|week| {
                let stats = self.tickets(team, week.monday_date(), week.sunday_date());
                (week, stats)
            })
            .collect()
    }

    /// The tickets each environment (`staging`, `production`) holds at the end of the history:
    /// those with a merged PR naming it at or before the commit the environment's latest
    /// successful deployment of that PR's repository runs.
    pub fn tickets_in_environments(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out = BTreeMap::new();
        for (environment, deployments) in [
            ("staging", &self.staging),
            ("production", &self.deployments),
        ] {
            let mut keys = BTreeSet::new();
            for pr in &self.prs {
                let (Some(key), Some(sha)) = (&pr.ticket, &pr.merge_sha) else {
                    continue;
                };
                let latest = deployments
                    .iter()
                    .filter(|d| d.repo == pr.repo && d.success)
                    .max_by(|a, b| (a.finished_at, &a.entity).cmp(&(b.finished_at, &b.entity)));
                let (Some(latest), Some(history)) = (latest, self.main_history.get(&pr.repo))
                else {
                    continue;
                };
                let position = |s: &str| history.iter().position(|c| c == s);
                if let (Some(merged), Some(deployed)) = (position(sha), position(&latest.sha)) {
                    if merged <= deployed {
                        keys.insert(key.clone());
                    }
                }
            }
            out.insert(environment.to_string(), keys);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[5.0], 0.9), Some(5.0));
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn pr(number: u64, merge_sha: &str, merged: &str, ticket: &str) -> PrTruth {
        PrTruth {
            repo: "acme/web".into(),
            number,
            author: "ana".into(),
            is_bot: false,
            title: format!("{ticket}: change {number}"),
            created_at: at(merged) - Duration::hours(2),
            reviewable_at: at(merged) - Duration::hours(2),
            head_pushes: vec![],
            interactions: vec![],
            changes_requested: false,
            merged_at: Some(at(merged)),
            merge_sha: Some(merge_sha.into()),
            reverts: None,
            hotfix: false,
            ticket: Some(ticket.into()),
        }
    }

    fn deployment(entity: &str, sha: &str, finished: &str) -> DeploymentTruth {
        DeploymentTruth {
            repo: "acme/web".into(),
            entity: entity.into(),
            sha: sha.into(),
            success: true,
            started_at: at(finished) - Duration::minutes(10),
            finished_at: at(finished),
        }
    }

    fn ticket(key: &str, started: Option<&str>, done: Option<&str>) -> TicketTruth {
        TicketTruth {
            key: key.into(),
            entity: format!("linear:{key}"),
            team: "growth".into(),
            created_at: at("2026-03-02T08:00:00Z"),
            started_at: started.map(at),
            done_at: done.map(at),
            canceled_at: None,
            fix_version: None,
            sprint: None,
            prs: vec![],
            deliveries: 1,
        }
    }

    /// One week (2026-W10); GRO-1's PR shipped Tue 12:00 and the ticket was done Tue 15:00,
    /// GRO-2's PR is in staging only, GRO-3 was never started.
    #[test]
    fn ticket_times_and_environments_of_a_tiny_history() {
        let mut truth = Truth::new(at("2026-03-01T23:00:00Z"), at("2026-03-08T23:00:00Z"));
        truth.main_history.insert(
            "acme/web".into(),
            vec!["root".into(), "m1".into(), "m2".into()],
        );
        truth.prs = vec![
            pr(1, "m1", "2026-03-03T10:00:00Z", "GRO-1"),
            pr(2, "m2", "2026-03-04T09:00:00Z", "GRO-2"),
        ];
        truth.deployments = vec![
            deployment("gh:1", "root", "2026-02-27T10:00:00Z"),
            deployment("gh:2", "m1", "2026-03-03T12:00:00Z"),
        ];
        truth.staging = vec![deployment("gh:3", "m2", "2026-03-04T10:00:00Z")];
        truth.tickets = vec![
            ticket(
                "GRO-1",
                Some("2026-03-02T09:00:00Z"),
                Some("2026-03-03T15:00:00Z"),
            ),
            ticket("GRO-2", Some("2026-03-03T09:00:00Z"), None),
            ticket("GRO-3", None, None),
        ];
        let week = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).expect("date");
        let expected = TicketStats {
            done: 1,
            cycle_times: vec![30.0 * 3600.0],
            lead_times: vec![27.0 * 3600.0],
        };
        assert_eq!(truth.tickets("growth", week(2), week(8)), expected);
        assert_eq!(
            truth.tickets("growth", week(4), week(8)),
            TicketStats::default()
        );
        assert_eq!(
            truth.tickets("payments", week(2), week(8)),
            TicketStats::default()
        );
        let weeks = truth.ticket_weeks("growth");
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0].0.to_string(), "2026-W10");
        assert_eq!(weeks[0].1, expected);
        let environments = truth.tickets_in_environments();
        let keys = |env: &str| -> Vec<String> { environments[env].iter().cloned().collect() };
        assert_eq!(keys("staging"), ["GRO-1", "GRO-2"]);
        assert_eq!(keys("production"), ["GRO-1"]);
    }
}
