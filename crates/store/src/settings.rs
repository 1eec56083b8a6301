//! Settings an admin changes at runtime (`/api/settings/`): one row per key
//! that was set; a key without a row falls back to its environment variable,
//! which the application knows and this module does not.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use libris_application::StoreError;

use crate::connection::{on_each_backend, AnyConnection};
use crate::error::IntoStore;
use crate::schema::settings;
use crate::time::naive;

/// The advisory lock key of settings changes on PostgreSQL ("libris" in
/// ASCII); SQLite's writer lock already serialises them.
const SETTINGS_LOCK: i64 = 0x6c69_6272_6973;

pub(crate) fn lock_settings(conn: &mut AnyConnection) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(SETTINGS_LOCK)
            .execute(pg)
            .store()?;
    }
    Ok(())
}

pub(crate) fn stored_settings(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, String)>, StoreError> {
    settings::table
        .select((settings::key, settings::value))
        .order(settings::key)
        .load(conn)
        .store()
}

/// Writes or removes one key. The upsert runs on the backend's own
/// connection: `ON CONFLICT` does not compile through the multi-connection.
pub(crate) fn put_setting(
    conn: &mut AnyConnection,
    key: &str,
    value: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(value) = value else {
        diesel::delete(settings::table.find(key))
            .execute(conn)
            .store()?;
        return Ok(());
    };
    let row = (
        settings::key.eq(key),
        settings::value.eq(value),
        settings::updated_at.eq(naive(at)),
    );
    on_each_backend!(conn, |c| diesel::insert_into(settings::table)
        .values(row)
        .on_conflict(settings::key)
        .do_update()
        .set((
            settings::value.eq(excluded(settings::value)),
            settings::updated_at.eq(excluded(settings::updated_at)),
        ))
        .execute(c))
    .store()?;
    Ok(())
}
