//! GitHub's REST shapes: what a webhook object lacks of the object the REST API serves (URLs,
//! node ids, counts, GitHub's "unknown" values) is filled in; what it carries is kept.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};

/// Where GitHub's REST objects point (the served objects keep GitHub's URLs, as webhooks do).
pub(crate) const API: &str = "https://api.github.com";
pub(crate) const WEB: &str = "https://github.com";

/// A time as webhooks write it: an ISO 8601 string (any offset) or epoch seconds (a push's
/// `repository.pushed_at`).
pub(crate) fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => parse_time_str(s),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .and_then(|secs| DateTime::from_timestamp(secs, 0)),
        _ => None,
    }
}

/// `2026-03-02T09:15:00Z`, `2026-03-02T10:15:00+01:00`, `2026-03-02T09:15:00` (UTC) or
/// `2026-03-02` (its midnight, UTC).
pub(crate) fn parse_time_str(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc());
    }
    parse_date(s).map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
}

pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// How the REST API writes times: UTC, seconds, `Z`.
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A time field rewritten in the REST API's form (webhooks may carry offsets or epoch seconds).
pub(crate) fn iso_value(value: &Value) -> Value {
    parse_time(value).map_or_else(|| value.clone(), |t| Value::String(iso(t)))
}

/// A stable numeric id for something the webhooks gave none (FNV-1a of its description).
pub(crate) fn stable_id(text: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    100_000_000 + h % 900_000_000
}

/// A GraphQL node id in GitHub's current form (`PR_kwDO…`).
pub(crate) fn node_id(prefix: &str, id: &Value) -> String {
    match id {
        Value::Number(n) => format!("{prefix}_kwDO{n}"),
        Value::String(s) => format!("{prefix}_kwDO{s}"),
        _ => format!("{prefix}_kwDO0"),
    }
}

/// A 40-hex-digit sha derived from `text` (tree shas the webhooks did not carry).
pub(crate) fn derived_sha(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hex = hex::encode(Sha256::digest(text.as_bytes()));
    hex.truncate(40);
    hex
}

/// Adds each field of `defaults` that `object` lacks (`object` must be a JSON object; anything
/// else is replaced by one).
pub(crate) fn fill(object: &mut Value, defaults: Value) {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    if let (Value::Object(object), Value::Object(defaults)) = (object, defaults) {
        for (key, value) in defaults {
            object.entry(key).or_insert(value);
        }
    }
}

/// Removes `keys` from an object.
pub(crate) fn without(mut object: Value, keys: &[&str]) -> Value {
    if let Value::Object(map) = &mut object {
        for key in keys {
            map.remove(*key);
        }
    }
    object
}

pub(crate) fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Every account the deliveries mentioned, by login (lower case), with every field seen.
#[derive(Default)]
pub(crate) struct Users {
    by_login: HashMap<String, Value>,
}

impl Users {
    /// Records every object with a `login` anywhere in a delivery's body.
    pub(crate) fn collect(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(login) = map.get("login").and_then(Value::as_str) {
                    let known = self
                        .by_login
                        .entry(login.to_ascii_lowercase())
                        .or_insert_with(|| json!({}));
                    for (key, field) in map {
                        if !field.is_object() && !field.is_array() {
                            known[key.as_str()] = field.clone();
                        }
                    }
                }
                map.values().for_each(|v| self.collect(v));
            }
            Value::Array(items) => items.iter().for_each(|v| self.collect(v)),
            _ => {}
        }
    }

    /// The "simple-user" object of `login`.
    pub(crate) fn by_login(&self, login: &str) -> Value {
        self.complete(&json!({ "login": login }))
    }

    /// A webhook's user object (or `null`) as the REST API serves it: "simple-user".
    pub(crate) fn complete(&self, user: &Value) -> Value {
        let Some(login) = user.get("login").and_then(Value::as_str) else {
            return Value::Null;
        };
        let mut out = user.clone();
        if let Some(known) = self.by_login.get(&login.to_ascii_lowercase()) {
            fill(&mut out, known.clone());
        }
        let id = out
            .get("id")
            .cloned()
            .unwrap_or_else(|| json!(stable_id(login)));
        let bot = login.ends_with("[bot]");
        let kind = if bot { "Bot" } else { "User" };
        let path = login.replace('[', "%5B").replace(']', "%5D");
        let html = if bot {
            format!("{WEB}/apps/{}", login.trim_end_matches("[bot]"))
        } else {
            format!("{WEB}/{login}")
        };
        let url = format!("{API}/users/{path}");
        fill(
            &mut out,
            json!({
                "login": login, "id": id, "node_id": node_id("U", &id),
                "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
                "gravatar_id": "", "url": url, "html_url": html,
                "followers_url": format!("{url}/followers"),
                "following_url": format!("{url}/following{{/other_user}}"),
                "gists_url": format!("{url}/gists{{/gist_id}}"),
                "starred_url": format!("{url}/starred{{/owner}}{{/repo}}"),
                "subscriptions_url": format!("{url}/subscriptions"),
                "organizations_url": format!("{url}/orgs"),
                "repos_url": format!("{url}/repos"),
                "events_url": format!("{url}/events{{/privacy}}"),
                "received_events_url": format!("{url}/received_events"),
                "type": kind, "site_admin": false, "user_view_type": "public"
            }),
        );
        out
    }

    /// Completes the user object at `key` of `object`, if there is one.
    pub(crate) fn complete_at(&self, object: &mut Value, key: &str) {
        if let Some(user) = object.get_mut(key) {
            *user = self.complete(user);
        }
    }
}

