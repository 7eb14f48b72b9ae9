//! Cross-entity links (METRICS.md): which PRs a deployment shipped, which deployment an incident
//! blames, which PR a revert reverts. Pure: the caller loads the candidates, these functions
//! decide.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::deployment::Deployment;
use super::incident::Incident;
use super::pull_request::{PullRequest, RevertTarget};
use crate::model::{EntityKey, Fact, FactBody};

/// The default branch's commits in branch order, reconstructed from push facts by following each
/// push's `before` → `after` chain, so arrival order does not matter. Disconnected segments (a
/// push that was never delivered) are ordered by time.
pub fn branch_history(pushes: &[Fact]) -> Vec<String> {
    let mut segments: Vec<(&Fact, &String, &String, Vec<&str>)> = pushes
        .iter()
        .filter_map(|f| match &f.body {
            FactBody::Push {
                before,
                after,
                commits,
                ..
            } => Some((
                f,
                before,
                after,
                commits.iter().map(|c| c.sha.as_str()).collect(),
            )),
            _ => None,
        })
        .collect();
    segments.sort_by(|a, b| (a.0.at, &a.0.id).cmp(&(b.0.at, &b.0.id)));
    let by_before: HashMap<&str, usize> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| (s.1.as_str(), i))
        .collect();
    let afters: HashSet<&str> = segments.iter().map(|s| s.2.as_str()).collect();
    let mut used = vec![false; segments.len()];
    let mut order = Vec::new();
    // Roots first (their `before` is no known push's `after`), then anything left (cycles from
    // force pushes), each followed along the chain.
    let roots: Vec<usize> = (0..segments.len())
        .filter(|&i| !afters.contains(segments[i].1.as_str()))
        .chain(0..segments.len())
        .collect();
    for start in roots {
        let mut next = Some(start);
        while let Some(i) = next {
            if used[i] {
                break;
            }
            used[i] = true;
            order.push(i);
            next = by_before.get(segments[i].2.as_str()).copied();
        }
    }
    let mut seen = HashSet::new();
    let mut history = Vec::new();
    for i in order {
        for sha in &segments[i].3 {
            if seen.insert(*sha) {
                history.push(sha.to_string());
            }
        }
    }
    history
}

/// Position of a sha in the history; a short sha (as some CI systems report) matches by prefix.
fn position(history: &[String], sha: &str) -> Option<usize> {
    if sha.len() < 7 {
        return None;
    }
    history
        .iter()
        .position(|c| c == sha || (sha.len() < c.len() && c.starts_with(sha)))
}

/// The successful production deployment before `deployment` in its repo, by finish time.
pub fn previous_success<'a>(
    deployment: &Deployment,
    deployments: &'a [Deployment],
) -> Option<&'a Deployment> {
    nearest_success(deployment, deployments, Ordering::Less)
}

/// The next successful production deployment after `deployment` in its repo, by finish time.
pub fn next_success<'a>(
    deployment: &Deployment,
    deployments: &'a [Deployment],
) -> Option<&'a Deployment> {
    nearest_success(deployment, deployments, Ordering::Greater)
}

/// The successful production deployment of `deployment`'s repo nearest it on `side` (`Less`:
/// before), by finish time and then id.
fn nearest_success<'a>(
    deployment: &Deployment,
    deployments: &'a [Deployment],
    side: Ordering,
) -> Option<&'a Deployment> {
    let here = (deployment.finished_at?, &deployment.id);
    let beside = deployments.iter().filter(|d| {
        d.repo == deployment.repo
            && d.is_successful_production()
            && d.finished_at.is_some_and(|f| (f, &d.id).cmp(&here) == side)
    });
    let by_finish =
        |a: &&Deployment, b: &&Deployment| (a.finished_at, &a.id).cmp(&(b.finished_at, &b.id));
    if side == Ordering::Less {
        beside.max_by(by_finish)
    } else {
        beside.min_by(by_finish)
    }
}

/// The PRs a successful production deployment shipped: merged into the default branch with a
/// merge commit after the previous successful deployment's sha and at or before this one's, on
/// the default branch's history. The repo's first deployment ships nothing. When the history does
/// not contain both shas, falls back to merge times: after the previous deployment finished and
/// at or before this one started.
pub fn shipped_prs(
    deployment: &Deployment,
    previous: Option<&Deployment>,
    history: &[String],
    merged: &[PullRequest],
) -> Vec<EntityKey> {
    if !deployment.is_successful_production() {
        return Vec::new();
    }
    let Some(previous) = previous else {
        return Vec::new();
    };
    let mut shipped: Vec<EntityKey> = prs_between(previous, deployment, history, merged)
        .into_iter()
        .map(PullRequest::key)
        .collect();
    shipped.sort();
    shipped
}

