//! Which link facts change, decided from loaded projections: the rollup function loads what a
//! decision reads, calls one of these, and applies the [`LinkEdit`]s it returns through one
//! path (conditional put or delete, parking what DynamoDB can never hold). Nothing here reads
//! the table or the clock, so every rule has a given/when/then test below.
//!
//! A link an entity asserts on another (an incident blaming a deployment, a revert reverting a
//! PR, a PR failing the deployment that shipped it) is remembered on the asserting entity, so a
//! changed decision retracts the old link: those decisions return a [`Retarget`].

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use chrono::{DateTime, Duration, Utc};

use super::deployment::Deployment;
use super::incident::Incident;
use super::links::{self, blamed_deployment, next_success, reverted_pr};
use super::pull_request::PullRequest;
use crate::config::OrgConfig;
use crate::model::{EntityKey, Fact, FactBody, ShippedPr};

/// How far back a change can reach into link decisions: deployments finishing this long before
/// a change are re-derived (clock skew between GitHub and CI systems).
pub const LINK_SLACK: Duration = Duration::days(1);
/// How far back a deployed commit may have been pushed, and a revert may follow its original.
pub const HISTORY_WINDOW: Duration = Duration::days(30);
/// Predecessor deployments loaded to find the previous successful one.
pub const PREDECESSORS: usize = 25;
/// The blame window when the config sets none: effectively unlimited.
const UNLIMITED_BLAME: Duration = Duration::days(3650);

/// `at - by`, saturating at the earliest representable instant (reprocessing counts from it).
pub fn before(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_sub_signed(by)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `at + by`, saturating at the latest representable instant.
pub fn after(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_add_signed(by)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// One change to a derived link fact, on the entity the link is stored on. (Not boxed: edits
/// are few per decision and applied at once.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum LinkEdit {
    /// Write this link (a conditional put: the same content again writes nothing).
    Put(Fact),
    /// Remove the link with this id from `entity`.
    Remove { entity: EntityKey, link: String },
}

impl LinkEdit {
    /// The entity whose partition the edit changes (the stream brings it back to be rebuilt).
    pub fn entity(&self) -> &EntityKey {
        match self {
            LinkEdit::Put(fact) => &fact.entity,
            LinkEdit::Remove { entity, .. } => entity,
        }
    }

    fn put(entity: &EntityKey, link: String, at: DateTime<Utc>, body: FactBody) -> LinkEdit {
        LinkEdit::Put(Fact {
            entity: entity.clone(),
            id: link,
            at,
            body,
        })
    }

    fn remove(entity: &EntityKey, link: impl Into<String>) -> LinkEdit {
        LinkEdit::Remove {
            entity: entity.clone(),
            link: link.into(),
        }
    }
}

/// Link ids: one per kind of link and asserting entity, so that a target holds at most one link
/// of a kind from each entity and a changed decision replaces it.
pub mod link_id {
    use crate::model::EntityKey;

    /// The one link on a deployment listing the PRs it shipped.
    pub const SHIPS: &str = "ships";
    /// On a failed deployment: the next successful one.
    pub const FOLLOWED_BY: &str = "followed_by";
    /// On a rolled-back deployment: the one that rolled it back.
    pub const ROLLED_BACK_BY: &str = "rolled_back_by";

    /// On a PR: the deployment that shipped it.
    pub fn shipped_by(deployment: &EntityKey) -> String {
        keyed("shipped_by", deployment)
    }
    /// On a deployment: the incident that blames it.
    pub fn blamed_by(incident: &EntityKey) -> String {
        keyed("blamed_by", incident)
    }
    /// On a PR: the revert PR that reverts it.
    pub fn reverted_by(revert: &EntityKey) -> String {
        keyed("reverted_by", revert)
    }
    /// On a deployment: a PR it shipped was reverted.
    pub fn shipped_pr_reverted(pr: &EntityKey) -> String {
        keyed("shipped_pr_reverted", pr)
    }
    /// On a `wr:` deployment: the GitHub Deployment that supersedes it.
    pub fn superseded_by(deployment: &EntityKey) -> String {
        keyed("superseded_by", deployment)
    }
    /// On a PR: an earlier merged PR of the same head branch.
    pub fn earlier_pr_head(pr: &EntityKey) -> String {
        keyed("earlier_pr_head", pr)
    }
    /// On a ticket: a PR that names it.
    pub fn named_by_pr(pr: &EntityKey) -> String {
        keyed("named_by_pr", pr)
    }

    /// `<kind>:<partition key>`, one spelling for every kind: the ids are stored, so a kind
    /// spelled differently would no longer replace its earlier links.
    fn keyed(kind: &str, entity: &EntityKey) -> String {
        format!("{kind}:{}", entity.partition_key())
    }
}

/// A decision about a link its asserting entity remembers: the edits, and the target to
/// remember (`None`: it asserts no such link any more).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Retarget {
    pub edits: Vec<LinkEdit>,
    pub target: Option<EntityKey>,
}

