//! `/api/events/`: the event log, and custom events posted by admins.

use actix_web::{web, HttpResponse};
use libris_application::event_log::{self, CustomEvent};
use libris_domain::events::CustomEventName;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, JsonBody, Pagination};
use crate::openapi::{ErrorBody, Event, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/events")
            // A body can hold no more data than an event may, plus room for
            // the name: a larger one is refused (413) before it is parsed.
            .app_data(web::PayloadConfig::new(event_log::MAX_DATA_BYTES + 4096))
            .route(web::get().to(list))
            .route(web::post().to(publish)),
    );
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventQuery {
    /// Only events of this name.
    event: Option<String>,
}

/// The event log, newest first (admin).
#[utoipa::path(
    get,
    path = "/api/events/",
    operation_id = "list_events",
    tag = "events",
    params(EventQuery, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of events. A page stops early, after at least \
            one event, once the events' `data` reach 4 MiB: page on with `offset` plus the \
            number of results.", body = Listed<Event>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    query: web::Query<EventQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let name = query.into_inner().event;
    let events =
        blocking(move || event_log::list_events(&*state.store, &admin, name, page)).await?;
    Ok(HttpResponse::Ok().json(events))
}

#[derive(Debug, Deserialize, ToSchema)]
struct CustomEventBody {
    /// `family.action`, lowercase; Libris's own names are refused.
    #[schema(example = "member.greeted")]
    event: String,
    #[serde(default = "empty_object")]
    data: serde_json::Value,
    /// The member the event is about: their own webhooks receive it.
    user_id: Option<i64>,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// Records a custom event (admin).
#[utoipa::path(
    post,
    path = "/api/events/",
    operation_id = "publish_event",
    tag = "events",
    request_body = CustomEventBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The recorded event", body = Event),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 413, description = "The body is over 68 KiB", body = ErrorBody),
        (status = 422, description = "Invalid or reserved name, `data` not an object of at \
            most 64 KiB as JSON, or `user_id` names no user", body = ErrorBody),
    )
)]
async fn publish(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(body): JsonBody<CustomEventBody>,
) -> Result<HttpResponse, ApiError> {
    let name = CustomEventName::parse(&body.event)?;
    let event = blocking(move || {
        let custom = CustomEvent {
            name,
            data: body.data,
            about: body.user_id,
        };
        event_log::publish_custom_event(&*state.store, &*state.clock, &admin, custom)
    })
    .await?;
    tracing::info!(event_id = %event.id, event = %event.event, "custom event recorded");
    Ok(HttpResponse::Created().json(event))
}
