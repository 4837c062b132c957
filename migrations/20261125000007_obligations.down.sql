-- Reverses 20261125000007_obligations.up.sql.
DROP TABLE reporting_obligations;
