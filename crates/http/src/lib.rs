//! Libris's HTTP adapter: actix-web routes, bearer-token auth, JSON in and
//! out, errors as `{code, message, details}` whoever raised them, the
//! OpenAPI document with Swagger UI, and the admin console's page.

mod admin;
pub mod client;
pub mod errors;
pub mod extract;
pub mod metrics;
pub mod openapi;
mod page_headers;
mod panics;
mod request_span;
mod routes;
pub mod state;

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceRequest;
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{self, ErrorHandlerResponse, ErrorHandlers, Next, NormalizePath};
use actix_web::{web, App, HttpResponse, HttpServer, ResponseError};
use tracing_actix_web::TracingLogger;

use client::TrustedProxies;
pub use errors::ApiError;
pub use state::AppState;

/// HTTP settings from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The largest request body accepted (a 10,000-item bulk import is about
    /// 1 MiB).
    pub max_body_bytes: usize,
    /// Worker threads; `None` is one per core.
    pub workers: Option<usize>,
    /// Blocking threads per worker for store work: more than the pool has
    /// connections would only wait, and each thread costs memory.
    pub blocking_threads: usize,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            workers: None,
            blocking_threads: 8,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// Builds the server on a bound listener, so tests can bind port 0 and read
/// the port back. SIGTERM and SIGINT stop it gracefully.
pub fn server(
    listener: TcpListener,
    state: AppState,
    settings: HttpSettings,
) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let proxies = web::Data::new(settings.trusted_proxies);
    let max_body = settings.max_body_bytes;
    let mut server =
        HttpServer::new(move || {
            App::new()
                .wrap(middleware::from_fn(panics::answer_panics))
                .wrap(middleware::from_fn(metrics::count_requests))
                .wrap(middleware::from_fn(refuse_control_characters))
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .wrap(NormalizePath::trim())
                .wrap(TracingLogger::<request_span::RequestSpan>::new())
                .app_data(state.clone())
                .app_data(proxies.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    ApiError::bad_request(format!("invalid query: {e}")).into()
                }))
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, _| ApiError::not_found("resource").into()),
                )
                .configure(openapi::configure)
                // Before the console's scope, which would take `/admin/oidc`.
                .configure(routes::sso::configure_console)
                .configure(admin::configure)
                .configure(metrics::configure)
                .configure(routes::configure)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::not_found("route"))
                }))
        })
        .shutdown_timeout(30)
        .worker_max_blocking_threads(settings.blocking_threads.max(1));
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.listen(listener)?.run())
}

/// Refuses a query string that encodes control characters: no filter needs
/// them, and PostgreSQL refuses NUL in text, which would turn a lookup into a
/// 500.
async fn refuse_control_characters(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if encodes_control_character(request.query_string()) {
        return Err(
            ApiError::bad_request("the query string must not contain control characters").into(),
        );
    }
    next.call(request).await
}

fn encodes_control_character(query: &str) -> bool {
    query.split('%').skip(1).any(|escape| {
        escape
            .get(..2)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .is_some_and(|byte| byte < 0x20 || byte == 0x7f)
    })
}

/// Gives the framework's own error responses (405, 413, …) the JSON body
/// every other error has; responses that already are JSON pass untouched.
fn json_error_body<B>(response: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let status = response.status();
    let (request, _) = response.into_parts();
    let body: HttpResponse<BoxBody> = framework_error(status).error_response();
    let response: ServiceResponse<EitherBody<B>> =
        ServiceResponse::new(request, body).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(response))
}

fn framework_error(status: StatusCode) -> ApiError {
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal_error",
        _ => "error",
    };
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    ApiError::new(status, code, message)
}

#[cfg(test)]
mod tests {
    use super::encodes_control_character;

    #[test]
    fn encoded_control_characters_are_spotted() {
        assert!(encodes_control_character("q=a%00b"));
        assert!(encodes_control_character("q=%0a"));
        assert!(encodes_control_character("event=x%7F"));
        assert!(!encodes_control_character("q=caf%C3%A9&limit=10"));
        assert!(!encodes_control_character("q=100%"));
        assert!(!encodes_control_character(""));
    }
}
