-- The rules language of chronicle reducers (docs/reference/replay.md), exercised
-- through the fold aggregate over event rows built by hand, so that every
-- operation is shown on exactly the events it sees.
\set VERBOSITY sqlstate
-- Helpers live in a schema of this test's own, dropped at the end.
CREATE SCHEMA replay_rules;
SET search_path = replay_rules, public;

-- ev(version, type, data): one event of stream "acct-1".
CREATE FUNCTION ev(version bigint, type text, data jsonb, stream text DEFAULT 'acct-1')
RETURNS chronicle.events LANGUAGE sql AS $$
    SELECT ROW(stream, version, version,
               ('00000000-0000-0000-0000-' || lpad(version::text, 12, '0'))::uuid,
               type, 1, data, '{}'::jsonb,
               '2026-01-01 00:00:00+00'::timestamptz + version * interval '1 minute',
               '1'::xid8, '\x'::bytea, '{}'::text[], '\x'::bytea)::chronicle.events
$$;
-- run(reducer, events...): the reducer's state after the events, in version order.
CREATE FUNCTION run(reducer text, VARIADIC events chronicle.events[]) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT chronicle.fold(reducer, e ORDER BY (e).version) FROM unnest(events) e
$$;

-- The seed's bank account.
SELECT chronicle.define_reducer('account', '{
  "AccountOpened":  {"set": {"number": "$.AccountNumber", "owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}}
}');
SELECT run('account',
           ev(1, 'AccountOpened', '{"AccountNumber":123456,"Owner":"John Doe","InitialBalance":0}'),
           ev(2, 'DepositMade', '{"AccountNumber":123456,"Amount":100}'),
           ev(3, 'WithdrawalMade', '{"AccountNumber":123456,"Amount":50}'));

-- set: literals, "$" (the whole data), "$.path", and dotted targets that
-- create the objects on their way.
SELECT chronicle.define_reducer('set', '{"E": {"set": {
    "literal": [1, "two", null], "whole": "$", "deep": "$.a.b", "totals.in.cash": "$.a.b",
    "first_line": "$.lines.0", "second_name": "$.lines.1.name"}}}');
SELECT run('set', ev(1, 'E', '{"a": {"b": 7}, "lines": [{"name": "x"}, {"name": "y"}]}'));

-- A "$.path" missing from the data skips that one operation; the others apply.
SELECT run('set', ev(1, 'E', '{"lines": []}'));

-- "@attributes" are the event's own columns; any other string is a literal.
SELECT chronicle.define_reducer('attrs', '{"E": {"set": {"t": "@type", "v": "@version",
    "id": "@event_id", "s": "@stream_id", "at": "@recorded_at", "other": "@something", "dollar": "$x"}}}');
SELECT jsonb_pretty(run('attrs', ev(42, 'E', '{}')));

-- add / sub: exact decimal arithmetic (numeric, never floating point); a
-- missing target counts as 0.
SELECT chronicle.define_reducer('sum', '{"In": {"add": {"total": "$.x"}}, "Out": {"sub": {"total": "$.x"}}}');
SELECT run('sum', ev(1, 'In', '{"x": 0.1}'), ev(2, 'In', '{"x": 0.2}'));
SELECT run('sum', ev(1, 'Out', '{"x": 5}'));
SELECT run('sum',
           ev(1, 'In', '{"x": 1234567890123456789012345678901234567890.0000000001}'),
           ev(2, 'In', '{"x": 0.0000000009}'),
           ev(3, 'Out', '{"x": 1e-40}'));
SELECT (run('sum', ev(1, 'In', '{"x": 0.1}'), ev(2, 'In', '{"x": 0.2}'))->'total')::numeric = 0.3 AS exact;

-- min / max keep the smaller / larger number; a missing target takes the value.
SELECT chronicle.define_reducer('range', '{"*": {"min": {"lo": "$.x"}, "max": {"hi": "$.x"}}}');
SELECT run('range', ev(1, 'E', '{"x": 3}'), ev(2, 'E', '{"x": -1.5}'), ev(3, 'E', '{"x": 10}'), ev(4, 'E', '{}'));