/// The PRs `newer` holds that `older` does not: merged into the default branch with a merge
/// commit after `older`'s sha and at or before `newer`'s, on the default branch's history;
/// none when `newer` deployed a commit at or before `older`'s (a rollback, or an environment
/// that is not ahead). When the history does not contain both shas, falls back to merge times:
/// after `older` finished and at or before `newer` started. What a deployment shipped (older:
/// the previous production deployment) and what an environment holds that the next one does
/// not (older: the next environment's deployment) are both this.
pub fn prs_between<'a>(
    older: &Deployment,
    newer: &Deployment,
    history: &[String],
    merged: &'a [PullRequest],
) -> Vec<&'a PullRequest> {
    let candidates = merged
        .iter()
        .filter(|pr| pr.repo == newer.repo && pr.merged_to_default());
    let newer_pos = newer.sha.as_deref().and_then(|s| position(history, s));
    let older_pos = older.sha.as_deref().and_then(|s| position(history, s));
    match (older_pos, newer_pos) {
        (Some(older), Some(newer)) => {
            if newer <= older {
                return Vec::new();
            }
            let range: HashSet<&str> = history[older + 1..=newer]
                .iter()
                .map(String::as_str)
                .collect();
            candidates
                .filter(|pr| {
                    pr.merge_commit_sha
                        .as_deref()
                        .is_some_and(|sha| range.contains(sha))
                })
                .collect()
        }
        _ => {
            let (Some(after), Some(until)) =
                (older.finished_at, newer.started_at.or(newer.finished_at))
            else {
                return Vec::new();
            };
            candidates
                .filter(|pr| pr.merged_at.is_some_and(|m| m > after && m <= until))
                .collect()
        }
    }
}

/// Whether `deployment` rolled `previous` (the repo's successful production deployment before
/// it) back: it deployed a commit that lies strictly before `previous`'s on the default branch.
/// A redeploy of the same commit is not a rollback, and commits missing from the history are
/// not judged (no rollback is better than a made-up failure).
pub fn rolls_back(deployment: &Deployment, previous: &Deployment, history: &[String]) -> bool {
    if !deployment.is_successful_production() || !previous.is_successful_production() {
        return false;
    }
    let at = |d: &Deployment| d.sha.as_deref().and_then(|s| position(history, s));
    matches!((at(deployment), at(previous)), (Some(this), Some(prev)) if this < prev)
}

/// The rolled-back deployments among `deployments` (one repo's), each with the deployment that
/// rolled it back.
pub fn rollbacks(deployments: &[Deployment], history: &[String]) -> BTreeMap<EntityKey, EntityKey> {
    deployments
        .iter()
        .filter(|d| d.is_successful_production())
        .filter_map(|d| {
            let previous = previous_success(d, deployments)?;
            rolls_back(d, previous, history).then(|| (previous.key(), d.key()))
        })
        .collect()
}

/// The deployment an incident blames: the one it names by sha, else the latest successful
/// production deployment of one of the service's repos that finished before the incident opened,
/// within the blame window (`None` = unlimited).
pub fn blamed_deployment(
    incident: &Incident,
    deployments: &[Deployment],
    service_repos: &[String],
    window: Option<Duration>,
) -> Option<EntityKey> {
    let eligible = deployments
        .iter()
        .filter(|d| d.is_successful_production() && service_repos.iter().any(|r| r == &d.repo));
    if let Some(sha) = incident.deployment_sha.as_deref().filter(|s| s.len() >= 7) {
        let named = eligible
            .clone()
            .filter(|d| {
                d.sha
                    .as_deref()
                    .is_some_and(|s| s.starts_with(sha) || sha.starts_with(s))
            })
            .max_by(|a, b| (a.finished_at, &a.id).cmp(&(b.finished_at, &b.id)));
        if let Some(d) = named {
            return Some(d.key());
        }
    }
    eligible
        .filter(|d| {
            d.finished_at.is_some_and(|f| {
                f < incident.opened_at && window.is_none_or(|w| incident.opened_at - f <= w)
            })
        })
        .max_by(|a, b| (a.finished_at, &a.id).cmp(&(b.finished_at, &b.id)))
        .map(Deployment::key)
}

