//! NATS JetStream through `async-nats`: one client per endpoint, messages
//! published to a stream and confirmed by its PubAck.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::context::{GetStreamByNameErrorKind, PublishErrorKind};
use async_nats::jetstream::{self, stream};
use async_nats::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use libris_application::webhooks::OutgoingDelivery;
use libris_domain::delivery::AttemptReport;

use crate::attempt::{bounded, AttemptStage, Failure, Progress};
use crate::cache::{Cache, Link};
use crate::message::{Reporter, SignedMessage};
use crate::target::{Endpoint, NatsTarget};

/// The stream Libris creates, only for subjects under `libris.` that no
/// stream covers yet.
pub(crate) const DEFAULT_STREAM: &str = "LIBRIS";
const DEFAULT_STREAM_SUBJECTS: &str = "libris.>";
const DEFAULT_STREAM_PREFIX: &str = "libris.";
/// JetStream de-duplicates messages with the same id within its window, so
/// a retried attempt whose first try did land is stored once.
const MESSAGE_ID_HEADER: &str = "Nats-Msg-Id";
/// "No responders": nothing listens on the subject, so no stream covers it.
const NO_RESPONDERS: u16 = 503;

/// Publishes deliveries whose URL is `nats://…` to NATS JetStream. Other
/// URLs are refused; [`BrokerChannel`](crate::BrokerChannel) picks this or
/// AMQP by scheme.
///
/// An attempt is `Delivered` only on the stream's PubAck. A subject no
/// stream covers fails its attempt (retried); only for subjects under
/// `libris.` is the default stream `LIBRIS` over `libris.>` created, before
/// the first publish of such a subject on a connection. Each attempt,
/// connecting included, is bounded by the timeout given to
/// [`NatsChannel::new`].
pub struct NatsChannel {
    timeout: Duration,
    cache: Cache<NatsLink>,
}

struct NatsLink {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    /// Subjects under `libris.` known to be covered by a stream.
    covered: Mutex<HashSet<String>>,
}

impl Link for NatsLink {
    fn is_open(&self) -> bool {
        self.client.connection_state() == State::Connected
    }
}

#[derive(Debug, Clone, Copy)]
enum Stage {
    Connecting,
    EnsuringStream,
    AwaitingAck,
}

impl AttemptStage for Stage {
    fn describe(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::EnsuringStream => "making sure a stream covers the subject",
            Self::AwaitingAck => "waiting for the stream's PubAck",
        }
    }
}

impl NatsChannel {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            cache: Cache::new(),
        }
    }

    pub(crate) async fn deliver(
        &self,
        target: &NatsTarget,
        delivery: &OutgoingDelivery,
        attempt_at: DateTime<Utc>,
        reporter: &Reporter,
    ) -> AttemptReport {
        let endpoint = &target.endpoint;
        let subject = match target.subject_for(&delivery.event) {
            Ok(subject) => subject,
            Err(error) => return reporter.refused(error),
        };
        let message = match SignedMessage::sign(delivery, attempt_at) {
            Ok(message) => message,
            Err(error) => return reporter.refused(error),
        };
        let headers = match headers(&message) {
            Ok(headers) => headers,
            Err(error) => return reporter.refused(error),
        };
        let progress = Progress::new(Stage::Connecting);
        let publish = self.publish(endpoint, &subject, headers, &delivery.body, &progress);
        bounded(
            "NATS",
            self.timeout,
            &self.cache,
            endpoint,
            reporter,
            &progress,
            publish,
        )
        .await
    }

    /// Publishes and waits for the PubAck; the result is the ack, described
    /// for the report's response body.
    async fn publish(
        &self,
        endpoint: &Endpoint,
        subject: &str,
        headers: HeaderMap,
        body: &[u8],
        progress: &Progress<Stage, NatsLink>,
    ) -> Result<String, Failure> {
        let link = self
            .cache
            .get(endpoint, || connect(endpoint, self.timeout))
            .await
            .map_err(Failure::broken)?;
        progress.reached(Stage::EnsuringStream, Some(&link));
        ensure_default_stream(&link, subject).await?;
        progress.reached(Stage::AwaitingAck, None);
        let published = async {
            link.jetstream
                .publish_with_headers(subject.to_owned(), headers, body.to_vec().into())
                .await?
                .await
        }
        .await;
        match published {
            Ok(ack) => Ok(format!(
                "stream {} seq {}{}",
                ack.stream,
                ack.sequence,
                if ack.duplicate { " (duplicate)" } else { "" }
            )),
            Err(error) if error.kind() == PublishErrorKind::StreamNotFound => {
                // The stream may have been deleted since it was checked.
                forget(&link, subject);
                Err(Failure {
                    status: Some(NO_RESPONDERS),
                    evict: false,
                    ..Failure::broken(format!("no stream covers subject {subject:?}"))
                })
            }
            Err(error) => Err(Failure::broken(format!("publish failed: {error}"))),
        }
    }
}

