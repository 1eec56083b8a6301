//! A channel's queue as the engine sees it: rows due at a time, leased while
//! a worker sends them, then recorded with their next state.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use libris_domain::delivery::{AttemptReport, Progress, RetryPolicy};

use crate::ports::{StoreError, Tx};

/// How one channel is run.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSettings {
    pub retry: RetryPolicy,
    /// How long a claimed message stays claimed; a worker that dies lets it
    /// become due again once this passes.
    pub lease: Duration,
    /// Attempts in flight at once in this process.
    pub concurrency: usize,
    /// Attempts in flight at once to one target (one endpoint, one mailbox).
    pub per_target: usize,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(15),
            concurrency: 64,
            per_target: 8,
        }
    }
}

/// A due row and the target it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub target: String,
}

/// A leased row, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Job<M> {
    pub id: i64,
    pub target: String,
    pub progress: Progress,
    pub message: M,
}

/// One finished attempt and the state it moves its row to.
#[derive(Debug)]
pub struct Attempt<'a, M> {
    pub job: &'a Job<M>,
    pub report: &'a AttemptReport,
    pub next: Progress,
}

/// The store side of one channel. Each method runs inside the engine's
/// transaction; the engine decides every row's next state, the queue writes
/// it with whatever the channel keeps besides (an attempt log, an
/// endpoint's health).
pub trait Queue: Send + Sync + 'static {
    type Message: Send + Sync + 'static;
    /// What recording answers (the attempt logs written, or nothing).
    type Recorded: Send + 'static;

    /// The channel's name in logs, metrics and wake-ups.
    fn channel(&self) -> &'static str;

    /// Up to `limit` rows due at `now` and not leased, oldest due first,
    /// none to a target in `exclude`. The rows stay claimed by this
    /// transaction until it ends: a concurrent claimer skips them rather than
    /// waiting, so concurrent claimers see disjoint sets.
    fn due(
        &self,
        tx: &mut dyn Tx,
        now: DateTime<Utc>,
        limit: i64,
        exclude: &[String],
    ) -> Result<Vec<Candidate>, StoreError>;

    /// Leases these rows until `until` and answers them ready to send,
    /// skipping any that no longer exist.
    fn lease(
        &self,
        tx: &mut dyn Tx,
        ids: &[i64],
        until: DateTime<Utc>,
    ) -> Result<Vec<Job<Self::Message>>, StoreError>;

    /// Writes each attempt's next state (releasing its lease) and whatever
    /// else the channel keeps.
    fn record(
        &self,
        tx: &mut dyn Tx,
        attempts: &[Attempt<'_, Self::Message>],
        now: DateTime<Utc>,
    ) -> Result<Self::Recorded, StoreError>;

    /// The span the engine sends and logs one job in, carrying the ids a
    /// reader follows it by (a campaign message's `campaign_id`,
    /// `message_id`, `user_id`); none by default.
    fn span(&self, _job: &Job<Self::Message>) -> tracing::Span {
        tracing::Span::none()
    }
}

/// What a sending process can take on now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Rows this claim may take, over all targets.
    pub free: usize,
    /// Attempts allowed in flight to one target.
    pub per_target: usize,
    /// Rows a target may have claimed beyond its attempts in flight, waiting
    /// in the process for a slot, so that the next attempt starts the
    /// moment one ends instead of after a claim transaction.
    pub ahead: usize,
    /// Rows held now (in flight or waiting), by target.
    pub in_flight: HashMap<String, usize>,
}

/// The rows one claim picked: those to send now, and those claimed ahead
/// of their target's next free slot (leased for longer: they wait first).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Picked {
    pub now: Vec<i64>,
    pub ahead: Vec<i64>,
}

impl Capacity {
    /// Nothing in flight: `free` slots, `per_target` each, nothing ahead.
    pub fn idle(free: usize, per_target: usize) -> Self {
        Self {
            free,
            per_target,
            ahead: 0,
            in_flight: HashMap::new(),
        }
    }

