//! Bulk import (the seed's `books_bulk_imported` signal): every item is
//! checked before anything is written, then one transaction writes the books,
//! their audit entries, each author's statistics once, the import record and
//! one `books.bulk_imported` event.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use libris_domain::catalog::{BookSnapshot, ImportRecord};
use libris_domain::events::DomainEvent;
use libris_domain::values::{BookTitle, Isbn};
use libris_domain::{FieldError, ValidationErrors};

use crate::access::Admin;
use crate::events::{record, EventContext};
use crate::pagination::{Page, Paged};
use crate::ports::{BookFields, Clock, Store, StoreError, StoreExt, Tx};

/// What the client sent for one item or field: the value, or why it could
/// not be read (missing, or of the wrong JSON type). The adapter carries the
/// problem here instead of failing at the first one, so that one answer names
/// every bad field of every item, beside the problems of values found below.
pub type Sent<T> = Result<T, FieldError>;

/// One item as the client sent it, each field read on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportItem {
    pub title: Sent<String>,
    pub author_id: Sent<i64>,
    pub isbn: Sent<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub import_id: i64,
    pub book_ids: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("an import holds 1 to {limit} items, not {got}")]
    BatchSize { limit: usize, got: usize },
    /// A concurrent write took one of the ISBNs after they were checked.
    #[error("a book with one of these ISBNs was created meanwhile")]
    IsbnTaken,
    /// Every bad item, by index and field; nothing was written.
    #[error(transparent)]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One item after the checks that need no store; a field that failed them
/// (or could not be read) is `None`, its error recorded.
#[derive(Default)]
struct ParsedItem {
    title: Option<String>,
    author_id: Option<i64>,
    /// Canonical, when given and well-formed.
    isbn: Option<String>,
}

fn parse_isbn(raw: Option<String>) -> Result<Option<Isbn>, FieldError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => Isbn::parse(raw).map(Some),
    }
}

/// Checks one item's fields each on its own, recording every problem.
fn parse_item(item: Sent<ImportItem>, errors: &mut ValidationErrors) -> ParsedItem {
    let Some(item) = errors.check(item) else {
        return ParsedItem::default();
    };
    let title = errors.check(item.title.and_then(|t| BookTitle::parse(&t)));
    let author_id = errors.check(item.author_id);
    let isbn = errors.check(item.isbn.and_then(parse_isbn));
    ParsedItem {
        title: title.map(BookTitle::into_inner),
        author_id,
        isbn: isbn.flatten().map(Isbn::into_inner),
    }
}

/// Checks what needs no store: the fields could be read, title and ISBN
/// format, ISBNs unique within the batch. Answers every item parsed, and
/// every problem found, in item order.
fn parse_items(items: Vec<Sent<ImportItem>>) -> (Vec<ParsedItem>, ValidationErrors) {
    let mut errors = ValidationErrors::default();
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    let mut parsed = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let mut problems = ValidationErrors::default();
        let item = parse_item(item, &mut problems);
        if let Some(isbn) = &item.isbn {
            match first_seen.entry(isbn.clone()) {
                Entry::Occupied(first) => {
                    let message = format!("duplicates the ISBN of item {}", first.get());
                    problems.push(FieldError::new("isbn", message));
                }
                Entry::Vacant(slot) => {
                    slot.insert(index);
                }
            }
        }
        errors.0.extend(problems.0.into_iter().map(|e| e.at(index)));
        parsed.push(item);
    }
    (parsed, errors)
}

/// Checks what needs the store: authors exist, ISBNs are free.
fn check_against_catalog(
    tx: &mut dyn Tx,
    items: &[ParsedItem],
    errors: &mut ValidationErrors,
) -> Result<(), StoreError> {
    let mut author_ids: Vec<i64> = items.iter().filter_map(|i| i.author_id).collect();
    author_ids.sort_unstable();
    author_ids.dedup();
    let existing: HashSet<i64> = tx
        .catalog()
        .existing_authors(&author_ids)?
        .into_iter()
        .collect();
    let isbns: Vec<String> = items.iter().filter_map(|i| i.isbn.clone()).collect();
    let taken: HashSet<String> = tx.catalog().isbns_in_use(&isbns)?.into_iter().collect();
    for (index, item) in items.iter().enumerate() {
        if item.author_id.is_some_and(|id| !existing.contains(&id)) {
            errors.push(FieldError::new("author_id", "no author with this id").at(index));
        }
        if item.isbn.as_ref().is_some_and(|isbn| taken.contains(isbn)) {
            errors.push(FieldError::new("isbn", "a book with this ISBN already exists").at(index));
        }
    }
    Ok(())
}

