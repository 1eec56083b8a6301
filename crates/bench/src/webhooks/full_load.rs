//! Scenario 7: delivery at 80 % of the maximum creation rate. Scenario 1's
//! closed-loop rate is the maximum; a fresh server then gets creations paced
//! at 80 % of it (open loop, so a slow answer does not lower the offered
//! rate) for 10 s, with one `book.created` subscription on a fast local
//! receiver. The write-path issue's budget: event → received p99 ≤ 50 ms.

use std::time::Duration;

use super::harness::Harness;
use super::load::paced;
use super::throughput::Sustained;
use super::{section, verdict};
use crate::receiver::Receiver;
use crate::stats::{ms, percentile};

const SHARE: f64 = 0.8;
const DURATION: Duration = Duration::from_secs(10);
const BUDGET_P99: Duration = Duration::from_millis(50);

/// `max_per_second`: scenario 1's creations per second.
pub async fn run(max_per_second: f64) {
    let rate = (max_per_second * SHARE).round().max(1.0) as u32;
    let harness = Harness::start().await;
    let receiver = Receiver::start(Duration::ZERO);
    harness.subscribe(&receiver.url("/hook")).await;
    let run = paced(&harness.books, rate, DURATION).await;
    let sustained = Sustained::drain(run, &receiver).await;
    section("7. Delivery at 80 % of the maximum creation rate");
    println!(
        "  {rate} creations/s paced for {} s (80 % of scenario 1's {max_per_second:.0}/s), a fresh server; one subscription to book.created",
        DURATION.as_secs()
    );
    sustained.print();
    let p99 = percentile(&sustained.latencies.from_event, 99.0);
    println!(
        "  event → received p99 {:.1} ms   (budget ≤ {} ms: {})",
        ms(p99),
        BUDGET_P99.as_millis(),
        verdict(p99 <= BUDGET_P99)
    );
}