-- push appends to an array (created when missing); an array value is one element.
SELECT chronicle.define_reducer('log', '{"*": {"push": {"types": "@type", "items": "$.item"}}}');
SELECT run('log', ev(1, 'A', '{"item": [1, 2]}'), ev(2, 'B', '{"item": {"k": 1}}'), ev(3, 'C', '{}'));

-- merge: RFC 7396 into a target, or into the whole state with the empty
-- target; null members remove keys.
SELECT chronicle.define_reducer('profile', '{
    "Registered": {"merge": {"": "$"}},
    "Updated":    {"merge": {"": "$"}},
    "Tagged":     {"merge": {"tags": "$"}},
    "Moved":      {"merge": {"address": {"city": "Paris", "zip": null}}}}');
SELECT run('profile',
           ev(1, 'Registered', '{"name": "Ann", "email": "a@x", "address": {"city": "Oslo", "zip": "0150"}}'),
           ev(2, 'Updated', '{"email": null, "phone": "123"}'),
           ev(3, 'Tagged', '{"vip": true}'),
           ev(4, 'Moved', '{}'));

-- unset removes targets (nested too); missing targets are ignored.
SELECT chronicle.define_reducer('unset', '{"$init": {"a": 1, "b": {"c": 2, "d": 3}},
    "E": {"unset": ["a", "b.c", "missing", "missing.deeper", "a.not_an_object"]}}');
SELECT run('unset', ev(1, 'E', '{}'));

-- Inside one operation object the order is fixed: unset, set, merge, add,
-- sub, min, max, push, whatever the order written.
SELECT chronicle.define_reducer('order', '{"E": {
    "push": {"trace": "$.n"}, "max": {"n": 100}, "min": {"n": 50}, "sub": {"n": 1},
    "add": {"n": 10}, "merge": {"m": {"k": 1}}, "set": {"n": 5, "trace": []}, "unset": ["m"]}}');
SELECT run('order', ev(1, 'E', '{"n": 7}'));

-- An array of operation objects applies them in the array's order.
SELECT chronicle.define_reducer('steps', '{"E": [{"set": {"n": 1}}, {"add": {"n": 1}}, {"set": {"copy": "$.n"}}, {"add": {"n": 10}}]}');
SELECT run('steps', ev(1, 'E', '{"n": "from data"}'));

-- "*" applies to every event, after the type's own rules; "$init" is the
-- initial state; types without rules change nothing.
SELECT chronicle.define_reducer('star', '{"$init": {"count": 0, "seen": []},
    "A": {"set": {"last_a": "@version"}},
    "*": {"add": {"count": 1}, "push": {"seen": "@type"}}}');
SELECT run('star', ev(1, 'A', '{}'), ev(2, 'B', '{}'), ev(3, 'A', '{}'));
SELECT chronicle.define_reducer('only_a', '{"$init": {"untouched": true}, "A": {"set": {"a": 1}}}');
SELECT run('only_a', ev(1, 'B', '{}'), ev(2, 'C', '{}'));

-- A rule that cannot apply raises SE004 naming the reducer, stream and version.
\set VERBOSITY default
SELECT run('sum', ev(1, 'In', '{"x": 1}'), ev(2, 'In', '{"x": "12"}'));
SELECT run('sum', ev(1, 'In', '{"x": true}'));
SELECT chronicle.define_reducer('clash', '{"S": {"set": {"a": "text"}}, "N": {"add": {"a": 1}},
    "P": {"push": {"a": 1}}, "D": {"set": {"a.b": 1}}, "M": {"merge": {"a": "$.v"}}, "R": {"set": {"": "$.v"}},
    "X": {"max": {"a": 1}}}');
SELECT run('clash', ev(1, 'S', '{}'), ev(2, 'N', '{}'));
SELECT run('clash', ev(1, 'S', '{}'), ev(2, 'P', '{}'));
SELECT run('clash', ev(1, 'S', '{}'), ev(2, 'D', '{}'));
SELECT run('clash', ev(1, 'S', '{}'), ev(2, 'X', '{}'));
SELECT run('clash', ev(7, 'M', '{"v": [1]}'));
SELECT run('clash', ev(8, 'R', '{"v": 1}'));
\set VERBOSITY sqlstate
SELECT run('clash', ev(1, 'S', '{}'), ev(2, 'N', '{}'));

