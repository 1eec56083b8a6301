//! Test doubles shared by this crate's unit tests and other crates' tests
//! (feature `mock`): a [`Store`] that hands every transaction to one `MockTx`,
//! and small fixtures.

use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use libris_domain::accounts::{Account, Profile, User};
use libris_domain::catalog::{Author, Book, BookSnapshot};
use libris_domain::events::RecordedEvent;
use uuid::Uuid;

use crate::ports::{Caller, MockClock, MockTx, Store, StoreError, Tx};

/// A store whose every transaction runs against one mock. `committed` counts
/// the transactions whose body asked to commit.
pub struct MockStore {
    tx: Mutex<MockTx>,
    pub committed: Mutex<usize>,
    pub rolled_back: Mutex<usize>,
}

impl MockStore {
    pub fn new(tx: MockTx) -> Self {
        Self {
            tx: Mutex::new(tx),
            committed: Mutex::new(0),
            rolled_back: Mutex::new(0),
        }
    }

    pub fn commits(&self) -> usize {
        *self.committed.lock().unwrap()
    }

    pub fn rollbacks(&self) -> usize {
        *self.rolled_back.lock().unwrap()
    }
}

impl Store for MockStore {
    fn write(&self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError> {
        let commit = work(&mut *self.tx.lock().unwrap());
        *if commit {
            &self.committed
        } else {
            &self.rolled_back
        }
        .lock()
        .unwrap() += 1;
        Ok(())
    }

    fn read(&self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError> {
        work(&mut *self.tx.lock().unwrap());
        Ok(())
    }
}

/// A fixed instant, `seconds` after 2026-01-01T00:00:00Z.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

/// A clock that always answers [`at`]`(0)`.
pub fn fixed_clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().returning(|| at(0));
    clock
}

pub fn admin() -> Caller {
    Caller {
        id: 1,
        username: "admin".into(),
        is_admin: true,
    }
}

pub fn member() -> Caller {
    Caller {
        id: 2,
        username: "member".into(),
        is_admin: false,
    }
}

pub fn user(id: i64, username: &str, is_admin: bool) -> User {
    User {
        id,
        username: username.into(),
        email: format!("{username}@example.com"),
        is_admin,
        has_password: true,
        created_at: at(0),
    }
}

pub fn account(id: i64, username: &str, is_admin: bool) -> Account {
    Account {
        user: user(id, username, is_admin),
        profile: Profile::default(),
    }
}

pub fn author(id: i64, name: &str) -> Author {
    Author {
        id,
        name: name.into(),
        bio: String::new(),
        total_books: 0,
        available_books: 0,
        created_at: at(0),
    }
}

pub fn book(id: i64, author_id: i64) -> Book {
    Book {
        id,
        title: format!("Book {id}"),
        author_id,
        author_name: format!("Author {author_id}"),
        isbn: None,
        available: true,
        created_at: at(0),
        updated_at: at(0),
    }
}

pub fn book_snapshot(id: i64, author_id: i64) -> BookSnapshot {
    BookSnapshot::from(&book(id, author_id))
}

pub fn recorded(name: &str) -> RecordedEvent {
    RecordedEvent {
        id: Uuid::nil(),
        event: name.into(),
        timestamp: at(0),
        data: serde_json::Value::Null,
        user: None,
        about: None,
    }
}

/// An active subscription created at [`at`]`(0)` with secret `my-secret-key`.
pub fn webhook(
    url: &str,
    events: Vec<libris_domain::events::EventPattern>,
) -> libris_domain::webhooks::Webhook {
    libris_domain::webhooks::Webhook {
        id: Uuid::nil(),
        url: url.into(),
        url_password: None,
        owner: None,
        options: Default::default(),
        events,
        secret: "my-secret-key".into(),
        is_active: true,
        headers: vec![],
        description: String::new(),
        created_at: at(0),
        updated_at: at(0),
        failure_count: 0,
        failing_since: None,
        disabled_reason: None,
    }
}

/// Delivery 5 of event 1 to webhook 7, pending, due at [`at`]`(0)`.
pub fn delivery(attempts: i64) -> libris_domain::webhooks::Delivery {
    libris_domain::webhooks::Delivery {
        id: 5,
        webhook_id: Uuid::from_u128(7),
        event_id: Uuid::from_u128(1),
        event: "book.created".into(),
        status: libris_domain::webhooks::DeliveryStatus::Pending,
        attempts,
        retry_base: 0,
        next_attempt_at: at(0),
        last_error: None,
        created_at: at(0),
    }
}
