//! The port every channel's adapter implements, and the randomness retries
//! draw their jitter from.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use libris_domain::delivery::AttemptReport;

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = AttemptReport> + Send + 'a>>;

/// Sends one attempt of one message. Never fails: every problem is an
/// [`AttemptReport`] whose outcome says whether to retry. Must time out on
/// its own; `attempt_at` is the time of this attempt (webhooks sign it).
pub trait Channel<M>: Send + Sync {
    fn send<'a>(&'a self, message: &'a M, attempt_at: DateTime<Utc>) -> SendFuture<'a>;
}

/// Randomness for jitter.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Randomness: Send + Sync {
    /// A number in `[-1.0, 1.0]`.
    fn symmetric_unit(&self) -> f64;
}
