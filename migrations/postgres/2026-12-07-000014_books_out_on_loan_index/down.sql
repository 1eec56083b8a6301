DROP INDEX books_out_on_loan_by_author;
DROP INDEX books_out_on_loan;
