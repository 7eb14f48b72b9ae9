//! Tickets: most feature PRs name a Jira or Linear ticket of their team's project (in the
//! title, `PAY-142: Fix refunds`, or only in the head branch, `pay-142-fix-refunds`), some
//! tickets take two PRs. A ticket is created some time before coding starts, moves to a started
//! status at the first commit and to "In Review" when the PR opens, and is done some hours after
//! the production deployment that ships its last PR (at the merge, for a repo that never
//! deploys). Tickets whose PRs were all closed unmerged go back to the backlog (Jira) or are
//! canceled (Linear); a few backlog tickets are never started, and some of those are canceled.
//!
//! Every draw comes from a stream of its own (`Rng::fork(seed, "tickets")`), and the tickets are
//! played out after the simulation from its ground truth (PR times, shipments): adding them
//! changes no PR, deployment or incident the seed decides, only the titles and branches of the
//! PRs that name a ticket.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Timelike, Utc};
use serde_json::{json, Value};

use super::calendar::{hours, is_weekend, local_at};
use super::plans::slug;
use super::{PrPlan, World};
use crate::payloads::{jira_delivery, linear_delivery, stable_id};
use crate::rng::Rng;
use crate::spec::{
    full_name, repo_spec, ticket_project_of_team, Deploys, TeamSpec, TicketProjectSpec, Tracker,
    TICKET_PROJECTS, TIMEZONE,
};
use crate::truth::TicketTruth;

/// Share of feature PRs that name a ticket.
const TICKETED: f64 = 0.8;
/// Of those, the share naming it in the title (and branch); the rest name it in the branch only.
const IN_TITLE: f64 = 0.7;
/// Chance that a ticketed PR is a second PR for its author's ticket of the last few days.
const FOLLOW_UP: f64 = 0.15;
/// Backlog tickets (never started) created per project and week, on average.
const BACKLOG_PER_WEEK: f64 = 0.8;

/// The tickets' own random stream and what was planned with it.
pub(super) struct Tickets {
    rng: Rng,
    next_number: BTreeMap<&'static str, u64>,
    planned: Vec<TicketPlan>,
    next_changelog: u64,
}

impl Tickets {
    pub(super) fn new(seed: u64) -> Tickets {
        Tickets {
            rng: Rng::fork(seed, "tickets"),
            next_number: BTreeMap::new(),
            planned: Vec::new(),
            next_changelog: 31_000,
        }
    }

    fn key(&mut self, project: &TicketProjectSpec) -> String {
        let n = self
            .next_number
            .entry(project.key)
            .or_insert(project.first_number);
        *n += 1;
        format!("{}-{n}", project.key)
    }
}

/// A ticket a PR named, as planned.
struct TicketPlan {
    key: String,
    project: &'static TicketProjectSpec,
    summary: String,
    assignee: String,
    /// The PRs naming it: repository, number, and when it was closed unmerged (planned).
    prs: Vec<(&'static str, u64, Option<DateTime<Utc>>)>,
    /// When coding of its latest PR began.
    last_t0: DateTime<Utc>,
}

/// A status a ticket moves through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Todo,
    InProgress,
    InReview,
    Done,
    /// Jira: "Won't Do" (in the done category, Jira has no other); Linear: `canceled`.
    Canceled,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Todo => "To Do",
            Status::InProgress => "In Progress",
            Status::InReview => "In Review",
            Status::Done => "Done",
            Status::Canceled => "Won't Do",
        }
    }

    /// Jira's status id and status category `(id, key, color, name)`.
    fn jira(
        self,
    ) -> (
        &'static str,
        (u64, &'static str, &'static str, &'static str),
    ) {
        let new = (2, "new", "blue-gray", "To Do");
        let started = (4, "indeterminate", "yellow", "In Progress");
        let done = (3, "done", "green", "Done");
        match self {
            Status::Todo => ("10000", new),
            Status::InProgress => ("3", started),
            Status::InReview => ("10002", started),
            Status::Done => ("10001", done),
            Status::Canceled => ("10003", done),
        }
    }

    /// Linear's workflow state `(id, name, type, color)`.
    fn linear(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Status::Todo => (
                "0f1e2d3c-4b5a-4697-8a9b-0c1d2e3f4a5b",
                "Todo",
                "unstarted",
                "#e2e2e2",
            ),
            Status::InProgress => (
                "a1b2c3d4-e5f6-4789-8abc-def012345678",
                "In Progress",
                "started",
                "#f2c94c",
            ),
            Status::InReview => (
                "b7c8d9e0-f1a2-4b3c-9d4e-5f6a7b8c9d0e",
                "In Review",
                "started",
                "#5e6ad2",
            ),
            Status::Done => (
                "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
                "Done",
                "completed",
                "#5e6ad2",
            ),
            Status::Canceled => (
                "d9e8f7a6-b5c4-4d3e-a2f1-0e9d8c7b6a5f",
                "Canceled",
                "canceled",
                "#95a2b3",
            ),
        }
    }
}

