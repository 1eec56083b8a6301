//! The unit of work over one channel: claim due rows with a lease, send each
//! through the channel, record each attempt and its next state. No
//! transaction is open while a message is in flight: the claim commits
//! first, and results are recorded in a new short transaction.

use std::sync::Arc;

use libris_domain::delivery::AttemptReport;
use tracing::Instrument;

use super::channel::{Channel, Randomness};
use super::queue::{Attempt, Capacity, ChannelSettings, Job, Queue};
use crate::ports::{Clock, Store, StoreError, StoreExt};

/// How far past the free slots a claim looks for rows it may take, so one
/// busy target's backlog does not hide the others'.
const CLAIM_SCAN_FACTOR: usize = 4;
const CLAIM_SCAN_MAX: usize = 1024;

/// One channel's queue, its adapter and its settings, with what every step
/// needs.
pub struct Engine<Q: Queue> {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Randomness>,
    queue: Q,
    channel: Arc<dyn Channel<Q::Message>>,
    settings: ChannelSettings,
}

impl<Q: Queue> Engine<Q> {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Randomness>,
        queue: Q,
        channel: Arc<dyn Channel<Q::Message>>,
        settings: ChannelSettings,
    ) -> Self {
        Self {
            store,
            clock,
            random,
            queue,
            channel,
            settings,
        }
    }

    /// The channel's name, for logs, metrics and wake-ups.
    pub fn channel(&self) -> &'static str {
        self.queue.channel()
    }

    pub fn settings(&self) -> &ChannelSettings {
        &self.settings
    }

    /// Leases the due rows this process can send now, and the rows it may
    /// claim ahead of a target's next free slot (see [`Capacity::ahead`]):
    /// no more than its free slots, none to a target at its bound. Nothing
    /// is claimed only to be given back. `capacity` is read once the
    /// transaction has begun, so the slots freed while it waited for its
    /// turn are used too.
    pub fn claim(
        &self,
        capacity: impl FnOnce() -> Capacity,
    ) -> Result<Vec<Job<Q::Message>>, StoreError> {
        self.store.write_tx(|tx| {
            let capacity = capacity();
            if capacity.free == 0 {
                return Ok(Vec::new());
            }
            let now = self.clock.now();
            let saturated = capacity.saturated();
            let scan = (capacity.free * CLAIM_SCAN_FACTOR)
                .clamp(capacity.free, CLAIM_SCAN_MAX.max(capacity.free));
            let candidates = self.queue.due(tx, now, scan as i64, &saturated)?;
            let picked = capacity.pick(&candidates);
            let mut jobs = Vec::new();
            if !picked.now.is_empty() {
                jobs = self
                    .queue
                    .lease(tx, &picked.now, now + self.settings.lease)?;
            }
            if !picked.ahead.is_empty() {
                // A row claimed ahead waits for one attempt of its target to
                // end (an attempt ends within its timeout, which is shorter
                // than the lease), then needs a whole lease for its own.
                let until = now + self.settings.lease * 2;
                jobs.extend(self.queue.lease(tx, &picked.ahead, until)?);
            }
            Ok(jobs)
        })
    }

    /// Sends one attempt; never fails (see [`Channel`]).
    pub async fn send(&self, job: &Job<Q::Message>) -> AttemptReport {
        self.channel
            .send(&job.message, self.clock.now())
            .instrument(self.queue.span(job))
            .await
    }

    /// Moves each row on (delivered, retry at, failed, dead) and records the
    /// attempts, in one short transaction for the whole batch.
    pub fn record(
        &self,
        results: &[(Job<Q::Message>, AttemptReport)],
    ) -> Result<Q::Recorded, StoreError> {
        let now = self.clock.now();
        let recorded = self.store.write_tx(|tx| {
            let attempts: Vec<Attempt<'_, Q::Message>> = results
                .iter()
                .map(|(job, report)| Attempt {
                    job,
                    report,
                    next: job.progress.after(
                        report,
                        &self.settings.retry,
                        self.random.symmetric_unit(),
                        now,
                    ),
                })
                .collect();
            self.queue.record(tx, &attempts, now)
        })?;
        for (job, report) in results {
            let _span = self.queue.span(job).entered();
            tracing::info!(
                channel = self.channel(),
                id = job.id,
                target = %job.target,
                status = report.status,
                outcome = report.outcome.name(),
                duration_ms = report.duration_ms,
                "attempt"
            );
        }
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use libris_domain::delivery::{DeliveryStatus, Outcome, Progress, RetryPolicy};

    use super::*;
    use crate::engine::channel::{MockRandomness, SendFuture};
    use crate::engine::queue::Candidate;
    use crate::ports::{MockTx, Tx};
    use crate::testing::{at, fixed_clock, MockStore};

    /// A queue of rows in memory, recording what the engine decided.
    #[derive(Default)]
    struct Rows {
        due: Vec<Candidate>,
        leased: Mutex<Vec<(Vec<i64>, DateTime<Utc>)>>,
        recorded: Mutex<Vec<(i64, Progress)>>,
    }

    impl Queue for Rows {
        type Message = String;
        type Recorded = usize;

        fn channel(&self) -> &'static str {
            "test"
        }

        fn due(
            &self,
            _tx: &mut dyn Tx,
            _now: DateTime<Utc>,
            limit: i64,
            exclude: &[String],
        ) -> Result<Vec<Candidate>, StoreError> {
            Ok(self
                .due
                .iter()
                .filter(|c| !exclude.contains(&c.target))
                .take(limit as usize)
                .cloned()
                .collect())
        }

        fn lease(
            &self,
            _tx: &mut dyn Tx,
            ids: &[i64],
            until: DateTime<Utc>,
        ) -> Result<Vec<Job<String>>, StoreError> {
            self.leased.lock().unwrap().push((ids.to_vec(), until));
            Ok(ids
                .iter()
                .map(|id| Job {
                    id: *id,
                    target: self
                        .due
                        .iter()
                        .find(|c| c.id == *id)
                        .unwrap()
                        .target
                        .clone(),
                    progress: Progress {
                        status: DeliveryStatus::Pending,
                        attempts: 0,
                        retry_base: 0,
                        next_attempt_at: at(0),
                        last_error: None,
                    },
                    message: format!("message {id}"),
                })
                .collect())
        }

        fn record(
            &self,
            _tx: &mut dyn Tx,
            attempts: &[Attempt<'_, String>],
            _now: DateTime<Utc>,
        ) -> Result<usize, StoreError> {
            let mut recorded = self.recorded.lock().unwrap();
            recorded.extend(attempts.iter().map(|a| (a.job.id, a.next.clone())));
            Ok(attempts.len())
        }
    }

    /// Delivers messages 1 and 3, asks to retry the rest.
    struct OddOnly;

    impl Channel<String> for OddOnly {
        fn send<'a>(&'a self, message: &'a String, _at: DateTime<Utc>) -> SendFuture<'a> {
            let delivered = message.ends_with('1') || message.ends_with('3');
            Box::pin(async move {
                AttemptReport {
                    status: Some(if delivered { 200 } else { 503 }),
                    response_body: String::new(),
                    error: (!delivered).then(|| "HTTP 503".into()),
                    duration_ms: 1,
                    outcome: if delivered {
                        Outcome::Delivered
                    } else {
                        Outcome::Retry { after: None }
                    },
                }
            })
        }
    }

    fn engine(rows: Rows) -> Engine<Rows> {
        let mut random = MockRandomness::new();
        random.expect_symmetric_unit().returning(|| 0.0);
        Engine::new(
            Arc::new(MockStore::new(MockTx::new())),
            Arc::new(fixed_clock()),
            Arc::new(random),
            rows,
            Arc::new(OddOnly),
            ChannelSettings {
                retry: RetryPolicy {
                    delays: vec![Duration::from_secs(5)],
                    ..RetryPolicy::default()
                },
                lease: Duration::from_secs(15),
                concurrency: 8,
                per_target: 1,
            },
        )
    }

    /// One pass, as the CLI makes it: claim, send everything, record.
    async fn send_due(
        engine: &Engine<Rows>,
        capacity: &Capacity,
    ) -> Vec<(Job<String>, AttemptReport)> {
        let jobs = engine.claim(|| capacity.clone()).unwrap();
        let mut results = Vec::new();
        for job in jobs {
            let report = engine.send(&job).await;
            results.push((job, report));
        }
        if !results.is_empty() {
            engine.record(&results).unwrap();
        }
        results
    }

    fn candidate(id: i64, target: &str) -> Candidate {
        Candidate {
            id,
            target: target.into(),
        }
    }

    #[tokio::test]
    async fn one_pass_claims_what_fits_sends_it_and_records_each_next_state() {
        let engine = engine(Rows {
            due: vec![candidate(1, "a"), candidate(2, "a"), candidate(3, "b")],
            ..Rows::default()
        });
        let results = send_due(&engine, &Capacity::idle(8, 1)).await;
        assert_eq!(
            results.iter().map(|(job, _)| job.id).collect::<Vec<_>>(),
            [1, 3],
            "one per target at a time"
        );
        assert_eq!(
            *engine.queue.leased.lock().unwrap(),
            [(vec![1, 3], at(15))],
            "leased for the channel's lease"
        );
        let recorded = engine.queue.recorded.lock().unwrap().clone();
        assert_eq!(recorded.len(), 2);
        assert!(recorded
            .iter()
            .all(|(_, next)| next.status == DeliveryStatus::Delivered && next.attempts == 1));
    }

    #[test]
    fn rows_claimed_ahead_of_a_free_slot_are_leased_for_twice_as_long() {
        let engine = engine(Rows {
            due: vec![candidate(1, "a"), candidate(2, "a"), candidate(3, "b")],
            ..Rows::default()
        });
        let capacity = Capacity {
            ahead: 1,
            ..Capacity::idle(8, 1)
        };
        let jobs = engine.claim(|| capacity).unwrap();
        assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [1, 3, 2]);
        assert_eq!(
            *engine.queue.leased.lock().unwrap(),
            [(vec![1, 3], at(15)), (vec![2], at(30))],
            "a's second row waits for a's slot first"
        );
    }

    #[tokio::test]
    async fn a_failed_attempt_is_due_again_on_the_channels_schedule() {
        let engine = engine(Rows {
            due: vec![candidate(2, "a")],
            ..Rows::default()
        });
        send_due(&engine, &Capacity::idle(8, 1)).await;
        let recorded = engine.queue.recorded.lock().unwrap().clone();
        assert_eq!(recorded[0].1.status, DeliveryStatus::Pending);
        assert_eq!(recorded[0].1.next_attempt_at, at(5));
        assert_eq!(recorded[0].1.last_error.as_deref(), Some("HTTP 503"));
    }

    #[tokio::test]
    async fn nothing_is_leased_when_nothing_fits() {
        let engine = engine(Rows {
            due: vec![candidate(1, "a")],
            ..Rows::default()
        });
        let busy = Capacity {
            free: 4,
            per_target: 1,
            ahead: 0,
            in_flight: [("a".to_owned(), 1)].into(),
        };
        assert!(send_due(&engine, &busy).await.is_empty());
        assert!(send_due(&engine, &Capacity::idle(0, 1)).await.is_empty());
        assert!(engine.queue.leased.lock().unwrap().is_empty());
    }
}
