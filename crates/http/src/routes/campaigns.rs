//! `/api/campaigns/`: SMS campaigns to members, their statistics and
//! messages (admins only). Fixed paths are registered before `{id}` paths.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::campaigns::{
    self, Campaign, CampaignChange, CampaignMessage, CampaignSummary,
};
use libris_domain::campaigns::{
    CampaignInput, CampaignSpec, CampaignText, FilterInput, MessageCounts, MessageStatus,
    SendWindow,
};
use libris_domain::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::nullable;
use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, FullUpdate, JsonBody, Pagination};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/campaigns")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .route("/campaigns/statistics", web::get().to(statistics))
    .service(
        web::resource("/campaigns/{id}")
            .route(web::get().to(get))
            .route(web::put().to(update))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .route("/campaigns/{id}/cancel", web::post().to(cancel))
    .route(
        "/campaigns/{id}/statistics",
        web::get().to(campaign_statistics),
    )
    .route("/campaigns/{id}/messages", web::get().to(messages));
}

// ---------------------------------------------------------------------------
// What the API answers

/// Who a campaign goes to: members with any of `tags` and an operator code
/// in `operator_codes`; an empty list means "any".
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct FilterBody {
    #[schema(example = json!(["news"]))]
    tags: Option<Vec<String>>,
    #[schema(example = json!(["916"]))]
    operator_codes: Option<Vec<String>>,
}

/// `[from, to)` in each member's local time; `from > to` crosses midnight.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct WindowBody {
    #[schema(example = "09:00")]
    from: String,
    #[schema(example = "21:00")]
    to: String,
}

/// A campaign's messages by status.
// Mirrors `libris_domain::campaigns::MessageCounts`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CountsResponse {
    pending: u64,
    sent: u64,
    failed: u64,
    expired: u64,
    cancelled: u64,
}

/// A campaign, as the API answers it and as `campaign.*` events carry it.
// Mirrors `Campaign::resource` (a test holds the two together).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CampaignResponse {
    id: i64,
    text: String,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    filter: FilterBody,
    /// `null`: any time of day.
    send_window: Option<WindowBody>,
    /// `scheduled`, `running`, `finished` or `cancelled`.
    #[schema(example = "running")]
    status: String,
    counts: CountsResponse,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// One message of a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageResponse {
    id: i64,
    /// The campaign's id.
    campaign: i64,
    /// The member's id.
    user: i64,
    /// The member's username when the campaign started.
    username: String,
    /// The phone it is sent to, as when the campaign started.
    #[schema(example = "79161234567")]
    phone: String,
    /// `pending`, `sent`, `failed`, `expired` or `cancelled`.
    #[schema(example = "sent")]
    status: &'static str,
    attempts: i64,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

impl From<CampaignMessage> for MessageResponse {
    fn from(m: CampaignMessage) -> Self {
        Self {
            id: m.id,
            campaign: m.campaign_id,
            user: m.user_id,
            username: m.username,
            phone: m.phone,
            status: m.status.as_str(),
            attempts: m.attempts,
            created_at: m.created_at,
            sent_at: m.sent_at,
            last_error: m.last_error,
        }
    }
}

fn counts(counts: MessageCounts) -> CountsResponse {
    CountsResponse {
        pending: counts.pending,
        sent: counts.sent,
        failed: counts.failed,
        expired: counts.expired,
        cancelled: counts.cancelled,
    }
}

/// A campaign's line in the statistics.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SummaryResponse {
    /// The campaign's id.
    campaign: i64,
    text: String,
    #[schema(example = "running")]
    status: &'static str,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    /// Messages in all.
    total: u64,
    counts: CountsResponse,
}

impl From<CampaignSummary> for SummaryResponse {
    fn from(s: CampaignSummary) -> Self {
        Self {
            campaign: s.id,
            text: s.text,
            status: s.status.as_str(),
            start_at: s.start_at,
            end_at: s.end_at,
            total: s.counts.total(),
            counts: counts(s.counts),
        }
    }
}

