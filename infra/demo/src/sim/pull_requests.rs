//! Emitting a planned pull request: its pushes, its `pull_request` deliveries (opened,
//! synchronized, ready for review, closed), its reviews and comments, and its ground truth;
//! its merge is queued for `deployments`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::gitlab::MrState;
use super::{Event, Interaction, PrPlan, Push, Review, World};
use crate::payloads::{
    is_bot, label, org_event, organization, pr_url, push_repository, stable_id, ts, ts_local, user,
};
use crate::spec::{full_name, host_of, Host, ORG};
use crate::truth::PrTruth;

impl World {
    fn pr_json(
        &self,
        p: &PrPlan,
        at: DateTime<Utc>,
        draft: bool,
        head: &str,
        merged: bool,
        closed: bool,
    ) -> Value {
        let full = full_name(p.repo);
        let closed_at = if closed { Some(ts(at)) } else { None };
        json!({
            "url": format!("https://api.github.com/repos/{full}/pulls/{}", p.number),
            "id": stable_id(&format!("{full}#{}", p.number), 1_800_000_000),
            "html_url": pr_url(p.repo, p.number),
            "number": p.number,
            "state": if closed { "closed" } else { "open" },
            "locked": false,
            "title": p.title,
            "user": user(&p.author),
            "body": p.body,
            "labels": p.labels.iter().map(|l| label(l)).collect::<Vec<_>>(),
            "created_at": ts(p.created),
            "updated_at": ts(at),
            "closed_at": closed_at,
            "merged_at": if merged { Some(ts(at)) } else { None },
            "merge_commit_sha": if merged { Some(p.merge_sha.clone()) } else { None },
            "draft": draft,
            "head": {"label": format!("{ORG}:{}", p.branch), "ref": p.branch, "sha": head},
            "base": {"label": format!("{ORG}:main"), "ref": "main", "sha": ""},
            "author_association": if is_bot(&p.author) { "NONE" } else { "MEMBER" },
            "merged": merged,
            "merged_by": if merged { Some(user(&p.merger)) } else { None },
            "commits": p.pushes.iter().map(|x| x.commits.len()).sum::<usize>(),
            "additions": p.additions,
            "deletions": p.deletions,
            "changed_files": 1 + (p.additions + p.deletions) / 40,
        })
    }

    pub(super) fn push_json(
        &self,
        repo: &str,
        branch: &str,
        push: &Push,
        after: &str,
        pusher: &str,
        created: bool,
    ) -> Value {
        let full = full_name(repo);
        let commits: Vec<Value> = push
            .commits
            .iter()
            .map(|c| {
                let author = json!({"name": pusher, "email": format!("{pusher}@users.noreply.github.com"), "username": pusher});
                json!({"id": c.sha, "tree_id": c.sha.chars().rev().collect::<String>(), "distinct": true,
                       "message": c.message, "timestamp": ts_local(c.authored),
                       "url": format!("https://github.com/{full}/commit/{}", c.sha),
                       "author": author, "committer": author,
                       "added": [], "removed": [], "modified": ["src/lib.rs"]})
            })
            .collect();
        json!({
            "ref": format!("refs/heads/{branch}"),
            "before": push.before,
            "after": after,
            "repository": push_repository(repo, push.at),
            "pusher": {"name": pusher, "email": format!("{pusher}@users.noreply.github.com")},
            "organization": organization(),
            "sender": user(pusher),
            "created": created,
            "deleted": false,
            "forced": false,
            "base_ref": null,
            "compare": format!("https://github.com/{full}/compare/{}...{}", &push.before[..12.min(push.before.len())], &after[..12.min(after.len())]),
            "head_commit": commits.last(),
            "commits": commits,
        })
    }

    /// Emits a PR's deliveries (up to the end of the history), records its truth, and queues its
    /// merge.
    pub(super) fn emit_pr(&mut self, p: PrPlan) {
        if p.created >= self.end {
            return;
        }
        self.entity = format!("pr:{}", p.number);
        let head = self.emit_pushes(&p);
        self.emit_opening(&p, &head);
        let final_head = p
            .pushes
            .last()
            .and_then(|x| x.commits.last())
            .map(|c| c.sha.clone())
            .unwrap_or_default();
        let (interactions, changes_requested) = self.emit_interactions(&p, &final_head);
        let merged = self.emit_close(&p, &final_head);
        self.record_pr(&p, interactions, changes_requested, merged);
        if let Some(m) = merged {
            self.schedule(m, Event::Merge(Box::new(p)));
        }
    }

