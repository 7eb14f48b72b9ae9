//! Secrets: the webhook signing secrets, the API and admin bearer tokens, the digest's
//! Slack and Teams webhook URLs, the notifier's channels and Slack bot token, and the
//! backfill's GitHub credentials (a token, or a GitHub App's id, private key and installation
//! id).
//!
//! In AWS they live in one Secrets Manager secret (a JSON object, keys as in [`Secrets`]) whose
//! ARN the template passes as `FLOWMETER_SECRET_ARN`; the functions read it through the AWS
//! Parameters and Secrets Lambda Extension (a layer that serves `GET /secretsmanager/get` on
//! localhost), so no AWS SDK crate for Secrets Manager is needed and the value never sits in an
//! environment variable, where anyone allowed `lambda:GetFunctionConfiguration` could read it.
//! Locally (dev server, tests) `FLOWMETER_SECRET_ARN` is unset and the values come from the
//! `FLOWMETER_*` environment variables the README lists.
//!
//! The secret is read once per container ([`load`] caches it): a cold start pays one localhost
//! round trip, warm invocations pay nothing, and a changed secret reaches the functions when
//! their containers are replaced (DEPLOY.md: bump the `SecretsRevision` parameter).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Names the Secrets Manager secret to read; unset means "use the environment variables".
pub const SECRET_ARN_VAR: &str = "FLOWMETER_SECRET_ARN";

/// The extension's default port (its own `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` overrides it,
/// so we read the same variable to stay on the port it listens on).
pub const DEFAULT_EXTENSION_PORT: u16 = 2773;

/// The secret's keys. Each is optional: an empty value locks what it guards (webhooks of that
/// source answer 401, read routes answer 401, the digest skips Slack) rather than opening it.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Secrets {
    /// GitHub webhook secret (`X-Hub-Signature-256`).
    pub github: String,
    /// PagerDuty V3 webhook signing secret (`X-PagerDuty-Signature`).
    pub pagerduty: String,
    /// Secret of the generic deployment and incident webhooks (`X-Flowmeter-Signature-256`).
    pub generic: String,
    /// Jira Cloud webhook secret (`X-Hub-Signature`).
    pub jira_secret: String,
    /// Token in the URL of Jira Server/Data Center webhooks (`/webhooks/jira/<token>`).
    pub jira_token: String,
    /// Linear webhook signing secret (`Linear-Signature`).
    pub linear_secret: String,
    /// GitLab webhook secret token (`X-Gitlab-Token`).
    pub gitlab_token: String,
    /// GitLab webhook signing token, for instances that sign deliveries (optional).
    pub gitlab_signing_token: String,
    /// Bitbucket Cloud / Data Center webhook secret (`X-Hub-Signature`).
    pub bitbucket_secret: String,
    /// The bearer token argocd-notifications' webhook service sends.
    pub argocd_token: String,
    /// Bearer token of `/v1/*` and `/metrics`.
    pub api_token: String,
    /// Bearer token of admin routes (`PUT /v1/config`).
    pub admin_token: String,
    /// Bearer token of the release-version gate (`POST /v1/gates/release-version`) alone: what
    /// a CI job holds.
    pub gate_token: String,
    /// Slack incoming webhook URL of the weekly digest.
    pub slack_webhook_url: String,
    /// Microsoft Teams Workflows webhook URL of the weekly digest (its `sig` is a credential).
    pub teams_webhook_url: String,
    /// A Slack app's bot token (`xoxb-…`, scope `chat:write`): the notifier posts with it to
    /// every channel that names a `slack_channel` (one app for many channels). Also set on
    /// each of [`Secrets::channels`] ([`ChatChannel::slack_bot_token`]).
    pub slack_bot_token: String,
    /// GitHub token of the backfill's REST reads (fine-grained or classic).
    pub github_token: String,
    /// GitHub App id of the backfill's REST reads (with the two keys below, wins over the token).
    pub github_app_id: String,
    /// The App's private key (PEM; literal `\n` line breaks are accepted).
    pub github_app_private_key: String,
    /// The App installation's id (a number).
    pub github_app_installation_id: String,
    /// Signs the status page's share keys (`POST /v1/share`); rotating it revokes them all.
    /// Unset: derived from `admin_token`.
    pub share_secret: String,
    /// The notifier's chat channels by name (`channels.<name>.slack_webhook_url` /
    /// `slack_channel` / `teams_webhook_url`), which `notifications.routes` in the config
    /// name: each URL is its own credential, so they live here, not in the config.
    pub channels: ChatChannels,
    /// Why the secret's `channels` could not be read (empty: they could). A bad `channels`
    /// leaves the notifier without channels, which it says at start and on every send, but
    /// fails no other function: a chat setting must not stop ingest or the API.
    #[serde(skip)]
    pub channels_error: String,
}

