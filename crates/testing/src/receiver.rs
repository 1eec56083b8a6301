//! A real HTTP/1.1 receiver on loopback for tests that deliver webhooks: it
//! records every request exactly as it arrived (headers, raw body bytes) so
//! tests can check signatures independently, and answers from a script so
//! tests can play a failing, slow, vanishing or redirecting endpoint.
//!
//! Hand-written on tokio's `TcpListener` rather than built on a server
//! framework: it runs on whichever runtime the test already has (plain
//! `#[tokio::test]` or `#[actix_web::test]`), needs no multi-thread runtime,
//! and can stop and come back on the same port.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::loopback::{self, lock, Handler, Loopback};

/// A scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long to wait before answering, to play a slow receiver.
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// A scripted `Connection: close` is honoured, to play a receiver that
    /// does not keep connections alive.
    fn closes(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close"))
    }
}

/// A request as the receiver got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target as sent, query included.
    pub path: String,
    /// In arrival order, names lowercased, repeated names kept.
    pub headers: Vec<(String, String)>,
    /// The raw bytes, de-chunked if the client sent them chunked.
    pub body: Vec<u8>,
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The first value of a header, whatever the case of `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text; panics if it is not UTF-8.
    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {} has a body that is not UTF-8: {e}",
                self.method, self.path
            )
        })
    }
}

/// State that outlives a stop and restart.
#[derive(Debug)]
struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Reply>,
    arrived: Notify,
}

/// The receiver. Dropping it stops it (the port closes once the runtime next
/// runs its task); `stop` closes it at once.
#[derive(Debug)]
pub struct Receiver {
    loopback: Loopback<Shared>,
}

impl Receiver {
    /// A receiver on a free port that answers 200 to everything.
    pub async fn start() -> Self {
        Self::with_responses(Vec::new()).await
    }

    /// A receiver on a free port that answers with `replies` in order, then
    /// 200 (or the fallback) once the script is used up.
    pub async fn with_responses(replies: Vec<Reply>) -> Self {
        Self::launch(0, replies).await
    }

    /// A receiver on a given port, e.g. one that an earlier receiver used, to
    /// play an endpoint coming back.
    pub async fn start_on(port: u16) -> Self {
        Self::launch(port, Vec::new()).await
    }

    async fn launch(port: u16, replies: Vec<Reply>) -> Self {
        let shared = Shared {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(replies.into()),
            fallback: Mutex::new(Reply::status(200)),
            arrived: Notify::new(),
        };
        Self {
            loopback: Loopback::start(port, "receiver", shared).await,
        }
    }

    fn shared(&self) -> &Shared {
        self.loopback.handler()
    }

    /// Where webhooks should go: `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("{}/hook", self.base_url())
    }

    /// `http://127.0.0.1:PORT`, for tests that need other paths.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.loopback.addr())
    }

    pub fn port(&self) -> u16 {
        self.loopback.addr().port()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared().requests).clone()
    }

    /// Appends to the script.
    pub fn respond_with(&self, replies: Vec<Reply>) {
        lock(&self.shared().script).extend(replies);
    }

    /// The answer once the script is used up (200 unless set), e.g. to play
    /// an endpoint that always fails.
    pub fn set_fallback(&self, reply: Reply) {
        *lock(&self.shared().fallback) = reply;
    }

    /// Waits until at least `n` requests have arrived and returns all of
    /// them. Panics, listing what did arrive, if they do not within `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        loopback::wait_for_count(
            &self.shared().arrived,
            timeout,
            || self.requests(),
            n,
            &format!("receiver on port {}", self.port()),
            "request(s)",
            |r| format!("{} {}", r.method, r.path),
        )
        .await
    }

    /// Closes the port and every open connection, so clients see a refused
    /// connection. Recorded requests and the script are kept.
    pub async fn stop(&mut self) {
        self.loopback.stop().await;
    }

    /// Listens again on the same port after `stop`.
    pub async fn restart(&mut self) {
        self.loopback.restart().await;
    }
}

impl Handler for Shared {
    fn handle(self: Arc<Self>, stream: TcpStream) -> impl Future<Output = ()> + Send + 'static {
        serve_connection(stream, self)
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let mut connection = Connection {
        stream,
        buffer: Vec::new(),
    };
    // Any I/O or parse error ends the connection, as a real server would.
    while let Ok(Some(request)) = connection.read_request().await {
        if request.expects_continue
            && connection
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        let Ok(body) = connection.read_body(&request).await else {
            return;
        };
        let wants_keep_alive = request.keep_alive;
        shared.record(RecordedRequest {
            method: request.method,
            path: request.path,
            headers: request.headers,
            body,
            received_at: Instant::now(),
        });
        let reply = shared.next_reply();
        let keep_alive = wants_keep_alive && !reply.closes();
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        if connection
            .stream
            .write_all(&encode(&reply, keep_alive))
            .await
            .is_err()
            || !keep_alive
        {
            return;
        }
    }
}

