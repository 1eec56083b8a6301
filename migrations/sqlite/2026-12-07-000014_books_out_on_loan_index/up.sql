-- The books out on loan, newest first, for lists of `?available=false`. A
-- library lends a small part of its books at a time, so without this such a
-- list reads every book to find a page of them. Partial: an available book
-- is not in it, and the query says `NOT available` in so many words so that
-- SQLite matches it to the index. (PostgreSQL has a second one by author;
-- SQLite, without statistics, prefers `books_author_id` for an author's
-- books whatever else the query asks, so it would only cost writes here.)
CREATE INDEX books_out_on_loan ON books (id) WHERE NOT available;
