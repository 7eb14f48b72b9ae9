//! Given a change, when the events are decided, then exactly these, with these ids.

use super::*;
use crate::derive::testing::{merged_pr_with, production_deployment, t};
use crate::model::{AlertKind, AlertState};

fn config() -> OrgConfig {
    OrgConfig::from_yaml(
        "org: acme\nenvironments:\n  qa: [qa]\n  production: [production]\nteams:\n  payments:\n    repos: [acme/api]\n  web:\n    repos: [acme/web]\nservices:\n  checkout:\n    repos: [acme/api]\n",
    )
    .expect("config")
}

const NOW: &str = "2026-10-07T12:00:00Z";

fn incident(resolved: Option<&str>) -> Incident {
    Incident {
        id: "pd:P1".into(),
        title: "Checkout 500s".into(),
        service: "checkout".into(),
        services: vec!["checkout".into()],
        severity: Some("SEV1".into()),
        opened_at: t("2026-10-07T10:00:00Z"),
        resolved_at: resolved.map(t),
        deployment_sha: None,
        repo: None,
        html_url: Some("https://acme.pagerduty.com/incidents/P1".into()),
    }
}

fn alert(state: AlertState, severity: AlertSeverity) -> SecurityAlert {
    SecurityAlert {
        repo: "acme/api".into(),
        id: "dependabot:20".into(),
        kind: AlertKind::Dependabot,
        number: 20,
        state,
        severity,
        title: "semver ReDoS".into(),
        opened_at: t("2026-10-07T08:00:00Z"),
        closed_at: None,
        html_url: Some("https://github.com/acme/api/security/dependabot/20".into()),
        updated_at: t("2026-10-07T09:00:00Z"),
    }
}

fn kinds(events: &[DomainEvent]) -> Vec<EventType> {
    events.iter().map(|e| e.kind).collect()
}

#[test]
fn an_incident_opens_then_resolves_once_each() {
    let (c, now) = (config(), t(NOW));
    let open = Projection::Incident(incident(None));
    let resolved = Projection::Incident(incident(Some("2026-10-07T11:30:00Z")));
    let opened = projection_events(None, &open, &c, now);
    assert_eq!(kinds(&opened), [EventType::IncidentOpened]);
    let e = &opened[0];
    assert_eq!(
        e.teams,
        ["payments"],
        "checkout's repo is the payments team's"
    );
    assert_eq!(e.severity.as_deref(), Some("sev1"));
    assert!(e.id.starts_with("evt_") && e.id.len() == 36);
    let later = projection_events(Some(&open), &resolved, &c, now);
    assert_eq!(kinds(&later), [EventType::IncidentResolved]);
    assert_eq!(
        later[0].incident.as_ref().and_then(|i| i.duration_seconds),
        Some(5400.0)
    );
    assert!(projection_events(Some(&resolved), &resolved, &c, now).is_empty());
    // Decided again from nothing (a retried run), the same ids.
    let again = projection_events(None, &resolved, &c, now);
    assert_eq!(
        again.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&e.id, &later[0].id]
    );
}

#[test]
fn an_old_change_is_not_announced() {
    let open = Projection::Incident(incident(None));
    let two_days_later = t("2026-10-09T10:00:01Z");
    assert!(projection_events(None, &open, &config(), two_days_later).is_empty());
}

#[test]
fn a_pr_is_announced_when_it_merges() {
    let (c, now) = (config(), t(NOW));
    let merged = merged_pr_with(7, "2026-10-07T09:00:00Z", "abc1234", |s| {
        s.title = "Add retries".into();
    });
    let mut open = merged.clone();
    open.merged_at = None;
    let events = projection_events(
        Some(&Projection::PullRequest(open)),
        &Projection::PullRequest(merged.clone()),
        &c,
        now,
    );
    assert_eq!(kinds(&events), [EventType::PullRequestMerged]);
    let pr = events[0].pull_request.as_ref().expect("pr detail");
    assert_eq!((pr.number, pr.title.as_str()), (7, "Add retries"));
    assert_eq!(
        pr.url.as_deref(),
        Some("https://github.com/acme/api/pull/7")
    );
    let same = Projection::PullRequest(merged);
    assert!(projection_events(Some(&same), &same, &c, now).is_empty());
}

