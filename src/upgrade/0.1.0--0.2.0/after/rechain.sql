-- 0.1.0 -> 0.2.0: hash chain v2 (docs/design/erasure.md).  The log is first
-- checked under 0.1.0's rules; any problem stops the upgrade with the
-- problems listed (src/erasure/rechain.cpp), else every event's hash is
-- recomputed under chain v2.  The function exists only for this step.
CREATE FUNCTION chronicle._rechain_v2() RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_rechain_v2';
SELECT chronicle._rechain_v2();
DROP FUNCTION chronicle._rechain_v2();
