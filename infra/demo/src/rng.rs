//! The few distributions the sample org needs, drawn from the kit's SplitMix64 generator
//! (`flowmeter_kit::Rng`), so that the demo's data never changes with a crate's RNG stream.

/// SplitMix64 (the kit's), with the demo's distributions on top.
#[derive(Clone, Debug)]
pub struct Rng(flowmeter_kit::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(flowmeter_kit::Rng::new(seed))
    }

    /// An independent stream derived from this seed and a label, so that adding draws to one
    /// part of the simulation does not shift every other part.
    pub fn fork(seed: u64, label: &str) -> Rng {
        let mut h = seed ^ 0xCBF2_9CE4_8422_2325;
        for b in label.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01B3);
        }
        let mut r = Rng::new(h);
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice (the first for an empty one is impossible: callers
    /// pass constant, non-empty lists).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.range(0, items.len() as i64 - 1) as usize;
        &items[i.min(items.len().saturating_sub(1))]
    }

    /// Standard normal by Box-Muller.
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Lognormal with the given median and shape `sigma` (of the underlying normal).
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Poisson by Knuth's method (small means only).
    pub fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit && k < 50 {
            k += 1;
            p *= self.unit();
        }
        k
    }

    /// `n` lower-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n);
        while out.len() < n {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(n);
        out
    }

    /// A version-4 UUID, as GitHub's `X-GitHub-Delivery`.
    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-{}{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            ["8", "9", "a", "b"][(self.next_u64() % 4) as usize],
            &h[17..20],
            &h[20..32]
        )
    }

    /// `n` characters of upper-case letters and digits, as PagerDuty ids.
    pub fn alnum_upper(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n)
            .map(|_| CHARS[(self.next_u64() % CHARS.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..5).map(|_| Rng::new(7).next_u64()).collect();
        let mut r = Rng::new(7);
        assert_eq!(a[0], r.next_u64());
        assert_ne!(Rng::fork(7, "a").next_u64(), Rng::fork(7, "b").next_u64());
    }

    #[test]
    fn lognormal_median_is_about_right() {
        let mut r = Rng::new(1);
        let mut v: Vec<f64> = (0..4001).map(|_| r.lognormal(100.0, 0.8)).collect();
        v.sort_by(f64::total_cmp);
        assert!((85.0..115.0).contains(&v[2000]), "{}", v[2000]);
    }

    #[test]
    fn uuid_shape() {
        let u = Rng::new(3).uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
    }
}
