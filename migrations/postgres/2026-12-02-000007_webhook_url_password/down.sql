ALTER TABLE webhooks DROP COLUMN url_password;
