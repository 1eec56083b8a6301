//! The email queue: notifications to people, claimed and leased like
//! deliveries (see `deliveries.rs`), with the status names people read.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use libris_application::notifications::CHANNEL;
use libris_application::ports::{LeasedNotification, NewNotification, NotificationFilter};
use libris_application::{Page, Paged, StoreError};
use libris_domain::delivery::{DeliveryStatus, Progress};
use libris_domain::lending::LoanId;
use libris_domain::notifications::{
    Email, Notification, NotificationId, NotificationKind, NotificationStatus,
};
use uuid::Uuid;

use crate::connection::{columns, on_each_backend, AnyConnection, Db};
use crate::error::{unreadable, IntoStore};
use crate::schema::{loans, notifications};
use crate::time::{naive, utc};
use crate::CHUNK;

fn pending() -> &'static str {
    NotificationStatus(DeliveryStatus::Pending).as_str()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = notifications)]
struct NotificationRow {
    id: i64,
    channel: String,
    kind: String,
    recipient: String,
    subject: String,
    body: String,
    status: String,
    attempts: i64,
    retry_base: i64,
    next_attempt_at: NaiveDateTime,
    last_error: Option<String>,
    event_id: Option<String>,
    created_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
}

impl NotificationRow {
    fn status(&self) -> Result<NotificationStatus, StoreError> {
        NotificationStatus::parse(&self.status)
            .ok_or_else(|| unreadable("notification status", &self.status))
    }

    fn email(&self) -> Email {
        Email {
            to: self.recipient.clone(),
            subject: self.subject.clone(),
            body: self.body.clone(),
        }
    }
}

impl TryFrom<NotificationRow> for Notification {
    type Error = StoreError;

    fn try_from(row: NotificationRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            kind: NotificationKind::parse(&row.kind)
                .ok_or_else(|| unreadable("notification kind", &row.kind))?,
            status: row.status()?,
            email: row.email(),
            event_id: row
                .event_id
                .as_deref()
                .map(Uuid::parse_str)
                .transpose()
                .map_err(|e| unreadable("notification event id", e))?,
            channel: row.channel,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: utc(row.created_at),
            sent_at: row.sent_at.map(utc),
        })
    }
}

impl TryFrom<NotificationRow> for LeasedNotification {
    type Error = StoreError;

    fn try_from(row: NotificationRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            email: row.email(),
            progress: Progress {
                status: row.status()?.0,
                attempts: row.attempts,
                retry_base: row.retry_base,
                next_attempt_at: utc(row.next_attempt_at),
                last_error: row.last_error,
            },
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = notifications)]
struct NewNotificationRow<'a> {
    channel: &'static str,
    kind: &'static str,
    recipient: &'a str,
    subject: &'a str,
    body: &'a str,
    status: &'static str,
    next_attempt_at: NaiveDateTime,
    event_id: Option<String>,
    loan_id: Option<i64>,
    created_at: NaiveDateTime,
}

/// Queues the notifications not queued yet; answers how many were queued and
/// whether one of them is due the moment it was made (so the commit should
/// wake the email workers rather than leave it to their poll).
///
/// A duplicate (same event and recipient, or same loan and kind) is skipped by
/// `ON CONFLICT DO NOTHING`: a unique violation would abort the whole
/// transaction on PostgreSQL. `RETURNING` answers only the rows inserted. As
/// for deliveries, SQLite goes row by row (one prepared statement) and
/// PostgreSQL takes a chunk in one statement.
pub(crate) fn insert_notifications(
    conn: &mut AnyConnection,
    new: &[NewNotification],
) -> Result<(usize, bool), StoreError> {
    let mut queued = 0;
    let mut due_now = false;
    for chunk in new.chunks(CHUNK) {
        let rows: Vec<NewNotificationRow<'_>> = chunk
            .iter()
            .map(|n| NewNotificationRow {
                channel: CHANNEL,
                kind: n.kind.as_str(),
                recipient: &n.email.to,
                subject: &n.email.subject,
                body: &n.email.body,
                status: pending(),
                next_attempt_at: naive(n.due_at),
                event_id: n.event_id.map(|id| id.to_string()),
                loan_id: n.loan_id,
                created_at: naive(n.created_at),
            })
            .collect();
        let returned = (notifications::next_attempt_at, notifications::created_at);
        let inserted: Vec<(NaiveDateTime, NaiveDateTime)> = match &mut *conn {
            AnyConnection::Sqlite(c) => rows
                .iter()
                .map(|row| {
                    diesel::insert_into(notifications::table)
                        .values(row)
                        .on_conflict_do_nothing()
                        .returning(returned)
                        .get_result(c)
                        .optional()
                })
                .filter_map(Result::transpose)
                .collect::<QueryResult<_>>(),
            AnyConnection::Postgresql(c) => diesel::insert_into(notifications::table)
                .values(&rows)
                .on_conflict_do_nothing()
                .returning(returned)
                .get_results(c),
        }
        .store()?;
        queued += inserted.len();
        due_now |= inserted
            .iter()
            .any(|(next_attempt_at, created_at)| next_attempt_at <= created_at);
    }
    Ok((queued, due_now))
}

/// Deletes the loan's pending notifications that no worker holds. A leased
/// one is being sent (there is no `now` to tell an expired lease), so it is
/// left to finish.
pub(crate) fn cancel_loan_notifications(
    conn: &mut AnyConnection,
    loan_id: LoanId,
) -> Result<usize, StoreError> {
    diesel::delete(
        notifications::table
            .filter(notifications::loan_id.eq(loan_id))
            .filter(notifications::status.eq(pending()))
            .filter(notifications::lease_until.is_null()),
    )
    .execute(conn)
    .store()
}

