//! Which events a change makes. Two moments decide them, both pure:
//!
//! - [`projection_events`]: a projection's old and new state (incidents opening and resolving,
//!   PRs merging, critical and high security alerts appearing, deployments to environments
//!   other than production finishing or failing);
//! - [`deployment_events`]: a repo's production deployment links, where what a production
//!   deployment shipped is known (its projection is written before its `ships` link is): the
//!   deployments [`announces`] picked when their projections changed finish or fail there, and
//!   a success that follows failures recovers them.
//!
//! Every event is deduplicated by its id downstream; an old change (more than
//! [`super::MAX_AGE_HOURS`] before `now`) is not announced.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{
    event_id, AlertDetail, AttentionDetail, DeploymentDetail, DomainEvent, EventType,
    IncidentDetail, PullRequestDetail,
};
use crate::config::OrgConfig;
use crate::derive::links::{next_success, shipped_by_deployment};
use crate::derive::{Deployment, Incident, Projection, PullRequest, SecurityAlert};
use crate::digest::Attention;
use crate::metrics::lists::GITHUB_WEB;
use crate::model::{AlertSeverity, DeploymentState, EntityKey};
use crate::time::IsoWeek;

/// The configured teams owning `repo`, in config order.
pub fn teams_of_repo(config: &OrgConfig, repo: &str) -> Vec<String> {
    config
        .teams()
        .filter(|(_, team)| team.repos.iter().any(|r| r == repo))
        .map(|(name, _)| name.to_string())
        .collect()
}

fn teams_of_repos<'a>(config: &OrgConfig, repos: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut teams = BTreeSet::new();
    for repo in repos {
        teams.extend(teams_of_repo(config, repo));
    }
    teams.into_iter().collect()
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

fn state_name(state: Option<DeploymentState>) -> &'static str {
    match state {
        Some(DeploymentState::Success) => "success",
        Some(DeploymentState::Failure) => "failure",
        Some(DeploymentState::Error) => "error",
        _ => "unknown",
    }
}

/// A deployment as an event tells it.
pub fn deployment_detail(d: &Deployment) -> DeploymentDetail {
    DeploymentDetail {
        id: d.id.clone(),
        repo: d.repo.clone(),
        environment: d.stage.clone(),
        source_environment: d.environment.clone(),
        sha: d.sha.clone(),
        workflow: d.workflow.clone(),
        state: state_name(d.state).to_string(),
        started_at: d.started_at,
        finished_at: d.finished_at,
        duration_seconds: d.started_at.zip(d.finished_at).map(|(s, f)| seconds(s, f)),
        url: d
            .sha
            .as_deref()
            .map(|sha| crate::repo::commit_url(&d.repo, sha, GITHUB_WEB)),
    }
}

/// A PR as an event tells it.
pub fn pull_request_detail(pr: &PullRequest) -> PullRequestDetail {
    PullRequestDetail {
        repo: pr.repo.clone(),
        number: pr.number,
        title: pr.title.clone(),
        author: pr.author.clone(),
        url: Some(pr.page_url(GITHUB_WEB)),
        merged_at: pr.merged_at,
        cycle_seconds: pr
            .merged_at
            .map(|merged| seconds(pr.first_commit_at.unwrap_or(pr.created_at), merged)),
        tickets: pr.tickets.clone(),
    }
}

/// A terminal attempt's event type: finished or failed (a status of failure or error).
fn terminal_type(d: &Deployment) -> Option<EventType> {
    if !d.is_attempt() {
        return None;
    }
    match d.state? {
        DeploymentState::Success => Some(EventType::DeploymentFinished),
        DeploymentState::Failure | DeploymentState::Error => Some(EventType::DeploymentFailed),
        _ => None,
    }
}

/// Whether a deployment's new state is a terminal attempt its old state was not (a first
/// finish, or another status or finish time): the change a finished or failed event tells.
fn reached_terminal(old: Option<&Deployment>, new: &Deployment) -> bool {
    let Some(kind) = terminal_type(new) else {
        return false;
    };
    old.is_none_or(|o| terminal_type(o) != Some(kind) || o.finished_at != new.finished_at)
}

