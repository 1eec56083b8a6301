//! What the test servers (the webhook receiver, the SMTP server) share: a
//! listener on loopback that can stop and come back on the same port, and the
//! wait for enough of what they record to arrive. Plain tokio, so it runs on
//! whichever runtime the test already has, multi-thread or not.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::{JoinHandle, JoinSet};

/// A panicking test thread must not make every later call panic too.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long `start_on` and `restart` keep trying a port that is still held,
/// e.g. by a server dropped a moment ago whose task has not run yet.
const BIND_PATIENCE: Duration = Duration::from_secs(2);

/// What a server does with each connection it accepts: usually its state
/// that outlives a stop and restart.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Called in the accept loop as each connection is accepted, so whatever
    /// it does before returning happens at accept time; the future it returns
    /// then runs as the connection's own task until it ends or the server
    /// stops.
    fn handle(self: Arc<Self>, stream: TcpStream) -> impl Future<Output = ()> + Send + 'static;
}

/// A listener on 127.0.0.1 that hands every connection to `H`. Dropping it
/// stops it (the port closes once the runtime next runs its task); `stop`
/// closes it at once.
#[derive(Debug)]
pub(crate) struct Loopback<H> {
    addr: SocketAddr,
    handler: Arc<H>,
    /// Who is listening, for panic messages: "receiver", "SMTP server".
    name: &'static str,
    server: Option<Server>,
}

#[derive(Debug)]
struct Server {
    // Dropping the sender stops the server too, which is how Drop works.
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl<H: Handler> Loopback<H> {
    /// Listens on `port` (0 for a free one), waiting up to `BIND_PATIENCE`
    /// for a port that is still held.
    pub(crate) async fn start(port: u16, name: &'static str, handler: H) -> Self {
        let listener = bind(port, name).await;
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{name} cannot read its own address: {e}"));
        let handler = Arc::new(handler);
        let server = Server::spawn(listener, Arc::clone(&handler));
        Self {
            addr,
            handler,
            name,
            server: Some(server),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn handler(&self) -> &H {
        &self.handler
    }

    /// Closes the port and every open connection, so clients see a refused
    /// connection. The handler, and so what it recorded, is kept.
    pub(crate) async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// Listens again on the same port after `stop`.
    pub(crate) async fn restart(&mut self) {
        self.stop().await;
        let listener = bind(self.addr.port(), self.name).await;
        self.server = Some(Server::spawn(listener, Arc::clone(&self.handler)));
    }
}

impl Server {
    fn spawn<H: Handler>(listener: TcpListener, handler: Arc<H>) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, handler, stopped));
        Self { stop, task }
    }

    async fn shutdown(self) {
        // An error means the server already ended; either way it is gone.
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn bind(port: u16, name: &str) -> TcpListener {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + BIND_PATIENCE;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{name} cannot listen on {addr}: {e}"),
        }
    }
}

async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // A message or a dropped Loopback: both mean stop.
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(Arc::clone(&handler).handle(stream));
                }
            }
            // Reaps finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// Waits until `current` returns at least `n` items and returns them all.
/// Panics, naming `who` is waiting and listing what did arrive with
/// `describe`, if they do not within `timeout`: "{who} expected {n} {items}
/// within {timeout:?}, got {count}: [...]".
///
/// Whoever records an item must call `arrived.notify_waiters()` after it is
/// visible to `current`.
pub(crate) async fn wait_for_count<T>(
    arrived: &Notify,
    timeout: Duration,
    current: impl Fn() -> Vec<T>,
    n: usize,
    who: &str,
    items: &str,
    describe: impl Fn(&T) -> String,
) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = arrived.notified();
        tokio::pin!(notified);
        // Registered before counting, so an item landing between the count
        // and the wait still wakes us.
        notified.as_mut().enable();
        let arrived = current();
        if arrived.len() >= n {
            return arrived;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            let arrived = current();
            if arrived.len() >= n {
                return arrived;
            }
            let seen: Vec<String> = arrived.iter().map(&describe).collect();
            panic!(
                "{who} expected {n} {items} within {timeout:?}, got {}: {seen:?}",
                arrived.len()
            );
        }
    }
}
