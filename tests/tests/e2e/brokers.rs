//! Broker webhooks end to end: the real server publishing to the real
//! RabbitMQ (127.0.0.1:5672, guest/guest) and NATS JetStream
//! (127.0.0.1:4222) on this machine; a test fails, never skips, when one is
//! down. Each test makes its own exchange, queue, subject and stream, named
//! after a UUID, and removes them whether it passed or not.

use std::time::Duration;

use libris_brokers::testing::{
    amqp, nats, rabbitmq_addr, secret_key, unique, with_cleanup, SECRET,
};
use libris_e2e::{default_database, TestApp};
use libris_testing::proxy::TcpProxy;
use reqwest::Method;
use serde_json::{json, Value};

use crate::signatures::{hex_signature, standard_signature};

const WAIT: Duration = Duration::from_secs(15);

/// A subscription URL to RabbitMQ on `port` as guest with `password`,
/// routing by the event's name.
fn amqp_url(port: u16, password: &str, exchange: &str) -> String {
    format!(
        "amqp://guest:{password}@127.0.0.1:{port}/%2f?exchange={exchange}&routing_key={{event}}"
    )
}

/// A retry schedule of `count` delays of `delay`.
fn schedule(delay: &str, count: usize) -> String {
    vec![delay; count].join(",")
}

/// Checks a message Libris published for `event`: the body is the event's
/// JSON, the headers name it and carry both signatures under `key`, checked
/// with the suite's own signing code. Answers the event's JSON.
fn assert_event_message(
    body: &[u8],
    header: impl Fn(&str) -> Option<String>,
    event: &str,
    key: &[u8],
) -> Value {
    let json: Value = serde_json::from_slice(body).expect("a JSON body");
    let id = json["id"].as_str().expect("an event id");
    assert_eq!(json["event"], event, "{json}");
    assert!(
        json["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{json}"
    );
    assert!(json["data"].is_object(), "{json}");
    assert_eq!(header("webhook-id").as_deref(), Some(id), "webhook-id");
    assert_eq!(header("X-Event-Type").as_deref(), Some(event));
    let timestamp = header("webhook-timestamp").expect("webhook-timestamp");
    assert_eq!(
        header("webhook-signature"),
        Some(standard_signature(key, id, &timestamp, body)),
        "webhook-signature"
    );
    assert_eq!(
        header("X-Webhook-Signature"),
        Some(hex_signature(key, body)),
        "X-Webhook-Signature"
    );
    json
}

/// The webhook's deliveries, newest first.
async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let page = app
        .admin_get(&format!("/api/webhooks/deliveries/?webhook={webhook}"))
        .await;
    page["results"].as_array().expect("results").clone()
}

