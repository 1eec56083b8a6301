DELETE FROM notifications WHERE kind = 'daily_statistics';
DROP INDEX notifications_once_per_key;
ALTER TABLE notifications DROP COLUMN dedup_key;
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('event', 'loan_reminder', 'overdue_notice'));
DROP TABLE settings;
DROP TABLE campaign_messages;
DROP TABLE campaigns;