/// Every campaign's counts, a page of campaigns.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatisticsResponse {
    /// How many campaigns there are, over all pages.
    count: i64,
    results: Vec<SummaryResponse>,
    /// Every campaign's messages by status, added up.
    totals: CountsResponse,
}

/// One campaign's counts and a page of its messages.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CampaignStatisticsResponse {
    #[schema(value_type = CampaignResponse)]
    campaign: Value,
    total: u64,
    counts: CountsResponse,
    messages: MessagePage,
}

/// A page of a campaign's messages.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessagePage {
    /// How many messages the campaign has, over all pages.
    count: i64,
    results: Vec<MessageResponse>,
}

// ---------------------------------------------------------------------------
// What the API takes

/// A campaign's fields. POST and PUT need `text`, `start_at` and `end_at`;
/// PATCH changes the fields given.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CampaignBody {
    /// 1 to 1000 characters, sent as written.
    text: Option<String>,
    start_at: Option<DateTime<Utc>>,
    /// After `start_at`.
    end_at: Option<DateTime<Utc>>,
    /// Absent or `null`: every subscribed member with a phone.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<FilterBody>)]
    filter: Option<Option<FilterBody>>,
    /// `null`: any time of day.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<WindowBody>)]
    send_window: Option<Option<WindowBody>>,
}

fn filter_input(filter: Option<FilterBody>) -> FilterInput {
    filter.map_or_else(FilterInput::default, |f| FilterInput {
        tags: f.tags.unwrap_or_default(),
        operator_codes: f.operator_codes.unwrap_or_default(),
    })
}

fn window_input(window: Option<WindowBody>) -> Option<(String, String)> {
    window.map(|w| (w.from, w.to))
}

fn missing(field: &str) -> FieldError {
    FieldError::new(field, "this field is required")
}

impl CampaignBody {
    /// Every field POST and PUT need, or every problem at once.
    fn full(self) -> Result<CampaignInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.text.is_none() {
            errors.push(missing("text"));
        }
        if self.start_at.is_none() {
            errors.push(missing("start_at"));
        }
        if self.end_at.is_none() {
            errors.push(missing("end_at"));
        }
        let window = self.send_window.flatten();
        match (self.text, self.start_at, self.end_at) {
            (Some(text), Some(start_at), Some(end_at)) => Ok(CampaignInput {
                text,
                start_at,
                end_at,
                filter: filter_input(self.filter.flatten()),
                send_window: window_input(window),
            }),
            (text, _, _) => {
                // The fields that are there are checked too.
                if let Some(text) = text {
                    errors.check(CampaignText::parse(&text));
                }
                if let Some(w) = window {
                    if let Err(window_errors) = SendWindow::parse(&w.from, &w.to) {
                        window_errors.0.into_iter().for_each(|e| errors.push(e));
                    }
                }
                Err(errors)
            }
        }
    }

    fn change(self, full: bool) -> Result<CampaignChange, ValidationErrors> {
        if full {
            let input = self.full()?;
            return Ok(CampaignChange {
                text: Some(input.text),
                start_at: Some(input.start_at),
                end_at: Some(input.end_at),
                filter: Some(input.filter),
                send_window: Some(input.send_window),
            });
        }
        Ok(CampaignChange {
            text: self.text,
            start_at: self.start_at,
            end_at: self.end_at,
            filter: self.filter.map(filter_input),
            send_window: self.send_window.map(window_input),
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MessageQuery {
    /// pending, sent, failed, expired or cancelled.
    status: Option<String>,
}

fn message_status(raw: Option<&str>) -> Result<Option<MessageStatus>, ApiError> {
    raw.map(|raw| {
        MessageStatus::parse(raw).ok_or_else(|| {
            ApiError::bad_request(
                "`status` must be one of pending, sent, failed, expired, cancelled",
            )
        })
    })
    .transpose()
}

fn respond(status: actix_web::http::StatusCode, campaign: &Campaign) -> HttpResponse {
    HttpResponse::build(status).json(campaign.resource())
}

// ---------------------------------------------------------------------------
// Handlers

/// Campaigns, newest first.
#[utoipa::path(
    get,
    path = "/api/campaigns/",
    operation_id = "list_campaigns",
    tag = "campaigns",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of campaigns", body = Listed<CampaignResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let listed = blocking(move || campaigns::list_campaigns(&*state.store, &admin, page)).await?;
    Ok(HttpResponse::Ok().json(listed.map(|c| c.resource())))
}

/// Creates a campaign. Inside its period it starts at once: its recipients
/// are chosen before the answer.
#[utoipa::path(
    post,
    path = "/api/campaigns/",
    operation_id = "create_campaign",
    tag = "campaigns",
    request_body = CampaignBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new campaign", body = CampaignResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(body): JsonBody<CampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let spec = CampaignSpec::parse(body.full()?)?;
    let campaign =
        blocking(move || campaigns::create_campaign(&*state.store, &*state.clock, &admin, spec))
            .await?;
    Ok(respond(actix_web::http::StatusCode::CREATED, &campaign))
}

/// One campaign.
#[utoipa::path(
    get,
    path = "/api/campaigns/{id}/",
    operation_id = "get_campaign",
    tag = "campaigns",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The campaign", body = CampaignResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let campaign = blocking(move || campaigns::get_campaign(&*state.store, &admin, id)).await?;
    Ok(respond(actix_web::http::StatusCode::OK, &campaign))
}

