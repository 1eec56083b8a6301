//! Campaigns and their messages (the "sms" channel's queue), claimed and
//! leased like deliveries and notifications, and the daily statistics email
//! queued on the email channel.
//!
//! Choosing a campaign's recipients is one `INSERT … SELECT` over the
//! members the filter matches: the audience never passes through memory,
//! and the unique (campaign, member) constraint with `ON CONFLICT DO
//! NOTHING` keeps one message per member whatever runs it twice. That
//! statement is plain SQL on each backend's own connection (diesel's DSL
//! has no insert-from-select with a conflict clause through the
//! multi-connection), with the lists of the filter bound as parameters.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use libris_application::campaigns::model::{
    Campaign, CampaignActivity, CampaignMessage, OutgoingMessage,
};
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::UserId;
use libris_domain::campaigns::{
    CampaignFilter, CampaignId, CampaignInput, CampaignSpec, CampaignStatus, FilterInput,
    MessageCounts, MessageId, MessageStatus,
};
use libris_domain::delivery::{DeliveryStatus, Progress};
use libris_domain::notifications::{Email, NotificationKind, NotificationStatus};

use crate::connection::{columns, on_each_backend, AnyConnection, Db};
use crate::error::{unreadable, IntoStore};
use crate::schema::{campaign_messages, campaigns};
use crate::time::{naive, utc};
use crate::CHUNK;

const PENDING: &str = "pending";

// ---------------------------------------------------------------------------
// Campaigns
// ---------------------------------------------------------------------------

/// The filter as stored: JSON of the API's shape.
fn filter_json(filter: &CampaignFilter) -> String {
    serde_json::json!({
        "tags": filter.tags(),
        "operator_codes": filter.operator_codes(),
    })
    .to_string()
}

fn filter_input(raw: &str) -> Result<FilterInput, StoreError> {
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| unreadable("campaign filter", e))?;
    if !value.is_object() {
        return Err(unreadable("campaign filter", raw));
    }
    let list = |key: &str| -> Result<Vec<String>, StoreError> {
        match value.get(key) {
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(list) => {
                serde_json::from_value(list.clone()).map_err(|e| unreadable("campaign filter", e))
            }
        }
    };
    Ok(FilterInput {
        tags: list("tags")?,
        operator_codes: list("operator_codes")?,
    })
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = campaigns)]
struct CampaignRow {
    id: i64,
    text: String,
    start_at: NaiveDateTime,
    end_at: NaiveDateTime,
    filter: String,
    send_window_from: Option<String>,
    send_window_to: Option<String>,
    status: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn spec_of(
    text: &str,
    start_at: NaiveDateTime,
    end_at: NaiveDateTime,
    filter: &str,
    window: Option<(String, String)>,
) -> Result<CampaignSpec, StoreError> {
    CampaignSpec::parse(CampaignInput {
        text: text.to_owned(),
        start_at: utc(start_at),
        end_at: utc(end_at),
        filter: filter_input(filter)?,
        send_window: window,
    })
    .map_err(|e| unreadable("campaign", e))
}

fn window_of(from: Option<String>, to: Option<String>) -> Option<(String, String)> {
    from.zip(to)
}

fn campaign_status(raw: &str) -> Result<CampaignStatus, StoreError> {
    CampaignStatus::parse(raw).ok_or_else(|| unreadable("campaign status", raw))
}

fn message_status(raw: &str) -> Result<MessageStatus, StoreError> {
    MessageStatus::parse(raw).ok_or_else(|| unreadable("message status", raw))
}

impl CampaignRow {
    fn into_campaign(self, counts: MessageCounts) -> Result<Campaign, StoreError> {
        Ok(Campaign {
            id: self.id,
            spec: spec_of(
                &self.text,
                self.start_at,
                self.end_at,
                &self.filter,
                window_of(self.send_window_from, self.send_window_to),
            )?,
            status: campaign_status(&self.status)?,
            counts,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = campaigns, treat_none_as_null = true)]
struct CampaignFields<'a> {
    text: &'a str,
    start_at: NaiveDateTime,
    end_at: NaiveDateTime,
    filter: String,
    send_window_from: Option<String>,
    send_window_to: Option<String>,
}

impl<'a> CampaignFields<'a> {
    fn of(spec: &'a CampaignSpec) -> Self {
        Self {
            text: spec.text.as_str(),
            start_at: naive(spec.start_at),
            end_at: naive(spec.end_at),
            filter: filter_json(&spec.filter),
            send_window_from: spec.send_window.map(|w| w.from().to_string()),
            send_window_to: spec.send_window.map(|w| w.to().to_string()),
        }
    }
}

/// Messages by status, per campaign.
fn counts_of(
    conn: &mut AnyConnection,
    ids: &[CampaignId],
) -> Result<HashMap<CampaignId, MessageCounts>, StoreError> {
    let mut counts: HashMap<CampaignId, MessageCounts> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, String, i64)> = campaign_messages::table
            .filter(campaign_messages::campaign_id.eq_any(chunk))
            .group_by((campaign_messages::campaign_id, campaign_messages::status))
            .select((
                campaign_messages::campaign_id,
                campaign_messages::status,
                diesel::dsl::count_star(),
            ))
            .load(conn)
            .store()?;
        for (id, status, count) in rows {
            counts
                .entry(id)
                .or_default()
                .add(message_status(&status)?, count.unsigned_abs());
        }
    }
    Ok(counts)
}

