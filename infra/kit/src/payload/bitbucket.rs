//! Bitbucket Cloud webhook bodies (`repo:push`, `pullrequest:*`), with the fields Atlassian's
//! event payload documentation shows, for a repository `bitbucket.org/<workspace>/<slug>`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// `2026-03-02T09:15:00.000000+00:00`: how Bitbucket Cloud writes times.
pub fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// A Bitbucket Cloud account; `app_user` accounts are apps (bots).
pub fn account(nickname: &str) -> Value {
    let kind = if nickname.ends_with("-bot") {
        "app_user"
    } else {
        "user"
    };
    json!({"type": kind, "display_name": nickname, "nickname": nickname,
           "account_id": format!("5b{:022}", nickname.len()),
           "uuid": format!("{{{:08}-0000-4000-8000-000000000000}}", nickname.len()),
           "links": {"html": {"href": format!("https://bitbucket.org/{nickname}/")}}})
}

/// The repository `workspace/slug`.
pub fn repository(full_name: &str) -> Value {
    let (workspace, name) = full_name.split_once('/').unwrap_or(("", full_name));
    json!({"type": "repository", "full_name": full_name, "name": name,
           "uuid": "{00000000-0000-4000-8000-0000000000aa}", "is_private": true, "scm": "git",
           "workspace": {"type": "workspace", "slug": workspace, "name": workspace},
           "links": {"html": {"href": format!("https://bitbucket.org/{full_name}")}}})
}

/// One commit of a push change, as Bitbucket lists them (newest first).
pub fn commit(hash: &str, authored: DateTime<Utc>, author: &str, message: &str) -> Value {
    json!({"type": "commit", "hash": hash, "date": ts(authored), "message": message,
           "author": {"type": "author", "raw": format!("{author} <{author}@example.com>"),
                      "user": account(author)}})
}

/// A `repo:push` of `commits` (oldest first, given; sent newest first) onto `branch` after
/// `before` (`None`: the push creates the branch). Bitbucket lists at most 5 commits of a
/// change and says `truncated` when there were more.
pub fn push(
    full_name: &str,
    branch: &str,
    before: Option<&str>,
    commits: &[Value],
    pusher: &str,
) -> Value {
    let newest_first: Vec<Value> = commits.iter().rev().cloned().collect();
    let truncated = newest_first.len() > 5;
    let listed: Vec<Value> = newest_first.iter().take(5).cloned().collect();
    let head = newest_first.first().cloned().unwrap_or(Value::Null);
    let old = before.map(|hash| {
        json!({"type": "branch", "name": branch,
                                       "target": {"type": "commit", "hash": hash}})
    });
    json!({"actor": account(pusher), "repository": repository(full_name),
           "push": {"changes": [{"new": {"type": "branch", "name": branch, "target": head},
                                 "old": old, "created": before.is_none(), "forced": false,
                                 "closed": false, "truncated": truncated, "commits": listed}]}})
}

/// A pull request as it stands.
#[derive(Clone, Debug)]
pub struct PullRequest<'a> {
    pub full_name: &'a str,
    pub id: u64,
    pub title: &'a str,
    pub description: &'a str,
    pub author: &'a str,
    pub created: DateTime<Utc>,
    pub draft: bool,
    /// `(source branch, source commit)`.
    pub source: (&'a str, &'a str),
    /// When it was merged (with the merge commit) or declined (`None`).
    pub closed: Option<(DateTime<Utc>, Option<&'a str>)>,
}

impl PullRequest<'_> {
    fn state(&self) -> &'static str {
        match self.closed {
            None => "OPEN",
            Some((_, Some(_))) => "MERGED",
            Some((_, None)) => "DECLINED",
        }
    }

    /// The `pullrequest` object at `updated`.
    pub fn json(&self, updated: DateTime<Utc>) -> Value {
        let (branch, head) = self.source;
        let merge_commit = self
            .closed
            .and_then(|(_, sha)| sha)
            .map(|hash| json!({"type": "commit", "hash": hash}));
        let html = format!(
            "https://bitbucket.org/{}/pull-requests/{}",
            self.full_name, self.id
        );
        json!({"type": "pullrequest", "id": self.id, "title": self.title,
               "description": self.description, "state": self.state(), "draft": self.draft,
               "author": account(self.author), "created_on": ts(self.created),
               "updated_on": ts(updated), "close_source_branch": true,
               "closed_by": self.closed.map(|_| account(self.author)),
               "merge_commit": merge_commit, "comment_count": 0, "task_count": 0,
               "reason": "", "participants": [], "reviewers": [],
               "source": {"branch": {"name": branch}, "commit": {"type": "commit", "hash": head},
                          "repository": repository(self.full_name)},
               "destination": {"branch": {"name": "main"},
                               "commit": {"type": "commit", "hash": "0000000000aa"},
                               "repository": repository(self.full_name)},
               "links": {"html": {"href": html}}})
    }

    /// A `pullrequest:created|updated|fulfilled|rejected` body, sent by `actor` at `at`.
    pub fn event(&self, actor: &str, at: DateTime<Utc>) -> Value {
        json!({"actor": account(actor), "pullrequest": self.json(at),
               "repository": repository(self.full_name)})
    }

    /// A `pullrequest:approved` (`key` `approval`) or `pullrequest:changes_request_created`
    /// (`key` `changes_request`) body: `reviewer`'s verdict at `at`.
    pub fn verdict(&self, key: &str, reviewer: &str, at: DateTime<Utc>) -> Value {
        let mut body = self.event(reviewer, at);
        body[key] = json!({"date": ts(at), "user": account(reviewer),
                           "pullrequest": {"type": "pullrequest", "id": self.id, "title": self.title}});
        body
    }

    /// A `pullrequest:comment_created` body: `author`'s comment `id` at `at`; `inline` puts it
    /// on a line of the diff.
    pub fn comment(
        &self,
        id: u64,
        author: &str,
        at: DateTime<Utc>,
        text: &str,
        inline: bool,
    ) -> Value {
        let mut body = self.event(author, at);
        let html = format!(
            "https://bitbucket.org/{}/pull-requests/{}#comment-{id}",
            self.full_name, self.id
        );
        let mut comment = json!({"type": "pullrequest_comment", "id": id,
                                 "created_on": ts(at), "updated_on": ts(at),
                                 "content": {"type": "rendered", "raw": text, "markup": "markdown", "html": ""},
                                 "user": account(author), "deleted": false,
                                 "links": {"html": {"href": html}}});
        if inline {
            comment["inline"] = json!({"from": null, "to": 12, "path": "README.md"});
        }
        body["comment"] = comment;
        body
    }
}
