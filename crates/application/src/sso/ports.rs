//! Ports of single sign-on: the identity provider (network and
//! cryptography), and the rows a sign-in keeps in the database.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use libris_domain::accounts::UserId;

use super::{Identity, NewIdentity, PendingLogin, VerifiedIdentity};
use crate::StoreError;

/// A provider call's future. `'static`, so an adapter hands out work that
/// holds what it needs, and a mock returns a ready one.
pub type ProviderFuture<T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send>>;

/// How a provider call fails; the message is for logs, never for the browser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached or refused the request (discovery,
    /// the token endpoint, its keys): `provider_error` to the browser.
    #[error("the identity provider failed: {0}")]
    Unavailable(String),
    /// The provider's answer did not verify (signature, issuer, audience,
    /// expiry, nonce, no ID token): `token_invalid` to the browser.
    #[error("the identity provider's answer did not verify: {0}")]
    InvalidToken(String),
}

/// An OpenID Connect provider, as the sign-in flow uses it.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait IdentityProvider: Send + Sync {
    /// The configured issuer: the default issuer of a link an admin makes.
    fn issuer(&self) -> String;
    /// Where to send the browser (authorization code flow, PKCE S256,
    /// `state` and `nonce`), and the secrets the callback will need.
    /// `Unavailable` when the provider cannot be discovered.
    fn authorization_url(&self) -> ProviderFuture<(String, PendingLogin)>;
    /// Redeems `code` with the PKCE verifier and verifies the ID token
    /// against the issuer's keys: signature, issuer, audience, expiry and
    /// the pending login's nonce. `InvalidToken` for an answer that does not
    /// verify, `Unavailable` for a provider that fails or refuses the code.
    fn finish(&self, code: String, pending: PendingLogin) -> ProviderFuture<VerifiedIdentity>;
}

/// Links, pending logins and one-time codes, in a transaction.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait SignOn {
    /// The user linked to this provider account.
    fn linked_user(&mut self, issuer: &str, subject: &str) -> Result<Option<UserId>, StoreError>;
    /// The user whose email is `email`, compared case-insensitively (emails
    /// are unique that way); never one without an email.
    fn user_with_email(&mut self, email: &str) -> Result<Option<UserId>, StoreError>;
    /// `UniqueViolation` when (issuer, subject) is linked already;
    /// `ForeignKeyViolation` when the user does not exist.
    fn insert_identity(&mut self, identity: &NewIdentity) -> Result<Identity, StoreError>;
    /// The user's links, oldest first.
    fn identities_of(&mut self, user_id: UserId) -> Result<Vec<Identity>, StoreError>;
    /// Removes the user's link `id`; `false` when they have no such link.
    fn delete_identity(&mut self, user_id: UserId, id: i64) -> Result<bool, StoreError>;
    /// `UniqueViolation` when the state is stored already.
    fn insert_pending_login(
        &mut self,
        login: &PendingLogin,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Removes the pending login under `state` and answers it with the time
    /// it was stored. Of two transactions taking one state, one gets it.
    fn take_pending_login(
        &mut self,
        state: &str,
    ) -> Result<Option<(PendingLogin, DateTime<Utc>)>, StoreError>;
    /// Removes the pending logins stored before `before`; answers how many.
    fn sweep_pending_logins(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError>;
    /// Stores a one-time code's digest. `UniqueViolation` when it is stored
    /// already; `ForeignKeyViolation` when the user does not exist.
    fn insert_login_code(
        &mut self,
        digest: &str,
        user_id: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Removes the code stored under `digest` and answers its user and
    /// expiry. Of two transactions taking one code, one gets it.
    fn take_login_code(
        &mut self,
        digest: &str,
    ) -> Result<Option<(UserId, DateTime<Utc>)>, StoreError>;
    /// Removes the codes that expired before `before`; answers how many.
    fn sweep_login_codes(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError>;
}
