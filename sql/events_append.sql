-- The event store's write path: chronicle.append and chronicle.append_batch
-- (docs/reference/events.md).  Errors are shown as "SQLSTATE: message" through a small
-- helper, because the code is what a client catches.
-- A first append creates the stream and returns its new version.
SELECT chronicle.append('account-123456', 'AccountOpened',
                        '{"AccountNumber": 123456, "Owner": "John Doe", "InitialBalance": 0}');
SELECT chronicle.append('account-123456', 'DepositMade', '{"AccountNumber": 123456, "Amount": 100}',
                        metadata => '{"correlation_id": "c-1"}');
SELECT chronicle.append('account-123456', 'WithdrawalMade', '{"AccountNumber": 123456, "Amount": 50}');

-- The stream row: category is the part before the first '-'.
SELECT stream_id, category, version, created_at <= updated_at AS timestamps_ordered
FROM chronicle.streams;

-- The stored rows: contiguous versions, increasing global positions, the
-- appending transaction's id and timestamp, a 32-byte hash, metadata default {}.
SELECT version, type, type_version, data, metadata,
       global_position > lag(global_position, 1, 0::bigint) OVER (ORDER BY version) AS position_grows,
       tx_id <> '0'::xid8 AS has_tx, length(hash) AS hash_bytes
FROM chronicle.events ORDER BY version;

-- One transaction, one tx_id and one recorded_at for all its appends.
BEGIN;
SELECT chronicle.append('order-1', 'Placed', '{}'), chronicle.append('order-1', 'Paid', '{}');
SELECT count(DISTINCT tx_id) AS tx_ids, count(DISTINCT recorded_at) AS timestamps,
       bool_and(tx_id = pg_current_xact_id()) AS is_this_tx,
       bool_and(recorded_at = now()) AS at_tx_start
FROM chronicle.events WHERE stream_id = 'order-1';
COMMIT;

-- expected_version: NULL is any, 0 a new stream, N exactly N; otherwise SE001
-- naming stream, expected and actual.
SELECT chronicle.append('order-2', 'Placed', '{}', expected_version => 0);
SELECT regress.error_of($$SELECT chronicle.append('order-2', 'Placed', '{}', expected_version => 0)$$);
SELECT chronicle.append('order-2', 'Paid', '{}', expected_version => 1);
SELECT regress.error_of($$SELECT chronicle.append('order-2', 'Paid', '{}', expected_version => 1)$$);
SELECT regress.error_of($$SELECT chronicle.append('order-3', 'Paid', '{}', expected_version => 5)$$);
-- A failed append leaves nothing behind, not even the stream row.
SELECT count(*) AS order_3_rows FROM chronicle.streams WHERE stream_id = 'order-3';
SELECT chronicle.stream_version('order-2') AS order_2_version;

-- Idempotency: the same event_id with the same stream, type and data is a
-- no-op returning the stored version; different content is SE005.
SELECT chronicle.append('order-4', 'Placed', '{"n": 1}', event_id => 'a0000000-0000-4000-8000-000000000001');
SELECT chronicle.append('order-4', 'Shipped', '{}');
SELECT chronicle.append('order-4', 'Placed', '{"n": 1}', event_id => 'a0000000-0000-4000-8000-000000000001',
                        expected_version => 0) AS retried_version;
SELECT regress.error_of($$SELECT chronicle.append('order-4', 'Placed', '{"n": 2}',
                        event_id => 'a0000000-0000-4000-8000-000000000001')$$);
SELECT regress.error_of($$SELECT chronicle.append('order-5', 'Placed', '{"n": 1}',
                        event_id => 'a0000000-0000-4000-8000-000000000001')$$);
SELECT chronicle.stream_version('order-4') AS order_4_version,
       chronicle.stream_version('order-5') AS order_5_version;

-- append_batch: one atomic append with consecutive versions.
SELECT chronicle.append_batch('cart-7', '[
  {"type": "ItemAdded", "data": {"sku": "A"}},
  {"type": "ItemAdded", "data": {"sku": "B"}, "metadata": {"user": "u1"}, "type_version": 2},
  {"type": "CheckedOut", "data": {}, "event_id": "b0000000-0000-4000-8000-000000000001"}
]', expected_version => 0);
SELECT version, type, type_version, data, metadata FROM chronicle.events
WHERE stream_id = 'cart-7' ORDER BY version;
-- The batch shares one transaction; positions follow versions.
SELECT count(DISTINCT tx_id) AS tx_ids,
       array_agg(version ORDER BY global_position) AS versions_in_log_order
FROM chronicle.events WHERE stream_id = 'cart-7';

