//! Issue 12's figures: a campaign to 100,000 members on SQLite. The members
//! are seeded straight into the server's database (no password: argon2 for
//! each would take most of an hour), then:
//!
//! 1. the API's latency without a campaign: an open-loop pacer reading
//!    (`GET /api/books/`) and writing (`POST /api/books/`) for a while;
//! 2. the selection: `POST /api/campaigns/` of a campaign to everyone,
//!    inside its period, so the answer comes once the 100,000 messages are
//!    queued (one `INSERT … SELECT`);
//! 3. the same load again while the messages go to a local gateway that
//!    answers `{"code": 0}` at once, and the messages sent per second.
//!
//! Both latency runs are in the same process, so the p99s compare. It runs
//! twice: with the default `LIBRIS_SMS_RATE` (the budget's), cancelled after
//! the load, and unbounded (`0`) until every message is sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::server::Server;
use crate::stats::{ms, percentile, spread};

const MEMBERS: usize = 100_000;
/// Requests per second of the API load, half reads, half writes.
const RATE: u32 = 50;
const LOAD: Duration = Duration::from_secs(20);
/// The budget: the API's p99 during the send within 1.2× of without.
const BUDGET_RATIO: f64 = 1.2;

/// How a run sets `LIBRIS_SMS_RATE` and whether it waits for every message.
struct Setup {
    /// `None`: the server's default.
    rate: Option<u32>,
    /// Wait until the campaign is finished (else cancel it after the load).
    drain: bool,
}

/// The default settings first (the budget is theirs), then the sender
/// unbounded: how fast a gateway answering at once is worked off, and what
/// that costs the API on this machine. `LIBRIS_BENCH_SMS_RATES=0,200,…`
/// runs those rates instead, without draining.
pub async fn run() {
    let setups: Vec<Setup> = match std::env::var("LIBRIS_BENCH_SMS_RATES") {
        Ok(rates) => rates
            .split(',')
            .filter_map(|r| r.trim().parse().ok())
            .map(|rate| Setup {
                rate: Some(rate),
                drain: false,
            })
            .collect(),
        Err(_) => vec![
            Setup {
                rate: None,
                drain: false,
            },
            Setup {
                rate: Some(0),
                drain: true,
            },
        ],
    };
    for setup in setups {
        run_with(&setup).await;
    }
}

async fn run_with(setup: &Setup) {
    let rate_name = setup
        .rate
        .map_or_else(|| "its default".to_owned(), |r| r.to_string());
    println!("\n## Campaigns: a campaign to {MEMBERS} members, LIBRIS_SMS_RATE {rate_name} (LIBRIS_BENCH=campaigns; command: make bench)");
    let gateway = Gateway::start();
    let url = gateway.url();
    let rate_text = setup.rate.map(|r| r.to_string());
    let mut env = vec![
        ("LIBRIS_SMS_URL", url.as_str()),
        ("LIBRIS_SMS_TOKEN", "bench-token"),
    ];
    if let Some(rate) = &rate_text {
        env.push(("LIBRIS_SMS_RATE", rate.as_str()));
    }
    let server = Server::start(&env).await;
    let seeded = Instant::now();
    seed(&server);
    println!(
        "  {MEMBERS} members seeded in SQL in {:.1} s (phone 7916…, subscribed, no password)",
        seeded.elapsed().as_secs_f64()
    );
    let api = Api::new(&server).await;
    let rss_before = server.peak_rss_mib();

    let quiet = api.paced(LOAD).await;

    let started = Instant::now();
    let campaign = api.create_campaign().await;
    let selection = started.elapsed();
    let id = campaign["id"].as_i64().expect("the campaign's id");
    println!(
        "  selection: POST /api/campaigns/ answered in {:.0} ms with {} messages pending (one INSERT … SELECT in the creating transaction)",
        ms(selection),
        campaign["counts"]["pending"]
    );

    let sent_before = gateway.count();
    let busy = api.paced(LOAD).await;
    let sent_during = gateway.count() - sent_before;
    println!(
        "  sending: {:.0} messages/s during the {} s of API load (LIBRIS_SMS_CONCURRENCY 8; a gateway on loopback answering at once)",
        sent_during as f64 / LOAD.as_secs_f64(),
        LOAD.as_secs()
    );
    if setup.drain {
        let finished = api.wait_finished(id).await;
        let total = started.elapsed();
        let sent = finished["counts"]["sent"].as_u64().unwrap_or_default();
        println!(
            "  all sent: {sent} in {:.1} s from the create = {:.0} messages/s",
            total.as_secs_f64(),
            sent as f64 / total.as_secs_f64()
        );
    } else {
        let cancelling = Instant::now();
        let cancelled = api.cancel(id).await;
        println!(
            "  cancel: POST /api/campaigns/{id}/cancel/ answered in {:.0} ms, {} pending messages cancelled in one statement",
            ms(cancelling.elapsed()),
            cancelled["counts"]["cancelled"]
        );
    }
    println!(
        "  API latency, {RATE} requests/s (half GET /api/books/, half POST /api/books/), open loop, {} s without the campaign, then {} s during the send:",
        LOAD.as_secs(),
        LOAD.as_secs()
    );
    for (name, without, with) in [
        ("reads ", &quiet.reads, &busy.reads),
        ("writes", &quiet.writes, &busy.writes),
        ("all   ", &quiet.all(), &busy.all()),
    ] {
        println!("    {name} without a campaign: {}", spread(without));
        println!("    {name} during the send:    {}", spread(with));
        let ratio = percentile(with, 99.0).as_secs_f64() / percentile(without, 99.0).as_secs_f64();
        println!(
            "    {name} p99 during / without = {ratio:.2}×   (budget ≤ {BUDGET_RATIO}×: {})",
            if ratio <= BUDGET_RATIO {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    println!(
        "  server peak RSS (VmHWM): {rss_before:.1} MiB before the campaign, {:.1} MiB after it (the audience is never read into memory)",
        server.peak_rss_mib()
    );
}

/// 100,000 members with a phone of operator 916, in two statements.
fn seed(server: &Server) {
    let path = server.database().to_str().expect("a UTF-8 path").to_owned();
    let mut conn = SqliteConnection::establish(&path).expect("the bench database");
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = 10000;
         BEGIN IMMEDIATE;
         WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {MEMBERS})
         INSERT INTO users (username, email, password_hash, is_admin, created_at)
             SELECT 'member' || n, 'member' || n || '@bench.example', '', 0,
                 '2026-01-01 00:00:00' FROM seq;
         INSERT INTO profiles (user_id, phone, operator_code, timezone, subscribed_to_notifications)
             SELECT id, '7916' || printf('%07d', id), '916', 'Europe/Moscow', 1
             FROM users WHERE username LIKE 'member%';
         COMMIT;"
    ))
    .expect("seed the members");
}

