-- Defining reducers (docs/reference/replay.md): revisions, the function form, bad
-- arguments, the per-backend cache, and whose rights a reducer runs with.
\set VERBOSITY sqlstate
-- Helpers live in a schema of this test's own, dropped at the end.
CREATE SCHEMA replay_reducers;
SET search_path = replay_reducers, public;

CREATE FUNCTION ev(version bigint, type text, data jsonb, stream text DEFAULT 'acct-1')
RETURNS chronicle.events LANGUAGE sql AS $$
    SELECT ROW(stream, version, version,
               ('00000000-0000-0000-0000-' || lpad(version::text, 12, '0'))::uuid,
               type, 1, data, '{}'::jsonb, '2026-01-01 00:00:00+00'::timestamptz,
               '1'::xid8, '\x'::bytea, '{}'::text[], '\x'::bytea)::chronicle.events
$$;
CREATE FUNCTION run(reducer text, VARIADIC events chronicle.events[]) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT chronicle.fold(reducer, e ORDER BY (e).version) FROM unnest(events) e
$$;

-- The first definition is revision 1; the same rules (however written) keep
-- it; different rules raise it.  category and snapshot_every are stored for
-- the snapshot and projection modules and do not change the revision.
SELECT chronicle.define_reducer('counter', '{"E": {"add": {"n": 1}}}');
SELECT chronicle.define_reducer('counter', '{ "E" : { "add" : { "n" : 1 } } }'::jsonb);
SELECT chronicle.define_reducer('counter', '{"E": {"add": {"n": 2}}}', category => 'acct', snapshot_every => 100);
SELECT chronicle.define_reducer('counter', '{"E": {"add": {"n": 2}}}', category => 'other');
SELECT name, revision, rules, fn, category, snapshot_every FROM chronicle.reducers WHERE name = 'counter';

-- The backend's compiled rules follow each new revision at once.
SELECT run('counter', ev(1, 'E', '{}'));
SELECT chronicle.define_reducer('counter', '{"E": {"add": {"n": 3}}}');
SELECT run('counter', ev(1, 'E', '{}'));

-- The function form: fn(state jsonb, event chronicle.events) RETURNS jsonb,
-- called per event, with a NULL state for the first event.
CREATE FUNCTION count_events(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1,
                              'first_state_was_null', coalesce(state->'first_state_was_null', to_jsonb(state IS NULL)),
                              'last', e.type || '@' || e.version)
