//! Planning pull requests: a teammate's change from first commit to merge, a dependency bot's
//! update, and the urgent hotfix or revert after a bad deployment. Planned up front, emitted by
//! `pull_requests`.

use chrono::{DateTime, Duration, Utc};

use super::calendar::{hours, minutes};
use super::{Commit, Interaction, Pending, PrPlan, Push, Review, World, ZERO_SHA};
use crate::spec::{
    full_name, host_of, repo_spec, team_of_member, team_of_repo, Host, RepoSpec, TeamSpec,
};

pub(super) fn slug(text: &str) -> String {
    let s: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let parts: Vec<&str> = s.split('-').filter(|p| !p.is_empty()).collect();
    parts.join("-").chars().take(40).collect()
}

const VERBS: &[&str] = &[
    "Add",
    "Fix",
    "Refactor",
    "Speed up",
    "Clean up",
    "Harden",
    "Instrument",
    "Simplify",
    "Support",
    "Migrate",
];
const DETAILS: &[&str] = &[
    "for EU customers",
    "behind a feature flag",
    "edge cases",
    "error handling",
    "metrics",
    "tests",
    "logging",
    "timeouts",
    "pagination",
    "retries",
];
const REVIEW_NITS: &[&str] = &[
    "Could we add a test for the empty case?",
    "nit: this name is a bit vague",
    "Should this be behind the flag too?",
    "This allocates on every call; worth caching?",
    "Let's log the request id here.",
    "Is this safe if the upstream times out?",
];
const DEPS: &[(&str, &str)] = &[
    ("cargo", "serde"),
    ("cargo", "tokio"),
    ("npm_and_yarn", "react"),
    ("npm_and_yarn", "typescript"),
    ("npm_and_yarn", "eslint"),
    ("cargo", "reqwest"),
    ("github_actions", "actions/checkout"),
    ("npm_and_yarn", "vite"),
    ("cargo", "rustls"),
    ("docker", "node"),
];

/// How much slower reviews are at each struggle level (0: none, 1 to 3: the last three weeks).
const SLOWDOWN: [f64; 4] = [1.0, 2.5, 4.0, 6.0];

/// A human PR's first push and opening.
struct Opening {
    push_at: DateTime<Utc>,
    created: DateTime<Utc>,
    commits: Vec<Commit>,
    /// A draft's move to ready for review.
    ready: Option<DateTime<Utc>>,
}

/// The first review: when, by whom, and its verdict.
struct FirstReview {
    at: DateTime<Utc>,
    reviewer: String,
    state: Review,
}

impl World {
    pub(super) fn teammate(&mut self, team: &TeamSpec, not: &str) -> String {
        loop {
            let m = *self.rng.pick(team.members);
            if m != not || team.members.len() < 2 {
                return m.to_string();
            }
        }
    }

    fn commits(
        &mut self,
        login: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: usize,
        title: &str,
    ) -> Vec<Commit> {
        let span = (to - from).num_seconds().max(60);
        let mut times: Vec<DateTime<Utc>> = (1..n)
            .map(|_| from + Duration::seconds(self.rng.range(30, span)))
            .collect();
        times.push(from);
        times.sort();
        times
            .into_iter()
            .enumerate()
            .map(|(i, authored)| Commit {
                sha: self.sha(),
                authored,
                message: if i == 0 {
                    title.to_string()
                } else {
                    format!("{} ({login}, part {})", title.to_lowercase(), i + 1)
                },
            })
            .collect()
    }

    fn human_title(&mut self, spec: &RepoSpec) -> String {
        let verb = *self.rng.pick(VERBS);
        let topic = *self.rng.pick(spec.topics);
        if self.rng.chance(0.4) {
            let detail = *self.rng.pick(DETAILS);
            format!("{verb} {topic} {detail}")
        } else {
            format!("{verb} {topic}")
        }
    }

