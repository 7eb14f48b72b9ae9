//! The `flowmeter-demo` command: its options, and the steps of `run` (generate, replay,
//! converge, live, events, digest, report) and of `stack` (the dev server around `run`, and the
//! Slack stand-in its chat channels post to).

mod api;
mod backfill;
mod capture;
mod converge;
mod events;
mod live;
pub(crate) mod options;
mod readback;
mod replay;
pub(crate) mod stack;
pub(crate) mod stats;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowmeter_demo::report;
use flowmeter_demo::DemoOrg;

use self::api::Api;
use self::capture::SlackCapture;
use self::converge::converge;
use self::events::EventsOut;
use self::options::{generate, Options};
use self::readback::{digest, team_numbers};

/// Phase timings, printed at the end.
pub(crate) struct Phases {
    started: Instant,
    done: Vec<(String, Duration)>,
}

impl Phases {
    pub(crate) fn new() -> Phases {
        Phases {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    pub(crate) fn record(&mut self, name: &str, since: Instant) {
        let took = since.elapsed();
        eprintln!("==> {name}: {:.1}s", took.as_secs_f64());
        self.done.push((name.to_string(), took));
    }

    pub(crate) fn summary(&self) -> String {
        let parts: Vec<String> = self
            .done
            .iter()
            .map(|(n, d)| format!("{n} {:.1}s", d.as_secs_f64()))
            .collect();
        format!(
            "phases: {} · total {:.1}s",
            parts.join(" · "),
            self.started.elapsed().as_secs_f64()
        )
    }
}

pub(crate) fn write_config(o: &Options) -> Result<(), String> {
    let org = generate(o);
    match &o.config_out {
        Some(path) => write_file(path, org.config_yaml.as_bytes()),
        None => {
            print!("{}", org.config_yaml);
            Ok(())
        }
    }
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// `run`: generate the org, replay it, wait for the rollups and then for the events they
/// announced, write the digest, print the report; each step a phase. `capture`: the Slack
/// stand-in the server's chat channels post to, when the demo started the server.
pub(crate) async fn run(
    o: &Options,
    url: &str,
    phases: &mut Phases,
    capture: Option<&SlackCapture>,
) -> Result<(), String> {
    let t = Instant::now();
    let org = generate_org(o);
    phases.record("generate", t);

    let api = Api::new(url)?;
    api.get("/v1/teams", "")
        .await
        .map_err(|e| format!("the dev server at {url} does not answer the read API: {e}"))?;

    let t = Instant::now();
    let replayed = replay_org(&api, &org, o.senders, o.backfill).await;
    phases.record("replay", t);
    replayed?;

    if o.backfill {
        let t = Instant::now();
        let figures = backfill::backfill(&api, &org).await;
        phases.record("backfill", t);
        eprintln!("  {}", figures?);
    }

    let t = Instant::now();
    let matched = converge(&api, &org).await?;
    phases.record("converge", t);

    // What happens now, after the history: the events the rollup announces.
    let mut live_note = None;
    if !o.no_live {
        let t = Instant::now();
        let lived = live::live(&api, &org, chrono::Utc::now()).await;
        phases.record("live", t);
        live_note = lived?;
    }

    // The stream is drained: what still moves is the events' publishing and routing.
    let t = Instant::now();
    let events = events::settle(&api, capture).await?;
    phases.record("events", t);

    // The digest first: the report shows its needs-attention verdict.
    let t = Instant::now();
    let (note, attention) = digest(&api, &org, &o.out).await?;
    eprintln!("  {note}");
    phases.record("digest", t);

    let t = Instant::now();
    print_report(
        &api,
        &org,
        &attention,
        &events,
        live_note.as_deref(),
        matched,
    )
    .await?;
    phases.record("report", t);
    if !matched {
        return Err("the rollups differ from the generator's ground truth (see above)".into());
    }
    Ok(())
}

/// The sample org, and a line saying what it holds.
fn generate_org(o: &Options) -> DemoOrg {
    let org = generate(o);
    let bytes: usize = org.deliveries.iter().map(|d| d.delivery.body.len()).sum();
    eprintln!(
        "  sample org (seed {}): 4 teams, 22 engineers, 12 repos, 3 services, {} → {}: {} deliveries ({:.1} MB)",
        org.seed,
        org.first_week,
        org.last_week,
        org.deliveries.len(),
        bytes as f64 / 1e6
    );
    org
}

/// Every delivery (but GitHub's, when they come by backfill), in the replay order, through
/// `senders` senders; an error if any was rejected.
async fn replay_org(
    api: &Api,
    org: &DemoOrg,
    senders: usize,
    github_by_backfill: bool,
) -> Result<(), String> {
    let t = Instant::now();
    let deliveries = Arc::new(
        flowmeter_demo::replay_order(&org.deliveries)
            .into_iter()
            .filter(|d| !(github_by_backfill && backfill::is_github(d)))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let sent = deliveries.len();
    let stats = replay::replay(api, deliveries, senders, &org.secrets.linear).await;
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "  replayed {} deliveries with {} senders: {} accepted, {} rejected, {} retries ({:.0}/s)",
        sent,
        senders,
        stats.accepted,
        stats.rejected.len(),
        stats.retries,
        sent as f64 / secs.max(0.001)
    );
    for (i, status, body) in stats.rejected.iter().take(5) {
        eprintln!("    delivery {i}: {status} {body}");
    }
    if !stats.rejected.is_empty() {
        return Err(format!("{} deliveries were rejected", stats.rejected.len()));
    }
    Ok(())
}

/// The report: every team's numbers and the org's, the digest's verdict, the events out, and
/// whether the pipeline matched the ground truth.
async fn print_report(
    api: &Api,
    org: &DemoOrg,
    attention: &[(String, String)],
    events: &EventsOut,
    live: Option<&str>,
    matched: bool,
) -> Result<(), String> {
    let mut teams = Vec::new();
    for team in &org.teams {
        teams.push(team_numbers(api, org, &format!("team:{}", team.name), &team.name).await?);
    }
    teams.push(team_numbers(api, org, "org", "org").await?);
    let title = format!(
        "Engineering health · {} · {} → {} ({} weeks, {})",
        flowmeter_demo::spec::ORG,
        org.first_week,
        org.last_week,
        org.weeks().len(),
        flowmeter_demo::spec::TIMEZONE_NAME
    );
    let text = report::render(
        &title,
        &teams,
        &org.last_week.to_string(),
        &org.last_week.prev().to_string(),
        Some(attention),
    );
    let environments = api.get("/v1/environments", "scope=org").await?;
    let mut tickets = Vec::new();
    let mut security = Vec::new();
    for team in &org.teams {
        let query = format!(
            "scope=team:{}&from={}&to={}",
            team.name,
            org.from(),
            org.to()
        );
        tickets.push((team.name.clone(), api.get("/v1/tickets", &query).await?));
        security.push((team.name.clone(), api.get("/v1/security", &query).await?));
    }
    let mut verdicts = Vec::new();
    let heads = org
        .truth
        .main_history
        .iter()
        .filter_map(|(repo, history)| Some((repo.clone(), history.last()?.clone())))
        .collect();
    for request in report::gate_requests(&environments, &heads) {
        verdicts.push(
            api.post_admin("/v1/gates/release-version", &request)
                .await?,
        );
    }
    let newest_change = org.deliveries.iter().map(|d| d.at).max();
    println!(
        "\n{text}{}{}{}{}{}",
        report::environments(&environments),
        report::tickets(&tickets, &environments),
        report::security(&security),
        report::release_gates(&verdicts),
        report::events_out(
            &events.bus,
            &events.channels,
            newest_change,
            live,
            chrono::Utc::now()
        )
    );
    let named = attention
        .iter()
        .any(|(team, _)| *team == org.struggling_team);
    println!(
        "The sample org's struggling team is {}: the digest {}.",
        org.struggling_team,
        if named {
            "names it"
        } else {
            "does NOT name it"
        }
    );
    if matched {
        println!("Pipeline check: the org's deployments, failures, lead times, merged PRs, tickets done and shipped, and security alerts open and fixed equal the generator's ground truth.");
    }
    Ok(())
}
