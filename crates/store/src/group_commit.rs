//! Group commit on SQLite. SQLite admits one writer at a time, and most of
//! a small write's cost is its commit: every page it touched is written to
//! the log again, checksummed, and the next writer is woken. So writers of
//! this process take turns at one gate, and a writer that finds others
//! waiting behind it leaves its transaction open for them: each runs its
//! work in a savepoint of that transaction (the first needs none: its
//! failure undoes nobody else's), and the last of the group (or
//! the [`MAX_GROUP`]th) commits for all. A request whose work fails rolls
//! back to its own savepoint and answers its own error; the others commit.
//! None answers before the commit that holds its work: each waits for the
//! group's outcome, and if the commit fails, all of them fail.
//!
//! A group forms only from writers already waiting: a lone writer commits
//! at once, as before.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use diesel::r2d2::PooledConnection;
use libris_application::ports::Tx;
use libris_application::StoreError;

use crate::connection::{begin, begin_write, commit, rollback, Manager};
use crate::error::IntoStore;
use crate::search::HeldWrites;
use crate::tx::DieselTx;
use crate::{Hold, QueuedWork};

/// Writers committed together at most: each waits for the last one's work,
/// so a bigger group would lengthen the first one's answer.
const MAX_GROUP: usize = 16;

#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    /// The gate: who holds it writes next, into the open group if any.
    open: Mutex<Option<Group>>,
    /// Writers queued at the gate; a writer leaves its group open only when
    /// one is (that one will take the group over, and commit it or pass it on).
    waiting: AtomicUsize,
    /// Counts each commit twice, as it starts and once it has returned: odd
    /// while a commit is under way. Two readers that each took their snapshot
    /// between two equal, even readings saw the same database
    /// ([`crate::second_reader`]).
    commits: AtomicU64,
}

/// An open transaction and the writers whose work it holds.
struct Group {
    conn: PooledConnection<Manager>,
    members: usize,
    queued: QueuedWork,
    /// The members' search-index writes, written just before the commit.
    held: HeldWrites,
    outcome: Arc<Outcome>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("members", &self.members)
            .finish_non_exhaustive()
    }
}

/// What the group's commit came to, for the members waiting on it.
#[derive(Debug, Default)]
struct Outcome {
    result: Mutex<Option<Result<(), StoreError>>>,
    settled: Condvar,
}

impl Outcome {
    fn result(&self) -> MutexGuard<'_, Option<Result<(), StoreError>>> {
        self.result.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The first settlement stands: a group is settled once.
    fn settle(&self, result: Result<(), StoreError>) {
        let mut settled = self.result();
        if settled.is_none() {
            *settled = Some(result);
            self.settled.notify_all();
        }
    }

