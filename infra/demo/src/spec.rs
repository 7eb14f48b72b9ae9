//! The sample org itself: four teams, 22 engineers, twelve repositories, three services, and
//! how each repository ships. Static data; the simulation (`sim`) brings it to life.

/// The GitHub organisation (owner of every GitHub repository), and the GitLab group.
pub const ORG: &str = "acme";
/// The team whose repositories live on GitLab (`gitlab.com/acme/<team>/<repo>`, a nested
/// group), reported by GitLab's project webhooks; every other team's are on GitHub.
pub const GITLAB_TEAM: &str = "mobile";
pub const GITLAB_HOST: &str = "gitlab.com";
/// The repository whose staging and production deployments Argo CD syncs and reports
/// (argocd-notifications), instead of GitHub Deployments; its code stays on GitHub.
pub const ARGOCD_REPO: &str = "api-gateway";
/// The org's timezone: working hours, quiet weekends and ISO week boundaries are local to it.
pub const TIMEZONE: chrono_tz::Tz = chrono_tz::Europe::Berlin;
pub const TIMEZONE_NAME: &str = "Europe/Berlin";

/// How a repository reaches production.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deploys {
    /// Continuous delivery through GitHub Deployments: every merge goes out within minutes.
    Continuous,
    /// A deploy train through GitHub Deployments at these local hours on working days.
    Train(&'static [u32]),
    /// Releases on Tuesdays and Thursdays at 14:00 (a mobile app's backend of record).
    Weekly,
    /// Continuous delivery from a CI system that reports to `POST /webhooks/deployments`
    /// instead of using GitHub Deployments.
    GenericCi,
    /// A library: never deployed.
    Never,
}

#[derive(Clone, Copy, Debug)]
pub struct RepoSpec {
    pub name: &'static str,
    pub deploys: Deploys,
    /// How often the team works in it, relative to its other repos.
    pub weight: f64,
    /// `dependabot` or `renovate`: who sends this repo's dependency-update PRs.
    pub bot: &'static str,
    /// Words for PR titles.
    pub topics: &'static [&'static str],
}

#[derive(Clone, Copy, Debug)]
pub struct TeamSpec {
    pub name: &'static str,
    pub members: &'static [&'static str],
    pub repos: &'static [RepoSpec],
}

#[derive(Clone, Copy, Debug)]
pub struct ServiceSpec {
    pub name: &'static str,
    /// The service's name in PagerDuty, and its PagerDuty id (mapped in config).
    pub pagerduty_name: &'static str,
    pub pagerduty_id: &'static str,
    pub repos: &'static [&'static str],
}