-- Idempotency inside a batch: a stored event is skipped, a repeat inside the
-- batch is written once; a fully repeated batch is a no-op.
SELECT chronicle.append_batch('cart-7', '[
  {"type": "CheckedOut", "data": {}, "event_id": "b0000000-0000-4000-8000-000000000001"},
  {"type": "Paid", "data": {"amount": 5}, "event_id": "b0000000-0000-4000-8000-000000000002"},
  {"type": "Paid", "data": {"amount": 5}, "event_id": "b0000000-0000-4000-8000-000000000002"}
]');
SELECT chronicle.append_batch('cart-7', '[
  {"type": "CheckedOut", "data": {}, "event_id": "b0000000-0000-4000-8000-000000000001"},
  {"type": "Paid", "data": {"amount": 5}, "event_id": "b0000000-0000-4000-8000-000000000002"}
]', expected_version => 0) AS no_op_version;
SELECT regress.error_of($$SELECT chronicle.append_batch('cart-8', '[
  {"type": "Paid", "data": {"amount": 5}, "event_id": "b0000000-0000-4000-8000-000000000003"},
  {"type": "Paid", "data": {"amount": 6}, "event_id": "b0000000-0000-4000-8000-000000000003"}
]')$$);
SELECT chronicle.stream_version('cart-7') AS cart_7_version, chronicle.stream_version('cart-8') AS cart_8_version;

-- Bad input: a clear error, the documented SQLSTATE, nothing written.
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM chronicle.events;
SELECT q, regress.error_of(q) FROM (VALUES
  ($$SELECT chronicle.append(NULL, 'T', '{}')$$),
  ($$SELECT chronicle.append('s-1', NULL, '{}')$$),
  ($$SELECT chronicle.append('s-1', 'T', NULL)$$),
  ($$SELECT chronicle.append('', 'T', '{}')$$),
  ($$SELECT chronicle.append(repeat('x', 513), 'T', '{}')$$),
  ($$SELECT chronicle.append('s-' || chr(10), 'T', '{}')$$),
  ($$SELECT chronicle.append('s-' || chr(127), 'T', '{}')$$),
  ($$SELECT chronicle.append('s-' || chr(133), 'T', '{}')$$),
  ($$SELECT chronicle.append('s-1', '', '{}')$$),
  ($$SELECT chronicle.append('s-1', repeat('t', 256), '{}')$$),
  ($$SELECT chronicle.append('s-1', 'T', '[1, 2]')$$),
  ($$SELECT chronicle.append('s-1', 'T', '"text"')$$),
  ($$SELECT chronicle.append('s-1', 'T', 'null')$$),
  ($$SELECT chronicle.append('s-1', 'T', '{}', metadata => '[]')$$),
  ($$SELECT chronicle.append('s-1', 'T', '{}', expected_version => -1)$$),
  ($$SELECT chronicle.append_batch('s-1', NULL)$$),
  ($$SELECT chronicle.append_batch(NULL, '[{"type": "T", "data": {}}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[]')$$),
  ($$SELECT chronicle.append_batch('s-1', '{"type": "T", "data": {}}')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T", "data": {}}]', -3)$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T", "data": {}}, 42]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"data": {}}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T"}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": 7, "data": {}}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "", "data": {}}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T", "data": [1]}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T", "data": {}, "metadata": 1}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T", "data": {}, "event_id": "nope"}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T", "data": {}, "type_version": 0}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T", "data": {}, "type_version": 1.5}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T", "data": {}, "type_version": 99999999999}]')$$),
  ($$SELECT chronicle.append_batch('s-1', '[{"type": "T", "data": {}, "colour": "red"}]')$$)
) AS t(q);
SELECT (SELECT count(*) FROM chronicle.events) - n AS rows_written,
       (SELECT count(*) FROM chronicle.streams WHERE stream_id = 's-1') AS s_1_streams
FROM before;

