-- Reducers are owned (docs/design/security.md, issue 10): the defining role owns a
-- reducer; only it or a member of the owning role may redefine it, in
-- either form; the function is stored as its qualified signature and
-- resolved when used; no replay runs a function that another role chose.
-- And chronicle's own SQL never resolves a name through the caller's path.
\set VERBOSITY sqlstate

CREATE ROLE regress_red_alice IN ROLE chronicle_writer;
CREATE ROLE regress_red_bob IN ROLE chronicle_writer;
CREATE ROLE regress_red_team;
CREATE SCHEMA red_a AUTHORIZATION regress_red_alice;
CREATE SCHEMA red_b AUTHORIZATION regress_red_bob;
GRANT USAGE ON SCHEMA red_a, red_b TO PUBLIC;

-- alice defines a rules reducer and a function reducer; each is hers.
SET ROLE regress_red_alice;
CREATE FUNCTION red_a.count(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql
    SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1, 'by', current_user) $$;
GRANT EXECUTE ON FUNCTION red_a.count(jsonb, chronicle.events) TO PUBLIC;
SELECT chronicle.define_reducer('red_rules', '{"E": {"add": {"n": 1}}}', category => 'red');
SELECT chronicle.define_reducer('red_fn', 'red_a.count(jsonb, chronicle.events)'::regprocedure, category => 'red');
RESET ROLE;
SELECT name, revision, fn, owner FROM chronicle.reducers WHERE name LIKE 'red\_%' ORDER BY name;

