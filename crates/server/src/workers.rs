//! The delivery workers: the loops around the pipeline's units of work. They
//! run on a runtime of their own, so sending never competes with the API's
//! threads, and stop when their [`WorkerHandle`] is dropped.
//!
//! - fan-out: outbox events → deliveries, woken by every commit that queued
//!   work and polling as a fallback (other instances' events);
//! - send: claims what free slots allow, skipping endpoints at their bound,
//!   and sends each attempt on its own task;
//! - record: writes finished attempts in batches, one short transaction each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use libris_application::webhooks::pipeline::{
    claim_deliveries, fan_out, record_attempts, Capacity, DeliveryJob, FanOut,
};
use libris_application::webhooks::{AttemptReport, DeliverySettings, Randomness, WebhookTransport};
use libris_application::{Clock, Store, StoreError};
use libris_domain::webhooks::WebhookId;
use libris_http::metrics::Metrics;
use libris_store::QueuedWork;
use tokio::sync::{mpsc, watch, Notify};

/// Events claimed per fan-out transaction.
const FAN_OUT_BATCH: i64 = 500;
/// Deliveries claimed per claim transaction, at most.
const CLAIM_BATCH: usize = 256;
/// Attempts recorded per transaction, at most.
const RECORD_BATCH: usize = 512;

/// Nudges from committed transactions to the loops.
#[derive(Debug, Default)]
pub struct Wake {
    events: Notify,
    deliveries: Notify,
}

impl Wake {
    /// Called after a commit that queued work; cheap, never blocks. Each loop
    /// is woken only for its own kind of work: a new event needs fan-out
    /// before there is anything to claim.
    pub fn work_queued(&self, queued: QueuedWork) {
        if queued.events {
            self.events.notify_one();
        }
        if queued.deliveries {
            self.deliveries.notify_one();
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub in_flight: usize,
    pub per_endpoint: usize,
    pub poll: Duration,
}

pub struct DeliveryWorkers {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub transport: Arc<dyn WebhookTransport>,
    pub random: Arc<dyn Randomness>,
    pub settings: DeliverySettings,
    pub limits: Limits,
    pub wake: Arc<Wake>,
    /// `false`: fan out (record deliveries) but send nothing.
    pub send: bool,
    /// Where each attempt's outcome and time are counted.
    pub metrics: Arc<Metrics>,
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
                tracing::error!("the delivery workers' thread panicked");
            }
        }
    }
}

/// Attempts in flight in this process, by endpoint. The free slots and each
/// endpoint's room are derived from it.
#[derive(Debug, Default)]
struct InFlight(Mutex<HashMap<WebhookId, usize>>);

impl InFlight {
    /// The counts; they stay usable if a sending task panicked.
    fn counts(&self) -> MutexGuard<'_, HashMap<WebhookId, usize>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn free(&self, limit: usize) -> usize {
        limit.saturating_sub(self.counts().values().sum())
    }

    fn started(&self, webhook: WebhookId) {
        *self.counts().entry(webhook).or_insert(0) += 1;
    }

    fn finished(&self, webhook: WebhookId) {
        let mut counts = self.counts();
        if let Some(n) = counts.get_mut(&webhook) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&webhook);
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

