//! Connections kept across deliveries, one per [`Endpoint`] (scheme,
//! credentials, host, port, vhost). A connection that went down, or that an
//! attempt gave up on, is replaced by the next attempt that needs it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::target::Endpoint;

/// A live connection to a broker.
pub(crate) trait Link: Send + Sync + 'static {
    /// Whether the client still believes the connection is up. A `false`
    /// makes the cache connect anew before the next publish.
    fn is_open(&self) -> bool;
}

/// One endpoint's connection. `gate` lets one attempt at a time connect, so
/// a burst of deliveries to a broker that just came back opens one
/// connection, not one each; `link` is only locked for a moment.
struct Slot<L> {
    link: Mutex<Option<Arc<L>>>,
    gate: tokio::sync::Mutex<()>,
}

pub(crate) struct Cache<L> {
    slots: Mutex<HashMap<Endpoint, Arc<Slot<L>>>>,
}

/// A panicking attempt must not poison the cache for every later one.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<L: Link> Cache<L> {
    pub fn new() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The open connection to `endpoint`, or a new one from `connect`. A
    /// closed one is dropped first (which closes what is left of it).
    pub async fn get<F, Fut>(&self, endpoint: &Endpoint, connect: F) -> Result<Arc<L>, String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<L, String>>,
    {
        let slot = self.slot(endpoint);
        if let Some(link) = Self::open(&slot) {
            return Ok(link);
        }
        let _gate = slot.gate.lock().await;
        // Whoever held the gate before may just have connected.
        if let Some(link) = Self::open(&slot) {
            return Ok(link);
        }
        let stale = lock(&slot.link).take();
        drop(stale);
        let link = Arc::new(connect().await?);
        *lock(&slot.link) = Some(Arc::clone(&link));
        Ok(link)
    }

    /// Forgets `link` if it is still `endpoint`'s connection, so the next
    /// attempt connects anew; it closes once the attempts using it end.
    pub fn evict(&self, endpoint: &Endpoint, link: &Arc<L>) {
        let slot = self.slot(endpoint);
        let mut current = lock(&slot.link);
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, link)) {
            *current = None;
        }
    }

    /// How many connections are cached, open or not.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.slots)
            .values()
            .filter(|slot| lock(&slot.link).is_some())
            .count()
    }

    fn slot(&self, endpoint: &Endpoint) -> Arc<Slot<L>> {
        let mut slots = lock(&self.slots);
        Arc::clone(slots.entry(endpoint.clone()).or_insert_with(|| {
            Arc::new(Slot {
                link: Mutex::new(None),
                gate: tokio::sync::Mutex::new(()),
            })
        }))
    }

    fn open(slot: &Slot<L>) -> Option<Arc<L>> {
        lock(&slot.link)
            .as_ref()
            .filter(|link| link.is_open())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::target::Scheme;

    struct Fake {
        open: AtomicBool,
        number: usize,
    }

    impl Link for Fake {
        fn is_open(&self) -> bool {
            self.open.load(Ordering::SeqCst)
        }
    }

    fn endpoint(host: &str, password: &str) -> Endpoint {
        Endpoint {
            scheme: Scheme::Amqp,
            user: "u".to_owned(),
            password: password.to_owned(),
            host: host.to_owned(),
            port: 5672,
            vhost: "/".to_owned(),
        }
    }

    async fn get(cache: &Cache<Fake>, endpoint: &Endpoint, counter: &AtomicUsize) -> Arc<Fake> {
        cache
            .get(endpoint, || async {
                Ok(Fake {
                    open: AtomicBool::new(true),
                    number: counter.fetch_add(1, Ordering::SeqCst),
                })
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn reuses_an_open_connection_per_endpoint() {
        let cache = Cache::new();
        let counter = AtomicUsize::new(0);
        let a = endpoint("a", "p");
        let first = get(&cache, &a, &counter).await;
        let second = get(&cache, &a, &counter).await;
        assert!(Arc::ptr_eq(&first, &second));
        // Other credentials are another connection.
        let other = get(&cache, &endpoint("a", "q"), &counter).await;
        assert_eq!(other.number, 1);
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test]
    async fn replaces_a_closed_or_evicted_connection() {
        let cache = Cache::new();
        let counter = AtomicUsize::new(0);
        let a = endpoint("a", "p");
        let first = get(&cache, &a, &counter).await;
        first.open.store(false, Ordering::SeqCst);
        let second = get(&cache, &a, &counter).await;
        assert_eq!(second.number, 1);
        cache.evict(&a, &second);
        // Evicting an older connection does not touch the current one.
        let third = get(&cache, &a, &counter).await;
        assert_eq!(third.number, 2);
        cache.evict(&a, &second);
        assert!(Arc::ptr_eq(&third, &get(&cache, &a, &counter).await));
    }

    #[tokio::test]
    async fn a_failed_connect_caches_nothing() {
        let cache: Cache<Fake> = Cache::new();
        let a = endpoint("a", "p");
        let error = cache
            .get(&a, || async { Err("refused".to_owned()) })
            .await
            .err();
        assert_eq!(error.as_deref(), Some("refused"));
        assert_eq!(cache.len(), 0);
    }
}
