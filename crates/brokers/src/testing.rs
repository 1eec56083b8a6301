//! Test fixtures for the broker channel, shared by this crate's tests and the
//! end-to-end suite; compiled only with the `testing` feature, never into
//! the production build.
//!
//! They talk to the real brokers on this machine (a test fails, never
//! skips, when one is down): [`rabbitmq`] and [`nats()`] connect as the admin
//! side, [`amqp`] and [`nats`](mod@nats) declare, read and delete what a
//! test uses. There are deliveries to send ([`delivery`]), signature checks
//! written independently of the signing code ([`assert_signed_headers`],
//! [`secret_key`], [`hmac_sha256`]), unique names ([`unique`]) and cleanup
//! that runs even when a test fails ([`with_cleanup`]).
//!
//! Everything here panics on failure: it is for tests.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use async_nats::jetstream::context::GetStreamByNameErrorKind;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::FutureExt as _;
use hmac::{Hmac, Mac};
use libris_application::webhooks::OutgoingDelivery;
use sha2::Sha256;
use uuid::Uuid;

pub const RABBITMQ: &str = "127.0.0.1:5672";
pub const RABBITMQ_ADMIN_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const NATS: &str = "127.0.0.1:4222";
/// The channel's timeout in the broker tests.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// How long the admin side waits for a broker.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);
/// A Standard Webhooks secret: the key is its base64-decoded bytes.
pub const SECRET: &str = "whsec_bGlicmlzLWJyb2tlci10ZXN0LWtleS0zMi1ieXRlcyE=";

pub fn rabbitmq_addr() -> SocketAddr {
    RABBITMQ.parse().expect("RabbitMQ address")
}

pub fn nats_addr() -> SocketAddr {
    NATS.parse().expect("NATS address")
}

