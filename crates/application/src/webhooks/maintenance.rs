//! Operators' chores on deliveries (`libris deliveries …`): send what is
//! queued now, watch the failure rate, prune old history.

use std::time::Duration;

use libris_domain::webhooks::{DeliveryId, DeliveryStatus, WebhookId};

use super::CHANNEL;
use crate::campaigns::CHANNEL as SMS;
use crate::notifications::CHANNEL as EMAIL;
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

/// One channel's backlog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub channel: &'static str,
    /// Messages pending: due, or waiting for a retry.
    pub pending: i64,
    /// How long the oldest has waited: since it was made (a delivery), or
    /// since it came due (an email; a reminder is not late before its day).
    pub oldest_pending_age: Option<Duration>,
}

/// The queues as a monitor sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueHealth {
    pub backlogs: Vec<Backlog>,
    /// Endpoints whose last attempts failed, with how many in a row.
    pub failing: Vec<(WebhookId, i64)>,
}

pub fn queue_health(store: &dyn Store, clock: &dyn Clock) -> Result<QueueHealth, StoreError> {
    let now = clock.now();
    let age = |since: Option<chrono::DateTime<chrono::Utc>>| {
        since.map(|at| (now - at).to_std().unwrap_or_default())
    };
    let (deliveries, emails, sms, failing) = store.read_tx(|tx| {
        Ok((
            tx.deliveries().pending_deliveries()?,
            tx.notifications().due_backlog(now)?,
            tx.campaigns().due_message_backlog(now)?,
            tx.deliveries().failing_webhooks()?,
        ))
    })?;
    Ok(QueueHealth {
        backlogs: vec![
            Backlog {
                channel: CHANNEL,
                pending: deliveries.0,
                oldest_pending_age: age(deliveries.1),
            },
            Backlog {
                channel: EMAIL,
                pending: emails.0,
                oldest_pending_age: age(emails.1),
            },
            // Campaign messages due now: those waiting for their member's
            // window or a retry are not a backlog.
            Backlog {
                channel: SMS,
                pending: sms.0,
                oldest_pending_age: age(sms.1),
            },
        ],
        failing,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: usize,
    pub attempts: usize,
    pub notifications: usize,
}

/// Deletes finished deliveries, attempt logs and notifications older than
/// `age`. Pending ones are kept whatever their age: they are still owed.
pub fn prune(store: &dyn Store, clock: &dyn Clock, age: Duration) -> Result<Pruned, StoreError> {
    let before = clock.now() - age;
    let (deliveries, attempts, notifications) = store.write_tx(|tx| {
        let (deliveries, attempts) = tx.deliveries().prune_deliveries(before)?;
        let notifications = tx.notifications().prune_notifications(before)?;
        Ok::<_, StoreError>((deliveries, attempts, notifications))
    })?;
    tracing::info!(
        deliveries,
        attempts,
        notifications,
        "delivery history pruned"
    );
    Ok(Pruned {
        notifications,
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
        tx.notifications
            .expect_due_backlog()
            .withf(|now| *now == at(0))
            .returning(|_| Ok((2, Some(at(-30)))));
        tx.campaigns
            .expect_due_message_backlog()
            .withf(|now| *now == at(0))
            .returning(|_| Ok((0, None)));
        let store = MockStore::new(tx);
        let health = queue_health(&store, &fixed_clock()).unwrap();
        assert_eq!(
            health,
            QueueHealth {
                backlogs: vec![
                    Backlog {
                        channel: "webhook",
                        pending: 3,
                        oldest_pending_age: Some(Duration::from_secs(90)),
                    },
                    Backlog {
                        channel: "email",
                        pending: 2,
                        oldest_pending_age: Some(Duration::from_secs(30)),
                    },
                    Backlog {
                        channel: "sms",
                        pending: 0,
                        oldest_pending_age: None,
                    },
                ],
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
        tx.notifications
            .expect_prune_notifications()
            .with(eq(at(-30 * 86_400)))
            .returning(|_| Ok(4));
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
                attempts: 9,
                notifications: 4
            }
        );
    }
}
