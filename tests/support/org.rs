//! One repository's life told minute by minute through the real webhook handler: pushes to
//! main, merged PRs, deployments to any environment and Jira ticket updates, each delivery
//! accepted or the test fails. The environments, tickets and gate tests build their stories
//! with it.

use chrono::{DateTime, Duration, Utc};
use flowmeter_edge::lambda_http::http::StatusCode;
use flowmeter_edge::store::Store;
use serde_json::{json, Value};

use crate::payload::bytes;
use crate::payload::github::{self, PullRequest};
use crate::{deliver, Delivery, GITHUB_SECRET, JIRA_SECRET};

/// `minutes` after 08:00 on Monday 5 October 2026, where an [`Org`]'s story starts unless told
/// otherwise.
pub fn at(minutes: i64) -> DateTime<Utc> {
    "2026-10-05T08:00:00Z"
        .parse::<DateTime<Utc>>()
        .unwrap_or_default()
        + Duration::minutes(minutes)
}

/// A 40-character sha that reads as its label (`00…0m1`).
pub fn sha(label: &str) -> String {
    format!("{label:0>40}")
}

/// A Jira Cloud `jira:issue_updated` of `key` (project `PAY`).
pub struct JiraUpdate<'a> {
    pub key: &'a str,
    pub minutes: i64,
    pub summary: &'a str,
    /// The new status and its category key (`new`, `indeterminate`, `done`).
    pub status: (&'a str, &'a str),
    pub fix_versions: &'a [&'a str],
}

pub struct Org<'s> {
    pub store: &'s Store,
    pub repo: &'s str,
    /// Deliveries sent so far: numbers their ids.
    pub sent: usize,
    /// Minute 0 of the story.
    pub start: DateTime<Utc>,
}

impl<'s> Org<'s> {
    pub fn new(store: &'s Store, repo: &'s str) -> Org<'s> {
        Org {
            store,
            repo,
            sent: 0,
            start: at(0),
        }
    }

    /// The same story starting at `start` (for reads that look back from now).
    pub fn starting(self, start: DateTime<Utc>) -> Org<'s> {
        Org { start, ..self }
    }

    /// `minutes` into the story.
    pub fn at(&self, minutes: i64) -> DateTime<Utc> {
        self.start + Duration::minutes(minutes)
    }

    pub async fn github(&mut self, event: &str, body: Value) {
        self.sent += 1;
        let id = format!("org-{}", self.sent);
        let delivery = Delivery::github(GITHUB_SECRET, event, &id, bytes(&body));
        let (status, answer) = deliver(self.store, &delivery).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }

    /// A push of one commit onto main at `minutes` (authored a minute before), with `message`
    /// when given.
    pub async fn push_main(
        &mut self,
        minutes: i64,
        before: &str,
        commit: &str,
        message: Option<&str>,
    ) {
        let mut pushed = github::commit(commit, self.at(minutes - 1), "alice");
        if let Some(message) = message {
            pushed["message"] = json!(message);
        }
        let body = github::push(
            self.repo,
            self.at(minutes),
            "main",
            before,
            vec![pushed],
            false,
        );
        self.github("push", body).await;
    }

    /// A deployment of `commit` to `environment`, started at `minutes`, ending in `state` five
    /// minutes later.
    pub async fn deploy(
        &mut self,
        environment: &str,
        id: u64,
        commit: &str,
        minutes: i64,
        state: &str,
    ) {
        let span = (self.at(minutes), self.at(minutes + 5));
        for (_, event, body) in
            github::deployment_to(environment, self.repo, id, commit, span, state)
        {
            self.github(event, body).await;
        }
    }

    /// PR `number` by alice titled `title`, opened 30 minutes before `minutes` and merged then
    /// as `merge`.
    pub async fn merged_pr(
        &mut self,
        number: u64,
        minutes: i64,
        base: &str,
        merge: &str,
        title: &str,
    ) {
        let head = sha(&format!("f{number}"));
        let branch = format!("feature-{number}");
        let pr = PullRequest {
            repo: self.repo,
            number,
            title,
            body: None,
            author: "alice",
            created: self.at(minutes - 30),
            closed: Some((self.at(minutes), Some(merge))),
            head: (&branch, &head),
            base_sha: base,
            additions: 10,
            deletions: 2,
        };
        self.github("pull_request", pr.event("opened", self.at(minutes - 30)))
            .await;
        self.github("pull_request", pr.event("closed", self.at(minutes)))
            .await;
    }

    pub async fn jira(&mut self, update: JiraUpdate<'_>) {
        self.sent += 1;
        let versions: Vec<Value> = update
            .fix_versions
            .iter()
            .map(|v| json!({"name": v}))
            .collect();
        let (status, category) = update.status;
        let body = json!({
            "webhookEvent": "jira:issue_updated",
            "timestamp": self.at(update.minutes).timestamp_millis(),
            "issue": {
                "key": update.key,
                "self": format!("https://acme.atlassian.net/rest/api/2/issue/{}", 10_000 + self.sent),
                "fields": {
                    "project": {"key": "PAY"},
                    "summary": update.summary,
                    "status": {"name": status, "statusCategory": {"key": category}},
                    "fixVersions": versions,
                },
            },
            "changelog": {
                "id": format!("{}", 100 + self.sent),
                "items": [{"field": "status", "fromString": "To Do", "toString": status}],
            },
        });
        let delivery = Delivery::jira(JIRA_SECRET, bytes(&body));
        let (status, answer) = deliver(self.store, &delivery).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
}