/// Retracts the link `link` from `old` when the decision moved it elsewhere (or dropped it).
fn retract_moved(
    old: Option<&EntityKey>,
    desired: Option<&EntityKey>,
    link: &str,
) -> Vec<LinkEdit> {
    old.filter(|old| Some(*old) != desired)
        .map(|old| LinkEdit::remove(old, link))
        .into_iter()
        .collect()
}

/// A shipped PR that was reverted fails the deployment that shipped it. `marked` is the
/// deployment this PR marked before.
pub fn reverted_deployment(pr: &PullRequest, marked: Option<&EntityKey>) -> Retarget {
    let link = link_id::shipped_pr_reverted(&pr.key());
    let desired = match (&pr.shipped_by, pr.reverted_by.first()) {
        (Some(shipment), Some(revert)) => Some((shipment, revert)),
        _ => None,
    };
    let target = desired.map(|(s, _)| s.deployment.clone());
    let mut edits = retract_moved(marked, target.as_ref(), &link);
    if let Some((shipment, revert)) = desired {
        edits.push(LinkEdit::put(
            &shipment.deployment,
            link,
            shipment.finished_at,
            FactBody::ShippedPrReverted {
                pr: pr.key(),
                revert: revert.clone(),
            },
        ));
    }
    Retarget { edits, target }
}

/// The merged PRs a revert's target is looked for among: merged in the [`HISTORY_WINDOW`]
/// before it. `None` when it is no merged revert (it then reverts nothing).
pub fn revert_candidates_window(revert: &PullRequest) -> Option<RangeInclusive<DateTime<Utc>>> {
    let merged = revert.merged_at.filter(|_| revert.is_revert)?;
    Some(before(merged, HISTORY_WINDOW)..=merged)
}

/// A merged revert PR reverts one earlier PR (`links::reverted_pr`). `candidates` are the
/// merged PRs of [`revert_candidates_window`]; `old` the PR it was linked to before. A target
/// whose projection already shows this revert needs no write.
pub fn revert(
    revert: &PullRequest,
    candidates: &[PullRequest],
    old: Option<&EntityKey>,
) -> Retarget {
    let revert_key = revert.key();
    let link = link_id::reverted_by(&revert_key);
    let target = revert_candidates_window(revert).and_then(|_| reverted_pr(revert, candidates));
    let mut edits = retract_moved(old, target.as_ref(), &link);
    let already_linked = target.as_ref().is_some_and(|t| {
        candidates
            .iter()
            .any(|pr| &pr.key() == t && pr.reverted_by.contains(&revert_key))
    });
    if let (Some(target), Some(merged), false) = (&target, revert.merged_at, already_linked) {
        edits.push(LinkEdit::put(
            target,
            link,
            merged,
            FactBody::RevertedBy { pr: revert_key },
        ));
    }
    Retarget { edits, target }
}

