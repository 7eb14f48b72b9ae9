//! GitLab's webhook signing token (GitLab 18.x, behind the `webhook_signing_token` feature
//! flag), which signs deliveries the Standard Webhooks way: `webhook-signature: v1,<base64>`
//! is the HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` under the token's key, the
//! token being `whsec_<base64 of 32 bytes>`; `webhook-id` equals the delivery's
//! `Idempotency-Key` and `webhook-timestamp` is Unix seconds. The plain `X-Gitlab-Token` is
//! checked separately ([`crate::ingest::signature::verify_token`]).
//!
//! Comparison is constant time (`hmac`'s `verify_slice`, as in `ingest::signature`), and the
//! body is hashed once however many signatures the header lists.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::ingest::signature::SignatureError;

/// A rotation lists one signature per active token; more than this is no rotation.
const MAX_SIGNATURES: usize = 8;

/// SHA-256 output length.
const TAG_BYTES: usize = 32;

/// Verifies a signed delivery: `secret` is the configured signing token (`whsec_…`), the
/// others the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers. One matching
/// `v1` entry is enough (a rotation signs with each active token); entries of other versions
/// are skipped. The timestamp's age is the caller's to check ([`signing_timestamp_ms`] with
/// [`crate::ingest::signature::check_timestamp`]): this function has no clock.
///
/// A token that is empty, or not base64 after its optional `whsec_` prefix, is no usable
/// secret: [`SignatureError::NoSecret`].
pub fn verify_signing_token(
    secret: &[u8],
    webhook_id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let key = signing_key(secret).ok_or(SignatureError::NoSecret)?;
    let (id, timestamp, signature) = match (webhook_id, timestamp, signature) {
        (Some(id), Some(ts), Some(sig)) => (id.trim(), ts.trim(), sig),
        _ => return Err(SignatureError::Missing),
    };
    if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
        return Err(SignatureError::Malformed);
    }
    signing_timestamp_ms(Some(timestamp))?;
    let entries: Vec<&str> = signature.split_ascii_whitespace().collect();
    if entries.is_empty() || entries.len() > MAX_SIGNATURES {
        return Err(SignatureError::Malformed);
    }
    let tags: Vec<Vec<u8>> = entries
        .iter()
        .filter_map(|e| e.strip_prefix("v1,"))
        .filter_map(base64_decode)
        .filter(|tag| tag.len() == TAG_BYTES)
        .collect();
    if tags.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|_| SignatureError::NoSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    if tags.iter().any(|tag| mac.clone().verify_slice(tag).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `webhook-timestamp` header (Unix seconds) in milliseconds, for
/// [`crate::ingest::signature::check_timestamp`].
pub fn signing_timestamp_ms(timestamp: Option<&str>) -> Result<i64, SignatureError> {
    let raw = timestamp.ok_or(SignatureError::Missing)?.trim();
    if raw.is_empty() || raw.len() > 12 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed);
    }
    raw.parse::<i64>()
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .ok_or(SignatureError::Malformed)
}

/// The HMAC key a signing token stands for: the base64 after `whsec_`.
fn signing_key(secret: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(secret).ok()?.trim();
    let encoded = text.strip_prefix("whsec_").unwrap_or(text);
    base64_decode(encoded).filter(|key| !key.is_empty())
}

/// Standard base64 (RFC 4648, `+/`, padded) of at least one byte; `None` for anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    (!bytes.is_empty()).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's published test vector.
    const SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn verify(secret: &[u8], signature: &str, body: &[u8]) -> Result<(), SignatureError> {
        verify_signing_token(secret, Some(ID), Some(TIMESTAMP), Some(signature), body)
    }

    #[test]
    fn the_standard_webhooks_vector_verifies() {
        assert_eq!(verify(SECRET, SIGNATURE, BODY), Ok(()));
        // The key without its prefix is the same key.
        assert_eq!(verify(&SECRET[6..], SIGNATURE, BODY), Ok(()));
    }

    #[test]
    fn a_changed_body_id_time_or_token_does_not_verify() {
        assert_eq!(
            verify(SECRET, SIGNATURE, br#"{"test": 2432232315}"#),
            Err(SignatureError::Mismatch)
        );
        let other_id = verify_signing_token(
            SECRET,
            Some("msg_other"),
            Some(TIMESTAMP),
            Some(SIGNATURE),
            BODY,
        );
        assert_eq!(other_id, Err(SignatureError::Mismatch));
        let other_time =
            verify_signing_token(SECRET, Some(ID), Some("1614265331"), Some(SIGNATURE), BODY);
        assert_eq!(other_time, Err(SignatureError::Mismatch));
        assert_eq!(
            verify(
                b"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                SIGNATURE,
                BODY
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn one_matching_entry_of_a_rotation_is_enough() {
        let wrong = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(
            verify(SECRET, &format!("{wrong} {SIGNATURE}"), BODY),
            Ok(())
        );
        assert_eq!(verify(SECRET, &format!("v2,abc {SIGNATURE}"), BODY), Ok(()));
        assert_eq!(verify(SECRET, wrong, BODY), Err(SignatureError::Mismatch));
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        for (id, ts, sig) in [
            (None, Some(TIMESTAMP), Some(SIGNATURE)),
            (Some(ID), None, Some(SIGNATURE)),
            (Some(ID), Some(TIMESTAMP), None),
        ] {
            assert_eq!(
                verify_signing_token(SECRET, id, ts, sig, BODY),
                Err(SignatureError::Missing)
            );
        }
        let too_many = [SIGNATURE; MAX_SIGNATURES + 1].join(" ");
        for bad in [
            "",
            "v1,",
            "v1,not base64!",
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1,AAAA",
            too_many.as_str(),
        ] {
            assert_eq!(
                verify(SECRET, bad, BODY),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
        for ts in ["", "-1", "16142653.30", "9999999999999"] {
            let result = verify_signing_token(SECRET, Some(ID), Some(ts), Some(SIGNATURE), BODY);
            assert_eq!(result, Err(SignatureError::Malformed), "{ts:?}");
        }
        assert_eq!(
            verify_signing_token(SECRET, Some(""), Some(TIMESTAMP), Some(SIGNATURE), BODY),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn no_usable_token_opens_nothing() {
        for secret in [&b""[..], b"whsec_", b"whsec_not base64", b"\xff\xfe"] {
            assert_eq!(
                verify(secret, SIGNATURE, BODY),
                Err(SignatureError::NoSecret),
                "{secret:?}"
            );
        }
    }

    #[test]
    fn the_timestamp_reads_as_milliseconds() {
        assert_eq!(signing_timestamp_ms(Some(TIMESTAMP)), Ok(1_614_265_330_000));
        assert_eq!(signing_timestamp_ms(None), Err(SignatureError::Missing));
        assert_eq!(
            signing_timestamp_ms(Some("12a")),
            Err(SignatureError::Malformed)
        );
        let now = chrono::DateTime::from_timestamp(1_614_265_330 + 30, 0).expect("time");
        let sent = signing_timestamp_ms(Some(TIMESTAMP)).expect("ms");
        assert_eq!(crate::ingest::signature::check_timestamp(sent, now), Ok(()));
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(base64_decode("TWFu").as_deref(), Some(&b"Man"[..]));
        assert_eq!(base64_decode("TWE=").as_deref(), Some(&b"Ma"[..]));
        assert_eq!(base64_decode("TQ==").as_deref(), Some(&b"M"[..]));
        for bad in ["", "TWE", "T===", "TQ==TWFu", "TW-u", "TW_u"] {
            assert_eq!(base64_decode(bad), None, "{bad:?}");
        }
    }
}
