//! The webhook channel's queue: deliveries, the body every receiver gets,
//! the attempt log, and each endpoint's health.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use libris_domain::delivery::Outcome;
use libris_domain::events::{DomainEvent, RecordedEvent};
use libris_domain::webhooks::{AttemptLog, Delivery, Webhook, WebhookId};
use uuid::Uuid;

use super::ports::OutgoingDelivery;
use super::CHANNEL;
use crate::engine::{Attempt, Candidate, Job, Queue};
use crate::events::{record, EventContext};
use crate::ports::{NewAttemptLog, StoreError, Tx};

/// The deliveries table as the engine's queue. A job's target is its
/// webhook's id.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookQueue {
    /// An endpoint whose attempts have all failed for this long is disabled.
    pub disable_after: Duration,
}

impl Default for WebhookQueue {
    fn default() -> Self {
        Self {
            disable_after: Duration::from_secs(5 * 86_400),
        }
    }
}

/// A leased delivery as the engine sends it, its body rendered from the
/// stored event as the webhook's options say.
pub(crate) fn job(
    delivery: &Delivery,
    webhook: &Webhook,
    event: &RecordedEvent,
) -> Job<OutgoingDelivery> {
    let options = &webhook.options;
    let (body, unsendable) = match options.body(event, webhook) {
        Ok(body) => (body, None),
        Err(error) => (Vec::new(), Some(error.to_string())),
    };
    Job {
        id: delivery.id,
        target: webhook.id.to_string(),
        progress: delivery.progress(),
        message: OutgoingDelivery {
            url: webhook.target_url(),
            secret: webhook.secret.clone(),
            headers: webhook.headers.clone(),
            event_id: event.id,
            event: event.event.clone(),
            body,
            method: options.method,
            content_type: options.content_type.as_str().to_owned(),
            unsendable,
            public_only: webhook.owner.is_some(),
        },
    }
}

/// The webhook a job goes to: its target, as [`job`] wrote it.
fn webhook_of(job: &Job<OutgoingDelivery>) -> Option<WebhookId> {
    Uuid::parse_str(&job.target).ok()
}

fn disable(
    tx: &mut dyn Tx,
    webhook: &mut Webhook,
    reason: String,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    webhook.is_active = false;
    webhook.disabled_reason = Some(reason.clone());
    tracing::warn!(webhook_id = %webhook.id, url = %webhook.url, reason, "webhook disabled");
    let event = DomainEvent::WebhookDisabled {
        webhook_id: webhook.id,
        url: webhook.url.clone(),
        reason,
    };
    record(
        tx,
        &EventContext {
            user: None,
            at: now,
        },
        &event,
    )?;
    Ok(())
}

impl Queue for WebhookQueue {
    type Message = OutgoingDelivery;
    type Recorded = Vec<AttemptLog>;

    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn due(
        &self,
        tx: &mut dyn Tx,
        now: DateTime<Utc>,
        limit: i64,
        exclude: &[String],
    ) -> Result<Vec<Candidate>, StoreError> {
        let exclude: Vec<WebhookId> = exclude
            .iter()
            .filter_map(|t| Uuid::parse_str(t).ok())
            .collect();
        Ok(tx
            .deliveries()
            .due_deliveries(now, limit, &exclude)?
            .into_iter()
            .map(|(id, webhook)| Candidate {
                id,
                target: webhook.to_string(),
            })
            .collect())
    }

    fn lease(
        &self,
        tx: &mut dyn Tx,
        ids: &[i64],
        until: DateTime<Utc>,
    ) -> Result<Vec<Job<OutgoingDelivery>>, StoreError> {
        Ok(tx
            .deliveries()
            .lease_deliveries(ids, until)?
            .iter()
            .map(|c| job(&c.delivery, &c.webhook, &c.event))
            .collect())
    }

