//! Lending: borrowing and returning books (the seed's `book_borrowed` and
//! `book_returned` signals), and the loan lists.

use chrono::{DateTime, Duration, Utc};
use libris_domain::accounts::UserRef;
use libris_domain::catalog::{Book, BookId, BookSnapshot};
use libris_domain::events::DomainEvent;
use libris_domain::lending::{Loan, LoanSnapshot};

use crate::access::Admin;
use crate::events::{record, EventContext};
use crate::pagination::{Page, Paged};
use crate::ports::{Caller, Clock, LoanFilter, NewLoan, Store, StoreError, StoreExt, Tx};

/// How long a loan lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoanPolicy {
    pub loan_period: Duration,
}

impl Default for LoanPolicy {
    fn default() -> Self {
        Self {
            loan_period: Duration::days(14),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LendingError {
    #[error("no book with this id")]
    NotFound,
    #[error("the book is not available")]
    NotAvailable,
    #[error("you have no open loan of this book")]
    NoOpenLoan,
    /// The caller's account was deleted after the request was authenticated.
    #[error("your account no longer exists")]
    CallerGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A book and the loan a borrow or return touched.
#[derive(Debug, Clone, PartialEq)]
pub struct LoanOutcome {
    pub book: Book,
    pub loan: Loan,
}

fn member(tx: &mut dyn Tx, user_id: i64) -> Result<UserRef, LendingError> {
    let account = tx
        .accounts()
        .account(user_id)?
        .ok_or_else(|| StoreError::Unexpected(format!("loan of unknown user {user_id}")))?;
    Ok(UserRef::from(&account.user))
}

/// Lends a book to the caller: the loan, the book unavailable, the author's
/// and member's counters, the audit entry and `book.borrowed`, in one
/// transaction. The database's one-open-loan-per-book index settles races.
pub fn borrow_book(
    store: &dyn Store,
    clock: &dyn Clock,
    policy: LoanPolicy,
    caller: &Caller,
    book_id: BookId,
) -> Result<LoanOutcome, LendingError> {
    let at = clock.now();
    let outcome = store.write_tx(|tx| {
        let book = tx.catalog().book(book_id)?.ok_or(LendingError::NotFound)?;
        if !book.available {
            return Err(LendingError::NotAvailable);
        }
        let new = NewLoan {
            book_id,
            book_title: book.title.clone(),
            user_id: caller.id,
            borrowed_at: at,
            due_at: at + policy.loan_period,
        };
        let loan = tx.lending().insert_loan(&new).map_err(|e| match e {
            // Another borrow of this copy committed first.
            StoreError::UniqueViolation(_) => LendingError::NotAvailable,
            // The member was deleted since their token was checked.
            StoreError::ForeignKeyViolation(_) => LendingError::CallerGone,
            other => other.into(),
        })?;
        let book = tx.lending().set_book_available(book_id, false, at)?;
        let event = DomainEvent::BookBorrowed {
            book: BookSnapshot::from(&book),
            user: caller.user_ref(),
            loan: LoanSnapshot::from(&loan),
        };
        let context = EventContext {
            user: Some(caller.user_ref()),
            at,
        };
        record(tx, &context, &event)?;
        Ok(LoanOutcome { book, loan })
    })?;
    tracing::info!(
        book_id,
        user_id = caller.id,
        loan_id = outcome.loan.id,
        "book borrowed"
    );
    Ok(outcome)
}

/// Takes a book back. A member returns their own loan; an admin may return
/// anyone's, and the borrower's counters count it.
pub fn return_book(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    book_id: BookId,
) -> Result<LoanOutcome, LendingError> {
    let at = clock.now();
    let outcome = store.write_tx(|tx| {
        tx.catalog().book(book_id)?.ok_or(LendingError::NotFound)?;
        let open = tx
            .lending()
            .open_loan(book_id)?
            .ok_or(LendingError::NoOpenLoan)?;
        if open.user_id != caller.id && !caller.is_admin {
            return Err(LendingError::NoOpenLoan);
        }
        let loan = tx.lending().close_loan(open.id, at)?;
        let book = tx.lending().set_book_available(book_id, true, at)?;
        let event = DomainEvent::BookReturned {
            book: BookSnapshot::from(&book),
            user: member(tx, loan.user_id)?,
            loan: LoanSnapshot::from(&loan),
        };
        let context = EventContext {
            user: Some(caller.user_ref()),
            at,
        };
        record(tx, &context, &event)?;
        Ok(LoanOutcome { book, loan })
    })?;
    tracing::info!(
        book_id,
        user_id = outcome.loan.user_id,
        returned_by = caller.id,
        loan_id = outcome.loan.id,
        "book returned"
    );
    Ok(outcome)
}

/// The caller's loans, open and past, newest first.
pub fn my_loans(store: &dyn Store, caller: &Caller, page: Page) -> Result<Paged<Loan>, StoreError> {
    let filter = LoanFilter {
        user_id: Some(caller.id),
        ..LoanFilter::default()
    };
    store.read_tx(|tx| tx.lending().list_loans(&filter, page))
}

/// Filters of the admins' loan list; `overdue` means open and past due now.
#[derive(Debug, Clone, Default)]
pub struct LoanQuery {
    pub open: Option<bool>,
    pub overdue: bool,
    pub user_id: Option<i64>,
    pub book_id: Option<BookId>,
}

pub fn list_loans(
    store: &dyn Store,
    clock: &dyn Clock,
    _admin: &Admin,
    query: LoanQuery,
    page: Page,
) -> Result<Paged<Loan>, StoreError> {
    let now: DateTime<Utc> = clock.now();
    let filter = LoanFilter {
        user_id: query.user_id,
        book_id: query.book_id,
        open: query.open,
        overdue_at: query.overdue.then_some(now),
    };
    store.read_tx(|tx| tx.lending().list_loans(&filter, page))
}

#[cfg(test)]
mod tests {
    use libris_domain::audit::AuditAction;
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{
        account, admin, at, book, fixed_clock, member as member_caller, recorded, MockStore,
    };

    fn loan(id: i64, book_id: i64, user_id: i64, returned: bool) -> Loan {
        Loan {
            id,
            book_id,
            book_title: format!("Book {book_id}"),
            user_id,
            borrowed_at: at(0),
            due_at: at(14 * 86_400),
            returned_at: returned.then(|| at(60)),
        }
    }

    fn expect_lending_projections(
        tx: &mut MockTx,
        event: &'static str,
        action: AuditAction,
        member: i64,
    ) {
        tx.audit
            .expect_insert_audit_entries()
            .withf(move |e| e.len() == 1 && e[0].action == action)
            .times(1)
            .returning(|_| Ok(()));
        // A borrow takes a copy off the shelf and counts a loan; a return
        // puts it back and counts the return.
        let borrowing = action == AuditAction::Borrowed;
        let (available, borrowed, returned) = if borrowing { (-1, 1, 0) } else { (1, 0, 1) };
        tx.catalog
            .expect_add_to_author_counts()
            .with(eq(3), eq(0), eq(available))
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.accounts
            .expect_add_to_member_loans()
            .with(eq(member), eq(borrowed), eq(returned))
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .withf(move |e| {
                e.name == event && e.data["user"]["id"] == member && e.data["loan"]["id"] == 7
            })
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
    }

    #[test]
    fn borrowing_opens_a_loan_for_the_period_and_records_book_borrowed() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_book()
            .returning(|id| Ok(Some(book(id, 3))));
        tx.lending
            .expect_insert_loan()
            .withf(|l| {
                l.book_id == 1 && l.user_id == 2 && l.due_at - l.borrowed_at == Duration::days(14)
            })
            .returning(|l| Ok(loan(7, l.book_id, l.user_id, false)));
        tx.lending
            .expect_set_book_available()
            .with(eq(1), eq(false), eq(at(0)))
            .returning(|id, available, _| {
                Ok(Book {
                    available,
                    ..book(id, 3)
                })
            });
        expect_lending_projections(&mut tx, "book.borrowed", AuditAction::Borrowed, 2);
        let store = MockStore::new(tx);
        let outcome = borrow_book(
            &store,
            &fixed_clock(),
            LoanPolicy::default(),
            &member_caller(),
            1,
        )
        .unwrap();
        assert!(!outcome.book.available);
        assert_eq!(outcome.loan.id, 7);
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn a_caller_deleted_since_authentication_borrows_nothing() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_book()
            .returning(|id| Ok(Some(book(id, 3))));
        tx.lending
            .expect_insert_loan()
            .returning(|_| Err(StoreError::ForeignKeyViolation("no member 2".into())));
        tx.lending.expect_set_book_available().never();
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let error = borrow_book(
            &store,
            &fixed_clock(),
            LoanPolicy::default(),
            &member_caller(),
            1,
        )
        .unwrap_err();
        assert!(matches!(error, LendingError::CallerGone), "{error:?}");
        assert_eq!(store.commits(), 0);
    }

    #[test]
    fn an_unavailable_or_missing_book_cannot_be_borrowed() {
        let mut tx = MockTx::new();
        tx.catalog.expect_book().with(eq(1)).returning(|id| {
            Ok(Some(Book {
                available: false,
                ..book(id, 3)
            }))
        });
        tx.catalog.expect_book().with(eq(2)).returning(|_| Ok(None));
        tx.lending.expect_insert_loan().never();
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let borrow = |id| {
            borrow_book(
                &store,
                &fixed_clock(),
                LoanPolicy::default(),
                &member_caller(),
                id,
            )
        };
        assert!(matches!(borrow(1), Err(LendingError::NotAvailable)));
        assert!(matches!(borrow(2), Err(LendingError::NotFound)));
    }

    #[test]
    fn losing_the_race_for_the_last_copy_is_not_available() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_book()
            .returning(|id| Ok(Some(book(id, 3))));
        tx.lending.expect_insert_loan().returning(|_| {
            Err(StoreError::UniqueViolation(
                "loans_one_open_per_book".into(),
            ))
        });
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let err = borrow_book(
            &store,
            &fixed_clock(),
            LoanPolicy::default(),
            &member_caller(),
            1,
        )
        .unwrap_err();
        assert!(matches!(err, LendingError::NotAvailable));
        assert_eq!(store.rollbacks(), 1);
    }

    #[test]
    fn returning_closes_the_loan_and_records_book_returned() {
        let mut tx = MockTx::new();
        tx.catalog.expect_book().returning(|id| {
            Ok(Some(Book {
                available: false,
                ..book(id, 3)
            }))
        });
        tx.lending
            .expect_open_loan()
            .returning(|id| Ok(Some(loan(7, id, 2, false))));
        tx.lending
            .expect_close_loan()
            .with(eq(7), eq(at(0)))
            .returning(|id, _| Ok(loan(id, 1, 2, true)));
        tx.lending
            .expect_set_book_available()
            .with(eq(1), eq(true), eq(at(0)))
            .returning(|id, available, _| {
                Ok(Book {
                    available,
                    ..book(id, 3)
                })
            });
        tx.accounts
            .expect_account()
            .with(eq(2))
            .returning(|id| Ok(Some(account(id, "member", false))));
        expect_lending_projections(&mut tx, "book.returned", AuditAction::Returned, 2);
        let store = MockStore::new(tx);
        let outcome = return_book(&store, &fixed_clock(), &member_caller(), 1).unwrap();
        assert!(outcome.book.available);
        assert!(outcome.loan.returned_at.is_some());
    }

    #[test]
    fn an_admin_returns_a_members_loan_and_the_borrower_is_counted() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_book()
            .returning(|id| Ok(Some(book(id, 3))));
        tx.lending
            .expect_open_loan()
            .returning(|id| Ok(Some(loan(7, id, 2, false))));
        tx.lending
            .expect_close_loan()
            .returning(|id, _| Ok(loan(id, 1, 2, true)));
        tx.lending
            .expect_set_book_available()
            .returning(|id, available, _| {
                Ok(Book {
                    available,
                    ..book(id, 3)
                })
            });
        tx.accounts
            .expect_account()
            .with(eq(2))
            .returning(|id| Ok(Some(account(id, "member", false))));
        expect_lending_projections(&mut tx, "book.returned", AuditAction::Returned, 2);
        let store = MockStore::new(tx);
        return_book(&store, &fixed_clock(), &admin(), 1).unwrap();
    }

    #[test]
    fn a_member_cannot_return_someone_elses_loan_or_a_book_not_on_loan() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_book()
            .returning(|id| Ok(Some(book(id, 3))));
        tx.lending
            .expect_open_loan()
            .with(eq(1))
            .returning(|id| Ok(Some(loan(7, id, 99, false))));
        tx.lending
            .expect_open_loan()
            .with(eq(2))
            .returning(|_| Ok(None));
        tx.lending.expect_close_loan().never();
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        for book_id in [1, 2] {
            let err = return_book(&store, &fixed_clock(), &member_caller(), book_id).unwrap_err();
            assert!(matches!(err, LendingError::NoOpenLoan), "book {book_id}");
        }
    }

    #[test]
    fn overdue_means_open_and_due_before_now() {
        let mut tx = MockTx::new();
        tx.lending
            .expect_list_loans()
            .withf(|f, _| f.overdue_at == Some(at(0)) && f.user_id == Some(2) && f.open.is_none())
            .times(1)
            .returning(|_, _| {
                Ok(Paged {
                    count: 0,
                    results: vec![],
                })
            });
        let store = MockStore::new(tx);
        let query = LoanQuery {
            overdue: true,
            user_id: Some(2),
            ..LoanQuery::default()
        };
        let admin = Admin::check(admin()).unwrap();
        list_loans(&store, &fixed_clock(), &admin, query, Page::default()).unwrap();
    }
}
