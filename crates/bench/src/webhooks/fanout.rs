//! Scenario 3: deliveries per second with 100 subscriptions to `book.created`
//! (distinct paths on one fast local receiver, so 100 endpoints as the
//! workers see them). 100 books are created as fast as 16 clients can, which
//! queues 10,000 deliveries; the rate is the deliveries received over the span
//! from the first arrival to the last. On two shared cores one round is
//! noisy, so there are three, each on a fresh server, and the median counts.

use std::collections::HashSet;
use std::time::Duration;

use super::analysis::parse;
use super::harness::Harness;
use super::load::closed_loop;
use super::throughput::CLIENTS;
use super::{record_peak, section, verdict, Peak};
use crate::receiver::Receiver;
use crate::stats::ms;

const SUBSCRIPTIONS: usize = 100;
const BOOKS: usize = 100;
const EXPECTED: usize = SUBSCRIPTIONS * BOOKS;
const ROUNDS: usize = 3;
/// Issue 11: at least 10,000 deliveries a second to 100 subscriptions.
const BUDGET_PER_SECOND: f64 = 10_000.0;
const DRAIN: Duration = Duration::from_secs(60);

pub async fn run(peaks: &mut Vec<Peak>) {
    section("3. Deliveries per second, 100 subscriptions");
    println!(
        "  {SUBSCRIPTIONS} subscriptions to book.created (one receiver, distinct paths); {BOOKS} books created by {CLIENTS} clients → {EXPECTED} deliveries; {ROUNDS} rounds, a fresh server each"
    );
    let mut rates = Vec::with_capacity(ROUNDS);
    let mut peak = 0.0_f64;
    for n in 1..=ROUNDS {
        let round = Round::measure().await;
        println!(
            "  round {n}: {} received, {} of {EXPECTED} (subscription, book) pairs (all arrived: {}); books created in {:.0} ms",
            round.received,
            round.pairs,
            verdict(round.pairs == EXPECTED),
            ms(round.created_in),
        );
        println!(
            "           first → last arrival {:.0} ms = {:.0} deliveries/s; first creation request → last arrival {:.0} ms",
            ms(round.span),
            round.per_second(),
            ms(round.end_to_end),
        );
        rates.push(round.per_second());
        peak = peak.max(round.peak_rss_mib);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "  deliveries/s, median of {ROUNDS}: {median:.0}   (budget ≥ {BUDGET_PER_SECOND:.0}/s: {})",
        verdict(median >= BUDGET_PER_SECOND)
    );
    record_peak(peaks, "3. 100 subscriptions (highest round)", peak);
}

/// One round on a fresh server.
struct Round {
    created_in: Duration,
    received: usize,
    pairs: usize,
    /// First arrival → last arrival.
    span: Duration,
    /// First creation request sent → last arrival.
    end_to_end: Duration,
    peak_rss_mib: f64,
}

impl Round {
    async fn measure() -> Self {
        let harness = Harness::start().await;
        let receiver = Receiver::start(Duration::ZERO);
        for i in 0..SUBSCRIPTIONS {
            harness
                .subscribe(&receiver.url(&format!("/hooks/{i}")))
                .await;
        }
        let load = closed_loop(&harness.books, CLIENTS, DRAIN, BOOKS).await;
        receiver.wait_for(EXPECTED, DRAIN).await;
        let delivered = parse(receiver.take());
        let books: HashSet<i64> = load.created.iter().map(|c| c.book).collect();
        let pairs: HashSet<(&str, i64)> = delivered
            .iter()
            .filter(|d| books.contains(&d.book))
            .map(|d| (d.path.as_str(), d.book))
            .collect();
        let first_sent = load.created.iter().map(|c| c.sent).min();
        let first = delivered.iter().map(|d| d.at).min();
        let last = delivered.iter().map(|d| d.at).max();
        let (span, end_to_end) = match (first_sent, first, last) {
            (Some(sent), Some(first), Some(last)) => (last - first, last - sent),
            _ => (Duration::ZERO, Duration::ZERO),
        };
        Self {
            created_in: load.elapsed,
            received: delivered.len(),
            pairs: pairs.len(),
            span,
            end_to_end,
            peak_rss_mib: harness.server.peak_rss_mib(),
        }
    }

    fn per_second(&self) -> f64 {
        self.received.saturating_sub(1) as f64 / self.span.as_secs_f64()
    }
}