/// What one ticket's deliveries need to know about it.
struct Issue<'a> {
    key: &'a str,
    project: &'static TicketProjectSpec,
    summary: &'a str,
    assignee: &'a str,
    created: DateTime<Utc>,
    fix_version: Option<String>,
}

impl World {
    /// Maybe names a ticket in `plan` (a teammate's feature PR whose coding began at `t0`): a new
    /// ticket of its team's project, or now and then its author's ticket of the last days.
    pub(super) fn name_ticket(&mut self, plan: &mut PrPlan, team: &TeamSpec, t0: DateTime<Utc>) {
        let Some(project) = ticket_project_of_team(team.name) else {
            return;
        };
        let t = &mut self.tickets;
        if !t.rng.chance(TICKETED) {
            return;
        }
        let follow_up = t.rng.chance(FOLLOW_UP);
        let in_title = t.rng.chance(IN_TITLE);
        let earlier = t.planned.iter().rposition(|p| {
            follow_up
                && p.assignee == plan.author
                && p.project.key == project.key
                && p.prs.len() < 2
                && t0 - p.last_t0 <= Duration::days(4)
        });
        let (key, nth) = match earlier.and_then(|i| t.planned.get_mut(i)) {
            Some(ticket) => {
                ticket
                    .prs
                    .push((plan.repo, plan.number, plan.closed_unmerged));
                ticket.last_t0 = t0;
                (ticket.key.clone(), ticket.prs.len())
            }
            None => {
                let key = t.key(project);
                t.planned.push(TicketPlan {
                    key: key.clone(),
                    project,
                    summary: plan.title.clone(),
                    assignee: plan.author.clone(),
                    prs: vec![(plan.repo, plan.number, plan.closed_unmerged)],
                    last_t0: t0,
                });
                (key, 1)
            }
        };
        let old_title = plan.title.clone();
        let suffix = if nth > 1 {
            format!("-{nth}")
        } else {
            String::new()
        };
        let branch = format!("{}-{}{suffix}", key.to_lowercase(), slug(&old_title));
        if in_title {
            plan.title = format!("{key}: {old_title}");
            let login = plan.author.split('-').next().unwrap_or(&plan.author);
            plan.branch = format!("{login}/{branch}");
            let (old_lower, new_lower) = (old_title.to_lowercase(), plan.title.to_lowercase());
            for commit in plan.pushes.iter_mut().flat_map(|p| p.commits.iter_mut()) {
                if commit.message == old_title {
                    commit.message.clone_from(&plan.title);
                } else if let Some(rest) = commit.message.strip_prefix(&old_lower) {
                    commit.message = format!("{new_lower}{rest}");
                }
            }
        } else {
            plan.branch = branch;
        }
        plan.ticket = Some(key);
    }

    /// Plays out every planned ticket against what happened to its PRs, then the backlog
    /// tickets nobody started; records each in the ground truth.
    pub(super) fn emit_tickets(&mut self) {
        let shipments = self.truth.shipments();
        let planned = std::mem::take(&mut self.tickets.planned);
        for plan in planned {
            self.play_ticket(plan, &shipments);
        }
        self.backlog_tickets();
    }