pub const TEAMS: &[TeamSpec] = &[
    TeamSpec {
        name: "payments",
        members: &[
            "ana-lopez",
            "ben-carter",
            "chloe-ng",
            "diego-ramos",
            "erin-walsh",
            "farid-haddad",
        ],
        repos: &[
            RepoSpec {
                name: "payments-api",
                deploys: Deploys::Continuous,
                weight: 3.0,
                bot: "dependabot",
                topics: &[
                    "refunds",
                    "card vault",
                    "3DS flow",
                    "payouts",
                    "idempotency keys",
                    "webhook retries",
                ],
            },
            RepoSpec {
                name: "ledger",
                deploys: Deploys::Train(&[11, 16]),
                weight: 2.0,
                bot: "dependabot",
                topics: &[
                    "double-entry postings",
                    "reconciliation",
                    "FX rates",
                    "balance snapshots",
                ],
            },
            RepoSpec {
                name: "billing-worker",
                deploys: Deploys::Train(&[14]),
                weight: 1.0,
                bot: "renovate",
                topics: &["invoice runs", "dunning emails", "proration", "tax export"],
            },
        ],
    },
    TeamSpec {
        name: "platform",
        members: &[
            "grace-kim",
            "hiro-tanaka",
            "ines-silva",
            "jonas-berg",
            "kate-obrien",
        ],
        repos: &[
            RepoSpec {
                name: "auth-service",
                deploys: Deploys::Train(&[10, 15]),
                weight: 2.0,
                bot: "dependabot",
                topics: &[
                    "OIDC login",
                    "session tokens",
                    "SAML metadata",
                    "MFA enrolment",
                    "rate limits",
                ],
            },
            RepoSpec {
                name: "api-gateway",
                deploys: Deploys::Train(&[11]),
                weight: 1.5,
                bot: "renovate",
                topics: &[
                    "routing table",
                    "TLS config",
                    "request tracing",
                    "circuit breakers",
                ],
            },
            RepoSpec {
                name: "infra",
                deploys: Deploys::Train(&[13]),
                weight: 1.5,
                bot: "renovate",
                topics: &[
                    "terraform modules",
                    "autoscaling",
                    "alert rules",
                    "backups",
                    "VPC peering",
                ],
            },
        ],
    },
    TeamSpec {
        name: "growth",
        members: &[
            "liam-patel",
            "maya-cohen",
            "noah-fischer",
            "olga-ivanova",
            "priya-raman",
            "quinn-murphy",
        ],
        repos: &[
            RepoSpec {
                name: "web",
                deploys: Deploys::Continuous,
                weight: 3.0,
                bot: "dependabot",
                topics: &[
                    "checkout page",
                    "pricing page",
                    "search filters",
                    "product cards",
                    "SEO tags",
                    "cart drawer",
                ],
            },
            RepoSpec {
                name: "experiments",
                deploys: Deploys::Train(&[12, 17]),
                weight: 1.0,
                bot: "renovate",
                topics: &["A/B assignment", "exposure events", "holdout groups"],
            },
            RepoSpec {
                name: "onboarding-service",
                deploys: Deploys::Train(&[11, 16]),
                weight: 1.5,
                bot: "renovate",
                topics: &[
                    "welcome emails",
                    "signup wizard",
                    "referral codes",
                    "trial extension",
                ],
            },
        ],
    },
    TeamSpec {
        name: "mobile",
        members: &[
            "rosa-mendes",
            "sam-adeyemi",
            "tara-singh",
            "uma-kowalski",
            "victor-dubois",
        ],
        repos: &[
            RepoSpec {
                name: "mobile-app",
                deploys: Deploys::Weekly,
                weight: 2.5,
                bot: "dependabot",
                topics: &[
                    "push notifications",
                    "offline mode",
                    "deep links",
                    "order history screen",
                    "dark mode",
                ],
            },
            RepoSpec {
                name: "mobile-bff",
                deploys: Deploys::GenericCi,
                weight: 2.0,
                bot: "renovate",
                topics: &[
                    "feed endpoint",
                    "image resizing",
                    "app config",
                    "GraphQL schema",
                ],
            },
            RepoSpec {
                name: "design-system",
                deploys: Deploys::Never,
                weight: 0.8,
                bot: "dependabot",
                topics: &[
                    "button tokens",
                    "typography scale",
                    "icon set",
                    "a11y contrast",
                ],
            },
        ],
    },
];

pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        name: "checkout",
        pagerduty_name: "Checkout API",
        pagerduty_id: "PCHK7QX",
        repos: &["payments-api", "ledger"],
    },
    ServiceSpec {
        name: "identity",
        pagerduty_name: "Identity",
        pagerduty_id: "PIDN4RT",
        repos: &["auth-service", "api-gateway"],
    },
    ServiceSpec {
        name: "storefront",
        pagerduty_name: "Storefront",
        pagerduty_id: "PSTF9KM",
        repos: &["web", "mobile-bff"],
    },
];

/// Where a team tracks its tickets, and how the tracker reaches Flowmeter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracker {
    /// Jira Cloud, signed with the Jira secret (`POST /webhooks/jira`).
    JiraCloud,
    /// Jira Server/Data Center, unsigned, the token in the URL (`/webhooks/jira/<token>`).
    JiraServer,
    /// Linear, signed and dated (`POST /webhooks/linear`).
    Linear,
}

