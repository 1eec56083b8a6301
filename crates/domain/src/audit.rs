//! The audit log of book changes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::accounts::UserRef;
use crate::catalog::BookId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Created,
    Updated,
    Deleted,
    Borrowed,
    Returned,
    Imported,
}

impl AuditAction {
    pub const ALL: [Self; 6] = [
        Self::Created,
        Self::Updated,
        Self::Deleted,
        Self::Borrowed,
        Self::Returned,
        Self::Imported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
            Self::Borrowed => "borrowed",
            Self::Returned => "returned",
            Self::Imported => "imported",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// An audit entry to write. It keeps the book's id and title, not a reference,
/// so it outlives the book.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub book_id: BookId,
    pub book_title: String,
    pub action: AuditAction,
    pub user: Option<UserRef>,
    pub at: DateTime<Utc>,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub book_id: BookId,
    pub book_title: String,
    pub action: AuditAction,
    pub user: Option<UserRef>,
    pub timestamp: DateTime<Utc>,
    pub details: serde_json::Value,
}
