-- SMS campaigns to members, the "sms" channel's queue, runtime settings, and
-- the daily statistics email.

-- A campaign: a text for the members its filter matches, sent between
-- `start_at` and `end_at`, in each member's local-time window when it has one.
-- `filter` is JSON `{"tags": [...], "operator_codes": [...]}` as the API takes
-- it; the application validates it before it is written, and the start reads
-- it to build the one INSERT ... SELECT that queues the messages.
CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL CHECK (length(text) > 0),
    start_at TEXT NOT NULL,
    end_at TEXT NOT NULL,
    filter TEXT NOT NULL DEFAULT '{}',
    -- `HH:MM`, both or neither.
    send_window_from TEXT,
    send_window_to TEXT,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'finished', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (end_at > start_at),
    CHECK ((send_window_from IS NULL) = (send_window_to IS NULL))
);
-- The scheduler's look-ups: scheduled campaigns by start, running ones.
CREATE INDEX campaigns_status ON campaigns (status, start_at);

-- The "sms" channel's queue: one message per (campaign, member), shaped like
-- `notifications` for the delivery engine. The member's id, username, phone
-- and time zone are copied when the campaign starts and no foreign key ties
-- the row to `users`: a sent message outlives the member (a member's delete
-- removes their pending messages explicitly).
CREATE TABLE campaign_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    phone TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    -- `dead` (every retry used) reads as `failed`; `expired`: past the
    -- campaign's end; `cancelled`: the campaign was.
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'expired', 'cancelled')),
    attempts BIGINT NOT NULL DEFAULT 0,
    retry_base BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    last_error TEXT,
    -- Set while the message waits for its member's window to open (not for
    -- a retry): a change of the campaign's window makes these due again.
    window_wait BOOLEAN NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    -- When its status last changed (the daily statistics count by it).
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    CONSTRAINT campaign_messages_once_per_member UNIQUE (campaign_id, user_id)
);
-- Shaped like `notifications_claim`.
CREATE INDEX campaign_messages_claim ON campaign_messages (status, next_attempt_at, lease_until);
-- Counts by status, cancel and expiry per campaign.
CREATE INDEX campaign_messages_campaign ON campaign_messages (campaign_id, status);
-- A member's delete removes their pending messages.
CREATE INDEX campaign_messages_user ON campaign_messages (user_id);
-- The daily statistics: messages by last change.
CREATE INDEX campaign_messages_updated ON campaign_messages (updated_at);

-- Settings an admin changes at runtime (`/api/settings/`); an absent key
-- falls back to its environment variable.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The daily statistics email is a notification of its own kind, once a day
-- per address: `dedup_key` (`daily_statistics:<day>:<address>`) is unique.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt
-- with the same rows, ids and id sequence.
CREATE TABLE notifications_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('event', 'loan_reminder', 'overdue_notice', 'daily_statistics')),
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    retry_base BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    last_error TEXT,
    event_id TEXT,
    loan_id BIGINT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    dedup_key TEXT,
    CONSTRAINT notifications_once_per_event UNIQUE (event_id, recipient)
);
INSERT INTO notifications_rebuilt (id, channel, kind, recipient, subject, body, status,
    attempts, retry_base, next_attempt_at, lease_until, last_error, event_id, loan_id,
    created_at, sent_at)
SELECT id, channel, kind, recipient, subject, body, status, attempts, retry_base,
    next_attempt_at, lease_until, last_error, event_id, loan_id, created_at, sent_at
FROM notifications;
-- The id sequence goes with the rows: an id is never given twice.
DELETE FROM sqlite_sequence WHERE name = 'notifications_rebuilt';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'notifications_rebuilt', seq FROM sqlite_sequence WHERE name = 'notifications';
DROP TABLE notifications;
ALTER TABLE notifications_rebuilt RENAME TO notifications;
CREATE UNIQUE INDEX notifications_once_per_loan ON notifications (loan_id, kind)
    WHERE loan_id IS NOT NULL;
CREATE INDEX notifications_claim ON notifications (status, next_attempt_at, recipient, lease_until);
CREATE UNIQUE INDEX notifications_once_per_key ON notifications (dedup_key)
    WHERE dedup_key IS NOT NULL;
