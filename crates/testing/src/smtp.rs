//! A real SMTP server on loopback for tests that send email: it records every
//! message exactly as it arrived (envelope, raw data, who authenticated) so
//! tests can check what a client really put on the wire, and answers from a
//! script so tests can play a server that refuses, throttles, stalls or is
//! away.
//!
//! Hand-written on tokio's `TcpListener`, like the webhook receiver, for the
//! same reasons: it runs on whichever runtime the test already has, and it can
//! stop and come back on the same port. It speaks just enough ESMTP for a
//! real client such as `lettre`: no STARTTLS (so clients stay in plain text on
//! loopback), but AUTH PLAIN and LOGIN, accepting any credentials, so a
//! client configured with credentials can be seen to send them.

// Message data is whatever a client sends: slicing a string by byte index
// panics inside a multi-byte character, so it is refused outright.
#![deny(clippy::string_slice)]

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::loopback::{self, lock, Handler, Loopback};

/// Where a scripted transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// At every RCPT TO: the client never gets to send the message, so
    /// nothing is recorded.
    Recipient,
    /// After the message data: it arrived in full (and is recorded), then
    /// got this answer.
    Data,
}

/// How the server answers one mail transaction. Each MAIL FROM takes the next
/// scripted answer, or the fallback once the script is used up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub stage: Stage,
    pub code: u16,
    pub text: String,
    /// How long to wait before answering; `None` never answers, to play a
    /// server that hangs until the client gives up.
    pub delay: Option<Duration>,
}

impl Answer {
    /// 250 after the data: the message is taken.
    pub fn accept() -> Self {
        Self::refuse_data(250, "2.0.0 Ok: queued")
    }

    /// Every RCPT TO answered with `code` (451 to play a greylisting server,
    /// 550 for an unknown mailbox).
    pub fn refuse_recipient(code: u16, text: impl Into<String>) -> Self {
        Self {
            stage: Stage::Recipient,
            code,
            text: text.into(),
            delay: Some(Duration::ZERO),
        }
    }

    /// The data received, then answered with `code` (451, 552, 554...).
    pub fn refuse_data(code: u16, text: impl Into<String>) -> Self {
        Self {
            stage: Stage::Data,
            code,
            text: text.into(),
            delay: Some(Duration::ZERO),
        }
    }

    /// Waits before the answer, to play a slow server.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Never answers, to play a server that stalls mid-transaction.
    pub fn hang(mut self) -> Self {
        self.delay = None;
        self
    }
}

/// Credentials a client authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub password: String,
}

/// A message whose data arrived in full, whatever the script answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender, without angle brackets or parameters.
    pub from: String,
    /// The accepted envelope recipients, in order.
    pub to: Vec<String>,
    /// The message as transmitted: headers and encoded body, dot-stuffing
    /// undone, CRLF line ends, invalid UTF-8 replaced.
    pub data: String,
    /// Who authenticated on the connection, if anyone did.
    pub login: Option<Login>,
    /// The code the data was answered with; `None` when the server hung.
    pub answered: Option<u16>,
    pub received_at: Instant,
}

impl ReceivedMail {
    /// The first value of a header, whatever the case of `name`, unfolded but
    /// not decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every header in order, unfolded but not decoded.
    pub fn headers(&self) -> Vec<(String, String)> {
        let (head, _) = split_message(&self.data);
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                // A folded line continues the previous header (RFC 5322 §2.2.3).
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim_start().to_owned()));
            }
        }
        for (_, value) in &mut headers {
            let trimmed = value.trim_end().len();
            value.truncate(trimmed);
        }
        headers
    }

    /// The subject as the sender wrote it: RFC 2047 encoded words decoded.
    pub fn subject(&self) -> Option<String> {
        self.header("Subject").map(|value| decode_words(&value))
    }

    /// The body as the sender wrote it: the Content-Transfer-Encoding
    /// (7bit, 8bit, quoted-printable, base64) undone, read as UTF-8, line
    /// ends as `\n`, and the trailing line breaks dropped, since SMTP framing
    /// and MIME writers add them.
    pub fn body(&self) -> String {
        let (_, raw) = split_message(&self.data);
        let encoding = self
            .header("Content-Transfer-Encoding")
            .map(|e| e.trim().to_ascii_lowercase());
        let bytes = match encoding.as_deref() {
            Some("quoted-printable") => decode_quoted_printable(raw),
            Some("base64") => decode_base64(raw).unwrap_or_else(|| raw.as_bytes().to_vec()),
            _ => raw.as_bytes().to_vec(),
        };
        let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
        text.trim_end_matches('\n').to_owned()
    }
}

