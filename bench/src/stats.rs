//! Percentiles of latency samples, one definition for every benchmark.

use std::time::Duration;

/// A duration in whole microseconds, the unit samples are kept in.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The `p` quantile (0..=1) of sorted microseconds, in milliseconds: the sample at the
/// nearest rank, 0 when there are none.
pub fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p.clamp(0.0, 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// "p50 1.2 ms, p99 8.0 ms, max 30.1 ms (n 1000)".
pub fn summary(sorted: &[u64]) -> String {
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n {})",
        percentile_ms(sorted, 0.50),
        percentile_ms(sorted, 0.99),
        percentile_ms(sorted, 1.0),
        sorted.len()
    )
}

/// Durations as sorted microseconds, ready for [`percentile_ms`].
pub fn sorted_micros(samples: &[Duration]) -> Vec<u64> {
    let mut v: Vec<u64> = samples.iter().copied().map(micros).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_in_milliseconds() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.0), 1.0);
        assert_eq!(percentile_ms(&v, 0.5), 51.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&v, 1.0), 100.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
        assert_eq!(percentile_ms(&[2500], 0.99), 2.5);
    }

    #[test]
    fn durations_sorted_as_micros() {
        let v = sorted_micros(&[Duration::from_millis(3), Duration::from_micros(1500)]);
        assert_eq!(v, vec![1500, 3000]);
        assert_eq!(summary(&v), "p50 3.0 ms, p99 3.0 ms, max 3.0 ms (n 2)");
    }
}
