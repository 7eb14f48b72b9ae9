//! A pull request's projection: a pure fold of its facts (and of its head branch's pushes),
//! independent of the order in which they arrived.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::pr_commits::{own_pushes, HeadHistory};
use crate::config::OrgConfig;
use crate::model::{EntityKey, Fact, FactBody, PrAction, PrSnapshot, ReviewState};

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
}

impl PullRequest {
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
    let mut sorted: Vec<&Fact> = facts.iter().collect();
    sorted.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));

    let snapshots: Vec<(&Fact, &PrSnapshot)> = sorted
        .iter()
        .filter_map(|f| match &f.body {
            FactBody::PullRequest(s) => Some((*f, s)),
            _ => None,
        })
        .collect();
    // The latest state wins; ties on updated_at resolve by fact order, which is deterministic.
    let latest = snapshots
        .iter()
        .max_by(|a, b| (a.1.updated_at, a.0.at, &a.0.id).cmp(&(b.1.updated_at, b.0.at, &b.0.id)))?
        .1;
    let merged = snapshots
        .iter()
        .rev()
        .find_map(|(_, s)| s.merged_at.map(|at| (at, s.merge_commit_sha.clone())));
    let created_at = snapshots
        .iter()
        .map(|(_, s)| s.created_at)
        .min()
        .unwrap_or(latest.created_at);
    let opened_as_ready = snapshots
        .iter()
        .any(|(_, s)| s.action == PrAction::Opened && !s.draft);
    let first_ready = snapshots
        .iter()
        .filter(|(_, s)| s.action == PrAction::ReadyForReview)
        .map(|(f, _)| f.at)
        .min();
    let reviewable_at = match first_ready {
        Some(ready) if !opened_as_ready => ready.max(created_at),
        _ => created_at,
    };
    let size_source = snapshots
        .iter()
        .rev()
        .find(|(_, s)| s.additions.is_some() || s.deletions.is_some())
        .map(|(_, s)| *s)
        .unwrap_or(latest);

    let author = latest.author.login.clone();
    let author_is_bot = config.is_bot(&author, latest.author.is_bot);
    let is_other_human = |login: &str, flagged_bot: bool, pr_author: &Option<String>| {
        let author_of_pr = pr_author.as_deref().unwrap_or(&author);
        !login.eq_ignore_ascii_case(author_of_pr) && !config.is_bot(login, flagged_bot)
    };

    let mut first_review_at: Option<DateTime<Utc>> = None;
    let mut changes_requested = false;
    let mut comments = 0u32;
    for fact in &sorted {
        match &fact.body {
            FactBody::Review {
                reviewer,
                state,
                submitted_at,
                body_nonempty,
                pr_author,
            } if is_other_human(&reviewer.login, reviewer.is_bot, pr_author) => {
                first_review_at = min_opt(first_review_at, *submitted_at);
                changes_requested |= *state == ReviewState::ChangesRequested;
                if *body_nonempty {
                    comments += 1;
                }
            }
            FactBody::Comment {
                commenter,
                created_at,
                pr_author,
                ..
            } if is_other_human(&commenter.login, commenter.is_bot, pr_author) => {
                first_review_at = min_opt(first_review_at, *created_at);
                comments += 1;
            }
            _ => {}
        }
    }

    let end_of_work = merged.as_ref().map(|(at, _)| *at).or(latest.closed_at);
    // A fork PR's head ref names a branch of the fork, whose pushes this repository's webhooks
    // never see: a same-named branch here is someone else's.
    let from_fork = latest.head_repo.as_ref().is_some_and(|head| head != repo);
    // Earlier merged PRs of the branch, as links on this one say (the edge also finds those
    // whose projections it can read): their heads end this PR's commits.
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
    let with_links;
    let head = if linked_heads.is_empty() {
        head
    } else {
        let mut extended = head.clone();
        extended
            .earlier_heads
            .extend(linked_heads.into_iter().cloned());
        with_links = extended;
        &with_links
    };
    let own = if from_fork {
        Vec::new()
    } else {
        own_pushes(head, latest.head_sha.as_deref(), end_of_work).0
    };
    let mut first_commit_at = None;
    let mut pushed_after_review = false;
    for push in &own {
        for commit in &push.commits {
            first_commit_at = min_opt(first_commit_at, commit.authored_at);
        }
        if first_review_at.is_some_and(|review| push.at > review) && !push.commits.is_empty() {
            pushed_after_review = true;
        }
    }
    let synchronized_after_review = snapshots.iter().any(|(f, s)| {
        s.action == PrAction::Synchronize && first_review_at.is_some_and(|review| f.at > review)
    });

    let mut shipped_by: Option<Shipment> = None;
    let mut reverted_by = Vec::new();
    for fact in &sorted {
        match &fact.body {
            FactBody::ShippedBy {
                deployment,
                sha,
                finished_at,
            } => {
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
            FactBody::RevertedBy { pr } => reverted_by.push(pr.clone()),
            _ => {}
        }
    }
    reverted_by.sort();
    reverted_by.dedup();

    let is_revert = config.is_revert_title(&latest.title);
    let revert_target = if is_revert {
        revert_target_of(repo, &latest.title, latest.body.as_deref())
    } else {
        None
    };
    let is_rework = is_revert
        || latest.labels.iter().any(|l| config.is_rework_label(l))
        || config.is_rework_branch(&latest.head_ref);
    let mut labels = latest.labels.clone();
    labels.sort();

    Some(PullRequest {
        repo: repo.clone(),
        number: *number,
        title: latest.title.clone(),
        author,
        author_is_bot,
        created_at,
        reviewable_at,
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
        labels,
        html_url: latest.html_url.clone(),
        first_commit_at,
        first_review_at,
        changes_requested,
        commits_after_first_review: pushed_after_review || synchronized_after_review,
        comments,
        is_rework,
        is_revert,
        revert_target,
        shipped_by,
        reverted_by,
    })
}