/// One load run: the latencies of reads and writes, sorted.
struct Latencies {
    reads: Vec<Duration>,
    writes: Vec<Duration>,
}

impl Latencies {
    fn all(&self) -> Vec<Duration> {
        let mut all: Vec<Duration> = self.reads.iter().chain(&self.writes).copied().collect();
        all.sort();
        all
    }
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
    author: i64,
}

impl Api {
    async fn new(server: &Server) -> Self {
        let client = reqwest::Client::new();
        let token = server.token(&client).await;
        let base = server.base.clone();
        let author: Value = client
            .post(format!("{base}/api/authors/"))
            .bearer_auth(&token)
            .json(&json!({"name": "Bench"}))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("an author")
            .json()
            .await
            .expect("JSON");
        Self {
            client,
            base,
            token,
            author: author["id"].as_i64().expect("the author's id"),
        }
    }

    async fn create_campaign(&self) -> Value {
        let at = |d: chrono::Duration| {
            (chrono::Utc::now() + d).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        };
        let response = self
            .client
            .post(format!("{}/api/campaigns/", self.base))
            .bearer_auth(&self.token)
            .json(&json!({
                "text": "The library is closed on Monday",
                "start_at": at(chrono::Duration::minutes(-1)),
                "end_at": at(chrono::Duration::hours(2)),
            }))
            .send()
            .await
            .expect("the campaign request");
        assert_eq!(response.status(), 201, "the campaign is created");
        response.json().await.expect("JSON")
    }

    async fn cancel(&self, id: i64) -> Value {
        let response = self
            .client
            .post(format!("{}/api/campaigns/{id}/cancel/", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the cancel request");
        assert_eq!(response.status(), 200, "the campaign is cancelled");
        response.json().await.expect("JSON")
    }

    async fn wait_finished(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let campaign: Value = self
                .client
                .get(format!("{}/api/campaigns/{id}/", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("the campaign")
                .json()
                .await
                .expect("JSON");
            if campaign["status"] == "finished" {
                return campaign;
            }
            assert!(Instant::now() < deadline, "not finished: {campaign}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// [`RATE`] requests a second for `duration`, alternating a read and a
    /// write, each on its own task (open loop).
    async fn paced(&self, duration: Duration) -> Latencies {
        let total = (f64::from(RATE) * duration.as_secs_f64()).round() as usize;
        let mut ticks = tokio::time::interval(Duration::from_secs(1) / RATE);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut tasks = JoinSet::new();
        for n in 0..total {
            ticks.tick().await;
            let (client, token) = (self.client.clone(), self.token.clone());
            let (base, author) = (self.base.clone(), self.author);
            tasks.spawn(async move {
                let started = Instant::now();
                let write = n % 2 == 1;
                let request = if write {
                    client
                        .post(format!("{base}/api/books/"))
                        .json(&json!({"title": format!("Bench book {n}"), "author": author}))
                } else {
                    client.get(format!("{base}/api/books/?limit=20"))
                };
                let response = request.bearer_auth(token).send().await.expect("a request");
                assert!(response.status().is_success(), "{}", response.status());
                let _ = response.bytes().await;
                (write, started.elapsed())
            });
        }
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        while let Some(done) = tasks.join_next().await {
            let (write, latency) = done.expect("a request task");
            if write {
                writes.push(latency);
            } else {
                reads.push(latency);
            }
        }
        reads.sort();
        writes.sort();
        Latencies { reads, writes }
    }
}

const ANSWER: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 25\r\n\r\n{\"code\":0,\"message\":\"OK\"}";

/// A gateway that takes every message at once, on its own runtime so its
/// answers do not wait behind the bench's clients.
struct Gateway {
    port: u16,
    count: Arc<AtomicUsize>,
    _thread: std::thread::JoinHandle<()>,
}

impl Gateway {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("an address").port();
        let count = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        let thread = std::thread::Builder::new()
            .name("bench-gateway".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("the gateway's runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("a tokio listener");
                    while let Ok((stream, _)) = listener.accept().await {
                        tokio::spawn(serve(stream, Arc::clone(&counted)));
                    }
                });
            })
            .expect("the gateway's thread");
        Self {
            port,
            count,
            _thread: thread,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// Keep-alive: reads a head and its `Content-Length` body, answers, repeats.
async fn serve(mut stream: TcpStream, count: Arc<AtomicUsize>) {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0_u8; 4096];
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..head_end + length);
        count.fetch_add(1, Ordering::Relaxed);
        if stream.write_all(ANSWER).await.is_err() {
            return;
        }
    }
}
