-- Durable subscriptions (docs/reference/subscriptions.md): subscribe, poll, ack, park,
-- replay_parked, unsubscribe, chronicle.parked, chronicle.subscription_status.
-- Other tests append to the same log, so this file uses its own categories
-- (subacc, subord, subgrp, subup) or starts at the end of the log.
\set VERBOSITY sqlstate
-- A consumer: poll a page, "process" each event (return it), ack it.
CREATE FUNCTION pg_temp.consume(sub text, n int DEFAULT 100, m int DEFAULT 0, ms int DEFAULT 1)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    e chronicle.events;
BEGIN
    FOR e IN SELECT * FROM chronicle.poll(sub, n, m, ms) LOOP
        RETURN NEXT e.stream_id || ' v' || e.version || ' ' || e.type;
        PERFORM chronicle.ack(sub, e.tx_id, e.global_position, m);
    END LOOP;
END $$;

SELECT chronicle.append('subacc-1', 'Opened', '{"owner": "ann"}');
SELECT chronicle.append('subacc-2', 'Opened', '{"owner": "bob"}');
SELECT chronicle.append('subord-1', 'Placed', '{"total": 5}');
SELECT chronicle.append('subacc-1', 'Deposited', '{"amount": 10}');
SELECT chronicle.append('subacc-2', 'Deposited', '{"amount": 20}');
SELECT chronicle.append('subord-1', 'Shipped', '{}');

-- subscribe: a name, an optional category and types.  Subscribing again with
-- the same definition is a no-op (consumers call it at start-up); with
-- another one it is 42710.  Types are kept sorted and distinct.
SELECT chronicle.subscribe('accounts', category => 'subacc');
SELECT chronicle.subscribe('accounts', category => 'subacc');
SELECT chronicle.subscribe('accounts', category => 'subord');
SELECT chronicle.subscribe('deposits', category => 'subacc', types => '{Deposited,Deposited}');
SELECT chronicle.subscribe('deposits', 'subacc', '{Deposited}');
SELECT chronicle.subscribe('both', types => '{Shipped,Opened}');
SELECT name, category, types, members FROM chronicle.subscriptions ORDER BY name;

-- poll: the events after the checkpoint, in read_all order, filtered.
SELECT stream_id, version, type FROM chronicle.poll('accounts');
SELECT stream_id, version, type FROM chronicle.poll('deposits');
SELECT stream_id, version, type FROM chronicle.poll('both') WHERE stream_id SIMILAR TO 'sub(acc|ord)-%';

-- The order is read_all's, (tx_id, global_position): the same rows as
-- read_all with the same filters.
SELECT (SELECT array_agg(event_id) FROM chronicle.poll('accounts', 1000))
     = (SELECT array_agg(event_id) FROM chronicle.read_all(category => 'subacc')) AS same_as_read_all;

-- The same events come back until ack; max_count pages; 0 returns nothing.
SELECT stream_id, version FROM chronicle.poll('accounts', 2);
SELECT stream_id, version FROM chronicle.poll('accounts', 2);
SELECT count(*) FROM chronicle.poll('accounts', 0);

-- ack moves the checkpoint to the acknowledged position.
SELECT chronicle.ack('accounts', tx_id, global_position)
FROM chronicle.read_stream('subacc-2', 1, 1);
SELECT stream_id, version FROM chronicle.poll('accounts');

-- An ack behind the checkpoint does not move it back.
SELECT chronicle.ack('accounts', tx_id, global_position)
FROM chronicle.read_stream('subacc-1', 1, 1);
SELECT stream_id, version FROM chronicle.poll('accounts');

-- A consumer loop: poll, process, ack; then nothing is left.
SELECT * FROM pg_temp.consume('accounts');
SELECT * FROM pg_temp.consume('accounts');
SELECT chronicle.append('subacc-3', 'Opened', '{"owner": "cy"}');
SELECT * FROM pg_temp.consume('accounts');

-- subscription_status: one row per member, its checkpoint (a
-- chronicle.log_position) and the events it has still to receive.
SELECT name, member, (checkpoint).global_position > 0 AS acked, lag
FROM chronicle.subscription_status WHERE name IN ('accounts', 'deposits') ORDER BY name, member;
SELECT (s.checkpoint).tx_id = e.tx_id AND (s.checkpoint).global_position = e.global_position
       AS checkpoint_is_last_ack
