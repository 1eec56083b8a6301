//! Webhook subscriptions, their deliveries and the attempts at each.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::events::EventPattern;

pub type WebhookId = Uuid;
pub type DeliveryId = i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<EventPattern>,
    pub secret: String,
    pub is_active: bool,
    /// Extra headers sent with every delivery, in the order given.
    pub headers: Vec<(String, String)>,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Failed attempts since the last success.
    pub failure_count: i64,
    /// When the current run of failures began; `None` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
}

impl Webhook {
    /// Whether this subscription receives `event`, recorded at `occurred_at`:
    /// it must be active, listen to the name, and have existed already.
    pub fn wants(&self, event: &str, occurred_at: DateTime<Utc>) -> bool {
        self.is_active
            && self.created_at <= occurred_at
            && self.events.iter().any(|p| p.matches(event))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Due, or waiting for its next attempt.
    Pending,
    Delivered,
    /// Terminal without retries: a 4xx other than 408/429, a 410, or a
    /// target refused at send time.
    Failed,
    /// Every attempt of the schedule used.
    Dead,
}

impl DeliveryStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Delivered, Self::Failed, Self::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: Uuid,
    pub event: String,
    pub status: DeliveryStatus,
    /// Attempts made, over the delivery's whole life.
    pub attempts: i64,
    /// Attempts made when it was last queued by hand: the retry schedule
    /// counts from there.
    pub retry_base: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One attempt at one delivery, as the attempt log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptLog {
    pub id: i64,
    pub webhook: WebhookId,
    pub delivery_id: DeliveryId,
    pub event_id: Uuid,
    pub event: String,
    pub attempt: i64,
    pub payload: String,
    pub response_status: Option<i64>,
    pub response_body: String,
    pub success: bool,
    pub error_message: Option<String>,
    pub duration_ms: i64,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn webhook(patterns: &[&str], active: bool) -> Webhook {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Webhook {
            id: Uuid::nil(),
            url: "https://example.com/hook".into(),
            events: patterns
                .iter()
                .map(|p| EventPattern::parse(p).unwrap())
                .collect(),
            secret: "my-secret-key".into(),
            is_active: active,
            headers: vec![],
            description: String::new(),
            created_at: at,
            updated_at: at,
            failure_count: 0,
            failing_since: None,
            disabled_reason: None,
        }
    }

    #[test]
    fn a_webhook_wants_matching_events_after_its_creation_while_active() {
        let hook = webhook(&["book.created", "author.*"], true);
        let later = hook.created_at + chrono::Duration::seconds(1);
        let earlier = hook.created_at - chrono::Duration::seconds(1);
        assert!(hook.wants("book.created", later));
        assert!(hook.wants("author.deleted", later));
        assert!(!hook.wants("book.updated", later));
        assert!(
            !hook.wants("book.created", earlier),
            "events before the subscription"
        );
        assert!(
            !webhook(&["*"], false).wants("book.created", later),
            "inactive"
        );
    }

    #[test]
    fn statuses_round_trip() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeliveryStatus::parse("lost"), None);
    }
}