/// The production deployment whose finish or failure [`deployment_events`] is to announce,
/// when its projection changed from `old` to `new`.
pub fn announces<'a>(old: Option<&Projection>, new: &'a Projection) -> Option<&'a Deployment> {
    let Projection::Deployment(new) = new else {
        return None;
    };
    let old = match old {
        Some(Projection::Deployment(o)) => Some(o),
        _ => None,
    };
    (new.is_production && reached_terminal(old, new)).then_some(new)
}

fn deployment_event(kind: EventType, d: &Deployment, config: &OrgConfig) -> Option<DomainEvent> {
    let finished = d.finished_at?;
    let id = event_id(kind, &[&d.key().partition_key(), &finished.to_rfc3339()]);
    let mut event = DomainEvent::new(kind, id, finished, config.org());
    event.repo = Some(d.repo.clone());
    event.environment = d.stage.clone();
    event.teams = teams_of_repo(config, &d.repo);
    event.deployment = Some(deployment_detail(d));
    Some(event)
}

/// The events of a projection's change from `old` to `new` at `now` (see the module doc;
/// production deployments are [`deployment_events`]'s).
pub fn projection_events(
    old: Option<&Projection>,
    new: &Projection,
    config: &OrgConfig,
    now: DateTime<Utc>,
) -> Vec<DomainEvent> {
    let events = match new {
        Projection::Deployment(d) => {
            let old = match old {
                Some(Projection::Deployment(o)) => Some(o),
                _ => None,
            };
            if d.is_production || !reached_terminal(old, d) {
                Vec::new()
            } else {
                terminal_type(d)
                    .and_then(|kind| deployment_event(kind, d, config))
                    .into_iter()
                    .collect()
            }
        }
        Projection::Incident(incident) => {
            let old = match old {
                Some(Projection::Incident(o)) => Some(o),
                _ => None,
            };
            incident_events(old, incident, config)
        }
        Projection::PullRequest(pr) => {
            let was_merged =
                matches!(old, Some(Projection::PullRequest(o)) if o.merged_at.is_some());
            match (pr.merged_at, was_merged) {
                (Some(merged), false) => vec![pr_merged(pr, merged, config)],
                _ => Vec::new(),
            }
        }
        Projection::SecurityAlert(alert) => {
            let old = match old {
                Some(Projection::SecurityAlert(o)) => Some(o),
                _ => None,
            };
            alert_event(old, alert, config).into_iter().collect()
        }
        Projection::Ticket(_) | Projection::App(_) => Vec::new(),
    };
    events.into_iter().filter(|e| e.is_fresh(now)).collect()
}

fn incident_events(old: Option<&Incident>, new: &Incident, config: &OrgConfig) -> Vec<DomainEvent> {
    let key = new.key().partition_key();
    let services: Vec<&str> = if new.services.is_empty() {
        vec![new.service.as_str()]
    } else {
        new.services.iter().map(String::as_str).collect()
    };
    let mut repos: BTreeSet<&str> = new.repo.iter().map(String::as_str).collect();
    for service in &services {
        if let Some(of_service) = config.repos_of_service(service) {
            repos.extend(of_service.iter().map(String::as_str));
        }
    }
    let detail = IncidentDetail {
        id: new.id.clone(),
        title: new.title.clone(),
        service: new.service.clone(),
        services: services.iter().map(|s| s.to_string()).collect(),
        opened_at: new.opened_at,
        resolved_at: new.resolved_at,
        duration_seconds: new.mttr_seconds(),
        url: new.html_url.clone().filter(|u| crate::repo::is_web_url(u)),
    };
    let make = |kind: EventType, at: DateTime<Utc>| {
        let mut event = DomainEvent::new(
            kind,
            event_id(kind, &[&key, &at.to_rfc3339()]),
            at,
            config.org(),
        );
        event.repo = new.repo.clone();
        event.teams = teams_of_repos(config, repos.iter().copied());
        event.severity = new.severity.as_ref().map(|s| s.to_lowercase());
        event.incident = Some(detail.clone());
        event
    };
    let mut events = Vec::new();
    if old.is_none_or(|o| o.opened_at != new.opened_at) {
        events.push(make(EventType::IncidentOpened, new.opened_at));
    }
    if let Some(resolved) = new.resolved_at {
        if old.is_none_or(|o| o.resolved_at != Some(resolved)) {
            events.push(make(EventType::IncidentResolved, resolved));
        }
    }
    events
}