/// The books to write, once every item passed its checks.
fn books(items: Vec<ParsedItem>) -> Vec<BookFields> {
    items
        .into_iter()
        .filter_map(|item| {
            Some(BookFields {
                title: item.title?,
                author_id: item.author_id?,
                isbn: item.isbn,
                available: true,
            })
        })
        .collect()
}

/// An import holds 1 to `limit` items. Adapters check this before reading
/// the items too, so an oversized batch costs no work per item.
pub fn check_batch_size(limit: usize, count: usize) -> Result<(), ImportError> {
    if count == 0 || count > limit {
        return Err(ImportError::BatchSize { limit, got: count });
    }
    Ok(())
}

pub fn bulk_import(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    limit: usize,
    items: Vec<Sent<ImportItem>>,
) -> Result<Imported, ImportError> {
    check_batch_size(limit, items.len())?;
    let (parsed, mut errors) = parse_items(items);
    let user = admin.caller().user_ref();
    let context = EventContext {
        user: Some(user.clone()),
        at: clock.now(),
    };
    let imported = store.write_tx(|tx| {
        check_against_catalog(tx, &parsed, &mut errors)?;
        if !errors.is_empty() {
            errors.0.sort_by_key(|e| e.index);
            return Err(ImportError::Invalid(errors));
        }
        let books = books(parsed);
        let import = tx
            .catalog()
            .insert_import(&user, books.len() as i64, context.at)?;
        let inserted = tx
            .catalog()
            .insert_books(&books, context.at)
            .map_err(|e| match e {
                StoreError::UniqueViolation(_) => ImportError::IsbnTaken,
                other => other.into(),
            })?;
        let event = DomainEvent::BooksBulkImported {
            import_id: import.id,
            user: user.clone(),
            books: inserted.iter().map(BookSnapshot::from).collect(),
        };
        record(tx, &context, &event)?;
        Ok(Imported {
            import_id: import.id,
            book_ids: inserted.iter().map(|b| b.id).collect(),
        })
    })?;
    tracing::info!(
        import_id = imported.import_id,
        count = imported.book_ids.len(),
        user_id = user.id,
        "books bulk imported"
    );
    Ok(imported)
}

pub fn list_imports(
    store: &dyn Store,
    _admin: &Admin,
    page: Page,
) -> Result<Paged<ImportRecord>, StoreError> {
    store.read_tx(|tx| tx.catalog().list_imports(page))
}

#[cfg(test)]
mod tests {
    use libris_domain::audit::AuditAction;
    use libris_domain::catalog::Book;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{admin, at, book, fixed_clock, recorded, MockStore};

    fn item(title: &str, author_id: i64, isbn: Option<&str>) -> Sent<ImportItem> {
        Ok(ImportItem {
            title: Ok(title.into()),
            author_id: Ok(author_id),
            isbn: Ok(isbn.map(Into::into)),
        })
    }

    fn unreadable(field: &str) -> FieldError {
        FieldError::new(field, "expected something else")
    }

    fn admin_caller() -> Admin {
        Admin::check(admin()).unwrap()
    }

    fn import(store: &MockStore, items: Vec<Sent<ImportItem>>) -> Result<Imported, ImportError> {
        bulk_import(store, &fixed_clock(), &admin_caller(), 10, items)
    }

