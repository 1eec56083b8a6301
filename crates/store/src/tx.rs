//! The `Tx` port over one diesel connection inside a transaction: a dispatch
//! table onto the per-table modules.

use chrono::{DateTime, Utc};
use libris_application::ports::{
    Accounts, AttemptLogFilter, AuditFilter, AuditLog, AuthorFields, BookFields, BookFilter,
    Catalog, ClaimedDelivery, Deliveries, DeliveryFilter, HourlyDeliveryCount, Inbound,
    InboundFilter, Lending, LoanFilter, MemberFilter, NewAttemptLog, NewDelivery, NewEvent,
    NewInboundEvent, NewLoan, NewUser, Notifications, Outbox, ProfileChanges, Subscriptions, Tx,
    UserChanges, WebhookFields,
};
use libris_application::webhooks::CHANNEL as WEBHOOK_CHANNEL;
use libris_application::{Page, Paged, StoreError};
use libris_domain::accounts::{Account, Profile, User, UserId, UserRef};
use libris_domain::audit::{AuditEntry, NewAuditEntry};
use libris_domain::catalog::{Author, AuthorId, Book, BookId, ImportRecord};
use libris_domain::delivery::Progress;
use libris_domain::events::{EventPattern, RecordedEvent};
use libris_domain::inbound::InboundEvent;
use libris_domain::lending::{Loan, LoanId};
use libris_domain::webhooks::{
    AttemptLog, Delivery, DeliveryId, DeliveryStatus, Webhook, WebhookId,
};
use uuid::Uuid;

use crate::connection::AnyConnection;
use crate::search::HeldWrites;
use crate::second_reader::SecondReader;
use crate::Hold;
use crate::QueuedWork;
use crate::{accounts, audit, catalog, deliveries, imports, inbound, lending, outbox, webhooks};
use crate::{campaigns, settings, sign_on};
use libris_application::campaigns::model::{
    Campaign, CampaignActivity, CampaignMessage, OutgoingMessage,
};
use libris_application::campaigns::CHANNEL as SMS_CHANNEL;
use libris_application::ports::{Campaigns, Settings};
use libris_application::sso::{Identity, NewIdentity, PendingLogin, SignOn};
use libris_domain::campaigns::{
    CampaignFilter, CampaignId, CampaignSpec, CampaignStatus, MessageCounts, MessageId,
    MessageStatus,
};

pub(crate) struct DieselTx<'c> {
    conn: &'c mut AnyConnection,
    queued: QueuedWork,
    /// In a write transaction the rows it reads are held until it ends (see
    /// [`Hold`]).
    hold: Hold,
    /// In a read transaction on SQLite, a second connection on its snapshot
    /// for the work that splits in two.
    second: Option<&'c SecondReader<'c>>,
    /// Search-index writes for the commit to write (SQLite).
    held: HeldWrites,
}

impl<'c> DieselTx<'c> {
    pub(crate) fn new(conn: &'c mut AnyConnection, hold: Hold) -> Self {
        Self {
            conn,
            queued: QueuedWork::default(),
            hold,
            second: None,
            held: HeldWrites::default(),
        }
    }

    pub(crate) fn with_second_reader(mut self, second: Option<&'c SecondReader<'c>>) -> Self {
        self.second = second;
        self
    }

    /// Whether this transaction gave the delivery workers something to do
    /// (an event, a delivery due now), so its commit should wake them.
    pub(crate) fn queued_work(&self) -> QueuedWork {
        self.queued.clone()
    }

    /// The search-index writes this transaction holds, which whoever
    /// commits it must write first ([`HeldWrites`]).
    pub(crate) fn take_held_writes(&mut self) -> HeldWrites {
        std::mem::take(&mut self.held)
    }
}

