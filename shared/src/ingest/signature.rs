//! Webhook authentication: HMAC-SHA256 of the raw body with a shared secret. The raw bytes are
//! what is signed, so this must run before any parsing and on exactly the bytes received.
//!
//! Comparison goes through `hmac`'s `verify_slice`, which is constant time: a byte-by-byte `==`
//! on hex strings would let an attacker learn a valid signature one byte at a time from response
//! timings. Jira Server cannot sign, so it authenticates by a token in the URL instead, compared
//! the same way ([`verify_token`]); Linear signs, and also dates the body, which
//! [`check_timestamp`] holds to a window so a captured delivery cannot be replayed later.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// SHA-256 output length; a tag of any other length cannot match and is malformed.
const TAG_BYTES: usize = 32;

/// Rotation sends one `v1=` entry per active secret; more than this is not a rotation but an
/// attempt to make us hash a large body many times.
const MAX_PAGERDUTY_SIGNATURES: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No secret is configured for this source. Never "accept anything" in that case: an
    /// unconfigured secret is an operator mistake, and the safe answer to it is 401.
    #[error("no webhook secret is configured for this source")]
    NoSecret,
    #[error("signature header is missing")]
    Missing,
    #[error("signature header is malformed")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
    /// Signed, but dated too far from now: a replay of a captured delivery, or a sender whose
    /// clock is off by more than the window.
    #[error("webhook timestamp is more than {} s from now", TIMESTAMP_TOLERANCE_MS / 1000)]
    Stale,
}

/// How far a dated delivery (Linear's `webhookTimestamp`) may be from our clock, either way.
/// Linear's documentation suggests a minute; a delivery it retries is dated anew.
pub const TIMESTAMP_TOLERANCE_MS: i64 = 60_000;

/// Lower-case hex HMAC-SHA256 of `body`; what a sender puts after `sha256=` or `v1=`. For tests,
/// the demo tools and anyone scripting the generic endpoints.
pub fn sign_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed(secret);
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// `sha256=<hex>` in one header: the scheme GitHub, Bitbucket Cloud and Flowmeter's generic
/// endpoints share (the re-exports below name each sender's header).
pub fn verify_sha256(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let mut mac = keyed_checked(secret)?;
    let header = header.ok_or(SignatureError::Missing)?;
    let tag = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)
        .and_then(decode_tag)?;
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex>`.
pub use verify_sha256 as verify_github;

/// Bitbucket Cloud: `X-Hub-Signature: sha256=<hex>`, the same scheme as GitHub's.
pub use verify_sha256 as verify_bitbucket;

/// Flowmeter's generic endpoints: `X-Flowmeter-Signature-256: sha256=<hex>`, GitHub's scheme so
/// existing signing snippets work unchanged.
pub use verify_sha256 as verify_generic;

/// Jira Cloud: `X-Hub-Signature: sha256=<hex>`, the scheme of GitHub's header.
pub use verify_sha256 as verify_jira;

/// Linear: `Linear-Signature: <hex>`, the bare hex HMAC-SHA256 of the body.
pub fn verify_linear(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let mut mac = keyed_checked(secret)?;
    let tag = decode_tag(header.ok_or(SignatureError::Missing)?.trim())?;
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// A shared token (Jira Server's, in the webhook URL) against the configured one, in constant
/// time: both are MACed under the configured token and the tags compared with `verify_slice`,
/// so neither the position of the first wrong byte nor the length of the right token shows in
/// the timing.
pub fn verify_token(expected: &[u8], given: Option<&str>) -> Result<(), SignatureError> {
    let mut reference = keyed_checked(expected)?;
    let given = given.ok_or(SignatureError::Missing)?;
    reference.update(expected);
    let tag = reference.finalize().into_bytes();
    let mut candidate = keyed(expected);
    candidate.update(given.as_bytes());
    candidate
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

/// A signed body's own date (milliseconds since the epoch) against `now`: at most
/// [`TIMESTAMP_TOLERANCE_MS`] apart, either way. Runs after the signature check, so the date is
/// the sender's.
pub fn check_timestamp(sent_ms: i64, now: DateTime<Utc>) -> Result<(), SignatureError> {
    let skew = now.timestamp_millis().abs_diff(sent_ms);
    if skew > TIMESTAMP_TOLERANCE_MS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// PagerDuty V3: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`. During secret rotation
