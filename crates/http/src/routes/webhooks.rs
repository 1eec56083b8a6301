//! `/api/webhooks/`: subscriptions, their deliveries and attempt log. Admins
//! manage every webhook, members their own (anyone else's is 404). Fixed
//! paths are registered before `{id}` paths.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::ports::{AttemptLogFilter, DeliveryFilter};
use libris_application::webhooks::delivery;
use libris_application::webhooks::options::OptionsInput;
use libris_application::webhooks::subscriptions::{self, WebhookInput};
use libris_application::webhooks::timeline::{self, Timeline, TimelineBucket, TimelineHours};
use libris_domain::webhooks::{AttemptLog, Delivery, DeliveryStatus, Webhook};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::errors::ApiError;
use crate::extract::{blocking, FullUpdate, JsonBody, Manager, Pagination};
use crate::openapi::{self, ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .route("/webhooks/logs", web::get().to(logs))
    .route("/webhooks/deliveries", web::get().to(deliveries))
    .route("/webhooks/deliveries/timeline", web::get().to(timeline))
    .route("/webhooks/deliveries/{id}", web::get().to(get_delivery))
    .route(
        "/webhooks/deliveries/{id}/redeliver",
        web::post().to(redeliver),
    )
    .service(
        web::resource("/webhooks/{id}")
            .route(web::get().to(get))
            .route(web::put().to(update))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .route("/webhooks/{id}/activate", web::post().to(activate))
    .route("/webhooks/{id}/deactivate", web::post().to(deactivate))
    .route("/webhooks/{id}/secret", web::get().to(secret))
    .route("/webhooks/{id}/test", web::post().to(test));
}

#[derive(Debug, Serialize, ToSchema)]
struct WebhookResponse {
    id: Uuid,
    url: String,
    events: Vec<String>,
    /// In full only on create and at `/secret/`; masked elsewhere.
    secret: String,
    is_active: bool,
    /// Extra headers sent with every delivery.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    headers: serde_json::Map<String, Value>,
    description: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    failure_count: i64,
    disabled_reason: Option<String>,
    /// `POST`, `PUT` or `PATCH`.
    #[schema(example = "POST")]
    method: &'static str,
    content_type: String,
    /// `libris`, `rest_hooks` or `template`.
    #[schema(example = "libris")]
    payload_format: &'static str,
    payload_template: Option<String>,
    /// Equality conditions on event paths; `null`: every matching event.
    #[schema(value_type = Option<Object>)]
    filter: Option<Value>,
    /// The member who owns this webhook; `null` for an admin's.
    owner: Option<i64>,
}

/// Keeps the last four characters, enough to tell secrets apart.
fn mask(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("****{tail}")
}

impl WebhookResponse {
    fn new(webhook: Webhook, reveal_secret: bool) -> Self {
        Self {
            id: webhook.id,
            url: webhook.url,
            events: webhook.events.iter().map(ToString::to_string).collect(),
            secret: if reveal_secret {
                webhook.secret
            } else {
                mask(&webhook.secret)
            },
            is_active: webhook.is_active,
            headers: webhook
                .headers
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
            description: webhook.description,
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
            failure_count: webhook.failure_count,
            disabled_reason: webhook.disabled_reason,
            method: webhook.options.method.as_str(),
            content_type: webhook.options.content_type.as_str().to_owned(),
            payload_format: webhook.options.payload_format.as_str(),
            payload_template: webhook
                .options
                .payload_template
                .as_ref()
                .map(|t| t.as_str().to_owned()),
            filter: (!webhook.options.filter.is_empty()).then(|| webhook.options.filter.to_json()),
            owner: webhook.owner,
        }
    }
}

/// A subscription's fields; `event` is shorthand for a one-item `events`.
#[derive(Debug, Deserialize, ToSchema)]
struct WebhookBody {
    url: Option<String>,
    /// Patterns: an exact event name, `family.*` or `*`.
    events: Option<Vec<String>>,
    event: Option<String>,
    /// Generated when absent; a `whsec_` secret is base64 after the prefix.
    secret: Option<String>,
    is_active: Option<bool>,
    headers: Option<std::collections::BTreeMap<String, String>>,
    description: Option<String>,
    /// `POST` (the default), `PUT` or `PATCH`.
    method: Option<String>,
    /// The request's `Content-Type` (default `application/json`).
    content_type: Option<String>,
    /// `libris` (the default), `rest_hooks` or `template`.
    payload_format: Option<String>,
    /// With `payload_format: "template"`: the body, with `{{...}}`
    /// placeholders over the event; `null` removes it.
    #[serde(default, deserialize_with = "super::nullable")]
    payload_template: Option<Option<String>>,
    /// Equality conditions on event paths, all of which must hold, e.g.
    /// `{"data.author_id": 3}`; `null` removes them.
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<Object>)]
    filter: Option<Option<Value>>,
}