impl Tx for DieselTx<'_> {
    fn accounts(&mut self) -> &mut dyn Accounts {
        self
    }
    fn catalog(&mut self) -> &mut dyn Catalog {
        self
    }
    fn lending(&mut self) -> &mut dyn Lending {
        self
    }
    fn subscriptions(&mut self) -> &mut dyn Subscriptions {
        self
    }
    fn deliveries(&mut self) -> &mut dyn Deliveries {
        self
    }
    fn inbound(&mut self) -> &mut dyn Inbound {
        self
    }
    fn audit(&mut self) -> &mut dyn AuditLog {
        self
    }
    fn outbox(&mut self) -> &mut dyn Outbox {
        self
    }
    fn notifications(&mut self) -> &mut dyn Notifications {
        self
    }
    fn campaigns(&mut self) -> &mut dyn Campaigns {
        self
    }
    fn settings(&mut self) -> &mut dyn Settings {
        self
    }
    fn sign_on(&mut self) -> &mut dyn SignOn {
        self
    }
}

impl Accounts for DieselTx<'_> {
    fn insert_user(&mut self, user: &NewUser) -> Result<User, StoreError> {
        accounts::insert_user(self.conn, user)
    }

    fn insert_profile(&mut self, user_id: UserId, profile: &Profile) -> Result<(), StoreError> {
        accounts::insert_profile(self.conn, user_id, profile)
    }

    fn account(&mut self, user_id: UserId) -> Result<Option<Account>, StoreError> {
        if self.hold == Hold::ReadRows {
            accounts::hold_user(self.conn, user_id)?;
        }
        accounts::account_by_id(self.conn, user_id)
    }

    fn username_exists(&mut self, username: &str) -> Result<bool, StoreError> {
        accounts::username_exists(self.conn, username)
    }

    fn email_taken(&mut self, email: &str, except: Option<UserId>) -> Result<bool, StoreError> {
        accounts::email_taken(self.conn, email, except)
    }

    fn credentials(
        &mut self,
        username: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError> {
        accounts::credentials(self.conn, username)
    }

    fn update_user(&mut self, user_id: UserId, changes: &UserChanges) -> Result<(), StoreError> {
        accounts::update_user(self.conn, user_id, changes)
    }

    fn admin_ids(&mut self) -> Result<Vec<UserId>, StoreError> {
        accounts::admin_ids(self.conn, self.hold == Hold::ReadRows)
    }

    fn has_open_loans(&mut self, user_id: UserId) -> Result<bool, StoreError> {
        accounts::has_open_loans(self.conn, user_id)
    }

    fn delete_user(&mut self, user_id: UserId) -> Result<(), StoreError> {
        accounts::delete_user(self.conn, user_id)
    }

    fn delete_tokens(&mut self, user_id: UserId) -> Result<usize, StoreError> {
        accounts::delete_tokens(self.conn, user_id)
    }

    fn update_profile(
        &mut self,
        user_id: UserId,
        changes: &ProfileChanges,
    ) -> Result<(), StoreError> {
        accounts::update_profile(self.conn, user_id, changes)
    }

    fn add_to_member_loans(
        &mut self,
        user_id: UserId,
        borrowed: i64,
        returned: i64,
    ) -> Result<(), StoreError> {
        accounts::add_to_member_loans(self.conn, user_id, borrowed, returned)
    }

    fn list_accounts(
        &mut self,
        filter: &MemberFilter,
        page: Page,
    ) -> Result<Paged<Account>, StoreError> {
        accounts::list_accounts(self.conn, filter, page)
    }

    fn insert_token(
        &mut self,
        user_id: UserId,
        digest: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        accounts::insert_token(self.conn, user_id, digest, at)
    }

    fn account_by_token(&mut self, digest: &str) -> Result<Option<Account>, StoreError> {
        accounts::account_by_token(self.conn, digest)
    }

    fn delete_token(&mut self, digest: &str) -> Result<bool, StoreError> {
        accounts::delete_token(self.conn, digest)
    }

    fn admin_emails(&mut self) -> Result<Vec<String>, StoreError> {
        accounts::admin_emails(self.conn)
    }

    fn notification_address(&mut self, user_id: UserId) -> Result<Option<String>, StoreError> {
        accounts::notification_address(self.conn, user_id)
    }
}

