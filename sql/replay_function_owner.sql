-- Automatic replays and their owners (replay.h, REDUCER_AS_FUNCTION_OWNER):
-- a function reducer's function runs as its owner inside other users'
-- appends; nothing of the appender's session may run code with the owner's
-- rights, and the appender's identity and search_path come back.
\set VERBOSITY terse
CREATE SCHEMA fn_owner;
SET search_path = fn_owner, public;

-- 1. PL/pgSQL compiles a function once per backend, resolving the types of
-- its DECLAREd variables under the search_path of that first call.  A
-- writer who calls the superuser's reducer function first, under a path
-- where `jsonb` is a domain of its own, must not get that domain's CHECK
-- run as the superuser when its appends compute the automatic snapshot.
CREATE ROLE regress_owner_w IN ROLE chronicle_writer;
CREATE SCHEMA fn_w AUTHORIZATION regress_owner_w;
GRANT USAGE ON SCHEMA fn_owner TO regress_owner_w;
SET check_function_bodies = off;  -- compiled at its first call, not here
CREATE FUNCTION fn_owner.su_count(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    s jsonb := coalesce(state, '{}');
BEGIN
    RETURN jsonb_build_object('n', coalesce((s->>'n')::int, 0) + 1);
END $$;
RESET check_function_bodies;
SELECT chronicle.define_reducer('fn_su_count', 'fn_owner.su_count(jsonb, chronicle.events)'::regprocedure,
                                category => 'zzacct', snapshot_every => 2);
SET ROLE regress_owner_w;
CREATE FUNCTION fn_w.spy(j pg_catalog.jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'the writer''s domain check runs as %', current_user;
    RETURN true;
END $$;
CREATE DOMAIN fn_w.jsonb AS pg_catalog.jsonb CHECK (fn_w.spy(VALUE));
SET search_path = fn_w, pg_catalog;
SELECT fn_owner.su_count(NULL, NULL::chronicle.events);  -- compiled here: the writer's jsonb
RESET search_path;
-- The snapshot runs the function as the superuser: not with that compilation.
SELECT chronicle.append_batch('zzacct-1', '[{"type": "E", "data": {}}, {"type": "E", "data": {}}]');
SELECT current_user, current_setting('search_path') AS search_path;
RESET ROLE;
SELECT version, state FROM chronicle.snapshots WHERE reducer = 'fn_su_count';

-- 2. A function reducer that fails inside an append caught by a savepoint:
-- the appender is itself again, with its own search_path.
CREATE FUNCTION fn_owner.fails(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF e.version = 2 THEN
        RAISE EXCEPTION 'reducer failed at version %', e.version USING ERRCODE = '22000';
    END IF;
    RETURN '{}';
END $$;
SELECT chronicle.define_reducer('fn_fails', 'fn_owner.fails(jsonb, chronicle.events)'::regprocedure,
                                category => 'zzfail', snapshot_every => 2);
SET ROLE regress_owner_w;
SET search_path = fn_w, public;
DO $$
BEGIN
    PERFORM chronicle.append_batch('zzfail-1', '[{"type": "E", "data": {}}, {"type": "E", "data": {}}]');
EXCEPTION WHEN data_exception THEN
    RAISE NOTICE 'caught % as %, search_path %', SQLERRM, current_user, current_setting('search_path');
END $$;
SELECT current_user, current_setting('search_path') AS search_path;
BEGIN;
SAVEPOINT s;
SELECT chronicle.append_batch('zzfail-1', '[{"type": "E", "data": {}}, {"type": "E", "data": {}}]');
ROLLBACK TO SAVEPOINT s;
SELECT current_user, current_setting('search_path') AS search_path;
COMMIT;
RESET search_path;
RESET ROLE;

-- 3. Nested replays: a function reducer that appends to a stream whose
-- reducer snapshots too.  Each replay pins and unpins its own search_path:
-- the outer function still sees the pinned one after the inner replays.
CREATE FUNCTION fn_owner.inner_r(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('path', current_setting('search_path'), 'who', current_user::text) $$;
CREATE FUNCTION fn_owner.outer_r(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chronicle.append('zznin-' || e.version, 'E', '{}');
    PERFORM chronicle.append('zznin-' || e.version, 'E', '{}');
    RETURN jsonb_build_object('path', current_setting('search_path'), 'who', current_user::text);
END $$;
SELECT chronicle.define_reducer('fn_inner', 'fn_owner.inner_r(jsonb, chronicle.events)'::regprocedure,
                                category => 'zznin', snapshot_every => 2);
SELECT chronicle.define_reducer('fn_outer', 'fn_owner.outer_r(jsonb, chronicle.events)'::regprocedure,
                                category => 'zznout', snapshot_every => 2);
SET ROLE regress_owner_w;
SET search_path = fn_w, public;
SELECT chronicle.append_batch('zznout-1', '[{"type": "E", "data": {}}, {"type": "E", "data": {}}]');
SELECT current_user, current_setting('search_path') AS search_path;
RESET search_path;
RESET ROLE;
SELECT stream_id, reducer, version, state FROM chronicle.snapshots
WHERE reducer IN ('fn_inner', 'fn_outer') ORDER BY stream_id, version;

-- 4. A writer may not name another role's function as a reducer: automatic
-- replays would run it as its owner (here the superuser, who may write
-- fn_owner.audit) on the writer's events.  Wrapped in a function of the
-- writer's own, it runs as the writer.
CREATE TABLE fn_owner.audit (who text, what jsonb);
CREATE FUNCTION fn_owner.audited(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$
    INSERT INTO fn_owner.audit VALUES (current_user, e.data);
    SELECT coalesce(state, '{}')
$$;
SET ROLE regress_owner_w;
\set VERBOSITY sqlstate
SELECT chronicle.define_reducer('fn_audited', 'fn_owner.audited(jsonb, chronicle.events)'::regprocedure,
                                category => 'zzaud', snapshot_every => 1);
\set VERBOSITY terse
CREATE FUNCTION fn_w.mine(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$ SELECT fn_owner.audited(state, e) $$;
SELECT chronicle.define_reducer('fn_audited', 'fn_w.mine(jsonb, chronicle.events)'::regprocedure,
                                category => 'zzaud', snapshot_every => 1);
SELECT chronicle.append('zzaud-1', 'E', '{"by": "the writer"}');  -- the writer may not write audit
RESET ROLE;
SELECT * FROM fn_owner.audit;

DROP SCHEMA fn_owner CASCADE;
DROP SCHEMA fn_w CASCADE;
DROP ROLE regress_owner_w;