/// The repositories whose deployments an incident may blame: its service's configured repos;
/// for a service no config names, the incident's own repository (a GitHub issue's), or the
/// service itself when it is spelled `owner/name`.
pub fn blame_repos(incident: &Incident, config: &OrgConfig) -> Vec<String> {
    match config.repos_of_service(&incident.service) {
        Some(repos) => repos.to_vec(),
        None => incident
            .repo
            .clone()
            .or_else(|| {
                incident
                    .service
                    .contains('/')
                    .then(|| incident.service.clone())
            })
            .into_iter()
            .collect(),
    }
}

/// The services whose incidents a production deployment of `repo` may be blamed by: the
/// services listing the repo, and the repo as its own service.
pub fn blaming_services(repo: &str, config: &OrgConfig) -> Vec<String> {
    let mut services: Vec<String> = config
        .services_of_repo(repo)
        .into_iter()
        .map(str::to_string)
        .collect();
    services.push(repo.to_string());
    services
}

/// When incidents that blame a deployment finishing at `finished` can open: up to the blame
/// window after it.
pub fn blaming_incidents_window(
    finished: DateTime<Utc>,
    config: &OrgConfig,
) -> RangeInclusive<DateTime<Utc>> {
    finished..=after(finished, config.blame_window().unwrap_or(UNLIMITED_BLAME))
}

/// An incident blames one deployment (`links::blamed_deployment`) among `deployments`, the
/// latest production attempts of its [`blame_repos`] before it opened. `incident` is `None`
/// when the entity is no incident (any more); `old` the deployment it blamed before.
pub fn blame(
    incident_key: &EntityKey,
    incident: Option<&Incident>,
    deployments: &[Deployment],
    repos: &[String],
    window: Option<Duration>,
    old: Option<&EntityKey>,
) -> Retarget {
    let link = link_id::blamed_by(incident_key);
    let desired = incident.and_then(|incident| {
        blamed_deployment(incident, deployments, repos, window).map(|target| (target, incident))
    });
    let target = desired.as_ref().map(|(t, _)| t.clone());
    let mut edits = retract_moved(old, target.as_ref(), &link);
    if let Some((target, incident)) = desired {
        let blame_shown = deployments.iter().any(|d| {
            d.key() == target
                && d.blamed_by.iter().any(|b| {
                    &b.incident == incident_key
                        && b.opened_at == incident.opened_at
                        && b.resolved_at == incident.resolved_at
                })
        });
        if !blame_shown {
            edits.push(LinkEdit::put(
                &target,
                link,
                incident.opened_at,
                FactBody::BlamedBy {
                    incident: incident_key.clone(),
                    opened_at: incident.opened_at,
                    resolved_at: incident.resolved_at,
                },
            ));
        }
    }
    Retarget { edits, target }
}

/// A GitHub production Deployment made by an Actions job supersedes that job's workflow run
/// (`Deployment::supersedes`): a link on the run's `wr:` entity makes the pair count once,
/// whichever was delivered first. Written when the deployment first finishes (or starts to
/// supersede): a Deployment's run and environment never change, so it is never removed.
/// `old` is the deployment's previous projection.
pub fn superseded(deployment: &Deployment, old: Option<&Deployment>) -> Option<LinkEdit> {
    if !deployment.is_production_attempt() {
        return None;
    }
    let target = deployment.supersedes()?;
    let unchanged =
        old.is_some_and(|o| o.is_production_attempt() && o.supersedes().as_ref() == Some(&target));
    (!unchanged).then(|| {
        LinkEdit::put(
            &target,
            link_id::superseded_by(&deployment.key()),
            deployment.finished_at.unwrap_or(DateTime::<Utc>::MIN_UTC),
            FactBody::SupersededBy {
                deployment: deployment.key(),
            },
        )
    })
}

/// The head branch whose other PRs a merged PR must tell where its commits end, when it just
/// merged (or its head changed): `None` when there is nothing new to tell.
pub fn branch_to_tell(pr: &PullRequest, old: Option<&PullRequest>) -> Option<EntityKey> {
    pr.merged_at?;
    pr.head_sha.as_ref()?;
    let unchanged = old.is_some_and(|o| o.merged_at == pr.merged_at && o.head_sha == pr.head_sha);
    if unchanged {
        return None;
    }
    pr.head_branch()
}

