//! The digest's one model: what the Monday digest says, decided once, from the weekly rollups
//! the edge loads. The renderers ([`super::slack`], [`super::email`], [`super::text`],
//! [`super::teams`]) only lay it out, so the three channels can never disagree.
//!
//! This module holds the model's types and [`build_digest`], which fills them: the org
//! headline, one row per team, the slowest PRs and the open incidents. Each number of a week,
//! with its level and its change against the week before, is read in `metric.rs`; whether a
//! team "needs attention", and why, is decided in `attention.rs` (its module doc gives the
//! rule and the thresholds, which are re-exported here).

mod attention;
mod flow;
mod metric;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::format;
use crate::config::Goal;
use crate::derive::Rollup;
use crate::metrics::dora::PRODUCTION;
use crate::metrics::environments::RepoEnvironments;
use crate::metrics::goals::{evaluate, GoalStatus, ScopeReports};
use crate::metrics::incidents::OpenIncident;
use crate::metrics::levels::{DoraLevel, DAY_SECONDS};
use crate::metrics::merge_weeks;
use crate::metrics::{CycleTimeReport, DoraReport, PullRequestReport, ReportWindow};
use crate::time::{iso_week, IsoWeek};

pub use attention::{
    ATTENTION_RULE, HISTORY_WEEKS, LEVEL_DROP_K, MAD_K, MIN_DEPLOYMENT_BASELINE,
    MIN_DURATION_SAMPLES, MIN_HISTORY_WEEKS, MIN_INCIDENTS, MIN_RATE_DENOMINATOR, MIN_RATE_EVENTS,
    RATE_ALPHA,
};
pub use metric::{Change, Metric, MetricKind};

use attention::assess;
use flow::flow_lines;
pub use flow::FlowLine;
use metric::metric;

/// A PR "waited for a first review" when its pickup took longer than this (2 days).
pub const REVIEW_WAIT_SECONDS: f64 = 2.0 * DAY_SECONDS;
/// The slowest PRs listed.
pub const SLOWEST_PRS: usize = 3;
/// A team's goals are evaluated over the reported week and the 3 before it, the period
/// `GET /v1/goals` answers by default.
pub const GOAL_WEEKS: usize = 4;
/// Open incidents listed; the rest are counted.
pub const OPEN_INCIDENTS_SHOWN: usize = 10;

/// Everything the digest is built from; the edge fills it from the table and the config.
#[derive(Clone, Debug)]
pub struct DigestInput {
    pub org: String,
    /// The last full ISO week, the one being reported.
    pub week: IsoWeek,
    pub timezone: Tz,
    /// When the digest is built: ages of open incidents and the "generated" line.
    pub now: DateTime<Utc>,
    /// The org's rollups of the reported week and the 4 before it; a missing week has no data.
    /// Several rollups of one week are merged.
    pub org_weeks: Vec<(IsoWeek, Rollup)>,
    /// In config order, which is the order of the team rows.
    pub teams: Vec<TeamInput>,
    /// PRs merged in the reported week (bots excluded), any team. PRs whose merge falls
    /// outside the week (in the org timezone) are ignored.
    pub week_prs: Vec<PrSummary>,
    pub open_incidents: Vec<OpenIncident>,
    pub links: Links,
    /// Each configured repo's environments (`GET /v1/environments`): what waits for the next.
    pub environments: Vec<RepoEnvironments>,
}

/// One team's rollups for the reported week and the 4 before it. Each list may hold several
/// rollups per week (one per repo, author or service); they are merged.
#[derive(Clone, Debug, Default)]
pub struct TeamInput {
    pub name: String,
    /// Deployments, lead time, change failure rate, recovery (the team's `repo:` rollups).
    pub delivery_weeks: Vec<(IsoWeek, Rollup)>,
    /// Cycle time, review latency, first-time pass rate (the team's PR rollups).
    pub pr_weeks: Vec<(IsoWeek, Rollup)>,
    /// Incidents opened (the team's `service:` rollups).
    pub incident_weeks: Vec<(IsoWeek, Rollup)>,
    /// `owner/repo`; with `members`, which of `week_prs` are the team's.
    pub repos: Vec<String>,
    /// GitHub logins.
    pub members: Vec<String>,
    /// The goals that apply to the team (`Goals::for_team`), each with whom it was set for.
    pub goals: Vec<(Goal, String)>,
    /// Tickets done and shipped (the rollups of the team's ticket projects, config `tickets:`).
    pub ticket_weeks: Vec<(IsoWeek, Rollup)>,
}

