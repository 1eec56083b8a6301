//! `/metrics`: who may scrape it, and that what it says follows what happened,
//! with labels that never carry a URL or an id from a path.

use std::time::Duration;

use libris_e2e::{default_database, TestApp};
use libris_testing::receiver::{Receiver, Reply};

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("a scrape");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// The value of the sample named exactly `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[actix_web::test]
async fn only_admins_and_the_scraper_token_may_read_the_metrics() {
    let app = TestApp::spawn_on(
        default_database(),
        &["--metrics-token", "scrape-secret-0123"],
    )
    .await;
    assert_eq!(scrape(&app, None).await.0, 401);
    let member = app.member("ann").await;
    assert_eq!(scrape(&app, Some(&member)).await.0, 403);
    assert_eq!(scrape(&app, Some("not-the-secret")).await.0, 401);
    assert_eq!(scrape(&app, Some("scrape-secret-0123")).await.0, 200);
    let (status, text) = scrape(&app, Some(&app.admin_token)).await;
    assert_eq!(status, 200);
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
}

#[actix_web::test]
async fn requests_attempts_queue_and_failing_endpoints_are_counted() {
    // Retries a second apart: the delivery is still pending, neither dead nor
    // retried again, when the second attempt has been seen.
    let schedule = ["--webhook-retry-schedule", "1s,5s,5s"];
    let app = TestApp::spawn_on(default_database(), &schedule).await;
    let author = app.author("Frank Herbert").await;
    for _ in 0..3 {
        app.get(&format!("/api/authors/{author}/"), None)
            .await
            .expect(200);
    }
    app.get("/api/authors/999999/", None).await.expect(404);
    let failing = Receiver::start().await;
    failing.set_fallback(Reply::status(503));
    let hook = app
        .subscribe(&failing.url(), &["author.*"], "metrics-secret")
        .await;
    let hook = hook["id"].as_str().expect("an id").to_owned();
    app.author("Ursula K. Le Guin").await;
    failing.wait_for(2, Duration::from_secs(10)).await;

    // The receiver records a request before the worker has its answer: the
    // second attempt is counted a moment after it arrived.
    let retries = r#"libris_delivery_attempts_total{channel="webhook",outcome="retry"}"#;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let text = loop {
        let (_, text) = scrape(&app, Some(&app.admin_token)).await;
        if sample(&text, retries).is_some_and(|n| n >= 2.0) || std::time::Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ok = r#"libris_http_requests_total{method="GET",route="/api/authors/{id}",status="200"}"#;
    assert_eq!(sample(&text, ok), Some(3.0), "{text}");
    let missing =
        r#"libris_http_requests_total{method="GET",route="/api/authors/{id}",status="404"}"#;
    assert_eq!(sample(&text, missing), Some(1.0), "{text}");
    assert!(sample(&text, retries).is_some_and(|n| n >= 2.0), "{text}");
    let depth = r#"libris_delivery_queue_depth{channel="webhook"}"#;
    assert_eq!(sample(&text, depth), Some(1.0), "{text}");
    let emails = r#"libris_delivery_queue_depth{channel="email"}"#;
    assert_eq!(sample(&text, emails), Some(0.0), "no email is due: {text}");
    let oldest = r#"libris_delivery_oldest_pending_age_seconds{channel="webhook"}"#;
    assert!(
        sample(&text, oldest).is_some_and(|age| age >= 0.0),
        "{text}"
    );
    let streak = format!(r#"libris_endpoint_failure_streak{{webhook="{hook}"}}"#);
    assert!(sample(&text, &streak).is_some_and(|n| n >= 1.0), "{text}");
    assert!(!text.contains(&failing.url()), "no URL in any label");
    let invented = reqwest::Method::from_bytes(b"BREW").expect("a method token");
    app.client
        .request(invented, app.url("/api/authors/"))
        .send()
        .await
        .expect("sent");
    let (_, text) = scrape(&app, Some(&app.admin_token)).await;
    assert!(
        !text.contains("BREW"),
        "an invented method is no label of its own"
    );
    assert!(text.contains(r#"method="OTHER""#), "{text}");
    assert!(
        !text.contains("/api/authors/999999"),
        "routes are patterns, not paths"
    );
}
