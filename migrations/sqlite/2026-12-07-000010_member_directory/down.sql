-- Loans go back to belonging to a member: those of deleted members go, as
-- the cascade did before.
CREATE TABLE loans_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    book_id BIGINT NOT NULL,
    book_title TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    borrowed_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    returned_at TEXT
);
INSERT INTO loans_rebuilt (id, book_id, book_title, user_id, borrowed_at, due_at, returned_at)
SELECT id, book_id, book_title, user_id, borrowed_at, due_at, returned_at FROM loans
WHERE user_id IN (SELECT id FROM users);
DELETE FROM sqlite_sequence WHERE name = 'loans_rebuilt';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'loans_rebuilt', seq FROM sqlite_sequence WHERE name = 'loans';
DROP TABLE loans;
ALTER TABLE loans_rebuilt RENAME TO loans;
CREATE UNIQUE INDEX loans_one_open_per_book ON loans (book_id) WHERE returned_at IS NULL;
CREATE INDEX loans_user_id ON loans (user_id);

DROP INDEX users_email_lower;
UPDATE users SET email = (
    SELECT email FROM member_email_duplicates WHERE member_email_duplicates.user_id = users.id
) WHERE id IN (SELECT user_id FROM member_email_duplicates);
DROP TABLE member_email_duplicates;

DROP TABLE member_tags;
DROP INDEX profiles_operator_code;
ALTER TABLE profiles DROP COLUMN timezone;
ALTER TABLE profiles DROP COLUMN operator_code;
