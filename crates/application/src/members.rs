//! The admin's member directory and the member lifecycle: create a member
//! with every attribute, read, list, change, delete. A change records
//! `user.updated`, a delete `user.deleted`, both about the member (so the
//! member's own webhooks get the change); the last admin can be neither
//! demoted nor deleted, nor can a member with a book on loan be deleted.

use libris_domain::accounts::{Account, Profile, User, UserId, UserRef};
use libris_domain::events::{note_change, Changes, DomainEvent};
use libris_domain::members::{Phone, Tag, Tags, TimeZoneName};
use libris_domain::values::{Email, Password, Username};
use serde_json::{json, Value};

use crate::access::Admin;
use crate::accounts::ProfileUpdate;
use crate::events::{record, EventContext};
use crate::pagination::{Page, Paged};
use crate::ports::{
    Clock, MemberFilter, NewUser, PasswordHasher, ProfileChanges, Store, StoreError, StoreExt, Tx,
    UserChanges,
};

/// A member as an admin creates them: every attribute.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub username: Username,
    /// `None`: the member has no email.
    pub email: Option<Email>,
    /// `None`: the member cannot sign in.
    pub password: Option<Password>,
    pub is_admin: bool,
    pub bio: String,
    pub phone: Phone,
    pub subscribed_to_notifications: bool,
    pub tags: Tags,
    pub timezone: TimeZoneName,
}

/// Parsed changes to a member (admin); `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MemberUpdate {
    pub username: Option<Username>,
    /// `Some(None)` clears the email.
    pub email: Option<Option<Email>>,
    /// `Some(None)` removes the password: the member can no longer sign in.
    pub password: Option<Option<Password>>,
    pub is_admin: Option<bool>,
    pub profile: ProfileUpdate,
}

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("no member with this id")]
    NotFound,
    #[error("the username is already taken")]
    UsernameTaken,
    #[error("another member has this email")]
    EmailTaken,
    /// Deleting or demoting the only admin would leave nobody to run the
    /// library.
    #[error("this is the last admin")]
    LastAdmin,
    #[error("the member has a book on loan")]
    OpenLoans,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A unique violation on insert or update of a user, after the checks made
/// before it: a concurrent writer took the username or the email meanwhile.
fn taken(error: StoreError) -> MemberError {
    match error {
        StoreError::UniqueViolation(constraint) if constraint.contains("email") => {
            MemberError::EmailTaken
        }
        StoreError::UniqueViolation(_) => MemberError::UsernameTaken,
        other => MemberError::Store(other),
    }
}

fn context(admin: &Admin, clock: &dyn Clock) -> EventContext {
    EventContext {
        user: Some(admin.caller().user_ref()),
        at: clock.now(),
    }
}

/// The profile a new member starts with.
pub(crate) fn new_profile(
    bio: String,
    phone: Phone,
    subscribed_to_notifications: bool,
    tags: Tags,
    timezone: TimeZoneName,
) -> Profile {
    Profile {
        bio,
        operator_code: phone.operator_code(),
        phone: phone.into_inner(),
        tags: tags.to_strings(),
        timezone: timezone.into_inner(),
        subscribed_to_notifications,
        ..Profile::default()
    }
}

/// Inserts a user and their profile and records `user.created`, in the
/// caller's transaction. `acting`: who creates them (`None`: the new user,
/// who registers).
pub(crate) fn insert_member(
    tx: &mut dyn Tx,
    acting: Option<UserRef>,
    user: &NewUser,
    profile: Profile,
) -> Result<Account, MemberError> {
    if tx.accounts().username_exists(&user.username)? {
        return Err(MemberError::UsernameTaken);
    }
    if tx.accounts().email_taken(&user.email, None)? {
        return Err(MemberError::EmailTaken);
    }
    let at = user.at;
    let user = tx.accounts().insert_user(user).map_err(taken)?;
    tx.accounts().insert_profile(user.id, &profile)?;
    let context = EventContext {
        user: Some(acting.unwrap_or_else(|| (&user).into())),
        at,
    };
    record(tx, &context, &DomainEvent::user_created(&user))?;
    Ok(Account { user, profile })
}

