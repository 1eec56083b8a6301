//! Notifications to people: emails that come from the event log (each
//! borrow, to the admins), loan reminders and overdue notices due at a time,
//! and the admins' view of them. Email is a channel of the delivery engine:
//! [`LoanMail`] is the event log's consumer that queues them, [`EmailQueue`]
//! the queue the engine sends.

pub mod consumer;
pub mod queue;

pub use consumer::LoanMail;
pub use queue::EmailQueue;

use libris_domain::notifications::Notification;

use crate::access::Admin;
use crate::pagination::{Page, Paged};
use crate::ports::{NotificationFilter, Store, StoreError, StoreExt};

/// The email channel's name in logs, metrics, wake-ups and the API.
pub const CHANNEL: &str = "email";

pub fn list_notifications(
    store: &dyn Store,
    _admin: &Admin,
    filter: &NotificationFilter,
    page: Page,
) -> Result<Paged<Notification>, StoreError> {
    store.read_tx(|tx| tx.notifications().list_notifications(filter, page))
}
