-- Every consumer of the event log (webhook fan-out, email notifications, and
-- the channels to come) keeps its own dispatch mark per event, so no
-- consumer hides an event from another. A consumer registers the patterns it
-- listens to; appending an event adds one mark per consumer that listens,
-- in the same transaction, and a consumer deletes its marks in the
-- transaction that handles the events. A consumer registered later starts
-- with the events appended after it: it never handles the past.
CREATE TABLE event_consumers (
    consumer TEXT NOT NULL,
    -- `*`, `family.*` or an exact event name.
    pattern TEXT NOT NULL,
    PRIMARY KEY (consumer, pattern)
);

-- A row: `consumer` has still to handle the event `event_seq`.
CREATE TABLE event_dispatch (
    consumer TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_seq)
) WITHOUT ROWID;

-- Webhook fan-out was the one consumer: its undispatched events carry over.
INSERT INTO event_consumers (consumer, pattern) VALUES ('webhooks', '*');
INSERT INTO event_dispatch (consumer, event_seq)
    SELECT 'webhooks', seq FROM events WHERE dispatched_at IS NULL;
DROP INDEX events_undispatched;
ALTER TABLE events DROP COLUMN dispatched_at;
