DROP TRIGGER provider_keys_registry_version ON provider_keys;
DROP TRIGGER obligations_registry_version ON reporting_obligations;
DROP TRIGGER providers_registry_version ON providers;
DROP FUNCTION registry_version_bump();
DROP TABLE registry_version;
