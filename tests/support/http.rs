//! The local stack over HTTP: the dev server in-process on a free port, and the SES
//! emulator's store of sent emails.

use flowmeter_devserver::{serve, DevServerError, Settings};
use flowmeter_edge::store::Store;
use serde_json::Value;
use tokio::sync::{oneshot, watch};

use crate::secrets;

/// A free port, the tests' webhook secrets, these tokens, no config file.
pub fn devserver_settings(api_token: &str, admin_token: &str) -> Settings {
    Settings {
        port: 0,
        secrets: secrets(),
        api_token: api_token.into(),
        admin_token: admin_token.into(),
        gate_token: crate::GATE_TOKEN.into(),
        share_secret: String::new(),
        config_path: None,
        github: flowmeter_edge::github::GitHubSettings {
            api_url: "https://api.github.com".into(),
            auth: None,
        },
        channels: Default::default(),
        event_bus: None,
    }
}

/// A dev server serving a test's table; `stop` ends it, `task` is its result.
pub struct RunningDevServer {
    pub base: String,
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<Result<(), DevServerError>>,
}

impl RunningDevServer {
    /// Serves `store` on a free port with the tests' webhook secrets and these tokens.
    pub async fn start(store: Store, api_token: &str, admin_token: &str) -> RunningDevServer {
        RunningDevServer::start_with(store, devserver_settings(api_token, admin_token)).await
    }

    /// Serves `store` with these settings (chat channels, a local event bus to watch).
    pub async fn start_with(store: Store, settings: Settings) -> RunningDevServer {
        let (stop, stopped) = watch::channel(false);
        let (bound_tx, bound_rx) = oneshot::channel();
        let task = tokio::spawn(serve(store, settings, stopped, Some(bound_tx)));
        let address = bound_rx.await.expect("dev server bound");
        RunningDevServer {
            base: format!("http://{address}"),
            stop,
            task,
        }
    }

    /// Stops the server and checks that it ended cleanly.
    pub async fn stop_cleanly(self) {
        self.stop.send(true).expect("stop");
        self.task.await.expect("join").expect("serve ended cleanly");
    }

    /// `GET path` (no token).
    pub async fn get(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

/// Every email the SES emulator holds (`GET $FLOWMETER_SES_ENDPOINT/store`).
pub async fn ses_emails(http: &reqwest::Client) -> Vec<Value> {
    let endpoint = std::env::var("FLOWMETER_SES_ENDPOINT")
        .expect("FLOWMETER_SES_ENDPOINT (make test starts the SES emulator)");
    let store: Value = http
        .get(format!("{endpoint}/store"))
        .send()
        .await
        .expect("GET /store")
        .json()
        .await
        .expect("store JSON");
    store["emails"].as_array().cloned().unwrap_or_default()
}