    /// A teammate's pull request, from first commit to merge.
    pub(super) fn plan_human_pr(
        &mut self,
        repo: &'static str,
        author: &str,
        t0: DateTime<Utc>,
    ) -> Option<PrPlan> {
        let spec = repo_spec(repo)?;
        let team = team_of_repo(repo)?;
        let author_team = team_of_member(author).map_or(team.name, |t| t.name);
        let title = self.human_title(spec);
        let opening = self.open_human_pr(author, t0, &title);
        let reviewable = opening.ready.unwrap_or(opening.created);
        let level = self.struggle(author_team, reviewable);
        let first = self.first_review(team, author, reviewable, level);
        let mut pushes = vec![Push {
            at: opening.push_at,
            before: ZERO_SHA.to_string(),
            commits: opening.commits,
        }];
        let mut interactions = self.first_round(opening.created, &first);
        let slow = SLOWDOWN[level as usize];
        let approved = self.follow_up(team, author, &first, slow, &mut pushes, &mut interactions);
        self.drive_by_comment(team, author, first.at, &mut interactions);
        let (merged, closed_unmerged) = self.merge_or_abandon(approved);
        let additions = self.rng.lognormal(60.0, 1.2).clamp(1.0, 4000.0) as u64;
        let deletions = (additions as f64 * self.rng.unit() * 0.6) as u64;
        let labels = if title.starts_with("Fix") {
            vec!["bug"]
        } else {
            vec![]
        };
        let number = self.next_number(repo);
        let merge_sha = self.sha();
        let mut plan = PrPlan {
            repo,
            number,
            author: author.to_string(),
            // No ticket key look-alike (`pay-142`): a ticket's PR is named by `name_ticket`.
            branch: format!(
                "{}/{}-{number}",
                author.split('-').next().unwrap_or(author),
                slug(&title)
            ),
            title,
            body: Some("## What\nSee title.\n\n## Why\nPart of this quarter's roadmap.".into()),
            labels,
            draft: opening.ready.is_some(),
            created: opening.created,
            ready: opening.ready,
            pushes,
            interactions,
            merged,
            closed_unmerged,
            merge_sha,
            merger: author.to_string(),
            additions,
            deletions,
            reverts: None,
            expedite: false,
            ticket: None,
        };
        self.name_ticket(&mut plan, team, t0);
        Some(plan)
    }

    /// Coding from `t0`, the branch pushed (commits along the way) and the PR opened minutes
    /// later; now and then as a draft, made ready for review later.
    fn open_human_pr(&mut self, author: &str, t0: DateTime<Utc>, title: &str) -> Opening {
        let coding = self.rng.lognormal(4.0, 1.0).clamp(0.15, 96.0);
        let push_at = self.snap(t0 + hours(coding));
        let created = push_at + minutes(self.rng.range(1, 15) as f64);
        let n_commits = (1 + self.rng.poisson(1.5)).min(6) as usize;
        let commits = self.commits(author, t0, push_at - Duration::minutes(1), n_commits, title);
        let draft = self.rng.chance(0.12);
        let ready = if draft {
            let r = created + hours(self.rng.lognormal(3.0, 0.9).clamp(0.2, 72.0));
            Some(self.snap(r))
        } else {
            None
        };
        Opening {
            push_at,
            created,
            commits,
            ready,
        }
    }

    /// A teammate picks the PR up (later, and more often asking for changes, when the team
    /// struggles: `level`) and approves, comments or requests changes.
    fn first_review(
        &mut self,
        team: &TeamSpec,
        author: &str,
        reviewable: DateTime<Utc>,
        level: u32,
    ) -> FirstReview {
        let slow = SLOWDOWN[level as usize];
        let spread = if level > 0 { 0.6 } else { 0.75 };
        let pickup = self
            .rng
            .lognormal(2.0 * slow, spread)
            .clamp(0.05, 24.0 * 6.0);
        let at = self.snap(reviewable + hours(pickup));
        let reviewer = self.teammate(team, author);
        let p_changes = [0.18, 0.3, 0.38, 0.45][level as usize];
        let roll = self.rng.unit();
        let state = if roll < p_changes {
            Review::ChangesRequested
        } else if roll < p_changes + 0.12 {
            Review::Commented
        } else {
            Review::Approved
        };
        FirstReview {
            at,
            reviewer,
            state,
        }
    }

    /// The coverage bot's comment (sometimes), then the first review with its inline comments
    /// (unless it approves).
    fn first_round(
        &mut self,
        created: DateTime<Utc>,
        first: &FirstReview,
    ) -> Vec<(DateTime<Utc>, Interaction)> {
        let mut interactions = Vec::new();
        if self.rng.chance(0.2) {
            let at = created + minutes(self.rng.range(3, 9) as f64);
            interactions.push((
                at,
                Interaction::IssueComment {
                    login: "codecov-commenter".into(),
                    body: format!(
                        "## Codecov Report\nPatch coverage: `{}.{}%`",
                        self.rng.range(60, 99),
                        self.rng.range(0, 9)
                    ),
                },
            ));
        }
        let review_body = match first.state {
            Review::Approved => {
                if self.rng.chance(0.5) {
                    "LGTM".to_string()
                } else {
                    String::new()
                }
            }
            Review::ChangesRequested => "A few things before we merge.".to_string(),
            Review::Commented => "Looks close, one question inline.".to_string(),
        };
        if first.state != Review::Approved {
            let n = self.rng.range(1, 3);
            for _ in 0..n {
                let body = self.rng.pick(REVIEW_NITS).to_string();
                interactions.push((
                    first.at,
                    Interaction::ReviewComment {
                        login: first.reviewer.clone(),
                        body,
                    },
                ));
            }
        }
        interactions.push((
            first.at,
            Interaction::Review {
                login: first.reviewer.clone(),
                state: first.state,
                body: review_body,
            },
        ));
        interactions
    }

