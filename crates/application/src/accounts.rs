//! Accounts: registration, tokens, the caller's own profile. The admin's
//! member directory is [`crate::members`].

use libris_domain::accounts::{Account, Profile};
use libris_domain::members::{Phone, Tags, TimeZoneName};
use libris_domain::values::{Email, Password, Username};

use crate::events::EventContext;
use crate::members::{apply_changes, insert_member, profile_changes, MemberError};
use crate::ports::{
    Caller, Clock, NewUser, PasswordHasher, Store, StoreError, StoreExt, TokenCodec, UserChanges,
};

/// A new account's parsed fields.
#[derive(Debug, Clone)]
pub struct Registration {
    pub username: Username,
    pub email: Email,
    pub password: Password,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the username is already taken")]
    UsernameTaken,
    #[error("another member has this email")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<MemberError> for RegisterError {
    fn from(error: MemberError) -> Self {
        match error {
            MemberError::UsernameTaken => Self::UsernameTaken,
            MemberError::EmailTaken => Self::EmailTaken,
            MemberError::Store(e) => Self::Store(e),
            // A registration changes no one else.
            other => Self::Store(StoreError::Unexpected(other.to_string())),
        }
    }
}

/// Creates a user and its profile, and records `user.created`, in one
/// transaction. The password is hashed before the transaction starts, since
/// hashing is slow on purpose.
pub fn register(
    store: &dyn Store,
    clock: &dyn Clock,
    hasher: &dyn PasswordHasher,
    registration: Registration,
    is_admin: bool,
) -> Result<Account, RegisterError> {
    let password_hash = hasher.hash(&registration.password)?;
    let user = NewUser {
        username: registration.username.into_inner(),
        email: registration.email.into_inner(),
        password_hash: Some(password_hash),
        is_admin,
        at: clock.now(),
    };
    store.write_tx(|tx| Ok(insert_member(tx, None, &user, Profile::default())?))
}

