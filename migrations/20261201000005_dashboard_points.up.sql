-- The dashboards' points (issue 16): per bucket, what the cross-provider dashboards compute
-- with (src/projection/points.rs), so a dashboard over every resource and region reads a
-- few bytes per record instead of every record. Filled by the refold that
-- PROJECTION_VERSION 2 triggers; the default only lets the column be added to a full table.
ALTER TABLE projection_buckets ADD COLUMN points BYTEA NOT NULL DEFAULT ''::bytea;
-- One kind's buckets, provider by provider (the dashboards stream them in this order, so
-- they hold one provider's points at a time), optionally from a month on.
CREATE INDEX projection_buckets_by_kind ON projection_buckets (kind, provider, month);