/// A merged PR, for the slowest-PR list and the review-wait count.
#[derive(Clone, Debug, PartialEq)]
pub struct PrSummary {
    /// `owner/repo`.
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub author: String,
    /// GitHub's `html_url`; when missing, `Links::github` builds one.
    pub url: Option<String>,
    /// First review − opened (or ready for review); `None` without a review.
    pub pickup_seconds: Option<f64>,
    /// Cycle time total.
    pub total_seconds: f64,
    pub merged_at: DateTime<Utc>,
}

/// Base URLs the digest links to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Links {
    /// The dashboard (e.g. `https://flowmeter.example.com`); linked at the end when set.
    pub dashboard: Option<String>,
    /// GitHub's web base (e.g. `https://github.com`), for PRs without a `url`:
    /// `<github>/<owner/repo>/pull/<number>`, or the PR's page on its own forge
    /// (`crate::repo::pull_request_url`).
    pub github: Option<String>,
}

/// The digest: one per org and week, rendered three ways.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Digest {
    pub org: String,
    /// `2026-W42`.
    pub week: String,
    /// `12–18 Oct 2026`.
    pub dates: String,
    /// IANA name of the org timezone.
    pub timezone: String,
    pub generated_at: DateTime<Utc>,
    /// `Mon 19 Oct 2026 09:00 (Europe/Berlin)`.
    pub generated: String,
    pub headline: Headline,
    /// In config order.
    pub teams: Vec<TeamRow>,
    /// The flagged teams, in config order.
    pub attention: Vec<Attention>,
    /// Teams with goals off track over the last [`GOAL_WEEKS`] weeks, in config order. Goals do
    /// not make a team "need attention": that rule is `attention.rs`'s alone.
    pub goals_off_track: Vec<GoalsOffTrack>,
    /// Teams' tickets of the week, then environments ahead of the next ([`flow`]).
    pub flow: Vec<FlowLine>,
    /// PRs merged this week (bots excluded), as handed in and inside the week.
    pub prs_merged: usize,
    /// The slowest PRs by cycle time total, slowest first.
    pub slowest_prs: Vec<SlowPr>,
    /// The oldest open incidents first, at most [`OPEN_INCIDENTS_SHOWN`].
    pub open_incidents: Vec<OpenIncidentLine>,
    /// Open incidents not listed.
    pub more_open_incidents: usize,
    pub dashboard_url: Option<String>,
}

/// The org's four DORA numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Headline {
    pub deployments: Metric,
    pub lead_time: Metric,
    pub change_failure_rate: Metric,
    pub recovery: Metric,
    /// No org rollup (or an empty one) for the week: nothing was recorded at all.
    pub no_data: bool,
}

impl Headline {
    pub fn metrics(&self) -> [&Metric; 4] {
        [
            &self.deployments,
            &self.lead_time,
            &self.change_failure_rate,
            &self.recovery,
        ]
    }
}

/// One team row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamRow {
    pub name: String,
    pub deployments: Metric,
    pub lead_time: Metric,
    pub change_failure_rate: Metric,
    pub recovery: Metric,
    pub cycle_time: Metric,
    pub review_latency: Metric,
    pub first_time_pass: Metric,
    pub incidents_opened: Metric,
    /// Nothing at all was recorded for the team this week.
    pub no_data: bool,
    pub needs_attention: bool,
}

impl TeamRow {
    /// The team's metrics in display order: the four DORA numbers, then PRs and incidents.
    pub fn metrics(&self) -> [&Metric; 8] {
        [
            &self.deployments,
            &self.lead_time,
            &self.change_failure_rate,
            &self.recovery,
            &self.cycle_time,
            &self.review_latency,
            &self.first_time_pass,
            &self.incidents_opened,
        ]
    }
}

/// A team that needs attention, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attention {
    pub team: String,
    pub reasons: Vec<Reason>,
    /// The team's PRs merged this week that waited over 2 days for a first review.
    pub waited_for_review: u64,
    /// The reasons in one line: `lead time p50 rose from 6 h to 2.1 d; 3 PRs waited over 2
    /// days for a first review`.
    pub summary: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// Worse than the baseline by more than k·MAD.
    Regression,
    /// The DORA level fell (without a regression beyond the threshold).
    LevelDrop,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    pub metric: MetricKind,
    pub kind: ReasonKind,
    /// The median of the previous weeks (deployment frequency's level drop: last week's
    /// value).
    pub baseline: f64,
    pub current: f64,
    /// The baseline's level and this week's, when the level dropped.
    pub level_drop: Option<(DoraLevel, DoraLevel)>,
    /// In plain words: `lead time p50 rose from 6 h to 2.1 d`.
    pub text: String,
}