FROM chronicle.subscription_status s, chronicle.read_stream('subacc-3') e WHERE s.name = 'accounts';

-- from_start => false: only events appended after the subscription.
SELECT chronicle.subscribe('tail', from_start => false);
SELECT count(*) AS nothing_old FROM chronicle.poll('tail');
SELECT chronicle.append('subacc-3', 'Deposited', '{"amount": 1}');
SELECT * FROM pg_temp.consume('tail');

-- park: a consumer that cannot handle an event parks it with the error;
-- later polls skip it.  Parking it again keeps one row: the latest error,
-- attempts + 1.
SELECT chronicle.subscribe('parking', category => 'subord');
SELECT chronicle.park('parking', event_id, 'no such warehouse')
FROM chronicle.read_stream('subord-1', 1, 1);
SELECT stream_id, version, type FROM chronicle.poll('parking');
SELECT chronicle.park('parking', event_id, 'still no such warehouse')
FROM chronicle.read_stream('subord-1', 1, 1);
SELECT p.subscription, e.stream_id, e.version, p.error, p.attempts, p.parked_at <= now() AS parked_at_set
FROM chronicle.parked p JOIN chronicle.events e USING (event_id);
-- A parked event does not count as lag.
SELECT lag FROM chronicle.subscription_status WHERE name = 'parking';
SELECT * FROM pg_temp.consume('parking');

-- replay_parked returns the parked events (read_all order) and un-parks
-- them; a second call returns nothing.
SELECT stream_id, version, type FROM chronicle.replay_parked('parking');
SELECT count(*) AS still_parked FROM chronicle.parked WHERE subscription = 'parking';
SELECT count(*) FROM chronicle.replay_parked('parking');

-- Park checks its event: unknown (22023), or not one this subscription
-- delivers (22023).
SELECT regress.error_of($$SELECT chronicle.park('parking', '00000000-0000-0000-0000-000000000000', 'x')$$);
SELECT replace(regress.error_of(format($$SELECT chronicle.park('parking', %L, 'x')$$, event_id)),
               event_id::text, '<event_id>')
FROM chronicle.read_stream('subacc-1', 1, 1);

-- Consumer groups: with members = n, member i receives the streams whose
-- stable hash mod n is i; a stream always goes to one member, in order.
SELECT chronicle.subscribe('group', category => 'subgrp');
SELECT chronicle.append('subgrp-' || i, 'Happened', jsonb_build_object('i', i)) FROM generate_series(1, 12) i;
SELECT chronicle.append('subgrp-' || i, 'Happened', jsonb_build_object('i', i, 'again', true)) FROM generate_series(1, 12) i;
CREATE TEMP TABLE got AS
SELECT m AS member, p.stream_id, p.version, p.global_position
FROM generate_series(0, 2) m, chronicle.poll('group', 100, m, 3) p;
-- Each event exactly once across the members; each stream with one member,
-- its versions in order.
SELECT count(*) AS events, count(DISTINCT (stream_id, version)) AS distinct_events FROM got;
SELECT count(*) AS streams_with_two_members
FROM (SELECT stream_id FROM got GROUP BY stream_id HAVING count(DISTINCT member) > 1) x;
SELECT count(*) AS out_of_order
FROM got a JOIN got b ON a.stream_id = b.stream_id AND a.version < b.version
WHERE a.global_position > b.global_position;
SELECT bool_and(member = chronicle._stream_member(stream_id, 3)) AS member_is_the_hash FROM got;
SELECT member, count(*) FROM got GROUP BY member ORDER BY member;
-- The group size is now 3 (set by the first poll that gave it).
SELECT members FROM chronicle.subscriptions WHERE name = 'group';
SELECT name, member, lag FROM chronicle.subscription_status WHERE name = 'group' ORDER BY member;

-- The hash is SHA-256's first four bytes, unsigned, mod n: the same in SQL,
-- on any platform and PostgreSQL version.  Fixed values guard against a change.
SELECT chronicle._stream_member('account-1', 1000) AS account_1,
       chronicle._stream_member('order-42', 1000) AS order_42,
       chronicle._stream_member('', 7) AS empty,
       chronicle._stream_member('καλημέρα-1', 1000) AS greek;
