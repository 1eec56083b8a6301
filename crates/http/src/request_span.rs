//! The span every request's log lines carry. tracing-actix-web's default
//! takes the client address from `Forwarded` / `X-Forwarded-For` whoever sent
//! them; this one records the address [`TrustedProxies`] vouches for, with
//! the same field names, so log queries keep working.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::field::Empty;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use crate::client::TrustedProxies;

/// Paths whose query string is a credential: the single sign-on callback
/// carries the provider's authorization code and the login's state.
const SECRET_QUERIES: &[&str] = &["/admin/oidc/callback"];

/// The path and query as logged: the query left out where it is a credential.
fn logged_target(uri: &actix_web::http::Uri) -> String {
    let path = uri.path();
    if SECRET_QUERIES.contains(&path.trim_end_matches('/')) {
        return path.to_owned();
    }
    uri.path_and_query().map_or(path, |p| p.as_str()).to_owned()
}

pub(crate) struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let client_ip = TrustedProxies::client_of(request.request())
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let target = logged_target(request.uri());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            // Known once routing has run: recorded at the end.
            http.route = Empty,
            http.target = %target,
            http.client_ip = %client_ip,
            http.status_code = Empty,
            otel.status_code = Empty,
            request_id = %request_id,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if let Ok(response) = outcome {
            let route = response.request().match_pattern();
            span.record("http.route", route.as_deref().unwrap_or("unmatched"));
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_on_callback_is_logged_without_its_code_and_state() {
        for uri in [
            "/admin/oidc/callback?code=c0de&state=s7a7e",
            "/admin/oidc/callback/?code=c0de",
        ] {
            let logged = logged_target(&uri.parse().unwrap());
            assert!(logged.starts_with("/admin/oidc/callback"), "{logged}");
            assert!(
                !logged.contains("c0de") && !logged.contains("s7a7e"),
                "{logged}"
            );
        }
    }

    #[test]
    fn other_queries_are_logged_as_sent() {
        let logged = logged_target(&"/api/books/?q=dune&limit=5".parse().unwrap());
        assert_eq!(logged, "/api/books/?q=dune&limit=5");
    }
}
