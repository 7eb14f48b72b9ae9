//! Delivery of a rendered digest: email through SES v2 `SendEmail`, chat messages through a
//! Slack incoming webhook (or a Teams Workflows webhook). Each sender knows its service's
//! failure modes: throttling is retried with backoff (Slack's `Retry-After` is honoured),
//! rejections that retrying cannot fix are reported at once with the service's own words.

use std::time::Duration;

use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sesv2::types::{Body as SesBody, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client as SesClient;

/// How often a throttled send is tried in all.
const ATTEMPTS: u32 = 5;
/// Longest `Retry-After` honoured; a longer one fails the send (the schedule retries later).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// SES refused the message (e.g. an unverified identity in the sandbox): retrying is useless.
    #[error("SES rejected the email: {0}")]
    Rejected(String),
    #[error("SES is throttling and {ATTEMPTS} attempts failed: {0}")]
    Throttled(String),
    #[error("SES SendEmail failed: {0}")]
    Ses(String),
    #[error("chat webhook answered {status}: {body}")]
    Webhook { status: u16, body: String },
    #[error("chat webhook kept answering 429 after {ATTEMPTS} attempts")]
    WebhookThrottled,
    /// The webhook could not be reached. The text never holds the URL (a chat webhook URL is
    /// its own credential): reqwest's errors are stripped of it.
    #[error("chat webhook unreachable: {0}")]
    Unreachable(String),
    #[error("the send did not finish within {0} s")]
    Deadline(u64),
}

impl NotifyError {
    /// Whether a later retry of the whole digest may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            NotifyError::Rejected(_) => false,
            NotifyError::Webhook { status, .. } => *status >= 500,
            _ => true,
        }
    }
}

/// Builds the SES v2 client. `FLOWMETER_SES_ENDPOINT` points it at the local emulator.
pub async fn ses_client() -> SesClient {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Ok(endpoint) = std::env::var("FLOWMETER_SES_ENDPOINT") {
        loader = loader.endpoint_url(endpoint);
    }
    SesClient::new(&loader.load().await)
}

fn content(text: &str) -> Result<Content, NotifyError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| NotifyError::Ses(e.to_string()))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 * 2u64.pow(attempt.min(6)))
}

/// Sends one email (HTML and plain-text parts). Returns SES's message id.
pub async fn send_email(
    ses: &SesClient,
    from: &str,
    to: &[String],
    subject: &str,
    html: &str,
    text: &str,
) -> Result<String, NotifyError> {
    let message = Message::builder()
        .subject(content(subject)?)
        .body(
            SesBody::builder()
                .html(content(html)?)
                .text(content(text)?)
                .build(),
        )
        .build();
    let destination = Destination::builder()
        .set_to_addresses(Some(to.to_vec()))
        .build();
    let mut attempt = 0;
    loop {
        let result = ses
            .send_email()
            .from_email_address(from)
            .destination(destination.clone())
            .content(EmailContent::builder().simple(message.clone()).build())
            .send()
            .await;
        let err = match result {
            Ok(out) => return Ok(out.message_id().unwrap_or_default().to_string()),
            Err(err) => err,
        };
        let code = err.code().map(str::to_string);
        let detail = DisplayErrorContext(&err).to_string();
        match code.as_deref() {
            Some(
                "MessageRejected"
                | "MailFromDomainNotVerifiedException"
                | "AccountSuspendedException",
            ) => {
                return Err(NotifyError::Rejected(
                    err.message().map_or(detail, str::to_string),
                ))
            }
            Some("TooManyRequestsException" | "LimitExceededException" | "ThrottlingException") => {
                attempt += 1;
                if attempt >= ATTEMPTS {
                    return Err(NotifyError::Throttled(detail));
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
            _ => return Err(NotifyError::Ses(detail)),
        }
    }
}

/// What an error may say about a failed webhook request. A chat webhook URL is a secret (who
/// has it can post to the channel), and reqwest's errors carry the URL in their text and their
/// `Debug`: the URL is dropped from the error and the error chain written out without it.
fn describe_without_url(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A webhook's answer body as an error may quote it: cut to 500 characters, and with the URL
/// (or its path, where the secret token lives) blanked should the endpoint echo it back.
fn quoted_body(body: &str, url: &str) -> String {
    let mut text: String = body.chars().take(500).collect();
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .filter(|p| p.len() > 1);
    for secret in [Some(url), path].into_iter().flatten() {
        text = text.replace(secret, "<webhook url>");
    }
    text
}

/// Posts one JSON message to a Slack incoming webhook (or a Teams Workflows URL). A 429 waits
/// `Retry-After` seconds and tries again; other errors come back with Slack's body
/// (`invalid_blocks`, `channel_not_found`, …). No error names the URL.
pub async fn post_webhook(
    http: &reqwest::Client,
    url: &str,
    payload: &serde_json::Value,
) -> Result<(), NotifyError> {
    let mut attempt = 0;
    loop {
        let response = http
            .post(url)
            .json(payload)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| NotifyError::Unreachable(describe_without_url(e)))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        if status == 429 {
            attempt += 1;
            if attempt >= ATTEMPTS {
                return Err(NotifyError::WebhookThrottled);
            }
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or_else(|| backoff(attempt));
            if wait > MAX_RETRY_AFTER {
                return Err(NotifyError::WebhookThrottled);
            }
            tokio::time::sleep(wait).await;
            continue;
        }
        let body = response.text().await.unwrap_or_default();
        return Err(NotifyError::Webhook {
            status,
            body: quoted_body(&body, url),
        });
    }
}
