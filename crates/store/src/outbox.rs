//! The outbox: events appended in the transaction of their change.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use libris_application::ports::NewEvent;
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::UserRef;
use libris_domain::events::{EventPattern, RecordedEvent};
use uuid::Uuid;

use crate::connection::{on_each_backend, AnyConnection, Db};
use crate::error::{unreadable, IntoStore};
use crate::schema::{event_consumers, event_dispatch, events};
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
    about_user_id: Option<i64>,
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
            about: row.about_user_id,
        })
    }
}

/// Appends the event and its dispatch marks; answers it and the consumers
/// it was marked for.
pub(crate) fn append_event(
    conn: &mut AnyConnection,
    event: &NewEvent,
) -> Result<(RecordedEvent, Vec<String>), StoreError> {
    let id = Uuid::new_v4();
    let row = (
        // Lowercase, so ids compare and look up as they are written.
        events::id.eq(id.to_string()),
        events::name.eq(&event.name),
        events::data.eq(event.data.to_string()),
        events::user_id.eq(event.user.as_ref().map(|u| u.id)),
        events::username.eq(event.user.as_ref().map(|u| u.username.as_str())),
        events::occurred_at.eq(naive(event.at)),
        events::about_user_id.eq(event.about),
    );
    // On the backend's own connection, so the statement is prepared once.
    let seq: i64 = on_each_backend!(conn, |c| diesel::insert_into(events::table)
        .values(&row)
        .returning(events::seq)
        .get_result(c))
    .store()?;
    let marked = mark_for_consumers(conn, seq, &event.name)?;
    let recorded = RecordedEvent {
        id,
        event: event.name.clone(),
        timestamp: event.at,
        data: event.data.clone(),
        user: event.user.clone(),
        about: event.about,
    };
    Ok((recorded, marked))
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

pub(crate) fn register_consumer(
    conn: &mut AnyConnection,
    consumer: &str,
    patterns: &[EventPattern],
) -> Result<(), StoreError> {
    diesel::delete(event_consumers::table.filter(event_consumers::consumer.eq(consumer)))
        .execute(conn)
        .store()?;
    let rows: Vec<_> = patterns
        .iter()
        .map(|p| {
            (
                event_consumers::consumer.eq(consumer),
                event_consumers::pattern.eq(p.to_string()),
            )
        })
        .collect();
    // Instances starting together register the same rows.
    on_each_backend!(conn, |c| diesel::insert_into(event_consumers::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(c))
    .store()?;
    Ok(())
}

/// Gives the event one dispatch mark per consumer listening to it, in one
/// statement: the patterns that can match a name are `*`, its family and
/// itself. Answers the consumers marked, so only they are woken.
fn mark_for_consumers(
    conn: &mut AnyConnection,
    seq: i64,
    name: &str,
) -> Result<Vec<String>, StoreError> {
    let family = name
        .split_once('.')
        .map(|(family, _)| format!("{family}.*"));
    // Three `=`, not `IN (…)`: diesel compiles a bound `IN` list again on
    // every call on SQLite, and this runs for every event appended.
    let listening = event_consumers::table
        .filter(
            event_consumers::pattern
                .eq("*")
                .or(event_consumers::pattern.eq(name))
                .or(event_consumers::pattern.eq(family.as_deref().unwrap_or("*"))),
        )
        .select((event_consumers::consumer, seq.into_sql::<BigInt>()))
        .distinct();
    let insert = diesel::insert_into(event_dispatch::table)
        .values(listening)
        .into_columns((event_dispatch::consumer, event_dispatch::event_seq))
        .returning(event_dispatch::consumer);
    // On the backend's own connection, so the statement is prepared once:
    // this runs for every event appended.
    on_each_backend!(conn, |c| insert.get_results(c)).store()
}

/// Up to `limit` events marked for `consumer`, oldest first. On PostgreSQL
/// the marks (not the events, which other consumers read at the same time)
/// are locked `SKIP LOCKED`: instances of one consumer take disjoint batches,
/// and an event committed out of order is never skipped for good.
pub(crate) fn claim_events(
    conn: &mut AnyConnection,
    consumer: &str,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let marks = event_dispatch::table
        .filter(event_dispatch::consumer.eq(consumer))
        .order(event_dispatch::event_seq)
        .limit(limit)
        .select(event_dispatch::event_seq);
    let seqs: Vec<i64> = match conn {
        AnyConnection::Postgresql(pg) => marks.for_update().skip_locked().load(pg),
        // SQLite writers are serialised by BEGIN IMMEDIATE.
        AnyConnection::Sqlite(sqlite) => marks.load(sqlite),
    }
    .store()?;
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<EventRow> = events::table
        .filter(events::seq.eq_any(&seqs))
        .order(events::seq)
        .select(EventRow::as_select())
        .load(conn)
        .store()?;
    to_events(rows)
}

pub(crate) fn mark_dispatched(
    conn: &mut AnyConnection,
    consumer: &str,
    ids: &[Uuid],
) -> Result<(), StoreError> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    for chunk in ids.chunks(CHUNK) {
        let seqs = events::table
            .filter(events::id.eq_any(chunk))
            .select(events::seq);
        diesel::delete(
            event_dispatch::table
                .filter(event_dispatch::consumer.eq(consumer))
                .filter(event_dispatch::event_seq.eq_any(seqs)),
        )
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
