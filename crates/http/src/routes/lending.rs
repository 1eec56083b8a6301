//! Borrowing and returning, and the loan lists.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::lending::{self, LoanOutcome, LoanQuery};
use libris_domain::lending::Loan;
use serde::{Deserialize, Serialize};

use super::books::BookResponse;
use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, Authenticated, Pagination};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/books/{id}/borrow", web::post().to(borrow))
        .route("/books/{id}/return", web::post().to(give_back))
        .route("/users/me/loans", web::get().to(my_loans))
        .route("/loans", web::get().to(list));
}

/// `book` and `user` are ids.
#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
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

async fn my_loans(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let loans = blocking(move || lending::my_loans(&*state.store, &caller, page)).await?;
    Ok(HttpResponse::Ok().json(loans.map(LoanResponse::from)))
}

#[derive(Debug, Deserialize)]
struct LoanListQuery {
    open: Option<bool>,
    #[serde(default)]
    overdue: bool,
    user: Option<i64>,
    book: Option<i64>,
}

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
