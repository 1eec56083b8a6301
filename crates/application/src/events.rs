//! Recording domain events: the in-transaction handlers (Django's `post_save`
//! receivers, done right) and the outbox append.
//!
//! A handler sees an event and answers with [`Projection`]s: plain data that
//! [`record`] applies to the same transaction. Handlers get no store handle, so
//! they cannot publish events or call use cases: no recursion by construction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use libris_domain::accounts::{UserId, UserRef};
use libris_domain::audit::{AuditAction, NewAuditEntry};
use libris_domain::catalog::{AuthorId, BookSnapshot};
use libris_domain::events::{DomainEvent, RecordedEvent};
use serde_json::json;

use crate::ports::{NewEvent, StoreError, Tx};

/// A write an in-transaction handler asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    Audit(NewAuditEntry),
    /// Add to the author's `total_books` / `available_books`.
    CountAuthorBooks {
        author_id: AuthorId,
        total: i64,
        available: i64,
    },
    /// Add to the member's `books_borrowed` / `books_returned`.
    CountMemberLoans {
        user_id: UserId,
        borrowed: i64,
        returned: i64,
    },
}

/// Who did it and when, as every handler needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventContext {
    pub user: Option<UserRef>,
    pub at: DateTime<Utc>,
}

pub trait EventHandler: Sync {
    fn project(&self, event: &DomainEvent, context: &EventContext) -> Vec<Projection>;
}

/// Writes the audit log of book changes.
pub struct AuditLog;

/// Keeps each author's `total_books` / `available_books` true.
pub struct AuthorStatistics;

/// Keeps each member's loan counters true.
pub struct MemberCounters;

/// The handlers run, in order, for every recorded event.
pub const HANDLERS: [&dyn EventHandler; 3] = [&AuditLog, &AuthorStatistics, &MemberCounters];

