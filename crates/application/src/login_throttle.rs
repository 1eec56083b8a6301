//! Slowing down password guessing. Failed logins are counted per source
//! address and per (source, account); past a few free failures, each further
//! one makes that key wait a little longer before it may try again (doubling,
//! up to a minute). A key that stops failing is forgotten after a quiet
//! quarter of an hour.
//!
//! It slows, it never locks out: the wait is short and capped, and it binds
//! the guesser's own address. Someone hammering an admin's name from
//! elsewhere does not keep the admin, at their own address, from logging in.
//! A throttled attempt is refused before its password is checked, so a
//! guesser also stops costing the server a password hash per try.
//!
//! The counts live in the process: instances behind one balancer each count
//! their own share, which still bounds a guesser's rate.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Failures one key may have before it has to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRules {
    /// Per source and account: a person mistyping gets this many tries.
    pub free_per_account: u32,
    /// Per source over all accounts: room for a shared office address.
    pub free_per_source: u32,
    /// The first wait; each further failure doubles it.
    pub first_wait: Duration,
    /// The longest wait, so no one is ever shut out for long.
    pub longest_wait: Duration,
    /// A key with no failure for this long starts afresh.
    pub forget_after: Duration,
    /// Most keys remembered; past it the stalest are dropped, so a flood of
    /// invented names or addresses cannot grow memory without bound.
    pub capacity: usize,
}

impl Default for ThrottleRules {
    fn default() -> Self {
        Self {
            free_per_account: 5,
            free_per_source: 50,
            first_wait: Duration::from_secs(1),
            longest_wait: Duration::from_secs(60),
            forget_after: Duration::from_secs(15 * 60),
            capacity: 100_000,
        }
    }
}

/// The attempt must wait; `retry_after` is how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed logins; retry in {} s", retry_after.as_secs())]
pub struct Throttled {
    pub retry_after: Duration,
}

/// What is counted: a source alone, or a source with an account name (kept
/// as a keyed hash, so a megabyte of username costs eight bytes here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Source(IpAddr),
    Account(IpAddr, u64),
}

#[derive(Debug, Clone, Copy)]
struct Strikes {
    failures: u32,
    last_failure: DateTime<Utc>,
    wait_until: DateTime<Utc>,
}

#[derive(Debug)]
pub struct LoginThrottle {
    rules: ThrottleRules,
    names: RandomState,
    strikes: Mutex<HashMap<Key, Strikes>>,
}

