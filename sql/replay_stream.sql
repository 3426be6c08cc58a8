-- chronicle.replay(stream_id, reducer, as_of_version, as_of_time) over
-- appended streams (SPEC section 3): the seed's bank account, as-of bounds,
-- function reducers, errors, and fold over read_stream.
\set VERBOSITY sqlstate
CREATE SCHEMA replay_stream;
SET search_path = replay_stream, public;

-- The seed's bank account, exactly as the SPEC gives it.
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

-- Attributes come from the stored event.
SELECT chronicle.define_reducer('audit', '{"*": {"set": {"last_type": "@type", "last_version": "@version",
    "stream": "@stream_id"}, "push": {"ids": "@event_id"}}}');
SELECT r->'last_type' AS last_type, r->'last_version' AS last_version, r->'stream' AS stream,
       r->'ids' = (SELECT jsonb_agg(event_id ORDER BY version) FROM chronicle.events
                   WHERE stream_id = 'account-123456') AS ids_match
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

-- Every event is upcast (SPEC section 4) before the rules see it: stored
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

-- A long stream replays in one pass (and is cancellable: see README.md, "Memory").
SELECT chronicle.append_batch('ledger-2', (SELECT jsonb_agg(jsonb_build_object('type', 'Posted',
    'data', jsonb_build_object('amount', i * 0.01))) FROM generate_series(1, 20000) i));
SELECT chronicle.replay('ledger-2', 'ledger');
SELECT chronicle.replay('ledger-2', 'ledger', as_of_version => 10000);

-- Readers may replay; replay reads with the caller's rights.
CREATE ROLE regress_replay_stream_reader IN ROLE chronicle_reader;
CREATE ROLE regress_replay_stream_nobody;
SET ROLE regress_replay_stream_reader;
SELECT chronicle.replay('account-123456', 'account');
SET ROLE regress_replay_stream_nobody;
SELECT chronicle.replay('account-123456', 'account');
RESET ROLE;
DROP ROLE regress_replay_stream_reader, regress_replay_stream_nobody;

-- Clean up: this file's helpers and reducers (events are immutable and stay).
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA replay_stream CASCADE;
RESET client_min_messages;
DELETE FROM chronicle.reducers WHERE name IN ('account', 'audit', 'balance_fn', 'ledger', 'paid', 'paid_fn');