impl Catalog for DieselTx<'_> {
    fn insert_author(
        &mut self,
        fields: &AuthorFields,
        at: DateTime<Utc>,
    ) -> Result<Author, StoreError> {
        catalog::insert_author(self.conn, fields, at)
    }

    fn author(&mut self, id: AuthorId) -> Result<Option<Author>, StoreError> {
        if self.hold == Hold::ReadRows {
            catalog::hold_authors(self.conn, &[id])?;
        }
        catalog::author(self.conn, id)
    }

    fn update_author(&mut self, id: AuthorId, fields: &AuthorFields) -> Result<Author, StoreError> {
        catalog::update_author(self.conn, &mut self.held, id, fields)
    }

    fn delete_author(&mut self, id: AuthorId) -> Result<(), StoreError> {
        catalog::delete_author(self.conn, id)
    }

    fn list_authors(&mut self, page: Page) -> Result<Paged<Author>, StoreError> {
        catalog::list_authors(self.conn, page)
    }

    fn count_books_by(&mut self, author_id: AuthorId) -> Result<i64, StoreError> {
        catalog::count_books_by(self.conn, author_id)
    }

    fn add_to_author_counts(
        &mut self,
        id: AuthorId,
        total: i64,
        available: i64,
    ) -> Result<(), StoreError> {
        catalog::add_to_author_counts(self.conn, id, total, available)
    }

    fn insert_book(&mut self, fields: &BookFields, at: DateTime<Utc>) -> Result<Book, StoreError> {
        catalog::insert_book(self.conn, &mut self.held, fields, at)
    }

    fn book(&mut self, id: BookId) -> Result<Option<Book>, StoreError> {
        if self.hold == Hold::ReadRows {
            catalog::hold_book(self.conn, id)?;
        }
        catalog::book(self.conn, id)
    }

    fn update_book(
        &mut self,
        id: BookId,
        fields: &BookFields,
        at: DateTime<Utc>,
    ) -> Result<Book, StoreError> {
        catalog::update_book(self.conn, &mut self.held, id, fields, at)
    }

    fn delete_book(&mut self, id: BookId) -> Result<(), StoreError> {
        catalog::delete_book(self.conn, &mut self.held, id)
    }

    fn list_books(&mut self, filter: &BookFilter, page: Page) -> Result<Paged<Book>, StoreError> {
        if filter.q.is_some() {
            // A search sees the transaction's own changes: what it holds
            // for the commit is written first.
            self.take_held_writes().write(self.conn)?;
        }
        catalog::list_books(self.conn, self.second, filter, page)
    }

    fn isbn_in_use(&mut self, isbn: &str, except: Option<BookId>) -> Result<bool, StoreError> {
        catalog::isbn_in_use(self.conn, isbn, except)
    }

    fn existing_authors(&mut self, ids: &[AuthorId]) -> Result<Vec<AuthorId>, StoreError> {
        if self.hold == Hold::ReadRows {
            catalog::hold_authors(self.conn, ids)?;
        }
        catalog::existing_authors(self.conn, ids)
    }

    fn isbns_in_use(&mut self, isbns: &[String]) -> Result<Vec<String>, StoreError> {
        catalog::isbns_in_use(self.conn, isbns)
    }

    fn insert_import(
        &mut self,
        user: &UserRef,
        count: i64,
        at: DateTime<Utc>,
    ) -> Result<ImportRecord, StoreError> {
        imports::insert_import(self.conn, user, count, at)
    }

    fn insert_books(
        &mut self,
        books: &[BookFields],
        at: DateTime<Utc>,
    ) -> Result<Vec<Book>, StoreError> {
        catalog::insert_books(self.conn, &mut self.held, books, at)
    }

    fn list_imports(&mut self, page: Page) -> Result<Paged<ImportRecord>, StoreError> {
        imports::list_imports(self.conn, page)
    }
}

impl Lending for DieselTx<'_> {
    fn open_loan(&mut self, book_id: BookId) -> Result<Option<Loan>, StoreError> {
        lending::open_loan(self.conn, book_id)
    }

    fn insert_loan(&mut self, loan: &NewLoan) -> Result<Loan, StoreError> {
        lending::insert_loan(self.conn, loan)
    }

    fn close_loan(&mut self, loan_id: LoanId, at: DateTime<Utc>) -> Result<Loan, StoreError> {
        lending::close_loan(self.conn, loan_id, at)
    }

    fn set_book_available(
        &mut self,
        book_id: BookId,
        available: bool,
        at: DateTime<Utc>,
    ) -> Result<Book, StoreError> {
        catalog::set_book_available(self.conn, book_id, available, at)
    }

    fn list_loans(&mut self, filter: &LoanFilter, page: Page) -> Result<Paged<Loan>, StoreError> {
        lending::list_loans(self.conn, filter, page)
    }
}

