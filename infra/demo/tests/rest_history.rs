//! The demo org's simulated history (12 weeks), folded into the local GitHub REST API
//! (`flowmeter_kit::github_api`) and read back over HTTP as a backfill would: the REST API must
//! tell the same story as the webhooks did.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use flowmeter_demo::sim::{simulate, Params};
use flowmeter_demo::DEFAULT_SEED;
use flowmeter_kit::github_api::{GitHubApi, Limits, RestHistory};
use serde_json::Value;

/// The demo's GitHub deliveries as `(event, body)`, in the order they happened.
fn github_deliveries() -> Vec<(String, Value)> {
    let now = DateTime::parse_from_rfc3339("2026-03-18T12:00:00Z")
        .expect("now")
        .with_timezone(&Utc);
    simulate(&Params::new(DEFAULT_SEED, now))
        .deliveries
        .iter()
        .filter(|d| !d.github_event().is_empty())
        .map(|d| {
            let body = serde_json::from_slice(&d.delivery.body).expect("a JSON body");
            (d.github_event().to_string(), body)
        })
        .collect()
}

fn fold(deliveries: &[(String, Value)]) -> RestHistory {
    RestHistory::from_webhooks(deliveries.iter().map(|(e, b)| (e.as_str(), b)))
}

fn repo_of(body: &Value) -> String {
    body["repository"]["full_name"]
        .as_str()
        .expect("repository")
        .to_string()
}

/// Every item of a list, following `rel="next"`.
async fn walk(client: &reqwest::Client, api: &GitHubApi, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next = Some(format!("{}{path}", api.url));
    while let Some(url) = next {
        let response = client
            .get(&url)
            .bearer_auth("test-token")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 200, "{url}");
        next = response
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| {
                l.split(", ").find_map(|part| {
                    let (url, rel) = part.split_once("; ")?;
                    (rel == "rel=\"next\"").then(|| url.trim_matches(['<', '>']).to_string())
                })
            });
        let page: Vec<Value> = response.json().await.expect("a JSON list");
        items.extend(page);
    }
    items
}

fn sha_set(items: &[Value]) -> HashSet<String> {
    items
        .iter()
        .filter_map(|c| c["sha"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_rest_api_tells_the_webhooks_story() {
    let deliveries = github_deliveries();
    let history = fold(&deliveries);

    // Every pull request any delivery mentions, by repository.
    let mut prs: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    // Merged pull requests: (repository, number, merge commit, head).
    let mut merged = Vec::new();
    for (event, body) in &deliveries {
        let pr = &body["pull_request"];
        if !matches!(
            event.as_str(),
            "pull_request" | "pull_request_review" | "pull_request_review_comment"
        ) {
            continue;
        }
        let number = pr["number"].as_u64().expect("number");
        prs.entry(repo_of(body)).or_default().insert(number);
        if body["action"] == "closed" && pr["merged"] == true {
            let sha = |v: &Value| v.as_str().expect("sha").to_string();
            merged.push((
                repo_of(body),
                number,
                sha(&pr["merge_commit_sha"]),
                sha(&pr["head"]["sha"]),
            ));
        }
    }
    let distinct: usize = prs.values().map(BTreeSet::len).sum();
    assert!(distinct > 200, "the demo has hundreds of PRs: {distinct}");
    assert!(merged.len() > 100, "and merges most: {}", merged.len());
    assert_eq!(history.pull_request_count(), distinct);

    let api = GitHubApi::start(history, Limits::default())
        .await
        .expect("start");
    let client = reqwest::Client::new();

    // The PR lists serve every pull request.
    for (repo, numbers) in &prs {
        let listed = walk(
            &client,
            &api,
            &format!("/repos/{repo}/pulls?state=all&per_page=100"),
        )
        .await;
        let listed: BTreeSet<u64> = listed.iter().filter_map(|p| p["number"].as_u64()).collect();
        assert_eq!(&listed, numbers, "{repo}");
    }

    // Every merge commit is reachable from main, with the merged head as its second parent.
    let mut main: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for repo in prs.keys() {
        let commits = walk(
            &client,
            &api,
            &format!("/repos/{repo}/commits?sha=main&per_page=100"),
        )
        .await;
        main.insert(repo.clone(), commits);
    }
    for (repo, number, merge, head) in &merged {
        let commit = main[repo]
            .iter()
            .find(|c| c["sha"] == merge.as_str())
            .unwrap_or_else(|| panic!("{repo}#{number}: merge commit {merge} not on main"));
        assert_eq!(
            commit["parents"][1]["sha"],
            head.as_str(),
            "{repo}#{number}"
        );
    }
    // …and so is every commit pushed to main.
    for (event, body) in &deliveries {
        if event == "push" && body["ref"] == "refs/heads/main" {
            let on_main = sha_set(&main[&repo_of(body)]);
            for commit in body["commits"].as_array().expect("commits") {
                assert!(on_main.contains(commit["id"].as_str().expect("id")));
            }
        }
    }

    // A PR's commits are the ones its head branch's pushes carried, oldest first. Bots reuse
    // branch names (`renovate/serde-1.x`), so a branch has lives: a push that creates it
    // (`before` all zeros) starts a new one, and a PR's commits are its head's life.
    let mut lives: BTreeMap<(String, String), Vec<Vec<String>>> = BTreeMap::new();
    for (_, body) in deliveries.iter().filter(|(e, _)| e == "push") {
        let branch = body["ref"]
            .as_str()
            .expect("ref")
            .trim_start_matches("refs/heads/");
        let branch_lives = lives
            .entry((repo_of(body), branch.to_string()))
            .or_default();
        let created = body["before"]
            .as_str()
            .is_some_and(|b| b.chars().all(|c| c == '0'));
        if created || branch_lives.is_empty() {
            branch_lives.push(Vec::new());
        }
        let life = branch_lives.last_mut().expect("a life");
        for commit in body["commits"].as_array().expect("commits") {
            life.push(commit["id"].as_str().expect("id").to_string());
        }
    }
    let (mut checked, mut several) = (0, 0);
    for (repo, numbers) in &prs {
        for number in numbers {
            let pr = api
                .history()
                .pull_request(repo, *number)
                .expect("served")
                .clone();
            let branch = pr["head"]["ref"].as_str().expect("head ref").to_string();
            let head = pr["head"]["sha"].as_str().expect("head sha");
            let expected = lives
                .get(&(repo.clone(), branch))
                .and_then(|ls| ls.iter().find(|l| l.iter().any(|s| s == head)))
                .unwrap_or_else(|| panic!("{repo}#{number}: its head {head} was pushed"));
            // Pushes after the PR's last update (its branch reused later) are not its commits.
            let upto = expected.iter().position(|s| s == head).expect("head") + 1;
            let commits = walk(
                &client,
                &api,
                &format!("/repos/{repo}/pulls/{number}/commits"),
            )
            .await;
            let served: Vec<&str> = commits.iter().filter_map(|c| c["sha"].as_str()).collect();
            assert_eq!(served, expected[..upto], "{repo}#{number}");
            checked += 1;
            several += usize::from(served.len() > 1);
        }
    }
    assert_eq!(checked, distinct, "every PR's branch was pushed");
    assert!(several > 20, "PRs with follow-up pushes: {several}");
    assert_eq!(api.stats().not_found, 0);
}
