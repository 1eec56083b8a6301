//! Webhook delivery end to end: the real server, a real receiver on
//! loopback, signatures checked with code that shares nothing with the
//! signing code.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libris_e2e::{default_database, TestApp};
use libris_testing::receiver::{Receiver, Reply};
use reqwest::Method;
use serde_json::{json, Value};

use crate::signatures::{hex_signature, standard_signature};

const WAIT: Duration = Duration::from_secs(10);

/// Checks both signatures of a delivery against the key.
fn assert_signed(request: &libris_testing::receiver::RecordedRequest, key: &[u8]) {
    let expected_hex = hex_signature(key, &request.body);
    assert_eq!(
        request.header("x-webhook-signature"),
        Some(expected_hex.as_str())
    );
    let id = request.header("webhook-id").expect("webhook-id");
    let timestamp = request
        .header("webhook-timestamp")
        .expect("webhook-timestamp");
    let expected_v1 = standard_signature(key, id, timestamp, &request.body);
    assert_eq!(
        request.header("webhook-signature"),
        Some(expected_v1.as_str())
    );
}

#[actix_web::test]
async fn book_created_reaches_its_subscriber_signed_and_nobody_else() {
    let app = TestApp::spawn().await;
    let matching = Receiver::start().await;
    let other_event = Receiver::start().await;
    let inactive = Receiver::start().await;
    let body = json!({"url": matching.url(), "event": "book.created", "secret": "my-secret-key",
                      "headers": {"X-Tenant": "library-1"}});
    let hook = app
        .admin(Method::POST, "/api/webhooks/", Some(body))
        .await
        .expect(201);
    assert_eq!(hook["events"], json!(["book.created"]));
    assert_eq!(hook["secret"], "my-secret-key", "shown in full on create");
    app.subscribe(&other_event.url(), &["author.deleted"], "other-secret")
        .await;
    let paused = json!({"url": inactive.url(), "events": ["*"], "is_active": false});
    app.admin(Method::POST, "/api/webhooks/", Some(paused))
        .await
        .expect(201);

    let author = app.author("Frank Herbert").await;
    let book = app
        .post_book(json!({"title": "Dune", "author": author, "isbn": "1234567890"}))
        .await
        .expect(201);
    let request = matching.wait_for(1, WAIT).await.remove(0);

    assert_eq!(request.method, "POST");
    let delivered: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(delivered["event"], "book.created");
    assert_eq!(
        delivered["data"],
        json!({"id": book["id"], "title": "Dune", "author": "Frank Herbert", "author_id": author,
               "isbn": "1234567890", "available": true})
    );
    let event_id = delivered["id"].as_str().unwrap();
    assert!(delivered["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(request.header("user-agent").unwrap().starts_with("libris/"));
    assert_eq!(request.header("x-event-type"), Some("book.created"));
    assert_eq!(request.header("webhook-id"), Some(event_id));
    assert_eq!(request.header("x-tenant"), Some("library-1"));
    let sent_at: i64 = request
        .header("webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - sent_at).abs() < 60, "a current timestamp");
    assert_signed(&request, b"my-secret-key");

    let logs = app
        .eventually("/api/webhooks/logs/", WAIT, |b| b["count"] == 1)
        .await;
    let log = &logs["results"][0];
    assert_eq!(
        (
            log["attempt"].as_i64(),
            log["success"].as_bool(),
            log["response_status"].as_i64()
        ),
        (Some(1), Some(true), Some(200))
    );
    assert_eq!(log["event_id"], event_id);
    assert_eq!(log["payload"]["data"]["title"], "Dune");

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        other_event.requests().is_empty(),
        "a non-matching subscription gets nothing"
    );
    assert!(
        inactive.requests().is_empty(),
        "an inactive subscription gets nothing"
    );
    assert_eq!(
        matching.requests().len(),
        1,
        "the author's creation is not book.created"
    );
}

#[actix_web::test]
async fn a_generated_whsec_secret_keys_both_signatures_with_its_decoded_bytes() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url(), "events": ["author.*"]});
    let hook = app
        .admin(Method::POST, "/api/webhooks/", Some(body))
        .await
        .expect(201);
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = hook["id"].as_str().unwrap();
    let listed = app.admin_get(&format!("/api/webhooks/{id}/")).await;
    assert!(
        !listed["secret"].as_str().unwrap().contains(&secret[6..]),
        "masked when read back"
    );
    assert_eq!(
        app.admin_get(&format!("/api/webhooks/{id}/secret/")).await["secret"],
        secret
    );

    app.author("Ursula K. Le Guin").await;
    let request = receiver.wait_for(1, WAIT).await.remove(0);
    let key = STANDARD.decode(&secret["whsec_".len()..]).unwrap();
    assert_signed(&request, &key);
}

