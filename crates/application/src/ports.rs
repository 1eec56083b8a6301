//! Ports: what the use cases need from the outside world. Each trait's doc
//! states the contract an adapter must keep.

use chrono::{DateTime, Utc};
use libris_domain::accounts::{Account, Profile, User, UserId, UserRef};
use libris_domain::audit::{AuditEntry, NewAuditEntry};
use libris_domain::catalog::{Author, AuthorId, Book, BookId, ImportRecord};
use libris_domain::delivery::Progress;
use libris_domain::events::EventPattern;
use libris_domain::events::RecordedEvent;
use libris_domain::inbound::{InboundEvent, InboundStatus, SignatureScheme};
use libris_domain::lending::{Loan, LoanId};
use libris_domain::notifications::{
    Email, Notification, NotificationId, NotificationKind, NotificationStatus,
};
use libris_domain::values::Password;
use libris_domain::webhooks::{
    AttemptLog, Delivery, DeliveryId, DeliveryStatus, Webhook, WebhookId, WebhookOptions,
};
use uuid::Uuid;

use crate::campaigns::model::{Campaign, CampaignActivity, CampaignMessage, OutgoingMessage};
use crate::pagination::{Page, Paged};
#[cfg(any(test, feature = "mock"))]
use crate::sso::ports::MockSignOn;
use crate::sso::SignOn;
use libris_domain::campaigns::{
    CampaignFilter, CampaignId, CampaignSpec, CampaignStatus, MessageCounts, MessageId,
    MessageStatus,
};

/// The user a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: UserId,
    pub username: String,
    pub is_admin: bool,
}

impl Caller {
    pub fn user_ref(&self) -> UserRef {
        UserRef {
            id: self.id,
            username: self.username.clone(),
        }
    }
}

impl From<&User> for Caller {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            is_admin: user.is_admin,
        }
    }
}

/// How a store operation can fail. An adapter answers `UniqueViolation` and
/// `ForeignKeyViolation` for the failures each method's doc names (use cases
/// turn those into their own errors), and `Unexpected` for anything else.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness the method names was violated; the string names the
    /// constraint, for logs.
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    /// A reference the method names was refused: the referenced row is
    /// missing, or still referenced; the string names the constraint, for logs.
    #[error("foreign key constraint violated: {0}")]
    ForeignKeyViolation(String),
    /// Any other failure: logged, and answered without details.
    #[error("store failure: {0}")]
    Unexpected(String),
}

/// Clock port: every stored time comes from here, so tests control them.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Password hashing. `hash` must salt; `verify` must compare in constant time
/// and answer `false` (never an error) for a malformed hash.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait PasswordHasher: Send + Sync {
    fn hash(&self, password: &Password) -> Result<String, StoreError>;
    fn verify(&self, password: &str, hash: &str) -> bool;
    /// Takes as long as `verify` against a real hash and checks nothing: a
    /// login for an unknown user must not answer faster than one for a
    /// known user, or timing would tell which names exist.
    fn verify_against_nothing(&self, password: &str);
}

/// Bearer tokens: random, long, and stored only as a one-way digest.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait TokenCodec: Send + Sync {
    /// A fresh random token to give the user once.
    fn generate(&self) -> String;
    /// The digest under which a token is stored and looked up.
    fn digest(&self, token: &str) -> String;
}

/// A user to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    /// Empty: the member has no email.
    pub email: String,
    /// `None`: the member has no password and cannot sign in.
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub at: DateTime<Utc>,
}

/// A user's own fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub username: Option<String>,
    /// Empty: none.
    pub email: Option<String>,
    /// `Some(None)` removes the password: the member can no longer sign in.
    pub password_hash: Option<Option<String>>,
    pub is_admin: Option<bool>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    pub bio: Option<String>,
    /// The store writes the operator code derived from it
    /// (`libris_domain::members::operator_code`) with it.
    pub phone: Option<String>,
    pub subscribed_to_notifications: Option<bool>,
    /// An IANA name.
    pub timezone: Option<String>,
    /// Replaces every tag of the member: lowercase and distinct.
    pub tags: Option<Vec<String>>,
}

/// Which members a directory list holds; every filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFilter {
    /// Members with this tag (lowercase).
    pub tag: Option<String>,
    pub operator_code: Option<String>,
    /// Case-insensitive substring of the username or the email.
    pub q: Option<String>,
}

/// An author to insert or the new values of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorFields {
    pub name: String,
    pub bio: String,
}

/// A book's writable fields, for insert and for update alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookFields {
    pub title: String,
    pub author_id: AuthorId,
    pub isbn: Option<String>,
    pub available: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookFilter {
    pub author_id: Option<AuthorId>,
    pub available: Option<bool>,
    /// Full-text search (docs/search.md): every word must start a word of
    /// the title, the author's name or the ISBN, ignoring case and accents;
    /// best match first. Blank is no search; no letter or digit finds none.
    pub q: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub book_id: Option<BookId>,
    pub action: Option<String>,
    pub user_id: Option<UserId>,
}

