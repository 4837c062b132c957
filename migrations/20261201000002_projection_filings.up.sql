-- The compliance report's input (issue 16): the ledger's filings summed up per provider,
-- kind and record date: how many originals (entries that amend nothing) and when the first
-- was accepted, how many amendments and when the latest was. A period's figures are the
-- sums of its dates, so the report reads this table instead of every filing.
--
-- Derived, NOT append-only and not evidence: each append adds its batch's filings in the
-- same transaction (src/db/filings.rs, `record`), so the table stands at the ledger head;
-- it can be dropped and rebuilt from ledger_entries at any time (this migration's down and
-- up do exactly that).
CREATE TABLE projection_filings (
    provider      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    -- The record's period start, effective date or as-of date: the first of those fields
    -- holding a string (analytics::compliance::Filing::date_of).
    record_date   DATE NOT NULL,
    originals     INT NOT NULL CHECK (originals >= 0),
    first_filed   TIMESTAMPTZ,
    amendments    INT NOT NULL CHECK (amendments >= 0),
    last_amended  TIMESTAMPTZ,
    PRIMARY KEY (provider, kind, record_date),
    CHECK ((originals > 0) = (first_filed IS NOT NULL)),
    CHECK ((amendments > 0) = (last_amended IS NOT NULL))
);

-- Backfill from the entries already in the ledger. Lock-ups are filed per deal, not per
-- period: they are no filing. A date counts only as records write it, YYYY-MM-DD with a
-- year from 0001 (Filing::parse_date, the rule the appends follow); any other text places
-- the entry nowhere, and the nested CASEs keep an impossible day (2025-02-30) from failing
-- the cast.
INSERT INTO projection_filings (provider, kind, record_date, originals, first_filed, amendments, last_amended)
SELECT provider, kind, record_date,
       count(*) FILTER (WHERE supersedes IS NULL), min(received_at) FILTER (WHERE supersedes IS NULL),
       count(*) FILTER (WHERE supersedes IS NOT NULL), max(received_at) FILTER (WHERE supersedes IS NOT NULL)
FROM (
    SELECT provider, kind, received_at, supersedes,
           CASE WHEN d ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' AND left(d, 4) <> '0000' THEN
               CASE WHEN substr(d, 9, 2)::int
                         <= extract(day FROM (left(d, 8) || '01')::date + interval '1 month - 1 day')
                    THEN d::date
               END
           END AS record_date
    FROM (
        SELECT provider, kind, received_at, supersedes,
               coalesce(CASE jsonb_typeof(r -> 'period_start') WHEN 'string' THEN r ->> 'period_start' END,
                        CASE jsonb_typeof(r -> 'effective_date') WHEN 'string' THEN r ->> 'effective_date' END,
                        CASE jsonb_typeof(r -> 'as_of') WHEN 'string' THEN r ->> 'as_of' END) AS d
        FROM (SELECT provider, kind, received_at, supersedes, convert_from(entry, 'UTF8')::jsonb -> 'record' AS r
              FROM ledger_entries
              WHERE kind IN ('queue_time', 'acceptance', 'price', 'capacity')) entries
    ) dated
) filings
WHERE record_date IS NOT NULL
GROUP BY provider, kind, record_date;
