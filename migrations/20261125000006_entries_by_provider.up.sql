-- A provider's newest entries and amendments (scorecards, per-provider feeds)
-- without scanning the whole log.
CREATE INDEX ledger_entries_by_provider ON ledger_entries (provider, idx DESC);
