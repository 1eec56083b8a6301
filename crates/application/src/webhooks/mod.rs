//! Webhooks: subscriptions managed by admins, and the channel that carries
//! outbox events to them — fan-out (a consumer of the event log) and the
//! queue of deliveries the engine sends.

pub mod delivery;
pub mod fan_out;
pub mod inbound;
pub mod maintenance;
pub mod options;
pub mod ports;
pub mod queue;
pub mod subscriptions;
pub mod timeline;

/// The webhook channel's name in logs, metrics and wake-ups.
pub const CHANNEL: &str = "webhook";

pub use fan_out::WebhookFanOut;
pub use ports::{EndpointPolicy, InboundVerifier, OutgoingDelivery};
pub use queue::WebhookQueue;
