-- chronicle: the extension's base: guard, roles, schema privileges, version().
-- The install script chronicle--<version>.sql is this file followed by each
-- module's src/<module>/*.sql and src/privileges.sql (see the Makefile).

\echo Use "CREATE EXTENSION chronicle" to load this file. \quit

-- Roles are cluster-wide and outlive the extension, so create them only when missing.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chronicle_reader') THEN
        CREATE ROLE chronicle_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chronicle_writer') THEN
        CREATE ROLE chronicle_writer NOLOGIN;
    END IF;
END
$roles$;
GRANT chronicle_reader TO chronicle_writer;

-- Created here, not by the control file, so that the schema is a member of
-- the extension: DROP EXTENSION removes it, and a pre-existing user schema of
-- that name is never taken over.
CREATE SCHEMA chronicle;
COMMENT ON SCHEMA chronicle IS 'chronicle: event store and nested sets';
GRANT USAGE ON SCHEMA chronicle TO PUBLIC;

CREATE FUNCTION chronicle.version() RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_version';
COMMENT ON FUNCTION chronicle.version() IS
    'The version of the chronicle shared library.';

-- Internal: exercises the C++/PostgreSQL error boundary (see src/pg/boundary.h).
CREATE FUNCTION chronicle._boundary_selftest(mode text) RETURNS int
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_boundary_selftest';
COMMENT ON FUNCTION chronicle._boundary_selftest(text) IS
    'Internal test of the C++ error boundary: raises a PostgreSQL error inside guarded C++ code, or a C++ exception out of an entry point.';

CREATE FUNCTION chronicle._boundary_counters(OUT live bigint, OUT destroyed bigint)
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_boundary_counters';
COMMENT ON FUNCTION chronicle._boundary_counters() IS
    'Internal: C++ objects of the boundary self-test alive now and destroyed so far in this backend.';
-- chronicle events: the stream and event tables (SPEC section 2).
-- Column order is part of the contract: chronicle.events is also the row type
-- that read functions return and that fold() and SQL reducers receive.