#[actix_web::test]
async fn an_amqp_webhook_publishes_signed_persistent_messages_and_never_shows_its_password() {
    let suffix = unique();
    let exchange = format!("libris-e2e-{suffix}");
    let queue = format!("libris-e2e-{suffix}");
    let (e, q) = (exchange.as_str(), queue.as_str());
    with_cleanup(
        async move {
            amqp::topology(e, q, "book.*").await;
            let flags = ["--webhook-retry-schedule", "100ms,100ms,100ms"];
            let app = TestApp::spawn_on(default_database(), &flags).await;
            let key = secret_key(SECRET);
            let masked = amqp_url(5672, "***", e);

            let hook = app
                .subscribe(&amqp_url(5672, "guest", e), &["book.*"], SECRET)
                .await;
            assert_eq!(hook["url"], masked, "{hook}");
            let id = hook["id"].as_str().expect("an id").to_owned();
            let path = format!("/api/webhooks/{id}/");
            let one = app.admin_get(&path).await;
            assert_eq!(one["url"], masked, "{one}");
            let list = app.admin_get("/api/webhooks/").await;
            let listed = list["results"]
                .as_array()
                .expect("results")
                .iter()
                .find(|w| w["id"] == id.as_str())
                .expect("the webhook is listed");
            assert_eq!(listed["url"], masked, "{listed}");
            for shown in [&hook, &one, &list] {
                assert!(!shown.to_string().contains("guest:guest"), "{shown}");
            }

            // The first event: published, signed, persistent.
            let author = app.author("Frank Herbert").await;
            let book = app.book("Dune", author).await;
            let delivered = app
                .eventually(
                    &format!("/api/webhooks/deliveries/?webhook={id}&status=delivered"),
                    WAIT,
                    |b| b["count"] == 1,
                )
                .await;
            let event_id = delivered["results"][0]["event_id"].as_str().unwrap();
            let messages = amqp::drain(q).await;
            assert_eq!(messages.len(), 1, "exactly the one message");
            let message = &messages[0];
            assert_eq!(message.delivery.exchange.as_str(), e);
            assert_eq!(message.delivery.routing_key.as_str(), "book.created");
            assert_eq!(
                *message.delivery.properties.delivery_mode(),
                Some(2),
                "persistent"
            );
            assert_eq!(amqp::message_id(message).as_deref(), Some(event_id));
            let json = assert_event_message(
                &message.delivery.data,
                |name| amqp::header(message, name),
                "book.created",
                &key,
            );
            assert_eq!(json["id"], event_id);
            assert_eq!(
                (&json["data"]["id"], &json["data"]["title"]),
                (&json!(book), &json!("Dune"))
            );
            let logs = app
                .admin_get(&format!("/api/webhooks/logs/?webhook={id}"))
                .await;
            assert_eq!(logs["count"], 1, "{logs}");
            let log = &logs["results"][0];
            assert_eq!(log["success"], true, "{log}");
            assert_eq!(log["event_id"], event_id);
            assert_eq!(log["error_message"], Value::Null, "{log}");

            // The masked URL sent back keeps the password.
            let patched = app
                .admin(
                    Method::PATCH,
                    &path,
                    Some(json!({"url": masked, "description": "catalog feed"})),
                )
                .await
                .expect(200);
            assert_eq!(
                (&patched["url"], &patched["description"]),
                (&json!(masked), &json!("catalog feed"))
            );
            let second = app.book("Dune Messiah", author).await;
            app.eventually(
                &format!("/api/webhooks/deliveries/?webhook={id}&status=delivered"),
                WAIT,
                |b| b["count"] == 2,
            )
            .await;
            let messages = amqp::drain(q).await;
            assert_eq!(messages.len(), 1, "exactly the second message");
            let json = assert_event_message(
                &messages[0].delivery.data,
                |name| amqp::header(&messages[0], name),
                "book.created",
                &key,
            );
            assert_eq!(json["data"]["id"], second);

            // A wrong password: every attempt fails and is retried, and the
            // password shows nowhere.
            let patched = app
                .admin(
                    Method::PATCH,
                    &path,
                    Some(json!({"url": amqp_url(5672, "wrong", e)})),
                )
                .await;
            assert_eq!(patched.status, 200, "{}", patched.body);
            assert_eq!(patched.body["url"], masked);
            app.book("Children of Dune", author).await;
            let dead = app
                .eventually(
                    &format!("/api/webhooks/deliveries/?webhook={id}&status=dead"),
                    WAIT,
                    |b| b["count"] == 1,
                )
                .await;
            let failing = &dead["results"][0];
            assert_eq!(failing["attempts"], 4, "1 + the 3 retries: {failing}");
            let last_error = failing["last_error"].as_str().expect("an error");
            assert!(
                last_error.contains("RabbitMQ at 127.0.0.1:5672"),
                "{last_error}"
            );
            let failed_id = failing["event_id"].as_str().unwrap();
            let failed = app
                .admin_get(&format!("/api/webhooks/logs/?webhook={id}&success=false"))
                .await;
            assert_eq!(failed["count"], 4, "{failed}");
            for log in failed["results"].as_array().unwrap() {
                assert_eq!(log["event_id"], failed_id);
                assert!(log["error_message"].is_string(), "{log}");
            }
            assert!(amqp::drain(q).await.is_empty(), "nothing got through");
            let everything = [
                patched.body,
                app.admin_get(&path).await,
                app.admin_get("/api/webhooks/").await,
                app.admin_get(&format!("/api/webhooks/deliveries/?webhook={id}"))
                    .await,
                app.admin_get(&format!("/api/webhooks/logs/?webhook={id}"))
                    .await,
            ];
            for shown in everything {
                let text = shown.to_string();
                assert!(!text.contains("wrong"), "the password shows: {text}");
                assert!(!text.contains("guest:guest"), "a password shows: {text}");
            }
        },
        amqp::delete(e, q),
    )
    .await;
}