/// A team's Jira project or Linear team: its key (`PAY` of `PAY-142`) and tracker.
#[derive(Clone, Copy, Debug)]
pub struct TicketProjectSpec {
    pub key: &'static str,
    pub team: &'static str,
    pub tracker: Tracker,
    /// The number of the first ticket of the history (earlier ones are long done).
    pub first_number: u64,
}

/// Every team tracks its work in one project: payments and platform in Jira Cloud (with
/// two-week sprints), mobile in its own Jira Data Center (with a fix version per weekly
/// release), growth in Linear (with two-week cycles).
pub const TICKET_PROJECTS: &[TicketProjectSpec] = &[
    TicketProjectSpec {
        key: "PAY",
        team: "payments",
        tracker: Tracker::JiraCloud,
        first_number: 1400,
    },
    TicketProjectSpec {
        key: "PLAT",
        team: "platform",
        tracker: Tracker::JiraCloud,
        first_number: 820,
    },
    TicketProjectSpec {
        key: "GRO",
        team: "growth",
        tracker: Tracker::Linear,
        first_number: 310,
    },
    TicketProjectSpec {
        key: "MOB",
        team: "mobile",
        tracker: Tracker::JiraServer,
        first_number: 2150,
    },
];

pub fn ticket_project_of_team(team: &str) -> Option<&'static TicketProjectSpec> {
    TICKET_PROJECTS.iter().find(|p| p.team == team)
}

/// The teams whose struggle the demo can stage: each owns a service, so incidents land on it.
pub const STRUGGLE_CANDIDATES: &[&str] = &["payments", "platform", "growth"];

/// Where a repository's code lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    GitHub,
    GitLab,
}

pub fn host_of(repo: &str) -> Host {
    match team_of_repo(repo) {
        Some(team) if team.name == GITLAB_TEAM => Host::GitLab,
        _ => Host::GitHub,
    }
}

/// A GitLab repository's path with namespace (`acme/mobile/mobile-app`).
pub fn gitlab_path(repo: &str) -> String {
    format!("{ORG}/{GITLAB_TEAM}/{repo}")
}

/// Flowmeter's name of the repository: `acme/<repo>` on GitHub, its web address without the
/// scheme on GitLab (`gitlab.com/acme/mobile/<repo>`).
pub fn full_name(repo: &str) -> String {
    match host_of(repo) {
        Host::GitHub => format!("{ORG}/{repo}"),
        Host::GitLab => format!("{GITLAB_HOST}/{}", gitlab_path(repo)),
    }
}

/// Who reports a repository's deployments to Flowmeter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployReporter {
    /// GitHub Deployments and their statuses.
    GitHub,
    /// GitLab's Deployment Hook.
    GitLab,
    /// argocd-notifications: one Application per environment (`<repo>-staging`,
    /// `<repo>-prod`), its destination namespace named alike.
    ArgoCd,
    /// The CI's call of `POST /webhooks/deployments`.
    Generic,
}

pub fn deploy_reporter(repo: &str) -> DeployReporter {
    let deploys = repo_spec(repo).map_or(Deploys::Never, |s| s.deploys);
    if deploys == Deploys::GenericCi {
        DeployReporter::Generic
    } else if repo == ARGOCD_REPO {
        DeployReporter::ArgoCd
    } else if host_of(repo) == Host::GitLab {
        DeployReporter::GitLab
    } else {
        DeployReporter::GitHub
    }
}

/// The environment an Argo CD Application of `repo` deploys to (its destination namespace),
/// which the config's `environments` patterns map: `api-gateway-prod` is production.
pub fn argocd_environment(repo: &str, environment: &str) -> String {
    let suffix = if environment == "production" {
        "prod"
    } else {
        environment
    };
    format!("{repo}-{suffix}")
}

pub fn team_of_repo(repo: &str) -> Option<&'static TeamSpec> {
    TEAMS
        .iter()
        .find(|t| t.repos.iter().any(|r| r.name == repo))
}

