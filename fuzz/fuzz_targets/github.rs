//! `normalize_github` for every event it reads (and two it ignores): the first byte picks the
//! `X-GitHub-Event`, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const EVENTS: [&str; 14] = [
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "issue_comment",
    "push",
    "deployment",
    "deployment_status",
    "workflow_run",
    "issues",
    "ping",
    "release",
    "dependabot_alert",
    "code_scanning_alert",
    "secret_scanning_alert",
];

fuzz_target!(|data: &[u8]| {
    let Some((event, body)) = common::pick(data, &EVENTS) else {
        return;
    };
    let result = flowmeter::ingest::github::normalize_github(event, "fuzz-delivery", body);
    common::check(result, Some("fuzz-delivery#"));
});
