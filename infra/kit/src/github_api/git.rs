//! The commit graph the pushes describe.
//!
//! Every commit of every `push` is a commit: authored at its `timestamp`, committed at the
//! push's time (`repository.pushed_at`; the webhooks carry no separate commit time). Inside a
//! push each commit's first parent is the one before it; the first commit's is the push's
//! `before`, or, when the push creates the branch (`before` all zeros), the default branch's
//! head at that moment. A default-branch commit that merged a pull request (its
//! `merge_commit_sha`) has that pull request's head as its second parent. A commit keeps what
//! its first push said of it; later pushes only add the branch they pushed it to.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::shapes::{derived_sha, iso, parse_time, str_of, Users, API, WEB};

/// GitHub caps a pull request's commit list at this many.
pub(crate) const PR_COMMITS_CAP: usize = 250;

/// True for "no commit" (a push's `before` when it creates the branch, `after` when it
/// deletes it).
pub(crate) fn is_zero(sha: &str) -> bool {
    sha.chars().all(|c| c == '0')
}

/// The name and email a commit records for its author or committer, and the GitHub account
/// (`username`) the push matched them to.
#[derive(Clone, Debug, Default)]
struct Person {
    name: String,
    email: String,
    login: Option<String>,
}

impl Person {
    fn from_push(value: &Value) -> Option<Person> {
        let login = value
            .get("username")
            .and_then(Value::as_str)
            .map(str::to_string);
        let name = value
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| login.clone())?;
        let email = value
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{name}@users.noreply.github.com"));
        Some(Person { name, email, login })
    }
}

/// One commit as a push carried it.
#[derive(Clone, Debug)]
struct Pushed {
    sha: String,
    message: String,
    tree: String,
    authored: Option<DateTime<Utc>>,
    author: Person,
    committer: Person,
}

/// One `push` delivery.
#[derive(Clone, Debug)]
pub(crate) struct Push {
    /// Its place in delivery order (breaks ties between pushes at the same second).
    seq: u64,
    at: DateTime<Utc>,
    branch: String,
    before: String,
    after: String,
    deleted: bool,
    commits: Vec<Pushed>,
}

impl Push {
    /// The push a delivery's body describes; `None` when it is not a branch push or carries no
    /// time at all.
    pub(crate) fn from_body(seq: u64, body: &Value) -> Option<Push> {
        let branch = str_of(body, "ref").strip_prefix("refs/heads/")?.to_string();
        let commits: Vec<Pushed> = body
            .get("commits")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(pushed_commit).collect())
            .unwrap_or_default();
        let at = parse_time(&body["repository"]["pushed_at"])
            .or_else(|| parse_time(&body["head_commit"]["timestamp"]))
            .or_else(|| commits.iter().filter_map(|c| c.authored).max())?;
        let after = str_of(body, "after").to_string();
        Some(Push {
            seq,
            at,
            branch,
            before: str_of(body, "before").to_string(),
            deleted: body
                .get("deleted")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                || (is_zero(&after) && commits.is_empty()),
            after,
            commits,
        })
    }

    pub(crate) fn at(&self) -> DateTime<Utc> {
        self.at
    }
}

fn pushed_commit(value: &Value) -> Option<Pushed> {
    let sha = str_of(value, "id").to_string();
    if sha.is_empty() {
        return None;
    }
    let author = Person::from_push(&value["author"]).unwrap_or_default();
    let committer = Person::from_push(&value["committer"]).unwrap_or_else(|| author.clone());
    let tree = value
        .get("tree_id")
        .and_then(Value::as_str)
        .map_or_else(|| derived_sha(&format!("tree {sha}")), str::to_string);
    Some(Pushed {
        message: str_of(value, "message").to_string(),
        tree,
        authored: parse_time(&value["timestamp"]),
        author,
        committer,
        sha,
    })
}

/// A commit of the graph.
#[derive(Clone, Debug)]
pub(crate) struct Commit {
    pub(crate) sha: String,
    pub(crate) parents: Vec<String>,
    pub(crate) committed: DateTime<Utc>,
    /// The branches pushes carried it to.
    branches: BTreeSet<String>,
    pushed: Pushed,
    /// GitHub's "commit" object (built once the graph is complete).
    pub(crate) json: Value,
}

/// A repository's commits and branch heads.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    commits: HashMap<String, Commit>,
    heads: BTreeMap<String, String>,
}

