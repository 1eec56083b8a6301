//! Inbound webhooks: `POST /api/webhooks/receive/` for other systems (signed
//! with the inbound secret, no token), and `GET /api/webhooks/inbound/` for
//! admins to see what arrived. Registered before `/webhooks/{id}`.

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest, HttpResponse};
use libris_application::ports::InboundFilter;
use libris_application::webhooks::inbound::{self, InboundRequest, Receipt};
use libris_domain::inbound::InboundStatus;
use serde::{Deserialize, Serialize};

use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, Pagination, RawBody};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/receive", web::post().to(receive))
        .route("/webhooks/inbound", web::get().to(list));
}

/// A header's value when it is present and visible ASCII.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

#[derive(Debug, Serialize)]
struct ReceiptResponse<'a> {
    /// `accepted`, or `duplicate` for a message id seen before.
    status: &'a str,
    message_id: &'a str,
    event: Option<&'a str>,
    /// What handling came to; absent for a duplicate, which is not handled.
    handling: Option<&'a str>,
}

async fn receive(
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
            event_type: header(&headers, "x-event-type"),
        };
        inbound::receive(
            &*state.store,
            &*state.clock,
            state.inbound.as_deref(),
            &request,
        )
    })
    .await?;
    let response = match &receipt {
        Receipt::Accepted(event) => ReceiptResponse {
            status: "accepted",
            message_id: &event.message_id,
            event: event.event.as_deref(),
            handling: Some(event.status.as_str()),
        },
        Receipt::Duplicate { message_id } => ReceiptResponse {
            status: "duplicate",
            message_id,
            event: None,
            handling: None,
        },
    };
    Ok(HttpResponse::Ok().json(response))
}

#[derive(Debug, Deserialize)]
struct InboundQuery {
    event: Option<String>,
    status: Option<String>,
}

async fn list(
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
    Ok(HttpResponse::Ok().json(events))
}