-- bob may not redefine them, in either form (42501 naming reducer and owner).
SET ROLE regress_red_bob;
CREATE FUNCTION red_b.evil(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql
    SET search_path = pg_catalog, pg_temp AS $$ SELECT '{"evil": true}'::jsonb $$;
GRANT EXECUTE ON FUNCTION red_b.evil(jsonb, chronicle.events) TO PUBLIC;
SELECT regress.error_of($$SELECT chronicle.define_reducer('red_rules', '{"E": {"add": {"n": 9}}}')$$) AS rules_over_rules;
SELECT regress.error_of($$SELECT chronicle.define_reducer('red_rules', 'red_b.evil(jsonb, chronicle.events)'::regprocedure)$$) AS function_over_rules;
SELECT regress.error_of($$SELECT chronicle.define_reducer('red_fn', '{"E": {"add": {"n": 9}}}'::jsonb)$$) AS rules_over_function;
SELECT regress.error_of($$SELECT chronicle.define_reducer('red_fn', 'red_b.evil(jsonb, chronicle.events)'::regprocedure)$$) AS function_over_function;
SELECT regress.error_of($$SELECT chronicle.define_reducer('red_fn', '{"E": {"add": {"n": 9}}}')$$) AS text_form;
-- bob's own reducer is his.
SELECT chronicle.define_reducer('red_bobs', '{"E": {"add": {"n": 1}}}');
RESET ROLE;
SELECT name, revision, fn, owner FROM chronicle.reducers WHERE name LIKE 'red\_%' ORDER BY name;

-- A member of the owning role may redefine it; the owner stays.
GRANT regress_red_team TO regress_red_alice;
ALTER FUNCTION red_a.count(jsonb, chronicle.events) OWNER TO regress_red_team;
SET ROLE regress_red_alice;
SELECT chronicle.define_reducer('red_team', 'red_a.count(jsonb, chronicle.events)'::regprocedure);
RESET ROLE;
UPDATE chronicle.reducers SET owner = 'regress_red_team' WHERE name = 'red_team';
GRANT regress_red_team TO regress_red_bob;
SET ROLE regress_red_bob;
SELECT chronicle.define_reducer('red_team', '{"E": {"add": {"n": 2}}}') AS member_redefines;
RESET ROLE;
SELECT name, revision, owner FROM chronicle.reducers WHERE name = 'red_team';
REVOKE regress_red_team FROM regress_red_bob;
ALTER FUNCTION red_a.count(jsonb, chronicle.events) OWNER TO regress_red_alice;

-- Replay and fold of alice's function reducer by anyone run alice's function.
SELECT chronicle.append('red-1', 'E', '{}');
SELECT chronicle.append('red-1', 'E', '{}');
SET ROLE regress_red_bob;
SELECT chronicle.replay('red-1', 'red_fn') AS bob_replays;
SELECT chronicle.fold('red_fn', e ORDER BY e.version) AS bob_folds FROM chronicle.events e WHERE e.stream_id = 'red-1';
RESET ROLE;

-- The function is found again by its signature: renamed away, replay is SE004
-- naming it; a function of that name created by another role is refused (42501);
-- alice's own function of that name is used.
ALTER FUNCTION red_a.count(jsonb, chronicle.events) RENAME TO count_old;
\set VERBOSITY default
SELECT chronicle.replay('red-1', 'red_fn');
\set VERBOSITY sqlstate
SELECT regress.error_of($$SELECT chronicle.replay('red-1', 'red_fn')$$) AS gone;
GRANT CREATE ON SCHEMA red_a TO regress_red_bob;
SET ROLE regress_red_bob;
CREATE FUNCTION red_a.count(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT '{"planted": true}'::jsonb $$;
RESET ROLE;
\set VERBOSITY default
SELECT chronicle.replay('red-1', 'red_fn');
\set VERBOSITY sqlstate
SELECT chronicle.take_snapshot('red-1', 'red_fn');
SELECT count(*) AS planted_snapshots FROM chronicle.snapshots WHERE reducer = 'red_fn';
DROP FUNCTION red_a.count(jsonb, chronicle.events);
ALTER FUNCTION red_a.count_old(jsonb, chronicle.events) RENAME TO count;
SELECT chronicle.replay('red-1', 'red_fn') ->> 'n' AS found_again;

-- The issue's reproduction for reducers: an admin's rebuild of a reducer that
-- a writer tried to take over runs only the admin's choice.
CREATE TABLE public.red_calls (who text);
GRANT INSERT ON public.red_calls TO PUBLIC;
SELECT chronicle.define_reducer('red_admin', '{"E": {"add": {"n": 1}}}', category => 'redadm');
SET ROLE regress_red_bob;
CREATE FUNCTION red_b.takeover(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.red_calls VALUES (current_user);
    IF current_user <> 'regress_red_bob' THEN EXECUTE 'ALTER ROLE regress_red_bob SUPERUSER'; END IF;
    RETURN '{}';
END $$;
SELECT left(regress.error_of($$SELECT chronicle.define_reducer('red_admin', 'red_b.takeover(jsonb, chronicle.events)'::regprocedure)$$), 5) AS takeover;
RESET ROLE;
SELECT chronicle.append('redadm-1', 'E', '{}');
SELECT chronicle.define_projection('red_admin_p', 'red_admin', 'public.red_admin_rows', '{"n": "int"}');
SELECT chronicle.rebuild_projection('red_admin_p');
SELECT chronicle.replay('redadm-1', 'red_admin'), chronicle.take_snapshot('redadm-1', 'red_admin');
SELECT count(*) AS takeover_calls FROM public.red_calls;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_red_bob';
SELECT stream_id, n FROM public.red_admin_rows;

-- chronicle's statements ignore the caller's search_path: a hostile = on
-- text before pg_catalog is never called by define, replay or snapshot.
CREATE SCHEMA red_hostile AUTHORIZATION regress_red_bob;
SET ROLE regress_red_bob;
CREATE FUNCTION red_hostile.eq(a text, b text) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.red_calls VALUES (current_user); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR red_hostile.= (FUNCTION = red_hostile.eq, LEFTARG = text, RIGHTARG = text);
SET search_path = red_hostile, pg_catalog;
SELECT chronicle.define_reducer('red_bobs', '{"E": {"add": {"n": 3}}}');
SELECT chronicle.append('red-2', 'E', '{}');
SELECT chronicle.replay('red-2', 'red_bobs');
SELECT chronicle.replay('red-1', 'red_fn') ->> 'n' AS n;
RESET search_path;
RESET ROLE;
SELECT count(*) AS hostile_calls FROM public.red_calls;

SELECT chronicle.drop_projection('red_admin_p');
DELETE FROM chronicle.snapshots WHERE reducer LIKE 'red\_%';
DELETE FROM chronicle.reducers WHERE name LIKE 'red\_%';
DROP TABLE public.red_calls;
SET client_min_messages = warning;
DROP SCHEMA red_a, red_b, red_hostile CASCADE;
RESET client_min_messages;
DROP ROLE regress_red_alice, regress_red_bob, regress_red_team;
