//! A local stand-in for Slack's Web API method `chat.postMessage` (there is no network here), a
//! real HTTP server on a loopback port. It answers as Slack does: HTTP 200 with
//! `{"ok": true, "channel": "C…", "ts": "…", "message": {…}}`, or HTTP 200 with
//! `{"ok": false, "error": "<code>"}` for a request it refuses: `not_authed` / `invalid_auth`
//! (the bearer token), `invalid_json`, `channel_not_found` (a channel the workspace does not
//! have), `not_in_channel` (one the app was not invited to), `no_text`, `msg_too_long`,
//! `invalid_blocks` (Block Kit's documented limits, `flowmeter::digest::check_block_kit_limits`,
//! with Slack's `response_metadata.messages`); and, scripted per channel, 429 with
//! `Retry-After` or any error code. A JSON body without `charset=utf-8` is accepted with
//! Slack's `missing_charset` warning. It records the messages it accepted, per channel.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use serde_json::{json, Value};

use crate::http::{body_bytes, serve_loopback};

/// Slack's limit on a message's `text` (longer is `msg_too_long`).
const MAX_TEXT_CHARS: usize = 40_000;

/// A scripted answer for one channel's next request (after the token and the channel were
/// checked), before falling back to Slack's normal behaviour.
#[derive(Clone, Debug)]
pub enum Scripted {
    /// HTTP 429 with `Retry-After: <seconds>` and `{"ok": false, "error": "ratelimited"}`.
    RateLimited(u64),
    /// HTTP 200 with `{"ok": false, "error": <code>}`, e.g. `internal_error`.
    Error(&'static str),
    /// Answers as Slack normally would (to script a failure after some successes).
    Pass,
}

/// One channel of the stand-in's workspace.
#[derive(Clone, Debug)]
struct Channel {
    id: String,
    name: String,
    member: bool,
}

#[derive(Default)]
struct State {
    channels: Vec<Channel>,
    script: BTreeMap<String, VecDeque<Scripted>>,
    /// Accepted messages by channel name (without `#`), each as the request's body.
    accepted: BTreeMap<String, Vec<Value>>,
    /// Every request's `error` code (`ok` for an accepted one), in order.
    answers: Vec<String>,
    /// `warning`s of accepted requests.
    warnings: Vec<String>,
    requests: usize,
    ts: u64,
}

#[derive(Clone)]
pub struct SlackApiStandIn {
    /// The API base URL, as `FLOWMETER_SLACK_API_URL` takes it (`http://127.0.0.1:<port>/api`).
    pub url: String,
    token: String,
    state: Arc<Mutex<State>>,
}

impl SlackApiStandIn {
    /// A workspace whose app has bot token `token` and is a member of the channels `joined`
    /// (names without `#`); the channels `not_joined` exist, but the app was not invited.
    /// Channel ids are `C0000000001`, `C0000000002`, … in the order given, joined first.
    pub async fn start(token: &str, joined: &[&str], not_joined: &[&str]) -> SlackApiStandIn {
        let channels = joined
            .iter()
            .map(|name| (name, true))
            .chain(not_joined.iter().map(|name| (name, false)))
            .enumerate()
            .map(|(i, (name, member))| Channel {
                id: format!("C{:010}", i + 1),
                name: name.trim_start_matches('#').to_string(),
                member,
            })
            .collect();
        let state = Arc::new(Mutex::new(State {
            channels,
            ts: 1_791_360_000_000_100,
            ..State::default()
        }));
        let (shared, token_owned) = (state.clone(), token.to_string());
        let address =
            serve_loopback(move |request| answer(shared.clone(), token_owned.clone(), request))
                .await;
        SlackApiStandIn {
            url: format!("http://{address}/api"),
            token: token.to_string(),
            state,
        }
    }

    /// The bot token the stand-in accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The id of channel `name` (`#` optional).
    pub fn channel_id(&self, name: &str) -> Option<String> {
        let name = name.trim_start_matches('#');
        let state = self.state.lock().ok()?;
        state
            .channels
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.id.clone())
    }

    /// Answers for the next requests to channel `name` (`#` optional).
    pub fn script(&self, name: &str, answers: impl IntoIterator<Item = Scripted>) {
        if let Ok(mut state) = self.state.lock() {
            state
                .script
                .entry(name.trim_start_matches('#').to_string())
                .or_default()
                .extend(answers);
        }
    }

    /// Messages accepted for channel `name` (`#` optional), in order, as posted (with their
    /// `channel`).
    pub fn accepted(&self, name: &str) -> Vec<Value> {
        let name = name.trim_start_matches('#');
        self.state
            .lock()
            .map(|s| s.accepted.get(name).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Every answer's code in order: `ok`, or the `error` of a refused request.
    pub fn answers(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.answers.clone())
            .unwrap_or_default()
    }

    /// The `warning`s Slack would have added to accepted answers (`missing_charset`).
    pub fn warnings(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.warnings.clone())
            .unwrap_or_default()
    }

