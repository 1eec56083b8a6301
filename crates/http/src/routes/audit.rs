//! `/api/book-logs/`: the audit log, for admins.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::audit;
use libris_application::ports::AuditFilter;
use libris_domain::audit::{AuditAction, AuditEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, Pagination};
use crate::openapi::{self, ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/book-logs").route(web::get().to(list)));
}

/// `user` is the acting user's id, `username` their name at the time.
#[derive(Debug, Serialize, ToSchema)]
struct AuditResponse {
    id: i64,
    book_id: i64,
    book_title: String,
    #[schema(value_type = openapi::AuditAction)]
    action: AuditAction,
    user: Option<i64>,
    username: Option<String>,
    timestamp: DateTime<Utc>,
    /// What changed, by action (for `updated`, `changes`: `{field: [old, new]}`).
    details: serde_json::Value,
}

impl From<AuditEntry> for AuditResponse {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id,
            book_id: entry.book_id,
            book_title: entry.book_title,
            action: entry.action,
            user: entry.user.as_ref().map(|u| u.id),
            username: entry.user.map(|u| u.username),
            timestamp: entry.timestamp,
            details: entry.details,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    book_id: Option<i64>,
    /// created, updated, deleted, borrowed, returned or imported.
    action: Option<String>,
    /// The acting user's id.
    user: Option<i64>,
}

/// The books' audit log, with filters (admin).
#[utoipa::path(
    get,
    path = "/api/book-logs/",
    operation_id = "list_book_logs",
    tag = "audit",
    params(AuditQuery, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of audit entries", body = Listed<AuditResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    query: web::Query<AuditQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter = AuditFilter {
        book_id: query.book_id,
        action: query.action,
        user_id: query.user,
    };
    let entries =
        blocking(move || audit::list_book_logs(&*state.store, &admin, &filter, page)).await?;
    Ok(HttpResponse::Ok().json(entries.map(AuditResponse::from)))
}
