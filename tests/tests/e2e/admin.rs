use std::collections::BTreeSet;

use libris_e2e::{header, TestApp};

/// The calls the admin page exists to make: login and logout, who is logged
/// in, and the webhook pipeline's lists and actions.
const EXPECTED_CALLS: &[(&str, &str)] = &[
    ("post", "/api/auth/token/"),
    ("delete", "/api/auth/token/"),
    ("get", "/api/users/me/"),
    ("get", "/api/webhooks/"),
    ("post", "/api/webhooks/{id}/activate/"),
    ("post", "/api/webhooks/{id}/deactivate/"),
    ("post", "/api/webhooks/{id}/test/"),
    ("get", "/api/webhooks/deliveries/"),
    ("post", "/api/webhooks/deliveries/{id}/redeliver/"),
    ("get", "/api/webhooks/logs/"),
    ("get", "/api/events/"),
    ("get", "/api/webhooks/inbound/"),
];

/// GETs `path`, asserts a 200 of `content_type` with the security headers,
/// and answers the body.
async fn fetch(app: &TestApp, path: &str, content_type: &str) -> String {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers();
    assert_eq!(header(headers, "content-type"), content_type, "{path}");
    let policy = header(headers, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{path}: {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
    assert_eq!(header(headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(headers, "x-frame-options"), "DENY");
    response.text().await.unwrap()
}

/// The `src` and `href` values of a page.
fn links(html: &str) -> Vec<&str> {
    [" src=\"", " href=\""]
        .into_iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// Every `api("METHOD", "/api/…")` call in `source`, method lowercased. The
/// page makes every request through `api()` with a literal path; a path
/// written any other way would escape this scan, so the caller also counts
/// every `/api/` in the source.
fn api_calls(source: &str) -> Vec<(String, String)> {
    source
        .split("api(\"")
        .skip(1)
        .map(|rest| {
            let (method, rest) = rest.split_once('"').expect("a method literal");
            let path = rest
                .trim_start_matches([',', ' '])
                .strip_prefix('"')
                .and_then(|rest| rest.split_once('"'))
                .map(|(path, _)| path)
                .unwrap_or_else(|| panic!("api(\"{method}\" without a literal path"));
            (method.to_lowercase(), path.to_owned())
        })
        .collect()
}

#[actix_web::test]
async fn the_admin_page_is_served_with_and_without_a_trailing_slash_and_its_assets_too() {
    let app = TestApp::spawn().await;
    let page = fetch(&app, "/admin", "text/html; charset=utf-8").await;
    assert_eq!(
        fetch(&app, "/admin/", "text/html; charset=utf-8").await,
        page
    );

    let assets = links(&page);
    assert!(assets.contains(&"/admin/admin.js"), "{assets:?}");
    assert!(assets.contains(&"/admin/admin.css"), "{assets:?}");
    for asset in assets {
        let content_type = match asset.rsplit_once('.').map(|(_, ext)| ext) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            other => panic!("the page links {asset} ({other:?})"),
        };
        assert!(
            !fetch(&app, asset, content_type).await.is_empty(),
            "{asset}"
        );
    }

    // What is not there is the API's JSON 404, not a page.
    let missing = app.get("/admin/missing.js", None).await;
    assert_eq!(missing.expect(404)["code"], "not_found");
}

#[actix_web::test]
async fn every_api_call_of_the_admin_page_is_an_operation_of_the_openapi_document() {
    let app = TestApp::spawn().await;
    let page = fetch(&app, "/admin", "text/html; charset=utf-8").await;
    let mut source = page.clone();
    for asset in links(&page) {
        let body = app
            .client
            .get(app.url(asset))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        source.push_str(&body);
    }

    let calls = api_calls(&source);
    assert_eq!(
        calls.len(),
        source.matches("/api/").count(),
        "every API path of the page is a literal in an api() call: {calls:?}"
    );
    let found: BTreeSet<(&str, &str)> = calls
        .iter()
        .map(|(method, path)| (method.as_str(), path.as_str()))
        .collect();
    for expected in EXPECTED_CALLS {
        assert!(
            found.contains(expected),
            "the page does not call {expected:?}; it calls {found:?}"
        );
    }

    let document = app.get("/api/openapi.json", None).await.expect(200);
    for (method, path) in &found {
        assert!(
            document["paths"][path][method].is_object(),
            "the page calls {method} {path}, which the API does not document"
        );
    }
}

#[test]
fn the_call_scan_reads_method_and_path_and_nothing_else() {
    let source = r#"
        await api("GET", "/api/webhooks/", { query });
        api("POST","/api/webhooks/{id}/test/", { params: { id } });
        const options = { params: { id: webhook.id } };
    "#;
    assert_eq!(
        api_calls(source),
        [
            ("get".to_owned(), "/api/webhooks/".to_owned()),
            ("post".to_owned(), "/api/webhooks/{id}/test/".to_owned()),
        ]
    );
}
