-- The projection (issue 16): the ledger's entries folded into the published state,
-- maintained in the same transaction as every append (src/db/projection.rs), so the
-- figures are never behind a signed checkpoint, survive restarts, and are shared by every
-- `serve` process on the database. The rule for "the latest version" is
-- src/projection/fold.rs; docs/LEDGER.md states it.
--
-- Unlike the ledger tables these are NOT append-only: they are derived, rows are replaced
-- as records are amended, and the whole projection can be dropped and rebuilt from the
-- entries at any time (`projection_head.version` below). Nothing here is evidence.

-- The latest version of every record: one row per (provider, kind, natural key). The record
-- itself is not copied: join ledger_entries on idx for its bytes.
CREATE TABLE projection_latest (
    provider     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    -- The record's natural key under today's rules; for an entry that no longer decodes, the
    -- key of the version it amends (it takes that version's place), else one of its own.
    natural_key  TEXT NOT NULL,
    -- The entry (ledger_entries.idx). Not a foreign key: checking one would lock every
    -- entry row it points at (FOR KEY SHARE) on every append, dirtying ledger pages.
    idx          BIGINT NOT NULL UNIQUE,
    -- Entries that carried this record: 1 + its amendments.
    versions     BIGINT NOT NULL CHECK (versions >= 1),
    -- The bucket (first day of the month of record_date); NULL when unreadable.
    month        DATE,
    record_date  DATE,
    -- NULL for kinds without them (acceptance) and when unreadable.
    resource     TEXT,
    region       TEXT,
    -- Why the record no longer decodes under today's rules; NULL when it does.
    unreadable   TEXT,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, kind, natural_key),
    CHECK ((unreadable IS NULL) = (month IS NOT NULL))
);
-- Recomputing the buckets a batch touches reads their latest rows. The month leads so that
-- this index cannot serve a (provider, kind) prefix: on a table without statistics yet (a
-- bulk load), the planner took it for primary-key lookups and scanned a provider's every
-- record per lookup.
CREATE INDEX projection_latest_by_bucket ON projection_latest (month, provider, kind);
-- Unreadable entries are few and listed (in entry order) wherever figures are published.
CREATE INDEX projection_latest_unreadable ON projection_latest (idx) WHERE unreadable IS NOT NULL;
-- Filtered dashboards and datasets: a kind, optionally one resource and region, a date range.
CREATE INDEX projection_latest_by_place ON projection_latest (kind, resource, region, record_date)
    WHERE unreadable IS NULL;

-- One summary per (provider, kind, month) of its latest readable records
-- (BucketSummary::to_bytes); a bucket with none has no row.
CREATE TABLE projection_buckets (
    provider  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    month     DATE NOT NULL,
    summary   BYTEA NOT NULL,
    PRIMARY KEY (provider, kind, month)
);

-- Each provider's buckets merged: its digest (Digest::to_bytes) and counts of its latest rows.
CREATE TABLE projection_providers (
    provider    TEXT PRIMARY KEY,
    -- Tree size after the batch that last changed this provider: pages that span providers
    -- re-read only the digests that changed since the checkpoint they last computed from.
    changed_at  BIGINT NOT NULL CHECK (changed_at >= 0),
    -- Latest versions (readable or not), those amended at least once, those unreadable.
    records     BIGINT NOT NULL CHECK (records >= 0),
    amended     BIGINT NOT NULL CHECK (amended >= 0),
    unreadable  BIGINT NOT NULL CHECK (unreadable >= 0),
    digest      BYTEA NOT NULL
);

-- How far the projection has folded, and which version of the code folded it. A binary
-- whose decoding rules differ (PROJECTION_VERSION in src/db/projection.rs) empties the
-- tables and folds again from entry 0. Version 0: not folded by any code yet.
CREATE TABLE projection_head (
    singleton  BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    tree_size  BIGINT NOT NULL CHECK (tree_size >= 0),
    version    INTEGER NOT NULL CHECK (version >= 0)
);
INSERT INTO projection_head (tree_size, version) VALUES (0, 0);
