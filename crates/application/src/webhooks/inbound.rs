//! Webhooks other systems send to Libris (`POST /api/webhooks/receive/`):
//! authenticated with the inbound secret in either signature scheme, judged
//! fresh, stored once per message id, and handled by type.

use chrono::{DateTime, Utc};
use libris_domain::inbound::{InboundEvent, InboundStatus, SignatureScheme};
use serde_json::{Map, Value};

use super::ports::InboundVerifier;
use crate::access::Admin;
use crate::pagination::{Page, Paged};
use crate::ports::{Clock, InboundFilter, NewInboundEvent, Store, StoreError, StoreExt};

/// How far `webhook-timestamp` may be from now, either way: the Standard
/// Webhooks tolerance. An older request is a replay, or too late to trust.
pub const TIMESTAMP_TOLERANCE_SECONDS: i64 = 5 * 60;

/// Message ids are the senders', stored and indexed; this bounds them.
pub const MAX_MESSAGE_ID_CHARS: usize = 255;

/// Event types are stored and filtered on; this bounds them.
pub const MAX_EVENT_TYPE_CHARS: usize = 255;

/// The ping Libris's own test endpoint sends: there is nothing to do with it
/// but say it arrived.
const PING_EVENT: &str = "webhook.test";

/// What the rules look at in an inbound request: the raw body (signatures
/// cover its exact bytes) and the header values as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct InboundRequest<'a> {
    pub body: &'a [u8],
    pub webhook_id: Option<&'a str>,
    pub webhook_timestamp: Option<&'a str>,
    pub webhook_signature: Option<&'a str>,
    pub x_webhook_signature: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("inbound webhooks are not configured on this server (LIBRIS_INBOUND_SECRET)")]
    NotConfigured,
    #[error(
        "no signature: send webhook-id, webhook-timestamp and webhook-signature, or X-Webhook-Signature"
    )]
    MissingSignature,
    #[error("the signature does not match the body")]
    InvalidSignature,
    #[error("webhook-timestamp must be a Unix time in seconds")]
    InvalidTimestamp,
    #[error(
        "webhook-timestamp is {0} s from the server's time; at most {TIMESTAMP_TOLERANCE_SECONDS} s is accepted"
    )]
    StaleTimestamp(i64),
    #[error("the body must be a JSON object")]
    InvalidBody,
    #[error(
        "a message id is required to receive a message once: webhook-id (signed with webhook-signature) or an `id` in the body, at most {MAX_MESSAGE_ID_CHARS} printable characters"
    )]
    MissingMessageId,
    #[error(
        "the body's `event` or `type` must be at most {MAX_EVENT_TYPE_CHARS} printable characters"
    )]
    InvalidEventType,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Receipt {
    Accepted(InboundEvent),
    /// A message with this id was accepted before; nothing was done again.
    Duplicate {
        message_id: String,
    },
}

/// Authenticates, checks freshness, then stores and handles the message
/// unless its id was seen before.
pub fn receive(
    store: &dyn Store,
    clock: &dyn Clock,
    verifier: Option<&dyn InboundVerifier>,
    request: &InboundRequest<'_>,
) -> Result<Receipt, ReceiveError> {
    let verifier = verifier.ok_or(ReceiveError::NotConfigured)?;
    // The signature comes first: a caller who cannot sign learns nothing
    // else about what a valid request looks like.
    let scheme = authenticate(verifier, request)?;
    let now = clock.now();
    check_freshness(request.webhook_timestamp, now)?;
    let payload: Map<String, Value> =
        serde_json::from_slice(request.body).map_err(|_| ReceiveError::InvalidBody)?;
    let message_id = message_id(scheme, request, &payload)?;
    let event = event_type(&payload)?;
    let new = NewInboundEvent {
        status: handling(event.as_deref()),
        message_id,
        event,
        scheme,
        payload: Value::Object(payload),
        received_at: now,
    };
    let stored = store.write_tx(|tx| {
        if tx.inbound().inbound_message_exists(&new.message_id)? {
            return Ok(None);
        }
        tx.inbound().insert_inbound_event(&new).map(Some)
    });
    match stored {
        Ok(Some(event)) => {
            tracing::info!(
                message_id = %event.message_id,
                event = event.event.as_deref().unwrap_or(""),
                status = event.status.as_str(),
                "inbound webhook received"
            );
            Ok(Receipt::Accepted(event))
        }
        // Seen before, or stored meanwhile by a concurrent twin of this
        // request that won the unique index.
        Ok(None) | Err(StoreError::UniqueViolation(_)) => {
            tracing::info!(message_id = %new.message_id, "inbound webhook already received");
            Ok(Receipt::Duplicate {
                message_id: new.message_id,
            })
        }
        Err(e) => Err(e.into()),
    }
}

