//! Sends one signed delivery attempt and reports everything the attempt log
//! needs. Retrying, scheduling and storing are the caller's business: this
//! module only turns a request into an `AttemptReport`, and never fails.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};

use crate::headers::is_sendable;
use crate::outcome::{classify, Outcome};
use crate::signing::SigningKey;
use crate::target::{check_ip_literal, check_url, GuardedResolver, TargetError};

/// A receiver's answer is kept for the log, not processed; 4 KiB shows what
/// went wrong without letting a receiver fill the database or our memory.
pub const MAX_RESPONSE_BODY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderConfig {
    /// Whole-attempt limit: connecting, sending and reading the answer.
    pub timeout: Duration,
    /// Lets webhooks reach private, loopback and link-local addresses (tests,
    /// single-network deployments).
    pub allow_private: bool,
    pub user_agent: String,
}

/// The HTTP client could not be set up (TLS backend, bad user agent).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct BuildError(#[source] reqwest::Error);

/// One attempt to deliver one event to one subscription.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingRequest<'a> {
    pub url: &'a str,
    pub key: &'a SigningKey,
    /// The event id: the same on every retry, so receivers can de-duplicate.
    pub webhook_id: &'a str,
    pub event_type: &'a str,
    /// Sent byte for byte as signed; re-serialising would break signatures.
    pub body: &'a [u8],
    /// `POST`, `PUT` or `PATCH`.
    pub method: &'a str,
    /// The body's media type, already validated.
    pub content_type: &'a str,
    /// Unix seconds of this attempt: each attempt is signed anew so a late
    /// retry still passes a receiver's replay window.
    pub timestamp: i64,
    /// Already validated with `validate_custom_headers`.
    pub custom_headers: &'a [(String, String)],
}

/// What happened, for the attempt log and the retry decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// `None` when no HTTP answer arrived.
    pub status: Option<u16>,
    /// At most `MAX_RESPONSE_BODY` bytes of the answer, invalid UTF-8 replaced.
    pub response_body: String,
    /// Why the attempt did not deliver; `None` exactly when it did.
    pub error: Option<String>,
    pub duration_ms: u64,
    pub outcome: Outcome,
}

/// Sends webhooks through one pooled HTTP client.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: Client,
    timeout: Duration,
    allow_private: bool,
}

/// An attempt's result before it is timed.
struct Attempt {
    status: Option<u16>,
    response_body: String,
    error: Option<String>,
    outcome: Outcome,
}

impl Attempt {
    fn refused(reason: String) -> Self {
        Self {
            status: None,
            response_body: String::new(),
            error: Some(reason),
            outcome: Outcome::Refused,
        }
    }
}

impl WebhookSender {
    pub fn new(config: SenderConfig) -> Result<Self, BuildError> {
        let client = Client::builder()
            // A redirect could lead anywhere, past the target checks.
            .redirect(Policy::none())
            .timeout(config.timeout)
            .user_agent(config.user_agent)
            // Through a proxy, the resolver would check the proxy's address
            // instead of the target's.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(config.allow_private)))
            .build()
            .map_err(BuildError)?;
        Ok(Self {
            client,
            timeout: config.timeout,
            allow_private: config.allow_private,
        })
    }

    /// Makes one attempt. Never returns an error: every failure is a report.
    pub async fn send(&self, request: &OutgoingRequest<'_>) -> AttemptReport {
        let started = Instant::now();
        let attempt = self.attempt(request).await;
        AttemptReport {
            status: attempt.status,
            response_body: attempt.response_body,
            error: attempt.error,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            outcome: attempt.outcome,
        }
    }

    async fn attempt(&self, request: &OutgoingRequest<'_>) -> Attempt {
        let url = match self.checked_url(request.url) {
            Ok(url) => url,
            Err(error) => return Attempt::refused(error.to_string()),
        };
        let headers = match signed_headers(request) {
            Ok(headers) => headers,
            Err(reason) => return Attempt::refused(reason),
        };
        let method = match reqwest::Method::from_bytes(request.method.as_bytes()) {
            Ok(method) => method,
            Err(_) => {
                return Attempt::refused(format!("`{}` is not an HTTP method", request.method))
            }
        };
        let sent = self
            .client
            .request(method, url)
            .headers(headers)
            .body(request.body.to_vec())
            .send()
            .await;
        match sent {
            Ok(response) => answered(response).await,
            Err(error) => self.unanswered(error),
        }
    }