fn pr_merged(pr: &PullRequest, merged: DateTime<Utc>, config: &OrgConfig) -> DomainEvent {
    let kind = EventType::PullRequestMerged;
    let id = event_id(kind, &[&pr.key().partition_key(), &merged.to_rfc3339()]);
    let mut event = DomainEvent::new(kind, id, merged, config.org());
    event.repo = Some(pr.repo.clone());
    event.teams = teams_of_repo(config, &pr.repo);
    event.pull_request = Some(pull_request_detail(pr));
    event
}

/// A critical or high alert that is open now and was not open at that severity or above before:
/// found, reopened, or raised.
fn alert_event(
    old: Option<&SecurityAlert>,
    new: &SecurityAlert,
    config: &OrgConfig,
) -> Option<DomainEvent> {
    let serious = |a: &SecurityAlert| a.is_open() && a.severity >= AlertSeverity::High;
    if !serious(new) || old.is_some_and(|o| serious(o) && o.severity >= new.severity) {
        return None;
    }
    let kind = EventType::SecurityAlert;
    // Found: when it was opened. Reopened or raised: the change is the snapshot that reopened
    // or raised it.
    let at = match old {
        Some(_) => new.updated_at,
        None => new.opened_at,
    };
    let id = event_id(
        kind,
        &[
            &new.key().partition_key(),
            new.severity.name(),
            &at.to_rfc3339(),
        ],
    );
    let mut event = DomainEvent::new(kind, id, at, config.org());
    event.repo = Some(new.repo.to_string());
    event.teams = teams_of_repo(config, &new.repo);
    event.severity = Some(new.severity.name().to_string());
    event.alert = Some(AlertDetail {
        kind: new.kind.prefix().to_string(),
        number: new.number,
        title: new.title.clone(),
        found_at: new.opened_at,
        url: new.html_url.clone().filter(|u| crate::repo::is_web_url(u)),
    });
    Some(event)
}

/// The production deployment events of one repo's link phase: for each deployment of
/// `announce` among `deployments` (the phase's, as `link_edits::repo_links` reads them), its
/// finish with what it shipped (the PRs `links::shipped_by_deployment` gives it, from
/// `history` and `merged`) or its failure; and for each announced success, a
/// `deployment.recovered` for every failed deployment it is the next success of.
pub fn deployment_events(
    deployments: &[Deployment],
    history: &[String],
    merged: &[PullRequest],
    announce: &BTreeSet<EntityKey>,
    config: &OrgConfig,
    now: DateTime<Utc>,
) -> Vec<DomainEvent> {
    let announced: Vec<&Deployment> = deployments
        .iter()
        .filter(|d| d.is_production && announce.contains(&d.key()))
        .collect();
    let Some(from) = announced.iter().filter_map(|d| d.finished_at).min() else {
        return Vec::new();
    };
    let shipped = shipped_by_deployment(deployments, history, merged, from);
    let mut events = Vec::new();
    for d in &announced {
        let Some(kind) = terminal_type(d) else {
            continue;
        };
        let Some(mut event) = deployment_event(kind, d, config) else {
            continue;
        };
        if kind == EventType::DeploymentFinished {
            let keys = shipped.get(&d.key()).cloned().unwrap_or_default();
            let mut prs: Vec<&PullRequest> = merged
                .iter()
                .filter(|pr| keys.contains(&pr.key()))
                .collect();
            prs.sort_by_key(|pr| (pr.merged_at, pr.number));
            event.shipped = Some(prs.into_iter().map(pull_request_detail).collect());
            events.extend(recoveries(d, deployments, config));
        }
        events.push(event);
    }
    events.sort_by_key(|e| (e.occurred_at, e.kind));
    events.into_iter().filter(|e| e.is_fresh(now)).collect()
}

/// The `deployment.recovered` events a successful production deployment makes: one for each
/// failed attempt whose next success it is.
fn recoveries(
    success: &Deployment,
    deployments: &[Deployment],
    config: &OrgConfig,
) -> Vec<DomainEvent> {
    let kind = EventType::DeploymentRecovered;
    let Some(recovered_at) = success.finished_at else {
        return Vec::new();
    };
    deployments
        .iter()
        .filter(|failed| failed.needs_next_success())
        .filter(|failed| {
            next_success(failed, deployments).is_some_and(|n| n.key() == success.key())
        })
        .filter_map(|failed| {
            let failed_at = failed.finished_at?;
            let id = event_id(
                kind,
                &[
                    &failed.key().partition_key(),
                    &success.key().partition_key(),
                ],
            );
            let mut event = DomainEvent::new(kind, id, recovered_at, config.org());
            event.repo = Some(failed.repo.clone());
            event.environment = failed.stage.clone();
            event.teams = teams_of_repo(config, &failed.repo);
            event.deployment = Some(deployment_detail(failed));
            event.recovered_by = Some(deployment_detail(success));
            event.recovery_seconds = Some(seconds(failed_at, recovered_at));
            Some(event)
        })
        .collect()
}

