//! The event log's consumer that queues email: each borrow mails the admins
//! at once and schedules the borrower's reminder and overdue notice as queue
//! rows due at their time (not sleeping tasks: they survive restarts and are
//! shared by instances); a return cancels what was not sent yet.

use chrono::{DateTime, Duration, Utc};
use libris_domain::events::{EventPattern, RecordedEvent};
use libris_domain::notifications::{Email, NotificationKind};
use serde::Deserialize;

use crate::engine::Consumer;
use crate::ports::{NewNotification, StoreError, Tx};

/// Borrow emails, loan reminders and overdue notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoanMail {
    /// How long before a loan's due time its reminder goes out.
    pub reminder_before: Duration,
}

impl LoanMail {
    pub const NAME: &'static str = "email";
    const BORROWED: &'static str = "book.borrowed";
    const RETURNED: &'static str = "book.returned";
}

/// What these emails need of a `book.borrowed` / `book.returned` event.
#[derive(Debug, Deserialize)]
struct LoanEvent {
    title: String,
    user: LoanUser,
    loan: LoanTimes,
}

#[derive(Debug, Deserialize)]
struct LoanUser {
    id: i64,
    username: String,
}

#[derive(Debug, Deserialize)]
struct LoanTimes {
    id: i64,
    due_at: DateTime<Utc>,
}

impl LoanMail {
    fn borrowed(
        &self,
        tx: &mut dyn Tx,
        event: &RecordedEvent,
        loan: &LoanEvent,
        admins: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<NewNotification>, StoreError> {
        let title = &loan.title;
        let mut queued: Vec<NewNotification> = admins
            .iter()
            .map(|admin| NewNotification {
                kind: NotificationKind::Event,
                email: Email {
                    to: admin.clone(),
                    subject: format!("Book Borrowed - {title}"),
                    body: format!("User {} borrowed \"{title}\"", loan.user.username),
                },
                event_id: Some(event.id),
                loan_id: None,
                due_at: now,
                created_at: now,
            })
            .collect();
        let Some(member) = tx.accounts().notification_address(loan.user.id)? else {
            return Ok(queued);
        };
        let due = loan.loan.due_at;
        let due_day = due.format("%Y-%m-%d %H:%M UTC");
        let greeting = format!("Hello {},\n\n", loan.user.username);
        queued.push(NewNotification {
            kind: NotificationKind::LoanReminder,
            email: Email {
                to: member.clone(),
                subject: format!("Due soon: {title}"),
                body: format!("{greeting}\"{title}\" is due back on {due_day}.\n"),
            },
            event_id: None,
            loan_id: Some(loan.loan.id),
            // A loan shorter than the reminder's lead is reminded at once.
            due_at: (due - self.reminder_before).max(now),
            created_at: now,
        });
        queued.push(NewNotification {
            kind: NotificationKind::OverdueNotice,
            email: Email {
                to: member,
                subject: format!("Overdue: {title}"),
                body: format!(
                    "{greeting}\"{title}\" was due back on {due_day}. Please return it.\n"
                ),
            },
            event_id: None,
            loan_id: Some(loan.loan.id),
            due_at: due,
            created_at: now,
        });
        Ok(queued)
    }
}

impl Consumer for LoanMail {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn patterns(&self) -> Vec<EventPattern> {
        vec![
            EventPattern::Exact(Self::BORROWED.into()),
            EventPattern::Exact(Self::RETURNED.into()),
        ]
    }

    fn handle(
        &self,
        tx: &mut dyn Tx,
        events: &[RecordedEvent],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut admins: Option<Vec<String>> = None;
        let mut queued = Vec::new();
        for event in events {
            let loan = match serde_json::from_value::<LoanEvent>(event.data.clone()) {
                Ok(loan) => loan,
                // Not a loan event Libris wrote: nothing to mail about, and
                // nothing to hold the others back for.
                Err(error) => {
                    tracing::warn!(event_id = %event.id, event = %event.event, %error, "not a loan event; no email");
                    continue;
                }
            };
            match event.event.as_str() {
                Self::BORROWED => {
                    let admins = match &admins {
                        Some(admins) => admins,
                        None => admins.insert(tx.accounts().admin_emails()?),
                    };
                    queued.extend(self.borrowed(tx, event, &loan, admins, now)?);
                }
                Self::RETURNED => {
                    // The borrow may be in this very batch, its reminders not
                    // written yet.
                    queued.retain(|n: &NewNotification| n.loan_id != Some(loan.loan.id));
                    tx.notifications().cancel_loan_notifications(loan.loan.id)?;
                }
                _ => {}
            }
        }
        for notification in &queued {
            tracing::info!(
                kind = notification.kind.as_str(),
                to = %notification.email.to,
                subject = %notification.email.subject,
                due_at = %notification.due_at,
                "email queued"
            );
        }
        if queued.is_empty() {
            return Ok(0);
        }
        tx.notifications().insert_notifications(&queued)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{at, recorded};

    fn mail() -> LoanMail {
        LoanMail {
            reminder_before: Duration::days(2),
        }
    }

    fn loan_event(name: &str, due_in_days: i64) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::from_u128(9),
            data: json!({
                "id": 3, "title": "Dune \"II\"", "author": "F. Herbert", "author_id": 1,
                "isbn": null, "available": false,
                "user": {"id": 5, "username": "ada"},
                "loan": {"id": 11, "borrowed_at": at(0), "due_at": at(due_in_days * 86_400), "returned_at": null},
            }),
            ..recorded(name)
        }
    }

