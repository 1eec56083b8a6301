//! Webhook subscriptions. Patterns and headers are stored as JSON text.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use libris_application::ports::WebhookFields;
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::UserId;
use libris_domain::events::EventPattern;
use libris_domain::payload::{parse_content_type, Filter, PayloadFormat, Template};
use libris_domain::webhooks::{HttpMethod, Webhook, WebhookId, WebhookOptions};
use uuid::Uuid;

use crate::connection::{columns, AnyConnection, Db};
use crate::error::{unreadable, IntoStore};
use crate::schema::webhooks;
use crate::time::{naive, utc};
use crate::CHUNK;

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub(crate) struct WebhookRow {
    id: String,
    url: String,
    events: String,
    secret: String,
    is_active: bool,
    headers: String,
    description: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    failure_count: i64,
    failing_since: Option<NaiveDateTime>,
    disabled_reason: Option<String>,
    url_password: Option<String>,
    owner_id: Option<i64>,
    options: String,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;

    fn try_from(row: WebhookRow) -> Result<Self, StoreError> {
        let patterns: Vec<String> =
            serde_json::from_str(&row.events).map_err(|e| unreadable("webhook events", e))?;
        Ok(Self {
            id: Uuid::parse_str(&row.id).map_err(|e| unreadable("webhook id", e))?,
            url: row.url,
            url_password: row.url_password,
            owner: row.owner_id,
            options: options_from_json(&row.options)?,
            events: patterns
                .iter()
                .map(|p| {
                    EventPattern::parse(p).map_err(|e| unreadable("webhook events", e.message))
                })
                .collect::<Result<_, _>>()?,
            secret: row.secret,
            is_active: row.is_active,
            headers: serde_json::from_str(&row.headers)
                .map_err(|e| unreadable("webhook headers", e))?,
            description: row.description,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            failure_count: row.failure_count,
            failing_since: row.failing_since.map(utc),
            disabled_reason: row.disabled_reason,
        })
    }
}

/// The options as stored: the API's own field names and values, so the
/// column reads like what an admin sent.
fn options_to_json(options: &WebhookOptions) -> String {
    serde_json::json!({
        "method": options.method.as_str(),
        "content_type": options.content_type.as_str(),
        "payload_format": options.payload_format.as_str(),
        "payload_template": options.payload_template.as_ref().map(Template::as_str),
        "filter": options.filter.to_json(),
    })
    .to_string()
}

/// Reads what [`options_to_json`] wrote; an absent key is its default.
fn options_from_json(raw: &str) -> Result<WebhookOptions, StoreError> {
    let bad = |what: &str| unreadable("webhook options", what);
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| unreadable("webhook options", e))?;
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
    let defaults = WebhookOptions::default();
    let method = match text("method") {
        Some(raw) => HttpMethod::parse(raw).ok_or_else(|| bad("method"))?,
        None => defaults.method,
    };
    let content_type = match text("content_type") {
        Some(raw) => parse_content_type(raw).map_err(|e| bad(&e))?,
        None => defaults.content_type,
    };
    let payload_format = match text("payload_format") {
        Some(raw) => PayloadFormat::parse(raw).ok_or_else(|| bad("payload_format"))?,
        None => defaults.payload_format,
    };
    let payload_template = text("payload_template")
        .map(|raw| Template::parse(raw, &content_type).map_err(|e| bad(&e.message)))
        .transpose()?;
    let filter = match value.get("filter") {
        Some(filter) if !filter.is_null() => Filter::parse(filter).map_err(|e| bad(&e.message))?,
        _ => defaults.filter,
    };
    Ok(WebhookOptions {
        method,
        content_type,
        payload_format,
        payload_template,
        filter,
    })
}

pub(crate) fn to_webhooks(rows: Vec<WebhookRow>) -> Result<Vec<Webhook>, StoreError> {
    rows.into_iter().map(Webhook::try_from).collect()
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = webhooks)]
struct WebhookChangeset {
    url: String,
    /// `None` clears it: a URL without a password has none to keep.
    #[diesel(treat_none_as_null = true)]
    url_password: Option<String>,
    events: String,
    secret: String,
    is_active: bool,
    headers: String,
    description: String,
    options: String,
    updated_at: NaiveDateTime,
}

impl WebhookChangeset {
    fn new(fields: &WebhookFields, at: DateTime<Utc>) -> Self {
        let patterns: Vec<String> = fields.events.iter().map(ToString::to_string).collect();
        Self {
            url: fields.url.clone(),
            url_password: fields.url_password.clone(),
            events: serde_json::Value::from(patterns).to_string(),
            secret: fields.secret.clone(),
            is_active: fields.is_active,
            headers: serde_json::to_string(&fields.headers).unwrap_or_else(|_| "[]".into()),
            description: fields.description.clone(),
            options: options_to_json(&fields.options),
            updated_at: naive(at),
        }
    }
}

pub(crate) fn insert_webhook(
    conn: &mut AnyConnection,
    fields: &WebhookFields,
    at: DateTime<Utc>,
) -> Result<Webhook, StoreError> {
    let id = Uuid::new_v4();
    diesel::insert_into(webhooks::table)
        .values((
            webhooks::id.eq(id.to_string()),
            WebhookChangeset::new(fields, at),
            webhooks::owner_id.eq(fields.owner),
            webhooks::created_at.eq(naive(at)),
        ))
        .execute(conn)
        .store()?;
    expect_webhook(conn, id)
}

