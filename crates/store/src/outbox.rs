//! The outbox: events appended in the transaction of their change.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use libris_application::ports::NewEvent;
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::UserRef;
use libris_domain::events::RecordedEvent;
use uuid::Uuid;

use crate::connection::{columns, AnyConnection, Db};
use crate::error::{unreadable, IntoStore};
use crate::schema::events;
use crate::time::{naive, utc};
use crate::CHUNK;

#[derive(Queryable, Selectable)]
#[diesel(table_name = events)]
pub(crate) struct EventRow {
    id: String,
    name: String,
    data: String,
    user_id: Option<i64>,
    username: Option<String>,
    occurred_at: NaiveDateTime,
}

impl TryFrom<EventRow> for RecordedEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: Uuid::parse_str(&row.id).map_err(|e| unreadable("event id", e))?,
            event: row.name,
            timestamp: utc(row.occurred_at),
            data: serde_json::from_str(&row.data).map_err(|e| unreadable("event data", e))?,
            user: row
                .user_id
                .zip(row.username)
                .map(|(id, username)| UserRef { id, username }),
        })
    }
}

pub(crate) fn append_event(
    conn: &mut AnyConnection,
    event: &NewEvent,
) -> Result<RecordedEvent, StoreError> {
    let id = Uuid::new_v4();
    diesel::insert_into(events::table)
        .values((
            // Lowercase, so ids compare and look up as they are written.
            events::id.eq(id.to_string()),
            events::name.eq(&event.name),
            events::data.eq(event.data.to_string()),
            events::user_id.eq(event.user.as_ref().map(|u| u.id)),
            events::username.eq(event.user.as_ref().map(|u| u.username.as_str())),
            events::occurred_at.eq(naive(event.at)),
        ))
        .execute(conn)
        .store()?;
    Ok(RecordedEvent {
        id,
        event: event.name.clone(),
        timestamp: event.at,
        data: event.data.clone(),
        user: event.user.clone(),
    })
}

fn filtered(name: Option<&str>) -> events::BoxedQuery<'_, Db> {
    let mut query = events::table.into_boxed();
    if let Some(name) = name {
        query = query.filter(events::name.eq(name));
    }
    query
}

pub(crate) fn list_events(
    conn: &mut AnyConnection,
    name: Option<&str>,
    page: Page,
) -> Result<Paged<RecordedEvent>, StoreError> {
    let count = filtered(name).count().get_result(conn).store()?;
    // Sizes first, so that only what fits the budget is ever loaded. Bytes,
    // not characters; on PostgreSQL `octet_length` reads a stored value's
    // size without decompressing it.
    let data_bytes = match conn {
        AnyConnection::Postgresql(_) => "octet_length(data)",
        AnyConnection::Sqlite(_) => "length(CAST(data AS BLOB))",
    };
    let sizes: Vec<i32> = filtered(name)
        .select(diesel::dsl::sql::<diesel::sql_types::Integer>(data_bytes))
        .order(events::seq.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    let rows: Vec<EventRow> = filtered(name)
        .select(EventRow::as_select())
        .order(events::seq.desc())
        .limit(within_budget(&sizes, Page::DATA_BUDGET))
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: rows
            .into_iter()
            .map(RecordedEvent::try_from)
            .collect::<Result<_, _>>()?,
    })
}

/// How many of the leading items fit `budget` bytes together; at least one,
/// so a page always moves the reader forward.
fn within_budget(sizes: &[i32], budget: i64) -> i64 {
    let mut total = 0i64;
    let fitting = sizes
        .iter()
        .take_while(|size| {
            total += i64::from(**size);
            total <= budget
        })
        .count();
    i64::try_from(fitting.max(1)).unwrap_or(i64::MAX)
}

pub(crate) fn to_events(rows: Vec<EventRow>) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.into_iter().map(RecordedEvent::try_from).collect()
}

/// Up to `limit` undispatched events, oldest first. On PostgreSQL the rows
/// are locked `SKIP LOCKED`: instances fanning out at once take disjoint
/// batches, and an event committed out of order is never skipped for good.
pub(crate) fn claim_undispatched_events(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let query = events::table
        .filter(events::dispatched_at.is_null())
        .order(events::seq)
        .limit(limit)
        .select(columns::<EventRow>());
    let rows = match conn {
        AnyConnection::Postgresql(pg) => query.for_update().skip_locked().load::<EventRow>(pg),
        // SQLite writers are serialised by BEGIN IMMEDIATE.
        AnyConnection::Sqlite(sqlite) => query.load::<EventRow>(sqlite),
    }
    .store()?;
    to_events(rows)
}

pub(crate) fn mark_events_dispatched(
    conn: &mut AnyConnection,
    ids: &[Uuid],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    for chunk in ids.chunks(CHUNK) {
        diesel::update(events::table.filter(events::id.eq_any(chunk)))
            .set(events::dispatched_at.eq(Some(naive(at))))
            .execute(conn)
            .store()?;
    }
    Ok(())
}

pub(crate) fn events_by_ids(
    conn: &mut AnyConnection,
    ids: &[String],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = events::table
        .filter(events::id.eq_any(ids))
        .select(EventRow::as_select())
        .load(conn)
        .store()?;
    to_events(rows)
}

#[cfg(test)]
mod tests {
    use super::within_budget;

    #[test]
    fn a_page_takes_what_fits_its_budget_and_never_nothing() {
        assert_eq!(within_budget(&[10, 10, 10], 100), 3);
        assert_eq!(within_budget(&[40, 40, 40], 100), 2);
        assert_eq!(
            within_budget(&[500, 1], 100),
            1,
            "one oversized item still pages"
        );
        assert_eq!(within_budget(&[], 100), 1);
    }
}
