//! A local stand-in for a Slack incoming webhook (there is no network here): answers like
//! Slack (plain-text `ok`, `invalid_payload`, `invalid_blocks`, `no_text`, 429 with
//! `Retry-After`), enforces Block Kit's documented limits, and records what it accepted.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use serde_json::Value;

use crate::http::{body_bytes, serve_loopback};

/// A scripted answer, used before falling back to Slack's normal behaviour.
#[derive(Clone, Debug)]
pub enum Scripted {
    /// 429 with `Retry-After: <seconds>`.
    RateLimited(u64),
    /// Any status with a plain-text body, e.g. (404, "channel_not_found").
    Error(u16, &'static str),
    /// Answers as Slack normally would (to script a failure after some successes).
    Pass,
    /// Takes the request and never answers: the sender is left waiting, as a run is when its
    /// Lambda times out mid-send.
    Hang,
}

#[derive(Default)]
struct State {
    script: VecDeque<Scripted>,
    accepted: Vec<Value>,
    requests: usize,
}

#[derive(Clone)]
pub struct SlackStandIn {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl SlackStandIn {
    pub async fn start() -> SlackStandIn {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let address = serve_loopback(move |request| answer(shared.clone(), request)).await;
        SlackStandIn {
            url: format!("http://{address}/services/T000/B000/XXXX"),
            state,
        }
    }

    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        if let Ok(mut state) = self.state.lock() {
            state.script.extend(answers);
        }
    }

    /// Messages accepted (answered 200 `ok`), in order.
    pub fn accepted(&self) -> Vec<Value> {
        self.state
            .lock()
            .map(|s| s.accepted.clone())
            .unwrap_or_default()
    }

    pub fn requests(&self) -> usize {
        self.state.lock().map(|s| s.requests).unwrap_or_default()
    }
}

fn reply(
    status: u16,
    body: &'static str,
    retry_after: Option<u64>,
) -> hyper::Response<Full<Bytes>> {
    crate::http::reply(status, "text/plain", body, retry_after)
}

async fn answer(
    state: Arc<Mutex<State>>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let body = body_bytes(request.into_body()).await;
    let scripted = {
        let Ok(mut state) = state.lock() else {
            return Ok(reply(500, "rollup_error", None));
        };
        state.requests += 1;
        state.script.pop_front()
    };
    match scripted {
        Some(Scripted::RateLimited(seconds)) => {
            return Ok(reply(429, "rate_limited", Some(seconds)))
        }
        Some(Scripted::Error(status, text)) => return Ok(reply(status, text, None)),
        Some(Scripted::Hang) => std::future::pending::<()>().await,
        Some(Scripted::Pass) | None => {}
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return Ok(reply(400, "invalid_payload", None));
    };
    let has_text = message
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    if !has_text && message.get("blocks").is_none() {
        return Ok(reply(400, "no_text", None));
    }
    if flowmeter::digest::slack::check_block_kit_limits(&message).is_err() {
        return Ok(reply(400, "invalid_blocks", None));
    }
    if let Ok(mut state) = state.lock() {
        state.accepted.push(message);
    }
    Ok(reply(200, "ok", None))
}
