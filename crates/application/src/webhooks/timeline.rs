//! The deliveries of the last hours, counted hour by hour and by where they
//! stand now: what the console's dashboard draws.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use libris_domain::webhooks::DeliveryStatus;
use libris_domain::FieldError;

use crate::access::WebhookManager;
use crate::ports::{Clock, Store, StoreError, StoreExt};

/// How many hours a timeline covers: 1 to a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineHours(u16);

impl TimelineHours {
    const MAX: u16 = 168;

    /// `hours`, as a query gives it.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        raw.trim()
            .parse::<u16>()
            .ok()
            .filter(|hours| (1..=Self::MAX).contains(hours))
            .map(Self)
            .ok_or_else(|| {
                FieldError::new(
                    "hours",
                    format!("must be a whole number from 1 to {}", Self::MAX),
                )
            })
    }
}

impl Default for TimelineHours {
    /// A day.
    fn default() -> Self {
        Self(24)
    }
}

/// One hour's deliveries by their current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineBucket {
    pub start: DateTime<Utc>,
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
    pub dead: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The first bucket's start: a whole hour.
    pub from: DateTime<Utc>,
    /// Now: the last bucket is the hour under way.
    pub to: DateTime<Utc>,
    pub bucket: TimeDelta,
    /// Every hour from `from`, oldest first, empty ones included, so a chart
    /// needs no gap filling.
    pub buckets: Vec<TimelineBucket>,
}

/// An admin's timeline counts every delivery; a member's, those of their
/// own webhooks.
pub fn delivery_timeline(
    store: &dyn Store,
    clock: &dyn Clock,
    manager: &WebhookManager,
    hours: TimelineHours,
) -> Result<Timeline, StoreError> {
    let bucket = TimeDelta::hours(1);
    let to = clock.now();
    let this_hour = to
        .duration_trunc(bucket)
        .map_err(|e| StoreError::Unexpected(format!("the hour of {to}: {e}")))?;
    let from = this_hour - bucket * (i32::from(hours.0) - 1);
    let counts = store.read_tx(|tx| {
        tx.deliveries()
            .count_deliveries_by_hour(manager.owner(), from, to)
    })?;
    let mut buckets: Vec<TimelineBucket> = (0..i32::from(hours.0))
        .map(|n| TimelineBucket {
            start: from + bucket * n,
            pending: 0,
            delivered: 0,
            failed: 0,
            dead: 0,
        })
        .collect();
    for count in counts {
        let Some(bucket) = buckets.iter_mut().find(|b| b.start == count.hour) else {
            continue;
        };
        let slot = match count.status {
            DeliveryStatus::Pending => &mut bucket.pending,
            DeliveryStatus::Delivered => &mut bucket.delivered,
            DeliveryStatus::Failed => &mut bucket.failed,
            DeliveryStatus::Dead => &mut bucket.dead,
        };
        *slot += count.count;
    }
    Ok(Timeline {
        from,
        to,
        bucket,
        buckets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockClock;
    use crate::ports::{HourlyDeliveryCount, MockTx};
    use crate::testing::{admin, at, MockStore};

    #[test]
    fn hours_are_one_to_a_week() {
        assert_eq!(TimelineHours::parse("1"), Ok(TimelineHours(1)));
        assert_eq!(TimelineHours::parse("168"), Ok(TimelineHours(168)));
        for wrong in ["0", "169", "-1", "2.5", "day", ""] {
            let error = TimelineHours::parse(wrong).unwrap_err();
            assert_eq!(error.field, "hours", "{wrong}");
        }
    }

    #[test]
    fn every_hour_has_a_bucket_and_counts_land_in_theirs() {
        // 02:30 on the fixed day: three hours are 00:00, 01:00 and 02:00.
        let now = at(2 * 3600 + 1800);
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || now);
        let mut tx = MockTx::new();
        tx.deliveries
            .expect_count_deliveries_by_hour()
            .withf(move |owner, from, to| owner.is_none() && *from == at(0) && *to == now)
            .returning(|_, _, _| {
                Ok(vec![
                    HourlyDeliveryCount {
                        hour: at(0),
                        status: DeliveryStatus::Delivered,
                        count: 4,
                    },
                    HourlyDeliveryCount {
                        hour: at(2 * 3600),
                        status: DeliveryStatus::Dead,
                        count: 1,
                    },
                ])
            });
        let store = MockStore::new(tx);
        let timeline = delivery_timeline(
            &store,
            &clock,
            &WebhookManager::new(admin()),
            TimelineHours::parse("3").unwrap(),
        )
        .unwrap();
        assert_eq!(timeline.from, at(0));
        assert_eq!(timeline.to, now);
        let starts: Vec<_> = timeline.buckets.iter().map(|b| b.start).collect();
        assert_eq!(starts, [at(0), at(3600), at(7200)]);
        assert_eq!(timeline.buckets[0].delivered, 4);
        assert_eq!(
            timeline.buckets[1],
            TimelineBucket {
                start: at(3600),
                pending: 0,
                delivered: 0,
                failed: 0,
                dead: 0
            }
        );
        assert_eq!(timeline.buckets[2].dead, 1);
    }
}
