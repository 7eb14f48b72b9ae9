//! Which stored rollups answer a question about a team, a repo, a service or the whole org.
//!
//! Rollups are kept per repo, per author and per service (and for the org); a team is a set of
//! people and a set of repos in the config, so a team's numbers are the merge of its members'
//! or repos' rollups, read at request time. That rule — which stored scopes stand for a
//! requested one, per kind of number — is decided here once, for the read API, `/metrics` and
//! the digest alike.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::config::{OrgConfig, Team};
use crate::derive::Scope;
use crate::time::IsoWeek;

/// A scope as a reader asks for it (`org`, `team:<name>`, `repo:<owner>/<name>`,
/// `service:<name>`). Repo and service names are lower-cased, as they are stored; a team name
/// keeps its spelling, the config finds it case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestedScope {
    Org,
    Team(String),
    Repo(String),
    Service(String),
}

/// Why a requested scope cannot be answered. `input` is the scope as the reader wrote it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Not of the form `kind:name`.
    #[error(
        "`scope`: expected org, team:<name>, repo:<owner>/<name> or service:<name>, got {input:?}"
    )]
    Malformed { input: String },
    /// A `repo:` scope whose name is not a repository's (`crate::repo`).
    #[error(
        "`scope`: repo must be owner/name or a web address like gitlab.com/group/project, got \
         {name:?}"
    )]
    BadRepo { name: String },
    /// A `repo:` scope longer than any repository's name.
    #[error(
        "`scope`: the repo name is too long ({bytes} bytes; a repository's name is at most {} bytes)",
        crate::repo::MAX_REPO_BYTES
    )]
    RepoTooLong { bytes: usize },
    /// A kind of scope the API does not know, or a team the config does not have.
    #[error("unknown scope {input:?}")]
    Unknown { input: String },
}

impl FromStr for RequestedScope {
    type Err = ScopeError;

    fn from_str(input: &str) -> Result<RequestedScope, ScopeError> {
        if input == "org" {
            return Ok(RequestedScope::Org);
        }
        let Some((kind, name)) = input.split_once(':') else {
            return Err(ScopeError::Malformed {
                input: input.to_string(),
            });
        };
        match kind {
            "team" => Ok(RequestedScope::Team(name.to_string())),
            "repo" => {
                if name.len() > crate::repo::MAX_REPO_BYTES {
                    return Err(ScopeError::RepoTooLong { bytes: name.len() });
                }
                let repo = crate::repo::parse_repo(name).map_err(|_| ScopeError::BadRepo {
                    name: name.to_string(),
                })?;
                Ok(RequestedScope::Repo(repo))
            }
            "service" => Ok(RequestedScope::Service(name.to_lowercase())),
            _ => Err(ScopeError::Unknown {
                input: input.to_string(),
            }),
        }
    }
}

impl fmt::Display for RequestedScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestedScope::Org => write!(f, "org"),
            RequestedScope::Team(name) => write!(f, "team:{name}"),
            RequestedScope::Repo(repo) => write!(f, "repo:{repo}"),
            RequestedScope::Service(name) => write!(f, "service:{name}"),
        }
    }
}

/// The stored scopes a requested scope reads, per kind of number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopePlan {
    /// Deployments and lead time: repos (or the org).
    pub delivery: Vec<Scope>,
    /// PR-based numbers: a team's members when it lists any, else its repos.
    pub pull_requests: Vec<Scope>,
    /// Incidents: services (or the org).
    pub incidents: Vec<Scope>,
    /// Ticket numbers: the Jira projects and Linear teams config `tickets:` gives a team (the
    /// org: every configured one); none for a repo or a service, which own no tickets.
    pub tickets: Vec<Scope>,
    /// Service names whose open incidents belong to the scope (`None` = all).
    pub services: Option<BTreeSet<String>>,
    /// Known from the config; otherwise the scope exists only if it has data.
    pub configured: bool,
}

impl ScopePlan {
    /// Every stored scope of the plan, of every kind of number (with repeats).
    pub fn scopes(&self) -> impl Iterator<Item = &Scope> {
        self.exported_scopes().chain(&self.tickets)
    }

