//! What one gateway attempt means for the queue, in the terms every channel
//! shares (`libris_domain::delivery`). The contract is narrow: sent means
//! HTTP 200 with a JSON body whose `code` is 0. Everything else, an answer or
//! no answer, may pass and is worth another attempt; the engine's schedule
//! and the campaign's `end_at` decide how many.

use libris_domain::delivery::{Outcome, Verdict};
use serde_json::Value;

const RETRY: Outcome = Outcome::Retry { after: None };

/// The gateway answered `status` with `body` (at most what was read of
/// it); `read_error` says why the body ended early, if it did.
pub(crate) fn answered(status: u16, body: &[u8], read_error: Option<String>) -> Verdict {
    let response = String::from_utf8_lossy(body).into_owned();
    let judged = match read_error {
        Some(error) => Err(format!(
            "the gateway answered {} but reading the answer failed: {error}",
            describe_status(status)
        )),
        None => judge(status, body),
    };
    match judged {
        Ok(()) => Verdict {
            status: Some(status),
            response,
            error: None,
            outcome: Outcome::Delivered,
        },
        Err(reason) => Verdict {
            status: Some(status),
            response,
            error: Some(reason),
            outcome: RETRY,
        },
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use libris_domain::delivery::MAX_RESPONSE_TEXT;

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
            let verdict = answered(status, body.as_bytes(), None);
            let report = verdict.report(Duration::ZERO);
            assert_eq!(report.outcome, RETRY, "{status} {body}");
            assert_eq!(report.status, Some(status));
            assert_eq!(report.response_body, body);
            assert!(report.error.is_some());
        }
        let cut = answered(200, br#"{"code": 0"#, Some("reset".into()));
        let report = cut.report(Duration::ZERO);
        assert_eq!(report.outcome, RETRY);
        assert_eq!(
            report.error.as_deref(),
            Some("the gateway answered 200 OK but reading the answer failed: reset")
        );
    }

    #[test]
    fn a_sent_report_has_no_error_and_keeps_the_answer() {
        let report =
            answered(200, br#"{"code":0,"message":"OK"}"#, None).report(Duration::from_millis(12));
        assert_eq!(report.outcome, Outcome::Delivered);
        assert_eq!(report.error, None);
        assert_eq!(report.status, Some(200));
        assert_eq!(report.response_body, r#"{"code":0,"message":"OK"}"#);
        assert_eq!(report.duration_ms, 12);
    }

    #[test]
    fn reports_bound_their_texts() {
        let long = "é".repeat(5000);
        let report = answered(500, long.as_bytes(), None).report(Duration::ZERO);
        assert_eq!(report.response_body.len(), MAX_RESPONSE_TEXT);
    }
}
