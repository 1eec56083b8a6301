//! Ports of the webhook channel: the request its adapter sends (the adapter
//! is a [`Channel`](crate::engine::Channel) of it), and the endpoint rules
//! that need the network or cryptography.

use libris_domain::webhooks::HttpMethod;
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
    /// The body, rendered from the stored event as the webhook says; sent
    /// byte for byte as signed.
    pub body: Vec<u8>,
    pub method: HttpMethod,
    /// The `Content-Type` the body is sent with.
    pub content_type: String,
    /// Why this message cannot be sent (its body would be over the size
    /// limit): the attempt fails at once, with this reason, and nothing goes
    /// out.
    pub unsendable: Option<String>,
    /// A member's webhook: sent to public addresses only, whatever the
    /// process allows its admins' webhooks.
    pub public_only: bool,
}

/// Rules on endpoints that need the network or the signing scheme. Each
/// error is a message for the named field.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait EndpointPolicy: Send + Sync {
    /// http/https, a host, and (unless allowed) no private, loopback or
    /// link-local address once resolved. May block on DNS.
    fn check_target(&self, url: &str) -> Result<(), String>;
    /// A member's target: public `http`/`https` only, whatever the setting
    /// that allows private addresses says, and never a broker.
    fn check_member_target(&self, url: &str) -> Result<(), String>;
    /// `whsec_` + base64, or at least 8 characters.
    fn check_secret(&self, secret: &str) -> Result<(), String>;
    /// A fresh `whsec_` secret.
    fn generate_secret(&self) -> String;
    /// Legal names and values, none overriding Libris's own headers; the
    /// error names the header.
    fn check_headers(&self, headers: &[(String, String)]) -> Result<(), String>;
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
