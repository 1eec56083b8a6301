//! Libris's email channel: sends one plain-text message over SMTP and says
//! how the attempt ended, in the terms every channel's queue shares
//! (`libris_domain::delivery`). It is the engine's `Channel` of emails and
//! knows SMTP, no more: the engine decides what an outcome means for the
//! queue.

// Everything here handles text from configuration and from servers: slicing a
// string by byte index panics inside a multi-byte character.
#![deny(clippy::string_slice)]

mod classify;
mod error;
mod url;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use libris_application::engine::{Channel, SendFuture};
use libris_domain::delivery::AttemptReport;
use libris_domain::notifications::Email;
use tokio::runtime::Handle;

pub use error::SmtpConfigError;
pub use libris_domain::delivery::MAX_RESPONSE_TEXT;

use libris_domain::delivery::Verdict;
use url::{Security, SmtpUrl};

/// Sends email through one SMTP relay. Cheap to share: connections are
/// pooled and reused across sends (and concurrent sends get their own).
pub struct SmtpChannel {
    url: SmtpUrl,
    from: Mailbox,
    timeout: Duration,
    /// Kept to build a fresh transport: lettre's pool spawns a task, which
    /// needs the runtime the first send runs on, and a connection abandoned
    /// mid-conversation must never be handed out again (see `discard`).
    builder: AsyncSmtpTransportBuilder,
    transport: Mutex<Option<Arc<Pooled>>>,
}

impl fmt::Debug for SmtpChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The builder holds the credentials: only the masked URL is shown.
        f.debug_struct("SmtpChannel")
            .field("url", &self.url)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpChannel {
    /// A channel sending from `from` (`noreply@example.org` or
    /// `Libris <noreply@example.org>`) through the relay at `url`:
    /// `smtp://[user:pass@]host[:port]` (port 25; STARTTLS when the relay
    /// offers it, plain text otherwise) or `smtps://...` (port 465; TLS
    /// throughout). User and password are percent-decoded. `timeout` bounds
    /// a whole attempt, connecting included.
    ///
    /// Nothing is contacted here: a wrong host or password shows in the
    /// first attempt's report.
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<Self, SmtpConfigError> {
        let url = url::parse(url)?;
        let from: Mailbox = from
            .trim()
            .parse()
            .map_err(|e| SmtpConfigError::InvalidFrom {
                from: from.to_owned(),
                reason: format!("{e}"),
            })?;
        if timeout.is_zero() {
            return Err(SmtpConfigError::ZeroTimeout);
        }
        let tls_error = |e: lettre::transport::smtp::Error| SmtpConfigError::Tls {
            host: url.host.clone(),
            reason: e.to_string(),
        };
        let parameters = TlsParameters::new(url.host.clone()).map_err(tls_error)?;
        let tls = match url.security {
            Security::Opportunistic => Tls::Opportunistic(parameters),
            Security::Implicit => Tls::Wrapper(parameters),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&url.host)
            .port(url.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some(credentials) = &url.credentials {
            builder = builder.credentials(Credentials::new(
                credentials.user.clone(),
                credentials.password.clone(),
            ));
        }
        Ok(Self {
            url,
            from,
            timeout,
            builder,
            transport: Mutex::new(None),
        })
    }

    /// Sends `email` once. Never fails: every problem, from a recipient that
    /// is not an address to a relay that never answers, is a report.
    pub async fn send(&self, email: &Email) -> AttemptReport {
        let started = Instant::now();
        self.attempt(email).await.report(started.elapsed())
    }

    async fn attempt(&self, email: &Email) -> Verdict {
        let message = match self.message(email) {
            Ok(message) => message,
            Err(refused) => return refused,
        };
        let Ok(runtime) = Handle::try_current() else {
            return Verdict::unanswered("sending email needs a Tokio runtime".to_owned());
        };
        let pooled = self.transport(runtime);
        let Some(transport) = &pooled.transport else {
            return Verdict::unanswered("the SMTP transport is shut down".to_owned());
        };
        let address = self.url.address();
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(Ok(response)) => classify::delivered(&response),
            Ok(Err(error)) => classify::failed(&error, &address),
            Err(_) => {
                self.discard(&pooled);
                classify::timed_out(&address, self.timeout)
            }
        }
    }

    /// A plain-text UTF-8 message; lettre adds Date and picks the transfer
    /// encoding (7bit, quoted-printable or base64: the message itself stays
    /// ASCII, so no relay needs 8BITMIME), and encodes the subject so no
    /// header can be smuggled in.
    fn message(&self, email: &Email) -> Result<Message, Verdict> {
        let to: Mailbox = email.to.trim().parse().map_err(|e| {
            Verdict::refused(format!(
                "the recipient {:?} is not an email address: {e}",
                email.to
            ))
        })?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(one_line(&email.subject))
            .message_id(None)
            .singlepart(SinglePart::plain(email.body.clone()))
            .map_err(|e| Verdict::refused(format!("cannot build the message: {e}")))
    }

    /// The current transport, built on first use.
    fn transport(&self, runtime: Handle) -> Arc<Pooled> {
        let mut slot = lock(&self.transport);
        if let Some(pooled) = slot.as_ref() {
            return Arc::clone(pooled);
        }
        let pooled = Arc::new(Pooled {
            transport: Some(self.builder.clone().build()),
            runtime,
        });
        *slot = Some(Arc::clone(&pooled));
        pooled
    }

    /// Drops a transport after an attempt was abandoned by the timeout. The
    /// abandoned connection is still mid-conversation (its late reply would
    /// answer the next command), and lettre would return it to the pool;
    /// dropping the whole pool closes it. Sends already under way finish on
    /// the old transport; the next send builds a new one.
    fn discard(&self, pooled: &Arc<Pooled>) {
        let mut slot = lock(&self.transport);
        if slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, pooled))
        {
            let old = slot.take();
            drop(slot);
            drop(old);
        }
    }
}

