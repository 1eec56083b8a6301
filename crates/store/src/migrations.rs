//! Embedded migrations, one folder per backend.

use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::connection::AnyConnection;
use crate::OpenError;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Applies the backend's pending migrations; answers the versions applied.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<Vec<String>, OpenError> {
    let applied = match conn {
        // Each backend has its own migrations folder.
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE),
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES),
    }
    .map_err(|e| OpenError::Migrate(e.to_string()))?;
    Ok(applied.into_iter().map(|v| v.to_string()).collect())
}
