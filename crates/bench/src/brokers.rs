//! Broker delivery figures of the real pipeline (`libris serve`: outbox →
//! fan-out → claim → publish with confirm → record) against the RabbitMQ and
//! the NATS JetStream on this machine (127.0.0.1:5672 as guest/guest,
//! 127.0.0.1:4222 with JetStream).
//!
//! Each measurement starts its own server on a fresh SQLite file with one
//! `book.created` subscription whose URL names one broker, and its own
//! topology named `bench{id}` (12 hex digits of a UUID): on RabbitMQ a topic
//! exchange and a queue bound to it with `#`, consumed with `basic.consume`
//! (no acks); on NATS a stream over `bench{id}.>`, read by an ephemeral pull
//! consumer (no acks). Both are deleted when the measurement ends, failed or
//! not. The consumer runs on a two-thread runtime of its own, so its arrival
//! stamps do not wait behind the bench's client tasks.
//!
//! Books are created over HTTP as in the webhook scenarios (closed-loop
//! clients; an open-loop pacer), and figures are printed in their style.
//! The latency of a message is the consumer's wall clock when the client
//! handed it over minus the body's `timestamp` (RFC 3339, microseconds), set
//! by the server when it records the event in the creating transaction; both
//! clocks are this host's.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream::consumer::{pull, AckPolicy};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use libris_brokers::testing;
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::server::Server;
use crate::stats::{ms, spread};
use crate::webhooks::harness::Harness;
use crate::webhooks::load::{closed_loop, paced, Run};

/// Scenario 1: closed-loop clients and how long they run.
const CLIENTS: usize = 16;
const SUSTAINED: Duration = Duration::from_secs(10);
/// Scenario 2: the paced rate and how long it is offered.
const RATE: u32 = 200;
const PACED: Duration = Duration::from_secs(10);
/// How long to wait after the last creation for the last message.
const DRAIN: Duration = Duration::from_secs(60);
/// How long a broker has to answer the reachability probe.
const PROBE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
enum Broker {
    RabbitMq,
    Nats,
}

impl Broker {
    const ALL: [Self; 2] = [Self::RabbitMq, Self::Nats];

    fn label(self) -> &'static str {
        match self {
            Self::RabbitMq => "RabbitMQ",
            Self::Nats => "NATS JetStream",
        }
    }

    fn address(self) -> &'static str {
        match self {
            Self::RabbitMq => testing::RABBITMQ,
            Self::Nats => testing::NATS,
        }
    }

    /// How the broker confirms, and what the bench consumes from.
    fn describe(self, name: &str) -> String {
        match self {
            Self::RabbitMq => format!(
                "publisher confirms + mandatory; exchange {name} (topic) → queue {name} bound with `#`, basic.consume"
            ),
            Self::Nats => format!("PubAck; stream {name} over {name}.>, pull consumer"),
        }
    }

    /// The subscription's URL for the run's topology `name`.
    fn url(self, name: &str) -> String {
        match self {
            Self::RabbitMq => format!(
                "amqp://guest:guest@{}/%2f?exchange={name}&routing_key={{event}}",
                testing::RABBITMQ
            ),
            Self::Nats => format!("nats://{}?subject={name}.{{event}}", testing::NATS),
        }
    }

    async fn reachable(self) -> bool {
        let connect = tokio::net::TcpStream::connect(self.address());
        matches!(tokio::time::timeout(PROBE, connect).await, Ok(Ok(_)))
    }

    async fn create_topology(self, name: &str) {
        match self {
            Self::RabbitMq => testing::amqp::topology(name, name, "#").await,
            Self::Nats => testing::nats::create_stream(name, &format!("{name}.>")).await,
        }
    }

    async fn delete_topology(self, name: &str) {
        match self {
            Self::RabbitMq => testing::amqp::delete(name, name).await,
            Self::Nats => testing::nats::delete_stream(name).await,
        }
    }
}