/// Due, unleased notifications whose recipient is not in `exclude`, oldest
/// due first. On PostgreSQL they are locked `SKIP LOCKED` until the claim
/// commits, so concurrent claimers take disjoint sets; on SQLite the write
/// transaction is already exclusive.
pub(crate) fn due_notifications(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    limit: i64,
    exclude: &[String],
) -> Result<Vec<(NotificationId, String)>, StoreError> {
    let now = naive(now);
    let candidates = notifications::table
        .filter(notifications::status.eq(pending()))
        .filter(notifications::next_attempt_at.le(now))
        .filter(
            notifications::lease_until
                .is_null()
                .or(notifications::lease_until.lt(now)),
        )
        .filter(notifications::recipient.ne_all(exclude))
        // A reminder or notice of a loan returned meanwhile is owed nobody
        // (its return may have been handled by another instance before the
        // borrow that queued it committed).
        .filter(diesel::dsl::not(diesel::dsl::exists(
            loans::table
                .filter(loans::id.nullable().eq(notifications::loan_id))
                .filter(loans::returned_at.is_not_null()),
        )))
        // Not `, id`, as for deliveries: ties would make SQLite sort every due
        // row before answering the first.
        .order(notifications::next_attempt_at)
        .limit(limit)
        .select((notifications::id, notifications::recipient));
    match conn {
        AnyConnection::Postgresql(pg) => candidates.for_update().skip_locked().load(pg),
        AnyConnection::Sqlite(sqlite) => candidates.load(sqlite),
    }
    .store()
}

/// Leases the notifications; answers them in the order of `ids`, without the
/// ones that no longer exist.
pub(crate) fn lease_notifications(
    conn: &mut AnyConnection,
    ids: &[NotificationId],
    lease_until: DateTime<Utc>,
) -> Result<Vec<LeasedNotification>, StoreError> {
    let mut leased = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<NotificationRow> =
            diesel::update(notifications::table.filter(notifications::id.eq_any(chunk)))
                .set(notifications::lease_until.eq(Some(naive(lease_until))))
                .returning(columns::<NotificationRow>())
                .get_results(conn)
                .store()?;
        for row in rows {
            leased.insert(row.id, LeasedNotification::try_from(row)?);
        }
    }
    Ok(ids.iter().filter_map(|id| leased.remove(id)).collect())
}

/// What saving an attempt's outcome writes. `None` leaves a column as it is:
/// `sent_at` is written only for a delivered notification.
#[derive(AsChangeset)]
#[diesel(table_name = notifications)]
struct ProgressChanges<'a> {
    status: &'static str,
    attempts: i64,
    retry_base: i64,
    next_attempt_at: NaiveDateTime,
    /// `Some(None)` clears it.
    last_error: Option<Option<&'a str>>,
    /// Always `Some(None)`: saving releases the lease.
    lease_until: Option<Option<NaiveDateTime>>,
    sent_at: Option<NaiveDateTime>,
}

pub(crate) fn save_notification(
    conn: &mut AnyConnection,
    id: NotificationId,
    progress: &Progress,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = naive(at);
    let changes = ProgressChanges {
        status: NotificationStatus(progress.status).as_str(),
        attempts: progress.attempts,
        retry_base: progress.retry_base,
        next_attempt_at: naive(progress.next_attempt_at),
        last_error: Some(progress.last_error.as_deref()),
        lease_until: Some(None),
        sent_at: (progress.status == DeliveryStatus::Delivered).then_some(at),
    };
    let update = diesel::update(notifications::table.find(id)).set(changes);
    // On the backend's own connection, as `save_delivery` does: once per
    // attempt, on SQLite's single writer's time.
    on_each_backend!(conn, |c| update.execute(c)).store()?;
    Ok(())
}

fn filtered_notifications(filter: &NotificationFilter) -> notifications::BoxedQuery<'_, Db> {
    let mut query = notifications::table.into_boxed();
    if let Some(channel) = &filter.channel {
        query = query.filter(notifications::channel.eq(channel));
    }
    if let Some(status) = filter.status {
        query = query.filter(notifications::status.eq(status.as_str()));
    }
    query
}

pub(crate) fn prune_notifications(
    conn: &mut AnyConnection,
    before: DateTime<Utc>,
) -> Result<usize, StoreError> {
    diesel::delete(
        notifications::table
            .filter(notifications::status.ne(pending()))
            .filter(notifications::created_at.lt(naive(before))),
    )
    .execute(conn)
    .store()
}

pub(crate) fn due_backlog(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    let (count, earliest): (i64, Option<NaiveDateTime>) = notifications::table
        .filter(notifications::status.eq(pending()))
        .filter(notifications::next_attempt_at.le(naive(now)))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(notifications::next_attempt_at),
        ))
        .first(conn)
        .store()?;
    Ok((count, earliest.map(utc)))
}

pub(crate) fn list_notifications(
    conn: &mut AnyConnection,
    filter: &NotificationFilter,
    page: Page,
) -> Result<Paged<Notification>, StoreError> {
    let count = filtered_notifications(filter)
        .count()
        .get_result(conn)
        .store()?;
    let rows: Vec<NotificationRow> = filtered_notifications(filter)
        .select(NotificationRow::as_select())
        .order(notifications::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: rows
            .into_iter()
            .map(Notification::try_from)
            .collect::<Result<_, _>>()?,
    })
}
