//! `/api/events/`: the event log, and custom events posted by admins.

use actix_web::{web, HttpResponse};
use libris_application::event_log;
use libris_domain::events::CustomEventName;
use serde::Deserialize;

use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, JsonBody, Pagination};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/events")
            .route(web::get().to(list))
            .route(web::post().to(publish)),
    );
}

#[derive(Debug, Deserialize)]
struct EventQuery {
    event: Option<String>,
}

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

#[derive(Debug, Deserialize)]
struct CustomEventBody {
    event: String,
    #[serde(default = "empty_object")]
    data: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

async fn publish(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(body): JsonBody<CustomEventBody>,
) -> Result<HttpResponse, ApiError> {
    let name = CustomEventName::parse(&body.event)?;
    let event = blocking(move || {
        event_log::publish_custom_event(&*state.store, &*state.clock, &admin, name, body.data)
    })
    .await?;
    tracing::info!(event_id = %event.id, event = %event.event, "custom event recorded");
    Ok(HttpResponse::Created().json(event))
}
