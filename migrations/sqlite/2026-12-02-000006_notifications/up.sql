-- The email queue: one row per message to one recipient, queued in the
-- transaction that decided to send it and worked off like deliveries.
--
-- `loan_id` and `event_id` are plain values, no foreign keys: a notice is a
-- record of what was sent and outlives its loan (and events are never
-- deleted), and a returned book cancels its pending reminders explicitly.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- `email`: the only channel so far.
    channel TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('event', 'loan_reminder', 'overdue_notice')),
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- A delivered email reads as `sent`.
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    retry_base BIGINT NOT NULL DEFAULT 0,
    -- When it is due: now, or later for a reminder.
    next_attempt_at TEXT NOT NULL,
    -- Set while a worker holds the notification; a dead worker's lease expires.
    lease_until TEXT,
    last_error TEXT,
    event_id TEXT,
    loan_id BIGINT,
    created_at TEXT NOT NULL,
    -- When it was sent; the other states change only with an attempt.
    sent_at TEXT,
    -- One email per event and recipient, however often the event is handled.
    -- Rows without an event (NULL) are not constrained.
    CONSTRAINT notifications_once_per_event UNIQUE (event_id, recipient)
);
-- One reminder and one overdue notice per loan.
CREATE UNIQUE INDEX notifications_once_per_loan ON notifications (loan_id, kind)
    WHERE loan_id IS NOT NULL;
-- Shaped like `deliveries_claim`: the claim binds `status = ?`, which a partial
-- index on `status = 'pending'` cannot serve, so this one leads with status and
-- covers what the claim reads.
CREATE INDEX notifications_claim ON notifications (status, next_attempt_at, recipient, lease_until);