pub async fn run() {
    println!(
        "\n# Broker delivery (`make bench`; RabbitMQ at {} as guest/guest, NATS JetStream at {}; server with RUST_LOG=warn and default webhook settings: LIBRIS_WEBHOOK_ENDPOINT_CONCURRENCY 8)",
        testing::RABBITMQ,
        testing::NATS
    );
    let mut brokers = Vec::new();
    for broker in Broker::ALL {
        if broker.reachable().await {
            brokers.push(broker);
        } else {
            println!(
                "  SKIPPED {}: nothing answers at {}",
                broker.label(),
                broker.address()
            );
        }
    }
    if brokers.is_empty() {
        return;
    }

    section("1. Messages per second to each broker, with confirms");
    println!(
        "  {CLIENTS} closed-loop clients creating books for {} s; one subscription to book.created naming the broker; a fresh server and topology per broker",
        SUSTAINED.as_secs()
    );
    for &broker in &brokers {
        let name = topology_name();
        println!("  {} ({}):", broker.label(), broker.describe(&name));
        measure(broker, &name, sustained).await;
    }

    section("2. Event → consumed latency at a paced 200 events/s");
    println!(
        "  one loop issuing {RATE} creations/s for {} s (open loop); one subscription to book.created naming the broker; a fresh server and topology per broker",
        PACED.as_secs()
    );
    for &broker in &brokers {
        let name = topology_name();
        println!("  {} ({}):", broker.label(), broker.describe(&name));
        measure(broker, &name, latency).await;
    }
}

fn section(title: &str) {
    println!("\n## {title}   (command: make bench)");
}

fn topology_name() -> String {
    format!("bench{}", testing::unique())
}

/// Creates the topology `name` on `broker`, runs `scenario` against it and
/// deletes it again, whether the scenario finished or panicked.
async fn measure<F, Fut>(broker: Broker, name: &str, scenario: F)
where
    F: FnOnce(Broker, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    broker.create_topology(name).await;
    testing::with_cleanup(
        scenario(broker, name.to_owned()),
        broker.delete_topology(name),
    )
    .await;
}

/// A fresh server with one subscription to `broker`, and a consumer of what
/// it publishes, both ready.
async fn start(broker: Broker, name: &str) -> (Harness, Consumer) {
    let consumer = Consumer::start(broker, name.to_owned()).await;
    let harness = Harness::start().await;
    harness.subscribe(&broker.url(name)).await;
    (harness, consumer)
}

/// Scenario 1 for one broker.
async fn sustained(broker: Broker, name: String) {
    let (harness, consumer) = start(broker, &name).await;
    let run = closed_loop(&harness.books, CLIENTS, SUSTAINED, usize::MAX).await;
    let drain = Instant::now();
    consumer.wait_for(run.created.len(), DRAIN).await;
    let drained_in = drain.elapsed();
    let consumed = Consumed::of(&run, consumer.take());
    println!(
        "    creations: {} in {:.1} s = {:.0} /s; request latency (POST /api/books/): {}",
        run.created.len(),
        run.elapsed.as_secs_f64(),
        run.per_second(),
        spread(&run.latencies())
    );
    println!(
        "    consumed: {} messages, first → last arrival {:.2} s = {:.0} messages/s   (no budget)",
        consumed.messages.len(),
        consumed.span().as_secs_f64(),
        consumed.per_second()
    );
    consumed.print_coverage();
    println!(
        "    last arrival {:.0} ms after the last creation was answered",
        ms(drained_in)
    );
    println!(
        "    event → consumed under this load (consume wall clock − body timestamp): {}",
        spread(&consumed.from_event)
    );
    print_peak(&harness.server);
}

