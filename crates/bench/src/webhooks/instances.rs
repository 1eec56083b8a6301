//! Scenario 6: PostgreSQL, first one `libris` process, then two sharing one
//! database. As scenario 1: closed-loop clients create books for 10 s (split
//! evenly over the processes), one subscription to `book.created` on a fast
//! local receiver, then the drain. Both processes take deliveries from the
//! same outbox, so a delivery claimed twice would arrive twice: the
//! duplicates count says whether claims kept them apart.

use std::time::Duration;

use libris_testing::database::TestDatabase;

use super::harness::Harness;
use super::load::{closed_loop, Run};
use super::section;
use super::throughput::{Sustained, CLIENTS};
use crate::receiver::Receiver;

const DURATION: Duration = Duration::from_secs(10);

pub async fn run() {
    section("6. PostgreSQL: one process, then two sharing one database");
    println!(
        "  {CLIENTS} closed-loop clients for {} s split over the processes; one subscription to book.created on a local receiver",
        DURATION.as_secs()
    );
    for processes in [1, 2] {
        let Some(database) = TestDatabase::postgres() else {
            println!("  skipped: PostgreSQL is unreachable");
            return;
        };
        let sustained = measure(database.url(), processes).await;
        println!("  ### {processes} process(es)");
        sustained.print();
        let span = sustained.run.elapsed + sustained.drained_in;
        println!(
            "  deliveries/s (received ÷ first creation → last arrival): {:.0}",
            sustained.coverage.received as f64 / span.as_secs_f64()
        );
    }
}

/// `processes` servers on the database at `url`, loaded at once.
async fn measure(url: &str, processes: usize) -> Sustained {
    let first = Harness::start_on(url).await;
    let mut servers = vec![];
    for _ in 1..processes {
        servers.push(first.another_process(url).await);
    }
    servers.push(first);
    let receiver = Receiver::start(Duration::ZERO);
    servers[0].subscribe(&receiver.url("/hook")).await;
    let loads = servers
        .iter()
        .map(|server| closed_loop(&server.books, CLIENTS / processes, DURATION, usize::MAX));
    let run = Run::together(futures_util::future::join_all(loads).await);
    Sustained::drain(run, &receiver).await
}
