-- Projections against hostile writers: what broke them once (each case fails
-- without its fix) and hostile input that holds (kept so that it keeps
-- holding).  SQLSTATEs are the point here.
\set VERBOSITY sqlstate
-- 1. A writer must not run code with the rights of whoever appends.  The
-- observer used to replay a projection's reducer as the appender: a writer
-- defining a function reducer over every stream, and a projection of it,
-- ran its function as the next appender, here a superuser, and made itself
-- superuser.  The reducer now runs as the table's owner, restricted.
CREATE ROLE regress_rev_writer IN ROLE chronicle_writer;
CREATE SCHEMA rev_w AUTHORIZATION regress_rev_writer;
SET ROLE regress_rev_writer;
CREATE FUNCTION rev_w.grab(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE regress_rev_writer SUPERUSER';
    END IF;
    IF e.stream_id LIKE 'revbank-%' THEN
        RAISE NOTICE 'reducer ran as %', current_user;
    END IF;
    RETURN jsonb_build_object('who', current_user);
END $$;
GRANT USAGE ON SCHEMA rev_w TO PUBLIC;
GRANT EXECUTE ON FUNCTION rev_w.grab(jsonb, chronicle.events) TO PUBLIC;
SELECT chronicle.define_reducer('rev_grab', 'rev_w.grab(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.define_projection('rev_grab', 'rev_grab', 'rev_w.grabbed', '{"who": "text"}');
RESET ROLE;
\set VERBOSITY terse
SELECT chronicle.append('revbank-1', 'Deposited', '{"amount": 1}');
SELECT rolsuper AS became_superuser FROM pg_roles WHERE rolname = 'regress_rev_writer';
SELECT stream_id, version, who FROM rev_w.grabbed WHERE stream_id = 'revbank-1';
-- A table dropped behind the projection's back fails the append (42P01)
-- before the reducer runs: no NOTICE from it.
DROP TABLE rev_w.grabbed;
SELECT chronicle.append('revbank-1', 'Deposited', '{"amount": 1}');
\set VERBOSITY sqlstate
SELECT chronicle.drop_projection('rev_grab', false);
DELETE FROM chronicle.reducers WHERE name = 'rev_grab';
SET client_min_messages = warning;
DROP SCHEMA rev_w CASCADE;
RESET client_min_messages;
DROP ROLE regress_rev_writer;

-- 2. A rule on the table that rewrites the statement used to raise XX000
-- (SPI's unexpected result); it is 0A000, as PostgreSQL's own refusal of
-- ON CONFLICT on a table with INSERT rules, and nothing is written.
SELECT chronicle.define_reducer('rev_sum', '{"E": {"add": {"n": "$.n"}, "set": {"a": "$.a"}}}', category => 'revs');
SELECT chronicle.append('revs-1', 'E', '{"n": 1, "a": "x"}');
SELECT chronicle.define_projection('rev_sum', 'rev_sum', 'rev_sums', '{"n": "int"}');
CREATE RULE skip AS ON INSERT TO rev_sums DO INSTEAD NOTHING;
SELECT chronicle.append('revs-1', 'E', '{"n": 1}');
SELECT chronicle.rebuild_projection('rev_sum');
DROP RULE skip ON rev_sums;
CREATE RULE keep AS ON DELETE TO rev_sums DO INSTEAD NOTHING;
SELECT chronicle.rebuild_projection('rev_sum');
DROP RULE keep ON rev_sums;
SELECT chronicle.stream_version('revs-1') AS still_1, version, n FROM rev_sums;

-- 3. Memory per append: each backend remembered a copy of the state per
-- append until its transaction ended (about 20 MB here: 1,000 appends of a
-- 20 kB state); it keeps the newest per stream, within its 4 MB budget.
SELECT chronicle.define_reducer('rev_blob', '{"E": {"set": {"blob": "$.blob"}, "add": {"n": 1}}}', category => 'revblob');
SELECT chronicle.define_projection('rev_blob', 'rev_blob', 'rev_blobs', '{"n": "int"}');
BEGIN;
SELECT count(chronicle.append('revblob-1', 'E', jsonb_build_object('blob', repeat('x', 20000))))
FROM generate_series(1, 1000);
SELECT total_bytes < 8 * 1024 * 1024 AS bounded
FROM pg_backend_memory_contexts WHERE name = 'chronicle projection states';
COMMIT;
SELECT version, n FROM rev_blobs;
SELECT chronicle.append('revblob-1', 'E', '{"blob": "y"}');
SELECT version, n FROM rev_blobs;
SELECT chronicle.drop_projection('rev_blob');
DELETE FROM chronicle.reducers WHERE name = 'rev_blob';

-- The hint for a dropped table quotes the name as a literal (it pasted
-- it between quotes, a statement that could not run for this name).
SELECT chronicle.define_projection('it''s', 'rev_sum', 'rev_quoted', '{"n": "int"}');
DROP TABLE rev_quoted;
\set VERBOSITY default
SELECT chronicle.append('revs-1', 'E', '{"n": 1}');
\set VERBOSITY sqlstate
SELECT chronicle.drop_projection('it''s', false);

-- 4. Hostile input that holds.
-- NULLs everywhere: 22004, nothing created.
SELECT chronicle.define_projection(NULL, NULL, NULL, NULL);
SELECT chronicle.define_projection('revx', NULL, 'revx', '{}');
SELECT chronicle.define_projection('revx', 'rev_sum', NULL, '{}');
SELECT chronicle.drop_projection(NULL);
SELECT chronicle.drop_projection(NULL, NULL);
SELECT chronicle.rebuild_projection(NULL);
-- Names: 256 bytes, empty, control characters; JSON null as a column spec.
SELECT chronicle.define_projection(repeat('x', 256), 'rev_sum', 'revx', '{}');
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', '{"a": null}');
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', '{"a": {"type": null}}');
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', '"text"');
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', 'null');
SELECT chronicle.define_projection('revx', 'rev_sum', '', '{}');
SELECT chronicle.define_projection('revx', 'rev_sum', '""', '{}');
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx.', '{}');
SELECT chronicle.define_projection('revx', 'rev_sum', 'other_db.public.revx', '{}');
-- A 1 MB type name, a 1 MB path of empty keys, a type that is a statement.
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', jsonb_build_object('a', repeat('int[]', 200000)));
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', jsonb_build_object('a', jsonb_build_object('type', 'int', 'path', repeat('.', 1000000))));
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', '{"a": "int; SELECT 1"}');
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', '{"a": "setof int"}');
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', '{"a": "void"}');
-- System column names and too many columns: PostgreSQL's own errors.
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', '{"xmin": "int"}');
SELECT chronicle.define_projection('revx', 'rev_sum', 'revx', (SELECT jsonb_object_agg('c' || i, 'int') FROM generate_series(1, 1700) i));
SELECT count(*) AS nothing_created FROM chronicle.projections WHERE name LIKE 'rev%' AND name <> 'rev_sum';
SELECT to_regclass('revx') AS no_table;

-- Column names that need quotes, and names the upsert's own SQL uses
-- (the alias p, EXCLUDED), a control character and a 5,000-key path.
SELECT chronicle.define_reducer('rev_odd', '{"E": {"merge": {"": "$"}}}', category => 'revodd');
SELECT chronicle.append('revodd-1', 'E', jsonb_build_object('p', 1, 'excluded', 2, 'EXCLUDED', 'three',
                                                             'a b"c', 'q', E'tab\there', 't'));
SELECT chronicle.define_projection(E'odd\x01name', 'rev_odd', '"Rev Odd"', jsonb_build_object(
    'p', 'int', 'excluded', 'int', 'EXCLUDED', 'text', 'a b"c', 'text', E'tab\there', 'text',
    'deep', jsonb_build_object('type', 'int', 'path', repeat('k.', 5000) || 'k')));
SELECT chronicle.append('revodd-1', 'E', '{"p": 10}');
SELECT * FROM "Rev Odd";
-- Huge and negative numbers: the type's own range errors, the event not stored.
SELECT left(regress.error_of($$SELECT chronicle.append('revodd-1', 'E', '{"p": 1e300}')$$), 80);
SELECT chronicle.append('revodd-1', 'E', '{"p": -2147483648}');
SELECT stream_id, version, p FROM "Rev Odd";

-- A hostile search_path: a schema of the caller's that shadows the
-- operators and functions the module's SQL uses (=, #>>, #>, split_part,
-- max, now) comes first.  Nothing of it runs, and the results are right.
CREATE SCHEMA rev_shadow;
CREATE FUNCTION rev_shadow.yes(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR rev_shadow.= (LEFTARG = text, RIGHTARG = text, FUNCTION = rev_shadow.yes);
CREATE FUNCTION rev_shadow.zero(jsonb, text[]) RETURNS text LANGUAGE sql AS $$SELECT '0'$$;
CREATE OPERATOR rev_shadow.#>> (LEFTARG = jsonb, RIGHTARG = text[], FUNCTION = rev_shadow.zero);
CREATE FUNCTION rev_shadow.split_part(text, text, int) RETURNS text LANGUAGE sql AS $$SELECT 'revs'$$;
CREATE FUNCTION rev_shadow.max(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
SET search_path = rev_shadow, public, pg_catalog;
SELECT chronicle.define_projection('rev_shadowed', 'rev_sum', 'rev_shadowed', '{"n": "int", "a": "text"}');
SELECT chronicle.append('revs-2', 'E', '{"n": 5, "a": "y"}');
SELECT chronicle.append('revodd-1', 'E', '{"n": 7}');
SELECT chronicle.rebuild_projection('rev_shadowed');
SELECT * FROM rev_shadowed ORDER BY stream_id;
SELECT chronicle.drop_projection('rev_shadowed');
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA rev_shadow CASCADE;
RESET client_min_messages;

SELECT chronicle.drop_projection(E'odd\x01name');
SELECT chronicle.drop_projection('rev_sum');
DELETE FROM chronicle.reducers WHERE name IN ('rev_sum', 'rev_odd');

-- 6. A writer who redefines someone else's reducer must not run code as the
-- projection's owner either.  Here a superuser owns a projection of a rules
-- reducer; a writer tries to redefine that reducer to a function of its own.
-- Since 0.2.0 reducers are owned (docs/design/security.md): the writer is refused
-- (42501) and the projection keeps the superuser's rules.  (Before, any
-- writer could redefine any reducer; the function then ran as its owner,
-- the writer, restricted, not as the table's owner.)  Either way the writer
-- stays what it was.
SELECT chronicle.define_reducer('rev_owned', '{"E": {"set": {"who": "@type"}}}', category => 'revown');
SELECT chronicle.define_projection('rev_owned', 'rev_owned', 'rev_owned_rows', '{"who": "text"}');
CREATE ROLE regress_rev_swapper IN ROLE chronicle_writer;
CREATE SCHEMA rev_s AUTHORIZATION regress_rev_swapper;
SET ROLE regress_rev_swapper;
CREATE FUNCTION rev_s.swap(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE regress_rev_swapper SUPERUSER';
    END IF;
    RETURN jsonb_build_object('who', current_user);
END $$;
GRANT USAGE ON SCHEMA rev_s TO PUBLIC;
GRANT EXECUTE ON FUNCTION rev_s.swap(jsonb, chronicle.events) TO PUBLIC;
SELECT chronicle.define_reducer('rev_owned', 'rev_s.swap(jsonb, chronicle.events)'::regprocedure,
                                category => 'revown');
RESET ROLE;
SELECT chronicle.append('revown-1', 'E', '{}');
SELECT rolsuper AS swapper_became_superuser FROM pg_roles WHERE rolname = 'regress_rev_swapper';
SELECT stream_id, version, who FROM rev_owned_rows;
SELECT chronicle.drop_projection('rev_owned');
DELETE FROM chronicle.reducers WHERE name = 'rev_owned';
SET client_min_messages = warning;
DROP SCHEMA rev_s CASCADE;
RESET client_min_messages;
DROP ROLE regress_rev_swapper;

-- 7. A reducer row deleted by the owner and defined again starts over at
-- revision 1; the states this backend remembers of the old rules must not
-- pass for the new ones' (the next append replays in full).
SELECT chronicle.define_reducer('rev_again', '{"E": {"add": {"n": 1}}}', category => 'revagain');
SELECT chronicle.define_projection('rev_again', 'rev_again', 'rev_again_rows', '{"n": "int"}');
SELECT chronicle.append('revagain-1', 'E', '{}');
SELECT chronicle.append('revagain-1', 'E', '{}');
DELETE FROM chronicle.reducers WHERE name = 'rev_again';
SELECT chronicle.define_reducer('rev_again', '{"E": {"add": {"n": 100}}}', category => 'revagain');
SELECT chronicle.append('revagain-1', 'E', '{}');
SELECT n, n = (chronicle.replay('revagain-1', 'rev_again')->>'n')::int AS equals_full_replay
FROM rev_again_rows;
SELECT chronicle.drop_projection('rev_again');
DELETE FROM chronicle.reducers WHERE name = 'rev_again';
