//! The admin console at `GET /admin`: one page for operators of the webhook
//! pipeline (subscriptions, deliveries, attempts, events, inbound messages)
//! that works through the JSON API like any other client.
//!
//! The page, its script and its stylesheet are embedded in the binary with
//! `include_str!`: nothing to deploy beside it, nothing fetched from the
//! internet, and the page always matches the API of the same build. The
//! script and stylesheet are separate files rather than inline so that the
//! Content-Security-Policy can refuse every inline script and style: the page
//! shows URLs, errors and event data that receivers and users wrote, and
//! should an escaping mistake ever slip in, injected markup still could not
//! run.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::page_headers::page_headers;

/// Only this origin's script, stylesheet and API; no inline code, no plugins
/// or images, no `<base>` rewriting, no form submission (the script sends the
/// login form), and no framing (clickjacking).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

const PAGE: &str = include_str!("../static/admin.html");
const SCRIPT: &str = include_str!("../static/admin.js");
const STYLESHEET: &str = include_str!("../static/admin.css");

/// Serves the page and its assets. The app trims a trailing slash before
/// routing, so `/admin/` arrives as `/admin`; the page links its assets by
/// absolute path, which resolves the same from either.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(page_headers(CONTENT_SECURITY_POLICY))
            .route(
                "",
                web::get().to(|| async { embedded("text/html; charset=utf-8", PAGE) }),
            )
            .route(
                "/admin.js",
                web::get().to(|| async { embedded("text/javascript; charset=utf-8", SCRIPT) }),
            )
            .route(
                "/admin.css",
                web::get().to(|| async { embedded("text/css; charset=utf-8", STYLESHEET) }),
            ),
    );
}

/// An embedded file; the scope adds the security headers. `no-cache` makes
/// browsers revalidate, so an upgraded binary's page never runs a stale
/// script.
fn embedded(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use actix_web::http::header::HeaderMap;
    use actix_web::test::{call_service, init_service, TestRequest};
    use actix_web::App;

    use super::*;

    fn value_of(headers: &HeaderMap, name: header::HeaderName) -> &str {
        headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
    }

    #[actix_web::test]
    async fn every_file_is_served_with_its_type_and_the_security_headers() {
        let app = init_service(App::new().configure(configure)).await;
        for (path, content_type, body) in [
            ("/admin", "text/html; charset=utf-8", PAGE),
            ("/admin/admin.js", "text/javascript; charset=utf-8", SCRIPT),
            ("/admin/admin.css", "text/css; charset=utf-8", STYLESHEET),
        ] {
            let response = call_service(&app, TestRequest::get().uri(path).to_request()).await;
            assert_eq!(response.status(), 200, "{path}");
            let headers = response.headers().clone();
            assert_eq!(value_of(&headers, header::CONTENT_TYPE), content_type);
            let policy = value_of(&headers, header::CONTENT_SECURITY_POLICY);
            assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
            assert!(
                policy.contains("frame-ancestors 'none'"),
                "{path}: {policy}"
            );
            assert!(!policy.contains("unsafe"), "{path}: {policy}");
            assert_eq!(
                value_of(&headers, header::X_CONTENT_TYPE_OPTIONS),
                "nosniff"
            );
            assert_eq!(value_of(&headers, header::X_FRAME_OPTIONS), "DENY");
            assert_eq!(value_of(&headers, header::REFERRER_POLICY), "no-referrer");
            let served = to_bytes(response.into_body()).await.unwrap();
            assert_eq!(served, body.as_bytes(), "{path}");
        }
    }

    /// The policy refuses inline code and styles and other origins; a page
    /// that needed them would break in a browser, silently.
    #[test]
    fn the_page_needs_nothing_the_policy_refuses() {
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert!(PAGE.contains(r#"<script src="/admin/admin.js" defer></script>"#));
        for inline in ["<style", " style=", "javascript:"] {
            assert!(!PAGE.contains(inline), "admin.html has {inline:?}");
        }
        // Event handler attributes: ` onclick=`, ` onload=`, …
        let handlers: Vec<&str> = PAGE
            .split(" on")
            .skip(1)
            .filter_map(|rest| rest.split_once('=').map(|(name, _)| name))
            .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase()))
            .collect();
        assert!(handlers.is_empty(), "admin.html has on{handlers:?}");
        for (name, file) in [("html", PAGE), ("js", SCRIPT), ("css", STYLESHEET)] {
            assert!(!file.contains("://"), "admin.{name} names another origin");
        }
    }

    /// Data from receivers and users is inserted as text only.
    #[test]
    fn the_script_never_parses_data_as_markup() {
        for sink in [
            ".innerHTML",
            ".outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!SCRIPT.contains(sink), "admin.js uses {sink}");
        }
        assert!(SCRIPT.contains(".textContent ="));
    }
}