/// A loan to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoan {
    pub book_id: BookId,
    pub book_title: String,
    pub user_id: UserId,
    pub borrowed_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoanFilter {
    pub user_id: Option<UserId>,
    pub book_id: Option<BookId>,
    /// `Some(true)`: not returned; `Some(false)`: returned.
    pub open: Option<bool>,
    /// Only open loans due before this instant.
    pub overdue_at: Option<DateTime<Utc>>,
}

/// A subscription's writable fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFields {
    /// With its password masked (see `libris_domain::secret_url`).
    pub url: String,
    /// The password masked in `url`.
    pub url_password: Option<String>,
    /// The member who owns it (`None`: an admin's); set at creation only.
    pub owner: Option<UserId>,
    pub options: WebhookOptions,
    pub events: Vec<EventPattern>,
    pub secret: String,
    pub is_active: bool,
    pub headers: Vec<(String, String)>,
    pub description: String,
}

/// One delivery fan-out creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub webhook_id: WebhookId,
    pub event_id: Uuid,
    pub event: String,
    pub next_attempt_at: DateTime<Utc>,
    /// Set when the creator sends it at once (the test endpoint), so workers
    /// leave it alone meanwhile.
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A leased delivery with what sending it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub webhook: Webhook,
    pub event: RecordedEvent,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only the deliveries of this member's webhooks.
    pub owner: Option<UserId>,
    pub webhook_id: Option<WebhookId>,
    pub status: Option<DeliveryStatus>,
    pub event: Option<String>,
}

/// An accepted inbound webhook to store; the store gives it its id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInboundEvent {
    pub message_id: String,
    pub event: Option<String>,
    pub scheme: SignatureScheme,
    pub status: InboundStatus,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundFilter {
    pub event: Option<String>,
    pub status: Option<InboundStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptLogFilter {
    /// Only the attempts at this member's webhooks.
    pub owner: Option<UserId>,
    pub webhook_id: Option<WebhookId>,
    /// Only the attempts of this delivery.
    pub delivery_id: Option<DeliveryId>,
    pub success: Option<bool>,
    pub event: Option<String>,
}

/// How many deliveries created within one hour are now in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyDeliveryCount {
    /// The hour's first instant (UTC).
    pub hour: DateTime<Utc>,
    pub status: DeliveryStatus,
    pub count: i64,
}

/// One attempt to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttemptLog {
    pub webhook_id: WebhookId,
    pub delivery_id: DeliveryId,
    pub event_id: Uuid,
    pub event: String,
    pub attempt: i64,
    pub payload: String,
    pub response_status: Option<i64>,
    pub response_body: String,
    pub success: bool,
    pub error_message: Option<String>,
    pub duration_ms: i64,
    pub at: DateTime<Utc>,
}

/// A notification to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub kind: NotificationKind,
    pub email: Email,
    /// The event it is about (a borrow's email to the admins).
    pub event_id: Option<Uuid>,
    /// The loan it is about (reminders and overdue notices).
    pub loan_id: Option<LoanId>,
    /// When it is due: now, or a time to come for a reminder.
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A leased notification: the email and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedNotification {
    pub id: NotificationId,
    pub email: Email,
    pub progress: Progress,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationFilter {
    pub channel: Option<String>,
    pub status: Option<NotificationStatus>,
}

/// An event to append to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub name: String,
    pub data: serde_json::Value,
    pub user: Option<UserRef>,
    pub at: DateTime<Utc>,
    /// The member the event is about, if any.
    pub about: Option<UserId>,
}

/// A unit of work: the ports of every aggregate, over one transaction, so a
/// use case asks only for what it uses (`tx.catalog().insert_book(..)`) and
/// its mock stays short.
///
/// Rules for every method: an `Option` is `None` for a missing row. A write
/// to a missing row changes nothing and is no error, except where the method
/// answers the row it wrote (`update_author`, `update_book`, `close_loan`,
/// `set_book_available`, `update_webhook`): there it is `Unexpected`. A
/// `list_*` answers one page of the matching rows and how many match in all.
/// After any error the transaction is good only for rolling back.
pub trait Tx {
    /// [`Accounts`] in this transaction.
    fn accounts(&mut self) -> &mut dyn Accounts;
    /// [`Catalog`] in this transaction.
    fn catalog(&mut self) -> &mut dyn Catalog;
    /// [`Lending`] in this transaction.
    fn lending(&mut self) -> &mut dyn Lending;
    /// [`Subscriptions`] in this transaction.
    fn subscriptions(&mut self) -> &mut dyn Subscriptions;
    /// [`Deliveries`] in this transaction.
    fn deliveries(&mut self) -> &mut dyn Deliveries;
    /// [`Inbound`] in this transaction.
    fn inbound(&mut self) -> &mut dyn Inbound;
    /// [`AuditLog`] in this transaction.
    fn audit(&mut self) -> &mut dyn AuditLog;
    /// [`Outbox`] in this transaction.
    fn outbox(&mut self) -> &mut dyn Outbox;
    /// [`Notifications`] in this transaction.
    fn notifications(&mut self) -> &mut dyn Notifications;
    /// [`Campaigns`] in this transaction.
    fn campaigns(&mut self) -> &mut dyn Campaigns;
    /// [`Settings`] in this transaction.
    fn settings(&mut self) -> &mut dyn Settings;
    /// [`SignOn`] in this transaction.
    fn sign_on(&mut self) -> &mut dyn SignOn;
}

