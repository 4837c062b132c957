-- The ledger: an append-only RFC 6962 Merkle log of canonical JSON entries.
-- Nothing here is ever updated or deleted; triggers refuse it even to the table
-- owner, and `gatelog verify` recomputes every hash from the entry bytes.

-- One row per entry, exactly the bytes that were hashed.
CREATE TABLE ledger_entries (
    idx          BIGINT PRIMARY KEY CHECK (idx >= 0),
    leaf_hash    BYTEA NOT NULL CHECK (length(leaf_hash) = 32),
    -- C2SP entry bundles prefix each entry with a 16-bit length.
    entry        BYTEA NOT NULL CHECK (length(entry) BETWEEN 1 AND 65535),
    provider     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    -- Identifies what the record is about (period, resource, ...); an entry with the
    -- same (provider, kind, natural_key) as an earlier one is an amendment of it.
    natural_key  TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    supersedes   BIGINT REFERENCES ledger_entries (idx) CHECK (supersedes < idx)
);
CREATE INDEX ledger_entries_by_key ON ledger_entries (provider, kind, natural_key, idx DESC);

-- Hash of every complete subtree (2^level leaves, aligned), stored when its last
-- leaf is appended. Tiles are ranges of one level; proofs need O(log n) rows.
CREATE TABLE ledger_nodes (
    level  SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx    BIGINT NOT NULL CHECK (idx >= 0),
    hash   BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Every checkpoint ever signed, in order: verify checks each is consistent with the next.
CREATE TABLE ledger_checkpoints (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tree_size   BIGINT NOT NULL CHECK (tree_size >= 0),
    root_hash   BYTEA NOT NULL CHECK (length(root_hash) = 32),
    -- The C2SP signed note, exactly as served at /checkpoint.
    note        TEXT NOT NULL,
    signed_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ledger_checkpoints_by_size ON ledger_checkpoints (tree_size);

-- The current head: one row, changed only by compare-and-swap on tree_size, and
-- never backwards. Appenders lock it (SELECT ... FOR UPDATE): it is the sequencer.
CREATE TABLE ledger_head (
    singleton     BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    tree_size     BIGINT NOT NULL CHECK (tree_size >= 0),
    root_hash     BYTEA NOT NULL CHECK (length(root_hash) = 32),
    checkpoint_id BIGINT REFERENCES ledger_checkpoints (id)
);
-- The empty tree's root is SHA-256 of the empty string (RFC 6962 §2.1).
INSERT INTO ledger_head (tree_size, root_hash) VALUES (0, sha256(''::bytea));

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE FUNCTION ledger_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tree_size < OLD.tree_size
       OR (NEW.tree_size = OLD.tree_size AND NEW.root_hash <> OLD.root_hash) THEN
        RAISE EXCEPTION 'the ledger head only moves forward: size % -> % refused', OLD.tree_size, NEW.tree_size
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_nodes_append_only BEFORE UPDATE OR DELETE ON ledger_nodes
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_nodes_no_truncate BEFORE TRUNCATE ON ledger_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_head_forward BEFORE UPDATE ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION ledger_head_forward_only();

-- Roles other than the owner may read and append, never change.
REVOKE UPDATE, DELETE, TRUNCATE ON ledger_entries, ledger_nodes, ledger_checkpoints FROM PUBLIC;
REVOKE DELETE, TRUNCATE ON ledger_head FROM PUBLIC;
