DROP TABLE webhook_logs;
DROP TABLE deliveries;
DROP TABLE webhooks;
