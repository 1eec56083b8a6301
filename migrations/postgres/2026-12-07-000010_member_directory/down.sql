-- Loans go back to belonging to a member: those of deleted members go, as
-- the cascade did before.
DELETE FROM loans WHERE user_id NOT IN (SELECT id FROM users);
ALTER TABLE loans ADD CONSTRAINT loans_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE loans DROP COLUMN username;

DROP INDEX users_email_lower;
UPDATE users SET email = member_email_duplicates.email FROM member_email_duplicates
    WHERE member_email_duplicates.user_id = users.id;
DROP TABLE member_email_duplicates;

DROP TABLE member_tags;
DROP INDEX profiles_operator_code;
ALTER TABLE profiles DROP COLUMN timezone;
ALTER TABLE profiles DROP COLUMN operator_code;
