-- Who may do what (docs/design/security.md, docs/reference/events.md): chronicle_writer appends,
-- chronicle_reader reads, a role with neither can do nothing, and nobody
-- writes the tables directly.
CREATE ROLE regress_events_writer IN ROLE chronicle_writer;
CREATE ROLE regress_events_reader IN ROLE chronicle_reader;
CREATE ROLE regress_events_nobody;

SET ROLE regress_events_writer;
SELECT chronicle.append('acl-1', 'Created', '{}') AS writer_appends;
SELECT chronicle.append_batch('acl-1', '[{"type": "Touched", "data": {}}]') AS writer_batches;
SELECT count(*) AS writer_reads FROM chronicle.read_stream('acl-1');
-- ... but not around the functions.
SELECT regress.error_of($$INSERT INTO chronicle.streams VALUES ('acl-2', 'acl', 1, now(), now())$$);
SELECT regress.error_of($$UPDATE chronicle.streams SET version = 99$$);
SELECT regress.error_of($$DELETE FROM chronicle.events$$);
SELECT regress.error_of($$SELECT pg_catalog.nextval('chronicle.global_position_seq')$$);
-- An append that fails after switching to the owner's rights (here SE001,
-- caught by an exception block) leaves the session as the writer.
DO $$
BEGIN
    PERFORM chronicle.append('acl-1', 'Late', '{}', expected_version => 0);
EXCEPTION WHEN SQLSTATE 'SE001' THEN
    RAISE NOTICE 'caught %: now running as %', SQLSTATE, current_user;
END $$;
SELECT current_user, regress.error_of($$DELETE FROM chronicle.streams$$) AS still_no_rights;
RESET ROLE;

SET ROLE regress_events_reader;
SELECT chronicle.stream_version('acl-1') AS reader_version,
       (SELECT count(*) FROM chronicle.read_all(category => 'acl')) AS reader_read_all,
       (SELECT count(*) FROM chronicle.events WHERE stream_id = 'acl-1') AS reader_selects;
SELECT regress.error_of($$SELECT chronicle.append('acl-1', 'Hacked', '{}')$$);
SELECT regress.error_of($$SELECT chronicle.append_batch('acl-1', '[{"type": "Hacked", "data": {}}]')$$);
RESET ROLE;

SET ROLE regress_events_nobody;
SELECT regress.error_of($$SELECT chronicle.stream_version('acl-1')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.read_all()$$);
SELECT regress.error_of($$SELECT * FROM chronicle.read_stream('acl-1')$$);
SELECT regress.error_of($$SELECT count(*) FROM chronicle.events$$);
SELECT regress.error_of($$SELECT chronicle.append('acl-1', 'Hacked', '{}')$$);
RESET ROLE;

-- The appended rows are there, written with the owner's rights.
SELECT version, type FROM chronicle.events WHERE stream_id = 'acl-1' ORDER BY version;

DROP ROLE regress_events_writer, regress_events_reader, regress_events_nobody;
