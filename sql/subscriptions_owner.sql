-- Subscriptions are owned (docs/design/security.md): the
-- role that subscribed, or the one alter_subscription_owner gave it to.
-- Every function that uses or changes a subscription is for members of the
-- owning role and superusers only; anyone else gets 42501 and nothing is
-- written.  Two consumer teams, each with its own subscription.
CREATE ROLE regress_own_a IN ROLE chronicle_subscriber;
CREATE ROLE regress_own_b IN ROLE chronicle_subscriber;
CREATE ROLE regress_own_a_member IN ROLE regress_own_a;  -- a login of team a
CREATE ROLE regress_own_admin IN ROLE regress_own_a, regress_own_b;

SELECT chronicle.append('subown-' || i, 'Happened', jsonb_build_object('i', i)) FROM generate_series(1, 4) i;

SET ROLE regress_own_a;
SELECT chronicle.subscribe('own_a', category => 'subown');
RESET ROLE;
SET ROLE regress_own_b;
SELECT chronicle.subscribe('own_b', category => 'subown');
RESET ROLE;
SELECT name, owner FROM chronicle.subscriptions WHERE name LIKE 'own\_%' ORDER BY name;

-- Team a works its own subscription: subscribe again (a no-op), poll, ack,
-- park, replay_parked, resize (poll with another group size).
SET ROLE regress_own_a;
SELECT chronicle.subscribe('own_a', category => 'subown') AS same_again;
SELECT stream_id FROM chronicle.poll('own_a', 2);
SELECT chronicle.ack('own_a', tx_id, global_position) FROM chronicle.read_stream('subown-1');
SELECT chronicle.park('own_a', event_id, 'cannot handle it') FROM chronicle.read_stream('subown-3');
SELECT stream_id FROM chronicle.poll('own_a');
SELECT count(*) AS member_1_of_2 FROM chronicle.poll('own_a', 100, 1, 2);
SELECT members FROM chronicle.subscriptions WHERE name = 'own_a';
SELECT count(*) AS member_0_of_1 FROM chronicle.poll('own_a', 100, 0, 1);
SELECT chronicle.ack('own_a', tx_id, global_position) FROM chronicle.read_stream('subown-2');
RESET ROLE;

-- What team a's subscription looks like; each refused call below must leave it so.
CREATE TEMP TABLE own_a_state AS
SELECT (SELECT row(s.*)::text FROM chronicle.subscriptions s WHERE s.name = 'own_a') AS subscription,
       (SELECT string_agg(row(c.*)::text, ',' ORDER BY c.member) FROM chronicle.subscription_checkpoints c
         WHERE c.subscription = 'own_a') AS checkpoints,
       (SELECT string_agg(row(p.*)::text, ',' ORDER BY p.event_id) FROM chronicle.parked p
         WHERE p.subscription = 'own_a') AS parked;
SELECT subscription IS NOT NULL AS has_row, checkpoints IS NOT NULL AS has_checkpoint,
       parked IS NOT NULL AS has_parked FROM own_a_state;
CREATE FUNCTION pg_temp.own_a_unchanged() RETURNS boolean LANGUAGE sql AS $$
SELECT (SELECT row(s.*)::text FROM chronicle.subscriptions s WHERE s.name = 'own_a') IS NOT DISTINCT FROM o.subscription
   AND (SELECT string_agg(row(c.*)::text, ',' ORDER BY c.member) FROM chronicle.subscription_checkpoints c
         WHERE c.subscription = 'own_a') IS NOT DISTINCT FROM o.checkpoints
   AND (SELECT string_agg(row(p.*)::text, ',' ORDER BY p.event_id) FROM chronicle.parked p
         WHERE p.subscription = 'own_a') IS NOT DISTINCT FROM o.parked
FROM own_a_state o $$;

-- Team b can do nothing with it: every function, 42501, nothing written.
SET ROLE regress_own_b;
SELECT regress.error_of($$SELECT chronicle.subscribe('own_a', category => 'subown')$$) AS subscribe_same;
SELECT regress.error_of($$SELECT chronicle.subscribe('own_a', category => 'other')$$) AS subscribe_other;
SELECT regress.error_of($$SELECT chronicle.poll('own_a')$$) AS poll;
SELECT regress.error_of($$SELECT chronicle.poll('own_a', 100, 1, 3)$$) AS poll_resize;
SELECT regress.error_of($$SELECT chronicle._subscription_resize('own_a', 3)$$) AS resize;
SELECT regress.error_of($$SELECT chronicle.ack('own_a', tx_id, global_position)
                          FROM chronicle.read_stream('subown-4')$$) AS ack;
SELECT regress.error_of($$SELECT chronicle.ack('own_a', tx_id, global_position, 0, 0)
                          FROM chronicle.read_stream('subown-4')$$) AS ack_node;
