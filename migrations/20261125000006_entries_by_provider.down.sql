-- Reverses 20261125000006_entries_by_provider.up.sql.
DROP INDEX ledger_entries_by_provider;
