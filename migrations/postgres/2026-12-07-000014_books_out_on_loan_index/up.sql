-- The books out on loan, newest first, for lists of `?available=false`
-- with and without `?author=`. A library lends a small part of its books at
-- a time, so without these such a list reads every book to find a page of
-- them. Partial: an available book is in neither, and the queries say
-- `NOT available` in so many words so that PostgreSQL matches them to
-- the indexes.
CREATE INDEX books_out_on_loan ON books (id) WHERE NOT available;
CREATE INDEX books_out_on_loan_by_author ON books (author_id, id) WHERE NOT available;