-- The Citus readers too, before their 0A000 on a store that is not
-- distributed (test/citus/subscriptions.sh runs them on a cluster).
SELECT regress.error_of($$SELECT chronicle.poll_nodes('own_a')$$) AS poll_nodes;
SELECT regress.error_of($$SELECT chronicle.poll_nodes('own_a', 100, 1, 3)$$) AS poll_nodes_resize;
SELECT regress.error_of($$SELECT chronicle._poll_node('own_a', '0', 0, 10, 0, 1, 'subown', NULL)$$) AS poll_node;
SELECT regress.error_of($$SELECT chronicle.park('own_a', event_id, 'sabotage')
                          FROM chronicle.read_stream('subown-4')$$) AS park;
SELECT regress.error_of($$SELECT chronicle.replay_parked('own_a')$$) AS replay_parked;
SELECT regress.error_of($$SELECT chronicle.unsubscribe('own_a')$$) AS unsubscribe;
SELECT regress.error_of($$SELECT chronicle.alter_subscription_owner('own_a', 'regress_own_b')$$) AS alter_owner;
-- Nor through the bodies behind the functions, naming team a as the caller.
SELECT regress.error_of(format($$SELECT chronicle._ack_as(%s, 'own_a', '1', 1, 0, 0)$$,
                               'regress_own_a'::regrole::oid)) AS ack_body;
SELECT regress.error_of(format($$SELECT chronicle._unsubscribe_as(%s, 'own_a')$$,
                               'regress_own_a'::regrole::oid)) AS unsubscribe_body;
SELECT regress.error_of($$SELECT chronicle._subscription_check_owner(0, 'own_a', 'regress_own_b', 'x')$$) AS check_body;
-- Its own subscription still works; an unknown one is still SE006.
SELECT count(*) AS own_b_polls FROM chronicle.poll('own_b');
SELECT regress.error_of($$SELECT chronicle.poll_nodes('own_b')$$) AS own_b_poll_nodes_not_distributed;
SELECT regress.error_of($$SELECT chronicle.poll('own_nobody')$$) AS unknown;
SELECT regress.error_of($$SELECT chronicle.ack('own_nobody', '1', 1)$$) AS unknown_ack;
RESET ROLE;
SELECT pg_temp.own_a_unchanged() AS own_a_unchanged_by_b;

-- The errors in full.
\set SHOW_CONTEXT never
SET ROLE regress_own_b;
SELECT chronicle.poll('own_a');
SELECT chronicle.unsubscribe('own_a');
SELECT chronicle.park('own_a', event_id, 'sabotage') FROM chronicle.read_stream('subown-4');
RESET ROLE;
\set SHOW_CONTEXT errors

-- A member of team a's role works it as team a does.
SET ROLE regress_own_a_member;
SELECT count(*) AS member_polls FROM chronicle.poll('own_a');
SELECT chronicle.subscribe('own_a', category => 'subown') AS member_same_again;
RESET ROLE;

