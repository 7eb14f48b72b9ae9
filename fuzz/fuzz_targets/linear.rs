#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // The webhook reads the date first (to refuse a replay), then normalizes.
    if let Ok(sent) = flowmeter::ingest::linear::webhook_timestamp(data) {
        let _ = sent;
    }
    common::check(flowmeter::ingest::linear::normalize_linear(data), None);
});
