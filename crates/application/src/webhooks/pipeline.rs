//! The delivery pipeline's units of work. Each does one step and says what
//! happened, so workers loop around them and tests drain the queue
//! deterministically:
//!
//! - [`fan_out`]: undispatched events → one delivery per matching subscription;
//! - [`claim_deliveries`]: lease due deliveries and build their requests;
//! - [`record_attempts`]: log each attempt and decide what comes next.
//!
//! No transaction is held while a request is in flight: claim commits first,
//! and results are recorded in a new short transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use libris_domain::events::{DomainEvent, RecordedEvent};
use libris_domain::webhooks::{
    AttemptLog, Delivery, DeliveryId, DeliveryStatus, Webhook, WebhookId,
};
use serde::Serialize;

use super::ports::{AttemptReport, Outcome, OutgoingDelivery, Randomness};
use super::retry::DeliverySettings;
use crate::events::{record, EventContext};
use crate::ports::{Clock, NewAttemptLog, NewDelivery, Store, StoreError, StoreExt, Tx};

/// What one fan-out step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanOut {
    EmptyQueue,
    Dispatched { events: usize, deliveries: usize },
}

/// Claims up to `batch` undispatched events and creates their deliveries, in
/// one transaction.
pub fn fan_out(store: &dyn Store, clock: &dyn Clock, batch: i64) -> Result<FanOut, StoreError> {
    let now = clock.now();
    store.write_tx(|tx| {
        let events = tx.outbox().claim_undispatched_events(batch)?;
        if events.is_empty() {
            return Ok(FanOut::EmptyQueue);
        }
        let webhooks = tx.subscriptions().active_webhooks()?;
        let deliveries: Vec<NewDelivery> = events
            .iter()
            .flat_map(|event| {
                webhooks
                    .iter()
                    .filter(|w| w.wants(&event.event, event.timestamp))
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
        let ids: Vec<_> = events.iter().map(|e| e.id).collect();
        tx.outbox().mark_events_dispatched(&ids, now)?;
        Ok(FanOut::Dispatched {
            events: events.len(),
            deliveries: deliveries.len(),
        })
    })
}

/// A claimed delivery ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryJob {
    pub delivery: Delivery,
    pub request: OutgoingDelivery,
}

impl DeliveryJob {
    pub fn webhook_id(&self) -> WebhookId {
        self.delivery.webhook_id
    }
}

/// The body every receiver gets, in this field order.
#[derive(Serialize)]
struct Body<'a> {
    id: uuid::Uuid,
    event: &'a str,
    timestamp: DateTime<Utc>,
    data: &'a serde_json::Value,
}

pub(crate) fn job(delivery: Delivery, webhook: &Webhook, event: &RecordedEvent) -> DeliveryJob {
    let body = Body {
        id: event.id,
        event: &event.event,
        timestamp: event.timestamp,
        data: &event.data,
    };
    DeliveryJob {
        request: OutgoingDelivery {
            url: webhook.url.clone(),
            secret: webhook.secret.clone(),
            headers: webhook.headers.clone(),
            event_id: event.id,
            event: event.event.clone(),
            body: serde_json::to_vec(&body).unwrap_or_default(),
        },
        delivery,
    }
}

/// What a sending process can take on now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Free sending slots, over all endpoints.
    pub free: usize,
    /// Attempts allowed in flight to one endpoint.
    pub per_endpoint: usize,
    /// Attempts in flight now, by endpoint.
    pub in_flight: HashMap<WebhookId, usize>,
}

impl Capacity {
    fn room(&self, webhook: &WebhookId) -> usize {
        self.per_endpoint
            .saturating_sub(self.in_flight.get(webhook).copied().unwrap_or(0))
    }

    fn saturated(&self) -> Vec<WebhookId> {
        self.in_flight
            .keys()
            .filter(|w| self.room(w) == 0)
            .copied()
            .collect()
    }

    /// Picks, oldest first, the candidates that fit: at most `free` in all
    /// and no endpoint over its bound.
    fn pick(&self, candidates: &[(DeliveryId, WebhookId)]) -> Vec<DeliveryId> {
        let mut taken: HashMap<WebhookId, usize> = HashMap::new();
        let mut picked = Vec::new();
        for (delivery, webhook) in candidates {
            if picked.len() == self.free {
                break;
            }
            let count = taken.entry(*webhook).or_insert(0);
            if *count < self.room(webhook) {
                *count += 1;
                picked.push(*delivery);
            }
        }
        picked
    }
}

