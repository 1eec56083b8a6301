//! Webhooks: subscriptions managed by admins, and the delivery pipeline that
//! carries outbox events to them (fan-out, claim, send, record).

pub mod delivery;
pub mod inbound;
pub mod maintenance;
pub mod pipeline;
pub mod ports;
pub mod retry;
pub mod subscriptions;

pub use ports::{
    AttemptReport, EndpointPolicy, InboundVerifier, Outcome, OutgoingDelivery, Randomness,
    WebhookTransport,
};
pub use retry::{DeliverySettings, RetryPolicy};