impl LoginThrottle {
    pub fn new(rules: ThrottleRules) -> Self {
        Self {
            rules,
            names: RandomState::new(),
            strikes: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `source` may try `username` now.
    pub fn admit(
        &self,
        source: IpAddr,
        username: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Throttled> {
        let strikes = self.lock();
        let longest = self
            .keys(source, username)
            .iter()
            .filter_map(|key| strikes.get(key))
            .filter(|s| !self.forgotten(s, now))
            .map(|s| s.wait_until - now)
            .max()
            .and_then(|wait| wait.to_std().ok())
            .filter(|wait| !wait.is_zero());
        match longest {
            // Whole seconds, rounded up: what `Retry-After` can say.
            Some(wait) => Err(Throttled {
                retry_after: Duration::from_secs(
                    wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                ),
            }),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, source: IpAddr, username: &str, now: DateTime<Utc>) {
        let [by_source, by_account] = self.keys(source, username);
        let mut strikes = self.lock();
        // Room for the two keys this failure may add.
        if strikes.len() + 2 > self.rules.capacity {
            self.make_room(&mut strikes, now);
        }
        for (key, free) in [
            (by_source, self.rules.free_per_source),
            (by_account, self.rules.free_per_account),
        ] {
            let entry = strikes.entry(key).or_insert(Strikes {
                failures: 0,
                last_failure: now,
                wait_until: now,
            });
            if self.forgotten(entry, now) {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            entry.wait_until = now + self.wait_after(entry.failures, free);
        }
    }

    /// A right password clears that account's count from that source; the
    /// source's own count stays, or guessing many accounts and knowing one
    /// would reset it.
    pub fn record_success(&self, source: IpAddr, username: &str) {
        let [_, by_account] = self.keys(source, username);
        self.lock().remove(&by_account);
    }

    fn keys(&self, source: IpAddr, username: &str) -> [Key; 2] {
        let source = network_of(source);
        [
            Key::Source(source),
            Key::Account(source, self.names.hash_one(username)),
        ]
    }

    fn wait_after(&self, failures: u32, free: u32) -> chrono::Duration {
        let Some(over) = failures.checked_sub(free).filter(|over| *over > 0) else {
            return chrono::Duration::zero();
        };
        let doubled = self
            .rules
            .first_wait
            .checked_mul(1u32.checked_shl(over - 1).unwrap_or(u32::MAX))
            .unwrap_or(self.rules.longest_wait);
        chrono::Duration::from_std(doubled.min(self.rules.longest_wait)).unwrap_or_default()
    }

    fn forgotten(&self, strikes: &Strikes, now: DateTime<Utc>) -> bool {
        (now - strikes.last_failure)
            .to_std()
            .is_ok_and(|quiet| quiet >= self.rules.forget_after)
    }

    /// Drops forgotten keys, then, if that was not enough, the stalest half.
    fn make_room(&self, strikes: &mut HashMap<Key, Strikes>, now: DateTime<Utc>) {
        strikes.retain(|_, s| !self.forgotten(s, now));
        if strikes.len() + 2 <= self.rules.capacity {
            return;
        }
        let mut ages: Vec<DateTime<Utc>> = strikes.values().map(|s| s.last_failure).collect();
        let middle = ages.len() / 2;
        let (_, cut, _) = ages.select_nth_unstable(middle);
        let cut = *cut;
        strikes.retain(|_, s| s.last_failure > cut);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Strikes>> {
        // The map holds counts only; one a panicking thread left is usable.
        self.strikes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What counts as one source: an IPv4 address, or an IPv6 /64. A single
/// IPv6 host usually holds a whole /64 and could take a new address for
/// every guess; IPv4 addresses carried in IPv6 are counted as IPv4.
fn network_of(source: IpAddr) -> IpAddr {
    match source {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((v6.to_bits() & !u128::from(u64::MAX)).into()),
        },
        IpAddr::V4(_) => source,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use chrono::TimeZone;

    use super::*;

    const GUESSER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    const ADMIN_DESK: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0).unwrap()
    }

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleRules {
            free_per_account: 3,
            free_per_source: 10,
            ..ThrottleRules::default()
        })
    }

    fn fail(
        throttle: &LoginThrottle,
        source: IpAddr,
        name: &str,
        times: usize,
        now: DateTime<Utc>,
    ) {
        for _ in 0..times {
            throttle.record_failure(source, name, now);
        }
    }

    #[test]
    fn the_free_failures_cost_nothing_and_the_next_ones_wait_longer_each_time() {
        let throttle = throttle();
        fail(&throttle, GUESSER, "admin", 3, at(0));
        assert_eq!(throttle.admit(GUESSER, "admin", at(0)), Ok(()));
        let waits: Vec<u64> = (1..=8)
            .map(|_| {
                throttle.record_failure(GUESSER, "admin", at(0));
                throttle
                    .admit(GUESSER, "admin", at(0))
                    .unwrap_err()
                    .retry_after
                    .as_secs()
            })
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn the_wait_binds_the_guessers_address_not_the_account() {
        let throttle = throttle();
        fail(&throttle, GUESSER, "admin", 9, at(0));
        assert!(throttle.admit(GUESSER, "admin", at(1)).is_err());
        assert_eq!(throttle.admit(ADMIN_DESK, "admin", at(1)), Ok(()));
        // Another account from the guesser's address is still open, until
        // the address as a whole has failed too often.
        assert_eq!(throttle.admit(GUESSER, "ann", at(1)), Ok(()));
        fail(&throttle, GUESSER, "ann", 2, at(1));
        assert!(
            throttle.admit(GUESSER, "ann", at(1)).is_err(),
            "eleven failures from one source"
        );
    }

    #[test]
    fn an_ipv6_host_cannot_escape_by_changing_address_within_its_64() {
        let throttle = throttle();
        for i in 0..4u16 {
            let address = IpAddr::V6([0x2001, 0xdb8, 0, 1, 0, 0, 0, i].into());
            throttle.record_failure(address, "admin", at(0));
        }
        let fresh = IpAddr::V6([0x2001, 0xdb8, 0, 1, 0xdead, 0, 0, 9].into());
        assert!(throttle.admit(fresh, "admin", at(0)).is_err());
        let next_network = IpAddr::V6([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1].into());
        assert_eq!(throttle.admit(next_network, "admin", at(0)), Ok(()));
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        fail(&throttle, GUESSER, "root", 4, at(0));
        assert!(
            throttle.admit(mapped, "root", at(0)).is_err(),
            "the same IPv4 host"
        );
    }

    #[test]
    fn a_wait_ends_and_a_quiet_quarter_of_an_hour_forgets_the_failures() {
        let throttle = throttle();
        fail(&throttle, GUESSER, "admin", 5, at(0));
        let wait = throttle
            .admit(GUESSER, "admin", at(0))
            .unwrap_err()
            .retry_after;
        assert_eq!(wait, Duration::from_secs(2));
        assert_eq!(throttle.admit(GUESSER, "admin", at(2)), Ok(()));
        fail(&throttle, GUESSER, "admin", 1, at(15 * 60));
        assert_eq!(
            throttle.admit(GUESSER, "admin", at(15 * 60)),
            Ok(()),
            "counted afresh"
        );
    }

    #[test]
    fn a_success_clears_the_account_but_not_the_source() {
        let throttle = throttle();
        fail(&throttle, GUESSER, "admin", 11, at(0));
        throttle.record_success(GUESSER, "admin");
        let wait = throttle
            .admit(GUESSER, "admin", at(0))
            .unwrap_err()
            .retry_after;
        assert_eq!(
            wait,
            Duration::from_secs(1),
            "the source's own wait remains"
        );
    }

    #[test]
    fn invented_names_cannot_grow_the_map_past_its_capacity() {
        let throttle = LoginThrottle::new(ThrottleRules {
            capacity: 100,
            ..ThrottleRules::default()
        });
        for i in 0..10_000u32 {
            let source = IpAddr::V4(Ipv4Addr::from(i));
            throttle.record_failure(source, &format!("name {i}"), at(i64::from(i)));
        }
        assert!(throttle.lock().len() <= 100, "{}", throttle.lock().len());
        // The newest failures are the ones kept.
        let newest = IpAddr::V4(Ipv4Addr::from(9_999u32));
        assert!(throttle.lock().contains_key(&Key::Source(newest)));
    }
}