/// The header block and the body, split at the first empty line.
fn split_message(data: &str) -> (&str, &str) {
    if let Some(body) = data.strip_prefix("\r\n") {
        return ("", body);
    }
    data.split_once("\r\n\r\n").unwrap_or((data, ""))
}

/// State that outlives a stop and restart.
#[derive(Debug)]
struct Shared {
    mails: Mutex<Vec<ReceivedMail>>,
    script: Mutex<VecDeque<Answer>>,
    fallback: Mutex<Answer>,
    arrived: Notify,
    /// Connections accepted, so tests can tell reuse from reconnecting.
    connections: AtomicUsize,
}

/// The server. Dropping it stops it (the port closes once the runtime next
/// runs its task); `stop` closes it at once.
#[derive(Debug)]
pub struct SmtpServer {
    loopback: Loopback<Shared>,
}

/// The name the server gives itself in its greeting and EHLO answer.
const SERVER_NAME: &str = "libris-test-smtp";

impl SmtpServer {
    /// A server on a free port that accepts every message.
    pub async fn start() -> Self {
        Self::with_answers(Vec::new()).await
    }

    /// A server on a free port that answers transactions with `answers` in
    /// order, then accepts (or uses the fallback) once the script is used up.
    pub async fn with_answers(answers: Vec<Answer>) -> Self {
        Self::launch(0, answers).await
    }

    /// A server on a given port, e.g. one an earlier server used, to play a
    /// relay coming back.
    pub async fn start_on(port: u16) -> Self {
        Self::launch(port, Vec::new()).await
    }

    async fn launch(port: u16, answers: Vec<Answer>) -> Self {
        let shared = Shared {
            mails: Mutex::new(Vec::new()),
            script: Mutex::new(answers.into()),
            fallback: Mutex::new(Answer::accept()),
            arrived: Notify::new(),
            connections: AtomicUsize::new(0),
        };
        Self {
            loopback: Loopback::start(port, "SMTP server", shared).await,
        }
    }

    fn shared(&self) -> &Shared {
        self.loopback.handler()
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.loopback.addr())
    }

    pub fn port(&self) -> u16 {
        self.loopback.addr().port()
    }

    /// Every message received so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        lock(&self.shared().mails).clone()
    }

    /// How many connections the server has accepted, over its whole life:
    /// a client that pools connections opens fewer than it sends messages.
    pub fn connections(&self) -> usize {
        self.shared().connections.load(Ordering::SeqCst)
    }

    /// Appends to the script.
    pub fn answer_with(&self, answers: Vec<Answer>) {
        lock(&self.shared().script).extend(answers);
    }

    /// The answer once the script is used up (accept unless set), e.g. to
    /// play a relay that always refuses.
    pub fn set_fallback(&self, answer: Answer) {
        *lock(&self.shared().fallback) = answer;
    }

    /// Waits until at least `n` messages have arrived and returns all of
    /// them. Panics, listing what did arrive, if they do not within `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        loopback::wait_for_count(
            &self.shared().arrived,
            timeout,
            || self.received(),
            n,
            &format!("SMTP server on port {}", self.port()),
            "message(s)",
            |m| format!("{} -> {:?}", m.from, m.to),
        )
        .await
    }

    /// Closes the port and every open connection, so clients see a refused
    /// connection. Received messages and the script are kept.
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
        // Counted as the connection is accepted, before its session runs.
        self.connections.fetch_add(1, Ordering::SeqCst);
        let session = Session::new(stream, self);
        // Any I/O error ends the connection, as a real server would.
        async move {
            let _ = session.run().await;
        }
    }
}

impl Shared {
    fn record(&self, mail: ReceivedMail) {
        lock(&self.mails).push(mail);
        self.arrived.notify_waiters();
    }

    fn next_answer(&self) -> Answer {
        let scripted = lock(&self.script).pop_front();
        scripted.unwrap_or_else(|| lock(&self.fallback).clone())
    }
}

/// A mail transaction between MAIL FROM and the end of its data.
struct Transaction {
    from: String,
    to: Vec<String>,
    answer: Answer,
}

/// Whether the conversation goes on after a command.
enum Flow {
    Continue,
    Close,
    /// The script said never to answer: wait for the client to give up.
    Hang,
}

