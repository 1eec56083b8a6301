//! Scenario 1: sustained book creations per second over HTTP (16 closed-loop
//! clients for 10 s) while one `book.created` subscription on a fast local
//! receiver gets every event; then a drain wait checks that every created
//! book's event arrived. Its request p99 is the baseline for scenario 4.

use std::time::{Duration, Instant};

use super::analysis::{parse, Coverage, Latencies};
use super::harness::Harness;
use super::load::{closed_loop, Run};
use super::{record_peak, section, verdict, Peak};
use crate::receiver::Receiver;
use crate::stats::spread;
use crate::stats::{ms, percentile};

pub const CLIENTS: usize = 16;
const DURATION: Duration = Duration::from_secs(10);
/// How long to wait after the last creation for the last delivery.
pub const DRAIN: Duration = Duration::from_secs(30);
/// The write-path issue's budget: nothing left undelivered this long after
/// the load at the maximum rate stops.
const DRAIN_BUDGET: Duration = Duration::from_secs(1);
/// The write-path issue's budget of server CPU per creation (all threads,
/// the creation's delivery included).
const CPU_BUDGET_MS: f64 = 0.3;

/// What scenario 4 compares against.
pub struct Baseline {
    pub per_second: f64,
    pub p99: Duration,
    /// Of the requests sent in the first [`BASELINE_WINDOW`], as long as
    /// scenario 4's run (its delivery backlog has had as long to grow).
    pub p99_window: Duration,
}

pub const BASELINE_WINDOW: Duration = Duration::from_secs(5);

pub async fn run(peaks: &mut Vec<Peak>) -> Baseline {
    let harness = Harness::start().await;
    let receiver = Receiver::start(Duration::ZERO);
    harness.subscribe(&receiver.url("/hook")).await;
    let cpu_before = harness.server.cpu_time();
    let sustained = Sustained::measure(&harness, &receiver, DURATION).await;
    let cpu_per_creation = harness
        .server
        .cpu_ms_per(cpu_before, sustained.run.created.len());
    section("1. Sustained book creations, every event delivered");
    println!(
        "  {CLIENTS} closed-loop clients for {} s; one subscription to book.created on a local receiver answering 200 at once; the baseline for 4",
        DURATION.as_secs()
    );
    sustained.print();
    println!(
        "  server CPU per creation, its delivery included: {cpu_per_creation:.3} ms   (budget ≤ {CPU_BUDGET_MS} ms: {})",
        verdict(cpu_per_creation <= CPU_BUDGET_MS)
    );
    println!(
        "  undelivered after the load stopped: the last arrival came {:.0} ms later   (budget ≤ {} ms: {})",
        ms(sustained.drained_in),
        DRAIN_BUDGET.as_millis(),
        verdict(sustained.coverage.complete() && sustained.drained_in <= DRAIN_BUDGET)
    );
    record_peak(
        peaks,
        "1. sustained creations",
        harness.server.peak_rss_mib(),
    );
    let requests = sustained.run.latencies();
    Baseline {
        per_second: sustained.run.per_second(),
        p99: percentile(&requests, 99.0),
        p99_window: percentile(&sustained.run.latencies_within(BASELINE_WINDOW), 99.0),
    }
}

/// A closed-loop run and what the receiver got from it.
pub struct Sustained {
    pub run: Run,
    pub coverage: Coverage,
    pub latencies: Latencies,
    /// From the last creation's answer until the last expected arrival (or
    /// the drain timeout).
    pub drained_in: Duration,
}

impl Sustained {
    /// Creates books with [`CLIENTS`] clients for `duration`, waits for the
    /// receiver to have them all, and takes what it recorded.
    pub async fn measure(harness: &Harness, receiver: &Receiver, duration: Duration) -> Self {
        let run = closed_loop(&harness.books, CLIENTS, duration, usize::MAX).await;
        Self::drain(run, receiver).await
    }

    /// Waits for the receiver to have every creation of `run`, and takes
    /// what it recorded.
    pub async fn drain(run: Run, receiver: &Receiver) -> Self {
        let drain = Instant::now();
        receiver.wait_for(run.created.len(), DRAIN).await;
        let drained_in = drain.elapsed();
        let delivered = parse(receiver.take());
        Self {
            coverage: Coverage::of(&run.created, &delivered),
            latencies: Latencies::of(&run.created, &delivered),
            run,
            drained_in,
        }
    }

    pub fn print(&self) {
        let requests = self.run.latencies();
        println!(
            "  creations: {} in {:.1} s = {:.0} /s   (no budget)",
            self.run.created.len(),
            self.run.elapsed.as_secs_f64(),
            self.run.per_second()
        );
        println!(
            "  request latency (POST /api/books/): {}",
            spread(&requests)
        );
        let c = &self.coverage;
        println!(
            "  delivered: {} received for {} created books; missing {}, duplicates {}; last arrival {:.0} ms after the last creation was answered   (every event arrived: {})",
            c.received,
            c.created,
            c.missing,
            c.duplicates,
            ms(self.drained_in),
            verdict(c.complete())
        );
        println!(
            "  event → received under this load (receive time − body timestamp): {}",
            spread(&self.latencies.from_event)
        );
    }
}