/// Scenario 2 for one broker.
async fn latency(broker: Broker, name: String) {
    let (harness, consumer) = start(broker, &name).await;
    let run = paced(&harness.books, RATE, PACED).await;
    consumer.wait_for(run.created.len(), DRAIN).await;
    let consumed = Consumed::of(&run, consumer.take());
    println!(
        "    offered: {} creations at {:.1} /s; request latency {}",
        run.created.len(),
        run.per_second(),
        spread(&run.latencies())
    );
    println!(
        "    event → consumed (consume wall clock − body timestamp): {}   (no budget)",
        spread(&consumed.from_event)
    );
    println!(
        "    request sent → consumed (monotonic; adds the API's handling): {}",
        spread(&consumed.from_request)
    );
    consumed.print_coverage();
    print_peak(&harness.server);
}

fn print_peak(server: &Server) {
    println!(
        "    server peak RSS (VmHWM): {:.1} MiB",
        server.peak_rss_mib()
    );
}

/// The message body's fields the figures need: `{id, timestamp, data}` of
/// the event, as a webhook's body.
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

/// One consumed `book.created` message.
struct Message {
    event: String,
    book: i64,
    at: Instant,
    /// The consume wall clock minus the body's `timestamp`.
    from_event: Duration,
}

/// What the consumer got from a run, against what the run created.
struct Consumed {
    messages: Vec<Message>,
    created: usize,
    /// Created books whose event never arrived.
    missing: usize,
    /// Messages beyond the first of the same event.
    duplicates: usize,
    /// Of each book's first message, sorted.
    from_event: Vec<Duration>,
    /// Arrival − when the creating request was sent (monotonic), sorted.
    from_request: Vec<Duration>,
}

impl Consumed {
    fn of(run: &Run, arrivals: Vec<Arrival>) -> Self {
        let messages: Vec<Message> = arrivals
            .into_iter()
            .map(|a| {
                let body: Body = serde_json::from_slice(&a.body).unwrap_or_else(|e| {
                    panic!(
                        "a book.created body ({e}): {}",
                        String::from_utf8_lossy(&a.body)
                    )
                });
                let consumed = DateTime::<Utc>::from(a.wall);
                Message {
                    event: body.id,
                    book: body.data.id,
                    at: a.at,
                    // A clock step could make it negative; count that as zero.
                    from_event: (consumed - body.timestamp).to_std().unwrap_or_default(),
                }
            })
            .collect();
        let mut first: HashMap<i64, &Message> = HashMap::new();
        for m in &messages {
            first
                .entry(m.book)
                .and_modify(|f| {
                    if m.at < f.at {
                        *f = m;
                    }
                })
                .or_insert(m);
        }
        let sent: HashMap<i64, Instant> = run.created.iter().map(|c| (c.book, c.sent)).collect();
        let mut from_event: Vec<Duration> = first.values().map(|m| m.from_event).collect();
        let mut from_request: Vec<Duration> = first
            .iter()
            .filter_map(|(book, m)| Some(m.at.saturating_duration_since(*sent.get(book)?)))
            .collect();
        from_event.sort();
        from_request.sort();
        let events: HashSet<&str> = messages.iter().map(|m| m.event.as_str()).collect();
        let duplicates = messages.len() - events.len();
        let missing = run
            .created
            .iter()
            .filter(|c| !first.contains_key(&c.book))
            .count();
        Self {
            created: run.created.len(),
            missing,
            duplicates,
            from_event,
            from_request,
            messages,
        }
    }

    /// From the first arrival to the last.
    fn span(&self) -> Duration {
        let first = self.messages.iter().map(|m| m.at).min();
        let last = self.messages.iter().map(|m| m.at).max();
        match (first, last) {
            (Some(first), Some(last)) => last.saturating_duration_since(first),
            _ => Duration::ZERO,
        }
    }

    /// Messages a second between the first and the last arrival: the gaps
    /// between the arrivals over the time they span.
    fn per_second(&self) -> f64 {
        let span = self.span();
        if self.messages.len() < 2 || span.is_zero() {
            return 0.0;
        }
        (self.messages.len() - 1) as f64 / span.as_secs_f64()
    }