    /// Logs each attempt, saves each delivery's next state, keeps each
    /// endpoint's health, and disables endpoints that answered 410 or kept
    /// failing.
    fn record(
        &self,
        tx: &mut dyn Tx,
        attempts: &[Attempt<'_, OutgoingDelivery>],
        now: DateTime<Utc>,
    ) -> Result<Vec<AttemptLog>, StoreError> {
        // The endpoints first: a webhook delete locks the webhook, then its
        // deliveries, and this takes them in the same order.
        let ids: BTreeSet<WebhookId> = attempts.iter().filter_map(|a| webhook_of(a.job)).collect();
        let before: BTreeMap<WebhookId, Webhook> = tx
            .subscriptions()
            .webhooks(&ids.into_iter().collect::<Vec<_>>())?
            .into_iter()
            .map(|w| (w.id, w))
            .collect();
        let mut health = before.clone();
        let mut logs = Vec::with_capacity(attempts.len());
        for Attempt { job, report, next } in attempts {
            tx.deliveries().save_delivery(job.id, next, now)?;
            let Some(webhook_id) = webhook_of(job) else {
                continue;
            };
            logs.push(NewAttemptLog {
                webhook_id,
                delivery_id: job.id,
                event_id: job.message.event_id,
                event: job.message.event.clone(),
                attempt: next.attempts,
                payload: String::from_utf8_lossy(&job.message.body).into_owned(),
                response_status: report.status.map(i64::from),
                response_body: report.response_body.clone(),
                success: report.outcome == Outcome::Delivered,
                error_message: report.error.clone(),
                duration_ms: i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
                at: now,
            });
            // A webhook deleted since the claim has no health to keep.
            if let Some(webhook) = health.get_mut(&webhook_id) {
                if let Some(reason) =
                    webhook.record_outcome(report.outcome, self.disable_after, now)
                {
                    disable(tx, webhook, reason, now)?;
                }
            }
        }
        // Only endpoints whose health changed are written: a batch of
        // successes to healthy endpoints writes none.
        for (id, after) in &health {
            if before.get(id) != Some(after) {
                tx.subscriptions().save_webhook_state(after, now)?;
            }
        }
        tx.deliveries().insert_attempt_logs(&logs)
    }
}

#[cfg(test)]
mod tests {
    use libris_domain::delivery::{AttemptReport, DeliveryStatus, Progress};
    use libris_domain::events::EventPattern;
    use serde_json::json;

    use super::*;
    use crate::ports::{ClaimedDelivery, MockTx};
    use crate::testing::{at, delivery, recorded, webhook};

    fn event() -> RecordedEvent {
        RecordedEvent {
            id: Uuid::from_u128(1),
            timestamp: at(0),
            data: json!({"id": 1, "title": "Dune"}),
            ..recorded("book.created")
        }
    }

    fn claimed_job() -> Job<OutgoingDelivery> {
        let mut hook = webhook("https://a.example/hook", vec![EventPattern::Everything]);
        hook.id = Uuid::from_u128(7);
        job(&delivery(0), &hook, &event())
    }

    fn report(outcome: Outcome, status: u16) -> AttemptReport {
        AttemptReport {
            status: Some(status),
            response_body: "ok".into(),
            error: (outcome != Outcome::Delivered).then(|| "failed".into()),
            duration_ms: 12,
            outcome,
        }
    }

    fn next(status: DeliveryStatus) -> Progress {
        Progress {
            status,
            attempts: 1,
            ..claimed_job().progress
        }
    }

    /// Records `results` (each with the state its outcome leads to).
    fn record(tx: &mut MockTx, results: &[(Job<OutgoingDelivery>, AttemptReport)]) {
        let attempts: Vec<_> = results
            .iter()
            .map(|(job, report)| Attempt {
                job,
                report,
                next: next(if report.outcome == Outcome::Delivered {
                    DeliveryStatus::Delivered
                } else {
                    DeliveryStatus::Pending
                }),
            })
            .collect();
        WebhookQueue {
            disable_after: Duration::from_secs(3600),
        }
        .record(tx, &attempts, at(0))
        .unwrap();
    }

    /// A webhook that has failed five times since 100 s ago.
    fn failing_webhook(id: WebhookId) -> Webhook {
        let mut hook = webhook("https://a.example/", vec![EventPattern::Everything]);
        hook.id = id;
        hook.failure_count = 5;
        hook.failing_since = Some(at(-100));
        hook
    }

    #[test]
    fn a_job_carries_the_body_receivers_get() {
        let job = claimed_job();
        let body: serde_json::Value = serde_json::from_slice(&job.message.body).unwrap();
        assert_eq!(
            body,
            json!({"id": Uuid::from_u128(1), "event": "book.created", "timestamp": "2026-01-01T00:00:00Z", "data": {"id": 1, "title": "Dune"}})
        );
        let text = String::from_utf8(job.message.body.clone()).unwrap();
        assert!(text.starts_with("{\"id\":"), "id first: {text}");
        assert_eq!(job.message.event_id, Uuid::from_u128(1));
        assert_eq!(job.target, Uuid::from_u128(7).to_string());
    }

    #[test]
    fn a_lease_answers_jobs_targeting_their_webhook() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_lease_deliveries()
            .withf(|ids, until| ids == [3] && *until == at(15))
            .returning(|ids, _| {
                let mut hook = webhook("https://a.example/", vec![EventPattern::Everything]);
                hook.id = Uuid::from_u128(9);
                Ok(vec![ClaimedDelivery {
                    delivery: Delivery {
                        id: ids[0],
                        ..delivery(0)
                    },
                    webhook: hook,
                    event: event(),
                }])
            });
        let jobs = WebhookQueue::default()
            .lease(&mut tx, &[3], at(15))
            .unwrap();
        assert_eq!(jobs[0].id, 3);
        assert_eq!(jobs[0].target, Uuid::from_u128(9).to_string());
        assert_eq!(jobs[0].message.url, "https://a.example/");
    }

