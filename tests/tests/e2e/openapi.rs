use libris_e2e::TestApp;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

/// Who may call an operation, as API.md's "who" column says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anyone,
    Member,
    Admin,
}

use Who::{Admin, Anyone, Member};

/// Every operation of API.md, with its success status.
const CONTRACT: &[(&str, &str, Who, u16)] = &[
    ("post", "/api/users/", Anyone, 201),
    ("post", "/api/auth/token/", Anyone, 200),
    ("get", "/api/users/me/", Member, 200),
    ("patch", "/api/users/me/", Member, 200),
    ("get", "/api/users/", Admin, 200),
    ("get", "/api/authors/", Anyone, 200),
    ("post", "/api/authors/", Admin, 201),
    ("get", "/api/authors/{id}/", Anyone, 200),
    ("put", "/api/authors/{id}/", Admin, 200),
    ("patch", "/api/authors/{id}/", Admin, 200),
    ("delete", "/api/authors/{id}/", Admin, 204),
    ("get", "/api/books/", Anyone, 200),
    ("post", "/api/books/", Admin, 201),
    ("get", "/api/books/{id}/", Anyone, 200),
    ("put", "/api/books/{id}/", Admin, 200),
    ("patch", "/api/books/{id}/", Admin, 200),
    ("delete", "/api/books/{id}/", Admin, 204),
    ("post", "/api/books/{id}/borrow/", Member, 200),
    ("post", "/api/books/{id}/return/", Member, 200),
    ("post", "/api/books/bulk-import/", Admin, 201),
    ("get", "/api/users/me/loans/", Member, 200),
    ("get", "/api/loans/", Admin, 200),
    ("get", "/api/imports/", Admin, 200),
    ("get", "/api/book-logs/", Admin, 200),
    ("get", "/api/events/", Admin, 200),
    ("post", "/api/events/", Admin, 201),
    ("get", "/api/webhooks/", Admin, 200),
    ("post", "/api/webhooks/", Admin, 201),
    ("get", "/api/webhooks/{id}/", Admin, 200),
    ("put", "/api/webhooks/{id}/", Admin, 200),
    ("patch", "/api/webhooks/{id}/", Admin, 200),
    ("delete", "/api/webhooks/{id}/", Admin, 204),
    ("post", "/api/webhooks/{id}/activate/", Admin, 200),
    ("post", "/api/webhooks/{id}/deactivate/", Admin, 200),
    ("get", "/api/webhooks/{id}/secret/", Admin, 200),
    ("post", "/api/webhooks/{id}/test/", Admin, 200),
    ("get", "/api/webhooks/logs/", Admin, 200),
    ("get", "/api/webhooks/deliveries/", Admin, 200),
    (
        "post",
        "/api/webhooks/deliveries/{id}/redeliver/",
        Admin,
        200,
    ),
    ("post", "/api/webhooks/receive/", Anyone, 200),
    ("get", "/healthz", Anyone, 200),
    ("get", "/readyz", Anyone, 200),
];

/// Every `$ref` in `value`.
fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => references(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[actix_web::test]
async fn the_openapi_document_describes_every_operation_of_the_contract() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let document: Value = response.json().await.unwrap();
    let version = document["openapi"].as_str().unwrap();
    assert!(version.starts_with("3."), "{version}");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    for &(method, path, who, success) in CONTRACT {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let responses = &operation["responses"];
        let has = |status: u16| responses[status.to_string()].is_object();
        assert!(has(success), "{method} {path} lacks {success}");
        let bearer = operation["security"]
            .as_array()
            .is_some_and(|s| s.contains(&serde_json::json!({"bearer": []})));
        assert_eq!(bearer, who != Anyone, "{method} {path}: security");
        if who != Anyone {
            assert!(has(401), "{method} {path} lacks 401");
        }
        assert_eq!(has(403), who == Admin, "{method} {path}: 403");
    }

    let mut targets = Vec::new();
    references(&document, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let pointer = target.strip_prefix('#').unwrap();
        assert!(document.pointer(pointer).is_some(), "{target} is dangling");
    }
}

#[actix_web::test]
async fn swagger_ui_loads_with_and_without_a_trailing_slash() {
    let app = TestApp::spawn().await;
    for path in ["/docs", "/docs/"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap();
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("<base href=\"/docs/\">"), "{path}: {html}");

        // What a browser loads next: every `src` and `href`, resolved
        // against the page's base.
        let assets: Vec<&str> = [" src=\"", " href=\""]
            .into_iter()
            .flat_map(|attribute| html.split(attribute).skip(1))
            .filter_map(|rest| rest.split('"').next())
            .filter(|link| *link != "/docs/")
            .collect();
        assert!(assets.len() >= 3, "{path}: {assets:?}");
        for asset in assets {
            let url = format!("/docs/{}", asset.trim_start_matches("./"));
            let response = app.client.get(app.url(&url)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{url}");
        }
    }
    let initializer = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("/api/openapi.json"),
        "the UI loads our document: {initializer}"
    );
}
