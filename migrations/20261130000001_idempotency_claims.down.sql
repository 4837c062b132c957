-- Reverses 20261130000001_idempotency_claims.up.sql. The old shape stored whole response
-- bodies, which SQL cannot rebuild (the proofs come from the tree): remembered answers are
-- forgotten, and a retried batch is classified again (duplicates, nothing appended twice).
DELETE FROM idempotency_keys;
DROP INDEX idempotency_keys_by_age;
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_claimed_or_finished,
    DROP COLUMN refs,
    DROP COLUMN outcomes,
    DROP COLUMN checkpoint_id,
    DROP COLUMN tree_size,
    ALTER COLUMN status SET NOT NULL,
    ADD COLUMN response JSONB NOT NULL;