#[actix_web::test]
async fn a_receiver_answering_500_then_200_gets_the_event_twice_with_one_webhook_id() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::with_responses(vec![Reply::status(500), Reply::status(200)]).await;
    app.subscribe(&receiver.url(), &["author.created"], "my-secret-key")
        .await;
    app.author("A").await;
    let requests = receiver.wait_for(2, WAIT).await;
    assert_eq!(
        requests[0].header("webhook-id"),
        requests[1].header("webhook-id")
    );
    assert_signed(&requests[1], b"my-secret-key");

    let deliveries = app
        .eventually("/api/webhooks/deliveries/", WAIT, |b| {
            b["results"][0]["status"] == "delivered"
        })
        .await;
    assert_eq!(deliveries["results"][0]["attempts"], 2);
    let logs = app.admin_get("/api/webhooks/logs/").await;
    assert_eq!(logs["count"], 2);
    let attempts: Vec<_> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["attempt"].clone(), l["success"].clone()))
        .collect();
    assert_eq!(
        attempts,
        [(json!(2), json!(true)), (json!(1), json!(false))]
    );
    assert_eq!(
        app.admin_get("/api/webhooks/logs/?success=false").await["results"][0]["response_status"],
        500
    );
}

#[actix_web::test]
async fn a_410_deactivates_the_subscription_and_records_webhook_disabled() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::with_responses(vec![Reply::status(410)]).await;
    let hook = app
        .subscribe(&receiver.url(), &["author.created"], "my-secret-key")
        .await;
    let path = format!("/api/webhooks/{}/", hook["id"].as_str().unwrap());
    app.author("A").await;
    receiver.wait_for(1, WAIT).await;
    let hook = app
        .eventually(&path, WAIT, |b| b["is_active"] == false)
        .await;
    assert!(
        hook["disabled_reason"].as_str().unwrap().contains("410"),
        "{hook}"
    );
    let disabled = app
        .eventually("/api/events/?event=webhook.disabled", WAIT, |b| {
            b["count"] == 1
        })
        .await;
    assert_eq!(disabled["results"][0]["data"]["url"], receiver.url());
    let deliveries = app
        .admin_get("/api/webhooks/deliveries/?status=failed")
        .await;
    assert_eq!(deliveries["count"], 1);

    app.author("B").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        receiver.requests().len(),
        1,
        "a deactivated subscription gets nothing more"
    );
    let reactivated = app
        .admin(Method::POST, &format!("{path}activate/"), None)
        .await
        .expect(200);
    assert_eq!(
        (
            reactivated["is_active"].as_bool(),
            reactivated["failure_count"].as_i64()
        ),
        (Some(true), Some(0))
    );
}

#[actix_web::test]
async fn a_receiver_down_while_10_events_happen_gets_all_10_when_it_comes_back() {
    let schedule = [
        "--webhook-retry-schedule",
        "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms",
    ];
    let app = TestApp::spawn_on(default_database(), &schedule).await;
    let mut receiver = Receiver::start().await;
    app.subscribe(&receiver.url(), &["author.created"], "my-secret-key")
        .await;
    receiver.stop().await;
    for i in 0..10 {
        app.author(&format!("Author {i}")).await;
    }
    app.eventually("/api/webhooks/logs/?success=false", WAIT, |b| {
        b["count"].as_i64() >= Some(10)
    })
    .await;
    receiver.restart().await;
    let requests = receiver.wait_for(10, WAIT).await;
    let mut ids: Vec<_> = requests
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "each of the 10 events arrived");
    app.eventually("/api/webhooks/deliveries/?status=delivered", WAIT, |b| {
        b["count"] == 10
    })
    .await;
}

