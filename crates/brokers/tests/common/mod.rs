//! What the broker tests share: the real brokers on this machine (a test
//! fails, never skips, when one is down), deliveries to send, signature
//! checks written independently of the signing code, and cleanup that runs
//! even when a test fails.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::context::GetStreamByNameErrorKind;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use libris_application::webhooks::OutgoingDelivery;
use sha2::Sha256;
use uuid::Uuid;

pub const RABBITMQ: &str = "127.0.0.1:5672";
pub const RABBITMQ_ADMIN_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const NATS: &str = "127.0.0.1:4222";
/// The channel's timeout in these tests.
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

/// A short unique suffix for the names a test creates.
pub fn unique() -> String {
    Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// Whole seconds, as the signature's timestamp is.
pub fn attempt_time() -> DateTime<Utc> {
    Utc.timestamp_opt(Utc::now().timestamp(), 0).unwrap()
}

pub fn delivery(url: &str, event: &str) -> OutgoingDelivery {
    let event_id = Uuid::new_v4();
    OutgoingDelivery {
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

fn hmac_sha256(parts: &[&[u8]]) -> Vec<u8> {
    let encoded = SECRET.strip_prefix("whsec_").expect("whsec_ secret");
    let key = STANDARD.decode(encoded).expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
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
    let id = delivery.event_id.hyphenated().to_string();
    let timestamp = attempt_at.timestamp().to_string();
    let expect = |name: &str, value: &str| {
        assert_eq!(header(name).as_deref(), Some(value), "header {name}");
    };
    expect("webhook-id", &id);
    expect("webhook-timestamp", &timestamp);
    expect("X-Event-Type", &delivery.event);
    let standard = hmac_sha256(&[id.as_bytes(), b".", timestamp.as_bytes(), b".", body]);
    expect(
        "webhook-signature",
        &format!("v1,{}", STANDARD.encode(standard)),
    );
    expect(
        "X-Webhook-Signature",
        &format!("sha256={}", hex::encode(hmac_sha256(&[body]))),
    );
    for (name, value) in &delivery.headers {
        expect(name, value);
    }
}

/// Runs `body` as its own task, then `cleanup` whether it passed or
/// panicked, then passes the panic on.
pub async fn with_cleanup<C>(body: impl Future<Output = ()> + Send + 'static, cleanup: C)
where
    C: Future<Output = ()>,
{
    let outcome = tokio::spawn(body).await;
    cleanup.await;
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task failed: {error}"),
        }
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
/// that hangs does; it holds what it accepted until the test ends.
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
