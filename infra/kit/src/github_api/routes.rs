//! The routes: a GET's path and query → the status and JSON GitHub would answer, with the page
//! it is when it is a list.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::history::{Repo, RestHistory};
use super::objects::pull_simple;
use super::page::{paginate, Pages, Query};
use super::shapes::{parse_date, parse_time, parse_time_str, str_of};

/// What a route answers.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
    /// Set on lists (the `Link` header is built from it).
    pub(crate) pages: Option<Pages>,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer {
            status: 200,
            body,
            pages: None,
        }
    }

    fn list(items: Vec<Value>, query: &Query) -> Answer {
        let (items, pages) = paginate(items, query);
        Answer {
            status: 200,
            body: Value::Array(items),
            pages: Some(pages),
        }
    }
}

/// GitHub's error body.
pub(crate) fn error_body(message: &str, documentation_url: &str, status: u16) -> Value {
    json!({"message": message, "documentation_url": documentation_url,
           "status": status.to_string()})
}

pub(crate) const DOCS: &str = "https://docs.github.com/rest";

pub(crate) fn not_found() -> Answer {
    Answer {
        status: 404,
        body: error_body("Not Found", DOCS, 404),
        pages: None,
    }
}

/// The routes served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Repo,
    Pulls,
    Pull(u64),
    PullCommits(u64),
    Reviews(u64),
    ReviewComments(u64),
    IssueComments(u64),
    IssueEvents(u64),
    Commits,
    Deployments,
    Statuses(u64),
    Runs,
    Issues,
}

impl Route {
    /// The route's template, as [`super::ApiStats::per_endpoint`] counts requests.
    pub(crate) fn template(self) -> &'static str {
        match self {
            Route::Repo => "/repos/{o}/{r}",
            Route::Pulls => "/repos/{o}/{r}/pulls",
            Route::Pull(_) => "/repos/{o}/{r}/pulls/{n}",
            Route::PullCommits(_) => "/repos/{o}/{r}/pulls/{n}/commits",
            Route::Reviews(_) => "/repos/{o}/{r}/pulls/{n}/reviews",
            Route::ReviewComments(_) => "/repos/{o}/{r}/pulls/{n}/comments",
            Route::IssueComments(_) => "/repos/{o}/{r}/issues/{n}/comments",
            Route::IssueEvents(_) => "/repos/{o}/{r}/issues/{n}/events",
            Route::Commits => "/repos/{o}/{r}/commits",
            Route::Deployments => "/repos/{o}/{r}/deployments",
            Route::Statuses(_) => "/repos/{o}/{r}/deployments/{id}/statuses",
            Route::Runs => "/repos/{o}/{r}/actions/runs",
            Route::Issues => "/repos/{o}/{r}/issues",
        }
    }
}

/// The repository (`owner/name`) and route a path asks for.
pub(crate) fn parse(path: &str) -> Option<(String, Route)> {
    let rest = path.strip_prefix("/repos/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) || segments.len() < 2 {
        return None;
    }
    let repo = format!(
        "{}/{}",
        super::page::decode(segments[0]),
        super::page::decode(segments[1])
    );
    let number = |s: &str| s.parse::<u64>().ok();
    let route = match segments[2..] {
        [] => Route::Repo,
        ["pulls"] => Route::Pulls,
        ["pulls", n] => Route::Pull(number(n)?),
        ["pulls", n, "commits"] => Route::PullCommits(number(n)?),
        ["pulls", n, "reviews"] => Route::Reviews(number(n)?),
        ["pulls", n, "comments"] => Route::ReviewComments(number(n)?),
        ["issues"] => Route::Issues,
        ["issues", n, "comments"] => Route::IssueComments(number(n)?),
        ["issues", n, "events"] => Route::IssueEvents(number(n)?),
        ["commits"] => Route::Commits,
        ["deployments"] => Route::Deployments,
        ["deployments", id, "statuses"] => Route::Statuses(number(id)?),
        ["actions", "runs"] => Route::Runs,
        _ => return None,
    };
    Some((repo, route))
}