/// The notifier's channels by name.
pub type ChatChannels = std::collections::BTreeMap<String, ChatChannel>;

/// Where one named channel's messages go: Slack (a channel the bot posts to, or an incoming
/// webhook), a Teams Workflows webhook, or Slack and Teams.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ChatChannel {
    pub slack_webhook_url: String,
    /// A Slack channel the app posts to with [`ChatChannel::slack_bot_token`]
    /// (`chat.postMessage`): a name (`#platform-deploys`, `#` optional) or an id
    /// (`C0123ABCD`). Set, it takes the channel's Slack messages; its `slack_webhook_url`, if
    /// any, is not used.
    pub slack_channel: String,
    pub teams_webhook_url: String,
    /// The secret's top-level `slack_bot_token`, set on every channel when the secret is read
    /// ([`with_slack_bot_token`]), so the channels alone are what the notifier needs. Not a
    /// key of a channel.
    #[serde(skip)]
    pub slack_bot_token: String,
}

/// `channels` with the bot token that posts to their `slack_channel`s.
pub fn with_slack_bot_token(mut channels: ChatChannels, token: &str) -> ChatChannels {
    for channel in channels.values_mut() {
        channel.slack_bot_token = token.to_string();
    }
    channels
}

/// The longest Slack channel name.
pub const MAX_SLACK_CHANNEL_CHARS: usize = 80;

/// Whether `value` looks like what `chat.postMessage` takes as a channel: a name (`#`
/// optional; lower-case letters, digits, `-`, `_`, `.`; at most 80) or a conversation id
/// (`C`, `G` or `D` and upper-case letters and digits, e.g. `C0123ABCD`).
pub fn is_slack_channel(value: &str) -> bool {
    let name = value.strip_prefix('#').unwrap_or(value);
    let is_name = !name.is_empty()
        && name.chars().count() <= MAX_SLACK_CHANNEL_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    let is_id = !value.starts_with('#')
        && (9..=MAX_SLACK_CHANNEL_CHARS).contains(&value.len())
        && value.starts_with(['C', 'G', 'D'])
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    is_name || is_id
}

/// The key of [`Secrets::channels`], an object where every other key is a string.
pub const CHANNELS_KEY: &str = "channels";

