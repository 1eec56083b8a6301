//! The rules every channel's queue follows, whatever it sends: how an attempt
//! can end, what comes after it (delivered, retry at, failed, dead), and the
//! retry schedule. Webhooks, email and the channels after them share these.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How one attempt ended, as far as the queue is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it (HTTP 2xx, SMTP 250).
    Delivered,
    /// The receiver asks us to stop for good (HTTP 410).
    Gone,
    /// Refused in a way retrying will not change (another 4xx, a redirect,
    /// an SMTP 5xx).
    Rejected,
    /// The target was refused before sending (a private address, a bad
    /// address).
    Refused,
    /// Worth another attempt (HTTP 408, 429, 5xx, SMTP 4xx, timeouts,
    /// connection errors); `after` is the receiver's own `Retry-After`.
    Retry { after: Option<Duration> },
}

impl Outcome {
    /// One word for logs, metrics and the CLI's summary.
    pub fn name(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Gone => "gone",
            Self::Rejected => "rejected",
            Self::Refused => "refused",
            Self::Retry { .. } => "retry",
        }
    }
}

/// What a channel says about one attempt. Sending never fails: every problem
/// is a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// The receiver's status code (HTTP status, SMTP reply code), if it
    /// answered.
    pub status: Option<u16>,
    /// At most 4 KiB of what the receiver answered.
    pub response_body: String,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub outcome: Outcome,
}

/// The most of a receiver's answer, or of an error text, a report keeps.
pub const MAX_RESPONSE_TEXT: usize = 4096;

/// An attempt's result before its duration is known: what a channel's
/// adapter decides, then stamps with the time the attempt took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Option<u16>,
    pub response: String,
    pub error: Option<String>,
    pub outcome: Outcome,
}

impl Verdict {
    /// The report, its texts cut to [`MAX_RESPONSE_TEXT`].
    pub fn report(self, elapsed: Duration) -> AttemptReport {
        AttemptReport {
            status: self.status,
            response_body: truncate(&self.response, MAX_RESPONSE_TEXT),
            error: self.error.map(|e| truncate(&e, MAX_RESPONSE_TEXT)),
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            outcome: self.outcome,
        }
    }

    /// Nothing was sent, and sending the same message again cannot help.
    pub fn refused(reason: String) -> Self {
        Self::unsent(reason, Outcome::Refused)
    }

    /// Nothing was sent, or no answer came back: may well be transient.
    pub fn unanswered(reason: String) -> Self {
        Self::unsent(reason, Outcome::Retry { after: None })
    }

    fn unsent(reason: String, outcome: Outcome) -> Self {
        Self {
            status: None,
            response: String::new(),
            error: Some(reason),
            outcome,
        }
    }
}

/// At most `max` bytes of `text`, cut on a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Due, or waiting for its next attempt.
    Pending,
    Delivered,
    /// Terminal without retries: refused for good by the receiver, or a
    /// target refused at send time.
    Failed,
    /// Every attempt of the schedule used.
    Dead,
}

impl DeliveryStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Delivered, Self::Failed, Self::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

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

/// Where one queued message stands: the part of a queue row the state
/// machine reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub status: DeliveryStatus,
    /// Attempts made, over the message's whole life.
    pub attempts: i64,
    /// Attempts made when it was last queued by hand: the retry schedule
    /// counts from there.
    pub retry_base: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

