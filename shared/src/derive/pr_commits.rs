//! Which pushed commits are a pull request's own (docs/METRICS.md, "A PR's commits").
//!
//! Head branch names are reused (automation reopens `renovate/*` or a sync branch for every PR,
//! people reuse `fix-docs`), a fork PR's head ref names a branch of another repository, and a
//! branch that merged the default branch in carries the default branch's commits. So a PR's
//! commits are not "every push ever made to a branch of that name": they are the commits reached
//! from the PR's head sha back through its branch's push chain (`before` → `after`), stopping at
//! the push that created the branch, at the head of an earlier merged PR of that branch, and
//! leaving out commits that are on the default branch.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::model::{Commit, Fact, FactBody};

/// What the walk needs besides the PR itself, loaded by the edge.
#[derive(Clone, Debug, Default)]
pub struct HeadHistory {
    /// The head branch's push facts the read reached (bounded by the PR's lifetime).
    pub pushes: Vec<Fact>,
    /// Shas known to be on the default branch (its pushes over the PR's lifetime).
    pub on_default_branch: BTreeSet<String>,
    /// Head shas of earlier merged PRs of the same branch: their commits are theirs.
    pub earlier_heads: BTreeSet<String>,
}

impl HeadHistory {
    /// Only pushes: no default-branch commits or earlier PRs known.
    pub fn of_pushes(pushes: &[Fact]) -> HeadHistory {
        HeadHistory {
            pushes: pushes.to_vec(),
            ..HeadHistory::default()
        }
    }
}

/// One push of the PR's chain and the commits of it that are the PR's own.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnPush<'a> {
    pub at: DateTime<Utc>,
    pub commits: Vec<&'a Commit>,
}

/// Where the chain walk stopped, so that a caller (and a test) can tell a walk that reached
/// the PR's beginning from one that ran out of known pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainEnd {
    /// No push of the head sha is known: no commits.
    NoHead,
    /// The push that created the branch (`before` is the zero sha).
    Created,
    /// The head of an earlier merged PR of this branch.
    EarlierPr,
    /// The push before is not in the history read (never delivered, or before the read's
    /// lower bound).
    Unknown,
}

/// A push's `before`/`after` parts, as the walk reads them.
struct Push<'a> {
    at: DateTime<Utc>,
    before: &'a str,
    commits: &'a [Commit],
}

fn is_zero_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