/// The PR a merged revert PR reverts, among merged PRs of the same repo merged before it.
pub fn reverted_pr(revert: &PullRequest, candidates: &[PullRequest]) -> Option<EntityKey> {
    let merged_at = revert.merged_at?;
    let target = revert.revert_target.as_ref()?;
    let earlier = candidates.iter().filter(|pr| {
        pr.repo == revert.repo
            && pr.number != revert.number
            && pr.merged_at.is_some_and(|m| m <= merged_at)
    });
    match target {
        RevertTarget::Number(n) => earlier
            .filter(|pr| pr.number == *n)
            .map(PullRequest::key)
            .next(),
        RevertTarget::Title(title) => earlier
            .filter(|pr| &pr.title == title)
            .max_by_key(|pr| (pr.merged_at, pr.number))
            .map(PullRequest::key),
    }
}

/// For each successful production deployment of one repo (finished at or after `from`), the
/// PRs it ships. One call per repo: the shared history is reconstructed once.
pub fn shipped_by_deployment(
    deployments: &[Deployment],
    history: &[String],
    merged: &[PullRequest],
    from: DateTime<Utc>,
) -> BTreeMap<EntityKey, Vec<EntityKey>> {
    deployments
        .iter()
        .filter(|d| d.is_successful_production() && d.finished_at.is_some_and(|f| f >= from))
        .map(|d| {
            let prev = previous_success(d, deployments);
            (d.key(), shipped_prs(d, prev, history, merged))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::testing::*;
    use crate::model::DeploymentState::{Failure, Success};

    fn merged_pr(number: u64, merged: &str, sha: &str) -> PullRequest {
        merged_pr_with(number, merged, sha, |_| {})
    }

    #[test]
    fn history_follows_the_push_chain_whatever_the_arrival_order() {
        let mut pushes = main_pushes();
        let expected = branch_history(&pushes);
        assert_eq!(expected, ["aaaaaaa", "bbbbbbb", "ccccccc", "ddddddd"]);
        pushes.reverse();
        assert_eq!(branch_history(&pushes), expected);
    }

    #[test]
    fn first_deployment_ships_nothing_and_the_next_ships_its_range() {
        let history = branch_history(&main_pushes());
        let first = production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z", Success);
        let second = production_deployment("gh:2", "ccccccc", "2026-10-05T11:00:00Z", Success);
        let prs = vec![
            merged_pr(1, "2026-10-05T09:55:00Z", "bbbbbbb"),
            merged_pr(2, "2026-10-05T11:55:00Z", "ddddddd"),
        ];
        let all = vec![first.clone(), second.clone()];
        assert_eq!(
            shipped_prs(&first, previous_success(&first, &all), &history, &prs),
            vec![]
        );
        assert_eq!(
            shipped_prs(&second, previous_success(&second, &all), &history, &prs),
            vec![pr_key("acme/api", 1)]
        );
    }

    #[test]
    fn redeploying_an_older_commit_rolls_the_previous_deployment_back() {
        let history = branch_history(&main_pushes());
        let at =
            |id: &str, sha: &str, finished: &str| production_deployment(id, sha, finished, Success);
        let first = at("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z");
        let second = at("gh:2", "ddddddd", "2026-10-05T12:30:00Z");
        // Back to ccccccc: the change in ddddddd is rolled back.
        let rollback = at("gh:3", "ccccccc", "2026-10-05T13:00:00Z");
        // The same commit again is a redeploy, not a rollback.
        let redeploy = at("gh:4", "ccccccc", "2026-10-05T14:00:00Z");
        let all = vec![
            first.clone(),
            second.clone(),
            rollback.clone(),
            redeploy.clone(),
        ];
        assert!(rolls_back(&rollback, &second, &history));
        assert!(
            !rolls_back(&second, &first, &history),
            "forward is not back"
        );
        assert!(!rolls_back(&redeploy, &rollback, &history));
        assert_eq!(
            rollbacks(&all, &history),
            BTreeMap::from([(second.key(), rollback.key())])
        );
        // A failed attempt at an older commit rolls nothing back.
        let failed = production_deployment("gh:5", "aaaaaaa", "2026-10-05T15:00:00Z", Failure);
        assert!(!rolls_back(&failed, &redeploy, &history));
        // A commit the history does not hold is not judged.
        let unknown = at("gh:6", "9999999", "2026-10-05T16:00:00Z");
        assert!(!rolls_back(&unknown, &redeploy, &history));
        // The rolled-back deployment failed, and recovered when the rollback finished.
        let mut rolled_back = second.clone();
        rolled_back.rolled_back_by = Some(rollback.key());
        rolled_back.next_success_at = rollback.finished_at;
        assert!(rolled_back.is_failed() && rolled_back.needs_next_success());
        assert_eq!(rolled_back.recovery_seconds(), Some(1800.0));
    }

    #[test]
    fn a_pr_merged_before_the_sha_but_pushed_after_is_not_shipped() {
        let history = branch_history(&main_pushes());
        let first = production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z", Success);
        let second = production_deployment("gh:2", "ccccccc", "2026-10-05T11:00:00Z", Success);
        // Merged (by clock) before the deployment started, but its merge commit lands later.
        let late = merged_pr(3, "2026-10-05T10:30:00Z", "ddddddd");
        let all = vec![first, second.clone()];
        assert_eq!(
            shipped_prs(&second, previous_success(&second, &all), &history, &[late]),
            vec![]
        );
    }

    #[test]
    fn failed_deployments_are_skipped_as_predecessors() {
        let all = vec![
            production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z", Success),
            production_deployment("gh:2", "bbbbbbb", "2026-10-05T10:30:00Z", Failure),
            production_deployment("gh:3", "ccccccc", "2026-10-05T11:00:00Z", Success),
        ];
        assert_eq!(
            previous_success(&all[2], &all).map(|d| d.id.as_str()),
            Some("gh:1")
        );
        assert_eq!(
            next_success(&all[1], &all).map(|d| d.id.as_str()),
            Some("gh:3")
        );
    }

    #[test]
    fn without_pushes_merge_times_decide() {
        let first = production_deployment("gh:1", "aaaaaaa", "2026-10-05T09:30:00Z", Success);
        let second = production_deployment("gh:2", "ccccccc", "2026-10-05T11:00:00Z", Success);
        let prs = vec![
            merged_pr(1, "2026-10-05T09:00:00Z", "x1x1x1x"),
            merged_pr(2, "2026-10-05T10:00:00Z", "x2x2x2x"),
            merged_pr(3, "2026-10-05T10:58:00Z", "x3x3x3x"),
        ];
        let all = vec![first, second.clone()];
        assert_eq!(
            shipped_prs(&second, previous_success(&second, &all), &[], &prs),
            vec![pr_key("acme/api", 2)],
            "merged after the previous finish and at or before this start (10:55)"
        );
    }

    #[test]
    fn blame_window_and_named_sha() {
        let deps = vec![
            production_deployment("gh:1", "aaaaaaa", "2026-10-01T09:00:00Z", Success),
            production_deployment("gh:2", "bbbbbbb", "2026-10-05T09:00:00Z", Success),
            production_deployment("gh:3", "ccccccc", "2026-10-05T11:00:00Z", Failure),
        ];
        let repos = vec!["acme/api".to_string()];
        let mut incident = Incident {
            id: "pd:1".into(),
            title: "down".into(),
            service: "api".into(),
            severity: None,
            opened_at: t("2026-10-05T12:00:00Z"),
            resolved_at: None,
            deployment_sha: None,
            repo: None,
            html_url: None,
            services: vec!["api".into()],
        };
        let week = Some(Duration::days(7));
        assert_eq!(
            blamed_deployment(&incident, &deps, &repos, week),
            Some(dep_key("acme/api", "gh:2"))
        );
        incident.opened_at = t("2026-10-13T09:00:01Z");
        assert_eq!(
            blamed_deployment(&incident, &deps, &repos, week),
            None,
            "outside 7 days"
        );
        assert_eq!(
            blamed_deployment(&incident, &deps, &repos, None),
            Some(dep_key("acme/api", "gh:2"))
        );
        incident.deployment_sha = Some("aaaaaaa".into());
        assert_eq!(
            blamed_deployment(&incident, &deps, &repos, week),
            Some(dep_key("acme/api", "gh:1"))
        );
        assert_eq!(
            blamed_deployment(&incident, &deps, &["acme/other".into()], None),
            None
        );
    }

    #[test]
    fn revert_finds_its_original_by_number_or_title() {
        let original = merged_pr(5, "2026-10-05T09:00:00Z", "aaaaaaa");
        let key = pr_key("acme/api", 9);
        let revert_fact = merged_with(&key, "r9", "2026-10-05T10:00:00Z", |s| {
            s.title = format!("Revert \"{}\"", original.title);
        });
        let revert = project_pr(&key, &[revert_fact], &[]);
        assert_eq!(
            reverted_pr(&revert, std::slice::from_ref(&original)),
            Some(original.key())
        );
    }
}
