//! Mergeable quantile sketch.
//!
//! Rollups store one sketch per (scope, week, metric) and a team or a multi-week query merges
//! them, so the sketch must merge losslessly (merging gives exactly the sketch of the union),
//! must be deterministic (a rollup recomputed from scratch must compare equal to the stored one,
//! whatever order the projections were read in), and must be small, because it lives inside
//! DynamoDB items whose write cost grows with their size.
//!
//! Two representations, chosen by the sample count alone so that equal multisets always give
//! equal sketches:
//!
//! * up to [`EXACT_LIMIT`] samples the raw values are kept sorted and quantiles are exact —
//!   most (repo, week) buckets are this small, and users check small numbers by hand;
//! * above it, a DDSketch-style log-bucket histogram (Masson et al., VLDB 2019) with relative
//!   accuracy [`RELATIVE_ACCURACY`]: a positive value `v` counts in bucket
//!   `i = ceil(log_gamma(v))`, `gamma = (1 + α) / (1 − α)`, and the bucket stands for
//!   `2·gamma^i / (gamma + 1)`, which is within `α` of every value in `(gamma^(i−1), gamma^i]`.
//!   Zeros are counted apart because no bucket holds them.
//!
//! Written here rather than taken from `sketches-ddsketch`, `ddsketchy` or `sketches-rust`:
//! those keep dense stores with offsets and running float sums/min/max, so two sketches of the
//! same values built in different orders need not be `==`, their serde forms are verbose, and
//! none has an exact small-sample mode; the part we need is about a hundred lines.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Up to this many samples a sketch keeps the raw values (exact quantiles).
pub const EXACT_LIMIT: usize = 1000;

/// The relative error bound of quantiles in bucket mode (α).
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// `(1 + α) / (1 − α)` for α = 0.01, spelled out so the stored `g` is bit-identical everywhere.
const GAMMA: f64 = 1.01 / 0.99;

/// A mergeable quantile sketch over non-negative values (durations in seconds, line counts).
///
/// Input hygiene, decided here once so that every caller gets the same numbers: a negative
/// value (clock skew, e.g. a review stamped before the PR was opened) is clamped to `0.0` and
/// counted; NaN and infinities are ignored and not counted, since they carry no duration and
/// cannot be stored as JSON or DynamoDB numbers.
///
/// Serialized compactly as `{"v":[sorted values]}` in exact mode and as
/// `{"g":gamma,"z":zeros,"b":[[index,count],…]}` in bucket mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub struct QuantileSketch {
    repr: Repr,
}

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    /// Sorted ascending, all finite and `>= 0.0` (no `-0.0`), at most `EXACT_LIMIT` long.
    Exact(Vec<f64>),
    /// Bucket index → count (every count > 0), plus the count of zeros. A `BTreeMap` so that
    /// equality and serialization do not depend on insertion order.
    Buckets {
        zeros: u64,
        buckets: BTreeMap<i32, u64>,
    },
}

impl Default for QuantileSketch {
    fn default() -> Self {
        QuantileSketch::new()
    }
}

impl QuantileSketch {
    pub fn new() -> QuantileSketch {
        QuantileSketch {
            repr: Repr::Exact(Vec::new()),
        }
    }

    pub fn add(&mut self, value: f64) {
        let Some(value) = sanitize(value) else {
            return;
        };
        match &mut self.repr {
            Repr::Exact(values) => {
                let at = values.partition_point(|v| *v <= value);
                values.insert(at, value);
                if values.len() > EXACT_LIMIT {
                    self.convert_to_buckets();
                }
            }
            Repr::Buckets { zeros, buckets } => add_to_buckets(zeros, buckets, value, 1),
        }
    }

    /// Afterwards `self` equals the sketch of the union of both inputs' values.
    pub fn merge(&mut self, other: &QuantileSketch) {
        match (&mut self.repr, &other.repr) {
            (Repr::Exact(mine), Repr::Exact(theirs)) => {
                if theirs.is_empty() {
                    return;
                }
                let mut merged = Vec::with_capacity(mine.len() + theirs.len());
                let (mut i, mut j) = (0, 0);
                while i < mine.len() && j < theirs.len() {
                    if mine[i] <= theirs[j] {
                        merged.push(mine[i]);
                        i += 1;
                    } else {
                        merged.push(theirs[j]);
                        j += 1;
                    }
                }
                merged.extend_from_slice(&mine[i..]);
                merged.extend_from_slice(&theirs[j..]);
                *mine = merged;
                if mine.len() > EXACT_LIMIT {
                    self.convert_to_buckets();
                }
            }
            (Repr::Buckets { zeros, buckets }, Repr::Exact(theirs)) => {
                for &v in theirs {
                    add_to_buckets(zeros, buckets, v, 1);
                }
            }
            (
                _,
                Repr::Buckets {
                    zeros: z,
                    buckets: b,
                },
            ) => {
                self.convert_to_buckets();
                if let Repr::Buckets { zeros, buckets } = &mut self.repr {
                    *zeros += z;
                    for (&index, &count) in b {
                        *buckets.entry(index).or_insert(0) += count;
                    }
                }
            }
        }
    }

