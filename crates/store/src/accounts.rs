//! Users, their profiles, tags and tokens: the member directory.
//!
//! A member without a password has an empty `password_hash` (see the
//! `member_directory` migration). A profile's operator code is derived here
//! from its phone, with the domain's rule, whenever a phone is written, so
//! the two never disagree.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use libris_application::ports::{MemberFilter, NewUser, ProfileChanges, UserChanges};
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::{Account, Profile, User, UserId};
use libris_domain::members::operator_code;

use crate::connection::on_each_backend;
use crate::connection::{columns, AnyConnection, Db};
use crate::error::IntoStore;
use crate::schema::{api_tokens, loans, member_tags, profiles, users};
use crate::time::{naive, utc};
use crate::CHUNK;

diesel::define_sql_function! {
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// What `password_hash` holds for a member without a password: no hash
/// verifies against it.
const NO_PASSWORD: &str = "";

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: i64,
    username: String,
    email: String,
    is_admin: bool,
    password_hash: String,
    created_at: NaiveDateTime,
}

impl UserRow {
    /// The user, and their hash when they have a password.
    fn split(self) -> (User, Option<String>) {
        let hash = (self.password_hash != NO_PASSWORD).then_some(self.password_hash);
        let user = User {
            id: self.id,
            username: self.username,
            email: self.email,
            is_admin: self.is_admin,
            has_password: hash.is_some(),
            created_at: utc(self.created_at),
        };
        (user, hash)
    }
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        row.split().0
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = profiles)]
struct ProfileRow {
    bio: String,
    phone: String,
    operator_code: Option<String>,
    timezone: String,
    books_borrowed: i64,
    books_returned: i64,
    subscribed_to_notifications: bool,
}

impl ProfileRow {
    fn with_tags(self, tags: Vec<String>) -> Profile {
        Profile {
            bio: self.bio,
            phone: self.phone,
            operator_code: self.operator_code,
            tags,
            timezone: self.timezone,
            books_borrowed: self.books_borrowed,
            books_returned: self.books_returned,
            subscribed_to_notifications: self.subscribed_to_notifications,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = profiles)]
struct NewProfileRow<'a> {
    user_id: i64,
    bio: &'a str,
    phone: &'a str,
    operator_code: Option<String>,
    timezone: &'a str,
    books_borrowed: i64,
    books_returned: i64,
    subscribed_to_notifications: bool,
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
#[diesel(table_name = users)]
struct UserChangeset<'a> {
    username: Option<&'a str>,
    email: Option<&'a str>,
    password_hash: Option<&'a str>,
    is_admin: Option<bool>,
}

#[derive(AsChangeset)]
#[diesel(table_name = profiles)]
struct ProfileChangeset<'a> {
    bio: Option<&'a str>,
    phone: Option<&'a str>,
    // `Some(None)` writes NULL.
    operator_code: Option<Option<String>>,
    timezone: Option<&'a str>,
    subscribed_to_notifications: Option<bool>,
}

/// The tags of each of `ids`, in alphabetical order.
fn tags_of(
    conn: &mut AnyConnection,
    ids: &[UserId],
) -> Result<HashMap<UserId, Vec<String>>, StoreError> {
    let mut tags: HashMap<UserId, Vec<String>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = member_tags::table
            .filter(member_tags::user_id.eq_any(chunk))
            .order((member_tags::user_id, member_tags::tag))
            .select((member_tags::user_id, member_tags::tag))
            .load(conn)
            .store()?;
        for (user_id, tag) in rows {
            tags.entry(user_id).or_default().push(tag);
        }
    }
    Ok(tags)
}

/// Accounts from their rows, with their tags.
fn accounts(
    conn: &mut AnyConnection,
    rows: Vec<(UserRow, ProfileRow)>,
) -> Result<Vec<Account>, StoreError> {
    let ids: Vec<UserId> = rows.iter().map(|(user, _)| user.id).collect();
    let mut tags = tags_of(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|(user, profile)| {
            let tags = tags.remove(&user.id).unwrap_or_default();
            Account {
                user: user.into(),
                profile: profile.with_tags(tags),
            }
        })
        .collect())
}

