-- A provider's newest amendments (the scorecard's list) in as many index entries as it
-- lists. `ledger_entries_by_provider` alone makes `WHERE provider = $1 AND supersedes IS NOT
-- NULL ORDER BY idx DESC LIMIT 20` walk every entry of a provider that amended fewer than
-- twenty records: 300,000 heap probes for a large importer, on every new checkpoint.
CREATE INDEX ledger_entries_amendments_by_provider ON ledger_entries (provider, idx DESC)
    WHERE supersedes IS NOT NULL;
