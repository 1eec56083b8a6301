//! Starts the release `libris` binary on a fresh SQLite file and a free port,
//! and reads its peak memory from /proc.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN: (&str, &str) = ("admin", "bench-admin-password");

pub struct Server {
    child: Child,
    pub base: String,
    database: PathBuf,
}

impl Server {
    pub async fn start(extra_env: &[(&str, &str)]) -> Self {
        let binary = std::env::var("LIBRIS_BIN").unwrap_or_else(|_| "target/release/libris".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let database =
            std::env::temp_dir().join(format!("libris-bench-{port}-{}.db", std::process::id()));
        let mut command = Command::new(&binary);
        command
            .arg("serve")
            .env("DATABASE_URL", format!("sqlite://{}", database.display()))
            .env("LIBRIS_PORT", port.to_string())
            .env("LIBRIS_ADMIN_USERNAME", ADMIN.0)
            .env("LIBRIS_ADMIN_PASSWORD", ADMIN.1)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start {binary} (run `cargo build --release` first): {e}")
        });
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            database,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if reqwest::get(format!("{}/readyz", self.base))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not become ready within 30 s");
    }

    /// The server's SQLite file, for scenarios that seed it directly.
    pub fn database(&self) -> &std::path::Path {
        &self.database
    }

    /// Peak resident memory so far, in MiB (VmHWM).
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }

    /// CPU time the server has used so far, all threads, user and system
    /// (`/proc/<pid>/stat`, in clock ticks: Linux reports them at 100 a
    /// second to every program, whatever the kernel's own tick). CPU time
    /// drifts less than wall time on a shared machine.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The command name (field 2) may hold spaces; fields after its `)`
        // start at field 3, so utime and stime (14, 15) are the 12th and 13th.
        let ticks: u64 = stat
            .rsplit_once(')')
            .map(|(_, fields)| {
                fields
                    .split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or_default();
        Duration::from_millis(ticks * 10)
    }

    /// The server's CPU time since `before` (a [`Server::cpu_time`]
    /// reading), in milliseconds per one of `items`.
    pub fn cpu_ms_per(&self, before: Duration, items: usize) -> f64 {
        let used = self.cpu_time().saturating_sub(before);
        used.as_secs_f64() * 1000.0 / items.max(1) as f64
    }

    /// Waits until the server has been idle for a moment (under 10 ms of
    /// CPU in a quarter of a second), at most `limit`; answers how long it
    /// took. After a bulk load the server has work of its own to finish (on
    /// SQLite, copying the log back into the database file), which would
    /// otherwise be measured as part of whatever comes next.
    pub async fn wait_idle(&self, limit: Duration) -> Duration {
        let started = Instant::now();
        let mut before = self.cpu_time();
        while started.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.cpu_time();
            if now.saturating_sub(before) < Duration::from_millis(10) {
                break;
            }
            before = now;
        }
        started.elapsed()
    }

    pub async fn token(&self, client: &reqwest::Client) -> String {
        let body = serde_json::json!({"username": ADMIN.0, "password": ADMIN.1});
        let reply: serde_json::Value = client
            .post(format!("{}/api/auth/token/", self.base))
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("a token")
            .json()
            .await
            .expect("JSON");
        reply["token"].as_str().expect("a token").to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.database.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}
