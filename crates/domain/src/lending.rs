//! Loans of books to members.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::accounts::UserId;
use crate::catalog::BookId;

pub type LoanId = i64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loan {
    pub id: LoanId,
    pub book_id: BookId,
    pub book_title: String,
    pub user_id: UserId,
    pub borrowed_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub returned_at: Option<DateTime<Utc>>,
}

/// The loan as `book.borrowed` / `book.returned` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoanSnapshot {
    pub id: LoanId,
    pub borrowed_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub returned_at: Option<DateTime<Utc>>,
}

impl From<&Loan> for LoanSnapshot {
    fn from(loan: &Loan) -> Self {
        Self {
            id: loan.id,
            borrowed_at: loan.borrowed_at,
            due_at: loan.due_at,
            returned_at: loan.returned_at,
        }
    }
}
