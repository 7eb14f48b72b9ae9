//! Which of the DORA **2024** report's four performance clusters a scope's numbers are nearest
//! (docs/METRICS.md, "Benchmark"). The 2024 table is a set of cluster profiles, not cut-offs:
//! its medium cluster has a lower typical change failure rate (10%) than its high one (20%), and
//! high and medium share a recovery time (under a day). So a scope is not graded metric by
//! metric here; each of its four numbers votes for the clusters whose profile it fits, and the
//! cluster with the most votes is the scope's.
//!
//! | cluster | deployment frequency | lead time | change failure rate | recovery time |
//! |---|---|---|---|---|
//! | elite | on demand | < 1 day | 5% | < 1 hour |
//! | high | daily to weekly | 1 day to 1 week | 20% | < 1 day |
//! | medium | weekly to monthly | 1 week to 1 month | 10% | < 1 day |
//! | low | monthly to every 6 months | 1 to 6 months | 40% | 1 week to 1 month |

use super::levels::{DoraLevel, DAY_SECONDS, HOUR_SECONDS};

const CLUSTERS: [DoraLevel; 4] = [
    DoraLevel::Elite,
    DoraLevel::High,
    DoraLevel::Medium,
    DoraLevel::Low,
];

/// The typical change failure rate of each 2024 cluster, in [`CLUSTERS`] order.
const TYPICAL_CHANGE_FAILURE_RATE: [f64; 4] = [0.05, 0.20, 0.10, 0.40];

/// The scope's DORA 2024 cluster from its deployment frequency level and lead time level (whose
/// bands are the 2024 table's too), its change failure rate and its recovery time p50. Each
/// number with a value fits:
///
/// * deployment frequency and lead time: the cluster of their level;
/// * change failure rate: the cluster whose typical rate is nearest (a tie to the lower
///   cluster): ≤ 7.5% elite, ≤ 15% medium, ≤ 30% high, above low;
/// * recovery time: `< 1 hour` elite, `< 1 day` high and medium, else low (the table leaves
///   1 day to 1 week to no cluster; low is the nearest that is slower than a day).
///
/// The cluster most numbers fit wins; a tie goes to the lower cluster, so a scope is never
/// placed above what its numbers show. `None` when no number has a value.
pub fn dora_2024_cluster(
    deployment_frequency: Option<DoraLevel>,
    lead_time: Option<DoraLevel>,
    change_failure_rate: Option<f64>,
    recovery_p50_seconds: Option<f64>,
) -> Option<DoraLevel> {
    let mut votes = [0u8; 4];
    let mut vote = |cluster: DoraLevel| {
        if let Some(i) = CLUSTERS.iter().position(|c| *c == cluster) {
            votes[i] += 1;
        }
    };
    let mut any = false;
    for level in [deployment_frequency, lead_time].into_iter().flatten() {
        vote(level);
        any = true;
    }
    if let Some(rate) = change_failure_rate.filter(|r| !r.is_nan()) {
        vote(nearest_by_failure_rate(rate));
        any = true;
    }
    if let Some(recovery) = recovery_p50_seconds.filter(|r| !r.is_nan()) {
        if recovery < HOUR_SECONDS {
            vote(DoraLevel::Elite);
        } else if recovery < DAY_SECONDS {
            vote(DoraLevel::High);
            vote(DoraLevel::Medium);
        } else {
            vote(DoraLevel::Low);
        }
        any = true;
    }
    if !any {
        return None;
    }
    // Lowest first; a better cluster takes over only with strictly more votes, so ties stay
    // with the lower one.
    let order = [3, 2, 1, 0];
    let mut best = order[0];
    for i in order {
        if votes[i] > votes[best] {
            best = i;
        }
    }
    Some(CLUSTERS[best])
}

/// The cluster whose typical change failure rate is nearest to `rate`; at equal distance the
/// lower-performing one.
fn nearest_by_failure_rate(rate: f64) -> DoraLevel {
    // Low to elite, so that a tie keeps the lower cluster found first.
    let mut best = 3;
    for i in [3, 2, 1, 0] {
        let distance = (rate - TYPICAL_CHANGE_FAILURE_RATE[i]).abs();
        let best_distance = (rate - TYPICAL_CHANGE_FAILURE_RATE[best]).abs();
        if distance < best_distance {
            best = i;
        }
    }
    CLUSTERS[best]
}

#[cfg(test)]
mod tests {
    use super::*;
    use DoraLevel::*;

    #[test]
    fn the_change_failure_rate_fits_the_nearest_typical_rate() {
        // given the typical rates 5% elite, 10% medium, 20% high, 40% low: the midpoints are
        // 7.5%, 15% and 30%
        let cases = [
            (0.0, Elite),
            (0.074, Elite),
            (0.076, Medium),
            (0.149, Medium),
            (0.151, High),
            (0.299, High),
            (0.301, Low),
            (1.0, Low),
        ];
        for (rate, cluster) in cases {
            assert_eq!(nearest_by_failure_rate(rate), cluster, "{rate}");
        }
    }

    #[test]
    fn the_cluster_most_numbers_fit_wins() {
        // given a team deploying daily (high) with a 3-day lead time (high), 12% failures
        // (medium) and a 3-hour recovery (high and medium): high 3 votes, medium 2
        let cluster = dora_2024_cluster(Some(High), Some(High), Some(0.12), Some(3.0 * 3600.0));
        // then
        assert_eq!(cluster, Some(High));
    }

    #[test]
    fn a_tie_goes_to_the_lower_cluster() {
        // given elite frequency and lead time, but 40% failures and a 2-week recovery: elite 2,
        // low 2
        let cluster = dora_2024_cluster(Some(Elite), Some(Elite), Some(0.4), Some(14.0 * 86_400.0));
        // then
        assert_eq!(cluster, Some(Low));
    }

    #[test]
    fn medium_wins_where_its_low_failure_rate_decides() {
        // given a high deployment frequency (one deploy day a week), a 2-week lead time
        // (medium), 10% failures (medium) and a 5-hour recovery (high and medium)
        let cluster = dora_2024_cluster(Some(High), Some(Medium), Some(0.10), Some(5.0 * 3600.0));
        // then medium 3 votes, high 2
        assert_eq!(cluster, Some(Medium));
    }

    #[test]
    fn numbers_without_a_value_do_not_vote() {
        // given only a deployment frequency level
        assert_eq!(
            dora_2024_cluster(Some(Elite), None, None, None),
            Some(Elite)
        );
        // and nothing at all
        assert_eq!(dora_2024_cluster(None, None, None, None), None);
        // a recovery of exactly one day is slower than a day: low
        assert_eq!(
            dora_2024_cluster(None, None, None, Some(86_400.0)),
            Some(Low)
        );
    }
}
