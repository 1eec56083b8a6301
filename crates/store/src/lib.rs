//! Libris's store adapter: diesel on SQLite (embedded, the default) or
//! PostgreSQL, behind the application's `Store` / `Tx` ports.
//!
//! Only this crate knows diesel. Each module holds the rows and queries of one
//! part of the schema; [`DieselTx`] is the dispatch table that exposes them as
//! the `Tx` port.

mod accounts;
mod audit;
mod campaigns;
mod catalog;
mod checkpoint;
pub mod connection;
mod deliveries;
mod error;
mod group_commit;
mod imports;
mod inbound;
mod lending;
mod migrations;
mod notifications;
mod outbox;
mod schema;
mod search;
mod second_reader;
mod settings;
mod sign_on;
mod time;
mod tx;
mod webhooks;

use std::sync::Arc;

use diesel::r2d2::{PoolError, PooledConnection};
use diesel::ConnectionError;
use libris_application::ports::{Store, Tx};
use libris_application::StoreError;

use checkpoint::{Checkpointer, Commits};
use connection::{
    begin, begin_write, build_pool, commit, rollback, AnyConnection, DbPool, Manager,
};
pub use connection::{Backend, DatabaseUrl, UnsupportedScheme};
use error::IntoStore;
use group_commit::GroupCommit;
use migrations::run_migrations;
use second_reader::SecondReader;
use tx::DieselTx;

/// Rows per multi-row statement: SQLite binds at most 32,766 parameters.
const CHUNK: usize = 1000;

/// Why the store could not be opened; each message carries the database's own.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: ConnectionError,
    },
    #[error("cannot apply migrations: {0}")]
    Migrate(String),
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] PoolError),
    #[error("cannot start the WAL checkpointer: {0}")]
    Checkpointer(#[source] std::io::Error),
}

/// What a committed transaction gave the workers to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueuedWork {
    /// The consumers of the event log that have new events to handle.
    pub marked: Vec<String>,
    /// The channels with messages due now, by name.
    pub due: Vec<&'static str>,
}

impl QueuedWork {
    pub fn any(&self) -> bool {
        !self.marked.is_empty() || !self.due.is_empty()
    }

    pub(crate) fn marked_for(&mut self, consumers: Vec<String>) {
        for consumer in consumers {
            if !self.marked.contains(&consumer) {
                self.marked.push(consumer);
            }
        }
    }

    pub(crate) fn due_now(&mut self, channel: &'static str) {
        if !self.due.contains(&channel) {
            self.due.push(channel);
        }
    }

    pub(crate) fn merge(&mut self, other: QueuedWork) {
        self.marked_for(other.marked);
        for channel in other.due {
            self.due_now(channel);
        }
    }
}

/// Whether a transaction holds the rows it reads until it ends.
///
/// A write transaction checks a row and then changes things on the strength of
/// that check (the book is available, the loan is open, the author has no
/// books). SQLite admits one writer at a time, so the check stays true until
/// commit. PostgreSQL runs writers side by side under READ COMMITTED: without
/// a row lock two returns of one loan both see it open and both record
/// `book.returned`. So on PostgreSQL a write transaction locks each book,
/// author and webhook it reads before reading it, and a second writer of the
/// same row waits, then reads what the first committed. Lock order is fixed
/// to rule out deadlocks: a book first, then authors by ascending id, then a
/// member's profile (the counters); webhooks by ascending id before their
/// deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    ReadRows,
    Nothing,
}

/// Called after a transaction that queued work has committed: the in-process
/// nudge that wakes the delivery workers.
pub type CommitHook = Arc<dyn Fn(QueuedWork) + Send + Sync>;

pub struct DieselStore {
    pool: DbPool,
    /// `None` on PostgreSQL.
    sqlite: Option<SqliteWrites>,
    on_commit: Option<CommitHook>,
}

