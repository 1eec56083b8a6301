//! Who a verified identity signs in as, and the one-time code that carries
//! the sign-in to the console.

use libris_domain::accounts::UserId;

use crate::ports::{Clock, Store, StoreError, StoreExt, TokenCodec, Tx};

use super::{NewIdentity, VerifiedIdentity, CODE_LIFETIME};

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// No user is linked to this provider account, and no user has its email
    /// as a verified email: an admin must link it. Users are never created.
    #[error("this identity is not linked to a user")]
    UnknownIdentity,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds the user `identity` names and stores a one-time code for them;
/// answers the code, to be exchanged within [`CODE_LIFETIME`].
///
/// The user is the one linked to (issuer, subject); failing that, the one
/// whose email is the identity's email when the provider says it verified
/// it, and the link is made now so later sign-ins no longer depend on the
/// email. An unverified or missing email names no one: anybody can claim
/// an address at some providers.
pub fn sign_in(
    store: &dyn Store,
    clock: &dyn Clock,
    codes: &dyn TokenCodec,
    identity: &VerifiedIdentity,
) -> Result<String, SignInError> {
    let now = clock.now();
    let code = codes.generate();
    let digest = codes.digest(&code);
    let attempt = || {
        store.write_tx(|tx| {
            let user_id = match tx
                .sign_on()
                .linked_user(&identity.issuer, &identity.subject)?
            {
                Some(user_id) => user_id,
                None => link_by_verified_email(tx, identity, now)?,
            };
            tx.sign_on().sweep_login_codes(now)?;
            tx.sign_on()
                .insert_login_code(&digest, user_id, now + CODE_LIFETIME)?;
            Ok(user_id)
        })
    };
    // Two first sign-ins of one identity at once both link it; the second
    // link is refused, and trying again finds the first.
    let user_id = match attempt() {
        Err(SignInError::Store(StoreError::UniqueViolation(_))) => attempt(),
        outcome => outcome,
    };
    match user_id {
        Ok(user_id) => {
            tracing::info!(user_id, issuer = %identity.issuer, "signed in with single sign-on");
            Ok(code)
        }
        Err(SignInError::UnknownIdentity) => {
            // The subject is what an admin needs to link the account.
            tracing::info!(
                issuer = %identity.issuer,
                subject = %identity.subject,
                "single sign-on refused: the identity is not linked to a user"
            );
            Err(SignInError::UnknownIdentity)
        }
        Err(e) => Err(e),
    }
}

