-- Webhook subscriptions, their deliveries and the log of every attempt.

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    -- JSON array of patterns: exact names, `family.*`, `*`.
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    -- JSON array of [name, value] pairs, in the order given.
    headers TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    failure_count BIGINT NOT NULL DEFAULT 0,
    failing_since TEXT,
    disabled_reason TEXT
);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    retry_base BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    -- Set while a worker holds the delivery; a dead worker's lease expires.
    lease_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- One delivery per event and subscription, whatever fan-out does twice.
CREATE UNIQUE INDEX deliveries_once_per_event ON deliveries (webhook_id, event_id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

-- Attempts outlive their webhook and delivery: no foreign keys.
CREATE TABLE webhook_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    delivery_id BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    payload TEXT NOT NULL,
    response_status BIGINT,
    response_body TEXT NOT NULL,
    success BOOLEAN NOT NULL,
    error_message TEXT,
    duration_ms BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX webhook_logs_webhook_id ON webhook_logs (webhook_id);
CREATE INDEX webhook_logs_delivery_id ON webhook_logs (delivery_id);