fn one_account(
    conn: &mut AnyConnection,
    row: Option<(UserRow, ProfileRow)>,
) -> Result<Option<Account>, StoreError> {
    let Some((user, profile)) = row else {
        return Ok(None);
    };
    // One member's tags by `=`, not `IN (…)`: a statement of fixed shape,
    // prepared once per connection (this runs on every authenticated
    // request).
    let tags = on_each_backend!(conn, |c| member_tags::table
        .filter(member_tags::user_id.eq(user.id))
        .order(member_tags::tag)
        .select(member_tags::tag)
        .load(c))
    .store()?;
    Ok(Some(Account {
        user: user.into(),
        profile: profile.with_tags(tags),
    }))
}

fn write_tags(
    conn: &mut AnyConnection,
    user_id: UserId,
    tags: &[String],
) -> Result<(), StoreError> {
    diesel::delete(member_tags::table.filter(member_tags::user_id.eq(user_id)))
        .execute(conn)
        .store()?;
    if tags.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = tags
        .iter()
        .map(|tag| (member_tags::user_id.eq(user_id), member_tags::tag.eq(tag)))
        .collect();
    // Multi-row inserts compile per backend (see `on_each_backend`).
    crate::connection::on_each_backend!(conn, |c| diesel::insert_into(member_tags::table)
        .values(&rows)
        .execute(c))
    .store()?;
    Ok(())
}

pub(crate) fn insert_user(conn: &mut AnyConnection, user: &NewUser) -> Result<User, StoreError> {
    diesel::insert_into(users::table)
        .values(NewUserRow {
            username: &user.username,
            email: &user.email,
            password_hash: user.password_hash.as_deref().unwrap_or(NO_PASSWORD),
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
        .values(NewProfileRow {
            user_id,
            bio: &profile.bio,
            phone: &profile.phone,
            operator_code: operator_code(&profile.phone),
            timezone: &profile.timezone,
            books_borrowed: profile.books_borrowed,
            books_returned: profile.books_returned,
            subscribed_to_notifications: profile.subscribed_to_notifications,
        })
        .execute(conn)
        .store()?;
    write_tags(conn, user_id, &profile.tags)
}

/// Locks the user's row until the transaction ends (PostgreSQL; SQLite has
/// one writer at a time). `FOR UPDATE`: a delete may follow, and a loan
/// inserted meanwhile (which takes a key-share lock) must wait for it.
pub(crate) fn hold_user(conn: &mut AnyConnection, user_id: UserId) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        users::table
            .find(user_id)
            .select(users::id)
            .for_update()
            .load::<i64>(pg)
            .store()?;
    }
    Ok(())
}

