//! Campaign work that is due at a time rather than woken by a request: a
//! scheduled campaign's start, a running one's finish, and the daily
//! statistics email. The campaigns table and the notifications table are
//! the queue (rows with a due time), so this survives restarts and is
//! shared by instances; [`tick`] does one round and the server's loop calls
//! it every poll interval.
//!
//! Each start and each finish is its own transaction that changes the
//! status only if it is still what it was read as: of two instances doing
//! the same one at once, exactly one does it and records its event.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use libris_domain::campaigns::{CampaignId, CampaignStatus, MessageStatus};
use libris_domain::notifications::Email;

use super::model::CampaignActivity;
use super::settings::{self, SettingDefaults};
use super::{record_event, start};
use crate::ports::{Clock, Store, StoreError, StoreExt, Tx};

/// Campaigns started or finished per round, at most; the next round takes
/// the rest a poll interval later.
const BATCH: i64 = 20;

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    pub started: Vec<CampaignId>,
    pub finished: Vec<CampaignId>,
    /// Daily statistics emails queued (one per address, once a day).
    pub statistics_emails: usize,
}

impl Tick {
    pub fn any(&self) -> bool {
        !self.started.is_empty() || !self.finished.is_empty() || self.statistics_emails > 0
    }
}

/// One round: starts what is due, finishes what is over, queues today's
/// statistics emails once their time has come.
pub fn tick(
    store: &dyn Store,
    clock: &dyn Clock,
    defaults: &SettingDefaults,
) -> Result<Tick, StoreError> {
    let now = clock.now();
    let mut done = Tick::default();
    // One campaign that cannot start or finish must not hold up the others
    // or the daily email: it is logged and tried again at the next tick.
    for id in store.read_tx(|tx| tx.campaigns().campaigns_to_start(now, BATCH))? {
        match store.write_tx(|tx| start(tx, id, None, now)) {
            Ok(Some(_)) => done.started.push(id),
            Ok(None) => {}
            Err(error) => tracing::error!(campaign_id = id, %error, "the campaign did not start"),
        }
    }
    for id in store.read_tx(|tx| tx.campaigns().campaigns_to_finish(now, BATCH))? {
        match store.write_tx(|tx| finish(tx, id, now)) {
            Ok(true) => done.finished.push(id),
            Ok(false) => {}
            Err(error) => tracing::error!(campaign_id = id, %error, "the campaign did not finish"),
        }
    }
    done.statistics_emails = store.write_tx(|tx| queue_statistics(tx, defaults, now))?;
    Ok(done)
}

/// Expires what is past `end_at` and finishes the campaign once nothing is
/// pending; answers whether it finished it. A message in flight stays
/// pending until its attempt is recorded, and holds the finish until then.
fn finish(tx: &mut dyn Tx, id: CampaignId, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let Some(campaign) = tx.campaigns().campaign(id)? else {
        return Ok(false);
    };
    if campaign.status != CampaignStatus::Running {
        return Ok(false);
    }
    let mut pending = campaign.counts.pending;
    if libris_domain::campaigns::is_expired(campaign.spec.end_at, now) && pending > 0 {
        let expired = tx
            .campaigns()
            .close_pending_messages(id, MessageStatus::Expired, now)?;
        pending = pending.saturating_sub(expired);
        tracing::info!(
            campaign_id = id,
            messages = expired,
            "messages expired at end_at"
        );
    }
    if pending > 0
        || !tx.campaigns().set_campaign_status(
            id,
            CampaignStatus::Running,
            CampaignStatus::Finished,
            now,
        )?
    {
        return Ok(false);
    }
    let finished = tx
        .campaigns()
        .campaign(id)?
        .ok_or_else(|| StoreError::Unexpected(format!("campaign {id} vanished while finishing")))?;
    record_event(tx, "campaign.finished", &finished, None, now)?;
    tracing::info!(
        campaign_id = id,
        sent = finished.counts.sent,
        failed = finished.counts.failed,
        expired = finished.counts.expired,
        "campaign finished"
    );
    Ok(true)
}

