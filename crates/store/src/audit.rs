//! The audit log of book changes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use libris_application::ports::AuditFilter;
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::UserRef;
use libris_domain::audit::{AuditAction, AuditEntry, NewAuditEntry};

use crate::connection::{on_each_backend, AnyConnection, Db};
use crate::error::{unreadable, IntoStore};
use crate::schema::book_logs;
use crate::time::{naive, utc};
use crate::CHUNK;

#[derive(Queryable, Selectable)]
#[diesel(table_name = book_logs)]
struct AuditRow {
    id: i64,
    book_id: i64,
    book_title: String,
    action: String,
    user_id: Option<i64>,
    username: Option<String>,
    created_at: NaiveDateTime,
    details: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        let action = AuditAction::parse(&row.action)
            .ok_or_else(|| unreadable("audit action", &row.action))?;
        let details =
            serde_json::from_str(&row.details).map_err(|e| unreadable("audit details", e))?;
        Ok(Self {
            id: row.id,
            book_id: row.book_id,
            book_title: row.book_title,
            action,
            user: row
                .user_id
                .zip(row.username)
                .map(|(id, username)| UserRef { id, username }),
            timestamp: utc(row.created_at),
            details,
        })
    }
}

/// Inserts many entries in one statement per chunk (bulk imports).
pub(crate) fn insert_audit_entries(
    conn: &mut AnyConnection,
    entries: &[NewAuditEntry],
) -> Result<(), StoreError> {
    let rows: Vec<_> = entries
        .iter()
        .map(|entry| {
            (
                book_logs::book_id.eq(entry.book_id),
                book_logs::book_title.eq(&entry.book_title),
                book_logs::action.eq(entry.action.as_str()),
                book_logs::user_id.eq(entry.user.as_ref().map(|u| u.id)),
                book_logs::username.eq(entry.user.as_ref().map(|u| u.username.as_str())),
                book_logs::created_at.eq(naive(entry.at)),
                book_logs::details.eq(entry.details.to_string()),
            )
        })
        .collect();
    // SQLite limits bound parameters per statement (32,766); 7 per row.
    for chunk in rows.chunks(CHUNK) {
        let insert = diesel::insert_into(book_logs::table);
        match chunk {
            // One entry (every single-book change) as a one-row insert:
            // diesel compiles a multi-row insert again on every call on
            // SQLite, a one-row insert once per connection.
            [row] => on_each_backend!(conn, |c| insert.values(row).execute(c)),
            rows => on_each_backend!(conn, |c| insert.values(rows).execute(c)),
        }
        .store()?;
    }
    Ok(())
}

fn filtered(filter: &AuditFilter) -> book_logs::BoxedQuery<'_, Db> {
    let mut query = book_logs::table.into_boxed();
    if let Some(book_id) = filter.book_id {
        query = query.filter(book_logs::book_id.eq(book_id));
    }
    if let Some(action) = &filter.action {
        query = query.filter(book_logs::action.eq(action));
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(book_logs::user_id.eq(user_id));
    }
    query
}

pub(crate) fn list_audit_entries(
    conn: &mut AnyConnection,
    filter: &AuditFilter,
    page: Page,
) -> Result<Paged<AuditEntry>, StoreError> {
    let count = filtered(filter).count().get_result(conn).store()?;
    let rows: Vec<AuditRow> = filtered(filter)
        .select(AuditRow::as_select())
        .order(book_logs::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: rows
            .into_iter()
            .map(AuditEntry::try_from)
            .collect::<Result<_, _>>()?,
    })
}