    fn play_ticket(
        &mut self,
        plan: TicketPlan,
        shipments: &BTreeMap<(String, u64), (String, DateTime<Utc>)>,
    ) {
        // (first commit, opened, landed: shipped or merged into a repo that never deploys)
        let mut prs = Vec::new();
        let mut pending = false;
        let mut merged_any = false;
        let mut closed_last: Option<DateTime<Utc>> = None;
        for (repo, number, closed) in &plan.prs {
            let full = full_name(repo);
            let Some(pr) = self
                .truth
                .prs
                .iter()
                .find(|p| p.repo == full && p.number == *number)
            else {
                continue;
            };
            let landed = match pr.merged_at {
                Some(merged) => {
                    merged_any = true;
                    let never = repo_spec(repo).is_none_or(|s| s.deploys == Deploys::Never);
                    if never {
                        Some(merged)
                    } else {
                        shipments.get(&(full.clone(), *number)).map(|(_, at)| *at)
                    }
                }
                None => match closed.filter(|c| *c < self.end) {
                    Some(c) => {
                        closed_last = closed_last.max(Some(c));
                        None
                    }
                    None => None,
                },
            };
            pending |= pr.merged_at.is_some() && landed.is_none();
            pending |= pr.merged_at.is_none() && closed.is_none_or(|c| c >= self.end);
            let first_commit = pr.first_commit_at().unwrap_or(pr.created_at);
            prs.push((first_commit, pr.created_at, landed, full, *number));
        }
        let (Some(started), Some(opened)) =
            (prs.iter().map(|p| p.0).min(), prs.iter().map(|p| p.1).min())
        else {
            return;
        };
        let rng = &mut self.tickets.rng;
        let lead = hours(rng.lognormal(30.0, 1.0).clamp(0.5, 480.0));
        let created = office_hours_before(started - lead, rng);
        let mut events = vec![
            (created, Status::Todo),
            (started, Status::InProgress),
            (opened.max(started + Duration::minutes(1)), Status::InReview),
        ];
        let landed = prs.iter().filter_map(|p| p.2).max();
        let mut fix_version = None;
        if merged_any && !pending {
            if let Some(landed) = landed {
                let done = landed + hours(rng.lognormal(5.0, 0.8).clamp(0.5, 30.0));
                events.push((done, Status::Done));
                if plan.project.tracker == Tracker::JiraServer {
                    fix_version = Some(release_name(landed));
                }
            }
        } else if !merged_any && !pending {
            if let Some(closed) = closed_last {
                let at = closed + hours(rng.lognormal(3.0, 0.6).clamp(0.2, 48.0));
                // Jira's team moves it back to the backlog; Linear's cancels it.
                let status = match plan.project.tracker {
                    Tracker::Linear => Status::Canceled,
                    _ => Status::Todo,
                };
                events.push((at, status));
            }
        }
        let issue = Issue {
            key: &plan.key,
            project: plan.project,
            summary: &plan.summary,
            assignee: &plan.assignee,
            created,
            fix_version,
        };
        let prs = prs.into_iter().map(|p| (p.3, p.4)).collect();
        self.emit_ticket(&issue, &events, prs);
    }

