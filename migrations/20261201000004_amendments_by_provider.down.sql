-- Reverses 20261201000004_amendments_by_provider.up.sql.
DROP INDEX ledger_entries_amendments_by_provider;
