-- What a user sees of a populated database; printed before and after the
-- update, and the two must be equal (test/upgrade/suite.sh).
\pset format unaligned
\pset tuples_only on
SET search_path = pg_catalog, pg_temp;
SELECT 'replay ' || s || ' ' || chronicle.replay(s, 'account')::text
  FROM unnest(ARRAY['account-1', 'account-2']) s;
SELECT 'replay counter ' || chronicle.replay('account-2', 'counter')::text;
SELECT 'as_of ' || chronicle.replay('account-2', 'account', as_of_version => 2)::text;
-- Everything of each event but its hash: the update re-chains the log to
-- hash chain v2 (docs/design/erasure.md), so every hash changes; after.sql
-- checks that verify() finds the new chain intact.
SELECT 'event ' || stream_id || ' ' || version || ' ' || global_position || ' ' || event_id || ' ' || type
       || ' ' || type_version || ' ' || data::text || ' ' || metadata::text || ' ' || recorded_at || ' ' || tx_id
  FROM chronicle.read_all(max_count => 1000) ORDER BY global_position;
SELECT 'hashes ' || count(*) || ' events, ' || count(DISTINCT hash) || ' distinct, '
       || count(*) FILTER (WHERE length(hash) = 32) || ' of 32 bytes'
  FROM chronicle.events;
SELECT 'stream ' || stream_id || ' ' || version || ' ' || category FROM chronicle.streams ORDER BY 1;
SELECT 'verify ' || count(*) FROM chronicle.verify();
SELECT 'reducer ' || name || ' ' || revision || ' ' || coalesce(rules::text, '-') || ' '
       || coalesce(category, '-') || ' ' || coalesce(snapshot_every::text, '-')
  FROM chronicle.reducers ORDER BY name;
SELECT 'event_type ' || type || ' ' || type_version || ' ' || schema::text FROM chronicle.event_types ORDER BY 1;
SELECT 'upcaster ' || type || ' ' || from_version || ' ' || rules::text FROM chronicle.upcasters ORDER BY 1;
SELECT 'snapshot ' || stream_id || ' ' || reducer || ' ' || version || ' ' || state::text
  FROM chronicle.snapshots ORDER BY 1;
SELECT 'projection ' || stream_id || ' ' || version || ' ' || owner || ' ' || balance FROM public.balances ORDER BY 1;
SELECT 'checkpoint ' || subscription || ' ' || member || ' ' || global_position
  FROM chronicle.subscription_checkpoints ORDER BY 1;
SELECT 'parked ' || p.subscription || ' ' || e.stream_id || ' ' || e.version || ' ' || p.error || ' ' || p.attempts
  FROM chronicle.parked p JOIN chronicle.events e USING (event_id) ORDER BY 1;
SELECT 'status ' || name || ' ' || member || ' ' || lag FROM chronicle.subscription_status ORDER BY 1;
SELECT 'tree ' || id || ' ' || name || ' ' || lft || ' ' || rgt || ' ' || depth FROM public.category ORDER BY lft;
SELECT 'tree_validate ' || count(*) FROM chronicle.tree_validate('public.category');
