//! SMS campaigns to members: the librarian's use cases (create, read, change,
//! delete, cancel, statistics), the scheduler that starts and finishes
//! campaigns by the clock and mails the daily statistics, the "sms" channel's
//! queue for the delivery engine, and the runtime settings.
//!
//! A campaign's recipients are chosen when it starts, by one statement that
//! queues a message per member the filter matches (`Campaigns::
//! queue_recipients`); from then on each message is a queue row that the one
//! delivery engine works off, deciding again just before each send whether
//! it is still owed (`queue::SmsQueue`). Every change records its
//! `campaign.*` event in the same transaction.

pub mod model;
pub mod queue;
pub mod scheduler;
pub mod settings;

use chrono::{DateTime, Utc};
use libris_domain::campaigns::{
    CampaignConflict, CampaignId, CampaignInput, CampaignSpec, CampaignStatus, Cancel, FilterInput,
    MessageCounts, MessageStatus,
};
use libris_domain::ValidationErrors;

use crate::access::Admin;
use crate::pagination::{Page, Paged};
use crate::ports::{Clock, NewEvent, Store, StoreError, StoreExt, Tx};

pub use model::{Campaign, CampaignMessage, CampaignSummary};
pub use queue::{CampaignSms, SmsGateway, SmsQueue, SmsSender};

/// The SMS channel's name in logs, metrics and wake-ups.
pub const CHANNEL: &str = "sms";

/// How a campaign use case can fail.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("no such campaign")]
    NotFound,
    #[error("invalid campaign: {0}")]
    Invalid(ValidationErrors),
    /// The campaign's status does not allow it (HTTP 409).
    #[error(transparent)]
    Conflict(#[from] CampaignConflict),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A change of a campaign: the fields a request gave, each put over the
/// campaign as it is (PATCH), or all of them (PUT, where the HTTP layer
/// fills what was left out with its default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignChange {
    pub text: Option<String>,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub filter: Option<FilterInput>,
    /// `Some(None)`: no window.
    pub send_window: Option<Option<(String, String)>>,
}

impl CampaignChange {
    fn apply(self, mut input: CampaignInput) -> CampaignInput {
        if let Some(text) = self.text {
            input.text = text;
        }
        if let Some(start_at) = self.start_at {
            input.start_at = start_at;
        }
        if let Some(end_at) = self.end_at {
            input.end_at = end_at;
        }
        if let Some(filter) = self.filter {
            input.filter = filter;
        }
        if let Some(window) = self.send_window {
            input.send_window = window;
        }
        input
    }
}

/// The `campaign.*` event with the campaign resource as its data.
pub(crate) fn record_event(
    tx: &mut dyn Tx,
    name: &str,
    campaign: &Campaign,
    admin: Option<&Admin>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.outbox().append_event(&NewEvent {
        name: name.to_owned(),
        data: campaign.resource(),
        user: admin.map(|a| a.caller().user_ref()),
        at,
        about: None,
    })?;
    Ok(())
}

/// Chooses the recipients and marks the campaign running, if it is still
/// scheduled: of two instances starting it at once, one does (the
/// conditional status change decides, and the database keeps one message
/// per member whatever happens). Answers the started campaign, or `None`
/// when someone else started, cancelled or deleted it first.
pub(crate) fn start(
    tx: &mut dyn Tx,
    id: CampaignId,
    admin: Option<&Admin>,
    now: DateTime<Utc>,
) -> Result<Option<Campaign>, StoreError> {
    let Some(campaign) = tx.campaigns().campaign(id)? else {
        return Ok(None);
    };
    if !campaign.status.starts_at(campaign.spec.start_at, now)
        || !tx.campaigns().set_campaign_status(
            id,
            CampaignStatus::Scheduled,
            CampaignStatus::Running,
            now,
        )?
    {
        return Ok(None);
    }
    let queued = tx
        .campaigns()
        .queue_recipients(id, &campaign.spec.filter, now)?;
    let started = tx
        .campaigns()
        .campaign(id)?
        .ok_or_else(|| StoreError::Unexpected(format!("campaign {id} vanished while starting")))?;
    record_event(tx, "campaign.started", &started, admin, now)?;
    tracing::info!(campaign_id = id, recipients = queued, "campaign started");
    Ok(Some(started))
}