/// Refused changes write nothing, so nothing goes out; a change rolled back
/// after its event was written is covered by the store suite
/// (`a_failure_after_the_event_was_written_leaves_nothing`).
#[actix_web::test]
async fn refused_changes_record_and_send_nothing() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let author = app.author("A").await;
    app.subscribe(&receiver.url(), &["*"], "my-secret-key")
        .await;
    let bad_batch =
        json!([{"title": "Fine", "author_id": author}, {"title": "", "author_id": author}]);
    app.bulk_import(bad_batch).await.expect(422);
    app.post_book(json!({"title": "Orphan", "author": author + 100}))
        .await
        .expect(422);
    app.call(
        Method::DELETE,
        &format!("/api/authors/{}/", author + 100),
        Some(&app.admin_token),
        None,
    )
    .await
    .expect(404);
    app.post_book(json!({"title": "Marker", "author": author}))
        .await
        .expect(201);

    let requests = receiver.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.requests().len(), 1, "{requests:?}");
    let body: Value = serde_json::from_slice(&receiver.requests()[0].body).unwrap();
    assert_eq!(body["data"]["title"], "Marker");
    let books = app.admin_get("/api/events/?event=book.created").await;
    assert_eq!(books["count"], 1, "only the marker's event was recorded");
    assert_eq!(
        app.admin_get("/api/events/?event=books.bulk_imported")
            .await["count"],
        0
    );
}

#[actix_web::test]
async fn test_ping_and_redeliver_work_on_demand() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let hook = app
        .subscribe(&receiver.url(), &["author.created"], "my-secret-key")
        .await;
    let id = hook["id"].as_str().unwrap();
    let attempt = app
        .admin(Method::POST, &format!("/api/webhooks/{id}/test/"), None)
        .await
        .expect(200);
    assert_eq!(
        (attempt["event"].as_str(), attempt["success"].as_bool()),
        (Some("webhook.test"), Some(true))
    );
    let ping = receiver.wait_for(1, WAIT).await.remove(0);
    assert_eq!(ping.header("x-event-type"), Some("webhook.test"));
    let body: Value = serde_json::from_slice(&ping.body).unwrap();
    assert_eq!(body["data"]["webhook_id"], id);

    app.author("A").await;
    let delivered = app
        .eventually(
            "/api/webhooks/deliveries/?event=author.created",
            WAIT,
            |b| b["results"][0]["status"] == "delivered",
        )
        .await;
    let delivery = delivered["results"][0]["id"].as_i64().unwrap();
    let queued = app
        .admin(
            Method::POST,
            &format!("/api/webhooks/deliveries/{delivery}/redeliver/"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(queued["status"], "pending");
    let requests = receiver.wait_for(3, WAIT).await;
    assert_eq!(
        requests[1].header("webhook-id"),
        requests[2].header("webhook-id"),
        "a redelivery keeps the webhook-id"
    );
    app.admin(
        Method::POST,
        "/api/webhooks/deliveries/999999/redeliver/",
        None,
    )
    .await
    .expect(404);
}

#[actix_web::test]
async fn subscriptions_are_validated_and_scoped_to_their_manager() {
    let app = TestApp::spawn_on(default_database(), &["--webhook-allow-private", "false"]).await;
    let token = Some(app.admin_token.as_str());
    let private = json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]});
    let err = app
        .call(Method::POST, "/api/webhooks/", token, Some(private))
        .await
        .expect(422);
    assert_eq!(err["details"][0]["field"], "url");
    assert!(
        err["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("private"),
        "{err}"
    );
    let bad = json!({"url": "ftp://example.com/", "events": ["not a pattern"], "secret": "short",
                     "headers": {"Content-Type": "text/plain"}});
    let err = app
        .call(Method::POST, "/api/webhooks/", token, Some(bad))
        .await
        .expect(422);
    let fields: Vec<_> = err["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["url", "events", "secret", "headers"]);
    assert_eq!(app.admin_get("/api/webhooks/").await["count"], 0);

    // A member sees only their own webhooks (none yet), not the admin's.
    let member = app.member("ann").await;
    assert_eq!(
        app.get("/api/webhooks/", Some(&member)).await.expect(200)["count"],
        0
    );
    app.get("/api/webhooks/", None).await.expect(401);
    assert_eq!(
        app.get("/api/webhooks/logs/", Some(&member))
            .await
            .expect(200)["count"],
        0
    );
    app.get("/api/webhooks/not-a-uuid/", token)
        .await
        .expect(404);
}

#[actix_web::test]
async fn subscriptions_are_read_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let token = Some(app.admin_token.as_str());
    let hook = app
        .subscribe("http://127.0.0.1:9/hook", &["book.*"], "my-secret-key")
        .await;
    let path = format!("/api/webhooks/{}/", hook["id"].as_str().unwrap());
    let patched = app
        .call(
            Method::PATCH,
            &path,
            token,
            Some(json!({"description": "catalog sync"})),
        )
        .await
        .expect(200);
    assert_eq!(
        (patched["description"].as_str(), patched["events"].clone()),
        (Some("catalog sync"), json!(["book.*"]))
    );
    let put = json!({"url": "http://127.0.0.1:9/other", "events": ["*"]});
    let replaced = app
        .call(Method::PUT, &path, token, Some(put))
        .await
        .expect(200);
    assert_eq!(replaced["url"], "http://127.0.0.1:9/other");
    app.call(Method::PUT, &path, token, Some(json!({"events": ["*"]})))
        .await
        .expect(422);
    let off = app
        .call(Method::POST, &format!("{path}deactivate/"), token, None)
        .await
        .expect(200);
    assert_eq!(off["is_active"], false);
    assert_eq!(app.admin_get("/api/webhooks/").await["count"], 1);
    app.call(Method::DELETE, &path, token, None)
        .await
        .expect(204);
    app.get(&path, token).await.expect(404);
}