impl From<WebhookBody> for WebhookInput {
    fn from(body: WebhookBody) -> Self {
        Self {
            url: body.url,
            events: body.events.or_else(|| body.event.map(|e| vec![e])),
            secret: body.secret,
            is_active: body.is_active,
            headers: body.headers.map(|h| h.into_iter().collect()),
            description: body.description,
            options: OptionsInput {
                method: body.method,
                content_type: body.content_type,
                payload_format: body.payload_format,
                payload_template: body.payload_template,
                filter: body.filter.map(|f| f.unwrap_or(Value::Null)),
            },
        }
    }
}

/// Lists subscriptions; secrets are masked.
#[utoipa::path(
    get,
    path = "/api/webhooks/",
    operation_id = "list_webhooks",
    tag = "webhooks",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of webhooks", body = Listed<WebhookResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
    )
)]
async fn list(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let webhooks =
        blocking(move || subscriptions::list_webhooks(&*state.store, &manager, page)).await?;
    Ok(HttpResponse::Ok().json(webhooks.map(|w| WebhookResponse::new(w, false))))
}

/// Subscribes a URL to events; the answer shows the secret in full.
#[utoipa::path(
    post,
    path = "/api/webhooks/",
    operation_id = "create_webhook",
    tag = "webhooks",
    request_body = WebhookBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new webhook", body = WebhookResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 409, description = "The member holds as many webhooks as they may", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn create(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<HttpResponse, ApiError> {
    let input = WebhookInput::from(body);
    let webhook = blocking(move || {
        subscriptions::create_webhook(
            &*state.store,
            &*state.clock,
            &*state.endpoints,
            &manager,
            state.member_webhook_limit,
            input,
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(WebhookResponse::new(webhook, true)))
}

/// One subscription; its secret is masked.
#[utoipa::path(
    get,
    path = "/api/webhooks/{id}/",
    operation_id = "get_webhook",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The webhook", body = WebhookResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    )
)]
async fn get(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let webhook = blocking(move || subscriptions::get_webhook(&*state.store, &manager, id)).await?;
    Ok(HttpResponse::Ok().json(WebhookResponse::new(webhook, false)))
}

/// The subscription's secret, in full.
#[utoipa::path(
    get,
    path = "/api/webhooks/{id}/secret/",
    operation_id = "get_webhook_secret",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The secret", body = SecretResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    )
)]
async fn secret(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let webhook = blocking(move || subscriptions::get_webhook(&*state.store, &manager, id)).await?;
    Ok(HttpResponse::Ok().json(SecretResponse {
        id: webhook.id,
        secret: webhook.secret,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
struct SecretResponse {
    id: Uuid,
    secret: String,
}

/// Changes a subscription: PUT replaces, PATCH changes the fields given.
#[utoipa::path(
    method(put, patch),
    path = "/api/webhooks/{id}/",
    operation_id = "update_webhook",
    tag = "webhooks",
    request_body = WebhookBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated webhook", body = WebhookResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn update(
    state: web::Data<AppState>,
    manager: Manager,
    FullUpdate(full): FullUpdate,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = WebhookInput::from(body);
    let webhook = blocking(move || {
        subscriptions::update_webhook(
            &*state.store,
            &*state.clock,
            &*state.endpoints,
            &manager.0,
            id,
            input,
            full,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookResponse::new(webhook, false)))
}

/// Deletes a subscription; its attempt log stays.
#[utoipa::path(
    delete,
    path = "/api/webhooks/{id}/",
    operation_id = "delete_webhook",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    )
)]
async fn delete(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    blocking(move || subscriptions::delete_webhook(&*state.store, &manager, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_active(
    state: web::Data<AppState>,
    manager: Manager,
    id: Uuid,
    active: bool,
) -> Result<HttpResponse, ApiError> {
    let webhook = blocking(move || {
        subscriptions::set_active(&*state.store, &*state.clock, &manager.0, id, active)
    })
    .await?;
    tracing::info!(webhook_id = %webhook.id, active, "webhook activity changed");
    Ok(HttpResponse::Ok().json(WebhookResponse::new(webhook, false)))
}

/// Turns deliveries to this webhook on.
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/activate/",
    operation_id = "activate_webhook",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The webhook", body = WebhookResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    )
)]
async fn activate(
    state: web::Data<AppState>,
    manager: Manager,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_active(state, manager, id.into_inner(), true).await
}

/// Turns deliveries to this webhook off.
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/deactivate/",
    operation_id = "deactivate_webhook",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The webhook", body = WebhookResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    )
)]
async fn deactivate(
    state: web::Data<AppState>,
    manager: Manager,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_active(state, manager, id.into_inner(), false).await
}