/// Members, their profiles and their bearer tokens.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Accounts {
    /// `UniqueViolation` when the username is taken, or the email (compared
    /// case-insensitively) is another user's.
    fn insert_user(&mut self, user: &NewUser) -> Result<User, StoreError>;
    /// Writes the profile with its tags and the operator code derived from
    /// its phone. `UniqueViolation` when the user has a profile already;
    /// `ForeignKeyViolation` when the user does not exist.
    fn insert_profile(&mut self, user_id: UserId, profile: &Profile) -> Result<(), StoreError>;
    /// The user with their profile. In a write transaction the user's row is
    /// held until it ends (a borrow by them, a change or a delete of them
    /// waits), so what is checked on it still holds at commit.
    fn account(&mut self, user_id: UserId) -> Result<Option<Account>, StoreError>;
    /// Whether a user has this username.
    fn username_exists(&mut self, username: &str) -> Result<bool, StoreError>;
    /// Whether a user other than `except` has this email, compared
    /// case-insensitively; an empty email is never taken.
    fn email_taken(&mut self, email: &str, except: Option<UserId>) -> Result<bool, StoreError>;
    /// The user and their password hash; `None` for the hash of a member
    /// without a password.
    fn credentials(&mut self, username: &str)
        -> Result<Option<(User, Option<String>)>, StoreError>;
    /// Writes the fields `changes` gives; no field given is no write.
    /// `UniqueViolation` when the username or the email is another user's.
    fn update_user(&mut self, user_id: UserId, changes: &UserChanges) -> Result<(), StoreError>;
    /// Every admin's id, ascending. In a write transaction their rows are
    /// held until it ends, so "another admin remains" still holds at commit;
    /// a use case takes them before it reads the member it changes (the
    /// order every such writer locks in).
    fn admin_ids(&mut self) -> Result<Vec<UserId>, StoreError>;
    /// Whether the member has a loan not returned.
    fn has_open_loans(&mut self, user_id: UserId) -> Result<bool, StoreError>;
    /// Deletes the user with their profile, tags, tokens and webhooks (with
    /// their deliveries). Their loans, audit entries, events and attempt
    /// logs stay, with the member's id and username.
    fn delete_user(&mut self, user_id: UserId) -> Result<(), StoreError>;
    /// Revokes every token of the user; answers how many.
    fn delete_tokens(&mut self, user_id: UserId) -> Result<usize, StoreError>;
    /// Writes the fields `changes` gives; no field given is no write.
    fn update_profile(
        &mut self,
        user_id: UserId,
        changes: &ProfileChanges,
    ) -> Result<(), StoreError>;
    /// Adds to `books_borrowed` / `books_returned`, relative to the committed
    /// values: concurrent additions all count.
    fn add_to_member_loans(
        &mut self,
        user_id: UserId,
        borrowed: i64,
        returned: i64,
    ) -> Result<(), StoreError>;
    /// Newest first.
    fn list_accounts(
        &mut self,
        filter: &MemberFilter,
        page: Page,
    ) -> Result<Paged<Account>, StoreError>;
    /// Stores a token's digest for the user. `UniqueViolation` when the digest
    /// is stored already; `ForeignKeyViolation` when the user does not exist.
    fn insert_token(
        &mut self,
        user_id: UserId,
        digest: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The account of the token stored under this digest.
    fn account_by_token(&mut self, digest: &str) -> Result<Option<Account>, StoreError>;
    /// Revokes the token stored under this digest; `true` when there was one.
    fn delete_token(&mut self, digest: &str) -> Result<bool, StoreError>;
    /// The email addresses of every admin who has one, in id order.
    fn admin_emails(&mut self) -> Result<Vec<String>, StoreError>;
    /// The member's email when they have one and subscribed to
    /// notifications; `None` otherwise, and for a missing member.
    fn notification_address(&mut self, user_id: UserId) -> Result<Option<String>, StoreError>;
}

