//! Authors and books as read back from the store. Inputs are parsed into
//! value objects before they reach a use case, so these carry plain data.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub type AuthorId = i64;
pub type BookId = i64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Author {
    pub id: AuthorId,
    pub name: String,
    pub bio: String,
    /// Kept true by the in-transaction statistics handler, never written by hand.
    pub total_books: i64,
    pub available_books: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Book {
    pub id: BookId,
    pub title: String,
    pub author_id: AuthorId,
    pub author_name: String,
    pub isbn: Option<String>,
    pub available: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The book as events and audit entries record it: `author` is the name, so
/// the record stays readable after the author is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookSnapshot {
    pub id: BookId,
    pub title: String,
    pub author: String,
    pub author_id: AuthorId,
    pub isbn: Option<String>,
    pub available: bool,
}

impl From<&Book> for BookSnapshot {
    fn from(book: &Book) -> Self {
        Self {
            id: book.id,
            title: book.title.clone(),
            author: book.author_name.clone(),
            author_id: book.author_id,
            isbn: book.isbn.clone(),
            available: book.available,
        }
    }
}

/// The author as events record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorSnapshot {
    pub id: AuthorId,
    pub name: String,
    pub bio: String,
    pub total_books: i64,
    pub available_books: i64,
}

impl From<&Author> for AuthorSnapshot {
    fn from(author: &Author) -> Self {
        Self {
            id: author.id,
            name: author.name.clone(),
            bio: author.bio.clone(),
            total_books: author.total_books,
            available_books: author.available_books,
        }
    }
}

/// One bulk import: who, when, how many (the seed's import statistics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRecord {
    pub id: i64,
    pub user: crate::accounts::UserRef,
    pub count: i64,
    pub created_at: DateTime<Utc>,
}