/// One attempt, as the log lists it. `payload` is the JSON body sent.
#[derive(Debug, Serialize, ToSchema)]
struct AttemptResponse {
    id: i64,
    webhook: Uuid,
    delivery_id: i64,
    event_id: Uuid,
    event: String,
    attempt: i64,
    payload: Value,
    response_status: Option<i64>,
    response_body: String,
    success: bool,
    error_message: Option<String>,
    duration_ms: i64,
    created_at: DateTime<Utc>,
}

impl From<AttemptLog> for AttemptResponse {
    fn from(log: AttemptLog) -> Self {
        Self {
            payload: serde_json::from_str(&log.payload).unwrap_or(Value::String(log.payload)),
            id: log.id,
            webhook: log.webhook,
            delivery_id: log.delivery_id,
            event_id: log.event_id,
            event: log.event,
            attempt: log.attempt,
            response_status: log.response_status,
            response_body: log.response_body,
            success: log.success,
            error_message: log.error_message,
            duration_ms: log.duration_ms,
            created_at: log.created_at,
        }
    }
}

/// Sends a `webhook.test` event to this subscription now and answers with
/// the attempt, whatever its outcome (see `success`).
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/test/",
    operation_id = "test_webhook",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The attempt, whatever its outcome (see `success`)", body = AttemptResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
        (status = 429, description = "A member's second ping of this webhook within 10 seconds", body = ErrorBody),
    )
)]
async fn test(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let prepared = state.clone();
    let job = blocking(move || {
        delivery::prepare_test(
            &*prepared.store,
            &*prepared.clock,
            prepared.webhooks.settings().lease,
            &prepared.pings,
            &manager,
            id,
        )
    })
    .await?;
    let report = state.webhooks.send(&job).await;
    state.metrics.observe_attempt(
        state.webhooks.channel(),
        report.outcome.name(),
        std::time::Duration::from_millis(report.duration_ms),
    );
    let logs = blocking(move || state.webhooks.record(&[(job, report)])).await?;
    let attempt = logs
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal(&"the test attempt was not logged"))?;
    Ok(HttpResponse::Ok().json(AttemptResponse::from(attempt)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LogQuery {
    /// Only this webhook's attempts.
    webhook: Option<Uuid>,
    /// Only this delivery's attempts.
    delivery: Option<i64>,
    success: Option<bool>,
    event: Option<String>,
}

/// One row per delivery attempt, with filters.
#[utoipa::path(
    get,
    path = "/api/webhooks/logs/",
    operation_id = "list_webhook_logs",
    tag = "webhooks",
    params(LogQuery, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of attempts", body = Listed<AttemptResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
    )
)]
async fn logs(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    query: web::Query<LogQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let filter = AttemptLogFilter {
        // The manager's scope is set by the use case.
        owner: None,
        webhook_id: q.webhook,
        delivery_id: q.delivery,
        success: q.success,
        event: q.event,
    };
    let logs =
        blocking(move || delivery::list_attempt_logs(&*state.store, &manager, &filter, page))
            .await?;
    Ok(HttpResponse::Ok().json(logs.map(AttemptResponse::from)))
}

