-- API tokens: how a provider's systems authenticate to push records. Only a
-- SHA-256 of each token is stored; the token itself is shown once, at issue.
CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id  BIGINT NOT NULL REFERENCES providers (id),
    -- The public part of the token (`gl_<id>`), used to find the row and shown in lists.
    public_id    TEXT NOT NULL UNIQUE CHECK (public_id ~ '^gl_[0-9a-f]{12}$'),
    secret_hash  BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    label        TEXT NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_tokens_by_provider ON api_tokens (provider_id);

-- Responses remembered for the Idempotency-Key header: a retried request with the
-- same key and body gets the same answer; the same key with another body is refused.
CREATE TABLE idempotency_keys (
    provider_id   BIGINT NOT NULL REFERENCES providers (id),
    key           TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash  BYTEA NOT NULL CHECK (length(request_hash) = 32),
    status        SMALLINT NOT NULL,
    response      JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_id, key)
);
