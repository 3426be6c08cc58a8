-- Upcasters (docs/reference/types.md).
-- chronicle.define_upcaster(type, from_version, rules) turns data of `type`
-- at from_version into from_version + 1 when it is read.  Rules apply in
-- this order: rename {"old": "new"}, set {"key": literal}, unset ["key"].
-- Reads apply the chain up to the newest version and report the upcasted
-- type_version; stored rows never change.  chronicle._upcast(type,
-- type_version, data) is an internal helper that does exactly what reads do.

CREATE FUNCTION pg_temp.define(type text, from_version int, rules jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chronicle.define_upcaster(type, from_version, rules);
    RETURN 'defined';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- A chain of two steps: v1 -> v2 -> v3.
-- v1 stored {"cust": ..., "amount": ..., "legacy_flag": ...}
-- v2 renamed cust to customer and added a currency;
-- v3 renamed amount to total and dropped legacy_flag.
SELECT chronicle.define_upcaster('PaymentReceived', 1,
  '{"rename": {"cust": "customer"}, "set": {"currency": "EUR"}}');
SELECT chronicle.define_upcaster('PaymentReceived', 2,
  '{"rename": {"amount": "total"}, "unset": ["legacy_flag"]}');
SELECT type, from_version, rules FROM chronicle.upcasters WHERE type = 'PaymentReceived' ORDER BY from_version;

SELECT * FROM chronicle._upcast('PaymentReceived', 1,
  '{"cust": "ann", "amount": 12.50, "legacy_flag": true, "note": {"kept": [1, 2]}}');
-- Data stored at v2 takes only the second step; v3 is the newest: unchanged.
SELECT * FROM chronicle._upcast('PaymentReceived', 2, '{"customer": "bob", "amount": 3, "currency": "USD"}');
SELECT * FROM chronicle._upcast('PaymentReceived', 3, '{"customer": "eve", "total": 1}');
-- Types without upcasters are returned as they are.
SELECT * FROM chronicle._upcast('NoUpcasterHere', 1, '{"a": 1}');

-- rename happens all at once: keys can be swapped.
SELECT chronicle.define_upcaster('u_swap', 1, '{"rename": {"x": "y", "y": "x"}}');
SELECT data FROM chronicle._upcast('u_swap', 1, '{"x": 1, "y": 2, "z": 3}');
-- A renamed key replaces an existing key of its new name; a missing one is skipped.
SELECT chronicle.define_upcaster('u_rename', 1, '{"rename": {"old": "new", "absent": "whatever"}}');
SELECT (chronicle._upcast('u_rename', 1, '{"old": "from old", "new": "overwritten"}')).data AS replaced,
       (chronicle._upcast('u_rename', 1, '{"other": 1}')).data AS skipped;
-- set writes literal values (strings like "$.x" are not paths), overwriting.
SELECT chronicle.define_upcaster('u_set', 1,
  '{"set": {"status": "active", "tags": ["a"], "meta": {"v": 2}, "ref": "$.id", "gone": null}}');
SELECT data FROM chronicle._upcast('u_set', 1, '{"id": 7, "status": "pending"}');
-- unset comes last: it removes keys whatever rename and set did.
SELECT chronicle.define_upcaster('u_unset', 1,
  '{"rename": {"a": "b"}, "set": {"c": 1, "d": 2}, "unset": ["b", "c", "missing"]}');
SELECT data FROM chronicle._upcast('u_unset', 1, '{"a": 1, "e": 5}');
-- Empty rules only raise the version.
SELECT chronicle.define_upcaster('u_empty', 1, '{}');
SELECT * FROM chronicle._upcast('u_empty', 1, '{"a": 1}');

-- A gap stops the chain: 1 -> 2 exists, 2 -> 3 does not, 3 -> 4 does.
SELECT chronicle.define_upcaster('u_gap', 1, '{"set": {"v2": true}}'),
       chronicle.define_upcaster('u_gap', 3, '{"set": {"v4": true}}');
SELECT * FROM chronicle._upcast('u_gap', 1, '{}');
SELECT * FROM chronicle._upcast('u_gap', 3, '{}');

-- Redefining an upcaster replaces it.
SELECT chronicle.define_upcaster('u_swap', 1, '{"set": {"swapped": false}}');
SELECT data FROM chronicle._upcast('u_swap', 1, '{"x": 1, "y": 2}');
SELECT count(*) FROM chronicle.upcasters WHERE type = 'u_swap';

-- A long chain: 200 steps, each adding one to a counter key name.
SELECT count(chronicle.define_upcaster('u_long', v, jsonb_build_object('rename',
         jsonb_build_object('k' || v, 'k' || (v + 1)))))
FROM generate_series(1, 200) v;
SELECT * FROM chronicle._upcast('u_long', 1, '{"k1": "carried"}');
SELECT * FROM chronicle._upcast('u_long', 150, '{"k150": "carried"}');

-- Big data: 50,000 keys, one renamed.
SELECT chronicle.define_upcaster('u_big', 1, '{"rename": {"k25000": "renamed"}}');
SELECT type_version, data->'renamed' AS renamed, data ? 'k25000' AS old_left, (SELECT count(*) FROM jsonb_object_keys(data)) AS keys
FROM chronicle._upcast('u_big', 1, (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 50000) i));

