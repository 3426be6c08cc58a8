-- chronicle.read_query (docs/reference/dcb.md): read_all's order, horizon and
-- paging, filtered by a query; the tag index serves it.
SELECT chronicle.append_batch('rq-' || i, jsonb_build_array(
    jsonb_build_object('type', CASE WHEN i % 2 = 0 THEN 'Even' ELSE 'Odd' END,
                       'data', jsonb_build_object('i', i),
                       'tags', jsonb_build_array('rq:' || (i % 3), 'rqall'))))
FROM generate_series(1, 12) i;

-- One tag; a tag and a type; two tags (both required); two items (OR).
SELECT stream_id, type, tags FROM chronicle.read_query('{"items": [{"tags": ["rq:0"]}]}');
SELECT stream_id FROM chronicle.read_query('{"items": [{"types": ["Even"], "tags": ["rq:1"]}]}');
SELECT count(*) FROM chronicle.read_query('{"items": [{"tags": ["rq:1", "rqall"]}]}');
SELECT count(*) FROM chronicle.read_query('{"items": [{"tags": ["rq:1", "rq:2"]}]}');
SELECT stream_id FROM chronicle.read_query('{"items": [{"tags": ["rq:0"], "types": ["Odd"]}, {"types": ["Even"], "tags": ["rq:1"]}]}');
SELECT count(*) FROM chronicle.read_query('{"items": [{"types": ["Odd", "Even"]}]}', max_count => 5);

-- The same order as read_all, and paging by the last pair never skips.
SELECT array_agg(event_id ORDER BY tx_id, global_position) =
       (SELECT array_agg(event_id) FROM chronicle.read_all(max_count => 100000) WHERE 'rqall' = ANY (tags))
       AS same_as_read_all
FROM chronicle.read_query('{"items": [{"tags": ["rqall"]}]}');
WITH RECURSIVE pages(n, tx, pos, got) AS (
    SELECT 0, '0'::xid8, 0::bigint, 0::bigint
    UNION ALL
    SELECT p.n + 1, l.tx_id, l.global_position, p.got + l.c
    FROM pages p CROSS JOIN LATERAL (
        SELECT max(tx_id) AS tx_id, max(global_position) AS global_position, count(*) AS c
        FROM chronicle.read_query('{"items": [{"tags": ["rqall"]}]}', p.tx, p.pos, 5)) l
    WHERE l.c > 0)
SELECT max(n) AS pages, max(got) AS events FROM pages;

-- A page of more than 10,000 rows is ordered by the statement instead of in memory:
-- the same rows in the same order; and a page of 5 is the first 5 of them.
SELECT (SELECT array_agg(r.event_id ORDER BY r.ordinality)
        FROM chronicle.read_query('{"items": [{"tags": ["rqall"]}]}', max_count => 20000) WITH ORDINALITY r) =
       (SELECT array_agg(r.event_id ORDER BY r.ordinality)
        FROM chronicle.read_query('{"items": [{"tags": ["rqall"]}]}') WITH ORDINALITY r) AS same_rows,
       (SELECT (array_agg(r.event_id ORDER BY r.ordinality))[1:5]
        FROM chronicle.read_query('{"items": [{"tags": ["rqall"]}]}') WITH ORDINALITY r) =
       (SELECT array_agg(r.event_id ORDER BY r.ordinality)
        FROM chronicle.read_query('{"items": [{"tags": ["rqall"]}]}', max_count => 5) WITH ORDINALITY r) AS first_five,
       (SELECT count(*) FROM chronicle.read_query('{"items": [{"tags": ["rqall"]}]}', max_count => 0)) AS none;

-- Upcast as every read is.
SELECT chronicle.define_upcaster('Odd', 1, '{"set": {"upcast": true}}');
SELECT type, type_version, data FROM chronicle.read_query('{"items": [{"tags": ["rq:1"], "types": ["Odd"]}]}', max_count => 1);

-- The tag index serves a tag query.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM chronicle.events e
WHERE e.tags <> '{}'::text[] AND e.tags @> ARRAY['rq:1'] ORDER BY e.tx_id, e.global_position LIMIT 10;
-- Tags compare bytewise (COLLATE "C": the index compares no locale rules),
-- and a query's own text[] (a parameter, in the database's collation) still
-- meets the index: the column's collation wins over the default one.
SELECT attcollation::regcollation AS tags_collation FROM pg_attribute
WHERE attrelid = 'chronicle.events'::regclass AND attname = 'tags';
PREPARE by_tags(text[]) AS SELECT count(*) FROM chronicle.events e WHERE e.tags <> '{}'::text[] AND e.tags @> $1;
EXPLAIN (COSTS OFF) EXECUTE by_tags('{rq:1}');
EXECUTE by_tags('{rq:1}');
DEALLOCATE by_tags;
RESET enable_seqscan;

-- Errors.
SELECT regress.error_of($$SELECT * FROM chronicle.read_query(NULL)$$);
SELECT regress.error_of($$SELECT * FROM chronicle.read_query('{"items": [{"tags": ["a"]}]}', max_count => -1)$$);
SELECT regress.error_of($$SELECT * FROM chronicle.read_query('"x"')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.read_query('{"items": [{"tags": [""]}]}')$$);
-- A query tag no event can carry: 22023, not an empty result.
SELECT regress.error_of($$SELECT * FROM chronicle.read_query(jsonb_build_object('items',
    jsonb_build_array(jsonb_build_object('tags', jsonb_build_array('ok', 'a' || chr(9) || 'b')))))$$);
SELECT regress.error_of($$SELECT * FROM chronicle.read_query(jsonb_build_object('items',
    jsonb_build_array(jsonb_build_object('tags', jsonb_build_array(repeat('é', 256))))))$$);
SELECT count(*) AS tag_of_255 FROM chronicle.read_query(jsonb_build_object('items',
    jsonb_build_array(jsonb_build_object('tags', jsonb_build_array(repeat('ü', 255))))));
SELECT regress.error_of($$SELECT * FROM chronicle.read_query('{"items": [{"types": []}]}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.read_query('{"items": [1]}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.read_query(
    jsonb_build_object('items', (SELECT jsonb_agg(jsonb_build_object('tags', jsonb_build_array('t' || i))) FROM generate_series(1, 65) i)))$$);
SELECT count(*) AS items_64 FROM chronicle.read_query(
    jsonb_build_object('items', (SELECT jsonb_agg(jsonb_build_object('tags', jsonb_build_array('rq:' || (i % 3)))) FROM generate_series(1, 64) i)));