/// A merged PR tells the other PRs of its head branch (`others`, as recorded under the branch)
/// where its commits end: an `earlier_pr_head` link on each, so a later PR from a reused branch
/// stops walking back there, whichever of the two was derived first.
pub fn earlier_pr_heads(pr: &PullRequest, others: &[EntityKey]) -> Vec<LinkEdit> {
    let (Some(merged_at), Some(head_sha)) = (pr.merged_at, pr.head_sha.as_ref()) else {
        return Vec::new();
    };
    let key = pr.key();
    others
        .iter()
        .filter(|other| **other != key)
        .map(|other| {
            LinkEdit::put(
                other,
                link_id::earlier_pr_head(&key),
                merged_at,
                FactBody::EarlierPrHead {
                    pr: key.clone(),
                    head_sha: head_sha.clone(),
                    merged_at,
                },
            )
        })
        .collect()
}

/// The tickets a PR names learn of it (a `named_by_pr` link on each, with when it merged and
/// shipped), and those its old state named but the new one does not forget it. `old` is the
/// PR's previous projection (`None` when there was none, or to write every link again); a link
/// whose content is unchanged is not written.
pub fn ticket_links(new: Option<&PullRequest>, old: Option<&PullRequest>) -> Vec<LinkEdit> {
    let body = |pr: &PullRequest| FactBody::NamedByPr {
        pr: pr.key(),
        merged_at: pr.merged_at,
        shipped_at: pr.shipped_by.as_ref().map(|s| s.finished_at),
    };
    let ticket = |id: &String| EntityKey::Ticket { id: id.clone() };
    let names = |pr: Option<&PullRequest>, id: &String| pr.is_some_and(|p| p.tickets.contains(id));
    let mut edits = Vec::new();
    if let Some(pr) = new {
        let unchanged = old.is_some_and(|o| body(o) == body(pr));
        for id in pr
            .tickets
            .iter()
            .filter(|id| !(unchanged && names(old, id)))
        {
            edits.push(LinkEdit::put(
                &ticket(id),
                link_id::named_by_pr(&pr.key()),
                pr.merged_at.unwrap_or(pr.created_at),
                body(pr),
            ));
        }
    }
    if let Some(old) = old {
        for id in old.tickets.iter().filter(|id| !names(new, id)) {
            edits.push(LinkEdit::remove(
                &ticket(id),
                link_id::named_by_pr(&old.key()),
            ));
        }
    }
    edits
}

/// What a repo's re-link reads: its production deployments finishing at or after `from`
/// (`later`, non-empty) and the [`PREDECESSORS`] before (`earlier`); then the default branch's
/// pushes and the merged PRs over [`repo_history_window`].
pub fn repo_history_window(deployments: &[Deployment]) -> Option<RangeInclusive<DateTime<Utc>>> {
    let finishes = || deployments.iter().filter_map(|d| d.finished_at);
    let (first, last) = (finishes().min()?, finishes().max()?);
    Some(before(first, HISTORY_WINDOW)..=after(last, LINK_SLACK))
}

/// Re-derives a repo's deployment links from `from` on: which PRs each successful production
/// deployment ships (the `ships` list on it and a `shipped_by` on each PR), which deployments
/// were rolled back, and each failed deployment's next success. `deployments` are the repo's
/// production attempts as [`repo_history_window`] describes, `history` the default branch's
/// commits in order (`links::branch_history`), `merged` its merged PRs over the window. Links
/// the projections already show are not written again (a conditional put that finds the same
/// content is still billed, for every deployment a re-link walks over).
pub fn repo_links(
    deployments: &[Deployment],
    history: &[String],
    merged: &[PullRequest],
    from: DateTime<Utc>,
) -> Vec<LinkEdit> {
    let mut edits = shipments(deployments, history, merged, from);
    // Rollbacks before recovery links: a rolled-back deployment failed, so it needs one.
    let rolled_back = links::rollbacks(deployments, history);
    let mut deployments = deployments.to_vec();
    for deployment in deployments.iter_mut() {
        let key = deployment.key();
        let desired = rolled_back.get(&key);
        if desired == deployment.rolled_back_by.as_ref() {
            continue;
        }
        match (desired, deployment.finished_at) {
            (Some(by), Some(finished)) => edits.push(LinkEdit::put(
                &key,
                link_id::ROLLED_BACK_BY.into(),
                finished,
                FactBody::RolledBackBy {
                    deployment: by.clone(),
                },
            )),
            (Some(_), None) => continue,
            (None, _) => edits.push(LinkEdit::remove(&key, link_id::ROLLED_BACK_BY)),
        }
        deployment.rolled_back_by = desired.cloned();
    }
    edits.extend(next_successes(&deployments));
    edits
}