pub fn list_inbound_events(
    store: &dyn Store,
    _admin: &Admin,
    filter: &InboundFilter,
    page: Page,
) -> Result<Paged<InboundEvent>, StoreError> {
    store.read_tx(|tx| tx.inbound().list_inbound_events(filter, page))
}

/// Standard Webhooks when `webhook-signature` is present (it signs the id and
/// timestamp too), else `X-Webhook-Signature`.
fn authenticate(
    verifier: &dyn InboundVerifier,
    request: &InboundRequest<'_>,
) -> Result<SignatureScheme, ReceiveError> {
    if let Some(signature) = request.webhook_signature {
        let (Some(id), Some(timestamp)) = (
            request.webhook_id,
            request.webhook_timestamp.and_then(parse_timestamp),
        ) else {
            return Err(ReceiveError::InvalidSignature);
        };
        return if verifier.verify_standard(id, timestamp, request.body, signature) {
            Ok(SignatureScheme::StandardWebhooks)
        } else {
            Err(ReceiveError::InvalidSignature)
        };
    }
    match request.x_webhook_signature {
        Some(signature) if verifier.verify_hex(request.body, signature) => Ok(SignatureScheme::Hex),
        Some(_) => Err(ReceiveError::InvalidSignature),
        None => Err(ReceiveError::MissingSignature),
    }
}

/// A `webhook-timestamp` must be within the tolerance. Standard Webhooks signs
/// it, so there it stops replays. `X-Webhook-Signature` does not cover it: a
/// sender that sends one still has it honoured, but replays of that scheme are
/// stopped only by the signed body's `id`.
fn check_freshness(timestamp: Option<&str>, now: DateTime<Utc>) -> Result<(), ReceiveError> {
    let Some(raw) = timestamp else {
        return Ok(());
    };
    let sent = parse_timestamp(raw).ok_or(ReceiveError::InvalidTimestamp)?;
    let skew = now.timestamp().saturating_sub(sent).saturating_abs();
    if skew > TIMESTAMP_TOLERANCE_SECONDS {
        return Err(ReceiveError::StaleTimestamp(skew));
    }
    Ok(())
}

fn parse_timestamp(raw: &str) -> Option<i64> {
    raw.trim().parse().ok()
}

/// Only what the signature covers may name the message, or a replay under a
/// fresh header would pass as new: `webhook-id` under Standard Webhooks,
/// the body's `id` under `X-Webhook-Signature` (which signs the body alone).
fn message_id(
    scheme: SignatureScheme,
    request: &InboundRequest<'_>,
    payload: &Map<String, Value>,
) -> Result<String, ReceiveError> {
    let id = match (scheme, request.webhook_id, payload.get("id")) {
        (SignatureScheme::StandardWebhooks, Some(header), _) => header.trim().to_owned(),
        (SignatureScheme::Hex, _, Some(Value::String(id))) => id.trim().to_owned(),
        (SignatureScheme::Hex, _, Some(Value::Number(id))) => id.to_string(),
        _ => String::new(),
    };
    if !is_stored_name(&id, MAX_MESSAGE_ID_CHARS) {
        return Err(ReceiveError::MissingMessageId);
    }
    Ok(id)
}

/// The body's `event` (Libris's shape), else its `type` (the Standard
/// Webhooks convention): the signed body names the type, never a header.
fn event_type(payload: &Map<String, Value>) -> Result<Option<String>, ReceiveError> {
    let Some(name) = ["event", "type"]
        .into_iter()
        .find_map(|key| payload.get(key).and_then(Value::as_str))
        .map(str::trim)
        .filter(|name| !name.is_empty())
    else {
        return Ok(None);
    };
    if !is_stored_name(name, MAX_EVENT_TYPE_CHARS) {
        return Err(ReceiveError::InvalidEventType);
    }
    Ok(Some(name.to_owned()))
}

/// Non-empty, bounded and printable: it goes into an indexed text column
/// (PostgreSQL refuses NUL) and into logs.
fn is_stored_name(name: &str, max_chars: usize) -> bool {
    !name.is_empty() && name.chars().count() <= max_chars && !name.chars().any(char::is_control)
}

