-- chronicle events: the public functions of the event store (docs/reference/events.md).
-- (File order in the install script is alphabetical: tables, triggers, verbs.)
-- They are written in C++ and never resolve unqualified names (the SQL they
-- run qualifies every function and operator), so they need no pinned
-- search_path.  None is STRICT: a NULL where a value is required is 22004,
-- not a silent NULL, and a NULL with a documented default means the default.

CREATE OR REPLACE FUNCTION chronicle.append(stream_id text, type text, data jsonb,
                                 metadata jsonb DEFAULT NULL,
                                 expected_version bigint DEFAULT NULL,
                                 event_id uuid DEFAULT NULL,
                                 tags text[] DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_append';
COMMENT ON FUNCTION chronicle.append(text, text, jsonb, jsonb, bigint, uuid, text[]) IS
    'Append one event to a stream; returns the stream''s new version. expected_version: NULL any, 0 new stream, N exactly N (else SE001). A repeated event_id with the same content is a no-op. tags: 0..64 tags of 1..255 characters (docs/reference/dcb.md).';

CREATE OR REPLACE FUNCTION chronicle.append_batch(stream_id text, events jsonb,
                                       expected_version bigint DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_append_batch';
COMMENT ON FUNCTION chronicle.append_batch(text, jsonb, bigint) IS
    'Append a JSON array of events [{"type", "data", "metadata", "event_id", "type_version", "tags"}] atomically with consecutive versions; returns the version after the last event.';

CREATE OR REPLACE FUNCTION chronicle.stream_version(stream_id text)
    RETURNS bigint
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_stream_version';
COMMENT ON FUNCTION chronicle.stream_version(text) IS
    'The number of events in the stream (0 when it has none).';

CREATE OR REPLACE FUNCTION chronicle.read_stream(stream_id text, from_version bigint DEFAULT NULL,
                                      max_count int DEFAULT NULL, backward boolean DEFAULT false)
    RETURNS SETOF chronicle.events
    LANGUAGE c STABLE ROWS 100
    AS 'MODULE_PATHNAME', 'chronicle_read_stream';
COMMENT ON FUNCTION chronicle.read_stream(text, bigint, int, boolean) IS
    'A stream''s events (upcast), forward from from_version (default 1) or backward from it (default the latest), at most max_count (default all).';

-- read_all runs one kept plan per filter shape (src/events/read.cpp): the
-- log strictly after the given pair, only below the snapshot's xmin
-- (docs/design/event-store.md, "Why `read_all` never skips an event"), upcast on the way.
CREATE OR REPLACE FUNCTION chronicle.read_all(after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0,
                                   max_count int DEFAULT 1000, category text DEFAULT NULL,
                                   types text[] DEFAULT NULL)
    RETURNS SETOF chronicle.events
    LANGUAGE c STABLE ROWS 1000
    AS 'MODULE_PATHNAME', 'chronicle_read_all';
COMMENT ON FUNCTION chronicle.read_all(xid8, bigint, int, text, text[]) IS
    'The global log (upcast) in (tx_id, global_position) order, strictly after the given pair and only from transactions below the snapshot xmin, so paging never skips an event.';

CREATE OR REPLACE FUNCTION chronicle.verify(stream_id text DEFAULT NULL)
    RETURNS TABLE(stream_id text, version bigint, problem text)
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_verify';
COMMENT ON FUNCTION chronicle.verify(text) IS
    'Recompute the SHA-256 hash chain of one stream (or all when NULL); one row per problem (altered row, missing version, duplicate, stream row disagreeing with its events). No rows: intact.';

-- Cross-stream consistency (docs/reference/dcb.md, docs/design/dcb.md).
CREATE OR REPLACE FUNCTION chronicle.read_query(query jsonb, after_tx xid8 DEFAULT '0',
                                     after_position bigint DEFAULT 0, max_count int DEFAULT 1000)
    RETURNS SETOF chronicle.events
    LANGUAGE c STABLE ROWS 100
    AS 'MODULE_PATHNAME', 'chronicle_read_query';
COMMENT ON FUNCTION chronicle.read_query(jsonb, xid8, bigint, int) IS
    'The events matching a query {"items": [{"types": [...], "tags": [...]}, ...]} (upcast), in read_all order and under read_all''s horizon, strictly after the given pair.';

CREATE OR REPLACE FUNCTION chronicle.append_events(events jsonb, fail_if_events_match jsonb DEFAULT NULL,
                                        after_tx xid8 DEFAULT NULL, after_position bigint DEFAULT NULL)
    RETURNS TABLE(stream_id text, version bigint, global_position bigint)
    LANGUAGE c VOLATILE ROWS 10
    AS 'MODULE_PATHNAME', 'chronicle_append_events';
COMMENT ON FUNCTION chronicle.append_events(jsonb, jsonb, xid8, bigint) IS
    'Append events [{"stream_id", "type", "data", "tags", "metadata", "event_id", "type_version", "expected_version"}] to one or several streams atomically; with fail_if_events_match, SE007 when an event matching that query exists after (after_tx, after_position). One row per event: its stream, version and global_position.';
