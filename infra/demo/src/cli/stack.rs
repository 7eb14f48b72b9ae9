//! `stack`: the dev server started on a free port (the emulators are already up) with its chat
//! channels posting to the demo's Slack stand-in, the demo run against it, and the server
//! stopped (or kept, with `--keep`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowmeter_demo::spec::NOTIFICATION_ROUTES;
use flowmeter_demo::DemoOrg;

use super::capture::SlackCapture;
use super::options::{admin_token, api_token, env, generate, secrets, usage, Options};
use super::{run, write_file, Phases};

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    Ok(port)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Starts the dev server (the emulators are already up: `infra/with-emulators.sh` runs this),
/// replays and reports, and stops the server (or keeps it with `--keep`).
pub(crate) async fn stack(o: &Options) -> Result<(), String> {
    let mut phases = Phases::new();
    let devserver = o
        .devserver
        .clone()
        .ok_or_else(|| format!("stack needs --devserver\n{}", usage()))?;
    if env("FLOWMETER_DYNAMODB_ENDPOINT").is_none() {
        return Err(
            "FLOWMETER_DYNAMODB_ENDPOINT is not set: run under infra/with-emulators.sh (make demo)"
                .into(),
        );
    }
    let t = Instant::now();
    let org = generate(o);
    let config_path = o
        .log
        .parent()
        .map_or(PathBuf::from("flowmeter-demo.yaml"), |d| {
            d.join("flowmeter-demo.yaml")
        });
    write_file(&config_path, org.config_yaml.as_bytes())?;
    // With --backfill the org's GitHub history is served here, for the dev server to read.
    let github = match o.backfill {
        true => Some(super::backfill::serve_history(&org).await?),
        false => None,
    };
    let github_url = github.as_ref().map(|g| g.url.clone());
    // The chat channels of the config's notifications.routes, each a webhook of this stand-in.
    let capture = SlackCapture::start()
        .await
        .map_err(|e| format!("cannot start the Slack stand-in: {e}"))?;
    let channels: Vec<&str> = NOTIFICATION_ROUTES.iter().map(|r| r.channel).collect();
    let (mut child, url) = start_devserver(
        o,
        &devserver,
        &config_path,
        github_url.as_deref(),
        &capture.channels_json(&channels),
    )?;
    wait_until_healthy(&mut child, &url, &o.log).await?;
    eprintln!(
        "  dev server on {url} (log: {}); chat channels {} post to {}",
        o.log.display(),
        channels.join(", "),
        capture.webhook_url("<channel>")
    );
    phases.record("start dev server", t);

    let result = run(o, &url, &mut phases, Some(&capture)).await;

    if o.keep && result.is_ok() {
        print_try_this(&org, &url, &config_path);
        wait_for_signal().await;
    } else if result.is_ok() {
        eprintln!(
            "  dashboard: {url}/dashboard/#token={} (served while the stack runs: `make demo-keep`)",
            api_token()
        );
    }
    stop(&mut child).await;
    eprintln!("{}", phases.summary());
    result
}

/// Spawns the dev server on `FLOWMETER_PORT` (else a free port) with the demo's secrets,
/// tokens, config and chat channels (`FLOWMETER_CHANNELS`), logging to `--log`; returns it and
/// its URL.
fn start_devserver(
    o: &Options,
    devserver: &Path,
    config_path: &Path,
    github_url: Option<&str>,
    channels: &str,
) -> Result<(tokio::process::Child, String), String> {
    let port = match env("FLOWMETER_PORT") {
        Some(p) => p.parse().map_err(|_| format!("FLOWMETER_PORT: {p}"))?,
        None => free_port()?,
    };
    let s = secrets();
    if let Some(dir) = o.log.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let log = std::fs::File::create(&o.log).map_err(|e| format!("{}: {e}", o.log.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut command = tokio::process::Command::new(devserver);
    if let Some(github_url) = github_url {
        command
            .env("FLOWMETER_GITHUB_API_URL", github_url)
            .env("FLOWMETER_GITHUB_TOKEN", super::backfill::GITHUB_TOKEN);
    }
    let child = command
        .env("FLOWMETER_PORT", port.to_string())
        .env("FLOWMETER_GITHUB_SECRET", &s.github)
        .env("FLOWMETER_PAGERDUTY_SECRET", &s.pagerduty)
        .env("FLOWMETER_WEBHOOK_SECRET", &s.generic)
        .env("FLOWMETER_JIRA_SECRET", &s.jira)
        .env("FLOWMETER_JIRA_TOKEN", &s.jira_token)
        .env("FLOWMETER_LINEAR_SECRET", &s.linear)
        .env("FLOWMETER_GITLAB_TOKEN", &s.gitlab)
        .env("FLOWMETER_ARGOCD_TOKEN", &s.argocd)
        .env("FLOWMETER_API_TOKEN", api_token())
        .env("FLOWMETER_ADMIN_TOKEN", admin_token())
        .env("FLOWMETER_CONFIG", config_path)
        .env("FLOWMETER_CHANNELS", channels)
        .env(
            "TABLE_NAME",
            env("TABLE_NAME").unwrap_or_else(|| "flowmeter".into()),
        )
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", devserver.display()))?;
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// Polls `/healthz` until the server answers, it exits (its log's tail is the error), or 60 s
/// pass (then it is killed).
async fn wait_until_healthy(
    child: &mut tokio::process::Child,
    url: &str,
    log: &Path,
) -> Result<(), String> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the dev server exited ({status}) before answering; last lines of {}:\n{}",
                log.display(),
                tail(log, 20)
            ));
        }
        if let Ok(r) = http.get(format!("{url}/healthz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill().await;
            return Err(format!("the dev server did not answer on {url} within 60s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `--keep`: what to try against the running stack.
fn print_try_this(org: &DemoOrg, url: &str, config_path: &Path) {
    let (api_token, admin_token) = (api_token(), admin_token());
    let period = format!("from={}&to={}", org.from(), org.to());
    eprintln!(
        "\nThe stack keeps running with the demo data loaded (Ctrl-C stops it). Try:\n  \
         dashboard: {url}/dashboard/#token={api_token}\n  \
         curl -s -H 'Authorization: Bearer {api_token}' '{url}/v1/dora?scope=team:{}&{period}'\n  \
         curl -s -H 'Authorization: Bearer {api_token}' '{url}/v1/pull-requests?scope=org&{period}'\n  \
         curl -s -H 'Authorization: Bearer {api_token}' '{url}/v1/incidents?scope=service:checkout&{period}'\n  \
         curl -s -H 'Authorization: Bearer {api_token}' '{url}/metrics'\n  \
         curl -s -H 'Authorization: Bearer {admin_token}' '{url}/dev/events'\n  \
         admin token: {admin_token} · config: {}",
        org.struggling_team,
        config_path.display()
    );
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// SIGTERM (the dev server shuts down cleanly on it), then SIGKILL after 5 s.
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}
