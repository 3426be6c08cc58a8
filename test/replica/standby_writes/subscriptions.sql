-- Each statement must fail on the standby with 25006: subscription state is
-- written on the primary only (a consumer on a standby can poll, never ack).
SELECT chronicle.subscribe('replica_new')
SELECT chronicle.ack('replica_all', tx_id, global_position) FROM chronicle.read_stream('account-1', 1, 1)
SELECT chronicle.park('replica_all', event_id, 'x') FROM chronicle.read_stream('account-1', 1, 1)
SELECT * FROM chronicle.replay_parked('replica_accounts')
SELECT chronicle.unsubscribe('replica_all')
SELECT count(*) FROM chronicle.poll('replica_group', 100, 0, 3)