CREATE TABLE chronicle.streams (
    stream_id  text        PRIMARY KEY,
    category   text        NOT NULL,
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
COMMENT ON TABLE chronicle.streams IS
    'One row per stream: its category and current version (the number of events).';

CREATE TABLE chronicle.events (
    stream_id       text        NOT NULL REFERENCES chronicle.streams,
    version         bigint      NOT NULL,
    global_position bigint      NOT NULL UNIQUE,
    event_id        uuid        NOT NULL UNIQUE,
    type            text        NOT NULL,
    type_version    int         NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    recorded_at     timestamptz NOT NULL,
    tx_id           xid8        NOT NULL,
    hash            bytea       NOT NULL,
    PRIMARY KEY (stream_id, version)
);
COMMENT ON TABLE chronicle.events IS
    'The append-only event log; rows are written only by chronicle.append and chronicle.append_batch.';

CREATE SEQUENCE chronicle.global_position_seq AS bigint OWNED BY chronicle.events.global_position;
COMMENT ON SEQUENCE chronicle.global_position_seq IS
    'Source of chronicle.events.global_position (unique, increasing, may have gaps).';

-- Indexes (SPEC "Indexes must serve"): a stream read by version is the
-- primary key; the global log in (tx_id, global_position) order; a category
-- in log order.  The category is the part of stream_id before the first '-',
-- exactly pg_catalog.split_part(stream_id, '-', 1); read_all's category filter
-- uses that same expression so the planner matches this index.
CREATE INDEX events_log_idx ON chronicle.events (tx_id, global_position);
CREATE INDEX events_category_log_idx
    ON chronicle.events (pg_catalog.split_part(stream_id, '-', 1), tx_id, global_position);
CREATE INDEX streams_category_idx ON chronicle.streams (category);

-- pg_dump skips the contents of an extension's tables unless told otherwise;
-- the log is user data, so it is dumped.
SELECT pg_catalog.pg_extension_config_dump('chronicle.streams', '');
SELECT pg_catalog.pg_extension_config_dump('chronicle.events', '');
SELECT pg_catalog.pg_extension_config_dump('chronicle.global_position_seq', '');

-- Readers see the log; nobody but the owner writes it (appends run with the
-- owner's rights inside chronicle.append / append_batch).
GRANT SELECT ON chronicle.streams, chronicle.events TO chronicle_reader;
-- chronicle events: triggers that keep the log's history intact (SPEC section
-- 2, "Immutability"); see src/events/triggers.cpp.  Triggers of one timing
-- fire in name order: modules that add BEFORE INSERT triggers to
-- chronicle.events should name them so that events_insert_check comes first.

CREATE FUNCTION chronicle._events_immutable() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_events_immutable';
COMMENT ON FUNCTION chronicle._events_immutable() IS
    'Trigger: UPDATE, DELETE and TRUNCATE of chronicle.events raise SE002 (immutable_history).';

CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON chronicle.events
    FOR EACH ROW EXECUTE FUNCTION chronicle._events_immutable();
CREATE TRIGGER events_immutable_truncate BEFORE TRUNCATE ON chronicle.events
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._events_immutable();

CREATE FUNCTION chronicle._events_insert_check() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_events_insert_check';
COMMENT ON FUNCTION chronicle._events_insert_check() IS
    'Trigger: a row inserted into chronicle.events other than by chronicle.append must be the stream''s next version and continue its hash chain (else SE002).';

CREATE TRIGGER events_insert_check BEFORE INSERT ON chronicle.events
    FOR EACH ROW EXECUTE FUNCTION chronicle._events_insert_check();

CREATE FUNCTION chronicle._streams_version_grows() RETURNS trigger
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
CREATE TRIGGER streams_version_grows AFTER UPDATE ON chronicle.streams
    FOR EACH ROW EXECUTE FUNCTION chronicle._streams_version_grows();
-- chronicle events: the public functions of the event store (SPEC section 2).
-- (File order in the install script is alphabetical: tables, triggers, verbs.)
-- They are written in C++ and never resolve unqualified names (the SQL they
-- run qualifies every function and operator), so they need no pinned
-- search_path.  None is STRICT: a NULL where a value is required is 22004,
-- not a silent NULL, and a NULL with a documented default means the default.

CREATE FUNCTION chronicle.append(stream_id text, type text, data jsonb,
                                 metadata jsonb DEFAULT NULL,
                                 expected_version bigint DEFAULT NULL,
                                 event_id uuid DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_append';
COMMENT ON FUNCTION chronicle.append(text, text, jsonb, jsonb, bigint, uuid) IS
    'Append one event to a stream; returns the stream''s new version. expected_version: NULL any, 0 new stream, N exactly N (else SE001). A repeated event_id with the same content is a no-op.';
GRANT EXECUTE ON FUNCTION chronicle.append(text, text, jsonb, jsonb, bigint, uuid) TO chronicle_writer;

CREATE FUNCTION chronicle.append_batch(stream_id text, events jsonb,
                                       expected_version bigint DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_append_batch';
COMMENT ON FUNCTION chronicle.append_batch(text, jsonb, bigint) IS
    'Append a JSON array of events [{"type", "data", "metadata", "event_id", "type_version"}] atomically with consecutive versions; returns the version after the last event.';
GRANT EXECUTE ON FUNCTION chronicle.append_batch(text, jsonb, bigint) TO chronicle_writer;

CREATE FUNCTION chronicle.stream_version(stream_id text)
    RETURNS bigint
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_stream_version';
COMMENT ON FUNCTION chronicle.stream_version(text) IS
    'The number of events in the stream (0 when it has none).';
GRANT EXECUTE ON FUNCTION chronicle.stream_version(text) TO chronicle_reader;

CREATE FUNCTION chronicle.read_stream(stream_id text, from_version bigint DEFAULT NULL,
                                      max_count int DEFAULT NULL, backward boolean DEFAULT false)
    RETURNS SETOF chronicle.events
    LANGUAGE c STABLE ROWS 100
    AS 'MODULE_PATHNAME', 'chronicle_read_stream';
COMMENT ON FUNCTION chronicle.read_stream(text, bigint, int, boolean) IS
    'A stream''s events (upcast), forward from from_version (default 1) or backward from it (default the latest), at most max_count (default all).';
GRANT EXECUTE ON FUNCTION chronicle.read_stream(text, bigint, int, boolean) TO chronicle_reader;

-- read_all runs one kept plan per filter shape (src/events/read.cpp): the
-- log strictly after the given pair, only below the snapshot's xmin
-- (README.md, "Why `read_all` never skips an event"), upcast on the way.
CREATE FUNCTION chronicle.read_all(after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0,
                                   max_count int DEFAULT 1000, category text DEFAULT NULL,
                                   types text[] DEFAULT NULL)
    RETURNS SETOF chronicle.events
    LANGUAGE c STABLE ROWS 1000
    AS 'MODULE_PATHNAME', 'chronicle_read_all';
COMMENT ON FUNCTION chronicle.read_all(xid8, bigint, int, text, text[]) IS
    'The global log (upcast) in (tx_id, global_position) order, strictly after the given pair and only from transactions below the snapshot xmin, so paging never skips an event.';
GRANT EXECUTE ON FUNCTION chronicle.read_all(xid8, bigint, int, text, text[]) TO chronicle_reader;

CREATE FUNCTION chronicle.verify(stream_id text DEFAULT NULL)
    RETURNS TABLE(stream_id text, version bigint, problem text)
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_verify';
COMMENT ON FUNCTION chronicle.verify(text) IS
    'Recompute the SHA-256 hash chain of one stream (or all when NULL); one row per problem (altered row, missing version, duplicate, stream row disagreeing with its events). No rows: intact.';
GRANT EXECUTE ON FUNCTION chronicle.verify(text) TO chronicle_reader;
-- chronicle types: event-type schemas and upcasters (SPEC section 4).
-- Definitions live in two tables; each backend keeps them compiled in a cache
-- that a trigger on the tables invalidates everywhere (src/types/cache.h).

CREATE TABLE chronicle.event_types (
    type         text        NOT NULL,
    type_version int         NOT NULL CHECK (type_version OPERATOR(pg_catalog.>=) 1),
    schema       jsonb       NOT NULL,
    defined_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT event_types_pkey PRIMARY KEY (type, type_version)
);
COMMENT ON TABLE chronicle.event_types IS
    'JSON schemas of event types, one per (type, type_version); written by chronicle.define_event_type.';
SELECT pg_catalog.pg_extension_config_dump('chronicle.event_types', '');
GRANT SELECT ON chronicle.event_types TO chronicle_reader;

CREATE TABLE chronicle.upcasters (
    type         text        NOT NULL,
    from_version int         NOT NULL CHECK (from_version OPERATOR(pg_catalog.>=) 1),
    rules        jsonb       NOT NULL,
    defined_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT upcasters_pkey PRIMARY KEY (type, from_version)
);
COMMENT ON TABLE chronicle.upcasters IS
    'Upcasters: rules turning data of (type, from_version) into from_version + 1; written by chronicle.define_upcaster.';
SELECT pg_catalog.pg_extension_config_dump('chronicle.upcasters', '');
GRANT SELECT ON chronicle.upcasters TO chronicle_reader;

-- Internal: every change to the definitions, however made, reaches the caches.
CREATE FUNCTION chronicle._types_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_types_changed';
COMMENT ON FUNCTION chronicle._types_changed() IS
    'Internal trigger: invalidates every backend''s cache of event types and upcasters.';

-- Row triggers, so that an upsert that changes nothing invalidates nothing.
CREATE TRIGGER event_types_changed AFTER INSERT OR UPDATE OR DELETE ON chronicle.event_types
    FOR EACH ROW EXECUTE FUNCTION chronicle._types_changed();
CREATE TRIGGER event_types_truncated AFTER TRUNCATE ON chronicle.event_types
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._types_changed();
CREATE TRIGGER upcasters_changed AFTER INSERT OR UPDATE OR DELETE ON chronicle.upcasters
    FOR EACH ROW EXECUTE FUNCTION chronicle._types_changed();
CREATE TRIGGER upcasters_truncated AFTER TRUNCATE ON chronicle.upcasters
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._types_changed();

-- SECURITY DEFINER: writers store definitions without any privilege on the
-- tables.  The C code runs one fixed, fully qualified upsert (src/types/api.cpp).
CREATE FUNCTION chronicle.define_event_type(type text, schema jsonb, type_version int DEFAULT 1)
    RETURNS void
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_event_type';
COMMENT ON FUNCTION chronicle.define_event_type(text, jsonb, int) IS
    'Define (or replace) the JSON schema that every appended event of this type and type_version must satisfy.';
GRANT EXECUTE ON FUNCTION chronicle.define_event_type(text, jsonb, int) TO chronicle_writer;

CREATE FUNCTION chronicle.define_upcaster(type text, from_version int, rules jsonb)
    RETURNS void
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_upcaster';
COMMENT ON FUNCTION chronicle.define_upcaster(text, int, jsonb) IS
    'Define (or replace) the rules (rename, set, unset) that turn data of type at from_version into from_version + 1 when read.';
GRANT EXECUTE ON FUNCTION chronicle.define_upcaster(text, int, jsonb) TO chronicle_writer;

-- Internal test helpers: what append checks and what reads return, without an append.
CREATE FUNCTION chronicle._check_event(type text, type_version int, data jsonb)
    RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_check_event';
COMMENT ON FUNCTION chronicle._check_event(text, int, jsonb) IS
    'Internal test helper: true when data passes the schema of (type, type_version) as append checks it, else SE003.';

CREATE FUNCTION chronicle._upcast(type text, type_version int, data jsonb,
                                  OUT type_version int, OUT data jsonb)
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_upcast';
COMMENT ON FUNCTION chronicle._upcast(text, int, jsonb) IS
    'Internal test helper: data and type_version after the upcaster chain, as read functions return them.';
-- chronicle replay: reducers, replay, fold and merge_agg (SPEC section 3).

CREATE TABLE chronicle.reducers (
    name           text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    revision       int         NOT NULL CHECK (revision > 0),
    rules          jsonb,
    fn             regprocedure,
    category       text,
    snapshot_every int         CHECK (snapshot_every > 0),
    defined_at     timestamptz NOT NULL,
    CHECK ((rules IS NULL) <> (fn IS NULL))
);
COMMENT ON TABLE chronicle.reducers IS
    'Reducers by name: the current revision and either its rules (jsonb) or its function; written only by chronicle.define_reducer.';
-- User data: pg_dump keeps the definitions (fn is dumped as its signature).
SELECT pg_catalog.pg_extension_config_dump('chronicle.reducers', '');
GRANT SELECT ON chronicle.reducers TO chronicle_reader;

CREATE FUNCTION chronicle.define_reducer(name text, rules jsonb, category text DEFAULT NULL,
                                         snapshot_every int DEFAULT NULL) RETURNS int
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_reducer_rules';
COMMENT ON FUNCTION chronicle.define_reducer(text, jsonb, text, int) IS
    'Define or redefine a rules reducer; returns its revision (raised only when the rules change). Malformed rules raise SE004.';
GRANT EXECUTE ON FUNCTION chronicle.define_reducer(text, jsonb, text, int) TO chronicle_writer;

CREATE FUNCTION chronicle.define_reducer(name text, fn regprocedure, category text DEFAULT NULL,
                                         snapshot_every int DEFAULT NULL) RETURNS int
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_reducer_fn';
COMMENT ON FUNCTION chronicle.define_reducer(text, regprocedure, text, int) IS
    'Define or redefine a function reducer fn(state jsonb, event chronicle.events) RETURNS jsonb; returns its revision.';
GRANT EXECUTE ON FUNCTION chronicle.define_reducer(text, regprocedure, text, int) TO chronicle_writer;

-- A literal written without a cast ('{...}') would match both forms above
-- (jsonb and regprocedure are in different type categories, so PostgreSQL
-- cannot choose); a text form makes such literals the rules form.
CREATE FUNCTION chronicle.define_reducer(name text, rules text, category text DEFAULT NULL,
                                         snapshot_every int DEFAULT NULL) RETURNS int
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    parsed jsonb;
BEGIN
    BEGIN
        parsed := rules::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'invalid rules for reducer "%": the text is not JSON', name
            USING ERRCODE = 'SE004',
                  HINT = 'Pass a function reducer as a regprocedure: ''my_reducer(jsonb,chronicle.events)''::regprocedure.';
    END;
    RETURN chronicle.define_reducer(name, parsed, category, snapshot_every);
END
$$;
COMMENT ON FUNCTION chronicle.define_reducer(text, text, text, int) IS
    'The rules form of define_reducer for rules written as text or an untyped literal.';
GRANT EXECUTE ON FUNCTION chronicle.define_reducer(text, text, text, int) TO chronicle_writer;

CREATE FUNCTION chronicle.replay(stream_id text, reducer text, as_of_version bigint DEFAULT NULL,
                                 as_of_time timestamptz DEFAULT NULL) RETURNS jsonb
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'chronicle_replay';
COMMENT ON FUNCTION chronicle.replay(text, text, bigint, timestamptz) IS
    'The state of a stream rebuilt by a reducer, up to as_of_version and/or as_of_time; NULL when no event is within the bounds.';
GRANT EXECUTE ON FUNCTION chronicle.replay(text, text, bigint, timestamptz) TO chronicle_reader;

CREATE FUNCTION chronicle._fold_step(state internal, reducer text, e chronicle.events) RETURNS internal
    LANGUAGE c PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'chronicle_fold_step';
COMMENT ON FUNCTION chronicle._fold_step(internal, text, chronicle.events) IS
    'Internal: transition function of chronicle.fold.';
CREATE FUNCTION chronicle._fold_final(state internal) RETURNS jsonb
    LANGUAGE c PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'chronicle_fold_final';
COMMENT ON FUNCTION chronicle._fold_final(internal) IS
    'Internal: final function of chronicle.fold (serialises the state once per group).';
CREATE AGGREGATE chronicle.fold(reducer text, e chronicle.events) (
    SFUNC = chronicle._fold_step,
    STYPE = internal,
    FINALFUNC = chronicle._fold_final,
    FINALFUNC_MODIFY = READ_ONLY
);
COMMENT ON AGGREGATE chronicle.fold(text, chronicle.events) IS
    'Fold events into state with a reducer; use ORDER BY version inside the call.';
GRANT EXECUTE ON FUNCTION chronicle.fold(text, chronicle.events) TO chronicle_reader;

CREATE FUNCTION chronicle._merge_step(state internal, data jsonb) RETURNS internal
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_merge_step';
COMMENT ON FUNCTION chronicle._merge_step(internal, jsonb) IS
    'Internal: transition function of chronicle.merge_agg.';
CREATE FUNCTION chronicle._merge_final(state internal) RETURNS jsonb
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_merge_final';
COMMENT ON FUNCTION chronicle._merge_final(internal) IS
    'Internal: final function of chronicle.merge_agg.';
CREATE AGGREGATE chronicle.merge_agg(data jsonb) (
    SFUNC = chronicle._merge_step,
    STYPE = internal,
    FINALFUNC = chronicle._merge_final,
    FINALFUNC_MODIFY = READ_ONLY
);
COMMENT ON AGGREGATE chronicle.merge_agg(jsonb) IS
    'RFC 7396 merge-patch fold: each value patches the result of the previous ones (null members remove keys); use ORDER BY.';
GRANT EXECUTE ON FUNCTION chronicle.merge_agg(jsonb) TO chronicle_reader;
-- chronicle snapshots: stored reducer states that replay starts from (SPEC section 5).

-- Not an extension configuration table: a snapshot is a cache derived from
-- the log, the reducers and the upcasters, which pg_dump keeps.  A restored
-- database replays in full (same results) until CALL chronicle.snapshot_all()
-- has run, and a dump never carries a state that the restored definitions
-- would not produce.
CREATE TABLE chronicle.snapshots (
    stream_id text        NOT NULL,
    reducer   text        NOT NULL,
    revision  int         NOT NULL,
    version   bigint      NOT NULL CHECK (version OPERATOR(pg_catalog.>) 0),
    state     jsonb,      -- NULL only where a function reducer returned NULL
    taken_at  timestamptz NOT NULL,
    PRIMARY KEY (stream_id, reducer, version)
);
COMMENT ON TABLE chronicle.snapshots IS
    'Reducer states at a stream version; replay starts from the newest one of the reducer''s current revision. Written only by chronicle''s functions.';
GRANT SELECT ON chronicle.snapshots TO chronicle_reader;

CREATE FUNCTION chronicle.take_snapshot(stream_id text, reducer text) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_take_snapshot';
COMMENT ON FUNCTION chronicle.take_snapshot(text, text) IS
    'Store the stream''s current state under the reducer''s current revision; returns the version snapshotted (0 when the stream has no events).';
GRANT EXECUTE ON FUNCTION chronicle.take_snapshot(text, text) TO chronicle_writer;

-- A procedure in C: it commits after each batch, and a procedure that
-- commits cannot pin search_path with a SET clause (src/snapshots/all.cpp
-- qualifies every name instead).
CREATE PROCEDURE chronicle.snapshot_all(reducer text, min_new_events int DEFAULT 100,
                                        batch_size int DEFAULT 1000)
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_snapshot_all';
COMMENT ON PROCEDURE chronicle.snapshot_all(text, int, int) IS
    'Snapshot every stream of the reducer''s category (all streams when it has none) with at least min_new_events events since its newest snapshot; commits after each batch of batch_size streams.';
GRANT EXECUTE ON PROCEDURE chronicle.snapshot_all(text, int, int) TO chronicle_writer;

CREATE FUNCTION chronicle.prune_snapshots(reducer text, keep int DEFAULT 1) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    current_revision int;
    removed bigint;
BEGIN
    IF prune_snapshots.reducer IS NULL THEN
        RAISE EXCEPTION 'reducer must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF keep IS NULL OR keep < 0 THEN
        RAISE EXCEPTION 'keep must be 0 or more, not %', keep USING ERRCODE = '22023';
    END IF;
    SELECT r.revision INTO current_revision
    FROM chronicle.reducers r WHERE r.name = prune_snapshots.reducer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'reducer "%" does not exist', prune_snapshots.reducer
            USING ERRCODE = 'SE004', HINT = 'Define it with chronicle.define_reducer().';
    END IF;
    -- Older revisions are never used again: all of them go.
    DELETE FROM chronicle.snapshots s
    USING (SELECT q.stream_id, q.version
           FROM (SELECT p.stream_id, p.version, p.revision,
                        row_number() OVER (PARTITION BY p.stream_id, p.revision = current_revision
                                           ORDER BY p.version DESC) AS newest
                 FROM chronicle.snapshots p
                 WHERE p.reducer = prune_snapshots.reducer) q
           WHERE q.revision <> current_revision OR q.newest > keep) d
    WHERE s.reducer = prune_snapshots.reducer AND s.stream_id = d.stream_id AND s.version = d.version;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION chronicle.prune_snapshots(text, int) IS
    'Delete the reducer''s snapshots but the newest `keep` of its current revision per stream (older revisions all go); returns the rows removed.';
GRANT EXECUTE ON FUNCTION chronicle.prune_snapshots(text, int) TO chronicle_writer;

-- Internal: a change of the reducers reaches every backend's cache of
-- automatic-snapshot policies (src/snapshots/catalog.h).
CREATE FUNCTION chronicle._snapshot_policies_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_snapshot_policies_changed';
COMMENT ON FUNCTION chronicle._snapshot_policies_changed() IS
    'Internal trigger: invalidates every backend''s cache of automatic-snapshot policies.';
-- Row triggers: define_reducer's upsert stops at its one RETURNING row, so
-- its ModifyTable never ends and statement triggers would not fire.
CREATE TRIGGER snapshot_policies_changed AFTER INSERT OR UPDATE OR DELETE ON chronicle.reducers
    FOR EACH ROW EXECUTE FUNCTION chronicle._snapshot_policies_changed();
CREATE TRIGGER snapshot_policies_truncated AFTER TRUNCATE ON chronicle.reducers
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._snapshot_policies_changed();

-- Internal: an upcaster changes what a replay reads from stored events, so
-- the snapshots that include events it applies to are deleted
-- (src/snapshots/upcasters.cpp).
CREATE FUNCTION chronicle._snapshots_upcaster_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_snapshots_upcaster_changed';
COMMENT ON FUNCTION chronicle._snapshots_upcaster_changed() IS
    'Internal trigger: deletes the snapshots that include events a new, changed or removed upcaster applies to.';
CREATE TRIGGER snapshots_upcaster_changed AFTER INSERT OR DELETE ON chronicle.upcasters
    FOR EACH ROW EXECUTE FUNCTION chronicle._snapshots_upcaster_changed();
CREATE TRIGGER snapshots_upcaster_updated AFTER UPDATE ON chronicle.upcasters
    FOR EACH ROW WHEN ((OLD.type, OLD.from_version, OLD.rules) IS DISTINCT FROM (NEW.type, NEW.from_version, NEW.rules))
    EXECUTE FUNCTION chronicle._snapshots_upcaster_changed();
CREATE TRIGGER snapshots_upcaster_truncated AFTER TRUNCATE ON chronicle.upcasters
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._snapshots_upcaster_changed();

-- Internal: (reducer, revision) must always mean one definition.  An owner's
-- direct DELETE (then a new definition starts over at revision 1) or UPDATE
-- of rules/fn that keeps the revision would otherwise let the old
-- definition's snapshots pass for the new one's (src/snapshots/reducers.cpp).
-- define_reducer's own upserts raise the revision and do not fire it.
CREATE FUNCTION chronicle._snapshots_reducer_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_snapshots_reducer_changed';
COMMENT ON FUNCTION chronicle._snapshots_reducer_changed() IS
    'Internal trigger: deletes the snapshots of a reducer whose row is deleted, renamed, or changed without a new revision.';
CREATE TRIGGER snapshots_reducer_deleted AFTER DELETE ON chronicle.reducers
    FOR EACH ROW EXECUTE FUNCTION chronicle._snapshots_reducer_changed();
CREATE TRIGGER snapshots_reducer_updated AFTER UPDATE ON chronicle.reducers
    FOR EACH ROW WHEN (OLD.name OPERATOR(pg_catalog.<>) NEW.name
                       OR (NEW.revision OPERATOR(pg_catalog.<=) OLD.revision
                           AND (OLD.revision, OLD.rules, OLD.fn::pg_catalog.oid)
                               IS DISTINCT FROM (NEW.revision, NEW.rules, NEW.fn::pg_catalog.oid)))
    EXECUTE FUNCTION chronicle._snapshots_reducer_changed();
CREATE TRIGGER snapshots_reducer_truncated AFTER TRUNCATE ON chronicle.reducers
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._snapshots_reducer_changed();
-- chronicle projections: inline read models kept current by every append
-- (SPEC section 6, first half).

CREATE TABLE chronicle.projections (
    name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    reducer    text        NOT NULL,
    category   text,
    table_name regclass    NOT NULL,
    columns    jsonb       NOT NULL,
    defined_at timestamptz NOT NULL
);
COMMENT ON TABLE chronicle.projections IS
    'Inline projections: the reducer, the category it covered when defined (NULL: every stream), the table and its columns ([{name, type, path}]); written only by define_projection and drop_projection.';
-- User data: pg_dump keeps the definitions (table_name is dumped as its name).
SELECT pg_catalog.pg_extension_config_dump('chronicle.projections', '');
GRANT SELECT ON chronicle.projections TO chronicle_reader;

-- No SET search_path on these three: an unqualified table_name and the
-- column types resolve in the caller's search_path, as a CREATE TABLE would;
-- the C code qualifies everything else it runs.
CREATE FUNCTION chronicle.define_projection(name text, reducer text, table_name text, columns jsonb)
    RETURNS regclass
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_define_projection';
COMMENT ON FUNCTION chronicle.define_projection(text, text, text, jsonb) IS
    'Create table_name (stream_id, version and the given columns, owned by the caller), fill it from the log and keep it current inside every append to the reducer''s category.';
GRANT EXECUTE ON FUNCTION chronicle.define_projection(text, text, text, jsonb) TO chronicle_writer;

CREATE FUNCTION chronicle.rebuild_projection(name text) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_rebuild_projection';
COMMENT ON FUNCTION chronicle.rebuild_projection(text) IS
    'Replace a projection''s rows from the log in one pass (fold per stream), in one transaction; returns the rows written. For the table''s owner.';
GRANT EXECUTE ON FUNCTION chronicle.rebuild_projection(text) TO chronicle_writer;

CREATE FUNCTION chronicle.drop_projection(name text, drop_table boolean DEFAULT true) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_drop_projection';
COMMENT ON FUNCTION chronicle.drop_projection(text, boolean) IS
    'Stop keeping a projection; drop_table (default) also drops its table. For the table''s owner.';
GRANT EXECUTE ON FUNCTION chronicle.drop_projection(text, boolean) TO chronicle_writer;
-- chronicle: durable subscriptions over the global log (SPEC section 6, second half).
-- A subscription is a name, optional category and types filters, and one
-- checkpoint per consumer-group member, in read_all order (tx_id,
-- global_position).  poll (C++, src/subscriptions/poll.cpp) reads after a
-- checkpoint under read_all's horizon; ack, park and the rest write here with
-- the owner's rights (SECURITY DEFINER): nobody else has any write privilege
-- on these tables.

-- Consumers manage subscription state but need not append: a role of their
-- own, a member of chronicle_reader; chronicle_writer is a member of it.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chronicle_subscriber') THEN
        CREATE ROLE chronicle_subscriber NOLOGIN;
    END IF;
END
$roles$;
GRANT chronicle_reader TO chronicle_subscriber;
GRANT chronicle_subscriber TO chronicle_writer;

CREATE TYPE chronicle.log_position AS (tx_id xid8, global_position bigint);
COMMENT ON TYPE chronicle.log_position IS
    'A position in the global log, in read_all order: (tx_id, global_position).';

CREATE TABLE chronicle.subscriptions (
    name           text        PRIMARY KEY,
    category       text,                        -- NULL: every category
    types          text[],                      -- NULL: every type; sorted, distinct
    members        int         NOT NULL DEFAULT 1 CHECK (members BETWEEN 1 AND 1024),
    -- Where a member without a row in subscription_checkpoints stands: the
    -- start of the subscription, or the lowest checkpoint at the last change
    -- of the group size.
    start_tx_id    xid8        NOT NULL,
    start_position bigint      NOT NULL,
    created_at     timestamptz NOT NULL
);
COMMENT ON TABLE chronicle.subscriptions IS
    'Subscriptions: filters, consumer-group size and start position (written by subscribe, poll on a new group size, unsubscribe).';

CREATE TABLE chronicle.subscription_checkpoints (
    subscription    text        NOT NULL REFERENCES chronicle.subscriptions ON DELETE CASCADE,
    member          int         NOT NULL,
    tx_id           xid8        NOT NULL,
    global_position bigint      NOT NULL,
    acked_at        timestamptz NOT NULL,
    PRIMARY KEY (subscription, member)
);
COMMENT ON TABLE chronicle.subscription_checkpoints IS
    'The last acknowledged position of each consumer-group member that has acknowledged anything (written by ack).';

CREATE TABLE chronicle.parked (
    subscription text        NOT NULL REFERENCES chronicle.subscriptions ON DELETE CASCADE,
    event_id     uuid        NOT NULL,
    error        text        NOT NULL,
    attempts     int         NOT NULL,
    parked_at    timestamptz NOT NULL,
    PRIMARY KEY (subscription, event_id)
);
COMMENT ON TABLE chronicle.parked IS
    'Events a subscription''s consumer parked: skipped by poll until replay_parked; the last error, how often parked, when last.';

-- Subscription state is user data: pg_dump includes it.
SELECT pg_catalog.pg_extension_config_dump('chronicle.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('chronicle.subscription_checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('chronicle.parked', '');

GRANT SELECT ON chronicle.subscriptions, chronicle.subscription_checkpoints, chronicle.parked
    TO chronicle_reader;

-- The member of a group of `members` that a stream belongs to: the first four
-- bytes of SHA-256(stream_id) as an unsigned big-endian number, mod members.
CREATE FUNCTION chronicle._stream_member(stream_id text, members int) RETURNS int
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_stream_member';
COMMENT ON FUNCTION chronicle._stream_member(text, int) IS
    'The consumer-group member (0 .. members-1) that receives a stream: first 4 bytes of sha256(stream_id) as an unsigned big-endian integer, mod members.';
GRANT EXECUTE ON FUNCTION chronicle._stream_member(text, int) TO chronicle_reader;

-- Argument checks shared by the functions below (22004 / 22023 / SE006).
CREATE FUNCTION chronicle._subscription_name(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'subscription name must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF length(name) NOT BETWEEN 1 AND 255 THEN
        RAISE EXCEPTION 'subscription name must have 1 to 255 characters (got %)', length(name)
            USING ERRCODE = '22023';
    END IF;
    IF name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'subscription name must not contain control characters'
            USING ERRCODE = '22023';
    END IF;
    RETURN name;
END
$$;
COMMENT ON FUNCTION chronicle._subscription_name(text) IS
    'Internal: checks a subscription name (22004 NULL, 22023 empty, longer than 255 characters or with control characters).';

CREATE FUNCTION chronicle.subscribe(name text, category text DEFAULT NULL, types text[] DEFAULT NULL,
                                    from_start boolean DEFAULT true) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(subscribe.name);
    sub_types text[];
    existing record;
    start chronicle.log_position := ROW('0', 0);
BEGIN
    IF subscribe.from_start IS NULL THEN
        RAISE EXCEPTION 'from_start must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- A subscription that could never deliver anything is a mistake, not a wish.
    IF strpos(subscribe.category, '-') > 0 THEN
        RAISE EXCEPTION 'category "%" contains ''-'': a category is the part of a stream id before its first ''-''',
                        subscribe.category
            USING ERRCODE = '22023';
    END IF;
    IF subscribe.types IS NOT NULL THEN
        IF array_ndims(subscribe.types) > 1 THEN
            RAISE EXCEPTION 'types must be a one-dimensional array' USING ERRCODE = '22023';
        END IF;
        IF cardinality(subscribe.types) = 0 THEN
            RAISE EXCEPTION 'types must not be empty (NULL means every type)' USING ERRCODE = '22023';
        END IF;
        IF array_position(subscribe.types, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'types must not contain NULL' USING ERRCODE = '22004';
        END IF;
        sub_types := ARRAY(SELECT DISTINCT t FROM unnest(subscribe.types) AS t ORDER BY t);
    END IF;

    FOR attempt IN 1 .. 2 LOOP
        SELECT s.category, s.types INTO existing
        FROM chronicle.subscriptions s WHERE s.name = sub_name;
        IF FOUND THEN
            -- Consumers subscribe at start-up: the same definition again is a no-op.
            IF existing.category IS NOT DISTINCT FROM subscribe.category
               AND existing.types IS NOT DISTINCT FROM sub_types THEN
                RETURN;
            END IF;
            RAISE EXCEPTION 'subscription "%" already exists with other filters', sub_name
                USING ERRCODE = '42710',
                      DETAIL = format('category %s, types %s', coalesce(quote_literal(existing.category), 'NULL'),
                                      coalesce(existing.types::text, 'NULL')),
                      HINT = 'unsubscribe it first, or use another name';
        END IF;
        IF attempt = 2 THEN
            -- A concurrent subscribe of this name committed after our snapshot.
            RAISE EXCEPTION 'subscription "%" was created concurrently', sub_name
                USING ERRCODE = '40001';
        END IF;

        IF NOT subscribe.from_start THEN
            -- The end of what read_all can return now: events below the
            -- snapshot's xmin are final, so nothing can appear behind this
            -- position later; committed events above it are delivered.
            SELECT e.tx_id, e.global_position INTO start
            FROM chronicle.events e
            WHERE e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY e.tx_id DESC, e.global_position DESC LIMIT 1;
            IF NOT FOUND THEN
                start := ROW('0', 0);
            END IF;
        END IF;

        INSERT INTO chronicle.subscriptions AS s
            (name, category, types, members, start_tx_id, start_position, created_at)
        VALUES (sub_name, subscribe.category, sub_types, 1, start.tx_id, start.global_position, now())
        ON CONFLICT (name) DO NOTHING;
        IF FOUND THEN
            RETURN;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION chronicle.subscribe(text, text, text[], boolean) IS
    'Creates a durable subscription over read_all order, from the start of the log or from its current end; the same definition again is a no-op, another one 42710.';
GRANT EXECUTE ON FUNCTION chronicle.subscribe(text, text, text[], boolean) TO chronicle_subscriber;

CREATE FUNCTION chronicle.poll(name text, max_count int DEFAULT 100, member int DEFAULT 0,
                               members int DEFAULT 1) RETURNS SETOF chronicle.events
    LANGUAGE c VOLATILE ROWS 100
    AS 'MODULE_PATHNAME', 'chronicle_poll';
COMMENT ON FUNCTION chronicle.poll(text, int, int, int) IS
    'The next events after the member''s checkpoint that match the subscription, in read_all order, without parked events; the same until ack.';
GRANT EXECUTE ON FUNCTION chronicle.poll(text, int, int, int) TO chronicle_subscriber;

-- Called by poll when the group size it is given is not the subscription's:
-- every member of the new group starts at the lowest checkpoint of the old
-- one (some events come again, none is lost).
CREATE FUNCTION chronicle._subscription_resize(name text, members int) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub record;
    lowest chronicle.log_position;
    acked int;
BEGIN
    -- poll checks members before calling this; a direct call (the function is
    -- granted to chronicle_subscriber) gets poll's codes, not a constraint's.
    IF _subscription_resize.members IS NULL THEN
        RAISE EXCEPTION 'members must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF _subscription_resize.members NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'members must be between 1 and 1024 (got %)', _subscription_resize.members
            USING ERRCODE = '22023';
    END IF;
    SELECT s.members, s.start_tx_id, s.start_position INTO sub
    FROM chronicle.subscriptions s WHERE s.name = _subscription_resize.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', _subscription_resize.name USING ERRCODE = 'SE006';
    END IF;
    IF sub.members = _subscription_resize.members THEN
        RETURN;
    END IF;
    -- The lock above waited for acks in flight, but under REPEATABLE READ or
    -- SERIALIZABLE an ack committed after this transaction's snapshot stays
    -- invisible: a member's first ack (a new row) would escape the count, the
    -- lowest and the DELETE below, and survive as the checkpoint of the
    -- member with that number in the new group, whose streams differ (events
    -- lost).  A row per old member, inserted ON CONFLICT DO NOTHING, meets
    -- such a row in the primary key, and PostgreSQL then raises 40001
    -- (retry).  Under READ COMMITTED every row is visible and nothing fails.
    -- The rows it adds stand at the start position, which is where a member
    -- without a row stands, and the DELETE removes them again.
    INSERT INTO chronicle.subscription_checkpoints AS c (subscription, member, tx_id, global_position, acked_at)
    SELECT _subscription_resize.name, m.m, sub.start_tx_id, sub.start_position, now()
    FROM generate_series(0, sub.members - 1) AS m(m)
    ON CONFLICT (subscription, member) DO NOTHING;
    SELECT count(*) INTO acked
    FROM chronicle.subscription_checkpoints c WHERE c.subscription = _subscription_resize.name;
    SELECT c.tx_id, c.global_position INTO lowest
    FROM chronicle.subscription_checkpoints c WHERE c.subscription = _subscription_resize.name
    ORDER BY c.tx_id, c.global_position LIMIT 1;
    -- A member without a row still stands at the start position.
    IF acked < sub.members THEN
        lowest := ROW(sub.start_tx_id, sub.start_position);
    END IF;
    DELETE FROM chronicle.subscription_checkpoints c WHERE c.subscription = _subscription_resize.name;
    UPDATE chronicle.subscriptions s
    SET members = _subscription_resize.members, start_tx_id = lowest.tx_id, start_position = lowest.global_position
    WHERE s.name = _subscription_resize.name;
END
$$;
COMMENT ON FUNCTION chronicle._subscription_resize(text, int) IS
    'Internal (called by poll): changes a subscription''s group size; every member restarts at the lowest checkpoint of the old group.';
GRANT EXECUTE ON FUNCTION chronicle._subscription_resize(text, int) TO chronicle_subscriber;

CREATE FUNCTION chronicle.ack(name text, tx_id xid8, global_position bigint, member int DEFAULT 0)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(ack.name);
    m int := coalesce(ack.member, 0);
    sub record;
BEGIN
    IF ack.tx_id IS NULL OR ack.global_position IS NULL THEN
        RAISE EXCEPTION 'tx_id and global_position must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- KEY SHARE: a concurrent change of the group size or unsubscribe waits for this ack.
    SELECT s.members, s.start_tx_id, s.start_position INTO sub
    FROM chronicle.subscriptions s WHERE s.name = sub_name FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
    IF m < 0 OR m >= sub.members THEN
        RAISE EXCEPTION 'member % is out of range for subscription "%" (members: %)', m, sub_name, sub.members
            USING ERRCODE = '22023';
    END IF;
    -- poll never returns an event at or above the horizon: an ack there
    -- would pass over events that may still be committed.
    IF ack.tx_id >= pg_snapshot_xmin(pg_current_snapshot()) THEN
        RAISE EXCEPTION 'cannot ack subscription "%" past what poll can return yet', sub_name
            USING ERRCODE = '22023',
                  DETAIL = format('Position (%s, %s); events of transactions from %s on may still be committed.',
                                  ack.tx_id, ack.global_position, pg_snapshot_xmin(pg_current_snapshot()));
    END IF;
    IF (ack.tx_id, ack.global_position) <= (sub.start_tx_id, sub.start_position) THEN
        RETURN;  -- behind the checkpoint: never moves it back
    END IF;
    -- ON CONFLICT locks the member's row: concurrent acks of one member queue,
    -- and the later one re-reads the checkpoint the earlier one left.
    INSERT INTO chronicle.subscription_checkpoints AS c (subscription, member, tx_id, global_position, acked_at)
    VALUES (sub_name, m, ack.tx_id, ack.global_position, now())
    ON CONFLICT (subscription, member) DO UPDATE
        SET tx_id = excluded.tx_id, global_position = excluded.global_position, acked_at = excluded.acked_at
        WHERE (c.tx_id, c.global_position) < (excluded.tx_id, excluded.global_position);
END
$$;
COMMENT ON FUNCTION chronicle.ack(text, xid8, bigint, int) IS
    'Moves a member''s checkpoint forward to (tx_id, global_position); an ack behind the checkpoint changes nothing; SE006 for an unknown subscription.';
GRANT EXECUTE ON FUNCTION chronicle.ack(text, xid8, bigint, int) TO chronicle_subscriber;

CREATE FUNCTION chronicle.park(name text, event_id uuid, error text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(park.name);
    sub record;
    ev record;
BEGIN
    IF park.event_id IS NULL OR park.error IS NULL THEN
        RAISE EXCEPTION 'event_id and error must not be NULL' USING ERRCODE = '22004';
    END IF;
    SELECT s.category, s.types INTO sub
    FROM chronicle.subscriptions s WHERE s.name = sub_name FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
    SELECT e.stream_id, e.type INTO ev FROM chronicle.events e WHERE e.event_id = park.event_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % does not exist', park.event_id USING ERRCODE = '22023';
    END IF;
    IF (sub.category IS NOT NULL AND split_part(ev.stream_id, '-', 1) <> sub.category)
       OR (sub.types IS NOT NULL AND NOT ev.type = ANY (sub.types)) THEN
        RAISE EXCEPTION 'event % (stream "%", type "%") is not delivered by subscription "%"',
                        park.event_id, ev.stream_id, ev.type, sub_name
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO chronicle.parked AS p (subscription, event_id, error, attempts, parked_at)
    VALUES (sub_name, park.event_id, park.error, 1, now())
    ON CONFLICT (subscription, event_id) DO UPDATE
        SET error = excluded.error, attempts = p.attempts + 1, parked_at = excluded.parked_at;
END
$$;
COMMENT ON FUNCTION chronicle.park(text, uuid, text) IS
    'Parks an event for a subscription: later polls skip it; parking it again keeps one row, with the new error and attempts + 1.';
GRANT EXECUTE ON FUNCTION chronicle.park(text, uuid, text) TO chronicle_subscriber;

CREATE FUNCTION chronicle.replay_parked(name text) RETURNS SETOF chronicle.events
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(replay_parked.name);
BEGIN
    PERFORM FROM chronicle.subscriptions s WHERE s.name = sub_name FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
    -- read_stream upcasts, as every read does.  A concurrent replay_parked
    -- waits on the deleted rows and then returns none of them.
    RETURN QUERY
        WITH unparked AS (
            DELETE FROM chronicle.parked p WHERE p.subscription = sub_name RETURNING p.event_id)
        SELECT r.*
        FROM unparked u
        JOIN chronicle.events e ON e.event_id = u.event_id
        CROSS JOIN LATERAL chronicle.read_stream(e.stream_id, e.version, 1) r
        ORDER BY r.tx_id, r.global_position;
END
$$;
COMMENT ON FUNCTION chronicle.replay_parked(text) IS
    'Returns a subscription''s parked events in read_all order and un-parks them (their parked rows are deleted).';
GRANT EXECUTE ON FUNCTION chronicle.replay_parked(text) TO chronicle_subscriber;

CREATE FUNCTION chronicle.unsubscribe(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(unsubscribe.name);
BEGIN
    DELETE FROM chronicle.subscriptions s WHERE s.name = sub_name;  -- checkpoints and parked rows cascade
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
END
$$;
COMMENT ON FUNCTION chronicle.unsubscribe(text) IS
    'Removes a subscription with its checkpoints and parked events; SE006 if it does not exist.';
GRANT EXECUTE ON FUNCTION chronicle.unsubscribe(text) TO chronicle_subscriber;

-- One row per member of each subscription's group.  lag counts the committed
-- events after the checkpoint that the member will receive (filters, its
-- share of the streams, parked ones excluded), including those poll does not
-- return yet because an older transaction is still running.
CREATE VIEW chronicle.subscription_status AS
SELECT s.name,
       m.member,
       ROW(cp.tx_id, cp.global_position)::chronicle.log_position AS checkpoint,
       l.lag
FROM chronicle.subscriptions s
CROSS JOIN LATERAL pg_catalog.generate_series(0, s.members - 1) AS m(member)
LEFT JOIN chronicle.subscription_checkpoints c
       ON c.subscription = s.name AND c.member = m.member
CROSS JOIN LATERAL (SELECT coalesce(c.tx_id, s.start_tx_id) AS tx_id,
                           coalesce(c.global_position, s.start_position) AS global_position) cp
CROSS JOIN LATERAL (
    SELECT count(*) AS lag
    FROM chronicle.events e
    WHERE (e.tx_id, e.global_position) > (cp.tx_id, cp.global_position)
      AND (s.category IS NULL OR pg_catalog.split_part(e.stream_id, '-', 1) = s.category)
      AND (s.types IS NULL OR e.type = ANY (s.types))
      AND (s.members = 1 OR chronicle._stream_member(e.stream_id, s.members) = m.member)
      AND NOT EXISTS (SELECT FROM chronicle.parked p
                      WHERE p.subscription = s.name AND p.event_id = e.event_id)) l;
COMMENT ON VIEW chronicle.subscription_status IS
    'Each subscription member''s checkpoint and lag (committed events after it that the member will receive).';
GRANT SELECT ON chronicle.subscription_status TO chronicle_reader;
-- Nested sets on the user's own tables (SPEC section 7).

-- Which tables are attached, and how.  Written only by tree_attach/tree_detach
-- (as this table's owner); read by the tree functions and triggers.
CREATE TABLE chronicle._tree_tables (
    tbl           regclass    PRIMARY KEY,
    id_column     name        NOT NULL,
    parent_column name        NOT NULL,
    scope_column  name,
    order_column  name,
    on_delete     text        NOT NULL CHECK (on_delete IN ('cascade', 'promote', 'restrict')),
    attached_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE chronicle._tree_tables IS
    'Tables attached as nested-set trees by chronicle.tree_attach(): their id, parent, scope and order columns and delete mode.';
SELECT pg_catalog.pg_extension_config_dump('chronicle._tree_tables', '');
GRANT SELECT ON chronicle._tree_tables TO chronicle_reader;

CREATE FUNCTION chronicle.tree_attach(tbl regclass, id_column name DEFAULT 'id',
                                      parent_column name DEFAULT 'parent_id',
                                      scope_column name DEFAULT NULL,
                                      order_column name DEFAULT NULL,
                                      on_delete text DEFAULT 'cascade') RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_attach';
COMMENT ON FUNCTION chronicle.tree_attach(regclass, name, name, name, name, text) IS
    'Make a table a nested set: adds and indexes lft, rgt, depth, numbers the existing rows from the parent column and installs the triggers that keep the numbering under plain SQL.';
GRANT EXECUTE ON FUNCTION chronicle.tree_attach(regclass, name, name, name, name, text) TO chronicle_writer;

CREATE FUNCTION chronicle.tree_detach(tbl regclass) RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_detach';
COMMENT ON FUNCTION chronicle.tree_detach(regclass) IS
    'Remove the tree triggers and the attachment of a table; its columns, indexes and rows stay.';
GRANT EXECUTE ON FUNCTION chronicle.tree_detach(regclass) TO chronicle_writer;

CREATE FUNCTION chronicle.tree_insert(tbl regclass, node jsonb, target anyelement DEFAULT NULL::integer,
                                      placement text DEFAULT 'last_child') RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_insert';
COMMENT ON FUNCTION chronicle.tree_insert(regclass, jsonb, anyelement, text) IS
    'Insert a row given as a JSON object at a placement relative to a target node (first_child, last_child, before, after); returns the stored row.';
GRANT EXECUTE ON FUNCTION chronicle.tree_insert(regclass, jsonb, anyelement, text) TO chronicle_writer;

CREATE FUNCTION chronicle.tree_move(tbl regclass, node anyelement, target anyelement,
                                    placement text DEFAULT 'last_child') RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_move';
COMMENT ON FUNCTION chronicle.tree_move(regclass, anyelement, anyelement, text) IS
    'Move a node with its subtree relative to a target (first_child, last_child, before, after; NULL target: last root) in one bounded update.';
GRANT EXECUTE ON FUNCTION chronicle.tree_move(regclass, anyelement, anyelement, text) TO chronicle_writer;

CREATE FUNCTION chronicle.tree_delete(tbl regclass, node anyelement, mode text DEFAULT 'cascade')
    RETURNS bigint
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_delete';
COMMENT ON FUNCTION chronicle.tree_delete(regclass, anyelement, text) IS
    'Delete a node: cascade (with its subtree), promote (children take its place) or restrict (only a leaf); returns the rows deleted.';
GRANT EXECUTE ON FUNCTION chronicle.tree_delete(regclass, anyelement, text) TO chronicle_writer;

CREATE FUNCTION chronicle.tree_subtree(rows anyelement, node anycompatible, max_depth int DEFAULT NULL)
    RETURNS SETOF anyelement
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'chronicle_tree_subtree';
COMMENT ON FUNCTION chronicle.tree_subtree(anyelement, anycompatible, int) IS
    'The node and its descendants (up to max_depth levels below it), in lft order, as rows of the table: tree_subtree(NULL::tbl, id).';
GRANT EXECUTE ON FUNCTION chronicle.tree_subtree(anyelement, anycompatible, int) TO chronicle_reader;

CREATE FUNCTION chronicle.tree_ancestors(rows anyelement, node anycompatible)
    RETURNS SETOF anyelement
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'chronicle_tree_ancestors';
COMMENT ON FUNCTION chronicle.tree_ancestors(anyelement, anycompatible) IS
    'The ancestors of a node, root first, without the node: tree_ancestors(NULL::tbl, id).';
GRANT EXECUTE ON FUNCTION chronicle.tree_ancestors(anyelement, anycompatible) TO chronicle_reader;

CREATE FUNCTION chronicle.tree_children(rows anyelement, node anycompatible)
    RETURNS SETOF anyelement
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'chronicle_tree_children';
COMMENT ON FUNCTION chronicle.tree_children(anyelement, anycompatible) IS
    'The children of a node in sibling order: tree_children(NULL::tbl, id).';
GRANT EXECUTE ON FUNCTION chronicle.tree_children(anyelement, anycompatible) TO chronicle_reader;

CREATE FUNCTION chronicle.tree_validate(tbl regclass)
    RETURNS TABLE(scope text, node text, problem text)
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'chronicle_tree_validate';
COMMENT ON FUNCTION chronicle.tree_validate(regclass) IS
    'One row per numbering problem (gap, overlap, lft >= rgt, parent/range disagreement, wrong depth); no rows means valid.';
GRANT EXECUTE ON FUNCTION chronicle.tree_validate(regclass) TO chronicle_reader;

CREATE FUNCTION chronicle.tree_rebuild(tbl regclass) RETURNS bigint
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_rebuild';
COMMENT ON FUNCTION chronicle.tree_rebuild(regclass) IS
    'Renumber every tree of the table from its parent column (siblings by order column, then id); returns the rows whose numbers changed.';
GRANT EXECUTE ON FUNCTION chronicle.tree_rebuild(regclass) TO chronicle_writer;

-- The triggers tree_attach installs (see src/tree/triggers.cpp).
CREATE FUNCTION chronicle._tree_lock_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_lock_trigger';
COMMENT ON FUNCTION chronicle._tree_lock_trigger() IS
    'Internal: BEFORE STATEMENT trigger of tree tables; takes the tree lock before any row is touched.';
CREATE FUNCTION chronicle._tree_guard_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_guard_trigger';
COMMENT ON FUNCTION chronicle._tree_guard_trigger() IS
    'Internal: rejects direct writes to lft, rgt and depth of tree tables (TR005).';
-- The guard's WHEN clause asks this first; it is evaluated as the user who
-- runs the UPDATE, so PUBLIC may execute it (it only reports whether this
-- session is inside chronicle's own renumbering, like the read-only setting
-- chronicle.tree_maintenance).  Granted in src/privileges.sql.
CREATE FUNCTION chronicle._tree_maintaining() RETURNS boolean
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'chronicle_tree_maintaining';
COMMENT ON FUNCTION chronicle._tree_maintaining() IS
    'Internal: true while chronicle renumbers a tree table in this session (the guard trigger then stands aside).';
CREATE FUNCTION chronicle._tree_insert_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_insert_trigger';
COMMENT ON FUNCTION chronicle._tree_insert_trigger() IS
    'Internal: numbers the rows an INSERT or COPY statement added to a tree table.';
CREATE FUNCTION chronicle._tree_moved_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_moved_trigger';
COMMENT ON FUNCTION chronicle._tree_moved_trigger() IS
    'Internal: remembers rows whose parent or scope an UPDATE changed.';
CREATE FUNCTION chronicle._tree_update_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_update_trigger';
COMMENT ON FUNCTION chronicle._tree_update_trigger() IS
    'Internal: moves the subtrees an UPDATE statement re-parented.';
CREATE FUNCTION chronicle._tree_delete_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_delete_trigger';
COMMENT ON FUNCTION chronicle._tree_delete_trigger() IS
    'Internal: applies the on_delete mode and closes the numbering after a DELETE statement.';
GRANT EXECUTE ON FUNCTION chronicle._tree_lock_trigger(), chronicle._tree_guard_trigger(),
    chronicle._tree_insert_trigger(), chronicle._tree_moved_trigger(),
    chronicle._tree_update_trigger(), chronicle._tree_delete_trigger() TO chronicle_writer;

-- A dropped table leaves no attachment behind (its oid could be reused).
CREATE FUNCTION chronicle._tree_forget_dropped() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM chronicle._tree_tables t
     WHERE t.tbl OPERATOR(pg_catalog.=) ANY (
           SELECT d.objid FROM pg_catalog.pg_event_trigger_dropped_objects() d
            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
              AND d.objsubid OPERATOR(pg_catalog.=) 0);
END $$;
COMMENT ON FUNCTION chronicle._tree_forget_dropped() IS
    'Internal: event trigger removing the attachment of dropped tree tables.';
CREATE EVENT TRIGGER chronicle_tree_forget_dropped ON sql_drop
    EXECUTE FUNCTION chronicle._tree_forget_dropped();
-- chronicle: the last part of the install script.  Whatever the modules
-- created, PUBLIC keeps nothing but USAGE on the schema; each module grants
-- what the chronicle_reader / chronicle_writer roles need next to its objects.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA chronicle FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA chronicle FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA chronicle FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA chronicle FROM PUBLIC;

GRANT EXECUTE ON FUNCTION chronicle.version() TO chronicle_reader;
-- The one exception: a WHEN clause of the tree tables' guard trigger calls
-- it as whoever updates such a table (src/tree/tree.sql).
GRANT EXECUTE ON FUNCTION chronicle._tree_maintaining() TO PUBLIC;