impl Shared {
    fn record(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
        self.arrived.notify_waiters();
    }

    fn next_reply(&self) -> Reply {
        let scripted = lock(&self.script).pop_front();
        scripted.unwrap_or_else(|| lock(&self.fallback).clone())
    }
}

struct RequestHead {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    keep_alive: bool,
    expects_continue: bool,
}

impl RequestHead {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

struct Connection {
    stream: TcpStream,
    /// Bytes read but not yet consumed: a pipelined next request may follow.
    buffer: Vec<u8>,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

impl Connection {
    /// The next request's head, or `None` when the client closed the
    /// connection between requests.
    async fn read_request(&mut self) -> io::Result<Option<RequestHead>> {
        let mut request_line = Vec::new();
        // RFC 9112 §2.2: ignore empty lines before a request line.
        while request_line.is_empty() {
            match self.read_line().await? {
                Some(line) => request_line = line,
                None => return Ok(None),
            }
        }
        let request_line = String::from_utf8(request_line).map_err(|_| invalid("request line"))?;
        let mut parts = request_line.split(' ');
        let (Some(method), Some(path), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("request line"));
        };
        let mut headers = Vec::new();
        loop {
            let line = self.read_line().await?.ok_or_else(|| invalid("headers"))?;
            if line.is_empty() {
                break;
            }
            let line = String::from_utf8_lossy(&line);
            let (name, value) = line.split_once(':').ok_or_else(|| invalid("header"))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut head = RequestHead {
            method: method.to_owned(),
            path: path.to_owned(),
            headers,
            keep_alive: false,
            expects_continue: false,
        };
        head.keep_alive = if version == "HTTP/1.0" {
            head.has_token("connection", "keep-alive")
        } else {
            !head.has_token("connection", "close")
        };
        head.expects_continue = head
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        Ok(Some(head))
    }

    async fn read_body(&mut self, head: &RequestHead) -> io::Result<Vec<u8>> {
        if head.has_token("transfer-encoding", "chunked") {
            return self.read_chunked().await;
        }
        let length = match head.header("content-length") {
            Some(value) => value.parse().map_err(|_| invalid("content-length"))?,
            None => 0,
        };
        self.take(length).await
    }

    async fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?.ok_or_else(|| invalid("chunk"))?;
            let line = String::from_utf8_lossy(&line);
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| invalid("chunk size"))?;
            if size == 0 {
                // Trailer fields, ignored, up to the empty line.
                while !self
                    .read_line()
                    .await?
                    .ok_or_else(|| invalid("trailer"))?
                    .is_empty()
                {}
                return Ok(body);
            }
            body.extend(self.take(size).await?);
            if !self.take(2).await?.eq(b"\r\n") {
                return Err(invalid("chunk end"));
            }
        }
    }

    /// A line without its CRLF, or `None` at a clean end of stream.
    async fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line = self.buffer[..end].to_vec();
                self.buffer.drain(..end + 2);
                return Ok(Some(line));
            }
            if !self.fill().await? {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(invalid("truncated line"))
                };
            }
        }
    }

    async fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buffer.len() < n {
            if !self.fill().await? {
                return Err(invalid("truncated body"));
            }
        }
        Ok(self.buffer.drain(..n).collect())
    }

    /// Reads more bytes; false at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 8192];
        let read = self.stream.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(read > 0)
    }
}

