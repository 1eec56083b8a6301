//! Times cross the store as naive UTC timestamps (the type both backends
//! share); the domain works in `DateTime<Utc>`.

use chrono::{DateTime, NaiveDateTime, Utc};

pub(crate) fn naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

pub(crate) fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}
