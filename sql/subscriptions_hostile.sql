-- Subscriptions under attack: the cases an adversarial reading tried, the
-- problems it fixed (each marked "Fixed"), and hostile inputs that already
-- behaved, kept here so that they keep behaving.  Categories subrev*.
\set VERBOSITY sqlstate

SELECT chronicle.append('subrev-' || i, 'Happened', jsonb_build_object('i', i)) FROM generate_series(1, 6) i;
SELECT chronicle.subscribe('rev', category => 'subrev');

-- Fixed: _subscription_resize (granted to chronicle_subscriber, called by
-- poll) gives poll's codes when called directly, not a constraint's.
SELECT regress.error_of($$SELECT chronicle._subscription_resize('rev', NULL)$$);
SELECT regress.error_of($$SELECT chronicle._subscription_resize('rev', 0)$$);
SELECT regress.error_of($$SELECT chronicle._subscription_resize('rev', 1025)$$);
SELECT regress.error_of($$SELECT chronicle._subscription_resize(NULL, 2)$$);
SELECT regress.error_of($$SELECT chronicle._subscription_resize('nope', 2)$$);
SELECT members FROM chronicle.subscriptions WHERE name = 'rev';

-- Hostile input that already behaved.  NULLs everywhere.
SELECT regress.error_of($$SELECT chronicle.subscribe(NULL, NULL, NULL, NULL)$$);
SELECT regress.error_of($$SELECT chronicle.ack(NULL, NULL, NULL, NULL)$$);
SELECT regress.error_of($$SELECT chronicle.ack('rev', '1', NULL)$$);
SELECT regress.error_of($$SELECT chronicle.park(NULL, NULL, NULL)$$);
SELECT regress.error_of($$SELECT chronicle.replay_parked(NULL)$$);
SELECT regress.error_of($$SELECT chronicle.unsubscribe(NULL)$$);
SELECT chronicle._stream_member(NULL, 3) IS NULL AS strict_null,
       chronicle._stream_member('a', NULL) IS NULL AS strict_null_members;
-- NULL member of ack is member 0, as for poll.
SELECT chronicle.ack('rev', tx_id, global_position, NULL) FROM chronicle.read_stream('subrev-1');
SELECT member, (checkpoint).global_position = (SELECT global_position FROM chronicle.read_stream('subrev-1'))
       AS at_subrev_1
FROM chronicle.subscription_status WHERE name = 'rev';

-- Empty, 1 MB and control-character strings.
SELECT regress.error_of($$SELECT chronicle.ack('', '1', 1)$$);
SELECT regress.error_of($$SELECT chronicle.ack(repeat('n', 1000000), '1', 1)$$);
SELECT regress.error_of($$SELECT chronicle.park(repeat('n', 1000000), gen_random_uuid(), 'x')$$);
SELECT regress.error_of($$SELECT chronicle.unsubscribe(E'rev\t')$$);
SELECT regress.error_of($$SELECT chronicle.subscribe(U&'x\0085y')$$);
SELECT regress.error_of($$SELECT chronicle.poll(E'rev\x01')$$);
-- A 1 MB error text, and one with control characters, are kept as given.
SELECT chronicle.park('rev', event_id, repeat('e', 1000000)) FROM chronicle.read_stream('subrev-2');
SELECT chronicle.park('rev', event_id, E'line 1\nline 2\t\x01') FROM chronicle.read_stream('subrev-3');
SELECT length(p.error), p.attempts FROM chronicle.parked p JOIN chronicle.events e USING (event_id)
WHERE p.subscription = 'rev' ORDER BY e.stream_id;
SELECT stream_id FROM chronicle.replay_parked('rev') ORDER BY stream_id;
-- A name of 234 characters full of quotes and semicolons, a 1 MB category and
-- type (accepted; they match nothing).
SELECT chronicle.subscribe(repeat('"; DROP TABLE x; ''', 13), category => 'subrev');
SELECT count(*) AS quoted_name FROM chronicle.poll(repeat('"; DROP TABLE x; ''', 13));
SELECT chronicle.unsubscribe(repeat('"; DROP TABLE x; ''', 13));
SELECT chronicle.subscribe('rev_big', category => repeat('c', 1000000), types => ARRAY[repeat('t', 1000000)]);
SELECT count(*) AS big_filters FROM chronicle.poll('rev_big');
SELECT chronicle.subscribe('rev_big', category => repeat('c', 1000000), types => ARRAY[repeat('t', 1000000)]) AS same_again;
SELECT chronicle.unsubscribe('rev_big');
-- types given with a lower bound other than 1: kept sorted from 1.
SELECT chronicle.subscribe('rev_bounds', types => '[0:2]={c,a,b}');
SELECT types, array_lower(types, 1) FROM chronicle.subscriptions WHERE name = 'rev_bounds';
SELECT chronicle.unsubscribe('rev_bounds');

