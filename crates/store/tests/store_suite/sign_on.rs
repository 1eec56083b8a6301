//! Single sign-on's rows on both backends: a pending login and a one-time
//! code are taken once however many try at the same time, an identity is
//! linked once, emails match whatever their case, and links go with their
//! user.

use std::sync::Barrier;

use libris_application::ports::MockTokenCodec;
use libris_application::sso::exchange::{exchange_code, ExchangeError};
use libris_application::sso::identities::{
    link_identity, list_identities, IdentityError, IdentityKey,
};
use libris_application::sso::login::{remember_login, take_pending_login, StateError};
use libris_application::sso::sign_in::sign_in;
use libris_application::sso::{PendingLogin, VerifiedIdentity};

use super::*;

on_both_backends!(
    a_pending_login_is_taken_once_by_concurrent_callbacks,
    a_code_is_exchanged_once_by_concurrent_exchanges,
    a_verified_email_links_once_whatever_its_case_and_links_go_with_their_user,
);

/// Distinct random codes and tokens (the digest is the code itself: these
/// tests are about the rows, not the hashing).
fn codes() -> MockTokenCodec {
    let mut codes = MockTokenCodec::new();
    codes
        .expect_generate()
        .returning(|| uuid::Uuid::new_v4().to_string());
    codes.expect_digest().returning(|c| format!("digest:{c}"));
    codes
}

fn identity(subject: &str, email: &str) -> VerifiedIdentity {
    VerifiedIdentity {
        issuer: "https://id.example".into(),
        subject: subject.into(),
        email: Some(email.into()),
        email_verified: true,
    }
}

/// Runs `work` on `n` threads released at once; answers how many succeeded.
fn at_once<T: Send>(n: usize, work: impl Fn() -> Option<T> + Sync) -> Vec<T> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    work()
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    })
}

fn a_pending_login_is_taken_once_by_concurrent_callbacks(store: &DieselStore) {
    let login = PendingLogin {
        state: "state-1".into(),
        nonce: "nonce-1".into(),
        pkce_verifier: "verifier-1".into(),
    };
    remember_login(store, &fixed_clock(), &login).unwrap();
    let taken = at_once(4, || {
        match take_pending_login(store, &fixed_clock(), Some("state-1"), Some("state-1")) {
            Ok(login) => Some(login),
            Err(StateError::Mismatch) => None,
            Err(e) => panic!("{e}"),
        }
    });
    assert_eq!(taken, [login]);
}

fn a_code_is_exchanged_once_by_concurrent_exchanges(store: &DieselStore) {
    register(store, "ann", false);
    let codes = codes();
    let code = sign_in(
        store,
        &fixed_clock(),
        &codes,
        &identity("sub-1", "ann@example.com"),
    )
    .unwrap();
    let tokens = at_once(4, || {
        match exchange_code(store, &fixed_clock(), &codes, &code) {
            Ok((token, account)) => Some((token, account.user.username)),
            Err(ExchangeError::InvalidCode) => None,
            Err(e) => panic!("{e}"),
        }
    });
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].1, "ann");
    // The token works like a password sign-in's.
    let account = accounts::authenticate(store, &codes, &tokens[0].0).unwrap();
    assert_eq!(account.map(|a| a.user.username).as_deref(), Some("ann"));
}

fn a_verified_email_links_once_whatever_its_case_and_links_go_with_their_user(store: &DieselStore) {
    let ann = register(store, "ann", false);
    let codes = codes();
    // Two first sign-ins at once: both sign in, one link.
    let signed_in = at_once(2, || {
        sign_in(
            store,
            &fixed_clock(),
            &codes,
            &identity("sub-1", "ANN@Example.COM"),
        )
        .ok()
    });
    assert_eq!(signed_in.len(), 2);
    let links = list_identities(store, &admin_caller(), ann).unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].subject.as_str(), links[0].email.as_str()),
        ("sub-1", "ANN@Example.COM")
    );
    // The same account cannot be linked to anyone else.
    let bob = register(store, "bob", false);
    let key = IdentityKey::parse("https://id.example", "sub-1").unwrap();
    let refused = link_identity(store, &fixed_clock(), &admin_caller(), bob, key);
    assert!(
        matches!(refused, Err(IdentityError::Duplicate)),
        "{refused:?}"
    );
    // A deleted user takes their links and codes along.
    let code = sign_in(
        store,
        &fixed_clock(),
        &codes,
        &identity("sub-1", "x@example.com"),
    )
    .unwrap();
    store.write_tx(|tx| tx.accounts().delete_user(ann)).unwrap();
    let refused = exchange_code(store, &fixed_clock(), &codes, &code);
    assert!(matches!(refused, Err(ExchangeError::InvalidCode)));
    let linked = store
        .read_tx(|tx| tx.sign_on().linked_user("https://id.example", "sub-1"))
        .unwrap();
    assert_eq!(linked, None);
}
