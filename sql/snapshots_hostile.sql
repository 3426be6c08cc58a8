-- Snapshots against attack: what a hostile writer, a DBA and hostile input
-- could do to snapshots, and what stops them.
\set VERBOSITY sqlstate
CREATE SCHEMA snapshots_attack;
SET search_path = snapshots_attack, public;

-- 1. Automatic snapshots must not run a writer's code with the appender's
-- rights.  Any chronicle_writer may define a function reducer with a
-- category and snapshot_every; the function then runs inside other users'
-- appends.  It runs as its owner (restricted, search_path pinned), so a
-- superuser appending to the category does not hand the writer its rights.
CREATE ROLE regress_rev_mallory IN ROLE chronicle_writer;
CREATE SCHEMA rev_mal AUTHORIZATION regress_rev_mallory;
SET ROLE regress_rev_mallory;
CREATE FUNCTION rev_mal.spy(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1,
                              'ran_as', current_user::text,
                              'superuser', (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),
                              'search_path', current_setting('search_path'))
$$;
SELECT chronicle.define_reducer('rev_spy', 'rev_mal.spy(jsonb, chronicle.events)'::regprocedure,
                                category => 'revspy', snapshot_every => 2);
RESET ROLE;
-- The superuser appends; the snapshot was computed as the function's owner.
SELECT chronicle.append_batch('revspy-1', '[{"type": "A", "data": {}}, {"type": "A", "data": {}}]');
SELECT version, state FROM chronicle.snapshots WHERE stream_id = 'revspy-1';
SELECT current_user, current_setting('search_path') AS search_path;  -- restored
-- Replay from that snapshot equals a full replay by the same role.
SET ROLE regress_rev_mallory;
SELECT chronicle.replay('revspy-1', 'rev_spy') - 'search_path' = (SELECT chronicle.fold('rev_spy', e ORDER BY e.version)
                                                  FROM chronicle.events e WHERE e.stream_id = 'revspy-1') - 'search_path' AS identical;
RESET ROLE;
-- Nor through a body parsed earlier in the transaction: the writer replays
-- (its own rights, its own search_path, where its operator + shadows
-- pg_catalog's) and then appends.  The automatic snapshot parses the body
-- afresh under the pinned search_path, so the writer's operator never runs
-- as the function's owner (a SQL function keeps its parsed body for the
-- transaction).
CREATE ROLE regress_rev_victim IN ROLE chronicle_writer;
CREATE SCHEMA rev_victim AUTHORIZATION regress_rev_victim;
GRANT USAGE ON SCHEMA rev_victim TO regress_rev_mallory;
SET ROLE regress_rev_victim;
CREATE FUNCTION rev_victim.cnt(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1) $$;
SELECT chronicle.define_reducer('rev_victim', 'rev_victim.cnt(jsonb, chronicle.events)'::regprocedure,
                                category => 'revvic', snapshot_every => 2);
