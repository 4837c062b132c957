-- Reverses 20261211000020_reports.up.sql. The ledger keeps the report and answer
-- entries (it is append-only); their indexes go, and so do the reporters, which would
-- otherwise become providers when the role column goes.
DROP TABLE report_answers;
DROP TABLE reports;
DELETE FROM api_tokens WHERE provider_id IN (SELECT id FROM providers WHERE role = 'reporter');
DELETE FROM idempotency_keys WHERE provider_id IN (SELECT id FROM providers WHERE role = 'reporter');
DELETE FROM reporting_obligations WHERE provider_id IN (SELECT id FROM providers WHERE role = 'reporter');
DELETE FROM provider_keys WHERE provider_id IN (SELECT id FROM providers WHERE role = 'reporter');
DELETE FROM providers WHERE role = 'reporter';
ALTER TABLE providers
    DROP CONSTRAINT providers_distrust_has_reason,
    DROP COLUMN distrust_reason,
    DROP COLUMN distrusted_at,
    DROP COLUMN role;
