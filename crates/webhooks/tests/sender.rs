//! The sender against a real HTTP receiver on loopback: what arrives on the
//! wire, and how each kind of answer (or silence) is classified. Signatures
//! are recomputed here with hmac and sha2 directly, so a bug shared by the
//! signing code and its own unit tests cannot hide.

use std::net::TcpListener;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use libris_testing::receiver::{Receiver, Reply};
use libris_webhooks::{
    AttemptReport, Outcome, OutgoingRequest, SenderConfig, SigningKey, WebhookSender,
};
use sha2::Sha256;

const KEY_BYTES: &[u8] = b"0123456789abcdef0123456789abcdef";
const EVENT_ID: &str = "0b6f4c1e-9a4e-4c59-8d2e-2f1f5a0e7c11";
const EVENT_TYPE: &str = "book.created";
const TIMESTAMP: i64 = 1_767_225_600;
// Odd spacing and non-ASCII on purpose: the body must arrive byte for byte.
const BODY: &[u8] =
    "{\"id\": \"0b6f4c1e-9a4e-4c59-8d2e-2f1f5a0e7c11\",  \"event\":\"book.created\",\
                     \"data\": {\"title\": \"Ça ira\", \"id\": 1}}"
        .as_bytes();
const USER_AGENT: &str = "libris/0.1.0";
const PATIENCE: Duration = Duration::from_secs(5);

fn secret() -> String {
    format!("whsec_{}", STANDARD.encode(KEY_BYTES))
}

fn sender_with(allow_private: bool, timeout: Duration) -> WebhookSender {
    WebhookSender::new(SenderConfig {
        timeout,
        allow_private,
        user_agent: USER_AGENT.to_owned(),
    })
    .expect("client builds")
}

fn sender() -> WebhookSender {
    sender_with(true, PATIENCE)
}

async fn send_to(sender: &WebhookSender, url: &str) -> AttemptReport {
    let key = SigningKey::from_secret(&secret()).expect("valid secret");
    sender
        .send(&OutgoingRequest {
            url,
            key: &key,
            webhook_id: EVENT_ID,
            event_type: EVENT_TYPE,
            body: BODY,
            method: "POST",
            content_type: "application/json",
            timestamp: TIMESTAMP,
            custom_headers: &[],
        })
        .await
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

#[tokio::test]
async fn delivers_the_body_and_headers_with_both_signatures() {
    let receiver = Receiver::with_responses(vec![Reply::status(202).body("thanks")]).await;
    let key = SigningKey::from_secret(&secret()).expect("valid secret");
    let custom = vec![
        ("X-Tenant".to_owned(), "42".to_owned()),
        (
            "Authorization".to_owned(),
            "Bearer receiver-token".to_owned(),
        ),
    ];
    let report = sender()
        .send(&OutgoingRequest {
            url: &receiver.url(),
            key: &key,
            webhook_id: EVENT_ID,
            event_type: EVENT_TYPE,
            body: BODY,
            method: "POST",
            content_type: "application/json",
            timestamp: TIMESTAMP,
            custom_headers: &custom,
        })
        .await;

    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    assert_eq!(report.status, Some(202));
    assert_eq!(report.error, None);
    assert_eq!(report.response_body, "thanks");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hook");
    assert_eq!(request.body, BODY);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("user-agent"), Some(USER_AGENT));
    assert_eq!(request.header("x-event-type"), Some(EVENT_TYPE));
    assert_eq!(request.header("webhook-id"), Some(EVENT_ID));
    assert_eq!(request.header("webhook-timestamp"), Some("1767225600"));
    assert_eq!(request.header("x-tenant"), Some("42"));
    assert_eq!(
        request.header("authorization"),
        Some("Bearer receiver-token")
    );

    let hex_expected = format!("sha256={}", hex::encode(hmac_sha256(KEY_BYTES, &[BODY])));
    assert_eq!(
        request.header("x-webhook-signature"),
        Some(hex_expected.as_str())
    );

    let signed_content = [EVENT_ID.as_bytes(), b".", b"1767225600", b".", BODY];
    let standard_expected = format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(KEY_BYTES, &signed_content))
    );
    assert_eq!(
        request.header("webhook-signature"),
        Some(standard_expected.as_str())
    );
}

