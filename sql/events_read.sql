-- The event store's read path: stream_version, read_stream and read_all
-- (docs/reference/events.md).  Runs after events_privileges (sql/schedule),
-- whose streams (acl-1, ...) are part of the log read_all returns here.
SELECT chronicle.append_batch('reader-1', '[
  {"type": "Opened", "data": {"owner": "ann"}},
  {"type": "Deposited", "data": {"amount": 10}},
  {"type": "Deposited", "data": {"amount": 20}},
  {"type": "Withdrawn", "data": {"amount": 5}}]');
SELECT chronicle.append('reader-2', 'Opened', '{"owner": "bob"}');
SELECT chronicle.append('rcart-1', 'Created', '{}');
SELECT chronicle.append('reader-2', 'Deposited', '{"amount": 1}');

-- stream_version: the number of events, 0 for an unknown stream.
SELECT chronicle.stream_version('reader-1') AS account_1, chronicle.stream_version('nobody') AS nobody;

-- read_stream: forward from version 1 by default, or from from_version.
SELECT version, type, data FROM chronicle.read_stream('reader-1');
SELECT version, type FROM chronicle.read_stream('reader-1', from_version => 3);
SELECT version, type FROM chronicle.read_stream('reader-1', from_version => 2, max_count => 2);
-- Backward from the latest by default, or from from_version.
SELECT version, type FROM chronicle.read_stream('reader-1', backward => true);
SELECT version, type FROM chronicle.read_stream('reader-1', 3, 2, true);
-- Past the end, an unknown stream, max_count 0: no rows.
SELECT count(*) FROM chronicle.read_stream('reader-1', from_version => 9);
SELECT count(*) FROM chronicle.read_stream('nobody');
SELECT count(*) FROM chronicle.read_stream('reader-1', max_count => 0);
-- The rows are whole chronicle.events rows, identical to the stored ones.
SELECT (SELECT array_agg(r ORDER BY r.version) FROM chronicle.read_stream('reader-1') r)
     = (SELECT array_agg(e ORDER BY e.version) FROM chronicle.events e WHERE stream_id = 'reader-1')
       AS same_rows;

-- read_all: the log in (tx_id, global_position) order.  Every event here was
-- committed, so all are below the snapshot xmin.
SELECT stream_id, version, type FROM chronicle.read_all()
WHERE stream_id IN ('reader-1', 'reader-2', 'rcart-1');
SELECT (SELECT array_agg(global_position) FROM chronicle.read_all())
     = (SELECT array_agg(global_position ORDER BY tx_id, global_position) FROM chronicle.events)
       AS log_order;
