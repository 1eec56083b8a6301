//! Deliveries and their attempt log: the send side of the outbox.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use libris_application::ports::{
    AttemptLogFilter, ClaimedDelivery, DeliveryFilter, HourlyDeliveryCount, NewAttemptLog,
    NewDelivery,
};
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::UserId;
use libris_domain::delivery::Progress;
use libris_domain::webhooks::{AttemptLog, Delivery, DeliveryId, DeliveryStatus, WebhookId};
use uuid::Uuid;

use crate::connection::{columns, on_each_backend, AnyConnection, Db};
use crate::error::{unreadable, IntoStore};
use crate::outbox::events_by_ids;
use crate::schema::{deliveries, webhook_logs, webhooks};
use crate::time::{naive, utc};
use crate::webhooks::webhooks_by_ids;
use crate::CHUNK;

/// Inserts `$rows` into `$table` and answers them as `$row`s. Deliveries and
/// attempt logs, the pipeline's hottest writes, go row by row on SQLite and
/// as one multi-row statement on PostgreSQL. A multi-row statement saves
/// PostgreSQL a round trip per row, but SQLite has no round trips and must
/// parse a multi-row statement anew for every batch size, while a one-row
/// statement is prepared once and found by its type. On SQLite's single
/// writer this took the 100-subscription fan-out of `make bench` from
/// 3.7-3.9k to 4.5-5.1k deliveries/s on this machine.
macro_rules! insert_returning {
    ($conn:expr, $table:expr, $rows:expr, $row:ty) => {
        match $conn {
            AnyConnection::Sqlite(c) => $rows
                .iter()
                .map(|row| {
                    diesel::insert_into($table)
                        .values(row)
                        .returning(columns::<$row>())
                        .get_result::<$row>(c)
                })
                .collect::<QueryResult<Vec<$row>>>(),
            AnyConnection::Postgresql(c) => diesel::insert_into($table)
                .values($rows)
                .returning(columns::<$row>())
                .get_results::<$row>(c),
        }
        .store()
    };
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = deliveries)]
struct DeliveryRow {
    id: i64,
    webhook_id: String,
    event_id: String,
    event: String,
    status: String,
    attempts: i64,
    retry_base: i64,
    next_attempt_at: NaiveDateTime,
    last_error: Option<String>,
    created_at: NaiveDateTime,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            webhook_id: Uuid::parse_str(&row.webhook_id)
                .map_err(|e| unreadable("delivery webhook id", e))?,
            event_id: Uuid::parse_str(&row.event_id)
                .map_err(|e| unreadable("delivery event id", e))?,
            event: row.event,
            status: DeliveryStatus::parse(&row.status)
                .ok_or_else(|| unreadable("delivery status", &row.status))?,
            attempts: row.attempts,
            retry_base: row.retry_base,
            next_attempt_at: utc(row.next_attempt_at),
            last_error: row.last_error,
            created_at: utc(row.created_at),
        })
    }
}