    fn held(&self, target: &str) -> usize {
        self.in_flight.get(target).copied().unwrap_or(0)
    }

    fn room(&self, target: &str) -> usize {
        (self.per_target + self.ahead).saturating_sub(self.held(target))
    }

    /// Targets with no room left, which a claim need not look at.
    pub(crate) fn saturated(&self) -> Vec<String> {
        self.in_flight
            .keys()
            .filter(|t| self.room(t) == 0)
            .cloned()
            .collect()
    }

    /// Picks, oldest first, the candidates that fit: at most `free` in all
    /// and no target over its bound. Rows that can be sent now come first:
    /// a row claimed ahead must not take the place of one another target
    /// could send at once; rows ahead fill what is left.
    pub(crate) fn pick(&self, candidates: &[Candidate]) -> Picked {
        let mut taken: HashMap<&str, usize> = HashMap::new();
        let mut picked = Picked::default();
        let mut later = Vec::new();
        for candidate in candidates {
            if picked.now.len() == self.free {
                break;
            }
            let count = taken.entry(&candidate.target).or_insert(0);
            if *count < self.per_target.saturating_sub(self.held(&candidate.target)) {
                *count += 1;
                picked.now.push(candidate.id);
            } else {
                later.push(candidate);
            }
        }
        for candidate in later {
            if picked.now.len() + picked.ahead.len() == self.free {
                break;
            }
            let count = taken.entry(&candidate.target).or_insert(0);
            if *count < self.room(&candidate.target) {
                *count += 1;
                picked.ahead.push(candidate.id);
            }
        }
        picked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: i64, target: &str) -> Candidate {
        Candidate {
            id,
            target: target.into(),
        }
    }

    #[test]
    fn a_pick_fills_free_slots_oldest_first_within_each_targets_room() {
        let capacity = Capacity {
            free: 3,
            per_target: 2,
            ahead: 0,
            in_flight: HashMap::from([("a".into(), 1), ("c".into(), 2)]),
        };
        let candidates = [
            candidate(1, "a"),
            candidate(2, "a"),
            candidate(3, "b"),
            candidate(4, "c"),
            candidate(5, "b"),
            candidate(6, "b"),
        ];
        let picked = capacity.pick(&candidates);
        assert_eq!((picked.now, picked.ahead), (vec![1, 3, 5], vec![]));
        assert_eq!(capacity.saturated(), ["c".to_owned()]);
    }

    #[test]
    fn rows_beyond_a_targets_free_slots_are_claimed_ahead_up_to_its_allowance() {
        let capacity = Capacity {
            free: 10,
            per_target: 2,
            ahead: 2,
            in_flight: HashMap::from([("a".into(), 1), ("c".into(), 4)]),
        };
        let candidates = [
            candidate(1, "a"),
            candidate(2, "a"),
            candidate(3, "a"),
            candidate(4, "a"),
            candidate(5, "b"),
            candidate(6, "b"),
            candidate(7, "b"),
        ];
        let picked = capacity.pick(&candidates);
        assert_eq!(picked.now, [1, 5, 6], "a has one free slot, b two");
        assert_eq!(
            picked.ahead,
            [2, 3, 7],
            "a holds one already: two more ahead"
        );
        assert_eq!(capacity.saturated(), ["c".to_owned()]);
    }

    #[test]
    fn rows_another_target_could_send_now_go_before_rows_claimed_ahead() {
        let capacity = Capacity {
            free: 3,
            per_target: 1,
            ahead: 1,
            in_flight: HashMap::new(),
        };
        let candidates = [
            candidate(1, "a"),
            candidate(2, "a"),
            candidate(3, "b"),
            candidate(4, "c"),
        ];
        let picked = capacity.pick(&candidates);
        assert_eq!((picked.now, picked.ahead), (vec![1, 3, 4], vec![]));
    }
}