fn link_by_verified_email(
    tx: &mut dyn Tx,
    identity: &VerifiedIdentity,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<UserId, SignInError> {
    let email = match (
        identity.email.as_deref().map(str::trim),
        identity.email_verified,
    ) {
        (Some(email), true) if !email.is_empty() => email,
        _ => return Err(SignInError::UnknownIdentity),
    };
    let user_id = tx
        .sign_on()
        .user_with_email(email)?
        .ok_or(SignInError::UnknownIdentity)?;
    tx.sign_on().insert_identity(&NewIdentity {
        user_id,
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        email: email.to_owned(),
        at,
    })?;
    tracing::info!(user_id, issuer = %identity.issuer, "identity linked by its verified email");
    Ok(user_id)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockTokenCodec, MockTx};
    use crate::sso::Identity;
    use crate::testing::{at, fixed_clock, MockStore};

    fn codes() -> MockTokenCodec {
        let mut codes = MockTokenCodec::new();
        codes.expect_generate().returning(|| "the-code".into());
        codes.expect_digest().returning(|c| format!("digest({c})"));
        codes
    }

    fn identity(email: Option<&str>, email_verified: bool) -> VerifiedIdentity {
        VerifiedIdentity {
            issuer: "https://id.example".into(),
            subject: "sub-1".into(),
            email: email.map(Into::into),
            email_verified,
        }
    }

    fn linked(issuer: &str, subject: &str) -> Identity {
        Identity {
            id: 1,
            issuer: issuer.into(),
            subject: subject.into(),
            email: String::new(),
            created_at: at(0),
        }
    }

    /// A transaction in which (issuer, subject) is linked to `link`.
    fn tx_with_link(link: Option<i64>) -> MockTx {
        let mut tx = MockTx::new();
        tx.sign_on
            .expect_linked_user()
            .with(eq("https://id.example"), eq("sub-1"))
            .returning(move |_, _| Ok(link));
        tx
    }

    fn expect_code_for(tx: &mut MockTx, user_id: i64) {
        tx.sign_on
            .expect_sweep_login_codes()
            .with(eq(at(0)))
            .returning(|_| Ok(0));
        tx.sign_on
            .expect_insert_login_code()
            .with(eq("digest(the-code)"), eq(user_id), eq(at(60)))
            .times(1)
            .returning(|_, _, _| Ok(()));
    }

    #[test]
    fn an_existing_link_wins_over_the_email() {
        let mut tx = tx_with_link(Some(7));
        // The email is another user's: it is not even looked up.
        tx.sign_on.expect_user_with_email().never();
        tx.sign_on.expect_insert_identity().never();
        expect_code_for(&mut tx, 7);
        let store = MockStore::new(tx);
        let identity = identity(Some("other@example.com"), true);
        let code = sign_in(&store, &fixed_clock(), &codes(), &identity).unwrap();
        assert_eq!(code, "the-code");
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn a_verified_email_of_one_user_links_the_identity_and_signs_in() {
        let mut tx = tx_with_link(None);
        tx.sign_on
            .expect_user_with_email()
            .with(eq("Ann@Example.com"))
            .returning(|_| Ok(Some(4)));
        tx.sign_on
            .expect_insert_identity()
            .withf(|new| {
                new.user_id == 4
                    && new.issuer == "https://id.example"
                    && new.subject == "sub-1"
                    && new.email == "Ann@Example.com"
                    && new.at == at(0)
            })
            .times(1)
            .returning(|new| Ok(linked(&new.issuer, &new.subject)));
        expect_code_for(&mut tx, 4);
        let store = MockStore::new(tx);
        let identity = identity(Some(" Ann@Example.com "), true);
        assert!(sign_in(&store, &fixed_clock(), &codes(), &identity).is_ok());
    }

    #[test]
    fn an_unverified_or_missing_email_names_no_one() {
        for identity in [
            identity(Some("ann@example.com"), false),
            identity(None, true),
            identity(Some("  "), true),
        ] {
            let mut tx = tx_with_link(None);
            tx.sign_on.expect_user_with_email().never();
            tx.sign_on.expect_insert_identity().never();
            tx.sign_on.expect_insert_login_code().never();
            let store = MockStore::new(tx);
            let refused = sign_in(&store, &fixed_clock(), &codes(), &identity);
            assert!(
                matches!(refused, Err(SignInError::UnknownIdentity)),
                "{identity:?}"
            );
            assert_eq!(store.commits(), 0);
        }
    }

    #[test]
    fn a_verified_email_nobody_has_is_unknown() {
        let mut tx = tx_with_link(None);
        tx.sign_on.expect_user_with_email().returning(|_| Ok(None));
        tx.sign_on.expect_insert_identity().never();
        let store = MockStore::new(tx);
        let refused = sign_in(
            &store,
            &fixed_clock(),
            &codes(),
            &identity(Some("x@example.com"), true),
        );
        assert!(matches!(refused, Err(SignInError::UnknownIdentity)));
    }

    #[test]
    fn a_link_made_meanwhile_by_another_sign_in_is_found_on_the_second_try() {
        let lookups = Arc::new(AtomicUsize::new(0));
        let mut tx = MockTx::new();
        let seen = Arc::clone(&lookups);
        tx.sign_on.expect_linked_user().returning(move |_, _| {
            // First try: not linked yet; second: the other sign-in's link.
            Ok((seen.fetch_add(1, Ordering::SeqCst) > 0).then_some(4))
        });
        tx.sign_on
            .expect_user_with_email()
            .times(1)
            .returning(|_| Ok(Some(4)));
        tx.sign_on
            .expect_insert_identity()
            .times(1)
            .returning(|_| Err(StoreError::UniqueViolation("user_identities_once".into())));
        expect_code_for(&mut tx, 4);
        let store = MockStore::new(tx);
        let identity = identity(Some("ann@example.com"), true);
        assert!(sign_in(&store, &fixed_clock(), &codes(), &identity).is_ok());
        assert_eq!(lookups.load(Ordering::SeqCst), 2);
        assert_eq!((store.rollbacks(), store.commits()), (1, 1));
    }
}
