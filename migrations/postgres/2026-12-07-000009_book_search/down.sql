DROP TABLE book_search_pending;
DROP TABLE book_search;
