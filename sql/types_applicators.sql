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

-- Stack depth (review of issue 14).  A chain of definitions, each only a
-- "$ref" to the next, nests one level per link without the schema's JSON
-- nesting any deeper: 20,000 of them crashed the server at the first check
-- (a tiny event, a recursion per link).  Chains of applicators are held to
-- the nesting limit, 64, at definition (SE003); 64 links still work.
SELECT n, regexp_replace(regress.define('ap_chain', jsonb_build_object('properties',
         jsonb_build_object('a', jsonb_build_object('$ref', '#/$defs/d' || lpad(n::text, 6, '0'))),
         '$defs', (SELECT jsonb_object_agg('d' || lpad(i::text, 6, '0'),
                     CASE WHEN i = 1 THEN '{"type": "integer"}'::jsonb
                          ELSE jsonb_build_object('$ref', '#/$defs/d' || lpad((i - 1)::text, 6, '0')) END)
                     FROM generate_series(1, n) i))), '"#/\$defs/d[0-9]+"', '"#/$defs/dN"') AS defined,
       regress.check('ap_chain', '{"a": 1}') AS valid, regress.check('ap_chain', '{"a": "x"}') AS invalid
  FROM (VALUES (20000), (65), (64)) AS v(n);
-- The same through allOf in a definition reached from a property.
SELECT regexp_replace(regress.define('ap_chain_all', jsonb_build_object('properties',
         jsonb_build_object('a', jsonb_build_object('$ref', '#/$defs/d' || lpad(n::text, 6, '0'))),
         '$defs', (SELECT jsonb_object_agg('d' || lpad(i::text, 6, '0'),
                     CASE WHEN i = 1 THEN '{"type": "integer"}'::jsonb
                          ELSE jsonb_build_object('allOf', jsonb_build_array(jsonb_build_object('$ref', '#/$defs/d' || lpad((i - 1)::text, 6, '0')))) END)
                     FROM generate_series(1, n) i))), '"#/\$defs/d[0-9]+"', '"#/$defs/dN"') AS defined
  FROM (VALUES (5000)) AS v(n);
-- Data nested as deep as jsonb allows (10,000 arrays), checked against a
-- schema that recurses through items: the check follows the data and
-- stops at PostgreSQL's stack limit (54001), as jsonb's own parser does.
SELECT regress.define('ap_nest', '{"properties": {"a": {"$ref": "#/$defs/n"}}, "$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}}');
SELECT regress.check('ap_nest', jsonb_build_object('a', (repeat('[', 100) || repeat(']', 100))::jsonb)) AS shallow;
SELECT left(regress.check('ap_nest', jsonb_build_object('a', (repeat('[', 10000) || repeat(']', 10000))::jsonb)), 38) AS deep;
-- Size: 100,000 definitions, each referred to by a property, and 100,000
-- required names (each was found by a scan of the ones before it: minutes
-- of compiling that nothing could cancel, in every backend using the type).
SELECT regress.define('ap_wide', jsonb_build_object('type', 'object',
  'properties', (SELECT jsonb_object_agg('p' || i, jsonb_build_object('$ref', '#/$defs/d' || i)) FROM generate_series(1, 100000) i),
  'required', (SELECT jsonb_agg('p' || i) FROM generate_series(1, 100000) i),
  '$defs', (SELECT jsonb_object_agg('d' || i, jsonb_build_object('type', 'integer', 'minimum', i)) FROM generate_series(1, 100000) i)));
SELECT regress.check('ap_wide', (SELECT jsonb_object_agg('p' || i, i) FROM generate_series(1, 100000) i)) AS valid,
       regress.check('ap_wide', (SELECT jsonb_object_agg('p' || i, CASE WHEN i = 77777 THEN 1 ELSE i END) FROM generate_series(1, 100000) i)) AS invalid,
       regress.check('ap_wide', '{"p1": 1}') AS missing;
SELECT regress.define('ap_wide_twice', jsonb_build_object('required', (SELECT jsonb_agg('p' || (i % 99999)) FROM generate_series(1, 100000) i)));
