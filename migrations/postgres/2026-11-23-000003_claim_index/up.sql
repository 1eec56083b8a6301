-- The claim query filters on `status = ?`: a bound parameter, which does not
-- let the planner use an index partial on `status = 'pending'`, so every
-- claim scanned the whole table. This index leads with status and covers
-- what the claim reads, so a claim walks only due rows, in order.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_claim ON deliveries (status, next_attempt_at, webhook_id, lease_until);