struct Session {
    lines: Lines,
    shared: Arc<Shared>,
    login: Option<Login>,
    transaction: Option<Transaction>,
}

impl Session {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Self {
        Self {
            lines: Lines {
                stream,
                buffer: Vec::new(),
            },
            shared,
            login: None,
            transaction: None,
        }
    }

    async fn run(mut self) -> io::Result<()> {
        self.reply(220, &format!("{SERVER_NAME} ESMTP ready"))
            .await?;
        while let Some(line) = self.lines.read_line().await? {
            let line = String::from_utf8_lossy(&line).into_owned();
            let (verb, argument) = line.split_once(' ').unwrap_or((&line, ""));
            let flow = self
                .command(&verb.to_ascii_uppercase(), argument.trim())
                .await?;
            match flow {
                Flow::Continue => {}
                Flow::Close => return Ok(()),
                Flow::Hang => return self.lines.drain().await,
            }
        }
        Ok(())
    }

    async fn command(&mut self, verb: &str, argument: &str) -> io::Result<Flow> {
        match verb {
            "EHLO" => {
                self.transaction = None;
                // No STARTTLS: clients configured for opportunistic TLS stay
                // in plain text, which is what a loopback test can check.
                let greeting = format!("{SERVER_NAME} greets {argument}");
                self.reply_lines(
                    250,
                    &[&greeting, "8BITMIME", "SMTPUTF8", "AUTH PLAIN LOGIN"],
                )
                .await?;
            }
            "HELO" => {
                self.transaction = None;
                self.reply(250, SERVER_NAME).await?;
            }
            "AUTH" => self.auth(argument).await?,
            "MAIL" => self.mail(argument).await?,
            "RCPT" => return self.rcpt(argument).await,
            "DATA" => return self.data().await,
            "RSET" => {
                self.transaction = None;
                self.reply(250, "2.0.0 Ok").await?;
            }
            "NOOP" => self.reply(250, "2.0.0 Ok").await?,
            "QUIT" => {
                self.reply(221, "2.0.0 Bye").await?;
                return Ok(Flow::Close);
            }
            _ => self.reply(502, "5.5.2 Command not recognized").await?,
        }
        Ok(Flow::Continue)
    }