-- A batch whose third element is bad writes none of the first two.
SELECT regress.error_of($$SELECT chronicle.append_batch('s-2', '[
  {"type": "T", "data": {}}, {"type": "T", "data": {}}, {"type": "T", "data": "oops"}]')$$);
SELECT chronicle.stream_version('s-2') AS s_2_version;

-- Stream ids: up to 512 characters (not bytes), any printable text; a stream
-- without '-' is its own category.
SELECT chronicle.append(repeat('é', 512), 'T', '{}') AS long_stream_version;
SELECT category = repeat('é', 512) AS whole_id_is_category FROM chronicle.streams
WHERE stream_id = repeat('é', 512);
SELECT chronicle.append('multi-part-id', 'T', '{}');
SELECT chronicle.append('-leading-dash', 'T', '{}');
SELECT stream_id, category FROM chronicle.streams
WHERE stream_id IN ('multi-part-id', '-leading-dash') ORDER BY stream_id;

-- Append writes its rows through the table access method (no INSERT
-- statement; docs/design/event-store.md, "How append writes"), which must not skip anything the
-- owner added to chronicle.events: a CHECK constraint still applies, with no
-- partial write ...  (All of this in a transaction rolled back at the end, so
-- that the tests after this file see the log and the table as before.)
BEGIN;
-- Which path ran is visible in the function statistics: the direct one does
-- not fire chronicle's own BEFORE INSERT check, the INSERT statement does.
SET LOCAL track_functions = 'all';
SELECT chronicle.append('guarded-0', 'T', '{}');
SELECT coalesce(sum(calls), 0) AS insert_check_calls FROM pg_stat_xact_user_functions
WHERE schemaname = 'chronicle' AND funcname = '_events_insert_check';
ALTER TABLE chronicle.events ADD CONSTRAINT no_forbidden CHECK (type <> 'Forbidden');
SELECT regress.error_of($$SELECT chronicle.append('guarded-1', 'Forbidden', '{}')$$);
SELECT chronicle.stream_version('guarded-1') AS guarded_version;
ALTER TABLE chronicle.events DROP CONSTRAINT no_forbidden;
-- ... and an audit trigger still fires (append then uses an INSERT statement).
CREATE TABLE pg_temp.audit (stream_id text, version bigint);
CREATE FUNCTION pg_temp.audit_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.audit VALUES (NEW.stream_id, NEW.version);
    RETURN NEW;
END $$;
CREATE TRIGGER audit_events AFTER INSERT ON chronicle.events
    FOR EACH ROW EXECUTE FUNCTION pg_temp.audit_event();
SELECT chronicle.append('guarded-1', 'T', '{}');
SELECT chronicle.append_batch('guarded-1', '[{"type": "T", "data": {}}, {"type": "T", "data": {}}]');
SELECT * FROM pg_temp.audit ORDER BY version;
SELECT coalesce(sum(calls), 0) AS insert_check_calls FROM pg_stat_xact_user_functions
WHERE schemaname = 'chronicle' AND funcname = '_events_insert_check';
DROP TRIGGER audit_events ON chronicle.events;
SELECT chronicle.append('guarded-1', 'T', '{}');
SELECT count(*) AS audited FROM pg_temp.audit;
SELECT coalesce(sum(calls), 0) AS insert_check_calls FROM pg_stat_xact_user_functions
WHERE schemaname = 'chronicle' AND funcname = '_events_insert_check';
-- The stream row is updated the same way (stream_row.cpp): its version check
-- trigger, which cannot fire on append's own update, is not called ...
SELECT coalesce(sum(calls), 0) AS version_check_calls FROM pg_stat_xact_user_functions
WHERE schemaname = 'chronicle' AND funcname = '_streams_version_grows';
-- ... unless a trigger of the owner's sends append to its UPDATE statement.
CREATE FUNCTION pg_temp.audit_stream() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pg_temp.audit VALUES (NEW.stream_id, -NEW.version);
    RETURN NEW;
END $$;
CREATE TRIGGER audit_streams AFTER UPDATE ON chronicle.streams
    FOR EACH ROW EXECUTE FUNCTION pg_temp.audit_stream();
SELECT chronicle.append('guarded-1', 'T', '{}');
SELECT * FROM pg_temp.audit WHERE version < 0;
SELECT coalesce(sum(calls), 0) AS version_check_calls FROM pg_stat_xact_user_functions
WHERE schemaname = 'chronicle' AND funcname = '_streams_version_grows';
DROP TRIGGER audit_streams ON chronicle.streams;
SELECT count(*) AS problems FROM chronicle.verify('guarded-1');
-- A column added by the owner: append names its columns, the new one takes
-- its default.
ALTER TABLE chronicle.events ADD COLUMN note text DEFAULT 'none';
SELECT chronicle.append('guarded-1', 'T', '{"n": 5}');
SELECT version, data, note FROM chronicle.events WHERE stream_id = 'guarded-1' AND version = 5;
ALTER TABLE chronicle.events DROP COLUMN note;
-- ... and after dropping it again (a dropped column stays in the row layout).
SELECT chronicle.append('guarded-1', 'T', '{"n": 6}');
SELECT version, data FROM chronicle.events WHERE stream_id = 'guarded-1' AND version >= 5 ORDER BY version;
SELECT count(*) AS problems FROM chronicle.verify('guarded-1');
ROLLBACK;
