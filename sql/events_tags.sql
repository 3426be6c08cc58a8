-- Event tags (docs/reference/dcb.md): set through append, append_batch and (in
-- events_tags_append_events) append_events; validated (SE003); returned by every read.
-- tags follows hash in chronicle.events, text[], '{}' by default (then original_digest, section 2c).
SELECT attnum, attname, format_type(atttypid, atttypmod) AS type, attnotnull
FROM pg_attribute WHERE attrelid = 'chronicle.events'::regclass AND attnum > 9 ORDER BY attnum;

SELECT chronicle.append('tagged-1', 'Registered', '{"n": 1}', tags => ARRAY['user:1', 'region:eu']);
SELECT chronicle.append('tagged-1', 'Renamed', '{"n": 2}');
SELECT chronicle.append('tagged-1', 'Renamed', '{"n": 3}', tags => '{}');
SELECT chronicle.append_batch('tagged-2', '[
    {"type": "Registered", "data": {"n": 1}, "tags": ["user:2", "region:us"]},
    {"type": "Renamed", "data": {"n": 2}, "tags": []},
    {"type": "Renamed", "data": {"n": 3}, "tags": null},
    {"type": "Renamed", "data": {"n": 4}, "tags": ["user:2"], "event_id": "00000000-0000-4000-8000-00000000a001"}]');
-- Every read returns the tags.
SELECT stream_id, version, tags FROM chronicle.read_stream('tagged-1');
SELECT stream_id, version, tags FROM chronicle.read_stream('tagged-2', backward => true);
SELECT stream_id, version, tags FROM chronicle.read_all(category => 'tagged');
-- Through the INSERT path too (a batch with caller-chosen event_ids), tags in order.
SELECT chronicle.append_batch('tagged-3', '[
    {"type": "A", "data": {}, "tags": ["z", "a", "m"], "event_id": "00000000-0000-4000-8000-00000000a002"},
    {"type": "B", "data": {}, "tags": ["b"], "event_id": "00000000-0000-4000-8000-00000000a003"}]');
SELECT version, tags FROM chronicle.read_stream('tagged-3');
-- A repeat is a no-op (idempotency by event_id, as before).
SELECT chronicle.append_batch('tagged-3', '[
    {"type": "A", "data": {}, "tags": ["z", "a", "m"], "event_id": "00000000-0000-4000-8000-00000000a002"}]');
-- The hash chain still verifies.
SELECT * FROM chronicle.verify('tagged-1');
SELECT * FROM chronicle.verify('tagged-3');

-- Validation: SE003, nothing written.
SELECT regress.error_of($$SELECT chronicle.append('tagged-9', 'X', '{}', tags => ARRAY['ok', ''])$$);
SELECT regress.error_of($$SELECT chronicle.append('tagged-9', 'X', '{}', tags => ARRAY['ok', NULL])$$);
SELECT regress.error_of($$SELECT chronicle.append('tagged-9', 'X', '{}', tags => ARRAY['a' || chr(10) || 'b'])$$);
SELECT regress.error_of($$SELECT chronicle.append('tagged-9', 'X', '{}', tags => ARRAY[repeat('é', 256)])$$);
-- A tag given twice in one event (the log keeps tags as given: a repeat is refused, not dropped).
SELECT regress.error_of($$SELECT chronicle.append('tagged-9', 'X', '{}', tags => ARRAY['a', 'b', 'a'])$$);
SELECT regress.error_of($$SELECT chronicle.append_batch('tagged-9', '[{"type": "X", "data": {}, "tags": ["a", "a"]}]')$$);
SELECT regress.error_of($$SELECT chronicle.append('tagged-11', 'X', '{}', tags => ARRAY[repeat('é', 255)])$$);
-- A SQL array's subscripts start at 1 in the log (a stored '[0:1]={a,b}' reads back with its bounds).
SELECT regress.error_of($$SELECT chronicle.append('tagged-9', 'X', '{}', tags => '[0:1]={a,b}'::text[])$$);
SELECT regress.error_of($$SELECT chronicle.append('tagged-9', 'X', '{}', tags => ARRAY[['a', 'b'], ['c', 'd']])$$);
SELECT regress.error_of($$SELECT chronicle.append('tagged-9', 'X', '{}',
    tags => (SELECT array_agg('t' || i) FROM generate_series(1, 65) i))$$);
SELECT regress.error_of($$SELECT chronicle.append('tagged-10', 'X', '{}',
    tags => (SELECT array_agg('t' || i) FROM generate_series(1, 64) i))$$);
SELECT regress.error_of($$SELECT chronicle.append_batch('tagged-9', '[{"type": "X", "data": {}, "tags": "a"}]')$$);
SELECT regress.error_of($$SELECT chronicle.append_batch('tagged-9', '[{"type": "X", "data": {}, "tags": ["a", 1]}]')$$);
SELECT regress.error_of($$SELECT chronicle.append_batch('tagged-9', '[{"type": "X", "data": {}},
    {"type": "X", "data": {}, "tags": ["a", ""]}]')$$);
SELECT count(*) AS written_by_failures FROM chronicle.events WHERE stream_id = 'tagged-9';
SELECT version, cardinality(tags) FROM chronicle.read_stream('tagged-10');

-- The lock keys (docs/design/dcb.md): advisory locks with objsubid 17473
-- (type), 17474 (tag), 17475 (the wide key).  A plain append holds a
-- ShareLock per type and tag; a conditional one also the ExclusiveLock of its
-- item's first tag and RowExclusiveLock on the wide key.
CREATE TEMP VIEW my_keys AS
SELECT CASE objsubid WHEN 17473 THEN 'type' WHEN 17474 THEN 'tag' WHEN 17475 THEN 'wide' END AS key,
       mode, count(*) AS n
FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid IN (17473, 17474, 17475)
GROUP BY 1, 2 ORDER BY 1, 2;
BEGIN;
SELECT chronicle.append_batch('keys-1', '[{"type": "K", "data": {}, "tags": ["k:1", "k:2"]},
                                          {"type": "K", "data": {}, "tags": ["k:1"]}]');
SELECT * FROM my_keys;
SELECT stream_id, version FROM chronicle.append_events('[{"stream_id": "keys-2", "type": "K", "data": {}, "tags": ["k:3"]}]',
    '{"items": [{"tags": ["k:3", "k:4"]}, {"types": ["K2", "K3"]}]}');
SELECT * FROM my_keys;
ROLLBACK;
-- Past 64 keys in one transaction, the wide key instead of more keys; a call that
-- would go past them takes the wide key first and none of its keys (one order).
BEGIN;
SELECT chronicle.append('keys-3', 'K', '{}', tags => (SELECT array_agg('w' || i) FROM generate_series(1, 64) i));
SELECT * FROM my_keys;
SELECT chronicle.append('keys-3', 'K', '{}', tags => ARRAY['beyond']);
SELECT * FROM my_keys;
ROLLBACK;
-- A rolled-back subtransaction releases the wide key: the next append takes it again.
BEGIN;
SAVEPOINT s;
SELECT chronicle.append('keys-4', 'K', '{}', tags => (SELECT array_agg('w' || i) FROM generate_series(1, 64) i));
ROLLBACK TO SAVEPOINT s;
SELECT * FROM my_keys;
SELECT chronicle.append('keys-4', 'K', '{}', tags => ARRAY['after']);
SELECT * FROM my_keys;
ROLLBACK;
