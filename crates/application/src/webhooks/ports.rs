//! Ports of the webhook pipeline: the transport that sends one attempt, the
//! endpoint rules that need the network or cryptography, and randomness.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use uuid::Uuid;

/// One attempt to make: the request a receiver gets, minus what the
/// transport adds per attempt (timestamp and signatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingDelivery {
    pub url: String,
    pub secret: String,
    pub headers: Vec<(String, String)>,
    /// The event id: `webhook-id`, the same on every attempt.
    pub event_id: Uuid,
    pub event: String,
    /// The JSON body, sent byte for byte as signed.
    pub body: Vec<u8>,
}

/// How one attempt ended, as far as delivery is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Delivered,
    /// 410: the receiver asks us to stop.
    Gone,
    /// Another 4xx (not 408/429), a redirect: retrying will not help.
    Rejected,
    /// The target was refused at send time (a private address, a bad URL).
    Refused,
    /// 408, 429, 5xx, timeouts, connection errors; `after` is the receiver's
    /// `Retry-After`.
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    pub status: Option<u16>,
    /// At most 4 KiB of the response body.
    pub response_body: String,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub outcome: Outcome,
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = AttemptReport> + Send + 'a>>;

/// Sends one attempt. Never fails: every problem is an [`AttemptReport`].
/// Must sign with `timestamp` (unix seconds of this attempt), refuse private
/// targets unless allowed, not follow redirects, and time out.
pub trait WebhookTransport: Send + Sync {
    fn send<'a>(&'a self, delivery: &'a OutgoingDelivery, timestamp: i64) -> SendFuture<'a>;
}

/// Rules on endpoints that need the network or the signing scheme. Each
/// error is a message for the named field.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait EndpointPolicy: Send + Sync {
    /// http/https, a host, and (unless allowed) no private, loopback or
    /// link-local address once resolved. May block on DNS.
    fn check_target(&self, url: &str) -> Result<(), String>;
    /// `whsec_` + base64, or at least 8 characters.
    fn check_secret(&self, secret: &str) -> Result<(), String>;
    /// A fresh `whsec_` secret.
    fn generate_secret(&self) -> String;
    /// Legal names and values, none overriding Libris's own headers; the
    /// error names the header.
    fn check_headers(&self, headers: &[(String, String)]) -> Result<(), String>;
}

/// Randomness for jitter.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Randomness: Send + Sync {
    /// A number in `[-1.0, 1.0]`.
    fn symmetric_unit(&self) -> f64;
}

/// Checks inbound signatures with the inbound secret. Both checks compare in
/// constant time; neither looks at the timestamp's age, which the use case
/// judges itself.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait InboundVerifier: Send + Sync {
    /// `X-Webhook-Signature: sha256=<hex>` over the body.
    fn verify_hex(&self, body: &[u8], signature: &str) -> bool;
    /// `webhook-signature` (one or more `v1,<base64>`) over id, timestamp and
    /// body.
    fn verify_standard(
        &self,
        message_id: &str,
        timestamp: i64,
        body: &[u8],
        signature: &str,
    ) -> bool;
}
