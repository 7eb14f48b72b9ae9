//! What each projection contributes to which weekly bucket. A rollup is recomputed from its
//! bucket's members, never incremented, so it always equals a from-scratch recomputation; the
//! members are the unit the store diffs when a projection changes.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::deployment::{seconds_between, Deployment};
use super::incident::Incident;
use super::pull_request::{CycleSpans, PullRequest};
use super::ticket::Ticket;
use crate::config::OrgConfig;
use crate::model::TicketSource;
use crate::time::{iso_week, local_date, IsoWeek};

/// The unit a rollup is kept for. Teams are not stored: they resolve at read time from their
/// repos and members, so editing a team re-scopes all history at once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    Org,
    Repo(String),
    Author(String),
    Service(String),
    /// A Jira project or Linear team (`jira:PAY`): teams own them through config `tickets:`.
    Tickets(String),
    /// The org's deployments to another configured environment than production (`org@qa`).
    OrgIn(String),
    /// A repo's deployments to another configured environment (`repo:acme/api@qa`).
    RepoIn {
        repo: String,
        environment: String,
    },
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Org => write!(f, "org"),
            Scope::Repo(r) => write!(f, "repo:{r}"),
            Scope::Author(a) => write!(f, "author:{a}"),
            Scope::Service(s) => write!(f, "service:{s}"),
            Scope::Tickets(p) => write!(f, "tickets:{p}"),
            Scope::OrgIn(environment) => write!(f, "org@{environment}"),
            Scope::RepoIn { repo, environment } => write!(f, "repo:{repo}@{environment}"),
        }
    }
}

impl Scope {
    /// The scope of a tracker's project (`tickets:jira:PAY`), as members and plans name it.
    pub fn tickets(source: TicketSource, project: &str) -> Scope {
        Scope::Tickets(format!("{}:{project}", source.prefix()))
    }

    /// A scope as [`fmt::Display`] writes it. `@` marks another environment's org or repo
    /// (repo and environment names never hold one); any other scope is read whole, so a
    /// service named `eu@night` stays a service.
    pub fn parse(text: &str) -> Option<Scope> {
        if let Some((inner, environment)) = text.rsplit_once('@') {
            let environment = environment.to_string();
            match Scope::parse_plain(inner) {
                Some(Scope::Org) if !environment.is_empty() => {
                    return Some(Scope::OrgIn(environment))
                }
                Some(Scope::Repo(repo)) if !environment.is_empty() => {
                    return Some(Scope::RepoIn { repo, environment })
                }
                _ => {}
            }
        }
        Scope::parse_plain(text)
    }

    fn parse_plain(text: &str) -> Option<Scope> {
        if text == "org" {
            return Some(Scope::Org);
        }
        let (kind, name) = text.split_once(':')?;
        if name.is_empty() {
            return None;
        }
        match kind {
            "repo" => Some(Scope::Repo(name.to_string())),
            "author" => Some(Scope::Author(name.to_string())),
            "service" => Some(Scope::Service(name.to_string())),
            "tickets" => Some(Scope::Tickets(name.to_string())),
            _ => None,
        }
    }
}

/// One weekly rollup: a scope and an ISO week in the org's timezone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Bucket {
    pub scope: Scope,
    pub week: IsoWeek,
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}", self.scope, self.week)
    }
}