/// PagerDuty signs with every active secret, so one matching entry is enough. Entries of other
/// versions are skipped (a future `v2=` must not break `v1` verification).
pub fn verify_pagerduty(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let mac = keyed_checked(secret)?;
    let header = header.ok_or(SignatureError::Missing)?;
    let entries: Vec<&str> = header
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() || entries.len() > MAX_PAGERDUTY_SIGNATURES {
        return Err(SignatureError::Malformed);
    }
    let tags: Vec<Vec<u8>> = entries
        .iter()
        .filter_map(|e| e.strip_prefix("v1="))
        .filter_map(|hex_tag| decode_tag(hex_tag).ok())
        .collect();
    if tags.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac = mac;
    mac.update(body);
    // The body is hashed once; each candidate verifies against a copy of the finished state.
    if tags.iter().any(|tag| mac.clone().verify_slice(tag).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn decode_tag(hex_tag: &str) -> Result<Vec<u8>, SignatureError> {
    match hex::decode(hex_tag) {
        Ok(tag) if tag.len() == TAG_BYTES => Ok(tag),
        _ => Err(SignatureError::Malformed),
    }
}

fn keyed_checked(secret: &[u8]) -> Result<HmacSha256, SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    Ok(keyed(secret))
}

fn keyed(secret: &[u8]) -> HmacSha256 {
    // HMAC hashes over-long keys and pads short ones, so no key length is rejected.
    <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::testing::signature_vector;

    const PAGERDUTY_BODY: &[u8] = include_bytes!(
        "../../../tests/fixtures/pagerduty/go-pagerduty.webhookv3_test.priority_updated.body.json"
    );
    const BITBUCKET_BODY: &[u8] = include_bytes!(
        "../../../tests/fixtures/bitbucket/bbs-plugin.repo_push.signed_payload.json"
    );

    #[test]
    fn github_docs_vector() {
        let secret = signature_vector("github_docs_test_vector", "secret").as_bytes();
        let body = signature_vector("github_docs_test_vector", "payload").as_bytes();
        let header = signature_vector("github_docs_test_vector", "header_value");
        let signature = signature_vector("github_docs_test_vector", "signature");

        assert_eq!(sign_hex(secret, body), signature);
        assert_eq!(verify_github(secret, body, Some(header)), Ok(()));
        assert_eq!(
            verify_github(secret, b"Hello, World?", Some(header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github(b"another secret", body, Some(header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn github_rejects_missing_and_malformed_headers() {
        let secret = signature_vector("github_docs_test_vector", "secret").as_bytes();
        let body = signature_vector("github_docs_test_vector", "payload").as_bytes();
        let signature = signature_vector("github_docs_test_vector", "signature");

        assert_eq!(
            verify_github(secret, body, None),
            Err(SignatureError::Missing)
        );
        // The bare hex, the legacy sha1 header, a short tag, non-hex, and an empty value.
        for bad in [
            signature.to_string(),
            "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59".to_string(),
            format!("sha256={}", &signature[..62]),
            format!("sha256={}zz", &signature[..62]),
            "sha256=".to_string(),
            String::new(),
        ] {
            assert_eq!(
                verify_github(secret, body, Some(&bad)),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn empty_secret_never_verifies() {
        let body = b"Hello, World!";
        let forged = format!("sha256={}", sign_hex(b"", body));
        assert_eq!(
            verify_github(b"", body, Some(&forged)),
            Err(SignatureError::NoSecret)
        );
        assert_eq!(
            verify_generic(b"", body, Some(&forged)),
            Err(SignatureError::NoSecret)
        );
        assert_eq!(
            verify_bitbucket(b"", body, Some(&forged)),
            Err(SignatureError::NoSecret)
        );
        let forged_pd = format!("v1={}", sign_hex(b"", body));
        assert_eq!(
            verify_pagerduty(b"", body, Some(&forged_pd)),
            Err(SignatureError::NoSecret)
        );
        assert_eq!(
            verify_pagerduty(b"", body, None),
            Err(SignatureError::NoSecret)
        );
    }

    #[test]
    fn pagerduty_vector_with_rotation() {
        let secret = signature_vector("pagerduty_v3", "secret").as_bytes();
        let good = signature_vector("pagerduty_v3", "header_value");
        let bad = signature_vector("pagerduty_v3", "mismatch_header_value_from_same_test");
        assert_eq!(PAGERDUTY_BODY.len(), 1655);

        assert_eq!(verify_pagerduty(secret, PAGERDUTY_BODY, Some(good)), Ok(()));
        assert_eq!(
            verify_pagerduty(secret, PAGERDUTY_BODY, Some(bad)),
            Err(SignatureError::Mismatch)
        );
        // Rotation: either order, with or without a space after the comma.
        assert_eq!(
            verify_pagerduty(secret, PAGERDUTY_BODY, Some(&format!("{bad},{good}"))),
            Ok(())
        );
        assert_eq!(
            verify_pagerduty(secret, PAGERDUTY_BODY, Some(&format!("{good}, {bad}"))),
            Ok(())
        );
        // An unknown version next to a valid v1 entry does not hurt.
        assert_eq!(
            verify_pagerduty(secret, PAGERDUTY_BODY, Some(&format!("v2=abc,{good}"))),
            Ok(())
        );
        assert_eq!(
            verify_pagerduty(secret, b"{}", Some(good)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn pagerduty_rejects_missing_and_malformed_headers() {
        let secret = signature_vector("pagerduty_v3", "secret").as_bytes();
        let good = signature_vector("pagerduty_v3", "header_value");
        assert_eq!(
            verify_pagerduty(secret, PAGERDUTY_BODY, None),
            Err(SignatureError::Missing)
        );
        let too_many = [good; MAX_PAGERDUTY_SIGNATURES + 1].join(",");
        for bad in [
            "",
            ",",
            "v1=",
            "v1=nothex",
            "sha256=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd",
            "0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd",
            too_many.as_str(),
        ] {
            assert_eq!(
                verify_pagerduty(secret, PAGERDUTY_BODY, Some(bad)),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bitbucket_vector() {
        let secret = signature_vector("bitbucket_cloud", "secret").as_bytes();
        let good = signature_vector("bitbucket_cloud", "header_value");
        let bad = signature_vector("bitbucket_cloud", "bad_header_value_from_same_test");
        assert_eq!(BITBUCKET_BODY.len(), 14515);

        assert_eq!(verify_bitbucket(secret, BITBUCKET_BODY, Some(good)), Ok(()));
        assert_eq!(
            verify_bitbucket(secret, BITBUCKET_BODY, Some(bad)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(format!("sha256={}", sign_hex(secret, BITBUCKET_BODY)), good);
    }

    #[test]
    fn jira_cloud_signs_like_github() {
        let secret = b"jira-secret";
        let body = br#"{"webhookEvent":"jira:issue_created"}"#;
        let header = format!("sha256={}", sign_hex(secret, body));
        assert_eq!(verify_jira(secret, body, Some(&header)), Ok(()));
        assert_eq!(
            verify_jira(secret, b"{}", Some(&header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_jira(b"", body, Some(&header)),
            Err(SignatureError::NoSecret)
        );
    }

    #[test]
    fn linear_signs_with_bare_hex() {
        let secret = b"lin_wh_secret";
        let body = br#"{"type":"Issue"}"#;
        let hex_tag = sign_hex(secret, body);
        assert_eq!(verify_linear(secret, body, Some(&hex_tag)), Ok(()));
        assert_eq!(
            verify_linear(secret, body, Some(&hex_tag.to_uppercase())),
            Ok(())
        );
        assert_eq!(
            verify_linear(secret, b"{}", Some(&hex_tag)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_linear(secret, body, None),
            Err(SignatureError::Missing)
        );
        for bad in [
            format!("sha256={hex_tag}"),
            hex_tag[..62].to_string(),
            String::new(),
        ] {
            assert_eq!(
                verify_linear(secret, body, Some(&bad)),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            verify_linear(b"", body, Some(&sign_hex(b"", body))),
            Err(SignatureError::NoSecret)
        );
    }

    #[test]
    fn tokens_match_exactly() {
        let token = b"0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        assert_eq!(
            verify_token(token, Some("0f1e2d3c4b5a69788796a5b4c3d2e1f0")),
            Ok(())
        );
        for wrong in [
            "0f1e2d3c4b5a69788796a5b4c3d2e1f1",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f00",
            "",
            "0F1E2D3C4B5A69788796A5B4C3D2E1F0",
        ] {
            assert_eq!(
                verify_token(token, Some(wrong)),
                Err(SignatureError::Mismatch),
                "{wrong:?}"
            );
        }
        assert_eq!(verify_token(token, None), Err(SignatureError::Missing));
        // No configured token opens nothing, not even for an empty one.
        assert_eq!(verify_token(b"", Some("")), Err(SignatureError::NoSecret));
    }

    #[test]
    fn timestamps_within_a_minute_either_way() {
        let now = DateTime::from_timestamp_millis(1_710_410_700_000).expect("time");
        let at = |ms: i64| check_timestamp(1_710_410_700_000 + ms, now);
        assert_eq!(at(0), Ok(()));
        assert_eq!(at(-60_000), Ok(()));
        assert_eq!(at(60_000), Ok(()));
        assert_eq!(at(-60_001), Err(SignatureError::Stale));
        assert_eq!(at(60_001), Err(SignatureError::Stale));
        assert_eq!(check_timestamp(i64::MIN, now), Err(SignatureError::Stale));
        assert_eq!(check_timestamp(i64::MAX, now), Err(SignatureError::Stale));
    }

    #[test]
    fn generic_round_trip() {
        let secret = b"generic-secret";
        let body = br#"{"repo":"acme/api"}"#;
        let header = format!("sha256={}", sign_hex(secret, body));
        assert_eq!(verify_generic(secret, body, Some(&header)), Ok(()));
        // Upper-case hex is the same tag.
        let upper = format!("sha256={}", sign_hex(secret, body).to_uppercase());
        assert_eq!(verify_generic(secret, body, Some(&upper)), Ok(()));
        assert_eq!(
            verify_generic(secret, b"{}", Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }
}
