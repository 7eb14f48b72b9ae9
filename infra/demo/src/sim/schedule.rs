//! The org's schedule of work: every repository bootstrapped before the history starts, the
//! deploy trains, each engineer's pull requests day by day, the dependency bots, and incidents
//! no deployment caused.

use chrono::{Datelike, Duration, Weekday};

use super::calendar::{is_weekend, local_at};
use super::{Commit, Event, Push, RepoState, World, ZERO_SHA};
use crate::spec::{full_name, host_of, Deploys, Host, TeamSpec, SERVICES, TEAMS, TIMEZONE};

impl World {
    pub(super) fn bootstrap(&mut self) {
        // Each repository exists and was deployed once before the history starts, so the first
        // deployment inside it has a predecessor (a repo's first deployment ships nothing).
        let day = (self.start - Duration::days(3))
            .with_timezone(&TIMEZONE)
            .date_naive();
        self.entity = "branch:main".into();
        for team in TEAMS {
            for spec in team.repos {
                let at = local_at(day, 10, self.rng.range(0, 50) as u32);
                let root = self.sha();
                let pusher = team.members[0];
                let push = Push {
                    at,
                    before: ZERO_SHA.to_string(),
                    commits: vec![Commit {
                        sha: root.clone(),
                        authored: at - Duration::minutes(5),
                        message: "Release branch cut".into(),
                    }],
                };
                let body = self.push_json(spec.name, "main", &push, &root, pusher, false);
                self.github(at, "push", body);
                if host_of(spec.name) == Host::GitLab {
                    self.gitlab_push(spec.name, "main", &push, pusher);
                }
                self.truth
                    .main_history
                    .insert(full_name(spec.name), vec![root.clone()]);
                self.repos.insert(
                    spec.name,
                    RepoState {
                        next_number: self.rng.range(100, 2400) as u64,
                        head: root.clone(),
                        last_success_sha: None,
                        busy: false,
                        pending: Vec::new(),
                        ci_run: self.rng.range(1000, 9000) as u64,
                    },
                );
                if spec.deploys != Deploys::Never {
                    self.schedule(at + Duration::minutes(20), Event::DeploySlot(spec.name));
                }
            }
        }
    }

    pub(super) fn schedule_trains(&mut self) {
        let first_day = self.start.with_timezone(&TIMEZONE).date_naive();
        for day_index in 0..(self.weeks * 7) {
            let Some(day) = first_day.checked_add_signed(Duration::days(i64::from(day_index)))
            else {
                continue;
            };
            if is_weekend(day.weekday()) {
                continue;
            }
            for team in TEAMS {
                for spec in team.repos {
                    let hours_of_day: Vec<u32> = match spec.deploys {
                        Deploys::Train(h) => h.to_vec(),
                        Deploys::Weekly if matches!(day.weekday(), Weekday::Tue | Weekday::Thu) => {
                            vec![14]
                        }
                        _ => vec![],
                    };
                    for h in hours_of_day {
                        let at = local_at(day, h, self.rng.range(0, 15) as u32);
                        self.schedule(at, Event::DeploySlot(spec.name));
                    }
                }
            }
        }
    }

    pub(super) fn plan_work(&mut self) {
        let first_day = self.start.with_timezone(&TIMEZONE).date_naive();
        let mut plans = Vec::new();
        for team in TEAMS {
            for member in team.members {
                let rate = self.rng.lognormal(2.6, 0.3).clamp(1.2, 5.5) * self.activity;
                let vacation = if self.rng.chance(0.35) && self.weeks > 4 {
                    Some(self.rng.range(0, i64::from(self.weeks) - 4))
                } else {
                    None
                };
                for day_index in 0..(self.weeks * 7) {
                    let Some(day) =
                        first_day.checked_add_signed(Duration::days(i64::from(day_index)))
                    else {
                        continue;
                    };
                    if Some(i64::from(day_index / 7)) == vacation {
                        continue;
                    }
                    let weekend = is_weekend(day.weekday());
                    if weekend && !self.rng.chance(0.03) {
                        continue;
                    }
                    let n = if weekend {
                        1
                    } else {
                        self.rng.poisson(rate / 5.0)
                    };
                    for _ in 0..n {
                        let minute = self.rng.range(0, 8 * 60 + 30) as u32;
                        let t0 = local_at(day, 9 + minute / 60, minute % 60);
                        let repo = if self.rng.chance(0.07) {
                            let other = self.rng.pick(TEAMS);
                            self.weighted_repo(other)
                        } else {
                            self.weighted_repo(team)
                        };
                        plans.push((t0, repo, member.to_string()));
                    }
                }
            }
        }
        // Dependency bots open their PRs early on Monday (dependabot) and Wednesday (renovate).
        for week in 0..self.weeks {
            for team in TEAMS {
                for spec in team.repos {
                    let weekday_offset = if spec.bot == "dependabot" { 0 } else { 2 };
                    let Some(day) = first_day
                        .checked_add_signed(Duration::days(i64::from(week * 7 + weekday_offset)))
                    else {
                        continue;
                    };
                    let n = self.rng.poisson(1.0);
                    for k in 0..n.min(3) {
                        let at =
                            local_at(day, 5, (self.rng.range(0, 40) + 7 * i64::from(k)) as u32);
                        plans.push((at, spec.name, String::new()));
                    }
                }
            }
        }
        plans.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        for (t0, repo, author) in plans {
            let plan = if author.is_empty() {
                self.plan_bot_pr(repo, t0)
            } else {
                self.plan_human_pr(repo, &author, t0)
            };
            if let Some(plan) = plan {
                self.emit_pr(plan);
            }
        }
        // Background incidents that no deployment caused (a cloud provider, a traffic spike).
        for service in SERVICES {
            for week in 0..self.weeks {
                if self.rng.chance(0.22) {
                    let at = self.start
                        + Duration::days(i64::from(week) * 7)
                        + Duration::minutes(self.rng.range(0, 7 * 24 * 60));
                    self.open_incident(service, at, None);
                }
            }
        }
    }

    fn weighted_repo(&mut self, team: &TeamSpec) -> &'static str {
        let total: f64 = team.repos.iter().map(|r| r.weight).sum();
        let mut x = self.rng.unit() * total;
        for spec in team.repos {
            if x < spec.weight {
                return spec.name;
            }
            x -= spec.weight;
        }
        TEAMS
            .iter()
            .find(|t| t.name == team.name)
            .and_then(|t| t.repos.last())
            .map_or("web", |r| r.name)
    }
}
