-- Providers: the organisations that owe disclosures (GPU clouds, AI factories,
-- HPC centres, campus nodes). The slug is their stable public identifier: it
-- appears in URLs and in every ledger entry, so it is never reused or renamed.
CREATE TABLE providers (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug          TEXT NOT NULL UNIQUE
                  CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 64),
    display_name  TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    provider_kind TEXT NOT NULL
                  CHECK (provider_kind IN ('gpu_cloud', 'ai_factory', 'hpc_centre', 'campus_node', 'other')),
    -- ISO 3166-1 alpha-2, upper case; NULL when the provider operates across countries.
    country       TEXT CHECK (country ~ '^[A-Z]{2}$'),
    website       TEXT CHECK (website ~ '^https?://'),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