#[test]
fn only_a_new_serious_alert_is_an_event() {
    let (c, now) = (config(), t(NOW));
    let high = Projection::SecurityAlert(alert(AlertState::Open, AlertSeverity::High));
    let medium = Projection::SecurityAlert(alert(AlertState::Open, AlertSeverity::Medium));
    let critical = Projection::SecurityAlert(alert(AlertState::Open, AlertSeverity::Critical));
    let fixed = Projection::SecurityAlert(alert(AlertState::Fixed, AlertSeverity::High));
    assert_eq!(
        kinds(&projection_events(None, &high, &c, now)),
        [EventType::SecurityAlert]
    );
    assert!(projection_events(None, &medium, &c, now).is_empty());
    assert!(projection_events(Some(&high), &high, &c, now).is_empty());
    assert!(projection_events(Some(&high), &fixed, &c, now).is_empty());
    let raised = projection_events(Some(&high), &critical, &c, now);
    assert_eq!(raised[0].severity.as_deref(), Some("critical"));
    let reopened = projection_events(Some(&fixed), &high, &c, now);
    assert_eq!(kinds(&reopened), [EventType::SecurityAlert]);
    assert_ne!(
        reopened[0].id,
        projection_events(None, &high, &c, now)[0].id
    );
}

#[test]
fn a_qa_deployment_is_announced_from_its_projection_production_from_its_links() {
    let (c, now) = (config(), t(NOW));
    let mut qa = production_deployment(
        "gh:1",
        "abc1234",
        "2026-10-07T11:00:00Z",
        DeploymentState::Failure,
    );
    qa.is_production = false;
    qa.stage = Some("qa".into());
    let events = projection_events(None, &Projection::Deployment(qa), &c, now);
    assert_eq!(kinds(&events), [EventType::DeploymentFailed]);
    assert_eq!(events[0].environment.as_deref(), Some("qa"));
    let prod = Projection::Deployment(production_deployment(
        "gh:2",
        "abc1234",
        "2026-10-07T11:00:00Z",
        DeploymentState::Success,
    ));
    assert!(projection_events(None, &prod, &c, now).is_empty());
    assert_eq!(
        announces(None, &prod).map(|d| d.key()),
        Some(dep_key("gh:2"))
    );
    assert_eq!(announces(Some(&prod), &prod).map(|d| d.key()), None);
}

fn dep_key(id: &str) -> EntityKey {
    EntityKey::Deployment {
        repo: "acme/api".into(),
        id: id.into(),
    }
}

#[test]
fn a_success_after_a_failure_ships_its_prs_and_recovers_the_failure() {
    let (c, now) = (config(), t(NOW));
    let first = production_deployment(
        "gh:1",
        "aaaaaaa",
        "2026-10-07T08:00:00Z",
        DeploymentState::Success,
    );
    let failed = production_deployment(
        "gh:2",
        "bbbbbbb",
        "2026-10-07T09:00:00Z",
        DeploymentState::Failure,
    );
    let fixed = production_deployment(
        "gh:3",
        "ccccccc",
        "2026-10-07T10:00:00Z",
        DeploymentState::Success,
    );
    let history: Vec<String> = ["aaaaaaa", "bbbbbbb", "ccccccc"].map(String::from).into();
    let merged = vec![
        merged_pr_with(1, "2026-10-07T08:30:00Z", "bbbbbbb", |_| {}),
        merged_pr_with(2, "2026-10-07T09:30:00Z", "ccccccc", |_| {}),
    ];
    let deployments = vec![first, failed, fixed];
    let announce: BTreeSet<EntityKey> = [dep_key("gh:2"), dep_key("gh:3")].into();
    let events = deployment_events(&deployments, &history, &merged, &announce, &c, now);
    assert_eq!(
        kinds(&events),
        [
            EventType::DeploymentFailed,
            EventType::DeploymentFinished,
            EventType::DeploymentRecovered
        ]
    );
    let finished = &events[1];
    let shipped: Vec<u64> = finished
        .shipped
        .iter()
        .flatten()
        .map(|p| p.number)
        .collect();
    assert_eq!(
        shipped,
        [1, 2],
        "a failed deployment ships nothing: its PRs go with the next success"
    );
    let recovered = &events[2];
    assert_eq!(
        recovered.deployment.as_ref().map(|d| d.id.as_str()),
        Some("gh:2")
    );
    assert_eq!(
        recovered.recovered_by.as_ref().map(|d| d.id.as_str()),
        Some("gh:3")
    );
    assert_eq!(recovered.recovery_seconds, Some(3600.0));
    assert_eq!(finished.teams, ["payments"]);
    // Announcing only the first success: no recovery, no failure.
    let only: BTreeSet<EntityKey> = [dep_key("gh:1")].into();
    let events = deployment_events(&deployments, &history, &merged, &only, &c, now);
    assert_eq!(kinds(&events), [EventType::DeploymentFinished]);
}