impl Subscriptions for DieselTx<'_> {
    fn insert_webhook(
        &mut self,
        fields: &WebhookFields,
        at: DateTime<Utc>,
    ) -> Result<Webhook, StoreError> {
        webhooks::insert_webhook(self.conn, fields, at)
    }

    fn webhook(&mut self, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        if self.hold == Hold::ReadRows {
            webhooks::hold_webhooks(self.conn, &[id])?;
        }
        webhooks::webhook(self.conn, id)
    }

    fn webhooks(&mut self, ids: &[WebhookId]) -> Result<Vec<Webhook>, StoreError> {
        if self.hold == Hold::ReadRows {
            webhooks::hold_webhooks(self.conn, ids)?;
        }
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let mut found = webhooks::webhooks_by_ids(self.conn, &ids)?;
        found.sort_unstable_by_key(|w| w.id);
        Ok(found)
    }

    fn update_webhook(
        &mut self,
        id: WebhookId,
        fields: &WebhookFields,
        at: DateTime<Utc>,
    ) -> Result<Webhook, StoreError> {
        webhooks::update_webhook(self.conn, id, fields, at)
    }

    fn delete_webhook(&mut self, id: WebhookId) -> Result<(), StoreError> {
        webhooks::delete_webhook(self.conn, id)
    }

    fn list_webhooks(
        &mut self,
        owner: Option<UserId>,
        page: Page,
    ) -> Result<Paged<Webhook>, StoreError> {
        webhooks::list_webhooks(self.conn, owner, page)
    }

    fn count_owned_webhooks(&mut self, owner: UserId) -> Result<i64, StoreError> {
        webhooks::count_owned_webhooks(self.conn, owner)
    }

    fn active_webhooks(&mut self) -> Result<Vec<Webhook>, StoreError> {
        webhooks::active_webhooks(self.conn, self.hold == Hold::ReadRows)
    }

    fn save_webhook_state(
        &mut self,
        webhook: &Webhook,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        webhooks::save_webhook_state(self.conn, webhook, at)
    }
}

impl Deliveries for DieselTx<'_> {
    fn insert_deliveries(&mut self, new: &[NewDelivery]) -> Result<Vec<Delivery>, StoreError> {
        let inserted = deliveries::insert_deliveries(self.conn, new)?;
        self.queued.due_now(WEBHOOK_CHANNEL);
        Ok(inserted)
    }

    fn due_deliveries(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
        exclude: &[WebhookId],
    ) -> Result<Vec<(DeliveryId, WebhookId)>, StoreError> {
        deliveries::due_deliveries(self.conn, now, limit, exclude)
    }

    fn lease_deliveries(
        &mut self,
        ids: &[DeliveryId],
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        deliveries::lease_deliveries(self.conn, ids, lease_until)
    }

    fn delivery(&mut self, id: DeliveryId) -> Result<Option<Delivery>, StoreError> {
        deliveries::delivery(self.conn, id)
    }

    fn save_delivery(
        &mut self,
        id: DeliveryId,
        progress: &Progress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        deliveries::save_delivery(self.conn, id, progress, at)?;
        // A delivery due now (a redelivery) should not wait for the poll.
        if progress.status == DeliveryStatus::Pending && progress.next_attempt_at <= at {
            self.queued.due_now(WEBHOOK_CHANNEL);
        }
        Ok(())
    }

    fn make_deliveries_due(
        &mut self,
        webhook: Option<WebhookId>,
        ids: &[DeliveryId],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let queued = deliveries::make_deliveries_due(self.conn, webhook, ids, at)?;
        if queued > 0 {
            self.queued.due_now(WEBHOOK_CHANNEL);
        }
        Ok(queued)
    }

    fn count_deliveries_since(
        &mut self,
        status: DeliveryStatus,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        deliveries::count_deliveries_since(self.conn, status, since)
    }

    fn prune_deliveries(&mut self, before: DateTime<Utc>) -> Result<(usize, usize), StoreError> {
        deliveries::prune_deliveries(self.conn, before)
    }

    fn list_deliveries(
        &mut self,
        filter: &DeliveryFilter,
        page: Page,
    ) -> Result<Paged<Delivery>, StoreError> {
        deliveries::list_deliveries(self.conn, filter, page)
    }

    fn count_deliveries_by_hour(
        &mut self,
        owner: Option<UserId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourlyDeliveryCount>, StoreError> {
        deliveries::count_deliveries_by_hour(self.conn, owner, from, to)
    }

    fn insert_attempt_logs(
        &mut self,
        logs: &[NewAttemptLog],
    ) -> Result<Vec<AttemptLog>, StoreError> {
        deliveries::insert_attempt_logs(self.conn, logs)
    }

    fn pending_deliveries(&mut self) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
        deliveries::pending_deliveries(self.conn)
    }

    fn failing_webhooks(&mut self) -> Result<Vec<(WebhookId, i64)>, StoreError> {
        webhooks::failing_webhooks(self.conn)
    }

    fn list_attempt_logs(
        &mut self,
        filter: &AttemptLogFilter,
        page: Page,
    ) -> Result<Paged<AttemptLog>, StoreError> {
        deliveries::list_attempt_logs(self.conn, filter, page)
    }
}