    async fn auth(&mut self, argument: &str) -> io::Result<()> {
        if self.login.is_some() {
            return self.reply(503, "5.5.1 Already authenticated").await;
        }
        let (mechanism, initial) = argument.split_once(' ').unwrap_or((argument, ""));
        let login = match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => {
                let response = self.challenge(initial, "").await?;
                // authzid NUL authcid NUL passwd (RFC 4616).
                response.and_then(|r| {
                    let mut parts = r.split('\0');
                    match (parts.next(), parts.next(), parts.next(), parts.next()) {
                        (Some(_), Some(user), Some(password), None) => Some(Login {
                            user: user.to_owned(),
                            password: password.to_owned(),
                        }),
                        _ => None,
                    }
                })
            }
            "LOGIN" => {
                // Base64 of "Username:" and "Password:", as servers ask.
                let user = self.challenge(initial, "VXNlcm5hbWU6").await?;
                match user {
                    Some(user) => self
                        .challenge("", "UGFzc3dvcmQ6")
                        .await?
                        .map(|password| Login { user, password }),
                    None => None,
                }
            }
            _ => {
                return self
                    .reply(504, "5.5.4 Unrecognized authentication type")
                    .await
            }
        };
        match login {
            Some(login) => {
                self.login = Some(login);
                self.reply(235, "2.7.0 Authentication successful").await
            }
            None => self.reply(501, "5.5.2 Cannot decode response").await,
        }
    }

    /// The client's decoded answer: `initial` if it sent one with the
    /// command, else the next line after a 334 `prompt`. `None` when it
    /// cancelled or sent something that does not decode.
    async fn challenge(&mut self, initial: &str, prompt: &str) -> io::Result<Option<String>> {
        let response = if initial.is_empty() {
            self.reply(334, prompt).await?;
            let line = self.lines.read_line().await?.unwrap_or_default();
            String::from_utf8_lossy(&line).trim().to_owned()
        } else {
            initial.trim().to_owned()
        };
        if response == "*" {
            return Ok(None);
        }
        // "=" alone is an empty initial response (RFC 4954 §4).
        let decoded = if response == "=" {
            Some(Vec::new())
        } else {
            decode_base64(&response)
        };
        Ok(decoded.and_then(|bytes| String::from_utf8(bytes).ok()))
    }

    async fn mail(&mut self, argument: &str) -> io::Result<()> {
        if self.transaction.is_some() {
            return self.reply(503, "5.5.1 Nested MAIL command").await;
        }
        let Some(from) = path_after(argument, "FROM") else {
            return self.reply(501, "5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        self.transaction = Some(Transaction {
            from,
            to: Vec::new(),
            answer: self.shared.next_answer(),
        });
        self.reply(250, "2.1.0 Ok").await
    }

    async fn rcpt(&mut self, argument: &str) -> io::Result<Flow> {
        let Some(transaction) = &mut self.transaction else {
            self.reply(503, "5.5.1 Need MAIL before RCPT").await?;
            return Ok(Flow::Continue);
        };
        let Some(to) = path_after(argument, "TO") else {
            self.reply(501, "5.5.4 Syntax: RCPT TO:<address>").await?;
            return Ok(Flow::Continue);
        };
        let answer = transaction.answer.clone();
        if answer.stage == Stage::Recipient {
            return self.answer(&answer).await;
        }
        transaction.to.push(to);
        self.reply(250, "2.1.5 Ok").await?;
        Ok(Flow::Continue)
    }

    async fn data(&mut self) -> io::Result<Flow> {
        let Some(transaction) = self.transaction.take_if(|t| !t.to.is_empty()) else {
            self.reply(503, "5.5.1 Need MAIL and RCPT before DATA")
                .await?;
            return Ok(Flow::Continue);
        };
        self.reply(354, "End data with <CR><LF>.<CR><LF>").await?;
        let mut data = Vec::new();
        loop {
            let Some(line) = self.lines.read_line().await? else {
                // The client left mid-message: nothing was delivered.
                return Ok(Flow::Close);
            };
            if line == b"." {
                break;
            }
            // Dot-stuffing (RFC 5321 §4.5.2): a leading dot was doubled.
            let line = line.strip_prefix(b".").unwrap_or(&line);
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
        }
        let answer = transaction.answer;
        self.shared.record(ReceivedMail {
            from: transaction.from,
            to: transaction.to,
            data: String::from_utf8_lossy(&data).into_owned(),
            login: self.login.clone(),
            answered: answer.delay.map(|_| answer.code),
            received_at: Instant::now(),
        });
        self.answer(&answer).await
    }

    /// Sends a scripted answer after its delay, or never.
    async fn answer(&mut self, answer: &Answer) -> io::Result<Flow> {
        let Some(delay) = answer.delay else {
            return Ok(Flow::Hang);
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.reply(answer.code, &answer.text).await?;
        Ok(Flow::Continue)
    }

    async fn reply(&mut self, code: u16, text: &str) -> io::Result<()> {
        let lines: Vec<&str> = text.lines().collect();
        self.reply_lines(code, &lines).await
    }

    /// A reply, multi-line when there is more than one line (RFC 5321 §4.2.1).
    async fn reply_lines(&mut self, code: u16, lines: &[&str]) -> io::Result<()> {
        let mut out = String::new();
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            out.push_str(&format!("{code}{separator}{line}\r\n"));
        }
        if lines.is_empty() {
            out = format!("{code} \r\n");
        }
        self.lines.stream.write_all(out.as_bytes()).await
    }
}

/// The address in `FROM:<a@b> PARAM=x` (or `TO:`), without brackets or
/// parameters; `None` when the keyword is missing.
fn path_after(argument: &str, keyword: &str) -> Option<String> {
    let (name, rest) = argument.split_once(':')?;
    if !name.trim().eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = rest.trim_start();
    let path = match rest.strip_prefix('<') {
        Some(bracketed) => bracketed.split_once('>')?.0,
        None => rest.split_whitespace().next().unwrap_or_default(),
    };
    Some(path.to_owned())
}

struct Lines {
    stream: TcpStream,
    /// Bytes read but not yet consumed: a pipelined next command may follow.
    buffer: Vec<u8>,
}

impl Lines {
    /// A line without its line end (CRLF, or a bare LF from a sloppy
    /// client), or `None` at the end of stream.
    async fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Reads and discards until the client closes the connection.
    async fn drain(&mut self) -> io::Result<()> {
        while self.fill().await? {
            self.buffer.clear();
        }
        Ok(())
    }