    pub fn requests(&self) -> usize {
        self.state.lock().map(|s| s.requests).unwrap_or_default()
    }
}

fn reply(status: u16, body: &Value, retry_after: Option<u64>) -> hyper::Response<Full<Bytes>> {
    let content_type = "application/json; charset=utf-8";
    crate::http::reply(status, content_type, body.to_string(), retry_after)
}

/// An `"ok": false` answer, recorded.
fn refuse(state: &Mutex<State>, error: &str, extra: Value) -> hyper::Response<Full<Bytes>> {
    if let Ok(mut state) = state.lock() {
        state.answers.push(error.to_string());
    }
    let mut body = json!({ "ok": false, "error": error });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    reply(200, &body, None)
}

async fn answer(
    state: Arc<Mutex<State>>,
    token: String,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (authorization, content_type) = (header("authorization"), header("content-type"));
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let body = body_bytes(request.into_body()).await;
    if let Ok(mut state) = state.lock() {
        state.requests += 1;
    }
    if path != "/api/chat.postMessage" {
        return Ok(refuse(&state, "unknown_method", json!({})));
    }
    if method != hyper::Method::POST {
        return Ok(refuse(&state, "invalid_request", json!({})));
    }
    match authorization.strip_prefix("Bearer ") {
        None => return Ok(refuse(&state, "not_authed", json!({}))),
        Some(given) if given != token => return Ok(refuse(&state, "invalid_auth", json!({}))),
        Some(_) => {}
    }
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        // The stand-in speaks JSON only; Slack would try to read a form and find no channel.
        return Ok(refuse(&state, "invalid_post_type", json!({})));
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return Ok(refuse(&state, "invalid_json", json!({})));
    };
    let requested = message
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let channel = {
        let Ok(state) = state.lock() else {
            return Ok(reply(500, &json!({"ok": false}), None));
        };
        let name = requested.trim_start_matches('#');
        state
            .channels
            .iter()
            .find(|c| c.id == requested || (!name.is_empty() && c.name == name))
            .cloned()
    };
    let Some(channel) = channel else {
        return Ok(refuse(&state, "channel_not_found", json!({})));
    };
    if !channel.member {
        return Ok(refuse(&state, "not_in_channel", json!({})));
    }
    let scripted = state
        .lock()
        .ok()
        .and_then(|mut s| s.script.get_mut(&channel.name)?.pop_front());
    match scripted {
        Some(Scripted::RateLimited(seconds)) => {
            if let Ok(mut state) = state.lock() {
                state.answers.push("ratelimited".into());
            }
            return Ok(reply(
                429,
                &json!({"ok": false, "error": "ratelimited"}),
                Some(seconds),
            ));
        }
        Some(Scripted::Error(code)) => return Ok(refuse(&state, code, json!({}))),
        Some(Scripted::Pass) | None => {}
    }
    let text = message.get("text").and_then(Value::as_str).unwrap_or("");
    if text.is_empty() && message.get("blocks").is_none() {
        return Ok(refuse(&state, "no_text", json!({})));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Ok(refuse(&state, "msg_too_long", json!({})));
    }
    if let Err(err) = flowmeter::digest::check_block_kit_limits(&message) {
        return Ok(refuse(
            &state,
            "invalid_blocks",
            json!({ "response_metadata": { "messages": [format!("[ERROR] {err}")] } }),
        ));
    }
    let warning =
        (!content_type.to_ascii_lowercase().contains("charset=utf-8")).then_some("missing_charset");
    Ok(accept(&state, &channel, message, warning))
}

/// Records an accepted message and answers as Slack does, with the message as posted.
fn accept(
    state: &Mutex<State>,
    channel: &Channel,
    mut message: Value,
    warning: Option<&str>,
) -> hyper::Response<Full<Bytes>> {
    let ts = {
        let Ok(mut state) = state.lock() else {
            return reply(500, &json!({"ok": false}), None);
        };
        state.ts += 1;
        let ts = format!("{}.{:06}", state.ts / 1_000_000, state.ts % 1_000_000);
        state.answers.push("ok".into());
        if let Some(warning) = warning {
            state.warnings.push(warning.into());
        }
        state
            .accepted
            .entry(channel.name.clone())
            .or_default()
            .push(message.clone());
        ts
    };
    let mut posted = json!({
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0STANDIN01",
        "ts": ts,
    });
    if let (Some(posted), Some(sent)) = (posted.as_object_mut(), message.as_object_mut()) {
        sent.remove("channel");
        for key in ["text", "blocks"] {
            if let Some(value) = sent.remove(key) {
                posted.insert(key.into(), value);
            }
        }
    }
    let mut body = json!({ "ok": true, "channel": channel.id, "ts": ts, "message": posted });
    if let (Some(body), Some(warning)) = (body.as_object_mut(), warning) {
        body.insert("warning".into(), warning.into());
    }
    reply(200, &body, None)
}
