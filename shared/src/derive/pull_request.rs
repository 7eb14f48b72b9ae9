//! A pull request's projection: a pure fold of its facts (and of its head branch's pushes),
//! independent of the order in which they arrived.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deployment::{earliest, facts_in_order, seconds_between};
use super::pr_commits::{own_pushes, HeadHistory};
use super::ticket_keys::tickets_named;
use crate::config::OrgConfig;
use crate::model::{Actor, EntityKey, Fact, FactBody, PrAction, PrSnapshot, ReviewState};

/// The shipping deployment of a PR: the earliest successful production deployment that shipped it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub deployment: EntityKey,
    pub sha: String,
    pub finished_at: DateTime<Utc>,
}

/// What a revert PR says it reverts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevertTarget {
    /// GitHub's revert button writes `Reverts owner/repo#123` in the body.
    Number(u64),
    /// Otherwise the title `Revert "<original title>"` names the original by title.
    Title(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub author: String,
    /// Bot by GitHub's account type, by `[bot]` suffix or by config.
    pub author_is_bot: bool,
    pub created_at: DateTime<Utc>,
    /// When review could start: `created_at`, or the first `ready_for_review` of a draft.
    pub reviewable_at: DateTime<Utc>,
    pub draft: bool,
    pub merged_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merge_commit_sha: Option<String>,
    pub head_ref: String,
    /// The head commit at the latest snapshot: for a merged PR, the last commit it contained,
    /// where a later PR of the same branch stops walking back.
    #[serde(default)]
    pub head_sha: Option<String>,
    /// The head ref is a fork's branch.
    #[serde(default)]
    pub from_fork: bool,
    pub base_ref: String,
    pub default_branch: String,
    pub additions: u64,
    pub deletions: u64,
    pub labels: Vec<String>,
    pub html_url: Option<String>,
    pub first_commit_at: Option<DateTime<Utc>>,
    /// Earliest review, review comment or conversation comment by someone else, bots excluded.
    pub first_review_at: Option<DateTime<Utc>>,
    pub changes_requested: bool,
    pub commits_after_first_review: bool,
    /// Review comments + conversation comments + non-empty review bodies by others.
    pub comments: u32,
    pub is_rework: bool,
    pub is_revert: bool,
    pub revert_target: Option<RevertTarget>,
    pub shipped_by: Option<Shipment>,
    pub reverted_by: Vec<EntityKey>,
    /// The tickets of configured projects it names (`jira:PAY-142`): in its title, body, head
    /// branch or own commits' messages (`derive::ticket_keys::tickets_named`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<String>,
}

/// A merged PR's cycle time in its parts (docs/METRICS.md, "Cycle time"), in seconds. A part
/// whose span would be negative, or whose end is not known yet, is `None`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CycleSpans {
    pub merged_at: DateTime<Utc>,
    /// First commit → opened.
    pub coding: Option<f64>,
    /// Reviewable (opened or ready for review) → first review.
    pub pickup: Option<f64>,
    /// First review → merged.
    pub review: Option<f64>,
    /// Merged → the production deployment that shipped it.
    pub deploy: Option<f64>,
    /// Coding + opened → merged + deploy, the parts that are known.
    pub total: f64,
}

impl PullRequest {
    /// The cycle time parts of a merged PR; `None` while it is not merged. The rollups' members
    /// and the slowest-PR lists read the same parts, so a listed PR's numbers are those the
    /// percentiles were taken over.
    pub fn cycle_spans(&self) -> Option<CycleSpans> {
        let merged_at = self.merged_at?;
        let coding = self
            .first_commit_at
            .filter(|first| *first <= self.created_at)
            .map(|first| seconds_between(first, self.created_at));
        // A span that would be negative (a comment before the PR was reviewable, a first
        // review after the merge) is undefined, as in DevLake, rather than zero.
        let pickup = self
            .first_review_at
            .filter(|review| *review >= self.reviewable_at)
            .map(|review| seconds_between(self.reviewable_at, review));
        let review = self
            .first_review_at
            .filter(|review| *review <= merged_at)
            .map(|review| seconds_between(review, merged_at));
        let deploy = self
            .shipped_by
            .as_ref()
            .map(|s| seconds_between(merged_at, s.finished_at));
        let total = coding.unwrap_or(0.0)
            + seconds_between(self.created_at, merged_at)
            + deploy.unwrap_or(0.0);
        Some(CycleSpans {
            merged_at,
            coding,
            pickup,
            review,
            deploy,
            total,
        })
    }

