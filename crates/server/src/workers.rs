//! The workers: the loops around the engine's units of work. They run on a
//! runtime of their own, so sending never competes with the API's threads,
//! and stop when their [`WorkerHandle`] is dropped.
//!
//! - one loop per consumer of the event log: claims the events marked for
//!   it and queues their messages, woken by every commit that appended an
//!   event and polling as a fallback (other instances' events);
//! - one send loop per channel: claims what its free slots allow and as
//!   many rows again per target ahead of their slot, skipping targets at
//!   their bound, and sends each attempt on its own task; a row claimed
//!   ahead starts the moment an attempt to its target ends;
//! - one record loop per channel: writes finished attempts in batches, one
//!   short transaction each;
//! - the campaigns' scheduler: starts and finishes campaigns by the clock and
//!   queues the daily statistics email, one round per poll interval.
//!
//! The loops know channels only as [`Engine`]s: a new channel is one more
//! [`Workers::channel`] call.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use libris_application::campaigns::scheduler;
use libris_application::campaigns::settings::SettingDefaults;
use libris_application::engine::{dispatch, Capacity, Consumer, Dispatched, Engine, Job, Queue};
use libris_application::{Clock, Store, StoreError};
use libris_domain::delivery::AttemptReport;
use libris_http::metrics::Metrics;
use libris_store::QueuedWork;
use tokio::sync::{mpsc, watch, Notify};

/// Events claimed per dispatch transaction.
const DISPATCH_BATCH: i64 = 500;
/// Messages claimed per claim transaction, at most.
const CLAIM_BATCH: usize = 256;
/// Attempts recorded per transaction, at most.
const RECORD_BATCH: usize = 512;

/// Nudges from committed transactions to the loops, by name: each consumer
/// is woken by new events, each channel by messages due now.
#[derive(Debug, Default)]
pub struct Wake {
    consumers: Mutex<HashMap<&'static str, Arc<Notify>>>,
    channels: Mutex<HashMap<&'static str, Arc<Notify>>>,
}

fn notify_of(map: &Mutex<HashMap<&'static str, Arc<Notify>>>, name: &'static str) -> Arc<Notify> {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(map.entry(name).or_default())
}

impl Wake {
    /// Called after a commit that queued work; cheap, never blocks on I/O.
    /// Each loop is woken only for its own work: a consumer for events marked
    /// for it, a channel for messages due now.
    pub fn work_queued(&self, queued: QueuedWork) {
        let consumers = self
            .consumers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for consumer in &queued.marked {
            if let Some(notify) = consumers.get(consumer.as_str()) {
                notify.notify_one();
            }
        }
        drop(consumers);
        let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        for channel in queued.due {
            if let Some(notify) = channels.get(channel) {
                notify.notify_one();
            }
        }
    }

    fn consumer(&self, name: &'static str) -> Arc<Notify> {
        notify_of(&self.consumers, name)
    }

    fn channel(&self, name: &'static str) -> Arc<Notify> {
        notify_of(&self.channels, name)
    }
}

type Loop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The consumers and channels of one process, ready to start.
pub struct Workers {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    wake: Arc<Wake>,
    /// How often each loop looks for work nobody woke it for.
    poll: Duration,
    metrics: Arc<Metrics>,
    loops: Vec<Loop>,
}

/// Stops the workers when dropped, and waits for their thread: store work
/// already running finishes first, so no thread is inside the database driver
/// when the process exits (libpq's TLS library tears itself down at exit).
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the workers' thread panicked");
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(StoreError::Unexpected(format!("worker task failed: {e}"))))
}

