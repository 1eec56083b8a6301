//! The admins' management of the provider accounts linked to a user.

use libris_domain::accounts::UserId;
use libris_domain::{FieldError, ValidationErrors};

use crate::access::Admin;
use crate::ports::{Clock, Store, StoreError, StoreExt, Tx};

use super::{Identity, NewIdentity};

/// OpenID Connect Core: a subject is at most 255 ASCII characters.
const MAX_SUBJECT: usize = 255;
const MAX_ISSUER: usize = 2048;

/// A provider account, named as providers name them: (issuer, subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityKey {
    issuer: String,
    subject: String,
}

impl IdentityKey {
    /// Both trimmed, non-empty, without control characters, and of a length
    /// a provider uses.
    pub fn parse(issuer: &str, subject: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let issuer = errors.check(part("issuer", issuer, MAX_ISSUER));
        let subject = errors.check(part("subject", subject, MAX_SUBJECT));
        match (issuer, subject) {
            (Some(issuer), Some(subject)) => Ok(Self { issuer, subject }),
            _ => Err(errors),
        }
    }
}

fn part(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("no such member")]
    UserNotFound,
    #[error("the member has no such identity")]
    NotFound,
    /// (issuer, subject) is linked already, to this user or another.
    #[error("this identity is already linked to a member")]
    Duplicate,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn user_exists(tx: &mut dyn Tx, user_id: UserId) -> Result<(), IdentityError> {
    tx.accounts()
        .account(user_id)?
        .map(drop)
        .ok_or(IdentityError::UserNotFound)
}

/// The member's links, oldest first.
pub fn list_identities(
    store: &dyn Store,
    _admin: &Admin,
    user_id: UserId,
) -> Result<Vec<Identity>, IdentityError> {
    store.read_tx(|tx| {
        user_exists(tx, user_id)?;
        Ok(tx.sign_on().identities_of(user_id)?)
    })
}

/// Links a provider account to the member, so it signs in as them.
pub fn link_identity(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    user_id: UserId,
    key: IdentityKey,
) -> Result<Identity, IdentityError> {
    let new = NewIdentity {
        user_id,
        issuer: key.issuer,
        subject: key.subject,
        // Only the provider can say; it is recorded when it links by email.
        email: String::new(),
        at: clock.now(),
    };
    let identity = store.write_tx(|tx| {
        user_exists(tx, user_id)?;
        tx.sign_on().insert_identity(&new).map_err(|e| match e {
            StoreError::UniqueViolation(_) => IdentityError::Duplicate,
            StoreError::ForeignKeyViolation(_) => IdentityError::UserNotFound,
            e => e.into(),
        })
    })?;
    tracing::info!(
        user_id,
        issuer = %identity.issuer,
        admin_id = admin.caller().id,
        "identity linked"
    );
    Ok(identity)
}

/// Removes one of the member's links.
pub fn unlink_identity(
    store: &dyn Store,
    admin: &Admin,
    user_id: UserId,
    identity_id: i64,
) -> Result<(), IdentityError> {
    store.write_tx(|tx| {
        user_exists(tx, user_id)?;
        if tx.sign_on().delete_identity(user_id, identity_id)? {
            Ok(())
        } else {
            Err(IdentityError::NotFound)
        }
    })?;
    tracing::info!(
        user_id,
        identity_id,
        admin_id = admin.caller().id,
        "identity unlinked"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{account, admin, at, fixed_clock, MockStore};

    fn an_admin() -> Admin {
        Admin::check(admin()).unwrap()
    }

    fn key() -> IdentityKey {
        IdentityKey::parse("https://id.example", "sub-1").unwrap()
    }

    fn tx_with_user(user_id: i64, exists: bool) -> MockTx {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_account()
            .with(eq(user_id))
            .returning(move |id| Ok(exists.then(|| account(id, "ann", false))));
        tx
    }

    #[test]
    fn keys_must_name_an_issuer_and_a_subject() {
        let errors = IdentityKey::parse("  ", "").unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["issuer", "subject"]);
        assert!(IdentityKey::parse("https://id.example", "a\nb").is_err());
        assert!(IdentityKey::parse("https://id.example", &"s".repeat(256)).is_err());
        assert_eq!(
            IdentityKey::parse(" https://id.example ", " sub-1 ").unwrap(),
            key()
        );
    }

    #[test]
    fn a_link_is_stored_for_an_existing_member() {
        let mut tx = tx_with_user(4, true);
        tx.sign_on
            .expect_insert_identity()
            .withf(|new| {
                (
                    new.user_id,
                    new.issuer.as_str(),
                    new.subject.as_str(),
                    new.at,
                ) == (4, "https://id.example", "sub-1", at(0))
            })
            .times(1)
            .returning(|new| {
                Ok(Identity {
                    id: 9,
                    issuer: new.issuer.clone(),
                    subject: new.subject.clone(),
                    email: String::new(),
                    created_at: new.at,
                })
            });
        let store = MockStore::new(tx);
        let identity = link_identity(&store, &fixed_clock(), &an_admin(), 4, key()).unwrap();
        assert_eq!(identity.id, 9);
    }

    #[test]
    fn a_duplicate_link_is_a_conflict_and_an_unknown_member_not_found() {
        let mut tx = tx_with_user(4, true);
        tx.sign_on
            .expect_insert_identity()
            .returning(|_| Err(StoreError::UniqueViolation("user_identities_once".into())));
        let store = MockStore::new(tx);
        let refused = link_identity(&store, &fixed_clock(), &an_admin(), 4, key());
        assert!(matches!(refused, Err(IdentityError::Duplicate)));

        let mut tx = tx_with_user(5, false);
        tx.sign_on.expect_insert_identity().never();
        let store = MockStore::new(tx);
        let refused = link_identity(&store, &fixed_clock(), &an_admin(), 5, key());
        assert!(matches!(refused, Err(IdentityError::UserNotFound)));
    }

    #[test]
    fn unlinking_another_members_or_a_missing_link_is_not_found() {
        let mut tx = tx_with_user(4, true);
        tx.sign_on
            .expect_delete_identity()
            .with(eq(4), eq(9))
            .returning(|_, _| Ok(false));
        let store = MockStore::new(tx);
        let refused = unlink_identity(&store, &an_admin(), 4, 9);
        assert!(matches!(refused, Err(IdentityError::NotFound)));
        assert_eq!(store.commits(), 0);
    }

    #[test]
    fn the_links_of_an_unknown_member_are_not_found() {
        let mut tx = tx_with_user(5, false);
        tx.sign_on.expect_identities_of().never();
        let store = MockStore::new(tx);
        let refused = list_identities(&store, &an_admin(), 5);
        assert!(matches!(refused, Err(IdentityError::UserNotFound)));
    }
}