fn with_counts(
    conn: &mut AnyConnection,
    rows: Vec<CampaignRow>,
) -> Result<Vec<Campaign>, StoreError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut counts = counts_of(conn, &ids)?;
    rows.into_iter()
        .map(|row| {
            let counts = counts.remove(&row.id).unwrap_or_default();
            row.into_campaign(counts)
        })
        .collect()
}

/// Locks the campaign's row until the transaction ends, on PostgreSQL (on
/// SQLite the write transaction is exclusive already). Campaigns are locked
/// before their messages by every writer.
pub(crate) fn hold_campaign(conn: &mut AnyConnection, id: CampaignId) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        campaigns::table
            .find(id)
            .select(campaigns::id)
            .for_update()
            .load::<i64>(pg)
            .store()?;
    }
    Ok(())
}

pub(crate) fn insert_campaign(
    conn: &mut AnyConnection,
    spec: &CampaignSpec,
    status: CampaignStatus,
    at: DateTime<Utc>,
) -> Result<Campaign, StoreError> {
    let at = naive(at);
    let row: CampaignRow = diesel::insert_into(campaigns::table)
        .values((
            CampaignFields::of(spec),
            campaigns::status.eq(status.as_str()),
            campaigns::created_at.eq(at),
            campaigns::updated_at.eq(at),
        ))
        .returning(columns::<CampaignRow>())
        .get_result(conn)
        .store()?;
    row.into_campaign(MessageCounts::default())
}

pub(crate) fn campaign(
    conn: &mut AnyConnection,
    id: CampaignId,
) -> Result<Option<Campaign>, StoreError> {
    let row: Option<CampaignRow> = campaigns::table
        .find(id)
        .select(CampaignRow::as_select())
        .first(conn)
        .optional()
        .store()?;
    match row {
        None => Ok(None),
        Some(row) => Ok(with_counts(conn, vec![row])?.pop()),
    }
}

pub(crate) fn update_campaign(
    conn: &mut AnyConnection,
    id: CampaignId,
    spec: &CampaignSpec,
    at: DateTime<Utc>,
) -> Result<Campaign, StoreError> {
    diesel::update(campaigns::table.find(id))
        .set((
            CampaignFields::of(spec),
            campaigns::updated_at.eq(naive(at)),
        ))
        .execute(conn)
        .store()?;
    campaign(conn, id)?
        .ok_or_else(|| StoreError::Unexpected(format!("campaign {id} vanished while updated")))
}

pub(crate) fn delete_campaign(conn: &mut AnyConnection, id: CampaignId) -> Result<(), StoreError> {
    // The messages go with it (ON DELETE CASCADE).
    diesel::delete(campaigns::table.find(id))
        .execute(conn)
        .store()?;
    Ok(())
}

pub(crate) fn list_campaigns(
    conn: &mut AnyConnection,
    page: Page,
) -> Result<Paged<Campaign>, StoreError> {
    let count = campaigns::table.count().get_result(conn).store()?;
    let rows: Vec<CampaignRow> = campaigns::table
        .select(CampaignRow::as_select())
        .order(campaigns::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: with_counts(conn, rows)?,
    })
}

