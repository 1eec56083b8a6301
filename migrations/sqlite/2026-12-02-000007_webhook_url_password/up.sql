-- A broker URL's password, kept apart from `url`, which shows `***` in its
-- place: every answer, event and log line prints `url`, only sending reads this.
ALTER TABLE webhooks ADD COLUMN url_password TEXT;