impl Workers {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        wake: Arc<Wake>,
        poll: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            clock,
            wake,
            poll,
            metrics,
            loops: Vec::new(),
        }
    }

    /// Runs this consumer of the event log.
    pub fn consumer(mut self, consumer: Arc<dyn Consumer>) -> Self {
        let dispatcher = Dispatcher {
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
            notify: self.wake.consumer(consumer.name()),
            consumer,
            poll: self.poll,
        };
        self.loops.push(Box::pin(dispatcher.run()));
        self
    }

    /// Sends this channel's queue.
    pub fn channel<Q: Queue>(mut self, engine: Arc<Engine<Q>>) -> Self {
        let engine_bounds = Bounds {
            limit: engine.settings().concurrency.max(1),
            per_target: engine.settings().per_target.max(1),
        };
        let sender = Sender {
            notify: self.wake.channel(engine.channel()),
            engine,
            poll: self.poll,
            metrics: Arc::clone(&self.metrics),
            slots: Mutex::new(Slots::new(engine_bounds)),
            finished: Arc::new(Notify::new()),
        };
        self.loops.push(Box::pin(Arc::new(sender).run()));
        self
    }

    /// Runs the campaigns' scheduler: a round every poll interval, so a
    /// campaign starts within one of its `start_at` (on whichever instance
    /// gets there first: the store decides who starts it).
    pub fn campaigns(mut self, defaults: SettingDefaults) -> Self {
        let (store, clock, poll) = (Arc::clone(&self.store), Arc::clone(&self.clock), self.poll);
        let defaults = Arc::new(defaults);
        self.loops.push(Box::pin(async move {
            loop {
                let (store, clock, defaults) =
                    (Arc::clone(&store), Arc::clone(&clock), Arc::clone(&defaults));
                match blocking(move || scheduler::tick(&*store, &*clock, &defaults)).await {
                    Ok(done) if done.any() => tracing::debug!(
                        started = done.started.len(),
                        finished = done.finished.len(),
                        statistics_emails = done.statistics_emails,
                        "campaign scheduler round"
                    ),
                    Ok(_) => {}
                    Err(error) => {
                        tracing::error!(%error, "campaign scheduler round failed; retrying after the poll interval");
                    }
                }
                tokio::time::sleep(poll).await;
            }
        }));
        self
    }

    /// Starts the loops on a dedicated two-thread runtime.
    pub fn start(self) -> std::io::Result<WorkerHandle> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            // Store work needs a pooled connection anyway; more threads
            // would only wait, and each costs memory.
            .max_blocking_threads(4)
            .thread_name("libris-delivery")
            .enable_all()
            .build()?;
        let (stop, mut stopped) = watch::channel(false);
        let loops = self.loops;
        let thread = std::thread::Builder::new()
            .name("libris-delivery".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let running =
                        futures_util::future::join_all(loops.into_iter().map(tokio::spawn));
                    tokio::select! {
                        _ = running => {}
                        _ = stopped.wait_for(|stop| *stop) => {}
                    }
                });
                // Dropping the runtime here cancels in-flight sends: their
                // leases expire and they are sent again (at-least-once).
            })?;
        Ok(WorkerHandle {
            stop,
            thread: Some(thread),
        })
    }
}

/// One consumer's loop.
struct Dispatcher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    consumer: Arc<dyn Consumer>,
    notify: Arc<Notify>,
    poll: Duration,
}

impl Dispatcher {
    async fn run(self) {
        loop {
            let (store, clock, consumer) = (
                Arc::clone(&self.store),
                Arc::clone(&self.clock),
                Arc::clone(&self.consumer),
            );
            let step =
                blocking(move || dispatch(&*store, &*clock, &*consumer, DISPATCH_BATCH)).await;
            match step {
                // The commit that queued messages already woke their channel.
                Ok(Dispatched::Handled { events, queued }) => {
                    tracing::debug!(
                        consumer = self.consumer.name(),
                        events,
                        queued,
                        "dispatched"
                    );
                }
                Ok(Dispatched::EmptyQueue) => {
                    let _ = tokio::time::timeout(self.poll, self.notify.notified()).await;
                }
                Err(error) => {
                    tracing::error!(consumer = self.consumer.name(), %error, "dispatch failed; retrying after the poll interval");
                    tokio::time::sleep(self.poll).await;
                }
            }
        }
    }
}

/// A channel's bounds in this process.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    /// Rows held at most (in flight or claimed ahead).
    limit: usize,
    /// Attempts in flight to one target at most; as many more may be
    /// claimed ahead.
    per_target: usize,
}

