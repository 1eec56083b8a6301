//! What one SMTP attempt means for the queue, in the terms every channel
//! shares (`libris_domain::delivery`). The reply code decides, as RFC 5321
//! §4.2.1 intends: 4xx says "try again later", 5xx says "not like this".

use std::error::Error as _;
use std::time::Duration;

use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::Error;
use libris_domain::delivery::{AttemptReport, Outcome};

/// The most of a server's reply kept in a report, like the webhook channel's
/// response body.
pub const MAX_RESPONSE_TEXT: usize = 4096;

/// An attempt's result before its duration is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    status: Option<u16>,
    response: String,
    error: Option<String>,
    outcome: Outcome,
}

impl Verdict {
    pub(crate) fn report(self, elapsed: Duration) -> AttemptReport {
        AttemptReport {
            status: self.status,
            response_body: truncate(&self.response, MAX_RESPONSE_TEXT),
            error: self.error.map(|e| truncate(&e, MAX_RESPONSE_TEXT)),
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            outcome: self.outcome,
        }
    }

    /// Nothing was sent, and sending the same message again cannot help.
    pub(crate) fn refused(reason: String) -> Self {
        Self {
            status: None,
            response: String::new(),
            error: Some(reason),
            outcome: Outcome::Refused,
        }
    }

    /// No answer at all: may well be transient.
    pub(crate) fn unreachable(reason: String) -> Self {
        Self {
            status: None,
            response: String::new(),
            error: Some(reason),
            outcome: Outcome::Retry { after: None },
        }
    }
}

/// The server took the message.
pub(crate) fn delivered(response: &Response) -> Verdict {
    Verdict {
        status: Some(response.code().into()),
        response: text(response.message()),
        error: None,
        outcome: Outcome::Delivered,
    }
}

/// Sending failed; `address` (host:port) says where, for the error text.
pub(crate) fn failed(error: &Error, address: &str) -> Verdict {
    if let Some(code) = error.status() {
        let code = u16::from(code);
        // lettre keeps the reply's text as the error's source.
        let reply = error.source().map(ToString::to_string).unwrap_or_default();
        return Verdict {
            status: Some(code),
            error: Some(format!("{address} answered {code}: {reply}")),
            response: reply,
            outcome: outcome_for(code),
        };
    }
    if error.is_client() {
        // The server lacks something this message or configuration needs
        // (an AUTH mechanism, SMTPUTF8...): the next attempt would meet the
        // same server.
        return Verdict {
            status: None,
            response: String::new(),
            error: Some(format!("cannot send through {address}: {error}")),
            outcome: Outcome::Rejected,
        };
    }
    let reason = if error.is_tls() {
        format!("TLS with {address} failed: {error}")
    } else if error.is_timeout() {
        format!("timed out talking to {address}: {error}")
    } else {
        format!("cannot talk to {address}: {error}")
    };
    // Refused or reset connections, DNS, TLS, a garbled reply: all of them
    // can be a relay restarting or a network blip.
    Verdict::unreachable(reason)
}

/// No answer within the channel's timeout.
pub(crate) fn timed_out(address: &str, timeout: Duration) -> Verdict {
    Verdict::unreachable(format!(
        "timed out: no answer from {address} within {timeout:?}"
    ))
}

/// A negative reply's code, read as RFC 5321 defines its first digit.
pub(crate) fn outcome_for(code: u16) -> Outcome {
    match code {
        200..=399 => Outcome::Delivered,
        500..=599 => Outcome::Rejected,
        // 4xx, and codes outside the protocol from a broken server, which
        // may well be transient.
        _ => Outcome::Retry { after: None },
    }
}

fn text<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    lines.collect::<Vec<_>>().join("\n")
}

/// At most `max` bytes of `text`, cut on a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes_decide_the_outcome() {
        for code in [250, 251, 354] {
            assert_eq!(outcome_for(code), Outcome::Delivered, "{code}");
        }
        for code in [421, 450, 451, 452, 499] {
            assert_eq!(outcome_for(code), Outcome::Retry { after: None }, "{code}");
        }
        for code in [500, 535, 550, 552, 554, 599] {
            assert_eq!(outcome_for(code), Outcome::Rejected, "{code}");
        }
        for code in [0, 199, 600] {
            assert_eq!(outcome_for(code), Outcome::Retry { after: None }, "{code}");
        }
    }

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
        let report = Verdict::unreachable("x".repeat(10_000)).report(Duration::from_millis(1234));
        assert_eq!(report.error.map(|e| e.len()), Some(MAX_RESPONSE_TEXT));
        assert_eq!(report.duration_ms, 1234);
        assert_eq!(report.status, None);
        assert_eq!(report.outcome, Outcome::Retry { after: None });
    }
}
