-- Snapshots (docs/reference/snapshots.md): chronicle.snapshots, take_snapshot, replay
-- starting from the newest usable snapshot, automatic snapshots in the
-- appending transaction, snapshot_all and prune_snapshots.
\set VERBOSITY sqlstate
CREATE SCHEMA snapshots;
SET search_path = snapshots, public;

-- The table, as docs/reference/snapshots.md gives it.  It is a cache derived from the log, not
-- an extension configuration table: pg_dump does not carry it.
SELECT column_name, data_type, is_nullable FROM information_schema.columns
WHERE table_schema = 'chronicle' AND table_name = 'snapshots' ORDER BY ordinal_position;
SELECT pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = 'chronicle.snapshots'::regclass AND contype = 'p';
SELECT 'chronicle.snapshots'::regclass::oid = ANY (extconfig) AS dumped
FROM pg_extension WHERE extname = 'chronicle';

-- A rules reducer and a stream of 10 deposits.
SELECT chronicle.define_reducer('snapacct', '{
  "Opened":    {"set": {"owner": "$.owner", "balance": 0}},
  "Deposited": {"add": {"balance": "$.amount"}, "push": {"seen": "@version"}}
}');
SELECT chronicle.append('snapacct-1', 'Opened', '{"owner": "Ann"}');
SELECT chronicle.append_batch('snapacct-1', (SELECT jsonb_agg(jsonb_build_object(
    'type', 'Deposited', 'data', jsonb_build_object('amount', i + 0.1))) FROM generate_series(1, 9) i));

-- take_snapshot stores the current state under the current revision and
-- returns the version it covers.
SELECT chronicle.take_snapshot('snapacct-1', 'snapacct');
SELECT stream_id, reducer, revision, version, state, taken_at >= (
           SELECT max(recorded_at) FROM chronicle.events WHERE stream_id = 'snapacct-1') AS after_events
FROM chronicle.snapshots;
SELECT state = chronicle.replay('snapacct-1', 'snapacct') AS same_as_replay FROM chronicle.snapshots;
-- Again at the same version: the row is kept as it is (same revision).
SELECT taken_at AS first_taken FROM chronicle.snapshots \gset
SELECT chronicle.take_snapshot('snapacct-1', 'snapacct');
SELECT count(*), bool_and(taken_at = :'first_taken') AS unchanged FROM chronicle.snapshots;
-- A stream without events: nothing to snapshot, 0, no row.
SELECT chronicle.take_snapshot('snapacct-none', 'snapacct');
SELECT count(*) FROM chronicle.snapshots WHERE stream_id = 'snapacct-none';
-- Errors: unknown reducer SE004, NULL arguments 22004.
SELECT chronicle.take_snapshot('snapacct-1', 'nope');
SELECT chronicle.take_snapshot(NULL, 'snapacct');
SELECT chronicle.take_snapshot('snapacct-1', NULL);
-- A read-only transaction (or a standby): 25006, nothing written.
BEGIN READ ONLY;
SELECT chronicle.take_snapshot('snapacct-1', 'snapacct');
ROLLBACK;

-- replay starts from the snapshot: a doctored state shows it.  The owner
-- may UPDATE the table; nobody else can.
UPDATE chronicle.snapshots SET state = state || '{"doctored": true}';
SELECT chronicle.replay('snapacct-1', 'snapacct') ? 'doctored' AS used;
SELECT chronicle.replay('snapacct-1', 'snapacct', as_of_version => 10) ? 'doctored' AS used_at;
SELECT chronicle.replay('snapacct-1', 'snapacct', as_of_version => 11) ? 'doctored' AS used_above;
SELECT chronicle.replay('snapacct-1', 'snapacct', as_of_version => 9) ? 'doctored' AS used_below;
DELETE FROM chronicle.snapshots;

-- A snapshot in the middle of the stream (version 5); identical results
-- to the full replay (fold over the events) below, at and above it, and
-- only the events after it are applied.
SELECT chronicle.append_batch('snapacct-1', (SELECT jsonb_agg(jsonb_build_object(
    'type', 'Deposited', 'data', jsonb_build_object('amount', i * 2.5))) FROM generate_series(1, 5) i));
CREATE TABLE full_replay AS
SELECT v, (SELECT chronicle.fold('snapacct', e ORDER BY e.version) FROM chronicle.events e
           WHERE e.stream_id = 'snapacct-1' AND e.version <= v) AS state
