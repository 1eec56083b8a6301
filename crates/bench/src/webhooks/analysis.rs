//! Turns what a receiver recorded into figures: which created books' events
//! arrived, and how long after the event (or the creating request) they did.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::harness::Created;
use crate::receiver::Arrival;
use crate::stats::percentile;

/// The delivery body's fields the figures need.
#[derive(Deserialize)]
struct Body {
    id: String,
    timestamp: DateTime<Utc>,
    data: BookData,
}

#[derive(Deserialize)]
struct BookData {
    id: i64,
}

/// One received `book.created` delivery.
pub struct Delivered {
    pub event: String,
    pub book: i64,
    pub path: String,
    /// The event's own time (the body's `timestamp`), set by the server in
    /// the transaction that created the book.
    pub timestamp: DateTime<Utc>,
    pub at: Instant,
    pub wall: SystemTime,
}

pub fn parse(arrivals: Vec<Arrival>) -> Vec<Delivered> {
    arrivals
        .into_iter()
        .map(|a| {
            let body: Body = serde_json::from_slice(&a.body).unwrap_or_else(|e| {
                panic!(
                    "a book.created body ({e}): {}",
                    String::from_utf8_lossy(&a.body)
                )
            });
            Delivered {
                event: body.id,
                book: body.data.id,
                path: a.path,
                timestamp: body.timestamp,
                at: a.at,
                wall: a.wall,
            }
        })
        .collect()
}

/// Created books against received deliveries, for one subscription.
pub struct Coverage {
    pub created: usize,
    pub received: usize,
    /// Created books whose event never arrived.
    pub missing: usize,
    /// Deliveries beyond the first of the same event (at-least-once).
    pub duplicates: usize,
}

impl Coverage {
    pub fn of(created: &[Created], delivered: &[Delivered]) -> Self {
        let events: HashSet<&str> = delivered.iter().map(|d| d.event.as_str()).collect();
        let books: HashSet<i64> = delivered.iter().map(|d| d.book).collect();
        Self {
            created: created.len(),
            received: delivered.len(),
            missing: created.iter().filter(|c| !books.contains(&c.book)).count(),
            duplicates: delivered.len() - events.len(),
        }
    }

    pub fn complete(&self) -> bool {
        self.missing == 0
    }
}

/// Sorted latencies of each book's first delivery.
pub struct Latencies {
    /// Arrival (wall clock) − the body's `timestamp`.
    pub from_event: Vec<Duration>,
    /// Arrival − when the creating request was sent (monotonic clock).
    pub from_request: Vec<Duration>,
}

impl Latencies {
    pub fn of(created: &[Created], delivered: &[Delivered]) -> Self {
        let sent: HashMap<i64, Instant> = created.iter().map(|c| (c.book, c.sent)).collect();
        let mut first: HashMap<i64, &Delivered> = HashMap::new();
        for d in delivered {
            first
                .entry(d.book)
                .and_modify(|f| {
                    if d.at < f.at {
                        *f = d;
                    }
                })
                .or_insert(d);
        }
        let mut from_event = Vec::with_capacity(first.len());
        let mut from_request = Vec::with_capacity(first.len());
        for (book, d) in first {
            let received = DateTime::<Utc>::from(d.wall);
            // A clock step could make it negative; count that as zero.
            from_event.push((received - d.timestamp).to_std().unwrap_or_default());
            if let Some(sent) = sent.get(&book) {
                from_request.push(d.at.saturating_duration_since(*sent));
            }
        }
        from_event.sort();
        from_request.sort();
        Self {
            from_event,
            from_request,
        }
    }

    pub fn event_p50_p99(&self) -> (Duration, Duration) {
        (
            percentile(&self.from_event, 50.0),
            percentile(&self.from_event, 99.0),
        )
    }
}