-- Inside a SECURITY DEFINER function, current_user (the function's owner)
-- is the caller: team a may offer its subscription through one, team b may
-- not borrow team a's rights through its own.
CREATE FUNCTION pg_temp.a_lag() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT count(*) FROM chronicle.poll('own_a') $$;
ALTER FUNCTION pg_temp.a_lag() OWNER TO regress_own_a;
GRANT EXECUTE ON FUNCTION pg_temp.a_lag() TO regress_own_b;
CREATE FUNCTION pg_temp.b_ack() RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT regress.error_of($q$SELECT chronicle.ack('own_a', tx_id, global_position)
                                     FROM chronicle.read_stream('subown-4')$q$) $$;
ALTER FUNCTION pg_temp.b_ack() OWNER TO regress_own_b;
GRANT EXECUTE ON FUNCTION pg_temp.b_ack() TO regress_own_a;
SET ROLE regress_own_b;
SELECT pg_temp.a_lag() AS through_a_function;
RESET ROLE;
SET ROLE regress_own_a;
SELECT pg_temp.b_ack() AS b_function_called_by_a;
RESET ROLE;
SELECT pg_temp.own_a_unchanged() AS own_a_unchanged_by_functions;

-- A superuser may do anything.
SELECT count(*) AS superuser_polls FROM chronicle.poll('own_a');
SELECT chronicle.subscribe('own_a', category => 'subown') AS superuser_same_again;

-- Giving a subscription away: as ALTER ... OWNER TO, the caller must be a
-- member of the owner and of the new owner (or a superuser).
SET ROLE regress_own_a;
SELECT regress.error_of($$SELECT chronicle.alter_subscription_owner('own_a', 'regress_own_b')$$) AS a_to_b;
SELECT regress.error_of($$SELECT chronicle.alter_subscription_owner('own_a', NULL)$$) AS to_null;
SELECT regress.error_of($$SELECT chronicle.alter_subscription_owner('own_nobody', 'regress_own_a')$$) AS unknown;
SELECT regress.error_of($$SELECT chronicle.alter_subscription_owner('own_a', 4294967295::oid::regrole)$$) AS no_such_role;
RESET ROLE;
SET ROLE regress_own_admin;
SELECT chronicle.alter_subscription_owner('own_a', 'regress_own_b');
RESET ROLE;
SELECT owner FROM chronicle.subscriptions WHERE name = 'own_a';
-- Now team b's: team a is refused, team b works it, checkpoints and parked
-- events kept.
SET ROLE regress_own_a;
SELECT regress.error_of($$SELECT chronicle.poll('own_a')$$) AS a_now;
RESET ROLE;
SET ROLE regress_own_b;
SELECT stream_id FROM chronicle.poll('own_a');
SELECT stream_id FROM chronicle.replay_parked('own_a');
RESET ROLE;
-- A superuser gives it back.
SELECT chronicle.alter_subscription_owner('own_a', 'regress_own_a');
SELECT name, owner FROM chronicle.subscriptions WHERE name LIKE 'own\_%' ORDER BY name;

-- A superuser's subscription is the superuser's alone (only superusers are
-- members of it).
SELECT chronicle.subscribe('own_su', category => 'subown');
SET ROLE regress_own_a;
SELECT replace(regress.error_of($$SELECT chronicle.poll('own_su')$$), session_user, '<superuser>') AS a_on_superusers;
RESET ROLE;
SELECT chronicle.unsubscribe('own_su');

-- Membership without inheritance is not enough, as for PostgreSQL's own
-- objects (has_privs_of_role): regress_own_noinh is a member of team a only
-- through regress_own_gate, which does not inherit; it gets 42501 from every
-- function until it takes the role with SET ROLE.
CREATE ROLE regress_own_gate NOINHERIT IN ROLE regress_own_a;
TRUNCATE own_a_state;  -- what own_a_unchanged compares with: own_a as it is now
INSERT INTO own_a_state
SELECT (SELECT row(s.*)::text FROM chronicle.subscriptions s WHERE s.name = 'own_a'),
       (SELECT string_agg(row(c.*)::text, ',' ORDER BY c.member) FROM chronicle.subscription_checkpoints c
         WHERE c.subscription = 'own_a'),
       (SELECT string_agg(row(p.*)::text, ',' ORDER BY p.event_id) FROM chronicle.parked p
         WHERE p.subscription = 'own_a');
CREATE ROLE regress_own_noinh IN ROLE chronicle_subscriber, regress_own_gate;
SET ROLE regress_own_noinh;
SELECT pg_has_role('regress_own_a', 'MEMBER') AS member, pg_has_role('regress_own_a', 'USAGE') AS usage;
SELECT regress.error_of($$SELECT chronicle.poll('own_a')$$) AS noinh_poll;
SELECT regress.error_of($$SELECT chronicle.ack('own_a', tx_id, global_position)
                          FROM chronicle.read_stream('subown-4')$$) AS noinh_ack;
SELECT regress.error_of($$SELECT chronicle.park('own_a', event_id, 'x') FROM chronicle.read_stream('subown-4')$$) AS noinh_park;
SELECT regress.error_of($$SELECT chronicle.replay_parked('own_a')$$) AS noinh_replay_parked;
SELECT regress.error_of($$SELECT chronicle._subscription_resize('own_a', 2)$$) AS noinh_resize;
SELECT regress.error_of($$SELECT chronicle.alter_subscription_owner('own_a', 'regress_own_noinh')$$) AS noinh_give_away;
SELECT regress.error_of($$SELECT chronicle.unsubscribe('own_a')$$) AS noinh_unsubscribe;
RESET ROLE;
SELECT pg_temp.own_a_unchanged() AS own_a_unchanged_by_noinh;
-- As a session of its own (SET ROLE checks the session's user), it may take the role.
SET SESSION AUTHORIZATION regress_own_noinh;
SELECT regress.error_of($$SELECT chronicle.poll('own_a')$$) AS noinh_session_poll;
SET ROLE regress_own_a;
SELECT stream_id AS noinh_polls_after_set_role FROM chronicle.poll('own_a');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.own_a_unchanged() AS own_a_unchanged_by_the_poll;
DROP ROLE regress_own_noinh, regress_own_gate;

-- Each team unsubscribes its own; a name freed that way may be taken by anyone.
SET ROLE regress_own_a;
SELECT chronicle.unsubscribe('own_a');
RESET ROLE;
SET ROLE regress_own_b;
SELECT chronicle.subscribe('own_a', category => 'subown') AS b_takes_the_free_name;
SELECT chronicle.unsubscribe('own_a');
SELECT chronicle.unsubscribe('own_b');
RESET ROLE;
SELECT count(*) AS left_over FROM chronicle.subscriptions WHERE name LIKE 'own\_%';
SELECT count(*) AS left_over_rows
FROM (SELECT subscription FROM chronicle.subscription_checkpoints UNION ALL SELECT subscription FROM chronicle.parked) r
WHERE subscription LIKE 'own\_%';

DROP FUNCTION pg_temp.a_lag(), pg_temp.b_ack();
DROP ROLE regress_own_a_member, regress_own_admin, regress_own_a, regress_own_b;
