-- Erasure and digests on a hot standby: a redacted event and a digest taken
-- on the primary (checks/erasure.sql verifies it on both servers).
SELECT chronicle.append('erasure-1', 'Registered', '{"name": "Ann", "plan": "basic"}');
SELECT chronicle.append('erasure-1', 'PlanChanged', '{"plan": "pro"}');
SELECT chronicle.redact('erasure-1', 1, ARRAY['name'], 'replica test');
SELECT chronicle.digest() IS NOT NULL AS digest_taken;
