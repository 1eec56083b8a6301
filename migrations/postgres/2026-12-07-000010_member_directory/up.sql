-- The member directory: members as the clients of SMS campaigns (phone,
-- operator code, tags, time zone), emails unique among members who have one,
-- members without a password, and deletes that keep the library's history.
--
-- A member without a password has an empty `password_hash`, as on SQLite
-- (where the column cannot become nullable in place): no hash verifies
-- against it, and the application refuses it before trying.

-- The operator code is the three digits after the leading 7 of a phone in the
-- gateway's form `7XXXXXXXXXX`, written by the application with every phone;
-- NULL for no phone and for a phone stored before that rule that does not fit
-- it. Campaigns select members by it.
ALTER TABLE profiles ADD COLUMN operator_code TEXT NULL;
-- An IANA name; campaigns read send windows in it.
ALTER TABLE profiles ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';

-- A phone stored earlier fits the new form when, as the application does with
-- input, spaces, hyphens, parentheses and one leading `+` are dropped and 11
-- digits starting with 7 are left: it is stored in that form. Any other
-- phone is kept as it was.
UPDATE profiles
    SET phone = regexp_replace(regexp_replace(phone, '[ ()-]', '', 'g'), '^\+', '')
    WHERE regexp_replace(regexp_replace(phone, '[ ()-]', '', 'g'), '^\+', '') ~ '^7[0-9]{10}$';
UPDATE profiles SET operator_code = substring(phone from 2 for 3) WHERE phone ~ '^7[0-9]{10}$';
CREATE INDEX profiles_operator_code ON profiles (operator_code);

-- A member's tags: lowercase `[a-z0-9_-]{1,32}`, at most 20 (the application
-- checks both). The (tag, user_id) index serves "members with this tag".
CREATE TABLE member_tags (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (user_id, tag)
);
CREATE INDEX member_tags_tag ON member_tags (tag, user_id);

-- Emails are unique, case-insensitively, among members who have one. Where
-- earlier registrations share an address, the oldest member (lowest id) keeps
-- it; the others' are cleared, and kept here for an admin to review.
CREATE TABLE member_email_duplicates (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email TEXT NOT NULL
);
INSERT INTO member_email_duplicates (user_id, email)
    SELECT later.id, later.email FROM users AS later
    WHERE later.email <> '' AND EXISTS (
        SELECT 1 FROM users AS earlier
        WHERE earlier.email <> '' AND lower(earlier.email) = lower(later.email)
            AND earlier.id < later.id
    );
UPDATE users SET email = '' WHERE id IN (SELECT user_id FROM member_email_duplicates);
CREATE UNIQUE INDEX users_email_lower ON users (lower(email)) WHERE email <> '';

-- A loan outlives its member: the member's id stays without a foreign key (a
-- member with an open loan cannot be deleted), and the username is kept
-- beside it.
ALTER TABLE loans ADD COLUMN username TEXT NOT NULL DEFAULT '';
UPDATE loans SET username = users.username FROM users WHERE users.id = loans.user_id;
ALTER TABLE loans ALTER COLUMN username DROP DEFAULT;
ALTER TABLE loans DROP CONSTRAINT loans_user_id_fkey;
