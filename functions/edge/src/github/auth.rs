//! Who the client is to GitHub: a token, or a GitHub App installation whose short-lived token
//! is minted with an RS256 JWT and refreshed before it expires; and where the settings come
//! from (the secret's `github_*` keys, `FLOWMETER_GITHUB_API_URL`).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::GitHubError;
use crate::secrets::Secrets;

/// The environment variable naming the API's base URL (GHES: `https://HOST/api/v3`).
pub const API_URL_VAR: &str = "FLOWMETER_GITHUB_API_URL";
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// GitHub refuses a JWT whose `iat` is ahead of its clock, so it is backdated for skew.
const JWT_BACKDATE_S: i64 = 60;
/// GitHub refuses a JWT living more than 10 minutes; 9 leaves room for skew.
const JWT_LIFETIME_S: i64 = 9 * 60;
/// An installation token with less than this left is replaced before use, so that a page
/// never starts with a token that expires mid-request or mid-backoff.
pub const REFRESH_MARGIN: ChronoDuration = ChronoDuration::minutes(5);

#[derive(Clone, PartialEq, Eq)]
pub enum GitHubAuth {
    /// A fine-grained or classic token, sent as `Authorization: Bearer <token>`.
    Token(String),
    /// A GitHub App installation: the installation token is minted with an RS256 JWT
    /// (iss = app id, iat = now - 60 s, exp = now + 9 min) by
    /// `POST {base}/app/installations/{id}/access_tokens` and refreshed when less than
    /// 5 minutes of it remain.
    App {
        app_id: String,
        private_key_pem: String,
        installation_id: u64,
    },
}

/// Redacted: a `{:?}` in a log line must not leak the token or the key.
impl std::fmt::Debug for GitHubAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitHubAuth::Token(_) => f.write_str("GitHubAuth::Token(..)"),
            GitHubAuth::App {
                app_id,
                installation_id,
                ..
            } => f
                .debug_struct("GitHubAuth::App")
                .field("app_id", app_id)
                .field("installation_id", installation_id)
                .finish_non_exhaustive(),
        }
    }
}

/// Where the API is and who the client is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubSettings {
    pub api_url: String,
    /// `None`: no GitHub credentials are configured (a backfill cannot run).
    pub auth: Option<GitHubAuth>,
}

impl GitHubSettings {
    /// The settings from the secret's keys and the API URL variable's value. App credentials
    /// win over a token when all three App keys are set; some but not all of them is an error
    /// naming the missing keys, as a half-configured App is a mistake, not a choice.
    pub fn from_secrets(
        secrets: &Secrets,
        api_url_env: Option<String>,
    ) -> Result<GitHubSettings, GitHubError> {
        let api_url = api_url_env
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let api_url = super::validate_base_url(&api_url)?.0;
        let app = [
            ("github_app_id", secrets.github_app_id.trim()),
            (
                "github_app_private_key",
                secrets.github_app_private_key.trim(),
            ),
            (
                "github_app_installation_id",
                secrets.github_app_installation_id.trim(),
            ),
        ];
        let missing: Vec<&str> = app
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(k, _)| *k)
            .collect();
        let auth = if missing.len() < app.len() {
            if !missing.is_empty() {
                return Err(GitHubError::Auth {
                    reason: format!(
                        "GitHub App credentials are incomplete: {} missing (set all of github_app_id, github_app_private_key, github_app_installation_id, or none)",
                        missing.join(", ")
                    ),
                });
            }
            let installation_id = app[2].1.parse::<u64>().map_err(|_| GitHubError::Auth {
                reason: "github_app_installation_id must be a number (the installation's id)"
                    .into(),
            })?;
            Some(GitHubAuth::App {
                app_id: app[0].1.to_string(),
                private_key_pem: normalize_pem(app[1].1),
                installation_id,
            })
        } else if !secrets.github_token.trim().is_empty() {
            Some(GitHubAuth::Token(secrets.github_token.trim().to_string()))
        } else {
            None
        };
        Ok(GitHubSettings { api_url, auth })
    }

    /// [`GitHubSettings::from_secrets`] with this process's `FLOWMETER_GITHUB_API_URL`.
    pub fn from_env(secrets: &Secrets) -> Result<GitHubSettings, GitHubError> {
        GitHubSettings::from_secrets(secrets, std::env::var(API_URL_VAR).ok())
    }
}

/// A PEM pasted into a JSON secret or an environment variable often has its line breaks as
/// literal `\n`; the key parser needs real ones.
fn normalize_pem(pem: &str) -> String {
    if pem.contains('\n') {
        pem.to_string()
    } else {
        pem.replace("\\n", "\n")
    }
}

/// The claims GitHub wants in an App's JWT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppClaims {
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

impl AppClaims {
    pub fn at(app_id: &str, now: DateTime<Utc>) -> AppClaims {
        AppClaims {
            iat: now.timestamp() - JWT_BACKDATE_S,
            exp: now.timestamp() + JWT_LIFETIME_S,
            iss: app_id.to_string(),
        }
    }
}

/// The App's private key, read once so that a bad PEM fails the client's construction rather
/// than its first request.
pub(crate) fn encoding_key(private_key_pem: &str) -> Result<EncodingKey, GitHubError> {
    EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).map_err(|e| GitHubError::Auth {
        // jsonwebtoken's message names the problem, never the key's bytes.
        reason: format!(
            "github_app_private_key is not an RSA private key in PEM form (the .pem file GitHub generates for the App): {e}"
        ),
    })
}

/// The JWT that authenticates as the App itself.
pub(crate) fn app_jwt(
    app_id: &str,
    key: &EncodingKey,
    now: DateTime<Utc>,
) -> Result<String, GitHubError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &AppClaims::at(app_id, now),
        key,
    )
    .map_err(|e| GitHubError::Auth {
        reason: format!("signing the GitHub App JWT: {e}"),
    })
}

/// An installation token and its expiry, as GitHub's `access_tokens` answer gives them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct InstallationToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl InstallationToken {
    /// Whether it can still be used at `now` (more than [`REFRESH_MARGIN`] left).
    pub fn fresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now > REFRESH_MARGIN
    }
}
