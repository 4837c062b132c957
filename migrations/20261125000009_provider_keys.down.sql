-- Reverses 20261125000009_provider_keys.up.sql.
DROP TABLE provider_keys;
DROP FUNCTION provider_keys_revoke_only();
