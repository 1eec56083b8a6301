-- Full-text book search (docs/search.md). The store writes the entries in
-- the transaction that changes the book or its author, with the words of
-- libris_domain::search (one normalizer for the index and the queries), so
-- the lexemes are taken as given: no text search configuration, no stemming.
-- Title words carry weight A, the author's and the ISBN's the default D:
-- a query restricted to A finds the books whose title holds every word,
-- which rank first. Prefix matching is tsquery's `:*`, served by the GIN
-- index.
CREATE TABLE book_search (
    book_id BIGINT PRIMARY KEY REFERENCES books (id) ON DELETE CASCADE,
    doc TSVECTOR NOT NULL
);
CREATE INDEX book_search_doc ON book_search USING GIN (doc);

-- Books whose entry the store still has to write. Migrations cannot run the
-- Rust normalizer, so this one queues the existing books and the store
-- indexes them when it opens, before it serves anything.
CREATE TABLE book_search_pending (book_id BIGINT PRIMARY KEY);
INSERT INTO book_search_pending (book_id) SELECT id FROM books;
