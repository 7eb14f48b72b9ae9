//! The local stack over HTTP: the dev server in-process on a free port, the SES emulator's
//! store of sent emails, and the loopback servers the stand-ins for outside services run on.

use std::future::Future;
use std::net::SocketAddr;

use flowmeter_devserver::{serve, DevServerError, Settings};
use flowmeter_edge::store::Store;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
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

/// Serves `answer` over HTTP/1 on a free loopback port, each connection on its own task, until
/// the test's runtime ends; answers the address. A stand-in's state goes in `answer`'s captures.
pub async fn serve_loopback<F, Fut, E>(answer: F) -> SocketAddr
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<hyper::Response<Full<Bytes>>, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    });
    address
}

/// A request's whole body (empty if it could not be read: the stand-in then refuses it).
pub async fn body_bytes(body: Incoming) -> Bytes {
    body.collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// An answer with this status, `content-type` and body, and `Retry-After` when given.
pub fn reply(
    status: u16,
    content_type: &str,
    body: impl Into<Bytes>,
    retry_after: Option<u64>,
) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder()
        .status(status)
        .header("content-type", content_type);
    if let Some(seconds) = retry_after {
        builder = builder.header("retry-after", seconds.to_string());
    }
    builder
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}
