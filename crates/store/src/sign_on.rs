//! Single sign-on's rows: provider accounts linked to users, sign-ins
//! waiting for their callback, and one-time codes waiting for the console.
//! Expiry is decided by the application; this module only stores and takes.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use libris_application::sso::{Identity, NewIdentity, PendingLogin};
use libris_application::StoreError;
use libris_domain::accounts::UserId;

use crate::accounts::lower;
use crate::connection::{columns, AnyConnection};
use crate::error::IntoStore;
use crate::schema::{login_codes, oidc_logins, user_identities, users};
use crate::time::{naive, utc};

#[derive(Queryable, Selectable)]
#[diesel(table_name = user_identities)]
struct IdentityRow {
    id: i64,
    issuer: String,
    subject: String,
    email: String,
    created_at: NaiveDateTime,
}

impl From<IdentityRow> for Identity {
    fn from(row: IdentityRow) -> Self {
        Self {
            id: row.id,
            issuer: row.issuer,
            subject: row.subject,
            email: row.email,
            created_at: utc(row.created_at),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = oidc_logins)]
struct PendingLoginRow {
    state: String,
    nonce: String,
    pkce_verifier: String,
    created_at: NaiveDateTime,
}

pub(crate) fn linked_user(
    conn: &mut AnyConnection,
    issuer: &str,
    subject: &str,
) -> Result<Option<UserId>, StoreError> {
    user_identities::table
        .filter(user_identities::issuer.eq(issuer))
        .filter(user_identities::subject.eq(subject))
        .select(user_identities::user_id)
        .first(conn)
        .optional()
        .store()
}

pub(crate) fn user_with_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<UserId>, StoreError> {
    if email.is_empty() {
        return Ok(None);
    }
    // The same `lower` as the unique index on emails, so at most one matches.
    users::table
        .filter(users::email.ne(""))
        .filter(lower(users::email).eq(lower(email)))
        .select(users::id)
        .first(conn)
        .optional()
        .store()
}

pub(crate) fn insert_identity(
    conn: &mut AnyConnection,
    identity: &NewIdentity,
) -> Result<Identity, StoreError> {
    diesel::insert_into(user_identities::table)
        .values((
            user_identities::user_id.eq(identity.user_id),
            user_identities::issuer.eq(&identity.issuer),
            user_identities::subject.eq(&identity.subject),
            user_identities::email.eq(&identity.email),
            user_identities::created_at.eq(naive(identity.at)),
        ))
        .returning(columns::<IdentityRow>())
        .get_result::<IdentityRow>(conn)
        .map(Identity::from)
        .store()
}

pub(crate) fn identities_of(
    conn: &mut AnyConnection,
    user_id: UserId,
) -> Result<Vec<Identity>, StoreError> {
    user_identities::table
        .filter(user_identities::user_id.eq(user_id))
        .order(user_identities::id)
        .select(IdentityRow::as_select())
        .load::<IdentityRow>(conn)
        .map(|rows| rows.into_iter().map(Identity::from).collect())
        .store()
}

pub(crate) fn delete_identity(
    conn: &mut AnyConnection,
    user_id: UserId,
    id: i64,
) -> Result<bool, StoreError> {
    diesel::delete(
        user_identities::table
            .filter(user_identities::id.eq(id))
            .filter(user_identities::user_id.eq(user_id)),
    )
    .execute(conn)
    .map(|deleted| deleted > 0)
    .store()
}

pub(crate) fn insert_pending_login(
    conn: &mut AnyConnection,
    login: &PendingLogin,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(oidc_logins::table)
        .values((
            oidc_logins::state.eq(&login.state),
            oidc_logins::nonce.eq(&login.nonce),
            oidc_logins::pkce_verifier.eq(&login.pkce_verifier),
            oidc_logins::created_at.eq(naive(at)),
        ))
        .execute(conn)
        .store()?;
    Ok(())
}

/// `DELETE … RETURNING`: the delete is the claim, so of two callbacks with
/// one state only the first gets a row (the second waits for it on
/// PostgreSQL, then deletes nothing).
pub(crate) fn take_pending_login(
    conn: &mut AnyConnection,
    state: &str,
) -> Result<Option<(PendingLogin, DateTime<Utc>)>, StoreError> {
    let row = diesel::delete(oidc_logins::table.find(state))
        .returning(columns::<PendingLoginRow>())
        .get_result::<PendingLoginRow>(conn)
        .optional()
        .store()?;
    Ok(row.map(|row| {
        let login = PendingLogin {
            state: row.state,
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
        };
        (login, utc(row.created_at))
    }))
}

pub(crate) fn sweep_pending_logins(
    conn: &mut AnyConnection,
    before: DateTime<Utc>,
) -> Result<usize, StoreError> {
    diesel::delete(oidc_logins::table.filter(oidc_logins::created_at.lt(naive(before))))
        .execute(conn)
        .store()
}

pub(crate) fn insert_login_code(
    conn: &mut AnyConnection,
    digest: &str,
    user_id: UserId,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(login_codes::table)
        .values((
            login_codes::code_hash.eq(digest),
            login_codes::user_id.eq(user_id),
            login_codes::expires_at.eq(naive(expires_at)),
        ))
        .execute(conn)
        .store()?;
    Ok(())
}

/// A claim by delete, as [`take_pending_login`].
pub(crate) fn take_login_code(
    conn: &mut AnyConnection,
    digest: &str,
) -> Result<Option<(UserId, DateTime<Utc>)>, StoreError> {
    diesel::delete(login_codes::table.find(digest))
        .returning((login_codes::user_id, login_codes::expires_at))
        .get_result::<(i64, NaiveDateTime)>(conn)
        .optional()
        .map(|row| row.map(|(user_id, expires_at)| (user_id, utc(expires_at))))
        .store()
}

pub(crate) fn sweep_login_codes(
    conn: &mut AnyConnection,
    before: DateTime<Utc>,
) -> Result<usize, StoreError> {
    diesel::delete(login_codes::table.filter(login_codes::expires_at.lt(naive(before))))
        .execute(conn)
        .store()
}
