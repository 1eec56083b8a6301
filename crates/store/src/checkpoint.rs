//! SQLite's write-ahead log is copied back into the database file by a
//! checkpoint. SQLite's automatic checkpoint runs inside the commit that
//! crosses the threshold, while this process's write gate is held, so every
//! other writer (and the request behind it) waits for a copy and an fsync.
//! Here a thread of its own checkpoints instead, on its own connection and
//! outside the gate: WAL lets writers go on appending meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::connection::SimpleConnection;

use crate::connection::{AnyConnection, DatabaseUrl};
use crate::OpenError;

/// How often the thread looks for committed writes to checkpoint: short
/// enough that the log stays small under load, cheap when idle (a look at a
/// counter).
const INTERVAL: Duration = Duration::from_millis(100);

/// Counts commits; the checkpointer runs when it moved.
#[derive(Debug, Default)]
pub(crate) struct Commits(AtomicU64);

impl Commits {
    pub(crate) fn committed(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Stops and joins the thread when dropped (with the store).
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(url: &DatabaseUrl, commits: Arc<Commits>) -> Result<Self, OpenError> {
        let mut conn = crate::connect(url)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("libris-checkpoint".into())
            .spawn(move || {
                let mut seen = commits.count();
                loop {
                    match stopped.recv_timeout(INTERVAL) {
                        Err(RecvTimeoutError::Timeout) => {}
                        // Stopped, or the store is gone.
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let now = commits.count();
                    if now == seen {
                        continue;
                    }
                    seen = now;
                    checkpoint(&mut conn);
                }
            })
            .map_err(OpenError::Checkpointer)?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// PASSIVE: copies what no reader still needs and never waits for a lock,
/// so it can only be late, never in anyone's way.
fn checkpoint(conn: &mut AnyConnection) {
    let AnyConnection::Sqlite(conn) = conn else {
        return;
    };
    if let Err(error) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
        tracing::warn!(%error, "WAL checkpoint failed; the next one retries");
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
