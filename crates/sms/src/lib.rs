//! Libris's SMS channel: sends one campaign message to the SMS gateway (the
//! seed's "Probe Server" protocol) and says how the attempt ended, in the
//! terms every channel's queue shares (`libris_domain::delivery`). It is the
//! engine's `Channel` of [`Sms`] and knows the gateway's HTTP protocol, no
//! more: retries, leases, concurrency and the campaign's rules (window,
//! expiry, cancel) are the engine's and the domain's.
//!
//! One attempt is `POST {url}/send/{message id}` with
//! `Authorization: Bearer {token}` and the JSON body
//! `{"id": <message id>, "phone": <phone as an integer>, "text": "..."}`.
//! Sent means HTTP 200 with a JSON body whose `code` is 0; anything else (no
//! connection, a timeout, any other status, another body) is a retry.
//!
//! The URL and token can change at runtime (`/api/settings/`), so they are
//! not part of the channel's configuration: [`SmsChannel`] asks a
//! [`GatewaySettings`] for them at every attempt, and [`GatewayClient::send`]
//! takes them per call.

// Everything here handles text from settings and from the gateway: slicing a
// string by byte index panics inside a multi-byte character.
#![deny(clippy::string_slice)]

mod classify;
mod url;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use libris_application::engine::{Channel, SendFuture};
use libris_domain::campaigns::Sms;
use libris_domain::delivery::AttemptReport;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::redirect::Policy;
use reqwest::{Client, Response};

pub use libris_domain::delivery::MAX_RESPONSE_TEXT;
pub use url::check_gateway_url;

use libris_domain::delivery::Verdict;

/// `LIBRIS_SMS_TIMEOUT`'s default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an answer is read to judge it. A success is a few bytes; a
/// little room keeps a chatty gateway's success from being cut, judged
/// not JSON and sent again.
const MAX_READ: usize = 64 * 1024;

/// Where to send, as the settings say at the moment of an attempt.
#[derive(Clone, PartialEq, Eq)]
pub struct Gateway {
    /// The API's base, e.g. `https://probe.example/v1`; messages go to
    /// `{url}/send/{id}`.
    pub url: String,
    /// Sent as `Authorization: Bearer {token}`; no header when empty.
    pub token: String,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.token.is_empty() { "" } else { "***" };
        f.debug_struct("Gateway")
            .field("url", &self.url)
            .field("token", &token)
            .finish()
    }
}

pub type GatewayFuture<'a> = Pin<Box<dyn Future<Output = Result<Gateway, String>> + Send + 'a>>;

/// The gateway's current URL and token, read for every attempt so a change
/// in `/api/settings/` applies to the next send (in this process at once,
/// in others as soon as their source sees it).
///
/// Contract: answers `Err(reason)` when there is nowhere to send (no URL
/// set, the settings cannot be read); the attempt is then a retry whose
/// error is `reason`. May take as long as it likes within the channel's
/// timeout, which bounds the lookup and the request together.
pub trait GatewaySettings: Send + Sync {
    fn gateway(&self) -> GatewayFuture<'_>;
}

/// A gateway that never changes: the environment's, or a test's.
impl GatewaySettings for Gateway {
    fn gateway(&self) -> GatewayFuture<'_> {
        let gateway = self.clone();
        Box::pin(async move { Ok(gateway) })
    }
}

impl<T: GatewaySettings + ?Sized> GatewaySettings for Arc<T> {
    fn gateway(&self) -> GatewayFuture<'_> {
        (**self).gateway()
    }
}

/// A configuration the channel refuses, found at start-up rather than at the
/// first send.
#[derive(Debug, thiserror::Error)]
pub enum SmsConfigError {
    #[error("the SMS timeout must be above zero")]
    ZeroTimeout,
    #[error("cannot build the SMS gateway's HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Sends to whichever gateway each call names, through one pooled HTTP
/// client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    client: Client,
    timeout: Duration,
}

impl GatewayClient {
    /// `timeout` bounds a whole attempt: connecting, sending and reading the
    /// answer.
    pub fn new(timeout: Duration) -> Result<Self, SmsConfigError> {
        if timeout.is_zero() {
            return Err(SmsConfigError::ZeroTimeout);
        }
        let client = Client::builder()
            // A redirect is an answer other than 200: retried, not followed
            // (it would carry the token to wherever it points).
            .redirect(Policy::none())
            .timeout(timeout)
            .user_agent(concat!("libris/", env!("CARGO_PKG_VERSION")))
            // The gateway is the operator's choice of host; a proxy from the
            // environment would reroute it, and loopback tests with it.
            .no_proxy()
            .build()
            .map_err(SmsConfigError::Client)?;
        Ok(Self { client, timeout })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `sms` once through `gateway`. Never fails: every problem is a
    /// report.
    pub async fn send(&self, gateway: &Gateway, sms: &Sms) -> AttemptReport {
        let started = Instant::now();
        self.bounded(self.attempt(gateway, sms))
            .await
            .report(started.elapsed())
    }

    async fn bounded(&self, attempt: impl Future<Output = Verdict>) -> Verdict {
        tokio::time::timeout(self.timeout, attempt)
            .await
            .unwrap_or_else(|_| {
                Verdict::unanswered(format!(
                    "timed out: no answer from the SMS gateway within {} ms",
                    self.timeout.as_millis()
                ))
            })
    }

    async fn attempt(&self, gateway: &Gateway, sms: &Sms) -> Verdict {
        let Some(phone) = phone_number(&sms.phone) else {
            return Verdict::refused(
                "the member's phone is not a number the gateway can take".to_owned(),
            );
        };
        if gateway.url.trim().is_empty() {
            return Verdict::unanswered(NO_URL.to_owned());
        }
        let url = match url::message_url(&gateway.url, sms.message_id) {
            Ok(url) => url,
            Err(reason) => return Verdict::unanswered(reason),
        };
        let address = url::address(&url);
        let body = serde_json::json!({
            "id": sms.message_id,
            "phone": phone,
            "text": sms.text,
        });
        let mut request = self
            .client
            .post(url)
            .header(ACCEPT, "application/json")
            .json(&body);
        if !gateway.token.is_empty() {
            let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", gateway.token)) else {
                return Verdict::unanswered(
                    "the SMS gateway token cannot be sent in a header (it has line breaks or \
                     other control characters)"
                        .to_owned(),
                );
            };
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        match request.send().await {
            Ok(response) => answered(response).await,
            Err(error) => Verdict::unanswered(unanswered(&error, &address, self.timeout)),
        }
    }
}

const NO_URL: &str = "no SMS gateway URL is set (sms_url in /api/settings/, or LIBRIS_SMS_URL)";

/// The stored 11 digits as the integer the gateway's body wants.
fn phone_number(phone: &str) -> Option<u64> {
    let digits = phone.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

async fn answered(mut response: Response) -> Verdict {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    let mut read_error = None;
    while body.len() < MAX_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_READ - body.len();
                body.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
            }
            Ok(None) => break,
            Err(error) => {
                read_error = Some(error_chain(&error.without_url()));
                break;
            }
        }
    }
    classify::answered(status, &body, read_error)
}

