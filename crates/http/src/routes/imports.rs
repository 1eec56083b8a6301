//! `/api/books/bulk-import/` and `/api/imports/`, for admins.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::imports::{self, ImportItem};
use libris_domain::catalog::ImportRecord;
use libris_domain::ValidationErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::errors::ApiError;
use crate::extract::{blocking, shape_error, AdminCaller, JsonBody, Pagination};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/books/bulk-import", web::post().to(bulk_import))
        .route("/imports", web::get().to(list));
}

/// One item; `author` is accepted for `author_id`, as in book bodies.
#[derive(Debug, Deserialize, ToSchema)]
struct ImportItemBody {
    title: String,
    #[serde(alias = "author")]
    author_id: i64,
    isbn: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct ImportResponse {
    import_id: i64,
    imported: usize,
    book_ids: Vec<i64>,
}

/// Reads each item on its own, so every item of the wrong shape is reported
/// with its index, not only the first.
fn parse_items(values: Vec<serde_json::Value>) -> Result<Vec<ImportItem>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let items = values
        .into_iter()
        .enumerate()
        .filter_map(|(index, value)| {
            let item: Result<ImportItemBody, _> = serde_path_to_error::deserialize(value);
            item.map_err(|e| errors.push(shape_error(&e).at(index)))
                .ok()
        })
        .map(|item| ImportItem {
            title: item.title,
            author_id: item.author_id,
            isbn: item.isbn,
        })
        .collect();
    errors.into_result().map(|()| items)
}

/// Imports books, all or nothing (admin): any invalid item is a 422 naming
/// each bad item by `index`, and nothing is written.
#[utoipa::path(
    post,
    path = "/api/books/bulk-import/",
    operation_id = "bulk_import_books",
    tag = "imports",
    request_body = Vec<ImportItemBody>,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The import and the new books' ids", body = ImportResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "An ISBN was taken meanwhile; nothing was imported", body = ErrorBody),
        (status = 413, description = "The body is larger than allowed", body = ErrorBody),
        (status = 422, description = "Invalid items, one entry per problem", body = ErrorBody),
    )
)]
async fn bulk_import(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(values): JsonBody<Vec<serde_json::Value>>,
) -> Result<HttpResponse, ApiError> {
    let items = parse_items(values)?;
    let imported = blocking(move || {
        imports::bulk_import(
            &*state.store,
            &*state.clock,
            &admin,
            state.import_limit,
            items,
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(ImportResponse {
        import_id: imported.import_id,
        imported: imported.book_ids.len(),
        book_ids: imported.book_ids,
    }))
}

/// `user` is the importing admin's id.
#[derive(Debug, Serialize, ToSchema)]
struct ImportRecordResponse {
    id: i64,
    user: i64,
    username: String,
    count: i64,
    created_at: DateTime<Utc>,
}

impl From<ImportRecord> for ImportRecordResponse {
    fn from(record: ImportRecord) -> Self {
        Self {
            id: record.id,
            user: record.user.id,
            username: record.user.username,
            count: record.count,
            created_at: record.created_at,
        }
    }
}

/// Import statistics (admin).
#[utoipa::path(
    get,
    path = "/api/imports/",
    operation_id = "list_imports",
    tag = "imports",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of imports", body = Listed<ImportRecordResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let records = blocking(move || imports::list_imports(&*state.store, &admin, page)).await?;
    Ok(HttpResponse::Ok().json(records.map(ImportRecordResponse::from)))
}