/// The key that makes the statistics email of `day` to `address` unique.
pub fn statistics_key(day: chrono::NaiveDate, address: &str) -> String {
    format!("daily_statistics:{day}:{}", address.to_lowercase())
}

/// When today's statistics are due (UTC), or `None` before then.
fn due_today(now: DateTime<Utc>, at: NaiveTime) -> Option<DateTime<Utc>> {
    let due = now.date_naive().and_time(at).and_utc();
    (now >= due).then_some(due)
}

/// Queues today's statistics email to each address that has none yet, once
/// its time has come. Reads nothing more on the rounds after that.
fn queue_statistics(
    tx: &mut dyn Tx,
    defaults: &SettingDefaults,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let current = settings::current(tx, defaults)?;
    let Some(due) = due_today(now, current.stats_email_time) else {
        return Ok(0);
    };
    if current.stats_emails.is_empty() {
        return Ok(0);
    }
    let day = due.date_naive();
    let keys: Vec<String> = current
        .stats_emails
        .iter()
        .map(|address| statistics_key(day, address))
        .collect();
    let queued = tx.campaigns().statistics_emails_queued(&keys)?;
    if queued.len() == keys.len() {
        return Ok(0);
    }
    let since = due - Duration::hours(24);
    let activity = tx.campaigns().activity_between(since, due)?;
    let (subject, body) = statistics_email(since, due, &activity);
    let mut count = 0;
    for (address, key) in current.stats_emails.iter().zip(&keys) {
        if queued.contains(key) {
            continue;
        }
        let email = Email {
            to: address.clone(),
            subject: subject.clone(),
            body: body.clone(),
        };
        if tx.campaigns().queue_statistics_email(key, &email, now)? {
            count += 1;
        }
    }
    if count > 0 {
        tracing::info!(day = %day, emails = count, "daily campaign statistics queued");
    }
    Ok(count)
}

/// The subject and plain-text body of the daily statistics.
pub fn statistics_email(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    activity: &[CampaignActivity],
) -> (String, String) {
    const FORMAT: &str = "%Y-%m-%d %H:%M UTC";
    let subject = format!("Campaign statistics for {}", until.format("%Y-%m-%d"));
    let mut body = format!(
        "SMS campaign messages whose status changed from {} to {}, by campaign and status.\n\n",
        since.format(FORMAT),
        until.format(FORMAT)
    );
    if activity.is_empty() {
        body.push_str("No message changed in this period.\n");
        return (subject, body);
    }
    let mut totals = libris_domain::campaigns::MessageCounts::default();
    for line in activity {
        totals.merge(&line.counts);
        let text: String = line.text.chars().take(60).collect();
        let ellipsis = if line.text.chars().count() > 60 {
            "…"
        } else {
            ""
        };
        body.push_str(&format!(
            "Campaign {} \"{}{}\": {}\n",
            line.campaign_id,
            text.replace(['\n', '\r'], " "),
            ellipsis,
            counts_line(&line.counts)
        ));
    }
    body.push_str(&format!("\nAll campaigns: {}\n", counts_line(&totals)));
    (subject, body)
}

