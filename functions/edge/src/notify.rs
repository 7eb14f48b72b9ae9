//! Delivery of a rendered digest: email through SES v2 `SendEmail`, chat messages through a
//! Slack incoming webhook (or a Teams Workflows webhook), or through Slack's Web API
//! (`chat.postMessage` with a bot token, for the notifier's channels named by `slack_channel`).
//! Each sender knows its service's failure modes: throttling is retried with backoff (Slack's
//! `Retry-After` is honoured), rejections that retrying cannot fix are reported at once with
//! the service's own words. No error holds a webhook URL or a token.

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
    /// Slack's Web API answered `"ok": false`: `error` is Slack's code (`not_in_channel`,
    /// `channel_not_found`, `invalid_auth`, `ratelimited`, …), `detail` its
    /// `response_metadata.messages` (what is wrong with `invalid_blocks`), if any.
    #[error("Slack chat.postMessage answered {error}{}", slack_error_detail(.error, .detail))]
    SlackApi { error: String, detail: String },
    /// Slack's Web API answered an HTTP error without its JSON (an outage page, a proxy).
    #[error("Slack Web API answered {status}: {body}")]
    SlackHttp { status: u16, body: String },
    #[error("Slack Web API kept answering 429 after {ATTEMPTS} attempts")]
    SlackThrottled,
    /// Slack's Web API could not be reached (the text holds neither the URL nor the token).
    #[error("Slack Web API unreachable: {0}")]
    SlackUnreachable(String),
}

impl NotifyError {
    /// Whether a later retry of the whole digest may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            NotifyError::Rejected(_) => false,
            NotifyError::Webhook { status, .. } => *status >= 500,
            NotifyError::SlackApi { error, .. } => TRANSIENT_SLACK_ERRORS.contains(&error.as_str()),
            NotifyError::SlackHttp { status, .. } => *status >= 500 || *status == 408,
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

/// Text a service answered, as an error may quote it: each secret blanked with its
/// placeholder should the endpoint echo it back, then cut to 500 characters (after blanking,
/// so that no cut leaves a piece of a secret).
fn quoted_without(text: &str, secrets: &[(&str, &str)]) -> String {
    let mut text = text.to_string();
    for (secret, placeholder) in secrets.iter().filter(|(s, _)| !s.is_empty()) {
        text = text.replace(secret, placeholder);
    }
    text.chars().take(500).collect()
}

/// A webhook's answer body as an error may quote it: without the URL or its path (where the
/// secret token lives).
fn quoted_body(body: &str, url: &str) -> String {
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .filter(|p| p.len() > 1)
        .unwrap_or_default();
    quoted_without(body, &[(url, "<webhook url>"), (path, "<webhook url>")])
}

/// How a POST that waits out 429s ended.
enum Posted {
    /// The endpoint's first answer that was not a 429.
    Answer(reqwest::Response),
    /// 429s outlasted [`ATTEMPTS`], or one asked for a wait above [`MAX_RETRY_AFTER`].
    Throttled,
}

/// Sends the request `build` makes; while the answer is 429, waits its `Retry-After` seconds
/// (a backoff without one) and sends it again. Err: the endpoint could not be reached (the
/// text without the URL, [`describe_without_url`]). The one retry loop of the chat senders:
/// an incoming webhook and Slack's Web API throttle alike.
async fn post_waiting_out_429(
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Posted, String> {
    let mut attempt = 0;
    loop {
        let response = build()
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(describe_without_url)?;
        if response.status().as_u16() != 429 {
            return Ok(Posted::Answer(response));
        }
        attempt += 1;
        if attempt >= ATTEMPTS {
            return Ok(Posted::Throttled);
        }
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or_else(|| backoff(attempt));
        if wait > MAX_RETRY_AFTER {
            return Ok(Posted::Throttled);
        }
        tokio::time::sleep(wait).await;
    }
}

/// Posts one JSON message to a Slack incoming webhook (or a Teams Workflows URL). A 429 waits
/// `Retry-After` seconds and tries again; other errors come back with Slack's body
/// (`invalid_blocks`, `channel_not_found`, …). No error names the URL.
pub async fn post_webhook(
    http: &reqwest::Client,
    url: &str,
    payload: &serde_json::Value,
) -> Result<(), NotifyError> {
    let response = match post_waiting_out_429(|| http.post(url).json(payload)).await {
        Ok(Posted::Answer(response)) => response,
        Ok(Posted::Throttled) => return Err(NotifyError::WebhookThrottled),
        Err(unreachable) => return Err(NotifyError::Unreachable(unreachable)),
    };
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(NotifyError::Webhook {
        status,
        body: quoted_body(&body, url),
    })
}

/// Slack's Web API: the default of `FLOWMETER_SLACK_API_URL`.
pub const SLACK_API_URL: &str = "https://slack.com/api";

/// The codes of `"ok": false` answers that a later attempt may not get: Slack's own trouble
/// and its rate limit. Every other code (`not_in_channel`, `channel_not_found`,
/// `invalid_auth`, `missing_scope`, `is_archived`, `invalid_blocks`, `msg_too_long`, and codes
/// this list does not know) is a request or a setup that sending again repeats.
const TRANSIENT_SLACK_ERRORS: [&str; 8] = [
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    // The workspace is migrating into an Enterprise Grid org; it comes back.
    "team_added_to_org",
    "org_login_required",
];

/// What to do about a permanent Slack error code, for the error text.
fn slack_error_hint(error: &str) -> Option<&'static str> {
    Some(match error {
        "not_in_channel" => "the app is not a member of the channel: /invite it there",
        "channel_not_found" => "no such channel, or a private channel the app was not invited to",
        "is_archived" => "the channel is archived",
        "not_authed" | "invalid_auth" | "account_inactive" | "token_revoked" => {
            "check the secret's slack_bot_token, the Slack app's Bot User OAuth Token"
        }
        "missing_scope" | "no_permission" => "the app needs the chat:write scope",
        "invalid_blocks" | "msg_too_long" | "no_text" => "Slack refused the message itself",
        _ => return None,
    })
}

fn slack_error_detail(error: &str, detail: &str) -> String {
    let mut text = String::new();
    if let Some(hint) = slack_error_hint(error) {
        text.push_str(" (");
        text.push_str(hint);
        text.push(')');
    }
    if !detail.is_empty() {
        text.push_str(": ");
        text.push_str(detail);
    }
    text
}

/// Text from Slack's answer as an error may quote it: without the token.
fn quoted_without_token(text: &str, token: &str) -> String {
    quoted_without(text, &[(token, "<slack_bot_token>")])
}

/// The parts of a Web API answer we read (`{"ok": false, "error": "not_in_channel",
/// "response_metadata": {"messages": ["[ERROR] …"]}}`).
#[derive(serde::Deserialize)]
struct SlackAnswer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warning: Option<String>,
    #[serde(default)]
    response_metadata: Option<SlackMetadata>,
}