/// The `ships` and `shipped_by` edits of [`repo_links`].
fn shipments(
    deployments: &[Deployment],
    history: &[String],
    merged: &[PullRequest],
    from: DateTime<Utc>,
) -> Vec<LinkEdit> {
    let merged_by_key: BTreeMap<EntityKey, &PullRequest> =
        merged.iter().map(|pr| (pr.key(), pr)).collect();
    let shipped = links::shipped_by_deployment(deployments, history, merged, from);
    let mut edits = Vec::new();
    for deployment in deployments {
        let key = deployment.key();
        let Some(desired) = shipped.get(&key) else {
            continue;
        };
        let desired: BTreeSet<&EntityKey> = desired.iter().collect();
        let (Some(finished), Some(sha)) = (deployment.finished_at, deployment.sha.as_ref()) else {
            continue;
        };
        let shipped_by = link_id::shipped_by(&key);
        for current in deployment.ships.iter().filter(|s| !desired.contains(&s.pr)) {
            edits.push(LinkEdit::remove(&current.pr, &shipped_by));
        }
        let ships: Vec<ShippedPr> = desired
            .iter()
            .map(|pr| ShippedPr {
                pr: (*pr).clone(),
                rework: merged_by_key.get(*pr).is_some_and(|p| p.is_rework),
            })
            .collect();
        if ships != deployment.ships {
            edits.push(if ships.is_empty() {
                LinkEdit::remove(&key, link_id::SHIPS)
            } else {
                LinkEdit::put(
                    &key,
                    link_id::SHIPS.into(),
                    finished,
                    FactBody::ShipsPrs { prs: ships },
                )
            });
        }
        for pr in desired {
            let shown = merged_by_key
                .get(pr)
                .and_then(|p| p.shipped_by.as_ref())
                .is_some_and(|s| s.deployment == key && &s.sha == sha && s.finished_at == finished);
            if !shown {
                edits.push(LinkEdit::put(
                    pr,
                    shipped_by.clone(),
                    finished,
                    FactBody::ShippedBy {
                        deployment: key.clone(),
                        sha: sha.clone(),
                        finished_at: finished,
                    },
                ));
            }
        }
    }
    edits
}

/// The `followed_by` edits of [`repo_links`]: each deployment that needs one names the next
/// success; one that no longer does loses it.
fn next_successes(deployments: &[Deployment]) -> Vec<LinkEdit> {
    let mut edits = Vec::new();
    for deployment in deployments {
        let key = deployment.key();
        let next =
            next_success(deployment, deployments).filter(|_| deployment.needs_next_success());
        match (next, deployment.next_success_at) {
            (Some(next), current) => {
                let Some(finished) = next.finished_at else {
                    continue;
                };
                if current != Some(finished) {
                    edits.push(LinkEdit::put(
                        &key,
                        link_id::FOLLOWED_BY.into(),
                        finished,
                        FactBody::FollowedBy {
                            deployment: next.key(),
                            finished_at: finished,
                        },
                    ));
                }
            }
            (None, Some(_)) => edits.push(LinkEdit::remove(&key, link_id::FOLLOWED_BY)),
            (None, None) => {}
        }
    }
    edits
}

#[cfg(test)]
#[path = "link_edits_tests.rs"]
mod tests;
