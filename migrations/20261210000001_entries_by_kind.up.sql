-- A record kind's newest entries (the per-kind Atom feeds) without scanning the
-- whole log backwards when the kind is rare.
CREATE INDEX ledger_entries_by_kind ON ledger_entries (kind, idx DESC);
