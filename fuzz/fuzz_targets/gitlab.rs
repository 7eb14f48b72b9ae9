//! `normalize_gitlab` for every event it reads (and one it ignores), and the signing-token
//! verifier: the first byte picks the `X-Gitlab-Event`, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const EVENTS: [&str; 7] = [
    "Merge Request Hook",
    "Push Hook",
    "Note Hook",
    "Deployment Hook",
    "Pipeline Hook",
    "Issue Hook",
    "Tag Push Hook",
];

fuzz_target!(|data: &[u8]| {
    let Some((event, body)) = common::pick(data, &EVENTS) else {
        return;
    };
    let result = flowmeter::ingest::gitlab::normalize_gitlab(event, "fuzz-delivery", body);
    // Fact ids come from the body, never from the delivery id.
    common::check(result, None);
    let text = String::from_utf8_lossy(body);
    let mut parts = text.splitn(3, '\n');
    let (id, timestamp, signature) = (parts.next(), parts.next(), parts.next());
    let _ = flowmeter::ingest::gitlab::verify_signing_token(
        b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        id,
        timestamp,
        signature,
        body,
    );
    let _ = flowmeter::ingest::gitlab::signing_timestamp_ms(timestamp);
});