impl Inbound for DieselTx<'_> {
    fn inbound_message_exists(&mut self, message_id: &str) -> Result<bool, StoreError> {
        inbound::inbound_message_exists(self.conn, message_id)
    }

    fn insert_inbound_event(
        &mut self,
        event: &NewInboundEvent,
    ) -> Result<InboundEvent, StoreError> {
        inbound::insert_inbound_event(self.conn, event)
    }

    fn list_inbound_events(
        &mut self,
        filter: &InboundFilter,
        page: Page,
    ) -> Result<Paged<InboundEvent>, StoreError> {
        inbound::list_inbound_events(self.conn, filter, page)
    }
}

impl AuditLog for DieselTx<'_> {
    fn insert_audit_entries(&mut self, entries: &[NewAuditEntry]) -> Result<(), StoreError> {
        audit::insert_audit_entries(self.conn, entries)
    }

    fn list_audit_entries(
        &mut self,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<Paged<AuditEntry>, StoreError> {
        audit::list_audit_entries(self.conn, filter, page)
    }
}

impl Outbox for DieselTx<'_> {
    fn register_consumer(
        &mut self,
        consumer: &str,
        patterns: &[EventPattern],
    ) -> Result<(), StoreError> {
        outbox::register_consumer(self.conn, consumer, patterns)
    }

    fn claim_events(
        &mut self,
        consumer: &str,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        outbox::claim_events(self.conn, consumer, limit)
    }

    fn mark_dispatched(&mut self, consumer: &str, ids: &[Uuid]) -> Result<(), StoreError> {
        outbox::mark_dispatched(self.conn, consumer, ids)
    }

    fn append_event(&mut self, event: &NewEvent) -> Result<RecordedEvent, StoreError> {
        let (recorded, marked) = outbox::append_event(self.conn, event)?;
        self.queued.marked_for(marked);
        Ok(recorded)
    }

    fn list_events(
        &mut self,
        name: Option<String>,
        page: Page,
    ) -> Result<Paged<RecordedEvent>, StoreError> {
        outbox::list_events(self.conn, name.as_deref(), page)
    }
}

