//! Domain events: what happened, in the shape receivers get. Each change
//! records one; in-transaction handlers derive audit entries and counters
//! from it, and the outbox carries it to subscribers.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::accounts::{User, UserId, UserRef};
use crate::catalog::{AuthorSnapshot, BookSnapshot};
use crate::lending::LoanSnapshot;
use crate::FieldError;

/// The families of [`BUILT_IN_EVENTS`]; custom events may not use them.
pub const BUILT_IN_FAMILIES: [&str; 6] = ["book", "books", "author", "user", "webhook", "campaign"];

/// The names Libris itself emits.
pub const BUILT_IN_EVENTS: [&str; 20] = [
    "book.created",
    "book.updated",
    "book.deleted",
    "book.borrowed",
    "book.returned",
    "books.bulk_imported",
    "author.created",
    "author.updated",
    "author.deleted",
    "user.created",
    "user.updated",
    "user.deleted",
    "webhook.test",
    "webhook.disabled",
    "campaign.created",
    "campaign.updated",
    "campaign.deleted",
    "campaign.started",
    "campaign.finished",
    "campaign.cancelled",
];

/// A field's value before and after an update.
pub type Changes = BTreeMap<&'static str, (Value, Value)>;

/// Adds `field` to `changes` as `[old, new]` when the two differ.
pub fn note_change<T: Serialize + PartialEq + ?Sized>(
    changes: &mut Changes,
    field: &'static str,
    old: &T,
    new: &T,
) {
    if old != new {
        changes.insert(field, (json!(old), json!(new)));
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    BookCreated(BookSnapshot),
    BookUpdated {
        book: BookSnapshot,
        changes: Changes,
    },
    BookDeleted(BookSnapshot),
    BookBorrowed {
        book: BookSnapshot,
        user: UserRef,
        loan: LoanSnapshot,
    },
    BookReturned {
        book: BookSnapshot,
        user: UserRef,
        loan: LoanSnapshot,
    },
    /// One event for a whole import. It carries every book so the audit
    /// handler can write one entry per book; `data()` publishes only the ids.
    BooksBulkImported {
        import_id: i64,
        user: UserRef,
        books: Vec<BookSnapshot>,
    },
    AuthorCreated(AuthorSnapshot),
    AuthorUpdated(AuthorSnapshot),
    AuthorDeleted(AuthorSnapshot),
    UserCreated {
        id: UserId,
        username: String,
        email: String,
        is_admin: bool,
    },
    /// A member changed, by an admin or by themselves. `changes` names each
    /// attribute that changed (`{field: [old, new]}`); a password is never
    /// shown, only that it changed.
    UserUpdated {
        id: UserId,
        username: String,
        email: String,
        is_admin: bool,
        changes: Changes,
    },
    UserDeleted {
        id: UserId,
        username: String,
    },
    WebhookTest {
        webhook_id: Uuid,
    },
    WebhookDisabled {
        webhook_id: Uuid,
        url: String,
        reason: String,
    },
    Custom {
        name: CustomEventName,
        data: Value,
        /// The member it is about, as the poster said.
        about: Option<UserId>,
    },
}

impl DomainEvent {
    pub fn user_created(user: &User) -> Self {
        Self::UserCreated {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            is_admin: user.is_admin,
        }
    }

    /// `user.updated` of `user` as it is now.
    pub fn user_updated(user: &User, changes: Changes) -> Self {
        Self::UserUpdated {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            is_admin: user.is_admin,
            changes,
        }
    }

    /// The member this event is about (a member's own webhooks receive only
    /// these): the borrower of a loan, the member changed or deleted, the
    /// user a custom event names.
    pub fn about(&self) -> Option<UserId> {
        match self {
            Self::BookBorrowed { user, .. } | Self::BookReturned { user, .. } => Some(user.id),
            Self::UserUpdated { id, .. } | Self::UserDeleted { id, .. } => Some(*id),
            Self::Custom { about, .. } => *about,
            _ => None,
        }
    }

    /// The public event name (docs/api.md, "Events").
    pub fn name(&self) -> &str {
        match self {
            Self::BookCreated(_) => "book.created",
            Self::BookUpdated { .. } => "book.updated",
            Self::BookDeleted(_) => "book.deleted",
            Self::BookBorrowed { .. } => "book.borrowed",
            Self::BookReturned { .. } => "book.returned",
            Self::BooksBulkImported { .. } => "books.bulk_imported",
            Self::AuthorCreated(_) => "author.created",
            Self::AuthorUpdated(_) => "author.updated",
            Self::AuthorDeleted(_) => "author.deleted",
            Self::UserCreated { .. } => "user.created",
            Self::UserUpdated { .. } => "user.updated",
            Self::UserDeleted { .. } => "user.deleted",
            Self::WebhookTest { .. } => "webhook.test",
            Self::WebhookDisabled { .. } => "webhook.disabled",
            Self::Custom { name, .. } => name.as_str(),
        }
    }

    /// The event's `data`, in the canonical shape docs/events.md gives.
    pub fn data(&self) -> Value {
        fn with(base: &impl Serialize, extra: Value) -> Value {
            let mut value = serde_json::to_value(base).unwrap_or_default();
            if let (Value::Object(map), Value::Object(extra)) = (&mut value, extra) {
                map.extend(extra);
            }
            value
        }
        match self {
            Self::BookCreated(book) | Self::BookDeleted(book) => with(book, json!({})),
            Self::BookUpdated { book, changes } => with(book, json!({ "changes": changes })),
            Self::BookBorrowed { book, user, loan } | Self::BookReturned { book, user, loan } => {
                with(book, json!({ "user": user, "loan": loan }))
            }
            Self::BooksBulkImported {
                import_id,
                user,
                books,
            } => json!({
                "import_id": import_id,
                "count": books.len(),
                "user": user,
                "book_ids": books.iter().map(|b| b.id).collect::<Vec<_>>(),
            }),
            Self::AuthorCreated(author)
            | Self::AuthorUpdated(author)
            | Self::AuthorDeleted(author) => with(author, json!({})),
            Self::UserCreated {
                id,
                username,
                email,
                is_admin,
            } => json!({ "id": id, "username": username, "email": email, "is_admin": is_admin }),
            Self::UserUpdated {
                id,
                username,
                email,
                is_admin,
                changes,
            } => json!({
                "id": id,
                "username": username,
                "email": email,
                "is_admin": is_admin,
                "changes": changes,
            }),
            Self::UserDeleted { id, username } => json!({ "id": id, "username": username }),
            Self::WebhookTest { webhook_id } => json!({ "webhook_id": webhook_id }),
            Self::WebhookDisabled {
                webhook_id,
                url,
                reason,
            } => json!({ "webhook_id": webhook_id, "url": url, "reason": reason }),
            Self::Custom { data, .. } => data.clone(),
        }
    }
}

/// An event as the outbox stores and lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedEvent {
    pub id: Uuid,
    pub event: String,
    pub timestamp: DateTime<Utc>,
    pub data: Value,
    /// The acting user, where there is one.
    pub user: Option<UserRef>,
    /// The member the event is about, where there is one (see
    /// [`DomainEvent::about`]); not part of what receivers get.
    #[serde(skip)]
    pub about: Option<UserId>,
}