pub(crate) fn account_by_id(
    conn: &mut AnyConnection,
    user_id: UserId,
) -> Result<Option<Account>, StoreError> {
    let row = users::table
        .inner_join(profiles::table)
        .filter(users::id.eq(user_id))
        .select((UserRow::as_select(), ProfileRow::as_select()))
        .first(conn)
        .optional()
        .store()?;
    one_account(conn, row)
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

pub(crate) fn email_taken(
    conn: &mut AnyConnection,
    email: &str,
    except: Option<UserId>,
) -> Result<bool, StoreError> {
    if email.is_empty() {
        return Ok(false);
    }
    // The same `lower` as the unique index, so the check and the index agree.
    let mut query = users::table
        .filter(users::email.ne(""))
        .filter(lower(users::email).eq(lower(email)))
        .into_boxed::<Db>();
    if let Some(except) = except {
        query = query.filter(users::id.ne(except));
    }
    let found: Vec<i64> = query.select(users::id).limit(1).load(conn).store()?;
    Ok(!found.is_empty())
}

pub(crate) fn credentials(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<Option<(User, Option<String>)>, StoreError> {
    users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first::<UserRow>(conn)
        .optional()
        .store()
        .map(|row| row.map(UserRow::split))
}

pub(crate) fn update_user(
    conn: &mut AnyConnection,
    user_id: UserId,
    changes: &UserChanges,
) -> Result<(), StoreError> {
    // diesel refuses an empty changeset; nothing to change is not an error.
    if changes.is_empty() {
        return Ok(());
    }
    let changeset = UserChangeset {
        username: changes.username.as_deref(),
        email: changes.email.as_deref(),
        password_hash: changes
            .password_hash
            .as_ref()
            .map(|hash| hash.as_deref().unwrap_or(NO_PASSWORD)),
        is_admin: changes.is_admin,
    };
    diesel::update(users::table.find(user_id))
        .set(changeset)
        .execute(conn)
        .store()?;
    Ok(())
}

/// In a write transaction (`hold`) the admins' rows are locked, in id
/// order, until it ends.
pub(crate) fn admin_ids(conn: &mut AnyConnection, hold: bool) -> Result<Vec<UserId>, StoreError> {
    let admins = users::table
        .filter(users::is_admin.eq(true))
        .order(users::id)
        .select(users::id);
    match conn {
        AnyConnection::Postgresql(pg) if hold => admins.for_update().load(pg).store(),
        _ => admins.load(conn).store(),
    }
}

pub(crate) fn has_open_loans(
    conn: &mut AnyConnection,
    user_id: UserId,
) -> Result<bool, StoreError> {
    diesel::select(diesel::dsl::exists(
        loans::table
            .filter(loans::user_id.eq(user_id))
            .filter(loans::returned_at.is_null()),
    ))
    .get_result(conn)
    .store()
}

/// The profile, tags, tokens and webhooks (with their deliveries) go with
/// the user by the schema's cascades; loans, audit entries, events and
/// attempt logs have no foreign key to users and stay.
pub(crate) fn delete_user(conn: &mut AnyConnection, user_id: UserId) -> Result<(), StoreError> {
    diesel::delete(users::table.find(user_id))
        .execute(conn)
        .store()?;
    Ok(())
}

pub(crate) fn delete_tokens(
    conn: &mut AnyConnection,
    user_id: UserId,
) -> Result<usize, StoreError> {
    diesel::delete(api_tokens::table.filter(api_tokens::user_id.eq(user_id)))
        .execute(conn)
        .store()
}

pub(crate) fn update_profile(
    conn: &mut AnyConnection,
    user_id: UserId,
    changes: &ProfileChanges,
) -> Result<(), StoreError> {
    let changeset = ProfileChangeset {
        bio: changes.bio.as_deref(),
        phone: changes.phone.as_deref(),
        operator_code: changes.phone.as_deref().map(operator_code),
        timezone: changes.timezone.as_deref(),
        subscribed_to_notifications: changes.subscribed_to_notifications,
    };
    // diesel refuses an empty changeset; nothing to change is not an error.
    let profile_changes = changeset.bio.is_some()
        || changeset.phone.is_some()
        || changeset.timezone.is_some()
        || changeset.subscribed_to_notifications.is_some();
    if profile_changes {
        diesel::update(profiles::table.find(user_id))
            .set(changeset)
            .execute(conn)
            .store()?;
    }
    if let Some(tags) = &changes.tags {
        write_tags(conn, user_id, tags)?;
    }
    Ok(())
}

/// As for author statistics: one UPDATE relative to the committed row.
pub(crate) fn add_to_member_loans(
    conn: &mut AnyConnection,
    user_id: UserId,
    borrowed: i64,
    returned: i64,
) -> Result<(), StoreError> {
    diesel::update(profiles::table.find(user_id))
        .set((
            profiles::books_borrowed.eq(profiles::books_borrowed + borrowed),
            profiles::books_returned.eq(profiles::books_returned + returned),
        ))
        .execute(conn)
        .store()?;
    Ok(())
}

/// `%text%` with LIKE's wildcards in `text` taken literally.
fn containing(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Named in `ESCAPE` explicitly: PostgreSQL escapes with a backslash by
/// default, SQLite has no escape character unless told one.
const LIKE_ESCAPE: char = '\\';

type Members<'a> =
    diesel::dsl::IntoBoxed<'a, diesel::dsl::InnerJoin<users::table, profiles::table>, Db>;

fn filtered(filter: &MemberFilter) -> Members<'_> {
    let mut query = users::table.inner_join(profiles::table).into_boxed();
    if let Some(tag) = &filter.tag {
        query = query.filter(
            users::id.eq_any(
                member_tags::table
                    .filter(member_tags::tag.eq(tag))
                    .select(member_tags::user_id),
            ),
        );
    }
    if let Some(code) = &filter.operator_code {
        query = query.filter(profiles::operator_code.eq(code));
    }
    if let Some(q) = &filter.q {
        // Case-insensitive through `lower` on both sides, as the book search
        // does, so both backends agree.
        let pattern = containing(&q.to_lowercase());
        query = query.filter(
            lower(users::username)
                .like(pattern.clone())
                .escape(LIKE_ESCAPE)
                .or(lower(users::email).like(pattern).escape(LIKE_ESCAPE)),
        );
    }
    query
}

pub(crate) fn list_accounts(
    conn: &mut AnyConnection,
    filter: &MemberFilter,
    page: Page,
) -> Result<Paged<Account>, StoreError> {
    let count = filtered(filter).count().get_result(conn).store()?;
    let rows = filtered(filter)
        .select((UserRow::as_select(), ProfileRow::as_select()))
        .order(users::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: accounts(conn, rows)?,
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
    // Runs on every authenticated request, so it is kept to a statement
    // SQLite compiles once per connection: on the backend's own connection
    // (through `AnyConnection` it is compiled on every call), and without
    // `LIMIT ?` (`first`), which SQLite recompiles whenever the limit is
    // bound again. The digest is unique: at most one row.
    let row = on_each_backend!(conn, |c| api_tokens::table
        .inner_join(users::table.inner_join(profiles::table))
        .filter(api_tokens::digest.eq(digest))
        .select((UserRow::as_select(), ProfileRow::as_select()))
        .get_result(c)
        .optional())
    .store()?;
    one_account(conn, row)
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

/// The `member_directory` migration over data written before it, on both
/// backends: what it keeps, normalizes, clears and rebuilds.
#[cfg(test)]
mod migration_tests {
    use diesel::backend::Backend;
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::{BigInt, Text};
    use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
    use libris_application::ports::LoanFilter;
    use libris_testing::database::TestDatabase;

    use super::*;
    use crate::DatabaseUrl;

    const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
    const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

    /// Members and loans as the previous version stored them: two emails
    /// equal but for case, phones of the earlier rule, a returned and an
    /// open loan.
    const LEGACY: &str = "
        INSERT INTO users (id, username, email, password_hash, is_admin, created_at) VALUES
            (1, 'ann', 'Ann@Example.com', 'h', true, '2026-01-01 00:00:00'),
            (2, 'ann2', 'ann@example.COM', 'h', false, '2026-01-01 00:00:00'),
            (3, 'bob', 'bob@example.com', 'h', false, '2026-01-01 00:00:00'),
            (4, 'nomail', '', 'h', false, '2026-01-01 00:00:00'),
            (5, 'nomail2', '', 'h', false, '2026-01-01 00:00:00');
        INSERT INTO profiles (user_id, phone) VALUES
            (1, '+79161234567'), (2, '79031112233'), (3, '+15550109999'),
            (4, '+7 (912) 345-67-89'),
            (5, '89161234567');
        INSERT INTO loans (id, book_id, book_title, user_id, borrowed_at, due_at, returned_at)
        VALUES
            (7, 1, 'Dune', 3, '2026-01-01 00:00:00', '2026-01-15 00:00:00',
                '2026-01-02 00:00:00'),
            (9, 2, 'Emma', 1, '2026-01-01 00:00:00', '2026-01-15 00:00:00', NULL);
    ";

    /// Applies the migrations before `member_directory`, writes `legacy`,
    /// then applies the rest.
    fn upgrade<C, DB>(conn: &mut C, source: fn() -> EmbeddedMigrations, legacy: &str)
    where
        DB: Backend,
        C: MigrationHarness<DB> + SimpleConnection,
    {
        loop {
            let pending = conn.pending_migrations(source()).unwrap();
            let next = pending.first().expect("member_directory is pending");
            if next.name().to_string().contains("member_directory") {
                break;
            }
            conn.run_migration(&**next).unwrap();
        }
        conn.batch_execute(legacy).unwrap();
        conn.run_pending_migrations(source()).unwrap();
    }

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Duplicate {
        #[diesel(sql_type = BigInt)]
        user_id: i64,
        #[diesel(sql_type = Text)]
        email: String,
    }

    fn check(conn: &mut AnyConnection) {
        let profile = |conn: &mut AnyConnection, id| account_by_id(conn, id).unwrap().unwrap();
        let ann = profile(conn, 1);
        assert_eq!(ann.user.email, "Ann@Example.com", "the oldest keeps it");
        assert_eq!(ann.profile.phone, "79161234567", "the + is dropped");
        assert_eq!(ann.profile.operator_code.as_deref(), Some("916"));
        assert_eq!(ann.profile.timezone, "UTC");
        let ann2 = profile(conn, 2);
        assert_eq!(ann2.user.email, "", "a later duplicate is cleared");
        assert_eq!(ann2.profile.operator_code.as_deref(), Some("903"));
        let formatted = profile(conn, 4).profile;
        assert_eq!(
            (formatted.phone.as_str(), formatted.operator_code.as_deref()),
            ("79123456789", Some("912")),
            "spaces, hyphens and parentheses are dropped as from input"
        );
        for (id, phone) in [(3, "+15550109999"), (5, "89161234567")] {
            let kept = profile(conn, id).profile;
            assert_eq!((kept.phone.as_str(), kept.operator_code), (phone, None));
        }
        let duplicates: Vec<Duplicate> =
            diesel::sql_query("SELECT user_id, email FROM member_email_duplicates")
                .load(conn)
                .unwrap();
        assert_eq!(
            duplicates,
            [Duplicate {
                user_id: 2,
                email: "ann@example.COM".into()
            }]
        );
        assert!(email_taken(conn, "ANN@EXAMPLE.COM", None).unwrap());

        let usernames: Vec<(i64, String)> = loans::table
            .order(loans::id)
            .select((loans::id, loans::username))
            .load(conn)
            .unwrap();
        assert_eq!(usernames, [(7, "bob".to_owned()), (9, "ann".to_owned())]);
        // The open-loan index came back with the rebuilt table.
        let again = diesel::sql_query(
            "INSERT INTO loans (book_id, book_title, user_id, username, borrowed_at, due_at) \
             VALUES (2, 'Emma', 3, 'bob', '2026-01-03 00:00:00', '2026-01-17 00:00:00')",
        )
        .execute(conn);
        assert!(again.is_err(), "a second open loan of book 2");
        // Bob goes; his returned loan stays, his profile goes with him.
        delete_user(conn, 3).unwrap();
        assert!(account_by_id(conn, 3).unwrap().is_none());
        let bobs = LoanFilter {
            user_id: Some(3),
            ..LoanFilter::default()
        };
        let bobs = crate::lending::list_loans(conn, &bobs, Page::default()).unwrap();
        assert_eq!(bobs.results.len(), 1);
    }

    #[test]
    fn the_member_directory_migration_keeps_normalizes_and_rebuilds_on_sqlite() {
        let database = TestDatabase::sqlite();
        let mut conn = DatabaseUrl::parse(database.url())
            .unwrap()
            .connect()
            .unwrap();
        let AnyConnection::Sqlite(sqlite) = &mut conn else {
            unreachable!("an SQLite URL");
        };
        sqlite.batch_execute("PRAGMA foreign_keys = ON").unwrap();
        // Loans 10 to 20 were made and deleted by a cascade before: their ids
        // stay used.
        let legacy = format!("{LEGACY} UPDATE sqlite_sequence SET seq = 20 WHERE name = 'loans';");
        upgrade(sqlite, || SQLITE, &legacy);
        check(&mut conn);
        let next: i64 = diesel::insert_into(loans::table)
            .values((
                loans::book_id.eq(3),
                loans::book_title.eq("Persuasion"),
                loans::user_id.eq(1),
                loans::username.eq("ann"),
                loans::borrowed_at.eq(naive(Utc::now())),
                loans::due_at.eq(naive(Utc::now())),
            ))
            .returning(loans::id)
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(next, 21, "no loan id is given twice");
    }

    #[test]
    fn the_member_directory_migration_keeps_normalizes_and_rebuilds_on_postgres() {
        let Some(database) = TestDatabase::postgres() else {
            return;
        };
        let mut conn = DatabaseUrl::parse(database.url())
            .unwrap()
            .connect()
            .unwrap();
        let AnyConnection::Postgresql(pg) = &mut conn else {
            unreachable!("a PostgreSQL URL");
        };
        upgrade(pg, || POSTGRES, LEGACY);
        check(&mut conn);
        drop(conn);
    }
}