/// Authors, books and bulk imports.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Catalog {
    /// Inserts an author with no books counted.
    fn insert_author(
        &mut self,
        fields: &AuthorFields,
        at: DateTime<Utc>,
    ) -> Result<Author, StoreError>;
    /// The author with their book counts.
    fn author(&mut self, id: AuthorId) -> Result<Option<Author>, StoreError>;
    /// Writes name and bio; answers the author.
    fn update_author(&mut self, id: AuthorId, fields: &AuthorFields) -> Result<Author, StoreError>;
    /// `ForeignKeyViolation` when the author still has books.
    fn delete_author(&mut self, id: AuthorId) -> Result<(), StoreError>;
    /// Newest first.
    fn list_authors(&mut self, page: Page) -> Result<Paged<Author>, StoreError>;
    /// How many books the author has.
    fn count_books_by(&mut self, author_id: AuthorId) -> Result<i64, StoreError>;
    /// Adds to the author's `total_books` and `available_books`, relative to
    /// the committed values: concurrent additions all count. Callers touching
    /// several authors in one transaction go by ascending id.
    fn add_to_author_counts(
        &mut self,
        id: AuthorId,
        total: i64,
        available: i64,
    ) -> Result<(), StoreError>;
    /// `UniqueViolation` when the ISBN is taken; `ForeignKeyViolation` when
    /// the author does not exist.
    fn insert_book(&mut self, fields: &BookFields, at: DateTime<Utc>) -> Result<Book, StoreError>;
    /// The book with its author's name.
    fn book(&mut self, id: BookId) -> Result<Option<Book>, StoreError>;
    /// Writes every field (`isbn: None` clears it); answers the book.
    /// `UniqueViolation` when the ISBN is another book's; `ForeignKeyViolation`
    /// when the author does not exist.
    fn update_book(
        &mut self,
        id: BookId,
        fields: &BookFields,
        at: DateTime<Utc>,
    ) -> Result<Book, StoreError>;
    /// The book's loans and audit entries outlive it.
    fn delete_book(&mut self, id: BookId) -> Result<(), StoreError>;
    /// Newest first.
    fn list_books(&mut self, filter: &BookFilter, page: Page) -> Result<Paged<Book>, StoreError>;
    /// Whether another book than `except` has this ISBN.
    fn isbn_in_use(&mut self, isbn: &str, except: Option<BookId>) -> Result<bool, StoreError>;
    /// Which of `ids` are authors.
    fn existing_authors(&mut self, ids: &[AuthorId]) -> Result<Vec<AuthorId>, StoreError>;
    /// Which of `isbns` some book already has.
    fn isbns_in_use(&mut self, isbns: &[String]) -> Result<Vec<String>, StoreError>;
    /// Records that `user` imported `count` books.
    fn insert_import(
        &mut self,
        user: &UserRef,
        count: i64,
        at: DateTime<Utc>,
    ) -> Result<ImportRecord, StoreError>;
    /// Inserts every book; answers them in the order given. `UniqueViolation`
    /// when an ISBN is taken, by a stored book or another of `books`;
    /// `ForeignKeyViolation` when an author does not exist.
    fn insert_books(
        &mut self,
        books: &[BookFields],
        at: DateTime<Utc>,
    ) -> Result<Vec<Book>, StoreError>;
    /// Newest first.
    fn list_imports(&mut self, page: Page) -> Result<Paged<ImportRecord>, StoreError>;
}

/// Loans and the availability they change.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Lending {
    /// The book's loan that has not been returned, if any.
    fn open_loan(&mut self, book_id: BookId) -> Result<Option<Loan>, StoreError>;
    /// `UniqueViolation` when the book already has an open loan;
    /// `ForeignKeyViolation` when the member does not exist.
    fn insert_loan(&mut self, loan: &NewLoan) -> Result<Loan, StoreError>;
    /// Sets the loan's `returned_at`; answers the loan.
    fn close_loan(&mut self, loan_id: LoanId, at: DateTime<Utc>) -> Result<Loan, StoreError>;
    /// Sets the book's `available`; answers the book.
    fn set_book_available(
        &mut self,
        book_id: BookId,
        available: bool,
        at: DateTime<Utc>,
    ) -> Result<Book, StoreError>;
    /// Newest first.
    fn list_loans(&mut self, filter: &LoanFilter, page: Page) -> Result<Paged<Loan>, StoreError>;
}