    pub fn key(&self) -> EntityKey {
        EntityKey::PullRequest {
            repo: self.repo.clone(),
            number: self.number,
        }
    }

    /// The head branch as an entity of this repository: whose pushes are the PR's commits,
    /// and under which the PR is recorded. `None` for a fork PR, whose head is the fork's.
    pub fn head_branch(&self) -> Option<EntityKey> {
        (!self.from_fork).then(|| EntityKey::Branch {
            repo: self.repo.clone(),
            branch: self.head_ref.clone(),
        })
    }

    /// The PR's page: the link its forge sent when it is a web address
    /// ([`crate::repo::is_web_url`]), else the one its repository's name gives.
    pub fn page_url(&self, github: &str) -> String {
        self.html_url
            .as_deref()
            .filter(|u| crate::repo::is_web_url(u))
            .map(str::to_string)
            .unwrap_or_else(|| crate::repo::pull_request_url(&self.repo, self.number, github))
    }

    /// Merged into the default branch: the only PRs that can ship.
    pub fn merged_to_default(&self) -> bool {
        self.merged_at.is_some() && self.base_ref == self.default_branch
    }

    pub fn first_time_pass(&self) -> bool {
        !self.changes_requested && !self.commits_after_first_review
    }
}

/// Folds a PR's facts. `head` is its head branch's push history, from which the PR's own
/// commits give the first commit time ([`own_pushes`]). Returns `None` until a pull_request
/// snapshot has arrived (a review may come first; the PR appears when its snapshot does).
pub fn project_pull_request(
    key: &EntityKey,
    facts: &[Fact],
    head: &HeadHistory,
    config: &OrgConfig,
) -> Option<PullRequest> {
    let EntityKey::PullRequest { repo, number } = key else {
        return None;
    };
    let sorted = facts_in_order(facts);
    let snapshots = Snapshots::of(&sorted)?;
    let latest = snapshots.latest;
    let created_at = snapshots.created_at();
    let merged = snapshots.merged();
    let reviews = Reviews::fold(&sorted, &latest.author.login, config);
    // A fork PR's head ref names a branch of the fork, whose pushes this repository's webhooks
    // never see: a same-named branch here is someone else's.
    let from_fork = latest.head_repo.as_ref().is_some_and(|head| head != repo);
    let end_of_work = merged.as_ref().map(|(at, _)| *at).or(latest.closed_at);
    let head = with_linked_earlier_heads(head, &sorted, created_at);
    let commits = OwnCommits::fold(&head, latest, from_fork, end_of_work, reviews.first_at);
    let kind = WorkKind::of(repo, latest, config);
    let size_source = snapshots.size_source();
    let named_in = [latest.title.as_str(), latest.head_ref.as_str()]
        .into_iter()
        .chain(latest.body.as_deref())
        .chain(commits.messages.iter().map(String::as_str));
    let tickets = tickets_named(named_in, config.ticket_projects());
    Some(PullRequest {
        repo: repo.clone(),
        number: *number,
        title: latest.title.clone(),
        author: latest.author.login.clone(),
        author_is_bot: config.is_bot(&latest.author.login, latest.author.is_bot),
        created_at,
        reviewable_at: snapshots.reviewable_at(created_at),
        draft: latest.draft,
        merged_at: merged.as_ref().map(|(at, _)| *at),
        closed_at: latest.closed_at,
        merge_commit_sha: merged.and_then(|(_, sha)| sha),
        head_ref: latest.head_ref.clone(),
        head_sha: latest.head_sha.clone(),
        from_fork,
        base_ref: latest.base_ref.clone(),
        default_branch: latest.default_branch.clone(),
        additions: size_source.additions.unwrap_or(0),
        deletions: size_source.deletions.unwrap_or(0),
        labels: sorted_labels(latest),
        html_url: latest.html_url.clone(),
        first_commit_at: commits.first_at,
        first_review_at: reviews.first_at,
        changes_requested: reviews.changes_requested,
        commits_after_first_review: commits.pushed_after_review
            || snapshots.synchronized_after(reviews.first_at),
        comments: reviews.comments,
        is_rework: kind.is_rework,
        is_revert: kind.is_revert,
        revert_target: kind.revert_target,
        shipped_by: earliest_shipment(&sorted),
        reverted_by: reverting_prs(&sorted),
        tickets,
    })
}

