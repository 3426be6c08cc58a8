-- redact with no paths removes what the event type's schema marks
-- "x-personal": true, found through properties, items, allOf, anyOf, oneOf
-- and local $ref (docs/reference/erasure.md).  Every
-- branch of anyOf / oneOf counts, whether or not the event matches it.
\set VERBOSITY terse
CREATE ROLE regress_personal_admin;
GRANT chronicle_admin TO regress_personal_admin;
-- redacted(stream): redact every event of it (as the admin), then its data and the receipt's paths.
CREATE FUNCTION pg_temp.redacted(stream text) RETURNS TABLE(changed bigint, data jsonb, receipt_paths jsonb)
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    SET LOCAL ROLE regress_personal_admin;
    n := chronicle.redact(stream);
    RESET ROLE;
    RETURN QUERY
    SELECT n, e.data,
           (SELECT x->'paths' FROM chronicle.events c, jsonb_array_elements(c.data->'events') x
             WHERE c.stream_id = 'chronicle-erasures' AND x->>'stream_id' = stream ORDER BY c.version DESC LIMIT 1)
      FROM chronicle.events e WHERE e.stream_id = stream ORDER BY e.version;
END $$;

-- allOf: marks in every branch.
SELECT chronicle.define_event_type('pers_all', '{"allOf": [
  {"type": "object", "properties": {"email": {"type": "string", "x-personal": true}}},
  {"properties": {"plan": {"type": "string"}, "ip": {"x-personal": true}}}]}');
SELECT chronicle.append('pers-all-1', 'pers_all', '{"email": "a@example.org", "plan": "pro", "ip": "192.0.2.1"}');
SELECT * FROM pg_temp.redacted('pers-all-1');

-- anyOf / oneOf: every branch's marks, the one the event matches and the other.
SELECT chronicle.define_event_type('pers_one', '{"properties": {"contact": {"oneOf": [
  {"type": "object", "required": ["phone"], "properties": {"phone": {"type": "string", "x-personal": true}}},
  {"type": "object", "required": ["fax"], "properties": {"fax": {"type": "string", "x-personal": true}}}]},
  "note": {"anyOf": [{"type": "string", "x-personal": true}, {"type": "integer"}]}}}');
SELECT chronicle.append('pers-one-1', 'pers_one', '{"contact": {"phone": "555-0101", "kind": "home"}, "note": 7}');
SELECT * FROM pg_temp.redacted('pers-one-1');

-- $ref to a definition used twice, and a definition that is itself personal
-- (an array of it goes whole).
SELECT chronicle.define_event_type('pers_ref', '{"$defs": {"person": {"type": "object", "properties": {
    "name": {"type": "string", "x-personal": true}, "role": {"type": "string"}}}},
  "definitions": {"email": {"type": "string", "x-personal": true}},
  "properties": {"owner": {"$ref": "#/$defs/person"}, "approver": {"$ref": "#/$defs/person"},
                 "to": {"$ref": "#/definitions/email"}, "cc": {"type": "array", "items": {"$ref": "#/definitions/email"}},
                 "subject": {"type": "string"}}}');
SELECT chronicle.append('pers-ref-1', 'pers_ref', '{"owner": {"name": "Ann", "role": "lead"}, "approver": {"name": "Bob", "role": "cfo"},
  "to": "c@example.org", "cc": ["d@example.org", "e@example.org"], "subject": "budget"}');
SELECT * FROM pg_temp.redacted('pers-ref-1');

-- A recursive schema (a tree through "$ref": "#/$defs/node"): every level's
-- name goes, however deep the data; the walk ends with the data.
SELECT chronicle.define_event_type('pers_tree', '{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object",
  "properties": {"name": {"type": "string", "x-personal": true}, "size": {"type": "integer"},
                 "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}}');
SELECT chronicle.append('pers-tree-1', 'pers_tree', '{"name": "root", "size": 1, "children": [
  {"name": "a", "size": 2}, {"name": "b", "size": 3, "children": [{"name": "c", "size": 4, "children": []}]}]}');
SELECT * FROM pg_temp.redacted('pers-tree-1');
-- "#" (the root) through a property, deeper than any schema nesting.
SELECT chronicle.define_event_type('pers_chain', '{"properties": {"who": {"x-personal": true}, "next": {"$ref": "#"}}}');
SELECT chronicle.append('pers-chain-1', 'pers_chain',
  (SELECT ('{"who": "w0"' || string_agg(', "next": {"who": "w' || i || '"', '' ORDER BY i) || repeat('}', 101))::jsonb
     FROM generate_series(1, 100) i));
SELECT changed, position('"who"' IN data::text) AS who_left, length(data::text) - length(replace(data::text, 'next', '')) AS nexts_kept
  FROM pg_temp.redacted('pers-chain-1');

-- An array of arrays whose items are personal: each inner array goes (the
-- later ones first, so none is skipped).
SELECT chronicle.define_event_type('pers_nested', '{"properties": {"m": {"items": {"items": {"x-personal": true}}}}}');
SELECT chronicle.append('pers-nested-1', 'pers_nested', '{"m": [[1], [2, 3], [4]], "k": 1}');
SELECT * FROM pg_temp.redacted('pers-nested-1');

-- The root itself personal: all of data (metadata stays, as for every
-- x-personal redaction).
SELECT chronicle.define_event_type('pers_root', '{"x-personal": true, "type": "object"}');
SELECT chronicle.append('pers-root-1', 'pers_root', '{"a": 1}', '{"trace": "t1"}');
SELECT * FROM pg_temp.redacted('pers-root-1');
SELECT metadata FROM chronicle.events WHERE stream_id = 'pers-root-1';

-- A schema with applicators but no marks: nothing to remove, no receipt.
SELECT chronicle.define_event_type('pers_none', '{"allOf": [{"properties": {"a": {"type": "integer"}}}]}');
SELECT chronicle.append('pers-none-1', 'pers_none', '{"a": 1}');
SELECT * FROM pg_temp.redacted('pers-none-1');

-- Width: 100,000 schemas under the root's allOf, each with "a" -> "b", one
-- of them marking "b" (the walk kept its sets of schemas in Lists, so each
-- value cost n^2: 20,000 of them took 0.3 s per level, 100,000 minutes,
-- uncancellable); deep data through a recursive schema (its check and the
-- walk both stop at the stack's limit, 54001, rather than overflow it).
SELECT chronicle.define_event_type('pers_wide', jsonb_build_object('allOf', x))
  FROM (SELECT jsonb_agg(jsonb_build_object('properties', jsonb_build_object('a', jsonb_build_object('properties',
          jsonb_build_object('b', jsonb_build_object('minimum', -i, 'x-personal', i = 99999)))))) AS x
          FROM generate_series(1, 100000) i) s;
SELECT chronicle.append('pers-wide-1', 'pers_wide', '{"a": {"b": 1, "c": 2}}');
SELECT * FROM pg_temp.redacted('pers-wide-1');
SELECT chronicle.define_event_type('pers_deep', '{"properties": {"a": {"$ref": "#/$defs/n"}, "who": {"x-personal": true}},
  "$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}}');
SELECT chronicle.append('pers-deep-1', 'pers_deep', jsonb_build_object('who', 'x', 'a', (repeat('[', 1000) || repeat(']', 1000))::jsonb));
SELECT changed, data->'who' AS who, length(data->>'a') AS a_length, receipt_paths FROM pg_temp.redacted('pers-deep-1');

SELECT count(*) AS problems FROM chronicle.verify();
DROP OWNED BY regress_personal_admin;
DROP ROLE regress_personal_admin;