    /// After the first review: requested changes are pushed and the reviewer approves; a
    /// comment is followed by a second teammate's approval. Returns when the PR was approved.
    fn follow_up(
        &mut self,
        team: &TeamSpec,
        author: &str,
        first: &FirstReview,
        slow: f64,
        pushes: &mut Vec<Push>,
        interactions: &mut Vec<(DateTime<Utc>, Interaction)>,
    ) -> DateTime<Utc> {
        match first.state {
            Review::ChangesRequested => {
                let fix_at = {
                    let d = hours(self.rng.lognormal(2.0, 0.8).clamp(0.1, 48.0));
                    self.snap(first.at + d)
                };
                let before = pushes
                    .last()
                    .and_then(|p| p.commits.last())
                    .map(|c| c.sha.clone())
                    .unwrap_or_default();
                let fix = self.commits(
                    author,
                    fix_at - Duration::minutes(5),
                    fix_at - Duration::minutes(1),
                    1,
                    "Address review comments",
                );
                pushes.push(Push {
                    at: fix_at,
                    before,
                    commits: fix,
                });
                let approved = {
                    let d = hours(self.rng.lognormal(1.5 * slow, 0.9).clamp(0.05, 72.0));
                    self.snap(fix_at + d)
                };
                interactions.push((
                    approved,
                    Interaction::Review {
                        login: first.reviewer.clone(),
                        state: Review::Approved,
                        body: "Thanks, all good now.".into(),
                    },
                ));
                approved
            }
            Review::Commented => {
                let second = self.teammate(team, author);
                let approved = {
                    let d = hours(self.rng.lognormal(2.0, 1.0).clamp(0.05, 48.0));
                    self.snap(first.at + d)
                };
                interactions.push((
                    approved,
                    Interaction::Review {
                        login: second,
                        state: Review::Approved,
                        body: String::new(),
                    },
                ));
                approved
            }
            Review::Approved => first.at,
        }
    }

    /// Now and then another teammate drops a comment after the first review.
    fn drive_by_comment(
        &mut self,
        team: &TeamSpec,
        author: &str,
        first_review: DateTime<Utc>,
        interactions: &mut Vec<(DateTime<Utc>, Interaction)>,
    ) {
        if self.rng.chance(0.3) {
            let login = self.teammate(team, author);
            let at = first_review + minutes(self.rng.lognormal(40.0, 0.8).clamp(1.0, 600.0));
            interactions.push((
                at,
                Interaction::IssueComment {
                    login,
                    body: "Nice, this will help with the on-call load.".into(),
                },
            ));
        }
    }

    /// `(merged, closed unmerged)`: most approved PRs are merged within hours; a few are
    /// closed a day or so later.
    fn merge_or_abandon(
        &mut self,
        approved: DateTime<Utc>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        if self.rng.chance(0.03) {
            let d = hours(self.rng.lognormal(24.0, 0.5));
            (None, Some(self.snap(approved + d)))
        } else {
            let d = minutes(self.rng.lognormal(45.0, 0.9).clamp(1.0, 2880.0));
            (Some(self.snap(approved + d)), None)
        }
    }

    pub(super) fn next_number(&mut self, repo: &str) -> u64 {
        match self.repos.get_mut(repo) {
            Some(r) => {
                r.next_number += 1;
                r.next_number
            }
            None => 0,
        }
    }

