//! Pending logins: stored when a sign-in starts, taken once by its callback.

use crate::ports::{Clock, Store, StoreError, StoreExt};

use super::{PendingLogin, PENDING_LOGIN_LIFETIME};

/// Stores a sign-in the provider adapter started, and sweeps the ones
/// abandoned at the provider.
pub fn remember_login(
    store: &dyn Store,
    clock: &dyn Clock,
    login: &PendingLogin,
) -> Result<(), StoreError> {
    let now = clock.now();
    store.write_tx(|tx| {
        tx.sign_on()
            .sweep_pending_logins(now - PENDING_LOGIN_LIFETIME)?;
        tx.sign_on().insert_pending_login(login, now)
    })
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The callback did not come from a sign-in this browser started here
    /// within [`PENDING_LOGIN_LIFETIME`]: no cookie, another state, a state
    /// used or never stored, or one too old.
    #[error("the sign-in's state does not match one started in this browser")]
    Mismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The pending login the callback finishes: `state` (the query parameter)
/// must equal `cookie` (set by the login in this browser) and name a pending
/// login stored less than [`PENDING_LOGIN_LIFETIME`] ago. The login is
/// consumed either way, so a state works once.
pub fn take_pending_login(
    store: &dyn Store,
    clock: &dyn Clock,
    state: Option<&str>,
    cookie: Option<&str>,
) -> Result<PendingLogin, StateError> {
    let (Some(state), Some(cookie)) = (state, cookie) else {
        return Err(StateError::Mismatch);
    };
    // Control characters are never in a state made here, and PostgreSQL
    // refuses NUL in a parameter: answer before asking.
    if state != cookie || state.is_empty() || state.chars().any(char::is_control) {
        return Err(StateError::Mismatch);
    }
    let now = clock.now();
    let taken = store.write_tx(|tx| tx.sign_on().take_pending_login(state))?;
    match taken {
        Some((login, created_at)) if now - created_at < PENDING_LOGIN_LIFETIME => Ok(login),
        _ => Err(StateError::Mismatch),
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{at, fixed_clock, MockStore};

    fn pending(state: &str) -> PendingLogin {
        PendingLogin {
            state: state.into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
        }
    }

    fn store_holding(state: &'static str, stored_at: i64) -> MockStore {
        let mut tx = MockTx::new();
        tx.sign_on
            .expect_take_pending_login()
            .with(eq(state))
            .times(1)
            .returning(move |s| Ok(Some((pending(s), at(stored_at)))));
        MockStore::new(tx)
    }

    #[test]
    fn a_login_is_stored_with_the_time_and_the_abandoned_ones_swept() {
        let mut tx = MockTx::new();
        tx.sign_on
            .expect_sweep_pending_logins()
            .with(eq(at(0) - PENDING_LOGIN_LIFETIME))
            .times(1)
            .returning(|_| Ok(3));
        tx.sign_on
            .expect_insert_pending_login()
            .withf(|login, stored_at| login.state == "s1" && *stored_at == at(0))
            .times(1)
            .returning(|_, _| Ok(()));
        let store = MockStore::new(tx);
        remember_login(&store, &fixed_clock(), &pending("s1")).unwrap();
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn a_state_matching_its_cookie_and_a_recent_login_is_taken() {
        let store = store_holding("s1", -599);
        let login = take_pending_login(&store, &fixed_clock(), Some("s1"), Some("s1")).unwrap();
        assert_eq!(login, pending("s1"));
    }

    #[test]
    fn an_expired_pending_login_is_refused() {
        let store = store_holding("s1", -600);
        let refused = take_pending_login(&store, &fixed_clock(), Some("s1"), Some("s1"));
        assert!(matches!(refused, Err(StateError::Mismatch)), "{refused:?}");
        // Taken all the same: it cannot be tried again.
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn a_state_unknown_or_used_is_refused() {
        let mut tx = MockTx::new();
        tx.sign_on
            .expect_take_pending_login()
            .returning(|_| Ok(None));
        let store = MockStore::new(tx);
        let refused = take_pending_login(&store, &fixed_clock(), Some("s1"), Some("s1"));
        assert!(matches!(refused, Err(StateError::Mismatch)));
    }

    #[test]
    fn a_state_without_its_cookie_or_with_another_is_refused_without_a_lookup() {
        // No expectation: the store must not be asked.
        let store = MockStore::new(MockTx::new());
        for (state, cookie) in [
            (Some("s1"), None),
            (None, Some("s1")),
            (Some("s1"), Some("s2")),
            (Some(""), Some("")),
            (Some("s\0"), Some("s\0")),
        ] {
            let refused = take_pending_login(&store, &fixed_clock(), state, cookie);
            assert!(
                matches!(refused, Err(StateError::Mismatch)),
                "{state:?} {cookie:?}"
            );
        }
    }
}
