DROP INDEX deliveries_created;