/// Walks back from `head_sha` through the pushes at or before `until` (the PR's merge or
/// close). Without a head sha (facts stored before it was recorded) the walk starts at the
/// latest push before `until`. Each push is visited once, so a cycle of force-pushes ends.
pub fn own_pushes<'a>(
    history: &'a HeadHistory,
    head_sha: Option<&str>,
    until: Option<DateTime<Utc>>,
) -> (Vec<OwnPush<'a>>, ChainEnd) {
    // Pushes by the sha they moved the branch to; the latest one wins when a sha was pushed
    // twice (a reset back to it), since the walk wants the most recent way the branch got there.
    let mut by_after: BTreeMap<&str, Vec<(usize, Push<'a>)>> = BTreeMap::new();
    let mut latest: Option<(DateTime<Utc>, &str)> = None;
    for (i, fact) in history.pushes.iter().enumerate() {
        let FactBody::Push {
            before,
            after,
            commits,
            ..
        } = &fact.body
        else {
            continue;
        };
        if until.is_some_and(|end| fact.at > end) {
            continue;
        }
        if latest.is_none_or(|(at, _)| fact.at >= at) {
            latest = Some((fact.at, after.as_str()));
        }
        by_after.entry(after.as_str()).or_default().push((
            i,
            Push {
                at: fact.at,
                before,
                commits,
            },
        ));
    }
    for pushes in by_after.values_mut() {
        pushes.sort_by_key(|(i, p)| (p.at, *i));
    }
    let Some(start) = head_sha.or(latest.map(|(_, sha)| sha)) else {
        return (Vec::new(), ChainEnd::NoHead);
    };

    let mut chain = Vec::new();
    let mut visited = BTreeSet::new();
    let mut sha = start;
    let mut not_after: Option<DateTime<Utc>> = None;
    let end = loop {
        if history.earlier_heads.contains(sha) && sha != start {
            break ChainEnd::EarlierPr;
        }
        let found = by_after.get(sha).and_then(|pushes| {
            pushes
                .iter()
                .rev()
                .find(|(i, p)| not_after.is_none_or(|t| p.at <= t) && !visited.contains(i))
        });
        let Some((i, push)) = found else {
            break if chain.is_empty() {
                ChainEnd::NoHead
            } else {
                ChainEnd::Unknown
            };
        };
        visited.insert(*i);
        let commits: Vec<&Commit> = push
            .commits
            .iter()
            .filter(|c| !history.on_default_branch.contains(&c.sha))
            .filter(|c| !history.earlier_heads.contains(&c.sha))
            .collect();
        chain.push(OwnPush {
            at: push.at,
            commits,
        });
        if is_zero_sha(push.before) {
            break ChainEnd::Created;
        }
        not_after = Some(push.at);
        sha = push.before;
    };
    (chain, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::testing::t;
    use crate::model::EntityKey;

    const ZERO: &str = "0000000000000000000000000000000000000000";

    fn push(n: usize, at: &str, before: &str, after: &str, commits: &[(&str, &str)]) -> Fact {
        Fact {
            entity: EntityKey::Branch {
                repo: "acme/api".into(),
                branch: "fix-docs".into(),
            },
            id: format!("push:{n}#0"),
            at: t(at),
            body: FactBody::Push {
                before: before.into(),
                after: after.into(),
                commits: commits
                    .iter()
                    .map(|(sha, authored)| Commit {
                        sha: (*sha).into(),
                        authored_at: t(authored),
                        author_login: Some("alice".into()),
                        message: None,
                    })
                    .collect(),
                forced: false,
                to_default_branch: false,
            },
        }
    }

    /// Push `n`, at `at`, of the one commit `sha` (authored an hour before) on top of `before`.
    fn push_one(n: usize, at: &str, before: &str, sha: &str) -> Fact {
        let authored = (t(at) - chrono::Duration::hours(1)).to_rfc3339();
        push(n, at, before, sha, &[(sha, &authored)])
    }

    fn shas(chain: &[OwnPush]) -> Vec<String> {
        chain
            .iter()
            .flat_map(|p| p.commits.iter().map(|c| c.sha.clone()))
            .collect()
    }

    #[test]
    fn given_a_branch_reused_months_later_when_walking_the_second_pr_then_only_its_pushes_count() {
        // The branch was deleted after PR 1 merged and pushed again for PR 2: the walk from PR
        // 2's head stops at the push that created the branch the second time.
        let history = HeadHistory::of_pushes(&[
            push_one(1, "2026-03-01T10:00:00Z", ZERO, "a1"),
            push_one(2, "2026-03-02T10:00:00Z", "a1", "a2"),
            push_one(3, "2026-06-01T10:00:00Z", ZERO, "b1"),
            push_one(4, "2026-06-02T10:00:00Z", "b1", "b2"),
        ]);
        let (chain, end) = own_pushes(&history, Some("b2"), Some(t("2026-06-03T00:00:00Z")));
        assert_eq!(shas(&chain), ["b2", "b1"]);
        assert_eq!(end, ChainEnd::Created);
    }

    #[test]
    fn given_a_branch_never_deleted_when_an_earlier_pr_merged_its_head_then_the_walk_stops_there() {
        // A sync branch pushed on top of itself: PR 1 merged at a2 (squash, so a1/a2 are not on
        // the default branch); PR 2 continues with c1.
        let mut history = HeadHistory::of_pushes(&[
            push(
                1,
                "2026-03-01T10:00:00Z",
                ZERO,
                "a2",
                &[
                    ("a1", "2026-03-01T08:00:00Z"),
                    ("a2", "2026-03-01T09:00:00Z"),
                ],
            ),
            push_one(2, "2026-05-01T10:00:00Z", "a2", "c1"),
        ]);
        let (chain, end) = own_pushes(&history, Some("c1"), None);
        assert_eq!(
            shas(&chain),
            ["c1", "a1", "a2"],
            "without the earlier PR known"
        );
        assert_eq!(end, ChainEnd::Created);
        history.earlier_heads.insert("a2".into());
        let (chain, end) = own_pushes(&history, Some("c1"), None);
        assert_eq!(shas(&chain), ["c1"]);
        assert_eq!(end, ChainEnd::EarlierPr);
    }

    #[test]
    fn given_the_default_branch_merged_in_when_walking_then_its_commits_are_not_the_prs() {
        let mut history = HeadHistory::of_pushes(&[
            push_one(1, "2026-03-10T10:00:00Z", ZERO, "f1"),
            // `git merge main`: two main commits (authored long before) and the merge commit.
            push(
                2,
                "2026-03-11T10:00:00Z",
                "f1",
                "mm",
                &[
                    ("m1", "2026-01-01T00:00:00Z"),
                    ("m2", "2026-01-02T00:00:00Z"),
                    ("mm", "2026-03-11T09:30:00Z"),
                ],
            ),
        ]);
        history.on_default_branch = ["m1", "m2"].into_iter().map(String::from).collect();
        let (chain, _) = own_pushes(&history, Some("mm"), None);
        assert_eq!(shas(&chain), ["mm", "f1"]);
    }

    #[test]
    fn given_a_fork_pr_from_main_when_its_head_was_never_pushed_here_then_it_has_no_commits() {
        // The base repository's own `main` pushes, read under the head ref name `main`: a fork
        // PR's head sha is not among them.
        let history = HeadHistory::of_pushes(&[push_one(1, "2026-03-01T10:00:00Z", "x0", "x1")]);
        let (chain, end) = own_pushes(&history, Some("fork-head"), None);
        assert!(chain.is_empty());
        assert_eq!(end, ChainEnd::NoHead);
    }

    #[test]
    fn given_pushes_after_the_merge_when_walking_then_they_are_not_read() {
        let history = HeadHistory::of_pushes(&[
            push_one(1, "2026-03-01T10:00:00Z", ZERO, "a1"),
            push_one(2, "2026-03-05T10:00:00Z", "a1", "a2"),
        ]);
        // Without a head sha the walk starts at the latest push before the merge.
        let (chain, _) = own_pushes(&history, None, Some(t("2026-03-02T00:00:00Z")));
        assert_eq!(shas(&chain), ["a1"]);
    }

    #[test]
    fn given_a_force_push_cycle_when_walking_then_each_push_is_visited_once() {
        let history = HeadHistory::of_pushes(&[
            push_one(1, "2026-03-01T10:00:00Z", "b", "a"),
            push_one(2, "2026-03-02T10:00:00Z", "a", "b"),
            push(
                3,
                "2026-03-03T10:00:00Z",
                "b",
                "a",
                &[("a", "2026-03-01T09:00:00Z")],
            ),
        ]);
        let (chain, end) = own_pushes(&history, Some("a"), None);
        assert_eq!(chain.len(), 3);
        assert_eq!(end, ChainEnd::Unknown);
    }
}
