//! `/healthz` (the process answers) and `/readyz` (the database answers).

use actix_web::{web, HttpResponse};
use libris_application::StoreExt;
use serde_json::json;

use crate::extract::blocking;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses(
        (status = 200, description = "Up", body = serde_json::Value, example = json!({"status": "ok"})),
    )
)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = serde_json::Value,
            example = json!({"status": "ready", "database": "ok"})),
        (status = 503, description = "The database is unreachable", body = serde_json::Value,
            example = json!({"status": "unavailable", "database": "unreachable"})),
    )
)]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // Opening a transaction needs a pooled connection and a round trip.
    let ready = blocking(move || {
        state
            .store
            .read_tx(|_| Ok::<_, libris_application::StoreError>(()))
    })
    .await;
    match ready {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "unavailable", "database": "unreachable" })),
    }
}