/// A subject is one line: line breaks (and other control characters) a
/// template let through become single spaces rather than encoded oddities.
fn one_line(subject: &str) -> String {
    subject
        .split(char::is_control)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A transport and the runtime its pool's task runs on.
struct Pooled {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    runtime: Handle,
}

impl Drop for Pooled {
    /// lettre's pool spawns its clean-up when dropped, which panics outside a
    /// runtime; a channel may well be dropped after its runtime is gone.
    fn drop(&mut self) {
        let _entered = self.runtime.enter();
        drop(self.transport.take());
    }
}

/// A panicking thread must not make every later send panic too.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Channel<Email> for SmtpChannel {
    fn send<'a>(&'a self, email: &'a Email, _attempt_at: DateTime<Utc>) -> SendFuture<'a> {
        Box::pin(SmtpChannel::send(self, email))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn refuses_a_from_that_is_not_a_mailbox() {
        for from in ["", "libris", "a@", "Libris <a@b", "a@b\r\nBcc: x@y"] {
            let error = SmtpChannel::new("smtp://relay", from, TIMEOUT)
                .expect_err(from)
                .to_string();
            assert!(error.contains("from address"), "{from:?}: {error}");
        }
        assert!(SmtpChannel::new("smtp://relay", "Libris <noreply@libris.test>", TIMEOUT).is_ok());
    }

    #[test]
    fn refuses_a_zero_timeout() {
        assert_eq!(
            SmtpChannel::new("smtp://relay", "a@b.test", Duration::ZERO).err(),
            Some(SmtpConfigError::ZeroTimeout)
        );
    }

    #[test]
    fn can_be_built_and_dropped_without_a_runtime() {
        let channel = SmtpChannel::new("smtps://u:pw@relay", "a@b.test", TIMEOUT).unwrap();
        drop(channel);
    }

    #[test]
    fn debug_masks_the_password() {
        let channel =
            SmtpChannel::new("smtps://alice:hunter2@relay.test", "a@b.test", TIMEOUT).unwrap();
        let debug = format!("{channel:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            debug.contains("smtps://alice:***@relay.test:465"),
            "{debug}"
        );
    }

    #[test]
    fn a_subject_is_one_line() {
        assert_eq!(one_line("Due soon"), "Due soon");
        assert_eq!(one_line("Hi\r\nBcc: x@y\t«II»\n"), "Hi Bcc: x@y «II»");
        assert_eq!(one_line("\r\n"), "");
    }

    #[test]
    fn a_recipient_that_is_not_an_address_is_refused_before_sending() {
        let channel = SmtpChannel::new("smtp://relay", "a@b.test", TIMEOUT).unwrap();
        for to in ["", "not an address", "a@", "<a@b.test", "x@y\r\nBcc: z@w"] {
            let email = Email {
                to: to.into(),
                subject: "s".into(),
                body: "b".into(),
            };
            let verdict = channel.message(&email).expect_err(to);
            let report = verdict.report(Duration::ZERO);
            assert_eq!(
                report.outcome,
                libris_domain::delivery::Outcome::Refused,
                "{to:?}"
            );
            assert_eq!(report.status, None);
        }
    }
}