    fn wait(&self) -> Result<(), StoreError> {
        let mut result = self.result();
        loop {
            if let Some(result) = result.as_ref() {
                return result.clone();
            }
            result = self
                .settled
                .wait(result)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for Group {
    /// A group dropped unsettled is one whose writer panicked: its
    /// transaction dies with the connection (a connection dropped while
    /// panicking is not returned to the pool), and so does its members' work.
    fn drop(&mut self) {
        self.outcome.settle(Err(StoreError::Unexpected(
            "a writer committing in the same group failed; nothing was written".into(),
        )));
    }
}

/// What one writer's work came to inside the group.
enum Joined {
    /// Released into the group: it commits with the group.
    Kept,
    /// Rolled back to its savepoint: nothing of it remains.
    RolledBack,
    /// The group's first work, which ran without a savepoint, failed: the
    /// transaction is rolled back whole, which undoes no one else's.
    Ended,
}

impl GroupCommit {
    /// The commit count now: a snapshot taken after this reading, when a
    /// later reading is the same even number, holds every commit before it
    /// and none after.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    fn gate(&self) -> MutexGuard<'_, Option<Group>> {
        // A writer that panicked holding the gate took its group with it
        // (settled by `Group::drop`); what is left is usable.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` in the open group, or in a new transaction from
    /// `connect`. Answers the work queued by the whole group when this
    /// writer committed it (its commit hook is this writer's to call);
    /// `None` when another writer did or will, or when this writer's work
    /// was rolled back and nothing was committed with it.
    pub(crate) fn write(
        &self,
        connect: impl FnOnce() -> Result<PooledConnection<Manager>, StoreError>,
        work: &mut dyn FnMut(&mut dyn Tx) -> bool,
    ) -> Result<Option<QueuedWork>, StoreError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut gate = self.gate();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let mut group = match gate.take() {
            Some(group) => group,
            None => {
                let mut conn = connect()?;
                begin_write(&mut conn).store()?;
                Group {
                    conn,
                    members: 0,
                    queued: QueuedWork::default(),
                    held: HeldWrites::default(),
                    outcome: Arc::default(),
                }
            }
        };
        let kept = match group.join(work) {
            Ok(Joined::Kept) => true,
            Ok(Joined::RolledBack) => false,
            Ok(Joined::Ended) => return Ok(None),
            Err(error) => {
                // The transaction itself is in doubt (a savepoint that
                // cannot be released): everyone's work in it is undone. A
                // connection still in a transaction is not returned to the
                // pool but closed, which rolls back whatever is left.
                let _ = rollback(&mut group.conn);
                group.outcome.settle(Err(error.clone()));
                return Err(error);
            }
        };
        if self.waiting.load(Ordering::SeqCst) > 0 && group.members < MAX_GROUP {
            let outcome = Arc::clone(&group.outcome);
            *gate = Some(group);
            drop(gate);
            return if kept {
                outcome.wait().map(|()| None)
            } else {
                Ok(None)
            };
        }
        // The members' search-index writes are part of their work: when
        // they fail, nothing commits.
        let held = std::mem::take(&mut group.held);
        let committed = held.write(&mut group.conn).and_then(|()| {
            self.commits.fetch_add(1, Ordering::SeqCst);
            let committed = commit(&mut group.conn).store();
            self.commits.fetch_add(1, Ordering::SeqCst);
            committed
        });
        if committed.is_err() {
            let _ = rollback(&mut group.conn);
        }
        group.outcome.settle(committed.clone());
        let queued = std::mem::take(&mut group.queued);
        drop(group);
        drop(gate);
        match committed {
            Ok(()) => Ok(Some(queued)),
            Err(error) if kept => Err(error),
            // This writer's own work was already undone: its answer stands.
            Err(_) => Ok(None),
        }
    }
}

impl Group {
    /// Runs one writer's work in the group's transaction: in a savepoint of
    /// it when other writers' work is there to keep. Before any is (the
    /// group's first writer, or the first after writers that rolled back),
    /// the work needs none: its failure rolls back the whole transaction,
    /// which holds nothing else. A savepoint is not free: it keeps a copy of
    /// every page its work changes.
    fn join(&mut self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<Joined, StoreError> {
        let first = self.members == 0;
        if !first {
            begin(&mut self.conn).store()?;
        }
        let mut tx = DieselTx::new(&mut self.conn, Hold::ReadRows);
        let keep = work(&mut tx);
        let queued = tx.queued_work();
        let held = tx.take_held_writes();
        if !keep {
            rollback(&mut self.conn).store()?;
            return Ok(if first {
                Joined::Ended
            } else {
                Joined::RolledBack
            });
        }
        if !first {
            commit(&mut self.conn).store()?;
        }
        self.members += 1;
        self.queued.merge(queued);
        self.held.append(held);
        Ok(Joined::Kept)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::mpsc;
    use std::thread;

    use chrono::Utc;
    use libris_application::ports::{AuthorFields, BookFields, BookFilter};
    use libris_application::Page;
    use libris_testing::database::TestDatabase;

    use super::*;
    use crate::connection::{build_pool, DatabaseUrl};

    /// Four writers where the first holds the gate until the other three
    /// queue behind it, so that they form one group; `first` is the first
    /// writer's work (after it has waited), `others` each later one's.
    /// Answers each writer's result, the first one's first.
    fn queued_behind_one(
        writes: &GroupCommit,
        connect: &(dyn Fn() -> Result<PooledConnection<Manager>, StoreError> + Sync),
        first: &(dyn Fn(&mut dyn Tx) -> bool + Sync),
        others: &(dyn Fn(&mut dyn Tx, usize) -> bool + Sync),
    ) -> Vec<Result<Option<QueuedWork>, StoreError>> {
        let (inside, first_is_inside) = mpsc::channel();
        thread::scope(|scope| {
            let leader = scope.spawn(move || {
                writes.write(connect, &mut |tx| {
                    inside.send(()).unwrap();
                    while writes.waiting.load(Ordering::SeqCst) < 3 {
                        thread::yield_now();
                    }
                    first(tx)
                })
            });
            first_is_inside.recv().unwrap();
            let followers: Vec<_> = (0..3)
                .map(|n| scope.spawn(move || writes.write(connect, &mut |tx| others(tx, n))))
                .collect();
            std::iter::once(leader)
                .chain(followers)
                .map(|writer| writer.join().unwrap())
                .collect()
        })
    }

    pub(crate) fn migrated(database: &TestDatabase) -> crate::connection::DbPool {
        let url = DatabaseUrl::parse(database.url()).unwrap();
        crate::DieselStore::migrate(&url).unwrap();
        build_pool(&url, 4).unwrap()
    }

    /// A writer's `connect`: a connection from `pool`.
    pub(crate) fn connector(
        pool: &crate::connection::DbPool,
    ) -> impl Fn() -> Result<PooledConnection<Manager>, StoreError> + Sync + '_ {
        || {
            pool.get()
                .map_err(|e| StoreError::Unexpected(e.to_string()))
        }
    }

    pub(crate) fn add_author(tx: &mut dyn Tx, name: &str) -> bool {
        let fields = AuthorFields {
            name: name.into(),
            bio: String::new(),
        };
        tx.catalog()
            .insert_author(&fields, chrono::Utc::now())
            .is_ok()
    }

    /// How many of the writers committed, each having answered without error.
    fn committers(answers: Vec<Result<Option<QueuedWork>, StoreError>>) -> usize {
        answers
            .into_iter()
            .map(|answer| answer.expect("every write answers"))
            .filter(Option::is_some)
            .count()
    }

    #[test]
    fn writers_queued_behind_one_commit_with_it() {
        let database = TestDatabase::sqlite();
        let pool = migrated(&database);
        let connect = connector(&pool);
        let writes = GroupCommit::default();
        let answers = queued_behind_one(&writes, &connect, &|_| true, &|_, _| true);
        assert_eq!(committers(answers), 1, "four writers, one commit");
    }

    #[test]
    fn a_first_writer_that_fails_takes_nothing_of_the_next_ones_with_it() {
        let database = TestDatabase::sqlite();
        let pool = migrated(&database);
        let connect = connector(&pool);
        let writes = GroupCommit::default();
        let answers = queued_behind_one(
            &writes,
            &connect,
            // Writes, then fails: it ran without a savepoint, so its
            // transaction is rolled back whole.
            &|tx| {
                assert!(add_author(tx, "first"));
                false
            },
            &|tx, n| add_author(tx, &format!("next {n}")),
        );
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        let mut conn = pool.get().unwrap();
        let mut tx = DieselTx::new(&mut conn, Hold::Nothing);
        let page = Page {
            limit: 10,
            offset: 0,
        };
        let mut names: Vec<String> = tx
            .catalog()
            .list_authors(page)
            .unwrap()
            .results
            .into_iter()
            .map(|author| author.name)
            .collect();
        names.sort();
        assert_eq!(names, ["next 0", "next 1", "next 2"]);
    }

    /// The search entries a group holds are written with its commit, in the
    /// order its writers wrote them: a book created, retitled and its author
    /// renamed in one group is found by its last title and name only, and a
    /// writer rolled back leaves no entry.
    #[test]
    fn a_groups_search_entries_are_written_with_its_commit_in_the_order_written() {
        let database = TestDatabase::sqlite();
        let pool = migrated(&database);
        let connect = connector(&pool);
        let writes = GroupCommit::default();
        let created = Mutex::new(None);
        let book_fields = |title: &str, author_id| BookFields {
            title: title.into(),
            author_id,
            isbn: None,
            available: true,
        };
        let answers = queued_behind_one(
            &writes,
            &connect,
            &|tx| {
                let author = AuthorFields {
                    name: "Ursula Vance".into(),
                    bio: String::new(),
                };
                let author = tx.catalog().insert_author(&author, Utc::now()).unwrap();
                let book = tx
                    .catalog()
                    .insert_book(&book_fields("Alpha Centauri", author.id), Utc::now())
                    .unwrap();
                *created.lock().unwrap() = Some((author.id, book.id));
                true
            },
            &|tx, n| {
                let (author_id, book_id) = created.lock().unwrap().unwrap();
                let catalog = tx.catalog();
                match n {
                    0 => {
                        let fields = book_fields("Beta Pictoris", author_id);
                        catalog.update_book(book_id, &fields, Utc::now()).is_ok()
                    }
                    1 => {
                        let renamed = AuthorFields {
                            name: "Octavia Reyes".into(),
                            bio: String::new(),
                        };
                        catalog.update_author(author_id, &renamed).is_ok()
                    }
                    _ => {
                        let fields = book_fields("Gamma Draconis", author_id);
                        assert!(catalog.insert_book(&fields, Utc::now()).is_ok());
                        false
                    }
                }
            },
        );
        assert_eq!(committers(answers), 1, "one group, one commit");

        let mut conn = pool.get().unwrap();
        let mut tx = DieselTx::new(&mut conn, Hold::Nothing);
        let mut found = |q: &str| {
            let filter = BookFilter {
                q: Some(q.into()),
                ..BookFilter::default()
            };
            let page = Page {
                limit: 10,
                offset: 0,
            };
            let books = tx.catalog().list_books(&filter, page).unwrap().results;
            books.into_iter().map(|book| book.title).collect::<Vec<_>>()
        };
        assert_eq!(found("beta octavia"), ["Beta Pictoris"]);
        for gone in ["alpha", "ursula", "gamma"] {
            assert!(
                found(gone).is_empty(),
                "{gone} is no longer a word of any book"
            );
        }
    }
}
