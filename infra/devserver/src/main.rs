//! `flowmeter-devserver`: the local stack's server (`make dev`), and the admin command
//! `flowmeter-devserver reprocess`, which rebuilds every projection and rollup from facts in the
//! table that `TABLE_NAME` and `FLOWMETER_DYNAMODB_ENDPOINT` (or the AWS defaults) name, and
//! `flowmeter-devserver digest-preview [YYYY-Www] [dir]`, which renders a week's digest to files,
//! and `flowmeter-devserver backfill --repo owner/name --since YYYY-MM-DD`, which backfills
//! GitHub history into that table with a progress bar.

use flowmeter_devserver::{serve, Settings};
use flowmeter_edge::settings::{load_config, store_from_env};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

#[tokio::main]
async fn main() {
    flowmeter_edge::init_logging();
    let store = store_from_env().await;
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("digest-preview") {
        match digest_preview(&store, args.get(2), args.get(3)).await {
            Ok(written) => println!("{written}"),
            Err(e) => {
                eprintln!("digest-preview failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some("backfill") {
        match flowmeter_devserver::backfill_command::backfill(&store, &args[2..]).await {
            Ok(summary) => println!("{summary}"),
            Err(e) => {
                eprintln!("backfill failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some("reprocess") {
        let result = match load_config(&store).await {
            Ok(config) => flowmeter_edge::reprocess::reprocess(&store, config).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(report) => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
            Err(e) => {
                eprintln!("reprocess failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("flowmeter-devserver: {e}");
            std::process::exit(2);
        }
    };
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
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
        let _ = stop.send(true);
    });
    if let Err(e) = serve(store, settings, stopped, None).await {
        eprintln!("flowmeter-devserver: {e}");
        std::process::exit(1);
    }
}

/// `flowmeter-devserver digest-preview [YYYY-Www] [dir]`: renders the digest of a week (default:
/// the last full week) from the table into `<dir>/digest.html`, `digest.txt`, `slack.json`
/// (default dir `out`), sending nothing.
async fn digest_preview(
    store: &flowmeter_edge::store::Store,
    week: Option<&String>,
    dir: Option<&String>,
) -> Result<String, String> {
    let config = load_config(store).await.map_err(|e| e.to_string())?;
    let event = flowmeter_edge::digest::DigestEvent {
        scheduled_time: None,
        week: week.cloned(),
    };
    let (now, week) = event.resolve(&config, chrono::Utc::now())?;
    let digest = flowmeter_edge::digest::build(store, &config, week, now)
        .await
        .map_err(|e| e.to_string())?;
    let dir = std::path::PathBuf::from(dir.map_or("out", String::as_str));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let email = flowmeter::digest::render_email(&digest);
    let slack = serde_json::to_string_pretty(&flowmeter::digest::slack_messages(&digest))
        .map_err(|e| e.to_string())?;
    for (name, text) in [
        ("digest.html", &email.html),
        ("digest.txt", &email.text),
        ("slack.json", &slack),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(format!(
        "digest of {week} written to {}/{{digest.html,digest.txt,slack.json}}",
        dir.display()
    ))
}