-- Huge and negative numbers.
SELECT regress.error_of($$SELECT chronicle.poll('rev', -2147483648)$$);
SELECT regress.error_of($$SELECT chronicle.poll('rev', 10, 2147483647, 1024)$$);
SELECT regress.error_of($$SELECT chronicle.poll('rev', 10, -2147483648, 2)$$);
SELECT regress.error_of($$SELECT chronicle.poll('rev', 10, 0, -2147483648)$$);
SELECT regress.error_of($$SELECT chronicle.ack('rev', '1', 1, -1)$$);
SELECT regress.error_of($$SELECT chronicle.ack('rev', '18446744073709551615', 1)$$);
SELECT regress.error_of($$SELECT chronicle._stream_member('a', -2147483648)$$);
SELECT chronicle._stream_member('a', 2147483647) = ('x' || left(encode(sha256('a'), 'hex'), 8))::bit(32)::bigint % 2147483647
       AS largest_group;
SELECT count(*) AS whole_page FROM chronicle.poll('rev', 2147483647);
-- An ack behind the start, at the smallest position, changes nothing.
SELECT chronicle.ack('rev', '0', -9223372036854775808);
SELECT (checkpoint).global_position = (SELECT global_position FROM chronicle.read_stream('subrev-1'))
       AS unchanged
FROM chronicle.subscription_status WHERE name = 'rev';

-- None of the failures above wrote anything.
SELECT count(*) AS subscriptions FROM chronicle.subscriptions WHERE name LIKE 'rev%' OR name LIKE '%DROP%';
SELECT count(*) AS parked FROM chronicle.parked WHERE subscription LIKE 'rev%';

