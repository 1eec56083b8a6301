DELETE FROM notifications WHERE kind = 'daily_statistics';
CREATE TABLE notifications_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('event', 'loan_reminder', 'overdue_notice')),
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
DROP TABLE settings;
DROP TABLE campaign_messages;
DROP TABLE campaigns;