/// The answer to a GET of `path` with `query`.
pub(crate) fn answer(history: &RestHistory, path: &str, query: &Query) -> Answer {
    let Some((name, route)) = parse(path) else {
        return not_found();
    };
    let Some(repo) = history.repo(&name) else {
        return not_found();
    };
    let found = |items: Option<&Vec<Value>>| match items {
        Some(items) => Answer::list(items.clone(), query),
        None => not_found(),
    };
    match route {
        Route::Repo => Answer::ok(repo.json.clone()),
        Route::Pulls => pulls(repo, query),
        Route::Pull(n) => repo
            .pulls
            .get(&n)
            .map_or_else(not_found, |p| Answer::ok(p.json.clone())),
        Route::PullCommits(n) => match repo.pulls.get(&n) {
            Some(pull) => {
                let commits = pull
                    .commits
                    .iter()
                    .filter_map(|sha| repo.graph.get(sha))
                    .map(|c| c.json.clone())
                    .collect();
                Answer::list(commits, query)
            }
            None => not_found(),
        },
        Route::Reviews(n) => found(repo.pulls.get(&n).map(|p| &p.reviews)),
        Route::ReviewComments(n) => found(repo.pulls.get(&n).map(|p| &p.comments)),
        Route::IssueComments(n) => issue_comments(repo, n, query),
        Route::IssueEvents(n) => {
            if !knows_issue(repo, n) {
                return not_found();
            }
            let events = repo.issue_events.get(&n).cloned().unwrap_or_default();
            Answer::list(events, query)
        }
        Route::Commits => commits(repo, query),
        Route::Deployments => {
            let deployments = repo
                .deployments
                .iter()
                .map(|d| &d.json)
                .filter(|d| {
                    [
                        ("environment", "/environment"),
                        ("sha", "/sha"),
                        ("ref", "/ref"),
                        ("task", "/task"),
                    ]
                    .iter()
                    .all(|(param, pointer)| param_is(query, param, d, pointer))
                })
                .cloned()
                .collect();
            Answer::list(deployments, query)
        }
        Route::Statuses(id) => found(
            repo.deployments
                .iter()
                .find(|d| d.id == id)
                .map(|d| &d.statuses),
        ),
        Route::Runs => runs(repo, query),
        Route::Issues => issues(repo, query),
    }
}

/// A number the repository has an issue or pull request (or conversation comments) under.
fn knows_issue(repo: &Repo, number: u64) -> bool {
    repo.pulls.contains_key(&number)
        || repo.issues.contains_key(&number)
        || repo.issue_comments.contains_key(&number)
}

/// Whether `item`'s string at `pointer` is what the parameter `param` asks for (or the
/// parameter is not given).
fn param_is(query: &Query, param: &str, item: &Value, pointer: &str) -> bool {
    query
        .get(param)
        .is_none_or(|want| item.pointer(pointer).and_then(Value::as_str) == Some(want))
}

fn time_of(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    parse_time(&v[key])
}

/// `since`-style filter: keeps items whose `key` is at or after the parameter (an unreadable
/// parameter filters nothing).
fn at_or_after(query: &Query, param: &str, item: &Value, key: &str) -> bool {
    match query.get(param).and_then(parse_time_str) {
        Some(since) => time_of(item, key).is_some_and(|t| t >= since),
        None => true,
    }
}

