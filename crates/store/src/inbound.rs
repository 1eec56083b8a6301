//! Inbound webhooks, stored once per sender's message id.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use libris_application::ports::{InboundFilter, NewInboundEvent};
use libris_application::{Page, Paged, StoreError};
use libris_domain::inbound::{InboundEvent, InboundStatus, SignatureScheme};
use uuid::Uuid;

use crate::connection::{AnyConnection, Db};
use crate::error::{unreadable, IntoStore};
use crate::schema::inbound_events;
use crate::time::{naive, utc};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = inbound_events)]
struct InboundRow {
    id: String,
    message_id: String,
    event: Option<String>,
    scheme: String,
    status: String,
    payload: String,
    received_at: NaiveDateTime,
}

impl TryFrom<InboundRow> for InboundEvent {
    type Error = StoreError;

    fn try_from(row: InboundRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: Uuid::parse_str(&row.id).map_err(|e| unreadable("inbound event id", e))?,
            message_id: row.message_id,
            event: row.event,
            scheme: SignatureScheme::parse(&row.scheme)
                .ok_or_else(|| unreadable("inbound event scheme", &row.scheme))?,
            status: InboundStatus::parse(&row.status)
                .ok_or_else(|| unreadable("inbound event status", &row.status))?,
            payload: serde_json::from_str(&row.payload)
                .map_err(|e| unreadable("inbound event payload", e))?,
            received_at: utc(row.received_at),
        })
    }
}

pub(crate) fn inbound_message_exists(
    conn: &mut AnyConnection,
    message_id: &str,
) -> Result<bool, StoreError> {
    diesel::select(diesel::dsl::exists(
        inbound_events::table.filter(inbound_events::message_id.eq(message_id)),
    ))
    .get_result(conn)
    .store()
}

pub(crate) fn insert_inbound_event(
    conn: &mut AnyConnection,
    new: &NewInboundEvent,
) -> Result<InboundEvent, StoreError> {
    let row = InboundRow {
        id: Uuid::new_v4().to_string(),
        message_id: new.message_id.clone(),
        event: new.event.clone(),
        scheme: new.scheme.as_str().to_owned(),
        status: new.status.as_str().to_owned(),
        payload: new.payload.to_string(),
        received_at: naive(new.received_at),
    };
    diesel::insert_into(inbound_events::table)
        .values(&row)
        .execute(conn)
        .store()?;
    row.try_into()
}

fn filtered(filter: &InboundFilter) -> inbound_events::BoxedQuery<'_, Db> {
    let mut query = inbound_events::table.into_boxed();
    if let Some(event) = &filter.event {
        query = query.filter(inbound_events::event.eq(event));
    }
    if let Some(status) = filter.status {
        query = query.filter(inbound_events::status.eq(status.as_str()));
    }
    query
}

pub(crate) fn list_inbound_events(
    conn: &mut AnyConnection,
    filter: &InboundFilter,
    page: Page,
) -> Result<Paged<InboundEvent>, StoreError> {
    let count = filtered(filter).count().get_result(conn).store()?;
    let rows: Vec<InboundRow> = filtered(filter)
        .select(InboundRow::as_select())
        .order((
            inbound_events::received_at.desc(),
            inbound_events::id.desc(),
        ))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: rows
            .into_iter()
            .map(InboundEvent::try_from)
            .collect::<Result<_, _>>()?,
    })
}