/// A short unique suffix (12 hex digits of a v4 UUID) for the names a test
/// creates.
pub fn unique() -> String {
    Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// Now, in whole seconds, as the signature's timestamp is.
pub fn attempt_time() -> DateTime<Utc> {
    Utc.timestamp_opt(Utc::now().timestamp(), 0).unwrap()
}

/// A JSON `POST`-style delivery of `event` to `url`, signed with [`SECRET`],
/// with two extra headers and a fresh event id.
pub fn delivery(url: &str, event: &str) -> OutgoingDelivery {
    let event_id = Uuid::new_v4();
    OutgoingDelivery {
        method: libris_domain::webhooks::HttpMethod::Post,
        content_type: "application/json".to_owned(),
        unsendable: None,
        public_only: false,
        url: url.to_owned(),
        secret: SECRET.to_owned(),
        headers: vec![
            ("X-Tenant".to_owned(), "branch-42".to_owned()),
            ("X-Trace".to_owned(), "abc def".to_owned()),
        ],
        event_id,
        event: event.to_owned(),
        body: format!(r#"{{"event":"{event}","id":"{event_id}","title":"Dune é"}}"#).into_bytes(),
    }
}

/// The HMAC key of a subscription's secret, as the specification says: the
/// base64-decoded bytes after `whsec_`, or the secret's own bytes.
pub fn secret_key(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD.decode(encoded).expect("base64 after whsec_"),
        None => secret.as_bytes().to_vec(),
    }
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Checks every Libris header of a received message against the delivery
/// sent at `attempt_at`, recomputing both signatures here. `header` looks a
/// header up by its exact name.
pub fn assert_signed_headers(
    delivery: &OutgoingDelivery,
    attempt_at: DateTime<Utc>,
    body: &[u8],
    header: impl Fn(&str) -> Option<String>,
) {
    assert_eq!(body, delivery.body.as_slice(), "body bytes");
    let key = secret_key(&delivery.secret);
    let id = delivery.event_id.hyphenated().to_string();
    let timestamp = attempt_at.timestamp().to_string();
    let expect = |name: &str, value: &str| {
        assert_eq!(header(name).as_deref(), Some(value), "header {name}");
    };
    expect("webhook-id", &id);
    expect("webhook-timestamp", &timestamp);
    expect("X-Event-Type", &delivery.event);
    let standard = hmac_sha256(
        &key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    expect(
        "webhook-signature",
        &format!("v1,{}", STANDARD.encode(standard)),
    );
    expect(
        "X-Webhook-Signature",
        &format!("sha256={}", hex::encode(hmac_sha256(&key, &[body]))),
    );
    for (name, value) in &delivery.headers {
        expect(name, value);
    }
}

/// Runs `body`, then `cleanup` whether it passed or panicked, then passes
/// the panic on. Works on any runtime (a multi-thread tokio one or actix's
/// single-threaded one): `body` needs to be neither `Send` nor `'static`.
pub async fn with_cleanup<B, C>(body: B, cleanup: C)
where
    B: Future<Output = ()>,
    C: Future<Output = ()>,
{
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    cleanup.await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The admin side's RabbitMQ connection; fails the test when RabbitMQ is
/// not there.
pub async fn rabbitmq() -> lapin::Connection {
    let connect =
        lapin::Connection::connect(RABBITMQ_ADMIN_URL, lapin::ConnectionProperties::default());
    match tokio::time::timeout(ADMIN_TIMEOUT, connect).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(e)) => panic!(
            "these tests need RabbitMQ on {RABBITMQ} with user guest/guest; connecting failed: {e}"
        ),
        Err(_) => panic!("these tests need RabbitMQ on {RABBITMQ}; connecting timed out"),
    }
}

/// The admin side's NATS connection with JetStream; fails the test when
/// NATS, or its JetStream, is not there.
pub async fn nats() -> async_nats::jetstream::Context {
    let client = match tokio::time::timeout(ADMIN_TIMEOUT, async_nats::connect(NATS)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => panic!("these tests need NATS on {NATS}; connecting failed: {e}"),
        Err(_) => panic!("these tests need NATS on {NATS}; connecting timed out"),
    };
    let jetstream = async_nats::jetstream::new(client);
    // Any JetStream API request tells; a server without JetStream has no
    // responders for it.
    let probe = jetstream.stream_by_subject("libris-probe.none").await;
    if let Err(e) = probe {
        if e.kind() != GetStreamByNameErrorKind::NotFound {
            panic!(
                "these tests need JetStream enabled on the NATS server at {NATS} \
                 (nats-server -js): {e}"
            );
        }
    }
    jetstream
}

/// A server that accepts connections and never says a word, as a broker
/// that hangs does; it holds what it accepted until the runtime ends.
pub async fn silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the silent server");
    let addr = listener.local_addr().expect("silent server address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// RabbitMQ topology and messages, through the admin connection of
/// [`rabbitmq`].
pub mod amqp {
    use lapin::message::BasicGetMessage;
    use lapin::options::{
        BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::{AMQPValue, FieldTable};
    use lapin::ExchangeKind;

    use super::rabbitmq;

    /// Closes an admin connection. Closing errors when a dropped channel is
    /// still closing; the connection goes either way.
    async fn close(connection: lapin::Connection) {
        let _ = connection.close(200, "OK".into()).await;
    }

    /// Declares a durable topic exchange and a durable queue bound to it
    /// with `binding`.
    pub async fn topology(exchange: &str, queue: &str, binding: &str) {
        let connection = rabbitmq().await;
        declare_exchange_on(&connection, exchange).await;
        bind_queue(&connection, exchange, queue, binding).await;
        close(connection).await;
    }

    /// Declares a durable topic exchange with nothing bound to it (what
    /// Libris declares itself when it is missing).
    pub async fn declare_exchange(exchange: &str) {
        let connection = rabbitmq().await;
        declare_exchange_on(&connection, exchange).await;
        close(connection).await;
    }

    async fn declare_exchange_on(connection: &lapin::Connection, exchange: &str) {
        let channel = connection.create_channel().await.expect("channel");
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare exchange");
    }

    /// Declares a durable queue and binds it to `exchange` with `binding`,
    /// on a connection of its own.
    pub async fn bind(exchange: &str, queue: &str, binding: &str) {
        let connection = rabbitmq().await;
        bind_queue(&connection, exchange, queue, binding).await;
        close(connection).await;
    }

    /// Declares a durable queue and binds it to `exchange` with `binding`,
    /// on `connection`.
    pub async fn bind_queue(
        connection: &lapin::Connection,
        exchange: &str,
        queue: &str,
        binding: &str,
    ) {
        let channel = connection.create_channel().await.expect("channel");
        channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare queue");
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                binding.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind queue");
    }

    /// Everything in `queue`, taken off it, oldest first.
    pub async fn drain(queue: &str) -> Vec<BasicGetMessage> {
        let connection = rabbitmq().await;
        let channel = connection.create_channel().await.expect("channel");
        let mut messages = Vec::new();
        while let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            messages.push(message);
        }
        close(connection).await;
        messages
    }

    /// Deletes the queue and the exchange a test made, ignoring what is
    /// already gone.
    pub async fn delete(exchange: &str, queue: &str) {
        let connection = rabbitmq().await;
        let channel = connection.create_channel().await.expect("channel");
        let _ = channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await;
        let channel = connection.create_channel().await.expect("channel");
        let _ = channel
            .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
            .await;
        close(connection).await;
    }

    /// A message header Libris sets (always a long string), by exact name.
    pub fn header(message: &BasicGetMessage, name: &str) -> Option<String> {
        let headers = message.delivery.properties.headers().as_ref()?;
        match headers.inner().get(name)? {
            AMQPValue::LongString(value) => {
                Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
            }
            other => panic!("header {name} is not a long string: {other:?}"),
        }
    }

    /// The message's AMQP `message_id` property.
    pub fn message_id(message: &BasicGetMessage) -> Option<String> {
        message
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned())
    }
}

/// NATS JetStream streams and messages, through the admin connection of
/// [`nats`](fn@crate::testing::nats).
pub mod nats {
    use async_nats::jetstream::message::StreamMessage;
    use async_nats::jetstream::stream;

    use super::nats;

    /// A stream of the test's own, `name`, over `subjects`.
    pub async fn create_stream(name: &str, subjects: &str) {
        nats()
            .await
            .create_stream(stream::Config {
                name: name.to_owned(),
                subjects: vec![subjects.to_owned()],
                ..stream::Config::default()
            })
            .await
            .unwrap_or_else(|e| panic!("create stream {name}: {e}"));
    }

    /// Deletes stream `name`, ignoring one already gone.
    pub async fn delete_stream(name: &str) {
        let _ = nats().await.delete_stream(name).await;
    }

    /// Every message in stream `name`, oldest first.
    pub async fn messages(name: &str) -> Vec<StreamMessage> {
        let jetstream = nats().await;
        let mut stream = jetstream.get_stream(name).await.expect("stream");
        let state = stream.info().await.expect("stream info").state.clone();
        let mut messages = Vec::new();
        if state.messages == 0 {
            return messages;
        }
        for sequence in state.first_sequence..=state.last_sequence {
            if let Ok(message) = stream.get_raw_message(sequence).await {
                messages.push(message);
            }
        }
        messages
    }

    /// A message header, by exact name.
    pub fn header(message: &StreamMessage, name: &str) -> Option<String> {
        message.headers.get(name).map(|v| v.as_str().to_owned())
    }
}
