//! Connections to either backend, the pool, and transactions that begin the
//! way each backend needs.

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, PoolError, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError, QueryResult};

/// One connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection inside `$conn`.
/// Some statements (multi-row inserts, transaction control, migrations)
/// compile only against one backend; the same code serves both.
macro_rules! on_each_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::connection::AnyConnection::Sqlite($c) => $body,
            $crate::connection::AnyConnection::Postgresql($c) => $body,
        }
    };
}
pub(crate) use on_each_backend;

/// The backend type of [`AnyConnection`], for boxed queries.
pub type Db = <AnyConnection as Connection>::Backend;

/// The plain column tuple of a `Selectable` row, for `RETURNING`: the
/// `as_returning()` wrapper does not compile for [`Db`].
pub(crate) fn columns<Row: diesel::Selectable<Db>>() -> Row::SelectExpression {
    Row::construct_selection()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Where the database is, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What the driver is given: the URL for PostgreSQL, the file path (or
    /// `file:` URI) for SQLite.
    target: String,
}

/// A `DATABASE_URL` whose scheme names no backend Libris has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}://` is not a database Libris supports: use postgres:// or postgresql:// \
     for PostgreSQL, sqlite://PATH or a plain file path for SQLite"
)]
pub struct UnsupportedScheme(pub String);

impl DatabaseUrl {
    /// `postgres://` and `postgresql://` are PostgreSQL; `sqlite://PATH` or a
    /// plain path is an SQLite file. Any other `scheme://` is refused rather
    /// than taken for a file name: `mysql://host/db` is a mistake, not a
    /// path.
    pub fn parse(raw: &str) -> Result<Self, UnsupportedScheme> {
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                target: raw.to_owned(),
            });
        }
        if let Some(path) = raw.strip_prefix("sqlite://") {
            return Ok(Self::sqlite(path));
        }
        match raw.split_once("://") {
            Some((scheme, _)) => Err(UnsupportedScheme(scheme.to_owned())),
            None => Ok(Self::sqlite(raw)),
        }
    }

    fn sqlite(path: &str) -> Self {
        Self {
            backend: Backend::Sqlite,
            target: path.to_owned(),
        }
    }

    /// The SQLite file this URL names, when it does not exist yet (opening
    /// it would create an empty database). `None` for PostgreSQL, for
    /// `file:` URIs and for in-memory databases.
    pub fn missing_sqlite_file(&self) -> Option<&str> {
        let is_plain_file = self.backend == Backend::Sqlite
            && !self.target.starts_with("file:")
            && self.target != ":memory:";
        (is_plain_file && !std::path::Path::new(&self.target).exists())
            .then_some(self.target.as_str())
    }

    /// The URL without its password, for logs.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => match (self.target.find("://"), self.target.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    let userinfo = &self.target[scheme + 3..at];
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!(
                        "{}{user}:***{}",
                        &self.target[..scheme + 3],
                        &self.target[at..]
                    )
                }
                _ => self.target.clone(),
            },
        }
    }

    /// Connects once, directly, so a wrong URL fails with the driver's own
    /// message rather than a pool timeout.
    pub fn connect(&self) -> Result<AnyConnection, ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                PgConnection::establish(&self.target).map(AnyConnection::Postgresql)
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target)?;
                // Every pooled connection needs these; `batch_execute` runs
                // them all (a prepared statement would run only the first).
                // A 1 MiB page cache per connection (SQLite's default is
                // 2 MB) keeps the pool's memory bounded; the OS caches the
                // file as well. No automatic checkpoints: the store's
                // checkpointer thread does them (see `checkpoint`). After a
                // burst (a bulk import), the log file is cut back to 4 MiB
                // once it has been checkpointed. The busy timeout comes
                // first: even reading the journal mode waits on a writer of
                // another process (a restart that overlaps the old one, a
                // second process starting), where it would fail at once.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -1024; PRAGMA wal_autocheckpoint = 0; \
                     PRAGMA journal_size_limit = 4194304;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

/// An r2d2 manager that connects to the one backend the URL names, instead of
/// trying each backend in turn (which would hide the real error and could
/// create an SQLite file named after a PostgreSQL URL).
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<AnyConnection, ConnectionError> {
        self.url.connect()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectionError> {
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type DbPool = Pool<Manager>;

/// Builds a pool. `max_size` bounds concurrent database work; SQLite gets
/// the same pool (WAL lets readers run beside the one writer).
pub fn build_pool(url: &DatabaseUrl, max_size: u32) -> Result<DbPool, PoolError> {
    Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        .build(Manager { url: url.clone() })
}

/// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite, so two writers
/// queue on the busy timeout instead of failing when both upgrade a read
/// lock; a plain `BEGIN` on PostgreSQL.
pub fn begin_write(conn: &mut AnyConnection) -> QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        AnyConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// Begins a read transaction, so a count and its page see one snapshot;
/// inside a transaction, a savepoint.
pub fn begin(conn: &mut AnyConnection) -> QueryResult<()> {
    on_each_backend!(conn, |c| AnsiTransactionManager::begin_transaction(c))
}

pub fn commit(conn: &mut AnyConnection) -> QueryResult<()> {
    on_each_backend!(conn, |c| AnsiTransactionManager::commit_transaction(c))
}

pub fn rollback(conn: &mut AnyConnection) -> QueryResult<()> {
    on_each_backend!(conn, |c| AnsiTransactionManager::rollback_transaction(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> DatabaseUrl {
        DatabaseUrl::parse(raw).expect("a supported URL")
    }

    #[test]
    fn urls_pick_their_backend() {
        assert_eq!(url("postgres://u@h/db").backend, Backend::Postgres);
        assert_eq!(url("postgresql://u@h/db").backend, Backend::Postgres);
        let sqlite = url("sqlite://libris.db");
        assert_eq!(
            (sqlite.backend, sqlite.target.as_str()),
            (Backend::Sqlite, "libris.db")
        );
        assert_eq!(url("/tmp/x.db").target, "/tmp/x.db");
    }

    #[test]
    fn other_schemes_are_refused_by_name() {
        let err = DatabaseUrl::parse("mysql://x/y").unwrap_err();
        assert_eq!(err, UnsupportedScheme("mysql".into()));
        let message = err.to_string();
        assert!(
            message.contains("`mysql://`") && message.contains("postgres://"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_sqlite_file_is_named_and_other_targets_are_not() {
        let missing = std::env::temp_dir().join(format!("libris-absent-{}.db", std::process::id()));
        let missing = missing.to_str().unwrap();
        assert_eq!(url(missing).missing_sqlite_file(), Some(missing));
        let present = std::env::temp_dir();
        assert_eq!(url(present.to_str().unwrap()).missing_sqlite_file(), None);
        assert_eq!(url("postgres://u@h/db").missing_sqlite_file(), None);
        assert_eq!(url("file:x.db?mode=memory").missing_sqlite_file(), None);
        assert_eq!(url(":memory:").missing_sqlite_file(), None);
    }

    #[test]
    fn redaction_hides_the_password_only() {
        let url = url("postgres://libris:s3cret@db:5432/libris");
        assert_eq!(url.redacted(), "postgres://libris:***@db:5432/libris");
        assert!(!url.redacted().contains("s3cret"));
    }
}