fn to_deliveries(rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>, StoreError> {
    rows.into_iter().map(Delivery::try_from).collect()
}

#[derive(Insertable)]
#[diesel(table_name = deliveries)]
struct NewDeliveryRow {
    webhook_id: String,
    event_id: String,
    event: String,
    status: &'static str,
    next_attempt_at: NaiveDateTime,
    lease_until: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

pub(crate) fn insert_deliveries(
    conn: &mut AnyConnection,
    new: &[NewDelivery],
) -> Result<Vec<Delivery>, StoreError> {
    let mut inserted = Vec::with_capacity(new.len());
    for chunk in new.chunks(CHUNK) {
        let rows: Vec<NewDeliveryRow> = chunk
            .iter()
            .map(|d| NewDeliveryRow {
                webhook_id: d.webhook_id.to_string(),
                event_id: d.event_id.to_string(),
                event: d.event.clone(),
                status: DeliveryStatus::Pending.as_str(),
                next_attempt_at: naive(d.next_attempt_at),
                lease_until: d.lease_until.map(naive),
                created_at: naive(d.created_at),
                updated_at: naive(d.created_at),
            })
            .collect();
        let rows = insert_returning!(conn, deliveries::table, rows, DeliveryRow)?;
        inserted.extend(to_deliveries(rows)?);
    }
    Ok(inserted)
}

/// Due, unleased deliveries of active webhooks not in `exclude`, oldest
/// first. On PostgreSQL they are locked `SKIP LOCKED` until the claim
/// commits, so concurrent claimers take disjoint sets; on SQLite the write
/// transaction is already exclusive.
pub(crate) fn due_deliveries(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    limit: i64,
    exclude: &[WebhookId],
) -> Result<Vec<(DeliveryId, WebhookId)>, StoreError> {
    let now = naive(now);
    let exclude: Vec<String> = exclude.iter().map(Uuid::to_string).collect();
    let active = webhooks::table
        .filter(webhooks::is_active.eq(true))
        .select(webhooks::id);
    let candidates = deliveries::table
        .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(deliveries::next_attempt_at.le(now))
        .filter(
            deliveries::lease_until
                .is_null()
                .or(deliveries::lease_until.lt(now)),
        )
        .filter(deliveries::webhook_id.eq_any(active))
        .filter(deliveries::webhook_id.ne_all(&exclude))
        // Not `, id`: ties (a fan-out batch shares one time) would make SQLite
        // sort every due row before answering the first.
        .order(deliveries::next_attempt_at)
        .limit(limit)
        .select((deliveries::id, deliveries::webhook_id));
    let rows: Vec<(i64, String)> = match conn {
        AnyConnection::Postgresql(pg) => candidates.for_update().skip_locked().load(pg),
        AnyConnection::Sqlite(sqlite) => candidates.load(sqlite),
    }
    .store()?;
    rows.into_iter()
        .map(|(id, webhook)| {
            let webhook =
                Uuid::parse_str(&webhook).map_err(|e| unreadable("delivery webhook id", e))?;
            Ok((id, webhook))
        })
        .collect()
}

/// Leases the deliveries and answers them with their webhook and event.
pub(crate) fn lease_deliveries(
    conn: &mut AnyConnection,
    ids: &[DeliveryId],
    lease_until: DateTime<Utc>,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let mut leased = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<DeliveryRow> =
            diesel::update(deliveries::table.filter(deliveries::id.eq_any(chunk)))
                .set(deliveries::lease_until.eq(Some(naive(lease_until))))
                .returning(columns::<DeliveryRow>())
                .get_results(conn)
                .store()?;
        leased.extend(to_deliveries(rows)?);
    }
    let mut webhook_ids: Vec<String> = leased.iter().map(|d| d.webhook_id.to_string()).collect();
    webhook_ids.sort_unstable();
    webhook_ids.dedup();
    let webhooks: HashMap<_, _> = webhooks_by_ids(conn, &webhook_ids)?
        .into_iter()
        .map(|w| (w.id, w))
        .collect();
    let event_ids: Vec<String> = leased.iter().map(|d| d.event_id.to_string()).collect();
    let events: HashMap<_, _> = events_by_ids(conn, &event_ids)?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let mut claimed: Vec<ClaimedDelivery> = leased
        .into_iter()
        .filter_map(|delivery| {
            let webhook = webhooks.get(&delivery.webhook_id)?.clone();
            let event = events.get(&delivery.event_id)?.clone();
            Some(ClaimedDelivery {
                delivery,
                webhook,
                event,
            })
        })
        .collect();
    claimed.sort_by_key(|c| (c.delivery.next_attempt_at, c.delivery.id));
    Ok(claimed)
}

pub(crate) fn delivery(
    conn: &mut AnyConnection,
    id: DeliveryId,
) -> Result<Option<Delivery>, StoreError> {
    let row: Option<DeliveryRow> = deliveries::table
        .find(id)
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
        .store()?;
    row.map(Delivery::try_from).transpose()
}

pub(crate) fn save_delivery(
    conn: &mut AnyConnection,
    id: DeliveryId,
    progress: &Progress,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let update = diesel::update(deliveries::table.find(id)).set((
        deliveries::status.eq(progress.status.as_str()),
        deliveries::attempts.eq(progress.attempts),
        deliveries::retry_base.eq(progress.retry_base),
        deliveries::next_attempt_at.eq(naive(progress.next_attempt_at)),
        deliveries::last_error.eq(progress.last_error.as_deref()),
        deliveries::lease_until.eq(None::<NaiveDateTime>),
        deliveries::updated_at.eq(naive(at)),
    ));
    // On the backend's own connection: through the multi-backend one diesel
    // writes the SQL text anew on every call before finding its prepared
    // statement, while here the statement is found by the query's type. This
    // runs once per attempt, on SQLite's single writer's time (55 → 39 µs a
    // call, measured in the 100-subscription scenario of `make bench`).
    on_each_backend!(conn, |c| update.execute(c)).store()?;
    Ok(())
}

fn filtered_deliveries(filter: &DeliveryFilter) -> deliveries::BoxedQuery<'_, Db> {
    let mut query = deliveries::table.into_boxed();
    if let Some(owner) = filter.owner {
        let owned = webhooks::table
            .filter(webhooks::owner_id.eq(owner))
            .select(webhooks::id);
        query = query.filter(deliveries::webhook_id.eq_any(owned));
    }
    if let Some(id) = filter.webhook_id {
        query = query.filter(deliveries::webhook_id.eq(id.to_string()));
    }
    if let Some(status) = filter.status {
        query = query.filter(deliveries::status.eq(status.as_str()));
    }
    if let Some(event) = &filter.event {
        query = query.filter(deliveries::event.eq(event));
    }
    query
}