fn min_opt(current: Option<DateTime<Utc>>, candidate: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(current.map_or(candidate, |c| c.min(candidate)))
}

/// Reads what a revert PR reverts: GitHub's "Reverts owner/repo#N" body line first (exact), then
/// the quoted original title.
fn revert_target_of(repo: &str, title: &str, body: Option<&str>) -> Option<RevertTarget> {
    if let Some(body) = body {
        for line in body.lines() {
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
        let cfg = OrgConfig::default();
        let key = pr_key("acme/api", 1);
        let opened = pr_fact(
            &key,
            "d1",
            PrAction::Opened,
            t("2026-10-05T10:00:00Z"),
            |_| {},
        );
        let review = review_fact(
            &key,
            "d2",
            "bob",
            ReviewState::Approved,
            t("2026-10-05T12:00:00Z"),
        );
        let a = project_pull_request(
            &key,
            &[opened.clone(), review.clone()],
            &HeadHistory::default(),
            &cfg,
        );
        let b = project_pull_request(&key, &[review, opened], &HeadHistory::default(), &cfg);
        assert_eq!(a, b);
        let pr = a.expect("projection");
        assert_eq!(pr.first_review_at, Some(t("2026-10-05T12:00:00Z")));
    }

    #[test]
    fn no_snapshot_no_projection() {
        let cfg = OrgConfig::default();
        let key = pr_key("acme/api", 1);
        let review = review_fact(
            &key,
            "d2",
            "bob",
            ReviewState::Approved,
            t("2026-10-05T12:00:00Z"),
        );
        assert_eq!(
            project_pull_request(&key, &[review], &HeadHistory::default(), &cfg),
            None
        );
    }

    #[test]
    fn authors_own_comments_and_bots_are_not_reviews() {
        let cfg = OrgConfig::default();
        let key = pr_key("acme/api", 1);
        let opened = pr_fact(
            &key,
            "d1",
            PrAction::Opened,
            t("2026-10-05T10:00:00Z"),
            |_| {},
        );
        let own = comment_fact(&key, "d2", "alice", false, t("2026-10-05T10:05:00Z"));
        let bot = comment_fact(
            &key,
            "d3",
            "ci-helper[bot]",
            true,
            t("2026-10-05T10:06:00Z"),
        );
        let real = comment_fact(&key, "d4", "bob", false, t("2026-10-05T11:00:00Z"));
        let pr = project_pull_request(
            &key,
            &[opened, own, bot, real],
            &HeadHistory::default(),
            &cfg,
        )
        .expect("pr");
        assert_eq!(pr.first_review_at, Some(t("2026-10-05T11:00:00Z")));
        assert_eq!(pr.comments, 1);
    }

    #[test]
    fn draft_pickup_starts_at_ready_for_review() {
        let cfg = OrgConfig::default();
        let key = pr_key("acme/api", 1);
        let opened = pr_fact(
            &key,
            "d1",
            PrAction::Opened,
            t("2026-10-05T10:00:00Z"),
            |s| s.draft = true,
        );
        let ready = pr_fact(
            &key,
            "d2",
            PrAction::ReadyForReview,
            t("2026-10-06T09:00:00Z"),
            |_| {},
        );
        let pr = project_pull_request(&key, &[ready, opened], &HeadHistory::default(), &cfg)
            .expect("pr");
        assert_eq!(pr.reviewable_at, t("2026-10-06T09:00:00Z"));
    }

    #[test]
    fn first_commit_comes_from_head_branch_pushes_and_later_pushes_break_first_time_pass() {
        let cfg = OrgConfig::default();
        let key = pr_key("acme/api", 1);
        let opened = pr_fact(
            &key,
            "d1",
            PrAction::Opened,
            t("2026-10-05T10:00:00Z"),
            |_| {},
        );
        let review = review_fact(
            &key,
            "d2",
            "bob",
            ReviewState::Commented,
            t("2026-10-05T12:00:00Z"),
        );
        let push1 = push_fact(
            "acme/api",
            "feature",
            "p1",
            t("2026-10-05T09:00:00Z"),
            &[("c1", "2026-10-04T15:00:00Z")],
            false,
        );
        let push2 = push_fact(
            "acme/api",
            "feature",
            "p2",
            t("2026-10-05T13:00:00Z"),
            &[("c2", "2026-10-05T12:30:00Z")],
            false,
        );
        let pr = project_pull_request(
            &key,
            &[opened.clone(), review.clone()],
            &HeadHistory::of_pushes(std::slice::from_ref(&push1)),
            &cfg,
        )
        .expect("pr");
        assert_eq!(pr.first_commit_at, Some(t("2026-10-04T15:00:00Z")));
        assert!(pr.first_time_pass());
        let pr = project_pull_request(
            &key,
            &[opened, review],
            &HeadHistory::of_pushes(&[push1, push2]),
            &cfg,
        )
        .expect("pr");
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
    }

    #[test]
    fn rework_by_label_branch_or_revert() {
        let cfg = OrgConfig::default();
        let key = pr_key("acme/api", 1);
        let plain = pr_fact(
            &key,
            "d1",
            PrAction::Opened,
            t("2026-10-05T10:00:00Z"),
            |_| {},
        );
        let hotfix = pr_fact(
            &key,
            "d1",
            PrAction::Opened,
            t("2026-10-05T10:00:00Z"),
            |s| s.head_ref = "hotfix/login".into(),
        );
        let bug = pr_fact(
            &key,
            "d1",
            PrAction::Opened,
            t("2026-10-05T10:00:00Z"),
            |s| s.labels = vec!["bug".into()],
        );
        let revert = pr_fact(
            &key,
            "d1",
            PrAction::Opened,
            t("2026-10-05T10:00:00Z"),
            |s| s.title = "Revert \"Add x\"".into(),
        );
        let rework = |f: Fact| {
            project_pull_request(&key, &[f], &HeadHistory::default(), &cfg).map(|p| p.is_rework)
        };
        assert_eq!(rework(plain), Some(false));
        assert_eq!(rework(hotfix), Some(true));
        assert_eq!(rework(bug), Some(true));
        assert_eq!(rework(revert), Some(true));
    }
}