/// Creates a member with every attribute (admin), recording `user.created`.
/// The password, when there is one, is hashed before the transaction starts.
pub fn create_member(
    store: &dyn Store,
    clock: &dyn Clock,
    hasher: &dyn PasswordHasher,
    admin: &Admin,
    new: NewMember,
) -> Result<Account, MemberError> {
    let password_hash = new.password.as_ref().map(|p| hasher.hash(p)).transpose()?;
    let context = context(admin, clock);
    let user = NewUser {
        username: new.username.into_inner(),
        email: new.email.map(Email::into_inner).unwrap_or_default(),
        password_hash,
        is_admin: new.is_admin,
        at: context.at,
    };
    let profile = new_profile(
        new.bio,
        new.phone,
        new.subscribed_to_notifications,
        new.tags,
        new.timezone,
    );
    store.write_tx(|tx| insert_member(tx, context.user.clone(), &user, profile))
}

pub fn get_member(store: &dyn Store, _admin: &Admin, id: UserId) -> Result<Account, MemberError> {
    store
        .read_tx(|tx| tx.accounts().account(id))?
        .ok_or(MemberError::NotFound)
}

/// The filter of a directory list as given: a tag matches whatever its case;
/// an empty value filters nothing.
pub fn member_filter(
    tag: Option<String>,
    operator_code: Option<String>,
    q: Option<String>,
) -> MemberFilter {
    let given =
        |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    MemberFilter {
        tag: given(tag).map(|t| t.to_lowercase()),
        operator_code: given(operator_code),
        q: given(q),
    }
}

/// Whether some member could match: a tag that is no tag, an operator code
/// that is not three digits, or a text no username or email can hold
/// (control characters, which PostgreSQL also refuses in a parameter)
/// matches nobody.
fn can_match(filter: &MemberFilter) -> bool {
    let tag_ok = filter.tag.as_deref().is_none_or(|t| Tag::parse(t).is_ok());
    let code_ok = filter
        .operator_code
        .as_deref()
        .is_none_or(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()));
    let q_ok = filter
        .q
        .as_deref()
        .is_none_or(|q| !q.chars().any(char::is_control));
    tag_ok && code_ok && q_ok
}

/// Members with every attribute, newest first.
pub fn list_members(
    store: &dyn Store,
    _admin: &Admin,
    filter: &MemberFilter,
    page: Page,
) -> Result<Paged<Account>, StoreError> {
    if !can_match(filter) {
        return Ok(Paged {
            count: 0,
            results: Vec::new(),
        });
    }
    store.read_tx(|tx| tx.accounts().list_accounts(filter, page))
}

/// How a password shows in `changes`: never its value or hash, only
/// whether there is one.
fn password_mark(present: bool) -> Value {
    if present {
        json!("***")
    } else {
        Value::Null
    }
}

/// A field the request gave, noted when it differs; one left out is no
/// change.
fn given<T: serde::Serialize + PartialEq>(
    changes: &mut Changes,
    field: &'static str,
    old: &T,
    new: Option<&T>,
) {
    if let Some(new) = new {
        note_change(changes, field, old, new);
    }
}

/// What a change does to a member, as `{field: [old, new]}`: each field
/// given whose value differs (a password given always counts).
fn changes(current: &Account, user: &UserChanges, profile: &ProfileChanges) -> Changes {
    let mut changes = Changes::new();
    let (was, had) = (&current.user, &current.profile);
    let c = &mut changes;
    given(c, "username", &was.username, user.username.as_ref());
    given(c, "email", &was.email, user.email.as_ref());
    given(c, "is_admin", &was.is_admin, user.is_admin.as_ref());
    given(c, "bio", &had.bio, profile.bio.as_ref());
    given(c, "phone", &had.phone, profile.phone.as_ref());
    given(
        c,
        "subscribed_to_notifications",
        &had.subscribed_to_notifications,
        profile.subscribed_to_notifications.as_ref(),
    );
    given(c, "tags", &had.tags, profile.tags.as_ref());
    given(c, "timezone", &had.timezone, profile.timezone.as_ref());
    if let Some(password) = &user.password_hash {
        changes.insert(
            "password",
            (
                password_mark(was.has_password),
                password_mark(password.is_some()),
            ),
        );
    }
    changes
}

