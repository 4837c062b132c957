-- Reverses 20261125000002_ledger.up.sql. Destroys the ledger: for development only.
DROP TABLE ledger_head;
DROP TABLE ledger_checkpoints;
DROP TABLE ledger_nodes;
DROP TABLE ledger_entries;
DROP FUNCTION ledger_head_forward_only();
DROP FUNCTION ledger_refuse_change();
