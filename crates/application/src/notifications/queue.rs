//! The email channel's queue: notifications, targeted at their recipient so
//! one mailbox never gets a burst while others wait.

use chrono::{DateTime, Utc};
use libris_domain::notifications::Email;

use super::CHANNEL;
use crate::engine::{Attempt, Candidate, Job, Queue};
use crate::ports::{StoreError, Tx};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailQueue;

impl Queue for EmailQueue {
    type Message = Email;
    type Recorded = ();

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
        Ok(tx
            .notifications()
            .due_notifications(now, limit, exclude)?
            .into_iter()
            .map(|(id, target)| Candidate { id, target })
            .collect())
    }

    fn lease(
        &self,
        tx: &mut dyn Tx,
        ids: &[i64],
        until: DateTime<Utc>,
    ) -> Result<Vec<Job<Email>>, StoreError> {
        Ok(tx
            .notifications()
            .lease_notifications(ids, until)?
            .into_iter()
            .map(|leased| Job {
                id: leased.id,
                target: leased.email.to.clone(),
                progress: leased.progress,
                message: leased.email,
            })
            .collect())
    }

    fn record(
        &self,
        tx: &mut dyn Tx,
        attempts: &[Attempt<'_, Email>],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for attempt in attempts {
            tx.notifications()
                .save_notification(attempt.job.id, &attempt.next, now)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use libris_domain::delivery::{AttemptReport, DeliveryStatus, Outcome, Progress};

    use super::*;
    use crate::ports::{LeasedNotification, MockTx};
    use crate::testing::at;

    fn email() -> Email {
        Email {
            to: "ada@example.org".into(),
            subject: "Due soon: Dune".into(),
            body: "…".into(),
        }
    }

    fn pending() -> Progress {
        Progress {
            status: DeliveryStatus::Pending,
            attempts: 0,
            retry_base: 0,
            next_attempt_at: at(0),
            last_error: None,
        }
    }

    #[test]
    fn a_leased_notification_targets_its_recipient() {
        let mut tx = MockTx::new();
        tx.notifications
            .expect_lease_notifications()
            .withf(|ids, until| ids == [4] && *until == at(30))
            .returning(|ids, _| {
                Ok(vec![LeasedNotification {
                    id: ids[0],
                    email: email(),
                    progress: pending(),
                }])
            });
        let jobs = EmailQueue.lease(&mut tx, &[4], at(30)).unwrap();
        assert_eq!(jobs[0].target, "ada@example.org");
        assert_eq!(jobs[0].message.subject, "Due soon: Dune");
    }

    #[test]
    fn recording_saves_the_state_the_engine_decided() {
        let mut tx = MockTx::new();
        tx.notifications
            .expect_save_notification()
            .withf(|id, progress, when| {
                *id == 4 && progress.status == DeliveryStatus::Delivered && *when == at(1)
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let job = Job {
            id: 4,
            target: "ada@example.org".into(),
            progress: pending(),
            message: email(),
        };
        let report = AttemptReport {
            status: Some(250),
            response_body: "OK".into(),
            error: None,
            duration_ms: 3,
            outcome: Outcome::Delivered,
        };
        let attempt = Attempt {
            job: &job,
            report: &report,
            next: Progress {
                status: DeliveryStatus::Delivered,
                attempts: 1,
                ..pending()
            },
        };
        EmailQueue.record(&mut tx, &[attempt], at(1)).unwrap();
    }
}
