-- Code runs with the rights of the role that chose it (docs/design/security.md).  A
-- function reducer whose function another role owns runs as that role,
-- restricted, when a superuser asks for it: a superuser's replay,
-- take_snapshot, snapshot_all, fold or projection fill of a writer's reducer
-- must not run the writer's code with superuser rights, and neither may a
-- function planted under a dropped one's name for a superuser's reducer.
-- (A role without the function owner's rights runs it with its own, smaller
-- rights, as before: replay_reducers, snapshots.)
\set VERBOSITY terse
CREATE ROLE regress_rr_w IN ROLE chronicle_writer;
CREATE SCHEMA rr AUTHORIZATION regress_rr_w;
GRANT USAGE ON SCHEMA rr TO PUBLIC;
CREATE TABLE public.rr_calls (super boolean, via text);
GRANT INSERT ON public.rr_calls TO PUBLIC;
SET ROLE regress_rr_w;
CREATE FUNCTION rr.red(s jsonb, e chronicle.events) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.rr_calls
    SELECT r.rolsuper, pg_catalog.current_setting('application_name')
    FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user;
    RETURN pg_catalog.jsonb_build_object('n', COALESCE((s ->> 'n')::int, 0) + 1);
END $$;
GRANT EXECUTE ON FUNCTION rr.red(jsonb, chronicle.events) TO PUBLIC;
SELECT chronicle.define_reducer('rr_w', 'rr.red(jsonb, chronicle.events)'::regprocedure, 'rrc');
RESET ROLE;
SELECT chronicle.append('rrc-1', 'E', '{}');
SELECT chronicle.append('rrc-1', 'E', '{}');

-- The superuser asks for the writer's reducer in every way.
SET application_name = 'replay';
SELECT chronicle.replay('rrc-1', 'rr_w');
SELECT chronicle.append('rrc-1', 'E', '{}');
SET application_name = 'take_snapshot';
SELECT chronicle.take_snapshot('rrc-1', 'rr_w');
SELECT chronicle.append('rrc-1', 'E', '{}');
SET application_name = 'snapshot_all';
CALL chronicle.snapshot_all('rr_w', 1);
SELECT chronicle.append('rrc-1', 'E', '{}');
SET application_name = 'fold';
SELECT chronicle.fold('rr_w', e ORDER BY e.version) FROM chronicle.events e WHERE e.stream_id = 'rrc-1';
SELECT chronicle.append('rrc-1', 'E', '{}');
SET application_name = 'projection';
SELECT chronicle.define_projection('rr_p', 'rr_w', 'public.rr_p', '{"n": "int"}');
SELECT chronicle.rebuild_projection('rr_p');
SELECT stream_id, n FROM public.rr_p;
-- The writer's own calls run as the writer, as before.
SELECT chronicle.append('rrc-1', 'E', '{}');
SET ROLE regress_rr_w;
SET application_name = 'own replay';
SELECT chronicle.replay('rrc-1', 'rr_w');
RESET ROLE;
RESET application_name;
SELECT via, super, count(*) > 0 AS called FROM public.rr_calls GROUP BY 1, 2 ORDER BY 1, 2;

-- A superuser's reducer over its own function, dropped; the writer plants a
-- function of the same signature in a schema it may create in.
TRUNCATE public.rr_calls;
CREATE SCHEMA rr_open;
GRANT CREATE, USAGE ON SCHEMA rr_open TO regress_rr_w;
CREATE FUNCTION rr_open.red(s jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT '{"admin": true}'::jsonb $$;
SELECT chronicle.define_reducer('rr_admin', 'rr_open.red(jsonb, chronicle.events)'::regprocedure, 'rrc');
SELECT chronicle.replay('rrc-1', 'rr_admin');
DROP FUNCTION rr_open.red(jsonb, chronicle.events);
SET ROLE regress_rr_w;
CREATE FUNCTION rr_open.red(s jsonb, e chronicle.events) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.rr_calls
    SELECT r.rolsuper, 'planted' FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user;
    RETURN '{"planted": true}'::jsonb;
END $$;
GRANT EXECUTE ON FUNCTION rr_open.red(jsonb, chronicle.events) TO PUBLIC;
RESET ROLE;
SELECT chronicle.replay('rrc-1', 'rr_admin');
SELECT via, super, count(*) > 0 AS called FROM public.rr_calls GROUP BY 1, 2 ORDER BY 1, 2;

SELECT chronicle.drop_projection('rr_p');
DELETE FROM chronicle.snapshots WHERE reducer LIKE 'rr\_%';
DELETE FROM chronicle.reducers WHERE name LIKE 'rr\_%';
DROP TABLE public.rr_calls;
SET client_min_messages = warning;
DROP SCHEMA rr, rr_open CASCADE;
RESET client_min_messages;
DROP ROLE regress_rr_w;