pub(crate) fn list_deliveries(
    conn: &mut AnyConnection,
    filter: &DeliveryFilter,
    page: Page,
) -> Result<Paged<Delivery>, StoreError> {
    let count = filtered_deliveries(filter)
        .count()
        .get_result(conn)
        .store()?;
    let rows = filtered_deliveries(filter)
        .select(DeliveryRow::as_select())
        .order(deliveries::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: to_deliveries(rows)?,
    })
}

#[derive(QueryableByName)]
struct HourlyCountRow {
    #[diesel(sql_type = Text)]
    hour: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// One `GROUP BY` over the deliveries of the window. The hour is text in one
/// format on both backends, so that one parser reads it: SQLite stores
/// timestamps as text, PostgreSQL truncates its own.
fn hourly_counts_sql(hour: &str, [from, to, owner]: [&str; 3]) -> String {
    format!(
        "SELECT {hour} AS hour, status, COUNT(*) AS count FROM deliveries \
         WHERE created_at >= {from} AND created_at <= {to} \
         AND ({owner} IS NULL OR webhook_id IN (SELECT id FROM webhooks WHERE owner_id = {owner})) \
         GROUP BY 1, 2"
    )
}

pub(crate) fn count_deliveries_by_hour(
    conn: &mut AnyConnection,
    owner: Option<UserId>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<HourlyDeliveryCount>, StoreError> {
    macro_rules! hourly {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Timestamp, _>(naive(from))
                .bind::<Timestamp, _>(naive(to))
                .bind::<Nullable<BigInt>, _>(owner)
                .load::<HourlyCountRow>($c)
        };
    }
    let rows = match conn {
        AnyConnection::Postgresql(pg) => hourly!(
            pg,
            hourly_counts_sql(
                "to_char(date_trunc('hour', created_at), 'YYYY-MM-DD HH24:MI:SS')",
                ["$1", "$2", "$3"],
            )
        ),
        AnyConnection::Sqlite(sqlite) => hourly!(
            sqlite,
            hourly_counts_sql(
                "strftime('%Y-%m-%d %H:00:00', created_at)",
                ["?1", "?2", "?3"]
            )
        ),
    }
    .store()?;
    rows.into_iter()
        .map(|row| {
            Ok(HourlyDeliveryCount {
                hour: NaiveDateTime::parse_from_str(&row.hour, "%Y-%m-%d %H:%M:%S")
                    .map(utc)
                    .map_err(|e| unreadable("delivery hour", e))?,
                status: DeliveryStatus::parse(&row.status)
                    .ok_or_else(|| unreadable("delivery status", &row.status))?,
                count: row.count,
            })
        })
        .collect()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_logs)]
struct AttemptRow {
    id: i64,
    webhook_id: String,
    delivery_id: i64,
    event_id: String,
    event: String,
    attempt: i64,
    payload: String,
    response_status: Option<i64>,
    response_body: String,
    success: bool,
    error_message: Option<String>,
    duration_ms: i64,
    created_at: NaiveDateTime,
}

impl TryFrom<AttemptRow> for AttemptLog {
    type Error = StoreError;

    fn try_from(row: AttemptRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            webhook: Uuid::parse_str(&row.webhook_id)
                .map_err(|e| unreadable("attempt webhook id", e))?,
            delivery_id: row.delivery_id,
            event_id: Uuid::parse_str(&row.event_id)
                .map_err(|e| unreadable("attempt event id", e))?,
            event: row.event,
            attempt: row.attempt,
            payload: row.payload,
            response_status: row.response_status,
            response_body: row.response_body,
            success: row.success,
            error_message: row.error_message,
            duration_ms: row.duration_ms,
            created_at: utc(row.created_at),
        })
    }
}

fn to_attempts(rows: Vec<AttemptRow>) -> Result<Vec<AttemptLog>, StoreError> {
    rows.into_iter().map(AttemptLog::try_from).collect()
}

#[derive(Insertable)]
#[diesel(table_name = webhook_logs)]
struct NewAttemptRow<'a> {
    webhook_id: String,
    delivery_id: i64,
    event_id: String,
    event: &'a str,
    attempt: i64,
    payload: &'a str,
    response_status: Option<i64>,
    response_body: &'a str,
    success: bool,
    error_message: Option<&'a str>,
    duration_ms: i64,
    created_at: NaiveDateTime,
}