    /// Tickets filed and never started: about one a week per project, some canceled later.
    fn backlog_tickets(&mut self) {
        let first_day = self.start.with_timezone(&TIMEZONE).date_naive();
        for project in TICKET_PROJECTS {
            for week in 0..self.weeks {
                let n = self.tickets.rng.poisson(BACKLOG_PER_WEEK);
                for _ in 0..n {
                    let rng = &mut self.tickets.rng;
                    let day = first_day + Duration::days(i64::from(week) * 7 + rng.range(0, 4));
                    let minute = rng.range(0, 8 * 60) as u32;
                    let created = local_at(day, 9 + minute / 60, minute % 60);
                    let spec = crate::spec::TEAMS
                        .iter()
                        .find(|t| t.name == project.team)
                        .and_then(|t| t.repos.first());
                    let topic = spec.map_or("tech debt", |r| *rng.pick(r.topics));
                    let summary = format!("Investigate {topic} follow-ups");
                    let mut events = vec![(created, Status::Todo)];
                    if rng.chance(0.35) {
                        let at = created + hours(rng.lognormal(72.0, 0.8).clamp(2.0, 500.0));
                        events.push((at, Status::Canceled));
                    }
                    let assignee = crate::spec::TEAMS
                        .iter()
                        .find(|t| t.name == project.team)
                        .map_or("", |t| *rng.pick(t.members))
                        .to_string();
                    let key = self.tickets.key(project);
                    let issue = Issue {
                        key: &key,
                        project,
                        summary: &summary,
                        assignee: &assignee,
                        created,
                        fix_version: None,
                    };
                    self.emit_ticket(&issue, &events, Vec::new());
                }
            }
        }
    }

    /// Sends the ticket's status changes that happened before the end of the history, and
    /// records the ticket.
    fn emit_ticket(
        &mut self,
        issue: &Issue,
        events: &[(DateTime<Utc>, Status)],
        prs: Vec<(String, u64)>,
    ) {
        let project = issue.project;
        let mut truth = TicketTruth {
            key: issue.key.to_string(),
            entity: format!(
                "{}:{}",
                if project.tracker == Tracker::Linear {
                    "linear"
                } else {
                    "jira"
                },
                issue.key
            ),
            team: project.team.to_string(),
            created_at: issue.created,
            started_at: None,
            done_at: None,
            canceled_at: None,
            fix_version: None,
            sprint: None,
            prs,
            deliveries: 0,
        };
        let mut previous: Option<(DateTime<Utc>, Status, Option<Sprint>)> = None;
        for &(at, status) in events {
            if at >= self.end {
                break;
            }
            // A sprint (cycle) holds the ticket from the start of work on.
            let sprint = (status != Status::Todo || previous.is_some_and(|p| p.2.is_some()))
                .then(|| Sprint::at(project, at));
            let done = matches!(status, Status::Done);
            let fix_version = issue.fix_version.clone().filter(|_| done);
            if matches!(status, Status::InProgress | Status::InReview) {
                truth.started_at = truth.started_at.or(Some(at));
            }
            let delivery = match project.tracker {
                Tracker::Linear => {
                    let started = truth.started_at;
                    let body = self.linear_body(issue, at, status, previous, sprint, started);
                    linear_delivery(&self.secrets, at, issue.key, &body)
                }
                tracker => {
                    let changelog = self.tickets.next_changelog;
                    self.tickets.next_changelog += self.tickets.rng.range(1, 40) as u64;
                    let server = tracker == Tracker::JiraServer;
                    let change = JiraChange {
                        at,
                        status,
                        previous: previous.map(|p| p.1),
                        changelog,
                        sprint,
                        fix_version: fix_version.clone(),
                    };
                    let body = jira_body(issue, &change);
                    jira_delivery(&self.secrets, at, server, issue.key, &body)
                }
            };
            self.deliveries.push(delivery);
            truth.deliveries += 1;
            match status {
                Status::Done => truth.done_at = Some(at),
                Status::Canceled => truth.canceled_at = Some(at),
                Status::Todo | Status::InProgress | Status::InReview => {}
            }
            if fix_version.is_some() {
                truth.fix_version = fix_version;
            }
            truth.sprint = sprint.map(|s| s.name(project));
            previous = Some((at, status, sprint));
        }
        if truth.deliveries > 0 {
            self.truth.tickets.push(truth);
        }
    }

