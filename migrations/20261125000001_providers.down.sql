-- Reverses 20261125000001_providers.up.sql.
DROP TABLE providers;
