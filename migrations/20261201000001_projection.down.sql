-- Reverses 20261201000001_projection.up.sql. Only derived state is lost: the ledger is
-- untouched, and migrating up again rebuilds the projection from its entries.
DROP TABLE projection_head;
DROP TABLE projection_providers;
DROP TABLE projection_buckets;
DROP TABLE projection_latest;
