//! Share keys: what the executive status page is opened with (docs/API.md, "Share links").
//!
//! A share key is `fms1.<expiry, unix seconds>.<hex HMAC-SHA256 of "fms1.<expiry>">`: signed
//! with the share secret, so the API checks it without storing anything, and rotating that
//! secret revokes every key at once. It carries no scope of its own: what a key may read (org
//! and team aggregates, never a name or a title) is the API's rule, the same for every key.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The version prefix; a token starting with it is a share key, never a bearer token.
pub const PREFIX: &str = "fms1.";
/// How long a key lives when the request does not say.
pub const DEFAULT_HOURS: i64 = 7 * 24;
/// The longest life a key may have: a forgotten link stops working within a quarter.
pub const MAX_HOURS: i64 = 90 * 24;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShareKeyError {
    #[error("share links are off: no share secret is configured")]
    NoSecret,
    #[error("the share key is malformed")]
    Malformed,
    #[error("the share key is not valid")]
    Forged,
    #[error("the share key expired at {0}")]
    Expired(DateTime<Utc>),
}

/// Whether a presented token is meant as a share key (and so is checked as one).
pub fn is_share_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// A key valid until `expires_at`.
pub fn mint(secret: &[u8], expires_at: DateTime<Utc>) -> Result<String, ShareKeyError> {
    let claims = format!("{PREFIX}{}", expires_at.timestamp());
    let mut mac = keyed(secret)?;
    mac.update(claims.as_bytes());
    Ok(format!(
        "{claims}.{}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// The key's expiry when it is one this secret signed and it has not expired at `now`. The
/// signature is checked (in constant time) before the expiry is believed.
pub fn verify(
    secret: &[u8],
    key: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ShareKeyError> {
    let mut mac = keyed(secret)?;
    let (claims, tag) = key.rsplit_once('.').ok_or(ShareKeyError::Malformed)?;
    let expiry = claims
        .strip_prefix(PREFIX)
        .filter(|e| !e.is_empty() && e.len() <= 12 && e.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|e| e.parse::<i64>().ok())
        .ok_or(ShareKeyError::Malformed)?;
    let tag = hex::decode(tag).map_err(|_| ShareKeyError::Malformed)?;
    mac.update(claims.as_bytes());
    mac.verify_slice(&tag).map_err(|_| ShareKeyError::Forged)?;
    let expires_at = DateTime::from_timestamp(expiry, 0).ok_or(ShareKeyError::Malformed)?;
    if expires_at <= now {
        return Err(ShareKeyError::Expired(expires_at));
    }
    Ok(expires_at)
}

/// The body of `POST /v1/share`: `{"hours": N}` (optional; 1 to [`MAX_HOURS`]).
pub fn requested_expiry(body: &[u8], now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let hours = if body.iter().all(u8::is_ascii_whitespace) {
        DEFAULT_HOURS
    } else {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("body: not JSON ({e})"))?;
        let object = value
            .as_object()
            .ok_or("body: expected an object like {\"hours\": 168}")?;
        if let Some(other) = object.keys().find(|k| k.as_str() != "hours") {
            return Err(format!("unknown field `{other}`"));
        }
        match object.get("hours") {
            None => DEFAULT_HOURS,
            Some(h) => h
                .as_i64()
                .filter(|h| (1..=MAX_HOURS).contains(h))
                .ok_or(format!(
                    "`hours`: expected a whole number from 1 to {MAX_HOURS}, got {h}"
                ))?,
        }
    };
    Ok(now + Duration::hours(hours))
}

/// The secret share keys are signed with: the configured one, else one derived from the admin
/// token (so share links work without another secret, and rotating either revokes them).
pub fn signing_secret(share_secret: &str, admin_token: &str) -> Vec<u8> {
    if !share_secret.is_empty() {
        return share_secret.as_bytes().to_vec();
    }
    if admin_token.is_empty() {
        return Vec::new();
    }
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(admin_token.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(b"flowmeter share keys v1");
    mac.finalize().into_bytes().to_vec()
}

fn keyed(secret: &[u8]) -> Result<HmacSha256, ShareKeyError> {
    if secret.is_empty() {
        return Err(ShareKeyError::NoSecret);
    }
    <HmacSha256 as KeyInit>::new_from_slice(secret).map_err(|_| ShareKeyError::NoSecret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    const SECRET: &[u8] = b"share-secret";

    #[test]
    fn a_minted_key_verifies_until_it_expires() {
        // given a key valid until noon
        let key = mint(SECRET, t("2026-12-05T12:00:00Z")).expect("minted");
        assert!(key.starts_with("fms1.1796472000."), "{key}");
        // when it is presented before and at noon
        // then it opens before, and is expired from noon on
        assert_eq!(
            verify(SECRET, &key, t("2026-12-05T11:59:59Z")),
            Ok(t("2026-12-05T12:00:00Z"))
        );
        assert_eq!(
            verify(SECRET, &key, t("2026-12-05T12:00:00Z")),
            Err(ShareKeyError::Expired(t("2026-12-05T12:00:00Z")))
        );
    }

    #[test]
    fn a_key_of_another_secret_or_with_a_moved_expiry_is_forged() {
        let now = t("2026-12-05T10:00:00Z");
        let key = mint(SECRET, t("2026-12-05T12:00:00Z")).expect("minted");
        // another secret (a rotated one) revokes it
        assert_eq!(verify(b"rotated", &key, now), Err(ShareKeyError::Forged));
        // a later expiry with the old signature is refused before the expiry is read
        let (_, tag) = key.rsplit_once('.').expect("tag");
        let stretched = format!("fms1.1899999999.{tag}");
        assert_eq!(verify(SECRET, &stretched, now), Err(ShareKeyError::Forged));
        // and a good key for an expired time stays expired even though it verifies
        let old = mint(SECRET, t("2026-12-01T00:00:00Z")).expect("minted");
        assert!(matches!(
            verify(SECRET, &old, now),
            Err(ShareKeyError::Expired(_))
        ));
    }

    #[test]
    fn malformed_keys_and_no_secret_are_errors_not_panics() {
        let now = t("2026-12-05T10:00:00Z");
        for bad in [
            "",
            "fms1.",
            "fms1..",
            "fms1.abc.00",
            "fms1.123.zz",
            "fms1.-5.00",
            "fms1.99999999999999999999.00",
            "fms2.123.00",
            "fms1.123",
        ] {
            assert_eq!(
                verify(SECRET, bad, now),
                Err(ShareKeyError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(verify(b"", "fms1.1.00", now), Err(ShareKeyError::NoSecret));
        assert_eq!(mint(b"", now), Err(ShareKeyError::NoSecret));
    }

    #[test]
    fn the_request_body_sets_the_life_within_bounds() {
        let now = t("2026-12-05T10:00:00Z");
        assert_eq!(requested_expiry(b"", now), Ok(t("2026-12-12T10:00:00Z")));
        assert_eq!(requested_expiry(b"{}", now), Ok(t("2026-12-12T10:00:00Z")));
        assert_eq!(
            requested_expiry(br#"{"hours": 24}"#, now),
            Ok(t("2026-12-06T10:00:00Z"))
        );
        for (bad, says) in [
            (&br#"{"hours": 0}"#[..], "`hours`"),
            (br#"{"hours": 2161}"#, "`hours`"),
            (br#"{"hours": "a day"}"#, "`hours`"),
            (br#"{"days": 1}"#, "`days`"),
            (b"[1]", "object"),
            (b"{", "not JSON"),
        ] {
            let err = requested_expiry(bad, now).expect_err("refused");
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn the_signing_secret_is_the_share_secret_else_derived_from_the_admin_token() {
        assert_eq!(signing_secret("s", "admin"), b"s".to_vec());
        let derived = signing_secret("", "admin");
        assert_eq!(derived.len(), 32);
        assert_ne!(derived, signing_secret("", "other-admin"));
        assert!(signing_secret("", "").is_empty());
    }
}
