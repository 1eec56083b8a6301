ALTER TABLE events ADD COLUMN dispatched_at TEXT;
UPDATE events SET dispatched_at = occurred_at
    WHERE seq NOT IN (SELECT event_seq FROM event_dispatch WHERE consumer = 'webhooks');
CREATE INDEX events_undispatched ON events (seq) WHERE dispatched_at IS NULL;
DROP TABLE event_dispatch;
DROP TABLE event_consumers;
