//! Recording domain events: the in-transaction handlers (Django's `post_save`
//! receivers, done right) and the outbox append.
//!
//! A handler sees an event and answers with [`Projection`]s: plain data that
//! [`record`] applies to the same transaction. Handlers get no store handle, so
//! they cannot publish events or call use cases: no recursion by construction.

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
    /// Recompute the author's book counts from the books table.
    RecountAuthor(AuthorId),
    /// Recompute the member's `books_borrowed` / `books_returned` from loans.
    RecountMemberLoans(UserId),
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
        let mut authors: Vec<AuthorId> = match event {
            DomainEvent::BookCreated(book)
            | DomainEvent::BookDeleted(book)
            | DomainEvent::BookBorrowed { book, .. }
            | DomainEvent::BookReturned { book, .. } => vec![book.author_id],
            DomainEvent::BookUpdated { book, changes } => {
                let previous = changes.get("author_id").and_then(|(old, _)| old.as_i64());
                std::iter::once(book.author_id).chain(previous).collect()
            }
            DomainEvent::BooksBulkImported { books, .. } => {
                books.iter().map(|b| b.author_id).collect()
            }
            _ => Vec::new(),
        };
        // Each affected author once, however many of their books changed.
        authors.sort_unstable();
        authors.dedup();
        authors.into_iter().map(Projection::RecountAuthor).collect()
    }
}

impl EventHandler for MemberCounters {
    fn project(&self, event: &DomainEvent, _: &EventContext) -> Vec<Projection> {
        match event {
            DomainEvent::BookBorrowed { user, .. } | DomainEvent::BookReturned { user, .. } => {
                vec![Projection::RecountMemberLoans(user.id)]
            }
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
                Projection::RecountAuthor(author_id) => tx.catalog().recount_author(author_id)?,
                Projection::RecountMemberLoans(user_id) => {
                    tx.accounts().recount_member_loans(user_id)?
                }
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
    fn a_moved_book_recounts_both_authors_once_each() {
        let mut changes = Changes::new();
        changes.insert("author_id", (json!(3), json!(7)));
        let event = DomainEvent::BookUpdated {
            book: book_snapshot(1, 7),
            changes,
        };
        assert_eq!(
            AuthorStatistics.project(&event, &context()),
            vec![Projection::RecountAuthor(3), Projection::RecountAuthor(7)]
        );
    }

    #[test]
    fn a_bulk_import_recounts_each_author_once_and_audits_each_book() {
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
            vec![Projection::RecountAuthor(2), Projection::RecountAuthor(5)]
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
            .expect_recount_author()
            .with(eq(4))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
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
