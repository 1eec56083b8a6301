//! `/api/books/bulk-import/` and `/api/imports/`, for admins.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::imports::{self, ImportItem, Sent};
use libris_domain::catalog::ImportRecord;
use libris_domain::FieldError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::required;
use crate::errors::ApiError;
use crate::extract::{blocking, json_value, shape_message, AdminCaller, Pagination, RawBody};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/books/bulk-import", web::post().to(bulk_import))
        .route("/imports", web::get().to(list));
}

/// One item; `author` is accepted for `author_id`, as in book bodies.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents an item; items are read field by field (read_item)"
)]
struct ImportItemBody {
    title: String,
    author_id: i64,
    isbn: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct ImportResponse {
    import_id: i64,
    imported: usize,
    book_ids: Vec<i64>,
}

/// The items of the body, which must be a JSON array. The array is taken
/// as parsed, never copied: an import may hold 10,000 items.
fn json_items(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    match json_value(body)? {
        Value::Array(items) => Ok(items),
        _ => Err(FieldError::new("body", "expected a JSON array of items").into()),
    }
}

/// Reads an item field by field rather than with serde in one go, which
/// stops at the first bad field: each field of the wrong shape is named, and
/// the others are still checked. Unknown fields are ignored.
fn read_item(value: Value) -> Sent<ImportItem> {
    let Value::Object(mut item) = value else {
        return Err(FieldError::new("item", "expected a JSON object"));
    };
    let author_id = item.remove("author_id").or_else(|| item.remove("author"));
    Ok(ImportItem {
        title: read_field("title", item.remove("title")),
        author_id: read_field("author_id", author_id),
        isbn: read_field("isbn", item.remove("isbn")),
    })
}

/// One field, moved out of its item; a missing field is `None` when the
/// type is optional and required otherwise.
fn read_field<T: DeserializeOwned>(name: &str, value: Option<Value>) -> Sent<T> {
    match value {
        Some(value) => T::deserialize(value).map_err(|e| FieldError::new(name, shape_message(&e))),
        None => T::deserialize(Value::Null).or_else(|_| required(name, None)),
    }
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
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    // Parsing a body of up to 16 MiB is CPU work: it belongs on the blocking
    // pool with the store work, not on a thread that serves other requests.
    let imported = blocking(move || {
        let values = json_items(&body)?;
        imports::check_batch_size(state.import_limit, values.len())?;
        let items = values.into_iter().map(read_item).collect();
        Ok::<_, ApiError>(imports::bulk_import(
            &*state.store,
            &*state.clock,
            &admin,
            state.import_limit,
            items,
        )?)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problem<T: std::fmt::Debug>(field: Sent<T>) -> (String, String) {
        let error = field.unwrap_err();
        (error.field, error.message)
    }

    #[test]
    fn every_field_of_the_wrong_shape_is_named_without_its_value() {
        let item = read_item(json!({"title": 5, "author": "x", "isbn": ["y"]})).unwrap();
        let found = [
            problem(item.title),
            problem(item.author_id),
            problem(item.isbn),
        ];
        let expected = [
            ("title", "expected a string, found a number"),
            ("author_id", "expected i64, found a string"),
            ("isbn", "expected a string, found an array"),
        ];
        assert_eq!(found, expected.map(|(f, m)| (f.to_owned(), m.to_owned())));
    }

    #[test]
    fn missing_fields_are_required_unless_optional() {
        let item = read_item(json!({"extra": true})).unwrap();
        assert_eq!(problem(item.title).1, "this field is required");
        assert_eq!(problem(item.author_id).0, "author_id");
        assert_eq!(item.isbn, Ok(None));
        let item = read_item(json!({"title": "T", "author_id": 3, "isbn": null})).unwrap();
        assert_eq!(
            (item.title, item.author_id, item.isbn),
            (Ok("T".to_owned()), Ok(3), Ok(None))
        );
    }

    #[test]
    fn an_item_or_a_body_of_another_json_type_is_one_problem() {
        assert_eq!(problem(read_item(json!("item"))).0, "item");
        let error = json_items(br#"{"title": "T"}"#).unwrap_err();
        assert_eq!(error.status(), 422);
        assert_eq!(json_items(b"[1, {}]").unwrap().len(), 2);
    }
}
