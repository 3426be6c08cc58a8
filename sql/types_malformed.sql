-- Malformed schemas and hostile input.
-- A schema that is itself wrong is rejected by define_event_type with SE003,
-- naming the path inside the schema; nothing is stored.  Bad arguments are
-- 22023 / 22004.  No input crashes the backend or raises XX000.

\set VERBOSITY sqlstate
SELECT chronicle.define_event_type('m_bad', '{"type": "strnig"}');
\set VERBOSITY default

-- Unknown keyword values, wrong keyword types, invalid regular expressions,
-- negative lengths, unsupported forms and keywords.
SELECT schema, regress.define('m_bad', schema)
FROM (VALUES
  ('[]'::jsonb), ('"object"'), ('42'), ('null'),
  ('{"type": "strnig"}'), ('{"type": 1}'), ('{"type": []}'), ('{"type": ["string", 1]}'),
  ('{"type": ["string", "string"]}'),
  ('{"properties": []}'), ('{"properties": {"a": 1}}'), ('{"properties": {"a": {"properties": {"b b": {"type": "x"}}}}}'),
  ('{"required": "id"}'), ('{"required": [1]}'), ('{"required": ["a", "a"]}'),
  ('{"additionalProperties": {"type": "string"}}'), ('{"additionalProperties": "no"}'),
  ('{"items": [{"type": "string"}]}'), ('{"items": 1}'), ('{"items": {"items": {"minimum": "0"}}}'),
  ('{"enum": []}'), ('{"enum": "a"}'),
  ('{"minimum": "0"}'), ('{"maximum": null}'), ('{"exclusiveMinimum": true}'), ('{"exclusiveMaximum": [1]}'),
  ('{"minLength": -1}'), ('{"maxLength": 1.5}'), ('{"maxLength": "3"}'), ('{"minLength": 1e10}'),
  ('{"pattern": 1}'), ('{"pattern": "(["}'), ('{"pattern": "a{2,1}"}'), ('{"pattern": "[z-a]"}'),
  ('{"pattern": "x\\"}'), ('{"pattern": "(?<name>x)"}'),
  ('{"format": "ipv4"}'), ('{"format": 1}'),
  ('{"oneOf": []}'), ('{"minimun": 1}'), ('{"$ref": "#/x"}'), ('{"if": {}}')
) AS cases(schema);

-- Nothing of the above was stored.
SELECT count(*) FROM chronicle.event_types WHERE type = 'm_bad';

-- Bad arguments.
SELECT regress.define(NULL, '{}'), regress.define('m_x', NULL), regress.define('m_x', '{}', NULL);
SELECT regress.define('', '{}'), regress.define(repeat('x', 256), '{}'),
       regress.define('m_x', '{}', 0), regress.define('m_x', '{}', -3);
SELECT regress.define(repeat('é', 255), '{}') AS longest_type;

-- A stored schema edited by hand into something malformed fails every check
-- of that type with SE003 (other types are unaffected).
SELECT chronicle.define_event_type('m_edited', '{"type": "object"}');
UPDATE chronicle.event_types SET schema = '{"type": "bogus"}' WHERE type = 'm_edited';
\set SHOW_CONTEXT never
SELECT chronicle._check_event('m_edited', 1, '{}');
\set VERBOSITY default
SELECT regress.check('NoSchemaHere', '{}');
DELETE FROM chronicle.event_types WHERE type = 'm_edited';
SELECT regress.check('m_edited', '{"type": "no schema any more"}');

-- Hostile input.
-- Schemas nest at most 64 levels deep (the long paths are shortened here).
CREATE FUNCTION pg_temp.short(message text) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN length(message) > 110 THEN left(message, 80) || ' ... ' || right(message, 40) ELSE message END $$;
SELECT regress.define('m_deep', (repeat('{"items": ', 64) || '{"type": "integer"}' || repeat('}', 64))::jsonb)
       AS depth_64;
SELECT pg_temp.short(regress.define('m_deeper', (repeat('{"items": ', 65) || '{}' || repeat('}', 65))::jsonb))
       AS depth_65;
SELECT pg_temp.short(regress.define('m_deeper',
           (repeat('{"properties": {"a": ', 5000) || '{}' || repeat('}}', 5000))::jsonb)) AS depth_5000;
-- Data is checked as deep as the schema goes, and no deeper.
SELECT regress.check('m_deep', (repeat('[', 64) || '1' || repeat(']', 64))::jsonb) AS depth_64_ok;
SELECT pg_temp.short(regress.check('m_deep', (repeat('[', 64) || '"x"' || repeat(']', 64))::jsonb)) AS depth_64_bad;
SELECT regress.define('m_shallow', '{"type": "object", "properties": {"a": {"type": "array"}}}'),
       regress.check('m_shallow', ('{"a": ' || repeat('[', 5000) || repeat(']', 5000) || '}')::jsonb) AS depth_5000_data;

-- A huge schema: 20,000 properties and an enum of 20,000 values.
SELECT regress.define('m_huge', jsonb_build_object(
    'properties', (SELECT jsonb_object_agg('p' || i, jsonb_build_object('type', 'integer', 'maximum', i))
                   FROM generate_series(1, 20000) i),
    'required', (SELECT jsonb_agg('p' || i) FROM generate_series(1, 20000, 1000) i),
    'additionalProperties', false));
SELECT regress.check('m_huge', (SELECT jsonb_object_agg('p' || i, i) FROM generate_series(1, 20000) i)) AS all_ok,
       regress.check('m_huge', (SELECT jsonb_object_agg('p' || i, i) FROM generate_series(1, 20000) i)
                               || '{"p15000": 15001}') AS one_too_big,
       regress.check('m_huge', '{"p1": 1}') AS missing;
SELECT regress.define('m_enum', jsonb_build_object('properties', jsonb_build_object('v',
    jsonb_build_object('enum', (SELECT jsonb_agg('v' || i) FROM generate_series(1, 20000) i)))));
SELECT regress.check('m_enum', '{"v": "v19999"}') AS in_enum, regress.check('m_enum', '{"v": "v0"}') AS not_in_enum;

-- A big array: every element is checked; the failing one is named.
SELECT regress.define('m_array', '{"properties": {"xs": {"items": {"type": "integer"}}}}');
SELECT regress.check('m_array', jsonb_build_object('xs', (SELECT jsonb_agg(i) FROM generate_series(1, 100000) i)))
       AS ok_100000,
       regress.check('m_array', jsonb_build_object('xs', (SELECT jsonb_agg(CASE WHEN i = 99999 THEN '"x"'::jsonb ELSE to_jsonb(i) END)
                                                          FROM generate_series(0, 100000) i))) AS bad_99999;

-- Odd keys and values in the path: quoted as JSON strings.
SELECT regress.define('m_keys', '{"properties": {"": {"type": "string"}, "a.b": {"type": "string"},
  "1x": {"type": "string"}, "quote\"d": {"type": "string"}, "日本": {"type": "string"}}}');
SELECT regress.check('m_keys', data)
FROM (VALUES ('{"": 1}'::jsonb), ('{"a.b": 1}'), ('{"1x": 1}'), ('{"quote\"d": 1}'), ('{"日本": 1}')) AS cases(data);

-- Back references are supported (advanced regular expressions).
SELECT regress.define('m_backref', '{"properties": {"s": {"pattern": "^(a+)-\\1$"}}}');
SELECT regress.check('m_backref', '{"s": "aa-aa"}') AS same, regress.check('m_backref', '{"s": "aa-a"}') AS different;