#[actix_web::test]
async fn a_slow_endpoint_does_not_hold_back_a_fast_one_or_the_api() {
    let bound = ["--webhook-endpoint-concurrency", "2"];
    let app = TestApp::spawn_on(default_database(), &bound).await;
    let slow = Receiver::start().await;
    slow.set_fallback(Reply::status(200).delay(Duration::from_secs(3)));
    let fast = Receiver::start().await;
    app.subscribe(&slow.url(), &["author.created"], "my-secret-key")
        .await;
    app.subscribe(&fast.url(), &["author.created"], "my-secret-key")
        .await;

    let started = std::time::Instant::now();
    for i in 0..6 {
        app.author(&format!("Author {i}")).await;
    }
    let api_time = started.elapsed();
    fast.wait_for(6, Duration::from_secs(2)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the fast endpoint got all 6 while the slow one was still busy"
    );
    assert!(
        api_time < Duration::from_secs(2),
        "the API did not wait for receivers: {api_time:?}"
    );
    assert!(
        slow.requests().len() <= 2,
        "at most the per-endpoint bound in flight to the slow endpoint"
    );
}

#[actix_web::test]
async fn a_delivery_that_keeps_failing_dies_after_its_schedule() {
    let schedule = ["--webhook-retry-schedule", "50ms,50ms"];
    let app = TestApp::spawn_on(default_database(), &schedule).await;
    let receiver = Receiver::start().await;
    receiver.set_fallback(Reply::status(503));
    app.subscribe(&receiver.url(), &["author.created"], "my-secret-key")
        .await;
    app.author("A").await;
    let dead = app
        .eventually("/api/webhooks/deliveries/?status=dead", WAIT, |b| {
            b["count"] == 1
        })
        .await;
    let delivery = &dead["results"][0];
    assert_eq!(delivery["attempts"], 3, "1 + the number of delays");
    assert!(
        delivery["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{delivery}"
    );
    assert_eq!(receiver.requests().len(), 3);
    assert_eq!(
        app.admin_get("/api/webhooks/logs/?success=false").await["count"],
        3
    );
}

#[actix_web::test]
async fn with_webhooks_disabled_deliveries_are_recorded_and_nothing_is_sent() {
    let app = TestApp::spawn_on(default_database(), &["--webhooks-enabled", "false"]).await;
    let receiver = Receiver::start().await;
    app.subscribe(&receiver.url(), &["author.created"], "my-secret-key")
        .await;
    app.author("A").await;
    let pending = app
        .eventually("/api/webhooks/deliveries/?status=pending", WAIT, |b| {
            b["count"] == 1
        })
        .await;
    assert_eq!(pending["results"][0]["attempts"], 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.requests().is_empty());
}
