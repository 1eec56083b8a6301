//! The system clock, truncated to microseconds: what PostgreSQL stores, so a
//! time read back equals the time written on both backends.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use libris_application::Clock;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        now.duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or(now)
    }
}