#[tokio::test]
async fn custom_headers_never_replace_libris_headers() {
    let receiver = Receiver::start().await;
    let key = SigningKey::from_secret(&secret()).expect("valid secret");
    let custom = vec![
        ("Webhook-Signature".to_owned(), "v1,forged".to_owned()),
        ("X-Event-Type".to_owned(), "user.created".to_owned()),
        ("Content-Type".to_owned(), "text/plain".to_owned()),
    ];
    let report = sender()
        .send(&OutgoingRequest {
            url: &receiver.url(),
            key: &key,
            webhook_id: EVENT_ID,
            event_type: EVENT_TYPE,
            body: BODY,
            method: "POST",
            content_type: "application/json",
            timestamp: TIMESTAMP,
            custom_headers: &custom,
        })
        .await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    let request = &receiver.requests()[0];
    for name in ["webhook-signature", "x-event-type", "content-type"] {
        let values: Vec<&str> = request
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(values.len(), 1, "{name}: {values:?}");
    }
    assert_eq!(request.header("x-event-type"), Some(EVENT_TYPE));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_ne!(request.header("webhook-signature"), Some("v1,forged"));
}

#[tokio::test]
async fn each_attempt_is_signed_with_its_own_timestamp_under_the_same_id() {
    let receiver = Receiver::start().await;
    let key = SigningKey::from_secret(&secret()).expect("valid secret");
    let sender = sender();
    for timestamp in [TIMESTAMP, TIMESTAMP + 3600] {
        let request = OutgoingRequest {
            url: &receiver.url(),
            key: &key,
            webhook_id: EVENT_ID,
            event_type: EVENT_TYPE,
            body: BODY,
            method: "POST",
            content_type: "application/json",
            timestamp,
            custom_headers: &[],
        };
        assert_eq!(sender.send(&request).await.outcome, Outcome::Delivered);
    }
    let requests = receiver.wait_for(2, PATIENCE).await;
    assert_eq!(
        requests[0].header("webhook-id"),
        requests[1].header("webhook-id")
    );
    assert_eq!(requests[1].header("webhook-timestamp"), Some("1767229200"));
    assert_ne!(
        requests[0].header("webhook-signature"),
        requests[1].header("webhook-signature")
    );
    let later = [EVENT_ID.as_bytes(), b".", b"1767229200", b".", BODY];
    let expected = format!("v1,{}", STANDARD.encode(hmac_sha256(KEY_BYTES, &later)));
    assert_eq!(
        requests[1].header("webhook-signature"),
        Some(expected.as_str())
    );
}

#[tokio::test]
async fn server_error_is_retried() {
    let receiver = Receiver::with_responses(vec![Reply::status(500).body("database down")]).await;
    let report = send_to(&sender(), &receiver.url()).await;
    assert_eq!(report.outcome, Outcome::Retry { after: None });
    assert_eq!(report.status, Some(500));
    assert_eq!(report.response_body, "database down");
    let error = report.error.expect("an error for a 500");
    assert!(error.contains("500"), "{error}");
}

#[tokio::test]
async fn gone_is_reported_as_gone() {
    let receiver = Receiver::with_responses(vec![Reply::status(410)]).await;
    let report = send_to(&sender(), &receiver.url()).await;
    assert_eq!(report.outcome, Outcome::Gone);
    assert_eq!(report.status, Some(410));
    assert!(report.error.is_some());
}

#[tokio::test]
async fn not_found_is_rejected_without_retry() {
    let receiver = Receiver::with_responses(vec![Reply::status(404).body("no such hook")]).await;
    let report = send_to(&sender(), &receiver.url()).await;
    assert_eq!(report.outcome, Outcome::Rejected);
    assert_eq!(report.status, Some(404));
    assert_eq!(report.response_body, "no such hook");
}