pub(crate) fn profile_changes(update: ProfileUpdate) -> ProfileChanges {
    ProfileChanges {
        bio: update.bio,
        phone: update.phone.map(Phone::into_inner),
        subscribed_to_notifications: update.subscribed_to_notifications,
        timezone: update.timezone.map(TimeZoneName::into_inner),
        tags: update.tags.map(|tags| tags.to_strings()),
    }
}

/// Applies checked changes to `current` and records `user.updated`, in the
/// caller's transaction. Every change is recorded, even one that changes
/// nothing (its `changes` is then empty), as book updates are. A new or
/// removed password revokes every token of the member.
pub(crate) fn apply_changes(
    tx: &mut dyn Tx,
    context: &EventContext,
    current: &Account,
    user: &UserChanges,
    profile: &ProfileChanges,
) -> Result<Account, MemberError> {
    let id = current.user.id;
    let changes = changes(current, user, profile);
    tx.accounts().update_user(id, user).map_err(taken)?;
    tx.accounts().update_profile(id, profile)?;
    if user.password_hash.is_some() {
        tx.accounts().delete_tokens(id)?;
    }
    let account = tx.accounts().account(id)?.ok_or(MemberError::NotFound)?;
    record(
        tx,
        context,
        &DomainEvent::user_updated(&account.user, changes),
    )?;
    Ok(account)
}

/// Whether some admin other than `id` remains among `admins`.
fn another_admin(admins: &[UserId], id: UserId) -> bool {
    admins.iter().any(|admin| *admin != id)
}

/// Changes a member (admin): any attribute, `is_admin` included. A new
/// password is hashed before the transaction starts.
pub fn update_member(
    store: &dyn Store,
    clock: &dyn Clock,
    hasher: &dyn PasswordHasher,
    admin: &Admin,
    id: UserId,
    update: MemberUpdate,
) -> Result<Account, MemberError> {
    let password_hash = match &update.password {
        Some(Some(password)) => Some(Some(hasher.hash(password)?)),
        Some(None) => Some(None),
        None => None,
    };
    let context = context(admin, clock);
    let user = UserChanges {
        username: update.username.map(Username::into_inner),
        email: update
            .email
            .map(|email| email.map(Email::into_inner).unwrap_or_default()),
        password_hash,
        is_admin: update.is_admin,
    };
    let profile = profile_changes(update.profile);
    store.write_tx(|tx| {
        // Admins first, then the member: the order every writer here locks in.
        let admins = tx.accounts().admin_ids()?;
        let current = tx.accounts().account(id)?.ok_or(MemberError::NotFound)?;
        let demoted = current.user.is_admin && user.is_admin == Some(false);
        if demoted && !another_admin(&admins, id) {
            return Err(MemberError::LastAdmin);
        }
        check_unique(tx, &current.user, &user)?;
        apply_changes(tx, &context, &current, &user, &profile)
    })
}

/// A new username or email must not be another member's.
fn check_unique(tx: &mut dyn Tx, current: &User, user: &UserChanges) -> Result<(), MemberError> {
    if let Some(username) = user.username.as_deref() {
        if username != current.username && tx.accounts().username_exists(username)? {
            return Err(MemberError::UsernameTaken);
        }
    }
    if let Some(email) = user.email.as_deref() {
        if tx.accounts().email_taken(email, Some(current.id))? {
            return Err(MemberError::EmailTaken);
        }
    }
    Ok(())
}