-- Malformed rules are refused when the reducer is defined (SE004), and
-- nothing is stored.
\set VERBOSITY default
SELECT chronicle.define_reducer('bad', '[]');
SELECT chronicle.define_reducer('bad', '"rules"');
SELECT chronicle.define_reducer('bad', '{"E": 1}');
SELECT chronicle.define_reducer('bad', '{"E": [{"set": {}}, 2]}');
SELECT chronicle.define_reducer('bad', '{"E": {"increment": {"n": 1}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"set": [1]}}');
SELECT chronicle.define_reducer('bad', '{"E": {"unset": "a"}}');
SELECT chronicle.define_reducer('bad', '{"E": {"unset": [1]}}');
SELECT chronicle.define_reducer('bad', '{"E": {"unset": [""]}}');
SELECT chronicle.define_reducer('bad', '{"E": {"add": {"": 1}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"push": {"": 1}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"set": {"a..b": 1}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"set": {".a": 1}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"set": {"a.": 1}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"set": {"a": "$."}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"set": {"a": "$.x..y"}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"add": {"a": "ten"}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"min": {"a": null}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"merge": {"a": [1]}}}');
SELECT chronicle.define_reducer('bad', '{"E": {"set": {"": 5}}}');
SELECT chronicle.define_reducer('bad', '{"$init": []}');
SELECT chronicle.define_reducer('bad', '{"$Init": {}}');
SELECT chronicle.define_reducer('bad', '{"": {"set": {"a": 1}}}');
\set VERBOSITY sqlstate
SELECT count(*) AS stored FROM chronicle.reducers WHERE name = 'bad';

-- Hostile but valid rules: deep literals, deep targets and many operations
-- work, and the state they build serialises.
SELECT chronicle.define_reducer('deep', jsonb_build_object('E', jsonb_build_object('set', jsonb_build_object(
    'lit', repeat('[', 500) || repeat(']', 500),
    string_agg('k', '.'), 1)))) FROM generate_series(1, 300);
SELECT jsonb_path_query(run('deep', ev(1, 'E', '{}')),
       ('$' || repeat('.k', 299))::jsonpath) AS three_hundred_levels_down;
SELECT length(run('deep', ev(1, 'E', '{}'))->>'lit') AS deep_literal_chars;
SELECT chronicle.define_reducer('wide', jsonb_build_object('E', jsonb_build_object('add',
    jsonb_object_agg('k' || i, i)))) FROM generate_series(1, 2000) i;
SELECT count(*), sum(value::numeric) FROM jsonb_each(run('wide', ev(1, 'E', '{}'), ev(2, 'E', '{}')));
-- Deeply nested event data is copied whole.
SELECT chronicle.define_reducer('copy', '{"E": {"set": {"d": "$"}}}');
SELECT run('copy', ev(1, 'E', ('{"x":' || repeat('[', 1000) || repeat(']', 1000) || '}')::jsonb))
     = ('{"d": {"x":' || repeat('[', 1000) || repeat(']', 1000) || '}}')::jsonb AS copied;

-- fold groups: one state per stream, serialised once per group; rows with a
-- NULL event are skipped; no rows give NULL.
SELECT (e).stream_id, chronicle.fold('sum', e ORDER BY (e).version)
FROM unnest(ARRAY[ev(1, 'In', '{"x": 1}', 's-a'), ev(1, 'In', '{"x": 5}', 's-b'),
                  ev(2, 'Out', '{"x": 2}', 's-a'), NULL]) e
WHERE e IS NOT NULL
GROUP BY 1 ORDER BY 1;
SELECT chronicle.fold('sum', NULL::chronicle.events);
SELECT chronicle.fold('sum', e) FROM unnest(ARRAY[]::chronicle.events[]) e;
-- Unknown reducer.
SELECT run('no_such_reducer', ev(1, 'E', '{}'));

-- Clean up: this file's helpers and reducers.
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA replay_rules CASCADE;
RESET client_min_messages;
DELETE FROM chronicle.reducers WHERE name IN ('account', 'set', 'attrs', 'sum', 'range', 'log', 'profile', 'unset', 'order', 'steps', 'star', 'only_a', 'clash', 'deep', 'wide', 'copy');