/// Parses the channels object (the secret's `channels`, or `FLOWMETER_CHANNELS` locally):
/// `{"<name>": {"slack_webhook_url": "https://…", "slack_channel": "#deploys",
/// "teams_webhook_url": "https://…"}}`. A channel needs at least one of the three; each URL an
/// http(s) URL, a `slack_channel` a Slack channel name or id ([`is_slack_channel`]). Errors
/// name the channel and key, never a value (a URL, or a token pasted into the wrong key).
pub fn parse_channels(value: serde_json::Value) -> Result<ChatChannels, SecretsError> {
    let channels: ChatChannels = serde_json::from_value(value).map_err(|e| {
        let reason = e.to_string();
        let reason = reason.split(" at line").next().unwrap_or_default();
        // serde quotes an unexpected string ("invalid type: string \"https://…\""): keep only
        // the reasons that name keys.
        let reason = if reason.starts_with("unknown field") || reason.starts_with("missing field")
        {
            reason
        } else {
            "a channel, or one of its keys, has the wrong type"
        };
        SecretsError::Parse(format!(
            "{CHANNELS_KEY}: must be an object of channels, each with slack_webhook_url, slack_channel and/or teams_webhook_url ({reason})"
        ))
    })?;
    for (name, channel) in &channels {
        if channel.slack_webhook_url.is_empty()
            && channel.slack_channel.is_empty()
            && channel.teams_webhook_url.is_empty()
        {
            return Err(SecretsError::Parse(format!(
                "{CHANNELS_KEY}.{name}: has none of slack_webhook_url, slack_channel, teams_webhook_url"
            )));
        }
        if !channel.slack_channel.is_empty() && !is_slack_channel(&channel.slack_channel) {
            return Err(SecretsError::Parse(format!(
                "{CHANNELS_KEY}.{name}.slack_channel: not a Slack channel name (`#` optional, then \
                 lower-case letters, digits, -, _ and ., at most {MAX_SLACK_CHANNEL_CHARS}) or \
                 channel id (C0123ABCD)"
            )));
        }
        for (key, url) in [
            ("slack_webhook_url", &channel.slack_webhook_url),
            ("teams_webhook_url", &channel.teams_webhook_url),
        ] {
            if !url.is_empty() && !url.starts_with("https://") && !url.starts_with("http://") {
                return Err(SecretsError::Parse(format!(
                    "{CHANNELS_KEY}.{name}.{key}: not an http(s) URL"
                )));
            }
        }
    }
    Ok(channels)
}

/// The keys [`Secrets`] knows, to warn about a misspelt key instead of silently ignoring it.
pub const KEYS: [&str; 21] = [
    "github",
    "pagerduty",
    "generic",
    "jira_secret",
    "jira_token",
    "linear_secret",
    "gitlab_token",
    "gitlab_signing_token",
    "bitbucket_secret",
    "argocd_token",
    "api_token",
    "admin_token",
    "gate_token",
    "slack_webhook_url",
    "teams_webhook_url",
    "slack_bot_token",
    "github_token",
    "github_app_id",
    "github_app_private_key",
    "github_app_installation_id",
    "share_secret",
];

impl Secrets {
    /// The names of the keys that hold a value, for logs: which sources are open, never what
    /// the values are.
    pub fn present_keys(&self) -> Vec<&'static str> {
        let values = [
            &self.github,
            &self.pagerduty,
            &self.generic,
            &self.jira_secret,
            &self.jira_token,
            &self.linear_secret,
            &self.gitlab_token,
            &self.gitlab_signing_token,
            &self.bitbucket_secret,
            &self.argocd_token,
            &self.api_token,
            &self.admin_token,
            &self.gate_token,
            &self.slack_webhook_url,
            &self.teams_webhook_url,
            &self.slack_bot_token,
            &self.github_token,
            &self.github_app_id,
            &self.github_app_private_key,
            &self.github_app_installation_id,
            &self.share_secret,
        ];
        let mut present: Vec<&'static str> = KEYS
            .iter()
            .zip(values)
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, _)| *k)
            .collect();
        if !self.channels.is_empty() {
            present.push(CHANNELS_KEY);
        }
        present
    }
}

/// Redacted: a `{:?}` in a log line must not leak a secret.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("present", &self.present_keys())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{SECRET_ARN_VAR} is set but AWS_SESSION_TOKEN is not: the secrets extension only answers inside Lambda")]
    NoSessionToken,
    #[error("secrets extension at {url}: {message}")]
    Extension { url: String, message: String },
    #[error("secret value: {0}")]
    Parse(String),
}

/// The secrets from the local environment variables (README: "The local stack").
pub fn from_env() -> Secrets {
    from_vars(|name| std::env::var(name).ok())
}

