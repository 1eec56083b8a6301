-- Members' own webhooks, and how each webhook shapes what it sends.
--
-- `owner_id`: the member who owns the webhook; NULL for an admin's, which
-- sees every event it matches. A member's webhook goes with the member.
-- `options`: JSON of the request's shape (method, content type, payload
-- format and template) and the event filter, as the API takes them; the
-- application validates them before they are written.
ALTER TABLE webhooks ADD COLUMN owner_id BIGINT REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE webhooks ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
CREATE INDEX webhooks_owner ON webhooks (owner_id);

-- The member an event is about (the borrower, the user changed, a custom
-- event's `user_id`): a member's webhook receives only these.
ALTER TABLE events ADD COLUMN about_user_id BIGINT;