/// The conditional change that decides who starts, finishes or cancels a
/// campaign: on PostgreSQL a second transaction updating the same row waits
/// for the first, then finds the status changed and updates nothing.
pub(crate) fn set_campaign_status(
    conn: &mut AnyConnection,
    id: CampaignId,
    from: CampaignStatus,
    to: CampaignStatus,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        campaigns::table
            .find(id)
            .filter(campaigns::status.eq(from.as_str())),
    )
    .set((
        campaigns::status.eq(to.as_str()),
        campaigns::updated_at.eq(naive(at)),
    ))
    .execute(conn)
    .store()?;
    Ok(changed == 1)
}

pub(crate) fn campaigns_to_start(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<CampaignId>, StoreError> {
    campaigns::table
        .filter(campaigns::status.eq(CampaignStatus::Scheduled.as_str()))
        .filter(campaigns::start_at.le(naive(now)))
        .order((campaigns::start_at, campaigns::id))
        .limit(limit)
        .select(campaigns::id)
        .load(conn)
        .store()
}

pub(crate) fn campaigns_to_finish(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<CampaignId>, StoreError> {
    let pending = campaign_messages::table
        .filter(campaign_messages::campaign_id.eq(campaigns::id))
        .filter(campaign_messages::status.eq(PENDING));
    campaigns::table
        .filter(campaigns::status.eq(CampaignStatus::Running.as_str()))
        .filter(
            campaigns::end_at
                .le(naive(now))
                .or(diesel::dsl::not(diesel::dsl::exists(pending))),
        )
        .order(campaigns::id)
        .limit(limit)
        .select(campaigns::id)
        .load(conn)
        .store()
}

/// `?` on SQLite, `$n` on PostgreSQL, in the order the values are bound.
struct Placeholders {
    numbered: bool,
    next: usize,
}

impl Placeholders {
    fn next(&mut self) -> String {
        self.next += 1;
        if self.numbered {
            format!("${}", self.next)
        } else {
            "?".to_owned()
        }
    }

    fn list(&mut self, n: usize) -> String {
        (0..n).map(|_| self.next()).collect::<Vec<_>>().join(", ")
    }
}

/// The one statement that chooses the recipients (see the module's doc).
fn recipients_sql(filter: &CampaignFilter, numbered: bool) -> String {
    let mut p = Placeholders { numbered, next: 0 };
    let (campaign, status, due, created, updated) =
        (p.next(), p.next(), p.next(), p.next(), p.next());
    let mut sql = format!(
        "INSERT INTO campaign_messages (campaign_id, user_id, username, phone, timezone, \
         status, attempts, retry_base, next_attempt_at, window_wait, created_at, updated_at) \
         SELECT {campaign}, users.id, users.username, profiles.phone, profiles.timezone, \
         {status}, 0, 0, {due}, FALSE, {created}, {updated} \
         FROM users JOIN profiles ON profiles.user_id = users.id \
         WHERE profiles.subscribed_to_notifications AND profiles.operator_code IS NOT NULL"
    );
    if !filter.operator_codes().is_empty() {
        let codes = p.list(filter.operator_codes().len());
        sql.push_str(&format!(" AND profiles.operator_code IN ({codes})"));
    }
    if !filter.tags().is_empty() {
        let tags = p.list(filter.tags().len());
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM member_tags WHERE member_tags.user_id = users.id \
             AND member_tags.tag IN ({tags}))"
        ));
    }
    if numbered {
        // PostgreSQL: a member being deleted right now is waited for and then
        // skipped, and a delete after this waits for it and then removes the
        // member's new pending message — never a message for a deleted member
        // (SQLite has one writer at a time).
        sql.push_str(" FOR KEY SHARE OF users");
    }
    sql.push_str(" ON CONFLICT (campaign_id, user_id) DO NOTHING");
    sql
}

macro_rules! bind_recipients {
    ($conn:expr, $backend:ty, $sql:expr, $id:expr, $filter:expr, $at:expr) => {{
        let mut query = diesel::sql_query($sql)
            .into_boxed::<$backend>()
            .bind::<BigInt, _>($id)
            .bind::<Text, _>(PENDING)
            .bind::<Timestamp, _>($at)
            .bind::<Timestamp, _>($at)
            .bind::<Timestamp, _>($at);
        for code in $filter.operator_codes() {
            query = query.bind::<Text, _>(code.clone());
        }
        for tag in $filter.tags() {
            query = query.bind::<Text, _>(tag.clone());
        }
        query.execute($conn)
    }};
}

