-- Entry pages link an entry to the one that superseded it: find it by `supersedes`.
CREATE INDEX ledger_entries_superseded_by ON ledger_entries (supersedes) WHERE supersedes IS NOT NULL;
