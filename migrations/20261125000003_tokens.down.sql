-- Reverses 20261125000003_tokens.up.sql.
DROP TABLE idempotency_keys;
DROP TABLE api_tokens;
