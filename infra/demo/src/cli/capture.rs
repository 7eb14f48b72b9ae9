//! A stand-in for Slack's incoming webhooks, so that the demo sees what its chat channels got:
//! an HTTP/1.1 server on 127.0.0.1 that answers every request `200 ok`, as a Slack webhook
//! does, and records each POSTed JSON body under its path (one path per channel:
//! `FLOWMETER_CHANNELS` names `<url>/<channel>` as the channel's `slack_webhook_url`).
//!
//! Plain tokio: the notifier's client sends a `Content-Length` body (reqwest's `.json`), keeps
//! the connection alive between messages, and reads the answer; that is all this speaks
//! (a chunked body is refused with 411, a body above 1 MiB with 413).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Bodies above this are refused: far above Slack's own limits for a message.
const BODY_LIMIT: usize = 1024 * 1024;
/// Request line and headers above this end the connection.
const HEAD_LIMIT: usize = 64 * 1024;

type Received = Arc<Mutex<BTreeMap<String, Vec<Value>>>>;

fn lock(received: &Received) -> MutexGuard<'_, BTreeMap<String, Vec<Value>>> {
    received.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running stand-in; it stops accepting when dropped.
pub(crate) struct SlackCapture {
    base: String,
    received: Received,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SlackCapture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl SlackCapture {
    /// Listens on a free port of 127.0.0.1.
    pub(crate) async fn start() -> std::io::Result<SlackCapture> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let received = Received::default();
        let recording = received.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(stream, recording.clone()));
            }
        });
        Ok(SlackCapture {
            base,
            received,
            server,
        })
    }

    /// The webhook URL of `channel`: `http://127.0.0.1:<port>/<channel>`.
    pub(crate) fn webhook_url(&self, channel: &str) -> String {
        format!("{}/{channel}", self.base)
    }

    /// `FLOWMETER_CHANNELS` for these channels, each with its own webhook URL here.
    pub(crate) fn channels_json(&self, channels: &[&str]) -> String {
        let object: serde_json::Map<String, Value> = channels
            .iter()
            .map(|c| {
                let url = self.webhook_url(c);
                (
                    c.to_string(),
                    serde_json::json!({ "slack_webhook_url": url }),
                )
            })
            .collect();
        Value::Object(object).to_string()
    }

    /// The bodies posted to `/<channel>`, oldest first (a body that is not JSON as a string).
    pub(crate) fn messages(&self, channel: &str) -> Vec<Value> {
        lock(&self.received)
            .get(&format!("/{channel}"))
            .cloned()
            .unwrap_or_default()
    }

    /// How many bodies each path got: what changes while messages still arrive.
    pub(crate) fn counts(&self) -> BTreeMap<String, usize> {
        lock(&self.received)
            .iter()
            .map(|(path, bodies)| (path.clone(), bodies.len()))
            .collect()
    }
}

/// One request as far as the stand-in cares.
struct Request {
    method: String,
    path: String,
    length: Option<usize>,
    chunked: bool,
    close: bool,
}

/// Reads the request line and headers; `None` at the end of the connection.
async fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    let mut read = 0;
    // Blank lines before a request line are allowed (RFC 9112, 2.2).
    while line.trim().is_empty() {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        read += line.len();
        if read > HEAD_LIMIT {
            return Ok(None);
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_string();
    let mut request = Request {
        method,
        path,
        length: None,
        chunked: false,
        close: parts.next() == Some("HTTP/1.0"),
    };
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).await? == 0 {
            return Ok(None);
        }
        read += header.len();
        if read > HEAD_LIMIT {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            return Ok(Some(request));
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => request.length = value.parse().ok(),
            "transfer-encoding" => request.chunked = value.contains("chunked"),
            "connection" => request.close = value.contains("close"),
            _ => {}
        }
    }
}

async fn respond(
    stream: &mut BufReader<TcpStream>,
    status: &str,
    body: &str,
    close: bool,
) -> std::io::Result<()> {
    let connection = if close { "close" } else { "keep-alive" };
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: {connection}\r\n\r\n{body}",
        body.len()
    );
    stream.get_mut().write_all(answer.as_bytes()).await?;
    stream.get_mut().flush().await
}

/// Answers the requests of one connection until it closes.
async fn serve(stream: TcpStream, received: Received) {
    let mut reader = BufReader::new(stream);
    // An error ends the connection: the notifier reports the failed post.
    let _ = serve_requests(&mut reader, &received).await;
}

async fn serve_requests(
    reader: &mut BufReader<TcpStream>,
    received: &Received,
) -> std::io::Result<()> {
    while let Some(request) = read_head(reader).await? {
        if request.chunked {
            return respond(reader, "411 Length Required", "length required", true).await;
        }
        let length = request.length.unwrap_or(0);
        if length > BODY_LIMIT {
            return respond(reader, "413 Payload Too Large", "too large", true).await;
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        if request.method == "POST" {
            let value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            lock(received).entry(request.path).or_default().push(value);
        }
        respond(reader, "200 OK", "ok", request.close).await?;
        if request.close {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_answers_ok_and_records_each_channel_s_json_bodies() {
        let capture = SlackCapture::start().await.expect("listens");
        let http = reqwest::Client::new();
        for (channel, text) in [
            ("platform", "one"),
            ("platform", "two"),
            ("security", "three"),
        ] {
            let response = http
                .post(capture.webhook_url(channel))
                .json(&serde_json::json!({ "text": text }))
                .send()
                .await
                .expect("answers");
            assert_eq!(response.status(), 200);
            assert_eq!(response.text().await.expect("body"), "ok");
        }
        assert_eq!(
            capture.messages("platform"),
            [
                serde_json::json!({"text": "one"}),
                serde_json::json!({"text": "two"})
            ]
        );
        assert_eq!(capture.messages("security").len(), 1);
        assert!(capture.messages("payments").is_empty());
        assert_eq!(
            capture.counts(),
            BTreeMap::from([("/platform".into(), 2), ("/security".into(), 1)])
        );
        let channels: Value =
            serde_json::from_str(&capture.channels_json(&["platform"])).expect("JSON");
        assert_eq!(
            channels["platform"]["slack_webhook_url"],
            capture.webhook_url("platform")
        );
    }
}
