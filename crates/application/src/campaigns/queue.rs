//! The "sms" channel's queue: campaign messages, as the delivery engine sees
//! them. What sets it apart from the email queue is the decision taken just
//! before each send, inside the claim's transaction: a message of a
//! cancelled campaign is cancelled, one past `end_at` expires, one whose
//! member's local time is outside the window is put off until the window
//! opens (no attempt counted), and only the rest are leased and sent.
//!
//! Nothing is claimed while no gateway URL is set (in `/api/settings/` or the
//! environment): the messages stay pending, attempts untouched, and go out
//! once one is set. The gateway's URL and token are read in the claim's
//! transaction and travel with each message, so a change of the settings
//! applies to the next claim, on every instance, without a read per send.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use libris_domain::accounts::UserId;
use libris_domain::campaigns::{CampaignId, MessageStatus, SendCheck, SendDecision, Sms};

use super::model::OutgoingMessage;
use super::settings::{self, Gateway, SettingDefaults};
use super::CHANNEL;
use crate::engine::{Attempt, Candidate, Channel, Job, Queue, SendFuture};
use crate::ports::{Clock, StoreError, Tx};

/// One campaign message as the engine carries it: the SMS, the gateway the
/// settings named when it was leased, and the ids every log line about it
/// names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSms {
    pub sms: Sms,
    pub gateway: Gateway,
    pub campaign_id: CampaignId,
    pub user_id: UserId,
}

/// The SMS gateway port: sends one SMS to the gateway it is given. Like a
/// [`Channel`], it never fails (every problem is a report whose outcome says
/// whether to retry) and bounds each attempt with its own timeout.
pub trait SmsGateway: Send + Sync {
    fn send<'a>(&'a self, gateway: &'a Gateway, sms: &'a Sms) -> SendFuture<'a>;
}

/// The "sms" channel: each message to the gateway it carries.
pub struct SmsSender<G>(pub G);

impl<G: SmsGateway> Channel<CampaignSms> for SmsSender<G> {
    fn send<'a>(&'a self, message: &'a CampaignSms, _attempt_at: DateTime<Utc>) -> SendFuture<'a> {
        self.0.send(&message.gateway, &message.sms)
    }
}

pub struct SmsQueue {
    /// The decision before a send reads the time itself: the engine hands
    /// `lease` only the lease's end.
    pub clock: Arc<dyn Clock>,
    /// The gateway settings' environment defaults.
    pub defaults: SettingDefaults,
}

/// The member's zone; a name that does not read (it was checked when saved)
/// counts as UTC rather than holding the message forever.
fn zone(message: &OutgoingMessage) -> Tz {
    message.timezone.parse().unwrap_or_else(|_| {
        tracing::warn!(
            campaign_id = message.campaign_id,
            message_id = message.id,
            user_id = message.user_id,
            timezone = %message.timezone,
            "unknown time zone; the window is read in UTC"
        );
        Tz::UTC
    })
}

impl SmsQueue {
    /// The gateway the settings name now, if any.
    fn gateway(&self, tx: &mut dyn Tx) -> Result<Option<Gateway>, StoreError> {
        Ok(settings::current(tx, &self.defaults)?.gateway())
    }

    fn decide(&self, message: &OutgoingMessage, now: DateTime<Utc>) -> SendDecision {
        SendCheck {
            campaign_status: message.campaign_status,
            start_at: message.start_at,
            end_at: message.end_at,
            send_window: message.send_window,
            time_zone: zone(message),
        }
        .decide(now)
    }
}