/// Creates a campaign. Inside its period it starts at once, in the same
/// transaction: its recipients are chosen before the answer.
pub fn create_campaign(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    spec: CampaignSpec,
) -> Result<Campaign, CampaignError> {
    let now = clock.now();
    let status = CampaignStatus::on_create(spec.start_at, spec.end_at, now);
    // Inserted as scheduled when it is to start now, so the one way a
    // campaign starts (`start`) is the way this one does too.
    let inserted_as = match status {
        CampaignStatus::Running => CampaignStatus::Scheduled,
        other => other,
    };
    store.write_tx(|tx| {
        let campaign = tx.campaigns().insert_campaign(&spec, inserted_as, now)?;
        let id = campaign.id;
        if status != CampaignStatus::Running {
            record_event(tx, "campaign.created", &campaign, Some(admin), now)?;
            tracing::info!(
                campaign_id = id,
                status = status.as_str(),
                "campaign created"
            );
            return Ok(campaign);
        }
        // `campaign.created` first, with the campaign as the answer shows
        // it (running, its recipients counted), then `campaign.started`.
        let started = start_without_event(tx, &campaign, now)?;
        record_event(tx, "campaign.created", &started, Some(admin), now)?;
        record_event(tx, "campaign.started", &started, Some(admin), now)?;
        tracing::info!(
            campaign_id = id,
            recipients = started.counts.pending,
            "campaign created and started"
        );
        Ok(started)
    })
}