    /// The number of accepted values (see the type's doc for what is not accepted).
    pub fn count(&self) -> u64 {
        match &self.repr {
            Repr::Exact(values) => values.len() as u64,
            Repr::Buckets { zeros, buckets } => zeros + buckets.values().sum::<u64>(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Whether quantiles are exact (few samples) or within [`RELATIVE_ACCURACY`].
    pub fn is_exact(&self) -> bool {
        matches!(self.repr, Repr::Exact(_))
    }

    /// The nearest-rank quantile: the value of rank `max(1, ceil(q·n))` in ascending order, so
    /// the median of an even count is the lower middle value and every answer is an observed
    /// value (or, in bucket mode, within 1% of one). `q` is clamped to `[0, 1]`; `None` when
    /// empty or `q` is NaN.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if q.is_nan() {
            return None;
        }
        let n = self.count();
        if n == 0 {
            return None;
        }
        // The epsilon keeps float noise in q·n (0.7 · 10 = 7.000000000000001) from moving the
        // rank up by one.
        let rank = (q.clamp(0.0, 1.0) * n as f64 - 1e-9)
            .ceil()
            .max(1.0)
            .min(n as f64) as u64;
        match &self.repr {
            Repr::Exact(values) => values.get(rank as usize - 1).copied(),
            Repr::Buckets { zeros, buckets } => {
                if rank <= *zeros {
                    return Some(0.0);
                }
                let mut seen = *zeros;
                for (&index, &count) in buckets {
                    seen += count;
                    if seen >= rank {
                        return Some(bucket_value(index));
                    }
                }
                buckets.keys().next_back().map(|&i| bucket_value(i))
            }
        }
    }

    fn convert_to_buckets(&mut self) {
        if let Repr::Exact(values) = &self.repr {
            let mut zeros = 0;
            let mut buckets = BTreeMap::new();
            for &v in values {
                add_to_buckets(&mut zeros, &mut buckets, v, 1);
            }
            self.repr = Repr::Buckets { zeros, buckets };
        }
    }
}

impl FromIterator<f64> for QuantileSketch {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut sketch = QuantileSketch::new();
        sketch.extend(iter);
        sketch
    }
}

impl Extend<f64> for QuantileSketch {
    fn extend<I: IntoIterator<Item = f64>>(&mut self, iter: I) {
        for v in iter {
            self.add(v);
        }
    }
}

/// `None` for values that are not counted; negatives and `-0.0` become `0.0`.
fn sanitize(value: f64) -> Option<f64> {
    if !value.is_finite() {
        None
    } else if value <= 0.0 {
        Some(0.0)
    } else {
        Some(value)
    }
}

fn add_to_buckets(zeros: &mut u64, buckets: &mut BTreeMap<i32, u64>, value: f64, count: u64) {
    if value <= 0.0 {
        *zeros += count;
    } else {
        *buckets.entry(bucket_index(value)).or_insert(0) += count;
    }
}

/// `ceil(log_gamma(v))`. Positive finite f64 values give indexes within about ±37 000.
fn bucket_index(value: f64) -> i32 {
    (value.ln() / GAMMA.ln()).ceil() as i32
}

/// `2·gamma^i / (gamma + 1)`, computed in log space so the largest buckets do not overflow.
fn bucket_value(index: i32) -> f64 {
    (f64::from(index) * GAMMA.ln() + (2.0 / (GAMMA + 1.0)).ln()).exp()
}

/// The stored form. Field names are one letter because the sketch is repeated in every rollup
/// item and DynamoDB bills by item size.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    g: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    z: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    b: Option<Vec<(i32, u64)>>,
}

impl From<QuantileSketch> for Wire {
    fn from(sketch: QuantileSketch) -> Wire {
        match sketch.repr {
            Repr::Exact(values) => Wire {
                v: Some(values),
                g: None,
                z: None,
                b: None,
            },
            Repr::Buckets { zeros, buckets } => Wire {
                v: None,
                g: Some(GAMMA),
                z: Some(zeros),
                b: Some(buckets.into_iter().collect()),
            },
        }
    }
}

