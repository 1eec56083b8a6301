//! Running the real `libris` binary as a child process, and talking to it.
//!
//! - [`Launch`] is a command line with the settings every process test shares.
//!   The child's environment is cleaned of `LIBRIS_*`, `DATABASE_URL` and
//!   `RUST_LOG` from the developer's shell, so only what the test says applies.
//! - A server listens on port 0 and the test reads the port it bound from its
//!   JSON log: no two children can race for a port.
//! - [`Process`] sends the child's stdout (the log) and stderr to files in
//!   the temporary directory, prints (and keeps) both when the test fails,
//!   removes them when it passes, and kills (SIGKILL) and reaps the child
//!   when dropped, so nothing leaks.
//! - [`Api`] is the handful of API calls these tests need, as the admin.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use libris_testing::receiver::{Receiver, RecordedRequest};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::time::Instant;

/// The admin every server creates at start.
pub const ADMIN: (&str, &str) = ("admin", "admin-password");

/// How long a child may take to start (a debug build, migrations included).
pub const STARTUP: Duration = Duration::from_secs(30);

/// How often the helpers look again at a log, an exit status or the API.
const POLL: Duration = Duration::from_millis(25);

/// A `libris` command line, not yet started.
#[derive(Debug, Clone)]
pub struct Launch {
    env: Vec<(String, String)>,
}

impl Launch {
    /// `libris` on `database_url`, on a free loopback port, creating
    /// [`ADMIN`], allowed to deliver to loopback receivers, logging JSON.
    pub fn new(database_url: &str) -> Self {
        let defaults = [
            ("DATABASE_URL", database_url),
            ("LIBRIS_HOST", "127.0.0.1"),
            ("LIBRIS_PORT", "0"),
            ("LIBRIS_ADMIN_USERNAME", ADMIN.0),
            ("LIBRIS_ADMIN_PASSWORD", ADMIN.1),
            ("LIBRIS_HTTP_WORKERS", "2"),
            ("LIBRIS_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("LIBRIS_WEBHOOK_POLL_INTERVAL", "100ms"),
            ("LIBRIS_LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
        ];
        Self {
            env: defaults
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        }
    }

    /// Sets (or replaces) an environment variable of the child.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Starts `libris <args…>` without waiting for anything.
    pub fn spawn(&self, args: &[&str]) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_libris"));
        command.args(args).stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if is_libris_setting(&name) {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(n, v)| (n, v)));
        Process::spawn(&args.join(" "), command)
    }

    /// Starts `libris serve` and waits until it listens.
    pub async fn serve(&self) -> Server {
        let mut process = self.spawn(&["serve"]);
        let address = process
            .wait_for_log("a `libris listening` line with its address", |line| {
                if line["message"] == "libris listening" {
                    line["address"].as_str().map(str::to_owned)
                } else {
                    None
                }
            })
            .await;
        Server { process, address }
    }

    /// Starts `libris worker` and waits until its delivery workers run.
    pub async fn worker(&self) -> Process {
        let mut process = self.spawn(&["worker"]);
        process
            .wait_for_log("a `delivery workers running` line", |line| {
                (line["message"] == "delivery workers running").then_some(())
            })
            .await;
        process
    }
}

/// Settings from the test runner's environment that must not reach a child.
fn is_libris_setting(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with("LIBRIS_") || name == "DATABASE_URL" || name == "RUST_LOG"
}

/// A running `libris serve`.
pub struct Server {
    pub process: Process,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
}

/// A child process, killed and reaped on drop.
pub struct Process {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Process {
    fn spawn(subcommand: &str, mut command: Command) -> Self {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let name = format!("libris {subcommand} #{n}");
        let base = format!("libris-process-{}-{n}-{subcommand}", std::process::id());
        let stdout = std::env::temp_dir().join(format!("{base}.stdout.log"));
        let stderr = std::env::temp_dir().join(format!("{base}.stderr.log"));
        let create = |path: &Path| File::create(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        command.stdout(create(&stdout)).stderr(create(&stderr));
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self {
            name,
            child,
            stdout,
            stderr,
        }
    }

    /// What the child wrote to stdout so far: its log.
    pub fn stdout(&self) -> String {
        read(&self.stdout)
    }

    /// What the child wrote to stderr so far: a failure's message.
    pub fn stderr(&self) -> String {
        read(&self.stderr)
    }

    /// Polls the JSON log until `find` picks a line; panics if the child
    /// exits first or nothing is found within [`STARTUP`].
    async fn wait_for_log<T>(&mut self, what: &str, find: impl Fn(&Value) -> Option<T>) -> T {
        let deadline = Instant::now() + STARTUP;
        loop {
            let found = self
                .stdout()
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find_map(|line| find(&line));
            if let Some(found) = found {
                return found;
            }
            if let Some(status) = self.exit_status() {
                panic!("{} exited ({status}) before logging {what}", self.name);
            }
            assert!(
                Instant::now() < deadline,
                "{} logged no {what} within {STARTUP:?}",
                self.name
            );
            tokio::time::sleep(POLL).await;
        }
    }

    fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|e| panic!("cannot check on {}: {e}", self.name))
    }