#[actix_web::test]
async fn an_unroutable_amqp_message_is_retried_until_a_queue_is_bound() {
    let suffix = unique();
    let exchange = format!("libris-e2e-{suffix}");
    let queue = format!("libris-e2e-{suffix}");
    let (e, q) = (exchange.as_str(), queue.as_str());
    with_cleanup(
        async move {
            // The exchange exists; no queue is bound to it.
            amqp::declare_exchange(e).await;
            let retries = schedule("200ms", 10);
            let flags = ["--webhook-retry-schedule", retries.as_str()];
            let app = TestApp::spawn_on(default_database(), &flags).await;
            let hook = app
                .subscribe(&amqp_url(5672, "guest", e), &["book.*"], SECRET)
                .await;
            let id = hook["id"].as_str().expect("an id").to_owned();
            let author = app.author("Ursula K. Le Guin").await;
            app.book("The Dispossessed", author).await;

            let path = format!("/api/webhooks/deliveries/?webhook={id}");
            let retried = app
                .eventually(&path, WAIT, |b| {
                    let d = &b["results"][0];
                    d["status"] == "pending" && d["attempts"].as_i64() >= Some(2)
                })
                .await;
            let pending = &retried["results"][0];
            let error = pending["last_error"].as_str().expect("an error");
            assert!(
                error.contains("returned unroutable")
                    && error.contains("NO_ROUTE")
                    && error.contains(e),
                "{error}"
            );

            amqp::bind(e, q, "book.*").await;
            let done = app
                .eventually(&path, WAIT, |b| b["results"][0]["status"] == "delivered")
                .await;
            let delivered = &done["results"][0];
            assert!(delivered["attempts"].as_i64() >= Some(3), "{delivered}");
            let messages = amqp::drain(q).await;
            assert_eq!(messages.len(), 1, "exactly the one message");
            assert_eq!(
                amqp::message_id(&messages[0]).as_deref(),
                delivered["event_id"].as_str()
            );
            assert_event_message(
                &messages[0].delivery.data,
                |name| amqp::header(&messages[0], name),
                "book.created",
                &secret_key(SECRET),
            );
            let logs = app
                .admin_get(&format!("/api/webhooks/logs/?webhook={id}"))
                .await;
            let results = logs["results"].as_array().unwrap();
            let successes = results.iter().filter(|l| l["success"] == true).count();
            assert_eq!(successes, 1, "{logs}");
            assert!(results.len() >= 3, "{logs}");
            for log in results.iter().filter(|l| l["success"] == false) {
                assert_eq!(log["response_status"], 312, "{log}");
            }
        },
        amqp::delete(e, q),
    )
    .await;
}