/// For a subject under `libris.`, makes sure a stream covers it, creating
/// `LIBRIS` over `libris.>` when none does. Other subjects are the admin's
/// to provide a stream for; publishing tells whether one does.
async fn ensure_default_stream(link: &NatsLink, subject: &str) -> Result<(), Failure> {
    if !subject.starts_with(DEFAULT_STREAM_PREFIX) || covered(link, subject) {
        return Ok(());
    }
    match link.jetstream.stream_by_subject(subject).await {
        Ok(_) => {}
        Err(error) if error.kind() == GetStreamByNameErrorKind::NotFound => {
            link.jetstream
                .get_or_create_stream(stream::Config {
                    name: DEFAULT_STREAM.to_owned(),
                    subjects: vec![DEFAULT_STREAM_SUBJECTS.to_owned()],
                    storage: stream::StorageType::File,
                    ..stream::Config::default()
                })
                .await
                .map_err(|e| Failure {
                    evict: !link.is_open(),
                    ..Failure::broken(format!(
                        "no stream covers subject {subject:?} and stream {DEFAULT_STREAM} \
                         over {DEFAULT_STREAM_SUBJECTS} cannot be created: {e}"
                    ))
                })?;
            tracing::info!(
                stream = DEFAULT_STREAM,
                subjects = DEFAULT_STREAM_SUBJECTS,
                "created the default JetStream stream"
            );
        }
        Err(error) => {
            return Err(Failure {
                evict: !link.is_open(),
                ..Failure::broken(format!(
                    "cannot look up the stream for subject {subject:?}: {error}"
                ))
            })
        }
    }
    link.covered
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(subject.to_owned());
    Ok(())
}

fn covered(link: &NatsLink, subject: &str) -> bool {
    link.covered
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(subject)
}

fn forget(link: &NatsLink, subject: &str) {
    link.covered
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(subject);
}

/// Custom headers first, Libris's replacing any of the same name, then the
/// message id. A header NATS cannot carry escaped the check at save time
/// and will not fix itself, so it refuses the attempt.
fn headers(message: &SignedMessage) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in &message.custom_headers {
        let (name, value) = header(name, value)?;
        headers.append(name, value);
    }
    for (name, value) in &message.libris_headers {
        let (name, value) = header(name, value)?;
        headers.insert(name, value);
    }
    headers.insert(MESSAGE_ID_HEADER, message.id.as_str());
    Ok(headers)
}

fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let parsed_name =
        HeaderName::from_str(name).map_err(|_| format!("invalid header name {name:?}"))?;
    let parsed_value =
        HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name:?}"))?;
    Ok((parsed_name, parsed_value))
}

async fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<NatsLink, String> {
    let mut options = async_nats::ConnectOptions::new()
        .name("libris")
        .connection_timeout(timeout)
        // The client retries once on its own, to ride out a blip; after that
        // it gives up (dropping what it buffered) and the next attempt
        // connects anew, so a message never lands long after its attempt
        // reported a failure.
        .max_reconnects(1);
    if !endpoint.user.is_empty() {
        options = options.user_and_password(endpoint.user.clone(), endpoint.password.clone());
    }
    let client = options
        .connect(endpoint.address())
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut jetstream = jetstream::new(client.clone());
    jetstream.set_timeout(timeout);
    tracing::debug!(broker = %endpoint.describe(), "connected to NATS");
    Ok(NatsLink {
        client,
        jetstream,
        covered: Mutex::new(HashSet::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_the_message_id_and_let_libris_headers_win() {
        let message = SignedMessage {
            id: "id-1".to_owned(),
            timestamp: 1,
            custom_headers: vec![
                ("X-Tenant".to_owned(), "42".to_owned()),
                ("X-Event-Type".to_owned(), "forged".to_owned()),
            ],
            libris_headers: [
                ("webhook-id", "id-1".to_owned()),
                ("webhook-timestamp", "1".to_owned()),
                ("webhook-signature", "v1,x".to_owned()),
                ("X-Webhook-Signature", "sha256=00".to_owned()),
                ("X-Event-Type", "book.created".to_owned()),
            ],
        };
        let headers = headers(&message).unwrap();
        assert_eq!(headers.get("X-Tenant").map(|v| v.as_str()), Some("42"));
        assert_eq!(
            headers
                .get_all("X-Event-Type")
                .map(|v| v.as_str())
                .collect::<Vec<_>>(),
            vec!["book.created"]
        );
        assert_eq!(headers.get("Nats-Msg-Id").map(|v| v.as_str()), Some("id-1"));
    }

    #[test]
    fn headers_nats_cannot_carry_are_refused() {
        let mut message = SignedMessage {
            id: "id".to_owned(),
            timestamp: 1,
            custom_headers: vec![("Bad:Name".to_owned(), "v".to_owned())],
            libris_headers: Default::default(),
        };
        assert!(headers(&message).unwrap_err().contains("Bad:Name"));
        message.custom_headers = vec![("X-Ok".to_owned(), "a\r\nb".to_owned())];
        assert!(headers(&message).unwrap_err().contains("X-Ok"));
    }
}