-- Malformed rules are 22023 (a bad argument, like any other), naming the
-- type and version; nothing is stored.  Bad type names and versions are 22023,
-- NULLs 22004.
\set VERBOSITY sqlstate
SELECT chronicle.define_upcaster('u_bad', 1, '{"rename": ["a"]}');
\set VERBOSITY default
SELECT rules, pg_temp.define('u_bad', 1, rules)
FROM (VALUES ('[]'::jsonb), ('"rename"'), ('{"rename": ["a", "b"]}'), ('{"rename": {"a": 1}}'),
             ('{"rename": {"a": "c", "b": "c"}}'), ('{"set": ["a", 1]}'), ('{"set": "x"}'),
             ('{"unset": "a"}'), ('{"unset": [1]}'), ('{"unset": {"a": 1}}'),
             ('{"delete": ["a"]}'), ('{"rename": {}, "sets": {}}')) AS cases(rules);
SELECT count(*) FROM chronicle.upcasters WHERE type = 'u_bad';
SELECT pg_temp.define('u_bad', 0, '{}'), pg_temp.define('u_bad', -1, '{}'),
       pg_temp.define('u_bad', 2147483647, '{}'), pg_temp.define('u_bad', 2147483646, '{}') AS max_from;
SELECT pg_temp.define(NULL, 1, '{}'), pg_temp.define('u_bad', NULL, '{}'), pg_temp.define('u_bad', 1, NULL);
SELECT pg_temp.define('', 1, '{}'), pg_temp.define(repeat('x', 256), 1, '{}');

-- Rules edited by hand into something malformed fail the reads of that type
-- (and version) only.
SELECT chronicle.define_upcaster('u_edited', 1, '{}');
UPDATE chronicle.upcasters SET rules = '{"frobnicate": 1}' WHERE type = 'u_edited';
SELECT * FROM chronicle._upcast('u_edited', 1, '{}');
SELECT * FROM chronicle._upcast('u_edited', 2, '{}');
DELETE FROM chronicle.upcasters WHERE type = 'u_edited';
SELECT * FROM chronicle._upcast('u_edited', 1, '{}');

-- Upcasting 200,000 values does not grow the session's memory:
-- each call's scratch memory is reset by the next.
SELECT count(*) FROM (SELECT (chronicle._upcast('PaymentReceived', 1, '{"cust": "x", "amount": 1}')).data
                      FROM generate_series(1, 1000) ) s;
SELECT regress.context_bytes() AS before \gset
SELECT count(DISTINCT u.data) FROM generate_series(1, 200000) i,
       LATERAL chronicle._upcast('PaymentReceived', 1, jsonb_build_object('cust', 'x', 'amount', i % 7)) u;
SELECT regress.context_bytes() - :before < 256 * 1024 AS memory_flat;
