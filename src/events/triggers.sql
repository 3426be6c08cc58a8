-- chronicle events: triggers that keep the log's history intact (docs/reference/events.md,
-- "Immutability"); see src/events/triggers.cpp.  Triggers of one timing
-- fire in name order: modules that add BEFORE INSERT triggers to
-- chronicle.events should name them so that events_insert_check comes first.

CREATE OR REPLACE FUNCTION chronicle._events_immutable() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_events_immutable';
COMMENT ON FUNCTION chronicle._events_immutable() IS
    'Trigger: UPDATE, DELETE and TRUNCATE of chronicle.events, DELETE and TRUNCATE of chronicle.streams raise SE002 (immutable_history).';

CREATE OR REPLACE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON chronicle.events
    FOR EACH ROW EXECUTE FUNCTION chronicle._events_immutable();
CREATE OR REPLACE TRIGGER events_immutable_truncate BEFORE TRUNCATE ON chronicle.events
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._events_immutable();

-- A stream row goes only with its events; no foreign key guards it (pg_restore
-- -j loads events and streams in parallel: docs/design/operations.md).
CREATE OR REPLACE TRIGGER streams_immutable BEFORE DELETE ON chronicle.streams
    FOR EACH ROW EXECUTE FUNCTION chronicle._events_immutable();
CREATE OR REPLACE TRIGGER streams_immutable_truncate BEFORE TRUNCATE ON chronicle.streams
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._events_immutable();

CREATE OR REPLACE FUNCTION chronicle._events_insert_check() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_events_insert_check';
COMMENT ON FUNCTION chronicle._events_insert_check() IS
    'Trigger: a row inserted into chronicle.events other than by chronicle.append must be the stream''s next version and continue its hash chain (else SE002).';

CREATE OR REPLACE TRIGGER events_insert_check BEFORE INSERT ON chronicle.events
    FOR EACH ROW EXECUTE FUNCTION chronicle._events_insert_check();

CREATE OR REPLACE FUNCTION chronicle._streams_version_grows() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_streams_version_grows';
COMMENT ON FUNCTION chronicle._streams_version_grows() IS
    'Trigger: a chronicle.streams row keeps its stream_id and category, and its version never decreases (else SE002).';

-- AFTER, not BEFORE: a BEFORE ROW UPDATE trigger makes PostgreSQL lock the
-- row (and WAL-log that lock) before every update, i.e. on every append.  And
-- no WHEN clause: PostgreSQL re-reads a trigger's WHEN expression from its
-- stored text on every statement that fires it, which measured (callgrind)
-- six times the cost of queueing this trigger and calling it.  The error
-- still aborts the offending statement.
CREATE OR REPLACE TRIGGER streams_version_grows AFTER UPDATE ON chronicle.streams
    FOR EACH ROW EXECUTE FUNCTION chronicle._streams_version_grows();