/// A PR's pull_request snapshots in fact order. Each delivery carries the whole PR as GitHub
/// saw it then, so most fields come from the latest one; a few (merge, creation, readiness,
/// size) are facts about the PR's history that a later or partial snapshot may not repeat.
struct Snapshots<'a> {
    all: Vec<(&'a Fact, &'a PrSnapshot)>,
    latest: &'a PrSnapshot,
}

impl<'a> Snapshots<'a> {
    /// `None` without any snapshot: a review or link alone does not make a PR.
    fn of(sorted: &[&'a Fact]) -> Option<Self> {
        let all: Vec<(&Fact, &PrSnapshot)> = sorted
            .iter()
            .filter_map(|f| match &f.body {
                FactBody::PullRequest(s) => Some((*f, s)),
                _ => None,
            })
            .collect();
        // The latest state wins; ties on updated_at resolve by fact order, which is deterministic.
        let latest = all
            .iter()
            .max_by(|a, b| {
                (a.1.updated_at, a.0.at, &a.0.id).cmp(&(b.1.updated_at, b.0.at, &b.0.id))
            })?
            .1;
        Some(Self { all, latest })
    }

    /// The last merge any snapshot reports, with its merge commit: a merge is final, so it is
    /// read from every snapshot rather than from the latest alone.
    fn merged(&self) -> Option<(DateTime<Utc>, Option<String>)> {
        self.all
            .iter()
            .rev()
            .find_map(|(_, s)| s.merged_at.map(|at| (at, s.merge_commit_sha.clone())))
    }

    /// The earliest creation time any snapshot reports.
    fn created_at(&self) -> DateTime<Utc> {
        self.all
            .iter()
            .map(|(_, s)| s.created_at)
            .min()
            .unwrap_or(self.latest.created_at)
    }

    /// Pickup is measured from when review could start: a PR opened as a draft becomes
    /// reviewable at its first `ready_for_review`, never before it was created.
    fn reviewable_at(&self, created_at: DateTime<Utc>) -> DateTime<Utc> {
        let opened_as_ready = self
            .all
            .iter()
            .any(|(_, s)| s.action == PrAction::Opened && !s.draft);
        let first_ready = self
            .all
            .iter()
            .filter(|(_, s)| s.action == PrAction::ReadyForReview)
            .map(|(f, _)| f.at)
            .min();
        match first_ready {
            Some(ready) if !opened_as_ready => ready.max(created_at),
            _ => created_at,
        }
    }

    /// The latest snapshot that reports a size: some deliveries omit additions and deletions,
    /// and those must not read as an empty PR.
    fn size_source(&self) -> &'a PrSnapshot {
        self.all
            .iter()
            .rev()
            .find(|(_, s)| s.additions.is_some() || s.deletions.is_some())
            .map(|(_, s)| *s)
            .unwrap_or(self.latest)
    }

    /// A `synchronize` after the first review means commits arrived after it, even when their
    /// pushes were not seen.
    fn synchronized_after(&self, first_review_at: Option<DateTime<Utc>>) -> bool {
        self.all.iter().any(|(f, s)| {
            s.action == PrAction::Synchronize && first_review_at.is_some_and(|review| f.at > review)
        })
    }
}

/// Review activity by others: what pickup time, first-time pass and comment counts read.
struct Reviews {
    first_at: Option<DateTime<Utc>>,
    changes_requested: bool,
    comments: u32,
}

impl Reviews {
    /// Folds reviews and comments, counting only those of other humans: an author answering
    /// in their own PR, or a bot, is not review. The PR's author is the one the review or
    /// comment names, else the latest snapshot's.
    fn fold(sorted: &[&Fact], author: &str, config: &OrgConfig) -> Self {
        let by_other_human = |actor: &Actor, pr_author: &Option<String>| {
            let author_of_pr = pr_author.as_deref().unwrap_or(author);
            !actor.login.eq_ignore_ascii_case(author_of_pr)
                && !config.is_bot(&actor.login, actor.is_bot)
        };
        let mut reviews = Self {
            first_at: None,
            changes_requested: false,
            comments: 0,
        };
        for fact in sorted {
            match &fact.body {
                FactBody::Review {
                    reviewer,
                    state,
                    submitted_at,
                    body_nonempty,
                    pr_author,
                } if by_other_human(reviewer, pr_author) => {
                    reviews.first_at = earliest(reviews.first_at, *submitted_at);
                    reviews.changes_requested |= *state == ReviewState::ChangesRequested;
                    if *body_nonempty {
                        reviews.comments += 1;
                    }
                }
                FactBody::Comment {
                    commenter,
                    created_at,
                    pr_author,
                    ..
                } if by_other_human(commenter, pr_author) => {
                    reviews.first_at = earliest(reviews.first_at, *created_at);
                    reviews.comments += 1;
                }
                _ => {}
            }
        }
        reviews
    }
}

