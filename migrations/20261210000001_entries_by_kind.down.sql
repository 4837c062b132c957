-- Reverses 20261210000001_entries_by_kind.up.sql.
DROP INDEX ledger_entries_by_kind;