impl Graph {
    /// The graph of `pushes` (any order; they are replayed by time, then delivery order).
    /// `merges` are `(merge_commit_sha, head sha)` of merged pull requests.
    pub(crate) fn build(
        mut pushes: Vec<Push>,
        default_branch: &str,
        merges: &[(String, String)],
    ) -> Graph {
        pushes.sort_by_key(|p| (p.at, p.seq));
        let mut graph = Graph::default();
        let mut default_head: Option<String> = None;
        for push in pushes {
            let mut parent = if is_zero(&push.before) {
                default_head.clone()
            } else {
                Some(push.before.clone())
            };
            for pushed in &push.commits {
                let commit = graph
                    .commits
                    .entry(pushed.sha.clone())
                    .or_insert_with(|| Commit {
                        sha: pushed.sha.clone(),
                        parents: parent.iter().cloned().collect(),
                        committed: push.at,
                        branches: BTreeSet::new(),
                        pushed: pushed.clone(),
                        json: Value::Null,
                    });
                commit.branches.insert(push.branch.clone());
                parent = Some(pushed.sha.clone());
            }
            if push.deleted {
                graph.heads.remove(&push.branch);
            } else if !push.after.is_empty() && !is_zero(&push.after) {
                graph.heads.insert(push.branch.clone(), push.after.clone());
            }
            if push.branch == default_branch {
                default_head = graph.heads.get(default_branch).cloned();
            }
        }
        for (merge, head) in merges {
            if let Some(commit) = graph.commits.get_mut(merge) {
                let on_default = commit.branches.contains(default_branch);
                if on_default && !head.is_empty() && !commit.parents.contains(head) {
                    commit.parents.push(head.clone());
                }
            }
        }
        graph
    }

    /// Builds every commit's REST object.
    pub(crate) fn finish(&mut self, full_name: &str, users: &Users) {
        for commit in self.commits.values_mut() {
            commit.json = commit_json(full_name, commit, users);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.commits.len()
    }

    pub(crate) fn get(&self, sha: &str) -> Option<&Commit> {
        self.commits.get(sha)
    }

    /// A branch's head.
    pub(crate) fn head(&self, branch: &str) -> Option<&str> {
        self.heads.get(branch).map(String::as_str)
    }

    /// What `sha` (a branch name or a commit's sha) points at.
    pub(crate) fn resolve(&self, rev: &str) -> Option<&str> {
        self.head(rev)
            .or_else(|| self.commits.get(rev).map(|c| c.sha.as_str()))
    }

    /// The commits reachable from `from` through all parents, newest first by commit time,
    /// a commit always before its parents (git's default order).
    pub(crate) fn log(&self, from: &str) -> Vec<&Commit> {
        let mut out = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue = BinaryHeap::new();
        let mut seq = 0u64;
        if let Some(c) = self.commits.get(from) {
            seen.insert(&c.sha);
            queue.push((c.committed, Reverse(seq), &c.sha));
        }
        while let Some((_, _, sha)) = queue.pop() {
            let Some(commit) = self.commits.get(sha.as_str()) else {
                continue;
            };
            out.push(commit);
            for parent in &commit.parents {
                if let Some(p) = self.commits.get(parent) {
                    if seen.insert(&p.sha) {
                        seq += 1;
                        queue.push((p.committed, Reverse(seq), &p.sha));
                    }
                }
            }
        }
        out
    }

    /// A pull request's commits: back from its head through first parents while the commit
    /// was pushed to its head branch; oldest first, at most [`PR_COMMITS_CAP`].
    pub(crate) fn branch_commits(&self, head: &str, branch: &str) -> Vec<&Commit> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut at = self.commits.get(head);
        while let Some(commit) = at {
            if !commit.branches.contains(branch) || !seen.insert(&commit.sha) {
                break;
            }
            out.push(commit);
            at = commit.parents.first().and_then(|p| self.commits.get(p));
        }
        out.reverse();
        out.truncate(PR_COMMITS_CAP);
        out
    }
}

/// GitHub's "commit" object.
fn commit_json(full_name: &str, commit: &Commit, users: &Users) -> Value {
    let sha = &commit.sha;
    let pushed = &commit.pushed;
    let api = format!("{API}/repos/{full_name}");
    let parents: Vec<Value> = commit
        .parents
        .iter()
        .map(|p| {
            json!({"sha": p, "url": format!("{api}/commits/{p}"),
                   "html_url": format!("{WEB}/{full_name}/commit/{p}")})
        })
        .collect();
    let account = |p: &Person| {
        p.login
            .as_deref()
            .map_or(Value::Null, |l| users.by_login(l))
    };
    let authored = pushed.authored.unwrap_or(commit.committed);
    json!({
        "url": format!("{api}/commits/{sha}"),
        "sha": sha,
        "node_id": format!("C_kwDO{}", &sha[..sha.len().min(24)]),
        "html_url": format!("{WEB}/{full_name}/commit/{sha}"),
        "comments_url": format!("{api}/commits/{sha}/comments"),
        "commit": {
            "url": format!("{api}/git/commits/{sha}"),
            "author": {"name": pushed.author.name, "email": pushed.author.email,
                       "date": iso(authored)},
            "committer": {"name": pushed.committer.name, "email": pushed.committer.email,
                          "date": iso(commit.committed)},
            "message": pushed.message,
            "tree": {"url": format!("{api}/git/trees/{}", pushed.tree), "sha": pushed.tree},
            "comment_count": 0,
            "verification": {"verified": false, "reason": "unsigned", "signature": null,
                             "payload": null, "verified_at": null}
        },
        "author": account(&pushed.author),
        "committer": account(&pushed.committer),
        "parents": parents,
    })
}