/// The head history with the heads of earlier merged PRs of the branch that links on this PR
/// name (the edge also finds those whose projections it can read): their heads end this PR's
/// commits. Only PRs merged by this one's creation count.
fn with_linked_earlier_heads<'h>(
    head: &'h HeadHistory,
    sorted: &[&Fact],
    created_at: DateTime<Utc>,
) -> Cow<'h, HeadHistory> {
    let linked_heads: Vec<&String> = sorted
        .iter()
        .filter_map(|f| match &f.body {
            FactBody::EarlierPrHead {
                head_sha,
                merged_at,
                ..
            } if *merged_at <= created_at => Some(head_sha),
            _ => None,
        })
        .collect();
    if linked_heads.is_empty() {
        return Cow::Borrowed(head);
    }
    let mut extended = head.clone();
    extended
        .earlier_heads
        .extend(linked_heads.into_iter().cloned());
    Cow::Owned(extended)
}

/// What the PR's own commits (its head branch's pushes, walked back from its head) say.
struct OwnCommits {
    first_at: Option<DateTime<Utc>>,
    pushed_after_review: bool,
    /// Their messages, where the push kept them: ticket keys are looked for there too.
    messages: Vec<String>,
}

impl OwnCommits {
    /// A fork PR has no pushes this repository saw, so no own commits.
    fn fold(
        head: &HeadHistory,
        latest: &PrSnapshot,
        from_fork: bool,
        end_of_work: Option<DateTime<Utc>>,
        first_review_at: Option<DateTime<Utc>>,
    ) -> Self {
        let own = if from_fork {
            Vec::new()
        } else {
            own_pushes(head, latest.head_sha.as_deref(), end_of_work).0
        };
        let mut commits = Self {
            first_at: None,
            pushed_after_review: false,
            messages: Vec::new(),
        };
        for push in &own {
            for commit in &push.commits {
                commits.first_at = earliest(commits.first_at, commit.authored_at);
                commits.messages.extend(commit.message.clone());
            }
            if first_review_at.is_some_and(|review| push.at > review) && !push.commits.is_empty() {
                commits.pushed_after_review = true;
            }
        }
        commits
    }
}

/// Whether the PR is unplanned work: a revert (and of what), or rework by label or branch.
struct WorkKind {
    is_revert: bool,
    revert_target: Option<RevertTarget>,
    is_rework: bool,
}

impl WorkKind {
    fn of(repo: &str, latest: &PrSnapshot, config: &OrgConfig) -> Self {
        let is_revert = config.is_revert_title(&latest.title);
        let revert_target = if is_revert {
            revert_target_of(repo, &latest.title, latest.body.as_deref())
        } else {
            None
        };
        let is_rework = is_revert
            || latest.labels.iter().any(|l| config.is_rework_label(l))
            || config.is_rework_branch(&latest.head_ref);
        Self {
            is_revert,
            revert_target,
            is_rework,
        }
    }
}

/// Sorted so that a projection does not change with the order GitHub lists labels in.
fn sorted_labels(latest: &PrSnapshot) -> Vec<String> {
    let mut labels = latest.labels.clone();
    labels.sort();
    labels
}

/// The earliest deployment that shipped the PR, the least key breaking a tie: several
/// deployments can link the PR (a redeploy of its commit), and the first is when it shipped.
fn earliest_shipment(sorted: &[&Fact]) -> Option<Shipment> {
    let mut shipped_by: Option<Shipment> = None;
    for fact in sorted {
        if let FactBody::ShippedBy {
            deployment,
            sha,
            finished_at,
        } = &fact.body
        {
            let candidate = Shipment {
                deployment: deployment.clone(),
                sha: sha.clone(),
                finished_at: *finished_at,
            };
            let earlier = shipped_by.as_ref().is_none_or(|current| {
                (candidate.finished_at, &candidate.deployment)
                    < (current.finished_at, &current.deployment)
            });
            if earlier {
                shipped_by = Some(candidate);
            }
        }
    }
    shipped_by
}

