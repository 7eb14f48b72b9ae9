//! `flowmeter-devserver`: the local stack's server (`make dev`), and the admin command
//! `flowmeter-devserver reprocess`, which rebuilds every projection and rollup from facts in the
//! table that `TABLE_NAME` and `FLOWMETER_DYNAMODB_ENDPOINT` (or the AWS defaults) name.

use flowmeter_devserver::{serve, Settings};
use flowmeter_edge::settings::{load_config, store_from_env};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

#[tokio::main]
async fn main() {
    flowmeter_edge::init_logging();
    let store = store_from_env().await;
    if std::env::args().nth(1).as_deref() == Some("reprocess") {
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