/// A team's goals that are off track (`on_track` false; no data is never off track).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoalsOffTrack {
    pub team: String,
    /// One per goal: `lead time p50 1.1 d, goal 24h (off track)`.
    pub goals: Vec<String>,
    /// The goals in one line, `; `-separated.
    pub summary: String,
}

/// One of the slowest PRs of the week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlowPr {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub author: String,
    /// A safe `http(s)` link, or `None` (then the PR is named without a link).
    pub url: Option<String>,
    pub total_seconds: f64,
    /// `4.2 d`.
    pub total: String,
    /// Time to first review, `None` without a review.
    pub pickup: Option<String>,
    /// The first team (config order) owning the repo or the author.
    pub team: Option<String>,
}

impl SlowPr {
    /// The PR's details in reading order: `4.2 d total`, `first review after 3 d`, `by alice`,
    /// and its team. `name` writes the author and the team as the channel needs them
    /// (escaped, cut).
    pub fn details(&self, name: impl Fn(&str) -> String) -> Vec<String> {
        let mut details = vec![format!("{} total", self.total)];
        if let Some(pickup) = &self.pickup {
            details.push(format!("first review after {pickup}"));
        }
        details.push(format!("by {}", name(&self.author)));
        if let Some(team) = &self.team {
            details.push(name(team));
        }
        details
    }
}

/// An incident still open at `now`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpenIncidentLine {
    pub id: String,
    pub service: String,
    pub severity: Option<String>,
    pub opened_at: DateTime<Utc>,
    /// On the org's wall clock: `Wed 14 Oct 12:00`.
    pub opened: String,
    pub age_seconds: f64,
    /// `11.5 d`.
    pub age: String,
}

/// The title of the digest's goals section, shown only when a team has a goal off track.
pub const GOALS_TITLE: &str = "Goals off track";

/// The title of the digest's tickets and environments section ([`flow`]).
pub const FLOW_TITLE: &str = "Tickets and environments";

/// A row of the digest's titled lists (goals off track, tickets and environments): every
/// renderer writes both as `subject: summary`, so they read the rows here and differ only in
/// markup.
pub(crate) type ListRow<'a> = (&'a String, &'a String);

impl Digest {
    /// The teams with goals off track: the team, then its goals in one line.
    pub(crate) fn goal_rows(&self) -> impl ExactSizeIterator<Item = ListRow<'_>> {
        self.goals_off_track.iter().map(|g| (&g.team, &g.summary))
    }

    /// The teams' tickets, then the environments ahead of the next.
    pub(crate) fn flow_rows(&self) -> impl ExactSizeIterator<Item = ListRow<'_>> {
        self.flow.iter().map(|f| (&f.subject, &f.summary))
    }
}

/// Builds the digest. Pure: the same input gives the same digest.
pub fn build_digest(input: &DigestInput) -> Digest {
    let tz = input.timezone;
    let org_weeks = weeks_of(&input.org_weeks, input.week);
    let headline = Headline {
        deployments: metric(MetricKind::Deployments, &org_weeks),
        lead_time: metric(MetricKind::LeadTime, &org_weeks),
        change_failure_rate: metric(MetricKind::ChangeFailureRate, &org_weeks),
        recovery: metric(MetricKind::Recovery, &org_weeks),
        no_data: is_blank(&org_weeks),
    };

    let week_prs: Vec<&PrSummary> = input
        .week_prs
        .iter()
        .filter(|pr| iso_week(pr.merged_at, tz) == input.week)
        .collect();

    let mut teams = Vec::new();
    let mut attention = Vec::new();
    let mut goals_off_track = Vec::new();
    for team in &input.teams {
        if let Some(off) = off_track(team, input.week) {
            goals_off_track.push(off);
        }
        let (row, flagged) = team_row(team, input.week, &week_prs);
        if let Some(flagged) = flagged {
            attention.push(flagged);
        }
        teams.push(row);
    }

    Digest {
        org: format::one_line(&input.org),
        week: input.week.to_string(),
        dates: format::week_dates(input.week),
        timezone: tz.name().to_string(),
        generated_at: input.now,
        generated: format::local_time_with_zone(input.now, tz),
        headline,
        teams,
        attention,
        goals_off_track,
        flow: flow_lines(&input.teams, &input.environments, input.week),
        prs_merged: week_prs.len(),
        slowest_prs: slowest_prs(&week_prs, &input.teams, &input.links),
        open_incidents: open_incidents(&input.open_incidents, input.now, tz),
        more_open_incidents: input
            .open_incidents
            .len()
            .saturating_sub(OPEN_INCIDENTS_SHOWN),
        dashboard_url: input
            .links
            .dashboard
            .as_deref()
            .and_then(format::safe_url)
            .map(str::to_string),
    }
}

