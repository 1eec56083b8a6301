//! When to try again: the retry schedule with jitter, `Retry-After`, leases
//! and automatic disabling.

use std::time::Duration;

/// Delays between attempts; attempts = 1 + the number of delays.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub delays: Vec<Duration>,
    /// Each delay varies by at most this fraction either way.
    pub jitter: f64,
    /// The longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    /// Eight retries over about 22 hours.
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self {
            delays: vec![
                Duration::from_secs(30),
                minutes(2),
                minutes(10),
                minutes(30),
                minutes(60),
                minutes(3 * 60),
                minutes(6 * 60),
                minutes(12 * 60),
            ],
            jitter: 0.2,
            retry_after_cap: minutes(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based), or `None` when the
    /// schedule is used up. `unit` in `[-1, 1]` picks the jitter;
    /// `retry_after` (capped) is waited at least.
    pub fn delay(
        &self,
        retry: usize,
        unit: f64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let base = *self.delays.get(retry.checked_sub(1)?)?;
        let factor = 1.0 + self.jitter * unit.clamp(-1.0, 1.0);
        let jittered = base.mul_f64(factor);
        let asked = retry_after.map_or(Duration::ZERO, |after| after.min(self.retry_after_cap));
        Some(jittered.max(asked))
    }
}

/// Everything the pipeline's rules need from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    pub retry: RetryPolicy,
    /// How long a claimed delivery stays claimed.
    pub lease: Duration,
    /// An endpoint whose attempts have all failed for this long is disabled.
    pub disable_after: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(15),
            disable_after: Duration::from_secs(5 * 86_400),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_schedule() -> RetryPolicy {
        RetryPolicy {
            delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(4),
            ],
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn the_schedule_runs_out_after_its_last_delay() {
        let policy = seed_schedule();
        assert_eq!(policy.delay(1, 0.0, None), Some(Duration::from_secs(1)));
        assert_eq!(policy.delay(3, 0.0, None), Some(Duration::from_secs(4)));
        assert_eq!(policy.delay(4, 0.0, None), None);
        assert_eq!(policy.delay(0, 0.0, None), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let policy = seed_schedule();
        assert_eq!(
            policy.delay(2, 1.0, None),
            Some(Duration::from_millis(2400))
        );
        assert_eq!(
            policy.delay(2, -1.0, None),
            Some(Duration::from_millis(1600))
        );
        assert_eq!(
            policy.delay(2, 7.0, None),
            Some(Duration::from_millis(2400)),
            "clamped"
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = seed_schedule();
        let asked = |secs| policy.delay(1, 0.0, Some(Duration::from_secs(secs)));
        assert_eq!(asked(7), Some(Duration::from_secs(7)));
        assert_eq!(
            asked(0),
            Some(Duration::from_secs(1)),
            "never sooner than the schedule"
        );
        assert_eq!(asked(86_400), Some(Duration::from_secs(3600)), "capped");
    }

    #[test]
    fn the_default_schedule_reaches_about_a_day() {
        let total: Duration = RetryPolicy::default().delays.iter().sum();
        assert!(
            total >= Duration::from_secs(20 * 3600) && total <= Duration::from_secs(26 * 3600),
            "{total:?}"
        );
    }
}
