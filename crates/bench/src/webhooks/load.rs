//! Load generators: closed-loop clients creating books as fast as the server
//! answers, and an open-loop pacer issuing creations at a fixed rate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use super::harness::{BookCreator, Created};

/// Every creation of a run, and how long issuing them took.
pub struct Run {
    pub created: Vec<Created>,
    pub started: Instant,
    pub elapsed: Duration,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.created.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// Runs that went on at the same time (against several processes) as
    /// one: every creation, from the first start to the last end.
    pub fn together(runs: Vec<Run>) -> Run {
        let started = runs.iter().map(|r| r.started).min().expect("a run");
        let ended = runs
            .iter()
            .map(|r| r.started + r.elapsed)
            .max()
            .expect("a run");
        Run {
            created: runs.into_iter().flat_map(|r| r.created).collect(),
            started,
            elapsed: ended - started,
        }
    }

    /// Request latencies, sorted.
    pub fn latencies(&self) -> Vec<Duration> {
        self.latencies_within(self.elapsed)
    }

    /// Latencies of the requests sent within `window` of the start, sorted.
    pub fn latencies_within(&self, window: Duration) -> Vec<Duration> {
        let mut latencies: Vec<Duration> = self
            .created
            .iter()
            .filter(|c| c.sent.saturating_duration_since(self.started) <= window)
            .map(|c| c.latency)
            .collect();
        latencies.sort();
        latencies
    }
}

/// `clients` tasks, each sending its next creation as soon as the previous
/// one is answered, until `duration` has passed or `max` were started.
pub async fn closed_loop(
    books: &BookCreator,
    clients: usize,
    duration: Duration,
    max: usize,
) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let issued = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let (books, issued) = (books.clone(), Arc::clone(&issued));
        tasks.spawn(async move {
            let mut created = Vec::new();
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= max || Instant::now() >= deadline {
                    return created;
                }
                created.push(books.create(n).await);
            }
        });
    }
    let mut created = Vec::new();
    while let Some(done) = tasks.join_next().await {
        created.extend(done.expect("a client task"));
    }
    let elapsed = started.elapsed();
    Run {
        created,
        started,
        elapsed,
    }
}

/// One loop issuing a creation every `1 / rate` seconds for `duration`, each
/// on its own task, so a slow answer does not delay the next request (open
/// loop: the offered rate stays fixed).
pub async fn paced(books: &BookCreator, rate: u32, duration: Duration) -> Run {
    let total = (f64::from(rate) * duration.as_secs_f64()).round() as usize;
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for n in 0..total {
        ticks.tick().await;
        let books = books.clone();
        tasks.spawn(async move { books.create(n).await });
    }
    let elapsed = started.elapsed();
    let mut created = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        created.push(done.expect("a creation task"));
    }
    Run {
        created,
        started,
        elapsed,
    }
}
