//! The signature header parsers with arbitrary headers: the input is `<header>\n<body>`; the
//! header goes to every verifier (GitHub, generic, Bitbucket and Jira `sha256=`, PagerDuty
//! `v1=` lists, Linear's bare hex, Jira Server's token).
//! Invariants: nothing panics, and the correct signature of the body always verifies.
#![no_main]

use flowmeter::ingest::signature::{
    sign_hex, verify_bitbucket, verify_generic, verify_github, verify_jira,
    verify_linear, verify_pagerduty, verify_token,
};
use libfuzzer_sys::fuzz_target;

/// The secrets of tests/fixtures/signatures/vectors.json, so the seeds' signatures match.
const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
const PAGERDUTY_SECRET: &[u8] = b"lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK";

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let header = std::str::from_utf8(header).ok();
    let _ = verify_github(GITHUB_SECRET, body, header);
    let _ = verify_generic(GITHUB_SECRET, body, header);
    let _ = verify_bitbucket(GITHUB_SECRET, body, header);
    let _ = verify_pagerduty(PAGERDUTY_SECRET, body, header);
    let _ = verify_github(b"", body, header);
    let _ = verify_pagerduty(b"", body, header);
    let _ = verify_jira(GITHUB_SECRET, body, header);
    let _ = verify_linear(GITHUB_SECRET, body, header);
    let _ = verify_token(GITHUB_SECRET, header);
    let _ = verify_token(b"", header);

    assert_eq!(verify_linear(GITHUB_SECRET, body, Some(&sign_hex(GITHUB_SECRET, body))), Ok(()));
    if let Ok(token) = std::str::from_utf8(body) {
        if !token.is_empty() {
            assert_eq!(verify_token(token.as_bytes(), Some(token)), Ok(()));
        }
    }

    let good = format!("sha256={}", sign_hex(GITHUB_SECRET, body));
    assert_eq!(verify_github(GITHUB_SECRET, body, Some(&good)), Ok(()));
    let good_pd = format!("v1={}", sign_hex(PAGERDUTY_SECRET, body));
    assert_eq!(verify_pagerduty(PAGERDUTY_SECRET, body, Some(&good_pd)), Ok(()));
    // During rotation, a good entry next to a fuzzed one still verifies (within the entry cap).
    if let Some(h) = header {
        let entries = h.split(',').filter(|e| !e.trim().is_empty()).count();
        if entries < 8 {
            let rotated = format!("{h},{good_pd}");
            assert_eq!(verify_pagerduty(PAGERDUTY_SECRET, body, Some(&rotated)), Ok(()));
        }
    }
});
