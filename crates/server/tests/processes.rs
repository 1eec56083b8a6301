//! Process-level tests: the `libris` binary as operators run it, one or more
//! processes at a time, against a real loopback webhook receiver.
//!
//! They need the real binary, not the in-process `Application` the end-to-end
//! tests start, because what they check only exists between processes: a
//! process killed with SIGKILL mid-delivery (no destructor, no graceful
//! shutdown, leases left behind in the database), two processes sharing one
//! PostgreSQL database, and what `main` prints and exits with when the
//! database cannot be reached. `cargo test` builds the binary and names it in
//! `CARGO_BIN_EXE_libris`; see `support` for how children are started, logged
//! and cleaned up.

mod support;

use std::time::Duration;

use libris_testing::database::TestDatabase;
use libris_testing::receiver::{Receiver, Reply};

use support::{wait_for_webhook_ids, webhook_ids, Api, Launch};

/// How long deliveries may take to arrive once they can.
const DELIVERY: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_server_killed_with_sigkill_delivers_every_pending_delivery_after_restart() {
    const N: usize = 10;
    let database = TestDatabase::sqlite();
    let receiver = Receiver::start().await;
    // Takes every request and answers long after the 1 s timeout: whatever
    // the first server sends is still in flight, its delivery leased, when
    // the server dies.
    receiver.set_fallback(Reply::status(200).delay(Duration::from_secs(60)));
    let launch = Launch::new(database.url())
        .env("LIBRIS_WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,200ms")
        .env("LIBRIS_WEBHOOK_TIMEOUT", "1s")
        .env("LIBRIS_WEBHOOK_LEASE", "2s");

    let mut first = launch.serve().await;
    let api = Api::login(&first).await;
    api.subscribe(&receiver.url(), &["author.*"]).await;
    api.create_authors(N).await;
    receiver.wait_for(1, DELIVERY).await;
    assert_eq!(
        api.delivered_count().await,
        0,
        "the receiver has answered nothing, so nothing may be delivered yet"
    );
    first.process.kill();
    // Every request from here on comes from the restarted server.
    let sent_before_the_kill = receiver.requests().len();

    receiver.set_fallback(Reply::status(200));
    let second = launch.serve().await;
    let api = Api::login(&second).await;
    let events = api.event_ids("author.created").await;
    assert_eq!(events.len(), N, "one author.created event per author");
    // At least once: every event arrives again, duplicates allowed.
    wait_for_webhook_ids(&receiver, sent_before_the_kill, &events, DELIVERY).await;
    api.wait_for_delivered(N as u64, DELIVERY).await;
}

#[tokio::test]
async fn two_processes_on_one_postgresql_database_deliver_n_events_exactly_n_times() {
    const N: usize = 100;
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    let receiver = Receiver::start().await;
    // No lease may expire during the test: with healthy processes, a
    // delivery is sent twice only when its lease runs out mid-attempt.
    let launch = Launch::new(database.url()).env("LIBRIS_WEBHOOK_LEASE", "30s");
    // The server first: it runs the migrations and creates the admin.
    let server = launch.serve().await;
    let _worker = launch.worker().await;

    let api = Api::login(&server).await;
    api.subscribe(&receiver.url(), &["author.*"]).await;
    api.create_authors(N).await;
    receiver.wait_for(N, DELIVERY).await;
    api.wait_for_delivered(N as u64, DELIVERY).await;
    // A duplicate can only be waited for, not polled for: give one time to
    // arrive after everything was recorded as delivered.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let requests = receiver.requests();
    assert_eq!(requests.len(), N, "every event sent exactly once");
    assert_eq!(
        webhook_ids(&requests),
        api.event_ids("author.created").await,
        "one request per author.created event"
    );
}

#[tokio::test]
async fn a_wrong_database_url_fails_at_start_with_the_databases_message() {
    // Nothing listens on port 1. LC_ALL=C keeps libpq's message in English.
    let mut migrate = Launch::new("postgres://postgres@127.0.0.1:1/nowhere")
        .env("LC_ALL", "C")
        .spawn(&["migrate"]);

    let status = migrate.wait_for_exit(Duration::from_secs(5)).await;

    assert!(!status.success(), "migrate exited with {status}");
    let stderr = migrate.stderr();
    assert!(
        stderr.contains("Connection refused"),
        "stderr should carry the database's own message: {stderr}"
    );
    assert!(
        !stderr.to_lowercase().contains("timed out"),
        "a refused connection must not be reported as a pool timeout: {stderr}"
    );
}