SELECT count(*) AS disagreements
FROM generate_series(1, 2000) i, (VALUES (1), (2), (3), (7), (64), (1024)) n(n)
WHERE chronicle._stream_member('stream-' || i, n)
   <> ('x' || left(encode(sha256(convert_to('stream-' || i, 'UTF8')), 'hex'), 8))::bit(32)::bigint % n;
SELECT regress.error_of($$SELECT chronicle._stream_member('a', 0)$$);

-- Member 1 acks everything it got; member 0 acks nothing.
SELECT count(*) AS processed FROM pg_temp.consume('group', 100, 1, 3);
SELECT name, member, lag FROM chronicle.subscription_status WHERE name = 'group' ORDER BY member;
-- A new group size restarts every member at the lowest checkpoint of the old
-- group (member 0 and 2 never acked: the start), so nothing is lost: with 2
-- members, all 24 events come again.
SELECT (SELECT count(*) FROM chronicle.poll('group', 100, 0, 2))
     + (SELECT count(*) FROM chronicle.poll('group', 100, 1, 2)) AS redelivered;
SELECT members FROM chronicle.subscriptions WHERE name = 'group';
-- When every member had acked, the restart point is the lowest ack.
SELECT count(*) FROM pg_temp.consume('group', 100, 0, 2);
SELECT count(*) FROM pg_temp.consume('group', 5, 1, 2);
SELECT count(*) AS after_lowest_ack FROM chronicle.poll('group', 100, 0, 1);

-- Upcasting: poll returns what every read returns, upcast data.
SELECT chronicle.define_upcaster('SubRenamed', 1, '{"rename": {"old": "new"}}');
SELECT chronicle.subscribe('upcast', category => 'subup');
SELECT chronicle.append('subup-1', 'SubRenamed', '{"old": 1}');
SELECT stream_id, type, type_version, data FROM chronicle.poll('upcast');

-- Errors.  An unknown subscription is SE006 for every function.
SELECT regress.error_of($$SELECT chronicle.poll('nope')$$);
SELECT regress.error_of($$SELECT chronicle.ack('nope', '1', 1)$$);
SELECT regress.error_of($$SELECT chronicle.park('nope', gen_random_uuid(), 'x')$$);
SELECT regress.error_of($$SELECT chronicle.replay_parked('nope')$$);
SELECT regress.error_of($$SELECT chronicle.unsubscribe('nope')$$);
-- NULLs are 22004 (NULL max_count, member, members mean the defaults).
SELECT regress.error_of($$SELECT chronicle.subscribe(NULL)$$);
SELECT regress.error_of($$SELECT chronicle.subscribe('x', from_start => NULL)$$);
SELECT regress.error_of($$SELECT chronicle.subscribe('x', types => '{a,NULL}')$$);
SELECT regress.error_of($$SELECT chronicle.poll(NULL)$$);
SELECT regress.error_of($$SELECT chronicle.ack('accounts', NULL, 1)$$);
SELECT regress.error_of($$SELECT chronicle.park('accounts', NULL, 'x')$$);
SELECT regress.error_of($$SELECT chronicle.park('accounts', gen_random_uuid(), NULL)$$);
SELECT count(*) FROM chronicle.poll('accounts', NULL, NULL, NULL);
-- Bad values are 22023.
SELECT regress.error_of($$SELECT chronicle.subscribe('')$$);
SELECT regress.error_of($$SELECT chronicle.subscribe(repeat('n', 256))$$);
SELECT regress.error_of($$SELECT chronicle.subscribe(E'a\nb')$$);
SELECT regress.error_of($$SELECT chronicle.subscribe('x', category => 'subacc-1')$$);
SELECT regress.error_of($$SELECT chronicle.subscribe('x', types => '{}')$$);
SELECT regress.error_of($$SELECT chronicle.subscribe('x', types => '{{a,b},{c,d}}')$$);
SELECT regress.error_of($$SELECT chronicle.poll('')$$);
SELECT regress.error_of($$SELECT chronicle.poll(repeat('n', 1000000))$$);
SELECT regress.error_of($$SELECT chronicle.poll('accounts', -1)$$);
SELECT regress.error_of($$SELECT chronicle.poll('accounts', 10, 1, 1)$$);
SELECT regress.error_of($$SELECT chronicle.poll('accounts', 10, -1, 2)$$);
SELECT regress.error_of($$SELECT chronicle.poll('accounts', 10, 0, 0)$$);
SELECT regress.error_of($$SELECT chronicle.poll('accounts', 10, 0, 1025)$$);
SELECT regress.error_of($$SELECT chronicle.ack('accounts', '1', 1, 1)$$);
-- An ack at or past the horizon (pg_snapshot_xmin) would pass over events
-- that may still commit: 22023.
SELECT regress.error_of(format($$SELECT chronicle.ack('accounts', %L, 0)$$,
                               pg_snapshot_xmin(pg_current_snapshot())));