/// Handlers by type. Only the ping is known today, and handling it is
/// acknowledging it; a type nobody handles is stored and acknowledged, so a
/// handler added later can still find it.
fn handling(event: Option<&str>) -> InboundStatus {
    match event {
        Some(PING_EVENT) => InboundStatus::Processed,
        _ => InboundStatus::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{at, fixed_clock, MockStore};
    use crate::webhooks::ports::MockInboundVerifier;

    const BODY: &[u8] =
        br#"{"id":"evt_1","event":"webhook.test","timestamp":"2026-01-01T00:00:00Z","data":{}}"#;

    fn now() -> i64 {
        at(0).timestamp()
    }

    fn accepting_verifier() -> MockInboundVerifier {
        let mut verifier = MockInboundVerifier::new();
        verifier.expect_verify_hex().returning(|_, _| true);
        verifier
            .expect_verify_standard()
            .returning(|_, _, _, _| true);
        verifier
    }

    fn stored(new: &NewInboundEvent) -> InboundEvent {
        InboundEvent {
            id: Uuid::from_u128(9),
            message_id: new.message_id.clone(),
            event: new.event.clone(),
            scheme: new.scheme,
            status: new.status,
            payload: new.payload.clone(),
            received_at: new.received_at,
        }
    }

    /// A transaction where no message was seen before and the insert
    /// checks what it is given.
    fn fresh_tx(check: impl Fn(&NewInboundEvent) -> bool + Send + 'static) -> MockTx {
        let mut tx = MockTx::new();
        tx.inbound
            .expect_inbound_message_exists()
            .returning(|_| Ok(false));
        tx.inbound
            .expect_insert_inbound_event()
            .withf(move |new| check(new))
            .times(1)
            .returning(|new| Ok(stored(new)));
        tx
    }

    /// A transaction that must not be touched.
    fn untouched_store() -> MockStore {
        MockStore::new(MockTx::new())
    }

    fn hex_request(body: &[u8]) -> InboundRequest<'_> {
        InboundRequest {
            body,
            x_webhook_signature: Some("sha256=ab"),
            ..InboundRequest::default()
        }
    }

    fn standard_request<'a>(body: &'a [u8], timestamp: &'a str) -> InboundRequest<'a> {
        InboundRequest {
            body,
            webhook_id: Some("msg_1"),
            webhook_timestamp: Some(timestamp),
            webhook_signature: Some("v1,abc"),
            ..InboundRequest::default()
        }
    }

    fn receive_with(
        store: &MockStore,
        verifier: &MockInboundVerifier,
        request: &InboundRequest<'_>,
    ) -> Result<Receipt, ReceiveError> {
        receive(store, &fixed_clock(), Some(verifier), request)
    }

    #[test]
    fn a_hex_signed_ping_is_stored_as_processed_under_the_body_id() {
        let store = MockStore::new(fresh_tx(|new| {
            new.message_id == "evt_1"
                && new.event.as_deref() == Some("webhook.test")
                && new.scheme == SignatureScheme::Hex
                && new.status == InboundStatus::Processed
                && new.received_at == at(0)
                && new.payload["data"] == json!({})
        }));
        let receipt = receive_with(&store, &accepting_verifier(), &hex_request(BODY)).unwrap();
        assert!(matches!(receipt, Receipt::Accepted(event) if event.message_id == "evt_1"));
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn a_standard_signed_message_is_checked_with_its_id_timestamp_and_body() {
        let mut verifier = MockInboundVerifier::new();
        let timestamp = now();
        verifier
            .expect_verify_standard()
            .withf(move |id, ts, body, signature| {
                id == "msg_1" && *ts == timestamp && body == BODY && signature == "v1,abc"
            })
            .times(1)
            .returning(|_, _, _, _| true);
        let store = MockStore::new(fresh_tx(|new| {
            new.message_id == "msg_1" && new.scheme == SignatureScheme::StandardWebhooks
        }));
        let stamp = now().to_string();
        let receipt = receive_with(&store, &verifier, &standard_request(BODY, &stamp)).unwrap();
        assert!(matches!(receipt, Receipt::Accepted(event) if event.message_id == "msg_1"));
    }

    #[test]
    fn an_unknown_type_is_stored_and_ignored() {
        let body = br#"{"type":"invoice.paid","data":{"amount":3}}"#;
        let store = MockStore::new(fresh_tx(|new| {
            new.event.as_deref() == Some("invoice.paid") && new.status == InboundStatus::Ignored
        }));
        let stamp = now().to_string();
        let receipt = receive_with(
            &store,
            &accepting_verifier(),
            &standard_request(body, &stamp),
        )
        .unwrap();
        assert!(
            matches!(receipt, Receipt::Accepted(event) if event.status == InboundStatus::Ignored)
        );
    }

    #[test]
    fn a_message_whose_body_names_no_type_is_stored_without_one() {
        let body = br#"{"id":7}"#;
        let store = MockStore::new(fresh_tx(|new| {
            new.message_id == "7" && new.event.is_none() && new.status == InboundStatus::Ignored
        }));
        receive_with(&store, &accepting_verifier(), &hex_request(body)).unwrap();
    }

    #[test]
    fn a_hex_signed_message_is_named_by_its_signed_body_not_by_unsigned_headers() {
        // X-Webhook-Signature covers the body alone: a replay with a fresh
        // webhook-id must still be known by the body's id.
        let store = MockStore::new(fresh_tx(|new| new.message_id == "evt_1"));
        let replay = InboundRequest {
            webhook_id: Some("fresh-id-chosen-by-a-replayer"),
            ..hex_request(BODY)
        };
        receive_with(&store, &accepting_verifier(), &replay).unwrap();

        let no_body_id = InboundRequest {
            webhook_id: Some("msg_1"),
            ..hex_request(br#"{"event":"webhook.test"}"#)
        };
        let result = receive_with(&untouched_store(), &accepting_verifier(), &no_body_id);
        assert!(matches!(result, Err(ReceiveError::MissingMessageId)));
    }

    #[test]
    fn ids_and_types_with_control_characters_are_refused() {
        let bad_id = br#"{"id":"evt\u0000","event":"webhook.test"}"#;
        let result = receive_with(
            &untouched_store(),
            &accepting_verifier(),
            &hex_request(bad_id),
        );
        assert!(
            matches!(result, Err(ReceiveError::MissingMessageId)),
            "{result:?}"
        );

        let long_type = format!(
            r#"{{"id":"evt_1","event":"{}"}}"#,
            "e".repeat(MAX_EVENT_TYPE_CHARS + 1)
        );
        for body in [
            &br#"{"id":"evt_1","event":"book\u0007created"}"#[..],
            long_type.as_bytes(),
        ] {
            let result = receive_with(
                &untouched_store(),
                &accepting_verifier(),
                &hex_request(body),
            );
            assert!(
                matches!(result, Err(ReceiveError::InvalidEventType)),
                "{result:?}"
            );
        }
    }

    #[test]
    fn a_repeated_message_id_is_acknowledged_without_being_stored_again() {
        let mut tx = MockTx::new();
        tx.inbound
            .expect_inbound_message_exists()
            .withf(|id| id == "evt_1")
            .returning(|_| Ok(true));
        tx.inbound.expect_insert_inbound_event().never();
        let store = MockStore::new(tx);
        let receipt = receive_with(&store, &accepting_verifier(), &hex_request(BODY)).unwrap();
        assert_eq!(
            receipt,
            Receipt::Duplicate {
                message_id: "evt_1".into()
            }
        );
    }

    #[test]
    fn a_concurrent_twin_that_won_the_unique_index_makes_a_duplicate() {
        let mut tx = MockTx::new();
        tx.inbound
            .expect_inbound_message_exists()
            .returning(|_| Ok(false));
        tx.inbound.expect_insert_inbound_event().returning(|_| {
            Err(StoreError::UniqueViolation(
                "inbound_events.message_id".into(),
            ))
        });
        let store = MockStore::new(tx);
        let receipt = receive_with(&store, &accepting_verifier(), &hex_request(BODY)).unwrap();
        assert!(matches!(receipt, Receipt::Duplicate { .. }));
        assert_eq!(store.rollbacks(), 1);
    }

    #[test]
    fn without_an_inbound_secret_nothing_is_accepted() {
        let store = untouched_store();
        let result = receive(&store, &fixed_clock(), None, &hex_request(BODY));
        assert!(matches!(result, Err(ReceiveError::NotConfigured)));
    }

    #[test]
    fn an_unsigned_request_is_refused() {
        let request = InboundRequest {
            body: BODY,
            webhook_id: Some("msg_1"),
            ..InboundRequest::default()
        };
        let result = receive_with(&untouched_store(), &MockInboundVerifier::new(), &request);
        assert!(matches!(result, Err(ReceiveError::MissingSignature)));
    }

    #[test]
    fn a_wrong_hex_signature_is_refused() {
        let mut verifier = MockInboundVerifier::new();
        verifier.expect_verify_hex().returning(|_, _| false);
        let result = receive_with(&untouched_store(), &verifier, &hex_request(BODY));
        assert!(matches!(result, Err(ReceiveError::InvalidSignature)));
    }

    #[test]
    fn a_wrong_standard_signature_is_refused_even_when_a_hex_one_would_pass() {
        let mut verifier = accepting_verifier();
        verifier.checkpoint();
        verifier.expect_verify_hex().never();
        verifier
            .expect_verify_standard()
            .returning(|_, _, _, _| false);
        let stamp = now().to_string();
        let request = InboundRequest {
            x_webhook_signature: Some("sha256=ab"),
            ..standard_request(BODY, &stamp)
        };
        let result = receive_with(&untouched_store(), &verifier, &request);
        assert!(matches!(result, Err(ReceiveError::InvalidSignature)));
    }

    #[test]
    fn a_standard_signature_without_its_id_or_a_numeric_timestamp_cannot_verify() {
        let verifier = MockInboundVerifier::new();
        let no_id = InboundRequest {
            webhook_id: None,
            ..standard_request(BODY, "1767225600")
        };
        let bad_time = standard_request(BODY, "yesterday");
        for request in [no_id, bad_time] {
            let result = receive_with(&untouched_store(), &verifier, &request);
            assert!(matches!(result, Err(ReceiveError::InvalidSignature)));
        }
    }

    #[test]
    fn a_timestamp_more_than_five_minutes_away_is_a_replay() {
        for offset in [-301, 301] {
            let stamp = (now() + offset).to_string();
            let result = receive_with(
                &untouched_store(),
                &accepting_verifier(),
                &standard_request(BODY, &stamp),
            );
            assert!(
                matches!(result, Err(ReceiveError::StaleTimestamp(301))),
                "offset {offset}: {result:?}"
            );
        }
    }

    #[test]
    fn a_timestamp_at_the_edge_of_the_tolerance_is_fresh() {
        let stamp = (now() - 300).to_string();
        let store = MockStore::new(fresh_tx(|_| true));
        let receipt = receive_with(
            &store,
            &accepting_verifier(),
            &standard_request(BODY, &stamp),
        )
        .unwrap();
        assert!(matches!(receipt, Receipt::Accepted(_)));
    }

    #[test]
    fn a_hex_signed_request_with_a_stale_or_garbled_timestamp_header_is_refused() {
        let stale = InboundRequest {
            webhook_timestamp: Some("1"),
            ..hex_request(BODY)
        };
        let garbled = InboundRequest {
            webhook_timestamp: Some("noon"),
            ..hex_request(BODY)
        };
        let verifier = accepting_verifier();
        assert!(matches!(
            receive_with(&untouched_store(), &verifier, &stale),
            Err(ReceiveError::StaleTimestamp(_))
        ));
        assert!(matches!(
            receive_with(&untouched_store(), &verifier, &garbled),
            Err(ReceiveError::InvalidTimestamp)
        ));
    }

    #[test]
    fn a_signed_body_that_is_not_a_json_object_is_refused() {
        for body in [&b"not json"[..], b"[1,2]", b"\"text\""] {
            let result = receive_with(
                &untouched_store(),
                &accepting_verifier(),
                &hex_request(body),
            );
            assert!(matches!(result, Err(ReceiveError::InvalidBody)));
        }
    }

    #[test]
    fn a_message_without_a_usable_id_is_refused() {
        let long = format!(r#"{{"id":"{}"}}"#, "x".repeat(MAX_MESSAGE_ID_CHARS + 1));
        for body in [
            &b"{}"[..],
            br#"{"id":""}"#,
            br#"{"id":null}"#,
            long.as_bytes(),
        ] {
            let result = receive_with(
                &untouched_store(),
                &accepting_verifier(),
                &hex_request(body),
            );
            assert!(
                matches!(result, Err(ReceiveError::MissingMessageId)),
                "{body:?}"
            );
        }
    }
}