/// Changes a campaign: PUT replaces (`text`, `start_at`, `end_at` required;
/// an absent `filter` or `send_window` is cleared), PATCH changes the fields
/// given. `filter` and `start_at` change only while it is scheduled.
#[utoipa::path(
    method(put, patch),
    path = "/api/campaigns/{id}/",
    operation_id = "update_campaign",
    tag = "campaigns",
    request_body = CampaignBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed campaign", body = CampaignResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        (status = 409, description = "`filter` or `start_at` changed after the start", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
pub(crate) async fn update(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    FullUpdate(full): FullUpdate,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<CampaignBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let change = body.change(full)?;
    let campaign = blocking(move || {
        campaigns::update_campaign(&*state.store, &*state.clock, &admin, id, change)
    })
    .await?;
    Ok(respond(actix_web::http::StatusCode::OK, &campaign))
}

/// Deletes a campaign and its messages.
#[utoipa::path(
    delete,
    path = "/api/campaigns/{id}/",
    operation_id = "delete_campaign",
    tag = "campaigns",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    blocking(move || campaigns::delete_campaign(&*state.store, &*state.clock, &admin, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Cancels a campaign: every pending message not already in flight becomes
/// cancelled. Cancelling it again changes nothing.
#[utoipa::path(
    post,
    path = "/api/campaigns/{id}/cancel/",
    operation_id = "cancel_campaign",
    tag = "campaigns",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cancelled campaign", body = CampaignResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        (status = 409, description = "The campaign is finished", body = ErrorBody),
    )
)]
pub(crate) async fn cancel(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let campaign =
        blocking(move || campaigns::cancel_campaign(&*state.store, &*state.clock, &admin, id))
            .await?;
    Ok(respond(actix_web::http::StatusCode::OK, &campaign))
}

/// Every campaign's messages by status (a page of campaigns, newest first)
/// and the totals over all of them.
#[utoipa::path(
    get,
    path = "/api/campaigns/statistics/",
    operation_id = "campaign_statistics",
    tag = "campaigns",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The statistics", body = StatisticsResponse),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
