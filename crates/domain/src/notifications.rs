//! Notifications to people (email today): what one says and where it stands.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::delivery::DeliveryStatus;

/// One email to send: a plain-text message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub type NotificationId = i64;

/// Why a notification exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// Sent because an event happened (a borrow, to the admins).
    Event,
    /// A loan comes due soon.
    LoanReminder,
    /// A loan is past due.
    OverdueNotice,
    /// The SMS campaigns' statistics of the last day, to an address of the
    /// `stats_emails` setting.
    DailyStatistics,
}

impl NotificationKind {
    pub const ALL: [Self; 4] = [
        Self::Event,
        Self::LoanReminder,
        Self::OverdueNotice,
        Self::DailyStatistics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::LoanReminder => "loan_reminder",
            Self::OverdueNotice => "overdue_notice",
            Self::DailyStatistics => "daily_statistics",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// Where a notification stands. The queue's [`DeliveryStatus`] under the
/// names people read: an email is "sent", not "delivered".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationStatus(pub DeliveryStatus);

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self.0 {
            DeliveryStatus::Delivered => "sent",
            other => other.as_str(),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        DeliveryStatus::ALL
            .into_iter()
            .map(Self)
            .find(|s| s.as_str() == raw)
    }
}

/// A notification as the queue keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    /// `email`: the only channel so far.
    pub channel: String,
    pub kind: NotificationKind,
    pub email: Email,
    pub status: NotificationStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The event it is about; `None` for reminders and overdue notices.
    pub event_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivered_email_reads_as_sent_and_names_round_trip() {
        assert_eq!(
            NotificationStatus(DeliveryStatus::Delivered).as_str(),
            "sent"
        );
        for status in DeliveryStatus::ALL.map(NotificationStatus) {
            assert_eq!(NotificationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(NotificationStatus::parse("delivered"), None);
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.as_str()), Some(kind));
        }
    }
}