impl Queue for SmsQueue {
    type Message = CampaignSms;
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
        if self.gateway(tx)?.is_none() {
            return Ok(Vec::new());
        }
        Ok(tx
            .campaigns()
            .due_messages(now, limit, exclude)?
            .into_iter()
            .map(|(id, target)| Candidate { id, target })
            .collect())
    }

    fn lease(
        &self,
        tx: &mut dyn Tx,
        ids: &[i64],
        until: DateTime<Utc>,
    ) -> Result<Vec<Job<CampaignSms>>, StoreError> {
        let now = self.clock.now();
        let Some(gateway) = self.gateway(tx)? else {
            return Ok(Vec::new());
        };
        let mut jobs = Vec::with_capacity(ids.len());
        for message in tx.campaigns().messages_to_send(ids)? {
            let (campaign_id, message_id, user_id) =
                (message.campaign_id, message.id, message.user_id);
            match self.decide(&message, now) {
                SendDecision::Send => jobs.push(Job {
                    id: message.id,
                    target: message.user_id.to_string(),
                    progress: message.progress,
                    message: CampaignSms {
                        sms: Sms {
                            message_id: message.id,
                            phone: message.phone,
                            text: message.text,
                        },
                        gateway: gateway.clone(),
                        campaign_id,
                        user_id,
                    },
                }),
                SendDecision::Cancel => {
                    tx.campaigns()
                        .close_message(message_id, MessageStatus::Cancelled, now)?;
                    tracing::info!(
                        campaign_id,
                        message_id,
                        user_id,
                        "message cancelled: its campaign was"
                    );
                }
                SendDecision::Expire => {
                    tx.campaigns()
                        .close_message(message_id, MessageStatus::Expired, now)?;
                    tracing::info!(
                        campaign_id,
                        message_id,
                        user_id,
                        "message expired: the campaign's end_at passed"
                    );
                }
                SendDecision::Wait { until: opens } => {
                    tx.campaigns().defer_message(message_id, opens, now)?;
                    tracing::info!(
                        campaign_id,
                        message_id,
                        user_id,
                        due_at = %opens,
                        "message waits for its member's window"
                    );
                }
            }
        }
        let leased: Vec<i64> = jobs.iter().map(|job| job.id).collect();
        if !leased.is_empty() {
            tx.campaigns().lease_messages(&leased, until)?;
        }
        Ok(jobs)
    }

    fn record(
        &self,
        tx: &mut dyn Tx,
        attempts: &[Attempt<'_, CampaignSms>],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut retried = Vec::new();
        for attempt in attempts {
            let message = &attempt.job.message;
            tx.campaigns()
                .save_message(attempt.job.id, &attempt.next, now)?;
            let status = MessageStatus::from_delivery(attempt.next.status);
            if status == MessageStatus::Pending {
                retried.push(attempt.job.id);
            }
            tracing::info!(
                campaign_id = message.campaign_id,
                message_id = attempt.job.id,
                user_id = message.user_id,
                attempt = attempt.next.attempts,
                status = status.as_str(),
                http_status = attempt.report.status,
                error = attempt.report.error.as_deref(),
                next_attempt_at = %attempt.next.next_attempt_at,
                "sms attempt recorded"
            );
        }
        // A campaign cancelled while these were in flight: what would be
        // retried is cancelled instead.
        if !retried.is_empty() {
            tx.campaigns().cancel_if_campaign_cancelled(&retried, now)?;
        }
        Ok(())
    }

    fn span(&self, job: &Job<CampaignSms>) -> tracing::Span {
        tracing::info_span!(
            "sms",
            campaign_id = job.message.campaign_id,
            message_id = job.id,
            user_id = job.message.user_id
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use libris_domain::campaigns::{CampaignStatus, SendWindow, TimeOfDay};
    use libris_domain::delivery::{AttemptReport, DeliveryStatus, Outcome, Progress};
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockClock, MockTx};

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    fn clock_at(now: DateTime<Utc>) -> Arc<dyn Clock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || now);
        Arc::new(clock)
    }

    fn queue(now: DateTime<Utc>) -> SmsQueue {
        SmsQueue {
            clock: clock_at(now),
            defaults: SettingDefaults {
                sms_url: Some("http://gateway.test/v1".into()),
                ..SettingDefaults::default()
            },
        }
    }

    /// A transaction whose settings name no gateway: the defaults' applies.
    fn tx_with_gateway() -> MockTx {
        let mut tx = MockTx::new();
        tx.settings
            .expect_stored_settings()
            .returning(|| Ok(vec![]));
        tx
    }

    fn pending() -> Progress {
        Progress {
            status: DeliveryStatus::Pending,
            attempts: 0,
            retry_base: 0,
            next_attempt_at: utc(0, 0),
            last_error: None,
        }
    }

    /// Message `id` of a running campaign from 1 to 3 March, for a member in
    /// Moscow (UTC+3), with a window.
    fn message(id: i64, window: Option<(u32, u32)>) -> OutgoingMessage {
        OutgoingMessage {
            id,
            campaign_id: 7,
            user_id: 100 + id,
            phone: "79161234567".into(),
            timezone: "Europe/Moscow".into(),
            text: "Closed on Monday".into(),
            campaign_status: CampaignStatus::Running,
            start_at: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
            end_at: Utc.with_ymd_and_hms(2026, 3, 3, 0, 0, 0).unwrap(),
            send_window: window.map(|(from, to)| {
                SendWindow::new(
                    TimeOfDay::new(from, 0).unwrap(),
                    TimeOfDay::new(to, 0).unwrap(),
                )
                .unwrap()
            }),
            progress: pending(),
        }
    }

    #[test]
    fn inside_the_window_a_message_is_leased_for_its_member() {
        // 09:00 UTC is 12:00 in Moscow, inside 10:00-20:00.
        let mut tx = tx_with_gateway();
        tx.campaigns
            .expect_messages_to_send()
            .returning(|_| Ok(vec![message(1, Some((10, 20)))]));
        tx.campaigns
            .expect_lease_messages()
            .with(eq(vec![1]), eq(utc(9, 30)))
            .times(1)
            .returning(|_, _| Ok(()));
        let jobs = queue(utc(9, 0)).lease(&mut tx, &[1], utc(9, 30)).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].target, "101");
        assert_eq!(jobs[0].message.sms.message_id, 1);
        assert_eq!(jobs[0].message.sms.phone, "79161234567");
        assert_eq!(jobs[0].message.campaign_id, 7);
        assert_eq!(jobs[0].message.gateway.url, "http://gateway.test/v1");
    }

    #[test]
    fn outside_the_window_a_message_waits_for_it_without_an_attempt() {
        // 18:00 UTC is 21:00 in Moscow: the window opens at 10:00 Moscow,
        // 07:00 UTC the next day.
        let mut tx = tx_with_gateway();
        tx.campaigns
            .expect_messages_to_send()
            .returning(|_| Ok(vec![message(1, Some((10, 20)))]));
        tx.campaigns
            .expect_defer_message()
            .with(
                eq(1),
                eq(Utc
                    .with_ymd_and_hms(2026, 3, 3, 0, 0, 0)
                    .unwrap()
                    .min(Utc.with_ymd_and_hms(2026, 3, 3, 7, 0, 0).unwrap())),
                eq(utc(18, 0)),
            )
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.campaigns.expect_lease_messages().never();
        tx.campaigns.expect_save_message().never();
        let jobs = queue(utc(18, 0)).lease(&mut tx, &[1], utc(18, 30)).unwrap();
        assert!(jobs.is_empty());
    }

    #[test]
    fn a_closed_window_waits_for_its_opening_before_end_at() {
        // 05:00 UTC is 08:00 in Moscow: opens at 10:00 Moscow, 07:00 UTC.
        let mut tx = tx_with_gateway();
        tx.campaigns
            .expect_messages_to_send()
            .returning(|_| Ok(vec![message(1, Some((10, 20)))]));
        tx.campaigns
            .expect_defer_message()
            .with(eq(1), eq(utc(7, 0)), eq(utc(5, 0)))
            .times(1)
            .returning(|_, _, _| Ok(()));
        let jobs = queue(utc(5, 0)).lease(&mut tx, &[1], utc(5, 30)).unwrap();
        assert!(jobs.is_empty());
    }

    #[test]
    fn past_end_at_a_message_expires_and_a_cancelled_campaigns_is_cancelled() {
        let late = Utc.with_ymd_and_hms(2026, 3, 3, 0, 0, 0).unwrap();
        let mut tx = tx_with_gateway();
        tx.campaigns.expect_messages_to_send().returning(|_| {
            let mut cancelled = message(2, None);
            cancelled.campaign_status = CampaignStatus::Cancelled;
            Ok(vec![message(1, None), cancelled])
        });
        tx.campaigns
            .expect_close_message()
            .with(eq(1), eq(MessageStatus::Expired), eq(late))
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.campaigns
            .expect_close_message()
            .with(eq(2), eq(MessageStatus::Cancelled), eq(late))
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.campaigns.expect_lease_messages().never();
        let jobs = queue(late).lease(&mut tx, &[1, 2], late).unwrap();
        assert!(jobs.is_empty());
    }

    #[test]
    fn nothing_is_claimed_without_a_gateway_url() {
        let mut tx = MockTx::new();
        tx.settings
            .expect_stored_settings()
            .returning(|| Ok(vec![("sms_url".into(), String::new())]));
        tx.campaigns.expect_due_messages().never();
        let due = queue(utc(9, 0)).due(&mut tx, utc(9, 0), 10, &[]).unwrap();
        assert!(due.is_empty());

        let mut tx = MockTx::new();
        tx.settings
            .expect_stored_settings()
            .returning(|| Ok(vec![]));
        tx.campaigns
            .expect_due_messages()
            .returning(|_, _, _| Ok(vec![(4, "104".into())]));
        let due = queue(utc(9, 0)).due(&mut tx, utc(9, 0), 10, &[]).unwrap();
        assert_eq!(
            due,
            [Candidate {
                id: 4,
                target: "104".into()
            }]
        );
    }

    #[test]
    fn a_retry_of_a_campaign_cancelled_meanwhile_is_cancelled() {
        let job = Job {
            id: 3,
            target: "103".into(),
            progress: pending(),
            message: CampaignSms {
                sms: Sms {
                    message_id: 3,
                    phone: "79161234567".into(),
                    text: "Hi".into(),
                },
                gateway: Gateway {
                    url: "http://gateway.test/v1".into(),
                    token: None,
                },
                campaign_id: 7,
                user_id: 103,
            },
        };
        let report = AttemptReport {
            status: Some(500),
            response_body: String::new(),
            error: Some("HTTP 500".into()),
            duration_ms: 2,
            outcome: Outcome::Retry { after: None },
        };
        let next = Progress {
            attempts: 1,
            next_attempt_at: utc(9, 6),
            last_error: Some("HTTP 500".into()),
            ..pending()
        };
        let attempt = Attempt {
            job: &job,
            report: &report,
            next: next.clone(),
        };
        let mut tx = MockTx::new();
        tx.campaigns
            .expect_save_message()
            .with(eq(3), eq(next), eq(utc(9, 0)))
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.campaigns
            .expect_cancel_if_campaign_cancelled()
            .with(eq(vec![3]), eq(utc(9, 0)))
            .times(1)
            .returning(|_, _| Ok(0));
        queue(utc(9, 0))
            .record(&mut tx, &[attempt], utc(9, 0))
            .unwrap();
    }
}
