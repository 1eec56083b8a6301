//! Users and their profiles.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub type UserId = i64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub is_admin: bool,
    /// Whether the user can sign in: a member an admin created without a
    /// password cannot.
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
}

/// Created with its user, in the same transaction; the counters are kept true
/// by the lending handlers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub bio: String,
    /// As stored: `7XXXXXXXXXX`, empty, or a phone stored before that rule
    /// (see [`crate::members::Phone`]).
    pub phone: String,
    /// Derived from `phone` whenever it is written (read-only to clients):
    /// the three digits after the 7, `None` for no phone or one that does
    /// not fit the rule.
    pub operator_code: Option<String>,
    /// Lowercase, distinct, in alphabetical order.
    pub tags: Vec<String>,
    /// An IANA name.
    pub timezone: String,
    pub books_borrowed: i64,
    pub books_returned: i64,
    pub subscribed_to_notifications: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            bio: String::new(),
            phone: String::new(),
            operator_code: None,
            tags: Vec::new(),
            timezone: crate::members::TimeZoneName::DEFAULT.to_owned(),
            books_borrowed: 0,
            books_returned: 0,
            subscribed_to_notifications: true,
        }
    }
}

/// A user together with the profile that always exists for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: User,
    pub profile: Profile,
}

/// Who did something, as events and audit entries record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRef {
    pub id: UserId,
    pub username: String,
}

impl From<&User> for UserRef {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
        }
    }
}