impl EventHandler for AuditLog {
    fn project(&self, event: &DomainEvent, context: &EventContext) -> Vec<Projection> {
        let entry = |book: &BookSnapshot, action, details| {
            Projection::Audit(NewAuditEntry {
                book_id: book.id,
                book_title: book.title.clone(),
                action,
                user: context.user.clone(),
                at: context.at,
                details,
            })
        };
        match event {
            DomainEvent::BookCreated(book) => {
                vec![entry(book, AuditAction::Created, json!({ "book": book }))]
            }
            DomainEvent::BookUpdated { book, changes } => {
                vec![entry(
                    book,
                    AuditAction::Updated,
                    json!({ "changes": changes }),
                )]
            }
            DomainEvent::BookDeleted(book) => {
                vec![entry(book, AuditAction::Deleted, json!({ "book": book }))]
            }
            DomainEvent::BookBorrowed { book, user, loan } => vec![entry(
                book,
                AuditAction::Borrowed,
                json!({ "loan_id": loan.id, "member": user, "due_at": loan.due_at }),
            )],
            DomainEvent::BookReturned { book, user, loan } => vec![entry(
                book,
                AuditAction::Returned,
                json!({ "loan_id": loan.id, "member": user }),
            )],
            DomainEvent::BooksBulkImported {
                import_id, books, ..
            } => books
                .iter()
                .map(|book| {
                    entry(
                        book,
                        AuditAction::Imported,
                        json!({ "import_id": import_id }),
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl EventHandler for AuthorStatistics {
    fn project(&self, event: &DomainEvent, _: &EventContext) -> Vec<Projection> {
        // (total, available) to add, by author. Ascending ids: the order
        // every writer locks authors in.
        let mut deltas: BTreeMap<AuthorId, (i64, i64)> = BTreeMap::new();
        let mut add = |author_id, total, available: bool| {
            let delta = deltas.entry(author_id).or_default();
            delta.0 += total;
            delta.1 += total * i64::from(available);
        };
        match event {
            DomainEvent::BookCreated(book) => add(book.author_id, 1, book.available),
            DomainEvent::BookDeleted(book) => add(book.author_id, -1, book.available),
            DomainEvent::BookBorrowed { book, .. } => {
                deltas.entry(book.author_id).or_default().1 -= 1;
            }
            DomainEvent::BookReturned { book, .. } => {
                deltas.entry(book.author_id).or_default().1 += 1;
            }
            DomainEvent::BookUpdated { book, changes } => {
                // The book as it was: its new fields, with the changed ones
                // taken back.
                let was_author = changes
                    .get("author_id")
                    .and_then(|(old, _)| old.as_i64())
                    .unwrap_or(book.author_id);
                let was_available = changes
                    .get("available")
                    .and_then(|(old, _)| old.as_bool())
                    .unwrap_or(book.available);
                add(was_author, -1, was_available);
                add(book.author_id, 1, book.available);
            }
            DomainEvent::BooksBulkImported { books, .. } => {
                for book in books {
                    add(book.author_id, 1, book.available);
                }
            }
            _ => {}
        }
        deltas
            .into_iter()
            .filter(|(_, delta)| *delta != (0, 0))
            .map(
                |(author_id, (total, available))| Projection::CountAuthorBooks {
                    author_id,
                    total,
                    available,
                },
            )
            .collect()
    }
}

impl EventHandler for MemberCounters {
    fn project(&self, event: &DomainEvent, _: &EventContext) -> Vec<Projection> {
        match event {
            DomainEvent::BookBorrowed { user, .. } => vec![Projection::CountMemberLoans {
                user_id: user.id,
                borrowed: 1,
                returned: 0,
            }],
            // The borrower's counter, whoever returned the book.
            DomainEvent::BookReturned { user, .. } => vec![Projection::CountMemberLoans {
                user_id: user.id,
                borrowed: 0,
                returned: 1,
            }],
            _ => Vec::new(),
        }
    }
}

/// Runs every handler's projections and appends the event to the outbox, all
/// in the caller's transaction.
pub fn record(
    tx: &mut dyn Tx,
    context: &EventContext,
    event: &DomainEvent,
) -> Result<RecordedEvent, StoreError> {
    for handler in HANDLERS {
        let mut audit_entries = Vec::new();
        for projection in handler.project(event, context) {
            match projection {
                Projection::Audit(entry) => audit_entries.push(entry),
                Projection::CountAuthorBooks {
                    author_id,
                    total,
                    available,
                } => tx
                    .catalog()
                    .add_to_author_counts(author_id, total, available)?,
                Projection::CountMemberLoans {
                    user_id,
                    borrowed,
                    returned,
                } => tx
                    .accounts()
                    .add_to_member_loans(user_id, borrowed, returned)?,
            }
        }
        // One write for all of them: a bulk import audits thousands of books.
        if !audit_entries.is_empty() {
            tx.audit().insert_audit_entries(&audit_entries)?;
        }
    }
    tx.outbox().append_event(&NewEvent {
        name: event.name().to_owned(),
        data: event.data(),
        user: context.user.clone(),
        at: context.at,
        about: event.about(),
    })
}

#[cfg(test)]
mod tests {
    use libris_domain::events::Changes;
    use libris_domain::lending::LoanSnapshot;
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{at, book_snapshot, recorded};

    fn context() -> EventContext {
        EventContext {
            user: Some(UserRef {
                id: 1,
                username: "admin".into(),
            }),
            at: at(0),
        }
    }

    #[test]
    fn a_moved_book_leaves_one_author_for_the_other() {
        let mut changes = Changes::new();
        changes.insert("author_id", (json!(3), json!(7)));
        let event = DomainEvent::BookUpdated {
            book: book_snapshot(1, 7),
            changes,
        };
        assert_eq!(
            AuthorStatistics.project(&event, &context()),
            vec![author_counts(3, -1, -1), author_counts(7, 1, 1)]
        );
    }

    #[test]
    fn a_moved_book_that_was_lent_moves_no_available_copy() {
        let mut changes = Changes::new();
        changes.insert("author_id", (json!(7), json!(3)));
        let mut book = book_snapshot(1, 3);
        book.available = false;
        let event = DomainEvent::BookUpdated { book, changes };
        assert_eq!(
            AuthorStatistics.project(&event, &context()),
            vec![author_counts(3, 1, 0), author_counts(7, -1, 0)]
        );
    }

    #[test]
    fn an_update_of_availability_alone_changes_only_the_available_count() {
        let mut changes = Changes::new();
        changes.insert("available", (json!(true), json!(false)));
        let mut book = book_snapshot(1, 4);
        book.available = false;
        let event = DomainEvent::BookUpdated { book, changes };
        assert_eq!(
            AuthorStatistics.project(&event, &context()),
            vec![author_counts(4, 0, -1)]
        );
    }

    #[test]
    fn a_title_change_counts_nothing() {
        let mut changes = Changes::new();
        changes.insert("title", (json!("Dune"), json!("Dune Messiah")));
        let event = DomainEvent::BookUpdated {
            book: book_snapshot(1, 4),
            changes,
        };
        assert!(AuthorStatistics.project(&event, &context()).is_empty());
    }

    #[test]
    fn creating_deleting_borrowing_and_returning_count_by_one() {
        let book = book_snapshot(1, 4);
        let mut lent = book.clone();
        lent.available = false;
        let user = UserRef {
            id: 8,
            username: "ada".into(),
        };
        let loan = loan();
        let cases = [
            (DomainEvent::BookCreated(book.clone()), (1, 1)),
            (DomainEvent::BookDeleted(book.clone()), (-1, -1)),
            (DomainEvent::BookDeleted(lent.clone()), (-1, 0)),
            (
                DomainEvent::BookBorrowed {
                    book: lent.clone(),
                    user: user.clone(),
                    loan: loan.clone(),
                },
                (0, -1),
            ),
            (
                DomainEvent::BookReturned {
                    book: book.clone(),
                    user: user.clone(),
                    loan,
                },
                (0, 1),
            ),
        ];
        for (event, (total, available)) in cases {
            assert_eq!(
                AuthorStatistics.project(&event, &context()),
                vec![author_counts(4, total, available)],
                "{}",
                event.name()
            );
        }
    }

    #[test]
    fn the_borrower_counts_a_loan_and_its_return_whoever_returns_it() {
        let user = UserRef {
            id: 8,
            username: "ada".into(),
        };
        let loan = loan();
        let borrowed = DomainEvent::BookBorrowed {
            book: book_snapshot(1, 4),
            user: user.clone(),
            loan: loan.clone(),
        };
        let returned = DomainEvent::BookReturned {
            book: book_snapshot(1, 4),
            user,
            loan,
        };
        assert_eq!(
            MemberCounters.project(&borrowed, &context()),
            vec![Projection::CountMemberLoans {
                user_id: 8,
                borrowed: 1,
                returned: 0
            }]
        );
        assert_eq!(
            MemberCounters.project(&returned, &context()),
            vec![Projection::CountMemberLoans {
                user_id: 8,
                borrowed: 0,
                returned: 1
            }]
        );
    }

    fn loan() -> LoanSnapshot {
        LoanSnapshot {
            id: 5,
            borrowed_at: at(0),
            due_at: at(60),
            returned_at: None,
        }
    }

    fn author_counts(author_id: AuthorId, total: i64, available: i64) -> Projection {
        Projection::CountAuthorBooks {
            author_id,
            total,
            available,
        }
    }

    #[test]
    fn a_bulk_import_counts_each_author_once_and_audits_each_book() {
        let event = DomainEvent::BooksBulkImported {
            import_id: 9,
            user: UserRef {
                id: 1,
                username: "admin".into(),
            },
            books: vec![
                book_snapshot(1, 2),
                book_snapshot(2, 2),
                book_snapshot(3, 5),
            ],
        };
        assert_eq!(
            AuthorStatistics.project(&event, &context()),
            vec![author_counts(2, 2, 2), author_counts(5, 1, 1)]
        );
        let audits = AuditLog.project(&event, &context());
        assert_eq!(audits.len(), 3);
        assert!(
            matches!(&audits[0], Projection::Audit(e) if e.action == AuditAction::Imported && e.details["import_id"] == 9)
        );
    }

    #[test]
    fn author_and_user_events_touch_no_book_projection() {
        let event = DomainEvent::UserCreated {
            id: 1,
            username: "a".into(),
            email: "a@b.c".into(),
            is_admin: false,
        };
        for handler in HANDLERS {
            assert!(handler.project(&event, &context()).is_empty());
        }
    }

    #[test]
    fn record_applies_projections_then_appends_the_event() {
        let mut tx = MockTx::new();
        let mut seq = mockall::Sequence::new();
        tx.audit
            .expect_insert_audit_entries()
            .withf(|e| e.len() == 1 && e[0].action == AuditAction::Created && e[0].book_id == 1)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        tx.catalog
            .expect_add_to_author_counts()
            .with(eq(4), eq(1), eq(1))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .withf(|e| e.name == "book.created" && e.data["author_id"] == 4)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|e| Ok(recorded(&e.name)));
        let event = DomainEvent::BookCreated(book_snapshot(1, 4));
        record(&mut tx, &context(), &event).unwrap();
    }

    #[test]
    fn a_failing_handler_stops_before_the_event_is_appended() {
        let mut tx = MockTx::new();
        tx.audit
            .expect_insert_audit_entries()
            .returning(|_| Err(StoreError::Unexpected("disk full".into())));
        tx.outbox.expect_append_event().never();
        let event = DomainEvent::BookDeleted(book_snapshot(1, 4));
        assert!(record(&mut tx, &context(), &event).is_err());
    }
}