FROM generate_series(0, 16) v;
SELECT count(*) FILTER (WHERE chronicle.replay('snapacct-1', 'snapacct', as_of_version => v) IS DISTINCT FROM state)
       AS differences_without_snapshot FROM full_replay;
INSERT INTO chronicle.snapshots
SELECT 'snapacct-1', 'snapacct', 1, 5, chronicle.replay('snapacct-1', 'snapacct', as_of_version => 5), clock_timestamp();
SELECT count(*) FILTER (WHERE chronicle.replay('snapacct-1', 'snapacct', as_of_version => v) IS DISTINCT FROM state)
       AS differences_with_snapshot FROM full_replay;
SELECT chronicle.replay('snapacct-1', 'snapacct') = (SELECT state FROM full_replay WHERE v = 16) AS full_stream;
SELECT chronicle.take_snapshot('snapacct-1', 'snapacct');  -- computed from the one at 5
SELECT count(*) FILTER (WHERE chronicle.replay('snapacct-1', 'snapacct', as_of_version => v) IS DISTINCT FROM state)
       AS differences_with_two FROM full_replay;
SELECT version, state = (SELECT state FROM full_replay WHERE v = version) AS exact
FROM chronicle.snapshots ORDER BY version;

-- as_of_time: a snapshot is used only when it was taken at or before the
-- bound (so every event in it was recorded before the bound).  One taken
-- after the bound is skipped, even at a version the bound includes.
UPDATE chronicle.snapshots SET state = state || '{"doctored": true}';
SELECT max(recorded_at) AS last_recorded FROM chronicle.events WHERE stream_id = 'snapacct-1' \gset
SELECT max(taken_at) AS last_taken FROM chronicle.snapshots \gset
SELECT chronicle.replay('snapacct-1', 'snapacct', as_of_time => :'last_recorded') ? 'doctored' AS used_before_taken,
       chronicle.replay('snapacct-1', 'snapacct', as_of_time => :'last_recorded')
           = (SELECT state FROM full_replay WHERE v = 16) AS identical;
SELECT chronicle.replay('snapacct-1', 'snapacct', as_of_time => :'last_taken') ? 'doctored' AS used_once_taken;
SELECT chronicle.replay('snapacct-1', 'snapacct', as_of_time => 'infinity') ? 'doctored' AS used_unbounded;

-- Redefining the reducer raises its revision: the old snapshots (doctored
-- or not) are never used again.
SELECT chronicle.define_reducer('snapacct', '{
  "Opened":    {"set": {"owner": "$.owner", "balance": 0}},
  "Deposited": {"add": {"balance": "$.amount"}}
}');
SELECT chronicle.replay('snapacct-1', 'snapacct') ? 'doctored' AS old_revision_used,
       chronicle.replay('snapacct-1', 'snapacct') = (SELECT chronicle.fold('snapacct', e ORDER BY e.version)
                                             FROM chronicle.events e WHERE e.stream_id = 'snapacct-1') AS identical;
-- Taking it again replaces the old revision's row at that version.
SELECT chronicle.take_snapshot('snapacct-1', 'snapacct');
SELECT version, revision, state ? 'doctored' AS doctored, state ? 'seen' AS has_seen
FROM chronicle.snapshots ORDER BY version;

