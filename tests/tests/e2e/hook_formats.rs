//! Payload formats, templates, methods, content types and filters end to
//! end: the real server sending to real receivers on loopback, bodies read
//! as they arrived and signatures checked over those exact bytes.

use std::time::Duration;

use libris_e2e::TestApp;
use libris_testing::receiver::{Receiver, RecordedRequest};
use reqwest::Method;
use serde_json::{json, Value};

use crate::signatures::{hex_signature, standard_signature};

const WAIT: Duration = Duration::from_secs(10);

/// Both signatures of `request`, computed over the bytes it carried.
#[track_caller]
fn assert_signed(request: &RecordedRequest, key: &[u8]) {
    let expected_hex = hex_signature(key, &request.body);
    assert_eq!(
        request.header("x-webhook-signature"),
        Some(expected_hex.as_str()),
        "X-Webhook-Signature over the bytes received"
    );
    let id = request.header("webhook-id").expect("webhook-id");
    let timestamp = request
        .header("webhook-timestamp")
        .expect("webhook-timestamp");
    let expected_v1 = standard_signature(key, id, timestamp, &request.body);
    assert_eq!(
        request.header("webhook-signature"),
        Some(expected_v1.as_str()),
        "webhook-signature over the bytes received"
    );
}

/// Creates a webhook as the admin; answers it.
async fn create(app: &TestApp, body: Value) -> Value {
    app.admin(Method::POST, "/api/webhooks/", Some(body))
        .await
        .expect(201)
}

/// A subscription of `receiver` to `book.borrowed` and `shelf.announced`
/// with `secret`, and the `options` given.
fn formatted(receiver: &Receiver, secret: &str, options: Value) -> Value {
    let mut body = json!({"url": receiver.url(), "events": ["book.borrowed", "shelf.announced"],
                          "secret": secret});
    let (Value::Object(body_fields), Value::Object(options)) = (&mut body, options) else {
        panic!("objects expected");
    };
    body_fields.extend(options);
    body
}

fn id_of(hook: &Value) -> String {
    hook["id"].as_str().expect("a webhook id").to_owned()
}

