//! A second SQLite connection that reads the same snapshot as a read
//! transaction, so that work over the whole snapshot can be split across two
//! cores (a search's count: docs/search.md) and still answer what one
//! transaction would have.
//!
//! In WAL mode a read transaction takes its snapshot at its first read. Two
//! connections read the same database when no commit became visible between
//! their first reads. Every commit of this process goes through the group
//! commit, which counts each one as it starts and once it has returned
//! ([`GroupCommit::commits`]): the count is read before the transaction's
//! first read, and again after the second connection's; the same even number
//! both times means no commit came between. Libris is the only process that
//! writes its SQLite file while it serves (several instances need
//! PostgreSQL).
//!
//! Never waited for: when no connection is free at once, or a commit came
//! between, the caller does its work alone on its own connection.

use diesel::connection::SimpleConnection;
use diesel::r2d2::PooledConnection;
use diesel::sqlite::SqliteConnection;

use crate::connection::{begin, rollback, AnyConnection, DbPool, Manager};
use crate::group_commit::GroupCommit;

pub(crate) struct SecondReader<'s> {
    pool: &'s DbPool,
    writes: &'s GroupCommit,
    /// The commit count before the transaction's first read.
    commits_before: u64,
}

impl<'s> SecondReader<'s> {
    /// To be made before the transaction it serves reads anything.
    pub(crate) fn before_first_read(pool: &'s DbPool, writes: &'s GroupCommit) -> Self {
        Self {
            pool,
            writes,
            commits_before: writes.commits(),
        }
    }

    /// A connection in a read transaction on the transaction's snapshot, or
    /// `None` (see the module's doc).
    pub(crate) fn connect(&self) -> Option<SecondConnection> {
        if self.commits_before % 2 == 1 {
            return None;
        }
        let mut conn = self.pool.try_get()?;
        if begin(&mut conn).is_err() {
            return None;
        }
        let mut second = SecondConnection(conn);
        // Any read takes the snapshot; `sqlite_schema` is always there.
        let read = second.0.batch_execute("SELECT count(*) FROM sqlite_schema");
        (read.is_ok() && self.writes.commits() == self.commits_before).then_some(second)
    }
}

/// A pooled connection in a read transaction, ended when dropped: a
/// connection left in one would not go back to the pool.
pub(crate) struct SecondConnection(PooledConnection<Manager>);

impl SecondConnection {
    /// The connection, always SQLite's (the store makes second readers only
    /// there).
    pub(crate) fn sqlite(&mut self) -> Option<&mut SqliteConnection> {
        match &mut *self.0 {
            AnyConnection::Sqlite(c) => Some(c),
            AnyConnection::Postgresql(_) => None,
        }
    }
}

impl Drop for SecondConnection {
    fn drop(&mut self) {
        let _ = rollback(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use libris_testing::database::TestDatabase;

    use super::*;
    use crate::group_commit::tests::{add_author, connector, migrated};

    fn write_author(pool: &DbPool, writes: &GroupCommit, name: &str) {
        writes
            .write(connector(pool), &mut |tx| add_author(tx, name))
            .unwrap();
    }

    fn authors(conn: &mut SqliteConnection) -> i64 {
        crate::schema::authors::table
            .count()
            .get_result(conn)
            .unwrap()
    }

    fn sqlite(conn: &mut AnyConnection) -> &mut SqliteConnection {
        match conn {
            AnyConnection::Sqlite(c) => c,
            AnyConnection::Postgresql(_) => panic!("an SQLite test"),
        }
    }

    #[test]
    fn a_second_reader_sees_what_the_first_sees_or_is_refused() {
        let database = TestDatabase::sqlite();
        let pool = migrated(&database);
        let writes = GroupCommit::default();
        write_author(&pool, &writes, "Before");

        let second = SecondReader::before_first_read(&pool, &writes);
        let mut first = pool.get().unwrap();
        begin(&mut first).unwrap();
        assert_eq!(authors(sqlite(&mut first)), 1);
        let mut other = second.connect().expect("no commit came between");
        write_author(&pool, &writes, "After both snapshots");
        let seen = (
            authors(sqlite(&mut first)),
            authors(other.sqlite().unwrap()),
        );
        assert_eq!(seen, (1, 1));
        drop(other);
        rollback(&mut first).unwrap();

        let second = SecondReader::before_first_read(&pool, &writes);
        begin(&mut first).unwrap();
        assert_eq!(authors(sqlite(&mut first)), 2);
        write_author(&pool, &writes, "Between the two snapshots");
        assert!(
            second.connect().is_none(),
            "a commit between the two first reads: the second would see three authors"
        );
        rollback(&mut first).unwrap();
    }

    /// The split is never waited for: with every pooled connection taken,
    /// the second reader answers at once that there is none.
    #[test]
    fn a_second_reader_is_refused_at_once_when_no_connection_is_free() {
        let database = TestDatabase::sqlite();
        let pool = migrated(&database);
        let writes = GroupCommit::default();
        let second = SecondReader::before_first_read(&pool, &writes);
        let taken: Vec<_> = (0..pool.max_size()).map(|_| pool.get().unwrap()).collect();
        let started = std::time::Instant::now();
        assert!(second.connect().is_none(), "no connection is free");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "refused without waiting for the pool's timeout"
        );
        drop(taken);
        assert!(second.connect().is_some(), "one is free again");
    }
}