#[test]
fn event_ids_differ_by_type_and_parts_and_the_detail_round_trips() {
    let a = event_id(EventType::IncidentOpened, &["INC#pd:P1", "x"]);
    assert_ne!(
        a,
        event_id(EventType::IncidentResolved, &["INC#pd:P1", "x"])
    );
    assert_ne!(a, event_id(EventType::IncidentOpened, &["INC#pd:P1x", ""]));
    let event = &projection_events(
        None,
        &Projection::Incident(incident(None)),
        &config(),
        t(NOW),
    )[0];
    let back: DomainEvent = serde_json::from_str(&event.detail_json()).expect("detail parses");
    assert_eq!(&back, event);
    for kind in EventType::ALL {
        assert_eq!(EventType::parse(kind.as_str()), Some(kind));
    }
}

fn flagged(team: &str, metrics: &[crate::digest::model::MetricKind]) -> Attention {
    use crate::digest::model::{Reason, ReasonKind};
    Attention {
        team: team.into(),
        reasons: metrics
            .iter()
            .map(|metric| Reason {
                metric: *metric,
                kind: ReasonKind::Regression,
                baseline: 1.0,
                current: 3.0,
                level_drop: None,
                text: format!("{} rose from 1 to 3", metric.label()),
            })
            .collect(),
        waited_for_review: 2,
        summary: "lead time p50 rose from 1 to 3".into(),
    }
}

#[test]
fn a_team_s_verdict_is_one_event_per_week_and_set_of_reasons() {
    use crate::digest::model::MetricKind;
    let (c, now) = (config(), t(NOW));
    let week: IsoWeek = "2026-W41".parse().expect("week");
    let events = attention_events(
        &[flagged("payments", &[MetricKind::LeadTime])],
        week,
        &c,
        now,
    );
    assert_eq!(kinds(&events), [EventType::TeamNeedsAttention]);
    let detail = events[0].attention.as_ref().expect("attention");
    assert_eq!(
        (detail.team.as_str(), detail.week.as_str()),
        ("payments", "2026-W41")
    );
    assert_eq!(detail.waited_for_review, 2);
    assert_eq!(events[0].teams, ["payments"], "routes match the team");
    // Decided again later in the week: the same event.
    let later = attention_events(
        &[flagged("payments", &[MetricKind::LeadTime])],
        week,
        &c,
        now + chrono::Duration::hours(5),
    );
    assert_eq!(later[0].id, events[0].id);
    // Another reason, or another week: another event.
    let more = attention_events(
        &[flagged(
            "payments",
            &[MetricKind::LeadTime, MetricKind::ChangeFailureRate],
        )],
        week,
        &c,
        now,
    );
    assert_ne!(more[0].id, events[0].id);
    let next = attention_events(
        &[flagged("payments", &[MetricKind::LeadTime])],
        week.next(),
        &c,
        now,
    );
    assert_ne!(next[0].id, events[0].id);
}

#[test]
fn a_pr_without_a_review_after_the_wait_is_announced_once() {
    let (c, now) = (config(), t(NOW));
    let wait = chrono::Duration::hours(24);
    let mut open = merged_pr_with(9, "2026-10-07T09:00:00Z", "abc1234", |_| {});
    open.merged_at = None;
    open.closed_at = None;
    open.reviewable_at = t("2026-10-06T10:00:00Z");
    open.first_review_at = None;
    let events = waiting_events(std::slice::from_ref(&open), wait, &c, now);
    assert_eq!(kinds(&events), [EventType::PullRequestWaiting]);
    assert_eq!(
        events[0].occurred_at,
        t("2026-10-07T10:00:00Z"),
        "when its wait passed 24 h"
    );
    assert_eq!(events[0].waiting_seconds, Some(26.0 * 3600.0));
    assert_eq!(events[0].teams, ["payments"]);
    let later = waiting_events(
        std::slice::from_ref(&open),
        wait,
        &c,
        now + chrono::Duration::hours(3),
    );
    assert_eq!(later[0].id, events[0].id, "the same wait is the same event");
    // Not yet waiting that long; reviewed; a draft; merged; a bot's; waited past a day ago.
    let mut cases = Vec::new();
    let mut early = open.clone();
    early.reviewable_at = t("2026-10-06T13:00:00Z");
    cases.push(early);
    let mut reviewed = open.clone();
    reviewed.first_review_at = Some(t("2026-10-07T11:00:00Z"));
    cases.push(reviewed);
    let mut draft = open.clone();
    draft.draft = true;
    cases.push(draft);
    let mut merged = open.clone();
    merged.merged_at = Some(t("2026-10-07T11:00:00Z"));
    cases.push(merged);
    let mut bot = open.clone();
    bot.author_is_bot = true;
    cases.push(bot);
    let mut stale = open.clone();
    stale.reviewable_at = t("2026-10-04T10:00:00Z");
    cases.push(stale);
    assert!(waiting_events(&cases, wait, &c, now).is_empty());
}
