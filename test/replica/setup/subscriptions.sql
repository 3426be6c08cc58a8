-- Subscription state written on the primary for checks/subscriptions.sql:
-- a checkpoint, a parked event, a group of two members.
SELECT chronicle.subscribe('replica_all');
SELECT chronicle.subscribe('replica_accounts', category => 'account', types => '{Deposited,Opened}');
SELECT chronicle.ack('replica_accounts', tx_id, global_position) FROM chronicle.read_stream('account-1', 1, 1);
SELECT chronicle.park('replica_accounts', event_id, 'cannot handle') FROM chronicle.read_stream('account-2', 2, 1);
SELECT chronicle.subscribe('replica_group');
SELECT count(*) FROM chronicle.poll('replica_group', 100, 0, 2);
SELECT chronicle.ack('replica_group', tx_id, global_position, 1)
FROM chronicle.poll('replica_group', 1, 1, 2);
