//! `flowmeter-devserver backfill --repo owner/name … --since YYYY-MM-DD` (or `--resume ID`):
//! a backfill run in this process against the table `TABLE_NAME` names, with a progress bar.
//! The facts it writes reach the rollups through the table's stream, as webhooks' do (the
//! rollup function in AWS, the dev server's poller locally).

use std::time::Instant;

use chrono::Utc;
use flowmeter::backfill::{BackfillJob, BackfillRequest, JobState, Phase};
use flowmeter_edge::backfill::{run_to_end, start};
use flowmeter_edge::github::{GitHubClient, GitHubSettings};
use flowmeter_edge::settings::load_config;
use flowmeter_edge::store::Store;
use indicatif::{ProgressBar, ProgressStyle};

pub const USAGE: &str = "usage: flowmeter-devserver backfill [--repo owner/name]... --since YYYY-MM-DD\n       flowmeter-devserver backfill --resume ID\n(no --repo: every repository of the config's teams and services)";

/// What the command was asked.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    New { repos: Vec<String>, since: String },
    Resume(String),
}

fn parse_args(args: &[String]) -> Result<Wanted, String> {
    let mut repos = Vec::new();
    let (mut since, mut resume) = (None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--repo" => repos.push(value()?),
            "--since" => since = Some(value()?),
            "--resume" => resume = Some(value()?),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    match (resume, since) {
        (Some(id), None) if repos.is_empty() => Ok(Wanted::Resume(id)),
        (None, Some(since)) => Ok(Wanted::New { repos, since }),
        _ => Err(USAGE.to_string()),
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Repository => "repository",
        Phase::PullList => "listing pull requests",
        Phase::PullRequests => "pull requests",
        Phase::Commits => "default branch",
        Phase::Deployments => "deployments",
        Phase::WorkflowRuns => "workflow runs",
        Phase::Incidents => "incidents",
        Phase::Done => "done",
        Phase::Failed => "failed",
    }
}

/// The bar's line for a job: PRs read of found, requests, waits, what is being read, ETA.
fn show(bar: &ProgressBar, job: &BackfillJob) {
    let (found, read) = job.pull_requests();
    bar.set_length(found.max(1));
    bar.set_position(read);
    let now_reading = job
        .repos
        .iter()
        .find(|r| !r.phase.is_final())
        .map(|r| format!("{} · {}", r.repo, phase_name(r.phase)))
        .unwrap_or_else(|| "finishing".into());
    let eta = job
        .eta_seconds(Utc::now())
        .map(|s| format!("ETA {:.0}s", s))
        .unwrap_or_else(|| "ETA …".into());
    bar.set_message(format!(
        "{} pages · {} rate-limit waits ({:.0}s) · {now_reading} · {eta}",
        job.counters.requests, job.counters.rate_limit_waits, job.counters.waited_seconds
    ));
}

/// Runs the command; the summary line on success, the reason on failure.
pub async fn backfill(store: &Store, args: &[String]) -> Result<String, String> {
    let wanted = parse_args(args)?;
    let config = load_config(store).await.map_err(|e| e.to_string())?;
    let settings = GitHubSettings::from_secrets(
        &flowmeter_edge::secrets::from_env(),
        std::env::var("FLOWMETER_GITHUB_API_URL").ok(),
    )
    .map_err(|e| e.to_string())?;
    let github = GitHubClient::from_settings(reqwest::Client::new(), &settings)
        .map_err(|e| e.to_string())?;
    let id = match wanted {
        Wanted::Resume(id) => id,
        Wanted::New { repos, since } => {
            let body = match repos.is_empty() {
                true => serde_json::json!({ "since": since }),
                false => serde_json::json!({ "repos": repos, "since": since }),
            };
            let request = BackfillRequest::parse(
                body.to_string().as_bytes(),
                &config,
                Utc::now().date_naive(),
            )
            .map_err(|e| e.to_string())?;
            match start(store, &request.repos, request.since, Utc::now())
                .await
                .map_err(|e| e.to_string())?
            {
                Ok(job) => job.id,
                Err(running) => {
                    return Err(format!(
                        "backfill {running} is running; follow it with --resume {running}"
                    ))
                }
            }
        }
    };
    eprintln!("backfill {id}");
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} PRs · {msg}",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    let started = Instant::now();
    let job = run_to_end(store, &github, &config, &id, |job| show(&bar, job))
        .await
        .map_err(|e| e.to_string())?;
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    let (found, read) = job.pull_requests();
    for repo in job.repos.iter().filter(|r| r.phase == Phase::Failed) {
        eprintln!(
            "  {} failed: {}",
            repo.repo,
            repo.error.as_deref().unwrap_or("?")
        );
    }
    let state = match job.state {
        JobState::Done => "done",
        JobState::Failed => "failed",
        JobState::Running => "running",
    };
    let summary = format!(
        "backfill {id} {state}: {} repos, {read}/{found} PRs, {} commits, {} deployments, {} incidents, {} facts; \
         {} requests ({:.2} per PR, {} not modified), {} rate-limit waits ({:.0}s), {} retries; {secs:.1}s ({:.1} PRs/s)",
        job.repos.len(),
        job.repos.iter().map(|r| r.commits).sum::<u64>(),
        job.repos.iter().map(|r| r.deployments).sum::<u64>(),
        job.repos.iter().map(|r| r.incidents).sum::<u64>(),
        job.repos.iter().map(|r| r.facts).sum::<u64>(),
        job.counters.requests,
        job.counters.requests as f64 / found.max(1) as f64,
        job.counters.not_modified,
        job.counters.rate_limit_waits,
        job.counters.waited_seconds,
        job.counters.retries,
        read as f64 / secs.max(0.001),
    );
    match job.state {
        JobState::Failed => Err(summary),
        _ => Ok(summary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn repos_and_since_or_a_resume_and_nothing_else() {
        assert_eq!(
            parse_args(&args(&[
                "--repo",
                "a/b",
                "--repo",
                "a/c",
                "--since",
                "2026-01-01"
            ])),
            Ok(Wanted::New {
                repos: vec!["a/b".into(), "a/c".into()],
                since: "2026-01-01".into()
            })
        );
        assert_eq!(
            parse_args(&args(&["--resume", "x"])),
            Ok(Wanted::Resume("x".into()))
        );
        for bad in [
            &["--repo", "a/b"][..],
            &["--since"],
            &["--resume", "x", "--since", "2026-01-01"],
            &["--bogus"],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