pub fn repo_spec(repo: &str) -> Option<&'static RepoSpec> {
    TEAMS
        .iter()
        .flat_map(|t| t.repos.iter())
        .find(|r| r.name == repo)
}

pub fn service_of_repo(repo: &str) -> Option<&'static ServiceSpec> {
    SERVICES.iter().find(|s| s.repos.contains(&repo))
}

pub fn team_of_member(login: &str) -> Option<&'static TeamSpec> {
    TEAMS.iter().find(|t| t.members.contains(&login))
}

/// A route of the config's `notifications.routes` (docs/CONFIG.md "notifications"): which
/// events the chat channel `channel` hears about. The channel's webhook comes from
/// `FLOWMETER_CHANNELS`: `make demo` points each at its own Slack stand-in.
#[derive(Clone, Copy, Debug)]
pub struct NotificationRoute {
    pub channel: &'static str,
    pub events: &'static [&'static str],
    /// Only events of these environments (empty: any).
    pub environments: &'static [&'static str],
    /// Only events of at least this severity.
    pub severity: Option<&'static str>,
    /// Only events of this team's repositories.
    pub team_repos: Option<&'static str>,
}

/// The demo's routes: failed and recovered production deployments to the platform channel,
/// serious security alerts to the security channel, the payments team's merged PRs to its
/// own channel, and the teams the digest's rule flags to the engineering leads.
pub const NOTIFICATION_ROUTES: &[NotificationRoute] = &[
    NotificationRoute {
        channel: "platform",
        events: &["deployment.failed", "deployment.recovered"],
        environments: &["production"],
        severity: None,
        team_repos: None,
    },
    NotificationRoute {
        channel: "security",
        events: &["security.alert"],
        environments: &[],
        severity: Some("high"),
        team_repos: None,
    },
    NotificationRoute {
        channel: "payments",
        events: &["pull_request.merged"],
        environments: &[],
        severity: None,
        team_repos: Some("payments"),
    },
    NotificationRoute {
        channel: "eng-leads",
        events: &["team.needs_attention"],
        environments: &[],
        severity: None,
        team_repos: None,
    },
];

impl NotificationRoute {
    /// The `owner/name` of the repositories the route is limited to (empty: any).
    pub fn repos(&self) -> Vec<String> {
        self.team_repos
            .and_then(|team| TEAMS.iter().find(|t| t.name == team))
            .map(|t| t.repos.iter().map(|r| full_name(r.name)).collect())
            .unwrap_or_default()
    }

    /// What the channel gets, for people: `pull_request.merged of acme/a, acme/b`.
    pub fn describe(&self) -> String {
        let mut out = self.events.join(", ");
        if !self.environments.is_empty() {
            out.push_str(&format!(" in {}", self.environments.join(", ")));
        }
        if let Some(severity) = self.severity {
            out.push_str(&format!(" of severity {severity} or above"));
        }
        let repos = self.repos();
        if !repos.is_empty() {
            out.push_str(&format!(" of {}", repos.join(", ")));
        }
        out
    }

    /// The route as one YAML flow mapping.
    fn yaml(&self) -> String {
        let mut fields = vec![
            format!("channel: {}", self.channel),
            format!("events: [{}]", self.events.join(", ")),
        ];
        if !self.environments.is_empty() {
            fields.push(format!("environments: [{}]", self.environments.join(", ")));
        }
        if let Some(severity) = self.severity {
            fields.push(format!("severity: {severity}"));
        }
        let repos = self.repos();
        if !repos.is_empty() {
            fields.push(format!("repos: [{}]", repos.join(", ")));
        }
        format!("{{ {} }}", fields.join(", "))
    }
}

