//! The live step: after the history converged, a few deliveries of what happens *now* in one
//! of the payments team's GitHub repositories (`acme/payments-api`): a pull request opened
//! three hours ago and merged 40 minutes ago onto the repository's main head, the push of its
//! merge commit, a production deployment of it that failed and a re-run that succeeded. The
//! history ends before this week, and the rollup only announces changes of the last
//! [`flowmeter::events::MAX_AGE_HOURS`]: these are what puts deployment and pull request events
//! on the bus, and messages in the platform and payments channels.
//!
//! They all happen in the current week (never before the history's end), outside every week
//! the report and the ground truth compare.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flowmeter_demo::rng::Rng;
use flowmeter_demo::spec::full_name;
use flowmeter_demo::{DemoDelivery, DemoOrg};
use flowmeter_kit::payload::bytes;
use flowmeter_kit::payload::github::{commit, deployment_to, push, PullRequest};
use flowmeter_kit::{Delivery, Sender, Sent};
use serde_json::Value;

use super::api::Api;

/// The repository (its name in the spec) the live deliveries are about: the payments team's,
/// on GitHub, deployed to production through GitHub Deployments.
pub(crate) const REPO: &str = "payments-api";
/// The pull request's author, of the payments team.
const AUTHOR: &str = "ana-lopez";
const TITLE: &str = "Retry ledger writes on timeout";
const BRANCH: &str = "ana-lopez/retry-ledger-writes";
/// The environment the demo's config calls production.
const PRODUCTION: &str = "production";
/// GitHub deployment ids far above the history's (which count up from a few million).
const FIRST_DEPLOYMENT_ID: u64 = 9_000_000_001;
/// The story's minutes before now: opened, merged, failed deployment (start, finish),
/// succeeding re-run (start, finish).
const OPENED: f64 = 180.0;
const MERGED: f64 = 40.0;
const FAILED: (f64, f64) = (35.0, 30.0);
const RECOVERED: (f64, f64) = (15.0, 10.0);
/// The least time since the history's end the story is squeezed into.
const MIN_WINDOW: chrono::Duration = chrono::Duration::minutes(5);
/// The most the step waits for the bus to show what the deliveries announce.
const BOUND: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(250);

/// What the live step sends, in the order it sends it.
pub(crate) struct Story {
    pub(crate) repo: String,
    pub(crate) deliveries: Vec<DemoDelivery>,
}

/// A 40-hex sha made from a fixed label: no commit of the history has it.
fn label_sha(label: &str) -> String {
    Rng::fork(0x11FE, label).hex(40)
}

/// A delivery id (uuid-shaped) made from a fixed label and the time of sending.
fn delivery_id(label: &str, now: DateTime<Utc>) -> String {
    Rng::fork(now.timestamp_millis() as u64, label).uuid()
}