#[tokio::test]
async fn too_many_requests_is_retried_after_the_given_delay() {
    let receiver =
        Receiver::with_responses(vec![Reply::status(429).header("Retry-After", "7")]).await;
    let report = send_to(&sender(), &receiver.url()).await;
    assert_eq!(
        report.outcome,
        Outcome::Retry {
            after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(report.status, Some(429));
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_is_retried() {
    let timeout = Duration::from_millis(300);
    let receiver =
        Receiver::with_responses(vec![Reply::status(200).delay(Duration::from_secs(5))]).await;
    let report = send_to(&sender_with(true, timeout), &receiver.url()).await;
    assert_eq!(report.outcome, Outcome::Retry { after: None });
    assert_eq!(report.status, None);
    let error = report.error.expect("a timeout error");
    assert!(error.contains("timed out"), "{error}");
    assert!(report.duration_ms >= 300, "{}", report.duration_ms);
    assert!(report.duration_ms < 4000, "{}", report.duration_ms);
    assert_eq!(
        receiver.requests().len(),
        1,
        "the request itself did arrive"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("free port");
        listener.local_addr().expect("address").port()
    };
    let report = send_to(&sender(), &format!("http://127.0.0.1:{port}/hook")).await;
    assert_eq!(report.outcome, Outcome::Retry { after: None });
    assert_eq!(report.status, None);
    let error = report.error.expect("a connection error");
    assert!(error.contains("connection failed"), "{error}");
    assert!(
        error.contains("refused"),
        "the cause should be named: {error}"
    );
}

#[tokio::test]
async fn a_stopped_receiver_is_retried_and_a_restarted_one_delivers() {
    let mut receiver = Receiver::start().await;
    let sender = sender();
    assert_eq!(
        send_to(&sender, &receiver.url()).await.outcome,
        Outcome::Delivered
    );
    receiver.stop().await;
    let down = send_to(&sender, &receiver.url()).await;
    assert_eq!(down.outcome, Outcome::Retry { after: None }, "{down:?}");
    receiver.restart().await;
    let back = send_to(&sender, &receiver.url()).await;
    assert_eq!(back.outcome, Outcome::Delivered, "{back:?}");
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test]
async fn a_large_answer_is_cut_to_4096_bytes() {
    let receiver =
        Receiver::with_responses(vec![Reply::status(500).body(vec![b'x'; 1_000_000])]).await;
    let report = send_to(&sender(), &receiver.url()).await;
    assert_eq!(report.status, Some(500));
    assert_eq!(report.response_body.len(), 4096);
    assert!(report.response_body.bytes().all(|b| b == b'x'));
}

#[tokio::test]
async fn a_large_answer_is_cut_on_a_character_boundary() {
    let mut body = b"a".to_vec();
    body.extend("é".repeat(10_000).into_bytes());
    let receiver = Receiver::with_responses(vec![Reply::status(200).body(body)]).await;
    let report = send_to(&sender(), &receiver.url()).await;
    assert_eq!(report.outcome, Outcome::Delivered);
    assert_eq!(report.response_body.len(), 4095);
    assert!(report.response_body.ends_with('é'));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = Receiver::start().await;
    let receiver =
        Receiver::with_responses(vec![Reply::status(302).header("Location", elsewhere.url())])
            .await;
    let report = send_to(&sender(), &receiver.url()).await;
    assert_eq!(report.outcome, Outcome::Rejected);
    assert_eq!(report.status, Some(302));
    let error = report.error.expect("an error for a redirect");
    assert!(error.contains("redirects are not followed"), "{error}");
    assert_eq!(receiver.requests().len(), 1);
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
}

#[tokio::test]
async fn private_targets_are_refused_before_anything_is_sent() {
    let receiver = Receiver::start().await;
    let strict = sender_with(false, PATIENCE);
    let by_address = send_to(&strict, &receiver.url()).await;
    assert_eq!(by_address.outcome, Outcome::Refused, "{by_address:?}");
    assert_eq!(by_address.status, None);
    let error = by_address.error.expect("a refusal reason");
    assert!(error.contains("private, loopback or link-local"), "{error}");

    let by_name = format!("http://localhost:{}/hook", receiver.port());
    let report = send_to(&strict, &by_name).await;
    assert_eq!(report.outcome, Outcome::Refused, "{report:?}");
    let error = report.error.expect("a refusal reason");
    assert!(error.contains("resolves to a private"), "{error}");

    let mapped = format!("http://[::ffff:127.0.0.1]:{}/hook", receiver.port());
    assert_eq!(send_to(&strict, &mapped).await.outcome, Outcome::Refused);

    assert!(
        receiver.requests().is_empty(),
        "a refused target got a request"
    );
}

#[tokio::test]
async fn malformed_targets_are_refused() {
    for url in [
        "ftp://example.com/hook",
        "not a url",
        "http://user:pw@127.0.0.1/",
    ] {
        let report = send_to(&sender(), url).await;
        assert_eq!(report.outcome, Outcome::Refused, "{url}: {report:?}");
        assert!(report.error.is_some(), "{url}");
    }
}
