//! `normalize_bitbucket` for every Cloud and Data Center event key it reads (and two it
//! ignores): the first byte picks the `X-Event-Key`, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const KEYS: [&str; 18] = [
    "repo:push",
    "pullrequest:created",
    "pullrequest:updated",
    "pullrequest:fulfilled",
    "pullrequest:rejected",
    "pullrequest:approved",
    "pullrequest:changes_request_created",
    "pullrequest:comment_created",
    "repo:refs_changed",
    "pr:opened",
    "pr:modified",
    "pr:from_ref_updated",
    "pr:merged",
    "pr:declined",
    "pr:reviewer:approved",
    "pr:reviewer:needs_work",
    "pr:comment:added",
    "diagnostics:ping",
];

fuzz_target!(|data: &[u8]| {
    let Some((key, body)) = common::pick(data, &KEYS) else {
        return;
    };
    let result = flowmeter::ingest::bitbucket::normalize_bitbucket(key, "fuzz-delivery", body);
    common::check(result, None);
});
