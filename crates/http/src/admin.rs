//! The admin console at `GET /admin`: screens for librarians (members,
//! catalogue, loans, campaigns) and operators (webhooks, deliveries, events,
//! inbound messages), working through the JSON API like any other client.
//!
//! The page and its files (ES modules, one stylesheet) are embedded in the
//! binary with `include_str!`: nothing to deploy beside it, nothing fetched
//! from the internet, no build step, and the console always matches the API
//! of the same build. Scripts and styles are files rather than inline so
//! that the Content-Security-Policy can refuse every inline script and
//! style: the console shows URLs, errors and event data that receivers and
//! users wrote, and should an escaping mistake ever slip in, injected markup
//! still could not run.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::page_headers::page_headers;

/// Only this origin's scripts, stylesheet and API; no inline code, no
/// plugins or images (the chart is inline SVG, built with DOM APIs), no
/// `<base>` rewriting, no form submission (the scripts send every form), and
/// no framing (clickjacking).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

const PAGE: &str = include_str!("../static/admin.html");

/// One embedded file, served at `/admin/{path}`.
struct Asset {
    path: &'static str,
    body: &'static str,
}

impl Asset {
    fn content_type(&self) -> &'static str {
        match self.path.rsplit_once('.').map(|(_, extension)| extension) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            _ => unreachable!("every asset is a script or a stylesheet (see the tests)"),
        }
    }
}

macro_rules! asset {
    ($path:literal) => {
        Asset {
            path: $path,
            body: include_str!(concat!("../static/", $path)),
        }
    };
}

/// Every file under `static/` but the page. A file added there and not
/// here is caught by a test below (the page preloads every module).
const ASSETS: &[Asset] = &[
    asset!("admin.css"),
    asset!("admin.js"),
    asset!("console/api.js"),
    asset!("console/app.js"),
    asset!("console/auth.js"),
    asset!("console/chart.js"),
    asset!("console/dialog.js"),
    asset!("console/dom.js"),
    asset!("console/feedback.js"),
    asset!("console/router.js"),
    asset!("console/screen.js"),
    asset!("console/table.js"),
    asset!("console/screens/attempts.js"),
    asset!("console/screens/audit.js"),
    asset!("console/screens/authors.js"),
    asset!("console/screens/books.js"),
    asset!("console/screens/campaigns.js"),
    asset!("console/screens/dashboard.js"),
    asset!("console/screens/deliveries.js"),
    asset!("console/screens/events.js"),
    asset!("console/screens/imports.js"),
    asset!("console/screens/inbound.js"),
    asset!("console/screens/index.js"),
    asset!("console/screens/loans.js"),
    asset!("console/screens/me.js"),
    asset!("console/screens/members.js"),
    asset!("console/screens/notifications.js"),
    asset!("console/screens/settings.js"),
    asset!("console/screens/webhooks.js"),
];

/// Serves the page and each file at its own path. Each is its own resource
/// rather than a scope over `/admin`: a scope would answer every other
/// `/admin/…` path itself, and single sign-on lives under `/admin/oidc/`.
/// The app trims a trailing slash before routing, so `/admin/` arrives as
/// `/admin`; the page links its files by absolute path, which resolves the
/// same from either.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin")
            .wrap(page_headers(CONTENT_SECURITY_POLICY))
            .route(web::get().to(|| async { embedded("text/html; charset=utf-8", PAGE) })),
    );
    for asset in ASSETS {
        cfg.service(
            web::resource(format!("/admin/{}", asset.path))
                .wrap(page_headers(CONTENT_SECURITY_POLICY))
                .route(
                    web::get()
                        .to(move || async move { embedded(asset.content_type(), asset.body) }),
                ),
        );
    }
}

/// An embedded file; the resource adds the security headers. `no-cache`
/// makes browsers revalidate, so an upgraded binary's page never runs a
/// stale script.
fn embedded(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

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

    fn scripts() -> impl Iterator<Item = &'static Asset> {
        ASSETS.iter().filter(|a| a.path.ends_with(".js"))
    }

    #[actix_web::test]
    async fn every_file_is_served_with_its_type_and_the_security_headers() {
        let app = init_service(App::new().configure(configure)).await;
        let page = ("/admin".to_owned(), "text/html; charset=utf-8", PAGE);
        let assets = ASSETS
            .iter()
            .map(|a| (format!("/admin/{}", a.path), a.content_type(), a.body));
        for (path, content_type, body) in std::iter::once(page).chain(assets) {
            let response = call_service(&app, TestRequest::get().uri(&path).to_request()).await;
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

    #[actix_web::test]
    async fn other_admin_paths_are_left_to_other_routes() {
        let app = init_service(App::new().configure(configure)).await;
        for path in ["/admin/oidc/login", "/admin/console/missing.js"] {
            let response = call_service(&app, TestRequest::get().uri(path).to_request()).await;
            assert_eq!(response.status(), 404, "{path}");
        }
    }

    /// The policy refuses inline code and styles and other origins; a page
    /// that needed them would break in a browser, silently.
    #[test]
    fn the_page_needs_nothing_the_policy_refuses() {
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert!(PAGE.contains(r#"<script type="module" src="/admin/admin.js"></script>"#));
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
        assert!(!PAGE.contains("://"), "admin.html names another origin");
        for asset in ASSETS {
            // The SVG namespace is a name, not a place anything is fetched from.
            let origins = asset.body.replace("\"http://www.w3.org/2000/svg\"", "");
            assert!(
                !origins.contains("://"),
                "{} names another origin",
                asset.path
            );
        }
    }

    /// Data from receivers and users is inserted as text only.
    #[test]
    fn the_scripts_never_parse_data_as_markup_nor_style_inline() {
        for script in scripts() {
            for sink in [
                ".innerHTML",
                ".outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ] {
                assert!(!script.body.contains(sink), "{} uses {sink}", script.path);
            }
            // Inline styles, which the policy refuses.
            for inline in [".style.", "setAttribute(\"style\"", "style: \""] {
                assert!(
                    !script.body.contains(inline),
                    "{} sets {inline:?}",
                    script.path
                );
            }
        }
    }

    /// Every module a module imports is served, and the page preloads every
    /// module: the browser fetches them at once, and a scan of the page's
    /// links finds every script.
    #[test]
    fn every_import_is_served_and_every_module_preloaded() {
        let served: BTreeSet<String> = scripts().map(|s| s.path.to_owned()).collect();
        for script in scripts() {
            let directory = script.path.rsplit_once('/').map_or("", |(dir, _)| dir);
            for import in script.body.split(" from \"").skip(1) {
                let target = import.split('"').next().unwrap();
                let resolved = resolve(directory, target);
                assert!(
                    served.contains(&resolved),
                    "{} imports {target} ({resolved}), which is not served",
                    script.path
                );
            }
        }
        for path in &served {
            let link = format!(r#"<link rel="modulepreload" href="/admin/{path}">"#);
            assert!(
                path == "admin.js" || PAGE.contains(&link),
                "the page does not preload {path}"
            );
        }
        let preloaded = PAGE.matches(r#"rel="modulepreload""#).count();
        assert_eq!(
            preloaded,
            served.len() - 1,
            "the page preloads a file not served"
        );
    }

    /// A relative import (`./x.js`, `../x.js`) from `directory`.
    fn resolve(directory: &str, target: &str) -> String {
        let mut parts: Vec<&str> = directory.split('/').filter(|p| !p.is_empty()).collect();
        for part in target.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                name => parts.push(name),
            }
        }
        parts.join("/")
    }
}