/// Deletes a member (admin) with their pending campaign messages, and records
/// `user.deleted`. What else goes with them and what stays is the store's
/// `delete_user`.
pub fn delete_member(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    id: UserId,
) -> Result<(), MemberError> {
    let context = context(admin, clock);
    store.write_tx(|tx| {
        let admins = tx.accounts().admin_ids()?;
        // Held from here: a borrow by this member waits for the delete, and
        // then finds no member to lend to.
        let current = tx.accounts().account(id)?.ok_or(MemberError::NotFound)?;
        if current.user.is_admin && !another_admin(&admins, id) {
            return Err(MemberError::LastAdmin);
        }
        if tx.accounts().has_open_loans(id)? {
            return Err(MemberError::OpenLoans);
        }
        // Messages already sent (or failed, expired, cancelled) stay: they
        // are what was done.
        tx.campaigns().delete_pending_messages_of(id)?;
        tx.accounts().delete_user(id)?;
        let event = DomainEvent::UserDeleted {
            id,
            username: current.user.username.clone(),
        };
        record(tx, &context, &event)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::{MockPasswordHasher, MockTx};
    use crate::testing::{account, admin, fixed_clock, recorded, user, MockStore};

    fn the_admin() -> Admin {
        Admin::check(admin()).unwrap()
    }

    fn hasher() -> MockPasswordHasher {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .returning(|p| Ok(format!("hash({})", p.expose())));
        hasher
    }

    fn new_member(password: Option<&str>) -> NewMember {
        NewMember {
            username: Username::parse("ann").unwrap(),
            email: Some(Email::parse("Ann@Example.com").unwrap()),
            password: password.map(|p| Password::parse(p).unwrap()),
            is_admin: true,
            bio: "reads".into(),
            phone: Phone::parse("+7 (916) 123-45-67").unwrap(),
            subscribed_to_notifications: false,
            tags: Tags::parse(&["VIP", "night"]).unwrap(),
            timezone: TimeZoneName::parse("Europe/Moscow").unwrap(),
        }
    }

    /// A transaction that lets every member be written and read back, and
    /// records the events appended.
    fn writable(tx: &mut MockTx) {
        tx.accounts.expect_update_user().returning(|_, _| Ok(()));
        tx.accounts.expect_update_profile().returning(|_, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .returning(|e| Ok(recorded(&e.name)));
    }

    #[test]
    fn an_admin_creates_a_member_with_every_attribute_and_user_created() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_username_exists()
            .returning(|_| Ok(false));
        tx.accounts
            .expect_email_taken()
            .with(eq("Ann@Example.com"), eq(None))
            .returning(|_, _| Ok(false));
        tx.accounts
            .expect_insert_user()
            .withf(|u| {
                u.is_admin
                    && u.email == "Ann@Example.com"
                    && u.password_hash.as_deref() == Some("hash(correct horse)")
            })
            .returning(|_| Ok(user(5, "ann", true)));
        tx.accounts
            .expect_insert_profile()
            .withf(|id, p| {
                *id == 5
                    && p.phone == "79161234567"
                    && p.operator_code.as_deref() == Some("916")
                    && p.tags == ["night", "vip"]
                    && p.timezone == "Europe/Moscow"
                    && !p.subscribed_to_notifications
            })
            .times(1)
            .returning(|_, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .withf(|e| {
                e.name == "user.created"
                    && e.data["is_admin"] == true
                    && e.user.as_ref().is_some_and(|u| u.username == "admin")
            })
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let account = create_member(
            &store,
            &fixed_clock(),
            &hasher(),
            &the_admin(),
            new_member(Some("correct horse")),
        )
        .unwrap();
        assert_eq!(account.profile.operator_code.as_deref(), Some("916"));
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn a_member_without_a_password_is_stored_without_a_hash() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_username_exists()
            .returning(|_| Ok(false));
        tx.accounts.expect_email_taken().returning(|_, _| Ok(false));
        tx.accounts
            .expect_insert_user()
            .withf(|u| u.password_hash.is_none())
            .times(1)
            .returning(|_| Ok(user(5, "ann", false)));
        tx.accounts.expect_insert_profile().returning(|_, _| Ok(()));
        tx.outbox
            .expect_append_event()
            .returning(|e| Ok(recorded(&e.name)));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().never();
        let store = MockStore::new(tx);
        create_member(
            &store,
            &fixed_clock(),
            &hasher,
            &the_admin(),
            new_member(None),
        )
        .unwrap();
    }

    #[test]
    fn a_taken_email_refuses_the_create_whatever_its_case() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_username_exists()
            .returning(|_| Ok(false));
        tx.accounts.expect_email_taken().returning(|_, _| Ok(true));
        tx.accounts.expect_insert_user().never();
        let store = MockStore::new(tx);
        let err = create_member(
            &store,
            &fixed_clock(),
            &hasher(),
            &the_admin(),
            new_member(None),
        )
        .unwrap_err();
        assert!(matches!(err, MemberError::EmailTaken), "{err:?}");
        assert_eq!(store.rollbacks(), 1);
    }

    #[test]
    fn a_lost_race_names_what_was_taken() {
        for (constraint, email) in [("users_email_lower", true), ("users_username_key", false)] {
            let mut tx = MockTx::new();
            tx.accounts
                .expect_username_exists()
                .returning(|_| Ok(false));
            tx.accounts.expect_email_taken().returning(|_, _| Ok(false));
            tx.accounts
                .expect_insert_user()
                .returning(move |_| Err(StoreError::UniqueViolation(constraint.into())));
            let store = MockStore::new(tx);
            let err = create_member(
                &store,
                &fixed_clock(),
                &hasher(),
                &the_admin(),
                new_member(None),
            )
            .unwrap_err();
            if email {
                assert!(matches!(err, MemberError::EmailTaken), "{err:?}");
            } else {
                assert!(matches!(err, MemberError::UsernameTaken), "{err:?}");
            }
        }
    }

    #[test]
    fn an_update_records_what_changed_about_the_member() {
        let mut tx = MockTx::new();
        tx.accounts.expect_admin_ids().returning(|| Ok(vec![1]));
        tx.accounts.expect_account().returning(|_| {
            let mut ann = account(5, "ann", false);
            ann.profile.tags = vec!["vip".into()];
            Ok(Some(ann))
        });
        tx.accounts.expect_email_taken().returning(|_, _| Ok(false));
        tx.accounts
            .expect_update_profile()
            .withf(|id, c| {
                *id == 5
                    && c.phone.as_deref() == Some("79031112233")
                    && c.tags.as_deref() == Some(&["night".to_owned(), "vip".to_owned()][..])
                    && c.timezone.as_deref() == Some("Asia/Tokyo")
            })
            .times(1)
            .returning(|_, _| Ok(()));
        tx.accounts
            .expect_update_user()
            .withf(|id, c| *id == 5 && c.email.as_deref() == Some("") && c.password_hash.is_none())
            .times(1)
            .returning(|_, _| Ok(()));
        tx.accounts.expect_delete_tokens().never();
        tx.outbox
            .expect_append_event()
            .withf(|e| {
                e.name == "user.updated"
                    && e.about == Some(5)
                    && e.data["changes"]
                        == json!({
                            "email": ["ann@example.com", ""],
                            "phone": ["", "79031112233"],
                            "tags": [["vip"], ["night", "vip"]],
                            "timezone": ["UTC", "Asia/Tokyo"],
                        })
            })
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let update = MemberUpdate {
            email: Some(None),
            // The same value as before: not a change.
            is_admin: Some(false),
            profile: ProfileUpdate {
                phone: Some(Phone::parse("7 903 111 22 33").unwrap()),
                tags: Some(Tags::parse(&["Night", "vip"]).unwrap()),
                timezone: Some(TimeZoneName::parse("Asia/Tokyo").unwrap()),
                ..ProfileUpdate::default()
            },
            ..MemberUpdate::default()
        };
        update_member(&store, &fixed_clock(), &hasher(), &the_admin(), 5, update).unwrap();
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn a_new_or_removed_password_is_masked_and_revokes_the_tokens() {
        for (password, marks) in [
            (Some("new password"), json!(["***", "***"])),
            (None, json!(["***", null])),
        ] {
            let mut tx = MockTx::new();
            writable(&mut tx);
            tx.accounts.expect_admin_ids().returning(|| Ok(vec![1]));
            tx.accounts
                .expect_account()
                .returning(|_| Ok(Some(account(5, "ann", false))));
            tx.accounts
                .expect_delete_tokens()
                .with(eq(5))
                .times(1)
                .returning(|_| Ok(2));
            tx.outbox.checkpoint();
            let expected = marks.clone();
            tx.outbox
                .expect_append_event()
                .withf(move |e| {
                    e.data["changes"]["password"] == expected
                        && !e.data.to_string().contains("hash(")
                })
                .times(1)
                .returning(|e| Ok(recorded(&e.name)));
            let store = MockStore::new(tx);
            let update = MemberUpdate {
                password: Some(password.map(|p| Password::parse(p).unwrap())),
                ..MemberUpdate::default()
            };
            update_member(&store, &fixed_clock(), &hasher(), &the_admin(), 5, update).unwrap();
        }
    }

    #[test]
    fn the_last_admin_can_be_neither_demoted_nor_deleted() {
        let mut tx = MockTx::new();
        tx.accounts.expect_admin_ids().returning(|| Ok(vec![1]));
        tx.accounts
            .expect_account()
            .returning(|_| Ok(Some(account(1, "admin", true))));
        tx.accounts.expect_update_user().never();
        tx.accounts.expect_delete_user().never();
        tx.outbox.expect_append_event().never();
        let store = MockStore::new(tx);
        let demote = MemberUpdate {
            is_admin: Some(false),
            ..MemberUpdate::default()
        };
        let err =
            update_member(&store, &fixed_clock(), &hasher(), &the_admin(), 1, demote).unwrap_err();
        assert!(matches!(err, MemberError::LastAdmin), "{err:?}");
        let err = delete_member(&store, &fixed_clock(), &the_admin(), 1).unwrap_err();
        assert!(matches!(err, MemberError::LastAdmin), "{err:?}");
        assert_eq!(store.rollbacks(), 2);
    }

    #[test]
    fn an_admin_may_go_while_another_remains() {
        let mut tx = MockTx::new();
        writable(&mut tx);
        tx.accounts.expect_admin_ids().returning(|| Ok(vec![1, 3]));
        tx.accounts
            .expect_account()
            .returning(|id| Ok(Some(account(id, "root", true))));
        tx.accounts.expect_has_open_loans().returning(|_| Ok(false));
        tx.campaigns
            .expect_delete_pending_messages_of()
            .returning(|_| Ok(0));
        tx.accounts
            .expect_delete_user()
            .with(eq(3))
            .times(1)
            .returning(|_| Ok(()));
        let store = MockStore::new(tx);
        let demote = MemberUpdate {
            is_admin: Some(false),
            ..MemberUpdate::default()
        };
        update_member(&store, &fixed_clock(), &hasher(), &the_admin(), 3, demote).unwrap();
        delete_member(&store, &fixed_clock(), &the_admin(), 3).unwrap();
        assert_eq!(store.commits(), 2);
    }

    #[test]
    fn a_member_with_a_book_on_loan_is_not_deleted() {
        let mut tx = MockTx::new();
        tx.accounts.expect_admin_ids().returning(|| Ok(vec![1]));
        tx.accounts
            .expect_account()
            .returning(|_| Ok(Some(account(5, "ann", false))));
        tx.accounts.expect_has_open_loans().returning(|_| Ok(true));
        tx.campaigns.expect_delete_pending_messages_of().never();
        tx.accounts.expect_delete_user().never();
        let store = MockStore::new(tx);
        let err = delete_member(&store, &fixed_clock(), &the_admin(), 5).unwrap_err();
        assert!(matches!(err, MemberError::OpenLoans), "{err:?}");
    }

    #[test]
    fn a_delete_records_user_deleted_about_the_member() {
        let mut tx = MockTx::new();
        tx.accounts.expect_admin_ids().returning(|| Ok(vec![1]));
        tx.accounts
            .expect_account()
            .returning(|_| Ok(Some(account(5, "ann", false))));
        tx.accounts.expect_has_open_loans().returning(|_| Ok(false));
        let mut seq = mockall::Sequence::new();
        tx.campaigns
            .expect_delete_pending_messages_of()
            .with(eq(5))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(3));
        tx.accounts
            .expect_delete_user()
            .with(eq(5))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        tx.outbox
            .expect_append_event()
            .withf(|e| {
                e.name == "user.deleted"
                    && e.about == Some(5)
                    && e.data == json!({"id": 5, "username": "ann"})
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        delete_member(&store, &fixed_clock(), &the_admin(), 5).unwrap();
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn unknown_members_are_not_found() {
        let mut tx = MockTx::new();
        tx.accounts.expect_admin_ids().returning(|| Ok(vec![1]));
        tx.accounts.expect_account().returning(|_| Ok(None));
        let store = MockStore::new(tx);
        let admin = the_admin();
        assert!(matches!(
            get_member(&store, &admin, 9),
            Err(MemberError::NotFound)
        ));
        let update = MemberUpdate::default();
        assert!(matches!(
            update_member(&store, &fixed_clock(), &hasher(), &admin, 9, update),
            Err(MemberError::NotFound)
        ));
        assert!(matches!(
            delete_member(&store, &fixed_clock(), &admin, 9),
            Err(MemberError::NotFound)
        ));
    }

    #[test]
    fn a_rename_to_a_taken_username_or_email_is_refused() {
        let mut tx = MockTx::new();
        tx.accounts.expect_admin_ids().returning(|| Ok(vec![1]));
        tx.accounts
            .expect_account()
            .returning(|_| Ok(Some(account(5, "ann", false))));
        tx.accounts
            .expect_username_exists()
            .with(eq("bob"))
            .returning(|_| Ok(true));
        tx.accounts
            .expect_email_taken()
            .with(eq("BOB@example.com"), eq(Some(5)))
            .returning(|_, _| Ok(true));
        tx.accounts.expect_update_user().never();
        let store = MockStore::new(tx);
        let rename = MemberUpdate {
            username: Some(Username::parse("bob").unwrap()),
            ..MemberUpdate::default()
        };
        let err =
            update_member(&store, &fixed_clock(), &hasher(), &the_admin(), 5, rename).unwrap_err();
        assert!(matches!(err, MemberError::UsernameTaken), "{err:?}");
        let readdress = MemberUpdate {
            email: Some(Some(Email::parse("BOB@example.com").unwrap())),
            ..MemberUpdate::default()
        };
        let err = update_member(
            &store,
            &fixed_clock(),
            &hasher(),
            &the_admin(),
            5,
            readdress,
        )
        .unwrap_err();
        assert!(matches!(err, MemberError::EmailTaken), "{err:?}");
    }

    #[test]
    fn a_filter_no_member_can_match_asks_the_store_nothing() {
        let mut tx = MockTx::new();
        tx.accounts.expect_list_accounts().never();
        let store = MockStore::new(tx);
        for (tag, code, q) in [
            ("not a tag", "", ""),
            ("", "91", ""),
            ("", "9a6", ""),
            ("", "", "nul\u{0}"),
        ] {
            let filter = member_filter(Some(tag.into()), Some(code.into()), Some(q.into()));
            let page = list_members(&store, &the_admin(), &filter, Page::default()).unwrap();
            assert_eq!(page.count, 0, "{filter:?}");
        }
    }

    #[test]
    fn filters_ignore_empty_values_and_the_case_of_tags() {
        let filter = member_filter(Some(" VIP ".into()), Some("".into()), Some("ann".into()));
        assert_eq!(
            filter,
            MemberFilter {
                tag: Some("vip".into()),
                operator_code: None,
                q: Some("ann".into()),
            }
        );
    }
}
