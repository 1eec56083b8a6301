//! Operators' chores on deliveries (`libris deliveries …`): send what is
//! queued now, watch the failure rate, prune old history.

use std::time::Duration;

use libris_domain::webhooks::{DeliveryId, DeliveryStatus, WebhookId};

use crate::ports::{Clock, Store, StoreError, StoreExt};

/// Which deliveries to make due now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueScope {
    pub webhook: Option<WebhookId>,
    /// Given deliveries are queued again whatever their state.
    pub deliveries: Vec<DeliveryId>,
}

#[derive(Debug, thiserror::Error)]
pub enum DueError {
    /// A mistyped id must not pass for "nothing is due".
    #[error("no webhook {0}")]
    UnknownWebhook(WebhookId),
    #[error("no delivery {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    UnknownDeliveries(Vec<DeliveryId>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes the deliveries in `scope` due now; answers how many. Every id the
/// scope names must exist.
pub fn make_due(store: &dyn Store, clock: &dyn Clock, scope: &DueScope) -> Result<usize, DueError> {
    let now = clock.now();
    store.write_tx(|tx| {
        if let Some(webhook) = scope.webhook {
            tx.subscriptions()
                .webhook(webhook)?
                .ok_or(DueError::UnknownWebhook(webhook))?;
        }
        let mut unknown = Vec::new();
        for &id in &scope.deliveries {
            if tx.deliveries().delivery(id)?.is_none() {
                unknown.push(id);
            }
        }
        if !unknown.is_empty() {
            return Err(DueError::UnknownDeliveries(unknown));
        }
        Ok(tx
            .deliveries()
            .make_deliveries_due(scope.webhook, &scope.deliveries, now)?)
    })
}

/// How many deliveries reached `status` within the last `window`.
pub fn count_recent(
    store: &dyn Store,
    clock: &dyn Clock,
    status: DeliveryStatus,
    window: Duration,
) -> Result<i64, StoreError> {
    let since = clock.now() - window;
    store.read_tx(|tx| tx.deliveries().count_deliveries_since(status, since))
}

/// The delivery queue as a monitor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueHealth {
    /// Deliveries pending: due, or waiting for a retry.
    pub pending: i64,
    /// How long the oldest pending delivery has waited since it was made.
    pub oldest_pending_age: Option<Duration>,
    /// Endpoints whose last attempts failed, with how many in a row.
    pub failing: Vec<(WebhookId, i64)>,
}

pub fn queue_health(store: &dyn Store, clock: &dyn Clock) -> Result<QueueHealth, StoreError> {
    let now = clock.now();
    let ((pending, oldest), failing) = store.read_tx(|tx| {
        Ok((
            tx.deliveries().pending_deliveries()?,
            tx.deliveries().failing_webhooks()?,
        ))
    })?;
    Ok(QueueHealth {
        pending,
        oldest_pending_age: oldest.map(|at| (now - at).to_std().unwrap_or_default()),
        failing,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: usize,
    pub attempts: usize,
}

/// Deletes finished deliveries and attempt logs older than `age`. Pending
/// deliveries are kept whatever their age: they are still owed.
pub fn prune(store: &dyn Store, clock: &dyn Clock, age: Duration) -> Result<Pruned, StoreError> {
    let before = clock.now() - age;
    let (deliveries, attempts) = store.write_tx(|tx| tx.deliveries().prune_deliveries(before))?;
    tracing::info!(deliveries, attempts, "delivery history pruned");
    Ok(Pruned {
        deliveries,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;
    use uuid::Uuid;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{at, delivery, fixed_clock, webhook, MockStore};

    #[test]
    fn make_due_names_every_id_that_does_not_exist_and_queues_nothing() {
        let mut tx = MockTx::new();
        tx.subscriptions
            .expect_webhook()
            .returning(|_| Ok(Some(webhook("https://a.example/", vec![]))));
        tx.deliveries
            .expect_delivery()
            .returning(|id| Ok((id == 3).then(|| delivery(0))));
        tx.deliveries.expect_make_deliveries_due().never();
        let store = MockStore::new(tx);
        let scope = DueScope {
            webhook: None,
            deliveries: vec![3, 998, 999],
        };
        let err = make_due(&store, &fixed_clock(), &scope).unwrap_err();
        assert!(matches!(&err, DueError::UnknownDeliveries(ids) if ids == &[998, 999]));
        assert_eq!(err.to_string(), "no delivery 998, 999");

        let mut tx = MockTx::new();
        tx.subscriptions.expect_webhook().returning(|_| Ok(None));
        tx.deliveries.expect_make_deliveries_due().never();
        let store = MockStore::new(tx);
        let scope = DueScope {
            webhook: Some(Uuid::from_u128(9)),
            deliveries: vec![],
        };
        let err = make_due(&store, &fixed_clock(), &scope).unwrap_err();
        assert!(matches!(err, DueError::UnknownWebhook(id) if id == Uuid::from_u128(9)));
    }

    #[test]
    fn make_due_passes_the_scope_and_now() {
        let mut tx = MockTx::new();
        tx.subscriptions
            .expect_webhook()
            .returning(|_| Ok(Some(webhook("https://a.example/", vec![]))));
        tx.deliveries
            .expect_delivery()
            .returning(|_| Ok(Some(delivery(0))));
        tx.deliveries
            .expect_make_deliveries_due()
            .withf(|webhook, ids, when| {
                *webhook == Some(Uuid::from_u128(7)) && ids == [3, 4] && *when == at(0)
            })
            .times(1)
            .returning(|_, ids, _| Ok(ids.len()));
        let store = MockStore::new(tx);
        let scope = DueScope {
            webhook: Some(Uuid::from_u128(7)),
            deliveries: vec![3, 4],
        };
        assert_eq!(make_due(&store, &fixed_clock(), &scope).unwrap(), 2);
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn queue_health_ages_the_oldest_pending_delivery_from_now() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_pending_deliveries()
            .returning(|| Ok((3, Some(at(-90)))));
        tx.deliveries
            .expect_failing_webhooks()
            .returning(|| Ok(vec![(Uuid::from_u128(7), 4)]));
        let store = MockStore::new(tx);
        let health = queue_health(&store, &fixed_clock()).unwrap();
        assert_eq!(
            health,
            QueueHealth {
                pending: 3,
                oldest_pending_age: Some(Duration::from_secs(90)),
                failing: vec![(Uuid::from_u128(7), 4)],
            }
        );
    }

    #[test]
    fn windows_and_ages_count_back_from_now() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_count_deliveries_since()
            .with(eq(DeliveryStatus::Failed), eq(at(-600)))
            .returning(|_, _| Ok(51));
        tx.deliveries
            .expect_prune_deliveries()
            .with(eq(at(-30 * 86_400)))
            .returning(|_| Ok((5, 9)));
        let store = MockStore::new(tx);
        let failed = count_recent(
            &store,
            &fixed_clock(),
            DeliveryStatus::Failed,
            Duration::from_secs(600),
        )
        .unwrap();
        assert_eq!(failed, 51);
        let pruned = prune(&store, &fixed_clock(), Duration::from_secs(30 * 86_400)).unwrap();
        assert_eq!(
            pruned,
            Pruned {
                deliveries: 5,
                attempts: 9
            }
        );
    }
}
