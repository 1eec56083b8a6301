//! The security headers of the pages a browser renders (the admin console,
//! Swagger UI). The JSON API needs none of them: browsers neither render nor
//! frame its responses.

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;

/// A middleware adding the headers every page and asset of ours sends, with
/// the page's own Content-Security-Policy. As a middleware on the page's
/// scope it covers responses that other code builds too (Swagger UI's
/// assets).
pub(crate) fn page_headers(content_security_policy: &'static str) -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, content_security_policy))
        // For browsers that predate CSP's `frame-ancestors`.
        .add((header::X_FRAME_OPTIONS, "DENY"))
        // A script or stylesheet is run only if served as one.
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Requests the pages make do not tell where they came from.
        .add((header::REFERRER_POLICY, "no-referrer"))
}
