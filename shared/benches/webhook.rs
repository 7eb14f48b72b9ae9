//! Webhook handling per delivery without I/O: signature verification, JSON parse and
//! normalization into facts, for a pull_request, a push and a deployment_status payload (the
//! real payloads of tests/fixtures). Target: p99 < 200 µs per delivery. Criterion reports mean
//! and median; the p99 comes from a separate loop timing every call (see common.rs).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowmeter::ingest::github::normalize_github;
use flowmeter::ingest::signature::{sign_hex, verify_github};
use flowmeter::ingest::Normalized;

#[path = "common.rs"]
mod common;

const SECRET: &[u8] = b"bench-secret";

struct Case {
    event: &'static str,
    body: Vec<u8>,
    header: String,
}

fn case(event: &'static str, fixture: &str) -> Case {
    let path = format!(
        "{}/../tests/fixtures/github/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let header = format!("sha256={}", sign_hex(SECRET, &body));
    Case {
        event,
        body,
        header,
    }
}

/// What the webhook function does with a delivery before it writes: verify, parse, normalize.
fn handle(case: &Case) -> usize {
    verify_github(SECRET, &case.body, Some(&case.header)).expect("signature");
    match normalize_github(case.event, "bench-delivery", &case.body).expect("valid payload") {
        Normalized::Facts(facts) => facts.len(),
        Normalized::Ignored(_) => 0,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "pull_request",
            "pull_request/create-issue-branch.pull_request.closed.merged.json",
        ),
        case("push", "push/with-new-branch.payload.json"),
        case("deployment_status", "deployment_status/payload.json"),
    ]
}

fn bench(c: &mut Criterion) {
    let cases = cases();
    let mut group = c.benchmark_group("webhook");
    for case in &cases {
        assert!(handle(case) > 0, "{} gives facts", case.event);
        group.throughput(Throughput::Bytes(case.body.len() as u64));
        group.bench_function(format!("{} ({} bytes)", case.event, case.body.len()), |b| {
            b.iter(|| handle(std::hint::black_box(case)))
        });
    }
    group.finish();
    for case in &cases {
        let p99 = common::percentiles(
            &format!("webhook/{} ({} bytes)", case.event, case.body.len()),
            100_000,
            || handle(case),
        );
        let verdict = if p99.as_micros() < 200 {
            "meets"
        } else {
            "MISSES"
        };
        println!("  -> p99 {verdict} the 200 µs target");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
