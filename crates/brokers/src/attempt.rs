//! What an attempt is on either broker: the stages it goes through, how it
//! fails, and how it ends — within the timeout, a suspect connection
//! dropped, the error scrubbed of the password — as a report.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use libris_domain::delivery::AttemptReport;

use crate::cache::{Cache, Link};
use crate::message::Reporter;
use crate::target::Endpoint;

/// One broker's stages of an attempt, named for a timeout's report.
pub(crate) trait AttemptStage: Copy + Send {
    fn describe(self) -> &'static str;
}

/// Where an attempt got to, and the connection it was on: written as the
/// publish goes, read after a timeout dropped it mid-way.
pub(crate) struct Progress<S, L> {
    state: Mutex<(S, Option<Arc<L>>)>,
}

impl<S: AttemptStage, L> Progress<S, L> {
    pub fn new(first: S) -> Self {
        Self {
            state: Mutex::new((first, None)),
        }
    }

    /// The attempt reached `stage`, on `link` if it has one now.
    pub fn reached(&self, stage: S, link: Option<&Arc<L>>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = stage;
        if let Some(link) = link {
            state.1 = Some(Arc::clone(link));
        }
    }

    fn snapshot(&self) -> (S, Option<Arc<L>>) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.0, state.1.clone())
    }
}

pub(crate) struct Failure {
    pub status: Option<u16>,
    pub response_body: String,
    pub error: String,
    /// The connection is suspect: the next attempt connects anew.
    pub evict: bool,
}

impl Failure {
    pub fn broken(error: String) -> Self {
        Self {
            status: None,
            response_body: String::new(),
            error,
            evict: true,
        }
    }
}

/// Runs `publish` (which answers the broker's confirmation, as the report's
/// response body) within `timeout`. Anything but a confirmation is worth
/// another attempt; a broken or timed-out one leaves its connection behind.
pub(crate) async fn bounded<S: AttemptStage, L: Link>(
    broker: &str,
    timeout: Duration,
    cache: &Cache<L>,
    endpoint: &Endpoint,
    reporter: &Reporter,
    progress: &Progress<S, L>,
    publish: impl Future<Output = Result<String, Failure>>,
) -> AttemptReport {
    let result = tokio::time::timeout(timeout, publish).await;
    let (stage, link) = progress.snapshot();
    let failure = match result {
        Ok(Ok(confirmation)) => return reporter.delivered(confirmation),
        Ok(Err(failure)) => failure,
        Err(_elapsed) => {
            Failure::broken(format!("timed out after {timeout:?} {}", stage.describe()))
        }
    };
    if let (true, Some(link)) = (failure.evict, &link) {
        cache.evict(endpoint, link);
    }
    let error = endpoint.scrub(&format!("{}: {}", endpoint.describe(), failure.error));
    tracing::debug!(%error, "{broker} delivery attempt failed");
    reporter.retry(failure.status, failure.response_body, error)
}