/// `sort`/`direction` of the pulls and issues lists: `direction` defaults to `desc` for
/// `created` (and when `sort` is not given), `asc` otherwise.
fn sort_items(items: &mut [Value], query: &Query) {
    let sort = query.get("sort").unwrap_or("created");
    let descending = match query.get("direction") {
        Some("asc") => false,
        Some("desc") => true,
        _ => matches!(sort, "created" | "long-running") || query.get("sort").is_none(),
    };
    let key = |v: &Value| -> (Option<DateTime<Utc>>, u64, u64) {
        let number = v["number"].as_u64().unwrap_or_default();
        match sort {
            "updated" => (time_of(v, "updated_at"), 0, number),
            "popularity" | "comments" => (None, v["comments"].as_u64().unwrap_or_default(), number),
            _ => (time_of(v, "created_at"), 0, number),
        }
    };
    items.sort_by(|a, b| {
        let order = key(a).cmp(&key(b));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
}

/// `state=open|closed|all` (default `open`; anything else reads as `open`).
fn state_matches(query: &Query, item: &Value) -> bool {
    match query.get("state") {
        Some("all") => true,
        Some("closed") => str_of(item, "state") == "closed",
        _ => str_of(item, "state") != "closed",
    }
}

fn pulls(repo: &Repo, query: &Query) -> Answer {
    let mut items: Vec<Value> = repo
        .pulls
        .values()
        .map(|p| &p.json)
        .filter(|pr| state_matches(query, pr))
        .filter(|pr| {
            query.get("head").is_none_or(|head| {
                let branch = head.split_once(':').map_or(head, |(_, b)| b);
                pr.pointer("/head/ref").and_then(Value::as_str) == Some(branch)
            })
        })
        .filter(|pr| param_is(query, "base", pr, "/base/ref"))
        .cloned()
        .collect();
    sort_items(&mut items, query);
    let items = items.iter().map(pull_simple).collect();
    Answer::list(items, query)
}

fn issue_comments(repo: &Repo, number: u64, query: &Query) -> Answer {
    if !knows_issue(repo, number) {
        return not_found();
    }
    let comments = repo
        .issue_comments
        .get(&number)
        .map(|cs| {
            cs.iter()
                .filter(|c| at_or_after(query, "since", c, "updated_at"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Answer::list(comments, query)
}

fn commits(repo: &Repo, query: &Query) -> Answer {
    let rev = query.get("sha").unwrap_or(&repo.default_branch);
    let Some(head) = repo.graph.resolve(rev) else {
        if rev == repo.default_branch {
            return Answer::list(Vec::new(), query);
        }
        return Answer {
            status: 404,
            body: error_body(
                &format!("No commit found for SHA: {rev}"),
                "https://docs.github.com/rest/commits/commits#list-commits",
                404,
            ),
            pages: None,
        };
    };
    let until = query.get("until").and_then(parse_time_str);
    let commits = repo
        .graph
        .log(head)
        .into_iter()
        .filter(|c| at_or_after(query, "since", &c.json["commit"]["committer"], "date"))
        .filter(|c| until.is_none_or(|u| c.committed <= u))
        .map(|c| c.json.clone())
        .collect();
    Answer::list(commits, query)
}

/// From (inclusive) and until (exclusive), either open.
type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// GitHub's `created` search qualifier: `>=D`, `>D`, `<=D`, `<D`, `A..B` (`*` open), or `D`
/// (that day, or that second); dates or ISO 8601 times. `None` when unreadable.
fn created_range(q: &str) -> Option<Range> {
    // (start, the instant after its end) of a date or time
    let span = |s: &str| -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let s = s.trim();
        if let Some(day) = parse_date(s) {
            let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
            return Some((start, start + Duration::days(1)));
        }
        let t = parse_time_str(s)?;
        Some((t, t + Duration::seconds(1)))
    };
    let q = q.trim();
    if let Some(s) = q.strip_prefix(">=") {
        return Some((Some(span(s)?.0), None));
    }
    if let Some(s) = q.strip_prefix("<=") {
        return Some((None, Some(span(s)?.1)));
    }
    if let Some(s) = q.strip_prefix('>') {
        return Some((Some(span(s)?.1), None));
    }
    if let Some(s) = q.strip_prefix('<') {
        return Some((None, Some(span(s)?.0)));
    }
    if let Some((a, b)) = q.split_once("..") {
        let lo = if a.trim() == "*" {
            None
        } else {
            Some(span(a)?.0)
        };
        let hi = if b.trim() == "*" {
            None
        } else {
            Some(span(b)?.1)
        };
        return Some((lo, hi));
    }
    let (lo, hi) = span(q)?;
    Some((Some(lo), Some(hi)))
}

fn runs(repo: &Repo, query: &Query) -> Answer {
    let range = query.get("created").and_then(created_range);
    let runs: Vec<Value> = repo
        .runs
        .iter()
        .filter(|run| {
            query
                .get("status")
                .is_none_or(|s| str_of(run, "status") == s || str_of(run, "conclusion") == s)
        })
        .filter(|run| {
            [
                ("branch", "/head_branch"),
                ("event", "/event"),
                ("head_sha", "/head_sha"),
                ("actor", "/actor/login"),
            ]
            .iter()
            .all(|(param, pointer)| param_is(query, param, run, pointer))
        })
        .filter(|run| match range {
            Some((lo, hi)) => time_of(run, "created_at")
                .is_some_and(|t| lo.is_none_or(|lo| t >= lo) && hi.is_none_or(|hi| t < hi)),
            None => true,
        })
        .cloned()
        .collect();
    let total = runs.len();
    let (page, pages) = paginate(runs, query);
    Answer {
        status: 200,
        body: json!({"total_count": total, "workflow_runs": page}),
        pages: Some(pages),
    }
}

fn issues(repo: &Repo, query: &Query) -> Answer {
    let labels: Vec<String> = query
        .get("labels")
        .map(|ls| {
            ls.split(',')
                .map(|l| l.trim().to_lowercase())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let has_labels = |item: &Value| {
        let names: Vec<String> = item["labels"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .map(|l| str_of(l, "name").to_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        labels.iter().all(|l| names.contains(l))
    };
    let mut items: Vec<Value> = repo
        .issues
        .values()
        .chain(repo.pulls.values().map(|p| &p.issue))
        .filter(|i| state_matches(query, i))
        .filter(|i| has_labels(i))
        .filter(|i| at_or_after(query, "since", i, "updated_at"))
        .filter(|i| param_is(query, "creator", i, "/user/login"))
        .cloned()
        .collect();
    sort_items(&mut items, query);
    Answer::list(items, query)
}
