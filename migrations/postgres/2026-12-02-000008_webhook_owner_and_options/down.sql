ALTER TABLE events DROP COLUMN about_user_id;
DROP INDEX webhooks_owner;
ALTER TABLE webhooks DROP COLUMN options;
ALTER TABLE webhooks DROP COLUMN owner_id;