-- A function reducer (it runs with the caller's rights), including a
-- state it leaves NULL: identical below, at and above a snapshot.
CREATE FUNCTION tally(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE WHEN e.type = 'Reset' THEN NULL
                ELSE jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1, 'last', e.version) END
$$;
SELECT chronicle.define_reducer('tally', 'tally(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.append_batch('tally-1', '[{"type": "A", "data": {}}, {"type": "A", "data": {}},
    {"type": "Reset", "data": {}}, {"type": "A", "data": {}}, {"type": "A", "data": {}}]');
SELECT chronicle.replay('tally-1', 'tally', as_of_version => 3) IS NULL AS null_at_3;
SELECT v, chronicle.replay('tally-1', 'tally', as_of_version => v) AS state
INTO tally_full FROM generate_series(0, 5) v;
SELECT chronicle.take_snapshot('tally-1', 'tally');
INSERT INTO chronicle.snapshots VALUES ('tally-1', 'tally', 1, 3, NULL, clock_timestamp());
INSERT INTO chronicle.snapshots VALUES ('tally-1', 'tally', 1, 2, '{"n": 2, "last": 2}', clock_timestamp());
SELECT count(*) FILTER (WHERE chronicle.replay('tally-1', 'tally', as_of_version => v) IS DISTINCT FROM state)
       AS differences FROM tally_full;
SELECT * FROM tally_full ORDER BY v;

-- Automatic snapshots: a reducer with a category and snapshot_every N gets
-- one in the appending transaction when a stream of that category crosses
-- a multiple of N.
SELECT chronicle.define_reducer('every3', '{"Tick": {"add": {"n": 1}}}', category => 'tick', snapshot_every => 3);
SELECT chronicle.append('tick-1', 'Tick', '{}') FROM generate_series(1, 7);
SELECT version, state FROM chronicle.snapshots WHERE reducer = 'every3' ORDER BY stream_id, version;
-- An append_batch from 8 to 13 crosses 9 and 12: one snapshot, at the last.
SELECT chronicle.append_batch('tick-1', (SELECT jsonb_agg('{"type": "Tick", "data": {}}'::jsonb) FROM generate_series(1, 6)));
SELECT version, state FROM chronicle.snapshots WHERE reducer = 'every3' ORDER BY stream_id, version;
-- Other categories get none.
SELECT chronicle.append_batch('tock-1', (SELECT jsonb_agg('{"type": "Tick", "data": {}}'::jsonb) FROM generate_series(1, 6)));
SELECT count(*) FROM chronicle.snapshots WHERE stream_id = 'tock-1';
-- Rolling back the append rolls back its snapshot.
BEGIN;
SELECT chronicle.append_batch('tick-2', '[{"type": "Tick", "data": {}}, {"type": "Tick", "data": {}}, {"type": "Tick", "data": {}}]');
SELECT version, state FROM chronicle.snapshots WHERE stream_id = 'tick-2';
ROLLBACK;
SELECT count(*) FROM chronicle.snapshots WHERE stream_id = 'tick-2';
-- A policy defined in the same transaction as the append applies at once
-- (every3, of the same category, snapshots at 3); dropping snapshot_every
-- stops it.
BEGIN;
SELECT chronicle.define_reducer('every2', '{"Tick": {"add": {"n": 1}}}', category => 'tick', snapshot_every => 2);
SELECT chronicle.append('tick-3', 'Tick', '{}') FROM generate_series(1, 2);
SELECT reducer, version FROM chronicle.snapshots WHERE stream_id = 'tick-3' ORDER BY reducer;
SELECT chronicle.define_reducer('every2', '{"Tick": {"add": {"n": 1}}}', category => 'tick');
SELECT chronicle.append('tick-3', 'Tick', '{}') FROM generate_series(1, 2);
SELECT reducer, version FROM chronicle.snapshots WHERE stream_id = 'tick-3' ORDER BY reducer, version;
COMMIT;
-- Without a category, snapshot_every writes nothing automatically.
SELECT chronicle.define_reducer('nocat', '{"Tick": {"add": {"n": 1}}}', snapshot_every => 1);
SELECT chronicle.append('tick-4', 'Tick', '{}');
SELECT count(*) FROM chronicle.snapshots WHERE reducer = 'nocat';
-- A rules reducer that cannot apply to the crossing event fails the append
-- (SE004), snapshot and events together.
SELECT chronicle.define_reducer('strict3', '{"Tick": {"add": {"n": "$.n"}}}', category => 'strict', snapshot_every => 3);
SELECT chronicle.append_batch('strict-1', '[{"type": "Tick", "data": {"n": 1}}, {"type": "Tick", "data": {"n": 2}}]');
SELECT chronicle.append('strict-1', 'Tick', '{"n": "three"}');
SELECT chronicle.stream_version('strict-1'), (SELECT count(*) FROM chronicle.snapshots WHERE stream_id = 'strict-1');

-- Privileges.  Writers append and take snapshots; the rows are written
-- with the owner's rights; nobody writes the table directly.
CREATE ROLE regress_snap_writer IN ROLE chronicle_writer;
CREATE ROLE regress_snap_reader IN ROLE chronicle_reader;
CREATE FUNCTION secret_tally(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1)
$$;
REVOKE EXECUTE ON FUNCTION secret_tally(jsonb, chronicle.events) FROM PUBLIC;
SELECT chronicle.define_reducer('secret', 'secret_tally(jsonb, chronicle.events)'::regprocedure,
                                category => 'priv', snapshot_every => 2);
GRANT USAGE ON SCHEMA snapshots TO regress_snap_writer;
SET ROLE regress_snap_writer;
-- The writer may append but not execute the function reducer: the append
-- succeeds and the automatic snapshot is computed by the function's owner
-- (never with the appender's rights, nor with chronicle's owner's unless it
-- owns the function).
SELECT chronicle.append_batch('priv-1', '[{"type": "A", "data": {}}, {"type": "A", "data": {}}]');
SELECT count(*) AS snapshots_written FROM chronicle.snapshots WHERE stream_id = 'priv-1';
-- Asked for explicitly, it runs as the function's owner too: the writer's
-- rights are never lent to it, nor are its owner's rights to the writer.
SELECT chronicle.take_snapshot('priv-1', 'secret');
SELECT chronicle.replay('priv-1', 'secret');
-- A rules reducer: the writer's take_snapshot writes the row.
SELECT chronicle.take_snapshot('snapacct-1', 'snapacct');
INSERT INTO chronicle.snapshots VALUES ('snapacct-1', 'snapacct', 99, 1, '{}', now());
UPDATE chronicle.snapshots SET state = '{}';
DELETE FROM chronicle.snapshots;
RESET ROLE;
-- The owner appending gets the next one too.
SELECT chronicle.append_batch('priv-1', '[{"type": "A", "data": {}}, {"type": "A", "data": {}}]');
SELECT version, state FROM chronicle.snapshots WHERE stream_id = 'priv-1';
-- Readers may SELECT the table, and replay uses the snapshots for them too.
SET ROLE regress_snap_reader;
SELECT count(*) > 0 AS readable FROM chronicle.snapshots;
SELECT chronicle.replay('snapacct-1', 'snapacct') = (SELECT chronicle.fold('snapacct', e ORDER BY e.version)
                                             FROM chronicle.events e WHERE e.stream_id = 'snapacct-1') AS identical;
SELECT chronicle.take_snapshot('snapacct-1', 'snapacct');
RESET ROLE;

-- snapshot_all: streams of the reducer's category with at least
-- min_new_events events since their newest snapshot of the current
-- revision, in batches, each committed, with a NOTICE per batch.
\set VERBOSITY default
SELECT chronicle.define_reducer('pages', '{"Page": {"add": {"n": 1}}}', category => 'page');
SELECT chronicle.append_batch('page-' || i, (SELECT jsonb_agg('{"type": "Page", "data": {}}'::jsonb)
                                             FROM generate_series(1, i)))
FROM generate_series(1, 5) i;
SELECT chronicle.append('notpage-1', 'Page', '{}');
CALL chronicle.snapshot_all('pages', min_new_events => 3, batch_size => 2);
SELECT stream_id, version, state FROM chronicle.snapshots WHERE reducer = 'pages' ORDER BY stream_id;
-- Nothing new: nothing to do.
CALL chronicle.snapshot_all('pages', 3, 2);
SELECT chronicle.append_batch('page-3', '[{"type": "Page", "data": {}}, {"type": "Page", "data": {}}, {"type": "Page", "data": {}}]');
CALL chronicle.snapshot_all('pages', 3);
SELECT stream_id, version, state FROM chronicle.snapshots WHERE reducer = 'pages' ORDER BY stream_id, version;
-- Errors.
\set VERBOSITY sqlstate
CALL chronicle.snapshot_all('nope');
CALL chronicle.snapshot_all(NULL);
CALL chronicle.snapshot_all('pages', 0);
CALL chronicle.snapshot_all('pages', 1, 0);
-- It commits, so it cannot run inside a transaction block (2D000), nor
-- from a function; a procedure or DO block may call it.
BEGIN;
CALL chronicle.snapshot_all('pages', 1);
ROLLBACK;
CREATE FUNCTION call_all() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CALL chronicle.snapshot_all('pages', 1); END $$;
SELECT call_all();
DO $$ BEGIN CALL chronicle.snapshot_all('pages', 1); END $$;
-- A reducer without a category covers every stream (the files before this
-- one left streams too: compare with chronicle.streams).
SELECT chronicle.define_reducer('any', '{"*": {"add": {"n": 1}}}');
CALL chronicle.snapshot_all('any', 4, 1000);
SELECT count(*) AS streams_without_snapshot FROM chronicle.streams s
WHERE s.version >= 4 AND NOT EXISTS (SELECT FROM chronicle.snapshots p
                                     WHERE p.stream_id = s.stream_id AND p.reducer = 'any'
                                       AND p.version = s.version AND p.state = jsonb_build_object('n', s.version));
SELECT count(*) AS snapshots_of_short_streams FROM chronicle.snapshots p JOIN chronicle.streams s USING (stream_id)
WHERE p.reducer = 'any' AND s.version < 4;

-- prune_snapshots keeps the newest `keep` per stream of the current
-- revision and removes every row of older revisions.
SELECT stream_id, version FROM chronicle.snapshots WHERE reducer = 'every3' ORDER BY stream_id, version;
SELECT chronicle.prune_snapshots('every3', 2);
SELECT stream_id, version FROM chronicle.snapshots WHERE reducer = 'every3' ORDER BY stream_id, version;
SELECT chronicle.prune_snapshots('every3');
SELECT stream_id, version FROM chronicle.snapshots WHERE reducer = 'every3' ORDER BY stream_id, version;
SELECT chronicle.prune_snapshots('every3');
UPDATE chronicle.snapshots SET revision = 0 WHERE reducer = 'pages' AND stream_id = 'page-5';
SELECT chronicle.prune_snapshots('pages', 5);
SELECT stream_id, version FROM chronicle.snapshots WHERE reducer = 'pages' ORDER BY stream_id, version;
SELECT chronicle.prune_snapshots('pages', 0);
SELECT count(*) FROM chronicle.snapshots WHERE reducer = 'pages';
SELECT chronicle.prune_snapshots('nope');
SELECT chronicle.prune_snapshots(NULL);
SELECT chronicle.prune_snapshots('pages', -1);
SELECT chronicle.prune_snapshots('pages', NULL);

-- An upcaster changes what a replay reads from stored events: the
-- snapshots that include events of its type are deleted, the others kept.
SELECT chronicle.define_reducer('names', '{"Named": {"set": {"name": "$.name"}}}');
SELECT chronicle.append('person-1', 'Named', '{"nom": "Ann"}');
SELECT chronicle.append('person-2', 'Other', '{}');
SELECT chronicle.take_snapshot('person-1', 'names'), chronicle.take_snapshot('person-2', 'names');
SELECT chronicle.replay('person-1', 'names');
SELECT chronicle.define_upcaster('Named', 1, '{"rename": {"nom": "name"}}');
SELECT stream_id FROM chronicle.snapshots WHERE reducer = 'names' ORDER BY stream_id;
SELECT chronicle.replay('person-1', 'names');
-- Defining it again with the same rules changes nothing and keeps them; an
-- upcaster from version 2 concerns events stored at versions 1 and 2, not 3.
SELECT chronicle.append_batch('person-3', '[{"type": "Named", "type_version": 3, "data": {"name": "Cy"}}]');
SELECT chronicle.take_snapshot('person-' || i, 'names') FROM generate_series(1, 3) i;
SELECT chronicle.define_upcaster('Named', 1, '{"rename": {"nom": "name"}}');
SELECT stream_id, state FROM chronicle.snapshots WHERE reducer = 'names' ORDER BY stream_id;
SELECT chronicle.define_upcaster('Named', 2, '{"set": {"checked": true}}');
SELECT stream_id, state FROM chronicle.snapshots WHERE reducer = 'names' ORDER BY stream_id;
-- TRUNCATE of the upcasters deletes every snapshot (rolled back here).
BEGIN;
TRUNCATE chronicle.upcasters;
SELECT count(*) FROM chronicle.snapshots;
ROLLBACK;

-- Replay finds a snapshot with a probe of the primary key; a table the
-- owner altered is read through a query instead, with the same results.
UPDATE chronicle.snapshots SET state = state || '{"doctored": true}' WHERE reducer = 'snapacct';
ALTER TABLE chronicle.snapshots ADD COLUMN note text;
SELECT chronicle.replay('snapacct-1', 'snapacct') ? 'doctored' AS used,
       chronicle.replay('snapacct-1', 'snapacct', as_of_version => 14) ? 'doctored' AS used_below;
SELECT chronicle.take_snapshot('snapacct-1', 'snapacct');
ALTER TABLE chronicle.snapshots DROP COLUMN note;

-- Leave no policy or upcaster behind for the files that follow.
DELETE FROM chronicle.upcasters WHERE type = 'Named';
DELETE FROM chronicle.reducers WHERE name IN ('snapacct', 'tally', 'every3', 'every2', 'nocat', 'strict3',
                                              'secret', 'pages', 'any', 'names');
DELETE FROM chronicle.snapshots;
REVOKE USAGE ON SCHEMA snapshots FROM regress_snap_writer;
DROP ROLE regress_snap_writer, regress_snap_reader;
