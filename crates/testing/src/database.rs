//! A fresh database per test, on SQLite or PostgreSQL, removed on drop.
//!
//! PostgreSQL is found at `LIBRIS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable`). When it is
//! unreachable the PostgreSQL half is skipped with a message, except under
//! `CI=true`, where that is a failure.
//!
//! The default turns TLS off on purpose: the server is on loopback, and a test
//! process that never initialises OpenSSL (through libpq) cannot crash in
//! OpenSSL's exit handler while a pool thread is still inside libpq
//! (diesel-rs/diesel#3441: an intermittent SIGSEGV after every test passed).

use std::path::PathBuf;

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

/// A database that exists for one test.
pub struct TestDatabase {
    url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A new SQLite file in the temporary directory.
    pub fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("libris-test-{}.db", Uuid::new_v4().simple()));
        Self {
            url: format!("sqlite://{}", path.display()),
            kind: Kind::Sqlite(path),
        }
    }

    /// A new PostgreSQL database, or `None` (with a message) when the server
    /// is unreachable outside CI.
    pub fn postgres() -> Option<Self> {
        let admin_url = std::env::var("LIBRIS_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL is required under CI but unreachable at {admin_url}: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED (PostgreSQL half): unreachable at {admin_url}: {e}");
                return None;
            }
        };
        let name = format!("libris_test_{}", Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let (base, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        Some(Self {
            url: format!("{server}/{name}{query}"),
            kind: Kind::Postgres { admin_url, name },
        })
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.kind {
            Kind::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Kind::Postgres { admin_url, name } => {
                // FORCE ends connections a test left open (PostgreSQL 13+).
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin);
                }
            }
        }
    }
}