#[actix_web::test]
async fn a_nats_webhook_publishes_signed_events_to_a_jetstream_stream() {
    let suffix = unique();
    let stream = format!("LIBRIS_E2E_{suffix}");
    let s = stream.as_str();
    with_cleanup(
        async move {
            nats::create_stream(s, &format!("t{suffix}.>")).await;
            let app = TestApp::spawn().await;
            let url = format!("nats://127.0.0.1:4222?subject=t{suffix}.{{event}}");
            let hook = app.subscribe(&url, &["book.*"], SECRET).await;
            assert_eq!(hook["url"], url);
            let id = hook["id"].as_str().expect("an id").to_owned();
            let author = app.author("Frank Herbert").await;
            let book = app.book("Dune", author).await;

            let delivered = app
                .eventually(
                    &format!("/api/webhooks/deliveries/?webhook={id}&status=delivered"),
                    WAIT,
                    |b| b["count"] == 1,
                )
                .await;
            let event_id = delivered["results"][0]["event_id"].as_str().unwrap();
            let stored = nats::messages(s).await;
            assert_eq!(stored.len(), 1, "exactly the one message");
            let message = &stored[0];
            assert_eq!(message.subject.as_str(), format!("t{suffix}.book.created"));
            assert_eq!(
                nats::header(message, "Nats-Msg-Id").as_deref(),
                Some(event_id)
            );
            let json = assert_event_message(
                &message.payload,
                |name| nats::header(message, name),
                "book.created",
                &secret_key(SECRET),
            );
            assert_eq!(json["id"], event_id);
            assert_eq!(json["data"]["id"], book);
            let logs = app
                .admin_get(&format!("/api/webhooks/logs/?webhook={id}"))
                .await;
            assert_eq!(logs["count"], 1, "{logs}");
            let log = &logs["results"][0];
            assert_eq!(log["success"], true, "{log}");
            assert!(
                log["response_body"].as_str().is_some_and(|b| b.contains(s)),
                "the stream that stored it: {log}"
            );
        },
        nats::delete_stream(s),
    )
    .await;
}

#[actix_web::test]
async fn amqp_deliveries_survive_a_broker_outage_and_land_exactly_once() {
    let suffix = unique();
    let exchange = format!("libris-e2e-{suffix}");
    let queue = format!("libris-e2e-{suffix}");
    let (e, q) = (exchange.as_str(), queue.as_str());
    with_cleanup(
        async move {
            amqp::topology(e, q, "book.*").await;
            let mut proxy = TcpProxy::start(rabbitmq_addr()).await;
            // Long enough that no delivery runs out of retries while cut.
            let retries = schedule("200ms", 50);
            let flags = ["--webhook-retry-schedule", retries.as_str()];
            let app = TestApp::spawn_on(default_database(), &flags).await;
            let hook = app
                .subscribe(&amqp_url(proxy.port(), "guest", e), &["book.*"], SECRET)
                .await;
            let id = hook["id"].as_str().expect("an id").to_owned();
            let delivered_path = format!("/api/webhooks/deliveries/?webhook={id}&status=delivered");
            let author = app.author("Iain M. Banks").await;
            app.book("Consider Phlebas", author).await;
            app.eventually(&delivered_path, WAIT, |b| b["count"] == 1)
                .await;

            proxy.cut().await;
            for i in 0..5 {
                app.book(&format!("Culture {i}"), author).await;
            }
            app.eventually(
                &format!("/api/webhooks/deliveries/?webhook={id}&status=pending"),
                WAIT,
                |b| {
                    b["count"] == 5
                        && b["results"].as_array().unwrap().iter().all(|d| {
                            d["attempts"].as_i64() >= Some(1) && d["last_error"].is_string()
                        })
                },
            )
            .await;
            let failed = app
                .admin_get(&format!("/api/webhooks/logs/?webhook={id}&success=false"))
                .await;
            assert!(failed["count"].as_i64() >= Some(5), "{failed}");

            proxy.restore().await;
            app.eventually(&delivered_path, WAIT, |b| b["count"] == 6)
                .await;
            assert!(proxy.connections() >= 2, "reconnected after the outage");
            let mut expected: Vec<String> = deliveries(&app, &id)
                .await
                .iter()
                .map(|d| d["event_id"].as_str().unwrap().to_owned())
                .collect();
            let messages = amqp::drain(q).await;
            let mut received: Vec<String> = messages
                .iter()
                .map(|m| amqp::message_id(m).expect("a message id"))
                .collect();
            for message in &messages {
                let json = assert_event_message(
                    &message.delivery.data,
                    |name| amqp::header(message, name),
                    "book.created",
                    &secret_key(SECRET),
                );
                assert_eq!(json["id"].as_str(), amqp::message_id(message).as_deref());
            }
            expected.sort();
            received.sort();
            assert_eq!(expected.len(), 6);
            assert_eq!(received, expected, "every event exactly once");
        },
        amqp::delete(e, q),
    )
    .await;
}