impl Notifications for DieselTx<'_> {
    fn insert_notifications(
        &mut self,
        new: &[libris_application::ports::NewNotification],
    ) -> Result<usize, StoreError> {
        let (queued, due_now) = crate::notifications::insert_notifications(self.conn, new)?;
        if due_now {
            self.queued
                .due_now(libris_application::notifications::CHANNEL);
        }
        Ok(queued)
    }

    fn cancel_loan_notifications(&mut self, loan_id: LoanId) -> Result<usize, StoreError> {
        crate::notifications::cancel_loan_notifications(self.conn, loan_id)
    }

    fn due_notifications(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
        exclude: &[String],
    ) -> Result<Vec<(libris_domain::notifications::NotificationId, String)>, StoreError> {
        crate::notifications::due_notifications(self.conn, now, limit, exclude)
    }

    fn lease_notifications(
        &mut self,
        ids: &[libris_domain::notifications::NotificationId],
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<libris_application::ports::LeasedNotification>, StoreError> {
        crate::notifications::lease_notifications(self.conn, ids, lease_until)
    }

    fn save_notification(
        &mut self,
        id: libris_domain::notifications::NotificationId,
        progress: &libris_domain::delivery::Progress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        crate::notifications::save_notification(self.conn, id, progress, at)
    }

    fn prune_notifications(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        crate::notifications::prune_notifications(self.conn, before)
    }

    fn due_backlog(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
        crate::notifications::due_backlog(self.conn, now)
    }

    fn list_notifications(
        &mut self,
        filter: &libris_application::ports::NotificationFilter,
        page: Page,
    ) -> Result<Paged<libris_domain::notifications::Notification>, StoreError> {
        crate::notifications::list_notifications(self.conn, filter, page)
    }
}