/// The story at `now`, all of it after `history_end` (the Monday the history stops at): the
/// minutes before now are scaled down when the current week began less than three hours ago.
/// `None` when it began less than [`MIN_WINDOW`] ago, or when the repository has no history.
pub(crate) fn story(
    org: &DemoOrg,
    history_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<Story> {
    let repo = full_name(REPO);
    let base_sha = org.truth.main_history.get(&repo)?.last()?.clone();
    let window = now - history_end;
    if window < MIN_WINDOW {
        return None;
    }
    // One minute of margin after the history's end.
    let room = (window - chrono::Duration::minutes(1)).num_seconds() as f64;
    let scale = (room / (OPENED * 60.0)).min(1.0);
    let ago = |minutes: f64| now - chrono::Duration::seconds((minutes * 60.0 * scale) as i64);
    let number = org
        .truth
        .prs
        .iter()
        .filter(|p| p.repo == repo)
        .map(|p| p.number)
        .max()
        .unwrap_or(0)
        + 1;
    let head_sha = label_sha("live: head of the retry PR");
    let merge_sha = label_sha("live: merge of the retry PR");
    let (opened, merged) = (ago(OPENED), ago(MERGED));
    let open_pr = PullRequest {
        repo: &repo,
        number,
        title: TITLE,
        body: Some("Ledger writes that time out are retried with the same idempotency key."),
        author: AUTHOR,
        created: opened,
        closed: None,
        head: (BRANCH, &head_sha),
        base_sha: &base_sha,
        additions: 84,
        deletions: 12,
    };
    let merged_pr = PullRequest {
        closed: Some((merged, Some(&merge_sha))),
        ..open_pr.clone()
    };
    let pushed = merged + chrono::Duration::seconds(2);
    let mut events: Vec<(DateTime<Utc>, &str, Value)> = vec![
        (opened, "pull_request", open_pr.event("opened", opened)),
        (merged, "pull_request", merged_pr.event("closed", merged)),
        (
            pushed,
            "push",
            push(
                &repo,
                pushed,
                "main",
                &base_sha,
                vec![commit(&merge_sha, merged, AUTHOR)],
                false,
            ),
        ),
    ];
    for (i, ((start, finish), state)) in [(FAILED, "failure"), (RECOVERED, "success")]
        .into_iter()
        .enumerate()
    {
        let id = FIRST_DEPLOYMENT_ID + i as u64;
        let span = (ago(start), ago(finish));
        events.extend(deployment_to(
            PRODUCTION, &repo, id, &merge_sha, span, state,
        ));
    }
    let secret = &org.secrets.github;
    let deliveries = events
        .into_iter()
        .enumerate()
        .map(|(i, (at, event, body))| {
            let id = delivery_id(&format!("live {i} {event}"), now);
            DemoDelivery {
                at,
                group: repo.clone(),
                entity: format!("live:{i}"),
                delivery: Delivery::github(secret, event, &id, bytes(&body)),
            }
        })
        .collect();
    Some(Story { repo, deliveries })
}

/// The bus' counts by type (empty without a bus).
async fn counts(api: &Api) -> Result<Value, String> {
    Ok(super::events::bus(api)
        .await?
        .map_or(Value::Null, |b| b["by_type"].clone()))
}

fn count(by_type: &Value, kind: &str) -> u64 {
    by_type[kind].as_u64().unwrap_or(0)
}

/// The events the story announces.
const ANNOUNCED: [&str; 4] = [
    "deployment.finished",
    "deployment.failed",
    "deployment.recovered",
    "pull_request.merged",
];

/// Sends the story, in order, then waits until the bus shows each of the events it announces
/// (at most [`BOUND`]); `events::settle` then waits for the bus and the channels to stop
/// changing. Says what it sent on stderr; returns it for the report (`None`: skipped).
pub(crate) async fn live(
    api: &Api,
    org: &DemoOrg,
    now: DateTime<Utc>,
) -> Result<Option<String>, String> {
    let history_end = org.truth.end;
    let Some(story) = story(org, history_end, now) else {
        eprintln!(
            "  live: skipped (the current week began at {}, too short a while ago)",
            history_end.format("%Y-%m-%d %H:%M UTC")
        );
        return Ok(None);
    };
    let before = counts(api).await?;
    let sender = Sender::new(api.http.clone(), api.base.clone(), super::replay::RETRY);
    for (i, d) in story.deliveries.iter().enumerate() {
        match sender.send(&d.delivery).await {
            Sent::Accepted(_) => {}
            Sent::Rejected(answer) => {
                return Err(format!(
                    "live delivery {i}: {} {}",
                    answer.status,
                    answer.text()
                ))
            }
            Sent::GaveUp { attempts, last } => {
                return Err(format!(
                    "live delivery {i}: gave up after {attempts} attempts: {last}"
                ))
            }
        }
    }
    let what = format!(
        "{} deliveries now (a merged PR, a failed and a recovering production deployment of {})",
        story.deliveries.len(),
        story.repo
    );
    eprintln!("  live: {what}");
    if before.is_null() {
        return Ok(Some(what));
    }
    let started = Instant::now();
    loop {
        let after = counts(api).await?;
        if ANNOUNCED
            .iter()
            .all(|kind| count(&after, kind) > count(&before, kind))
        {
            return Ok(Some(what));
        }
        if started.elapsed() >= BOUND {
            let missing: Vec<&str> = ANNOUNCED
                .iter()
                .copied()
                .filter(|kind| count(&after, kind) <= count(&before, kind))
                .collect();
            eprintln!(
                "  live: after {}s the bus still lacks {}",
                BOUND.as_secs(),
                missing.join(", ")
            );
            return Ok(Some(what));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowmeter_demo::{generate_with, Params};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn org() -> DemoOrg {
        let mut params = Params::new(7, at("2026-03-04T12:00:00Z"));
        params.weeks = 2;
        generate_with(&params)
    }

    fn body(d: &DemoDelivery) -> Value {
        serde_json::from_slice(&d.delivery.body).unwrap()
    }

    #[test]
    fn the_story_is_a_merged_pr_then_a_failed_and_a_succeeding_production_deployment() {
        let org = org();
        let now = at("2026-03-04T12:00:00Z");
        let story = story(&org, org.truth.end, now).unwrap();
        assert_eq!(story.repo, "acme/payments-api");
        let events: Vec<&str> = story.deliveries.iter().map(|d| d.github_event()).collect();
        assert_eq!(
            events,
            [
                "pull_request",
                "pull_request",
                "push",
                "deployment",
                "deployment_status",
                "deployment",
                "deployment_status"
            ]
        );
        let bodies: Vec<Value> = story.deliveries.iter().map(body).collect();
        let head = org.truth.main_history["acme/payments-api"].last().unwrap();
        let minutes_ago = |d: &DemoDelivery| (now - d.at).num_minutes();
        let ago: Vec<i64> = story.deliveries.iter().map(minutes_ago).collect();
        assert_eq!(ago, [180, 40, 39, 35, 30, 15, 10]);
        // Opened, then merged onto the main head; the push carries the merge commit.
        assert_eq!(bodies[0]["action"], "opened");
        assert_eq!(bodies[0]["pull_request"]["user"]["login"], AUTHOR);
        assert_eq!(bodies[0]["pull_request"]["title"], TITLE);
        assert_eq!(bodies[1]["action"], "closed");
        assert_eq!(bodies[1]["pull_request"]["merged"], true);
        assert_eq!(bodies[1]["pull_request"]["base"]["sha"], head.as_str());
        let merge = bodies[1]["pull_request"]["merge_commit_sha"].clone();
        assert_eq!(bodies[2]["ref"], "refs/heads/main");
        assert_eq!(bodies[2]["before"], head.as_str());
        assert_eq!(bodies[2]["after"], merge);
        // The merge commit deployed to production: failed, then succeeded.
        let states: Vec<&str> = [4, 6]
            .iter()
            .map(|&i| bodies[i]["deployment_status"]["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["failure", "success"]);
        for b in &bodies[3..] {
            assert_eq!(b["deployment"]["sha"], merge);
            assert_eq!(b["deployment"]["environment"], "production");
            assert!(b["deployment"]["id"].as_u64().unwrap() > 9_000_000_000);
        }
        // Nothing collides with the history: a new PR number, shas and ids of its own.
        let number = bodies[0]["number"].as_u64().unwrap();
        assert!(!org
            .truth
            .prs
            .iter()
            .any(|p| p.repo == story.repo && p.number == number));
        assert!(!org.truth.main_history["acme/payments-api"]
            .contains(&merge.as_str().unwrap().to_string()));
        for d in &story.deliveries {
            assert_eq!(d.delivery.path, "/webhooks/github");
            assert!(d.delivery.header("x-hub-signature-256").is_some());
        }
    }

    #[test]
    fn the_story_stays_after_the_history_when_the_week_began_lately() {
        let org = org();
        let end = org.truth.end;
        // The week began an hour ago: the story is squeezed into it.
        let now = end + chrono::Duration::hours(1);
        let story = story(&org, end, now).unwrap();
        let times: Vec<DateTime<Utc>> = story.deliveries.iter().map(|d| d.at).collect();
        assert!(times.iter().all(|t| *t > end && *t < now), "{times:?}");
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        // Too short a while ago: nothing.
        assert!(story_none(&org, end, end + chrono::Duration::minutes(2)));
    }

    fn story_none(org: &DemoOrg, end: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        story(org, end, now).is_none()
    }
}
