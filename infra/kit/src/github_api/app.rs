//! A GitHub App's installation tokens: `POST /app/installations/{id}/access_tokens`, checked
//! as GitHub checks it (an RS256 JWT signed with the App's private key, issued by the App, valid
//! for at most 10 minutes), answered as GitHub answers it (201, `token` and `expires_at`). The
//! tokens it mints are accepted by every other route until they expire, so a client's refresh
//! is seen for what it is.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use super::limits::AppKey;

/// The route's path template, as [`super::ApiStats::per_endpoint`] counts it.
pub(crate) const TEMPLATE: &str = "/app/installations/{id}/access_tokens";

/// GitHub's answer to any JWT it cannot verify (bad signature, not a JWT at all).
const UNDECODABLE: &str = "A JSON web token could not be decoded";

/// GitHub refuses a JWT whose `exp` is more than 10 minutes ahead.
const MAX_JWT_LIFETIME: Duration = Duration::from_secs(600);

/// The installation id a path names, when it is the minting route.
pub(crate) fn installation(path: &str) -> Option<&str> {
    path.strip_prefix("/app/installations/")?
        .strip_suffix("/access_tokens")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// A minted token and when it stops being accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Minted {
    pub(crate) token: String,
    pub(crate) expires_at: SystemTime,
}

impl Minted {
    /// GitHub's 201 body.
    pub(crate) fn body(&self) -> Value {
        let at: chrono::DateTime<chrono::Utc> = self.expires_at.into();
        json!({
            "token": self.token,
            "expires_at": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "permissions": {"metadata": "read", "contents": "read", "pull_requests": "read",
                            "deployments": "read", "actions": "read", "issues": "read"},
            "repository_selection": "all",
        })
    }
}

/// Why minting was refused: GitHub's status and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) status: u16,
    pub(crate) message: String,
}

fn refused(status: u16, message: &str) -> Refused {
    Refused {
        status,
        message: message.to_string(),
    }
}

fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Checks the JWT of a minting request for `installation` and mints the `n`th token.
pub(crate) fn mint(
    app: Option<&AppKey>,
    installation: &str,
    authorization: Option<&str>,
    now: SystemTime,
    n: u64,
) -> Result<Minted, Refused> {
    // No App configured, or another installation: GitHub's 404 (after the JWT check there,
    // but the order does not matter to a client).
    let Some(app) = app.filter(|a| installation == a.installation_id.to_string()) else {
        return Err(refused(404, "Not Found"));
    };
    let jwt = authorization
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| refused(401, UNDECODABLE))?;
    let key = DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes())
        .map_err(|_| refused(500, "the emulation's App public key is not an RSA PEM"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp"]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => refused(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
            ),
            _ => refused(401, UNDECODABLE),
        })?
        .claims;
    // GitHub takes the App id as a number or a string (or the client id).
    let issuer = match &claims["iss"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    if issuer != app.app_id {
        return Err(refused(401, "'Issuer' claim ('iss') must be an Integer"));
    }
    if !claims["iat"].is_number() {
        return Err(refused(
            401,
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
        ));
    }
    let exp = claims["exp"].as_u64().unwrap_or_default();
    if exp > epoch_secs(now + MAX_JWT_LIFETIME) {
        return Err(refused(
            401,
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{n}:{}:{installation}", epoch_secs(now)));
    // GitHub's expires_at has whole seconds: the token lives until that second.
    let expires_at = UNIX_EPOCH + Duration::from_secs(epoch_secs(now + app.token_ttl));
    Ok(Minted {
        token: format!("ghs_{}", &hex::encode(digest)[..36]),
        expires_at,
    })
}

/// Whether an `Authorization` value carries one of `minted` that has not expired at `now`.
pub(crate) fn accepts(minted: &[Minted], authorization: &str, now: SystemTime) -> bool {
    let mut parts = authorization.split_whitespace();
    let scheme = parts.next().unwrap_or_default().to_ascii_lowercase();
    let token = parts.next().unwrap_or_default();
    matches!(scheme.as_str(), "bearer" | "token")
        && parts.next().is_none()
        && minted
            .iter()
            .any(|m| m.token == token && now < m.expires_at)
}
