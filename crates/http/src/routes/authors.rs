//! `/api/authors/`: read by anyone, written by admins.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::authors::{self, AuthorUpdate, NewAuthor};
use libris_domain::catalog::Author;
use libris_domain::values::{parse_bio, AuthorName};
use libris_domain::ValidationErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::required;
use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, FullUpdate, JsonBody, Pagination};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/authors")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/authors/{id}")
            .route(web::get().to(get))
            .route(web::put().to(update))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// The counts are read-only and always true.
#[derive(Debug, Serialize, ToSchema)]
struct AuthorResponse {
    id: i64,
    name: String,
    bio: String,
    total_books: i64,
    available_books: i64,
    created_at: DateTime<Utc>,
}

impl From<Author> for AuthorResponse {
    fn from(author: Author) -> Self {
        Self {
            id: author.id,
            name: author.name,
            bio: author.bio,
            total_books: author.total_books,
            available_books: author.available_books,
            created_at: author.created_at,
        }
    }
}

/// Writable fields; `total_books` and `available_books` are read-only and
/// ignored if sent.
#[derive(Debug, Deserialize, ToSchema)]
struct AuthorBody {
    name: Option<String>,
    bio: Option<String>,
}

impl AuthorBody {
    fn parse_new(self) -> Result<NewAuthor, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = errors.check(required("name", self.name).and_then(|n| AuthorName::parse(&n)));
        let bio = errors.check(parse_bio(self.bio.as_deref().unwrap_or_default()));
        match (name, bio) {
            (Some(name), Some(bio)) => Ok(NewAuthor { name, bio }),
            _ => Err(errors),
        }
    }

    /// `full` (PUT) requires the name; PATCH takes what is given.
    fn parse_update(self, full: bool) -> Result<AuthorUpdate, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if full {
            errors.check(required("name", self.name.as_ref()));
        }
        let update = AuthorUpdate {
            name: self
                .name
                .and_then(|name| errors.check(AuthorName::parse(&name))),
            bio: self.bio.and_then(|bio| errors.check(parse_bio(&bio))),
        };
        errors.into_result().map(|()| update)
    }
}

/// Lists authors.
#[utoipa::path(
    get,
    path = "/api/authors/",
    operation_id = "list_authors",
    tag = "catalog",
    params(PageParams),
    responses(
        (status = 200, description = "A page of authors", body = Listed<AuthorResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list(
    state: web::Data<AppState>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let authors = blocking(move || authors::list_authors(&*state.store, page)).await?;
    Ok(HttpResponse::Ok().json(authors.map(AuthorResponse::from)))
}

/// One author.
#[utoipa::path(
    get,
    path = "/api/authors/{id}/",
    operation_id = "get_author",
    tag = "catalog",
    responses(
        (status = 200, description = "The author", body = AuthorResponse),
        (status = 404, description = "No such author", body = ErrorBody),
    )
)]
async fn get(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let author = blocking(move || authors::get_author(&*state.store, id)).await?;
    Ok(HttpResponse::Ok().json(AuthorResponse::from(author)))
}

/// Creates an author (admin); `name` is required.
#[utoipa::path(
    post,
    path = "/api/authors/",
    operation_id = "create_author",
    tag = "catalog",
    request_body = AuthorBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new author", body = AuthorResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn create(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(body): JsonBody<AuthorBody>,
) -> Result<HttpResponse, ApiError> {
    let new = body.parse_new()?;
    let author =
        blocking(move || authors::create_author(&*state.store, &*state.clock, &admin, new)).await?;
    tracing::info!(author_id = author.id, "author created");
    Ok(HttpResponse::Created().json(AuthorResponse::from(author)))
}

/// Changes an author (admin): PUT replaces (`name` required, an absent `bio`
/// is cleared), PATCH changes the fields given.
#[utoipa::path(
    method(put, patch),
    path = "/api/authors/{id}/",
    operation_id = "update_author",
    tag = "catalog",
    request_body = AuthorBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated author", body = AuthorResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such author", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn update(
    state: web::Data<AppState>,
    admin: AdminCaller,
    FullUpdate(full): FullUpdate,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<AuthorBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut update = body.parse_update(full)?;
    if full {
        // PUT replaces: an absent bio is cleared.
        update.bio = Some(update.bio.unwrap_or_default());
    }
    let author = blocking(move || {
        authors::update_author(&*state.store, &*state.clock, &admin.0, id, update)
    })
    .await?;
    tracing::info!(author_id = author.id, "author updated");
    Ok(HttpResponse::Ok().json(AuthorResponse::from(author)))
}

/// Deletes an author who has no books (admin).
#[utoipa::path(
    delete,
    path = "/api/authors/{id}/",
    operation_id = "delete_author",
    tag = "catalog",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such author", body = ErrorBody),
        (status = 409, description = "The author still has books", body = ErrorBody),
    )
)]
async fn delete(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    blocking(move || authors::delete_author(&*state.store, &*state.clock, &admin, id)).await?;
    tracing::info!(author_id = id, "author deleted");
    Ok(HttpResponse::NoContent().finish())
}
