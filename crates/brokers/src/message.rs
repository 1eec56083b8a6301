//! What both brokers put on a message (the same signed headers a webhook
//! request carries, so a consumer verifies it the same way) and how an
//! attempt is reported.

use std::time::Instant;

use chrono::{DateTime, Utc};
use libris_application::webhooks::OutgoingDelivery;
use libris_domain::delivery::{AttemptReport, Outcome};
use libris_webhooks::SigningKey;

pub(crate) const HEADER_ID: &str = "webhook-id";
pub(crate) const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub(crate) const HEADER_SIGNATURE: &str = "webhook-signature";
pub(crate) const HEADER_HEX_SIGNATURE: &str = "X-Webhook-Signature";
pub(crate) const HEADER_EVENT_TYPE: &str = "X-Event-Type";

/// The response body kept in a report, as for webhooks.
const MAX_RESPONSE_BODY: usize = 4096;

/// One attempt's message: the subscription's custom headers, then Libris's
/// own, which come last so that on a broker where a later header replaces an
/// earlier one of the same name, ours win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedMessage {
    /// The event id, hyphenated: `webhook-id`, the AMQP `message_id` and the
    /// NATS `Nats-Msg-Id`.
    pub id: String,
    pub timestamp: i64,
    pub custom_headers: Vec<(String, String)>,
    pub libris_headers: [(&'static str, String); 5],
}

impl SignedMessage {
    /// Signs `delivery` for the attempt at `attempt_at`. A secret that cannot
    /// key a signature is an error: it was checked when saved, so it will
    /// not fix itself.
    pub fn sign(delivery: &OutgoingDelivery, attempt_at: DateTime<Utc>) -> Result<Self, String> {
        let key = SigningKey::from_secret(&delivery.secret)
            .map_err(|e| format!("invalid subscription secret: {e}"))?;
        let id = delivery.event_id.hyphenated().to_string();
        let timestamp = attempt_at.timestamp();
        let libris_headers = [
            (HEADER_ID, id.clone()),
            (HEADER_TIMESTAMP, timestamp.to_string()),
            (
                HEADER_SIGNATURE,
                key.standard_signature(&id, timestamp, &delivery.body),
            ),
            // `sha256=<hex>`: the prefix comes from the signer.
            (HEADER_HEX_SIGNATURE, key.hex_signature(&delivery.body)),
            (HEADER_EVENT_TYPE, delivery.event.clone()),
        ];
        Ok(Self {
            id,
            timestamp,
            custom_headers: delivery.headers.clone(),
            libris_headers,
        })
    }

    /// Every header in the order they are set: custom first, Libris's last.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.custom_headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(self.libris_headers.iter().map(|(n, v)| (*n, v.as_str())))
    }
}

/// Builds an attempt's report; the clock starts with it.
pub(crate) struct Reporter {
    started: Instant,
}

impl Reporter {
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    pub fn delivered(&self, response_body: String) -> AttemptReport {
        self.report(None, response_body, None, Outcome::Delivered)
    }

    /// Worth another attempt: every broker-side or network problem.
    pub fn retry(
        &self,
        status: Option<u16>,
        response_body: String,
        error: String,
    ) -> AttemptReport {
        self.report(
            status,
            response_body,
            Some(error),
            Outcome::Retry { after: None },
        )
    }

    /// Refused before sending: a bad URL, secret or header.
    pub fn refused(&self, error: String) -> AttemptReport {
        self.report(None, String::new(), Some(error), Outcome::Refused)
    }

    fn report(
        &self,
        status: Option<u16>,
        mut response_body: String,
        error: Option<String>,
        outcome: Outcome,
    ) -> AttemptReport {
        truncate(&mut response_body, MAX_RESPONSE_BODY);
        AttemptReport {
            status,
            response_body,
            error,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            outcome,
        }
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn delivery(secret: &str) -> OutgoingDelivery {
        OutgoingDelivery {
            method: libris_domain::webhooks::HttpMethod::Post,
            content_type: "application/json".to_owned(),
            unsendable: None,
            public_only: false,
            url: "amqp://h".to_owned(),
            secret: secret.to_owned(),
            headers: vec![("X-Tenant".to_owned(), "42".to_owned())],
            event_id: "6c0b1c9e-6a53-4d4e-9a6b-3f3a2d2f1a10".parse().unwrap(),
            event: "book.created".to_owned(),
            body: br#"{"id":1}"#.to_vec(),
        }
    }

    #[test]
    fn signs_with_the_webhook_signer_and_puts_libris_headers_last() {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let message = SignedMessage::sign(&delivery("whsec_c2VjcmV0LWtleQ=="), at).unwrap();
        let key = SigningKey::from_secret("whsec_c2VjcmV0LWtleQ==").unwrap();
        let headers: Vec<(&str, &str)> = message.headers().collect();
        let id = "6c0b1c9e-6a53-4d4e-9a6b-3f3a2d2f1a10";
        let standard = key.standard_signature(id, 1_700_000_000, br#"{"id":1}"#);
        let hex = key.hex_signature(br#"{"id":1}"#);
        assert_eq!(
            headers,
            vec![
                ("X-Tenant", "42"),
                ("webhook-id", id),
                ("webhook-timestamp", "1700000000"),
                ("webhook-signature", standard.as_str()),
                ("X-Webhook-Signature", hex.as_str()),
                ("X-Event-Type", "book.created"),
            ]
        );
        assert!(hex.starts_with("sha256="), "{hex}");
        assert_eq!(message.id, id);
    }

    #[test]
    fn an_unusable_secret_is_an_error() {
        let error = SignedMessage::sign(&delivery("short"), Utc::now()).unwrap_err();
        assert!(error.starts_with("invalid subscription secret"), "{error}");
    }

    #[test]
    fn reports_keep_at_most_4_kib_of_response() {
        let report = Reporter::start().retry(Some(312), "é".repeat(3000), "x".to_owned());
        assert!(report.response_body.len() <= 4096);
        assert_eq!(report.outcome, Outcome::Retry { after: None });
        assert_eq!(report.status, Some(312));
    }
}
