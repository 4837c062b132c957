DROP INDEX projection_buckets_by_kind;
ALTER TABLE projection_buckets DROP COLUMN points;