fn start_without_event(
    tx: &mut dyn Tx,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Result<Campaign, StoreError> {
    let id = campaign.id;
    tx.campaigns().set_campaign_status(
        id,
        CampaignStatus::Scheduled,
        CampaignStatus::Running,
        now,
    )?;
    tx.campaigns()
        .queue_recipients(id, &campaign.spec.filter, now)?;
    tx.campaigns()
        .campaign(id)?
        .ok_or_else(|| StoreError::Unexpected(format!("campaign {id} vanished while starting")))
}

pub fn get_campaign(
    store: &dyn Store,
    _admin: &Admin,
    id: CampaignId,
) -> Result<Campaign, CampaignError> {
    store
        .read_tx(|tx| tx.campaigns().campaign(id))?
        .ok_or(CampaignError::NotFound)
}

pub fn list_campaigns(
    store: &dyn Store,
    _admin: &Admin,
    page: Page,
) -> Result<Paged<Campaign>, StoreError> {
    store.read_tx(|tx| tx.campaigns().list_campaigns(page))
}

/// Changes a campaign. `filter` and `start_at` change only while it is
/// scheduled (409 otherwise); `text`, `end_at` and `send_window` apply to
/// the messages not sent yet: those waiting for their window are decided
/// again at once. A scheduled campaign whose new `start_at` has come starts
/// in the same transaction.
pub fn update_campaign(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    id: CampaignId,
    change: CampaignChange,
) -> Result<Campaign, CampaignError> {
    let now = clock.now();
    store.write_tx(|tx| {
        let current = tx
            .campaigns()
            .campaign(id)?
            .ok_or(CampaignError::NotFound)?;
        let next = CampaignSpec::parse(change.apply(current.spec.to_input()))
            .map_err(CampaignError::Invalid)?;
        current.status.check_change(&current.spec, &next)?;
        let mut updated = tx.campaigns().update_campaign(id, &next, now)?;
        let retimed = next.end_at != current.spec.end_at
            || next.send_window != current.spec.send_window
            || next.start_at != current.spec.start_at;
        if retimed && current.status == CampaignStatus::Running {
            let woken = tx.campaigns().wake_waiting_messages(id, now)?;
            tracing::info!(
                campaign_id = id,
                messages = woken,
                "waiting messages decided again"
            );
        }
        record_event(tx, "campaign.updated", &updated, Some(admin), now)?;
        tracing::info!(campaign_id = id, "campaign updated");
        if updated.status.starts_at(updated.spec.start_at, now) {
            if let Some(started) = start(tx, id, Some(admin), now)? {
                updated = started;
            }
        }
        Ok(updated)
    })
}

/// Deletes a campaign and its messages. A message in flight may still
/// reach the gateway; its outcome has no row left to record.
pub fn delete_campaign(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    id: CampaignId,
) -> Result<(), CampaignError> {
    let now = clock.now();
    store.write_tx(|tx| {
        let campaign = tx
            .campaigns()
            .campaign(id)?
            .ok_or(CampaignError::NotFound)?;
        tx.campaigns().delete_campaign(id)?;
        record_event(tx, "campaign.deleted", &campaign, Some(admin), now)?;
        tracing::info!(campaign_id = id, "campaign deleted");
        Ok(())
    })
}

/// Cancels a campaign: every pending message that is not in flight becomes
/// cancelled, in one statement; one in flight may still be sent, and one
/// that comes back for a retry is cancelled then. Cancelling a cancelled
/// campaign again changes nothing; a finished one is 409.
pub fn cancel_campaign(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    id: CampaignId,
) -> Result<Campaign, CampaignError> {
    let now = clock.now();
    store.write_tx(|tx| {
        let campaign = tx
            .campaigns()
            .campaign(id)?
            .ok_or(CampaignError::NotFound)?;
        if campaign.status.cancel()? == Cancel::AlreadyCancelled {
            return Ok(campaign);
        }
        tx.campaigns()
            .set_campaign_status(id, campaign.status, CampaignStatus::Cancelled, now)?;
        let cancelled = tx
            .campaigns()
            .close_pending_messages(id, MessageStatus::Cancelled, now)?;
        let campaign = tx
            .campaigns()
            .campaign(id)?
            .ok_or(CampaignError::NotFound)?;
        record_event(tx, "campaign.cancelled", &campaign, Some(admin), now)?;
        tracing::info!(campaign_id = id, messages = cancelled, "campaign cancelled");
        Ok(campaign)
    })
}

/// Every campaign's counts, a page of campaigns, and the totals over all.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub campaigns: Paged<CampaignSummary>,
    pub totals: MessageCounts,
}

pub fn statistics(store: &dyn Store, _admin: &Admin, page: Page) -> Result<Statistics, StoreError> {
    store.read_tx(|tx| {
        let campaigns = tx.campaigns().list_campaigns(page)?;
        let totals = tx.campaigns().message_totals()?;
        Ok(Statistics {
            campaigns: Paged {
                count: campaigns.count,
                results: campaigns
                    .results
                    .iter()
                    .map(CampaignSummary::from)
                    .collect(),
            },
            totals,
        })
    })
}

/// One campaign with a page of its messages.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignStatistics {
    pub campaign: Campaign,
    pub messages: Paged<CampaignMessage>,
}

pub fn campaign_statistics(
    store: &dyn Store,
    _admin: &Admin,
    id: CampaignId,
    page: Page,
) -> Result<CampaignStatistics, CampaignError> {
    store.read_tx(|tx| {
        let campaign = tx
            .campaigns()
            .campaign(id)?
            .ok_or(CampaignError::NotFound)?;
        let messages = tx.campaigns().list_messages(id, None, page)?;
        Ok(CampaignStatistics { campaign, messages })
    })
}

pub fn list_messages(
    store: &dyn Store,
    _admin: &Admin,
    id: CampaignId,
    status: Option<MessageStatus>,
    page: Page,
) -> Result<Paged<CampaignMessage>, CampaignError> {
    store.read_tx(|tx| {
        if tx.campaigns().campaign(id)?.is_none() {
            return Err(CampaignError::NotFound);
        }
        Ok(tx.campaigns().list_messages(id, status, page)?)
    })
}

#[cfg(test)]
mod tests;
