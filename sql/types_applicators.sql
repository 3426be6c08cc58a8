-- Schema applicators (docs/reference/types.md): allOf, anyOf,
-- oneOf, and local "$ref" to the root ("#") or to a definition of the root's
-- "$defs" / "definitions".  A recursive schema (a tree) works; a cycle of
-- applicators alone is rejected at definition; a check that would apply
-- schemas without end (nested anyOf over shared definitions) hits a bound.
-- allOf: every schema.
SELECT regress.define('ap_all', '{"allOf": [{"type": "object", "required": ["a"]},
                                            {"properties": {"a": {"type": "integer"}}}]}');
SELECT data, regress.check('ap_all', data) FROM (VALUES
  ('{"a": 1}'::jsonb), ('{}'), ('{"a": "x"}'), ('{"a": 1, "b": 2}')) AS t(data);

-- anyOf: at least one.
SELECT regress.define('ap_any', '{"properties": {"id": {"anyOf": [{"type": "integer"},
                                                                  {"type": "string", "format": "uuid"}]}}}');
SELECT data, regress.check('ap_any', data) FROM (VALUES
  ('{"id": 5}'::jsonb), ('{"id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10"}'), ('{"id": "x"}'), ('{"id": 1.5}'), ('{}')) AS t(data);

-- oneOf: exactly one.
SELECT regress.define('ap_one', '{"properties": {"n": {"oneOf": [{"type": "integer"},
                                                                 {"type": "number", "minimum": 10}]}}}');
SELECT data, regress.check('ap_one', data) FROM (VALUES
  ('{"n": 5}'::jsonb), ('{"n": 10.5}'), ('{"n": 12}'), ('{"n": 2.5}')) AS t(data);
-- A failed branch leaves no trace in the path of a later error.
SELECT regress.check('ap_one', '{"n": 2.5}') = regress.check('ap_one', '{"n": 3.5}') AS same_message;

-- $ref into "$defs": a tree, recursive through items; errors name the path.
SELECT regress.define('ap_tree', '{"$ref": "#/$defs/node", "$defs": {"node": {
  "type": "object", "required": ["name"],
  "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}}');
SELECT data, regress.check('ap_tree', data) FROM (VALUES
  ('{"name": "root", "children": [{"name": "a"}, {"name": "b", "children": [{"name": "c"}]}]}'::jsonb),
  ('{"name": "root", "children": [{"name": "a", "children": [{"name": "x"}, {"name": 7}]}]}'),
  ('{"name": "root", "children": [{}]}')) AS t(data);
-- "#": the root itself, through a property; "definitions" and a "~1"-escaped name.
SELECT regress.define('ap_root', '{"type": "object", "properties": {"next": {"$ref": "#"}, "v": {"type": "integer"}}}');
SELECT regress.check('ap_root', '{"v": 1, "next": {"v": 2, "next": {"v": "three"}}}');
SELECT regress.define('ap_defs', '{"definitions": {"a/b": {"type": "string"}}, "properties": {"x": {"$ref": "#/definitions/a~1b"}}}');
SELECT regress.check('ap_defs', '{"x": "s"}') AS valid, regress.check('ap_defs', '{"x": 1}') AS invalid;
-- $ref beside other keywords: both apply.
SELECT regress.define('ap_beside', '{"$defs": {"s": {"type": "string"}}, "properties": {"x": {"$ref": "#/$defs/s", "maxLength": 2}}}');
SELECT regress.check('ap_beside', '{"x": "ab"}') AS valid, regress.check('ap_beside', '{"x": "abc"}') AS too_long,
       regress.check('ap_beside', '{"x": 1}') AS not_string;
-- Appends are checked the same way.
SELECT chronicle.append('ap-1', 'ap_tree', '{"name": "r", "children": [{"name": "a"}]}') AS appended;
SELECT regress.error_of($$SELECT chronicle.append('ap-1', 'ap_tree', '{"name": "r", "children": [{"name": 1}]}')$$);

-- Malformed: applicator cycles (even in a definition nothing refers to),
-- references that are not local or name nothing, deeper pointers, "$defs"
-- below the root, empty or non-array lists, a bad definition nobody uses.
\set VERBOSITY terse
SELECT schema, regress.define('ap_bad', schema)
FROM (VALUES
  ('{"$ref": "#"}'::jsonb),
  ('{"allOf": [{"$ref": "#"}]}'),
  ('{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}}}'),
  ('{"$ref": "#/$defs/missing", "$defs": {}}'),
  ('{"$ref": "#/$defs/missing"}'),
  ('{"$ref": "other.json#/x"}'),
  ('{"$ref": "#/properties/a"}'),
  ('{"$ref": "#/$defs/a/b", "$defs": {"a": {"$defs": {"b": {}}}}}'),
  ('{"$ref": "#/$defs/x~2", "$defs": {"x~2": {}}}'),
  ('{"$ref": 1}'),
  ('{"properties": {"p": {"$defs": {}}}}'),
  ('{"$defs": []}'),
  ('{"$defs": {"bad": {"type": "nope"}}}'),
  ('{"allOf": []}'), ('{"anyOf": {}}'), ('{"oneOf": [1]}')
) AS cases(schema);
SELECT count(*) AS stored FROM chronicle.event_types WHERE type = 'ap_bad';
\set VERBOSITY default

-- The bound: 24 levels of "anyOf": [d(k-1), d(k-1)] over a string schema,
-- checked against a number, would apply 2^24 schemas.  A string passes at
-- once (the first branch of each level).
SELECT regress.define('ap_exp', jsonb_build_object('properties', jsonb_build_object('v', jsonb_build_object('$ref', '#/$defs/d24')),
  '$defs', (SELECT jsonb_object_agg('d' || k, CASE WHEN k = 0 THEN '{"type": "string"}'::jsonb
              ELSE jsonb_build_object('anyOf', jsonb_build_array(jsonb_build_object('$ref', '#/$defs/d' || (k - 1)),
                                                                 jsonb_build_object('$ref', '#/$defs/d' || (k - 1)))) END)
              FROM generate_series(0, 24) k)));
SELECT regress.check('ap_exp', '{"v": "s"}') AS string_passes;
SELECT regexp_replace(regress.check('ap_exp', '{"v": 1}'), '[0-9]{4,}', 'N') AS number_hits_the_bound;