-- A caller's hostile search_path: look-alike operators and functions in a
-- schema the caller owns, ahead of pg_catalog.  The SECURITY DEFINER
-- functions pin theirs, so none of these traps runs (and none runs as the
-- functions' owner).
CREATE ROLE regress_subrev_consumer IN ROLE chronicle_subscriber;
CREATE SCHEMA subrev_trap AUTHORIZATION regress_subrev_consumer;
SET ROLE regress_subrev_consumer;
CREATE FUNCTION subrev_trap.trap(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'trap called as %', current_user; END $$;
CREATE FUNCTION subrev_trap.trap(xid8, xid8) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'trap called as %', current_user; END $$;
CREATE FUNCTION subrev_trap.trap(int, int) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'trap called as %', current_user; END $$;
CREATE OPERATOR subrev_trap.= (LEFTARG = text, RIGHTARG = text, FUNCTION = subrev_trap.trap);
CREATE OPERATOR subrev_trap.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = subrev_trap.trap);
CREATE OPERATOR subrev_trap.>= (LEFTARG = xid8, RIGHTARG = xid8, FUNCTION = subrev_trap.trap);
CREATE OPERATOR subrev_trap.< (LEFTARG = int, RIGHTARG = int, FUNCTION = subrev_trap.trap);
CREATE FUNCTION subrev_trap.split_part(text, text, int) RETURNS text
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'split_part trap called as %', current_user; END $$;
CREATE FUNCTION subrev_trap.length(text) RETURNS int
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'length trap called as %', current_user; END $$;
CREATE FUNCTION subrev_trap.now() RETURNS timestamptz
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'now trap called as %', current_user; END $$;
SET search_path = subrev_trap, pg_catalog;
SELECT chronicle.subscribe('rev_trap', category => 'subrev', types => '{Happened}');
SELECT count(*) AS polled FROM chronicle.poll('rev_trap', 3);
SELECT chronicle.ack('rev_trap', tx_id, global_position) FROM chronicle.read_stream('subrev-2');
SELECT chronicle.park('rev_trap', event_id, 'x') FROM chronicle.read_stream('subrev-4');
SELECT count(*) AS polled_in_group FROM chronicle.poll('rev_trap', 100, 0, 2);
SELECT count(*) AS replayed FROM chronicle.replay_parked('rev_trap');
SELECT chronicle.unsubscribe('rev_trap');
RESET search_path;
RESET ROLE;
SET client_min_messages = warning;
DROP SCHEMA subrev_trap CASCADE;
RESET client_min_messages;
DROP ROLE regress_subrev_consumer;

SELECT chronicle.unsubscribe('rev');

-- Fixed: the stream hash is SHA-256 of the id's UTF-8 bytes in every
-- database, as the SQL form of docs/reference/subscriptions.md says.  A LATIN1 database hashed its
-- own bytes, so a non-ASCII stream went to another member than in a UTF-8
-- database (or after a dump restored into one).  'café-1', written as
-- UTF-8 bytes so that the client encoding plays no part:
SELECT chronicle._stream_member(convert_from('\x636166c3a92d31', 'UTF8'), 1000) AS utf8_member \gset
SELECT :utf8_member AS utf8_member;
\set regress_db :DBNAME
CREATE DATABASE regress_subrev_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c regress_subrev_latin1
\set VERBOSITY sqlstate
CREATE EXTENSION chronicle;
SELECT chronicle._stream_member(convert_from('\x636166c3a92d31', 'UTF8'), 1000) = :utf8_member AS same_as_utf8,
       chronicle._stream_member(convert_from('\x636166c3a92d31', 'UTF8'), 1000) =
       ('x' || left(encode(sha256(convert_to(convert_from('\x636166c3a92d31', 'UTF8'), 'UTF8')), 'hex'), 8))::bit(32)::bigint % 1000
       AS same_as_sql_form;
-- A group there hands each stream to the member of the SQL form.
SELECT chronicle.append(convert_from('\x636166c3a92d', 'UTF8') || i, 'Happened', '{}') FROM generate_series(1, 8) i;
SELECT chronicle.subscribe('cafe', category => convert_from('\x636166c3a9', 'UTF8'), types => '{Happened}');
SELECT bool_and(m = ('x' || left(encode(sha256(convert_to(p.stream_id, 'UTF8')), 'hex'), 8))::bit(32)::bigint % 3)
       AS members_as_sql_form, count(*) AS events
FROM generate_series(0, 2) m, chronicle.poll('cafe', 100, m, 3) p;

-- Kept plans survive the objects under them being dropped and created
-- again in the same session: the same poll shapes before and after.
SELECT chronicle.park('cafe', event_id, 'x') FROM chronicle.events
WHERE stream_id = convert_from('\x636166c3a92d31', 'UTF8');
SELECT count(*) AS grouped_parked FROM chronicle.poll('cafe', 100, 0, 3);
SELECT count(*) AS plain FROM chronicle.poll('cafe', 100);
DROP EXTENSION chronicle;
CREATE EXTENSION chronicle;
SELECT chronicle.append('again-' || i, 'Happened', '{}') FROM generate_series(1, 4) i;
SELECT chronicle.subscribe('cafe', category => 'again', types => '{Happened}');
SELECT count(*) AS plain_after_recreate FROM chronicle.poll('cafe', 100);
SELECT chronicle.park('cafe', event_id, 'x') FROM chronicle.events WHERE stream_id = 'again-1';
SELECT sum(n) AS grouped_parked_after_recreate
FROM generate_series(0, 2) m, LATERAL (SELECT count(*) AS n FROM chronicle.poll('cafe', 100, m, 3)) p;
\c :regress_db
\set VERBOSITY sqlstate
DROP DATABASE regress_subrev_latin1 WITH (FORCE);