/// A label as the REST API serves it.
pub(crate) fn label(full_name: &str, label: &Value) -> Value {
    let mut out = label.clone();
    let name = str_of(label, "name").to_string();
    let id = label
        .get("id")
        .cloned()
        .unwrap_or_else(|| json!(stable_id(&format!("{full_name} label {name}"))));
    fill(
        &mut out,
        json!({"id": id, "node_id": node_id("LA", &id),
               "url": format!("{API}/repos/{full_name}/labels/{}", name.replace(' ', "%20")),
               "name": name, "description": null, "color": "ededed", "default": false}),
    );
    out
}

/// Every label of an object's `labels`, completed.
pub(crate) fn complete_labels(full_name: &str, object: &mut Value) {
    let labels: Vec<Value> = object
        .get("labels")
        .and_then(Value::as_array)
        .map(|ls| ls.iter().map(|l| label(full_name, l)).collect())
        .unwrap_or_default();
    object["labels"] = Value::Array(labels);
}

/// What the repository's served object is built from.
pub(crate) struct RepoFacts<'a> {
    /// The webhook `repository` object (the latest delivery's fields win).
    pub raw: &'a Value,
    /// The webhook `organization` object, if deliveries carried one.
    pub organization: Option<&'a Value>,
    pub default_branch: &'a str,
    /// The first and last times the history mentions, and the last push.
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub pushed_at: Option<DateTime<Utc>>,
    pub open_issues: usize,
}

/// The "full-repository" object.
pub(crate) fn repository(full_name: &str, facts: &RepoFacts, users: &Users) -> Value {
    let raw = facts.raw;
    let mut out = raw.clone();
    let (owner, name) = full_name.split_once('/').unwrap_or((full_name, full_name));
    let id = raw
        .get("id")
        .cloned()
        .unwrap_or_else(|| json!(stable_id(&format!("repo {full_name}"))));
    let private = raw.get("private").and_then(Value::as_bool).unwrap_or(false);
    let time = |t: Option<DateTime<Utc>>| t.map(iso).map_or(Value::Null, Value::String);
    for (key, seen) in [
        ("created_at", facts.first_seen),
        ("updated_at", facts.last_seen),
        ("pushed_at", facts.pushed_at),
    ] {
        let value = match out.get(key) {
            Some(v) if !v.is_null() => iso_value(v),
            _ => time(seen),
        };
        out[key] = value;
    }
    let mut owner_object = raw.get("owner").cloned().unwrap_or(json!({}));
    fill(&mut owner_object, json!({"login": owner}));
    if facts.organization.is_some() {
        fill(&mut owner_object, json!({"type": "Organization"}));
    }
    out["owner"] = users.complete(&owner_object);
    if let Some(org) = facts.organization {
        let mut org = users.complete(org);
        org["type"] = json!("Organization");
        out["organization"] = org;
    }
    let url = format!("{API}/repos/{full_name}");
    fill(&mut out, repository_urls(full_name, &url));
    fill(
        &mut out,
        json!({
            "id": id, "node_id": node_id("R", &id), "name": name, "full_name": full_name,
            "private": private, "html_url": format!("{WEB}/{full_name}"), "description": null,
            "fork": false, "url": url, "mirror_url": null, "homepage": null, "language": null,
            "forks_count": 0, "forks": 0, "stargazers_count": 0, "watchers_count": 0,
            "watchers": 0, "size": 0, "default_branch": facts.default_branch,
            "open_issues_count": facts.open_issues, "open_issues": facts.open_issues,
            "is_template": false, "topics": [], "has_issues": true, "has_projects": true,
            "has_wiki": true, "has_pages": false, "has_downloads": true,
            "has_discussions": false, "archived": false, "disabled": false,
            "visibility": if private { "private" } else { "public" },
        }),
    );
    fill(
        &mut out,
        json!({
            "permissions": {"admin": false, "maintain": false, "push": false, "triage": false,
                            "pull": true},
            "allow_rebase_merge": true, "temp_clone_token": null, "allow_squash_merge": true,
            "allow_auto_merge": false, "delete_branch_on_merge": false,
            "allow_merge_commit": true, "allow_update_branch": false,
            "use_squash_pr_title_as_default": false, "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
            "squash_merge_commit_message": "COMMIT_MESSAGES", "merge_commit_title": "MERGE_MESSAGE",
            "merge_commit_message": "PR_TITLE", "allow_forking": true,
            "web_commit_signoff_required": false, "subscribers_count": 0, "network_count": 0,
            "license": null,
        }),
    );
    out
}