/// [`from_env`] over any lookup, so tests need not change the process environment.
pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Secrets {
    let read = |name: &str| var(name).unwrap_or_default();
    let mut secrets = Secrets {
        github: read("FLOWMETER_GITHUB_SECRET"),
        pagerduty: read("FLOWMETER_PAGERDUTY_SECRET"),
        generic: read("FLOWMETER_WEBHOOK_SECRET"),
        jira_secret: read("FLOWMETER_JIRA_SECRET"),
        jira_token: read("FLOWMETER_JIRA_TOKEN"),
        linear_secret: read("FLOWMETER_LINEAR_SECRET"),
        gitlab_token: read("FLOWMETER_GITLAB_TOKEN"),
        gitlab_signing_token: read("FLOWMETER_GITLAB_SIGNING_TOKEN"),
        bitbucket_secret: read("FLOWMETER_BITBUCKET_SECRET"),
        argocd_token: read("FLOWMETER_ARGOCD_TOKEN"),
        api_token: read("FLOWMETER_API_TOKEN"),
        admin_token: read("FLOWMETER_ADMIN_TOKEN"),
        gate_token: read("FLOWMETER_GATE_TOKEN"),
        slack_webhook_url: read("FLOWMETER_SLACK_WEBHOOK_URL"),
        teams_webhook_url: read("FLOWMETER_TEAMS_WEBHOOK_URL"),
        slack_bot_token: read("FLOWMETER_SLACK_BOT_TOKEN"),
        github_token: read("FLOWMETER_GITHUB_TOKEN"),
        github_app_id: read("FLOWMETER_GITHUB_APP_ID"),
        github_app_private_key: read("FLOWMETER_GITHUB_APP_PRIVATE_KEY"),
        github_app_installation_id: read("FLOWMETER_GITHUB_APP_INSTALLATION_ID"),
        share_secret: read("FLOWMETER_SHARE_SECRET"),
        channels: ChatChannels::new(),
        channels_error: String::new(),
    };
    if let Some(text) = var("FLOWMETER_CHANNELS").filter(|text| !text.trim().is_empty()) {
        match channels_from_text(&text) {
            Ok(channels) => {
                secrets.channels = with_slack_bot_token(channels, &secrets.slack_bot_token)
            }
            Err(err) => secrets.channels_error = err.to_string(),
        }
    }
    secrets
}

/// `FLOWMETER_CHANNELS`' text as channels (the dev server checks it at start with this, so a
/// bad value stops it with the reason).
pub fn channels_from_text(text: &str) -> Result<ChatChannels, SecretsError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| {
        SecretsError::Parse(
            "FLOWMETER_CHANNELS: not JSON (expected {\"<channel>\": {\"slack_webhook_url\": …}})"
                .to_string(),
        )
    })?;
    parse_channels(value)
}

/// The part of Secrets Manager's `GetSecretValue` answer (which the extension relays verbatim)
/// that we use.
#[derive(Deserialize)]
struct GetSecretValue {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
}

/// Parses the extension's answer: `{"ARN":…,"Name":…,"SecretString":"{\"github\":…}",…}`.
/// Returns the secrets and the unknown keys of the secret (to warn about, by name only).
pub fn parse_extension_response(body: &str) -> Result<(Secrets, Vec<String>), SecretsError> {
    let answer: GetSecretValue = serde_json::from_str(body)
        .map_err(|e| SecretsError::Parse(format!("not a GetSecretValue answer: {e}")))?;
    let text = answer.secret_string.ok_or_else(|| {
        SecretsError::Parse("no SecretString (a binary secret is not supported)".into())
    })?;
    parse_secret_string(&text)
}

/// Parses the secret's own text: a JSON object of strings. Unknown keys are returned, not
/// refused, so that a key added for a newer release does not break the running one.
pub fn parse_secret_string(text: &str) -> Result<(Secrets, Vec<String>), SecretsError> {
    let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|_| {
            // The error text could quote the secret: name the expected shape only.
            SecretsError::Parse(format!(
                "SecretString must be a JSON object with the keys {}",
                KEYS.join(", ")
            ))
        })?;
    let (channels, channels_error) = match object.remove(CHANNELS_KEY).map(parse_channels) {
        Some(Ok(channels)) => (channels, String::new()),
        Some(Err(err)) => (ChatChannels::new(), err.to_string()),
        None => (ChatChannels::new(), String::new()),
    };
    for (key, value) in &object {
        if KEYS.contains(&key.as_str()) && !value.is_string() {
            return Err(SecretsError::Parse(format!("key {key}: must be a string")));
        }
    }
    let unknown: Vec<String> = object
        .keys()
        .filter(|k| !KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    let mut secrets: Secrets = serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|e| SecretsError::Parse(e.to_string()))?;
    secrets.channels = with_slack_bot_token(channels, &secrets.slack_bot_token);
    secrets.channels_error = channels_error;
    Ok((secrets, unknown))
}

