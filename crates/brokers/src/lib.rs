//! Libris's broker channel: a subscription whose URL names a message broker
//! gets its deliveries published there instead of POSTed, through the same
//! delivery engine (the same queue, retries and reports) as webhooks.
//!
//! | URL | broker | defaults |
//! | --- | --- | --- |
//! | `amqp://user:pass@host:5672/vhost?exchange=E&routing_key=K` | RabbitMQ (AMQP 0-9-1) | exchange `libris` (topic, durable, declared if missing), routing key `{event}` |
//! | `nats://[user:pass@]host:4222?subject=S` | NATS JetStream | subject `libris.{event}`; a stream `LIBRIS` over `libris.>` is created if none covers the subject |
//!
//! `{event}` in a routing key or subject is the event's name. The message
//! body is the delivery's body byte for byte, persistent, with the headers a
//! webhook request carries (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`, `X-Webhook-Signature`, `X-Event-Type`, and the
//! subscription's own), and the event id as the AMQP `message_id` or the
//! NATS `Nats-Msg-Id`. An attempt is delivered only once the broker
//! confirmed it; anything else is retried, with an error that never
//! contains the URL's password. A URL that does not parse is refused.
//!
//! One publisher per broker (`amqp::AmqpChannel`, `nats::NatsChannel`), and
//! [`BrokerChannel`] holding both and picking by scheme: the one `Channel`
//! the pipeline needs for every broker URL, next to the HTTP sender for the
//! rest ([`is_broker_url`] tells them apart).

mod amqp;
mod attempt;
mod cache;
mod message;
mod nats;
mod target;
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

use chrono::{DateTime, Utc};
use libris_application::engine::{Channel, SendFuture};
use libris_application::webhooks::OutgoingDelivery;

use amqp::AmqpChannel;
use nats::NatsChannel;
pub use target::{check_broker_url, is_broker_url};

use message::Reporter;
use target::Target;

/// The engine's channel for broker URLs: `amqp://` goes to RabbitMQ,
/// `nats://` to NATS JetStream, anything else is refused.
///
/// Connections are kept across deliveries, one per broker endpoint
/// (scheme, credentials, host, port, vhost), and replaced when they went
/// down or an attempt failed on them. Each attempt, connecting included,
/// takes at most the `timeout` given to [`BrokerChannel::new`].
pub struct BrokerChannel {
    amqp: AmqpChannel,
    nats: NatsChannel,
}

impl BrokerChannel {
    pub fn new(timeout: Duration) -> Self {
        Self {
            amqp: AmqpChannel::new(timeout),
            nats: NatsChannel::new(timeout),
        }
    }
}

impl Channel<OutgoingDelivery> for BrokerChannel {
    fn send<'a>(
        &'a self,
        delivery: &'a OutgoingDelivery,
        attempt_at: DateTime<Utc>,
    ) -> SendFuture<'a> {
        Box::pin(async move {
            let reporter = Reporter::start();
            match Target::parse(&delivery.url) {
                Ok(Target::Amqp(target)) => {
                    self.amqp
                        .deliver(&target, delivery, attempt_at, &reporter)
                        .await
                }
                Ok(Target::Nats(target)) => {
                    self.nats
                        .deliver(&target, delivery, attempt_at, &reporter)
                        .await
                }
                Err(error) => reporter.refused(format!("broker URL {error}")),
            }
        })
    }
}