/// The org config (docs/CONFIG.md) for this org.
pub fn config_yaml() -> String {
    let mut y = String::new();
    y.push_str("# Generated by flowmeter-demo: the sample org of `make demo`.\n");
    y.push_str(&format!("org: {ORG}\ntimezone: {TIMEZONE_NAME}\n"));
    // `*-staging` and `*-prod`: the Argo CD Applications' namespaces (`api-gateway-prod`).
    y.push_str("environments:\n  staging: [\"staging\", \"*-staging\"]\n  production: [\"production\", \"prod\", \"prd\", \"*-prod\"]\n");
    y.push_str("teams:\n");
    for team in TEAMS {
        y.push_str(&format!(
            "  {}:\n    members: [{}]\n    repos: [{}]\n",
            team.name,
            team.members.join(", "),
            team.repos
                .iter()
                .map(|r| full_name(r.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    y.push_str("services:\n");
    for s in SERVICES {
        y.push_str(&format!(
            "  {}: {{ repos: [{}], pagerduty: [{}] }}\n",
            s.name,
            s.repos
                .iter()
                .map(|r| full_name(r))
                .collect::<Vec<_>>()
                .join(", "),
            s.pagerduty_id
        ));
    }
    y.push_str("bots: [\"codecov-commenter\"]\n");
    let keys = |jira: bool| {
        TICKET_PROJECTS
            .iter()
            .filter(|p| (p.tracker == Tracker::Linear) != jira)
            .map(|p| format!("{}: {}", p.key, p.team))
            .collect::<Vec<_>>()
            .join(", ")
    };
    y.push_str(&format!(
        "tickets:\n  jira: {{ {} }}\n  linear: {{ {} }}\n",
        keys(true),
        keys(false)
    ));
    y.push_str("incidents:\n  github_label: incident\n  blame_window: 7d\n");
    y.push_str("rework:\n  labels: [hotfix, bug]\n  branches: [\"hotfix/*\"]\n");
    y.push_str("severity:\n  pagerduty_urgency: { high: sev2, low: sev3 }\n");
    // Goals the demo shows (docs/CONFIG.md "goals"): a loose lead time goal payments meets and a
    // strict first-time pass rate it misses, so `GET /v1/goals` and the digest show both.
    y.push_str("goals:\n  org:\n    change_failure_rate: 15%\n");
    y.push_str("  payments:\n    lead_time_p50: 7d\n    first_time_pass_rate: 95%\n");
    y.push_str("  platform:\n    deployment_frequency: elite\n");
    y.push_str(&format!(
        "digest:\n  email: {{ from: metrics@{ORG}.example, to: [vp-eng@{ORG}.example] }}\n  slack: {{ channel: \"#engineering-metrics\" }}\n"
    ));
    y.push_str("notifications:\n  routes:\n");
    for route in NOTIFICATION_ROUTES {
        y.push_str(&format!("    - {}\n", route.yaml()));
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowmeter::config::OrgConfig;
    use flowmeter::events::EventType;

    #[test]
    fn the_config_routes_events_to_the_demo_s_four_channels() {
        let config = OrgConfig::from_yaml(&config_yaml()).expect("the demo's config is valid");
        let routes = &config.notifications().routes;
        let channels: Vec<&str> = routes.iter().map(|r| r.channel.as_str()).collect();
        assert_eq!(channels, ["platform", "security", "payments", "eng-leads"]);
        assert_eq!(routes[3].events, [EventType::TeamNeedsAttention]);
        assert_eq!(
            routes[0].events,
            [EventType::DeploymentFailed, EventType::DeploymentRecovered]
        );
        assert_eq!(routes[0].environments, ["production"]);
        assert_eq!(routes[1].events, [EventType::SecurityAlert]);
        assert_eq!(
            routes[1].severity.map(|s| s.as_str()),
            Some("high"),
            "serious alerts only"
        );
        assert_eq!(routes[2].events, [EventType::PullRequestMerged]);
        assert_eq!(
            routes[2].repos,
            ["acme/payments-api", "acme/ledger", "acme/billing-worker"]
        );
        assert_eq!(
            NOTIFICATION_ROUTES[2].describe(),
            "pull_request.merged of acme/payments-api, acme/ledger, acme/billing-worker"
        );
        assert_eq!(
            NOTIFICATION_ROUTES[0].describe(),
            "deployment.failed, deployment.recovered in production"
        );
    }
}
