//! The sender used as the engine sees it, through a
//! `&dyn Channel<OutgoingDelivery>`: what reaches a real receiver, and how the
//! crate's report arrives in the application's types.

use std::time::Duration;

use chrono::DateTime;
use libris_application::engine::Channel;
use libris_application::webhooks::OutgoingDelivery;
use libris_domain::delivery::{AttemptReport, Outcome};
use libris_testing::receiver::{Receiver, Reply};
use libris_webhooks::{SenderConfig, WebhookSender};
use uuid::Uuid;

const EVENT_ID: &str = "0b6f4c1e-9a4e-4c59-8d2e-2f1f5a0e7c11";
const TIMESTAMP: i64 = 1_767_225_600;
const BODY: &[u8] = br#"{"event":"book.created","data":{"id":1}}"#;

fn sender(allow_private: bool) -> WebhookSender {
    WebhookSender::new(SenderConfig {
        timeout: Duration::from_secs(5),
        allow_private,
        user_agent: "libris/test".to_owned(),
    })
    .expect("client builds")
}

fn delivery(url: String, secret: &str) -> OutgoingDelivery {
    OutgoingDelivery {
        method: libris_domain::webhooks::HttpMethod::Post,
        content_type: "application/json".to_owned(),
        unsendable: None,
        public_only: false,
        url,
        secret: secret.to_owned(),
        headers: vec![("X-Tenant".to_owned(), "42".to_owned())],
        event_id: Uuid::parse_str(EVENT_ID).expect("valid uuid"),
        event: "book.created".to_owned(),
        body: BODY.to_vec(),
    }
}

async fn send(
    channel: &dyn Channel<OutgoingDelivery>,
    delivery: &OutgoingDelivery,
) -> AttemptReport {
    let attempt_at = DateTime::from_timestamp(TIMESTAMP, 0).expect("a valid time");
    channel.send(delivery, attempt_at).await
}

#[tokio::test]
async fn a_2xx_is_delivered_with_the_event_id_as_webhook_id() {
    let receiver = Receiver::with_responses(vec![Reply::status(200).body("ok")]).await;
    let delivery = delivery(receiver.url(), "a plain test secret");

    let report = send(&sender(true), &delivery).await;

    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    assert_eq!(report.status, Some(200));
    assert_eq!(report.response_body, "ok");
    assert_eq!(report.error, None);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.header("webhook-id"), Some(EVENT_ID));
    assert_eq!(
        request.header("webhook-id"),
        Some(delivery.event_id.to_string().as_str())
    );
    assert_eq!(
        request.header("webhook-timestamp"),
        Some(TIMESTAMP.to_string().as_str())
    );
    assert_eq!(request.header("x-event-type"), Some("book.created"));
    assert_eq!(request.header("x-tenant"), Some("42"));
    assert!(request.header("webhook-signature").is_some());
    assert_eq!(request.body, BODY);
}

#[tokio::test]
async fn a_410_is_gone() {
    let receiver = Receiver::with_responses(vec![Reply::status(410)]).await;

    let report = send(
        &sender(true),
        &delivery(receiver.url(), "a plain test secret"),
    )
    .await;

    assert_eq!(report.outcome, Outcome::Gone, "{report:?}");
    assert_eq!(report.status, Some(410));
    assert!(report.error.is_some());
}

#[tokio::test]
async fn retry_after_survives_the_conversion() {
    let receiver =
        Receiver::with_responses(vec![Reply::status(503).header("Retry-After", "7")]).await;

    let report = send(
        &sender(true),
        &delivery(receiver.url(), "a plain test secret"),
    )
    .await;

    assert_eq!(
        report.outcome,
        Outcome::Retry {
            after: Some(Duration::from_secs(7))
        },
        "{report:?}"
    );
    assert_eq!(report.status, Some(503));
}

#[tokio::test]
async fn an_invalid_secret_is_refused_without_a_request() {
    let receiver = Receiver::start().await;

    let report = send(&sender(true), &delivery(receiver.url(), "s3cr3t")).await;

    assert_eq!(report.outcome, Outcome::Refused, "{report:?}");
    assert_eq!(report.status, None);
    let error = report.error.expect("an explanation");
    assert!(error.contains("secret"), "{error}");
    assert!(
        !error.contains("short"),
        "the secret must not be logged: {error}"
    );
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn a_private_target_is_refused_without_a_request_unless_allowed() {
    let receiver = Receiver::start().await;

    let report = send(
        &sender(false),
        &delivery(receiver.url(), "a plain test secret"),
    )
    .await;

    assert_eq!(report.outcome, Outcome::Refused, "{report:?}");
    assert_eq!(report.status, None);
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn a_literal_that_is_never_a_target_is_refused_even_with_private_allowed() {
    for url in ["http://0.0.0.0:9/hook", "http://[ff02::1]:9/hook"] {
        let report = send(
            &sender(true),
            &delivery(url.to_owned(), "a plain test secret"),
        )
        .await;
        assert_eq!(report.outcome, Outcome::Refused, "{url}: {report:?}");
    }
}