    /// Reads more bytes; false at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 8192];
        let read = self.stream.read(&mut chunk).await?;
        self.buffer
            .extend_from_slice(chunk.get(..read).unwrap_or_default());
        Ok(read > 0)
    }
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`);
/// anything else is kept as it is. Adjacent encoded words are joined before
/// reading them as text, since some writers split a character across two.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut rest = value;
    loop {
        let Some((before, marked)) = rest.split_once("=?") else {
            flush(&mut out, &mut pending);
            out.push_str(rest);
            return out;
        };
        match decode_word(marked) {
            Some((bytes, after)) => {
                // Whitespace between two encoded words is not part of the text.
                if pending.is_empty() || !before.trim().is_empty() {
                    flush(&mut out, &mut pending);
                    out.push_str(before);
                }
                pending.extend(bytes);
                rest = after;
            }
            None => {
                // Not a word after all: keep the "=?" and look further on.
                flush(&mut out, &mut pending);
                out.push_str(before);
                out.push_str("=?");
                rest = marked;
            }
        }
    }
}

fn flush(out: &mut String, pending: &mut Vec<u8>) {
    out.push_str(&String::from_utf8_lossy(pending));
    pending.clear();
}

/// One encoded word, from just after its `=?`: its bytes and what follows it.
fn decode_word(text: &str) -> Option<(Vec<u8>, &str)> {
    let (_charset, inner) = text.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let (encoded, after) = inner.split_once("?=")?;
    let bytes = match encoding {
        "b" | "B" => decode_base64(encoded)?,
        "q" | "Q" => decode_quoted(&encoded.replace('_', " ")),
        _ => return None,
    };
    Some((bytes, after))
}

/// Quoted-printable as a MIME body (RFC 2045 §6.7): soft line breaks joined,
/// trailing whitespace that transports may add dropped.
fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut lines = text.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let line = line.trim_end_matches([' ', '\t']);
        match line.strip_suffix('=') {
            Some(soft) => out.extend(decode_quoted(soft)),
            None => {
                out.extend(decode_quoted(line));
                if lines.peek().is_some() {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
    }
    out
}

/// `=XX` escapes decoded; a malformed escape is kept as it is.
fn decode_quoted(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = match (byte, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'=', Some(&high), Some(&low)) => hex_value(high).zip(hex_value(low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                out.push(high << 4 | low);
                i += 3;
            }
            None => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Standard base64, whitespace and line breaks ignored; `None` when another
/// character appears.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut bits: u32 = 0;
    let mut count = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENCE: Duration = Duration::from_secs(5);

    /// A deliberately separate, minimal client, so the server is tested
    /// against a conversation written by hand.
    struct Client {
        lines: Lines,
    }

    /// A reply as a raw client sees it.
    #[derive(Debug)]
    struct Reply {
        code: u16,
        lines: Vec<String>,
    }

    impl Client {
        /// Connects and reads the greeting.
        async fn connect(server: &SmtpServer) -> Self {
            let stream = TcpStream::connect(("127.0.0.1", server.port()))
                .await
                .expect("server accepts connections");
            let mut client = Self {
                lines: Lines {
                    stream,
                    buffer: Vec::new(),
                },
            };
            assert_eq!(client.reply().await.code, 220);
            client
        }

        async fn send(&mut self, command: &str) -> Reply {
            self.write(&format!("{command}\r\n")).await;
            self.reply().await
        }

        async fn write(&mut self, raw: &str) {
            self.lines
                .stream
                .write_all(raw.as_bytes())
                .await
                .expect("written");
        }

        async fn reply(&mut self) -> Reply {
            let mut lines = Vec::new();
            loop {
                let line = self
                    .lines
                    .read_line()
                    .await
                    .expect("reply line")
                    .expect("a reply before the end of stream");
                let line = String::from_utf8(line).expect("ascii reply");
                let (code, rest) = line.split_at_checked(3).expect("a reply code");
                let code = code.parse().expect("numeric code");
                let (separator, text) = rest.split_at_checked(1).unwrap_or(("", ""));
                lines.push(text.to_owned());
                if separator != "-" {
                    return Reply { code, lines };
                }
            }
        }

        /// Greets and runs one transaction up to the answer to its data.
        async fn transaction(&mut self, to: &str, data: &str) -> Reply {
            assert_eq!(self.send("EHLO client.test").await.code, 250);
            assert_eq!(self.send("MAIL FROM:<from@libris.test>").await.code, 250);
            assert_eq!(self.send(&format!("RCPT TO:<{to}>")).await.code, 250);
            assert_eq!(self.send("DATA").await.code, 354);
            self.send(&format!("{data}\r\n.")).await
        }

        /// True once the server has closed the connection.
        async fn closed(&mut self) -> bool {
            let mut byte = [0u8; 1];
            matches!(
                tokio::time::timeout(PATIENCE, self.lines.stream.read(&mut byte)).await,
                Ok(Ok(0) | Err(_))
            )
        }
    }

    const MESSAGE: &str = "From: Libris <from@libris.test>\r\n\
                           To: reader@example.test\r\n\
                           Subject: Hello\r\n\
                           \r\n\
                           Your book is due.";

    #[tokio::test]
    async fn records_an_accepted_message() {
        let server = SmtpServer::start().await;
        assert_eq!(server.url(), format!("smtp://127.0.0.1:{}", server.port()));
        let mut client = Client::connect(&server).await;
        let ehlo = client.send("EHLO client.test").await;
        assert_eq!(ehlo.code, 250);
        assert!(ehlo.lines.len() > 1, "a multi-line EHLO: {ehlo:?}");
        assert!(ehlo.lines.iter().any(|l| l == "AUTH PLAIN LOGIN"));
        assert!(!ehlo.lines.iter().any(|l| l.contains("STARTTLS")));

        assert_eq!(
            client
                .send("MAIL FROM:<from@libris.test> BODY=8BITMIME")
                .await
                .code,
            250
        );
        assert_eq!(client.send("RCPT TO:<a@example.test>").await.code, 250);
        assert_eq!(client.send("rcpt to: b@example.test").await.code, 250);
        assert_eq!(client.send("DATA").await.code, 354);
        assert_eq!(client.send(&format!("{MESSAGE}\r\n.")).await.code, 250);
        assert_eq!(client.send("NOOP").await.code, 250);
        assert_eq!(client.send("QUIT").await.code, 221);
        assert!(client.closed().await);
        assert_eq!(server.connections(), 1);

        let mails = server.received();
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert_eq!(mail.from, "from@libris.test");
        assert_eq!(mail.to, ["a@example.test", "b@example.test"]);
        assert_eq!(mail.data, format!("{MESSAGE}\r\n"));
        assert_eq!(mail.subject().as_deref(), Some("Hello"));
        assert_eq!(mail.header("to").as_deref(), Some("reader@example.test"));
        assert_eq!(mail.header("Cc"), None);
        assert_eq!(mail.body(), "Your book is due.");
        assert_eq!(mail.login, None);
        assert_eq!(mail.answered, Some(250));
    }

    #[tokio::test]
    async fn a_refusal_at_rcpt_records_nothing() {
        let server =
            SmtpServer::with_answers(vec![Answer::refuse_recipient(550, "5.1.1 No such user")])
                .await;
        let mut client = Client::connect(&server).await;
        assert_eq!(client.send("HELO client.test").await.code, 250);
        assert_eq!(client.send("MAIL FROM:<from@libris.test>").await.code, 250);
        let refused = client.send("RCPT TO:<nobody@example.test>").await;
        assert_eq!(refused.code, 550);
        assert_eq!(refused.lines, ["5.1.1 No such user"]);
        assert_eq!(client.send("DATA").await.code, 503);
        assert_eq!(client.send("RSET").await.code, 250);
        assert!(server.received().is_empty());

        // The script is used up: the next transaction is accepted.
        assert_eq!(
            client
                .transaction("someone@example.test", MESSAGE)
                .await
                .code,
            250
        );
        assert_eq!(server.received().len(), 1);
    }

    #[tokio::test]
    async fn undoes_dot_stuffing() {
        let server = SmtpServer::start().await;
        let mut client = Client::connect(&server).await;
        let stuffed = "Subject: dots\r\n\r\n..leading dot\r\n...\r\nmiddle . dot\r\n.";
        assert_eq!(
            client.transaction("a@example.test", stuffed).await.code,
            250
        );
        let mail = &server.received()[0];
        assert_eq!(mail.body(), ".leading dot\n..\nmiddle . dot");
        assert_eq!(
            mail.data,
            "Subject: dots\r\n\r\n.leading dot\r\n..\r\nmiddle . dot\r\n"
        );
    }

    #[tokio::test]
    async fn refuses_after_data_but_records_what_arrived() {
        let server = SmtpServer::with_answers(vec![Answer::refuse_data(
            451,
            "4.3.0 Try again later\nsecond line",
        )])
        .await;
        let mut client = Client::connect(&server).await;
        let refused = client.transaction("a@example.test", MESSAGE).await;
        assert_eq!(refused.code, 451);
        assert_eq!(refused.lines, ["4.3.0 Try again later", "second line"]);
        assert_eq!(server.received()[0].answered, Some(451));
    }

    #[tokio::test]
    async fn records_who_authenticated() {
        let server = SmtpServer::start().await;
        let mut client = Client::connect(&server).await;
        // "\0alice\0s3cret"
        let plain = client.send("AUTH PLAIN AGFsaWNlAHMzY3JldA==").await;
        assert_eq!(plain.code, 235);
        assert_eq!(client.send("AUTH PLAIN").await.code, 503);
        assert_eq!(
            client.transaction("a@example.test", MESSAGE).await.code,
            250
        );

        let mut other = Client::connect(&server).await;
        let prompt = other.send("AUTH LOGIN").await;
        assert_eq!(
            (prompt.code, prompt.lines[0].as_str()),
            (334, "VXNlcm5hbWU6")
        );
        assert_eq!(other.send("Ym9i").await.code, 334);
        assert_eq!(other.send("").await.code, 235);
        assert_eq!(other.transaction("b@example.test", MESSAGE).await.code, 250);

        let mut bad = Client::connect(&server).await;
        assert_eq!(bad.send("AUTH PLAIN").await.code, 334);
        assert_eq!(bad.send("not base64!").await.code, 501);
        assert_eq!(bad.send("AUTH CRAM-MD5").await.code, 504);

        let logins: Vec<Option<Login>> = server.received().into_iter().map(|m| m.login).collect();
        let login = |user: &str, password: &str| {
            Some(Login {
                user: user.into(),
                password: password.into(),
            })
        };
        assert_eq!(logins, [login("alice", "s3cret"), login("bob", "")]);
    }

    #[tokio::test]
    async fn delays_the_answer_but_records_the_message_at_once() {
        let delay = Duration::from_millis(300);
        let server = SmtpServer::with_answers(vec![Answer::accept().delay(delay)]).await;
        let mut client = Client::connect(&server).await;
        assert_eq!(client.send("HELO client.test").await.code, 250);
        assert_eq!(client.send("MAIL FROM:<>").await.code, 250);
        assert_eq!(client.send("RCPT TO:<a@example.test>").await.code, 250);
        assert_eq!(client.send("DATA").await.code, 354);
        let sent = Instant::now();
        assert_eq!(client.send(&format!("{MESSAGE}\r\n.")).await.code, 250);
        assert!(
            sent.elapsed() >= delay,
            "answered after {:?}",
            sent.elapsed()
        );
        let mail = &server.received()[0];
        assert_eq!(mail.from, "", "the null reverse-path");
        assert!(
            mail.received_at.duration_since(sent) < delay,
            "recorded only when answering"
        );
    }

    #[tokio::test]
    async fn a_hanging_server_never_answers_the_data() {
        let server = SmtpServer::with_answers(vec![Answer::accept().hang()]).await;
        let mut client = Client::connect(&server).await;
        assert_eq!(client.send("HELO client.test").await.code, 250);
        assert_eq!(client.send("MAIL FROM:<a@libris.test>").await.code, 250);
        assert_eq!(client.send("RCPT TO:<b@example.test>").await.code, 250);
        assert_eq!(client.send("DATA").await.code, 354);
        client.write(&format!("{MESSAGE}\r\n.\r\n")).await;
        let mails = server.wait_for(1, PATIENCE).await;
        assert_eq!(mails[0].answered, None);
        let mut byte = [0u8; 1];
        let answer = tokio::time::timeout(
            Duration::from_millis(300),
            client.lines.stream.read(&mut byte),
        )
        .await;
        assert!(answer.is_err(), "the server answered: {answer:?}");
    }

    #[tokio::test]
    async fn refuses_commands_out_of_order_or_unknown() {
        let server = SmtpServer::start().await;
        let mut client = Client::connect(&server).await;
        assert_eq!(client.send("RCPT TO:<a@example.test>").await.code, 503);
        assert_eq!(client.send("DATA").await.code, 503);
        assert_eq!(client.send("MAIL TO:<a@example.test>").await.code, 501);
        assert_eq!(client.send("MAIL FROM:<a@libris.test>").await.code, 250);
        assert_eq!(client.send("MAIL FROM:<a@libris.test>").await.code, 503);
        assert_eq!(client.send("STARTTLS").await.code, 502);
        assert_eq!(client.send("VRFY x").await.code, 502);
    }

    #[tokio::test]
    async fn wait_for_returns_once_enough_messages_arrived() {
        let server = SmtpServer::start().await;
        let port = server.port();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let stream = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let mut client = Client {
                lines: Lines {
                    stream,
                    buffer: Vec::new(),
                },
            };
            assert_eq!(client.reply().await.code, 220);
            for to in ["1@example.test", "2@example.test"] {
                assert_eq!(client.transaction(to, MESSAGE).await.code, 250);
            }
        });
        let mails = server.wait_for(2, PATIENCE).await;
        assert_eq!(mails.len(), 2);
        sender.await.expect("client task");
    }

    #[tokio::test]
    #[should_panic(expected = "expected 1 message(s) within 100ms, got 0")]
    async fn wait_for_panics_with_what_arrived() {
        let server = SmtpServer::start().await;
        server.wait_for(1, Duration::from_millis(100)).await;
    }

    #[tokio::test]
    async fn stop_refuses_connections_and_restart_comes_back_on_the_same_port() {
        let mut server = SmtpServer::start().await;
        let port = server.port();
        let mut client = Client::connect(&server).await;
        assert_eq!(client.send("NOOP").await.code, 250);

        server.stop().await;
        assert!(client.closed().await, "open connections are closed too");
        assert!(
            TcpStream::connect(("127.0.0.1", port)).await.is_err(),
            "a stopped server must refuse connections"
        );

        server.restart().await;
        assert_eq!(server.port(), port);
        let mut client = Client::connect(&server).await;
        assert_eq!(
            client.transaction("a@example.test", MESSAGE).await.code,
            250
        );
        assert_eq!(server.received().len(), 1);
    }

    #[tokio::test]
    async fn the_fallback_answers_once_the_script_is_used_up() {
        let server = SmtpServer::start().await;
        server.set_fallback(Answer::refuse_data(554, "5.7.1 Rejected"));
        server.answer_with(vec![Answer::accept()]);
        let mut client = Client::connect(&server).await;
        assert_eq!(
            client.transaction("a@example.test", MESSAGE).await.code,
            250
        );
        assert_eq!(
            client.transaction("a@example.test", MESSAGE).await.code,
            554
        );
    }

    fn mail_with(data: &str) -> ReceivedMail {
        ReceivedMail {
            from: String::new(),
            to: Vec::new(),
            data: data.to_owned(),
            login: None,
            answered: Some(250),
            received_at: Instant::now(),
        }
    }

    #[test]
    fn decodes_what_mime_writers_send() {
        let mail = mail_with(
            "Subject: =?utf-8?b?Qm9vayBCb3Jyb3dlZCAtIER1bmUgwqtJScK7?=\r\n\
             \x20=?utf-8?q?_and_=C3=A9?= plain\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\
             \r\n\
             Caf=C3=A9 =E2=80=9Cquoted=E2=80=9D, a long line that was =\r\n\
             softly broken=20\r\n\
             next line\r\n\r\n",
        );
        assert_eq!(
            mail.subject().as_deref(),
            Some("Book Borrowed - Dune «II» and é plain")
        );
        assert_eq!(
            mail.body(),
            "Café “quoted”, a long line that was softly broken \nnext line"
        );

        let base64 =
            mail_with("Content-Transfer-Encoding: base64\r\n\r\nwqtJScK7IGJv\r\ndHRvbQ==\r\n\r\n");
        assert_eq!(base64.body(), "«II» bottom");
    }

    #[test]
    fn odd_input_is_kept_rather_than_guessed() {
        assert_eq!(
            decode_words("=?utf-8?x?abc?= =? =?"),
            "=?utf-8?x?abc?= =? =?"
        );
        assert_eq!(decode_words("«é» =?utf-8"), "«é» =?utf-8");
        assert_eq!(decode_quoted("=4=ZZ=e9="), b"=4=ZZ\xe9=");
        assert_eq!(decode_base64("w6k"), Some("é".as_bytes().to_vec()));
        assert_eq!(decode_base64("w6k*"), None);
        let headerless = mail_with("\r\nonly a body\r\n");
        assert_eq!(headerless.headers(), []);
        assert_eq!(headerless.body(), "only a body");
        assert_eq!(mail_with("").body(), "");
    }
}