    /// Waits for the child to exit on its own; panics after `timeout`.
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still runs after {timeout:?}",
                self.name
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGKILL, then reap: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        // An error means it had already exited; either way it is gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- {} stdout ({}) -----\n{}\n----- {} stderr ({}) -----\n{}",
                self.name,
                self.stdout.display(),
                self.stdout(),
                self.name,
                self.stderr.display(),
                self.stderr()
            );
        } else {
            let _ = std::fs::remove_file(&self.stdout);
            let _ = std::fs::remove_file(&self.stderr);
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()))
}

/// The API calls these tests make, as the admin of one server.
pub struct Api {
    client: reqwest::Client,
    address: String,
    token: String,
}

impl Api {
    /// Logs in as [`ADMIN`].
    pub async fn login(server: &Server) -> Self {
        let client = reqwest::Client::new();
        let address = server.address.clone();
        let body = json!({"username": ADMIN.0, "password": ADMIN.1});
        let request = client
            .post(format!("{address}/api/auth/token/"))
            .json(&body);
        let (status, reply) = send(request).await;
        assert_eq!(status, StatusCode::OK, "login failed: {reply}");
        let token = reply["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {reply}"))
            .to_owned();
        Self {
            client,
            address,
            token,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let request = self
            .client
            .post(format!("{}{path}", self.address))
            .bearer_auth(&self.token)
            .json(body);
        let (status, reply) = send(request).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {reply}");
        reply
    }

    async fn get(&self, path: &str) -> Value {
        let request = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(&self.token);
        let (status, reply) = send(request).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {reply}");
        reply
    }

    /// Subscribes `url` to `events` with a fixed secret.
    pub async fn subscribe(&self, url: &str, events: &[&str]) {
        let body = json!({"url": url, "events": events, "secret": "process-test-secret"});
        self.post("/api/webhooks/", &body).await;
    }

    /// Creates `n` authors, one request each: `n` `author.created` events.
    pub async fn create_authors(&self, n: usize) {
        for i in 0..n {
            self.post("/api/authors/", &json!({"name": format!("Author {i}")}))
                .await;
        }
    }

    /// The ids of every recorded event named `event` (up to 500).
    pub async fn event_ids(&self, event: &str) -> BTreeSet<String> {
        let page = self
            .get(&format!("/api/events/?event={event}&limit=500"))
            .await;
        page["results"]
            .as_array()
            .unwrap_or_else(|| panic!("no results in {page}"))
            .iter()
            .map(|e| e["id"].as_str().expect("an event id").to_owned())
            .collect()
    }

    /// How many deliveries are `delivered`.
    pub async fn delivered_count(&self) -> u64 {
        self.deliveries_count("delivered").await
    }

    /// How many deliveries have `status`.
    pub async fn deliveries_count(&self, status: &str) -> u64 {
        let page = self
            .get(&format!("/api/webhooks/deliveries/?status={status}"))
            .await;
        page["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("no count in {page}"))
    }

    /// Polls until `n` deliveries are `delivered`; panics after `timeout`.
    pub async fn wait_for_delivered(&self, n: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let delivered = self.delivered_count().await;
            if delivered == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{delivered} delivered deliveries after {timeout:?}, expected {n}"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the request is sent");
    let status = response.status();
    let text = response.text().await.expect("the body is read");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The distinct `webhook-id`s among `requests`.
pub fn webhook_ids(requests: &[RecordedRequest]) -> BTreeSet<String> {
    requests
        .iter()
        .map(|r| {
            r.header("webhook-id")
                .expect("a webhook-id header")
                .to_owned()
        })
        .collect()
}

/// Polls until the requests `receiver` got from index `from` on carry every
/// id of `expected` as their `webhook-id`; panics after `timeout`.
pub async fn wait_for_webhook_ids(
    receiver: &Receiver,
    from: usize,
    expected: &BTreeSet<String>,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let requests = receiver.requests();
        let seen = webhook_ids(requests.get(from..).unwrap_or_default());
        let missing: Vec<&String> = expected.difference(&seen).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {timeout:?}, {} of {} webhook-ids never arrived: {missing:?}",
            missing.len(),
            expected.len()
        );
        tokio::time::sleep(POLL).await;
    }
}
