-- chronicle.replay(stream_id, reducer, as_of_version, as_of_time) over
-- appended streams (docs/reference/replay.md): the seed's bank account, as-of bounds,
-- function reducers, errors, and fold over read_stream.
\set VERBOSITY sqlstate
CREATE SCHEMA replay_stream;
SET search_path = replay_stream, public;

-- The seed's bank account, exactly as README.md gives it.
SELECT chronicle.define_reducer('account', '{
  "AccountOpened":  {"set": {"number": "$.AccountNumber", "owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}}
}');
SELECT chronicle.append('account-123456', 'AccountOpened', '{"AccountNumber":123456,"Owner":"John Doe","InitialBalance":0}');
SELECT chronicle.append('account-123456', 'DepositMade',   '{"AccountNumber":123456,"Amount":100}');
SELECT chronicle.append('account-123456', 'WithdrawalMade','{"AccountNumber":123456,"Amount":50}');
SELECT chronicle.replay('account-123456', 'account');
SELECT chronicle.replay('account-123456', 'account', as_of_version => 2);

-- as_of_version bounds the events applied; 0, and streams without events,
-- give NULL; a bound past the end is the whole stream.
SELECT v, chronicle.replay('account-123456', 'account', as_of_version => v)
FROM generate_series(0, 4) v ORDER BY v;
SELECT chronicle.replay('account-none', 'account') IS NULL AS no_stream;
SELECT chronicle.replay(NULL, 'account') IS NULL AS null_stream,
       chronicle.replay('account-123456', NULL) IS NULL AS null_reducer;
SELECT chronicle.replay('account-123456', 'account', as_of_version => -1);

-- as_of_time: the events recorded at or before that time (each append is its
-- own transaction, so each event has its own recorded_at).
SELECT recorded_at AS t1 FROM chronicle.events WHERE stream_id = 'account-123456' AND version = 1 \gset
SELECT recorded_at AS t2 FROM chronicle.events WHERE stream_id = 'account-123456' AND version = 2 \gset
SELECT chronicle.replay('account-123456', 'account', as_of_time => :'t1');
SELECT chronicle.replay('account-123456', 'account', as_of_time => :'t2');
SELECT chronicle.replay('account-123456', 'account', as_of_time => :'t1'::timestamptz - interval '1 second') IS NULL AS before_first;
SELECT chronicle.replay('account-123456', 'account', as_of_time => 'infinity');
-- Both bounds: whichever comes first.
SELECT chronicle.replay('account-123456', 'account', as_of_version => 1, as_of_time => :'t2');

-- replay and fold agree on the same events (fold over read_stream, which
-- returns rows of chronicle.events).
SELECT chronicle.fold('account', e ORDER BY e.version) = chronicle.replay('account-123456', 'account') AS same
FROM chronicle.read_stream('account-123456') e;

-- As window functions, fold and merge_agg give the state after each event.
SELECT version, type, chronicle.fold('account', e) OVER (ORDER BY version) AS state_after,
       chronicle.merge_agg(data) OVER (ORDER BY version) AS merged_data
FROM chronicle.read_stream('account-123456') e;

-- Attributes come from the stored event (@recorded_at in UTC whatever the
-- session's TimeZone).
SELECT chronicle.define_reducer('audit', '{"*": {"set": {"last_type": "@type", "last_version": "@version",
    "stream": "@stream_id", "at": "@recorded_at"}, "push": {"ids": "@event_id"}}}');
SELECT r->'last_type' AS last_type, r->'last_version' AS last_version, r->'stream' AS stream,
       r->'ids' = (SELECT jsonb_agg(event_id ORDER BY version) FROM chronicle.events
                   WHERE stream_id = 'account-123456') AS ids_match,
       r->>'at' LIKE '%+00:00' AND (r->>'at')::timestamptz = (SELECT recorded_at FROM chronicle.events
                   WHERE stream_id = 'account-123456' AND version = 3) AS at_match
FROM chronicle.replay('account-123456', 'audit') r;

-- A function reducer is called per event through the same path, with the
-- stored row and a NULL state first.
CREATE FUNCTION balance_fn(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object(
        'balance', coalesce((state->>'balance')::numeric, 0)
                   + CASE e.type WHEN 'DepositMade' THEN (e.data->>'Amount')::numeric
                                 WHEN 'WithdrawalMade' THEN -(e.data->>'Amount')::numeric
                                 ELSE (e.data->>'InitialBalance')::numeric END,
        'events', coalesce((state->>'events')::int, 0) + 1,
        'started_null', coalesce(state->'started_null', to_jsonb(state IS NULL)));
END $$;
SELECT chronicle.define_reducer('balance_fn', 'balance_fn(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.replay('account-123456', 'balance_fn');
SELECT chronicle.replay('account-123456', 'balance_fn', as_of_version => 2);

-- (Used by the upcasting example below: records the type_version and data
-- each event reaches the function with.)
CREATE FUNCTION paid_versions(state jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(state, '[]') || jsonb_build_array(jsonb_build_object('v', e.type_version, 'data', e.data))
$$;

-- Exact decimals through append and replay: 0.1 + 0.2 is 0.3, and 40-digit
-- amounts keep every digit.
SELECT chronicle.define_reducer('ledger', '{"Posted": {"add": {"sum": "$.amount"}, "max": {"largest": "$.amount"}}}');
SELECT chronicle.append_batch('ledger-1', '[
    {"type": "Posted", "data": {"amount": 0.1}},
    {"type": "Posted", "data": {"amount": 0.2}}]');
SELECT chronicle.replay('ledger-1', 'ledger');
SELECT chronicle.append('ledger-1', 'Posted', '{"amount": 9999999999999999999999999999999999999999.7}');
SELECT chronicle.replay('ledger-1', 'ledger');

-- A rule that cannot apply names the reducer, the stream and the version.
SELECT chronicle.append('ledger-1', 'Posted', '{"amount": "lots"}');
\set VERBOSITY default
SELECT chronicle.replay('ledger-1', 'ledger');
-- ... and stops there: the replay up to the event before it still works.
SELECT chronicle.replay('ledger-1', 'ledger', as_of_version => 3);
SELECT chronicle.replay('ledger-1', 'no_such_reducer');
\set VERBOSITY sqlstate

-- Every event is upcast (docs/reference/types.md) before the rules see it: stored
-- rows of version 1 and 2 replay as version 3, through a two-step chain.
SELECT chronicle.define_upcaster('ReplayPaid', 1, '{"rename": {"amt": "amount"}}');
SELECT chronicle.define_upcaster('ReplayPaid', 2, '{"set": {"currency": "EUR"}}');
SELECT chronicle.append_batch('upcast-1', '[
    {"type": "ReplayPaid", "type_version": 1, "data": {"amt": 5}},
    {"type": "ReplayPaid", "type_version": 2, "data": {"amount": 7}},
    {"type": "ReplayPaid", "type_version": 3, "data": {"amount": 9, "currency": "USD"}}]');
SELECT chronicle.define_reducer('paid', '{"ReplayPaid": {"add": {"total": "$.amount"},
    "push": {"currencies": "$.currency"}}}');
SELECT chronicle.define_reducer('paid_fn', 'paid_versions(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.replay('upcast-1', 'paid');
SELECT chronicle.fold('paid', e ORDER BY e.version) FROM chronicle.events e WHERE stream_id = 'upcast-1';
SELECT chronicle.replay('upcast-1', 'paid_fn');
-- The stored rows are unchanged.
SELECT version, type_version, data FROM chronicle.events WHERE stream_id = 'upcast-1' ORDER BY version;

-- A long stream replays in one pass (and is cancellable: see docs/design/replay.md, "Memory").
SELECT chronicle.append_batch('ledger-2', (SELECT jsonb_agg(jsonb_build_object('type', 'Posted',
    'data', jsonb_build_object('amount', i * 0.01))) FROM generate_series(1, 20000) i));
SELECT chronicle.replay('ledger-2', 'ledger');
SELECT chronicle.replay('ledger-2', 'ledger', as_of_version => 10000);

-- A replay sees what its query's snapshot sees: its own transaction's
-- append before the commit, and never a rolled-back one (whose dead row
-- stays in the table and its index until VACUUM).
BEGIN;
SELECT chronicle.append('ledger-3', 'Posted', '{"amount": 1}');
SELECT chronicle.replay('ledger-3', 'ledger');
ROLLBACK;
SELECT chronicle.replay('ledger-3', 'ledger') IS NULL AS rolled_back;
SELECT chronicle.append('ledger-3', 'Posted', '{"amount": 2}');
SELECT chronicle.replay('ledger-3', 'ledger');

-- Readers may replay; replay reads with the caller's rights.
CREATE ROLE regress_replay_stream_reader IN ROLE chronicle_reader;
CREATE ROLE regress_replay_stream_nobody;
SET ROLE regress_replay_stream_reader;
SELECT chronicle.replay('account-123456', 'account');
SET ROLE regress_replay_stream_nobody;
SELECT chronicle.replay('account-123456', 'account');
RESET ROLE;

-- Reading the events needs what SELECT * FROM chronicle.events needs:
-- SELECT on the table, or on every one of its columns.
CREATE ROLE regress_replay_stream_cols;
GRANT EXECUTE ON FUNCTION chronicle.replay(text, text, bigint, timestamptz) TO regress_replay_stream_cols;
GRANT SELECT ON chronicle.reducers TO regress_replay_stream_cols;
SET ROLE regress_replay_stream_cols;
\set VERBOSITY default
SELECT chronicle.replay('account-123456', 'account');
\set VERBOSITY sqlstate
RESET ROLE;
GRANT SELECT (stream_id, version, global_position, event_id, type, type_version, data, metadata,
              recorded_at, tx_id, hash) ON chronicle.events TO regress_replay_stream_cols;
SET ROLE regress_replay_stream_cols;
SELECT chronicle.replay('account-123456', 'account');
RESET ROLE;
REVOKE SELECT (hash) ON chronicle.events FROM regress_replay_stream_cols;
SET ROLE regress_replay_stream_cols;
SELECT chronicle.replay('account-123456', 'account');
RESET ROLE;
REVOKE ALL ON chronicle.events, chronicle.reducers FROM regress_replay_stream_cols;
REVOKE ALL ON FUNCTION chronicle.replay(text, text, bigint, timestamptz) FROM regress_replay_stream_cols;

-- Row-level security on chronicle.events applies to replay as to any query
-- (replay leaves such a table to the executor): this reader sees the first
-- two events only.
ALTER TABLE chronicle.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY regress_first_two ON chronicle.events FOR SELECT USING (version <= 2);
SET ROLE regress_replay_stream_reader;
SELECT chronicle.replay('account-123456', 'account');
RESET ROLE;
DROP POLICY regress_first_two ON chronicle.events;
ALTER TABLE chronicle.events DISABLE ROW LEVEL SECURITY;
DROP ROLE regress_replay_stream_reader, regress_replay_stream_nobody, regress_replay_stream_cols;

-- Pages that VACUUM marked all-visible are read without a visibility test
-- per row (as a sequential scan trusts the flag); a page an append has
-- touched since goes the general way.  Replay agrees with SQL either way,
-- also for the transaction's own append and after a rolled-back one.  (How
-- many pages VACUUM can mark depends on what else the cluster runs, e.g. an
-- autovacuum ANALYZE holding a snapshot, so it is not printed here.)
SELECT chronicle.append_batch('visible-1', (SELECT jsonb_agg(jsonb_build_object('type', 'Posted',
    'data', jsonb_build_object('amount', i))) FROM generate_series(1, 500) i));
VACUUM chronicle.events;
SELECT (chronicle.replay('visible-1', 'ledger')->>'sum')::numeric
       = (SELECT sum((data->>'amount')::numeric) FROM chronicle.events WHERE stream_id = 'visible-1')
       AS all_visible_pages_agree;
BEGIN;
SELECT chronicle.append('visible-1', 'Posted', '{"amount": 1000}');
SELECT chronicle.replay('visible-1', 'ledger') AS with_own_append;
ROLLBACK;
SELECT chronicle.replay('visible-1', 'ledger') AS after_rollback;
SELECT chronicle.append('visible-1', 'Posted', '{"amount": 1}');
SELECT chronicle.replay('visible-1', 'ledger') AS after_one_more;

-- Clean up: this file's helpers and reducers (events are immutable and stay).
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA replay_stream CASCADE;
RESET client_min_messages;
DELETE FROM chronicle.reducers WHERE name IN ('account', 'audit', 'balance_fn', 'ledger', 'paid', 'paid_fn');