    fn linear_body(
        &mut self,
        issue: &Issue,
        at: DateTime<Utc>,
        status: Status,
        previous: Option<(DateTime<Utc>, Status, Option<Sprint>)>,
        sprint: Option<Sprint>,
        started: Option<DateTime<Utc>>,
    ) -> Value {
        let number: u64 = issue
            .key
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_default();
        let id = uuid_of(issue.key);
        let (state_id, state_name, state_type, color) = status.linear();
        let url = format!(
            "https://linear.app/acme/issue/{}/{}",
            issue.key,
            slug(issue.summary)
        );
        let assignee = linear_user(issue.assignee);
        let mut data = json!({
            "id": id, "createdAt": ms(issue.created), "updatedAt": ms(at), "number": number,
            "title": issue.summary, "description": "", "priority": 3, "priorityLabel": "Medium",
            "estimate": 2, "boardOrder": 0, "sortOrder": -(number as f64),
            "teamId": uuid_of(issue.project.key), "stateId": state_id,
            "creatorId": assignee["id"], "assigneeId": assignee["id"],
            "identifier": issue.key, "url": url, "previousIdentifiers": [], "labelIds": [],
            "subscriberIds": [assignee["id"]], "botActor": null,
            "assignee": assignee,
            "state": {"id": state_id, "color": color, "name": state_name, "type": state_type},
            "team": {"id": uuid_of(issue.project.key), "key": issue.project.key, "name": capitalized(issue.project.team)},
            "cycleId": null, "cycle": null,
        });
        if let Some(s) = sprint {
            data["cycleId"] = json!(uuid_of(&s.name(issue.project)));
            data["cycle"] = json!({"id": uuid_of(&s.name(issue.project)), "number": s.number,
                                   "name": null, "startsAt": ms(s.starts), "endsAt": ms(s.ends)});
        }
        if let Some(started) = started {
            data["startedAt"] = json!(ms(started));
        }
        if status == Status::Done {
            data["completedAt"] = json!(ms(at));
        }
        if status == Status::Canceled {
            data["canceledAt"] = json!(ms(at));
        }
        let webhook_id = self.tickets.rng.uuid();
        let mut body = json!({
            "action": if previous.is_some() { "update" } else { "create" },
            "actor": {"id": assignee["id"], "type": "user", "name": assignee["name"],
                      "email": assignee["email"]},
            "createdAt": ms(at), "data": data, "url": url, "type": "Issue",
            "organizationId": uuid_of("acme"),
            "webhookTimestamp": at.timestamp_millis(), "webhookId": webhook_id,
        });
        if let Some((before, from, before_sprint)) = previous {
            let mut from_fields = json!({"updatedAt": ms(before), "stateId": from.linear().0});
            if before_sprint != sprint {
                from_fields["cycleId"] =
                    json!(before_sprint.map(|s| uuid_of(&s.name(issue.project))));
            }
            if started == Some(at) {
                from_fields["startedAt"] = Value::Null;
            }
            body["updatedFrom"] = from_fields;
        }
        body
    }
}

/// One Jira change: the status moved to at `at` (from `previous`; none for the creation).
struct JiraChange {
    at: DateTime<Utc>,
    status: Status,
    previous: Option<Status>,
    changelog: u64,
    sprint: Option<Sprint>,
    fix_version: Option<String>,
}