/// The URL templates of a repository object (`{/sha}` and the like are GitHub's RFC 6570
/// placeholders, written as GitHub writes them).
fn repository_urls(full_name: &str, url: &str) -> Value {
    json!({
        "archive_url": format!("{url}/{{archive_format}}{{/ref}}"),
        "assignees_url": format!("{url}/assignees{{/user}}"),
        "blobs_url": format!("{url}/git/blobs{{/sha}}"),
        "branches_url": format!("{url}/branches{{/branch}}"),
        "collaborators_url": format!("{url}/collaborators{{/collaborator}}"),
        "comments_url": format!("{url}/comments{{/number}}"),
        "commits_url": format!("{url}/commits{{/sha}}"),
        "compare_url": format!("{url}/compare/{{base}}...{{head}}"),
        "contents_url": format!("{url}/contents/{{+path}}"),
        "contributors_url": format!("{url}/contributors"),
        "deployments_url": format!("{url}/deployments"),
        "downloads_url": format!("{url}/downloads"),
        "events_url": format!("{url}/events"),
        "forks_url": format!("{url}/forks"),
        "git_commits_url": format!("{url}/git/commits{{/sha}}"),
        "git_refs_url": format!("{url}/git/refs{{/sha}}"),
        "git_tags_url": format!("{url}/git/tags{{/sha}}"),
        "git_url": format!("git://github.com/{full_name}.git"),
        "issue_comment_url": format!("{url}/issues/comments{{/number}}"),
        "issue_events_url": format!("{url}/issues/events{{/number}}"),
        "issues_url": format!("{url}/issues{{/number}}"),
        "keys_url": format!("{url}/keys{{/key_id}}"),
        "labels_url": format!("{url}/labels{{/name}}"),
        "languages_url": format!("{url}/languages"),
        "merges_url": format!("{url}/merges"),
        "milestones_url": format!("{url}/milestones{{/number}}"),
        "notifications_url": format!("{url}/notifications{{?since,all,participating}}"),
        "pulls_url": format!("{url}/pulls{{/number}}"),
        "releases_url": format!("{url}/releases{{/id}}"),
        "ssh_url": format!("git@github.com:{full_name}.git"),
        "stargazers_url": format!("{url}/stargazers"),
        "statuses_url": format!("{url}/statuses/{{sha}}"),
        "subscribers_url": format!("{url}/subscribers"),
        "subscription_url": format!("{url}/subscription"),
        "tags_url": format!("{url}/tags"),
        "teams_url": format!("{url}/teams"),
        "trees_url": format!("{url}/git/trees{{/sha}}"),
        "clone_url": format!("{WEB}/{full_name}.git"),
        "hooks_url": format!("{url}/hooks"),
        "svn_url": format!("{WEB}/{full_name}"),
    })
}
