//! Users, their profiles and their tokens.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use libris_application::ports::{NewUser, ProfileChanges};
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::{Account, Profile, User, UserId};

use crate::connection::{columns, AnyConnection};
use crate::error::IntoStore;
use crate::schema::{api_tokens, loans, profiles, users};
use crate::time::{naive, utc};

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: i64,
    username: String,
    email: String,
    is_admin: bool,
    created_at: NaiveDateTime,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            email: row.email,
            is_admin: row.is_admin,
            created_at: utc(row.created_at),
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = profiles)]
struct ProfileRow {
    bio: String,
    phone: String,
    books_borrowed: i64,
    books_returned: i64,
    subscribed_to_notifications: bool,
}

impl From<ProfileRow> for Profile {
    fn from(row: ProfileRow) -> Self {
        Self {
            bio: row.bio,
            phone: row.phone,
            books_borrowed: row.books_borrowed,
            books_returned: row.books_returned,
            subscribed_to_notifications: row.subscribed_to_notifications,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    username: &'a str,
    email: &'a str,
    password_hash: &'a str,
    is_admin: bool,
    created_at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = profiles)]
struct ProfileChangeset<'a> {
    bio: Option<&'a str>,
    phone: Option<&'a str>,
    subscribed_to_notifications: Option<bool>,
}

fn account((user, profile): (UserRow, ProfileRow)) -> Account {
    Account {
        user: user.into(),
        profile: profile.into(),
    }
}

pub(crate) fn insert_user(conn: &mut AnyConnection, user: &NewUser) -> Result<User, StoreError> {
    diesel::insert_into(users::table)
        .values(NewUserRow {
            username: &user.username,
            email: &user.email,
            password_hash: &user.password_hash,
            is_admin: user.is_admin,
            created_at: naive(user.at),
        })
        .returning(columns::<UserRow>())
        .get_result::<UserRow>(conn)
        .map(User::from)
        .store()
}

pub(crate) fn insert_profile(
    conn: &mut AnyConnection,
    user_id: UserId,
    profile: &Profile,
) -> Result<(), StoreError> {
    diesel::insert_into(profiles::table)
        .values((
            profiles::user_id.eq(user_id),
            ProfileRow {
                bio: profile.bio.clone(),
                phone: profile.phone.clone(),
                books_borrowed: profile.books_borrowed,
                books_returned: profile.books_returned,
                subscribed_to_notifications: profile.subscribed_to_notifications,
            },
        ))
        .execute(conn)
        .store()?;
    Ok(())
}

pub(crate) fn account_by_id(
    conn: &mut AnyConnection,
    user_id: UserId,
) -> Result<Option<Account>, StoreError> {
    users::table
        .inner_join(profiles::table)
        .filter(users::id.eq(user_id))
        .select((UserRow::as_select(), ProfileRow::as_select()))
        .first(conn)
        .optional()
        .store()
        .map(|row| row.map(account))
}

pub(crate) fn username_exists(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<bool, StoreError> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::username.eq(username)),
    ))
    .get_result(conn)
    .store()
}

pub(crate) fn credentials(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<Option<(User, String)>, StoreError> {
    users::table
        .filter(users::username.eq(username))
        .select((UserRow::as_select(), users::password_hash))
        .first::<(UserRow, String)>(conn)
        .optional()
        .store()
        .map(|row| row.map(|(user, hash)| (user.into(), hash)))
}

pub(crate) fn update_profile(
    conn: &mut AnyConnection,
    user_id: UserId,
    changes: &ProfileChanges,
) -> Result<(), StoreError> {
    let changeset = ProfileChangeset {
        bio: changes.bio.as_deref(),
        phone: changes.phone.as_deref(),
        subscribed_to_notifications: changes.subscribed_to_notifications,
    };
    // diesel refuses an empty changeset; nothing to change is not an error.
    if changeset.bio.is_none()
        && changeset.phone.is_none()
        && changeset.subscribed_to_notifications.is_none()
    {
        return Ok(());
    }
    diesel::update(profiles::table.find(user_id))
        .set(changeset)
        .execute(conn)
        .store()?;
    Ok(())
}

pub(crate) fn recount_member_loans(
    conn: &mut AnyConnection,
    user_id: UserId,
) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        // As for author statistics: lock first, so the counts see every
        // committed loan.
        profiles::table
            .find(user_id)
            .select(profiles::user_id)
            .for_no_key_update()
            .load::<i64>(pg)
            .store()?;
    }
    let of_member = loans::table.filter(loans::user_id.eq(user_id));
    let borrowed: i64 = of_member.count().get_result(conn).store()?;
    let returned: i64 = of_member
        .filter(loans::returned_at.is_not_null())
        .count()
        .get_result(conn)
        .store()?;
    diesel::update(profiles::table.find(user_id))
        .set((
            profiles::books_borrowed.eq(borrowed),
            profiles::books_returned.eq(returned),
        ))
        .execute(conn)
        .store()?;
    Ok(())
}

pub(crate) fn list_accounts(
    conn: &mut AnyConnection,
    page: Page,
) -> Result<Paged<Account>, StoreError> {
    let count = users::table.count().get_result(conn).store()?;
    let results = users::table
        .inner_join(profiles::table)
        .select((UserRow::as_select(), ProfileRow::as_select()))
        .order(users::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: results.into_iter().map(account).collect(),
    })
}

pub(crate) fn insert_token(
    conn: &mut AnyConnection,
    user_id: UserId,
    digest: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(user_id),
            api_tokens::digest.eq(digest),
            api_tokens::created_at.eq(naive(at)),
        ))
        .execute(conn)
        .store()?;
    Ok(())
}

pub(crate) fn account_by_token(
    conn: &mut AnyConnection,
    digest: &str,
) -> Result<Option<Account>, StoreError> {
    api_tokens::table
        .inner_join(users::table.inner_join(profiles::table))
        .filter(api_tokens::digest.eq(digest))
        .select((UserRow::as_select(), ProfileRow::as_select()))
        .first(conn)
        .optional()
        .store()
        .map(|row| row.map(account))
}

pub(crate) fn delete_token(conn: &mut AnyConnection, digest: &str) -> Result<bool, StoreError> {
    diesel::delete(api_tokens::table.filter(api_tokens::digest.eq(digest)))
        .execute(conn)
        .store()
        .map(|deleted| deleted > 0)
}

pub(crate) fn admin_emails(conn: &mut AnyConnection) -> Result<Vec<String>, StoreError> {
    users::table
        .filter(users::is_admin.eq(true))
        .filter(users::email.ne(""))
        .order(users::id)
        .select(users::email)
        .load(conn)
        .store()
}

pub(crate) fn notification_address(
    conn: &mut AnyConnection,
    user_id: UserId,
) -> Result<Option<String>, StoreError> {
    users::table
        .inner_join(profiles::table)
        .filter(users::id.eq(user_id))
        .filter(users::email.ne(""))
        .filter(profiles::subscribed_to_notifications.eq(true))
        .select(users::email)
        .first(conn)
        .optional()
        .store()
}