    fn checked_url(&self, url: &str) -> Result<reqwest::Url, TargetError> {
        let url = check_url(url)?;
        check_ip_literal(&url, self.allow_private)?;
        Ok(url)
    }

    fn unanswered(&self, error: reqwest::Error) -> Attempt {
        // The URL may carry a token in its query; logs must not.
        let error = error.without_url();
        if let Some(refusal) = find_source::<TargetError>(&error) {
            return Attempt::refused(refusal.to_string());
        }
        let message = if error.is_timeout() {
            format!("timed out after {} ms", self.timeout.as_millis())
        } else if error.is_connect() {
            format!("connection failed: {}", error_chain(&error))
        } else {
            format!("request failed: {}", error_chain(&error))
        };
        Attempt {
            status: None,
            response_body: String::new(),
            error: Some(message),
            outcome: classify(None, None, SystemTime::now()),
        }
    }
}

async fn answered(response: Response) -> Attempt {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let (response_body, read_error) = read_excerpt(response).await;
    let outcome = classify(
        Some(status.as_u16()),
        retry_after.as_deref(),
        SystemTime::now(),
    );
    let error = (outcome != Outcome::Delivered).then(|| {
        let mut message = describe_status(status);
        if let Some(read_error) = read_error {
            message.push_str("; reading the answer failed: ");
            message.push_str(&error_chain(&read_error.without_url()));
        }
        message
    });
    Attempt {
        status: Some(status.as_u16()),
        response_body,
        error,
        outcome,
    }
}

fn describe_status(status: StatusCode) -> String {
    let mut message = format!("receiver answered {}", status.as_u16());
    if let Some(reason) = status.canonical_reason() {
        message.push(' ');
        message.push_str(reason);
    }
    if status.is_redirection() {
        message.push_str(": redirects are not followed");
    }
    message
}

/// Headers Libris sets come first and cannot be replaced by custom ones;
/// `User-Agent` comes from the client.
fn signed_headers(request: &OutgoingRequest<'_>) -> Result<HeaderMap, String> {
    let text = |value: &str, what: &str| {
        HeaderValue::from_str(value).map_err(|_| format!("the {what} is not a valid header value"))
    };
    let key = request.key;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, text(request.content_type, "content type")?);
    headers.insert("x-event-type", text(request.event_type, "event type")?);
    headers.insert(
        "x-webhook-signature",
        text(&key.hex_signature(request.body), "signature")?,
    );
    headers.insert("webhook-id", text(request.webhook_id, "webhook id")?);
    headers.insert("webhook-timestamp", HeaderValue::from(request.timestamp));
    let standard = key.standard_signature(request.webhook_id, request.timestamp, request.body);
    headers.insert("webhook-signature", text(&standard, "signature")?);
    for (name, value) in request.custom_headers {
        if !is_sendable(name, value) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    Ok(headers)
}

/// Reads at most `MAX_RESPONSE_BODY` bytes and then stops, so a receiver
/// streaming gigabytes costs us 4 KiB. A failure mid-body keeps what arrived.
async fn read_excerpt(mut response: Response) -> (String, Option<reqwest::Error>) {
    let mut bytes = Vec::new();
    let mut failure = None;
    while bytes.len() < MAX_RESPONSE_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_BODY - bytes.len();
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    let full = bytes.len() == MAX_RESPONSE_BODY;
    (excerpt(&bytes, full), failure)
}