    /// A dependency update from dependabot or renovate, approved and merged by a human.
    pub(super) fn plan_bot_pr(
        &mut self,
        repo: &'static str,
        created: DateTime<Utc>,
    ) -> Option<PrPlan> {
        let spec = repo_spec(repo)?;
        let team = team_of_repo(repo)?;
        let (eco, dep) = *self.rng.pick(DEPS);
        let (major, minor, patch) = (
            self.rng.range(1, 9),
            self.rng.range(0, 40),
            self.rng.range(0, 20),
        );
        let (bot, title, branch) = if spec.bot == "dependabot" {
            (
                "dependabot[bot]",
                format!(
                    "Bump {dep} from {major}.{minor}.{patch} to {major}.{minor}.{}",
                    patch + 1
                ),
                format!(
                    "dependabot/{eco}/{}-{major}.{minor}.{}",
                    slug(dep),
                    patch + 1
                ),
            )
        } else {
            (
                "renovate[bot]",
                format!("Update dependency {dep} to v{major}.{}", minor + 1),
                format!("renovate/{}-{major}.x", slug(dep)),
            )
        };
        let commits = vec![Commit {
            sha: self.sha(),
            authored: created - Duration::seconds(50),
            message: title.clone(),
        }];
        let reviewer = self.teammate(team, "");
        let review_at = {
            let d = hours(self.rng.lognormal(8.0, 1.0).clamp(0.2, 120.0));
            self.snap(created + d)
        };
        let mut interactions = vec![(
            review_at,
            Interaction::Review {
                login: reviewer.clone(),
                state: Review::Approved,
                body: String::new(),
            },
        )];
        if self.rng.chance(0.1) {
            interactions.push((
                created + Duration::minutes(4),
                Interaction::IssueComment {
                    login: "codecov-commenter".into(),
                    body: "## Codecov Report\nNo coverage change.".into(),
                },
            ));
        }
        let (merged, closed_unmerged) = if self.rng.chance(0.12) {
            (None, Some(created + Duration::days(7)))
        } else {
            (
                Some(review_at + minutes(self.rng.range(2, 30) as f64)),
                None,
            )
        };
        let number = self.next_number(repo);
        let merge_sha = self.sha();
        Some(PrPlan {
            repo,
            number,
            author: bot.to_string(),
            title,
            body: Some(format!("Bumps {dep}. See the changelog for details.")),
            branch,
            labels: vec!["dependencies"],
            draft: false,
            created,
            ready: None,
            pushes: vec![Push {
                at: created - Duration::seconds(30),
                before: ZERO_SHA.to_string(),
                commits,
            }],
            interactions,
            merged,
            closed_unmerged,
            merge_sha,
            merger: reviewer,
            additions: self.rng.range(2, 30) as u64,
            deletions: self.rng.range(2, 30) as u64,
            reverts: None,
            expedite: false,
            ticket: None,
        })
    }

    /// A fast, urgent PR: a hotfix branch, or GitHub's revert of a shipped PR.
    pub(super) fn plan_urgent_pr(
        &mut self,
        repo: &'static str,
        at: DateTime<Utc>,
        revert: Option<Pending>,
    ) -> Option<PrPlan> {
        let spec = repo_spec(repo)?;
        let team = team_of_repo(repo)?;
        let (author, title, body, branch, labels) = match &revert {
            Some(target) => (
                target.author.clone(),
                format!("Revert \"{}\"", target.title),
                match host_of(repo) {
                    Host::GitHub => format!("Reverts {}#{}", full_name(repo), target.number),
                    Host::GitLab => format!("This reverts merge request !{}", target.number),
                },
                format!("revert-{}-{}", target.number, target.branch),
                vec![],
            ),
            None => {
                let author = self.teammate(team, "");
                let topic = *self.rng.pick(spec.topics);
                let title = format!("Hotfix: {topic} errors after last deploy");
                let branch = format!(
                    "hotfix/{}-{}",
                    slug(topic),
                    self.repos.get(repo).map_or(0, |r| r.next_number + 1)
                );
                (
                    author,
                    title,
                    "Fixes the incident; follow-up in the postmortem.".into(),
                    branch,
                    vec!["hotfix"],
                )
            }
        };
        let t0 = at + minutes(self.rng.lognormal(20.0, 0.6).clamp(3.0, 240.0));
        let push_at = t0 + minutes(self.rng.lognormal(15.0, 0.6).clamp(2.0, 180.0));
        let created = push_at + Duration::minutes(2);
        let commits = self.commits(&author, t0, push_at - Duration::minutes(1), 1, &title);
        let reviewer = self.teammate(team, &author);
        let review_at = created + minutes(self.rng.lognormal(12.0, 0.7).clamp(1.0, 240.0));
        let merged = review_at + minutes(self.rng.range(2, 15) as f64);
        let number = self.next_number(repo);
        let merge_sha = self.sha();
        Some(PrPlan {
            repo,
            number,
            author: author.clone(),
            title,
            body: Some(body),
            branch,
            labels,
            draft: false,
            created,
            ready: None,
            pushes: vec![Push {
                at: push_at,
                before: ZERO_SHA.to_string(),
                commits,
            }],
            interactions: vec![(
                review_at,
                Interaction::Review {
                    login: reviewer,
                    state: Review::Approved,
                    body: "Approving to stop the bleeding.".into(),
                },
            )],
            merged: Some(merged),
            closed_unmerged: None,
            merge_sha,
            merger: author,
            additions: self.rng.range(1, 40) as u64,
            deletions: self.rng.range(1, 40) as u64,
            ticket: revert.as_ref().and_then(|r| r.ticket.clone()),
            reverts: revert.map(|r| r.number),
            expedite: true,
        })
    }
}
