//! Import records (the seed's import statistics).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::UserRef;
use libris_domain::catalog::ImportRecord;

use crate::connection::AnyConnection;
use crate::error::IntoStore;
use crate::schema::imports;
use crate::time::{naive, utc};

type ImportRow = (i64, i64, String, i64, NaiveDateTime);

fn record((id, user_id, username, count, created_at): ImportRow) -> ImportRecord {
    ImportRecord {
        id,
        user: UserRef {
            id: user_id,
            username,
        },
        count,
        created_at: utc(created_at),
    }
}

const COLUMNS: (
    imports::id,
    imports::user_id,
    imports::username,
    imports::count,
    imports::created_at,
) = (
    imports::id,
    imports::user_id,
    imports::username,
    imports::count,
    imports::created_at,
);

pub(crate) fn insert_import(
    conn: &mut AnyConnection,
    user: &UserRef,
    count: i64,
    at: DateTime<Utc>,
) -> Result<ImportRecord, StoreError> {
    diesel::insert_into(imports::table)
        .values((
            imports::user_id.eq(user.id),
            imports::username.eq(&user.username),
            imports::count.eq(count),
            imports::created_at.eq(naive(at)),
        ))
        .returning(COLUMNS)
        .get_result::<ImportRow>(conn)
        .map(record)
        .store()
}

pub(crate) fn list_imports(
    conn: &mut AnyConnection,
    page: Page,
) -> Result<Paged<ImportRecord>, StoreError> {
    let count = imports::table.count().get_result(conn).store()?;
    let rows: Vec<ImportRow> = imports::table
        .select(COLUMNS)
        .order(imports::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: rows.into_iter().map(record).collect(),
    })
}