/// A repo's deployments as its link phase read them, with the run's announced deployments of
/// that repo in their new state (the index the phase read may not show them yet), in finish
/// order; and the keys of those announced.
pub fn with_announced(
    repo: &str,
    deployments: &[Deployment],
    announce: &BTreeMap<EntityKey, Deployment>,
) -> (Vec<Deployment>, BTreeSet<EntityKey>) {
    let keys: BTreeSet<EntityKey> = announce
        .iter()
        .filter(|(_, d)| d.repo == repo)
        .map(|(k, _)| k.clone())
        .collect();
    let mut all: Vec<Deployment> = deployments
        .iter()
        .filter(|d| !keys.contains(&d.key()))
        .cloned()
        .collect();
    all.extend(keys.iter().filter_map(|k| announce.get(k).cloned()));
    all.sort_by(|a, b| (a.finished_at, &a.id).cmp(&(b.finished_at, &b.id)));
    (all, keys)
}

/// The `pull_request.waiting` events among `prs` at `now`: each open, ready (not draft) PR of
/// a person (not a bot) with no review `wait` after it became reviewable. Once per PR and
/// reviewable time (a PR back from draft waits anew); `occurred_at` is the moment its wait
/// passed `wait`, so a PR that passed it more than a day ago (before the feature ran, or while
/// it was down) is not announced late.
pub fn waiting_events(
    prs: &[PullRequest],
    wait: chrono::Duration,
    config: &OrgConfig,
    now: DateTime<Utc>,
) -> Vec<DomainEvent> {
    let kind = EventType::PullRequestWaiting;
    prs.iter()
        .filter(|pr| pr.merged_at.is_none() && pr.closed_at.is_none() && !pr.draft)
        .filter(|pr| pr.first_review_at.is_none() && !config.is_bot(&pr.author, pr.author_is_bot))
        .filter(|pr| pr.reviewable_at + wait <= now)
        .map(|pr| {
            let at = pr.reviewable_at + wait;
            let id = event_id(
                kind,
                &[&pr.key().partition_key(), &pr.reviewable_at.to_rfc3339()],
            );
            let mut event = DomainEvent::new(kind, id, at, config.org());
            event.repo = Some(pr.repo.clone());
            event.teams = teams_of_repo(config, &pr.repo);
            event.pull_request = Some(pull_request_detail(pr));
            event.waiting_seconds = Some(seconds(pr.reviewable_at, now));
            event
        })
        .filter(|e| e.is_fresh(now))
        .collect()
}

/// The `team.needs_attention` events of `week`'s verdicts (the digest's `attention`, as
/// `GET /v1/attention` answers them): one per team and set of reasons, so the same verdict
/// decided again in the week is the same event, and a reason added later makes a new one.
pub fn attention_events(
    attention: &[Attention],
    week: IsoWeek,
    config: &OrgConfig,
    now: DateTime<Utc>,
) -> Vec<DomainEvent> {
    let kind = EventType::TeamNeedsAttention;
    attention
        .iter()
        .filter(|a| !a.reasons.is_empty() || a.waited_for_review > 0)
        .map(|a| {
            let mut reasons: Vec<String> = a
                .reasons
                .iter()
                .map(|r| format!("{:?}/{:?}", r.metric, r.kind))
                .collect();
            reasons.sort();
            let week_name = week.to_string();
            let id = event_id(kind, &[&a.team, &week_name, &reasons.join(",")]);
            let mut event = DomainEvent::new(kind, id, now, config.org());
            event.teams = vec![a.team.clone()];
            event.attention = Some(AttentionDetail {
                team: a.team.clone(),
                week: week_name,
                reasons: a.reasons.iter().map(|r| r.text.clone()).collect(),
                waited_for_review: a.waited_for_review,
                summary: a.summary.clone(),
            });
            event
        })
        .collect()
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