-- Paging: feed each page's last (tx_id, global_position) back in; every
-- event comes back exactly once, in log order.
CREATE FUNCTION pg_temp.page_all(page_size int, OUT pages int, OUT positions bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    tx xid8 := '0';
    pos bigint := 0;
    r record;
    got int;
BEGIN
    pages := 0;
    positions := '{}';
    LOOP
        got := 0;
        FOR r IN SELECT * FROM chronicle.read_all(tx, pos, page_size) LOOP
            positions := positions || r.global_position;
            tx := r.tx_id;
            pos := r.global_position;
            got := got + 1;
        END LOOP;
        EXIT WHEN got = 0;
        pages := pages + 1;
    END LOOP;
END $$;
SELECT p.pages, p.positions = (SELECT array_agg(global_position ORDER BY tx_id, global_position)
                               FROM chronicle.events) AS every_event_once_in_order
FROM pg_temp.page_all(2) p;
-- Filters: a category (the part of stream_id before the first '-') and types.
SELECT stream_id, version FROM chronicle.read_all(category => 'reader');
SELECT stream_id, version FROM chronicle.read_all(types => ARRAY['Opened', 'Created']);
SELECT stream_id, version FROM chronicle.read_all(category => 'reader', types => ARRAY['Deposited']);
SELECT count(*) FROM chronicle.read_all(types => '{}');
SELECT count(*) FROM chronicle.read_all(max_count => 3);
SELECT count(*) FROM chronicle.read_all(max_count => 0);

-- An event appended by the reading transaction itself is not below its
-- snapshot xmin yet: read_all does not return it.
BEGIN;
SELECT chronicle.append('rcart-1', 'Closed', '{}');
SELECT array_agg(stream_id || ' v' || version) AS visible FROM chronicle.read_all(category => 'rcart');
COMMIT;
SELECT array_agg(stream_id || ' v' || version) AS visible_after_commit
FROM chronicle.read_all(category => 'rcart');

-- read_all keeps one plan per filter shape for the life of the backend; a
-- new session makes them afresh below.  (Sequential and bitmap scans are
-- disabled so that the plans made for the tiny test table are index scans.)
\c
SET enable_seqscan = off;
SET enable_bitmapscan = off;

-- read_all's statements qualify every name and operator they use, so a
-- caller whose search_path puts look-alike operators and functions ahead of
-- pg_catalog still gets the real ones.  (The first call of each shape below
-- prepares its statement under that search_path; the plan cache would also
-- parse a kept statement again for a caller whose search_path differs.)
CREATE SCHEMA shadow;
CREATE FUNCTION shadow.trap(xid8, xid8) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing operator called'; END $$;
CREATE FUNCTION shadow.trap(bigint, bigint) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing operator called'; END $$;
CREATE FUNCTION shadow.trap(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing operator called'; END $$;
CREATE OPERATOR shadow.< (LEFTARG = xid8, RIGHTARG = xid8, FUNCTION = shadow.trap);
CREATE OPERATOR shadow.> (LEFTARG = xid8, RIGHTARG = xid8, FUNCTION = shadow.trap);
CREATE OPERATOR shadow.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = shadow.trap);
CREATE OPERATOR shadow.= (LEFTARG = text, RIGHTARG = text, FUNCTION = shadow.trap);
-- The same query written without qualification would call them:
SET search_path = shadow, pg_catalog;
SELECT regress.error_of($$SELECT count(*) FROM chronicle.events e
                          WHERE split_part(e.stream_id, '-', 1) = 'reader'$$) AS unqualified;
RESET search_path;
CREATE FUNCTION shadow.split_part(text, text, int) RETURNS text
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing split_part called'; END $$;
CREATE FUNCTION shadow.pg_current_snapshot() RETURNS pg_snapshot
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing pg_current_snapshot called'; END $$;
CREATE FUNCTION shadow.pg_snapshot_xmin(pg_snapshot) RETURNS xid8
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing pg_snapshot_xmin called'; END $$;
SET search_path = shadow, pg_catalog;
SELECT count(*) AS log,
       (SELECT count(*) FROM chronicle.read_all(types => ARRAY['Deposited'])) AS by_types,
       (SELECT count(*) FROM chronicle.read_all(category => 'reader')) AS by_category,
       (SELECT count(*) FROM chronicle.read_all(category => 'reader', types => ARRAY['Deposited'])) AS by_both
FROM chronicle.read_all();
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA shadow CASCADE;
RESET client_min_messages;

-- Each filter shape runs one plain index scan (counted in this transaction's
-- statistics): the log and a types filter read events_log_idx, a category
-- (with or without types) reads events_category_log_idx.
CREATE FUNCTION pg_temp.index_scans(query text, OUT log_idx bigint, OUT category_idx bigint)
LANGUAGE plpgsql AS $$
DECLARE
    log0 bigint := pg_stat_get_xact_numscans('chronicle.events_log_idx'::regclass);
    category0 bigint := pg_stat_get_xact_numscans('chronicle.events_category_log_idx'::regclass);
BEGIN
    EXECUTE query;
    log_idx := pg_stat_get_xact_numscans('chronicle.events_log_idx'::regclass) - log0;
    category_idx := pg_stat_get_xact_numscans('chronicle.events_category_log_idx'::regclass) - category0;
END $$;
SELECT q, s.* FROM (VALUES
  ($$SELECT count(*) FROM chronicle.read_all()$$),
  ($$SELECT count(*) FROM chronicle.read_all(types => ARRAY['Opened'])$$),
  ($$SELECT count(*) FROM chronicle.read_all(category => 'reader')$$),
  ($$SELECT count(*) FROM chronicle.read_all(category => 'reader', types => ARRAY['Opened'])$$)
) AS t(q), pg_temp.index_scans(q) s;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- read_all runs with the caller's rights: a role allowed to call it but
-- without SELECT on chronicle.events is refused by the table's privileges.
CREATE ROLE regress_read_all_caller;
GRANT EXECUTE ON FUNCTION chronicle.read_all(xid8, bigint, int, text, text[]) TO regress_read_all_caller;
GRANT EXECUTE ON FUNCTION regress.error_of(text) TO regress_read_all_caller;
SET ROLE regress_read_all_caller;
SELECT regress.error_of($$SELECT * FROM chronicle.read_all()$$) AS without_select;
RESET ROLE;
REVOKE ALL ON FUNCTION chronicle.read_all(xid8, bigint, int, text, text[]) FROM regress_read_all_caller;
REVOKE ALL ON FUNCTION regress.error_of(text) FROM regress_read_all_caller;
DROP ROLE regress_read_all_caller;

-- The rows of a read are written into memory of the backend that later reads
-- reuse (docs/design/event-store.md, "read_all: a C function with warm result memory"): each
-- call site takes a context from a small pool and gives it back when its
-- query's memory is freed.  A read made while a cursor still holds an earlier
-- result leaves that result intact, and a holdable cursor keeps its rows
-- after the transaction.
CREATE TEMP TABLE log_order AS
SELECT array_agg(global_position ORDER BY tx_id, global_position) AS positions FROM chronicle.events;
CREATE FUNCTION pg_temp.drain(cursor_name refcursor, OUT positions bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    p bigint;
BEGIN
    positions := '{}';
    LOOP
        FETCH cursor_name INTO p;
        EXIT WHEN NOT FOUND;
        positions := positions || p;
    END LOOP;
END $$;
CREATE VIEW pg_temp.result_memory AS
SELECT count(*) AS contexts, sum(total_bytes) AS bytes
FROM pg_backend_memory_contexts WHERE name = 'chronicle results';
BEGIN;
DECLARE open_read CURSOR FOR SELECT global_position FROM chronicle.read_all();
DECLARE held_read CURSOR WITH HOLD FOR SELECT global_position FROM chronicle.read_all();
MOVE 2 FROM open_read;
SELECT count(*) AS read_meanwhile FROM chronicle.read_all(category => 'reader');
SELECT (SELECT positions[1:2] FROM log_order) || pg_temp.drain('open_read')
       = (SELECT positions FROM log_order) AS open_cursor_intact;
COMMIT;
-- Two results were alive at once, so the pool now holds two contexts.
SELECT contexts FROM pg_temp.result_memory;
-- A result bigger than what the pool keeps (4 MB a context) takes more
-- memory while it is alive, and gives it back when its query ends.
SELECT chronicle.append_batch('big-1', (
    SELECT jsonb_agg(jsonb_build_object('type', 'Padded', 'data', jsonb_build_object('pad', repeat('x', 1500))))
    FROM generate_series(1, 3000)));
SET work_mem = '64MB';
BEGIN;
DECLARE big_read CURSOR FOR SELECT count(*) FROM chronicle.read_all(category => 'big', max_count => 5000);
FETCH ALL FROM big_read;
SELECT bytes > 6 * 1024 * 1024 AS big_result_alive FROM pg_temp.result_memory;
CLOSE big_read;
COMMIT;
SELECT contexts, bytes < 1024 * 1024 AS given_back FROM pg_temp.result_memory;
RESET work_mem;
-- Later reads take their memory from the pool, and the rows of one read
-- reuse the chunks the previous one freed: once a page has been read, reading
-- it again (or a smaller one) needs no new context and no new block.
SELECT count(*) AS page FROM chronicle.read_all();
SELECT bytes AS bytes_before FROM pg_temp.result_memory \gset
SELECT count(*) AS small_page FROM chronicle.read_all(category => 'reader');
SELECT count(*) AS page FROM chronicle.read_all();
SELECT count(*) AS page FROM chronicle.read_all();
SELECT contexts, :bytes_before > 128 * 1024 AS page_memory_kept, bytes = :bytes_before AS same_bytes
FROM pg_temp.result_memory;
-- A query that fails while it reads a result gives that memory back too;
-- the reads after it are unaffected.
SELECT regress.error_of($$SELECT r.global_position / 0 FROM chronicle.read_all() r$$) AS failed_read;
SELECT count(*) AS page_after_failure FROM chronicle.read_all();
SELECT contexts, bytes = :bytes_before AS same_bytes FROM pg_temp.result_memory;
-- The holdable cursor still returns every event it was opened on.
SELECT pg_temp.drain('held_read') = (SELECT positions FROM log_order) AS held_cursor_intact;
CLOSE held_read;
-- A result larger than work_mem goes to a temporary file, as any tuplestore.
SET work_mem = '64kB';
SELECT (SELECT array_agg(global_position) FROM chronicle.read_all(max_count => 5000))
     = (SELECT array_agg(global_position ORDER BY tx_id, global_position) FROM chronicle.events)
       AS spilled_page_in_order;
RESET work_mem;

-- Bad arguments.
SELECT q, regress.error_of(q) FROM (VALUES
  ($$SELECT chronicle.stream_version(NULL)$$),
  ($$SELECT * FROM chronicle.read_stream(NULL)$$),
  ($$SELECT * FROM chronicle.read_stream('reader-1', -1)$$),
  ($$SELECT * FROM chronicle.read_stream('reader-1', 1, -1)$$),
  ($$SELECT * FROM chronicle.read_all(max_count => -1)$$)
) AS t(q);
-- NULL arguments mean the defaults: from the start, a page of 1000.
SELECT count(*) AS default_page FROM chronicle.read_all(NULL, NULL, NULL, NULL, NULL);
SELECT (SELECT array_agg(global_position) FROM chronicle.read_all(NULL, NULL, NULL, NULL, NULL))
     = (SELECT array_agg(global_position) FROM chronicle.read_all()) AS nulls_are_defaults;
