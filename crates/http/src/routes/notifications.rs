//! `GET /api/notifications/`: what Libris mailed, or will mail, and how it
//! went (admins only).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::notifications::{self, CHANNEL};
use libris_application::ports::NotificationFilter;
use libris_domain::notifications::{Notification, NotificationStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, Pagination};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notifications", web::get().to(list));
}

/// One notification.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NotificationResponse {
    id: i64,
    /// `email`.
    #[schema(example = "email")]
    channel: String,
    /// The recipient's address.
    to: String,
    subject: String,
    /// `pending`, `sent`, `failed` (refused for good: a 5xx SMTP answer) or
    /// `dead` (the retry schedule used up).
    #[schema(example = "sent")]
    status: &'static str,
    attempts: i64,
    last_error: Option<String>,
    /// The event it is about; `null` for reminders and overdue notices.
    event_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationResponse {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            channel: n.channel,
            to: n.email.to,
            subject: n.email.subject,
            status: n.status.as_str(),
            attempts: n.attempts,
            last_error: n.last_error,
            event_id: n.event_id,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NotificationQuery {
    /// Only this channel (`email`).
    channel: Option<String>,
    /// pending, sent, failed or dead.
    status: Option<String>,
}

/// Emails to admins and members, newest first.
#[utoipa::path(
    get,
    path = "/api/notifications/",
    operation_id = "list_notifications",
    tag = "notifications",
    params(NotificationQuery, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of notifications", body = Listed<NotificationResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    query: web::Query<NotificationQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    if let Some(channel) = q.channel.as_deref().filter(|c| *c != CHANNEL) {
        return Err(ApiError::bad_request(format!(
            "`channel` must be {CHANNEL}, not `{channel}`"
        )));
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(raw) => Some(NotificationStatus::parse(raw).ok_or_else(|| {
            ApiError::bad_request("`status` must be one of pending, sent, failed, dead")
        })?),
    };
    let filter = NotificationFilter {
        channel: q.channel,
        status,
    };
    let listed =
        blocking(move || notifications::list_notifications(&*state.store, &admin, &filter, page))
            .await?;
    Ok(HttpResponse::Ok().json(listed.map(NotificationResponse::from)))
}
