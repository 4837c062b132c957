-- Idempotency keys are claimed before the batch runs, and remember a compact summary
-- of the answer instead of the whole response body (issue 15).
--
-- A row whose status is NULL is a claim in flight: another request with the same key
-- gets 409 until the claim is finished (the summary columns set) or released (the row
-- deleted on failure). The answer is rebuilt from the summary: the same body parsed again
-- gives positions, kinds and natural keys; the checkpoint row and the stored tree give
-- the proofs, exactly as first sent.
--
-- Keys expire GATELOG_IDEMPOTENCY_DAYS after created_at (the claim time): an expired key
-- counts as unused and `serve` deletes expired rows. This table is not part of the
-- ledger, so unlike the ledger tables it is not append-only.
ALTER TABLE idempotency_keys
    ALTER COLUMN status DROP NOT NULL,
    ADD COLUMN tree_size BIGINT CHECK (tree_size >= 0),
    -- The checkpoint every proof of the answer leads to; NULL for a dry run.
    ADD COLUMN checkpoint_id BIGINT REFERENCES ledger_checkpoints (id),
    -- One letter per record, in submission order: c(reated), a(mended), d(uplicate).
    ADD COLUMN outcomes TEXT CHECK (outcomes ~ '^[cad]*$'),
    -- In record order: the superseded entry of each amendment, the existing entry of each
    -- duplicate. New entries need no index: they are consecutive, ending at tree_size
    -- (for a dry run, starting at it).
    ADD COLUMN refs BIGINT[];

-- Answers remembered in the old shape are converted, so a retry after the upgrade is
-- still answered as the first time.
UPDATE idempotency_keys k SET
    tree_size = (k.response ->> 'tree_size')::bigint,
    checkpoint_id = (
        SELECT c.id FROM ledger_checkpoints c WHERE c.note = k.response ->> 'checkpoint' ORDER BY c.id LIMIT 1
    ),
    outcomes = (
        SELECT coalesce(string_agg(left(r ->> 'outcome', 1), '' ORDER BY n), '')
        FROM jsonb_array_elements(k.response -> 'records') WITH ORDINALITY AS x (r, n)
    ),
    refs = (
        SELECT coalesce(array_agg(
            CASE r ->> 'outcome' WHEN 'amended' THEN (r ->> 'supersedes')::bigint ELSE (r ->> 'entry_index')::bigint END
            ORDER BY n), '{}')
        FROM jsonb_array_elements(k.response -> 'records') WITH ORDINALITY AS x (r, n)
        WHERE r ->> 'outcome' IN ('amended', 'duplicate')
    );
-- One whose checkpoint cannot be found cannot be rebuilt: forget it (a retry is then
-- classified again, as without a key: duplicates, nothing appended twice).
DELETE FROM idempotency_keys WHERE response ? 'checkpoint' AND checkpoint_id IS NULL;

ALTER TABLE idempotency_keys
    DROP COLUMN response,
    ADD CONSTRAINT idempotency_keys_claimed_or_finished CHECK (
        (status IS NULL AND tree_size IS NULL AND checkpoint_id IS NULL AND outcomes IS NULL AND refs IS NULL)
        OR (status IS NOT NULL AND tree_size IS NOT NULL AND outcomes IS NOT NULL AND refs IS NOT NULL)
    );

-- Pruning deletes by age.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