impl Progress {
    /// The state after an attempt that ended as `report` says: delivered,
    /// failed for good, due again after the schedule's next delay (never
    /// sooner than the receiver's `Retry-After`), or dead once the schedule
    /// is used up. `unit` in `[-1, 1]` picks the jitter.
    pub fn after(
        &self,
        report: &AttemptReport,
        policy: &RetryPolicy,
        unit: f64,
        now: DateTime<Utc>,
    ) -> Self {
        let attempts = self.attempts + 1;
        let mut next = Self {
            attempts,
            last_error: report.error.clone(),
            ..self.clone()
        };
        next.status = match report.outcome {
            Outcome::Delivered => DeliveryStatus::Delivered,
            Outcome::Gone | Outcome::Rejected | Outcome::Refused => DeliveryStatus::Failed,
            Outcome::Retry { after } => {
                let retry = usize::try_from(attempts - self.retry_base).unwrap_or(usize::MAX);
                match policy.delay(retry, unit, after) {
                    Some(delay) => {
                        next.next_attempt_at = now + delay;
                        DeliveryStatus::Pending
                    }
                    None => DeliveryStatus::Dead,
                }
            }
        };
        next
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn truncates_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("«II»", 3), "«I");
        assert_eq!(truncate("é«", 3), "é", "« would be split");
        assert_eq!(truncate("«II»", 1), "");
        let long = "é".repeat(3000);
        let cut = truncate(&long, MAX_RESPONSE_TEXT);
        assert_eq!(cut.len(), MAX_RESPONSE_TEXT);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_report_bounds_its_texts_and_keeps_the_duration() {
        let report = Verdict::unanswered("x".repeat(10_000)).report(Duration::from_millis(1234));
        assert_eq!(report.error.map(|e| e.len()), Some(MAX_RESPONSE_TEXT));
        assert_eq!(report.duration_ms, 1234);
        assert_eq!(report.status, None);
        assert_eq!(report.outcome, Outcome::Retry { after: None });
        let refused = Verdict::refused("bad address".into()).report(Duration::ZERO);
        assert_eq!(refused.outcome, Outcome::Refused);
    }

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

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn pending(attempts: i64) -> Progress {
        Progress {
            status: DeliveryStatus::Pending,
            attempts,
            retry_base: 0,
            next_attempt_at: now(),
            last_error: None,
        }
    }

    fn report(outcome: Outcome) -> AttemptReport {
        AttemptReport {
            status: None,
            response_body: String::new(),
            error: (outcome != Outcome::Delivered).then(|| "failed".into()),
            duration_ms: 1,
            outcome,
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

    #[test]
    fn outcomes_move_a_message_on() {
        let cases = [
            (Outcome::Delivered, 0, DeliveryStatus::Delivered),
            (Outcome::Gone, 0, DeliveryStatus::Failed),
            (Outcome::Rejected, 0, DeliveryStatus::Failed),
            (Outcome::Refused, 0, DeliveryStatus::Failed),
            (Outcome::Retry { after: None }, 0, DeliveryStatus::Pending),
            (Outcome::Retry { after: None }, 3, DeliveryStatus::Dead),
        ];
        for (outcome, attempts_before, expected) in cases {
            let next =
                pending(attempts_before).after(&report(outcome), &seed_schedule(), 0.0, now());
            assert_eq!(next.status, expected, "{outcome:?} after {attempts_before}");
            assert_eq!(next.attempts, attempts_before + 1);
        }
    }

    #[test]
    fn a_retry_waits_for_retry_after_and_records_the_error() {
        let asked = report(Outcome::Retry {
            after: Some(Duration::from_secs(9)),
        });
        let next = pending(1).after(&asked, &seed_schedule(), 0.0, now());
        assert_eq!(next.next_attempt_at, now() + chrono::Duration::seconds(9));
        assert_eq!(next.last_error.as_deref(), Some("failed"));
    }

    #[test]
    fn a_message_queued_again_by_hand_starts_the_schedule_over() {
        let redelivered = Progress {
            retry_base: 4,
            ..pending(4)
        };
        let next = redelivered.after(
            &report(Outcome::Retry { after: None }),
            &seed_schedule(),
            0.0,
            now(),
        );
        assert_eq!(next.status, DeliveryStatus::Pending);
        assert_eq!(next.next_attempt_at, now() + chrono::Duration::seconds(1));
    }

    #[test]
    fn statuses_round_trip() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeliveryStatus::parse("lost"), None);
    }
}