/// How far past the free slots a claim looks for deliveries it may take, so
/// one busy endpoint's backlog does not hide the others'.
const CLAIM_SCAN_FACTOR: usize = 4;
const CLAIM_SCAN_MAX: usize = 1024;

/// Leases the due deliveries this process can send now: no more than its free
/// slots, none to an endpoint at its bound. Nothing is claimed only to be
/// given back.
pub fn claim_deliveries(
    store: &dyn Store,
    clock: &dyn Clock,
    settings: &DeliverySettings,
    capacity: &Capacity,
) -> Result<Vec<DeliveryJob>, StoreError> {
    if capacity.free == 0 {
        return Ok(Vec::new());
    }
    let now = clock.now();
    let lease_until = now + settings.lease;
    let saturated = capacity.saturated();
    let scan =
        (capacity.free * CLAIM_SCAN_FACTOR).clamp(capacity.free, CLAIM_SCAN_MAX.max(capacity.free));
    let claimed = store.write_tx(|tx| {
        let candidates = tx
            .deliveries()
            .due_deliveries(now, scan as i64, &saturated)?;
        let picked = capacity.pick(&candidates);
        if picked.is_empty() {
            return Ok(Vec::new());
        }
        tx.deliveries().lease_deliveries(&picked, lease_until)
    })?;
    Ok(claimed
        .into_iter()
        .map(|c| job(c.delivery, &c.webhook, &c.event))
        .collect())
}

/// The delivery's next state after an attempt that ended in `outcome`.
fn advance(
    delivery: &mut Delivery,
    report: &AttemptReport,
    settings: &DeliverySettings,
    unit: f64,
    now: DateTime<Utc>,
) {
    delivery.attempts += 1;
    delivery.last_error = report.error.clone();
    delivery.status = match report.outcome {
        Outcome::Delivered => DeliveryStatus::Delivered,
        Outcome::Gone | Outcome::Rejected | Outcome::Refused => DeliveryStatus::Failed,
        Outcome::Retry { after } => {
            let retry =
                usize::try_from(delivery.attempts - delivery.retry_base).unwrap_or(usize::MAX);
            match settings.retry.delay(retry, unit, after) {
                Some(delay) => {
                    delivery.next_attempt_at = now + delay;
                    DeliveryStatus::Pending
                }
                None => DeliveryStatus::Dead,
            }
        }
    };
}

