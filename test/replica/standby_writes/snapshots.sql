-- Each statement must fail on the standby with 25006: snapshots are writes.
SELECT chronicle.take_snapshot('replica_snap-1', 'replica_snap')
CALL chronicle.snapshot_all('replica_snap', 1)
SELECT chronicle.prune_snapshots('replica_snap', 0)
