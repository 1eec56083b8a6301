//! What one SMTP attempt means for the queue, in the terms every channel
//! shares (`libris_domain::delivery`). The reply code decides, as RFC 5321
//! §4.2.1 intends: 4xx says "try again later", 5xx says "not like this".

use std::error::Error as _;
use std::time::Duration;

use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::Error;
use libris_domain::delivery::{Outcome, Verdict};

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
    Verdict::unanswered(reason)
}

/// No answer within the channel's timeout.
pub(crate) fn timed_out(address: &str, timeout: Duration) -> Verdict {
    Verdict::unanswered(format!(
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
}