/// Creates the admin `registration` names unless a user of that name exists;
/// answers whether it created one. Used at start and by `libris users create`.
pub fn ensure_admin(
    store: &dyn Store,
    clock: &dyn Clock,
    hasher: &dyn PasswordHasher,
    registration: Registration,
) -> Result<bool, StoreError> {
    match register(store, clock, hasher, registration, true) {
        Ok(_) => Ok(true),
        Err(RegisterError::UsernameTaken) => Ok(false),
        // The admin's email is another member's: nothing is created, and
        // the start says why.
        Err(e @ RegisterError::EmailTaken) => Err(StoreError::Unexpected(format!(
            "cannot create the admin: {e}"
        ))),
        Err(RegisterError::Store(e)) => Err(e),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("unknown username or wrong password")]
    InvalidCredentials,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a username and password and issues a new bearer token. Only the
/// token's digest is stored; the token itself is returned once.
pub fn issue_token(
    store: &dyn Store,
    clock: &dyn Clock,
    hasher: &dyn PasswordHasher,
    tokens: &dyn TokenCodec,
    username: &str,
    password: &str,
) -> Result<(String, Account), LoginError> {
    // No account's name has control characters (usernames are parsed), and
    // PostgreSQL refuses NUL in a text parameter: answer before asking.
    if username.chars().any(char::is_control) {
        return Err(LoginError::InvalidCredentials);
    }
    let credentials = store.read_tx(|tx| tx.accounts().credentials(username))?;
    // A member without a password cannot sign in, and answers as slowly as
    // an unknown name.
    let Some((user, Some(hash))) = credentials else {
        hasher.verify_against_nothing(password);
        return Err(LoginError::InvalidCredentials);
    };
    if !hasher.verify(password, &hash) {
        return Err(LoginError::InvalidCredentials);
    }
    let token = tokens.generate();
    let digest = tokens.digest(&token);
    let at = clock.now();
    let account = store.write_tx(|tx| {
        tx.accounts().insert_token(user.id, &digest, at)?;
        tx.accounts().account(user.id)
    })?;
    let account = account.ok_or(LoginError::InvalidCredentials)?;
    Ok((token, account))
}

/// The account a bearer token belongs to, if the token is live.
pub fn authenticate(
    store: &dyn Store,
    tokens: &dyn TokenCodec,
    token: &str,
) -> Result<Option<Account>, StoreError> {
    let digest = tokens.digest(token);
    store.read_tx(|tx| tx.accounts().account_by_token(&digest))
}

/// Revokes a token; answers whether it was live.
pub fn revoke_token(
    store: &dyn Store,
    tokens: &dyn TokenCodec,
    token: &str,
) -> Result<bool, StoreError> {
    let digest = tokens.digest(token);
    store.write_tx(|tx| tx.accounts().delete_token(&digest))
}

#[derive(Debug, thiserror::Error)]
pub enum MeError {
    /// The caller's account vanished between authentication and now.
    #[error("the account no longer exists")]
    Gone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn me(store: &dyn Store, caller: &Caller) -> Result<Account, MeError> {
    store
        .read_tx(|tx| tx.accounts().account(caller.id))?
        .ok_or(MeError::Gone)
}

/// Parsed profile fields a member may change; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub bio: Option<String>,
    pub phone: Option<Phone>,
    pub subscribed_to_notifications: Option<bool>,
    pub tags: Option<Tags>,
    pub timezone: Option<TimeZoneName>,
}

/// Changes the caller's own profile and records `user.updated` about them,
/// with them as the acting user.
pub fn update_profile(
    store: &dyn Store,
    clock: &dyn Clock,
    caller: &Caller,
    update: ProfileUpdate,
) -> Result<Account, MeError> {
    let context = EventContext {
        user: Some(caller.user_ref()),
        at: clock.now(),
    };
    let profile = profile_changes(update);
    store.write_tx(|tx| {
        let current = tx.accounts().account(caller.id)?.ok_or(MeError::Gone)?;
        apply_changes(tx, &context, &current, &UserChanges::default(), &profile).map_err(
            |e| match e {
                MemberError::NotFound => MeError::Gone,
                MemberError::Store(e) => MeError::Store(e),
                // Only the profile changes: nothing else can be refused.
                other => MeError::Store(StoreError::Unexpected(other.to_string())),
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockPasswordHasher, MockTokenCodec, MockTx};
    use crate::testing::{account, fixed_clock, member, recorded, user, MockStore};

    fn registration() -> Registration {
        Registration {
            username: Username::parse("ann").unwrap(),
            email: Email::parse("ann@example.com").unwrap(),
            password: Password::parse("correct horse").unwrap(),
        }
    }

    fn hasher() -> MockPasswordHasher {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| Ok("argon2-hash".into()));
        hasher
            .expect_verify()
            .returning(|password, hash| password == "correct horse" && hash == "argon2-hash");
        hasher.expect_verify_against_nothing().return_const(());
        hasher
    }

    fn tokens() -> MockTokenCodec {
        let mut tokens = MockTokenCodec::new();
        tokens.expect_generate().returning(|| "plain-token".into());
        tokens.expect_digest().returning(|t| format!("digest({t})"));
        tokens
    }

    #[test]
    fn register_creates_user_profile_and_user_created_event_together() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_username_exists()
            .with(eq("ann"))
            .returning(|_| Ok(false));
        tx.accounts
            .expect_email_taken()
            .with(eq("ann@example.com"), eq(None))
            .returning(|_, _| Ok(false));
        tx.accounts
            .expect_insert_user()
            .withf(|u| {
                u.username == "ann"
                    && u.password_hash.as_deref() == Some("argon2-hash")
                    && !u.is_admin
            })
            .returning(|_| Ok(user(5, "ann", false)));
        tx.accounts
            .expect_insert_profile()
            .withf(|id, profile| *id == 5 && *profile == Profile::default())
            .times(1)
            .returning(|_, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .withf(|e| {
                e.name == "user.created" && e.data["id"] == 5 && e.data.get("password").is_none()
            })
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let account = register(&store, &fixed_clock(), &hasher(), registration(), false).unwrap();
        assert_eq!(account.user.id, 5);
        assert!(account.profile.subscribed_to_notifications);
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn register_refuses_a_taken_username_and_writes_nothing() {
        let mut tx = MockTx::new();
        tx.accounts.expect_username_exists().returning(|_| Ok(true));
        tx.accounts.expect_insert_user().never();
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let err = register(&store, &fixed_clock(), &hasher(), registration(), false).unwrap_err();
        assert!(matches!(err, RegisterError::UsernameTaken));
        assert_eq!(store.rollbacks(), 1);
    }

    #[test]
    fn register_refuses_an_email_another_member_has() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_username_exists()
            .returning(|_| Ok(false));
        tx.accounts.expect_email_taken().returning(|_, _| Ok(true));
        tx.accounts.expect_insert_user().never();
        let store = MockStore::new(tx);
        let err = register(&store, &fixed_clock(), &hasher(), registration(), false).unwrap_err();
        assert!(matches!(err, RegisterError::EmailTaken), "{err:?}");
        assert_eq!(store.rollbacks(), 1);
    }

    #[test]
    fn register_maps_a_lost_race_to_username_taken() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_username_exists()
            .returning(|_| Ok(false));
        tx.accounts.expect_email_taken().returning(|_, _| Ok(false));
        tx.accounts
            .expect_insert_user()
            .returning(|_| Err(StoreError::UniqueViolation("users.username".into())));
        let store = MockStore::new(tx);
        let err = register(&store, &fixed_clock(), &hasher(), registration(), false).unwrap_err();
        assert!(matches!(err, RegisterError::UsernameTaken));
    }

    #[test]
    fn ensure_admin_creates_once_then_leaves_the_existing_user() {
        let mut tx = MockTx::new();
        let mut exists = false;
        tx.accounts.expect_username_exists().returning(move |_| {
            let answer = exists;
            exists = true;
            Ok(answer)
        });
        tx.accounts.expect_email_taken().returning(|_, _| Ok(false));
        tx.accounts
            .expect_insert_user()
            .withf(|u| u.is_admin)
            .times(1)
            .returning(|_| Ok(user(1, "ann", true)));
        tx.accounts.expect_insert_profile().returning(|_, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        assert!(ensure_admin(&store, &fixed_clock(), &hasher(), registration()).unwrap());
        assert!(!ensure_admin(&store, &fixed_clock(), &hasher(), registration()).unwrap());
    }

    #[test]
    fn issue_token_stores_only_the_digest() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_credentials()
            .returning(|_| Ok(Some((user(5, "ann", false), Some("argon2-hash".into())))));
        tx.accounts
            .expect_insert_token()
            .withf(|id, digest, _| *id == 5 && digest == "digest(plain-token)")
            .times(1)
            .returning(|_, _, _| Ok(()));
        tx.accounts
            .expect_account()
            .returning(|_| Ok(Some(account(5, "ann", false))));
        let store = MockStore::new(tx);
        let (token, account) = issue_token(
            &store,
            &fixed_clock(),
            &hasher(),
            &tokens(),
            "ann",
            "correct horse",
        )
        .unwrap();
        assert_eq!(token, "plain-token");
        assert_eq!(account.user.id, 5);
    }

    #[test]
    fn issue_token_refuses_wrong_password_and_unknown_user_alike() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_credentials()
            .with(eq("ann"))
            .returning(|_| Ok(Some((user(5, "ann", false), Some("argon2-hash".into())))));
        tx.accounts
            .expect_credentials()
            .with(eq("bob"))
            .returning(|_| Ok(None));
        tx.accounts.expect_insert_token().never();
        let store = MockStore::new(tx);
        for (name, password) in [
            ("ann", "wrong password"),
            ("bob", "correct horse"),
            ("a\u{0}n", "correct horse"),
        ] {
            let err = issue_token(&store, &fixed_clock(), &hasher(), &tokens(), name, password)
                .unwrap_err();
            assert!(matches!(err, LoginError::InvalidCredentials), "{name}");
        }
    }

    #[test]
    fn a_login_for_an_unknown_user_still_spends_a_verification() {
        let mut tx = MockTx::new();
        tx.accounts.expect_credentials().returning(|_| Ok(None));
        let store = MockStore::new(tx);
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().never();
        hasher
            .expect_verify_against_nothing()
            .with(eq("a guess"))
            .times(1)
            .return_const(());
        let err = issue_token(&store, &fixed_clock(), &hasher, &tokens(), "bob", "a guess");
        assert!(matches!(err, Err(LoginError::InvalidCredentials)));
    }

    #[test]
    fn a_member_without_a_password_cannot_sign_in_with_any() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_credentials()
            .returning(|_| Ok(Some((user(5, "ann", false), None))));
        tx.accounts.expect_insert_token().never();
        let store = MockStore::new(tx);
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().never();
        hasher
            .expect_verify_against_nothing()
            .times(2)
            .return_const(());
        for password in ["", "correct horse"] {
            let err = issue_token(&store, &fixed_clock(), &hasher, &tokens(), "ann", password);
            assert!(matches!(err, Err(LoginError::InvalidCredentials)));
        }
    }

    #[test]
    fn authenticate_and_revoke_look_up_by_digest() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_account_by_token()
            .with(eq("digest(t)"))
            .returning(|_| Ok(Some(account(2, "member", false))));
        tx.accounts
            .expect_delete_token()
            .with(eq("digest(t)"))
            .returning(|_| Ok(true));
        let store = MockStore::new(tx);
        assert_eq!(
            authenticate(&store, &tokens(), "t")
                .unwrap()
                .unwrap()
                .user
                .id,
            2
        );
        assert!(revoke_token(&store, &tokens(), "t").unwrap());
    }

    #[test]
    fn update_profile_changes_only_given_fields_and_records_user_updated() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_account()
            .returning(|_| Ok(Some(account(2, "member", false))));
        tx.accounts
            .expect_update_user()
            .withf(|_, c| c.is_empty())
            .returning(|_, _| Ok(()));
        tx.accounts.expect_delete_tokens().never();
        tx.accounts
            .expect_update_profile()
            .withf(|id, c| {
                *id == 2
                    && c.bio.as_deref() == Some("reader")
                    && c.phone.is_none()
                    && c.subscribed_to_notifications == Some(false)
                    && c.tags.as_deref() == Some(&["vip".to_owned()][..])
                    && c.timezone.is_none()
            })
            .times(1)
            .returning(|_, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .withf(|e| {
                e.name == "user.updated"
                    && e.about == Some(2)
                    && e.user.as_ref().is_some_and(|u| u.id == 2)
                    && e.data["changes"]["tags"] == serde_json::json!([[], ["vip"]])
                    && e.data["changes"]["bio"] == serde_json::json!(["", "reader"])
            })
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let update = ProfileUpdate {
            bio: Some("reader".into()),
            subscribed_to_notifications: Some(false),
            tags: Some(Tags::parse(&["VIP"]).unwrap()),
            ..ProfileUpdate::default()
        };
        update_profile(&store, &fixed_clock(), &member(), update).unwrap();
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn me_of_a_vanished_account_is_gone() {
        let mut tx = MockTx::new();
        tx.accounts.expect_account().returning(|_| Ok(None));
        tx.accounts.expect_update_profile().never();
        let store = MockStore::new(tx);
        assert!(matches!(me(&store, &member()), Err(MeError::Gone)));
        let update = ProfileUpdate::default();
        let err = update_profile(&store, &fixed_clock(), &member(), update);
        assert!(matches!(err, Err(MeError::Gone)));
    }
}
