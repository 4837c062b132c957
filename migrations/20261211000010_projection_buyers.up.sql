-- The market's buyer totals (issue 19's /counterparties at scale): per provider, month of
-- the deals' start and buyer (its normalised name), the deals summed
-- (analytics::concentration::BuyerMonth as JSON): names filed, and accelerators and deals
-- per exclusivity and end month. Recomputed with the month's lock-up bucket in the append
-- transaction (src/db/projection.rs), so the market is read as a few rows per provider and
-- month instead of every lock-up with its entry. Derived like the other projection tables;
-- filled by the refold that PROJECTION_VERSION 4 triggers.
CREATE TABLE projection_buyers (
    provider  TEXT NOT NULL,
    month     DATE NOT NULL,
    buyer     TEXT NOT NULL,
    totals    BYTEA NOT NULL,
    PRIMARY KEY (provider, month, buyer)
);
-- A buyer's page reads the lock-up buckets holding its deals.
CREATE INDEX projection_buyers_by_buyer ON projection_buyers (buyer);
