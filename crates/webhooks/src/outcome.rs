//! What one delivery attempt means for the delivery: done, retry (and when),
//! or stop. Kept a pure function of the answer so every rule of the contract
//! (docs/webhooks.md) is tested without a network.

use std::time::{Duration, SystemTime};

use chrono::DateTime;

/// The verdict on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx: the receiver has it.
    Delivered,
    /// 410 Gone: the receiver asks us to stop; the subscription should be
    /// deactivated (REST Hooks convention).
    Gone,
    /// A 4xx other than 408/429, or a redirect: the receiver will answer the
    /// same way next time, so retrying only adds load. Terminal.
    Rejected,
    /// Refused before anything was sent: a malformed or private target, or
    /// an event id or type that cannot go in a header. Terminal: it will not
    /// fix itself.
    Refused,
    /// Worth trying again: 408, 429, 5xx, or no answer at all. `after` is the
    /// receiver's `Retry-After`, uncapped; the caller bounds it.
    Retry { after: Option<Duration> },
}

/// Classifies an attempt. `status` is `None` when no HTTP answer arrived
/// (timeout, refused or reset connection, DNS failure): all of those may be
/// transient. `now` is needed to turn an HTTP-date `Retry-After` into a delay.
pub fn classify(status: Option<u16>, retry_after: Option<&str>, now: SystemTime) -> Outcome {
    let retry = || Outcome::Retry {
        after: retry_after.and_then(|value| parse_retry_after(value, now)),
    };
    match status {
        None => Outcome::Retry { after: None },
        Some(200..=299) => Outcome::Delivered,
        Some(410) => Outcome::Gone,
        Some(408 | 429) => retry(),
        // Redirects are not followed: following one would let a receiver
        // point us at an address the target checks never saw, and a
        // misconfigured URL will not fix itself between attempts.
        Some(300..=499) => Outcome::Rejected,
        Some(500..=599) => retry(),
        // 1xx as a final answer, or a code outside HTTP's range: a broken
        // server or proxy, which may well be transient.
        Some(_) => retry(),
    }
}

/// `Retry-After` is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
/// Anything else is ignored rather than guessed at; a date in the past means
/// "now".
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    // The IMF-fixdate form HTTP mandates is a subset of RFC 2822 dates.
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix_seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix_seconds)
    }

    // 1994-11-06T08:49:37Z, the example date of RFC 9110.
    const RFC_EXAMPLE: u64 = 784_111_777;

    fn outcome(status: u16) -> Outcome {
        classify(Some(status), None, at(RFC_EXAMPLE))
    }

    #[test]
    fn success_codes_are_delivered() {
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(outcome(status), Outcome::Delivered, "{status}");
        }
    }

    #[test]
    fn gone_is_its_own_outcome() {
        assert_eq!(outcome(410), Outcome::Gone);
    }

    #[test]
    fn client_errors_are_rejected_except_timeout_and_throttling() {
        for status in [400, 401, 403, 404, 405, 409, 413, 422, 451, 499] {
            assert_eq!(outcome(status), Outcome::Rejected, "{status}");
        }
        for status in [408, 429] {
            assert_eq!(outcome(status), Outcome::Retry { after: None }, "{status}");
        }
    }

    #[test]
    fn server_errors_are_retried() {
        for status in [500, 502, 503, 504, 599] {
            assert_eq!(outcome(status), Outcome::Retry { after: None }, "{status}");
        }
    }

    #[test]
    fn redirects_are_rejected() {
        for status in [300, 301, 302, 303, 307, 308] {
            assert_eq!(outcome(status), Outcome::Rejected, "{status}");
        }
    }

    #[test]
    fn odd_status_codes_are_retried() {
        assert_eq!(outcome(101), Outcome::Retry { after: None });
        assert_eq!(outcome(600), Outcome::Retry { after: None });
    }

    #[test]
    fn no_answer_is_retried_without_a_hint() {
        assert_eq!(
            classify(None, Some("30"), at(RFC_EXAMPLE)),
            Outcome::Retry { after: None }
        );
    }

    #[test]
    fn retry_after_in_seconds_is_honoured() {
        let now = at(RFC_EXAMPLE);
        assert_eq!(
            classify(Some(429), Some("7"), now),
            Outcome::Retry {
                after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            classify(Some(503), Some(" 120 "), now),
            Outcome::Retry {
                after: Some(Duration::from_secs(120))
            }
        );
        assert_eq!(
            classify(Some(408), Some("0"), now),
            Outcome::Retry {
                after: Some(Duration::ZERO)
            }
        );
    }

    #[test]
    fn retry_after_as_http_date_is_relative_to_now() {
        let now = at(RFC_EXAMPLE - 90);
        assert_eq!(
            classify(Some(503), Some("Sun, 06 Nov 1994 08:49:37 GMT"), now),
            Outcome::Retry {
                after: Some(Duration::from_secs(90))
            }
        );
    }

    #[test]
    fn retry_after_in_the_past_means_now() {
        let now = at(RFC_EXAMPLE + 3600);
        assert_eq!(
            classify(Some(503), Some("Sun, 06 Nov 1994 08:49:37 GMT"), now),
            Outcome::Retry {
                after: Some(Duration::ZERO)
            }
        );
    }

    #[test]
    fn unparsable_retry_after_is_ignored() {
        let now = at(RFC_EXAMPLE);
        for value in [
            "",
            "soon",
            "-5",
            "1.5",
            "99999999999999999999999",
            "Sun, 06 Nov",
        ] {
            assert_eq!(
                classify(Some(503), Some(value), now),
                Outcome::Retry { after: None },
                "{value:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_ignored_when_not_retrying() {
        let now = at(RFC_EXAMPLE);
        assert_eq!(classify(Some(200), Some("7"), now), Outcome::Delivered);
        assert_eq!(classify(Some(404), Some("7"), now), Outcome::Rejected);
    }
}
