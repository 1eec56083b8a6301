//! A minimal, fast webhook receiver for the benchmarks: HTTP/1.1 on tokio's
//! `TcpListener`, keep-alive, `Content-Length` bodies, and an empty `200` for
//! every request — at once, or after a fixed delay to play a slow endpoint.
//!
//! The hot path only finds the end of the request head, reads the body and
//! pushes an [`Arrival`] (monotonic and wall-clock time, path, raw body) under
//! a mutex; bodies are parsed after the measurement. A chunked body (the
//! sender never uses one: it sends a byte buffer) closes the connection.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
const OK_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// One request as it arrived, stamped when its last body byte was read.
pub struct Arrival {
    pub at: Instant,
    pub wall: SystemTime,
    pub path: String,
    pub body: Vec<u8>,
}

type Arrivals = Arc<Mutex<Vec<Arrival>>>;

/// Listens on an ephemeral 127.0.0.1 port until dropped, on a two-thread
/// runtime of its own, so its arrival stamps do not wait behind the bench's
/// client tasks.
pub struct Receiver {
    addr: SocketAddr,
    arrivals: Arrivals,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// A receiver that answers every request after `delay` (zero: at once).
    pub fn start(delay: Duration) -> Self {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port for the receiver");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the receiver's address");
        let arrivals = Arrivals::default();
        let (stop, stopped) = oneshot::channel();
        let recorded = Arc::clone(&arrivals);
        let thread = std::thread::Builder::new()
            .name("bench-receiver".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the receiver's runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("a tokio listener");
                    tokio::select! {
                        () = accept_loop(listener, recorded, delay) => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("the receiver's thread");
        Self {
            addr,
            arrivals,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn count(&self) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Everything recorded so far; the receiver starts over empty.
    pub fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.arrivals.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Waits until at least `expected` requests arrived or `timeout` passed;
    /// returns how many arrived.
    pub async fn wait_for(&self, expected: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.count();
            if count >= expected || Instant::now() >= deadline {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    /// Stopping the runtime drops the accept loop's `JoinSet`, which aborts
    /// every connection (a slow receiver's sleeping answers included).
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, arrivals: Arrivals, delay: Duration) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve(stream, Arc::clone(&arrivals), delay));
                }
                // Out of file descriptors, say: let connections finish.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The parts of a request head the receiver needs.
struct Head {
    len: usize,
    path: String,
    content_length: usize,
    close: bool,
}

/// Serves one connection's requests in turn until the client closes it.
async fn serve(mut stream: TcpStream, arrivals: Arrivals, delay: Duration) -> io::Result<()> {
    let mut buf = Vec::with_capacity(8 * 1024);
    loop {
        let head = loop {
            if let Some(head) = parse_head(&buf)? {
                break head;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let end = head.len + head.content_length;
        while buf.len() < end {
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        }
        let arrival = Arrival {
            at: Instant::now(),
            wall: SystemTime::now(),
            path: head.path,
            body: buf[head.len..end].to_vec(),
        };
        buf.drain(..end);
        arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(arrival);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        stream
            .write_all(if head.close { OK_CLOSE } else { OK })
            .await?;
        if head.close {
            return Ok(());
        }
    }
}

/// `None` until the head is complete.
fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|e| invalid(e.to_string()))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let mut head = Head {
        len: end + 4,
        path,
        content_length: 0,
        close: false,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().map_err(|_| invalid("bad content-length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("chunked bodies are not supported"));
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(Some(head))
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}