-- One server has one log, node 0 (docs/design/citus.md): checkpoints name it, ack
-- takes it (or NULL), any other node is 22023; the Citus readers refuse.
SELECT DISTINCT node FROM chronicle.subscription_checkpoints;
SELECT node, count(*) FROM chronicle.subscription_status GROUP BY node;
SELECT regress.error_of($$SELECT chronicle.ack('accounts', '1', 1, 0, 1)$$);
SELECT regress.error_of($$SELECT chronicle.ack('accounts', '1', 1, 0, 0)$$);
SELECT regress.error_of($$SELECT chronicle.ack('accounts', '1', 1, node => NULL)$$);
SELECT regress.error_of($$SELECT * FROM chronicle.poll_nodes('accounts')$$);
SELECT regress.error_of($$SELECT * FROM chronicle._poll_node('accounts', '0', 0, 10, 0, 1, NULL, NULL)$$);
SELECT * FROM chronicle._log_nodes();
-- None of these failures changed anything.
SELECT count(*) AS subscriptions FROM chronicle.subscriptions WHERE name IN ('x', '', 'nope');

-- poll qualifies every name and operator: a caller's search_path with
-- look-alike operators and functions changes nothing.
CREATE SCHEMA shadow;
CREATE FUNCTION shadow.trap(xid8, xid8) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing operator called'; END $$;
CREATE FUNCTION shadow.trap(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing operator called'; END $$;
CREATE FUNCTION shadow.trap(int, int) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing operator called'; END $$;
CREATE OPERATOR shadow.< (LEFTARG = xid8, RIGHTARG = xid8, FUNCTION = shadow.trap);
CREATE OPERATOR shadow.= (LEFTARG = text, RIGHTARG = text, FUNCTION = shadow.trap);
CREATE OPERATOR shadow.= (LEFTARG = int, RIGHTARG = int, FUNCTION = shadow.trap);
CREATE FUNCTION shadow.split_part(text, text, int) RETURNS text
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing split_part called'; END $$;
CREATE FUNCTION shadow.pg_snapshot_xmin(pg_snapshot) RETURNS xid8
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing pg_snapshot_xmin called'; END $$;
SET search_path = shadow, pg_catalog;
SELECT count(*) AS accounts FROM chronicle.poll('deposits');
SELECT count(*) AS group_member FROM chronicle.poll('group', 100, 1, 2);
SELECT count(*) AS parked_shape FROM chronicle.poll('parking');
SELECT chronicle.ack('deposits', tx_id, global_position) FROM chronicle.read_stream('subacc-1', 2, 1);
SELECT lag FROM chronicle.subscription_status WHERE name OPERATOR(pg_catalog.=) 'deposits';
RESET search_path;
DROP SCHEMA shadow CASCADE;

-- unsubscribe removes the subscription with its checkpoints and parked rows.
SELECT chronicle.park('parking', event_id, 'again') FROM chronicle.read_stream('subord-1', 2, 1);
SELECT chronicle.unsubscribe('parking');
SELECT (SELECT count(*) FROM chronicle.subscriptions WHERE name = 'parking') AS subscriptions,
       (SELECT count(*) FROM chronicle.parked WHERE subscription = 'parking') AS parked;
SELECT chronicle.unsubscribe('group');
SELECT count(*) AS checkpoints FROM chronicle.subscription_checkpoints WHERE subscription = 'group';

SELECT chronicle.unsubscribe(name) FROM chronicle.subscriptions;