/// The rows this process holds, by target: attempts in flight, and rows
/// claimed ahead that wait for a slot of their target.
struct Slots<M> {
    bounds: Bounds,
    sending: HashMap<String, usize>,
    waiting: VecDeque<Job<M>>,
    /// Attempts ended since the last claim read the capacity.
    ended_since_claim: usize,
}

impl<M> Slots<M> {
    fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            sending: HashMap::new(),
            waiting: VecDeque::new(),
            ended_since_claim: 0,
        }
    }

    fn held(&self) -> usize {
        self.sending.values().sum::<usize>() + self.waiting.len()
    }

    /// Rows a claim may take now, over all targets.
    fn free(&self) -> usize {
        self.bounds
            .limit
            .saturating_sub(self.held())
            .min(CLAIM_BATCH)
    }

    /// What a claim may take now, within the bounds.
    fn capacity(&mut self) -> Capacity {
        self.ended_since_claim = 0;
        let mut held = self.sending.clone();
        for job in &self.waiting {
            *held.entry(job.target.clone()).or_insert(0) += 1;
        }
        Capacity {
            free: self.free(),
            per_target: self.bounds.per_target,
            ahead: self.bounds.per_target,
            in_flight: held,
        }
    }

    /// Queues claimed rows and answers, oldest first, those whose target has
    /// a free slot: they are in flight from now on.
    fn admit(&mut self, jobs: Vec<Job<M>>) -> Vec<Job<M>> {
        self.waiting.extend(jobs);
        let mut startable = Vec::new();
        let mut still_waiting = VecDeque::with_capacity(self.waiting.len());
        for job in self.waiting.drain(..) {
            let sending = self.sending.entry(job.target.clone()).or_insert(0);
            if *sending < self.bounds.per_target {
                *sending += 1;
                startable.push(job);
            } else {
                still_waiting.push_back(job);
            }
        }
        self.waiting = still_waiting;
        startable
    }

    /// An attempt to `target` ended; answers the rows that can start in its
    /// place.
    fn ended(&mut self, target: &str) -> Vec<Job<M>> {
        self.ended_since_claim += 1;
        if let Some(n) = self.sending.get_mut(target) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.sending.remove(target);
            }
        }
        self.admit(Vec::new())
    }
}

/// One channel's send and record loops.
struct Sender<Q: Queue> {
    engine: Arc<Engine<Q>>,
    notify: Arc<Notify>,
    poll: Duration,
    metrics: Arc<Metrics>,
    slots: Mutex<Slots<Q::Message>>,
    /// Signalled each time an attempt ends and frees a slot.
    finished: Arc<Notify>,
}

type Finished<M> = (Job<M>, AttemptReport);
type Results<M> = mpsc::UnboundedSender<Finished<M>>;

