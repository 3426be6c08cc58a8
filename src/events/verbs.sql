-- chronicle events: the public functions of the event store (SPEC section 2).
-- (File order in the install script is alphabetical: tables, triggers, verbs.)
-- They are written in C++ and never resolve unqualified names, so they need no
-- pinned search_path; read_all, the one SQL function, qualifies every name
-- instead (see below).  None is STRICT: a NULL where a value is required is
-- 22004, not a silent NULL.

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

-- read_all is a SQL function whose body is one SELECT, so the planner inlines
-- it into the calling query (PostgreSQL's inline_set_returning_function): the
-- page is a plain ordered index scan streamed to the caller, not a result set
-- materialised first.  Inlining requires no SET clause, so instead of a pinned
-- search_path every name and operator below is schema-qualified (see
-- doc/events-read.md; sql/extension.sql checks this).  The two C helpers keep
-- the contract: _read_limit turns NULL into 1000 and a negative count into
-- 22023; _read_upcast is NULL unless an upcaster applies (SPEC section 4).
CREATE FUNCTION chronicle._read_limit(max_count int)
    RETURNS bigint
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_read_limit';
COMMENT ON FUNCTION chronicle._read_limit(int) IS
    'Internal: read_all''s page size: max_count, 1000 when NULL, 22023 when negative.';
GRANT EXECUTE ON FUNCTION chronicle._read_limit(int) TO chronicle_reader;

CREATE FUNCTION chronicle._read_upcast(type text, type_version int, data jsonb,
                                       OUT type_version int, OUT data jsonb)
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'chronicle_read_upcast';
COMMENT ON FUNCTION chronicle._read_upcast(text, int, jsonb) IS
    'Internal: the (type_version, data) a read returns for a stored event, or NULL when no upcaster applies.';
GRANT EXECUTE ON FUNCTION chronicle._read_upcast(text, int, jsonb) TO chronicle_reader;

-- The log strictly after the given pair and only below the snapshot's xmin:
-- every transaction under it has ended, so no event can still appear there
-- (README.md, "Why `read_all` never skips an event").  The filters are written
-- "argument IS NULL OR test": when the caller passes constants (or a plan is
-- built for the parameters' values, as PL/pgSQL and prepared statements do
-- first), the planner folds each to TRUE or to the bare test, so a category
-- read is an index scan on events_category_log_idx, whose expression is
-- exactly pg_catalog.split_part(stream_id, '-', 1).  Upcasting happens a level
-- above the page's LIMIT, once per row returned (never on rows a plan sorts
-- or filters away), and does not weigh on the choice of the scan; OFFSET 0
-- keeps that level a separate subquery, so that the two columns taken from
-- its result do not become two calls.
CREATE FUNCTION chronicle.read_all(after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0,
                                   max_count int DEFAULT 1000, category text DEFAULT NULL,
                                   types text[] DEFAULT NULL)
    RETURNS SETOF chronicle.events
    LANGUAGE sql STABLE ROWS 1000
AS $$
SELECT r.stream_id, r.version, r.global_position, r.event_id, r.type,
       COALESCE((r.upcast).type_version, r.type_version), COALESCE((r.upcast).data, r.data),
       r.metadata, r.recorded_at, r.tx_id, r.hash
FROM (
    SELECT l.*, chronicle._read_upcast(l.type, l.type_version, l.data) AS upcast
    FROM (
        SELECT e.*
        FROM chronicle.events e
        WHERE (e.tx_id, e.global_position) OPERATOR(pg_catalog.>)
              (COALESCE(read_all.after_tx, '0'::pg_catalog.xid8), COALESCE(read_all.after_position, 0))
          AND e.tx_id OPERATOR(pg_catalog.<) pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())
          AND (read_all.category IS NULL
               OR pg_catalog.split_part(e.stream_id, '-', 1) OPERATOR(pg_catalog.=) read_all.category)
          AND (read_all.types IS NULL OR e.type OPERATOR(pg_catalog.=) ANY (read_all.types))
        ORDER BY e.tx_id, e.global_position
        LIMIT chronicle._read_limit(read_all.max_count)
    ) l
    OFFSET 0
) r
$$;
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
