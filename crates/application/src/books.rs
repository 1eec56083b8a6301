//! Books: create, read, update, delete, each with its audit entry, the
//! author's statistics and its event in the same transaction.

use libris_domain::catalog::{Book, BookId, BookSnapshot};
use libris_domain::events::{note_change, Changes, DomainEvent};
use libris_domain::values::{BookTitle, Isbn};
use libris_domain::{FieldError, ValidationErrors};

use crate::access::Admin;
use crate::events::{record, EventContext};
use crate::pagination::{Page, Paged};
use crate::ports::{BookFields, BookFilter, Clock, Store, StoreError, StoreExt, Tx};

/// Parsed fields of a new book.
#[derive(Debug, Clone)]
pub struct NewBook {
    pub title: BookTitle,
    pub author_id: i64,
    pub isbn: Option<Isbn>,
    pub available: bool,
}

/// Parsed changes to a book; `None` leaves a field as it is, and
/// `isbn: Some(None)` clears the ISBN.
#[derive(Debug, Clone, Default)]
pub struct BookUpdate {
    pub title: Option<BookTitle>,
    pub author_id: Option<i64>,
    pub isbn: Option<Option<Isbn>>,
    pub available: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error("no book with this id")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The book is on loan: it cannot be deleted or marked available.
    #[error("the book is on loan")]
    OnLoan,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for BookError {
    fn from(error: StoreError) -> Self {
        match error {
            // A concurrent write took the ISBN after our check.
            StoreError::UniqueViolation(_) => Self::Invalid(isbn_taken().into()),
            other => Self::Store(other),
        }
    }
}

fn isbn_taken() -> FieldError {
    FieldError::new("isbn", "a book with this ISBN already exists")
}

fn unknown_author() -> FieldError {
    FieldError::new("author", "no author with this id")
}

fn context(admin: &Admin, clock: &dyn Clock) -> EventContext {
    EventContext {
        user: Some(admin.caller().user_ref()),
        at: clock.now(),
    }
}

/// Checks the rules that need the store: the author exists and the ISBN is
/// free. Reports both at once. On update (`current` given) only what changes
/// is checked: the rest was checked when it was written.
fn check_references(
    tx: &mut dyn Tx,
    fields: &BookFields,
    current: Option<&Book>,
) -> Result<(), BookError> {
    let mut errors = ValidationErrors::default();
    let author_changes = current.is_none_or(|book| book.author_id != fields.author_id);
    if author_changes {
        // Both authors' statistics change on a move: the store holds them in
        // its fixed order, not new-then-old, so two opposite moves cannot
        // wait for each other.
        let mut authors = vec![fields.author_id];
        authors.extend(current.map(|book| book.author_id));
        if !tx
            .catalog()
            .existing_authors(&authors)?
            .contains(&fields.author_id)
        {
            errors.push(unknown_author());
        }
    }
    let isbn_changes = current.is_none_or(|book| book.isbn != fields.isbn);
    if let (true, Some(isbn)) = (isbn_changes, &fields.isbn) {
        if tx
            .catalog()
            .isbn_in_use(isbn, current.map(|book| book.id))?
        {
            errors.push(isbn_taken());
        }
    }
    Ok(errors.into_result()?)
}

pub fn create_book(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    new: NewBook,
) -> Result<Book, BookError> {
    let context = context(admin, clock);
    let fields = BookFields {
        title: new.title.into_inner(),
        author_id: new.author_id,
        isbn: new.isbn.map(Isbn::into_inner),
        available: new.available,
    };
    store.write_tx(|tx| {
        check_references(tx, &fields, None)?;
        let book = tx.catalog().insert_book(&fields, context.at)?;
        record(
            tx,
            &context,
            &DomainEvent::BookCreated(BookSnapshot::from(&book)),
        )?;
        Ok(book)
    })
}

pub fn get_book(store: &dyn Store, id: BookId) -> Result<Book, BookError> {
    store
        .read_tx(|tx| tx.catalog().book(id))?
        .ok_or(BookError::NotFound)
}

pub fn list_books(
    store: &dyn Store,
    filter: &BookFilter,
    page: Page,
) -> Result<Paged<Book>, StoreError> {
    store.read_tx(|tx| tx.catalog().list_books(filter, page))
}

/// What an update changes, as `{field: [old, new]}`.
fn changes(before: &Book, after: &BookFields) -> Changes {
    let mut changes = Changes::new();
    note_change(&mut changes, "title", &before.title, &after.title);
    note_change(
        &mut changes,
        "author_id",
        &before.author_id,
        &after.author_id,
    );
    note_change(&mut changes, "isbn", &before.isbn, &after.isbn);
    note_change(
        &mut changes,
        "available",
        &before.available,
        &after.available,
    );
    changes
}

/// Updates a book. Every update is audited and recorded, even one that
/// changes nothing (its `changes` is then empty), as the seed's `post_save`
/// did.
pub fn update_book(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    id: BookId,
    update: BookUpdate,
) -> Result<Book, BookError> {
    let context = context(admin, clock);
    store.write_tx(|tx| {
        let current = tx.catalog().book(id)?.ok_or(BookError::NotFound)?;
        let fields = BookFields {
            title: update
                .title
                .map_or_else(|| current.title.clone(), BookTitle::into_inner),
            author_id: update.author_id.unwrap_or(current.author_id),
            isbn: update
                .isbn
                .map_or_else(|| current.isbn.clone(), |isbn| isbn.map(Isbn::into_inner)),
            available: update.available.unwrap_or(current.available),
        };
        check_references(tx, &fields, Some(&current))?;
        if fields.available && !current.available && tx.lending().open_loan(id)?.is_some() {
            return Err(BookError::OnLoan);
        }
        let changes = changes(&current, &fields);
        let book = tx.catalog().update_book(id, &fields, context.at)?;
        let event = DomainEvent::BookUpdated {
            book: BookSnapshot::from(&book),
            changes,
        };
        record(tx, &context, &event)?;
        Ok(book)
    })
}

/// Deletes a book that is not on loan.
pub fn delete_book(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    id: BookId,
) -> Result<(), BookError> {
    let context = context(admin, clock);
    store.write_tx(|tx| {
        let book = tx.catalog().book(id)?.ok_or(BookError::NotFound)?;
        if tx.lending().open_loan(id)?.is_some() {
            return Err(BookError::OnLoan);
        }
        tx.catalog().delete_book(id)?;
        record(
            tx,
            &context,
            &DomainEvent::BookDeleted(BookSnapshot::from(&book)),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use libris_domain::audit::AuditAction;
    use libris_domain::lending::Loan;
    use mockall::predicate::eq;
    use serde_json::json;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{admin, at, book, fixed_clock, recorded, MockStore};

    fn admin_caller() -> Admin {
        Admin::check(admin()).unwrap()
    }

    fn new_book() -> NewBook {
        NewBook {
            title: BookTitle::parse("Dune").unwrap(),
            author_id: 4,
            isbn: Some(Isbn::parse("1234567890").unwrap()),
            available: true,
        }
    }

    fn loan(book_id: i64) -> Loan {
        Loan {
            id: 1,
            book_id,
            book_title: "Dune".into(),
            user_id: 2,
            borrowed_at: at(0),
            due_at: at(60),
            returned_at: None,
        }
    }

    /// Expects the projections and the event every book change writes.
    /// `counts`: (author, total, available) each author's statistics gain.
    fn expect_recorded(
        tx: &mut MockTx,
        event: &'static str,
        action: AuditAction,
        counts: &[(i64, i64, i64)],
    ) {
        tx.audit
            .expect_insert_audit_entries()
            .withf(move |e| {
                e.len() == 1
                    && e[0].action == action
                    && e[0].user.as_ref().unwrap().username == "admin"
            })
            .times(1)
            .returning(|_| Ok(()));
        for &(author_id, total, available) in counts {
            tx.catalog
                .expect_add_to_author_counts()
                .with(eq(author_id), eq(total), eq(available))
                .times(1)
                .returning(|_, _, _| Ok(()));
        }
        tx.outbox
            .expect_append_event()
            .withf(move |e| e.name == event)
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
    }

    #[test]
    fn create_writes_book_audit_statistics_and_event() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_existing_authors()
            .withf(|ids| ids == [4])
            .returning(|ids| Ok(ids.to_vec()));
        tx.catalog
            .expect_isbn_in_use()
            .with(eq("1234567890"), eq(None))
            .returning(|_, _| Ok(false));
        tx.catalog
            .expect_insert_book()
            .withf(|f, _| f.title == "Dune" && f.isbn.as_deref() == Some("1234567890"))
            .returning(|f, _| {
                Ok(Book {
                    title: f.title.clone(),
                    ..book(1, f.author_id)
                })
            });
        expect_recorded(&mut tx, "book.created", AuditAction::Created, &[(4, 1, 1)]);
        let store = MockStore::new(tx);
        let created = create_book(&store, &fixed_clock(), &admin_caller(), new_book()).unwrap();
        assert_eq!(created.title, "Dune");
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn create_reports_a_missing_author_and_a_taken_isbn_together() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_existing_authors()
            .returning(|_| Ok(Vec::new()));
        tx.catalog.expect_isbn_in_use().returning(|_, _| Ok(true));
        tx.catalog.expect_insert_book().never();
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let err = create_book(&store, &fixed_clock(), &admin_caller(), new_book()).unwrap_err();
        let BookError::Invalid(errors) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["author", "isbn"]);
        assert_eq!(store.rollbacks(), 1);
    }

    #[test]
    fn a_unique_violation_at_insert_is_a_taken_isbn() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_existing_authors()
            .returning(|ids| Ok(ids.to_vec()));
        tx.catalog.expect_isbn_in_use().returning(|_, _| Ok(false));
        tx.catalog
            .expect_insert_book()
            .returning(|_, _| Err(StoreError::UniqueViolation("books.isbn".into())));
        let store = MockStore::new(tx);
        let err = create_book(&store, &fixed_clock(), &admin_caller(), new_book()).unwrap_err();
        assert!(matches!(err, BookError::Invalid(e) if e.0[0].field == "isbn"));
    }

    #[test]
    fn moving_a_book_records_the_change_and_moves_it_between_authors() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_book()
            .returning(|id| Ok(Some(book(id, 3))));
        // The new author is checked, and both are held for their statistics.
        tx.catalog
            .expect_existing_authors()
            .withf(|ids| ids == [4, 3])
            .times(1)
            .returning(|ids| Ok(ids.to_vec()));
        tx.catalog
            .expect_update_book()
            .withf(|id, f, _| *id == 1 && f.author_id == 4 && f.title == "Book 1")
            .returning(|id, f, _| Ok(book(id, f.author_id)));
        tx.audit
            .expect_insert_audit_entries()
            .withf(|e| {
                e[0].action == AuditAction::Updated
                    && e[0].details["changes"]["author_id"] == json!([3, 4])
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.catalog
            .expect_add_to_author_counts()
            .with(eq(3), eq(-1), eq(-1))
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.catalog
            .expect_add_to_author_counts()
            .with(eq(4), eq(1), eq(1))
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .withf(|e| e.name == "book.updated" && e.data["changes"]["author_id"] == json!([3, 4]))
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let update = BookUpdate {
            author_id: Some(4),
            ..BookUpdate::default()
        };
        update_book(&store, &fixed_clock(), &admin_caller(), 1, update).unwrap();
    }

    #[test]
    fn an_update_rechecks_only_the_references_it_changes() {
        let mut tx = MockTx::new();
        tx.catalog.expect_book().returning(|id| {
            Ok(Some(Book {
                isbn: Some("1234567890".into()),
                ..book(id, 3)
            }))
        });
        tx.catalog.expect_existing_authors().never();
        tx.catalog.expect_isbn_in_use().never();
        tx.catalog
            .expect_update_book()
            .withf(|_, f, _| f.title == "Renamed" && f.author_id == 3)
            .returning(|id, f, _| {
                Ok(Book {
                    title: f.title.clone(),
                    ..book(id, 3)
                })
            });
        expect_recorded(&mut tx, "book.updated", AuditAction::Updated, &[]);
        let store = MockStore::new(tx);
        let update = BookUpdate {
            title: Some(BookTitle::parse("Renamed").unwrap()),
            ..BookUpdate::default()
        };
        update_book(&store, &fixed_clock(), &admin_caller(), 1, update).unwrap();
    }

    #[test]
    fn an_update_checks_the_isbn_against_other_books_only() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_book()
            .returning(|id| Ok(Some(book(id, 3))));
        tx.catalog
            .expect_existing_authors()
            .returning(|ids| Ok(ids.to_vec()));
        tx.catalog
            .expect_isbn_in_use()
            .with(eq("9780306406157"), eq(Some(1)))
            .returning(|_, _| Ok(true));
        tx.catalog.expect_update_book().never();
        let store = MockStore::new(tx);
        let update = BookUpdate {
            isbn: Some(Some(Isbn::parse("978-0-306-40615-7").unwrap())),
            ..BookUpdate::default()
        };
        let err = update_book(&store, &fixed_clock(), &admin_caller(), 1, update).unwrap_err();
        assert!(matches!(err, BookError::Invalid(e) if e.0[0].field == "isbn"));
    }

    #[test]
    fn a_book_on_loan_cannot_be_marked_available_or_deleted() {
        let mut tx = MockTx::new();
        tx.catalog.expect_book().returning(|id| {
            Ok(Some(Book {
                available: false,
                ..book(id, 3)
            }))
        });
        tx.catalog
            .expect_existing_authors()
            .returning(|ids| Ok(ids.to_vec()));
        tx.lending
            .expect_open_loan()
            .returning(|id| Ok(Some(loan(id))));
        tx.catalog.expect_update_book().never();
        tx.catalog.expect_delete_book().never();
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let update = BookUpdate {
            available: Some(true),
            ..BookUpdate::default()
        };
        let err = update_book(&store, &fixed_clock(), &admin_caller(), 1, update).unwrap_err();
        assert!(matches!(err, BookError::OnLoan));
        let err = delete_book(&store, &fixed_clock(), &admin_caller(), 1).unwrap_err();
        assert!(matches!(err, BookError::OnLoan));
    }

    #[test]
    fn delete_writes_audit_statistics_and_event() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_book()
            .returning(|id| Ok(Some(book(id, 3))));
        tx.lending.expect_open_loan().returning(|_| Ok(None));
        tx.catalog
            .expect_delete_book()
            .with(eq(1))
            .times(1)
            .returning(|_| Ok(()));
        expect_recorded(
            &mut tx,
            "book.deleted",
            AuditAction::Deleted,
            &[(3, -1, -1)],
        );
        let store = MockStore::new(tx);
        delete_book(&store, &fixed_clock(), &admin_caller(), 1).unwrap();
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn missing_books_are_not_found() {
        let mut tx = MockTx::new();
        tx.catalog.expect_book().returning(|_| Ok(None));
        let store = MockStore::new(tx);
        assert!(matches!(get_book(&store, 1), Err(BookError::NotFound)));
        assert!(matches!(
            update_book(
                &store,
                &fixed_clock(),
                &admin_caller(),
                1,
                BookUpdate::default()
            ),
            Err(BookError::NotFound)
        ));
        assert!(matches!(
            delete_book(&store, &fixed_clock(), &admin_caller(), 1),
            Err(BookError::NotFound)
        ));
    }

    #[test]
    fn a_failure_after_the_event_rolls_everything_back() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_existing_authors()
            .returning(|ids| Ok(ids.to_vec()));
        tx.catalog.expect_isbn_in_use().returning(|_, _| Ok(false));
        tx.catalog
            .expect_insert_book()
            .returning(|f, _| Ok(book(1, f.author_id)));
        tx.audit.expect_insert_audit_entries().returning(|_| Ok(()));
        tx.catalog
            .expect_add_to_author_counts()
            .returning(|_, _, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .returning(|_| Err(StoreError::Unexpected("outbox write failed".into())));
        let store = MockStore::new(tx);
        let err = create_book(&store, &fixed_clock(), &admin_caller(), new_book()).unwrap_err();
        assert!(matches!(err, BookError::Store(_)));
        assert_eq!((store.commits(), store.rollbacks()), (0, 1));
    }
}
