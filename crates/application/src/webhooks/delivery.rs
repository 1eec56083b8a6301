//! What admins do with deliveries: read them and their attempts, queue one
//! again, and ping a subscription.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use libris_domain::events::DomainEvent;
use libris_domain::webhooks::{AttemptLog, Delivery, DeliveryId, WebhookId};

use super::fan_out::WebhookFanOut;
use super::ports::OutgoingDelivery;
use super::queue::job;
use super::subscriptions::{managed, WebhookError};
use crate::access::WebhookManager;
use crate::engine::Job;
use crate::events::{record, EventContext};
use crate::pagination::{Page, Paged};
use crate::ports::{
    AttemptLogFilter, Clock, DeliveryFilter, NewDelivery, Store, StoreError, StoreExt,
};

/// An admin's deliveries are all of them; a member's, those of their own
/// webhooks.
pub fn list_deliveries(
    store: &dyn Store,
    manager: &WebhookManager,
    filter: &DeliveryFilter,
    page: Page,
) -> Result<Paged<Delivery>, StoreError> {
    let filter = DeliveryFilter {
        owner: manager.owner(),
        ..filter.clone()
    };
    store.read_tx(|tx| tx.deliveries().list_deliveries(&filter, page))
}

/// As [`list_deliveries`], for attempts.
pub fn list_attempt_logs(
    store: &dyn Store,
    manager: &WebhookManager,
    filter: &AttemptLogFilter,
    page: Page,
) -> Result<Paged<AttemptLog>, StoreError> {
    let filter = AttemptLogFilter {
        owner: manager.owner(),
        ..filter.clone()
    };
    store.read_tx(|tx| tx.deliveries().list_attempt_logs(&filter, page))
}