    #[test]
    fn a_borrow_mails_each_admin_and_schedules_the_members_reminder_and_notice() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_admin_emails()
            .times(1)
            .returning(|| Ok(vec!["root@example.org".into(), "ops@example.org".into()]));
        tx.accounts
            .expect_notification_address()
            .withf(|id| *id == 5)
            .returning(|_| Ok(Some("ada@example.org".into())));
        tx.notifications
            .expect_insert_notifications()
            .withf(|n| {
                let admin = &n[0];
                n.len() == 4
                    && admin.email.to == "root@example.org"
                    && admin.email.subject == "Book Borrowed - Dune \"II\""
                    && admin.email.body == "User ada borrowed \"Dune \"II\"\""
                    && admin.event_id == Some(Uuid::from_u128(9))
                    && admin.due_at == at(0)
                    && n[1].email.to == "ops@example.org"
                    && n[2].kind == NotificationKind::LoanReminder
                    && n[2].email.subject == "Due soon: Dune \"II\""
                    && n[2].due_at == at(12 * 86_400)
                    && n[2].loan_id == Some(11)
                    && n[2].event_id.is_none()
                    && n[3].kind == NotificationKind::OverdueNotice
                    && n[3].email.subject == "Overdue: Dune \"II\""
                    && n[3].due_at == at(14 * 86_400)
            })
            .times(1)
            .returning(|n| Ok(n.len()));
        let queued = mail()
            .handle(&mut tx, &[loan_event("book.borrowed", 14)], at(0))
            .unwrap();
        assert_eq!(queued, 4);
    }

    #[test]
    fn a_member_without_notifications_gets_no_reminder_and_a_short_loan_is_reminded_at_once() {
        let mut tx = MockTx::new();
        tx.accounts.expect_admin_emails().returning(|| Ok(vec![]));
        tx.accounts
            .expect_notification_address()
            .returning(|_| Ok(None));
        tx.notifications.expect_insert_notifications().never();
        assert_eq!(
            mail()
                .handle(&mut tx, &[loan_event("book.borrowed", 14)], at(0))
                .unwrap(),
            0
        );

        let mut tx = MockTx::new();
        tx.accounts.expect_admin_emails().returning(|| Ok(vec![]));
        tx.accounts
            .expect_notification_address()
            .returning(|_| Ok(Some("ada@example.org".into())));
        tx.notifications
            .expect_insert_notifications()
            .withf(|n| n[0].due_at == at(0) && n[1].due_at == at(86_400))
            .returning(|n| Ok(n.len()));
        mail()
            .handle(&mut tx, &[loan_event("book.borrowed", 1)], at(0))
            .unwrap();
    }

    #[test]
    fn a_return_cancels_what_was_not_sent_and_queues_nothing() {
        let mut tx = MockTx::new();
        tx.notifications
            .expect_cancel_loan_notifications()
            .withf(|loan| *loan == 11)
            .times(1)
            .returning(|_| Ok(2));
        tx.notifications.expect_insert_notifications().never();
        assert_eq!(
            mail()
                .handle(&mut tx, &[loan_event("book.returned", 14)], at(0))
                .unwrap(),
            0
        );
    }

    #[test]
    fn a_borrow_and_its_return_in_one_batch_leave_only_the_admins_email() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_admin_emails()
            .returning(|| Ok(vec!["root@example.org".into()]));
        tx.accounts
            .expect_notification_address()
            .returning(|_| Ok(Some("ada@example.org".into())));
        tx.notifications
            .expect_cancel_loan_notifications()
            .returning(|_| Ok(0));
        tx.notifications
            .expect_insert_notifications()
            .withf(|n| n.len() == 1 && n[0].email.to == "root@example.org")
            .times(1)
            .returning(|n| Ok(n.len()));
        let batch = [
            loan_event("book.borrowed", 14),
            loan_event("book.returned", 14),
        ];
        assert_eq!(mail().handle(&mut tx, &batch, at(0)).unwrap(), 1);
    }

    #[test]
    fn an_event_that_is_not_a_loan_is_skipped_not_fatal() {
        let mut tx = MockTx::new();
        tx.notifications.expect_insert_notifications().never();
        let odd = RecordedEvent {
            data: json!({"anything": 1}),
            ..recorded("book.borrowed")
        };
        assert_eq!(mail().handle(&mut tx, &[odd], at(0)).unwrap(), 0);
    }
}
