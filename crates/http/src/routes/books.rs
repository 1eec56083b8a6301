//! `/api/books/`: read by anyone, written by admins.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::books::{self, BookUpdate, NewBook};
use libris_application::ports::BookFilter;
use libris_domain::catalog::Book;
use libris_domain::values::{BookTitle, Isbn};
use libris_domain::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{nullable, required};
use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, FullUpdate, JsonBody, Pagination};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/books")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/books/{id}")
            .route(web::get().to(get))
            .route(web::put().to(update))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

/// The REST resource: `author` is the author's id.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookResponse {
    id: i64,
    title: String,
    author: i64,
    author_name: String,
    isbn: Option<String>,
    available: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Book> for BookResponse {
    fn from(book: Book) -> Self {
        Self {
            id: book.id,
            title: book.title,
            author: book.author_id,
            author_name: book.author_name,
            isbn: book.isbn,
            available: book.available,
            created_at: book.created_at,
            updated_at: book.updated_at,
        }
    }
}

/// Writable fields. `author` is the author's id (`author_id` is accepted as
/// well); an empty or null `isbn` means none.
#[derive(Debug, Deserialize, ToSchema)]
struct BookBody {
    title: Option<String>,
    #[serde(alias = "author_id")]
    author: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    isbn: Option<Option<String>>,
    available: Option<bool>,
}

fn parse_isbn(raw: Option<String>) -> Result<Option<Isbn>, FieldError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(isbn) => Isbn::parse(isbn).map(Some),
    }
}

impl BookBody {
    fn parse_new(self) -> Result<NewBook, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let title = errors.check(required("title", self.title).and_then(|t| BookTitle::parse(&t)));
        let author_id = errors.check(required("author", self.author));
        let isbn = errors.check(parse_isbn(self.isbn.flatten()));
        match (title, author_id, isbn) {
            (Some(title), Some(author_id), Some(isbn)) => Ok(NewBook {
                title,
                author_id,
                isbn,
                available: self.available.unwrap_or(true),
            }),
            _ => Err(errors),
        }
    }

    /// `full` (PUT) requires title and author; PATCH takes what is given.
    fn parse_update(self, full: bool) -> Result<BookUpdate, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if full {
            errors.check(required("title", self.title.as_ref()));
            errors.check(required("author", self.author));
        }
        let update = BookUpdate {
            title: self
                .title
                .and_then(|title| errors.check(BookTitle::parse(&title))),
            author_id: self.author,
            isbn: match self.isbn {
                Some(isbn) => errors.check(parse_isbn(isbn)),
                // PUT replaces: an absent ISBN is cleared.
                None if full => Some(None),
                None => None,
            },
            available: self.available,
        };
        errors.into_result().map(|()| update)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BookQuery {
    /// Only this author's books (an author id).
    author: Option<i64>,
    available: Option<bool>,
    /// Full-text search over the title, the author's name and the ISBN:
    /// every word must be the start of a word of the book, ignoring case and
    /// accents (`dun mess` finds "Dune Messiah"); an ISBN matches with or
    /// without hyphens. Best match first (every word in the title), then
    /// newest. Punctuation is never an operator or a wildcard.
    q: Option<String>,
}

/// Lists books, with filters.
#[utoipa::path(
    get,
    path = "/api/books/",
    operation_id = "list_books",
    tag = "catalog",
    params(BookQuery, PageParams),
    responses(
        (status = 200, description = "A page of books", body = Listed<BookResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
    )
)]
async fn list(
    state: web::Data<AppState>,
    query: web::Query<BookQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter = BookFilter {
        author_id: query.author,
        available: query.available,
        q: query.q,
    };
    let books = blocking(move || books::list_books(&*state.store, &filter, page)).await?;
    Ok(HttpResponse::Ok().json(books.map(BookResponse::from)))
}

/// One book.
#[utoipa::path(
    get,
    path = "/api/books/{id}/",
    operation_id = "get_book",
    tag = "catalog",
    responses(
        (status = 200, description = "The book", body = BookResponse),
        (status = 404, description = "No such book", body = ErrorBody),
    )
)]
async fn get(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let book = blocking(move || books::get_book(&*state.store, id)).await?;
    Ok(HttpResponse::Ok().json(BookResponse::from(book)))
}

/// Creates a book (admin); `title` and `author` are required.
#[utoipa::path(
    post,
    path = "/api/books/",
    operation_id = "create_book",
    tag = "catalog",
    request_body = BookBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new book", body = BookResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Invalid fields (a taken ISBN too)", body = ErrorBody),
    )
)]
async fn create(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(body): JsonBody<BookBody>,
) -> Result<HttpResponse, ApiError> {
    let new = body.parse_new()?;
    let book =
        blocking(move || books::create_book(&*state.store, &*state.clock, &admin, new)).await?;
    tracing::info!(
        book_id = book.id,
        author_id = book.author_id,
        "book created"
    );
    Ok(HttpResponse::Created().json(BookResponse::from(book)))
}

/// Changes a book (admin): PUT replaces (`title` and `author` required, an
/// absent `isbn` is cleared), PATCH changes the fields given.
#[utoipa::path(
    method(put, patch),
    path = "/api/books/{id}/",
    operation_id = "update_book",
    tag = "catalog",
    request_body = BookBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated book", body = BookResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such book", body = ErrorBody),
        (status = 409, description = "Made available while on loan", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn update(
    state: web::Data<AppState>,
    admin: AdminCaller,
    FullUpdate(full): FullUpdate,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<BookBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let update = body.parse_update(full)?;
    let book =
        blocking(move || books::update_book(&*state.store, &*state.clock, &admin.0, id, update))
            .await?;
    tracing::info!(
        book_id = book.id,
        author_id = book.author_id,
        "book updated"
    );
    Ok(HttpResponse::Ok().json(BookResponse::from(book)))
}

/// Deletes a book that is not on loan (admin); its history stays.
#[utoipa::path(
    delete,
    path = "/api/books/{id}/",
    operation_id = "delete_book",
    tag = "catalog",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such book", body = ErrorBody),
        (status = 409, description = "The book is on loan", body = ErrorBody),
    )
)]
async fn delete(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    blocking(move || books::delete_book(&*state.store, &*state.clock, &admin, id)).await?;
    tracing::info!(book_id = id, "book deleted");
    Ok(HttpResponse::NoContent().finish())
}
