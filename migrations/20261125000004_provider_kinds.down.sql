-- Reverses 20261125000004_provider_kinds.up.sql (fails if such providers exist, by design).
ALTER TABLE providers DROP CONSTRAINT providers_provider_kind_check;
ALTER TABLE providers ADD CONSTRAINT providers_provider_kind_check
    CHECK (provider_kind IN ('gpu_cloud', 'ai_factory', 'hpc_centre', 'campus_node', 'other'));