/// The rollups of `week − 4 ..= week`, oldest first, same-week parts merged; `None` for a
/// week without a rollup.
fn weeks_of(parts: &[(IsoWeek, Rollup)], week: IsoWeek) -> Vec<Option<Rollup>> {
    let merged: BTreeMap<IsoWeek, Rollup> =
        merge_weeks(parts.iter().cloned()).into_iter().collect();
    let mut weeks = vec![week];
    for _ in 0..HISTORY_WEEKS {
        let earliest = weeks[weeks.len() - 1];
        weeks.push(earliest.prev());
    }
    weeks.reverse();
    weeks.iter().map(|w| merged.get(w).cloned()).collect()
}

/// Whether the reported (last) week has no rollup or an empty one.
fn is_blank(weeks: &[Option<Rollup>]) -> bool {
    weeks
        .last()
        .and_then(Option::as_ref)
        .is_none_or(Rollup::is_empty)
}

fn owns(team: &TeamInput, pr: &PrSummary) -> bool {
    team.repos.iter().any(|r| r.eq_ignore_ascii_case(&pr.repo))
        || team
            .members
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&pr.author))
}

fn team_row(
    team: &TeamInput,
    week: IsoWeek,
    week_prs: &[&PrSummary],
) -> (TeamRow, Option<Attention>) {
    let delivery = weeks_of(&team.delivery_weeks, week);
    let prs = weeks_of(&team.pr_weeks, week);
    let incidents = weeks_of(&team.incident_weeks, week);
    let sources = [
        (MetricKind::Deployments, &delivery),
        (MetricKind::LeadTime, &delivery),
        (MetricKind::ChangeFailureRate, &delivery),
        (MetricKind::Recovery, &delivery),
        (MetricKind::CycleTime, &prs),
        (MetricKind::ReviewLatency, &prs),
        (MetricKind::FirstTimePass, &prs),
        (MetricKind::IncidentsOpened, &incidents),
    ];
    let reasons: Vec<Reason> = sources
        .iter()
        .filter_map(|(kind, weeks)| assess(*kind, weeks))
        .collect();
    let row = TeamRow {
        name: format::one_line(&team.name),
        deployments: metric(MetricKind::Deployments, &delivery),
        lead_time: metric(MetricKind::LeadTime, &delivery),
        change_failure_rate: metric(MetricKind::ChangeFailureRate, &delivery),
        recovery: metric(MetricKind::Recovery, &delivery),
        cycle_time: metric(MetricKind::CycleTime, &prs),
        review_latency: metric(MetricKind::ReviewLatency, &prs),
        first_time_pass: metric(MetricKind::FirstTimePass, &prs),
        incidents_opened: metric(MetricKind::IncidentsOpened, &incidents),
        no_data: is_blank(&delivery) && is_blank(&prs) && is_blank(&incidents),
        needs_attention: !reasons.is_empty(),
    };
    if reasons.is_empty() {
        return (row, None);
    }
    let waited_for_review = week_prs
        .iter()
        .filter(|pr| owns(team, pr))
        .filter(|pr| pr.pickup_seconds.is_some_and(|p| p > REVIEW_WAIT_SECONDS))
        .count() as u64;
    let mut parts: Vec<String> = reasons.iter().map(|r| r.text.clone()).collect();
    if waited_for_review > 0 {
        parts.push(format!(
            "{} waited over 2 days for a first review",
            format::plural(waited_for_review, "PR", "PRs")
        ));
    }
    let attention = Attention {
        team: format::one_line(&team.name),
        reasons,
        waited_for_review,
        summary: parts.join("; "),
    };
    (row, Some(attention))
}

