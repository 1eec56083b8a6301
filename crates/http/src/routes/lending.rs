//! Borrowing and returning, and the loan lists.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::lending::{self, LoanOutcome, LoanQuery};
use libris_domain::lending::Loan;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::books::BookResponse;
use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, Authenticated, Pagination};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/books/{id}/borrow", web::post().to(borrow))
        .route("/books/{id}/return", web::post().to(give_back))
        .route("/users/me/loans", web::get().to(my_loans))
        .route("/loans", web::get().to(list));
}

/// `book` and `user` are ids.
#[derive(Debug, Serialize, ToSchema)]
struct LoanResponse {
    id: i64,
    book: i64,
    book_title: String,
    user: i64,
    borrowed_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    returned_at: Option<DateTime<Utc>>,
}

impl From<Loan> for LoanResponse {
    fn from(loan: Loan) -> Self {
        Self {
            id: loan.id,
            book: loan.book_id,
            book_title: loan.book_title,
            user: loan.user_id,
            borrowed_at: loan.borrowed_at,
            due_at: loan.due_at,
            returned_at: loan.returned_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct LoanActionResponse {
    detail: &'static str,
    book: BookResponse,
    loan: LoanResponse,
}

fn answer(detail: &'static str, outcome: LoanOutcome) -> HttpResponse {
    HttpResponse::Ok().json(LoanActionResponse {
        detail,
        book: outcome.book.into(),
        loan: outcome.loan.into(),
    })
}

/// Borrows a book for the caller.
#[utoipa::path(
    post,
    path = "/api/books/{id}/borrow/",
    operation_id = "borrow_book",
    tag = "lending",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`Book borrowed successfully`, the book and the loan", body = LoanActionResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such book", body = ErrorBody),
        (status = 409, description = "The book is not available", body = ErrorBody),
    )
)]
async fn borrow(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let book_id = id.into_inner();
    let outcome = blocking(move || {
        lending::borrow_book(&*state.store, &*state.clock, state.loans, &caller, book_id)
    })
    .await?;
    Ok(answer("Book borrowed successfully", outcome))
}

/// Returns a book the caller borrowed (an admin may return any loan).
#[utoipa::path(
    post,
    path = "/api/books/{id}/return/",
    operation_id = "return_book",
    tag = "lending",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`Book returned successfully`, the book and the loan", body = LoanActionResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such book", body = ErrorBody),
        (status = 409, description = "The caller has no open loan of it", body = ErrorBody),
    )
)]
async fn give_back(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let book_id = id.into_inner();
    let outcome =
        blocking(move || lending::return_book(&*state.store, &*state.clock, &caller, book_id))
            .await?;
    Ok(answer("Book returned successfully", outcome))
}

/// The caller's loans, open and past.
#[utoipa::path(
    get,
    path = "/api/users/me/loans/",
    operation_id = "list_my_loans",
    tag = "lending",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of loans", body = Listed<LoanResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
    )
)]
async fn my_loans(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let loans = blocking(move || lending::my_loans(&*state.store, &caller, page)).await?;
    Ok(HttpResponse::Ok().json(loans.map(LoanResponse::from)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LoanListQuery {
    /// Only open (`true`) or only returned (`false`) loans.
    open: Option<bool>,
    /// Only open loans past their due date.
    #[serde(default)]
    overdue: bool,
    /// Only this user's loans (a user id).
    user: Option<i64>,
    /// Only loans of this book (a book id).
    book: Option<i64>,
}

/// All loans, with filters (admin).
#[utoipa::path(
    get,
    path = "/api/loans/",
    operation_id = "list_loans",
    tag = "lending",
    params(LoanListQuery, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of loans", body = Listed<LoanResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    query: web::Query<LoanListQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let query = LoanQuery {
        open: q.open,
        overdue: q.overdue,
        user_id: q.user,
        book_id: q.book,
    };
    let loans =
        blocking(move || lending::list_loans(&*state.store, &*state.clock, &admin, query, page))
            .await?;
    Ok(HttpResponse::Ok().json(loans.map(LoanResponse::from)))
}