    /// The stored scopes of the deployments to `environment`: production's are
    /// [`ScopePlan::delivery`]; another configured environment's are the same org and repos
    /// in that environment (`org@qa`, `repo:acme/api@qa`).
    pub fn delivery_in(&self, environment: &str) -> Vec<Scope> {
        if environment == crate::config::PRODUCTION {
            return self.delivery.clone();
        }
        self.delivery
            .iter()
            .filter_map(|scope| match scope {
                Scope::Org => Some(Scope::OrgIn(environment.to_string())),
                Scope::Repo(repo) => Some(Scope::RepoIn {
                    repo: repo.clone(),
                    environment: environment.to_string(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The stored scopes of the numbers `/metrics` exports (DORA, cycle time, PRs, incidents;
    /// not tickets), with repeats.
    pub fn exported_scopes(&self) -> impl Iterator<Item = &Scope> {
        self.delivery
            .iter()
            .chain(&self.pull_requests)
            .chain(&self.incidents)
    }

    /// Whether an open incident of `service` belongs to the scope.
    pub fn owns_incidents_of(&self, service: &str) -> bool {
        self.services.as_ref().is_none_or(|s| s.contains(service))
    }
}

impl OrgConfig {
    /// The stored scopes that answer `scope` under this config. Only a team can be unknown
    /// here: an unconfigured repo or service is answered from its data, if it has any.
    pub fn plan(&self, scope: &RequestedScope) -> Result<ScopePlan, ScopeError> {
        match scope {
            RequestedScope::Org => Ok(ScopePlan {
                delivery: vec![Scope::Org],
                pull_requests: vec![Scope::Org],
                incidents: vec![Scope::Org],
                tickets: self
                    .ticket_projects()
                    .iter()
                    .map(|p| Scope::tickets(p.source, &p.key))
                    .collect(),
                services: None,
                configured: true,
            }),
            RequestedScope::Team(name) => {
                let team = self.team(name).ok_or_else(|| ScopeError::Unknown {
                    input: scope.to_string(),
                })?;
                Ok(self.plan_team(name, team))
            }
            RequestedScope::Repo(repo) => {
                let configured = !self.services_of_repo(repo).is_empty()
                    || self.teams().any(|(_, t)| t.repos.contains(repo));
                let services = self.services_of_repos(std::slice::from_ref(repo));
                Ok(ScopePlan {
                    delivery: vec![Scope::Repo(repo.clone())],
                    pull_requests: vec![Scope::Repo(repo.clone())],
                    incidents: service_scopes(&services),
                    tickets: Vec::new(),
                    services: Some(services),
                    configured,
                })
            }
            RequestedScope::Service(service) => {
                let repos = repo_scopes(self.repos_of_service(service).unwrap_or_default());
                Ok(ScopePlan {
                    delivery: repos.clone(),
                    pull_requests: repos,
                    incidents: vec![Scope::Service(service.clone())],
                    tickets: Vec::new(),
                    configured: self.service(service).is_some(),
                    services: Some(BTreeSet::from([service.clone()])),
                })
            }
        }
    }

    /// The stored scopes of a team of this config (`name` as the config or a reader spells it).
    pub fn plan_team(&self, name: &str, team: &Team) -> ScopePlan {
        let tickets = self
            .ticket_projects()
            .iter()
            .filter(|p| p.team.eq_ignore_ascii_case(name))
            .map(|p| Scope::tickets(p.source, &p.key))
            .collect();
        let repos = repo_scopes(&team.repos);
        let members: Vec<Scope> = team
            .members
            .iter()
            .map(|m| Scope::Author(m.to_lowercase()))
            .collect();
        let services = self.services_of_repos(&team.repos);
        ScopePlan {
            pull_requests: if members.is_empty() {
                repos.clone()
            } else {
                members
            },
            delivery: repos,
            incidents: service_scopes(&services),
            tickets,
            services: Some(services),
            configured: true,
        }
    }

    /// Every scope `/metrics` reports: the org, each team, each configured repo (of teams and
    /// services) and each service, in that order.
    pub fn reported_scopes(&self) -> Vec<RequestedScope> {
        let mut scopes = vec![RequestedScope::Org];
        scopes.extend(
            self.teams()
                .map(|(name, _)| RequestedScope::Team(name.to_string())),
        );
        let repos: BTreeSet<&String> = self
            .teams()
            .flat_map(|(_, t)| t.repos.iter())
            .chain(self.services().flat_map(|(_, s)| s.repos.iter()))
            .collect();
        scopes.extend(repos.into_iter().map(|r| RequestedScope::Repo(r.clone())));
        scopes.extend(
            self.services()
                .map(|(name, _)| RequestedScope::Service(name.to_string())),
        );
        scopes
    }

    /// The services whose incidents belong to these repos: those configured with one of them,
    /// and the repos themselves, which are the service name of an incident filed as a GitHub
    /// issue in an unconfigured repo.
    fn services_of_repos(&self, repos: &[String]) -> BTreeSet<String> {
        self.services()
            .filter(|(_, s)| s.repos.iter().any(|r| repos.contains(r)))
            .map(|(name, _)| name.to_string())
            .chain(repos.iter().cloned())
            .collect()
    }
}

fn repo_scopes(repos: &[String]) -> Vec<Scope> {
    repos.iter().map(|r| Scope::Repo(r.clone())).collect()
}

fn service_scopes(services: &BTreeSet<String>) -> Vec<Scope> {
    services.iter().map(|s| Scope::Service(s.clone())).collect()
}

/// The rollup keys of `scopes` × `weeks`, each scope once and in order: a repo or author named
/// twice (two teams of a union, a member listed twice in an old config) must not have its
/// rollups read, and so merged, twice.
pub fn rollup_keys<'a>(
    scopes: impl IntoIterator<Item = &'a Scope>,
    weeks: &[IsoWeek],
) -> Vec<(Scope, IsoWeek)> {
    let unique: BTreeSet<&Scope> = scopes.into_iter().collect();
    unique
        .into_iter()
        .flat_map(|s| weeks.iter().map(move |w| (s.clone(), *w)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OrgConfig {
        OrgConfig::from_yaml(
            "org: acme\n\
             teams:\n  payments: { members: [Alice, bob], repos: [acme/pay] }\n  \
             platform: { repos: [acme/infra, acme/pay] }\n\
             services:\n  checkout: { repos: [acme/pay] }\n  search: {}\n",
        )
        .expect("test config")
    }

    fn scope(text: &str) -> RequestedScope {
        text.parse().expect("a valid scope")
    }

    fn repos(names: &[&str]) -> Vec<Scope> {
        names.iter().map(|r| Scope::Repo(r.to_string())).collect()
    }

    fn services(names: &[&str]) -> Vec<Scope> {
        names
            .iter()
            .map(|s| Scope::Service(s.to_string()))
            .collect()
    }

    #[test]
    fn a_scope_is_read_as_the_api_spells_it() {
        // given / when / then
        assert_eq!(scope("org"), RequestedScope::Org);
        assert_eq!(
            scope("team:Payments"),
            RequestedScope::Team("Payments".into())
        );
        assert_eq!(
            scope("repo:Acme/Pay"),
            RequestedScope::Repo("acme/pay".into())
        );
        assert_eq!(
            scope("service:Checkout"),
            RequestedScope::Service("checkout".into())
        );
    }

    #[test]
    fn a_malformed_scope_says_what_is_expected() {
        // given / when
        let errors: Vec<String> = [
            "payments",
            "repo:acme",
            "repo:a/b/c",
            "repo:/x",
            "author:alice",
        ]
        .iter()
        .map(|s| s.parse::<RequestedScope>().expect_err(s).to_string())
        .collect();
        // then
        assert_eq!(
            errors,
            [
                "`scope`: expected org, team:<name>, repo:<owner>/<name> or service:<name>, got \"payments\"",
                "`scope`: repo must be owner/name or a web address like gitlab.com/group/project, got \"acme\"",
                "`scope`: repo must be owner/name or a web address like gitlab.com/group/project, got \"a/b/c\"",
                "`scope`: repo must be owner/name or a web address like gitlab.com/group/project, got \"/x\"",
                "unknown scope \"author:alice\"",
            ]
        );
    }

    #[test]
    fn a_team_with_members_reads_its_members_for_pull_requests_and_its_repos_for_delivery() {
        // given a team listing members and a repo owned by a service
        // when
        let plan = config().plan(&scope("team:Payments")).expect("plan");
        // then
        assert_eq!(plan.delivery, repos(&["acme/pay"]));
        assert_eq!(
            plan.pull_requests,
            [Scope::Author("alice".into()), Scope::Author("bob".into())]
        );
        assert_eq!(plan.incidents, services(&["acme/pay", "checkout"]));
        assert!(plan.owns_incidents_of("checkout"));
        assert!(!plan.owns_incidents_of("search"));
        assert!(plan.configured);
    }

    #[test]
    fn a_team_without_members_reads_its_repos_for_pull_requests() {
        // given / when
        let plan = config().plan(&scope("team:platform")).expect("plan");
        // then
        assert_eq!(plan.pull_requests, repos(&["acme/infra", "acme/pay"]));
        assert_eq!(plan.delivery, plan.pull_requests);
    }

    #[test]
    fn a_team_reads_the_ticket_projects_config_gives_it_and_a_repo_none() {
        let config = OrgConfig::from_yaml(
            "org: acme\nteams: { payments: { repos: [acme/api] }, growth: {} }\ntickets: { jira: { PAY: payments, OPS: growth }, linear: { PAY: Payments } }",
        )
        .expect("config");
        let plan = config.plan(&scope("team:Payments")).expect("plan");
        assert_eq!(
            plan.tickets,
            [
                Scope::Tickets("jira:PAY".into()),
                Scope::Tickets("linear:PAY".into())
            ]
        );
        assert!(plan
            .scopes()
            .any(|s| *s == Scope::Tickets("linear:PAY".into())));
        assert_eq!(
            config.plan(&scope("org")).expect("plan").tickets,
            [
                Scope::Tickets("jira:PAY".into()),
                Scope::Tickets("jira:OPS".into()),
                Scope::Tickets("linear:PAY".into())
            ]
        );
        assert!(config
            .plan(&scope("repo:acme/api"))
            .expect("plan")
            .tickets
            .is_empty());
    }

    #[test]
    fn another_environments_deployments_are_read_from_its_own_scopes() {
        let plan = config().plan(&scope("team:payments")).expect("plan");
        assert_eq!(plan.delivery_in("production"), plan.delivery);
        let in_qa: Vec<String> = plan
            .delivery_in("qa")
            .iter()
            .map(|s| s.to_string())
            .collect();
        let production: Vec<String> = plan.delivery.iter().map(|s| format!("{s}@qa")).collect();
        assert_eq!(in_qa, production);
        let org = config().plan(&scope("org")).expect("plan");
        assert_eq!(org.delivery_in("qa"), [Scope::OrgIn("qa".into())]);
    }

    #[test]
    fn a_team_the_config_does_not_have_is_unknown() {
        // given / when
        let err = config().plan(&scope("team:nobody")).expect_err("unknown");
        // then
        assert_eq!(err.to_string(), "unknown scope \"team:nobody\"");
    }

    #[test]
    fn a_repo_is_configured_when_a_team_or_service_names_it() {
        // given / when
        let known = config().plan(&scope("repo:acme/infra")).expect("plan");
        let unknown = config().plan(&scope("repo:acme/other")).expect("plan");
        // then
        assert!(known.configured);
        assert!(!unknown.configured);
        assert_eq!(unknown.delivery, repos(&["acme/other"]));
        assert_eq!(unknown.incidents, services(&["acme/other"]));
    }

    #[test]
    fn a_service_reads_its_repos_for_delivery_and_itself_for_incidents() {
        // given / when
        let checkout = config().plan(&scope("service:checkout")).expect("plan");
        let unconfigured = config().plan(&scope("service:mail")).expect("plan");
        // then
        assert_eq!(checkout.delivery, repos(&["acme/pay"]));
        assert_eq!(checkout.incidents, services(&["checkout"]));
        assert!(checkout.configured);
        assert!(unconfigured.delivery.is_empty());
        assert!(!unconfigured.configured);
    }

    #[test]
    fn the_org_reads_the_org_rollups_and_owns_every_incident() {
        // given / when
        let plan = config().plan(&RequestedScope::Org).expect("plan");
        // then
        assert_eq!(plan.delivery, [Scope::Org]);
        assert!(plan.owns_incidents_of("anything"));
    }

    #[test]
    fn metrics_report_the_org_teams_repos_and_services_in_order() {
        // given / when
        let shown: Vec<String> = config()
            .reported_scopes()
            .iter()
            .map(ToString::to_string)
            .collect();
        // then
        assert_eq!(
            shown,
            [
                "org",
                "team:payments",
                "team:platform",
                "repo:acme/infra",
                "repo:acme/pay",
                "service:checkout",
                "service:search",
            ]
        );
    }

    #[test]
    fn rollup_keys_read_each_scope_once() {
        // given a repo in two teams of one union and an author: 2 distinct scopes
        let weeks: [IsoWeek; 2] = [
            "2026-W41".parse().expect("week"),
            "2026-W42".parse().expect("week"),
        ];
        let scopes = [
            Scope::Repo("acme/api".into()),
            Scope::Author("alice".into()),
            Scope::Repo("acme/api".into()),
        ];
        // when
        let keys = rollup_keys(&scopes, &weeks);
        // then 2 scopes × 2 weeks = 4 keys, not 6
        assert_eq!(keys.len(), 4, "{keys:?}");
        let distinct: BTreeSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), 4);
    }
}
