//! RabbitMQ (AMQP 0-9-1) through `lapin`: one connection per endpoint with
//! one publisher-confirm channel, exchanges declared once per connection,
//! messages published `mandatory` and persistent.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::message::BasicReturnMessage;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use libris_application::webhooks::OutgoingDelivery;
use libris_domain::delivery::AttemptReport;

use crate::attempt::{bounded, AttemptStage, Failure, Progress};
use crate::cache::{Cache, Link};
use crate::message::{Reporter, SignedMessage};
use crate::target::{AmqpTarget, Endpoint};

/// AMQP's persistent delivery mode: the broker writes the message to disk
/// (on a durable queue) before it confirms.
const PERSISTENT: u8 = 2;

/// Publishes deliveries whose URL is `amqp://…` to RabbitMQ. Other URLs are
/// refused; [`BrokerChannel`](crate::BrokerChannel) picks this or NATS by
/// scheme.
///
/// An attempt is `Delivered` only on the broker's publisher-confirm ack of a
/// message that was routed to at least one queue. A message no queue takes
/// comes back (it is published `mandatory`) and the attempt is retried like
/// any other failure. Each attempt, connecting included, is bounded by the
/// timeout given to [`AmqpChannel::new`].
pub struct AmqpChannel {
    timeout: Duration,
    cache: Cache<AmqpLink>,
}

struct AmqpLink {
    connection: Connection,
    /// In confirm mode; shared by concurrent attempts, each awaiting its own
    /// confirmation.
    channel: lapin::Channel,
    /// Exchanges known to exist on this connection.
    exchanges: Mutex<HashSet<String>>,
}

impl Link for AmqpLink {
    fn is_open(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }
}

/// Where an attempt was when it failed or ran out of time.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Connecting,
    Declaring,
    Confirming,
}

impl AttemptStage for Stage {
    fn describe(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Declaring => "declaring the exchange",
            Self::Confirming => "waiting for the publisher confirm",
        }
    }
}

impl AmqpChannel {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            cache: Cache::new(),
        }
    }

    pub(crate) async fn deliver(
        &self,
        target: &AmqpTarget,
        delivery: &OutgoingDelivery,
        attempt_at: DateTime<Utc>,
        reporter: &Reporter,
    ) -> AttemptReport {
        let endpoint = &target.endpoint;
        let routing_key = match target.routing_key_for(&delivery.event) {
            Ok(key) => key,
            Err(error) => return reporter.refused(error),
        };
        let message = match SignedMessage::sign(delivery, attempt_at) {
            Ok(message) => message,
            Err(error) => return reporter.refused(error),
        };
        let properties = properties(&message, &delivery.content_type);
        let progress = Progress::new(Stage::Connecting);
        let publish = self.publish(target, &routing_key, properties, &delivery.body, &progress);
        bounded(
            "AMQP",
            self.timeout,
            &self.cache,
            endpoint,
            reporter,
            &progress,
            publish,
        )
        .await
    }

    async fn publish(
        &self,
        target: &AmqpTarget,
        routing_key: &str,
        properties: BasicProperties,
        body: &[u8],
        progress: &Progress<Stage, AmqpLink>,
    ) -> Result<String, Failure> {
        let endpoint = &target.endpoint;
        let link = self
            .cache
            .get(endpoint, || connect(endpoint, self.timeout))
            .await
            .map_err(Failure::broken)?;
        progress.reached(Stage::Declaring, Some(&link));
        declare_exchange(&link, &target.exchange)
            .await
            .map_err(|error| Failure {
                evict: !link.is_open(),
                ..Failure::broken(error)
            })?;
        progress.reached(Stage::Confirming, None);
        let confirmation = async {
            link.channel
                .basic_publish(
                    ShortString::from(target.exchange.as_str()),
                    ShortString::from(routing_key),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    body,
                    properties,
                )
                .await?
                .await
        }
        .await
        .map_err(|e| Failure::broken(format!("publish failed: {e}")))?;
        match confirmation {
            // A confirm carries nothing to show as a response body.
            Confirmation::Ack(None) => Ok(String::new()),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                Err(returned_failure(&target.exchange, routing_key, &returned))
            }
            Confirmation::Nack(None) => Err(Failure {
                evict: false,
                ..Failure::broken(
                    "the broker refused the message (publisher confirm nack)".to_owned(),
                )
            }),
            // Cannot happen on a channel in confirm mode; if it did, the
            // channel is not what we set up.
            Confirmation::NotRequested => Err(Failure::broken(
                "the channel is not in confirm mode".to_owned(),
            )),
        }
    }
}

