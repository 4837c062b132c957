-- Reverses 20261201000002_projection_filings.up.sql. The table is derived: nothing is lost
-- (running the up migration again rebuilds it from the ledger).
DROP TABLE projection_filings;
