use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use libris_e2e::{header, TestApp};
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Who may call an operation, as docs/api.md's **Who** lines say.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anyone,
    Member,
    Admin,
}

use Who::{Admin, Anyone, Member};

/// Every operation of docs/api.md, with its success status.
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
    ("get", "/api/webhooks/", Member, 200),
    ("post", "/api/webhooks/", Member, 201),
    ("get", "/api/webhooks/{id}/", Member, 200),
    ("put", "/api/webhooks/{id}/", Member, 200),
    ("patch", "/api/webhooks/{id}/", Member, 200),
    ("delete", "/api/webhooks/{id}/", Member, 204),
    ("post", "/api/webhooks/{id}/activate/", Member, 200),
    ("post", "/api/webhooks/{id}/deactivate/", Member, 200),
    ("get", "/api/webhooks/{id}/secret/", Member, 200),
    ("post", "/api/webhooks/{id}/test/", Member, 200),
    ("get", "/api/webhooks/logs/", Member, 200),
    ("get", "/api/webhooks/deliveries/", Member, 200),
    (
        "post",
        "/api/webhooks/deliveries/{id}/redeliver/",
        Member,
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

        let assets = asset_paths(&html);
        assert!(assets.len() >= 3, "{path}: {assets:?}");
        for url in assets {
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

/// What a browser loads after the Swagger UI page: every `src` and `href`
/// (but the `<base>`), resolved against the page's base, `/docs/`.
fn asset_paths(html: &str) -> Vec<String> {
    [" src=\"", " href=\""]
        .into_iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .filter(|link| *link != "/docs/")
        .map(|link| format!("/docs/{}", link.trim_start_matches("./")))
        .collect()
}

/// The sources a Content-Security-Policy allows for `directive`, which falls
/// back to `default-src` when the policy does not name it.
fn sources<'a>(policy: &'a str, directive: &str) -> Vec<&'a str> {
    let named = |name: &str| {
        policy
            .split(';')
            .map(|part| part.split_whitespace().collect::<Vec<_>>())
            .find(|words| words.first() == Some(&name))
            .map(|words| words[1..].to_vec())
    };
    named(directive)
        .or_else(|| named("default-src"))
        .unwrap_or_default()
}

/// GETs a page or asset of Swagger UI, asserts a 200 with the headers the
/// admin console's pages have too, and answers its policy and body.
async fn fetch_docs(app: &TestApp, path: &str) -> (String, String) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers();
    assert_eq!(
        header(headers, "x-content-type-options"),
        "nosniff",
        "{path}"
    );
    assert_eq!(header(headers, "x-frame-options"), "DENY", "{path}");
    assert_eq!(header(headers, "referrer-policy"), "no-referrer", "{path}");
    let policy = header(headers, "content-security-policy").to_owned();
    (policy, response.text().await.unwrap())
}

#[actix_web::test]
async fn swagger_ui_is_served_with_security_headers_its_page_can_live_with() {
    let app = TestApp::spawn().await;
    let (policy, html) = fetch_docs(&app, "/docs/").await;
    assert_eq!(fetch_docs(&app, "/docs").await.0, policy);
    for asset in asset_paths(&html) {
        assert_eq!(fetch_docs(&app, &asset).await.0, policy, "{asset}");
    }

    // Tight: nothing from elsewhere, no `'unsafe-…'`, no framing.
    assert_eq!(sources(&policy, "object-src"), ["'none'"], "{policy}");
    assert_eq!(sources(&policy, "frame-ancestors"), ["'none'"], "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(
        !policy.contains('*') && !policy.contains("http"),
        "{policy}"
    );

    // Yet the page runs: it has no inline script, style or event handler,
    // so `'self'` covers every script and stylesheet it links...
    let scripts = html.matches("<script").count();
    assert_eq!(scripts, html.matches("<script src=\"").count(), "{html}");
    assert!(scripts >= 3, "{html}");
    for inline in ["<style", " style=", " onload=", " onclick=", "javascript:"] {
        assert!(!html.contains(inline), "the page has {inline:?}: {html}");
    }
    for directive in [
        "script-src",
        "style-src",
        "img-src",
        "connect-src",
        "base-uri",
    ] {
        assert!(
            sources(&policy, directive).contains(&"'self'"),
            "{directive} refuses this origin: {policy}"
        );
    }
    // ...the icons its stylesheet draws are `data:` images...
    let (_, stylesheet) = fetch_docs(&app, "/docs/swagger-ui.css").await;
    assert!(stylesheet.contains("url(\"data:image/"));
    assert!(sources(&policy, "img-src").contains(&"data:"), "{policy}");
    // ...and every `<style>` element its scripts create is admitted by the
    // hash of its text.
    let style_sources = sources(&policy, "style-src");
    let mut styles = 0;
    for script in asset_paths(&html).iter().filter(|p| p.ends_with(".js")) {
        let (_, source) = fetch_docs(&app, script).await;
        for text in inline_styles(&source) {
            let hash = format!("'sha256-{}'", BASE64.encode(Sha256::digest(text)));
            assert!(
                style_sources.contains(&hash.as_str()),
                "{script}: {text:?} needs {hash}"
            );
            styles += 1;
        }
    }
    assert!(
        styles > 0,
        "no inline style found: the logo's is gone (drop its hash) or this scan is stale"
    );
}

/// The text of each `createElement("style", null, "…")` in a minified
/// script; panics on one written any other way, which this scan cannot read.
fn inline_styles(script: &str) -> Vec<&str> {
    const CALL: &str = "createElement(\"style\"";
    script
        .split(CALL)
        .skip(1)
        .map(|rest| {
            rest.strip_prefix(",null,\"")
                .and_then(|text| text.split_once('"'))
                .filter(|(text, _)| !text.contains('\\'))
                .map(|(text, _)| text)
                .unwrap_or_else(|| {
                    let start: String = rest.chars().take(80).collect();
                    panic!("unreadable {CALL}: {start}")
                })
        })
        .collect()
}
