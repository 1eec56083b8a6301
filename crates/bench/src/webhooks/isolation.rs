//! Scenario 4: isolation from a slow endpoint. Besides the fast receiver's
//! subscription, a second one points at a receiver that waits 5 s before
//! every answer (under the sender's 10 s timeout, so each attempt succeeds,
//! late). A shorter scenario 1 (5 s) and scenario 2 (5 s) then run on the same
//! server, in that order, so the paced run also meets the slow endpoint's
//! backlog: the API's p99 is compared with scenario 1's, and the fast
//! receiver's latency with scenario 2's budget.

use std::time::Duration;

use super::harness::Harness;
use super::latency::{Paced, BUDGET_P50, BUDGET_P99};
use super::throughput::{Baseline, Sustained, BASELINE_WINDOW};
use super::{record_peak, section, verdict, Peak};
use crate::receiver::Receiver;
use crate::stats::{ms, percentile};

const SLOW: Duration = Duration::from_secs(5);
const SUSTAINED: Duration = BASELINE_WINDOW;
const PACED: Duration = Duration::from_secs(5);
/// The API's p99 may move by less than this fraction.
const BUDGET_P99_CHANGE: f64 = 0.10;

pub async fn run(baseline: &Baseline, peaks: &mut Vec<Peak>) {
    let harness = Harness::start().await;
    let fast = Receiver::start(Duration::ZERO);
    let slow = Receiver::start(SLOW);
    harness.subscribe(&fast.url("/fast")).await;
    harness.subscribe(&slow.url("/slow")).await;
    let sustained = Sustained::measure(&harness, &fast, SUSTAINED).await;
    let paced = Paced::measure(&harness, &fast, PACED).await;

    section("4. Isolation from a slow endpoint");
    println!(
        "  two subscriptions to book.created: the fast receiver, and one that answers every request after {} s",
        SLOW.as_secs()
    );
    println!(
        "  a) scenario 1 for {} s with the slow subscriber:",
        SUSTAINED.as_secs()
    );
    sustained.print();
    let p99 = percentile(&sustained.run.latencies(), 99.0);
    let change = p99.as_secs_f64() / baseline.p99.as_secs_f64() - 1.0;
    println!(
        "  API p99: {:.2} ms vs {:.2} ms in 1 = {:+.1} %   (budget: moves by less than {:.0} %: {})",
        ms(p99),
        ms(baseline.p99),
        change * 100.0,
        BUDGET_P99_CHANGE * 100.0,
        verdict(change.abs() < BUDGET_P99_CHANGE)
    );
    println!(
        "    vs {:.2} ms over the first {} s of 1 (the same length of run) = {:+.1} %",
        ms(baseline.p99_window),
        BASELINE_WINDOW.as_secs(),
        (p99.as_secs_f64() / baseline.p99_window.as_secs_f64() - 1.0) * 100.0
    );
    println!(
        "  creations/s: {:.0} vs {:.0} in 1 = {:+.1} %",
        sustained.run.per_second(),
        baseline.per_second,
        (sustained.run.per_second() / baseline.per_second - 1.0) * 100.0
    );
    println!(
        "  b) scenario 2 for {} s, right after, with the slow subscriber's backlog queued:",
        PACED.as_secs()
    );
    paced.print();
    let (p50, p99) = paced.latencies.event_p50_p99();
    println!(
        "  fast receiver, event → received: p50 {:.2} ms, p99 {:.2} ms   (budget p50 ≤ {} ms: {}, p99 ≤ {} ms: {})",
        ms(p50),
        ms(p99),
        BUDGET_P50.as_millis(),
        verdict(p50 <= BUDGET_P50),
        BUDGET_P99.as_millis(),
        verdict(p99 <= BUDGET_P99)
    );
    let created = sustained.run.created.len() + paced.run.created.len();
    println!(
        "  slow receiver: {} requests received for {created} events during the scenario (the rest wait as pending deliveries)",
        slow.count()
    );
    record_peak(
        peaks,
        "4. isolation (slow subscriber)",
        harness.server.peak_rss_mib(),
    );
}
