-- The dashboard's timeline counts the deliveries made in the last hours
-- (`GET /api/webhooks/deliveries/timeline/`): a range of `created_at`, read
-- from this index instead of every delivery ever made.
CREATE INDEX deliveries_created ON deliveries (created_at);
