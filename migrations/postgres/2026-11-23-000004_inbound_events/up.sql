-- Webhooks other systems sent us. `message_id` is the sender's id: the unique
-- index is what makes a repeated delivery a no-op, even when two copies race.
CREATE TABLE inbound_events (
    id TEXT PRIMARY KEY NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    event TEXT,
    scheme TEXT NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX inbound_events_received ON inbound_events (received_at);
