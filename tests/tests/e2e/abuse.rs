//! Abuse limits: password guessing is slowed per address, never turned
//! into a lockout, and forwarding headers count only from configured
//! proxies.

use std::time::Duration;

use libris_e2e::{default_database, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Logs in with `headers`; answers the status, `Retry-After` and body.
async fn try_login(
    app: &TestApp,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Option<u64>, Value) {
    let mut request = app
        .client
        .post(app.url("/api/auth/token/"))
        .json(&json!({"username": username, "password": password}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the request is sent");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().expect("whole seconds"));
    (
        status,
        retry_after,
        response.json().await.expect("a JSON body"),
    )
}

/// Fails `times` logins of `username` and asserts each was refused as 401.
async fn fail_logins(app: &TestApp, username: &str, times: usize, headers: &[(&str, &str)]) {
    for attempt in 0..times {
        let (status, ..) = try_login(app, username, "not the password", headers).await;
        assert_eq!(status, 401, "attempt {attempt}");
    }
}

#[actix_web::test]
async fn guessing_one_password_is_slowed_with_429_and_the_owner_gets_in_after_the_wait() {
    let app = TestApp::spawn().await;
    app.register("ann", "ann-password").await.expect(201);
    // Five free mistakes, and a sixth that is still checked but sets a wait.
    fail_logins(&app, "ann", 6, &[]).await;
    let (status, retry_after, body) = try_login(&app, "ann", "another guess", &[]).await;
    assert_eq!(status, 429);
    assert_eq!(body["code"], "too_many_requests");
    let wait = retry_after.expect("a Retry-After header");
    assert!((1..=60).contains(&wait), "{wait}");
    // While waiting even the right password is not checked.
    let (status, ..) = try_login(&app, "ann", "ann-password", &[]).await;
    assert_eq!(status, 429);
    // Other accounts from the same address are not held up by ann's count.
    app.register("bob", "bob-password").await.expect(201);
    let (status, ..) = try_login(&app, "bob", "bob-password", &[]).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, ..) = try_login(&app, "ann", "ann-password", &[]).await;
    assert_eq!(status, 200, "the wait ends; it is not a lockout");
}

#[actix_web::test]
async fn forwarding_headers_from_an_unconfigured_peer_do_not_escape_the_throttle() {
    let app = TestApp::spawn().await;
    app.register("ann", "ann-password").await.expect(201);
    for i in 0..6 {
        let forged = format!("198.51.100.{i}");
        fail_logins(&app, "ann", 1, &[("x-forwarded-for", &forged)]).await;
    }
    let (status, ..) = try_login(
        &app,
        "ann",
        "guess",
        &[
            ("x-forwarded-for", "198.51.100.200"),
            ("forwarded", "for=192.0.2.1"),
        ],
    )
    .await;
    assert_eq!(status, 429, "every guess came from 127.0.0.1");
}

#[actix_web::test]
async fn behind_a_proxy_a_client_cannot_pass_itself_off_in_the_other_header() {
    let app = TestApp::spawn_on(default_database(), &["--trusted-proxies", "127.0.0.1"]).await;
    app.register("ann", "ann-password").await.expect(201);
    // The proxy writes X-Forwarded-For; the guesser's own `Forwarded`,
    // different each time, is passed through and must not count.
    for i in 0..6 {
        let forged = format!("for=198.51.100.{i}");
        let headers = [
            ("x-forwarded-for", "203.0.113.66"),
            ("forwarded", forged.as_str()),
        ];
        fail_logins(&app, "ann", 1, &headers).await;
    }
    let headers = [
        ("x-forwarded-for", "203.0.113.66"),
        ("forwarded", "for=192.0.2.99"),
    ];
    let (status, ..) = try_login(&app, "ann", "guess", &headers).await;
    assert_eq!(status, 429);
}

#[actix_web::test]
async fn behind_a_configured_proxy_each_client_is_counted_apart() {
    let app = TestApp::spawn_on(default_database(), &["--trusted-proxies", "127.0.0.1/32"]).await;
    app.register("ann", "ann-password").await.expect(201);
    let guesser = [("x-forwarded-for", "203.0.113.66")];
    fail_logins(&app, "ann", 6, &guesser).await;
    let (status, ..) = try_login(&app, "ann", "guess", &guesser).await;
    assert_eq!(status, 429);
    // Ann at her own desk, through the same proxy, is not slowed at all.
    let desk = [("x-forwarded-for", "198.51.100.7")];
    let (status, ..) = try_login(&app, "ann", "ann-password", &desk).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn custom_event_data_has_a_size_limit_answered_413_or_422() {
    let app = TestApp::spawn().await;
    let post = |data: Value| {
        app.admin(
            Method::POST,
            "/api/events/",
            Some(json!({"event": "member.noted", "data": data})),
        )
    };
    let too_big_a_body = post(json!({"note": "x".repeat(15 * 1024 * 1024)})).await;
    assert_eq!(too_big_a_body.expect(413)["code"], "payload_too_large");
    let too_much_data = post(json!({"note": "x".repeat(65 * 1024)})).await;
    let body = too_much_data.expect(422);
    assert_eq!(body["details"][0]["field"], "data");
    post(json!({"note": "x".repeat(60 * 1024)}))
        .await
        .expect(201);
    let events = app.admin_get("/api/events/?event=member.noted").await;
    assert_eq!(events["count"], 1, "only the event within the limit");
}

#[actix_web::test]
async fn a_page_of_large_events_stops_at_its_data_budget_and_paging_reaches_every_event() {
    let app = TestApp::spawn().await;
    let note = "x".repeat(60 * 1024);
    let total = 80;
    for i in 0..total {
        app.admin(
            Method::POST,
            "/api/events/",
            Some(json!({"event": "member.noted", "data": {"i": i, "note": note}})),
        )
        .await
        .expect(201);
    }
    let mut seen = Vec::new();
    while seen.len() < total {
        let path = format!(
            "/api/events/?event=member.noted&limit=500&offset={}",
            seen.len()
        );
        let page = app.admin_get(&path).await;
        assert_eq!(page["count"], total);
        let results = page["results"].as_array().expect("results").clone();
        // 4 MiB holds 68 of these; never the whole 80 at once.
        assert!((1..=68).contains(&results.len()), "{}", results.len());
        seen.extend(results.iter().map(|e| e["data"]["i"].as_i64().expect("i")));
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..total as i64).collect::<Vec<_>>());
}