    /// The branch's pushes (each after the first synchronizes the PR); returns the head the
    /// PR was opened with.
    fn emit_pushes(&mut self, p: &PrPlan) -> String {
        let end = self.end;
        let pusher = p.author.clone();
        let mut head = String::new();
        for (i, push) in p.pushes.iter().enumerate() {
            let after = push
                .commits
                .last()
                .map(|c| c.sha.clone())
                .unwrap_or_default();
            let body = self.push_json(p.repo, &p.branch, push, &after, &pusher, i == 0);
            self.github(push.at, "push", body);
            if host_of(p.repo) == Host::GitLab {
                self.gitlab_push(p.repo, &p.branch, push, &pusher);
                if i > 0 && push.at < end {
                    self.gitlab_synchronize(p, push, &after);
                }
            }
            if i > 0 && push.at < end {
                let at = push.at + Duration::seconds(3);
                let pr = self.pr_json(p, at, false, &after, false, false);
                let mut body = pr_event("synchronize", p, pr, &pusher);
                body["before"] = json!(push.before);
                body["after"] = json!(after);
                self.github(at, "pull_request", body);
            }
            if i == 0 {
                head = after;
            }
        }
        head
    }

    /// `opened` (a draft, maybe), then `ready_for_review` for a draft.
    fn emit_opening(&mut self, p: &PrPlan, head: &str) {
        if host_of(p.repo) == Host::GitLab {
            let state = |draft| MrState {
                head,
                draft,
                closed: None,
            };
            let opening = ("open", p.author.as_str(), p.created);
            self.gitlab_mr(p, state(p.draft), opening, json!({}));
            if let Some(ready) = p.ready {
                let changes = json!({"draft": {"previous": true, "current": false}});
                self.gitlab_mr(
                    p,
                    state(false),
                    ("update", p.author.as_str(), ready),
                    changes,
                );
            }
        }
        let opened = self.pr_json(p, p.created, p.draft, head, false, false);
        self.github(
            p.created,
            "pull_request",
            pr_event("opened", p, opened, &p.author),
        );
        if let Some(ready) = p.ready {
            let pr = self.pr_json(p, ready, false, head, false, false);
            let body = pr_event("ready_for_review", p, pr, &p.author);
            self.github(ready, "pull_request", body);
        }
    }

    /// Reviews, inline review comments and conversation comments, before the end of the
    /// history; returns who interacted when, and whether changes were requested.
    fn emit_interactions(
        &mut self,
        p: &PrPlan,
        final_head: &str,
    ) -> (Vec<(String, DateTime<Utc>)>, bool) {
        let mut interactions_truth = Vec::new();
        let mut changes_requested = false;
        for (at, interaction) in &p.interactions {
            if *at >= self.end {
                continue;
            }
            let at = *at;
            if host_of(p.repo) == Host::GitLab {
                self.gitlab_interaction(p, final_head, at, interaction);
            }
            let (event, login, body) = match interaction {
                Interaction::Review { login, state, body } => {
                    changes_requested |= *state == Review::ChangesRequested;
                    let id = self.github_id();
                    let review = review_json(p, final_head, at, id, (login, *state, body));
                    let body = json!({"action": "submitted", "review": review,
                                      "pull_request": small_pr_json(p, final_head, at)});
                    ("pull_request_review", login, body)
                }
                Interaction::ReviewComment { login, body } => {
                    let id = self.github_id();
                    let line = self.rng.range(5, 400);
                    let comment = json!({"id": id, "user": user(login), "body": body, "path": "src/lib.rs",
                                         "line": line, "side": "RIGHT", "commit_id": final_head,
                                         "created_at": ts(at), "updated_at": ts(at),
                                         "html_url": format!("{}#discussion_r{id}", pr_url(p.repo, p.number)),
                                         "author_association": "MEMBER"});
                    let body = json!({"action": "created", "comment": comment,
                                      "pull_request": small_pr_json(p, final_head, at)});
                    ("pull_request_review_comment", login, body)
                }
                Interaction::IssueComment { login, body } => {
                    let id = self.github_id();
                    let body = json!({"action": "created", "issue": issue_json(p, at),
                                      "comment": issue_comment_json(p, at, id, login, body)});
                    ("issue_comment", login, body)
                }
            };
            self.github(at, event, org_event(p.repo, login, body));
            interactions_truth.push((login.clone(), at));
        }
        (interactions_truth, changes_requested)
    }

    /// The merge (by the merger) or the close unmerged (by the author), before the end of the
    /// history; returns when it was merged.
    fn emit_close(&mut self, p: &PrPlan, final_head: &str) -> Option<DateTime<Utc>> {
        let merged = p.merged.filter(|m| *m + Duration::seconds(10) < self.end);
        if host_of(p.repo) == Host::GitLab {
            let closing = |at, sha| MrState {
                head: final_head,
                draft: false,
                closed: Some((at, sha)),
            };
            if let Some(m) = merged {
                let state = closing(m, Some(p.merge_sha.as_str()));
                self.gitlab_mr(p, state, ("merge", p.merger.as_str(), m), json!({}));
            } else if let Some(c) = p.closed_unmerged {
                self.gitlab_mr(
                    p,
                    closing(c, None),
                    ("close", p.author.as_str(), c),
                    json!({}),
                );
            }
        }
        if let Some(m) = merged {
            let pr = self.pr_json(p, m, false, final_head, true, true);
            self.github(m, "pull_request", pr_event("closed", p, pr, &p.merger));
        } else if let Some(c) = p.closed_unmerged {
            let pr = self.pr_json(p, c, false, final_head, false, true);
            self.github(c, "pull_request", pr_event("closed", p, pr, &p.author));
        }
        merged
    }

