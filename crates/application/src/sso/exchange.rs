//! The console's trade of a one-time code for a bearer token.

use libris_domain::accounts::Account;

use crate::ports::{Clock, Store, StoreError, StoreExt, TokenCodec};

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Unknown, used or expired: the same answer for all three.
    #[error("the sign-in code is unknown, used or expired")]
    InvalidCode,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Takes the code (so it works once, whoever else tries it at the same time)
/// and issues a bearer token for its user, as a password sign-in does, in
/// one transaction. Codes, like tokens, are stored only as their digest.
pub fn exchange_code(
    store: &dyn Store,
    clock: &dyn Clock,
    tokens: &dyn TokenCodec,
    code: &str,
) -> Result<(String, Account), ExchangeError> {
    // No code made here is empty or has control characters, and PostgreSQL
    // refuses NUL in a parameter: answer before asking.
    if code.is_empty() || code.chars().any(char::is_control) {
        return Err(ExchangeError::InvalidCode);
    }
    let now = clock.now();
    let code_digest = tokens.digest(code);
    let token = tokens.generate();
    let token_digest = tokens.digest(&token);
    // An expired code is still taken (committed): it is gone either way.
    let account = store.write_tx(|tx| {
        let Some((user_id, expires_at)) = tx.sign_on().take_login_code(&code_digest)? else {
            return Ok(None);
        };
        if now >= expires_at {
            return Ok(None);
        }
        tx.accounts().insert_token(user_id, &token_digest, now)?;
        tx.accounts().account(user_id)
    })?;
    let account = account.ok_or(ExchangeError::InvalidCode)?;
    tracing::info!(
        user_id = account.user.id,
        "token issued for a single sign-on code"
    );
    Ok((token, account))
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockTokenCodec, MockTx};
    use crate::testing::{account, at, fixed_clock, MockStore};

    fn tokens() -> MockTokenCodec {
        let mut tokens = MockTokenCodec::new();
        tokens.expect_generate().returning(|| "plain-token".into());
        tokens.expect_digest().returning(|t| format!("digest({t})"));
        tokens
    }

    fn tx_with_code(code: Option<(i64, i64)>) -> MockTx {
        let mut tx = MockTx::new();
        tx.sign_on
            .expect_take_login_code()
            .with(eq("digest(the-code)"))
            .times(1)
            .returning(move |_| Ok(code.map(|(user, expires)| (user, at(expires)))));
        tx
    }

    #[test]
    fn a_live_code_is_taken_and_gives_a_token_for_its_user() {
        let mut tx = tx_with_code(Some((4, 60)));
        tx.accounts
            .expect_insert_token()
            .with(eq(4), eq("digest(plain-token)"), eq(at(0)))
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.accounts
            .expect_account()
            .with(eq(4))
            .returning(|_| Ok(Some(account(4, "ann", false))));
        let store = MockStore::new(tx);
        let (token, account) =
            exchange_code(&store, &fixed_clock(), &tokens(), "the-code").unwrap();
        assert_eq!((token.as_str(), account.user.id), ("plain-token", 4));
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn a_used_or_unknown_code_is_refused() {
        let mut tx = tx_with_code(None);
        tx.accounts.expect_insert_token().never();
        let store = MockStore::new(tx);
        let refused = exchange_code(&store, &fixed_clock(), &tokens(), "the-code");
        assert!(matches!(refused, Err(ExchangeError::InvalidCode)));
    }

    #[test]
    fn an_expired_code_is_refused_and_taken() {
        let mut tx = tx_with_code(Some((4, 0)));
        tx.accounts.expect_insert_token().never();
        let store = MockStore::new(tx);
        let refused = exchange_code(&store, &fixed_clock(), &tokens(), "the-code");
        assert!(matches!(refused, Err(ExchangeError::InvalidCode)));
        assert_eq!(store.commits(), 1, "the expired code is deleted");
    }

    #[test]
    fn an_empty_or_control_character_code_is_refused_without_a_lookup() {
        let store = MockStore::new(MockTx::new());
        for code in ["", "a\0b"] {
            let refused = exchange_code(&store, &fixed_clock(), &tokens(), code);
            assert!(
                matches!(refused, Err(ExchangeError::InvalidCode)),
                "{code:?}"
            );
        }
    }
}
