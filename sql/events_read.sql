-- The event store's read path: stream_version, read_stream and read_all
-- (SPEC section 2).
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

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

-- read_all is a SQL function that the planner inlines into the calling
-- query: a page is one ordered index scan, with no function scan in between,
-- and a category read uses events_category_log_idx.  (Sequential and bitmap
-- scans are disabled so that the tiny test table still shows the index plans.)
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    nodes text[] := '{}';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        IF line ~ '(Scan|Limit)' THEN
            nodes := nodes || regexp_replace(line, '^[ ->]*| on .*$', '', 'g');
        END IF;
    END LOOP;
    RETURN array_to_string(nodes, ' / ');
END $$;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT pg_temp.plan_of($$SELECT * FROM chronicle.read_all()$$) AS log_plan;
SELECT pg_temp.plan_of($$SELECT * FROM chronicle.read_all(category => 'reader')$$) AS category_plan;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Inlining rules out a pinned search_path, so read_all qualifies every name
-- and operator it uses: a caller whose search_path puts look-alike operators
-- and functions ahead of pg_catalog still gets the real ones.
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
SELECT pg_temp.error_of($$SELECT count(*) FROM chronicle.events e
                          WHERE split_part(e.stream_id, '-', 1) = 'reader'$$) AS unqualified;
RESET search_path;
CREATE FUNCTION shadow.split_part(text, text, int) RETURNS text
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing split_part called'; END $$;
CREATE FUNCTION shadow.pg_current_snapshot() RETURNS pg_snapshot
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'shadowing pg_current_snapshot called'; END $$;
SET search_path = shadow, pg_catalog;
SELECT count(*) AS shadowed_read
FROM chronicle.read_all('0', 0, 10, category => 'reader', types => ARRAY['Deposited']);
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA shadow CASCADE;
RESET client_min_messages;

-- Bad arguments.
SELECT q, pg_temp.error_of(q) FROM (VALUES
  ($$SELECT chronicle.stream_version(NULL)$$),
  ($$SELECT * FROM chronicle.read_stream(NULL)$$),
  ($$SELECT * FROM chronicle.read_stream('reader-1', -1)$$),
  ($$SELECT * FROM chronicle.read_stream('reader-1', 1, -1)$$),
  ($$SELECT * FROM chronicle.read_all(max_count => -1)$$)
) AS t(q);
-- NULL arguments mean the defaults: from the start, a page of 1000.
SELECT (SELECT array_agg(global_position) FROM chronicle.read_all(NULL, NULL, NULL, NULL, NULL))
     = (SELECT array_agg(global_position) FROM chronicle.read_all()) AS nulls_are_defaults;
