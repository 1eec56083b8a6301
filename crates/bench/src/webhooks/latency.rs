//! Scenario 2: event → received latency at a paced 200 events/s for 10 s
//! (one open-loop pacer; one `book.created` subscription on a fast local
//! receiver).
//!
//! The latency is the receiver's wall clock at the last body byte minus the
//! body's `timestamp` (RFC 3339, microseconds), which the server sets when it
//! records the event in the creating transaction; both clocks are this host's.
//! The same arrival minus the moment the client sent the creating request
//! (monotonic clock) is printed too: it adds the API's own handling.

use std::time::Duration;

use super::analysis::{parse, Coverage, Latencies};
use super::harness::Harness;
use super::load::{paced, Run};
use super::throughput::DRAIN;
use super::{record_peak, section, verdict, Peak};
use crate::receiver::Receiver;
use crate::stats::ms;
use crate::stats::spread;

pub const RATE: u32 = 200;
const DURATION: Duration = Duration::from_secs(10);
pub const BUDGET_P50: Duration = Duration::from_millis(5);
pub const BUDGET_P99: Duration = Duration::from_millis(25);

pub async fn run(peaks: &mut Vec<Peak>) {
    let harness = Harness::start().await;
    let receiver = Receiver::start(Duration::ZERO);
    harness.subscribe(&receiver.url("/hook")).await;
    let paced = Paced::measure(&harness, &receiver, DURATION).await;
    section("2. Event → received latency at a paced 200 events/s");
    println!(
        "  one loop issuing {RATE} creations/s for {} s (open loop); one subscription to book.created on a local receiver answering 200 at once",
        DURATION.as_secs()
    );
    paced.print();
    record_peak(
        peaks,
        "2. paced 200 events/s",
        harness.server.peak_rss_mib(),
    );
}

/// A paced run and what the receiver got from it.
pub struct Paced {
    pub run: Run,
    pub coverage: Coverage,
    pub latencies: Latencies,
}

impl Paced {
    /// Issues [`RATE`] creations a second for `duration`, waits for their
    /// deliveries, and takes what the receiver recorded.
    pub async fn measure(harness: &Harness, receiver: &Receiver, duration: Duration) -> Self {
        let run = paced(&harness.books, RATE, duration).await;
        receiver.wait_for(run.created.len(), DRAIN).await;
        let delivered = parse(receiver.take());
        Self {
            coverage: Coverage::of(&run.created, &delivered),
            latencies: Latencies::of(&run.created, &delivered),
            run,
        }
    }

    pub fn print(&self) {
        println!(
            "  offered: {} creations at {:.1} /s; request latency {}",
            self.run.created.len(),
            self.run.per_second(),
            spread(&self.run.latencies())
        );
        let (p50, p99) = self.latencies.event_p50_p99();
        println!(
            "  event → received (receive wall clock − body timestamp): p50 {:.2} ms   p99 {:.2} ms   (budget p50 ≤ {} ms: {}, p99 ≤ {} ms: {})",
            ms(p50),
            ms(p99),
            BUDGET_P50.as_millis(),
            verdict(p50 <= BUDGET_P50),
            BUDGET_P99.as_millis(),
            verdict(p99 <= BUDGET_P99)
        );
        println!("    full spread: {}", spread(&self.latencies.from_event));
        println!(
            "  request sent → received (monotonic; adds the API's handling): {}",
            spread(&self.latencies.from_request)
        );
        let c = &self.coverage;
        println!(
            "  delivered: {} received for {} created books; missing {}, duplicates {}   (every event arrived: {})",
            c.received,
            c.created,
            c.missing,
            c.duplicates,
            verdict(c.complete())
        );
    }
}
