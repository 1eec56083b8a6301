-- Libris's library core on SQLite. Times are UTC timestamps written by the
-- application's clock (TEXT, one fixed format, so they compare as strings);
-- UUIDs and JSON are TEXT, so the same diesel queries run on both backends.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE profiles (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    bio TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    books_borrowed BIGINT NOT NULL DEFAULT 0,
    books_returned BIGINT NOT NULL DEFAULT 0,
    subscribed_to_notifications BOOLEAN NOT NULL DEFAULT 1
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE authors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    bio TEXT NOT NULL DEFAULT '',
    total_books BIGINT NOT NULL DEFAULT 0 CHECK (total_books >= 0),
    available_books BIGINT NOT NULL DEFAULT 0 CHECK (available_books >= 0),
    created_at TEXT NOT NULL
);

CREATE TABLE books (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL CHECK (length(title) > 0),
    author_id INTEGER NOT NULL REFERENCES authors (id) ON DELETE RESTRICT,
    isbn TEXT UNIQUE,
    available BOOLEAN NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX books_author_id ON books (author_id);

-- Audit entries keep the book's id and title, not a foreign key: they
-- outlive the book.
CREATE TABLE book_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    book_id BIGINT NOT NULL,
    book_title TEXT NOT NULL,
    action TEXT NOT NULL,
    user_id BIGINT,
    username TEXT,
    created_at TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX book_logs_book_id ON book_logs (book_id);

-- A loan keeps its book's id and title without a foreign key, so a member's
-- history survives the book's deletion (a book on loan cannot be deleted).
CREATE TABLE loans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    book_id BIGINT NOT NULL,
    book_title TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    borrowed_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    returned_at TEXT
);
-- At most one open loan per book, whatever the application does.
CREATE UNIQUE INDEX loans_one_open_per_book ON loans (book_id) WHERE returned_at IS NULL;
CREATE INDEX loans_user_id ON loans (user_id);

CREATE TABLE imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    count BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

-- The outbox. `seq` orders events as they were appended; `dispatched_at` is
-- set once fan-out has created the event's deliveries.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    user_id BIGINT,
    username TEXT,
    occurred_at TEXT NOT NULL,
    dispatched_at TEXT
);
CREATE INDEX events_name ON events (name);
CREATE INDEX events_undispatched ON events (seq) WHERE dispatched_at IS NULL;