#[derive(serde::Deserialize)]
struct SlackMetadata {
    #[serde(default)]
    messages: Vec<String>,
}

/// Posts one Block Kit message (`text`, `blocks`) to `channel` (`#name` or an id such as
/// `C0123ABCD`) with a bot token: `POST {api_base}/chat.postMessage`, `Authorization: Bearer`,
/// a JSON body (the message plus `"channel"`). Slack answers HTTP 200 with `"ok": false` and a
/// code for most errors ([`NotifyError::SlackApi`]: transient only for Slack's own trouble
/// and rate limit); a 429 waits `Retry-After` and tries again, as [`post_webhook`] does. No
/// error or log holds the token.
pub async fn post_chat_message(
    http: &reqwest::Client,
    api_base: &str,
    token: &str,
    channel: &str,
    message: &serde_json::Value,
) -> Result<(), NotifyError> {
    let mut body = message.as_object().cloned().unwrap_or_default();
    body.insert("channel".into(), serde_json::Value::from(channel));
    // A map of JSON values always serializes.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let url = format!("{}/chat.postMessage", api_base.trim_end_matches('/'));
    let request = || {
        http.post(&url)
            .bearer_auth(token)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body.clone())
    };
    let response = match post_waiting_out_429(request).await {
        Ok(Posted::Answer(response)) => response,
        Ok(Posted::Throttled) => return Err(NotifyError::SlackThrottled),
        Err(unreachable) => {
            return Err(NotifyError::SlackUnreachable(quoted_without_token(
                &unreachable,
                token,
            )))
        }
    };
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<SlackAnswer>(&text) {
        Ok(answer) if answer.ok && (200..300).contains(&status) => {
            if let Some(warning) = answer.warning {
                tracing::warn!(
                    warning = %quoted_without_token(&warning, token),
                    "Slack accepted the message with a warning"
                );
            }
            Ok(())
        }
        Ok(SlackAnswer {
            ok: false,
            error,
            response_metadata,
            ..
        }) => {
            let error = error.unwrap_or_else(|| "unknown_error".into());
            let detail = response_metadata
                .map(|m| m.messages.join("; "))
                .unwrap_or_default();
            Err(NotifyError::SlackApi {
                error: quoted_without_token(&error, token),
                detail: quoted_without_token(&detail, token),
            })
        }
        _ => Err(NotifyError::SlackHttp {
            status,
            body: quoted_without_token(&text, token),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack(error: &str) -> NotifyError {
        NotifyError::SlackApi {
            error: error.into(),
            detail: String::new(),
        }
    }

    #[test]
    fn slack_s_own_trouble_is_transient_a_bad_request_or_setup_is_not() {
        for code in [
            "ratelimited",
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
        ] {
            assert!(slack(code).is_transient(), "{code}");
        }
        for code in [
            "not_in_channel",
            "channel_not_found",
            "invalid_auth",
            "missing_scope",
            "is_archived",
            "invalid_blocks",
            "msg_too_long",
            "some_new_code",
        ] {
            assert!(!slack(code).is_transient(), "{code}");
        }
        let status = |status| NotifyError::SlackHttp {
            status,
            body: String::new(),
        };
        assert!(status(503).is_transient());
        assert!(!status(404).is_transient());
        assert!(NotifyError::SlackThrottled.is_transient());
    }

    #[test]
    fn a_slack_error_names_the_code_with_a_hint_and_slack_s_detail() {
        let err = NotifyError::SlackApi {
            error: "invalid_blocks".into(),
            detail: "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text]"
                .into(),
        };
        assert_eq!(
            err.to_string(),
            "Slack chat.postMessage answered invalid_blocks (Slack refused the message itself): \
             [ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text]"
        );
        assert_eq!(
            slack("not_in_channel").to_string(),
            "Slack chat.postMessage answered not_in_channel (the app is not a member of the \
             channel: /invite it there)"
        );
        assert_eq!(
            slack("brand_new").to_string(),
            "Slack chat.postMessage answered brand_new"
        );
    }

    #[test]
    fn quoted_text_never_holds_the_token() {
        let token = "xoxb-1-2-s3cr3t";
        let text = quoted_without_token(&format!("bad token {token}!"), token);
        assert_eq!(text, "bad token <slack_bot_token>!");
        assert_eq!(quoted_without_token("plain", ""), "plain");
        assert_eq!(quoted_without_token(&"x".repeat(900), token).len(), 500);
    }
}