/// Decodes a body prefix as UTF-8, replacing invalid sequences, within
/// `MAX_RESPONSE_BODY` bytes. When the prefix was cut, a character split by
/// the cut is dropped rather than shown as a replacement character.
fn excerpt(bytes: &[u8], cut: bool) -> String {
    let mut text = String::with_capacity(bytes.len());
    let mut chunks = bytes.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        for c in chunk.valid().chars() {
            if text.len() + c.len_utf8() > MAX_RESPONSE_BODY {
                return text;
            }
            text.push(c);
        }
        let split_by_cut = cut && chunks.peek().is_none();
        if !chunk.invalid().is_empty() && !split_by_cut {
            if text.len() + char::REPLACEMENT_CHARACTER.len_utf8() > MAX_RESPONSE_BODY {
                return text;
            }
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    text
}

fn find_source<'e, E: StdError + 'static>(error: &'e (dyn StdError + 'static)) -> Option<&'e E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// reqwest's own message is generic ("error sending request") and the caller
/// already says what failed; the cause ("Connection refused") is further
/// down the chain.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = error.source();
    while let Some(cause) = current {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        current = cause.source();
    }
    if parts.is_empty() {
        return error.to_string();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_bodies_are_kept_whole() {
        assert_eq!(excerpt(b"{\"ok\":true}", false), "{\"ok\":true}");
        assert_eq!(excerpt("héllo".as_bytes(), false), "héllo");
        assert_eq!(excerpt(b"", false), "");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(excerpt(b"a\xffb", false), "a\u{fffd}b");
        assert_eq!(excerpt(b"end\xe2\x82", false), "end\u{fffd}");
    }

    #[test]
    fn a_character_split_by_the_cut_is_dropped() {
        // 1 + 2047 * 2 = 4095 bytes, then the first byte of another "é".
        let mut body = b"a".to_vec();
        for _ in 0..2047 {
            body.extend_from_slice("é".as_bytes());
        }
        body.push("é".as_bytes()[0]);
        assert_eq!(body.len(), MAX_RESPONSE_BODY);
        let text = excerpt(&body, true);
        assert_eq!(text.len(), MAX_RESPONSE_BODY - 1);
        assert!(text.ends_with('é'));
    }

    #[test]
    fn replacements_never_push_the_excerpt_past_the_limit() {
        let body = vec![0xffu8; MAX_RESPONSE_BODY];
        let text = excerpt(&body, true);
        assert!(text.len() <= MAX_RESPONSE_BODY, "{}", text.len());
        assert!(text.chars().all(|c| c == char::REPLACEMENT_CHARACTER));
        assert_eq!(text.chars().count(), MAX_RESPONSE_BODY / 3);
    }

    #[test]
    fn status_descriptions_name_the_code() {
        assert_eq!(
            describe_status(StatusCode::SERVICE_UNAVAILABLE),
            "receiver answered 503 Service Unavailable"
        );
        assert_eq!(
            describe_status(StatusCode::FOUND),
            "receiver answered 302 Found: redirects are not followed"
        );
        let unusual = StatusCode::from_u16(599).expect("valid code");
        assert_eq!(describe_status(unusual), "receiver answered 599");
    }

    #[test]
    fn reserved_custom_headers_never_replace_ours() {
        let key = SigningKey::from_secret("a test secret").expect("valid");
        let custom = vec![
            ("X-Webhook-Signature".to_owned(), "sha256=forged".to_owned()),
            ("webhook-id".to_owned(), "other".to_owned()),
            ("X-Bad".to_owned(), "a\r\nb".to_owned()),
            ("X-Tenant".to_owned(), "42".to_owned()),
        ];
        let request = OutgoingRequest {
            url: "https://example.com/",
            key: &key,
            webhook_id: "evt_1",
            event_type: "book.created",
            body: b"{}",
            method: "POST",
            content_type: "application/json",
            timestamp: 1_700_000_000,
            custom_headers: &custom,
        };
        let headers = signed_headers(&request).expect("valid headers");
        let all = |name: &str| -> Vec<&str> {
            headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().expect("ascii"))
                .collect()
        };
        assert_eq!(all("x-webhook-signature"), vec![key.hex_signature(b"{}")]);
        assert_eq!(all("webhook-id"), vec!["evt_1"]);
        assert!(all("x-bad").is_empty());
        assert_eq!(all("x-tenant"), vec!["42"]);
        assert_eq!(all("webhook-timestamp"), vec!["1700000000"]);
    }

    #[test]
    fn an_event_type_that_cannot_be_a_header_is_refused() {
        let key = SigningKey::from_secret("a test secret").expect("valid");
        let request = OutgoingRequest {
            url: "https://example.com/",
            key: &key,
            webhook_id: "evt_1",
            event_type: "book.created\r\nX-Injected: 1",
            body: b"{}",
            method: "POST",
            content_type: "application/json",
            timestamp: 1_700_000_000,
            custom_headers: &[],
        };
        let reason = signed_headers(&request).expect_err("must be refused");
        assert!(reason.contains("event type"), "{reason}");
    }
}
