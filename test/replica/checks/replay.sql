-- Replay and aggregates (docs/reference/replay.md) on primary and standby: they only
-- read (no snapshot, cache table or catalog row is written), so the standby
-- must return exactly what the primary returns.
SELECT chronicle.replay('replica_account-1', 'replica_account');
SELECT chronicle.replay('replica_account-1', 'replica_account', as_of_version => 2);
SELECT chronicle.replay('replica_account-1', 'replica_account',
                        as_of_time => (SELECT recorded_at FROM chronicle.events
                                       WHERE stream_id = 'replica_account-1' AND version = 1));
SELECT chronicle.replay('replica_account-1', 'replica_count');
SELECT chronicle.replay('nobody', 'replica_account');
SELECT chronicle.fold('replica_account', e ORDER BY e.version) FROM chronicle.read_stream('replica_account-1') e;
SELECT stream_id, chronicle.fold('replica_account', e ORDER BY version)
FROM chronicle.events e WHERE stream_id LIKE 'replica_account-%' GROUP BY stream_id ORDER BY stream_id;
SELECT chronicle.merge_agg(data ORDER BY version) FROM chronicle.events WHERE stream_id = 'replica_account-1';
-- The values themselves (an identical wrong answer on both would pass the diff).
DO $$
BEGIN
    IF chronicle.replay('replica_account-1', 'replica_account')
       IS DISTINCT FROM '{"owner": "Ann", "balance": 100.05, "seen": [1, 2, 3]}'::jsonb
    OR chronicle.replay('replica_account-1', 'replica_count')
       IS DISTINCT FROM '{"n": 3, "last": "WithdrawalMade"}'::jsonb THEN
        RAISE EXCEPTION 'replay returned a wrong state';
    END IF;
END $$;