pub(crate) fn queue_recipients(
    conn: &mut AnyConnection,
    id: CampaignId,
    filter: &CampaignFilter,
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let at = naive(at);
    let queued = match conn {
        AnyConnection::Postgresql(pg) => {
            bind_recipients!(
                pg,
                diesel::pg::Pg,
                recipients_sql(filter, true),
                id,
                filter,
                at
            )
        }
        AnyConnection::Sqlite(sqlite) => {
            bind_recipients!(
                sqlite,
                diesel::sqlite::Sqlite,
                recipients_sql(filter, false),
                id,
                filter,
                at
            )
        }
    }
    .store()?;
    Ok(queued as u64)
}

/// Closes the campaign's pending messages that no live lease holds, in one
/// statement. A message whose lease has run out belongs to a worker that
/// died: it is closed too. One in flight stays pending until its attempt is
/// recorded.
pub(crate) fn close_pending_messages(
    conn: &mut AnyConnection,
    id: CampaignId,
    status: MessageStatus,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let now = naive(now);
    let closed = diesel::update(
        campaign_messages::table
            .filter(campaign_messages::campaign_id.eq(id))
            .filter(campaign_messages::status.eq(PENDING))
            .filter(
                campaign_messages::lease_until
                    .is_null()
                    .or(campaign_messages::lease_until.lt(now)),
            ),
    )
    .set((
        campaign_messages::status.eq(status.as_str()),
        campaign_messages::lease_until.eq(None::<NaiveDateTime>),
        campaign_messages::window_wait.eq(false),
        campaign_messages::updated_at.eq(now),
    ))
    .execute(conn)
    .store()?;
    Ok(closed as u64)
}

pub(crate) fn wake_waiting_messages(
    conn: &mut AnyConnection,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let now = naive(now);
    let woken = diesel::update(
        campaign_messages::table
            .filter(campaign_messages::campaign_id.eq(id))
            .filter(campaign_messages::status.eq(PENDING))
            .filter(campaign_messages::window_wait.eq(true)),
    )
    .set((
        campaign_messages::next_attempt_at.eq(now),
        campaign_messages::window_wait.eq(false),
    ))
    .execute(conn)
    .store()?;
    Ok(woken as u64)
}

pub(crate) fn delete_pending_messages_of(
    conn: &mut AnyConnection,
    user_id: UserId,
) -> Result<u64, StoreError> {
    let deleted = diesel::delete(
        campaign_messages::table
            .filter(campaign_messages::user_id.eq(user_id))
            .filter(campaign_messages::status.eq(PENDING)),
    )
    .execute(conn)
    .store()?;
    Ok(deleted as u64)
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

#[derive(Queryable, Selectable)]
#[diesel(table_name = campaign_messages)]
struct MessageRow {
    id: i64,
    campaign_id: i64,
    user_id: i64,
    username: String,
    phone: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    created_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
}

impl TryFrom<MessageRow> for CampaignMessage {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            campaign_id: row.campaign_id,
            user_id: row.user_id,
            username: row.username,
            phone: row.phone,
            status: message_status(&row.status)?,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: utc(row.created_at),
            sent_at: row.sent_at.map(utc),
        })
    }
}

fn filtered_messages(
    id: CampaignId,
    status: Option<MessageStatus>,
) -> campaign_messages::BoxedQuery<'static, Db> {
    let mut query = campaign_messages::table
        .filter(campaign_messages::campaign_id.eq(id))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(campaign_messages::status.eq(status.as_str()));
    }
    query
}

pub(crate) fn list_messages(
    conn: &mut AnyConnection,
    id: CampaignId,
    status: Option<MessageStatus>,
    page: Page,
) -> Result<Paged<CampaignMessage>, StoreError> {
    let count = filtered_messages(id, status)
        .count()
        .get_result(conn)
        .store()?;
    let rows: Vec<MessageRow> = filtered_messages(id, status)
        .select(MessageRow::as_select())
        .order(campaign_messages::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: rows
            .into_iter()
            .map(CampaignMessage::try_from)
            .collect::<Result<_, _>>()?,
    })
}

pub(crate) fn message_totals(conn: &mut AnyConnection) -> Result<MessageCounts, StoreError> {
    let rows: Vec<(String, i64)> = campaign_messages::table
        .group_by(campaign_messages::status)
        .select((campaign_messages::status, diesel::dsl::count_star()))
        .load(conn)
        .store()?;
    let mut totals = MessageCounts::default();
    for (status, count) in rows {
        totals.add(message_status(&status)?, count.unsigned_abs());
    }
    Ok(totals)
}