#[derive(Debug, thiserror::Error)]
pub enum GetDeliveryError {
    /// No such delivery, or one of another member's webhooks.
    #[error("no delivery with this id")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One delivery, if `manager` manages its webhook.
pub fn get_delivery(
    store: &dyn Store,
    manager: &WebhookManager,
    id: DeliveryId,
) -> Result<Delivery, GetDeliveryError> {
    store.read_tx(|tx| {
        let delivery = tx
            .deliveries()
            .delivery(id)?
            .ok_or(GetDeliveryError::NotFound)?;
        if manager.owner().is_some() {
            managed(tx, manager, delivery.webhook_id).map_err(|_| GetDeliveryError::NotFound)?;
        }
        Ok(delivery)
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RedeliverError {
    #[error("no delivery with this id")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Queues a delivery again, due now, whatever its state; the retry schedule
/// starts over from here.
pub fn redeliver(
    store: &dyn Store,
    clock: &dyn Clock,
    manager: &WebhookManager,
    id: DeliveryId,
) -> Result<Delivery, RedeliverError> {
    let now = clock.now();
    // The same statement `libris deliveries send --delivery` runs: what
    // "queued again" means is written once, in the store.
    let delivery = store.write_tx(|tx| {
        if manager.owner().is_some() {
            let delivery = tx
                .deliveries()
                .delivery(id)?
                .ok_or(RedeliverError::NotFound)?;
            managed(tx, manager, delivery.webhook_id).map_err(|_| RedeliverError::NotFound)?;
        }
        if tx.deliveries().make_deliveries_due(None, &[id], now)? == 0 {
            return Err(RedeliverError::NotFound);
        }
        tx.deliveries()
            .delivery(id)?
            .ok_or(RedeliverError::NotFound)
    })?;
    tracing::info!(delivery_id = id, webhook_id = %delivery.webhook_id, "delivery queued again");
    Ok(delivery)
}

/// At most one test ping per webhook per interval from a member: a ping is a
/// request to a URL the member chose, made at their word. In memory: a
/// restart forgets, which costs one extra ping at most.
#[derive(Debug)]
pub struct PingThrottle {
    interval: Duration,
    last: Mutex<HashMap<WebhookId, DateTime<Utc>>>,
}

impl PingThrottle {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a ping of `webhook` at `now`, or says how long to wait.
    fn admit(&self, webhook: WebhookId, now: DateTime<Utc>) -> Result<(), Duration> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let interval = self.interval;
        // Pings older than the interval no longer matter: the map holds only
        // the webhooks pinged within it.
        last.retain(|_, at| (now - *at).to_std().unwrap_or_default() < interval);
        if let Some(at) = last.get(&webhook) {
            let waited = (now - *at).to_std().unwrap_or_default();
            return Err(interval.saturating_sub(waited).max(Duration::from_secs(1)));
        }
        last.insert(webhook, now);
        Ok(())
    }
}

/// Records a `webhook.test` event for this subscription only, with its
/// delivery leased (for `lease`) to the caller, who sends it at once through
/// the engine and records the attempt like any other.
pub fn prepare_test(
    store: &dyn Store,
    clock: &dyn Clock,
    lease: Duration,
    throttle: &PingThrottle,
    manager: &WebhookManager,
    webhook_id: WebhookId,
) -> Result<Job<OutgoingDelivery>, WebhookError> {
    let now = clock.now();
    store.write_tx(|tx| {
        let webhook = managed(tx, manager, webhook_id)?;
        if manager.owner().is_some() {
            throttle
                .admit(webhook_id, now)
                .map_err(|retry_after| WebhookError::TooManyPings { retry_after })?;
        }
        let context = EventContext {
            user: Some(manager.caller().user_ref()),
            at: now,
        };
        let event = record(tx, &context, &DomainEvent::WebhookTest { webhook_id })?;
        // Other subscriptions do not get another's ping.
        tx.outbox()
            .mark_dispatched(WebhookFanOut::NAME, &[event.id])?;
        let delivery = NewDelivery {
            webhook_id,
            event_id: event.id,
            event: event.event.clone(),
            next_attempt_at: now,
            lease_until: Some(now + lease),
            created_at: now,
        };
        let delivery = tx
            .deliveries()
            .insert_deliveries(&[delivery])?
            .pop()
            .ok_or_else(|| StoreError::Unexpected("the test delivery was not created".into()))?;
        Ok(job(&delivery, &webhook, &event))
    })
}

#[cfg(test)]
mod tests {
    use libris_domain::events::EventPattern;
    use uuid::Uuid;

    use libris_domain::webhooks::DeliveryStatus;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{admin, at, fixed_clock, recorded, webhook, MockStore};

    fn admin_caller() -> WebhookManager {
        WebhookManager::new(admin())
    }

    fn dead_delivery() -> Delivery {
        Delivery {
            id: 3,
            webhook_id: Uuid::from_u128(7),
            event_id: Uuid::from_u128(1),
            event: "book.created".into(),
            status: DeliveryStatus::Dead,
            attempts: 4,
            retry_base: 0,
            next_attempt_at: at(-100),
            last_error: Some("HTTP 500".into()),
            created_at: at(-200),
        }
    }

    #[test]
    fn redeliver_makes_a_dead_delivery_due_now_with_a_fresh_schedule() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_make_deliveries_due()
            .withf(|webhook, ids, when| webhook.is_none() && ids == [3] && *when == at(0))
            .times(1)
            .returning(|_, _, _| Ok(1));
        tx.deliveries.expect_delivery().returning(|_| {
            Ok(Some(Delivery {
                status: DeliveryStatus::Pending,
                retry_base: 4,
                next_attempt_at: at(0),
                ..dead_delivery()
            }))
        });
        let store = MockStore::new(tx);
        let delivery = redeliver(&store, &fixed_clock(), &admin_caller(), 3).unwrap();
        assert_eq!(delivery.status, DeliveryStatus::Pending);
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn a_member_does_not_get_a_delivery_of_another_members_webhook() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_delivery()
            .returning(|_| Ok(Some(dead_delivery())));
        tx.subscriptions.expect_webhook().returning(|id| {
            let mut hook = webhook("https://a.example/hook", vec![EventPattern::Everything]);
            hook.id = id;
            hook.owner = Some(99);
            Ok(Some(hook))
        });
        let store = MockStore::new(tx);
        let member = WebhookManager::new(crate::testing::member());
        assert!(matches!(
            get_delivery(&store, &member, 3),
            Err(GetDeliveryError::NotFound)
        ));
        assert_eq!(get_delivery(&store, &admin_caller(), 3).unwrap().id, 3);
    }

    #[test]
    fn redeliver_of_a_missing_delivery_is_not_found() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_make_deliveries_due()
            .returning(|_, _, _| Ok(0));
        let store = MockStore::new(tx);
        assert!(matches!(
            redeliver(&store, &fixed_clock(), &admin_caller(), 3),
            Err(RedeliverError::NotFound)
        ));
    }

    #[test]
    fn a_test_ping_records_webhook_test_for_this_subscription_only() {
        let mut tx = MockTx::new();
        tx.subscriptions.expect_webhook().returning(|id| {
            let mut hook = webhook("https://a.example/hook", vec![EventPattern::Everything]);
            hook.id = id;
            Ok(Some(hook))
        });
        tx.outbox
            .expect_append_event()
            .withf(|e| {
                e.name == "webhook.test" && e.data["webhook_id"] == Uuid::from_u128(7).to_string()
            })
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        tx.outbox
            .expect_mark_dispatched()
            .withf(|consumer, ids| consumer == "webhooks" && ids == [Uuid::nil()])
            .times(1)
            .returning(|_, _| Ok(()));
        tx.deliveries
            .expect_insert_deliveries()
            .withf(|d| d.len() == 1 && d[0].lease_until == Some(at(15)))
            .returning(|d| {
                Ok(vec![Delivery {
                    id: 11,
                    webhook_id: d[0].webhook_id,
                    event_id: d[0].event_id,
                    event: d[0].event.clone(),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    retry_base: 0,
                    next_attempt_at: d[0].next_attempt_at,
                    last_error: None,
                    created_at: d[0].created_at,
                }])
            });
        let store = MockStore::new(tx);
        let job = prepare_test(
            &store,
            &fixed_clock(),
            Duration::from_secs(15),
            &PingThrottle::new(Duration::from_secs(10)),
            &admin_caller(),
            Uuid::from_u128(7),
        )
        .unwrap();
        assert_eq!(job.id, 11);
        assert_eq!(job.message.url, "https://a.example/hook");
        assert_eq!(job.message.event, "webhook.test");
    }
}
