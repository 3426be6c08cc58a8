-- Final review of automatic replays (replay.h, REDUCER_AS_FUNCTION_OWNER):
-- a function reducer's function runs as its owner inside other users'
-- appends; nothing of the appender's session may run code with the owner's
-- rights, and the appender's identity and search_path come back.
\set VERBOSITY terse
CREATE SCHEMA zz_final;
SET search_path = zz_final, public;

-- 1. PL/pgSQL compiles a function once per backend, resolving the types of
-- its DECLAREd variables under the search_path of that first call.  A
-- writer who calls the superuser's reducer function first, under a path
-- where `jsonb` is a domain of its own, must not get that domain's CHECK
-- run as the superuser when its appends compute the automatic snapshot.
CREATE ROLE regress_final_w IN ROLE chronicle_writer;
CREATE SCHEMA zz_w AUTHORIZATION regress_final_w;
GRANT USAGE ON SCHEMA zz_final TO regress_final_w;
SET check_function_bodies = off;  -- compiled at its first call, not here
CREATE FUNCTION zz_final.su_count(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    s jsonb := coalesce(state, '{}');
BEGIN
    RETURN jsonb_build_object('n', coalesce((s->>'n')::int, 0) + 1);
END $$;
RESET check_function_bodies;
SELECT chronicle.define_reducer('zz_su_count', 'zz_final.su_count(jsonb, chronicle.events)'::regprocedure,
                                category => 'zzacct', snapshot_every => 2);
SET ROLE regress_final_w;
CREATE FUNCTION zz_w.spy(j pg_catalog.jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'the writer''s domain check runs as %', current_user;
    RETURN true;
END $$;
CREATE DOMAIN zz_w.jsonb AS pg_catalog.jsonb CHECK (zz_w.spy(VALUE));
SET search_path = zz_w, pg_catalog;
SELECT zz_final.su_count(NULL, NULL::chronicle.events);  -- compiled here: the writer's jsonb
RESET search_path;
-- The snapshot runs the function as the superuser: not with that compilation.
SELECT chronicle.append_batch('zzacct-1', '[{"type": "E", "data": {}}, {"type": "E", "data": {}}]');
SELECT current_user, current_setting('search_path') AS search_path;
RESET ROLE;
SELECT version, state FROM chronicle.snapshots WHERE reducer = 'zz_su_count';

-- 2. A function reducer that fails inside an append caught by a savepoint:
-- the appender is itself again, with its own search_path.
CREATE FUNCTION zz_final.fails(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF e.version = 2 THEN
        RAISE EXCEPTION 'reducer failed at version %', e.version USING ERRCODE = '22000';
    END IF;
    RETURN '{}';
END $$;
SELECT chronicle.define_reducer('zz_fails', 'zz_final.fails(jsonb, chronicle.events)'::regprocedure,
                                category => 'zzfail', snapshot_every => 2);
SET ROLE regress_final_w;
SET search_path = zz_w, public;
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
CREATE FUNCTION zz_final.inner_r(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('path', current_setting('search_path'), 'who', current_user::text) $$;
CREATE FUNCTION zz_final.outer_r(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chronicle.append('zznin-' || e.version, 'E', '{}');
    PERFORM chronicle.append('zznin-' || e.version, 'E', '{}');
    RETURN jsonb_build_object('path', current_setting('search_path'), 'who', current_user::text);
END $$;
SELECT chronicle.define_reducer('zz_inner', 'zz_final.inner_r(jsonb, chronicle.events)'::regprocedure,
                                category => 'zznin', snapshot_every => 2);
SELECT chronicle.define_reducer('zz_outer', 'zz_final.outer_r(jsonb, chronicle.events)'::regprocedure,
                                category => 'zznout', snapshot_every => 2);
SET ROLE regress_final_w;
SET search_path = zz_w, public;
SELECT chronicle.append_batch('zznout-1', '[{"type": "E", "data": {}}, {"type": "E", "data": {}}]');
SELECT current_user, current_setting('search_path') AS search_path;
RESET search_path;
RESET ROLE;
SELECT stream_id, reducer, version, state FROM chronicle.snapshots
WHERE reducer IN ('zz_inner', 'zz_outer') ORDER BY stream_id, version;

-- 4. A writer may not name another role's function as a reducer: automatic
-- replays would run it as its owner (here the superuser, who may write
-- zz_final.audit) on the writer's events.  Wrapped in a function of the
-- writer's own, it runs as the writer.
CREATE TABLE zz_final.audit (who text, what jsonb);
CREATE FUNCTION zz_final.audited(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$
    INSERT INTO zz_final.audit VALUES (current_user, e.data);
    SELECT coalesce(state, '{}')
$$;
SET ROLE regress_final_w;
\set VERBOSITY sqlstate
SELECT chronicle.define_reducer('zz_audited', 'zz_final.audited(jsonb, chronicle.events)'::regprocedure,
                                category => 'zzaud', snapshot_every => 1);
\set VERBOSITY terse
CREATE FUNCTION zz_w.mine(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$ SELECT zz_final.audited(state, e) $$;
SELECT chronicle.define_reducer('zz_audited', 'zz_w.mine(jsonb, chronicle.events)'::regprocedure,
                                category => 'zzaud', snapshot_every => 1);
SELECT chronicle.append('zzaud-1', 'E', '{"by": "the writer"}');  -- the writer may not write audit
RESET ROLE;
SELECT * FROM zz_final.audit;

DROP SCHEMA zz_final CASCADE;
DROP SCHEMA zz_w CASCADE;
DROP ROLE regress_final_w;