/// How this process writes to SQLite.
struct SqliteWrites {
    /// SQLite admits one writer at a time. Writers of this process queue here
    /// and are woken the moment the writer before them is done, instead of
    /// polling SQLite's busy handler, whose sleeps (1 ms, 2 ms, 5 ms … 100 ms)
    /// would become the API's latency tail; writers that queued together
    /// commit together.
    writes: GroupCommit,
    commits: Arc<Commits>,
    _checkpointer: Checkpointer,
}

/// One connection outside the pool, failing with the database's own message.
fn connect(url: &DatabaseUrl) -> Result<AnyConnection, OpenError> {
    url.connect().map_err(|source| OpenError::Connect {
        url: url.redacted(),
        source,
    })
}

impl SqliteWrites {
    fn start(url: &DatabaseUrl) -> Result<Self, OpenError> {
        let commits = Arc::new(Commits::default());
        let checkpointer = Checkpointer::start(url, Arc::clone(&commits))?;
        Ok(Self {
            writes: GroupCommit::default(),
            commits,
            _checkpointer: checkpointer,
        })
    }
}

impl DieselStore {
    /// Connects once (so a wrong URL fails with the driver's message), applies
    /// pending migrations, then builds the pool.
    pub fn open(url: &DatabaseUrl, pool_size: u32) -> Result<Self, OpenError> {
        Self::migrate(url)?;
        let sqlite = match url.backend {
            Backend::Sqlite => Some(SqliteWrites::start(url)?),
            Backend::Postgres => None,
        };
        Ok(Self {
            pool: build_pool(url, pool_size)?,
            sqlite,
            on_commit: None,
        })
    }

    /// Applies pending migrations without opening a pool (`libris migrate`);
    /// answers the versions applied.
    pub fn migrate(url: &DatabaseUrl) -> Result<Vec<String>, OpenError> {
        let mut conn = connect(url)?;
        let applied = run_migrations(&mut conn)?;
        // Books that existed before the search index are queued by its
        // migration; they are indexed here, before anything is served.
        search::index_pending(&mut conn)
            .map_err(|e| OpenError::Migrate(format!("cannot index books for search: {e}")))?;
        Ok(applied)
    }

    pub fn with_commit_hook(mut self, hook: CommitHook) -> Self {
        self.on_commit = Some(hook);
        self
    }

    fn connection(&self) -> Result<PooledConnection<Manager>, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unexpected(format!("no database connection: {e}")))
    }
}

impl Store for DieselStore {
    fn write(&self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError> {
        let queued = match &self.sqlite {
            Some(sqlite) => match sqlite.writes.write(|| self.connection(), work)? {
                Some(queued) => {
                    sqlite.commits.committed();
                    queued
                }
                // Nothing for this writer to wake the workers for: another
                // writer of its group committed (and woke them), or its own
                // work was rolled back.
                None => return Ok(()),
            },
            None => {
                let mut conn = self.connection()?;
                begin_write(&mut conn).store()?;
                let mut tx = DieselTx::new(&mut conn, Hold::ReadRows);
                let wants_commit = work(&mut tx);
                let queued = tx.queued_work();
                let held = tx.take_held_writes();
                if !wants_commit {
                    return rollback(&mut conn).store();
                }
                held.write(&mut conn)?;
                commit(&mut conn).store()?;
                queued
            }
        };
        if let (true, Some(hook)) = (queued.any(), &self.on_commit) {
            hook(queued);
        }
        Ok(())
    }

    fn read(&self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError> {
        let second = self
            .sqlite
            .as_ref()
            .map(|sqlite| SecondReader::before_first_read(&self.pool, &sqlite.writes));
        let mut conn = self.connection()?;
        begin(&mut conn).store()?;
        work(&mut DieselTx::new(&mut conn, Hold::Nothing).with_second_reader(second.as_ref()));
        // Reads commit nothing; a body that wrote anyway is undone.
        rollback(&mut conn).store()
    }
}