    /// What happened to the PR, as the ground truth records it.
    fn record_pr(
        &mut self,
        p: &PrPlan,
        interactions: Vec<(String, DateTime<Utc>)>,
        changes_requested: bool,
        merged: Option<DateTime<Utc>>,
    ) {
        let end = self.end;
        self.truth.prs.push(PrTruth {
            repo: full_name(p.repo),
            number: p.number,
            author: p.author.clone(),
            is_bot: is_bot(&p.author) || p.author == "codecov-commenter",
            title: p.title.clone(),
            created_at: p.created,
            reviewable_at: p
                .ready
                .filter(|r| *r < end)
                .map_or(p.created, |r| r.max(p.created)),
            head_pushes: p
                .pushes
                .iter()
                .filter(|x| x.at < end)
                .map(|x| {
                    (
                        pushed_at(p.repo, x),
                        x.commits.iter().map(|c| c.authored).collect(),
                    )
                })
                .collect(),
            interactions,
            changes_requested,
            merged_at: merged,
            merge_sha: merged.map(|_| p.merge_sha.clone()),
            reverts: p.reverts,
            hotfix: p.branch.starts_with("hotfix/"),
            ticket: p.ticket.clone(),
        });
    }
}

/// When Flowmeter sees `push` happen: GitLab's Push Hook has no push time, so the newest
/// commit's stands in for it (docs/sources/gitlab.md, "What GitLab cannot tell").
fn pushed_at(repo: &str, push: &Push) -> DateTime<Utc> {
    match host_of(repo) {
        Host::GitHub => push.at,
        Host::GitLab => push
            .commits
            .iter()
            .map(|c| c.authored)
            .max()
            .unwrap_or(push.at),
    }
}

/// A `pull_request` delivery's body: `action` on `pr` (as [`World::pr_json`] builds it), sent
/// by `sender`.
fn pr_event(action: &str, p: &PrPlan, pr: Value, sender: &str) -> Value {
    org_event(
        p.repo,
        sender,
        json!({"action": action, "number": p.number, "pull_request": pr}),
    )
}

/// The PR as review and review-comment deliveries carry it.
fn small_pr_json(p: &PrPlan, final_head: &str, at: DateTime<Utc>) -> Value {
    json!({"url": format!("https://api.github.com/repos/{}/pulls/{}", full_name(p.repo), p.number),
           "number": p.number, "title": p.title, "state": "open", "user": user(&p.author),
           "html_url": pr_url(p.repo, p.number), "created_at": ts(p.created), "updated_at": ts(at),
           "draft": false, "head": {"ref": p.branch, "sha": final_head}, "base": {"ref": "main"}})
}

/// A submitted review: `(reviewer, verdict, text)`.
fn review_json(
    p: &PrPlan,
    final_head: &str,
    at: DateTime<Utc>,
    id: u64,
    (login, state, body): (&str, Review, &str),
) -> Value {
    let state_name = match state {
        Review::Approved => "approved",
        Review::ChangesRequested => "changes_requested",
        Review::Commented => "commented",
    };
    json!({"id": id, "node_id": format!("PRR_kwDO{id}"), "user": user(login), "body": body,
           "commit_id": final_head, "submitted_at": ts(at), "state": state_name,
           "html_url": format!("{}#pullrequestreview-{id}", pr_url(p.repo, p.number)),
           "author_association": "MEMBER"})
}

/// The PR as the issue its conversation comments are on.
fn issue_json(p: &PrPlan, at: DateTime<Utc>) -> Value {
    json!({"number": p.number, "title": p.title, "user": user(&p.author), "state": "open",
           "html_url": pr_url(p.repo, p.number), "created_at": ts(p.created), "updated_at": ts(at),
           "pull_request": {"url": format!("https://api.github.com/repos/{}/pulls/{}", full_name(p.repo), p.number),
                            "html_url": pr_url(p.repo, p.number)}})
}

/// A conversation comment by `login`.
fn issue_comment_json(p: &PrPlan, at: DateTime<Utc>, id: u64, login: &str, body: &str) -> Value {
    json!({"id": id, "user": user(login), "body": body, "created_at": ts(at), "updated_at": ts(at),
           "html_url": format!("{}#issuecomment-{id}", pr_url(p.repo, p.number)),
           "author_association": if login.contains("codecov") { "NONE" } else { "MEMBER" }})
}
