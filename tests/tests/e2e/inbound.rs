//! Inbound webhooks end to end: requests signed by test code (or by Libris's
//! own delivery pipeline) against the real server.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libris_e2e::{default_database, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::signatures::{hex_signature, standard_signature};

const RECEIVE: &str = "/api/webhooks/receive/";
const INBOUND: &str = "/api/webhooks/inbound/";
/// 32 bytes of key in the Standard Webhooks form.
const WHSEC: &str = "whsec_bGlicmlzLWluYm91bmQtdGVzdC1rZXktMzItYnl0ZXM=";
const PLAIN: &str = "plain-inbound-secret";

async fn spawn_with_secret(secret: &str) -> TestApp {
    TestApp::spawn_on(default_database(), &["--inbound-secret", secret]).await
}

fn whsec_key() -> Vec<u8> {
    STANDARD.decode(&WHSEC["whsec_".len()..]).unwrap()
}

fn now() -> String {
    chrono::Utc::now().timestamp().to_string()
}

/// The Standard Webhooks headers for `body`, signed with `key` at `timestamp`.
fn standard_headers(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), timestamp.into()),
        (
            "webhook-signature".into(),
            standard_signature(key, id, timestamp, body),
        ),
    ]
}

async fn post(app: &TestApp, body: &[u8], headers: &[(String, String)]) -> libris_e2e::Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    app.post_signed(RECEIVE, body, &headers).await
}

#[actix_web::test]
async fn a_standard_webhooks_message_is_handled_once_and_its_repeat_acknowledged() {
    let app = spawn_with_secret(WHSEC).await;
    let body =
        br#"{"type":"webhook.test","timestamp":"2026-11-23T10:00:00Z","data":{"ping":true}}"#;
    let headers = standard_headers(&whsec_key(), "msg_2kqbx", &now(), body);

    let first = post(&app, body, &headers).await.expect(200);
    assert_eq!(
        first,
        json!({"status": "accepted", "message_id": "msg_2kqbx", "event": "webhook.test", "handling": "processed"})
    );
    let again = post(&app, body, &headers).await.expect(200);
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["message_id"], "msg_2kqbx");

    let stored = app.admin_get(INBOUND).await;
    assert_eq!(stored["count"], 1, "{stored}");
    let event = &stored["results"][0];
    assert_eq!(event["message_id"], "msg_2kqbx");
    assert_eq!(event["event"], "webhook.test");
    assert_eq!(event["scheme"], "standard-webhooks");
    assert_eq!(event["status"], "processed");
    assert_eq!(event["payload"]["data"], json!({"ping": true}));
}

#[actix_web::test]
async fn an_x_webhook_signature_message_of_an_unknown_type_is_stored_once_and_acknowledged() {
    let app = spawn_with_secret(PLAIN).await;
    let body = br#"{"id":"evt-77","event":"invoice.paid","data":{"amount":12}}"#;
    let signature = hex_signature(PLAIN.as_bytes(), body);
    let headers = [("x-webhook-signature".to_owned(), signature)];

    let reply = post(&app, body, &headers).await.expect(200);
    assert_eq!(reply["status"], "accepted");
    assert_eq!(reply["message_id"], "evt-77");
    assert_eq!(reply["handling"], "ignored");

    // This scheme signs the body alone: a replay under a fresh, unsigned
    // webhook-id is still the body's message.
    let mut replay = headers.to_vec();
    replay.push(("webhook-id".into(), "msg_fresh_for_the_replay".into()));
    let again = post(&app, body, &replay).await.expect(200);
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["message_id"], "evt-77");

    let ignored = app
        .admin_get("/api/webhooks/inbound/?status=ignored&event=invoice.paid")
        .await;
    assert_eq!(ignored["count"], 1, "{ignored}");
    assert_eq!(ignored["results"][0]["scheme"], "x-webhook-signature");
    let processed = app
        .admin_get("/api/webhooks/inbound/?status=processed")
        .await;
    assert_eq!(processed["count"], 0);
}

/// A request the receiver must refuse, and how.
struct Refusal {
    case: &'static str,
    headers: Vec<(String, String)>,
    body: &'static [u8],
    status: StatusCode,
    code: &'static str,
}

