//! Webhooks other systems send to Libris: each accepted one is stored once,
//! keyed by the sender's message id, with what was done with it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Which of the two signature schemes Libris speaks authenticated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
    StandardWebhooks,
    /// `X-Webhook-Signature: sha256=<hex>` of the body alone.
    Hex,
}

impl SignatureScheme {
    pub const ALL: [Self; 2] = [Self::StandardWebhooks, Self::Hex];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard-webhooks",
            Self::Hex => "x-webhook-signature",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// What handling an accepted inbound event came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundStatus {
    /// A handler for its type ran.
    Processed,
    /// No handler knows its type: stored and acknowledged, nothing more.
    Ignored,
}

impl InboundStatus {
    pub const ALL: [Self; 2] = [Self::Processed, Self::Ignored];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Ignored => "ignored",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboundEvent {
    pub id: Uuid,
    /// The sender's id of the message, as signed (`webhook-id` under
    /// Standard Webhooks, the body's `id` under `X-Webhook-Signature`): a
    /// message with an id already stored is not handled again.
    pub message_id: String,
    /// The body's `event` (Libris's shape) or `type` (Standard Webhooks');
    /// `None` when the body names none.
    pub event: Option<String>,
    pub scheme: SignatureScheme,
    pub status: InboundStatus,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
}