fn unanswered(error: &reqwest::Error, address: &str, timeout: Duration) -> String {
    if error.is_timeout() {
        format!(
            "timed out: no answer from the SMS gateway at {address} within {} ms",
            timeout.as_millis()
        )
    } else if error.is_connect() {
        format!(
            "cannot connect to the SMS gateway at {address}: {}",
            error_chain(error)
        )
    } else {
        format!(
            "the request to the SMS gateway at {address} failed: {}",
            error_chain(error)
        )
    }
}

/// reqwest's own message is generic ("error sending request"); the cause
/// ("Connection refused") is further down the chain. The URL is left out:
/// the caller names the gateway by host and port.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
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

/// The engine's SMS channel: reads the gateway's URL and token from `S` at
/// each attempt and sends through a [`GatewayClient`]. The timeout bounds
/// the lookup and the request together.
#[derive(Debug, Clone)]
pub struct SmsChannel<S> {
    client: GatewayClient,
    settings: S,
}

impl<S: GatewaySettings> SmsChannel<S> {
    pub fn new(settings: S, timeout: Duration) -> Result<Self, SmsConfigError> {
        Ok(Self {
            client: GatewayClient::new(timeout)?,
            settings,
        })
    }

    pub fn client(&self) -> &GatewayClient {
        &self.client
    }

    /// Sends `sms` once through the gateway the settings name now. Never
    /// fails: every problem is a report.
    pub async fn send(&self, sms: &Sms) -> AttemptReport {
        let started = Instant::now();
        let attempt = async {
            match self.settings.gateway().await {
                Ok(gateway) => self.client.attempt(&gateway, sms).await,
                Err(reason) => Verdict::unanswered(reason),
            }
        };
        self.client.bounded(attempt).await.report(started.elapsed())
    }
}

impl<S: GatewaySettings> Channel<Sms> for SmsChannel<S> {
    fn send<'a>(&'a self, sms: &'a Sms, _attempt_at: DateTime<Utc>) -> SendFuture<'a> {
        // The inherent `send`, which this trait method shares a name with.
        Box::pin(SmsChannel::send(self, sms))
    }
}

#[cfg(test)]
mod tests {
    use libris_domain::delivery::Outcome;

    use super::*;

    fn sms(phone: &str) -> Sms {
        Sms {
            message_id: 1,
            phone: phone.into(),
            text: "Hi".into(),
        }
    }

    #[test]
    fn phones_become_integers() {
        assert_eq!(phone_number("79161234567"), Some(79_161_234_567));
        for bad in [
            "",
            "+79161234567",
            "7916-123",
            "7 916",
            "99999999999999999999999",
        ] {
            assert_eq!(phone_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_a_zero_timeout() {
        assert!(matches!(
            GatewayClient::new(Duration::ZERO),
            Err(SmsConfigError::ZeroTimeout)
        ));
    }

    #[test]
    fn debug_masks_the_token() {
        let gateway = Gateway {
            url: "https://gw.test/v1".into(),
            token: "s3cr3t".into(),
        };
        let debug = format!("{gateway:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }

    #[tokio::test]
    async fn a_phone_that_is_not_a_number_is_refused_before_sending() {
        let client = GatewayClient::new(Duration::from_secs(1)).unwrap();
        let gateway = Gateway {
            // Nothing listens there: a send would be a retry, not a refusal.
            url: "http://127.0.0.1:9/v1".into(),
            token: String::new(),
        };
        let report = client.send(&gateway, &sms("not-a-phone")).await;
        assert_eq!(report.outcome, Outcome::Refused);
        assert_eq!(report.status, None);
    }

    #[tokio::test]
    async fn no_url_or_a_bad_one_is_retried_with_the_reason() {
        let client = GatewayClient::new(Duration::from_secs(1)).unwrap();
        for (url, reason) in [
            ("", NO_URL),
            (
                "ftp://gw.test",
                "the SMS gateway URL must be an http or https URL",
            ),
        ] {
            let gateway = Gateway {
                url: url.into(),
                token: "t".into(),
            };
            let report = client.send(&gateway, &sms("79161234567")).await;
            assert_eq!(report.outcome, Outcome::Retry { after: None }, "{url}");
            assert_eq!(report.error.as_deref(), Some(reason), "{url}");
        }
    }
}