/// Updates the endpoint's health; answers why it must be disabled, if so.
fn assess(
    webhook: &mut Webhook,
    outcome: Outcome,
    settings: &DeliverySettings,
    now: DateTime<Utc>,
) -> Option<String> {
    if outcome == Outcome::Delivered {
        webhook.failure_count = 0;
        webhook.failing_since = None;
        return None;
    }
    webhook.failure_count += 1;
    let since = *webhook.failing_since.get_or_insert(now);
    if !webhook.is_active {
        return None;
    }
    if outcome == Outcome::Gone {
        return Some("the endpoint answered 410 Gone".into());
    }
    let failing_for = (now - since).to_std().unwrap_or_default();
    (failing_for >= settings.disable_after).then(|| {
        format!(
            "every attempt failed for {} hours ({} failures)",
            failing_for.as_secs() / 3600,
            webhook.failure_count
        )
    })
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

/// Logs each attempt, moves each delivery on (delivered, retry later, failed,
/// dead), keeps each endpoint's health, and disables endpoints that answered
/// 410 or kept failing — one short transaction for the whole batch.
pub fn record_attempts(
    store: &dyn Store,
    clock: &dyn Clock,
    random: &dyn Randomness,
    settings: &DeliverySettings,
    results: &[(DeliveryJob, AttemptReport)],
) -> Result<Vec<AttemptLog>, StoreError> {
    let now = clock.now();
    let logs = store.write_tx(|tx| {
        // The endpoints first: a webhook delete locks the webhook, then its
        // deliveries, and this takes them in the same order.
        let ids: BTreeSet<WebhookId> = results.iter().map(|(job, _)| job.webhook_id()).collect();
        let before: BTreeMap<WebhookId, Webhook> = tx
            .subscriptions()
            .webhooks(&ids.into_iter().collect::<Vec<_>>())?
            .into_iter()
            .map(|w| (w.id, w))
            .collect();
        let mut health = before.clone();
        let mut logs = Vec::with_capacity(results.len());
        for (job, report) in results {
            let mut delivery = job.delivery.clone();
            advance(
                &mut delivery,
                report,
                settings,
                random.symmetric_unit(),
                now,
            );
            tx.deliveries().save_delivery(&delivery, now)?;
            logs.push(NewAttemptLog {
                webhook_id: delivery.webhook_id,
                delivery_id: delivery.id,
                event_id: delivery.event_id,
                event: delivery.event.clone(),
                attempt: delivery.attempts,
                payload: String::from_utf8_lossy(&job.request.body).into_owned(),
                response_status: report.status.map(i64::from),
                response_body: report.response_body.clone(),
                success: report.outcome == Outcome::Delivered,
                error_message: report.error.clone(),
                duration_ms: i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
                at: now,
            });
            // A webhook deleted since the claim has no health to keep.
            if let Some(webhook) = health.get_mut(&delivery.webhook_id) {
                if let Some(reason) = assess(webhook, report.outcome, settings, now) {
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
    })?;
    for (job, report) in results {
        tracing::info!(
            delivery_id = job.delivery.id,
            webhook_id = %job.delivery.webhook_id,
            event_id = %job.delivery.event_id,
            status = report.status,
            outcome = ?report.outcome,
            duration_ms = report.duration_ms,
            "webhook attempt"
        );
    }
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use libris_domain::events::EventPattern;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::ports::{ClaimedDelivery, MockTx};
    use crate::testing::{at, delivery, fixed_clock, recorded, webhook, MockStore};
    use crate::webhooks::ports::MockRandomness;
    use crate::webhooks::retry::RetryPolicy;

    fn no_jitter() -> MockRandomness {
        let mut random = MockRandomness::new();
        random.expect_symmetric_unit().returning(|| 0.0);
        random
    }

    fn settings() -> DeliverySettings {
        DeliverySettings {
            retry: RetryPolicy {
                delays: vec![
                    Duration::from_secs(1),
                    Duration::from_secs(2),
                    Duration::from_secs(4),
                ],
                ..RetryPolicy::default()
            },
            lease: Duration::from_secs(15),
            disable_after: Duration::from_secs(3600),
        }
    }

    fn event(name: &str, seconds: i64) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::from_u128(seconds as u128 + 1),
            timestamp: at(seconds),
            data: json!({"id": 1, "title": "Dune"}),
            ..recorded(name)
        }
    }

    fn report(outcome: Outcome, status: Option<u16>) -> AttemptReport {
        AttemptReport {
            status,
            response_body: "ok".into(),
            error: (outcome != Outcome::Delivered).then(|| "failed".into()),
            duration_ms: 12,
            outcome,
        }
    }

    fn claimed_job(attempts: i64) -> DeliveryJob {
        let mut hook = webhook("https://a.example/hook", vec![EventPattern::Everything]);
        hook.id = Uuid::from_u128(7);
        job(delivery(attempts), &hook, &event("book.created", 0))
    }

    #[test]
    fn fan_out_creates_one_delivery_per_matching_active_subscription() {
        let mut tx = MockTx::new();
        tx.outbox
            .expect_claim_undispatched_events()
            .returning(|_| Ok(vec![event("book.created", 10), event("author.created", 11)]));
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
        tx.outbox
            .expect_mark_events_dispatched()
            .withf(|ids, _| ids.len() == 2)
            .times(1)
            .returning(|_, _| Ok(()));
        let store = MockStore::new(tx);
        assert_eq!(
            fan_out(&store, &fixed_clock(), 100).unwrap(),
            FanOut::Dispatched {
                events: 2,
                deliveries: 3
            }
        );
    }

    #[test]
    fn fan_out_of_an_empty_outbox_says_so() {
        let mut tx = MockTx::new();
        tx.outbox
            .expect_claim_undispatched_events()
            .returning(|_| Ok(vec![]));
        tx.deliveries.expect_insert_deliveries().never();
        let store = MockStore::new(tx);
        assert_eq!(
            fan_out(&store, &fixed_clock(), 100).unwrap(),
            FanOut::EmptyQueue
        );
    }

    #[test]
    fn a_job_carries_the_body_receivers_get() {
        let job = claimed_job(0);
        let body: serde_json::Value = serde_json::from_slice(&job.request.body).unwrap();
        assert_eq!(
            body,
            json!({"id": Uuid::from_u128(1), "event": "book.created", "timestamp": "2026-01-01T00:00:00Z", "data": {"id": 1, "title": "Dune"}})
        );
        let text = String::from_utf8(job.request.body.clone()).unwrap();
        assert!(text.starts_with("{\"id\":"), "id first: {text}");
        assert_eq!(job.request.event_id, Uuid::from_u128(1));
    }

    #[test]
    fn outcomes_move_deliveries_on() {
        let now = at(0);
        let cases = [
            (Outcome::Delivered, 0, DeliveryStatus::Delivered),
            (Outcome::Gone, 0, DeliveryStatus::Failed),
            (Outcome::Rejected, 0, DeliveryStatus::Failed),
            (Outcome::Refused, 0, DeliveryStatus::Failed),
            (Outcome::Retry { after: None }, 0, DeliveryStatus::Pending),
            (Outcome::Retry { after: None }, 3, DeliveryStatus::Dead),
        ];
        for (outcome, attempts_before, expected) in cases {
            let mut d = delivery(attempts_before);
            advance(&mut d, &report(outcome, None), &settings(), 0.0, now);
            assert_eq!(d.status, expected, "{outcome:?} after {attempts_before}");
            assert_eq!(d.attempts, attempts_before + 1);
        }
        let mut d = delivery(1);
        advance(
            &mut d,
            &report(
                Outcome::Retry {
                    after: Some(Duration::from_secs(9)),
                },
                Some(429),
            ),
            &settings(),
            0.0,
            now,
        );
        assert_eq!(
            d.next_attempt_at,
            now + chrono::Duration::seconds(9),
            "Retry-After honoured"
        );
        let mut redelivered = Delivery {
            retry_base: 4,
            ..delivery(4)
        };
        advance(
            &mut redelivered,
            &report(Outcome::Retry { after: None }, Some(500)),
            &settings(),
            0.0,
            now,
        );
        assert_eq!(
            redelivered.status,
            DeliveryStatus::Pending,
            "a redelivery starts the schedule again"
        );
        assert_eq!(
            redelivered.next_attempt_at,
            now + chrono::Duration::seconds(1)
        );
    }

    #[test]
    fn an_endpoint_failing_too_long_is_disabled_and_a_success_heals_it() {
        let mut hook = webhook("https://a.example/", vec![EventPattern::Everything]);
        let retry = Outcome::Retry { after: None };
        assert_eq!(assess(&mut hook, retry, &settings(), at(0)), None);
        assert_eq!((hook.failure_count, hook.failing_since), (1, Some(at(0))));
        assert_eq!(assess(&mut hook, retry, &settings(), at(1800)), None);
        let reason = assess(&mut hook, retry, &settings(), at(3600))
            .expect("disabled after an hour of failures");
        assert!(reason.contains("3 failures"), "{reason}");
        assert_eq!(
            assess(&mut hook, Outcome::Delivered, &settings(), at(3601)),
            None
        );
        assert_eq!((hook.failure_count, hook.failing_since), (0, None));
        assert!(assess(&mut hook, Outcome::Gone, &settings(), at(4000))
            .unwrap()
            .contains("410"));
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
    fn a_success_to_a_healthy_endpoint_writes_no_webhook() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .returning(|_, _| Ok(()));
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
        let store = MockStore::new(tx);
        let results = [(claimed_job(0), report(Outcome::Delivered, Some(200)))];
        record_attempts(&store, &fixed_clock(), &no_jitter(), &settings(), &results).unwrap();
    }

    #[test]
    fn attempts_for_a_webhook_deleted_since_the_claim_are_still_logged() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .times(1)
            .returning(|_, _| Ok(()));
        tx.subscriptions.expect_webhooks().returning(|_| Ok(vec![]));
        tx.subscriptions.expect_save_webhook_state().never();
        tx.outbox.expect_append_event().never();
        tx.deliveries
            .expect_insert_attempt_logs()
            .withf(|logs| logs.len() == 1 && logs[0].response_status == Some(410))
            .times(1)
            .returning(|_| Ok(vec![]));
        let store = MockStore::new(tx);
        let results = [(claimed_job(0), report(Outcome::Gone, Some(410)))];
        record_attempts(&store, &fixed_clock(), &no_jitter(), &settings(), &results).unwrap();
    }

    #[test]
    fn recording_a_success_logs_it_and_heals_the_endpoint() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .withf(|d, _| d.status == DeliveryStatus::Delivered && d.attempts == 1)
            .times(1)
            .returning(|_, _| Ok(()));
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
        let store = MockStore::new(tx);
        let results = [(claimed_job(0), report(Outcome::Delivered, Some(200)))];
        record_attempts(&store, &fixed_clock(), &no_jitter(), &settings(), &results).unwrap();
    }

    #[test]
    fn a_success_then_a_failure_in_one_batch_counts_one_failure() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .returning(|_, _| Ok(()));
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
        let store = MockStore::new(tx);
        let results = [
            (claimed_job(0), report(Outcome::Delivered, Some(200))),
            (
                claimed_job(0),
                report(Outcome::Retry { after: None }, Some(503)),
            ),
        ];
        record_attempts(&store, &fixed_clock(), &no_jitter(), &settings(), &results).unwrap();
    }

    #[test]
    fn a_410_disables_the_webhook_and_records_webhook_disabled() {
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_save_delivery()
            .withf(|d, _| d.status == DeliveryStatus::Failed)
            .returning(|_, _| Ok(()));
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
        let store = MockStore::new(tx);
        let results = [
            (claimed_job(0), report(Outcome::Gone, Some(410))),
            (claimed_job(0), report(Outcome::Gone, Some(410))),
        ];
        record_attempts(&store, &fixed_clock(), &no_jitter(), &settings(), &results).unwrap();
    }

    #[test]
    fn claims_take_what_fits_and_lease_it_for_the_configured_time() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_due_deliveries()
            .withf(move |now, scan, exclude| *now == at(0) && *scan == 12 && exclude == [c])
            .returning(move |_, _, _| Ok(vec![(1, a), (2, a), (3, b), (4, a), (5, b)]));
        tx.deliveries
            .expect_lease_deliveries()
            .withf(|ids, until| ids == [1, 3, 5] && *until == at(15))
            .times(1)
            .returning(|ids, _| {
                let hook = webhook("https://a.example/", vec![EventPattern::Everything]);
                Ok(ids
                    .iter()
                    .map(|id| ClaimedDelivery {
                        delivery: Delivery {
                            id: *id,
                            ..delivery(0)
                        },
                        webhook: hook.clone(),
                        event: event("book.created", 0),
                    })
                    .collect())
            });
        let store = MockStore::new(tx);
        // `a` has one attempt in flight of its two, `c` is at its bound.
        let capacity = Capacity {
            free: 3,
            per_endpoint: 2,
            in_flight: HashMap::from([(a, 1), (c, 2)]),
        };
        let jobs = claim_deliveries(&store, &fixed_clock(), &settings(), &capacity).unwrap();
        assert_eq!(
            jobs.iter().map(|j| j.delivery.id).collect::<Vec<_>>(),
            [1, 3, 5]
        );
        assert_eq!(jobs[0].request.url, "https://a.example/");
    }

    #[test]
    fn a_claim_with_nothing_that_fits_leases_nothing() {
        let a = Uuid::from_u128(1);
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_due_deliveries()
            .returning(move |_, _, _| Ok(vec![(1, a), (2, a)]));
        tx.deliveries.expect_lease_deliveries().never();
        let store = MockStore::new(tx);
        let full = Capacity {
            free: 5,
            per_endpoint: 1,
            in_flight: HashMap::from([(a, 1)]),
        };
        assert!(claim_deliveries(&store, &fixed_clock(), &settings(), &full)
            .unwrap()
            .is_empty());
        let none_free = Capacity {
            free: 0,
            per_endpoint: 1,
            in_flight: HashMap::new(),
        };
        assert!(
            claim_deliveries(&store, &fixed_clock(), &settings(), &none_free)
                .unwrap()
                .is_empty()
        );
    }
}