/// A custom event's name: `family.action`, lowercase letters, digits and `_`,
/// not one of Libris's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomEventName(String);

fn is_name_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.starts_with(|c: char| c.is_ascii_lowercase())
        && segment
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl CustomEventName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let well_formed = raw.len() <= 100
            && matches!(raw.split_once('.'), Some((family, action)) if is_name_segment(family) && is_name_segment(action));
        if !well_formed {
            return Err(FieldError::new(
                "event",
                "must be `family.action` in lowercase letters, digits and underscores",
            ));
        }
        // A whole family is reserved, not only today's names: a custom
        // `book.archived` would collide with the day Libris emits one.
        if raw
            .split_once('.')
            .is_some_and(|(family, _)| BUILT_IN_FAMILIES.contains(&family))
        {
            return Err(FieldError::new(
                "event",
                "is in a built-in event family (book, books, author, user, webhook, campaign) and cannot be posted",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomEventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a subscription listens to: an exact name, a family (`book.*`) or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventPattern {
    Exact(String),
    Family(String),
    Everything,
}

impl EventPattern {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                "events",
                format!("`{raw}` is not an event name, `family.*` or `*`"),
            )
        };
        if raw == "*" {
            return Ok(Self::Everything);
        }
        match raw.split_once('.') {
            Some((family, "*")) if is_name_segment(family) => Ok(Self::Family(family.to_owned())),
            Some((family, action)) if is_name_segment(family) && is_name_segment(action) => {
                Ok(Self::Exact(raw.to_owned()))
            }
            _ => Err(invalid()),
        }
    }

    pub fn matches(&self, event: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::Exact(name) => name == event,
            Self::Family(family) => event
                .split_once('.')
                .is_some_and(|(event_family, _)| event_family == family),
        }
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Everything => f.write_str("*"),
            Self::Exact(name) => f.write_str(name),
            Self::Family(family) => write!(f, "{family}.*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> BookSnapshot {
        BookSnapshot {
            id: 1,
            title: "Dune".into(),
            author: "Frank Herbert".into(),
            author_id: 7,
            isbn: Some("1234567890".into()),
            available: true,
        }
    }

    #[test]
    fn book_created_data_names_the_author_and_keeps_the_id() {
        let data = DomainEvent::BookCreated(book()).data();
        assert_eq!(
            data,
            json!({"id": 1, "title": "Dune", "author": "Frank Herbert", "author_id": 7,
                   "isbn": "1234567890", "available": true})
        );
    }

    #[test]
    fn book_updated_adds_changes() {
        let mut changes = Changes::new();
        changes.insert("title", (json!("Old"), json!("Dune")));
        let data = DomainEvent::BookUpdated {
            book: book(),
            changes,
        }
        .data();
        assert_eq!(data["changes"], json!({"title": ["Old", "Dune"]}));
        assert_eq!(data["title"], "Dune");
    }

    #[test]
    fn bulk_import_publishes_ids_and_count_only() {
        let event = DomainEvent::BooksBulkImported {
            import_id: 3,
            user: UserRef {
                id: 1,
                username: "admin".into(),
            },
            books: vec![book(), BookSnapshot { id: 2, ..book() }],
        };
        assert_eq!(event.name(), "books.bulk_imported");
        assert_eq!(
            event.data(),
            json!({"import_id": 3, "count": 2, "user": {"id": 1, "username": "admin"}, "book_ids": [1, 2]})
        );
    }

    #[test]
    fn user_created_never_carries_secrets() {
        let data = DomainEvent::UserCreated {
            id: 4,
            username: "ann".into(),
            email: "ann@example.com".into(),
            is_admin: false,
        }
        .data();
        assert_eq!(
            data.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["email", "id", "is_admin", "username"]
        );
    }

    #[test]
    fn user_updated_and_deleted_are_about_the_member() {
        let mut changes = Changes::new();
        changes.insert("tags", (json!([]), json!(["vip"])));
        let updated = DomainEvent::UserUpdated {
            id: 4,
            username: "ann".into(),
            email: "ann@example.com".into(),
            is_admin: false,
            changes,
        };
        assert_eq!(updated.name(), "user.updated");
        assert_eq!(updated.about(), Some(4));
        assert_eq!(
            updated.data(),
            json!({"id": 4, "username": "ann", "email": "ann@example.com", "is_admin": false,
                   "changes": {"tags": [[], ["vip"]]}})
        );
        let deleted = DomainEvent::UserDeleted {
            id: 4,
            username: "ann".into(),
        };
        assert_eq!(deleted.name(), "user.deleted");
        assert_eq!(deleted.about(), Some(4));
        assert_eq!(deleted.data(), json!({"id": 4, "username": "ann"}));
        assert!(CustomEventName::parse("user.updated").is_err());
        assert!(CustomEventName::parse("user.deleted").is_err());
    }

    #[test]
    fn every_built_in_event_is_in_a_built_in_family() {
        for name in BUILT_IN_EVENTS {
            let family = name.split_once('.').map(|(f, _)| f);
            assert!(
                family.is_some_and(|f| BUILT_IN_FAMILIES.contains(&f)),
                "{name}"
            );
        }
    }

    #[test]
    fn custom_names_are_family_action_and_not_built_in() {
        assert!(CustomEventName::parse("member.greeted").is_ok());
        assert!(CustomEventName::parse("bookclub.met").is_ok());
        for reserved in [
            "book.archived",
            "books.exported",
            "campaign.paused",
            "webhook.x",
        ] {
            assert!(CustomEventName::parse(reserved).is_err(), "{reserved}");
        }
        for bad in [
            "member",
            "Member.greeted",
            "member.",
            ".x",
            "a.b.c",
            "book.created",
        ] {
            assert!(CustomEventName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns_match_exact_family_and_everything() {
        let exact = EventPattern::parse("book.created").unwrap();
        let family = EventPattern::parse("book.*").unwrap();
        let all = EventPattern::parse("*").unwrap();
        assert!(exact.matches("book.created") && !exact.matches("book.updated"));
        assert!(family.matches("book.deleted") && !family.matches("books.bulk_imported"));
        assert!(all.matches("author.created"));
        for bad in ["", "book", "book.", "*.created", "Book.*"] {
            assert!(EventPattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(family.to_string(), "book.*");
    }
}
