-- Reporting obligations: which kinds a provider must file, how often, and how
-- many days after a period's last day the filing is due. The compliance report
-- assesses every period from `since` on against the ledger's acceptance times.
-- Lock-ups are filed per deal, not per period, so they carry no cadence here.
CREATE TABLE reporting_obligations (
    provider_id   BIGINT NOT NULL REFERENCES providers (id),
    kind          TEXT NOT NULL CHECK (kind IN ('queue_time', 'acceptance', 'price', 'capacity')),
    cadence       TEXT NOT NULL CHECK (cadence IN ('monthly', 'quarterly')),
    deadline_days INTEGER NOT NULL CHECK (deadline_days BETWEEN 0 AND 366),
    since         DATE NOT NULL,
    PRIMARY KEY (provider_id, kind)
);
