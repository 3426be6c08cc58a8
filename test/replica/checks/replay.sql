-- Replica test, replay part: run on the hot standby.  replay, fold and
-- merge_agg only read (no snapshot, cache table or catalog row is written),
-- so each works in a read-only transaction; any error or wrong value fails.
\set ON_ERROR_STOP on
BEGIN TRANSACTION READ ONLY;
DO $$
DECLARE
    got jsonb;
BEGIN
    IF NOT pg_is_in_recovery() THEN
        RAISE EXCEPTION 'replay replica check: not running on a standby';
    END IF;

    got := chronicle.replay('replica_account-1', 'replica_account');
    IF got IS DISTINCT FROM '{"owner": "Ann", "balance": 100.05}'::jsonb THEN
        RAISE EXCEPTION 'replay on the standby gave %', got;
    END IF;

    got := chronicle.replay('replica_account-1', 'replica_account', as_of_version => 2);
    IF got IS DISTINCT FROM '{"owner": "Ann", "balance": 100.10}'::jsonb THEN
        RAISE EXCEPTION 'replay as of version 2 on the standby gave %', got;
    END IF;

    SELECT chronicle.fold('replica_account', e ORDER BY e.version) INTO got
    FROM chronicle.read_stream('replica_account-1') e;
    IF got IS DISTINCT FROM '{"owner": "Ann", "balance": 100.05}'::jsonb THEN
        RAISE EXCEPTION 'fold on the standby gave %', got;
    END IF;

    SELECT chronicle.merge_agg(e.data ORDER BY e.version) INTO got
    FROM chronicle.read_stream('replica_account-1') e;
    IF got IS DISTINCT FROM '{"Owner": "Ann", "Amount": 0.05, "InitialBalance": 0}'::jsonb THEN
        RAISE EXCEPTION 'merge_agg on the standby gave %', got;
    END IF;
END $$;
COMMIT;
SELECT 'replay checks passed on the standby' AS replay;
