//! Inbound webhooks: `POST /api/webhooks/receive/` for other systems (signed
//! with the inbound secret, no token), and `GET /api/webhooks/inbound/` for
//! admins to see what arrived. Registered before `/webhooks/{id}`.

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::ports::InboundFilter;
use libris_application::webhooks::inbound::{self, InboundRequest, Receipt};
use libris_domain::inbound::{InboundEvent, InboundStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, Pagination, RawBody};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

/// Largest inbound body. Anyone may post here, and the body is read whole
/// before its signature can be checked, so the limit is far below the API's
/// (which admins' bulk imports need); events are small.
pub const INBOUND_MAX_BODY_BYTES: usize = 256 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/receive")
            .app_data(web::PayloadConfig::new(INBOUND_MAX_BODY_BYTES))
            .route(web::post().to(receive)),
    )
    .route("/webhooks/inbound", web::get().to(list));
}

/// A header's value when it is present and visible ASCII.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// What became of an inbound message.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReceiptResponse {
    /// `accepted`, or `duplicate` for a message id seen before.
    #[schema(example = "accepted")]
    status: &'static str,
    message_id: String,
    /// The message's type; `null` for a duplicate, which is not read again.
    event: Option<String>,
    /// `processed` (a handler for its type ran) or `ignored` (stored and
    /// acknowledged); `null` for a duplicate, which is not handled.
    handling: Option<&'static str>,
}

impl From<Receipt> for ReceiptResponse {
    fn from(receipt: Receipt) -> Self {
        match receipt {
            Receipt::Accepted(event) => Self {
                status: "accepted",
                message_id: event.message_id,
                event: event.event,
                handling: Some(event.status.as_str()),
            },
            Receipt::Duplicate { message_id } => Self {
                status: "duplicate",
                message_id,
                event: None,
                handling: None,
            },
        }
    }
}

/// Receives a webhook another system sends, signed with the inbound secret
/// (`LIBRIS_INBOUND_SECRET`) in either scheme. No token: the signature is the
/// authentication.
#[utoipa::path(
    post,
    path = "/api/webhooks/receive/",
    operation_id = "receive_webhook",
    tag = "webhooks",
    request_body(content = Value, description = "The sender's event, byte for byte as signed: a JSON object"),
    params(
        ("webhook-id" = Option<String>, Header, description = "Message id under Standard Webhooks (under X-Webhook-Signature, the body's `id`); a repeat is answered 200 and not handled again"),
        ("webhook-timestamp" = Option<i64>, Header, description = "Unix seconds; more than 5 minutes from the server's clock is 400"),
        ("webhook-signature" = Option<String>, Header, description = "Standard Webhooks: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`"),
        ("x-webhook-signature" = Option<String>, Header, description = "`sha256=<hex HMAC-SHA256 of the body>`"),
    ),
    responses(
        (status = 200, description = "Accepted, or a duplicate message id", body = ReceiptResponse),
        (status = 400, description = "Stale or invalid timestamp, a body that is not a JSON object, no usable message id or event type", body = ErrorBody),
        (status = 401, description = "Missing or wrong signature, or no inbound secret configured", body = ErrorBody),
        (status = 413, description = "Body over 256 KiB", body = ErrorBody),
    )
)]
pub(crate) async fn receive(
    state: web::Data<AppState>,
    request: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let headers = request.headers().clone();
    let receipt = blocking(move || {
        let request = InboundRequest {
            body: &body,
            webhook_id: header(&headers, "webhook-id"),
            webhook_timestamp: header(&headers, "webhook-timestamp"),
            webhook_signature: header(&headers, "webhook-signature"),
            x_webhook_signature: header(&headers, "x-webhook-signature"),
        };
        inbound::receive(
            &*state.store,
            &*state.clock,
            state.inbound.as_deref(),
            &request,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReceiptResponse::from(receipt)))
}

/// An inbound message as stored.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InboundEventResponse {
    id: Uuid,
    message_id: String,
    event: Option<String>,
    /// `standard-webhooks` or `x-webhook-signature`: which one authenticated it.
    #[schema(example = "standard-webhooks")]
    scheme: &'static str,
    /// `processed` or `ignored`.
    #[schema(example = "ignored")]
    status: &'static str,
    /// The body as received.
    payload: Value,
    received_at: DateTime<Utc>,
}

impl From<InboundEvent> for InboundEventResponse {
    fn from(event: InboundEvent) -> Self {
        Self {
            id: event.id,
            message_id: event.message_id,
            event: event.event,
            scheme: event.scheme.as_str(),
            status: event.status.as_str(),
            payload: event.payload,
            received_at: event.received_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InboundQuery {
    /// Only messages of this type.
    event: Option<String>,
    /// processed or ignored.
    status: Option<String>,
}

/// What other systems sent, newest first (not in the original contract: operators need to
/// see what arrived).
#[utoipa::path(
    get,
    path = "/api/webhooks/inbound/",
    operation_id = "list_inbound_webhooks",
    tag = "webhooks",
    params(InboundQuery, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of inbound messages", body = Listed<InboundEventResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    query: web::Query<InboundQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let status =
        match q.status.as_deref() {
            None => None,
            Some(raw) => Some(InboundStatus::parse(raw).ok_or_else(|| {
                ApiError::bad_request("`status` must be one of processed, ignored")
            })?),
        };
    let filter = InboundFilter {
        event: q.event,
        status,
    };
    let events =
        blocking(move || inbound::list_inbound_events(&*state.store, &admin, &filter, page))
            .await?;
    Ok(HttpResponse::Ok().json(events.map(InboundEventResponse::from)))
}