fn counts_line(counts: &libris_domain::campaigns::MessageCounts) -> String {
    MessageStatus::ALL
        .iter()
        .map(|status| format!("{} {}", status.as_str(), counts.get(*status)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use libris_domain::campaigns::MessageCounts;
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockClock, MockTx};
    use crate::testing::MockStore;

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    fn clock(now: DateTime<Utc>) -> MockClock {
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || now);
        clock
    }

    fn defaults() -> SettingDefaults {
        SettingDefaults {
            stats_emails: vec!["ops@example.org".into(), "Boss@Example.org".into()],
            stats_email_time: NaiveTime::from_hms_opt(8, 0, 0),
            ..SettingDefaults::default()
        }
    }

    fn quiet(tx: &mut MockTx) {
        tx.campaigns
            .expect_campaigns_to_start()
            .returning(|_, _| Ok(vec![]));
        tx.campaigns
            .expect_campaigns_to_finish()
            .returning(|_, _| Ok(vec![]));
        tx.settings
            .expect_stored_settings()
            .returning(|| Ok(vec![]));
    }

    #[test]
    fn a_campaign_that_fails_to_start_does_not_hold_up_the_others() {
        let mut tx = MockTx::new();
        tx.campaigns
            .expect_campaigns_to_start()
            .returning(|_, _| Ok(vec![1, 2]));
        tx.campaigns
            .expect_campaign()
            .with(eq(1))
            .returning(|_| Err(StoreError::Unexpected("too many parameters".into())));
        tx.campaigns
            .expect_campaign()
            .with(eq(2))
            .times(1)
            .returning(|_| Ok(None));
        tx.campaigns
            .expect_campaigns_to_finish()
            .returning(|_, _| Ok(vec![]));
        tx.settings
            .expect_stored_settings()
            .returning(|| Ok(vec![]));
        let store = MockStore::new(tx);
        let done = tick(&store, &clock(utc(7, 0)), &defaults()).unwrap();
        assert!(done.started.is_empty());
    }

    #[test]
    fn before_its_time_no_statistics_email_is_queued() {
        let mut tx = MockTx::new();
        quiet(&mut tx);
        tx.campaigns.expect_statistics_emails_queued().never();
        let store = MockStore::new(tx);
        let done = tick(&store, &clock(utc(7, 59)), &defaults()).unwrap();
        assert_eq!(done, Tick::default());
    }

    #[test]
    fn at_its_time_each_address_without_one_gets_todays_statistics_once() {
        let mut tx = MockTx::new();
        quiet(&mut tx);
        let day = utc(0, 0).date_naive();
        tx.campaigns
            .expect_statistics_emails_queued()
            .returning(move |_| Ok(vec![statistics_key(day, "ops@example.org")]));
        tx.campaigns
            .expect_activity_between()
            .with(eq(utc(8, 0) - Duration::hours(24)), eq(utc(8, 0)))
            .returning(|_, _| {
                let mut counts = MessageCounts::default();
                counts.add(MessageStatus::Sent, 3);
                counts.add(MessageStatus::Expired, 1);
                Ok(vec![CampaignActivity {
                    campaign_id: 4,
                    text: "Closed on Monday".into(),
                    counts,
                }])
            });
        tx.campaigns
            .expect_queue_statistics_email()
            .withf(|key, email, _| {
                key == "daily_statistics:2026-03-02:boss@example.org"
                    && email.to == "Boss@Example.org"
                    && email.subject == "Campaign statistics for 2026-03-02"
                    && email.body.contains(
                        "Campaign 4 \"Closed on Monday\": pending 0, sent 3, failed 0, expired 1, cancelled 0",
                    )
            })
            .times(1)
            .returning(|_, _, _| Ok(true));
        let store = MockStore::new(tx);
        let done = tick(&store, &clock(utc(9, 30)), &defaults()).unwrap();
        assert_eq!(done.statistics_emails, 1);
    }

    #[test]
    fn once_every_address_has_todays_email_nothing_more_is_read() {
        let mut tx = MockTx::new();
        quiet(&mut tx);
        let day = utc(0, 0).date_naive();
        tx.campaigns
            .expect_statistics_emails_queued()
            .returning(move |_| {
                Ok(vec![
                    statistics_key(day, "ops@example.org"),
                    statistics_key(day, "boss@example.org"),
                ])
            });
        tx.campaigns.expect_activity_between().never();
        tx.campaigns.expect_queue_statistics_email().never();
        let store = MockStore::new(tx);
        assert_eq!(
            tick(&store, &clock(utc(23, 0)), &defaults())
                .unwrap()
                .statistics_emails,
            0
        );
    }
}