SET ROLE regress_rev_mallory;
CREATE FUNCTION rev_mal.plus(int, int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'operator runs as %', current_user;
    RETURN $1 OPERATOR(pg_catalog.+) $2;
END $$;
CREATE OPERATOR rev_mal.+ (LEFTARG = int, RIGHTARG = int, FUNCTION = rev_mal.plus);
-- (Since 0.2.0 chronicle calls a function reducer under search_path =
-- pg_catalog, pg_temp in explicit replays too, so mallory's own replay no
-- longer reaches her operator either.)
SET search_path = rev_mal, pg_catalog;
\set VERBOSITY terse
BEGIN;
SELECT chronicle.append('revvic-1', 'A', '{}');
SELECT chronicle.replay('revvic-1', 'rev_victim');
SELECT chronicle.append('revvic-1', 'A', '{}');
COMMIT;
\set VERBOSITY sqlstate
RESET search_path;
RESET ROLE;
SET search_path = snapshots_attack, public;
SELECT version, state FROM chronicle.snapshots WHERE stream_id = 'revvic-1';
-- A function whose owner may not read chronicle.events still gets its
-- automatic snapshot: the events are read with the appender's rights, only
-- the function runs as its owner.  (Since 0.2.0 the function's owner must be
-- a role whose rights the reducer's owner has, else the function is no
-- longer the reducer owner's choice: hence mallory is made a member.)
CREATE ROLE regress_rev_nobody;
GRANT regress_rev_nobody TO regress_rev_mallory;
ALTER FUNCTION rev_mal.spy(jsonb, chronicle.events) OWNER TO regress_rev_nobody;
SELECT chronicle.append_batch('revspy-2', '[{"type": "A", "data": {}}, {"type": "A", "data": {}}]');
SELECT version, state->>'ran_as' AS ran_as FROM chronicle.snapshots WHERE stream_id = 'revspy-2';
-- One whose owner may not execute it: no automatic snapshot, and the append succeeds.
REVOKE EXECUTE ON FUNCTION rev_mal.spy(jsonb, chronicle.events) FROM regress_rev_nobody, PUBLIC;
SELECT chronicle.append_batch('revspy-3', '[{"type": "A", "data": {}}, {"type": "A", "data": {}}]');
SELECT count(*) AS snapshots_of_revspy_3 FROM chronicle.snapshots WHERE stream_id = 'revspy-3';
GRANT EXECUTE ON FUNCTION rev_mal.spy(jsonb, chronicle.events) TO PUBLIC;
-- The function reducer raising fails the append, and leaves its identity behind.
CREATE FUNCTION rev_fail(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'reducer says no' USING ERRCODE = 'P0001'; END $$;
SELECT chronicle.define_reducer('rev_fail', 'rev_fail(jsonb, chronicle.events)'::regprocedure,
                                category => 'revfail', snapshot_every => 1);
SELECT chronicle.append('revfail-1', 'A', '{}');
SELECT current_user, chronicle.stream_version('revfail-1');
-- The reducer's cached function call info was put back: calling it again works.
SELECT chronicle.replay('revspy-1', 'rev_fail');

-- 2. (reducer, revision) means one definition.  define_reducer raises the
-- revision when the rules change, but the owner's direct DELETE (after
-- which a new definition starts over at revision 1) or UPDATE of the rules
-- would let the old definition's snapshots pass for the new one's.
SELECT chronicle.define_reducer('rev_cnt', '{"E": {"add": {"n": 1}}}');
SELECT count(chronicle.append('revcnt-1', 'E', '{}')) FROM generate_series(1, 3);
SELECT chronicle.take_snapshot('revcnt-1', 'rev_cnt');
DELETE FROM chronicle.reducers WHERE name = 'rev_cnt';
SELECT count(*) AS left_after_delete FROM chronicle.snapshots WHERE reducer = 'rev_cnt';
SELECT chronicle.define_reducer('rev_cnt', '{"E": {"add": {"n": 10}}}');
SELECT chronicle.replay('revcnt-1', 'rev_cnt');
-- A category or snapshot_every change keeps the revision and the snapshots.
SELECT chronicle.take_snapshot('revcnt-1', 'rev_cnt');
SELECT chronicle.define_reducer('rev_cnt', '{"E": {"add": {"n": 10}}}', category => 'revcnt');
SELECT count(*) AS kept FROM chronicle.snapshots WHERE reducer = 'rev_cnt';
-- A redefinition raises the revision: the old rows stay (prune removes them) but are not used.
SELECT chronicle.define_reducer('rev_cnt', '{"E": {"add": {"n": 20}}}', category => 'revcnt');
SELECT count(*) AS kept_unused FROM chronicle.snapshots WHERE reducer = 'rev_cnt';
SELECT chronicle.replay('revcnt-1', 'rev_cnt');
-- An UPDATE of the rules that keeps the revision deletes them.
SELECT chronicle.take_snapshot('revcnt-1', 'rev_cnt');
UPDATE chronicle.reducers SET rules = '{"E": {"add": {"n": 100}}}' WHERE name = 'rev_cnt';
SELECT count(*) AS left_after_update FROM chronicle.snapshots WHERE reducer = 'rev_cnt';
SELECT chronicle.replay('revcnt-1', 'rev_cnt');
-- So does a rename (of both names), and TRUNCATE (rolled back here).
SELECT chronicle.take_snapshot('revcnt-1', 'rev_cnt');
BEGIN;
UPDATE chronicle.reducers SET name = 'rev_cnt2' WHERE name = 'rev_cnt';
SELECT count(*) AS left_after_rename FROM chronicle.snapshots WHERE reducer IN ('rev_cnt', 'rev_cnt2');
ROLLBACK;
BEGIN;
TRUNCATE chronicle.reducers CASCADE;
SELECT count(*) AS left_after_truncate FROM chronicle.snapshots;
ROLLBACK;
SELECT count(*) AS still_there FROM chronicle.snapshots WHERE reducer = 'rev_cnt';

-- What a revision cannot see (docs/reference/snapshots.md): a function reducer's function
-- replaced in place keeps the revision, so its snapshots still hold the old
-- body's states; prune_snapshots(keep => 0) is the remedy.
CREATE FUNCTION rev_body(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1) $$;
SELECT chronicle.define_reducer('rev_body', 'rev_body(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.take_snapshot('revcnt-1', 'rev_body');
CREATE OR REPLACE FUNCTION rev_body(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 2) $$;
SELECT chronicle.replay('revcnt-1', 'rev_body') AS from_stale_snapshot;
SELECT chronicle.prune_snapshots('rev_body', keep => 0);
SELECT chronicle.replay('revcnt-1', 'rev_body') AS after_prune;

-- 3. snapshot_all's memory stays flat however many batches it commits: a
-- function reducer reports, while each stream is replayed, how many SPI
-- result tables the backend holds and what snapshot_all's own SPI memory
-- uses (states of 20 kB each; before the fix both grew with every batch).
CREATE FUNCTION rev_probe(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'tuptables', (SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'SPI TupTable'),
        'proc_used', (SELECT used_bytes FROM pg_backend_memory_contexts
                      WHERE name = 'SPI Proc' AND parent = 'PortalContext'),
        'pad', repeat('x', 20000))
$$;
SELECT chronicle.define_reducer('rev_probe', 'rev_probe(jsonb, chronicle.events)'::regprocedure, category => 'revmem');
SELECT count(chronicle.append('revmem-' || i, 'E', '{}')) FROM generate_series(10, 49) i;
\set VERBOSITY terse
SET client_min_messages = warning;
CALL chronicle.snapshot_all('rev_probe', 1, 1);
RESET client_min_messages;
\set VERBOSITY sqlstate
SELECT count(*) AS streams,
       max((state->>'tuptables')::int) - min((state->>'tuptables')::int) AS tuptables_growth,
       max((state->>'proc_used')::bigint) - min((state->>'proc_used')::bigint) < 100000 AS proc_memory_flat
FROM chronicle.snapshots WHERE reducer = 'rev_probe';

-- 4. A hostile search_path: operators and functions of a schema the caller
-- owns shadowing pg_catalog's are never called by the snapshot functions.
CREATE FUNCTION rev_mal_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'shadowing operator called'; END $$;
CREATE OPERATOR snapshots_attack.= (LEFTARG = text, RIGHTARG = text, FUNCTION = rev_mal_eq);
CREATE FUNCTION max(bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'shadowing function called'; END $$;
SET search_path = snapshots_attack, pg_catalog, public;
SELECT chronicle.take_snapshot('revcnt-1', 'rev_cnt');
CALL chronicle.snapshot_all('rev_cnt', 1);
SELECT chronicle.prune_snapshots('rev_cnt', 1);
SELECT chronicle.replay('revcnt-1', 'rev_cnt');
SELECT chronicle.define_upcaster('Nothing', 1, '{"set": {"x": 1}}');
SET search_path = snapshots_attack, public;

-- 5. Hostile arguments: clear errors, never XX000, nothing written.
SELECT chronicle.take_snapshot(repeat('x', 1000000), 'rev_cnt');        -- no such stream: 0
SELECT chronicle.take_snapshot(E'revcnt-1\x01', 'rev_cnt');
SELECT chronicle.take_snapshot('', 'rev_cnt');
SELECT chronicle.take_snapshot('revcnt-1', '');                          -- SE004
SELECT chronicle.take_snapshot('revcnt-1', repeat('r', 1000000));        -- SE004
SELECT chronicle.take_snapshot('revcnt-1', 'Rev_Cnt');                   -- names are exact: SE004
CALL chronicle.snapshot_all('rev_cnt', 2147483647, 2147483647);
CALL chronicle.snapshot_all('rev_cnt', -2147483648);
CALL chronicle.snapshot_all('', 1);
CALL chronicle.snapshot_all('rev_cnt', 1, NULL);
CALL chronicle.snapshot_all('rev_cnt', NULL);
SELECT chronicle.prune_snapshots('rev_cnt', 2147483647);
SELECT chronicle.prune_snapshots(repeat('r', 1000000));
SELECT chronicle.replay('revcnt-1', 'rev_cnt', as_of_version => 9223372036854775807);
SELECT chronicle.replay('revcnt-1', 'rev_cnt', as_of_time => '-infinity');
SELECT chronicle.replay('revcnt-1', 'rev_cnt', as_of_time => 'infinity', as_of_version => 2);
SELECT count(*) AS snapshot_rows FROM chronicle.snapshots WHERE stream_id <> 'revcnt-1' AND reducer = 'rev_cnt';
-- The owner's forged states (not an object) give an error, not a crash.
UPDATE chronicle.snapshots SET state = '[1, 2]' WHERE reducer = 'rev_cnt';
SELECT chronicle.append('revcnt-1', 'E', '{}');
SELECT chronicle.replay('revcnt-1', 'rev_cnt');
UPDATE chronicle.snapshots SET state = '"text"' WHERE reducer = 'rev_cnt';
SELECT chronicle.replay('revcnt-1', 'rev_cnt');
-- The internal triggers refuse to be called as functions.
SELECT chronicle._snapshots_reducer_changed();

-- Leave nothing behind.
RESET ROLE;
DELETE FROM chronicle.upcasters WHERE type = 'Nothing';
DELETE FROM chronicle.reducers WHERE name LIKE 'rev\_%';
SELECT count(*) AS left_behind FROM chronicle.snapshots WHERE reducer LIKE 'rev\_%';
DROP SCHEMA rev_mal, rev_victim CASCADE;
DROP FUNCTION rev_fail(jsonb, chronicle.events), rev_probe(jsonb, chronicle.events), rev_body(jsonb, chronicle.events);
DROP ROLE regress_rev_mallory, regress_rev_nobody, regress_rev_victim;