fn encode(reply: &Reply, keep_alive: bool) -> Vec<u8> {
    let has = |name: &str| {
        reply
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    // 204 and 304 carry no body by definition; a length would confuse clients.
    let bodiless = matches!(reply.status, 204 | 304);
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    if !bodiless && !has("content-length") {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    if !has("connection") {
        let connection = if keep_alive { "keep-alive" } else { "close" };
        head.push_str(&format!("Connection: {connection}\r\n"));
    }
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if !bodiless {
        bytes.extend_from_slice(&reply.body);
    }
    bytes
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        410 => "Gone",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        // The reason phrase is informational; clients ignore it.
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENCE: Duration = Duration::from_secs(5);

    /// A response as a raw client sees it.
    #[derive(Debug)]
    struct Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// A deliberately separate, minimal client, so the receiver's parser is
    /// tested against bytes written by hand.
    struct Client {
        connection: Connection,
    }

    impl Client {
        async fn connect(receiver: &Receiver) -> Self {
            let stream = TcpStream::connect(("127.0.0.1", receiver.port()))
                .await
                .expect("receiver accepts connections");
            Self {
                connection: Connection {
                    stream,
                    buffer: Vec::new(),
                },
            }
        }

        async fn exchange(&mut self, raw: &[u8]) -> Answer {
            self.connection
                .stream
                .write_all(raw)
                .await
                .expect("request written");
            self.answer().await
        }

        async fn answer(&mut self) -> Answer {
            let status_line = self
                .connection
                .read_line()
                .await
                .expect("status line")
                .expect("an answer before the end of stream");
            let status_line = String::from_utf8(status_line).expect("ascii status line");
            let status = status_line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .expect("status code");
            let mut headers = Vec::new();
            loop {
                let line = self
                    .connection
                    .read_line()
                    .await
                    .expect("header")
                    .expect("header line");
                if line.is_empty() {
                    break;
                }
                let line = String::from_utf8(line).expect("ascii header");
                let (name, value) = line.split_once(':').expect("header has a colon");
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            let length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().expect("numeric length"));
            let body = self.connection.take(length).await.expect("body");
            Answer {
                status,
                headers,
                body,
            }
        }

        /// True once the server has closed the connection.
        async fn closed(&mut self) -> bool {
            let mut byte = [0u8; 1];
            matches!(
                tokio::time::timeout(PATIENCE, self.connection.stream.read(&mut byte)).await,
                Ok(Ok(0) | Err(_))
            )
        }
    }

    fn post(path: &str, body: &str) -> Vec<u8> {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Mixed-Case: Kept\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn records_requests_and_answers_200_by_default() {
        let receiver = Receiver::start().await;
        assert_eq!(
            receiver.url(),
            format!("http://127.0.0.1:{}/hook", receiver.port())
        );
        let mut client = Client::connect(&receiver).await;
        let answer = client.exchange(&post("/hook?x=1", r#"{"a": 1}"#)).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("connection"), Some("keep-alive"));

        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/hook?x=1");
        assert_eq!(request.body, br#"{"a": 1}"#);
        assert_eq!(request.body_text(), r#"{"a": 1}"#);
        assert_eq!(request.header("X-MIXED-CASE"), Some("Kept"));
        assert!(request
            .headers
            .iter()
            .any(|(n, v)| n == "x-mixed-case" && v == "Kept"));
        assert_eq!(request.header("absent"), None);
    }

    #[tokio::test]
    async fn keeps_the_connection_open_for_further_requests() {
        let receiver = Receiver::with_responses(vec![Reply::status(500), Reply::status(201)]).await;
        let mut client = Client::connect(&receiver).await;
        assert_eq!(client.exchange(&post("/a", "1")).await.status, 500);
        assert_eq!(client.exchange(&post("/b", "22")).await.status, 201);
        // Two requests pipelined in one write are both answered, in order.
        let mut both = post("/c", "333");
        both.extend(post("/d", ""));
        assert_eq!(client.exchange(&both).await.status, 200);
        assert_eq!(client.answer().await.status, 200);
        let paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/a", "/b", "/c", "/d"]);
        assert_eq!(receiver.requests()[2].body, b"333");
    }

    #[tokio::test]
    async fn answers_from_the_script_then_the_fallback() {
        let receiver = Receiver::with_responses(vec![
            Reply::status(429)
                .header("Retry-After", "7")
                .body("slow down"),
            Reply::status(204),
        ])
        .await;
        let mut client = Client::connect(&receiver).await;
        let first = client.exchange(&post("/hook", "{}")).await;
        assert_eq!(first.status, 429);
        assert_eq!(first.header("retry-after"), Some("7"));
        assert_eq!(first.body, b"slow down");
        let second = client.exchange(&post("/hook", "{}")).await;
        assert_eq!(second.status, 204);
        assert_eq!(second.header("content-length"), None);
        assert_eq!(client.exchange(&post("/hook", "{}")).await.status, 200);

        receiver.set_fallback(Reply::status(503));
        assert_eq!(client.exchange(&post("/hook", "{}")).await.status, 503);
        receiver.respond_with(vec![Reply::status(410)]);
        assert_eq!(client.exchange(&post("/hook", "{}")).await.status, 410);
        assert_eq!(client.exchange(&post("/hook", "{}")).await.status, 503);
    }

    #[tokio::test]
    async fn decodes_chunked_bodies() {
        let receiver = Receiver::start().await;
        let mut client = Client::connect(&receiver).await;
        let raw = b"POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
        assert_eq!(client.exchange(raw).await.status, 200);
        assert_eq!(receiver.requests()[0].body, b"hello, world");
        // The connection is still usable after a chunked body.
        assert_eq!(client.exchange(&post("/next", "")).await.status, 200);
    }

    #[tokio::test]
    async fn answers_expect_continue_before_reading_the_body() {
        let receiver = Receiver::start().await;
        let mut client = Client::connect(&receiver).await;
        let head =
            b"POST /hook HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(client.exchange(head).await.status, 100);
        assert_eq!(client.exchange(b"{}").await.status, 200);
        assert_eq!(receiver.requests()[0].body, b"{}");
    }

    #[tokio::test]
    async fn closes_the_connection_when_asked() {
        let receiver = Receiver::start().await;
        let mut client = Client::connect(&receiver).await;
        let raw = b"GET /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let answer = client.exchange(raw).await;
        assert_eq!(answer.header("connection"), Some("close"));
        assert!(
            client.closed().await,
            "the server should close the connection"
        );
        assert_eq!(receiver.requests()[0].method, "GET");
    }

    #[tokio::test]
    async fn delays_the_answer_but_records_the_request_at_once() {
        let delay = Duration::from_millis(300);
        let receiver = Receiver::with_responses(vec![Reply::status(200).delay(delay)]).await;
        let mut client = Client::connect(&receiver).await;
        let sent = Instant::now();
        let answer = client.exchange(&post("/hook", "{}")).await;
        assert!(
            sent.elapsed() >= delay,
            "answered after {:?}",
            sent.elapsed()
        );
        assert_eq!(answer.status, 200);
        let received_at = receiver.requests()[0].received_at;
        assert!(
            received_at.duration_since(sent) < delay,
            "recorded only when answering"
        );
    }

    #[tokio::test]
    async fn wait_for_returns_once_enough_requests_arrived() {
        let receiver = Receiver::start().await;
        let port = receiver.port();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut stream = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let mut both = post("/1", "");
            both.extend(post("/2", ""));
            stream.write_all(&both).await.expect("write");
            // Keep the connection open until the answers come back.
            let mut sink = [0u8; 1024];
            let _ = stream.read(&mut sink).await;
        });
        let requests = receiver.wait_for(2, PATIENCE).await;
        assert_eq!(requests.len(), 2);
        sender.await.expect("client task");
    }

    #[tokio::test]
    #[should_panic(expected = "expected 1 request(s) within 100ms, got 0")]
    async fn wait_for_panics_with_what_arrived() {
        let receiver = Receiver::start().await;
        receiver.wait_for(1, Duration::from_millis(100)).await;
    }

    #[tokio::test]
    async fn stop_refuses_connections_and_restart_comes_back_on_the_same_port() {
        let mut receiver = Receiver::start().await;
        let port = receiver.port();
        let mut client = Client::connect(&receiver).await;
        assert_eq!(client.exchange(&post("/before", "")).await.status, 200);

        receiver.stop().await;
        assert!(client.closed().await, "open connections are closed too");
        let refused = TcpStream::connect(("127.0.0.1", port)).await;
        assert!(
            refused.is_err(),
            "a stopped receiver must refuse connections"
        );

        receiver.restart().await;
        assert_eq!(receiver.port(), port);
        let mut client = Client::connect(&receiver).await;
        assert_eq!(client.exchange(&post("/after", "")).await.status, 200);
        let paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/before", "/after"]);
    }

    #[tokio::test]
    async fn a_dropped_receiver_frees_its_port() {
        let receiver = Receiver::start().await;
        let port = receiver.port();
        drop(receiver);
        let again = Receiver::start_on(port).await;
        assert_eq!(again.port(), port);
        let mut client = Client::connect(&again).await;
        assert_eq!(client.exchange(&post("/hook", "")).await.status, 200);
        assert_eq!(again.requests().len(), 1);
    }

    #[test]
    fn encodes_replies_with_length_and_connection() {
        let reply = Reply::status(404).header("X-Why", "none").body("gone");
        let text = String::from_utf8(encode(&reply, true)).expect("ascii");
        assert_eq!(
            text,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: keep-alive\r\nX-Why: none\r\n\r\ngone"
        );
        let explicit = Reply::status(200)
            .header("content-length", "0")
            .header("Connection", "close");
        let text = String::from_utf8(encode(&explicit, true)).expect("ascii");
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nConnection: close\r\n\r\n"
        );
    }
}
