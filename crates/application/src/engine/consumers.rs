//! Consumers of the event log. Each keeps its own dispatch mark per event
//! (see the `Outbox` port), so no consumer hides an event from another, and
//! turns the events it claims into rows of a channel's queue.

use chrono::{DateTime, Utc};
use libris_domain::events::{EventPattern, RecordedEvent};

use crate::ports::{Clock, Store, StoreError, StoreExt, Tx};

/// One consumer of the event log.
pub trait Consumer: Send + Sync {
    /// The name its marks are kept under. Renaming it makes a new consumer,
    /// which starts with the events appended after it.
    fn name(&self) -> &'static str;

    /// The events it listens to; others get no mark for it.
    fn patterns(&self) -> Vec<EventPattern>;

    /// Turns claimed events into queue rows inside the dispatching
    /// transaction; answers how many rows it queued. Running twice on the
    /// same events (a crash before commit cannot, but a second instance
    /// after a lost lock could) must not queue anything twice.
    fn handle(
        &self,
        tx: &mut dyn Tx,
        events: &[RecordedEvent],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;
}

/// What one dispatch step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatched {
    EmptyQueue,
    Handled { events: usize, queued: usize },
}

/// Registers the consumer and the patterns it listens to (at start; events
/// appended from then on are marked for it).
pub fn register(store: &dyn Store, consumer: &dyn Consumer) -> Result<(), StoreError> {
    store.write_tx(|tx| {
        tx.outbox()
            .register_consumer(consumer.name(), &consumer.patterns())
    })
}

/// Claims up to `batch` events marked for the consumer, lets it handle them
/// and clears their marks, in one transaction.
pub fn dispatch(
    store: &dyn Store,
    clock: &dyn Clock,
    consumer: &dyn Consumer,
    batch: i64,
) -> Result<Dispatched, StoreError> {
    let now = clock.now();
    store.write_tx(|tx| {
        let events = tx.outbox().claim_events(consumer.name(), batch)?;
        if events.is_empty() {
            return Ok(Dispatched::EmptyQueue);
        }
        let queued = consumer.handle(tx, &events, now)?;
        let ids: Vec<_> = events.iter().map(|e| e.id).collect();
        tx.outbox().mark_dispatched(consumer.name(), &ids)?;
        Ok(Dispatched::Handled {
            events: events.len(),
            queued,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{fixed_clock, recorded, MockStore};

    struct Counting;

    impl Consumer for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }

        fn patterns(&self) -> Vec<EventPattern> {
            vec![EventPattern::Everything]
        }

        fn handle(
            &self,
            _tx: &mut dyn Tx,
            events: &[RecordedEvent],
            _now: DateTime<Utc>,
        ) -> Result<usize, StoreError> {
            Ok(events.len() * 2)
        }
    }

    #[test]
    fn dispatch_handles_the_consumers_events_and_clears_only_its_marks() {
        let mut tx = MockTx::new();
        tx.outbox
            .expect_claim_events()
            .withf(|consumer, limit| consumer == "counting" && *limit == 10)
            .returning(|_, _| Ok(vec![recorded("book.created"), recorded("book.updated")]));
        tx.outbox
            .expect_mark_dispatched()
            .withf(|consumer, ids| consumer == "counting" && ids.len() == 2)
            .times(1)
            .returning(|_, _| Ok(()));
        let store = MockStore::new(tx);
        assert_eq!(
            dispatch(&store, &fixed_clock(), &Counting, 10).unwrap(),
            Dispatched::Handled {
                events: 2,
                queued: 4
            }
        );
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn dispatch_with_nothing_marked_says_so_and_clears_nothing() {
        let mut tx = MockTx::new();
        tx.outbox.expect_claim_events().returning(|_, _| Ok(vec![]));
        tx.outbox.expect_mark_dispatched().never();
        let store = MockStore::new(tx);
        assert_eq!(
            dispatch(&store, &fixed_clock(), &Counting, 10).unwrap(),
            Dispatched::EmptyQueue
        );
    }
}
