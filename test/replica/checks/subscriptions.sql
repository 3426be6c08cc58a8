-- poll and subscription_status only read: on a standby they return what the
-- primary returns (checkpoints and parked events as replicated).  No poll
-- here changes a group size (that writes; see standby_writes/subscriptions.sql).
SELECT * FROM chronicle.poll('replica_all');
SELECT * FROM chronicle.poll('replica_accounts', 2);
SELECT * FROM chronicle.poll('replica_group', 100, 0, 2);
SELECT * FROM chronicle.poll('replica_group', 100, 1, 2);
SELECT * FROM chronicle.subscription_status ORDER BY name, member;
SELECT subscription, event_id, error, attempts FROM chronicle.parked ORDER BY subscription, event_id;
SELECT name, category, types, members FROM chronicle.subscriptions ORDER BY name;
SELECT chronicle._stream_member('account-1', 2), chronicle._stream_member('account-2', 2);