#[actix_web::test]
async fn forged_unsigned_and_stale_messages_are_refused_and_nothing_is_stored() {
    let app = spawn_with_secret(WHSEC).await;
    let body = br#"{"type":"webhook.test","data":{}}"#;
    let key = whsec_key();
    let stale = (chrono::Utc::now().timestamp() - 600).to_string();

    let cases = [
        Refusal {
            case: "signed with another key",
            headers: standard_headers(b"another key entirely", "msg_1", &now(), body),
            body,
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_signature",
        },
        Refusal {
            case: "body changed after signing",
            headers: standard_headers(&key, "msg_2", &now(), body),
            body: br#"{"type":"webhook.test","data":{"admin":true}}"#,
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_signature",
        },
        Refusal {
            case: "id changed after signing",
            headers: {
                let mut headers = standard_headers(&key, "msg_3", &now(), body);
                headers[0].1 = "msg_4".into();
                headers
            },
            body,
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_signature",
        },
        Refusal {
            case: "no signature",
            headers: vec![("webhook-id".into(), "msg_5".into())],
            body,
            status: StatusCode::UNAUTHORIZED,
            code: "missing_signature",
        },
        Refusal {
            case: "hex signature with another key",
            headers: vec![(
                "x-webhook-signature".into(),
                hex_signature(b"another key entirely", body),
            )],
            body,
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_signature",
        },
        Refusal {
            case: "signed ten minutes ago",
            headers: standard_headers(&key, "msg_6", &stale, body),
            body,
            status: StatusCode::BAD_REQUEST,
            code: "stale_timestamp",
        },
    ];
    for refusal in cases {
        let reply = post(&app, refusal.body, &refusal.headers).await;
        let case = refusal.case;
        assert_eq!(reply.status, refusal.status, "{case}: {}", reply.body);
        assert_eq!(reply.body["code"], refusal.code, "{case}: {}", reply.body);
    }
    // Anyone may post here, so the body is bounded well below the API's limit.
    let huge = format!(r#"{{"id":"big","pad":"{}"}}"#, "x".repeat(300 * 1024));
    let signature = hex_signature(&key, huge.as_bytes());
    let reply = post(
        &app,
        huge.as_bytes(),
        &[("x-webhook-signature".into(), signature)],
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["code"], "payload_too_large");

    assert_eq!(app.admin_get(INBOUND).await["count"], 0);
    // The listing itself is for admins.
    let anonymous = app.get(INBOUND, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn without_an_inbound_secret_nothing_is_accepted() {
    let app = TestApp::spawn().await;
    let body = br#"{"id":"evt-1","event":"webhook.test"}"#;
    let headers = [(
        "x-webhook-signature".to_owned(),
        hex_signature(b"any guess at all", body),
    )];
    let reply = post(&app, body, &headers).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["code"], "inbound_not_configured");
}

/// Libris subscribed to itself: what its pipeline sends, its receiver
/// accepts, so two Libris instances can be wired together.
#[actix_web::test]
async fn libris_accepts_its_own_signed_deliveries() {
    let app = spawn_with_secret(WHSEC).await;
    let own_receiver = app.url(RECEIVE);
    app.subscribe(&own_receiver, &["book.created"], WHSEC).await;
    let author = app.author("Ursula K. Le Guin").await;
    let book = app.book("The Dispossessed", author).await;

    let stored = app
        .eventually(INBOUND, Duration::from_secs(10), |body| body["count"] == 1)
        .await;
    let event = &stored["results"][0];
    assert_eq!(event["event"], "book.created");
    assert_eq!(event["scheme"], "standard-webhooks");
    assert_eq!(event["payload"]["data"]["id"], book, "{event}");
    let recorded: Value = app.admin_get("/api/events/?event=book.created").await;
    assert_eq!(
        event["message_id"], recorded["results"][0]["id"],
        "the message id is the event id"
    );
    // The attempt is recorded once the receiver's answer is back, which can
    // be after the receiver stored the event.
    let logs = app
        .eventually("/api/webhooks/logs/", Duration::from_secs(10), |body| {
            body["count"] == 1
        })
        .await;
    assert_eq!(logs["results"][0]["response_status"], 200, "{logs}");
}