/// The fields named in a 422's details, in order.
fn fields(error: &Value) -> Vec<String> {
    error["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {error}"))
        .iter()
        .map(|d| d["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The events of a webhook's deliveries, sorted.
async fn delivered_events(app: &TestApp, hook: &str) -> Vec<String> {
    let page = app
        .admin_get(&format!(
            "/api/webhooks/deliveries/?webhook={hook}&limit=500"
        ))
        .await;
    let mut names: Vec<String> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|d| {
            assert_eq!(d["webhook"], hook, "the filter by webhook holds: {d}");
            d["event"].as_str().unwrap().to_owned()
        })
        .collect();
    names.sort();
    names
}

#[actix_web::test]
async fn each_payload_format_arrives_with_its_method_content_type_and_signatures() {
    let app = TestApp::spawn().await;
    let libris = Receiver::start().await;
    let rest = Receiver::start().await;
    let json_template = Receiver::start().await;
    let text_template = Receiver::start().await;

    let libris_hook = create(&app, formatted(&libris, "libris-secret-1", json!({}))).await;
    assert_eq!(
        (
            libris_hook["method"].as_str(),
            libris_hook["payload_format"].as_str(),
            libris_hook["content_type"].as_str()
        ),
        (Some("POST"), Some("libris"), Some("application/json")),
        "the defaults"
    );
    assert_eq!(libris_hook["payload_template"], Value::Null);
    assert_eq!(libris_hook["filter"], Value::Null);
    assert_eq!(libris_hook["owner"], Value::Null);

    let rest_hook = create(
        &app,
        formatted(
            &rest,
            "rest-secret-22",
            json!({"payload_format": "rest_hooks", "method": "PUT"}),
        ),
    )
    .await;
    assert_eq!(rest_hook["payload_format"], "rest_hooks");
    assert_eq!(rest_hook["method"], "PUT");

    let json_source = concat!(
        r#"{"title": "{{data.title}}", "user": "{{ data.user.username }}", "book": {{data.id}}, "#,
        r#""event": "{{event}}", "id": "{{id}}", "at": "{{timestamp}}", "#,
        r#""hook": "{{webhook.id}}", "url": "{{webhook.url}}", "raw": {{data.user}}}"#
    );
    let json_hook = create(
        &app,
        formatted(
            &json_template,
            "json-secret-333",
            json!({"payload_format": "template", "payload_template": json_source,
                   "method": "PATCH"}),
        ),
    )
    .await;
    assert_eq!(json_hook["payload_template"], json_source);
    assert_eq!(json_hook["method"], "PATCH");
    assert_eq!(json_hook["content_type"], "application/json");

    let text_source = "Borrowed {{data.title}} by {{data.user.username}}";
    let text_type = "text/plain; charset=utf-8";
    let text_hook = create(
        &app,
        formatted(
            &text_template,
            "text-secret-4444",
            json!({"payload_format": "template", "payload_template": text_source,
                   "content_type": text_type, "method": "PUT"}),
        ),
    )
    .await;
    assert_eq!(text_hook["content_type"], text_type);

    // A borrowed book whose title holds quotes and a backslash (a book's
    // title may hold no control character), and a custom event whose title
    // adds a newline.
    let author = app.author("Frank Herbert").await;
    let book = app.book("Dune \"II\" \\ new", author).await;
    let ann = app.member("ann").await;
    app.borrow(book, &ann).await.expect(200);
    let newline_title = "Dune \"II\" \\ new\n";
    let data = json!({"id": 7, "title": newline_title, "user": {"id": 0, "username": "ann"}});
    let custom = json!({"event": "shelf.announced", "data": data});
    app.admin(Method::POST, "/api/events/", Some(custom))
        .await
        .expect(201);
    let recorded = |name: &'static str| {
        let app = &app;
        async move {
            let events = app.admin_get(&format!("/api/events/?event={name}")).await;
            assert_eq!(events["count"], 1, "{events}");
            events["results"][0].clone()
        }
    };
    let borrowed = recorded("book.borrowed").await;
    assert_eq!(borrowed["data"]["title"], "Dune \"II\" \\ new");
    assert_eq!(borrowed["data"]["id"], book);
    assert_eq!(borrowed["data"]["user"]["username"], "ann");
    let announced = recorded("shelf.announced").await;
    assert_eq!(announced["data"]["title"], newline_title);

    let arrived = [
        libris.wait_for(2, WAIT).await,
        rest.wait_for(2, WAIT).await,
        json_template.wait_for(2, WAIT).await,
        text_template.wait_for(2, WAIT).await,
    ];
    for event in [&borrowed, &announced] {
        let event_id = event["id"].as_str().unwrap();
        let name = event["event"].as_str().unwrap();
        let title = event["data"]["title"].as_str().unwrap();
        let [libris_got, rest_got, json_got, text_got] = arrived.each_ref().map(|requests| {
            requests
                .iter()
                .find(|r| r.header("webhook-id") == Some(event_id))
                .unwrap_or_else(|| panic!("no request for {name}: {requests:?}"))
        });

        // libris: the body it has always been.
        assert_eq!(libris_got.method, "POST");
        assert_eq!(libris_got.header("content-type"), Some("application/json"));
        assert_eq!(libris_got.header("x-event-type"), Some(name));
        assert_signed(libris_got, b"libris-secret-1");
        assert!(
            libris_got.body_text().starts_with(r#"{"id":""#),
            "{}",
            libris_got.body_text()
        );
        let body: Value = serde_json::from_slice(&libris_got.body).unwrap();
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["data", "event", "id", "timestamp"]);
        assert_eq!(body["id"], event_id);
        assert_eq!(body["event"], name);
        assert_eq!(body["timestamp"], event["timestamp"]);
        assert_eq!(body["data"], event["data"]);

        // rest_hooks: the hook (its id, the event, its URL as target), data.
        assert_eq!(rest_got.method, "PUT");
        assert_eq!(rest_got.header("content-type"), Some("application/json"));
        assert_signed(rest_got, b"rest-secret-22");
        let body: Value = serde_json::from_slice(&rest_got.body).unwrap();
        assert_eq!(
            body,
            json!({"hook": {"id": rest_hook["id"], "event": name, "target": rest.url()},
                   "data": event["data"]})
        );

        // A JSON template: the title's quotes, backslash and newline escaped.
        assert_eq!(json_got.method, "PATCH");
        assert_eq!(json_got.header("content-type"), Some("application/json"));
        assert_signed(json_got, b"json-secret-333");
        let body: Value = serde_json::from_slice(&json_got.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", json_got.body_text()));
        assert_eq!(body["title"], title);
        assert_eq!(
            body,
            json!({"title": title, "user": "ann", "book": event["data"]["id"], "event": name,
                   "id": event_id, "at": event["timestamp"], "hook": json_hook["id"],
                   "url": json_template.url(), "raw": event["data"]["user"]})
        );

        // A text template: values inserted as text.
        assert_eq!(text_got.method, "PUT");
        assert_eq!(text_got.header("content-type"), Some(text_type));
        assert_signed(text_got, b"text-secret-4444");
        assert_eq!(text_got.body_text(), format!("Borrowed {title} by ann"));
    }

    // A redelivery sends the very same bytes, signed again.
    let announced_id = announced["id"].as_str().unwrap();
    for (receiver, hook, key) in [
        (&libris, &libris_hook, "libris-secret-1"),
        (&rest, &rest_hook, "rest-secret-22"),
        (&json_template, &json_hook, "json-secret-333"),
        (&text_template, &text_hook, "text-secret-4444"),
    ] {
        let hook = id_of(hook);
        let path = format!(
            "/api/webhooks/deliveries/?webhook={hook}&event=shelf.announced&status=delivered"
        );
        let delivered = app.eventually(&path, WAIT, |b| b["count"] == 1).await;
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
        let first = requests[..2]
            .iter()
            .find(|r| r.header("webhook-id") == Some(announced_id))
            .unwrap();
        let again = &requests[2];
        assert_eq!(
            again.body, first.body,
            "a redelivery to {hook} is byte-identical"
        );
        assert_eq!(again.method, first.method);
        assert_eq!(again.header("content-type"), first.header("content-type"));
        assert_eq!(again.header("webhook-id"), Some(announced_id));
        assert_signed(again, key.as_bytes());
    }
}

#[actix_web::test]
async fn bad_templates_and_options_are_refused_naming_their_field() {
    let app = TestApp::spawn().await;
    let url = "http://127.0.0.1:9/hook";
    let template = |source: &str, content_type: &str| {
        json!({"url": url, "events": ["*"], "payload_format": "template",
               "payload_template": source, "content_type": content_type})
    };
    let over_limit = "x".repeat(64 * 1024 + 1);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "unclosed placeholder",
            template("Borrowed {{data.title", "text/plain"),
            "payload_template",
        ),
        (
            "empty placeholder",
            template("Borrowed {{}}", "text/plain"),
            "payload_template",
        ),
        (
            "unknown root",
            template("{{foo}}", "text/plain"),
            "payload_template",
        ),
        (
            "webhook.secret",
            template("{{webhook.secret}}", "text/plain"),
            "payload_template",
        ),
        (
            "invalid JSON",
            template(r#"{"t": {{data.title}}"#, "application/json"),
            "payload_template",
        ),
        (
            "invalid JSON by default",
            json!({"url": url, "events": ["*"], "payload_format": "template",
                   "payload_template": "Borrowed {{data.title}}"}),
            "payload_template",
        ),
        (
            "over 64 KiB",
            template(&over_limit, "text/plain"),
            "payload_template",
        ),
        (
            "template format without a template",
            json!({"url": url, "events": ["*"], "payload_format": "template"}),
            "payload_template",
        ),
        (
            "bad content type",
            template(r#"{"t": "{{data.title}}"}"#, "json"),
            "content_type",
        ),
        (
            "bad method",
            json!({"url": url, "events": ["*"], "method": "GET"}),
            "method",
        ),
        (
            "bad format",
            json!({"url": url, "events": ["*"], "payload_format": "xml"}),
            "payload_format",
        ),
        (
            "filter not an object",
            json!({"url": url, "events": ["*"], "filter": [1]}),
            "filter",
        ),
        (
            "filter with an unknown root",
            json!({"url": url, "events": ["*"], "filter": {"foo.bar": 1}}),
            "filter",
        ),
        (
            "filter on the webhook",
            json!({"url": url, "events": ["*"], "filter": {"webhook.id": "x"}}),
            "filter",
        ),
    ];
    for (case, body, field) in cases {
        let reply = app.admin(Method::POST, "/api/webhooks/", Some(body)).await;
        assert_eq!(reply.status.as_u16(), 422, "{case}: {}", reply.body);
        assert_eq!(fields(&reply.body), [field], "{case}: {}", reply.body);
    }
    assert_eq!(
        app.admin_get("/api/webhooks/").await["count"],
        0,
        "nothing refused was created"
    );

    // Exactly 64 KiB is accepted.
    let at_limit = "x".repeat(64 * 1024);
    let hook = create(&app, template(&at_limit, "text/plain")).await;
    assert_eq!(
        hook["payload_template"].as_str().map(str::len),
        Some(64 * 1024)
    );

    let source = r#"{"title": "{{data.title}}", "who": {{data.user.username}}}"#;
    let body = json!({"url": url, "events": ["book.borrowed"], "payload_format": "template",
                      "payload_template": source, "content_type": "application/vnd.acme+json",
                      "method": "PATCH"});
    let hook = create(&app, body).await;
    let echoed = |hook: &Value| {
        (
            hook["payload_template"].clone(),
            hook["content_type"].clone(),
            hook["payload_format"].clone(),
            hook["method"].clone(),
        )
    };
    let expected = (
        json!(source),
        json!("application/vnd.acme+json"),
        json!("template"),
        json!("PATCH"),
    );
    assert_eq!(echoed(&hook), expected);
    let read = app
        .admin_get(&format!("/api/webhooks/{}/", id_of(&hook)))
        .await;
    assert_eq!(echoed(&read), expected, "read back as saved");

    // A change of content type re-checks the kept template.
    let path = format!("/api/webhooks/{}/", id_of(&hook));
    let err = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"payload_template": "plain {{data.title}}"})),
        )
        .await
        .expect(422);
    assert_eq!(fields(&err), ["payload_template"]);
    let changed = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"payload_template": "plain {{data.title}}", "content_type": "text/plain"})),
        )
        .await
        .expect(200);
    assert_eq!(changed["payload_template"], "plain {{data.title}}");
    assert_eq!(changed["content_type"], "text/plain");
}

