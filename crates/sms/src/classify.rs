//! What one gateway attempt means for the queue, in the terms every channel
//! shares (`libris_domain::delivery`). The contract is narrow: sent means
//! HTTP 200 with a JSON body whose `code` is 0. Everything else, an answer or
//! no answer, may pass and is worth another attempt; the engine's schedule
//! and the campaign's `end_at` decide how many.

use std::time::Duration;

use libris_domain::delivery::{AttemptReport, Outcome};
use serde_json::Value;

/// The most of the gateway's answer kept in a report, like the other
/// channels.
pub const MAX_RESPONSE_TEXT: usize = 4096;

const RETRY: Outcome = Outcome::Retry { after: None };

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

    /// Nothing was sent, and sending the same message again cannot help (a
    /// phone that is not a number).
    pub(crate) fn refused(reason: String) -> Self {
        Self {
            status: None,
            response: String::new(),
            error: Some(reason),
            outcome: Outcome::Refused,
        }
    }

    /// Nothing was sent, or no answer came back: the gateway may be back, or
    /// its settings fixed, by the next attempt.
    pub(crate) fn unanswered(reason: String) -> Self {
        Self {
            status: None,
            response: String::new(),
            error: Some(reason),
            outcome: RETRY,
        }
    }

    /// The gateway answered `status` with `body` (at most what was read of
    /// it); `read_error` says why the body ended early, if it did.
    pub(crate) fn answered(status: u16, body: &[u8], read_error: Option<String>) -> Self {
        let response = String::from_utf8_lossy(body).into_owned();
        let judged = match read_error {
            Some(error) => Err(format!(
                "the gateway answered {} but reading the answer failed: {error}",
                describe_status(status)
            )),
            None => judge(status, body),
        };
        match judged {
            Ok(()) => Self {
                status: Some(status),
                response,
                error: None,
                outcome: Outcome::Delivered,
            },
            Err(reason) => Self {
                status: Some(status),
                response,
                error: Some(reason),
                outcome: RETRY,
            },
        }
    }
}

/// Sent, or why not. Only an exact 200 counts: the contract names it, and a
/// gateway answering 201 or 202 has said something else.
pub(crate) fn judge(status: u16, body: &[u8]) -> Result<(), String> {
    if status != 200 {
        return Err(format!("the gateway answered {}", describe_status(status)));
    }
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return Err("the gateway answered 200 with a body that is not JSON".to_owned());
    };
    match json.get("code") {
        Some(code) if is_zero(code) => Ok(()),
        Some(code) => {
            let mut reason = format!("the gateway answered 200 with code {code}");
            if let Some(message) = json.get("message").and_then(Value::as_str) {
                reason.push_str(": ");
                reason.push_str(message);
            }
            Err(reason)
        }
        None => Err("the gateway answered 200 without a `code`".to_owned()),
    }
}

/// `0` as a JSON number (`0`, `-0`, `0.0`); `"0"` and `false` are not.
fn is_zero(code: &Value) -> bool {
    code.as_f64() == Some(0.0)
}

fn describe_status(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
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
    fn only_200_with_code_zero_is_sent() {
        for body in [
            r#"{"code": 0, "message": "OK"}"#,
            r#"{"code":0}"#,
            r#"{"code": 0.0}"#,
            r#"{"message": "OK", "code": -0}"#,
        ] {
            assert_eq!(judge(200, body.as_bytes()), Ok(()), "{body}");
        }
        assert_eq!(
            judge(200, br#"{"code": 1, "message": "no balance"}"#),
            Err("the gateway answered 200 with code 1: no balance".to_owned())
        );
        assert_eq!(
            judge(200, br#"{"code": "0"}"#),
            Err(r#"the gateway answered 200 with code "0""#.to_owned())
        );
        assert_eq!(
            judge(200, br#"{"status": "ok"}"#),
            Err("the gateway answered 200 without a `code`".to_owned())
        );
        for body in ["OK", "", "[0]", "<html>"] {
            let reason = judge(200, body.as_bytes()).expect_err(body);
            assert!(
                reason.contains("not JSON") || reason.contains("without"),
                "{body}: {reason}"
            );
        }
        assert_eq!(
            judge(201, br#"{"code": 0}"#),
            Err("the gateway answered 201 Created".to_owned())
        );
        assert_eq!(
            judge(500, br#"{"code": 0}"#),
            Err("the gateway answered 500 Internal Server Error".to_owned())
        );
        assert_eq!(judge(599, b""), Err("the gateway answered 599".to_owned()));
    }

    #[test]
    fn every_failure_is_retried() {
        for (status, body) in [
            (500, "{}"),
            (503, "{}"),
            (401, r#"{"code": 401}"#),
            (404, ""),
            (200, r#"{"code": 2}"#),
            (200, "not json"),
            (302, ""),
        ] {
            let verdict = Verdict::answered(status, body.as_bytes(), None);
            let report = verdict.report(Duration::ZERO);
            assert_eq!(report.outcome, RETRY, "{status} {body}");
            assert_eq!(report.status, Some(status));
            assert_eq!(report.response_body, body);
            assert!(report.error.is_some());
        }
        let cut = Verdict::answered(200, br#"{"code": 0"#, Some("reset".into()));
        let report = cut.report(Duration::ZERO);
        assert_eq!(report.outcome, RETRY);
        assert_eq!(
            report.error.as_deref(),
            Some("the gateway answered 200 OK but reading the answer failed: reset")
        );
    }

    #[test]
    fn a_sent_report_has_no_error_and_keeps_the_answer() {
        let report = Verdict::answered(200, br#"{"code":0,"message":"OK"}"#, None)
            .report(Duration::from_millis(12));
        assert_eq!(report.outcome, Outcome::Delivered);
        assert_eq!(report.error, None);
        assert_eq!(report.status, Some(200));
        assert_eq!(report.response_body, r#"{"code":0,"message":"OK"}"#);
        assert_eq!(report.duration_ms, 12);
    }

    #[test]
    fn reports_bound_their_texts() {
        let long = "é".repeat(5000);
        let report = Verdict::answered(500, long.as_bytes(), None).report(Duration::ZERO);
        assert_eq!(report.response_body.len(), MAX_RESPONSE_TEXT);
        let report = Verdict::unanswered("x".repeat(10_000)).report(Duration::ZERO);
        assert_eq!(report.error.map(|e| e.len()), Some(MAX_RESPONSE_TEXT));
        assert_eq!(truncate("«II»", 3), "«I");
    }
}