pub(crate) async fn statistics(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let stats = blocking(move || campaigns::statistics(&*state.store, &admin, page)).await?;
    Ok(HttpResponse::Ok().json(StatisticsResponse {
        count: stats.campaigns.count,
        results: stats
            .campaigns
            .results
            .into_iter()
            .map(SummaryResponse::from)
            .collect(),
        totals: counts(stats.totals),
    }))
}

/// One campaign's messages by status, and a page of its messages.
#[utoipa::path(
    get,
    path = "/api/campaigns/{id}/statistics/",
    operation_id = "one_campaign_statistics",
    tag = "campaigns",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The campaign's statistics", body = CampaignStatisticsResponse),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
    )
)]
pub(crate) async fn campaign_statistics(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let stats =
        blocking(move || campaigns::campaign_statistics(&*state.store, &admin, id, page)).await?;
    let campaign_counts = stats.campaign.counts;
    Ok(HttpResponse::Ok().json(CampaignStatisticsResponse {
        campaign: stats.campaign.resource(),
        total: campaign_counts.total(),
        counts: counts(campaign_counts),
        messages: MessagePage {
            count: stats.messages.count,
            results: stats
                .messages
                .results
                .into_iter()
                .map(MessageResponse::from)
                .collect(),
        },
    }))
}

/// A campaign's messages, newest first.
#[utoipa::path(
    get,
    path = "/api/campaigns/{id}/messages/",
    operation_id = "list_campaign_messages",
    tag = "campaigns",
    params(MessageQuery, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of messages", body = Listed<MessageResponse>),
        (status = 400, description = "Invalid query or unknown `status`", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
    )
)]
pub(crate) async fn messages(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
    query: web::Query<MessageQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let status = message_status(query.status.as_deref())?;
    let listed =
        blocking(move || campaigns::list_messages(&*state.store, &admin, id, status, page)).await?;
    Ok(HttpResponse::Ok().json(listed.map(MessageResponse::from)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use libris_domain::campaigns::CampaignStatus;
    use serde_json::json;
    use utoipa::PartialSchema;

    use super::*;

    fn keys(value: &Value) -> BTreeSet<String> {
        value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_documented_campaign_is_the_resource_events_carry() {
        let spec = CampaignSpec::parse(CampaignInput {
            text: "Hi".into(),
            start_at: Utc::now(),
            end_at: Utc::now() + chrono::Duration::hours(1),
            filter: FilterInput::default(),
            send_window: Some(("21:00".into(), "09:00".into())),
        })
        .unwrap();
        let campaign = Campaign {
            id: 1,
            spec,
            status: CampaignStatus::Running,
            counts: MessageCounts::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let resource = campaign.resource();
        let schema = serde_json::to_value(CampaignResponse::schema()).unwrap();
        assert_eq!(keys(&resource), keys(&schema["properties"]));
        let counts_schema = serde_json::to_value(CountsResponse::schema()).unwrap();
        assert_eq!(
            keys(&resource["counts"]),
            keys(&counts_schema["properties"])
        );
        assert_eq!(
            resource["send_window"],
            json!({"from": "21:00", "to": "09:00"})
        );
        assert_eq!(
            resource["filter"],
            json!({"tags": [], "operator_codes": []})
        );
    }

    #[test]
    fn a_create_without_its_required_fields_names_each_and_checks_the_rest() {
        let body: CampaignBody = serde_json::from_value(
            json!({"text": "", "send_window": {"from": "9", "to": "10:00"}}),
        )
        .unwrap();
        let errors = body.full().unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["start_at", "end_at", "text", "send_window.from"]);
    }

    #[test]
    fn a_patch_changes_only_what_it_gives_and_null_clears_the_window() {
        let body: CampaignBody = serde_json::from_value(json!({"send_window": null})).unwrap();
        let change = body.change(false).unwrap();
        assert_eq!(change.send_window, Some(None));
        assert_eq!(change.filter, None);
        assert_eq!(change.text, None);
    }
}
