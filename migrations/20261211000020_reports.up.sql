-- Reports by others, answered by the provider (issue 19).
--
-- Reporters (journalists, researchers, civic groups) are registered in `providers` with
-- role 'reporter': they share the slug namespace (an entry's `provider` field names its
-- filer, a reporter for a report), and tokens, keys and idempotency keys work for both.
-- The operator may distrust a reporter: its reports filed from then on are still logged,
-- but hidden from figures and counts, with the reason shown.
ALTER TABLE providers
    ADD COLUMN role TEXT NOT NULL DEFAULT 'provider' CHECK (role IN ('provider', 'reporter')),
    ADD COLUMN distrusted_at TIMESTAMPTZ,
    ADD COLUMN distrust_reason TEXT CHECK (length(distrust_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT providers_distrust_has_reason CHECK ((distrusted_at IS NULL) = (distrust_reason IS NULL));

-- Every report entry, by the provider it is about: filled in the append transaction, so
-- a provider's reports are one index range, whatever the size of the ledger. Derived from
-- the ledger (the entry's record), except `hidden_reason`: the reporter's distrust reason
-- when the report was filed, which is the operator's decision, not the reporter's.
CREATE TABLE reports (
    idx            BIGINT PRIMARY KEY REFERENCES ledger_entries (idx),
    reporter       TEXT NOT NULL,
    about          TEXT NOT NULL,
    reported_kind  TEXT NOT NULL CHECK (reported_kind IN ('lockup', 'price')),
    natural_key    TEXT NOT NULL,
    published_date DATE NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL,
    supersedes     BIGINT REFERENCES reports (idx),
    hidden_reason  TEXT
);
CREATE INDEX reports_by_about ON reports (about, idx);
CREATE INDEX reports_by_reporter_key ON reports (reporter, natural_key, idx);
CREATE INDEX reports_by_supersedes ON reports (supersedes) WHERE supersedes IS NOT NULL;

-- Every answer entry, by the report it answers (the latest answer is the one with the
-- highest idx: a later answer supersedes an earlier one, as amendments do).
CREATE TABLE report_answers (
    idx          BIGINT PRIMARY KEY REFERENCES ledger_entries (idx),
    report       BIGINT NOT NULL REFERENCES reports (idx),
    provider     TEXT NOT NULL,
    response     TEXT NOT NULL CHECK (response IN ('confirm', 'dispute', 'correct')),
    received_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX report_answers_by_report ON report_answers (report, idx);