    #[test]
    fn recording_a_success_logs_it_saves_its_state_and_heals_the_endpoint() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .withf(|id, p, _| *id == 5 && p.status == DeliveryStatus::Delivered && p.attempts == 1)
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.subscriptions
            .expect_webhooks()
            .withf(|ids| ids == [Uuid::from_u128(7)])
            .times(1)
            .returning(|ids| Ok(vec![failing_webhook(ids[0])]));
        tx.subscriptions
            .expect_save_webhook_state()
            .withf(|w, _| w.failure_count == 0 && w.failing_since.is_none() && w.is_active)
            .times(1)
            .returning(|_, _| Ok(()));
        tx.deliveries
            .expect_insert_attempt_logs()
            .withf(|logs| {
                logs.len() == 1
                    && logs[0].success
                    && logs[0].attempt == 1
                    && logs[0].response_status == Some(200)
                    && logs[0].payload.contains("\"book.created\"")
            })
            .times(1)
            .returning(|_| Ok(vec![]));
        tx.outbox.expect_append_event().never();
        record(&mut tx, &[(claimed_job(), report(Outcome::Delivered, 200))]);
    }

    #[test]
    fn a_success_to_a_healthy_endpoint_writes_no_webhook() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .returning(|_, _, _| Ok(()));
        tx.subscriptions
            .expect_webhooks()
            .times(1)
            .returning(|ids| {
                let mut hook = webhook("https://a.example/", vec![EventPattern::Everything]);
                hook.id = ids[0];
                Ok(vec![hook])
            });
        tx.subscriptions.expect_save_webhook_state().never();
        tx.deliveries
            .expect_insert_attempt_logs()
            .returning(|_| Ok(vec![]));
        record(&mut tx, &[(claimed_job(), report(Outcome::Delivered, 200))]);
    }

    #[test]
    fn attempts_for_a_webhook_deleted_since_the_claim_are_still_logged() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.subscriptions.expect_webhooks().returning(|_| Ok(vec![]));
        tx.subscriptions.expect_save_webhook_state().never();
        tx.outbox.expect_append_event().never();
        tx.deliveries
            .expect_insert_attempt_logs()
            .withf(|logs| logs.len() == 1 && logs[0].response_status == Some(410))
            .times(1)
            .returning(|_| Ok(vec![]));
        record(&mut tx, &[(claimed_job(), report(Outcome::Gone, 410))]);
    }

    #[test]
    fn a_success_then_a_failure_in_one_batch_counts_one_failure() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .returning(|_, _, _| Ok(()));
        tx.subscriptions
            .expect_webhooks()
            .times(1)
            .returning(|ids| Ok(vec![failing_webhook(ids[0])]));
        tx.subscriptions
            .expect_save_webhook_state()
            .withf(|w, _| w.failure_count == 1 && w.failing_since == Some(at(0)))
            .times(1)
            .returning(|_, _| Ok(()));
        tx.deliveries
            .expect_insert_attempt_logs()
            .withf(|logs| logs.len() == 2)
            .returning(|_| Ok(vec![]));
        record(
            &mut tx,
            &[
                (claimed_job(), report(Outcome::Delivered, 200)),
                (claimed_job(), report(Outcome::Retry { after: None }, 503)),
            ],
        );
    }

    #[test]
    fn a_410_disables_the_webhook_and_records_webhook_disabled() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .returning(|_, _, _| Ok(()));
        tx.subscriptions.expect_webhooks().returning(|ids| {
            let mut hook = webhook("https://gone.example/", vec![EventPattern::Everything]);
            hook.id = ids[0];
            Ok(vec![hook])
        });
        tx.outbox
            .expect_append_event()
            .withf(|e| {
                e.name == "webhook.disabled"
                    && e.data["url"] == "https://gone.example/"
                    && e.data["reason"].as_str().unwrap().contains("410")
            })
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        tx.subscriptions
            .expect_save_webhook_state()
            .withf(|w, _| {
                !w.is_active
                    && w.disabled_reason
                        .as_deref()
                        .is_some_and(|r| r.contains("410"))
            })
            .times(1)
            .returning(|_, _| Ok(()));
        tx.deliveries
            .expect_insert_attempt_logs()
            .withf(|logs| !logs[0].success)
            .returning(|_| Ok(vec![]));
        record(
            &mut tx,
            &[
                (claimed_job(), report(Outcome::Gone, 410)),
                (claimed_job(), report(Outcome::Gone, 410)),
            ],
        );
    }
}
