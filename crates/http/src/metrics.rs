//! Prometheus metrics at `/metrics`. Labels are bounded by design: routes are
//! the patterns the app declares (`/api/books/{id}`), never the paths asked
//! for; endpoints are webhook ids, never URLs (a URL may carry a token);
//! outcomes and channels are fixed words. A scrape reads the queue's state
//! from the database, so those figures are true across instances.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use libris_application::webhooks::maintenance::{self, QueueHealth};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use subtle::ConstantTimeEq;

use crate::errors::ApiError;
use crate::extract::{bearer_token, blocking, Authenticated};
use crate::state::AppState;

type Labels = Vec<(&'static str, String)>;

/// Every metric Libris exports, registered once.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    request_seconds: Family<Labels, Histogram>,
    attempts: Family<Labels, Counter>,
    attempt_seconds: Family<Labels, Histogram>,
    queue_depth: Family<Labels, Gauge>,
    oldest_pending_seconds: Family<Labels, Gauge<f64, AtomicU64>>,
    failure_streak: Family<Labels, Gauge>,
}

/// Latency buckets from 1 ms to about 16 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("libris");
        let requests = Family::default();
        let request_seconds = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let attempts = Family::default();
        let attempt_seconds = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let queue_depth = Family::default();
        let oldest_pending_seconds = Family::default();
        let failure_streak = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route pattern",
            request_seconds.clone(),
        );
        registry.register(
            "delivery_attempts",
            "Delivery attempts, by channel and outcome",
            attempts.clone(),
        );
        registry.register(
            "delivery_attempt_duration_seconds",
            "Time an attempt took, by channel",
            attempt_seconds.clone(),
        );
        registry.register(
            "delivery_queue_depth",
            "Deliveries pending (due or waiting for a retry), by channel",
            queue_depth.clone(),
        );
        registry.register(
            "delivery_oldest_pending_age_seconds",
            "Age of the oldest pending delivery, by channel (0 when none)",
            oldest_pending_seconds.clone(),
        );
        registry.register(
            "endpoint_failure_streak",
            "Consecutive failed attempts of an endpoint that is failing, by webhook id",
            failure_streak.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            attempts,
            attempt_seconds,
            queue_depth,
            oldest_pending_seconds,
            failure_streak,
        }
    }
}

impl Metrics {
    fn observe_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let route_labels = vec![("method", method.to_owned()), ("route", route.to_owned())];
        let mut labels = route_labels.clone();
        labels.push(("status", status.to_string()));
        self.requests.get_or_create(&labels).inc();
        self.request_seconds
            .get_or_create(&route_labels)
            .observe(took.as_secs_f64());
    }

    /// One attempt of `channel` (`webhook`, …) that ended in `outcome`.
    pub fn observe_attempt(&self, channel: &'static str, outcome: &'static str, took: Duration) {
        let labels = vec![
            ("channel", channel.to_owned()),
            ("outcome", outcome.to_owned()),
        ];
        self.attempts.get_or_create(&labels).inc();
        self.attempt_seconds
            .get_or_create(&vec![("channel", channel.to_owned())])
            .observe(took.as_secs_f64());
    }

    fn set_queue(&self, health: &QueueHealth) {
        for backlog in &health.backlogs {
            let channel = vec![("channel", backlog.channel.to_owned())];
            self.queue_depth
                .get_or_create(&channel)
                .set(backlog.pending);
            self.oldest_pending_seconds.get_or_create(&channel).set(
                backlog
                    .oldest_pending_age
                    .map_or(0.0, |age| age.as_secs_f64()),
            );
        }
        // Endpoints that healed or were deleted drop out of the export.
        self.failure_streak.clear();
        for (id, streak) in &health.failing {
            self.failure_streak
                .get_or_create(&vec![("webhook", id.to_string())])
                .set(*streak);
        }
    }

    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Counts and times every request under the route pattern it matched.
pub(crate) async fn count_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let metrics = request
        .app_data::<web::Data<AppState>>()
        .map(|state| Arc::clone(&state.metrics));
    let method = known_method(request.method());
    let response = next.call(request).await;
    if let Some(metrics) = metrics {
        let (route, status) = match &response {
            Ok(response) => (
                response.request().match_pattern(),
                response.status().as_u16(),
            ),
            Err(error) => (None, error.as_response_error().status_code().as_u16()),
        };
        let route = route.as_deref().unwrap_or("unmatched");
        metrics.observe_request(method, route, status, started.elapsed());
    }
    response
}

/// The method as a label: HTTP lets a client invent methods, and each new
/// label value would be a new series kept for good.
fn known_method(method: &Method) -> &'static str {
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("OTHER", Method::as_str)
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape));
}

/// The metrics, for the scraper's token (`LIBRIS_METRICS_TOKEN`) or an
/// admin's.
async fn scrape(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !presents_metrics_token(&request, state.metrics_token.as_deref()) {
        let caller = Authenticated::extract(&request).await?;
        libris_application::access::Admin::check(caller.0)?;
    }
    let health = {
        let state = state.clone();
        blocking(move || maintenance::queue_health(&*state.store, &*state.clock)).await?
    };
    state.metrics.set_queue(&health);
    let text = state.metrics.render().map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}

/// Whether the request bears the configured scraper token, compared in
/// constant time: the comparison must not tell how much of a guess was right.
fn presents_metrics_token(request: &HttpRequest, token: Option<&str>) -> bool {
    match (token, bearer_token(request)) {
        (Some(expected), Some(given)) => bool::from(given.as_bytes().ct_eq(expected.as_bytes())),
        _ => false,
    }
}
