-- Providers' own Ed25519 public keys, for provider-signed records (optional per
-- provider). Each key is a C2SP signed-note verifier key `<slug>+<hex id>+<base64 key>`
-- whose name is the provider's slug, so an entry that carries it binds key and provider.
--
-- Keys are never deleted or changed, only revoked: entries signed with a key stay
-- checkable for as long as the log exists, and `verify` checks that every key found
-- in an entry was registered for that entry's provider.
CREATE TABLE provider_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id  BIGINT NOT NULL REFERENCES providers (id),
    vkey         TEXT NOT NULL UNIQUE CHECK (length(vkey) BETWEEN 1 AND 200),
    added_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set once, when the key is revoked: from then on records signed with it are refused.
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX provider_keys_by_provider ON provider_keys (provider_id);

-- Append-only in spirit: the one change allowed is setting revoked_at, once.
CREATE FUNCTION provider_keys_revoke_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- OLD and NEW exist only for row-level UPDATE and DELETE: test the operation on its own first.
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'provider keys are only ever revoked: % on % is refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.revoked_at IS NOT NULL
       OR NEW.revoked_at IS NULL
       OR NEW.id <> OLD.id
       OR NEW.provider_id <> OLD.provider_id
       OR NEW.vkey <> OLD.vkey
       OR NEW.added_at <> OLD.added_at THEN
        RAISE EXCEPTION 'provider keys are only ever revoked: % on % is refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER provider_keys_revoke_only BEFORE UPDATE OR DELETE ON provider_keys
    FOR EACH ROW EXECUTE FUNCTION provider_keys_revoke_only();
CREATE TRIGGER provider_keys_no_truncate BEFORE TRUNCATE ON provider_keys
    FOR EACH STATEMENT EXECUTE FUNCTION provider_keys_revoke_only();