pub(crate) fn activity_between(
    conn: &mut AnyConnection,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<CampaignActivity>, StoreError> {
    let rows: Vec<(i64, String, i64)> = campaign_messages::table
        .filter(campaign_messages::updated_at.ge(naive(since)))
        .filter(campaign_messages::updated_at.lt(naive(until)))
        .group_by((campaign_messages::campaign_id, campaign_messages::status))
        .select((
            campaign_messages::campaign_id,
            campaign_messages::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)
        .store()?;
    let mut by_campaign: std::collections::BTreeMap<i64, MessageCounts> = Default::default();
    for (id, status, count) in rows {
        by_campaign
            .entry(id)
            .or_default()
            .add(message_status(&status)?, count.unsigned_abs());
    }
    let ids: Vec<i64> = by_campaign.keys().copied().collect();
    let texts: HashMap<i64, String> = campaigns::table
        .filter(campaigns::id.eq_any(&ids))
        .select((campaigns::id, campaigns::text))
        .load::<(i64, String)>(conn)
        .store()?
        .into_iter()
        .collect();
    Ok(by_campaign
        .into_iter()
        .map(|(campaign_id, counts)| CampaignActivity {
            campaign_id,
            text: texts.get(&campaign_id).cloned().unwrap_or_default(),
            counts,
        })
        .collect())
}

// ---------------------------------------------------------------------------
// The channel's queue
// ---------------------------------------------------------------------------

/// Due, unleased messages whose member is not in `exclude`, oldest due
/// first; locked `SKIP LOCKED` on PostgreSQL until the claim commits.
pub(crate) fn due_messages(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    limit: i64,
    exclude: &[String],
) -> Result<Vec<(MessageId, String)>, StoreError> {
    let now = naive(now);
    let exclude: Vec<i64> = exclude.iter().filter_map(|t| t.parse().ok()).collect();
    let candidates = campaign_messages::table
        .filter(campaign_messages::status.eq(PENDING))
        .filter(campaign_messages::next_attempt_at.le(now))
        .filter(
            campaign_messages::lease_until
                .is_null()
                .or(campaign_messages::lease_until.lt(now)),
        )
        .filter(campaign_messages::user_id.ne_all(exclude))
        // Not `, id`: ties (a campaign's start queues every message at one
        // time) would make SQLite sort every due row before the first.
        .order(campaign_messages::next_attempt_at)
        .limit(limit)
        .select((campaign_messages::id, campaign_messages::user_id));
    let rows: Vec<(i64, i64)> = match conn {
        AnyConnection::Postgresql(pg) => candidates.for_update().skip_locked().load(pg),
        AnyConnection::Sqlite(sqlite) => candidates.load(sqlite),
    }
    .store()?;
    Ok(rows
        .into_iter()
        .map(|(id, user)| (id, user.to_string()))
        .collect())
}

type OutgoingRow = (
    (
        i64,
        i64,
        i64,
        String,
        String,
        i64,
        i64,
        NaiveDateTime,
        Option<String>,
    ),
    (
        String,
        NaiveDateTime,
        NaiveDateTime,
        String,
        Option<String>,
        Option<String>,
        String,
    ),
);

pub(crate) fn messages_to_send(
    conn: &mut AnyConnection,
    ids: &[MessageId],
) -> Result<Vec<OutgoingMessage>, StoreError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<OutgoingRow> = campaign_messages::table
            .inner_join(campaigns::table)
            .filter(campaign_messages::id.eq_any(chunk))
            .filter(campaign_messages::status.eq(PENDING))
            .select((
                (
                    campaign_messages::id,
                    campaign_messages::campaign_id,
                    campaign_messages::user_id,
                    campaign_messages::phone,
                    campaign_messages::timezone,
                    campaign_messages::attempts,
                    campaign_messages::retry_base,
                    campaign_messages::next_attempt_at,
                    campaign_messages::last_error,
                ),
                (
                    campaigns::text,
                    campaigns::start_at,
                    campaigns::end_at,
                    campaigns::status,
                    campaigns::send_window_from,
                    campaigns::send_window_to,
                    campaigns::filter,
                ),
            ))
            .load(conn)
            .store()?;
        for (message, campaign) in rows {
            let (id, campaign_id, user_id, phone, timezone, attempts, retry_base, next, error) =
                message;
            let (text, start_at, end_at, status, from, to, filter) = campaign;
            let spec = spec_of(&text, start_at, end_at, &filter, window_of(from, to))?;
            found.insert(
                id,
                OutgoingMessage {
                    id,
                    campaign_id,
                    user_id,
                    phone,
                    timezone,
                    text,
                    campaign_status: campaign_status(&status)?,
                    start_at: spec.start_at,
                    end_at: spec.end_at,
                    send_window: spec.send_window,
                    progress: Progress {
                        status: DeliveryStatus::Pending,
                        attempts,
                        retry_base,
                        next_attempt_at: utc(next),
                        last_error: error,
                    },
                },
            );
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub(crate) fn lease_messages(
    conn: &mut AnyConnection,
    ids: &[MessageId],
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(CHUNK) {
        diesel::update(campaign_messages::table.filter(campaign_messages::id.eq_any(chunk)))
            .set(campaign_messages::lease_until.eq(Some(naive(until))))
            .execute(conn)
            .store()?;
    }
    Ok(())
}

pub(crate) fn defer_message(
    conn: &mut AnyConnection,
    id: MessageId,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(
        campaign_messages::table
            .find(id)
            .filter(campaign_messages::status.eq(PENDING)),
    )
    .set((
        campaign_messages::next_attempt_at.eq(naive(until)),
        campaign_messages::window_wait.eq(true),
        campaign_messages::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
    .store()?;
    Ok(())
}

pub(crate) fn close_message(
    conn: &mut AnyConnection,
    id: MessageId,
    status: MessageStatus,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(
        campaign_messages::table
            .find(id)
            .filter(campaign_messages::status.eq(PENDING)),
    )
    .set((
        campaign_messages::status.eq(status.as_str()),
        campaign_messages::window_wait.eq(false),
        campaign_messages::lease_until.eq(None::<NaiveDateTime>),
        campaign_messages::updated_at.eq(naive(at)),
    ))
    .execute(conn)
    .store()?;
    Ok(())
}

/// What saving an attempt's outcome writes; `sent_at` only when sent.
#[derive(AsChangeset)]
#[diesel(table_name = campaign_messages)]
struct ProgressChanges<'a> {
    status: &'static str,
    attempts: i64,
    retry_base: i64,
    next_attempt_at: NaiveDateTime,
    /// `Some(None)` clears it.
    last_error: Option<Option<&'a str>>,
    /// Always `Some(None)`: saving releases the lease.
    lease_until: Option<Option<NaiveDateTime>>,
    window_wait: bool,
    updated_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
}

/// Saves only a pending message: one closed meanwhile (its campaign
/// cancelled, a lease that ran out and another worker's outcome) keeps the
/// status it has.
pub(crate) fn save_message(
    conn: &mut AnyConnection,
    id: MessageId,
    progress: &Progress,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = naive(at);
    let changes = ProgressChanges {
        status: MessageStatus::from_delivery(progress.status).as_str(),
        attempts: progress.attempts,
        retry_base: progress.retry_base,
        next_attempt_at: naive(progress.next_attempt_at),
        last_error: Some(progress.last_error.as_deref()),
        lease_until: Some(None),
        window_wait: false,
        updated_at: at,
        sent_at: (progress.status == DeliveryStatus::Delivered).then_some(at),
    };
    let update = diesel::update(
        campaign_messages::table
            .find(id)
            .filter(campaign_messages::status.eq(PENDING)),
    )
    .set(changes);
    on_each_backend!(conn, |c| update.execute(c)).store()?;
    Ok(())
}

pub(crate) fn cancel_if_campaign_cancelled(
    conn: &mut AnyConnection,
    ids: &[MessageId],
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut cancelled = 0;
    for chunk in ids.chunks(CHUNK) {
        let cancelled_campaigns = campaigns::table
            .filter(campaigns::status.eq(CampaignStatus::Cancelled.as_str()))
            .select(campaigns::id);
        cancelled += diesel::update(
            campaign_messages::table
                .filter(campaign_messages::id.eq_any(chunk))
                .filter(campaign_messages::status.eq(PENDING))
                .filter(campaign_messages::campaign_id.eq_any(cancelled_campaigns)),
        )
        .set((
            campaign_messages::status.eq(MessageStatus::Cancelled.as_str()),
            campaign_messages::updated_at.eq(naive(at)),
        ))
        .execute(conn)
        .store()?;
    }
    Ok(cancelled as u64)
}

pub(crate) fn due_message_backlog(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    let (count, earliest): (i64, Option<NaiveDateTime>) = campaign_messages::table
        .filter(campaign_messages::status.eq(PENDING))
        .filter(campaign_messages::next_attempt_at.le(naive(now)))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(campaign_messages::next_attempt_at),
        ))
        .first(conn)
        .store()?;
    Ok((count, earliest.map(utc)))
}

// ---------------------------------------------------------------------------
// The daily statistics email
// ---------------------------------------------------------------------------

/// Queues it unless its key is taken: `ON CONFLICT DO NOTHING` on the
/// unique key, so two instances at the same moment queue it once. Plain SQL:
/// `dedup_key` is not in the diesel schema (see `schema.rs`).
pub(crate) fn queue_statistics_email(
    conn: &mut AnyConnection,
    key: &str,
    email: &Email,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let at = naive(at);
    let sql = |p: [&str; 9]| {
        format!(
            "INSERT INTO notifications (channel, kind, recipient, subject, body, status, \
             next_attempt_at, created_at, dedup_key) \
             VALUES ({}) ON CONFLICT DO NOTHING",
            p.join(", ")
        )
    };
    macro_rules! insert {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(libris_application::notifications::CHANNEL)
                .bind::<Text, _>(NotificationKind::DailyStatistics.as_str())
                .bind::<Text, _>(&email.to)
                .bind::<Text, _>(&email.subject)
                .bind::<Text, _>(&email.body)
                .bind::<Text, _>(NotificationStatus(DeliveryStatus::Pending).as_str())
                .bind::<Timestamp, _>(at)
                .bind::<Timestamp, _>(at)
                .bind::<Text, _>(key)
                .execute($c)
        };
    }
    let inserted = match conn {
        AnyConnection::Postgresql(pg) => insert!(
            pg,
            sql(["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"])
        ),
        AnyConnection::Sqlite(sqlite) => insert!(sqlite, sql(["?"; 9])),
    }
    .store()?;
    Ok(inserted == 1)
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    dedup_key: String,
}

pub(crate) fn statistics_emails_queued(
    conn: &mut AnyConnection,
    keys: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    for key in keys {
        let sql = |p: &str| format!("SELECT dedup_key FROM notifications WHERE dedup_key = {p}");
        let rows: Vec<Key> = match &mut *conn {
            AnyConnection::Postgresql(pg) => {
                diesel::sql_query(sql("$1")).bind::<Text, _>(key).load(pg)
            }
            AnyConnection::Sqlite(sqlite) => diesel::sql_query(sql("?"))
                .bind::<Text, _>(key)
                .load(sqlite),
        }
        .store()?;
        found.extend(rows.into_iter().map(|row| row.dedup_key));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipients_statement_binds_one_parameter_per_value() {
        let filter = CampaignFilter::new(FilterInput {
            tags: vec!["news".into(), "vip".into()],
            operator_codes: vec!["916".into()],
        });
        let pg = recipients_sql(&filter, true);
        assert!(pg.contains("operator_code IN ($6)"), "{pg}");
        assert!(pg.contains("tag IN ($7, $8)"), "{pg}");
        let sqlite = recipients_sql(&filter, false);
        assert_eq!(sqlite.matches('?').count(), 8, "{sqlite}");
        let everyone = recipients_sql(&CampaignFilter::default(), false);
        assert!(!everyone.contains(" IN ("), "{everyone}");
        assert!(everyone.ends_with("ON CONFLICT (campaign_id, user_id) DO NOTHING"));
        assert!(pg.contains("FOR KEY SHARE OF users ON CONFLICT"), "{pg}");
        assert!(!sqlite.contains("FOR KEY SHARE"), "{sqlite}");
    }

    #[test]
    fn a_stored_filter_reads_back_as_written() {
        let filter = CampaignFilter::new(FilterInput {
            tags: vec!["news".into()],
            operator_codes: vec!["916".into(), "903".into()],
        });
        let read = CampaignFilter::new(filter_input(&filter_json(&filter)).unwrap());
        assert_eq!(read, filter);
        assert_eq!(filter_input("{}").unwrap(), FilterInput::default());
        assert!(filter_input("[1]").is_err());
    }
}