impl DeliveryWorkers {
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
        let thread = std::thread::Builder::new()
            .name("libris-delivery".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        () = self.run() => {}
                        _ = stopped.wait_for(|stop| *stop) => {}
                    }
                });
                // Dropping the runtime here cancels in-flight sends: their leases
                // expire and they are sent again (at-least-once).
            })?;
        Ok(WorkerHandle {
            stop,
            thread: Some(thread),
        })
    }

    async fn run(self) {
        let this = Arc::new(self);
        let fan_out = tokio::spawn(Arc::clone(&this).fan_out_loop());
        if this.send {
            this.send_loop().await;
        }
        let _ = fan_out.await;
    }

    async fn fan_out_loop(self: Arc<Self>) {
        loop {
            let (store, clock) = (Arc::clone(&self.store), Arc::clone(&self.clock));
            match blocking(move || fan_out(&*store, &*clock, FAN_OUT_BATCH)).await {
                // The commit that created deliveries already woke the sender.
                Ok(FanOut::Dispatched { events, deliveries }) => {
                    tracing::debug!(events, deliveries, "fanned out");
                }
                Ok(FanOut::EmptyQueue) => {
                    let _ =
                        tokio::time::timeout(self.limits.poll, self.wake.events.notified()).await;
                }
                Err(error) => {
                    tracing::error!(%error, "fan-out failed; retrying after the poll interval");
                    tokio::time::sleep(self.limits.poll).await;
                }
            }
        }
    }

    async fn send_loop(self: &Arc<Self>) {
        let in_flight = Arc::new(InFlight::default());
        let finished = Arc::new(Notify::new());
        let (results, pending) = mpsc::unbounded_channel();
        tokio::spawn(Arc::clone(self).record_loop(pending));
        // Freed slots are worth a claim transaction once there are a few.
        let worth_claiming = (self.limits.in_flight / 8).max(1);
        loop {
            let free = in_flight.free(self.limits.in_flight).min(CLAIM_BATCH);
            if free == 0 {
                finished.notified().await;
                continue;
            }
            let capacity = Capacity {
                free,
                per_endpoint: self.limits.per_endpoint,
                in_flight: in_flight.counts().clone(),
            };
            let (store, clock, settings) = (
                Arc::clone(&self.store),
                Arc::clone(&self.clock),
                self.settings.clone(),
            );
            let claimed =
                blocking(move || claim_deliveries(&*store, &*clock, &settings, &capacity)).await;
            let jobs = match claimed {
                Ok(jobs) => jobs,
                Err(error) => {
                    tracing::error!(%error, "claiming deliveries failed; retrying after the poll interval");
                    tokio::time::sleep(self.limits.poll).await;
                    continue;
                }
            };
            let drained = jobs.len() < free;
            for job in jobs {
                in_flight.started(job.webhook_id());
                self.spawn_send(
                    job,
                    results.clone(),
                    Arc::clone(&in_flight),
                    Arc::clone(&finished),
                );
            }
            if drained {
                // Nothing more fits now: wait for new work, for enough freed
                // slots, or for the poll (retries coming due, other instances).
                loop {
                    tokio::select! {
                        () = self.wake.deliveries.notified() => break,
                        () = tokio::time::sleep(self.limits.poll) => break,
                        () = finished.notified() => {
                            if in_flight.free(self.limits.in_flight) >= worth_claiming {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Sends one attempt on its own task and hands the result to the recorder.
    fn spawn_send(
        self: &Arc<Self>,
        job: DeliveryJob,
        results: mpsc::UnboundedSender<(DeliveryJob, AttemptReport)>,
        in_flight: Arc<InFlight>,
        finished: Arc<Notify>,
    ) {
        let sender = Arc::clone(self);
        tokio::spawn(async move {
            let webhook = job.webhook_id();
            let report = sender
                .transport
                .send(&job.request, sender.clock.now().timestamp())
                .await;
            sender.metrics.observe_attempt(
                "webhook",
                report.outcome.name(),
                Duration::from_millis(report.duration_ms),
            );
            let _ = results.send((job, report));
            in_flight.finished(webhook);
            finished.notify_one();
        });
    }

    async fn record_loop(
        self: Arc<Self>,
        mut pending: mpsc::UnboundedReceiver<(DeliveryJob, AttemptReport)>,
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
            let (store, clock, random, settings) = (
                Arc::clone(&self.store),
                Arc::clone(&self.clock),
                Arc::clone(&self.random),
                self.settings.clone(),
            );
            let recorded =
                blocking(move || record_attempts(&*store, &*clock, &*random, &settings, &batch))
                    .await;
            if let Err(error) = recorded {
                tracing::error!(%error, count, "cannot record attempts; their deliveries are sent again when their lease expires");
            }
        }
    }
}