/// Webhook subscriptions and their endpoint health.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Subscriptions {
    /// Inserts a webhook under a fresh id, with no failures recorded.
    fn insert_webhook(
        &mut self,
        fields: &WebhookFields,
        at: DateTime<Utc>,
    ) -> Result<Webhook, StoreError>;
    /// The webhook with its health.
    fn webhook(&mut self, id: WebhookId) -> Result<Option<Webhook>, StoreError>;
    /// The webhooks of `ids` that exist, in id order.
    fn webhooks(&mut self, ids: &[WebhookId]) -> Result<Vec<Webhook>, StoreError>;
    /// Writes `fields`; answers the webhook.
    fn update_webhook(
        &mut self,
        id: WebhookId,
        fields: &WebhookFields,
        at: DateTime<Utc>,
    ) -> Result<Webhook, StoreError>;
    /// Deletes the webhook with its deliveries; its attempt logs stay.
    fn delete_webhook(&mut self, id: WebhookId) -> Result<(), StoreError>;
    /// Newest first: every webhook, or with `owner` only that member's.
    fn list_webhooks(
        &mut self,
        owner: Option<UserId>,
        page: Page,
    ) -> Result<Paged<Webhook>, StoreError>;
    /// How many webhooks the member owns.
    fn count_owned_webhooks(&mut self, owner: UserId) -> Result<i64, StoreError>;
    /// Every active subscription (fan-out reads them per batch).
    fn active_webhooks(&mut self) -> Result<Vec<Webhook>, StoreError>;
    /// Writes activity and health: `is_active`, `disabled_reason`,
    /// `failure_count`, `failing_since`.
    fn save_webhook_state(
        &mut self,
        webhook: &Webhook,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// The webhook queue: deliveries and the attempt log.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Deliveries {
    /// Inserts pending deliveries; answers them in the order given.
    /// `UniqueViolation` when the webhook has a delivery of the event already;
    /// `ForeignKeyViolation` when the webhook does not exist.
    fn insert_deliveries(
        &mut self,
        deliveries: &[NewDelivery],
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Up to `limit` deliveries due at `now` and not leased, of active
    /// webhooks not in `exclude`, oldest due first, with their webhook. The
    /// rows stay claimed by this transaction until it ends: a concurrent
    /// claimer skips them rather than waiting, so concurrent claimers see
    /// disjoint sets.
    fn due_deliveries(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
        exclude: &[WebhookId],
    ) -> Result<Vec<(DeliveryId, WebhookId)>, StoreError>;
    /// Leases these deliveries until `lease_until`; answers them with their
    /// webhook and event, oldest due first, skipping any that no longer exist.
    fn lease_deliveries(
        &mut self,
        ids: &[DeliveryId],
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// One delivery, without its webhook or event.
    fn delivery(&mut self, id: DeliveryId) -> Result<Option<Delivery>, StoreError>;
    /// Writes status, attempts, retry base, next attempt, last error, and
    /// releases the lease.
    fn save_delivery(
        &mut self,
        id: DeliveryId,
        progress: &Progress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Makes deliveries due at `at`: the given ones whatever their state
    /// (queued again, the schedule starting over), or else every pending
    /// unleased one, of `webhook` if given. Answers how many.
    fn make_deliveries_due(
        &mut self,
        webhook: Option<WebhookId>,
        ids: &[DeliveryId],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError>;
    /// Deliveries in `status` last changed at or after `since`.
    fn count_deliveries_since(
        &mut self,
        status: DeliveryStatus,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// Deletes finished deliveries (not pending) last changed before `before`,
    /// and attempt logs written before it; answers how many of each.
    fn prune_deliveries(&mut self, before: DateTime<Utc>) -> Result<(usize, usize), StoreError>;
    /// Newest first.
    fn list_deliveries(
        &mut self,
        filter: &DeliveryFilter,
        page: Page,
    ) -> Result<Paged<Delivery>, StoreError>;
    /// The deliveries created from `from` to `to` (both included), of
    /// `owner`'s webhooks if given, counted by the UTC hour of their
    /// creation and their current status; a pair with none is absent.
    fn count_deliveries_by_hour(
        &mut self,
        owner: Option<UserId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourlyDeliveryCount>, StoreError>;
    /// Appends attempt logs; answers them in the order given. A log refers to
    /// its webhook and delivery by id only, and outlives them.
    fn insert_attempt_logs(
        &mut self,
        logs: &[NewAttemptLog],
    ) -> Result<Vec<AttemptLog>, StoreError>;
    /// How many deliveries are pending, and when the oldest was made.
    fn pending_deliveries(&mut self) -> Result<(i64, Option<DateTime<Utc>>), StoreError>;
    /// Webhooks with failures since their last success, and how many, in id
    /// order.
    fn failing_webhooks(&mut self) -> Result<Vec<(WebhookId, i64)>, StoreError>;
    /// Newest first.
    fn list_attempt_logs(
        &mut self,
        filter: &AttemptLogFilter,
        page: Page,
    ) -> Result<Paged<AttemptLog>, StoreError>;
}

/// Webhooks received from other systems.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Inbound {
    /// Whether an event with this message id is stored.
    fn inbound_message_exists(&mut self, message_id: &str) -> Result<bool, StoreError>;
    /// Stores the event under a fresh id. `UniqueViolation` when an event with
    /// this message id is stored, even one a concurrent writer stored first.
    fn insert_inbound_event(&mut self, event: &NewInboundEvent)
        -> Result<InboundEvent, StoreError>;
    /// Newest received first.
    fn list_inbound_events(
        &mut self,
        filter: &InboundFilter,
        page: Page,
    ) -> Result<Paged<InboundEvent>, StoreError>;
}

/// The audit log of book changes.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait AuditLog {
    /// Appends the entries. An entry names its book by id and title only, and
    /// outlives it.
    fn insert_audit_entries(&mut self, entries: &[NewAuditEntry]) -> Result<(), StoreError>;
    /// Newest first.
    fn list_audit_entries(
        &mut self,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<Paged<AuditEntry>, StoreError>;
}

/// The event log every change appends to, and its dispatch marks.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Outbox {
    /// Makes `consumer` a consumer of the event log, listening to
    /// `patterns` (replacing those it had): every event appended from now on
    /// that matches one gets a dispatch mark for it, in the appending
    /// transaction. Events appended before are not its concern. Instances
    /// registering the same consumer at once must not fail.
    fn register_consumer(
        &mut self,
        consumer: &str,
        patterns: &[EventPattern],
    ) -> Result<(), StoreError>;
    /// Up to `limit` events still marked for `consumer`, oldest first. The
    /// marks stay claimed by this transaction until it ends: another instance
    /// of the consumer skips them rather than waiting, so instances take
    /// disjoint batches; other consumers' marks are untouched, so consumers
    /// never wait for one another.
    fn claim_events(
        &mut self,
        consumer: &str,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;
    /// Removes `consumer`'s marks of these events: it has handled them.
    fn mark_dispatched(&mut self, consumer: &str, ids: &[Uuid]) -> Result<(), StoreError>;
    /// Appends the event under a fresh id, with a dispatch mark for every
    /// consumer listening to its name.
    fn append_event(&mut self, event: &NewEvent) -> Result<RecordedEvent, StoreError>;
    /// Newest first, of `name` if given; a page stops early once its `data`
    /// passes [`Page::DATA_BUDGET`] bytes (it always holds at least one event).
    fn list_events(
        &mut self,
        name: Option<String>,
        page: Page,
    ) -> Result<Paged<RecordedEvent>, StoreError>;
}

/// The email queue: notifications to people, due at a time.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Notifications {
    /// Queues what is not queued yet, in one go: a second notification for
    /// the same (event, recipient), or for the same (loan, kind), is skipped,
    /// not an error (the transaction goes on), so handling an event twice
    /// after a crash mails nobody twice. Answers how many were queued.
    fn insert_notifications(&mut self, new: &[NewNotification]) -> Result<usize, StoreError>;
    /// Deletes the loan's reminders and notices that are pending and not
    /// leased (the book came back); answers how many.
    fn cancel_loan_notifications(&mut self, loan_id: LoanId) -> Result<usize, StoreError>;
    /// Up to `limit` pending notifications due at `now` and not leased, whose
    /// recipient is not in `exclude`, oldest due first, with their recipient.
    /// The rows stay claimed by this transaction until it ends: a concurrent
    /// claimer skips them rather than waiting, so concurrent claimers see
    /// disjoint sets.
    fn due_notifications(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
        exclude: &[String],
    ) -> Result<Vec<(NotificationId, String)>, StoreError>;
    /// Leases these notifications until `lease_until`; answers them in the
    /// order given, skipping ids that no longer exist.
    fn lease_notifications(
        &mut self,
        ids: &[NotificationId],
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<LeasedNotification>, StoreError>;
    /// Writes status, attempts, retry base, next attempt and last error,
    /// releases the lease, and sets `sent_at` to `at` when it was delivered.
    fn save_notification(
        &mut self,
        id: NotificationId,
        progress: &Progress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Deletes notifications that are no longer pending (sent, failed, dead)
    /// and were made before `before`; answers how many.
    fn prune_notifications(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError>;
    /// How many pending notifications are due at `now`, and the earliest
    /// due time among them (reminders waiting for their day do not count).
    fn due_backlog(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<(i64, Option<DateTime<Utc>>), StoreError>;
    /// Newest first.
    fn list_notifications(
        &mut self,
        filter: &NotificationFilter,
        page: Page,
    ) -> Result<Paged<Notification>, StoreError>;
}

/// SMS campaigns and their messages, the "sms" channel's queue.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Campaigns {
    /// Inserts a campaign with no messages; answers it.
    fn insert_campaign(
        &mut self,
        spec: &CampaignSpec,
        status: CampaignStatus,
        at: DateTime<Utc>,
    ) -> Result<Campaign, StoreError>;
    /// The campaign with its counts. In a write transaction the row is held
    /// until the transaction ends (a second writer waits, then reads what
    /// the first committed).
    fn campaign(&mut self, id: CampaignId) -> Result<Option<Campaign>, StoreError>;
    /// Writes text, period, filter and window; answers the campaign.
    fn update_campaign(
        &mut self,
        id: CampaignId,
        spec: &CampaignSpec,
        at: DateTime<Utc>,
    ) -> Result<Campaign, StoreError>;
    /// Deletes the campaign and its messages.
    fn delete_campaign(&mut self, id: CampaignId) -> Result<(), StoreError>;
    /// Newest first.
    fn list_campaigns(&mut self, page: Page) -> Result<Paged<Campaign>, StoreError>;
    /// Sets the status to `to` only if it is `from`; answers whether it did.
    /// Of transactions doing this at once on one campaign, exactly one does.
    fn set_campaign_status(
        &mut self,
        id: CampaignId,
        from: CampaignStatus,
        to: CampaignStatus,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Up to `limit` scheduled campaigns whose `start_at` has come, earliest
    /// first.
    fn campaigns_to_start(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<CampaignId>, StoreError>;
    /// Up to `limit` running campaigns past their `end_at` or with no
    /// pending message.
    fn campaigns_to_finish(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<CampaignId>, StoreError>;
    /// Queues one pending message, due at `at`, to every member the filter
    /// selects (subscribed, with an operator code, matching it), copying
    /// their id, username, phone and time zone: one statement, the audience
    /// never read into memory. A member who has a message of this campaign
    /// already is skipped (unique per campaign and member). Answers how many
    /// were queued.
    fn queue_recipients(
        &mut self,
        id: CampaignId,
        filter: &CampaignFilter,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// The campaign's pending messages that no live lease holds become
    /// `status` (expired, cancelled), in one statement; answers how many.
    fn close_pending_messages(
        &mut self,
        id: CampaignId,
        status: MessageStatus,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// The campaign's pending messages that wait for their window (or for
    /// `end_at`) become due at `now`, to be decided again.
    fn wake_waiting_messages(
        &mut self,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Deletes the member's pending messages (when the member is deleted);
    /// sent, failed, expired and cancelled ones stay. Answers how many.
    fn delete_pending_messages_of(&mut self, user_id: UserId) -> Result<u64, StoreError>;
    /// The campaign's messages, newest first.
    fn list_messages(
        &mut self,
        id: CampaignId,
        status: Option<MessageStatus>,
        page: Page,
    ) -> Result<Paged<CampaignMessage>, StoreError>;
    /// Every campaign's messages counted by status.
    fn message_totals(&mut self) -> Result<MessageCounts, StoreError>;
    /// Messages whose status last changed in `[since, until)`, by campaign
    /// and status, campaigns in id order.
    fn activity_between(
        &mut self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<CampaignActivity>, StoreError>;
    /// Up to `limit` pending messages due at `now` and not leased, whose
    /// target (the member's id) is not in `exclude`, oldest due first. The
    /// rows stay claimed by this transaction until it ends: a concurrent
    /// claimer skips them, so concurrent claimers see disjoint sets.
    fn due_messages(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
        exclude: &[String],
    ) -> Result<Vec<(MessageId, String)>, StoreError>;
    /// These messages, if still pending, with their campaign as it is now.
    fn messages_to_send(&mut self, ids: &[MessageId]) -> Result<Vec<OutgoingMessage>, StoreError>;
    /// Leases these messages until `until`.
    fn lease_messages(&mut self, ids: &[MessageId], until: DateTime<Utc>)
        -> Result<(), StoreError>;
    /// Puts a pending message off until `until` without an attempt: it
    /// waits for its member's window.
    fn defer_message(
        &mut self,
        id: MessageId,
        until: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Closes a pending message without an attempt (expired, cancelled).
    fn close_message(
        &mut self,
        id: MessageId,
        status: MessageStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Writes an attempt's outcome (`dead` as `failed`), releases the lease,
    /// sets `sent_at` when it was sent.
    fn save_message(
        &mut self,
        id: MessageId,
        progress: &Progress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Those of these messages still pending whose campaign was cancelled
    /// meanwhile become cancelled; answers how many.
    fn cancel_if_campaign_cancelled(
        &mut self,
        ids: &[MessageId],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Queues the daily statistics email on the email channel under `key`,
    /// unless an email with that key exists (one per day and address,
    /// whichever instance gets there first); answers whether it did.
    fn queue_statistics_email(
        &mut self,
        key: &str,
        email: &Email,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Which of these statistics keys have an email queued already.
    fn statistics_emails_queued(&mut self, keys: &[String]) -> Result<Vec<String>, StoreError>;
    /// How many messages are pending and due at `now`, and the earliest due
    /// time among them.
    fn due_message_backlog(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<(i64, Option<DateTime<Utc>>), StoreError>;
}

/// Settings changed at runtime; a key without a value falls back to the
/// environment (the application knows the defaults).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Settings {
    /// Waits for any other transaction changing settings, and makes the
    /// others wait for this one until it ends: a change reads, decides and
    /// writes as one step.
    fn lock_settings(&mut self) -> Result<(), StoreError>;
    /// Every stored setting, by key.
    fn stored_settings(&mut self) -> Result<Vec<(String, String)>, StoreError>;
    /// Stores `value` under `key`; `None` removes the key.
    #[allow(
        clippy::needless_lifetimes,
        reason = "mockall cannot mock an elided lifetime inside an Option"
    )]
    fn put_setting<'a>(
        &mut self,
        key: &str,
        value: Option<&'a str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// A [`Tx`] of mocks, one per aggregate: `tx.catalog.expect_book()`.
#[cfg(any(test, feature = "mock"))]
#[derive(Default)]
pub struct MockTx {
    pub accounts: MockAccounts,
    pub catalog: MockCatalog,
    pub lending: MockLending,
    pub subscriptions: MockSubscriptions,
    pub deliveries: MockDeliveries,
    pub inbound: MockInbound,
    pub audit: MockAuditLog,
    pub outbox: MockOutbox,
    pub notifications: MockNotifications,
    pub campaigns: MockCampaigns,
    pub settings: MockSettings,
    pub sign_on: MockSignOn,
}

#[cfg(any(test, feature = "mock"))]
impl MockTx {
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg(any(test, feature = "mock"))]
impl Tx for MockTx {
    fn accounts(&mut self) -> &mut dyn Accounts {
        &mut self.accounts
    }
    fn catalog(&mut self) -> &mut dyn Catalog {
        &mut self.catalog
    }
    fn lending(&mut self) -> &mut dyn Lending {
        &mut self.lending
    }
    fn subscriptions(&mut self) -> &mut dyn Subscriptions {
        &mut self.subscriptions
    }
    fn deliveries(&mut self) -> &mut dyn Deliveries {
        &mut self.deliveries
    }
    fn inbound(&mut self) -> &mut dyn Inbound {
        &mut self.inbound
    }
    fn audit(&mut self) -> &mut dyn AuditLog {
        &mut self.audit
    }
    fn outbox(&mut self) -> &mut dyn Outbox {
        &mut self.outbox
    }
    fn notifications(&mut self) -> &mut dyn Notifications {
        &mut self.notifications
    }
    fn campaigns(&mut self) -> &mut dyn Campaigns {
        &mut self.campaigns
    }
    fn settings(&mut self) -> &mut dyn Settings {
        &mut self.settings
    }
    fn sign_on(&mut self) -> &mut dyn SignOn {
        &mut self.sign_on
    }
}

/// Runs work in database transactions. Object safe; use the generic helpers of
/// [`StoreExt`].
pub trait Store: Send + Sync {
    /// Runs `work` in one write transaction: commits when it returns `true`,
    /// rolls back when it returns `false`; an error is a failure to begin or
    /// commit. Writers of one row run one at a time: the second queues until
    /// the first ends rather than failing. A book, author or webhook read in
    /// it stays this transaction's until it ends (a second writer waits, then
    /// reads what the first committed), so a check made on a read still holds
    /// at commit; `active_webhooks` keeps them from deletion only.
    fn write(&self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError>;
    /// Runs `work` in a read transaction: it sees one snapshot (a count and its
    /// page agree), and nothing it does is committed.
    fn read(&self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError>;
}

/// Typed wrappers around [`Store`]: the closure's `Err` rolls back and is
/// returned as it is.
pub trait StoreExt {
    fn write_tx<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E>;
    fn read_tx<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E>;
}

fn run<T, E: From<StoreError>>(
    begin: impl FnOnce(&mut dyn FnMut(&mut dyn Tx) -> bool) -> Result<(), StoreError>,
    work: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
) -> Result<T, E> {
    let mut work = Some(work);
    let mut outcome = None;
    begin(&mut |tx| {
        let Some(work) = work.take() else {
            return false;
        };
        let result = work(tx);
        let commit = result.is_ok();
        outcome = Some(result);
        commit
    })?;
    outcome
        .unwrap_or_else(|| Err(StoreError::Unexpected("transaction body never ran".into()).into()))
}

impl<S: Store + ?Sized> StoreExt for S {
    fn write_tx<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        run(|body| self.write(body), work)
    }

    fn read_tx<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        run(|body| self.read(body), work)
    }
}
