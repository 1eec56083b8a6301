//! Loans.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use libris_application::ports::{LoanFilter, NewLoan};
use libris_application::{Page, Paged, StoreError};
use libris_domain::catalog::BookId;
use libris_domain::lending::{Loan, LoanId};

use crate::connection::{columns, AnyConnection, Db};
use crate::error::IntoStore;
use crate::schema::{loans, users};
use crate::time::{naive, utc};

#[derive(Queryable, Selectable)]
#[diesel(table_name = loans)]
struct LoanRow {
    id: i64,
    book_id: i64,
    book_title: String,
    user_id: i64,
    borrowed_at: NaiveDateTime,
    due_at: NaiveDateTime,
    returned_at: Option<NaiveDateTime>,
}

impl From<LoanRow> for Loan {
    fn from(row: LoanRow) -> Self {
        Self {
            id: row.id,
            book_id: row.book_id,
            book_title: row.book_title,
            user_id: row.user_id,
            borrowed_at: utc(row.borrowed_at),
            due_at: utc(row.due_at),
            returned_at: row.returned_at.map(utc),
        }
    }
}

pub(crate) fn open_loan(
    conn: &mut AnyConnection,
    book_id: BookId,
) -> Result<Option<Loan>, StoreError> {
    loans::table
        .filter(loans::book_id.eq(book_id))
        .filter(loans::returned_at.is_null())
        .select(LoanRow::as_select())
        .first(conn)
        .optional()
        .map(|row| row.map(Loan::from))
        .store()
}

#[derive(Insertable)]
#[diesel(table_name = loans)]
struct NewLoanRow<'a> {
    book_id: i64,
    book_title: &'a str,
    user_id: i64,
    username: &'a str,
    borrowed_at: NaiveDateTime,
    due_at: NaiveDateTime,
}

/// The borrower's username, which the loan keeps (it outlives the member).
/// On PostgreSQL the member's row is key-share locked until the transaction
/// ends, as a foreign key would: a concurrent delete of the member, which
/// checks for open loans, waits for this loan and then sees it.
fn borrower(conn: &mut AnyConnection, user_id: i64) -> Result<Option<String>, StoreError> {
    let username = users::table.find(user_id).select(users::username);
    match conn {
        AnyConnection::Postgresql(pg) => username.for_key_share().first(pg).optional(),
        AnyConnection::Sqlite(_) => username.first(conn).optional(),
    }
    .store()
}

/// `ForeignKeyViolation` when the member does not exist (there is no foreign
/// key: a returned loan outlives its member).
pub(crate) fn insert_loan(conn: &mut AnyConnection, loan: &NewLoan) -> Result<Loan, StoreError> {
    let username = borrower(conn, loan.user_id)?.ok_or_else(|| {
        StoreError::ForeignKeyViolation(format!("loans.user_id: no member {}", loan.user_id))
    })?;
    diesel::insert_into(loans::table)
        .values(NewLoanRow {
            book_id: loan.book_id,
            book_title: &loan.book_title,
            user_id: loan.user_id,
            username: &username,
            borrowed_at: naive(loan.borrowed_at),
            due_at: naive(loan.due_at),
        })
        .returning(columns::<LoanRow>())
        .get_result::<LoanRow>(conn)
        .map(Loan::from)
        .store()
}

pub(crate) fn close_loan(
    conn: &mut AnyConnection,
    loan_id: LoanId,
    at: DateTime<Utc>,
) -> Result<Loan, StoreError> {
    diesel::update(loans::table.find(loan_id))
        .set(loans::returned_at.eq(Some(naive(at))))
        .returning(columns::<LoanRow>())
        .get_result::<LoanRow>(conn)
        .map(Loan::from)
        .store()
}

fn filtered(filter: &LoanFilter) -> loans::BoxedQuery<'_, Db> {
    let mut query = loans::table.into_boxed();
    if let Some(user_id) = filter.user_id {
        query = query.filter(loans::user_id.eq(user_id));
    }
    if let Some(book_id) = filter.book_id {
        query = query.filter(loans::book_id.eq(book_id));
    }
    match filter.open {
        Some(true) => query = query.filter(loans::returned_at.is_null()),
        Some(false) => query = query.filter(loans::returned_at.is_not_null()),
        None => {}
    }
    if let Some(now) = filter.overdue_at {
        query = query
            .filter(loans::returned_at.is_null())
            .filter(loans::due_at.lt(naive(now)));
    }
    query
}

pub(crate) fn list_loans(
    conn: &mut AnyConnection,
    filter: &LoanFilter,
    page: Page,
) -> Result<Paged<Loan>, StoreError> {
    let count = filtered(filter).count().get_result(conn).store()?;
    let rows: Vec<LoanRow> = filtered(filter)
        .select(LoanRow::as_select())
        .order(loans::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: rows.into_iter().map(Loan::from).collect(),
    })
}
