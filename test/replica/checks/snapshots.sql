-- Snapshots (docs/reference/snapshots.md) on primary and standby: replay reads them
-- (and writes nothing), so the standby returns what the primary returns.
SELECT stream_id, reducer, version, state FROM chronicle.snapshots
WHERE reducer = 'replica_snap' ORDER BY stream_id, version;
SELECT v, chronicle.replay('replica_snap-1', 'replica_snap', as_of_version => v)
FROM generate_series(3, 8) v ORDER BY v;
-- The values themselves: every bound gives the full replay's state.
DO $$
BEGIN
    IF EXISTS (SELECT FROM generate_series(0, 8) v
               WHERE chronicle.replay('replica_snap-1', 'replica_snap', as_of_version => v)
                     IS DISTINCT FROM (SELECT chronicle.fold('replica_snap', e ORDER BY e.version)
                                       FROM chronicle.events e
                                       WHERE e.stream_id = 'replica_snap-1' AND e.version <= v))
    OR (SELECT array_agg(version ORDER BY version) FROM chronicle.snapshots WHERE reducer = 'replica_snap')
       IS DISTINCT FROM '{4,5,6}'::bigint[] THEN
        RAISE EXCEPTION 'snapshots or replay from them are wrong';
    END IF;
END $$;