impl<Q: Queue> Sender<Q> {
    /// The slots; they stay usable if a sending task panicked.
    fn slots(&self) -> MutexGuard<'_, Slots<Q::Message>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn run(self: Arc<Self>) {
        let (results, pending) = mpsc::unbounded_channel();
        tokio::spawn(Arc::clone(&self).record_loop(pending));
        let Bounds { limit, per_target } = self.slots().bounds;
        // Ended attempts are worth a claim transaction once there are a few
        // (half a target's bound, or an eighth of all slots when many
        // targets share them): the rows claimed ahead keep a busy target
        // going meanwhile, and fewer claims leave SQLite's writer to the API.
        let worth_claiming = (per_target / 2).max(limit / 8).max(1);
        loop {
            let free = self.slots().free();
            if free == 0 {
                self.finished.notified().await;
                continue;
            }
            let (engine, sender) = (Arc::clone(&self.engine), Arc::clone(&self));
            let capacity = move || sender.slots().capacity();
            let jobs = match blocking(move || engine.claim(capacity)).await {
                Ok(jobs) => jobs,
                Err(error) => {
                    tracing::error!(channel = self.engine.channel(), %error, "claiming failed; retrying after the poll interval");
                    tokio::time::sleep(self.poll).await;
                    continue;
                }
            };
            let drained = jobs.len() < free;
            let startable = self.slots().admit(jobs);
            self.start(startable, &results);
            if drained {
                // Nothing more fits now: wait for new work, for enough ended
                // attempts, or for the poll (retries coming due, other
                // instances).
                loop {
                    tokio::select! {
                        () = self.notify.notified() => break,
                        () = tokio::time::sleep(self.poll) => break,
                        () = self.finished.notified() => {
                            let slots = self.slots();
                            if slots.ended_since_claim >= worth_claiming || slots.held() == 0 {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }

    fn start(self: &Arc<Self>, jobs: Vec<Job<Q::Message>>, results: &Results<Q::Message>) {
        for job in jobs {
            self.spawn_send(job, results.clone());
        }
    }

    /// Sends one attempt on its own task, hands the result to the recorder
    /// and starts whatever waited for the slot it frees.
    fn spawn_send(self: &Arc<Self>, job: Job<Q::Message>, results: Results<Q::Message>) {
        let sender = Arc::clone(self);
        tokio::spawn(async move {
            let report = sender.engine.send(&job).await;
            sender.metrics.observe_attempt(
                sender.engine.channel(),
                report.outcome.name(),
                Duration::from_millis(report.duration_ms),
            );
            let target = job.target.clone();
            let _ = results.send((job, report));
            let next = sender.slots().ended(&target);
            sender.start(next, &results);
            sender.finished.notify_one();
        });
    }

    async fn record_loop(
        self: Arc<Self>,
        mut pending: mpsc::UnboundedReceiver<Finished<Q::Message>>,
    ) {
        while let Some(first) = pending.recv().await {
            let mut batch = vec![first];
            while batch.len() < RECORD_BATCH {
                match pending.try_recv() {
                    Ok(result) => batch.push(result),
                    Err(_) => break,
                }
            }
            let count = batch.len();
            let engine = Arc::clone(&self.engine);
            if let Err(error) = blocking(move || engine.record(&batch).map(drop)).await {
                tracing::error!(channel = self.engine.channel(), %error, count, "cannot record attempts; they are sent again when their lease expires");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use libris_domain::delivery::{DeliveryStatus, Progress};

    use super::*;

    fn job(id: i64, target: &str) -> Job<()> {
        Job {
            id,
            target: target.into(),
            progress: Progress {
                status: DeliveryStatus::Pending,
                attempts: 0,
                retry_base: 0,
                next_attempt_at: Utc.timestamp_opt(0, 0).unwrap(),
                last_error: None,
            },
            message: (),
        }
    }

    fn ids(jobs: &[Job<()>]) -> Vec<i64> {
        jobs.iter().map(|j| j.id).collect()
    }

    #[test]
    fn claimed_rows_start_up_to_their_targets_bound_and_the_rest_wait_in_order() {
        let mut slots = Slots::new(Bounds {
            limit: 10,
            per_target: 2,
        });
        let started = slots.admit(vec![job(1, "a"), job(2, "a"), job(3, "b"), job(4, "a")]);
        assert_eq!(ids(&started), [1, 2, 3]);
        assert_eq!(ids(&Vec::from(slots.waiting.clone())), [4]);
        let capacity = slots.capacity();
        assert_eq!(capacity.free, 6, "waiting rows are held too");
        assert_eq!(
            capacity.in_flight,
            HashMap::from([("a".into(), 3), ("b".into(), 1)])
        );
        assert_eq!(capacity.ahead, 2);
    }

    #[test]
    fn an_ended_attempt_starts_the_oldest_row_waiting_for_its_target() {
        let mut slots = Slots::new(Bounds {
            limit: 10,
            per_target: 1,
        });
        slots.admit(vec![job(1, "a"), job(2, "b"), job(3, "a"), job(4, "a")]);
        assert!(slots.ended("b").is_empty(), "nothing waits for b");
        assert_eq!(ids(&slots.ended("a")), [3]);
        assert_eq!(slots.ended_since_claim, 2);
        slots.capacity();
        assert_eq!(slots.ended_since_claim, 0, "a claim starts the count again");
        assert_eq!(ids(&slots.ended("a")), [4]);
        assert!(slots.ended("a").is_empty());
        assert_eq!(slots.held(), 0);
    }
}