impl Campaigns for DieselTx<'_> {
    fn insert_campaign(
        &mut self,
        spec: &CampaignSpec,
        status: CampaignStatus,
        at: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        campaigns::insert_campaign(self.conn, spec, status, at)
    }

    fn campaign(&mut self, id: CampaignId) -> Result<Option<Campaign>, StoreError> {
        if self.hold == Hold::ReadRows {
            campaigns::hold_campaign(self.conn, id)?;
        }
        campaigns::campaign(self.conn, id)
    }

    fn update_campaign(
        &mut self,
        id: CampaignId,
        spec: &CampaignSpec,
        at: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        campaigns::update_campaign(self.conn, id, spec, at)
    }

    fn delete_campaign(&mut self, id: CampaignId) -> Result<(), StoreError> {
        campaigns::delete_campaign(self.conn, id)
    }

    fn list_campaigns(&mut self, page: Page) -> Result<Paged<Campaign>, StoreError> {
        campaigns::list_campaigns(self.conn, page)
    }

    fn set_campaign_status(
        &mut self,
        id: CampaignId,
        from: CampaignStatus,
        to: CampaignStatus,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        campaigns::set_campaign_status(self.conn, id, from, to, at)
    }

    fn campaigns_to_start(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<CampaignId>, StoreError> {
        campaigns::campaigns_to_start(self.conn, now, limit)
    }

    fn campaigns_to_finish(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<CampaignId>, StoreError> {
        campaigns::campaigns_to_finish(self.conn, now, limit)
    }

    fn queue_recipients(
        &mut self,
        id: CampaignId,
        filter: &CampaignFilter,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let queued = campaigns::queue_recipients(self.conn, id, filter, at)?;
        if queued > 0 {
            self.queued.due_now(SMS_CHANNEL);
        }
        Ok(queued)
    }

    fn close_pending_messages(
        &mut self,
        id: CampaignId,
        status: MessageStatus,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        campaigns::close_pending_messages(self.conn, id, status, now)
    }

    fn wake_waiting_messages(
        &mut self,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let woken = campaigns::wake_waiting_messages(self.conn, id, now)?;
        if woken > 0 {
            self.queued.due_now(SMS_CHANNEL);
        }
        Ok(woken)
    }

    fn delete_pending_messages_of(&mut self, user_id: UserId) -> Result<u64, StoreError> {
        campaigns::delete_pending_messages_of(self.conn, user_id)
    }

    fn list_messages(
        &mut self,
        id: CampaignId,
        status: Option<MessageStatus>,
        page: Page,
    ) -> Result<Paged<CampaignMessage>, StoreError> {
        campaigns::list_messages(self.conn, id, status, page)
    }

    fn message_totals(&mut self) -> Result<MessageCounts, StoreError> {
        campaigns::message_totals(self.conn)
    }

    fn activity_between(
        &mut self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<CampaignActivity>, StoreError> {
        campaigns::activity_between(self.conn, since, until)
    }

    fn due_messages(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
        exclude: &[String],
    ) -> Result<Vec<(MessageId, String)>, StoreError> {
        campaigns::due_messages(self.conn, now, limit, exclude)
    }

    fn messages_to_send(&mut self, ids: &[MessageId]) -> Result<Vec<OutgoingMessage>, StoreError> {
        campaigns::messages_to_send(self.conn, ids)
    }

    fn lease_messages(
        &mut self,
        ids: &[MessageId],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        campaigns::lease_messages(self.conn, ids, until)
    }

    fn defer_message(
        &mut self,
        id: MessageId,
        until: DateTime<Utc>,
        _at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        campaigns::defer_message(self.conn, id, until)
    }

    fn close_message(
        &mut self,
        id: MessageId,
        status: MessageStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        campaigns::close_message(self.conn, id, status, at)
    }

    fn save_message(
        &mut self,
        id: MessageId,
        progress: &Progress,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        campaigns::save_message(self.conn, id, progress, at)
    }

    fn cancel_if_campaign_cancelled(
        &mut self,
        ids: &[MessageId],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        campaigns::cancel_if_campaign_cancelled(self.conn, ids, at)
    }

    fn queue_statistics_email(
        &mut self,
        key: &str,
        email: &libris_domain::notifications::Email,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let queued = campaigns::queue_statistics_email(self.conn, key, email, at)?;
        if queued {
            self.queued
                .due_now(libris_application::notifications::CHANNEL);
        }
        Ok(queued)
    }

    fn statistics_emails_queued(&mut self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        campaigns::statistics_emails_queued(self.conn, keys)
    }

    fn due_message_backlog(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
        campaigns::due_message_backlog(self.conn, now)
    }
}

impl Settings for DieselTx<'_> {
    fn lock_settings(&mut self) -> Result<(), StoreError> {
        settings::lock_settings(self.conn)
    }

    fn stored_settings(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        settings::stored_settings(self.conn)
    }

    fn put_setting(
        &mut self,
        key: &str,
        value: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        settings::put_setting(self.conn, key, value, at)?;
        // Messages waiting for a gateway go out as soon as one is set.
        if key == libris_application::campaigns::settings::SMS_URL {
            self.queued.due_now(SMS_CHANNEL);
        }
        Ok(())
    }
}

impl SignOn for DieselTx<'_> {
    fn linked_user(&mut self, issuer: &str, subject: &str) -> Result<Option<UserId>, StoreError> {
        sign_on::linked_user(self.conn, issuer, subject)
    }

    fn user_with_email(&mut self, email: &str) -> Result<Option<UserId>, StoreError> {
        sign_on::user_with_email(self.conn, email)
    }

    fn insert_identity(&mut self, identity: &NewIdentity) -> Result<Identity, StoreError> {
        sign_on::insert_identity(self.conn, identity)
    }

    fn identities_of(&mut self, user_id: UserId) -> Result<Vec<Identity>, StoreError> {
        sign_on::identities_of(self.conn, user_id)
    }

    fn delete_identity(&mut self, user_id: UserId, id: i64) -> Result<bool, StoreError> {
        sign_on::delete_identity(self.conn, user_id, id)
    }

    fn insert_pending_login(
        &mut self,
        login: &PendingLogin,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sign_on::insert_pending_login(self.conn, login, at)
    }

    fn take_pending_login(
        &mut self,
        state: &str,
    ) -> Result<Option<(PendingLogin, DateTime<Utc>)>, StoreError> {
        sign_on::take_pending_login(self.conn, state)
    }

    fn sweep_pending_logins(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        sign_on::sweep_pending_logins(self.conn, before)
    }

    fn insert_login_code(
        &mut self,
        digest: &str,
        user_id: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sign_on::insert_login_code(self.conn, digest, user_id, expires_at)
    }

    fn take_login_code(
        &mut self,
        digest: &str,
    ) -> Result<Option<(UserId, DateTime<Utc>)>, StoreError> {
        sign_on::take_login_code(self.conn, digest)
    }

    fn sweep_login_codes(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        sign_on::sweep_login_codes(self.conn, before)
    }
}
