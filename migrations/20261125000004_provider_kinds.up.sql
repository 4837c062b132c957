-- Distinguish hyperscalers from neoclouds among commercial GPU clouds: journalists
-- compare them separately. `gpu_cloud` stays valid for providers registered before.
ALTER TABLE providers DROP CONSTRAINT providers_provider_kind_check;
ALTER TABLE providers ADD CONSTRAINT providers_provider_kind_check
    CHECK (provider_kind IN ('gpu_cloud', 'hyperscaler', 'neocloud', 'ai_factory', 'hpc_centre', 'campus_node', 'other'));
