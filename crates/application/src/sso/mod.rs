//! Single sign-on to the console with an OpenID Connect provider.
//!
//! The flow, in the order a sign-in runs it:
//! - [`login::remember_login`]: the provider adapter made the authorization
//!   URL and its secrets (state, nonce, PKCE verifier); they are stored, so
//!   any instance sharing the database can finish the sign-in;
//! - [`login::take_pending_login`]: the callback's `state` must match the
//!   browser's cookie and a stored, recent pending login, which it consumes;
//! - the adapter exchanges the code and verifies the ID token
//!   ([`IdentityProvider::finish`]);
//! - [`sign_in::sign_in`]: the verified identity names a user (a link, or a
//!   verified email, which links it), and a one-time code is stored for them;
//! - [`exchange::exchange_code`]: the console trades that code, once, for a
//!   bearer token like a password sign-in's.
//!
//! [`identities`] is the admins' management of the links. Users are never
//! created here.

pub mod exchange;
pub mod identities;
pub mod login;
pub mod ports;
pub mod sign_in;

use chrono::{DateTime, Utc};
use libris_domain::accounts::UserId;

pub use ports::{IdentityProvider, ProviderError, ProviderFuture, SignOn};

/// A pending login is refused, and swept, after this long: the person had
/// this much time at the provider.
pub const PENDING_LOGIN_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// A one-time code lives this long: the console exchanges it as soon as the
/// page loads.
pub const CODE_LIFETIME: chrono::Duration = chrono::Duration::seconds(60);

/// What the callback needs to finish a sign-in the provider adapter started.
/// All three are secrets for the length of a sign-in.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingLogin {
    /// The `state` parameter, also the browser's cookie: ties the callback
    /// to the browser that started the sign-in (CSRF).
    pub state: String,
    /// Must come back inside the ID token: ties the token to this sign-in.
    pub nonce: String,
    /// PKCE: only who holds it can redeem the authorization code.
    pub pkce_verifier: String,
}

/// Never prints the secrets.
impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingLogin { .. }")
    }
}

/// Who the provider says signed in, from an ID token whose signature, issuer,
/// audience, expiry and nonce were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches for `email` (`email_verified: true`).
    pub email_verified: bool,
}

/// A provider's account linked to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: i64,
    pub issuer: String,
    pub subject: String,
    /// What the provider said when the link was made; empty when unknown.
    pub email: String,
    pub created_at: DateTime<Utc>,
}

/// A link to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdentity {
    pub user_id: UserId,
    pub issuer: String,
    pub subject: String,
    pub email: String,
    pub at: DateTime<Utc>,
}