impl Bucket {
    pub fn parse(text: &str) -> Option<Bucket> {
        let (scope, week) = text.rsplit_once('|')?;
        Some(Bucket {
            scope: Scope::parse(scope)?,
            week: week.parse().ok()?,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "m", rename_all = "snake_case")]
pub enum MemberData {
    /// A merged PR, bucketed by merge time: cycle time and PR analytics.
    PrMerged {
        coding: Option<f64>,
        pickup: Option<f64>,
        review: Option<f64>,
        deploy: Option<f64>,
        total: f64,
        first_time_pass: bool,
        comments: u32,
        size: u64,
    },
    /// A PR opened in the week.
    PrOpened,
    /// A shipped PR, bucketed by its deployment's finish: lead time for changes.
    LeadTime {
        seconds: f64,
    },
    /// A terminal production deployment, bucketed by its finish.
    Deployment {
        success: bool,
        failed: bool,
        day: NaiveDate,
        rework: bool,
        recovery: Option<f64>,
    },
    IncidentOpened {
        service: String,
        severity: Option<String>,
    },
    IncidentResolved {
        service: String,
        mttr: f64,
    },
    /// A ticket first done in the week, with its cycle time when it was started.
    TicketDone {
        cycle: Option<f64>,
    },
    /// A ticket first shipped to production in the week, with its lead time when it was
    /// started before.
    TicketShipped {
        lead: Option<f64>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub bucket: Bucket,
    /// Unique within the bucket and stable for the projection: `<entity>|<role>`.
    pub id: String,
    pub data: MemberData,
}

/// One entity's members in one bucket, stored as one item: a PR usually opens, merges and
/// ships within a week, and three items of ~100 bytes cost three write units where one costs
/// one (DynamoDB rounds each item up to 1 KB).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackedMember {
    pub bucket: Bucket,
    /// The entity part of the members' ids (`<entity>` of `<entity>|<role>`).
    pub id: String,
    /// In role order of the unpacked members, so a pack's content (and hash) is stable.
    pub data: Vec<MemberData>,
}

/// Groups members by (bucket, entity). Folding the packs' data gives the same rollup as the
/// members themselves: packing only changes how many items hold them.
pub fn pack_members(members: Vec<Member>) -> Vec<PackedMember> {
    let mut packs: BTreeMap<(String, String), PackedMember> = BTreeMap::new();
    for member in members {
        let entity = member
            .id
            .split_once('|')
            .map_or(member.id.as_str(), |(entity, _)| entity)
            .to_string();
        packs
            .entry((member.bucket.to_string(), entity.clone()))
            .or_insert_with(|| PackedMember {
                bucket: member.bucket.clone(),
                id: entity,
                data: Vec::new(),
            })
            .data
            .push(member.data);
    }
    packs.into_values().collect()
}

fn pr_scopes(pr: &PullRequest) -> [Scope; 3] {
    [
        Scope::Org,
        Scope::Repo(pr.repo.clone()),
        Scope::Author(pr.author.to_lowercase()),
    ]
}

/// Members of a PR: opened, merged (with its cycle time), and lead time once shipped. Bots'
/// PRs count in no PR-based number.
pub fn members_of_pull_request(pr: &PullRequest, config: &OrgConfig) -> Vec<Member> {
    if pr.author_is_bot {
        return Vec::new();
    }
    let tz = config.timezone();
    let entity = pr.key().partition_key();
    let mut out = Vec::new();
    let mut push = |week: IsoWeek, role: &str, data: MemberData| {
        for scope in pr_scopes(pr) {
            out.push(Member {
                bucket: Bucket { scope, week },
                id: format!("{entity}|{role}"),
                data: data.clone(),
            });
        }
    };
    push(iso_week(pr.created_at, tz), "opened", MemberData::PrOpened);
    if let Some(CycleSpans {
        merged_at,
        coding,
        pickup,
        review,
        deploy,
        total,
    }) = pr.cycle_spans()
    {
        push(
            iso_week(merged_at, tz),
            "merged",
            MemberData::PrMerged {
                coding,
                pickup,
                review,
                deploy,
                total,
                first_time_pass: pr.first_time_pass(),
                comments: pr.comments,
                // Both come from the payload: saturate rather than overflow (a panic in a
                // debug build, a wrapped tiny size in release).
                size: pr.additions.saturating_add(pr.deletions),
            },
        );
    }
    if let Some(shipment) = &pr.shipped_by {
        let start = pr.first_commit_at.unwrap_or(pr.created_at);
        push(
            iso_week(shipment.finished_at, tz),
            "lead",
            MemberData::LeadTime {
                seconds: seconds_between(start, shipment.finished_at),
            },
        );
    }
    out
}

/// Members of a deployment: terminal attempts, by repo and org. Production's feed the DORA
/// numbers; another configured environment's go to its own scopes (`org@qa`,
/// `repo:acme/api@qa`) with what is known there: success or failure by status and the day
/// (its links, what it shipped, blame, rollbacks, the next success, are production's alone).
pub fn members_of_deployment(deployment: &Deployment, config: &OrgConfig) -> Vec<Member> {
    let Some(finished) = deployment.finished_at.filter(|_| deployment.is_attempt()) else {
        return Vec::new();
    };
    let tz = config.timezone();
    let week = iso_week(finished, tz);
    let day = local_date(finished, tz);
    let repo = deployment.repo.clone();
    let (data, scopes) = if deployment.is_production {
        let data = MemberData::Deployment {
            success: deployment.is_successful_production(),
            failed: deployment.is_failed(),
            day,
            rework: deployment.is_successful_production() && deployment.is_rework(),
            recovery: deployment.recovery_seconds(),
        };
        (data, [Scope::Org, Scope::Repo(repo)])
    } else {
        let Some(environment) = deployment.stage.clone() else {
            return Vec::new();
        };
        let data = MemberData::Deployment {
            success: deployment.is_successful_attempt(),
            failed: deployment.is_failed(),
            day,
            rework: false,
            recovery: None,
        };
        let scopes = [
            Scope::OrgIn(environment.clone()),
            Scope::RepoIn { repo, environment },
        ];
        (data, scopes)
    };
    let id = format!("{}|deploy", deployment.key().partition_key());
    scopes
        .into_iter()
        .map(|scope| Member {
            bucket: Bucket { scope, week },
            id: id.clone(),
            data: data.clone(),
        })
        .collect()
}

/// Members of an incident: opened (by open week) and resolved (by resolve week), by service and
/// org.
pub fn members_of_incident(incident: &Incident, config: &OrgConfig) -> Vec<Member> {
    let tz = config.timezone();
    let entity = incident.key().partition_key();
    let mut out = Vec::new();
    let mut services: Vec<&String> = incident.services.iter().collect();
    if services.is_empty() {
        // Stored before `services` was recorded.
        services.push(&incident.service);
    }
    services.sort();
    services.dedup();
    let scopes: Vec<Scope> = std::iter::once(Scope::Org)
        .chain(services.into_iter().map(|s| Scope::Service(s.clone())))
        .collect();
    for scope in &scopes {
        out.push(Member {
            bucket: Bucket {
                scope: scope.clone(),
                week: iso_week(incident.opened_at, tz),
            },
            id: format!("{entity}|opened"),
            data: MemberData::IncidentOpened {
                service: incident.service.clone(),
                severity: incident.severity.clone(),
            },
        });
        if let (Some(resolved), Some(mttr)) = (incident.resolved_at, incident.mttr_seconds()) {
            out.push(Member {
                bucket: Bucket {
                    scope: scope.clone(),
                    week: iso_week(resolved, tz),
                },
                id: format!("{entity}|resolved"),
                data: MemberData::IncidentResolved {
                    service: incident.service.clone(),
                    mttr,
                },
            });
        }
    }
    out
}

/// Members of a ticket: done (by its first done, with the cycle time) and shipped (by the
/// first production deployment of a PR naming it, with the lead time), in its project's
/// bucket only: the org's numbers are the merge of the configured projects' (`OrgConfig::plan`),
/// which keeps ticket changes off the org buckets every PR and deployment recomputes. A
/// deleted ticket counts nowhere; a span that would be negative (a status moved back by hand,
/// a PR shipped before the ticket was started) is no sample.
pub fn members_of_ticket(ticket: &Ticket, config: &OrgConfig) -> Vec<Member> {
    if ticket.deleted {
        return Vec::new();
    }
    let tz = config.timezone();
    let entity = ticket.key().partition_key();
    let scopes = [Scope::tickets(ticket.source, &ticket.project)];
    let span = |end| {
        ticket
            .started_at
            .filter(|start| *start <= end)
            .map(|start| seconds_between(start, end))
    };
    let mut roles = Vec::new();
    if let Some(done) = ticket.done_at {
        let cycle = span(done);
        roles.push((done, "done", MemberData::TicketDone { cycle }));
    }
    if let Some(shipped) = ticket.shipped_at {
        let lead = span(shipped);
        roles.push((shipped, "shipped", MemberData::TicketShipped { lead }));
    }
    let mut out = Vec::new();
    for (at, role, data) in roles {
        for scope in &scopes {
            out.push(Member {
                bucket: Bucket {
                    scope: scope.clone(),
                    week: iso_week(at, tz),
                },
                id: format!("{entity}|{role}"),
                data: data.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::pull_request::Shipment;
    use crate::derive::testing::*;
    use crate::model::{DeploymentState, ReviewState};

    #[test]
    fn packing_groups_an_entitys_members_per_bucket_and_keeps_every_datum() {
        let week = |w: &str| w.parse::<IsoWeek>().expect("week");
        let member = |scope: Scope, w: &str, id: &str, data: MemberData| Member {
            bucket: Bucket {
                scope,
                week: week(w),
            },
            id: id.into(),
            data,
        };
        let lead = |seconds| MemberData::LeadTime { seconds };
        let members = vec![
            member(
                Scope::Org,
                "2026-W41",
                "PR#a#1|opened",
                MemberData::PrOpened,
            ),
            member(Scope::Org, "2026-W41", "PR#a#1|lead", lead(5.0)),
            member(Scope::Org, "2026-W42", "PR#a#1|late", lead(6.0)),
            member(
                Scope::Repo("a".into()),
                "2026-W41",
                "PR#a#1|opened",
                MemberData::PrOpened,
            ),
            member(
                Scope::Org,
                "2026-W41",
                "PR#a#2|opened",
                MemberData::PrOpened,
            ),
            member(Scope::Org, "2026-W41", "DEP#a#9", lead(7.0)),
        ];
        let packs = pack_members(members.clone());
        let keys: Vec<(String, &str, usize)> = packs
            .iter()
            .map(|p| (p.bucket.to_string(), p.id.as_str(), p.data.len()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("org|2026-W41".to_string(), "DEP#a#9", 1),
                ("org|2026-W41".to_string(), "PR#a#1", 2),
                ("org|2026-W41".to_string(), "PR#a#2", 1),
                ("org|2026-W42".to_string(), "PR#a#1", 1),
                ("repo:a|2026-W41".to_string(), "PR#a#1", 1),
            ]
        );
        // Same data in, same data out, and the members' order within a pack is kept.
        let packed: Vec<MemberData> = packs.into_iter().flat_map(|p| p.data).collect();
        assert_eq!(packed.len(), members.len());
        for m in &members {
            assert!(packed.contains(&m.data));
        }
        let pr1 = pack_members(members[..2].to_vec());
        assert_eq!(pr1[0].data, vec![MemberData::PrOpened, lead(5.0)]);
    }

    #[test]
    fn scope_and_bucket_round_trip() {
        for text in ["org", "repo:acme/api", "author:alice", "service:checkout"] {
            let scope = Scope::parse(text).expect("scope");
            assert_eq!(scope.to_string(), text);
            let bucket = Bucket {
                scope,
                week: "2026-W41".parse().expect("week"),
            };
            assert_eq!(Bucket::parse(&bucket.to_string()), Some(bucket));
        }
        assert_eq!(Scope::parse("team:x"), None);
    }

    #[test]
    fn cycle_time_parts_of_a_merged_shipped_pr() {
        let cfg = OrgConfig::default();
        let key = pr_key("acme/api", 1);
        let opened = opened(&key, "2026-10-05T10:00:00Z");
        let merged = merged_with(&key, "d3", "2026-10-06T10:00:00Z", |s| {
            s.merge_commit_sha = Some("abcdef1".into());
        });
        let review = bob_reviews(&key, "d2", ReviewState::Approved, "2026-10-05T14:00:00Z");
        let push = feature_push("p1", "2026-10-05T09:00:00Z", "c1", "2026-10-04T10:00:00Z");
        let mut pr = project_pr(&key, &[opened, merged, review], &[push]);
        pr.shipped_by = Some(Shipment {
            deployment: dep_key("acme/api", "gh:9"),
            sha: "abcdef1".into(),
            finished_at: t("2026-10-06T12:00:00Z"),
        });
        let members = members_of_pull_request(&pr, &cfg);
        let merged = members
            .iter()
            .find(|m| m.id.ends_with("|merged") && m.bucket.scope == Scope::Org)
            .expect("merged member");
        assert_eq!(merged.bucket.week.to_string(), "2026-W41");
        assert_eq!(
            merged.data,
            MemberData::PrMerged {
                coding: Some(86400.0),
                pickup: Some(4.0 * 3600.0),
                review: Some(20.0 * 3600.0),
                deploy: Some(7200.0),
                total: 86400.0 + 86400.0 + 7200.0,
                first_time_pass: true,
                comments: 0,
                size: 0,
            }
        );
        let lead = members
            .iter()
            .find(|m| m.id.ends_with("|lead") && m.bucket.scope == Scope::Org)
            .expect("lead member");
        assert_eq!(
            lead.data,
            MemberData::LeadTime {
                seconds: 2.0 * 86400.0 + 7200.0
            }
        );
        assert_eq!(members.len(), 9, "opened, merged, lead × org, repo, author");

        // Sizes a payload claims past u64::MAX saturate.
        let mut huge = pr.clone();
        huge.additions = u64::MAX;
        huge.deletions = 1;
        let sizes: Vec<u64> = members_of_pull_request(&huge, &cfg)
            .into_iter()
            .filter_map(|m| match m.data {
                MemberData::PrMerged { size, .. } => Some(size),
                _ => None,
            })
            .collect();
        assert_eq!(sizes, [u64::MAX; 3]);
    }

    #[test]
    fn commits_after_opening_mean_no_coding_time() {
        let cfg = OrgConfig::default();
        let key = pr_key("acme/api", 1);
        let opened = opened(&key, "2026-10-05T10:00:00Z");
        let merged = merged(&key, "d3", "2026-10-06T10:00:00Z");
        let push = feature_push("p1", "2026-10-05T11:00:00Z", "c1", "2026-10-05T10:30:00Z");
        let pr = project_pr(&key, &[opened, merged], &[push]);
        let coding = members_of_pull_request(&pr, &cfg)
            .into_iter()
            .find_map(|m| match m.data {
                MemberData::PrMerged { coding, .. } => Some(coding),
                _ => None,
            });
        assert_eq!(coding, Some(None));
    }

    #[test]
    fn bots_contribute_nothing() {
        let cfg = OrgConfig::default();
        let key = pr_key("acme/api", 1);
        let opened = opened_with(&key, "2026-10-05T10:00:00Z", |s| {
            s.author.login = "dependabot[bot]".into();
            s.author.is_bot = true;
        });
        let pr = project_pr(&key, &[opened], &[]);
        assert!(members_of_pull_request(&pr, &cfg).is_empty());
    }

    #[test]
    fn sunday_night_utc_is_next_week_in_berlin() {
        let cfg = OrgConfig::from_yaml("org: acme\ntimezone: Europe/Berlin\n").expect("config");
        // Sunday 2026-10-11 23:30 UTC = Monday 01:30 in Berlin (CEST).
        let d = production_deployment(
            "gh:1",
            "abc",
            "2026-10-11T23:30:00Z",
            DeploymentState::Success,
        );
        let members = members_of_deployment(&d, &cfg);
        assert_eq!(members[0].bucket.week.to_string(), "2026-W42");
        let utc = members_of_deployment(&d, &OrgConfig::default());
        assert_eq!(utc[0].bucket.week.to_string(), "2026-W41");
    }

    /// ENG-7 (Jira): started Mon 2026-10-05 10:00, done Wed 11:00, shipped Tue 16:00.
    fn ticket() -> Ticket {
        Ticket {
            id: "jira:ENG-7".into(),
            source: crate::model::TicketSource::Jira,
            project: "ENG".into(),
            title: "login".into(),
            status: "Done".into(),
            category: crate::model::TicketCategory::Done,
            started_at: Some(t("2026-10-05T10:00:00Z")),
            done_at: Some(t("2026-10-07T11:00:00Z")),
            fix_versions: vec![],
            sprint: None,
            deleted: false,
            html_url: None,
            updated_at: t("2026-10-07T11:00:00Z"),
            prs: vec![],
            shipped_at: Some(t("2026-10-06T16:00:00Z")),
        }
    }

    fn ticket_members(ticket: &Ticket) -> Vec<(String, String, MemberData)> {
        let config = OrgConfig::from_yaml("org: acme").expect("config");
        members_of_ticket(ticket, &config)
            .into_iter()
            .map(|m| (m.bucket.to_string(), m.id, m.data))
            .collect()
    }

    #[test]
    fn a_ticket_counts_its_cycle_when_done_and_its_lead_when_shipped() {
        let found = ticket_members(&ticket());
        let done = MemberData::TicketDone {
            cycle: Some(49.0 * 3600.0),
        };
        let shipped = MemberData::TicketShipped {
            lead: Some(30.0 * 3600.0),
        };
        let id = |role: &str| format!("TICKET#jira:ENG-7|{role}");
        assert_eq!(
            found,
            vec![
                ("tickets:jira:ENG|2026-W41".into(), id("done"), done),
                ("tickets:jira:ENG|2026-W41".into(), id("shipped"), shipped),
            ]
        );
    }

    #[test]
    fn a_ticket_never_started_or_deleted_gives_no_span() {
        // never started: counted done and shipped, without a span
        let mut unstarted = ticket();
        unstarted.started_at = None;
        let found = ticket_members(&unstarted);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|(_, _, d)| matches!(
            d,
            MemberData::TicketDone { cycle: None } | MemberData::TicketShipped { lead: None }
        )));
        // started after its PR shipped: no lead time sample, the cycle time still counts
        let mut late = ticket();
        late.started_at = Some(t("2026-10-06T18:00:00Z"));
        let found = ticket_members(&late);
        assert!(found
            .iter()
            .any(|(_, _, d)| *d == MemberData::TicketShipped { lead: None }));
        // deleted: nothing at all
        let mut deleted = ticket();
        deleted.deleted = true;
        assert!(ticket_members(&deleted).is_empty());
    }

    #[test]
    fn another_environments_scopes_read_back_and_other_scopes_keep_their_at_signs() {
        for text in [
            "org@qa",
            "repo:acme/api@pre-prod",
            "service:eu@night",
            "org",
            "tickets:jira:PAY",
        ] {
            let scope = Scope::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(scope.to_string(), text);
        }
        assert_eq!(Scope::parse("org@qa"), Some(Scope::OrgIn("qa".into())));
        assert_eq!(
            Scope::parse("service:eu@night"),
            Some(Scope::Service("eu@night".into()))
        );
        assert_eq!(Scope::parse("org@"), None);
    }

    #[test]
    fn a_deployment_to_another_environment_counts_in_that_environments_scopes() {
        let config = OrgConfig::from_yaml("org: acme").expect("config");
        let mut qa = production_deployment(
            "7",
            "abc1234",
            "2026-10-07T10:00:00Z",
            DeploymentState::Failure,
        );
        qa.is_production = false;
        qa.stage = Some("qa".into());
        let found: Vec<(String, MemberData)> = members_of_deployment(&qa, &config)
            .into_iter()
            .map(|m| (m.bucket.to_string(), m.data))
            .collect();
        let data = MemberData::Deployment {
            success: false,
            failed: true,
            day: "2026-10-07".parse().expect("day"),
            rework: false,
            recovery: None,
        };
        assert_eq!(
            found,
            [
                ("org@qa|2026-W41".to_string(), data.clone()),
                ("repo:acme/api@qa|2026-W41".to_string(), data)
            ]
        );
        // an environment no pattern matched (no stage) counts nowhere
        qa.stage = None;
        assert!(members_of_deployment(&qa, &config).is_empty());
    }
}
