-- A counter that moves whenever the registry changes: providers, their reporting
-- obligations, their record-signing keys. None of these are in the ledger, yet pages show
-- them, so every page request checks whether they changed (issue 16). Reading one row is
-- cheap; checksumming every obligation and key on every request was not (it grows with
-- the number of providers).
CREATE TABLE registry_version (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    version   BIGINT NOT NULL
);
INSERT INTO registry_version (version) VALUES (1);

CREATE FUNCTION registry_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE registry_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER providers_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON providers
    FOR EACH STATEMENT EXECUTE FUNCTION registry_version_bump();
CREATE TRIGGER obligations_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON reporting_obligations
    FOR EACH STATEMENT EXECUTE FUNCTION registry_version_bump();
-- provider_keys refuses TRUNCATE already (20261125000009); its one allowed change, a
-- revocation, is an UPDATE.
CREATE TRIGGER provider_keys_registry_version AFTER INSERT OR UPDATE ON provider_keys
    FOR EACH STATEMENT EXECUTE FUNCTION registry_version_bump();