/// A Jira `jira:issue_created` or `jira:issue_updated` delivery's body, as Jira Cloud sends it
/// (`accountId` users, the sprint as a list of objects) or Jira Data Center (`name` users).
fn jira_body(issue: &Issue, change: &JiraChange) -> Value {
    let project = issue.project;
    let server = project.tracker == Tracker::JiraServer;
    let site = if server {
        "https://jira.acme.example"
    } else {
        "https://acme.atlassian.net"
    };
    let issue_id = stable_id(issue.key, 40_000) % 1_000_000;
    let project_id = stable_id(project.key, 10_000) % 100_000;
    let (status_id, (category_id, category_key, color, category_name)) = change.status.jira();
    let user = jira_user(issue.assignee, site, server);
    let done = matches!(change.status, Status::Done | Status::Canceled);
    let resolution = done.then(|| {
        let name = if change.status == Status::Done {
            "Done"
        } else {
            "Won't Do"
        };
        json!({"self": format!("{site}/rest/api/2/resolution/10000"), "id": "10000", "name": name})
    });
    let mut fields = json!({
        "issuetype": {"self": format!("{site}/rest/api/2/issuetype/10001"), "id": "10001",
                      "name": "Story", "subtask": false},
        "project": {"self": format!("{site}/rest/api/2/project/{project_id}"),
                    "id": project_id.to_string(), "key": project.key,
                    "name": format!("{} team", capitalized(project.team)),
                    "projectTypeKey": "software"},
        "fixVersions": [],
        "resolution": resolution,
        "resolutiondate": done.then(|| jira_time(change.at)),
        "created": jira_time(issue.created),
        "updated": jira_time(change.at),
        "priority": {"self": format!("{site}/rest/api/2/priority/3"), "name": "Medium", "id": "3"},
        "labels": [],
        "assignee": user,
        "reporter": user,
        "creator": user,
        "status": {"self": format!("{site}/rest/api/2/status/{status_id}"), "description": "",
                   "name": change.status.name(), "id": status_id,
                   "statusCategory": {"self": format!("{site}/rest/api/2/statuscategory/{category_id}"),
                                      "id": category_id, "key": category_key,
                                      "colorName": color, "name": category_name}},
        "summary": issue.summary,
        "description": null,
        "customfield_10020": null,
    });
    if let Some(sprint) = change.sprint.filter(|_| !server) {
        fields["customfield_10020"] = json!([{
            "id": sprint.id(project), "name": sprint.name(project), "state": "active",
            "boardId": 10 + project_id % 7, "goal": "",
            "startDate": jira_cloud_time(sprint.starts), "endDate": jira_cloud_time(sprint.ends),
        }]);
    }
    if let Some(version) = &change.fix_version {
        let id = stable_id(version, 15_000) % 100_000;
        fields["fixVersions"] = json!([{"self": format!("{site}/rest/api/2/version/{id}"),
            "id": id.to_string(), "name": version, "archived": false, "released": true}]);
    }
    let mut body = json!({
        "timestamp": change.at.timestamp_millis(),
        "webhookEvent": if change.previous.is_some() { "jira:issue_updated" } else { "jira:issue_created" },
        "issue_event_type_name": if change.previous.is_some() { "issue_generic" } else { "issue_created" },
        "user": user,
        "issue": {"id": issue_id.to_string(),
                  "self": format!("{site}/rest/api/2/issue/{issue_id}"),
                  "key": issue.key, "fields": fields},
    });
    if let Some(previous) = change.previous {
        let field_id = |id: &str| if server { Value::Null } else { json!(id) };
        let mut items = vec![json!({
            "field": "status", "fieldtype": "jira", "fieldId": field_id("status"),
            "from": previous.jira().0, "fromString": previous.name(),
            "to": status_id, "toString": change.status.name(),
        })];
        if let Some(version) = &change.fix_version {
            let id = stable_id(version, 15_000) % 100_000;
            items.push(json!({"field": "Fix Version", "fieldtype": "jira",
                              "fieldId": field_id("fixVersions"), "from": null, "fromString": null,
                              "to": id.to_string(), "toString": version}));
        }
        if done {
            items.push(json!({"field": "resolution", "fieldtype": "jira",
                              "fieldId": field_id("resolution"), "from": null, "fromString": null,
                              "to": "10000", "toString": if change.status == Status::Done { "Done" } else { "Won't Do" }}));
        }
        if server {
            for item in &mut items {
                if let Some(o) = item.as_object_mut() {
                    o.remove("fieldId");
                }
            }
        }
        body["changelog"] = json!({"id": change.changelog.to_string(), "items": items});
    }
    body
}

/// A two-week sprint (Jira) or cycle (Linear), numbered from 2024-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sprint {
    number: i64,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
}

impl Sprint {
    fn at(project: &TicketProjectSpec, t: DateTime<Utc>) -> Sprint {
        let epoch = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
        let day = t.with_timezone(&TIMEZONE).date_naive();
        let n = (day - epoch).num_days().div_euclid(14);
        let first = epoch + Duration::days(n * 14);
        // Each team's numbering started when it adopted its tracker.
        let offset = project.first_number as i64 % 17;
        Sprint {
            number: n + offset,
            starts: local_at(first, 9, 0),
            ends: local_at(first + Duration::days(14), 9, 0),
        }
    }