pub(crate) fn insert_attempt_logs(
    conn: &mut AnyConnection,
    logs: &[NewAttemptLog],
) -> Result<Vec<AttemptLog>, StoreError> {
    let mut inserted = Vec::with_capacity(logs.len());
    for chunk in logs.chunks(CHUNK) {
        let rows: Vec<NewAttemptRow<'_>> = chunk
            .iter()
            .map(|log| NewAttemptRow {
                webhook_id: log.webhook_id.to_string(),
                delivery_id: log.delivery_id,
                event_id: log.event_id.to_string(),
                event: &log.event,
                attempt: log.attempt,
                payload: &log.payload,
                response_status: log.response_status,
                response_body: &log.response_body,
                success: log.success,
                error_message: log.error_message.as_deref(),
                duration_ms: log.duration_ms,
                created_at: naive(log.at),
            })
            .collect();
        let rows = insert_returning!(conn, webhook_logs::table, rows, AttemptRow)?;
        inserted.extend(to_attempts(rows)?);
    }
    Ok(inserted)
}

fn filtered_attempts(filter: &AttemptLogFilter) -> webhook_logs::BoxedQuery<'_, Db> {
    let mut query = webhook_logs::table.into_boxed();
    if let Some(owner) = filter.owner {
        let owned = webhooks::table
            .filter(webhooks::owner_id.eq(owner))
            .select(webhooks::id);
        query = query.filter(webhook_logs::webhook_id.eq_any(owned));
    }
    if let Some(id) = filter.webhook_id {
        query = query.filter(webhook_logs::webhook_id.eq(id.to_string()));
    }
    if let Some(id) = filter.delivery_id {
        query = query.filter(webhook_logs::delivery_id.eq(id));
    }
    if let Some(success) = filter.success {
        query = query.filter(webhook_logs::success.eq(success));
    }
    if let Some(event) = &filter.event {
        query = query.filter(webhook_logs::event.eq(event));
    }
    query
}

pub(crate) fn pending_deliveries(
    conn: &mut AnyConnection,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    let (count, oldest): (i64, Option<NaiveDateTime>) = deliveries::table
        .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(deliveries::created_at),
        ))
        .first(conn)
        .store()?;
    Ok((count, oldest.map(utc)))
}

pub(crate) fn list_attempt_logs(
    conn: &mut AnyConnection,
    filter: &AttemptLogFilter,
    page: Page,
) -> Result<Paged<AttemptLog>, StoreError> {
    let count = filtered_attempts(filter).count().get_result(conn).store()?;
    let rows = filtered_attempts(filter)
        .select(AttemptRow::as_select())
        .order(webhook_logs::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: to_attempts(rows)?,
    })
}

pub(crate) fn make_deliveries_due(
    conn: &mut AnyConnection,
    webhook: Option<WebhookId>,
    ids: &[DeliveryId],
    at: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let at = naive(at);
    if !ids.is_empty() {
        let mut queued = 0;
        for chunk in ids.chunks(CHUNK) {
            queued += diesel::update(deliveries::table.filter(deliveries::id.eq_any(chunk)))
                .set((
                    deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                    deliveries::retry_base.eq(deliveries::attempts),
                    deliveries::next_attempt_at.eq(at),
                    deliveries::lease_until.eq(None::<NaiveDateTime>),
                    deliveries::updated_at.eq(at),
                ))
                .execute(conn)
                .store()?;
        }
        return Ok(queued);
    }
    let mut pending = deliveries::table
        .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(
            deliveries::lease_until
                .is_null()
                .or(deliveries::lease_until.lt(at)),
        )
        .select(deliveries::id)
        .into_boxed::<Db>();
    if let Some(webhook) = webhook {
        pending = pending.filter(deliveries::webhook_id.eq(webhook.to_string()));
    }
    let ids: Vec<i64> = pending.load(conn).store()?;
    let mut queued = 0;
    for chunk in ids.chunks(CHUNK) {
        queued += diesel::update(deliveries::table.filter(deliveries::id.eq_any(chunk)))
            .set((
                deliveries::next_attempt_at.eq(at),
                deliveries::updated_at.eq(at),
            ))
            .execute(conn)
            .store()?;
    }
    Ok(queued)
}

pub(crate) fn count_deliveries_since(
    conn: &mut AnyConnection,
    status: DeliveryStatus,
    since: DateTime<Utc>,
) -> Result<i64, StoreError> {
    deliveries::table
        .filter(deliveries::status.eq(status.as_str()))
        .filter(deliveries::updated_at.ge(naive(since)))
        .count()
        .get_result(conn)
        .store()
}

pub(crate) fn prune_deliveries(
    conn: &mut AnyConnection,
    before: DateTime<Utc>,
) -> Result<(usize, usize), StoreError> {
    let before = naive(before);
    let deliveries = diesel::delete(
        deliveries::table
            .filter(deliveries::status.ne(DeliveryStatus::Pending.as_str()))
            .filter(deliveries::updated_at.lt(before)),
    )
    .execute(conn)
    .store()?;
    let attempts = diesel::delete(webhook_logs::table.filter(webhook_logs::created_at.lt(before)))
        .execute(conn)
        .store()?;
    Ok((deliveries, attempts))
}