fn expect_webhook(conn: &mut AnyConnection, id: WebhookId) -> Result<Webhook, StoreError> {
    webhook(conn, id)?.ok_or_else(|| {
        StoreError::Unexpected(format!("webhook {id} vanished inside its transaction"))
    })
}

pub(crate) fn webhook(
    conn: &mut AnyConnection,
    id: WebhookId,
) -> Result<Option<Webhook>, StoreError> {
    let row: Option<WebhookRow> = webhooks::table
        .find(id.to_string())
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()
        .store()?;
    row.map(Webhook::try_from).transpose()
}

/// Locks webhooks by ascending id until the transaction ends (PostgreSQL;
/// SQLite's writer lock already does), before any of their deliveries: a
/// delete locks the webhook, then cascades to its deliveries, so every writer
/// takes them in that order. NO KEY UPDATE: writers of one webhook wait for
/// each other, a delete (FOR UPDATE) waits for them, and fan-out's KEY SHARE
/// does not, so recording attempts never holds up fan-out.
pub(crate) fn hold_webhooks(conn: &mut AnyConnection, ids: &[WebhookId]) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        let mut ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(CHUNK) {
            webhooks::table
                .filter(webhooks::id.eq_any(chunk))
                .select(webhooks::id)
                .order(webhooks::id)
                .for_no_key_update()
                .load::<String>(pg)
                .store()?;
        }
    }
    Ok(())
}

/// Webhooks by id, for the deliveries a claim returned.
pub(crate) fn webhooks_by_ids(
    conn: &mut AnyConnection,
    ids: &[String],
) -> Result<Vec<Webhook>, StoreError> {
    let rows = webhooks::table
        .filter(webhooks::id.eq_any(ids))
        .select(WebhookRow::as_select())
        .load(conn)
        .store()?;
    to_webhooks(rows)
}

pub(crate) fn update_webhook(
    conn: &mut AnyConnection,
    id: WebhookId,
    fields: &WebhookFields,
    at: DateTime<Utc>,
) -> Result<Webhook, StoreError> {
    diesel::update(webhooks::table.find(id.to_string()))
        .set(WebhookChangeset::new(fields, at))
        .execute(conn)
        .store()?;
    expect_webhook(conn, id)
}

pub(crate) fn delete_webhook(conn: &mut AnyConnection, id: WebhookId) -> Result<(), StoreError> {
    diesel::delete(webhooks::table.find(id.to_string()))
        .execute(conn)
        .store()?;
    Ok(())
}

fn owned_by(owner: Option<UserId>) -> webhooks::BoxedQuery<'static, Db> {
    let mut query = webhooks::table.into_boxed();
    if let Some(owner) = owner {
        query = query.filter(webhooks::owner_id.eq(owner));
    }
    query
}

pub(crate) fn list_webhooks(
    conn: &mut AnyConnection,
    owner: Option<UserId>,
    page: Page,
) -> Result<Paged<Webhook>, StoreError> {
    let count = owned_by(owner).count().get_result(conn).store()?;
    let rows = owned_by(owner)
        .select(WebhookRow::as_select())
        .order((webhooks::created_at.desc(), webhooks::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: to_webhooks(rows)?,
    })
}

pub(crate) fn count_owned_webhooks(
    conn: &mut AnyConnection,
    owner: UserId,
) -> Result<i64, StoreError> {
    owned_by(Some(owner)).count().get_result(conn).store()
}

/// The active webhooks. With `hold` (PostgreSQL), read and locked against
/// deletion in the same statement (KEY SHARE, which updates do not wait
/// for): fan-out inserts their deliveries next, and a webhook deleted in
/// between would fail the insert's foreign key.
pub(crate) fn active_webhooks(
    conn: &mut AnyConnection,
    hold: bool,
) -> Result<Vec<Webhook>, StoreError> {
    let query = webhooks::table
        .filter(webhooks::is_active.eq(true))
        .order(webhooks::id)
        .select(columns::<WebhookRow>());
    let rows = match conn {
        AnyConnection::Postgresql(pg) if hold => query.for_key_share().load::<WebhookRow>(pg),
        AnyConnection::Postgresql(pg) => query.load::<WebhookRow>(pg),
        AnyConnection::Sqlite(sqlite) => query.load::<WebhookRow>(sqlite),
    }
    .store()?;
    to_webhooks(rows)
}

pub(crate) fn failing_webhooks(
    conn: &mut AnyConnection,
) -> Result<Vec<(WebhookId, i64)>, StoreError> {
    let rows: Vec<(String, i64)> = webhooks::table
        .filter(webhooks::failure_count.gt(0))
        .select((webhooks::id, webhooks::failure_count))
        .order(webhooks::id)
        .load(conn)
        .store()?;
    rows.into_iter()
        .map(|(id, streak)| {
            let id = Uuid::parse_str(&id).map_err(|e| unreadable("webhooks.id", e))?;
            Ok((id, streak))
        })
        .collect()
}

pub(crate) fn save_webhook_state(
    conn: &mut AnyConnection,
    webhook: &Webhook,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(webhooks::table.find(webhook.id.to_string()))
        .set((
            webhooks::is_active.eq(webhook.is_active),
            webhooks::disabled_reason.eq(webhook.disabled_reason.as_deref()),
            webhooks::failure_count.eq(webhook.failure_count),
            webhooks::failing_since.eq(webhook.failing_since.map(naive)),
            webhooks::updated_at.eq(naive(at)),
        ))
        .execute(conn)
        .store()?;
    Ok(())
}