    fn name(self, project: &TicketProjectSpec) -> String {
        match project.tracker {
            Tracker::Linear => format!("Cycle {}", self.number),
            _ => format!("{} Sprint {}", project.key, self.number),
        }
    }

    fn id(self, project: &TicketProjectSpec) -> i64 {
        (project.first_number as i64) * 10 + self.number
    }
}

/// `t`, or when it falls outside working hours, a time of the working afternoon before it:
/// people file tickets at work.
fn office_hours_before(t: DateTime<Utc>, rng: &mut Rng) -> DateTime<Utc> {
    let local = t.with_timezone(&TIMEZONE);
    let working = |d: NaiveDate| !is_weekend(d.weekday());
    if working(local.date_naive()) && (9..18).contains(&local.hour()) {
        return t;
    }
    let mut day = local.date_naive();
    if local.hour() < 9 || !working(day) {
        day = day.pred_opt().unwrap_or(day);
    }
    while !working(day) {
        day = day.pred_opt().unwrap_or(day);
    }
    let minute = rng.range(0, 179) as u32;
    local_at(day, 14 + minute / 60, minute % 60)
}

/// The mobile team's fix version: its weekly release, named by the ISO week the change shipped
/// in (`mobile-2026.09`).
fn release_name(shipped: DateTime<Utc>) -> String {
    let week = shipped.with_timezone(&TIMEZONE).iso_week();
    format!("mobile-{}.{:02}", week.year(), week.week())
}

/// `2026-03-02T10:15:00.000+0100`: Jira's field times, in the org's offset.
fn jira_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&TIMEZONE)
        .format("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string()
}

/// `2026-03-02T09:00:00.000Z`: Jira Cloud's sprint dates.
fn jira_cloud_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2026-03-02T09:15:00.000Z`: Linear's times.
fn ms(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `ana-lopez` → `Ana Lopez`.
fn display_name(login: &str) -> String {
    login
        .split('-')
        .map(capitalized)
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn email(login: &str) -> String {
    format!("{}@acme.example", login.replace('-', "."))
}

/// A stable UUID-shaped id for a name.
fn uuid_of(name: &str) -> String {
    let a = stable_id(name, 0);
    let b = stable_id(&format!("{name}#"), 0);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a % 0xFFFF_FFFF,
        b % 0xFFFF,
        a % 0xFFF,
        b % 0xFFF,
        (a * 7919 + b) % 0xFFFF_FFFF_FFFF
    )
}

fn linear_user(login: &str) -> Value {
    json!({"id": uuid_of(login), "name": display_name(login), "email": email(login)})
}

/// A Jira user: Cloud's by `accountId`, Data Center's by `name` and `key`.
fn jira_user(login: &str, site: &str, server: bool) -> Value {
    if server {
        json!({"self": format!("{site}/rest/api/2/user?username={login}"), "name": login,
               "key": login, "emailAddress": email(login), "displayName": display_name(login),
               "active": true, "timeZone": "Europe/Berlin"})
    } else {
        let account = format!("712020:{}", uuid_of(login));
        json!({"self": format!("{site}/rest/api/2/user?accountId={account}"),
               "accountId": account, "displayName": display_name(login), "active": true,
               "timeZone": "Europe/Berlin", "accountType": "atlassian"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_times_read_as_the_trackers_write_them() {
        assert_eq!(display_name("ana-lopez"), "Ana Lopez");
        let at: DateTime<Utc> = "2026-03-02T09:15:00Z".parse().expect("time");
        assert_eq!(jira_time(at), "2026-03-02T10:15:00.000+0100");
        assert_eq!(release_name(at), "mobile-2026.10");
        let pay = &TICKET_PROJECTS[0];
        let sprint = Sprint::at(pay, at);
        assert!(sprint.starts <= at && at < sprint.ends, "{sprint:?}");
        assert_eq!(sprint.ends - sprint.starts, Duration::days(14));
        assert_eq!(uuid_of("x").len(), 36);
    }
}