/// `libris deliveries monitor | send | prune` against the database of a
/// server that records deliveries but does not send them.
#[tokio::test]
async fn the_deliveries_commands_monitor_send_and_prune() {
    let database = TestDatabase::sqlite();
    let launch = Launch::new(database.url()).env("LIBRIS_WEBHOOKS_ENABLED", "false");
    let server = launch.serve().await;
    let api = Api::login(&server).await;
    let receiver = Receiver::start().await;
    api.subscribe(&receiver.url(), &["author.*"]).await;
    api.create_authors(3).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while api.deliveries_count("pending").await < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fan-out never queued the 3 deliveries"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let mut monitor = launch.spawn(&[
        "deliveries",
        "monitor",
        "--status",
        "pending",
        "--limit",
        "2",
    ]);
    assert_eq!(
        monitor.wait_for_exit(Duration::from_secs(10)).await.code(),
        Some(1),
        "3 pending is over a limit of 2"
    );
    assert!(
        monitor.stdout().contains("3 pending deliveries"),
        "{}",
        monitor.stdout()
    );
    let mut within = launch.spawn(&[
        "deliveries",
        "monitor",
        "--status",
        "pending",
        "--limit",
        "3",
    ]);
    assert_eq!(
        within.wait_for_exit(Duration::from_secs(10)).await.code(),
        Some(0)
    );

    let mut send = launch.spawn(&["deliveries", "send"]);
    assert!(
        send.wait_for_exit(Duration::from_secs(20)).await.success(),
        "{}",
        send.stderr()
    );
    assert!(send.stdout().contains("3 delivered"), "{}", send.stdout());
    assert_eq!(receiver.requests().len(), 3);
    assert_eq!(api.delivered_count().await, 3);

    let mut prune = launch.spawn(&["deliveries", "prune", "--older-than", "0s"]);
    assert!(
        prune.wait_for_exit(Duration::from_secs(10)).await.success(),
        "{}",
        prune.stderr()
    );
    assert!(
        prune
            .stdout()
            .contains("pruned 3 deliveries, 3 attempt logs and 0 notifications"),
        "{}",
        prune.stdout()
    );
    assert_eq!(api.delivered_count().await, 0);
}

/// The operating commands do not mislead: a database that is not there, an
/// id that names nothing and a URL of another scheme are errors that say so,
/// with exit status 2, and a refused attempt prints its reason.
#[tokio::test]
async fn operating_commands_refuse_what_names_nothing() {
    let absent = std::env::temp_dir().join(format!("libris-absent-{}.db", std::process::id()));
    let absent_url = format!("sqlite://{}", absent.display());
    let mut monitor = Launch::new(&absent_url).spawn(&["deliveries", "monitor"]);
    assert_eq!(
        monitor.wait_for_exit(Duration::from_secs(10)).await.code(),
        Some(2)
    );
    assert!(
        monitor.stderr().contains(&absent.display().to_string()),
        "{}",
        monitor.stderr()
    );
    assert!(!absent.exists(), "no empty database was created");

    let mut mysql = Launch::new("mysql://x/y").spawn(&["migrate"]);
    assert_eq!(
        mysql.wait_for_exit(Duration::from_secs(10)).await.code(),
        Some(2)
    );
    assert!(mysql.stderr().contains("`mysql://`"), "{}", mysql.stderr());

    let database = TestDatabase::sqlite();
    let launch = Launch::new(database.url()).env("LIBRIS_WEBHOOKS_ENABLED", "false");
    let server = launch.serve().await;
    let api = Api::login(&server).await;
    // A target that was allowed when saved and is refused at send time.
    let refused = launch.clone().env("LIBRIS_WEBHOOK_ALLOW_PRIVATE", "false");
    api.subscribe("http://127.0.0.1:9/hook", &["author.*"])
        .await;
    api.create_authors(1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while api.deliveries_count("pending").await < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fan-out never queued the delivery"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let mut unknown = launch.spawn(&["deliveries", "send", "--delivery", "999"]);
    assert_eq!(
        unknown.wait_for_exit(Duration::from_secs(10)).await.code(),
        Some(2)
    );
    assert!(
        unknown.stderr().contains("no delivery 999"),
        "{}",
        unknown.stderr()
    );
    let mut unknown = launch.spawn(&["deliveries", "send", "--webhook", &uuid_of_nothing()]);
    assert_eq!(
        unknown.wait_for_exit(Duration::from_secs(10)).await.code(),
        Some(2)
    );
    assert!(
        unknown.stderr().contains("no webhook"),
        "{}",
        unknown.stderr()
    );

    let mut send = refused.spawn(&["deliveries", "send"]);
    assert!(
        send.wait_for_exit(Duration::from_secs(20)).await.success(),
        "{}",
        send.stderr()
    );
    let out = send.stdout();
    assert!(
        out.contains("refused: ") && out.contains("special-purpose"),
        "{out}"
    );
}

fn uuid_of_nothing() -> String {
    "00000000-0000-4000-8000-000000000000".to_owned()
}
