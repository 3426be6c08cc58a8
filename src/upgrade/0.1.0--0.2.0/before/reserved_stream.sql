-- 0.1.0 -> 0.2.0, before anything changes: the stream name 0.2.0 reserves.
--
-- 0.2.0 keeps chronicle.redact's receipts in stream chronicle-erasures
-- (EVENT_RECEIPTS_STREAM, src/row/event_row.h): only redact appends to it,
-- verify() checks every redacted event against it and reads never upcast it.
-- 0.1.0 reserved no stream name, so a 0.1.0 log may hold a user's stream of
-- that name; upgraded, its events would be taken for receipts.  No name is
-- free of that risk (0.1.0 accepted every stream_id of 1 to 512 characters
-- without control characters) and an event cannot be renamed, so the upgrade
-- refuses, names the stream and its events, and changes nothing (the whole
-- update is one transaction); docs/design/upgrades.md, "Names 0.2.0
-- reserves", shows how to move the stream aside and upgrade.
DO $reserved_stream$
DECLARE
    events pg_catalog.int8;
    stream_row boolean;
BEGIN
    SELECT pg_catalog.count(*) INTO events FROM chronicle.events e
     WHERE e.stream_id OPERATOR(pg_catalog.=) 'chronicle-erasures';
    SELECT EXISTS (SELECT FROM chronicle.streams s
                    WHERE s.stream_id OPERATOR(pg_catalog.=) 'chronicle-erasures')
        OR EXISTS (SELECT FROM chronicle.snapshots n
                    WHERE n.stream_id OPERATOR(pg_catalog.=) 'chronicle-erasures') INTO stream_row;
    IF events OPERATOR(pg_catalog.>) 0 OR stream_row THEN
        RAISE EXCEPTION 'chronicle 0.2.0 reserves stream "chronicle-erasures" for its erasure receipts, and this database has a stream of that name with % event(s)', events
            USING ERRCODE = 'reserved_name',
                  DETAIL = 'Under 0.2.0 only chronicle.redact appends to that stream and verify() checks redacted events against its events: yours would be taken for receipts. The upgrade changed nothing; the database is still at chronicle 0.1.0.',
                  HINT = 'Events cannot be renamed: move the stream aside. As the extension''s owner, copy its events to a table of yours, delete them and the stream''s rows in chronicle.streams and chronicle.snapshots with triggers off (SET LOCAL session_replication_role = replica), run ALTER EXTENSION chronicle UPDATE again, then append the copies (with their event_id) to a stream of another name with chronicle.append_batch. docs/design/upgrades.md shows each step.';
    END IF;
END
$reserved_stream$;
