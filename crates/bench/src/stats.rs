//! Percentiles of measured durations.

use std::time::Duration;

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// "p50 1.2 ms  p99 3.4 ms  max 5.6 ms" of sorted durations.
pub fn spread(sorted: &[Duration]) -> String {
    format!(
        "p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        ms(percentile(sorted, 50.0)),
        ms(percentile(sorted, 99.0)),
        ms(sorted.last().copied().unwrap_or_default())
    )
}
