DROP INDEX books_out_on_loan;