#[derive(Debug, Serialize, ToSchema)]
struct DeliveryResponse {
    id: i64,
    webhook: Uuid,
    event_id: Uuid,
    event: String,
    #[schema(value_type = openapi::DeliveryStatus)]
    status: DeliveryStatus,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryResponse {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            webhook: d.webhook_id,
            event_id: d.event_id,
            event: d.event,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// Only this webhook's deliveries.
    webhook: Option<Uuid>,
    /// pending, delivered, failed or dead.
    status: Option<String>,
    event: Option<String>,
}

/// Deliveries and where they stand, with filters.
#[utoipa::path(
    get,
    path = "/api/webhooks/deliveries/",
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(DeliveryQuery, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = Listed<DeliveryResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
    )
)]
async fn deliveries(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    query: web::Query<DeliveryQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let status = match q.status.as_deref() {
        None => None,
        Some(raw) => Some(DeliveryStatus::parse(raw).ok_or_else(|| {
            ApiError::bad_request("`status` must be one of pending, delivered, failed, dead")
        })?),
    };
    let filter = DeliveryFilter {
        // The manager's scope is set by the use case.
        owner: None,
        webhook_id: q.webhook,
        status,
        event: q.event,
    };
    let deliveries =
        blocking(move || delivery::list_deliveries(&*state.store, &manager, &filter, page)).await?;
    Ok(HttpResponse::Ok().json(deliveries.map(DeliveryResponse::from)))
}

/// Queues a delivery again, due now.
#[utoipa::path(
    post,
    path = "/api/webhooks/deliveries/{id}/redeliver/",
    operation_id = "redeliver",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The queued delivery", body = DeliveryResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such delivery", body = ErrorBody),
    )
)]
async fn redeliver(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let queued =
        blocking(move || delivery::redeliver(&*state.store, &*state.clock, &manager, id)).await?;
    Ok(HttpResponse::Ok().json(DeliveryResponse::from(queued)))
}

/// One delivery and where it stands; its attempts are at
/// `/api/webhooks/logs/?delivery={id}`.
#[utoipa::path(
    get,
    path = "/api/webhooks/deliveries/{id}/",
    operation_id = "get_webhook_delivery",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The delivery", body = DeliveryResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such delivery", body = ErrorBody),
    )
)]
async fn get_delivery(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let delivery = blocking(move || delivery::get_delivery(&*state.store, &manager, id)).await?;
    Ok(HttpResponse::Ok().json(DeliveryResponse::from(delivery)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TimelineQuery {
    /// How many hours back, the current one included: 1 to 168 (default 24).
    #[param(value_type = Option<u16>)]
    hours: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct TimelineBucketResponse {
    /// The hour's first instant.
    start: DateTime<Utc>,
    pending: i64,
    delivered: i64,
    failed: i64,
    dead: i64,
}

impl From<TimelineBucket> for TimelineBucketResponse {
    fn from(b: TimelineBucket) -> Self {
        Self {
            start: b.start,
            pending: b.pending,
            delivered: b.delivered,
            failed: b.failed,
            dead: b.dead,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct TimelineResponse {
    /// The first bucket's start, a whole hour.
    from: DateTime<Utc>,
    /// Now: the last bucket is the hour under way.
    to: DateTime<Utc>,
    #[schema(example = 3600)]
    bucket_seconds: i64,
    /// Every hour from `from`, oldest first, empty ones included.
    buckets: Vec<TimelineBucketResponse>,
}

impl From<Timeline> for TimelineResponse {
    fn from(t: Timeline) -> Self {
        Self {
            from: t.from,
            to: t.to,
            bucket_seconds: t.bucket.num_seconds(),
            buckets: t.buckets.into_iter().map(Into::into).collect(),
        }
    }
}

/// The deliveries created in the last `hours`, counted per hour by their
/// current status (a member counts those of their own webhooks).
#[utoipa::path(
    get,
    path = "/api/webhooks/deliveries/timeline/",
    operation_id = "webhook_delivery_timeline",
    tag = "webhooks",
    params(TimelineQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Hourly counts", body = TimelineResponse),
        (status = 400, description = "A malformed query string (`hours` given twice)", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 422, description = "`hours` is not from 1 to 168", body = ErrorBody),
    )
)]
async fn timeline(
    state: web::Data<AppState>,
    Manager(manager): Manager,
    query: web::Query<TimelineQuery>,
) -> Result<HttpResponse, ApiError> {
    let hours = match query.into_inner().hours {
        Some(raw) => TimelineHours::parse(&raw)?,
        None => TimelineHours::default(),
    };
    let timeline = blocking(move || {
        timeline::delivery_timeline(&*state.store, &*state.clock, &manager, hours)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TimelineResponse::from(timeline)))
}