/// Why a stored sketch cannot be read back.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SketchError {
    /// Bucketed with another relative accuracy: its buckets do not line up with this build's.
    #[error("sketch has gamma {found}, this build uses {GAMMA}; they cannot be merged")]
    OtherGamma { found: f64 },
    #[error("a sketch is either {{\"v\":[…]}} or {{\"g\":…,\"z\":…,\"b\":[…]}}")]
    Shape,
}

impl TryFrom<Wire> for QuantileSketch {
    type Error = SketchError;

    /// Stored data is brought back to canonical form (sorted, sanitized, bucketed above the
    /// limit, zero counts dropped) so that a loaded sketch compares equal to a recomputed one.
    fn try_from(wire: Wire) -> Result<QuantileSketch, SketchError> {
        match wire {
            Wire {
                v: Some(values),
                g: None,
                z: None,
                b: None,
            } => {
                let mut sketch = QuantileSketch::new();
                let mut values: Vec<f64> = values.into_iter().filter_map(sanitize).collect();
                values.sort_by(f64::total_cmp);
                sketch.repr = Repr::Exact(values);
                if sketch.count() > EXACT_LIMIT as u64 {
                    sketch.convert_to_buckets();
                }
                Ok(sketch)
            }
            Wire {
                v: None,
                g: Some(g),
                z,
                b,
            } => {
                if (g - GAMMA).abs() > 1e-12 {
                    return Err(SketchError::OtherGamma { found: g });
                }
                let mut buckets = BTreeMap::new();
                for (index, count) in b.unwrap_or_default() {
                    if count > 0 {
                        *buckets.entry(index).or_insert(0) += count;
                    }
                }
                Ok(QuantileSketch {
                    repr: Repr::Buckets {
                        zeros: z.unwrap_or(0),
                        buckets,
                    },
                })
            }
            _ => Err(SketchError::Shape),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exact_quantile(values: &[f64], q: f64) -> f64 {
        let mut sorted: Vec<f64> = values.iter().copied().filter_map(sanitize).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let rank = ((q * n as f64 - 1e-9).ceil() as usize).clamp(1, n);
        sorted[rank - 1]
    }

    fn round_trip(sketch: &QuantileSketch) -> QuantileSketch {
        let json = serde_json::to_string(sketch).expect("serialize sketch");
        serde_json::from_str(&json).expect("deserialize sketch")
    }

    #[test]
    fn empty_sketch_has_no_quantiles() {
        let s = QuantileSketch::default();
        assert!(s.is_empty());
        assert_eq!(s.count(), 0);
        assert_eq!(s.quantile(0.5), None);
        assert_eq!(serde_json::to_string(&s).expect("serialize"), r#"{"v":[]}"#);
    }

    #[test]
    fn small_samples_give_exact_nearest_rank_quantiles() {
        let s: QuantileSketch = [40.0, 10.0, 30.0, 20.0].into_iter().collect();
        assert!(s.is_exact());
        assert_eq!(s.quantile(0.5), Some(20.0)); // lower middle of an even count
        assert_eq!(s.quantile(0.9), Some(40.0));
        assert_eq!(s.quantile(0.0), Some(10.0));
        assert_eq!(s.quantile(1.0), Some(40.0));
        assert_eq!(s.quantile(0.25), Some(10.0));
        assert_eq!(s.quantile(f64::NAN), None);
        let ten: QuantileSketch = (1..=10).map(f64::from).collect();
        assert_eq!(ten.quantile(0.7), Some(7.0));
        assert_eq!(ten.quantile(0.9), Some(9.0));
        assert_eq!(
            serde_json::to_string(&s).expect("serialize"),
            r#"{"v":[10.0,20.0,30.0,40.0]}"#
        );
    }

    #[test]
    fn bad_inputs_are_clamped_or_ignored() {
        let mut s = QuantileSketch::new();
        s.add(-5.0);
        s.add(-0.0);
        s.add(f64::NAN);
        s.add(f64::INFINITY);
        s.add(f64::NEG_INFINITY);
        s.add(3.0);
        assert_eq!(s.count(), 3);
        assert_eq!(s.quantile(0.0), Some(0.0));
        assert_eq!(s.quantile(1.0), Some(3.0));
        assert_eq!(
            serde_json::to_string(&s).expect("serialize"),
            r#"{"v":[0.0,0.0,3.0]}"#
        );
    }

    #[test]
    fn switches_to_buckets_above_the_limit() {
        let mut s: QuantileSketch = (1..=EXACT_LIMIT).map(|i| i as f64).collect();
        assert!(s.is_exact());
        s.add(0.0);
        assert!(!s.is_exact());
        assert_eq!(s.count(), EXACT_LIMIT as u64 + 1);
        assert_eq!(s.quantile(0.0), Some(0.0));
        let median = s.quantile(0.5).expect("non-empty");
        assert!((median - 500.0).abs() <= 5.0, "{median}");
        let json = serde_json::to_string(&s).expect("serialize");
        assert!(json.starts_with(r#"{"g":1.0202"#), "{json}");
        assert!(json.contains(r#""z":1,"b":[["#), "{json}");
        assert_eq!(round_trip(&s), s);
    }

    #[test]
    fn stored_forms_are_canonicalized_or_rejected() {
        let loaded: QuantileSketch =
            serde_json::from_str(r#"{"v":[3.0,1.0,-2.0]}"#).expect("unsorted is accepted");
        let built: QuantileSketch = [0.0, 1.0, 3.0].into_iter().collect();
        assert_eq!(loaded, built);
        for bad in [
            r#"{"v":[1.0],"g":1.0202}"#,
            r#"{"g":1.5,"z":0,"b":[]}"#,
            r#"{"x":[]}"#,
            r#"{}"#,
            r#"[1,2]"#,
        ] {
            assert!(
                serde_json::from_str::<QuantileSketch>(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let mut s: QuantileSketch = (0..=EXACT_LIMIT).map(|_| f64::MAX).collect();
        s.add(f64::MIN_POSITIVE);
        s.add(5e-324);
        let top = s.quantile(1.0).expect("non-empty");
        assert!(top.is_finite() && (top - f64::MAX).abs() <= RELATIVE_ACCURACY * f64::MAX);
        let bottom = s.quantile(0.0).expect("non-empty");
        assert!(bottom > 0.0 && bottom < 1e-300);
        assert_eq!(round_trip(&s), s);
    }

    /// Lognormal-ish durations: exp of a sum of uniforms spans seconds to months, with some
    /// exact zeros and repeated values as real data has.
    fn durations(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
        let value = prop_oneof![
            8 => (-3.0f64..3.0, -3.0f64..3.0, -3.0f64..3.0, 0.0f64..10.0)
                .prop_map(|(a, b, c, mu)| (mu + a + b + c).exp()),
            1 => Just(0.0),
            1 => (0u32..100).prop_map(f64::from),
        ];
        prop::collection::vec(value, 0..max_len)
    }

    fn sketch_of(values: &[f64]) -> QuantileSketch {
        values.iter().copied().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn relative_error_is_within_one_percent(values in durations(5000)) {
            prop_assume!(!values.is_empty());
            let s = sketch_of(&values);
            prop_assert_eq!(s.count(), values.len() as u64);
            for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0] {
                let exact = exact_quantile(&values, q);
                let got = s.quantile(q).expect("non-empty");
                prop_assert!(
                    (got - exact).abs() <= RELATIVE_ACCURACY * exact * (1.0 + 1e-9),
                    "q={} exact={} got={} n={}", q, exact, got, values.len()
                );
                if s.is_exact() {
                    prop_assert_eq!(got, exact);
                }
            }
        }

        #[test]
        fn merge_equals_sketch_of_union(a in durations(3000), b in durations(3000)) {
            let mut merged = sketch_of(&a);
            merged.merge(&sketch_of(&b));
            let union: Vec<f64> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(&merged, &sketch_of(&union));
            let mut other_way = sketch_of(&b);
            other_way.merge(&sketch_of(&a));
            prop_assert_eq!(&merged, &other_way);
        }

        #[test]
        fn order_and_grouping_do_not_matter(
            (values, shuffled) in durations(2500)
                .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
            chunk in 1usize..700,
        ) {
            let direct = sketch_of(&values);
            prop_assert_eq!(&direct, &sketch_of(&shuffled));
            let mut grouped = QuantileSketch::new();
            for part in shuffled.chunks(chunk).rev() {
                grouped.merge(&sketch_of(part));
            }
            prop_assert_eq!(&direct, &grouped);
        }

        #[test]
        fn serde_round_trip(values in durations(2500)) {
            let s = sketch_of(&values);
            prop_assert_eq!(&round_trip(&s), &s);
        }
    }
}