$$;
SELECT chronicle.define_reducer('fn_counter', 'count_events(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.define_reducer('fn_counter', 'count_events'::regproc::regprocedure);
SELECT run('fn_counter', ev(1, 'A', '{}'), ev(2, 'B', '{}'), ev(3, 'C', '{}'));
-- A function that returns NULL makes the state NULL.
CREATE FUNCTION forget(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb';
SELECT chronicle.define_reducer('fn_counter', 'forget(jsonb, chronicle.events)'::regprocedure);
SELECT run('fn_counter', ev(1, 'A', '{}')) IS NULL AS state_is_null;
-- Switching between rules and function raises the revision.
SELECT chronicle.define_reducer('fn_counter', '{"A": {"set": {"rules": true}}}');
SELECT run('fn_counter', ev(1, 'A', '{}'));

-- Functions that are not reducers are refused (SE004).
\set VERBOSITY default
CREATE FUNCTION wrong_args(state jsonb, e jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT state';
CREATE FUNCTION wrong_result(state jsonb, e chronicle.events) RETURNS text LANGUAGE sql AS 'SELECT NULL::text';
CREATE FUNCTION strict_one(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql STRICT AS 'SELECT state';
CREATE FUNCTION many(state jsonb, e chronicle.events) RETURNS SETOF jsonb LANGUAGE sql AS 'SELECT state';
SELECT chronicle.define_reducer('f', 'wrong_args(jsonb, jsonb)'::regprocedure);
SELECT chronicle.define_reducer('f', 'wrong_result(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.define_reducer('f', 'strict_one(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.define_reducer('f', 'many(jsonb, chronicle.events)'::regprocedure);
-- A function dropped after definition is reported, not crashed on.
CREATE FUNCTION doomed(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS 'SELECT state';
SELECT chronicle.define_reducer('doomed', 'doomed(jsonb, chronicle.events)'::regprocedure);
DROP FUNCTION doomed(jsonb, chronicle.events);
SELECT run('doomed', ev(1, 'A', '{}'));

-- Bad arguments use PostgreSQL's codes; text that is not JSON is SE004.
\set VERBOSITY sqlstate
SELECT chronicle.define_reducer(NULL, '{}'::jsonb);
SELECT chronicle.define_reducer('', '{}'::jsonb);
SELECT chronicle.define_reducer(repeat('x', 256), '{}'::jsonb);
SELECT chronicle.define_reducer('x', NULL::jsonb);
SELECT chronicle.define_reducer('x', NULL::regprocedure);
SELECT chronicle.define_reducer('x', '{}'::jsonb, category => '');
-- A category never holds a '-': such a reducer would apply to no stream.
SELECT chronicle.define_reducer('x', '{}'::jsonb, category => 'account-1');
SELECT chronicle.define_reducer('x', '{}'::jsonb, snapshot_every => 0);
SELECT chronicle.define_reducer('x', 'count_events(jsonb, chronicle.events)');
\set VERBOSITY default
SELECT chronicle.define_reducer('x', 'count_events(jsonb, chronicle.events)');
\set VERBOSITY sqlstate
SELECT count(*) AS stored FROM chronicle.reducers WHERE name IN ('x', 'f', '');

-- Unknown reducers are SE004.
\set VERBOSITY default
SELECT run('nobody', ev(1, 'A', '{}'));
\set VERBOSITY sqlstate

-- One fold call needs one reducer per group.
SELECT chronicle.fold(r, e)
FROM (VALUES ('counter', ev(1, 'E', '{}')), ('fn_counter', ev(2, 'A', '{}'))) v(r, e);

-- Rights: writers define reducers without any privilege on the table; a
-- function reducer runs with the rights of the role that chose it, its
-- function's owner, whoever replays (restricted; a member of the owning role
-- runs it as itself), never the extension owner's nor the replaying role's.
CREATE ROLE regress_replay_writer IN ROLE chronicle_writer;
CREATE ROLE regress_replay_reader IN ROLE chronicle_reader;
CREATE ROLE regress_replay_nobody;
CREATE FUNCTION whoami(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('user', current_user) $$;
GRANT USAGE ON SCHEMA replay_reducers TO PUBLIC;
GRANT EXECUTE ON FUNCTION whoami(jsonb, chronicle.events), run(text, chronicle.events[]),
      ev(bigint, text, jsonb, text) TO PUBLIC;
-- Only a function's owner names it as a reducer (automatic replays run it as its owner).
ALTER FUNCTION whoami(jsonb, chronicle.events) OWNER TO regress_replay_writer;
SET ROLE regress_replay_writer;
SELECT chronicle.define_reducer('whoami', 'whoami(jsonb, chronicle.events)'::regprocedure);
INSERT INTO chronicle.reducers VALUES ('sneaky', 1, '{}', NULL, NULL, NULL, now());
UPDATE chronicle.reducers SET revision = 99;
SET ROLE regress_replay_reader;
SELECT run('whoami', ev(1, 'A', '{}'));
SELECT chronicle.define_reducer('by_reader', '{}'::jsonb);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION whoami(jsonb, chronicle.events) FROM PUBLIC;
SET ROLE regress_replay_reader;
SELECT run('whoami', ev(1, 'A', '{}'));
SET ROLE regress_replay_nobody;
SELECT chronicle.replay('acct-1', 'whoami');
RESET ROLE;
SELECT name, revision FROM chronicle.reducers WHERE name IN ('whoami', 'sneaky', 'by_reader');
ALTER FUNCTION whoami(jsonb, chronicle.events) OWNER TO CURRENT_USER;
DROP ROLE regress_replay_writer, regress_replay_reader, regress_replay_nobody;

-- Clean up: this file's helpers and reducers.
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA replay_reducers CASCADE;
RESET client_min_messages;
DELETE FROM chronicle.reducers WHERE name IN ('counter', 'fn_counter', 'doomed', 'whoami');
