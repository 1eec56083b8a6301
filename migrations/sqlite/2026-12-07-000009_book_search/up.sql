-- Full-text book search (docs/search.md). The store writes the entries in
-- the transaction that changes the book or its author, with the words of
-- libris_domain::search (one normalizer for the index and the queries).
--
-- Contentless FTS5: the text lives in `books`/`authors` only; the index keeps
-- the terms. Each word is stored with its prefixes (up to 12 characters), so
-- "every query word starts a word" is an exact term lookup: no merging of
-- every term under a prefix at query time. `contentless_delete` lets the store
-- delete or replace an entry by rowid alone. `detail=column` keeps which
-- column holds a term (title first in the ranking) but no positions, which
-- search never uses. The `ascii` tokenizer only splits on ASCII punctuation:
-- the terms written here are already folded words with none.
CREATE VIRTUAL TABLE book_search USING fts5(
    title,
    other,
    content = '',
    contentless_delete = 1,
    detail = column,
    tokenize = 'ascii'
);

-- How many books hold a term, read without visiting each match: the count of
-- a one-word search.
CREATE VIRTUAL TABLE book_search_vocab USING fts5vocab(book_search, row);

-- Books whose entry the store still has to write. Migrations cannot run the
-- Rust normalizer, so this one queues the existing books and the store
-- indexes them when it opens, before it serves anything.
CREATE TABLE book_search_pending (book_id INTEGER PRIMARY KEY);
INSERT INTO book_search_pending (book_id) SELECT id FROM books;
