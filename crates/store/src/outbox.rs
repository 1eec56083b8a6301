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
    let rows: Vec<EventRow> = filtered(name)
        .select(EventRow::as_select())
        .order(events::seq.desc())
        .limit(page.limit)
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
    for chunk in ids.chunks(1000) {
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