    #[test]
    fn a_valid_batch_writes_books_import_audits_counts_and_one_event() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_existing_authors()
            .returning(|ids| Ok(ids.to_vec()));
        tx.catalog.expect_isbns_in_use().returning(|_| Ok(vec![]));
        tx.catalog
            .expect_insert_import()
            .withf(|u, count, _| u.id == 1 && *count == 3)
            .returning(|user, count, at| {
                Ok(ImportRecord {
                    id: 9,
                    user: user.clone(),
                    count,
                    created_at: at,
                })
            });
        tx.catalog
            .expect_insert_books()
            .withf(|books, _| books.len() == 3 && books[1].isbn.as_deref() == Some("1234567890"))
            .returning(|books, _| {
                Ok(books
                    .iter()
                    .enumerate()
                    .map(|(i, f)| Book {
                        title: f.title.clone(),
                        ..book(100 + i as i64, f.author_id)
                    })
                    .collect())
            });
        tx.audit
            .expect_insert_audit_entries()
            .withf(|e| {
                e.len() == 3
                    && e.iter()
                        .all(|e| e.action == AuditAction::Imported && e.details["import_id"] == 9)
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.catalog
            .expect_add_to_author_counts()
            .times(2)
            .returning(|_, _, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .withf(|e| {
                e.name == "books.bulk_imported"
                    && e.data["count"] == 3
                    && e.data["book_ids"] == serde_json::json!([100, 101, 102])
            })
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let items = vec![
            item("A", 1, None),
            item("B", 1, Some("123-456-7890")),
            item("C", 2, None),
        ];
        let imported = import(&store, items).unwrap();
        assert_eq!(
            imported,
            Imported {
                import_id: 9,
                book_ids: vec![100, 101, 102]
            }
        );
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn every_bad_item_is_named_and_nothing_is_written() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_existing_authors()
            .returning(|_| Ok(vec![1]));
        tx.catalog
            .expect_isbns_in_use()
            .returning(|_| Ok(vec!["9780306406157".into()]));
        tx.catalog.expect_insert_import().never();
        tx.catalog.expect_insert_books().never();
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let items = vec![
            item("Good", 1, Some("1234567890")),
            item(" ", 1, None),
            item("Bad ISBN", 1, Some("12")),
            item("Duplicate", 1, Some("1234567890")),
            item("No author", 5, None),
            item("Taken", 1, Some("978-0-306-40615-7")),
        ];
        let ImportError::Invalid(errors) = import(&store, items).unwrap_err() else {
            panic!("not a validation error")
        };
        let found: Vec<_> = errors
            .0
            .iter()
            .map(|e| (e.index.unwrap(), e.field.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (1, "title"),
                (2, "isbn"),
                (3, "isbn"),
                (4, "author_id"),
                (5, "isbn")
            ]
        );
        assert_eq!(store.rollbacks(), 1);
    }

    #[test]
    fn unreadable_items_and_fields_are_named_with_the_other_problems_in_item_order() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_existing_authors()
            .withf(|ids| ids == [1, 5])
            .returning(|_| Ok(vec![1]));
        tx.catalog.expect_isbns_in_use().returning(|_| Ok(vec![]));
        tx.catalog.expect_insert_import().never();
        tx.catalog.expect_insert_books().never();
        let store = MockStore::new(tx);
        let items = vec![
            Err(unreadable("item")),
            Ok(ImportItem {
                title: Err(unreadable("title")),
                author_id: Ok(5),
                isbn: Ok(Some("12".into())),
            }),
            item("Fine", 1, None),
            Ok(ImportItem {
                title: Ok(" ".into()),
                author_id: Err(unreadable("author_id")),
                isbn: Err(unreadable("isbn")),
            }),
        ];
        let ImportError::Invalid(errors) = import(&store, items).unwrap_err() else {
            panic!("not a validation error")
        };
        let found: Vec<_> = errors
            .0
            .iter()
            .map(|e| (e.index.unwrap(), e.field.as_str(), e.message.as_str()))
            .collect();
        let expected = "expected something else";
        assert_eq!(found[0], (0, "item", expected));
        assert_eq!(found[1], (1, "title", expected));
        assert_eq!((found[2].0, found[2].1), (1, "isbn"));
        assert_eq!(found[3], (1, "author_id", "no author with this id"));
        assert_eq!((found[4].0, found[4].1), (3, "title"));
        assert_eq!(found[5], (3, "author_id", expected));
        assert_eq!(found[6], (3, "isbn", expected));
        assert_eq!(found.len(), 7);
        assert_eq!(store.rollbacks(), 1);
    }

    #[test]
    fn empty_and_oversized_batches_are_refused_before_the_store() {
        let store = MockStore::new(MockTx::new());
        assert!(matches!(
            import(&store, vec![]),
            Err(ImportError::BatchSize { got: 0, .. })
        ));
        let eleven = (0..11).map(|i| item(&format!("T{i}"), 1, None)).collect();
        assert!(matches!(
            import(&store, eleven),
            Err(ImportError::BatchSize { limit: 10, got: 11 })
        ));
        assert_eq!(store.commits() + store.rollbacks(), 0);
    }

    #[test]
    fn a_race_for_an_isbn_at_insert_fails_the_whole_import() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_existing_authors()
            .returning(|ids| Ok(ids.to_vec()));
        tx.catalog.expect_isbns_in_use().returning(|_| Ok(vec![]));
        tx.catalog
            .expect_insert_import()
            .returning(|user, count, _| {
                Ok(ImportRecord {
                    id: 1,
                    user: user.clone(),
                    count,
                    created_at: at(0),
                })
            });
        tx.catalog
            .expect_insert_books()
            .returning(|_, _| Err(StoreError::UniqueViolation("books.isbn".into())));
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let err = import(&store, vec![item("A", 1, Some("1234567890"))]).unwrap_err();
        assert!(matches!(err, ImportError::IsbnTaken));
        assert_eq!(store.rollbacks(), 1);
    }
}