/// The extension's URL for one secret (the ARN is percent-encoded: it holds `:` and `/`).
pub fn extension_url(port: u16, secret_id: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(secret_id.as_bytes()).collect();
    format!("http://localhost:{port}/secretsmanager/get?secretId={id}")
}

/// How long a cold start may spend waiting for the extension. Lambda starts the runtime as soon
/// as the extension has registered, before its HTTP server necessarily listens (it then answers
/// 400 "not ready to serve traffic"), so the first attempts may fail; the init phase itself has
/// 10 s, and a failed init is retried by Lambda on the next request.
const FETCH_DEADLINE: Duration = Duration::from_secs(5);

/// Reads the secret through the extension, retrying while it is starting up or throttled.
pub async fn fetch_from_extension(
    port: u16,
    secret_id: &str,
    session_token: &str,
) -> Result<(Secrets, Vec<String>), SecretsError> {
    let url = extension_url(port, secret_id);
    let failed = |message: String| SecretsError::Extension {
        url: url.clone(),
        message,
    };
    let client = reqwest::Client::builder()
        // Never send the session token through a proxy named in the environment.
        .no_proxy()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        let outcome = client
            .get(&url)
            .header("X-Aws-Parameters-Secrets-Token", session_token)
            .send()
            .await;
        let last_error = match outcome {
            Ok(response) if response.status().is_success() => {
                let body = response.text().await.map_err(|e| failed(e.to_string()))?;
                return parse_extension_response(&body);
            }
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                let message = format!("HTTP {status}: {}", body.trim());
                // 400 is also how it says "not ready yet"; 401/403/404 will not get better.
                let retry =
                    status.as_u16() == 400 || status.as_u16() == 429 || status.is_server_error();
                if !retry {
                    return Err(failed(message));
                }
                message
            }
            Err(err) => err.to_string(),
        };
        if started.elapsed() + pause > FETCH_DEADLINE {
            return Err(failed(format!(
                "gave up after {} ms: {last_error}",
                started.elapsed().as_millis()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The secrets for this container: from the secret named by `FLOWMETER_SECRET_ARN` through the
/// extension, or from the environment when it is unset. Read once, then served from memory.
pub async fn load() -> Result<Secrets, SecretsError> {
    static CACHE: OnceLock<Secrets> = OnceLock::new();
    if let Some(secrets) = CACHE.get() {
        return Ok(secrets.clone());
    }
    let loaded = load_uncached().await?;
    // Two first calls racing both fetch; the first stored value wins, and both are equal.
    Ok(CACHE.get_or_init(|| loaded).clone())
}

async fn load_uncached() -> Result<Secrets, SecretsError> {
    let arn = std::env::var(SECRET_ARN_VAR).unwrap_or_default();
    // Bumped by the template's SecretsRevision parameter to roll containers onto a new value;
    // logged so that a 401 can be matched with the revision that served it.
    let revision = std::env::var("FLOWMETER_SECRETS_REVISION").unwrap_or_default();
    if arn.is_empty() {
        let secrets = from_env();
        tracing::info!(source = "env", present = ?secrets.present_keys(), "secrets loaded");
        return Ok(secrets);
    }
    let token = std::env::var("AWS_SESSION_TOKEN").unwrap_or_default();
    if token.is_empty() {
        return Err(SecretsError::NoSessionToken);
    }
    let port = std::env::var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_EXTENSION_PORT);
    let (secrets, unknown) = fetch_from_extension(port, &arn, &token).await?;
    if !unknown.is_empty() {
        tracing::warn!(keys = ?unknown, expected = ?KEYS, "secret has keys this release does not use");
    }
    tracing::info!(
        source = "secretsmanager",
        revision = %revision,
        present = ?secrets.present_keys(),
        "secrets loaded"
    );
    Ok(secrets)
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