/// A message published `mandatory` that no queue took: the connection is
/// fine, the topology is not.
fn returned_failure(exchange: &str, routing_key: &str, returned: &BasicReturnMessage) -> Failure {
    let reply = returned.reply_text.as_str();
    Failure {
        status: Some(returned.reply_code),
        response_body: reply.to_owned(),
        error: format!(
            "message returned unroutable ({} {reply}): no queue is bound to exchange {exchange:?} \
             for routing key {routing_key:?}",
            returned.reply_code
        ),
        evict: false,
    }
}

fn properties(message: &SignedMessage, content_type: &str) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in message.headers() {
        headers.insert(
            ShortString::from(name),
            AMQPValue::LongString(LongString::from(value)),
        );
    }
    BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_message_id(ShortString::from(message.id.as_str()))
        .with_timestamp(u64::try_from(message.timestamp).unwrap_or(0))
        .with_content_type(ShortString::from(content_type))
        .with_headers(headers)
}

async fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<AmqpLink, String> {
    let uri = AMQPUri {
        scheme: AMQPScheme::AMQP,
        authority: AMQPAuthority {
            userinfo: AMQPUserInfo {
                username: endpoint.user.clone(),
                password: endpoint.password.clone(),
            },
            host: endpoint.host.clone(),
            port: endpoint.port,
        },
        vhost: endpoint.vhost.clone(),
        query: AMQPQueryString {
            // The TCP connect, in lapin's own thread, gives up with the
            // attempt rather than at the system's much later timeout.
            connection_timeout: Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
            ..AMQPQueryString::default()
        },
    };
    let properties = ConnectionProperties::default().with_connection_name("libris".into());
    let connection = Connection::connect_uri(uri, properties)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| format!("cannot open a channel: {e}"))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| format!("cannot enable publisher confirms: {e}"))?;
    tracing::debug!(broker = %endpoint.describe(), "connected to RabbitMQ");
    Ok(AmqpLink {
        connection,
        channel,
        exchanges: Mutex::new(HashSet::new()),
    })
}

/// Makes sure `exchange` exists, once per connection: an existing exchange
/// is used as it is, whatever its type; a missing one is declared topic and
/// durable. Both steps use a channel of their own, because a failed declare
/// closes its channel and the publishing channel must survive it.
async fn declare_exchange(link: &AmqpLink, exchange: &str) -> Result<(), String> {
    // The default exchange always exists and cannot be declared.
    if exchange.is_empty() || known(link, exchange) {
        return Ok(());
    }
    let passive = link
        .connection
        .create_channel()
        .await
        .map_err(|e| format!("cannot open a channel: {e}"))?;
    let exists = passive
        .exchange_declare(
            ShortString::from(exchange),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                passive: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .is_ok();
    // Closed by the broker if the exchange is missing; otherwise on drop.
    drop(passive);
    if !exists {
        let channel = link
            .connection
            .create_channel()
            .await
            .map_err(|e| format!("cannot open a channel: {e}"))?;
        channel
            .exchange_declare(
                ShortString::from(exchange),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot declare exchange {exchange:?}: {e}"))?;
        tracing::info!(exchange, "declared the missing exchange (topic, durable)");
    }
    link.exchanges
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(exchange.to_owned());
    Ok(())
}

fn known(link: &AmqpLink, exchange: &str) -> bool {
    link.exchanges
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(exchange)
}
