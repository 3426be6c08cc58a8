-- Replica test, snapshots part (setup, on the primary): automatic snapshots
-- at 4 and 6, an explicit one at 5, and one event after the last.
SELECT chronicle.define_reducer('replica_snap', '{"Added": {"add": {"n": "$.n"}, "push": {"seen": "@version"}}}',
                                category => 'replica_snap', snapshot_every => 2);
SELECT chronicle.append_batch('replica_snap-1', (SELECT jsonb_agg(jsonb_build_object('type', 'Added', 'data', jsonb_build_object('n', i)))
                                                 FROM generate_series(1, 5) i));
SELECT chronicle.take_snapshot('replica_snap-1', 'replica_snap');
SELECT chronicle.append_batch('replica_snap-1', '[{"type": "Added", "data": {"n": 6}}, {"type": "Added", "data": {"n": 7}}]');