    fn print_coverage(&self) {
        println!(
            "    delivered: {} consumed for {} created books; missing {}, duplicates {}   (every event arrived: {})",
            self.messages.len(),
            self.created,
            self.missing,
            self.duplicates,
            if self.missing == 0 { "met" } else { "MISSED" }
        );
    }
}

/// One message as the consumer's client handed it over.
struct Arrival {
    at: Instant,
    wall: SystemTime,
    body: Vec<u8>,
}

type Arrivals = Arc<Mutex<Vec<Arrival>>>;

/// Consumes the run's queue or stream on a thread and runtime of its own
/// until dropped, stamping each message as it comes off the client.
struct Consumer {
    arrivals: Arrivals,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Consumer {
    /// Returns once the consumer is subscribed, so nothing published after
    /// is missed.
    async fn start(broker: Broker, name: String) -> Self {
        let arrivals = Arrivals::default();
        let (stop, stopped) = oneshot::channel();
        let (ready, started) = oneshot::channel();
        let recorded = Arc::clone(&arrivals);
        let thread = std::thread::Builder::new()
            .name("bench-consumer".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the consumer's runtime");
                runtime.block_on(async move {
                    match broker {
                        Broker::RabbitMq => consume_amqp(&name, recorded, ready, stopped).await,
                        Broker::Nats => consume_nats(&name, recorded, ready, stopped).await,
                    }
                });
            })
            .expect("the consumer's thread");
        started
            .await
            .expect("the consumer subscribed (see its panic above)");
        Self {
            arrivals,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Everything consumed so far.
    fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.arrivals.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Waits until at least `expected` messages arrived or `timeout` passed.
    async fn wait_for(&self, expected: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.count() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn record(arrivals: &Arrivals, body: Vec<u8>, at: Instant, wall: SystemTime) {
    arrivals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Arrival { at, wall, body });
}

async fn consume_amqp(
    queue: &str,
    arrivals: Arrivals,
    ready: oneshot::Sender<()>,
    mut stopped: oneshot::Receiver<()>,
) {
    let connection = testing::rabbitmq().await;
    let channel = connection.create_channel().await.expect("a channel");
    channel
        .basic_qos(1000, BasicQosOptions::default())
        .await
        .expect("basic.qos");
    let mut messages = channel
        .basic_consume(
            queue.into(),
            "libris-bench".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("basic.consume");
    let _ = ready.send(());
    loop {
        tokio::select! {
            next = messages.next() => match next {
                Some(Ok(delivery)) => {
                    let (at, wall) = (Instant::now(), SystemTime::now());
                    record(&arrivals, delivery.data, at, wall);
                }
                Some(Err(e)) => panic!("consuming from RabbitMQ failed: {e}"),
                None => break,
            },
            _ = &mut stopped => break,
        }
    }
    // Closing errors when the broker already closed the channel; the
    // connection goes either way.
    let _ = connection.close(200, "OK".into()).await;
}

async fn consume_nats(
    stream: &str,
    arrivals: Arrivals,
    ready: oneshot::Sender<()>,
    mut stopped: oneshot::Receiver<()>,
) {
    let jetstream = testing::nats().await;
    let consumer = jetstream
        .get_stream(stream)
        .await
        .expect("the run's stream")
        .create_consumer(pull::Config {
            ack_policy: AckPolicy::None,
            ..pull::Config::default()
        })
        .await
        .expect("a pull consumer");
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1000)
        .messages()
        .await
        .expect("the consumer's messages");
    let _ = ready.send(());
    loop {
        tokio::select! {
            next = messages.next() => match next {
                Some(Ok(message)) => {
                    let (at, wall) = (Instant::now(), SystemTime::now());
                    record(&arrivals, message.message.payload.to_vec(), at, wall);
                }
                // A missed heartbeat, say: the stream goes on.
                Some(Err(e)) => eprintln!("  (consuming from NATS: {e})"),
                None => break,
            },
            _ = &mut stopped => break,
        }
    }
}