#[actix_web::test]
async fn filters_decide_which_events_become_deliveries() {
    let app = TestApp::spawn().await;
    let a = app.author("Author A").await;
    let b = app.author("Author B").await;
    let by_author = Receiver::start().await;
    let as_string = Receiver::start().await;
    let missing = Receiver::start().await;
    let both = Receiver::start().await;
    let everything = Receiver::start().await;

    let subscribe = |url: String, filter: Value| {
        json!({"url": url, "events": ["book.created"], "secret": "filter-secret",
               "filter": filter})
    };
    let by_author_hook = create(
        &app,
        subscribe(by_author.url(), json!({"data.author_id": a})),
    )
    .await;
    assert_eq!(by_author_hook["filter"], json!({"data.author_id": a}));
    let as_string_hook = create(
        &app,
        subscribe(as_string.url(), json!({"data.author_id": a.to_string()})),
    )
    .await;
    let missing_hook = create(
        &app,
        subscribe(missing.url(), json!({"data.no_such_field": null})),
    )
    .await;
    let both_hook = create(
        &app,
        subscribe(
            both.url(),
            json!({"data.author_id": a, "data.available": true}),
        ),
    )
    .await;
    let everything_hook = create(
        &app,
        json!({"url": everything.url(), "events": ["book.created"], "secret": "filter-secret"}),
    )
    .await;

    app.book("A1", a).await;
    app.book("B1", b).await;
    app.book("A2", a).await;
    everything.wait_for(3, WAIT).await;
    let path = format!(
        "/api/webhooks/deliveries/?webhook={}",
        id_of(&everything_hook)
    );
    app.eventually(&path, WAIT, |b| b["count"] == 3).await;

    assert_eq!(
        delivered_events(&app, &id_of(&by_author_hook)).await,
        ["book.created", "book.created"],
        "the two books by author a"
    );
    assert_eq!(
        delivered_events(&app, &id_of(&both_hook)).await,
        ["book.created", "book.created"]
    );
    assert!(
        delivered_events(&app, &id_of(&as_string_hook))
            .await
            .is_empty(),
        "\"{a}\" is not {a}"
    );
    assert!(
        delivered_events(&app, &id_of(&missing_hook))
            .await
            .is_empty(),
        "a missing path never matches, even null"
    );
    let titles: Vec<String> = by_author
        .wait_for(2, WAIT)
        .await
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["data"]["author_id"], a);
            body["data"]["title"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut titles = titles;
    titles.sort();
    assert_eq!(titles, ["A1", "A2"]);

    // Removing the filter: the next book, by b, reaches it.
    let path = format!("/api/webhooks/{}/", id_of(&as_string_hook));
    let unfiltered = app
        .admin(Method::PATCH, &path, Some(json!({"filter": null})))
        .await
        .expect(200);
    assert_eq!(unfiltered["filter"], Value::Null);
    assert_eq!(
        unfiltered["events"],
        json!(["book.created"]),
        "the rest is kept"
    );
    assert_eq!(app.admin_get(&path).await["filter"], Value::Null);
    app.book("B2", b).await;
    let request = as_string.wait_for(1, WAIT).await.remove(0);
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["data"]["title"], "B2");
    everything.wait_for(4, WAIT).await;
    let path = format!(
        "/api/webhooks/deliveries/?webhook={}",
        id_of(&everything_hook)
    );
    app.eventually(&path, WAIT, |b| b["count"] == 4).await;
    assert_eq!(
        delivered_events(&app, &id_of(&as_string_hook)).await,
        ["book.created"]
    );
    assert_eq!(
        delivered_events(&app, &id_of(&by_author_hook)).await.len(),
        2,
        "B2 is not by a"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(missing.requests().is_empty());
    assert_eq!(by_author.requests().len(), 2);
}
