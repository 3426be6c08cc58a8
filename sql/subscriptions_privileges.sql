-- Who may use subscriptions.  Subscription state is written (checkpoints,
-- parked events), but a consumer need not be able to append: the role
-- chronicle_subscriber (a member of chronicle_reader) may subscribe, poll,
-- ack, park, replay_parked and unsubscribe; chronicle_writer is a member of
-- it.  chronicle_reader may only look (tables and subscription_status).
-- Nobody writes the tables directly: the functions write with the owner's rights.
-- Each subscription is owned by the role that subscribed: other roles get
-- 42501 from every function (sql/subscriptions_owner.sql).
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'chronicle_subscriber';
SELECT pg_has_role('chronicle_subscriber', 'chronicle_reader', 'MEMBER') AS subscriber_is_reader,
       pg_has_role('chronicle_writer', 'chronicle_subscriber', 'MEMBER') AS writer_is_subscriber,
       pg_has_role('chronicle_reader', 'chronicle_subscriber', 'MEMBER') AS reader_is_subscriber;

CREATE ROLE regress_subs_consumer IN ROLE chronicle_subscriber;
CREATE ROLE regress_subs_reader IN ROLE chronicle_reader;
CREATE ROLE regress_subs_writer IN ROLE chronicle_writer;
CREATE ROLE regress_subs_nobody;

SELECT chronicle.append('subpriv-1', 'Happened', '{}');

-- A subscriber consumes: subscribe, poll, ack, park, replay, unsubscribe.
SET ROLE regress_subs_consumer;
SELECT chronicle.subscribe('priv', category => 'subpriv');
SELECT stream_id, version FROM chronicle.poll('priv');
SELECT chronicle.ack('priv', tx_id, global_position) FROM chronicle.poll('priv');
SELECT count(*) AS after_ack FROM chronicle.poll('priv');
SELECT chronicle.park('priv', event_id, 'x') FROM chronicle.read_stream('subpriv-1');
SELECT stream_id FROM chronicle.replay_parked('priv');
SELECT name, member, lag FROM chronicle.subscription_status WHERE name = 'priv';
-- ... but cannot append, nor write the tables.
SELECT regress.error_of($$SELECT chronicle.append('subpriv-1', 'Happened', '{}')$$);
SELECT regress.error_of($$UPDATE chronicle.subscription_checkpoints SET global_position = 0$$);
SELECT regress.error_of($$DELETE FROM chronicle.subscriptions$$);
SELECT regress.error_of($$INSERT INTO chronicle.parked VALUES ('priv', gen_random_uuid(), 'x', 1, now())$$);
RESET ROLE;

-- A writer is a subscriber too (of its own subscriptions).
SET ROLE regress_subs_writer;
SELECT chronicle.subscribe('priv_writer', category => 'subpriv');
SELECT count(*) AS writer_polls FROM chronicle.poll('priv_writer');
SELECT chronicle.unsubscribe('priv_writer');
SELECT regress.error_of($$SELECT chronicle.poll('priv')$$) AS not_the_consumers;
RESET ROLE;

-- A reader sees subscription state but cannot change it (poll included:
-- a poll with a new group size writes).
SET ROLE regress_subs_reader;
SELECT name, member, lag FROM chronicle.subscription_status WHERE name = 'priv';
SELECT count(*) AS subscriptions FROM chronicle.subscriptions WHERE name = 'priv';
SELECT regress.error_of($$SELECT chronicle.subscribe('reader_sub')$$);
SELECT regress.error_of($$SELECT chronicle.poll('priv')$$);
SELECT regress.error_of($$SELECT chronicle.ack('priv', '1', 1)$$);
SELECT regress.error_of($$SELECT chronicle.park('priv', gen_random_uuid(), 'x')$$);
SELECT regress.error_of($$SELECT chronicle.replay_parked('priv')$$);
SELECT regress.error_of($$SELECT chronicle.unsubscribe('priv')$$);
SELECT regress.error_of($$SELECT chronicle._subscription_resize('priv', 2)$$);
RESET ROLE;

-- A role with no chronicle role can do nothing.
SET ROLE regress_subs_nobody;
SELECT regress.error_of($$SELECT chronicle.poll('priv')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.subscription_status$$);
SELECT regress.error_of($$SELECT * FROM chronicle.parked$$);
RESET ROLE;

-- The internal name and owner checks and the bodies behind the functions
-- (called with the caller by owner.cpp's gate) are granted to nobody; the
-- stream hash to readers; the gate of poll's resize to subscribers.
SELECT p.oid::regprocedure AS function, r.rolname, has_function_privilege(r.rolname, p.oid, 'EXECUTE')
FROM pg_proc p, pg_roles r
WHERE p.pronamespace = 'chronicle'::regnamespace
  AND (p.proname IN ('_subscription_name', '_subscription_check_owner', '_stream_member', '_subscription_resize')
       OR p.proname LIKE '\_%\_as')
  AND r.rolname IN ('chronicle_reader', 'chronicle_subscriber')
ORDER BY p.oid::regprocedure::text, r.rolname;

SELECT chronicle.unsubscribe('priv');
DROP ROLE regress_subs_consumer, regress_subs_reader, regress_subs_writer, regress_subs_nobody;
