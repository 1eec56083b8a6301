use libris_e2e::TestApp;
use reqwest::Method;
use serde_json::Value;

fn is_error_json(body: &Value, code: &str) -> bool {
    body["code"] == code && body["message"].is_string() && body["details"].is_array()
}

#[actix_web::test]
async fn every_error_is_json_including_the_frameworks() {
    let app = TestApp::spawn().await;
    let token = Some(app.admin_token.as_str());

    let reply = app.get("/no/such/route", None).await;
    assert!(is_error_json(&reply.expect(404), "not_found"));
    let reply = app.get("/api/books/?q=a%00b", None).await;
    assert!(is_error_json(&reply.expect(400), "bad_request"));
    let reply = app.get("/api/books/not-a-number/", None).await;
    assert!(is_error_json(&reply.expect(404), "not_found"));
    let reply = app.call(Method::PUT, "/api/books/", token, None).await;
    assert!(is_error_json(&reply.expect(405), "method_not_allowed"));

    let malformed = app
        .client
        .post(app.url("/api/authors/"))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(is_error_json(
        &malformed.json().await.unwrap(),
        "bad_request"
    ));

    let nul = serde_json::json!({"name": "a\u{0}b"});
    let body = app
        .admin(Method::POST, "/api/authors/", Some(nul))
        .await
        .expect(422);
    assert_eq!(
        body["details"][0]["field"], "name",
        "PostgreSQL refuses NUL in text: it is refused first"
    );

    let mistyped = serde_json::json!({"name": 42});
    let body = app
        .call(Method::POST, "/api/authors/", token, Some(mistyped))
        .await
        .expect(422);
    assert!(is_error_json(&body, "validation_error"));
    assert_eq!(body["details"][0]["field"], "name");
}

#[actix_web::test]
async fn a_body_over_the_limit_is_a_json_413() {
    let app = TestApp::spawn_on(
        libris_e2e::default_database(),
        &["--max-body-bytes", "1024"],
    )
    .await;
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(4096));
    let response = app
        .client
        .post(app.url("/api/authors/"))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(is_error_json(
        &response.json().await.unwrap(),
        "payload_too_large"
    ));
}

#[actix_web::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz", None).await.expect(200)["status"], "ok");
    assert_eq!(
        app.get("/readyz/", None).await.expect(200)["database"],
        "ok"
    );
}
