//! Authors: create, read, update, delete. Their book counts are never written
//! here; the statistics handler keeps them true.

use libris_domain::catalog::{Author, AuthorId, AuthorSnapshot};
use libris_domain::events::DomainEvent;
use libris_domain::values::AuthorName;

use crate::access::Admin;
use crate::events::{record, EventContext};
use crate::pagination::{Page, Paged};
use crate::ports::{AuthorFields, Clock, Store, StoreError, StoreExt};

/// Parsed fields of a new author.
#[derive(Debug, Clone)]
pub struct NewAuthor {
    pub name: AuthorName,
    pub bio: String,
}

/// Parsed changes to an author; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AuthorUpdate {
    pub name: Option<AuthorName>,
    pub bio: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    #[error("no author with this id")]
    NotFound,
    #[error("the author still has {0} book(s)")]
    HasBooks(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn context(admin: &Admin, clock: &dyn Clock) -> EventContext {
    EventContext {
        user: Some(admin.caller().user_ref()),
        at: clock.now(),
    }
}

pub fn create_author(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    new: NewAuthor,
) -> Result<Author, AuthorError> {
    let context = context(admin, clock);
    let fields = AuthorFields {
        name: new.name.into_inner(),
        bio: new.bio,
    };
    store.write_tx(|tx| {
        let author = tx.catalog().insert_author(&fields, context.at)?;
        record(
            tx,
            &context,
            &DomainEvent::AuthorCreated(AuthorSnapshot::from(&author)),
        )?;
        Ok(author)
    })
}

pub fn get_author(store: &dyn Store, id: AuthorId) -> Result<Author, AuthorError> {
    store
        .read_tx(|tx| tx.catalog().author(id))?
        .ok_or(AuthorError::NotFound)
}

pub fn list_authors(store: &dyn Store, page: Page) -> Result<Paged<Author>, StoreError> {
    store.read_tx(|tx| tx.catalog().list_authors(page))
}

pub fn update_author(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    id: AuthorId,
    update: AuthorUpdate,
) -> Result<Author, AuthorError> {
    let context = context(admin, clock);
    store.write_tx(|tx| {
        let current = tx.catalog().author(id)?.ok_or(AuthorError::NotFound)?;
        let fields = AuthorFields {
            name: update.name.map_or(current.name, AuthorName::into_inner),
            bio: update.bio.unwrap_or(current.bio),
        };
        let author = tx.catalog().update_author(id, &fields)?;
        record(
            tx,
            &context,
            &DomainEvent::AuthorUpdated(AuthorSnapshot::from(&author)),
        )?;
        Ok(author)
    })
}

/// Deletes an author who has no books; one with books is a conflict.
pub fn delete_author(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    id: AuthorId,
) -> Result<(), AuthorError> {
    let context = context(admin, clock);
    store.write_tx(|tx| {
        let author = tx.catalog().author(id)?.ok_or(AuthorError::NotFound)?;
        let books = tx.catalog().count_books_by(id)?;
        if books > 0 {
            return Err(AuthorError::HasBooks(books));
        }
        tx.catalog().delete_author(id)?;
        record(
            tx,
            &context,
            &DomainEvent::AuthorDeleted(AuthorSnapshot::from(&author)),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{admin, author, fixed_clock, recorded, MockStore};

    fn admin_caller() -> Admin {
        Admin::check(admin()).unwrap()
    }

    #[test]
    fn create_records_author_created_with_zero_counts() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_insert_author()
            .withf(|f, _| f.name == "Ursula K. Le Guin")
            .returning(|f, _| Ok(author(3, &f.name)));
        tx.outbox
            .expect_append_event()
            .withf(|e| {
                e.name == "author.created"
                    && e.data["total_books"] == 0
                    && e.user.as_ref().unwrap().id == 1
            })
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let new = NewAuthor {
            name: AuthorName::parse("Ursula K. Le Guin").unwrap(),
            bio: String::new(),
        };
        assert_eq!(
            create_author(&store, &fixed_clock(), &admin_caller(), new)
                .unwrap()
                .id,
            3
        );
    }

    #[test]
    fn update_keeps_fields_not_given() {
        let mut tx = MockTx::new();
        tx.catalog.expect_author().returning(|id| {
            Ok(Some(Author {
                bio: "old bio".into(),
                ..author(id, "Old")
            }))
        });
        tx.catalog
            .expect_update_author()
            .withf(|id, f| *id == 3 && f.name == "New" && f.bio == "old bio")
            .returning(|id, f| Ok(author(id, &f.name)));
        tx.outbox
            .expect_append_event()
            .withf(|e| e.name == "author.updated" && e.data["name"] == "New")
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let update = AuthorUpdate {
            name: Some(AuthorName::parse("New").unwrap()),
            bio: None,
        };
        update_author(&store, &fixed_clock(), &admin_caller(), 3, update).unwrap();
    }

    #[test]
    fn update_or_delete_of_a_missing_author_is_not_found() {
        let mut tx = MockTx::new();
        tx.catalog.expect_author().returning(|_| Ok(None));
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let update = update_author(
            &store,
            &fixed_clock(),
            &admin_caller(),
            9,
            AuthorUpdate::default(),
        );
        assert!(matches!(update, Err(AuthorError::NotFound)));
        let delete = delete_author(&store, &fixed_clock(), &admin_caller(), 9);
        assert!(matches!(delete, Err(AuthorError::NotFound)));
        assert!(matches!(get_author(&store, 9), Err(AuthorError::NotFound)));
    }

    #[test]
    fn an_author_with_books_cannot_be_deleted() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_author()
            .returning(|id| Ok(Some(author(id, "A"))));
        tx.catalog
            .expect_count_books_by()
            .with(eq(3))
            .returning(|_| Ok(2));
        tx.catalog.expect_delete_author().never();
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let err = delete_author(&store, &fixed_clock(), &admin_caller(), 3).unwrap_err();
        assert!(matches!(err, AuthorError::HasBooks(2)));
        assert_eq!(store.rollbacks(), 1);
    }

    #[test]
    fn delete_records_author_deleted() {
        let mut tx = MockTx::new();
        tx.catalog
            .expect_author()
            .returning(|id| Ok(Some(author(id, "A"))));
        tx.catalog.expect_count_books_by().returning(|_| Ok(0));
        tx.catalog
            .expect_delete_author()
            .with(eq(3))
            .times(1)
            .returning(|_| Ok(()));
        tx.outbox
            .expect_append_event()
            .withf(|e| e.name == "author.deleted" && e.data["id"] == 3)
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        delete_author(&store, &fixed_clock(), &admin_caller(), 3).unwrap();
        assert_eq!(store.commits(), 1);
    }
}
