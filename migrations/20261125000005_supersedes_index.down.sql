-- Reverses 20261125000005_supersedes_index.up.sql.
DROP INDEX ledger_entries_superseded_by;
