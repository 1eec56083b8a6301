//! Webhook subscriptions, their deliveries and the attempts at each.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::UserId;
pub use crate::delivery::DeliveryStatus;
use crate::delivery::{Outcome, Progress};
use crate::events::{EventPattern, RecordedEvent};
use crate::payload::{
    render_body, ContentType, EventView, Filter, PayloadFormat, RenderError, Template,
};

pub type WebhookId = Uuid;
pub type DeliveryId = i64;

/// The HTTP methods a webhook may send with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpMethod {
    #[default]
    Post,
    Put,
    Patch,
}

impl HttpMethod {
    pub const ALL: [Self; 3] = [Self::Post, Self::Put, Self::Patch];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw)
    }
}

/// How a webhook shapes what it sends, and which of its events it takes
/// (the hook libraries' per-hook method, content type, payload template and
/// conditions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    pub method: HttpMethod,
    pub content_type: ContentType,
    pub payload_format: PayloadFormat,
    /// Parsed against `content_type`; only with [`PayloadFormat::Template`].
    pub payload_template: Option<Template>,
    /// Conditions every event it receives must meet; empty: none.
    pub filter: Filter,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            method: HttpMethod::Post,
            content_type: ContentType::json(),
            payload_format: PayloadFormat::Libris,
            payload_template: None,
            filter: Filter::default(),
        }
    }
}

impl WebhookOptions {
    /// The bytes this webhook sends for `event`: the same every time, so a
    /// redelivery sends what the first attempt did.
    pub fn body(&self, event: &RecordedEvent, webhook: &Webhook) -> Result<Vec<u8>, RenderError> {
        render_body(
            self.payload_format,
            self.payload_template.as_ref(),
            &EventView::new(event, webhook),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    /// As anyone may see it: a broker URL's password is masked (see
    /// [`crate::secret_url`]).
    pub url: String,
    /// The password masked in `url`, kept apart and never shown.
    pub url_password: Option<String>,
    /// The member who owns it; `None` for an admin's webhook.
    pub owner: Option<UserId>,
    /// The request's shape and the event filter.
    pub options: WebhookOptions,
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
    /// The URL to send to, password included.
    pub fn target_url(&self) -> String {
        crate::secret_url::with_password(&self.url, self.url_password.as_deref())
    }

    /// Whether this subscription receives `event`: it must be active,
    /// listen to the name, and have existed already; a member's own webhook
    /// receives only the events about that member.
    pub fn wants(&self, event: &RecordedEvent) -> bool {
        self.is_active
            && self.created_at <= event.timestamp
            && self.events.iter().any(|p| p.matches(&event.event))
            && self.owner.is_none_or(|owner| event.about == Some(owner))
            && self.options.filter.matches(&EventView::new(event, self))
    }

    /// Keeps the endpoint's health after an attempt that ended in `outcome`;
    /// answers why the subscription must be disabled now, if it must: it
    /// answered 410 Gone, or every attempt has failed for `disable_after`.
    pub fn record_outcome(
        &mut self,
        outcome: Outcome,
        disable_after: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Option<String> {
        if outcome == Outcome::Delivered {
            self.failure_count = 0;
            self.failing_since = None;
            return None;
        }
        self.failure_count += 1;
        let since = *self.failing_since.get_or_insert(now);
        if !self.is_active {
            return None;
        }
        if outcome == Outcome::Gone {
            return Some("the endpoint answered 410 Gone".into());
        }
        let failing_for = (now - since).to_std().unwrap_or_default();
        (failing_for >= disable_after).then(|| {
            format!(
                "every attempt failed for {} hours ({} failures)",
                failing_for.as_secs() / 3600,
                self.failure_count
            )
        })
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

impl Delivery {
    /// The part of the delivery the queue's state machine moves on.
    pub fn progress(&self) -> Progress {
        Progress {
            status: self.status,
            attempts: self.attempts,
            retry_base: self.retry_base,
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error.clone(),
        }
    }
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
            url_password: None,
            owner: None,
            options: WebhookOptions::default(),
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
        assert!(hook.wants(&event("book.created", later, None)));
        assert!(hook.wants(&event("author.deleted", later, Some(3))));
        assert!(!hook.wants(&event("book.updated", later, None)));
        assert!(
            !hook.wants(&event("book.created", earlier, None)),
            "events before the subscription"
        );
        assert!(
            !webhook(&["*"], false).wants(&event("book.created", later, None)),
            "inactive"
        );
    }

    #[test]
    fn a_members_webhook_wants_only_the_events_about_that_member() {
        let mut hook = webhook(&["*"], true);
        hook.owner = Some(7);
        let later = hook.created_at + chrono::Duration::seconds(1);
        assert!(hook.wants(&event("book.borrowed", later, Some(7))));
        assert!(
            !hook.wants(&event("book.borrowed", later, Some(8))),
            "another member's"
        );
        assert!(
            !hook.wants(&event("book.created", later, None)),
            "about nobody"
        );
    }

    fn event(name: &str, at: DateTime<Utc>, about: Option<UserId>) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::nil(),
            event: name.into(),
            timestamp: at,
            data: serde_json::Value::Null,
            user: None,
            about,
        }
    }

    #[test]
    fn an_endpoint_failing_too_long_is_disabled_and_a_success_heals_it() {
        let mut hook = webhook(&["*"], true);
        let start = hook.created_at;
        let at = |s: i64| start + chrono::Duration::seconds(s);
        let hour = std::time::Duration::from_secs(3600);
        let retry = Outcome::Retry { after: None };
        assert_eq!(hook.record_outcome(retry, hour, at(0)), None);
        assert_eq!((hook.failure_count, hook.failing_since), (1, Some(at(0))));
        assert_eq!(hook.record_outcome(retry, hour, at(1800)), None);
        let reason = hook
            .record_outcome(retry, hour, at(3600))
            .expect("disabled after an hour of failures");
        assert!(reason.contains("3 failures"), "{reason}");
        assert_eq!(
            hook.record_outcome(Outcome::Delivered, hour, at(3601)),
            None
        );
        assert_eq!((hook.failure_count, hook.failing_since), (0, None));
        assert!(hook
            .record_outcome(Outcome::Gone, hour, at(4000))
            .unwrap()
            .contains("410"));
        let mut inactive = webhook(&["*"], false);
        assert_eq!(
            inactive.record_outcome(Outcome::Gone, hour, at(0)),
            None,
            "an inactive endpoint is not disabled again"
        );
    }
}
