//! Webhook fan-out: the event log's consumer that turns each event into one
//! delivery per active subscription that wants it.

use chrono::{DateTime, Utc};
use libris_domain::events::{EventPattern, RecordedEvent};

use crate::engine::Consumer;
use crate::ports::{NewDelivery, StoreError, Tx};

/// Listens to every event: subscriptions choose theirs at fan-out.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookFanOut;

impl WebhookFanOut {
    /// The name its dispatch marks are kept under (the migration that
    /// introduced per-consumer marks carried undispatched events over to it).
    pub const NAME: &'static str = "webhooks";
}

impl Consumer for WebhookFanOut {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn patterns(&self) -> Vec<EventPattern> {
        vec![EventPattern::Everything]
    }

    fn handle(
        &self,
        tx: &mut dyn Tx,
        events: &[RecordedEvent],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let webhooks = tx.subscriptions().active_webhooks()?;
        let deliveries: Vec<NewDelivery> = events
            .iter()
            .flat_map(|event| {
                webhooks
                    .iter()
                    .filter(|w| w.wants(event))
                    .map(|w| NewDelivery {
                        webhook_id: w.id,
                        event_id: event.id,
                        event: event.event.clone(),
                        next_attempt_at: now,
                        lease_until: None,
                        created_at: now,
                    })
            })
            .collect();
        if !deliveries.is_empty() {
            tx.deliveries().insert_deliveries(&deliveries)?;
        }
        Ok(deliveries.len())
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{at, recorded, webhook};

    fn event(name: &str, seconds: i64) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::from_u128(seconds as u128 + 1),
            timestamp: at(seconds),
            ..recorded(name)
        }
    }

    #[test]
    fn one_delivery_per_matching_active_subscription_that_existed_already() {
        let mut tx = MockTx::new();
        tx.subscriptions.expect_active_webhooks().returning(|| {
            let books = webhook(
                "https://books.example/",
                vec![EventPattern::parse("book.*").unwrap()],
            );
            let mut all = webhook("https://all.example/", vec![EventPattern::Everything]);
            all.id = Uuid::from_u128(2);
            let mut late = webhook("https://late.example/", vec![EventPattern::Everything]);
            late.created_at = at(100);
            Ok(vec![books, all, late])
        });
        tx.deliveries
            .expect_insert_deliveries()
            .withf(|d| {
                let pairs: Vec<_> = d
                    .iter()
                    .map(|d| (d.event.as_str(), d.webhook_id.as_u128()))
                    .collect();
                pairs
                    == [
                        ("book.created", 0),
                        ("book.created", 2),
                        ("author.created", 2),
                    ]
            })
            .times(1)
            .returning(|_| Ok(vec![]));
        let events = [event("book.created", 10), event("author.created", 11)];
        assert_eq!(WebhookFanOut.handle(&mut tx, &events, at(20)).unwrap(), 3);
    }

    #[test]
    fn events_nobody_wants_queue_nothing() {
        let mut tx = MockTx::new();
        tx.subscriptions.expect_active_webhooks().returning(|| {
            Ok(vec![webhook(
                "https://books.example/",
                vec![EventPattern::parse("book.*").unwrap()],
            )])
        });
        tx.deliveries.expect_insert_deliveries().never();
        let events = [event("author.created", 10)];
        assert_eq!(WebhookFanOut.handle(&mut tx, &events, at(20)).unwrap(), 0);
    }
}
