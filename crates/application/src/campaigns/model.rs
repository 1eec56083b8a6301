//! What the store keeps of campaigns and their messages, as the use cases,
//! the queue and the API read it.

use chrono::{DateTime, Utc};
use libris_domain::accounts::UserId;
use libris_domain::campaigns::{
    CampaignId, CampaignSpec, CampaignStatus, MessageCounts, MessageId, MessageStatus, SendWindow,
};
use libris_domain::delivery::Progress;
use serde_json::{json, Value};

/// A campaign with its messages counted by status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: CampaignId,
    pub spec: CampaignSpec,
    pub status: CampaignStatus,
    pub counts: MessageCounts,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Campaign {
    /// The campaign resource, as the API answers it and as every
    /// `campaign.*` event carries it.
    pub fn resource(&self) -> Value {
        let spec = &self.spec;
        json!({
            "id": self.id,
            "text": spec.text.as_str(),
            "start_at": spec.start_at,
            "end_at": spec.end_at,
            "filter": {
                "tags": spec.filter.tags(),
                "operator_codes": spec.filter.operator_codes(),
            },
            "send_window": spec.send_window.map(|w| json!({
                "from": w.from().to_string(),
                "to": w.to().to_string(),
            })),
            "status": self.status.as_str(),
            "counts": self.counts,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// One message of a campaign, as admins list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignMessage {
    pub id: MessageId,
    pub campaign_id: CampaignId,
    /// The member's id and name when the campaign started; the message
    /// outlives the member.
    pub user_id: UserId,
    pub username: String,
    pub phone: String,
    pub status: MessageStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A campaign's line in the statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSummary {
    pub id: CampaignId,
    pub text: String,
    pub status: CampaignStatus,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub counts: MessageCounts,
}

impl From<&Campaign> for CampaignSummary {
    fn from(campaign: &Campaign) -> Self {
        Self {
            id: campaign.id,
            text: campaign.spec.text.as_str().to_owned(),
            status: campaign.status,
            start_at: campaign.spec.start_at,
            end_at: campaign.spec.end_at,
            counts: campaign.counts,
        }
    }
}

/// A pending message about to be leased, with what the decision before a
/// send reads: its campaign as it is now, and its member's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub id: MessageId,
    pub campaign_id: CampaignId,
    pub user_id: UserId,
    pub phone: String,
    /// An IANA name, as copied from the member's profile.
    pub timezone: String,
    pub text: String,
    pub campaign_status: CampaignStatus,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub send_window: Option<SendWindow>,
    pub progress: Progress,
}

/// A campaign's messages whose status changed within a period, for the
/// daily statistics email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignActivity {
    pub campaign_id: CampaignId,
    pub text: String,
    pub counts: MessageCounts,
}