/// The PRs that revert this one, each once and in key order whatever order the links came in.
fn reverting_prs(sorted: &[&Fact]) -> Vec<EntityKey> {
    let mut reverted_by: Vec<EntityKey> = sorted
        .iter()
        .filter_map(|fact| match &fact.body {
            FactBody::RevertedBy { pr } => Some(pr.clone()),
            _ => None,
        })
        .collect();
    reverted_by.sort();
    reverted_by.dedup();
    reverted_by
}

/// Reads what a revert PR reverts: GitHub's "Reverts owner/repo#N" body line or GitLab's "This
/// reverts merge request !N" first (exact), then the quoted original title.
fn revert_target_of(repo: &str, title: &str, body: Option<&str>) -> Option<RevertTarget> {
    if let Some(body) = body {
        for line in body.lines() {
            // GitLab's Revert button writes it in the revert commit and MR description; `!N`
            // is always a merge request of the same project (another project's is `path!N`).
            if let Some(number) = line
                .trim()
                .strip_prefix("This reverts merge request !")
                .and_then(|rest| rest.trim_end_matches('.').trim().parse::<u64>().ok())
            {
                return Some(RevertTarget::Number(number));
            }
            let Some(rest) = line.trim().strip_prefix("Reverts ") else {
                continue;
            };
            let Some((target_repo, number)) = rest.trim().rsplit_once('#') else {
                continue;
            };
            let same_repo = target_repo.is_empty() || target_repo.eq_ignore_ascii_case(repo);
            if let (true, Ok(n)) = (same_repo, number.trim().parse::<u64>()) {
                return Some(RevertTarget::Number(n));
            }
        }
    }
    let start = title.find('"')?;
    let end = title.rfind('"')?;
    (end > start + 1).then(|| RevertTarget::Title(title[start + 1..end].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::testing::*;

    #[test]
    fn review_before_opened_gives_the_same_projection_as_in_order() {
        let key = pr_key("acme/api", 1);
        let opened = opened(&key, "2026-10-05T10:00:00Z");
        let review = bob_reviews(&key, "d2", ReviewState::Approved, "2026-10-05T12:00:00Z");
        let a = projection_of(&key, &[opened.clone(), review.clone()], &[]);
        let b = projection_of(&key, &[review, opened], &[]);
        assert_eq!(a, b);
        let pr = a.expect("projection");
        assert_eq!(pr.first_review_at, Some(t("2026-10-05T12:00:00Z")));
    }

    #[test]
    fn no_snapshot_no_projection() {
        let key = pr_key("acme/api", 1);
        let review = bob_reviews(&key, "d2", ReviewState::Approved, "2026-10-05T12:00:00Z");
        assert_eq!(projection_of(&key, &[review], &[]), None);
    }

    #[test]
    fn authors_own_comments_and_bots_are_not_reviews() {
        let key = pr_key("acme/api", 1);
        let opened = opened(&key, "2026-10-05T10:00:00Z");
        let own = comment_fact(&key, "d2", "alice", false, "2026-10-05T10:05:00Z");
        let bot = comment_fact(&key, "d3", "ci-helper[bot]", true, "2026-10-05T10:06:00Z");
        let real = comment_fact(&key, "d4", "bob", false, "2026-10-05T11:00:00Z");
        let pr = project_pr(&key, &[opened, own, bot, real], &[]);
        assert_eq!(pr.first_review_at, Some(t("2026-10-05T11:00:00Z")));
        assert_eq!(pr.comments, 1);
    }

    #[test]
    fn draft_pickup_starts_at_ready_for_review() {
        let key = pr_key("acme/api", 1);
        let opened = opened_with(&key, "2026-10-05T10:00:00Z", |s| s.draft = true);
        let ready = pr_fact(
            &key,
            "d2",
            PrAction::ReadyForReview,
            t("2026-10-06T09:00:00Z"),
            |_| {},
        );
        let pr = project_pr(&key, &[ready, opened], &[]);
        assert_eq!(pr.reviewable_at, t("2026-10-06T09:00:00Z"));
    }

    #[test]
    fn first_commit_comes_from_head_branch_pushes_and_later_pushes_break_first_time_pass() {
        let key = pr_key("acme/api", 1);
        let opened = opened(&key, "2026-10-05T10:00:00Z");
        let review = bob_reviews(&key, "d2", ReviewState::Commented, "2026-10-05T12:00:00Z");
        let push1 = feature_push("p1", "2026-10-05T09:00:00Z", "c1", "2026-10-04T15:00:00Z");
        let push2 = feature_push("p2", "2026-10-05T13:00:00Z", "c2", "2026-10-05T12:30:00Z");
        let facts = [opened, review];
        let pr = project_pr(&key, &facts, std::slice::from_ref(&push1));
        assert_eq!(pr.first_commit_at, Some(t("2026-10-04T15:00:00Z")));
        assert!(pr.first_time_pass());
        let pr = project_pr(&key, &facts, &[push1, push2]);
        assert!(!pr.first_time_pass());
    }

    #[test]
    fn revert_targets() {
        assert_eq!(
            revert_target_of(
                "acme/api",
                "Revert \"Add x\"",
                Some("Reverts acme/api#12\n\nbecause")
            ),
            Some(RevertTarget::Number(12))
        );
        assert_eq!(
            revert_target_of("acme/api", "Revert \"Add x\"", None),
            Some(RevertTarget::Title("Add x".into()))
        );
        assert_eq!(
            revert_target_of("acme/api", "Revert", Some("Reverts other/repo#3")),
            None
        );
        let gitlab = "gitlab.com/acme/mobile/app";
        assert_eq!(
            revert_target_of(
                gitlab,
                "Revert \"Add x\"",
                Some("This reverts merge request !41")
            ),
            Some(RevertTarget::Number(41))
        );
        // Another project's merge request (`group/project!41`) is no revert of this one's.
        assert_eq!(
            revert_target_of(
                gitlab,
                "Revert",
                Some("This reverts merge request acme/web!41")
            ),
            None
        );
    }

    #[test]
    fn rework_by_label_branch_or_revert() {
        let key = pr_key("acme/api", 1);
        let at = "2026-10-05T10:00:00Z";
        let plain = opened(&key, at);
        let hotfix = opened_with(&key, at, |s| s.head_ref = "hotfix/login".into());
        let bug = opened_with(&key, at, |s| s.labels = vec!["bug".into()]);
        let revert = opened_with(&key, at, |s| s.title = "Revert \"Add x\"".into());
        let rework = |f: Fact| projection_of(&key, &[f], &[]).map(|p| p.is_rework);
        assert_eq!(rework(plain), Some(false));
        assert_eq!(rework(hotfix), Some(true));
        assert_eq!(rework(bug), Some(true));
        assert_eq!(rework(revert), Some(true));
    }

    #[test]
    fn a_pr_names_the_configured_tickets_of_its_title_body_branch_and_commits() {
        let config = OrgConfig::from_yaml(
            "org: acme\nteams: { payments: {} }\ntickets: { jira: { PAY: payments } }",
        )
        .expect("config");
        let key = pr_key("acme/api", 1);
        let opened = opened_with(&key, "2026-10-05T10:00:00Z", |s| {
            s.title = "PAY-1: refunds (UTF-8 safe)".into();
            s.body = Some("Also fixes pay-2.".into());
        });
        let mut push = feature_push(
            "p1",
            "2026-10-05T09:00:00Z",
            "abc1234",
            "2026-10-05T08:00:00Z",
        );
        if let FactBody::Push { commits, .. } = &mut push.body {
            commits[0].message = Some("Retry refunds\n\nRefs PAY-4, PAY-1".into());
        }
        let head = HeadHistory::of_pushes(&[push]);
        let pr =
            project_pull_request(&key, std::slice::from_ref(&opened), &head, &config).expect("pr");
        assert_eq!(pr.tickets, ["jira:PAY-1", "jira:PAY-2", "jira:PAY-4"]);
        // a key in the head branch alone counts too; no configured project, no tickets
        let on_branch = opened_with(&key, "2026-10-05T10:00:00Z", |s| {
            s.head_ref = "pay-5-refunds".into();
        });
        let pr =
            project_pull_request(&key, &[on_branch], &HeadHistory::default(), &config).expect("pr");
        assert_eq!(pr.tickets, ["jira:PAY-5"]);
        let unconfigured =
            project_pull_request(&key, &[opened], &head, &OrgConfig::default()).expect("pr");
        assert!(unconfigured.tickets.is_empty());
    }
}
