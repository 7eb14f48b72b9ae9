// Shared by the benches: a percentile report from per-iteration timings, which criterion (mean,
// median and their confidence intervals) does not give.

use std::time::{Duration, Instant};

/// Times `samples` single calls of `f` one by one (after a warm-up) and prints p50/p99/max.
/// Returns the p99.
#[allow(dead_code)]
pub fn percentiles<T>(label: &str, samples: usize, mut f: impl FnMut() -> T) -> Duration {
    for _ in 0..samples / 10 {
        std::hint::black_box(f());
    }
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        std::hint::black_box(f());
        times.push(start.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let (p50, p99, max) = (at(0.50), at(0.99), at(1.0));
    println!(
        "{label:<44} per-call timing over {samples} calls: p50 {:>9.2} µs  p99 {:>9.2} µs  max {:>9.2} µs",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        max.as_secs_f64() * 1e6
    );
    p99
}

/// A xorshift64 draw of a number in `0..m` from `state` (odd, not zero): benches need the
/// same members on every run to be comparable, not good randomness, and no `rand` dependency.
#[allow(dead_code)]
pub fn xorshift(mut state: u64) -> impl FnMut(u64) -> u64 {
    move |m| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    }
}