/// The team's goals off track over the [`GOAL_WEEKS`] weeks ending with `week`, from the same
/// reports `GET /v1/goals` builds; `None` when none is.
fn off_track(team: &TeamInput, week: IsoWeek) -> Option<GoalsOffTrack> {
    if team.goals.is_empty() {
        return None;
    }
    let weeks = crate::time::weeks_ending(week, GOAL_WEEKS);
    let from = weeks.first().map_or(week, |w| *w).monday_date();
    let to = week.sunday_date();
    let scope = format!("team:{}", team.name);
    let delivery = merge_weeks(team.delivery_weeks.iter().cloned());
    let prs = merge_weeks(team.pr_weeks.iter().cloned());
    let window = ReportWindow {
        scope: &scope,
        from,
        to,
        weeks: &weeks,
    };
    let dora = DoraReport::build(&window, &delivery, PRODUCTION);
    let cycle_time = CycleTimeReport::build(&window, &prs);
    let pull_requests = PullRequestReport::build(&window, &prs);
    let goals: Vec<(&Goal, String)> = team.goals.iter().map(|(g, s)| (g, s.clone())).collect();
    let report = evaluate(
        &goals,
        &ScopeReports {
            dora: &dora,
            cycle_time: &cycle_time,
            pull_requests: &pull_requests,
        },
        None,
    );
    let lines: Vec<String> = report
        .goals
        .iter()
        .filter(|g| g.on_track == Some(false))
        .map(goal_line)
        .collect();
    (!lines.is_empty()).then(|| GoalsOffTrack {
        team: format::one_line(&team.name),
        summary: lines.join("; "),
        goals: lines,
    })
}

/// `lead time p50 1.1 d, goal 24h (off track)`; a level goal shows the level.
fn goal_line(goal: &GoalStatus) -> String {
    let value = match (goal.target_level, goal.level, goal.value) {
        (Some(_), Some(level), _) => format::level(level).to_string(),
        (_, _, None) => "no data".to_string(),
        (_, _, Some(v)) => match goal.unit {
            "seconds" => format::duration(v),
            "fraction" => format::percent(v),
            _ => format!("{}/week", format::number(v)),
        },
    };
    format!(
        "{} {value}, goal {} (off track)",
        goal.metric.label(),
        format::one_line(&goal.target)
    )
}

fn pr_url(pr: &PrSummary, links: &Links) -> Option<String> {
    if let Some(url) = pr.url.as_deref().and_then(format::safe_url) {
        return Some(url.to_string());
    }
    let base = links.github.as_deref()?;
    let url = crate::repo::pull_request_url(&pr.repo, pr.number, base);
    format::safe_url(&url).map(str::to_string)
}

fn slowest_prs(week_prs: &[&PrSummary], teams: &[TeamInput], links: &Links) -> Vec<SlowPr> {
    let mut prs: Vec<&PrSummary> = week_prs.to_vec();
    prs.sort_by(|a, b| {
        b.total_seconds
            .total_cmp(&a.total_seconds)
            .then_with(|| a.repo.cmp(&b.repo))
            .then_with(|| a.number.cmp(&b.number))
    });
    prs.into_iter()
        .take(SLOWEST_PRS)
        .map(|pr| SlowPr {
            repo: format::one_line(&pr.repo),
            number: pr.number,
            title: format::one_line(&pr.title),
            author: format::one_line(&pr.author),
            url: pr_url(pr, links),
            total_seconds: pr.total_seconds,
            total: format::duration(pr.total_seconds),
            pickup: pr.pickup_seconds.map(format::duration),
            team: teams
                .iter()
                .find(|t| owns(t, pr))
                .map(|t| format::one_line(&t.name)),
        })
        .collect()
}

fn open_incidents(open: &[OpenIncident], now: DateTime<Utc>, tz: Tz) -> Vec<OpenIncidentLine> {
    let mut sorted: Vec<&OpenIncident> = open.iter().collect();
    sorted.sort_by(|a, b| (a.opened_at, &a.id).cmp(&(b.opened_at, &b.id)));
    sorted
        .into_iter()
        .take(OPEN_INCIDENTS_SHOWN)
        .map(|incident| {
            let age_seconds =
                ((now - incident.opened_at).num_milliseconds().max(0) as f64) / 1000.0;
            OpenIncidentLine {
                id: format::one_line(&incident.id),
                service: format::one_line(&incident.service),
                severity: incident.severity.as_deref().map(format::one_line),
                opened_at: incident.opened_at,
                opened: format::local_time(incident.opened_at, tz),
                age_seconds,
                age: format::duration(age_seconds),
            }
        })
        .collect()
}
