-- Cosignatures collected from witnesses (C2SP tlog-witness / tlog-cosignature):
-- one per (checkpoint, witness). Kept for ever, like the checkpoints they sign:
-- a later reader can see which witness vouched for which tree head, and when.
CREATE TABLE witness_cosignatures (
    checkpoint_id BIGINT NOT NULL REFERENCES ledger_checkpoints (id),
    -- The witness's verifier key (name+id+key): which witness, unambiguously.
    witness       TEXT NOT NULL,
    witness_name  TEXT NOT NULL,
    tree_size     BIGINT NOT NULL CHECK (tree_size >= 0),
    -- The note signature line exactly as the witness returned it.
    line          TEXT NOT NULL,
    -- The timestamp inside the cosignature (the witness's clock).
    cosigned_at   TIMESTAMPTZ NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (checkpoint_id, witness)
);
CREATE INDEX witness_cosignatures_latest ON witness_cosignatures (witness, tree_size DESC);

CREATE TRIGGER witness_cosignatures_append_only BEFORE UPDATE OR DELETE ON witness_cosignatures
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER witness_cosignatures_no_truncate BEFORE TRUNCATE ON witness_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON witness_cosignatures FROM PUBLIC;
