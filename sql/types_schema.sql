-- Event-type schemas (docs/reference/types.md).
-- chronicle.define_event_type(type, schema, type_version DEFAULT 1) compiles a
-- JSON-Schema subset once, in C++; every append of that type and type_version
-- is then checked against it.  chronicle._check_event(type, type_version, data)
-- is an internal helper that runs exactly the check append runs: it returns
-- true, or raises SE003 naming the JSON path and the rule that failed.

-- regress.check(type, data [, version]) and regress.define(type, schema)
-- (sql/setup.sql): 'valid' or 'defined', or the error's SQLSTATE and message.

-- A worked example: an order with line items.
SELECT chronicle.define_event_type('OrderPlaced', '{
  "type": "object",
  "required": ["order_id", "customer", "items"],
  "additionalProperties": false,
  "properties": {
    "order_id": {"type": "string", "format": "uuid"},
    "customer": {"type": "object", "required": ["email"],
                 "properties": {"email": {"type": "string", "format": "email"},
                                "first name": {"type": "string", "minLength": 1}}},
    "placed_on": {"type": "string", "format": "date"},
    "items": {"type": "array",
              "items": {"type": "object", "required": ["sku", "price", "qty"],
                        "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
                                       "price": {"type": "number", "minimum": 0},
                                       "qty": {"type": "integer", "exclusiveMinimum": 0}}}},
    "channel": {"enum": ["web", "shop", null]}
  }
}');
SELECT type, type_version, schema->'required' AS required FROM chronicle.event_types
WHERE type = 'OrderPlaced';

SELECT chronicle._check_event('OrderPlaced', 1, '{
  "order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10",
  "customer": {"email": "ann@example.com", "first name": "Ann"},
  "placed_on": "2026-11-27",
  "items": [{"sku": "ABC-1", "price": 9.99, "qty": 1}, {"sku": "XYZ-22", "price": 0, "qty": 3}],
  "channel": "web"
}');

-- A failure is SE003; the message gives the JSON path and the rule.
\set VERBOSITY sqlstate
SELECT chronicle._check_event('OrderPlaced', 1, '{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10",
  "customer": {"email": "ann@example.com"},
  "items": [{"sku": "ABC-1", "price": 1, "qty": 1}, {"sku": "ABC-2", "price": 1, "qty": 1},
            {"sku": "ABC-3", "price": -5, "qty": 1}]}');
\set VERBOSITY default
SELECT chronicle._check_event('OrderPlaced', 1, '{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10",
  "customer": {"email": "ann@example.com"},
  "items": [{"sku": "ABC-1", "price": 1, "qty": 1}, {"sku": "ABC-2", "price": 1, "qty": 1},
            {"sku": "ABC-3", "price": -5, "qty": 1}]}');

-- Every failing rule, with its path.  Keys that are not identifiers are
-- written ["like this"]; array elements [n], counting from 0.
SELECT regress.check('OrderPlaced', data)
FROM (VALUES
  ('{"customer": {"email": "a@b.c"}, "items": []}'::jsonb),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {}, "items": []}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c"}, "items": [], "coupon": "X"}'),
  ('{"order_id": "not-a-uuid", "customer": {"email": "a@b.c"}, "items": []}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c", "first name": ""}, "items": []}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c"}, "items": {}}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c"}, "items": [{"sku": "abc-1", "price": 1, "qty": 1}]}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c"}, "items": [{"sku": "ABC-1", "price": 1, "qty": 0}]}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c"}, "items": [{"sku": "ABC-1", "price": 1, "qty": 1.5}]}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c"}, "items": [{"sku": "ABC-1", "qty": 1}]}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c"}, "items": [], "placed_on": "2026-02-30"}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c"}, "items": [], "channel": "phone"}'),
  ('{"order_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "customer": {"email": "a@b.c"}, "items": [], "channel": null}')
) AS cases(data);

-- Types and versions without a schema are not checked (unless
-- chronicle.strict_types is on, see types_strict).
SELECT regress.check('NoSchemaHere', '{"anything": [1, 2, 3]}'),
       regress.check('OrderPlaced', '{"anything": 1}', 2);

-- type: one name or an array of names; "integer" is a number without a
-- fractional part (1.0 and 1e2 are integers), "number" includes integers.
SELECT regress.define('t_type', '{"properties": {
  "n": {"type": "number"}, "i": {"type": "integer"}, "s": {"type": "string"},
  "b": {"type": "boolean"}, "z": {"type": "null"}, "o": {"type": "object"},
  "a": {"type": "array"}, "si": {"type": ["string", "integer"]}}}');
SELECT data, regress.check('t_type', data)
FROM (VALUES
  ('{"n": 1.5, "i": 2, "s": "x", "b": false, "z": null, "o": {}, "a": [], "si": "x"}'::jsonb),
  ('{"n": 7, "i": 1.0, "si": 3}'),
  ('{"i": 1e2}'),
  ('{"n": "1"}'),
  ('{"i": 1.5}'),
  ('{"i": "1"}'),
  ('{"s": 1}'),
  ('{"b": "true"}'),
  ('{"z": 0}'),
  ('{"o": []}'),
  ('{"a": {}}'),
  ('{"si": 1.5}'),
  ('{"si": null}')
) AS cases(data);

-- minimum, maximum (inclusive); exclusiveMinimum, exclusiveMaximum (strict).
-- Exact decimal comparison (numeric), never binary floating point.
SELECT regress.define('t_range', '{"properties": {
  "pct": {"minimum": 0, "maximum": 100},
  "rate": {"exclusiveMinimum": 0.1, "exclusiveMaximum": 0.3},
  "big": {"maximum": 12345678901234567890.5}}}');
SELECT data, regress.check('t_range', data)
FROM (VALUES
  ('{"pct": 0}'::jsonb), ('{"pct": 100}'), ('{"pct": 100.0001}'), ('{"pct": -0.5}'),
  ('{"rate": 0.2}'), ('{"rate": 0.1}'), ('{"rate": 0.3}'), ('{"rate": 0.1000000000000000000001}'),
  ('{"big": 12345678901234567890.5}'), ('{"big": 12345678901234567890.50000001}'),
  ('{"pct": "500"}')   -- number keywords apply to numbers only
) AS cases(data);

-- minLength, maxLength count characters, not bytes.
SELECT regress.define('t_length', '{"properties": {"name": {"minLength": 2, "maxLength": 5}}}');
SELECT data, regress.check('t_length', data)
FROM (VALUES
  ('{"name": "ab"}'::jsonb), ('{"name": "héllo"}'), ('{"name": "日本語"}'),
  ('{"name": "a"}'), ('{"name": "héllos"}'), ('{"name": ""}'),
  ('{"name": 123456}')  -- string keywords apply to strings only
) AS cases(data);

-- pattern: PostgreSQL's regular expressions (as with ~), unanchored unless
-- the pattern says so.
SELECT regress.define('t_pattern', '{"properties": {
  "code": {"pattern": "^[A-Z]{2}[0-9]{3}$"}, "word": {"pattern": "colou?r"},
  "accented": {"pattern": "^[[:alpha:]]+$"}}}');
SELECT data, regress.check('t_pattern', data)
FROM (VALUES
  ('{"code": "AB123"}'::jsonb), ('{"code": "AB1234"}'), ('{"code": "ab123"}'),
  ('{"word": "the colour red"}'), ('{"word": "the color red"}'), ('{"word": "colr"}'),
  ('{"accented": "Élodie"}'), ('{"accented": "Anne-Marie"}')
) AS cases(data);

-- enum: equality of JSON values (numbers compare as numbers, objects deeply).
SELECT regress.define('t_enum', '{"properties": {
  "level": {"enum": ["low", "high", 3, null, {"custom": [1, 2]}]}}}');
SELECT data, regress.check('t_enum', data)
FROM (VALUES
  ('{"level": "low"}'::jsonb), ('{"level": 3.0}'), ('{"level": null}'),
  ('{"level": {"custom": [1, 2]}}'), ('{"level": "LOW"}'), ('{"level": 4}'),
  ('{"level": {"custom": [2, 1]}}'), ('{"level": [3]}'), ('{"level": "3"}')
) AS cases(data);

-- required and additionalProperties: false.
SELECT regress.define('t_object', '{"required": ["id"], "additionalProperties": false,
  "properties": {"id": {}, "note": {}}}');
SELECT data, regress.check('t_object', data)
FROM (VALUES
  ('{"id": 1}'::jsonb), ('{"id": 1, "note": "x"}'), ('{"note": "x"}'),
  ('{"id": 1, "extra": true}'), ('{"id": 1, "a b": 1}')
) AS cases(data);

-- items: one schema for every element, at any depth.
SELECT regress.define('t_items', '{"properties": {"matrix": {"type": "array",
  "items": {"type": "array", "items": {"type": "integer", "minimum": 0}}}}}');
SELECT data, regress.check('t_items', data)
FROM (VALUES
  ('{"matrix": [[1, 2], [], [3]]}'::jsonb), ('{"matrix": [[1, 2], [3, -4]]}'),
  ('{"matrix": [[1], 2]}')
) AS cases(data);

-- Boolean schemas: true accepts anything, false nothing.
SELECT regress.define('t_bool', '{"properties": {"any": true, "never": false}}');
SELECT data, regress.check('t_bool', data)
FROM (VALUES ('{"any": [1, {"x": null}]}'::jsonb), ('{"never": null}')) AS cases(data);

-- Annotations are accepted and ignored.
SELECT regress.define('t_annotated', '{"$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:example:t", "title": "T", "description": "d", "$comment": "c",
  "properties": {"x": {"default": 1, "examples": [1, 2], "deprecated": false,
                       "readOnly": true, "writeOnly": false}}}');

-- format: date (RFC 3339 full-date, a real calendar day).
SELECT regress.define('t_date', '{"properties": {"d": {"type": "string", "format": "date"}}}');
SELECT d, regress.check('t_date', jsonb_build_object('d', d))
FROM (VALUES ('2026-11-27'), ('2024-02-29'), ('2000-02-29'), ('2026-12-31'), ('0001-01-01'),
             ('2026-02-30'), ('2023-02-29'), ('1900-02-29'), ('2026-04-31'), ('2026-13-01'),
             ('2026-00-10'), ('2026-01-00'), ('2026-1-05'), ('26-01-05'), ('2026/01/05'),
             ('2026-01-05T00:00:00Z'), (' 2026-01-05'), ('Jan 5 2026'), ('epoch'), ('')) AS cases(d);

-- format: date-time (RFC 3339 date-time: T, seconds and an offset required;
-- a leap second only at 23:59:60 UTC).
SELECT regress.define('t_datetime', '{"properties": {"t": {"format": "date-time"}}}');
SELECT t, regress.check('t_datetime', jsonb_build_object('t', t))
FROM (VALUES ('2026-11-27T19:30:00Z'), ('2026-11-27T19:30:00.123456+01:00'),
             ('2026-11-27t19:30:00z'), ('2026-11-27T00:00:00-12:00'), ('1998-12-31T23:59:60Z'),
             ('1998-12-31T15:59:60-08:00'),
             ('2026-11-27 19:30:00Z'), ('2026-11-27T19:30:00'), ('2026-11-27T24:00:00Z'),
             ('2026-11-27T19:60:00Z'), ('2026-11-27T19:30:60Z'), ('2026-02-30T10:00:00Z'),
             ('2026-11-27T19:30:00+1:00'), ('2026-11-27T19:30:00+24:00'), ('2026-11-27T19:30:00.Z'),
             ('2026-11-27T19:30Z'), ('2026-11-27')) AS cases(t);

-- format: uuid (the 8-4-4-4-12 hexadecimal form).
SELECT regress.define('t_uuid', '{"properties": {"u": {"format": "uuid"}}}');
SELECT u, regress.check('t_uuid', jsonb_build_object('u', u))
FROM (VALUES ('0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10'), ('0B6F8E2C-3A51-4D5E-9C1E-2F9A7B8C6D10'),
             ('00000000-0000-0000-0000-000000000000'),
             ('0b6f8e2c3a514d5e9c1e2f9a7b8c6d10'), ('{0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10}'),
             ('0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d1'), ('0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d1g'),
             ('0b6f8e2c-3a514-d5e-9c1e-2f9a7b8c6d10')) AS cases(u);

-- format: email (dot-atom local part @ host name).
SELECT regress.define('t_email', '{"properties": {"e": {"format": "email"}}}');
SELECT e, regress.check('t_email', jsonb_build_object('e', e))
FROM (VALUES ('john.doe@example.com'), ('a+tag@sub.example.co.uk'), ('x@localhost'),
             ('o''brien!#$%&*/=?^_`{|}~-@example.org'),
             ('no-at-sign'), ('@example.com'), ('john@'), ('john..doe@example.com'),
             ('.john@example.com'), ('john.@example.com'), ('john@-example.com'),
             ('john@example-.com'), ('john@exa_mple.com'), ('john doe@example.com'),
             ('a@b@example.com'), ('john@example..com'), ('john@example.com.')) AS cases(e);

-- Formats (like every string keyword) apply to strings only.
SELECT regress.check('t_date', '{"d": 20261127}') AS number_is_no_string;

-- Redefining replaces the schema at once (in this and every other session).
SELECT regress.check('t_object', '{"note": "no id"}') AS before;
SELECT chronicle.define_event_type('t_object', '{"properties": {"note": {"type": "string"}}}');
SELECT regress.check('t_object', '{"note": "no id"}') AS after,
       regress.check('t_object', '{"note": 1}') AS still_checked;
SELECT count(*) FROM chronicle.event_types WHERE type = 't_object';

-- Each type_version has its own schema.
SELECT chronicle.define_event_type('t_versions', '{"required": ["a"]}', 1),
       chronicle.define_event_type('t_versions', '{"required": ["b"]}', 2);
SELECT regress.check('t_versions', '{"a": 1}', 1) AS v1_a, regress.check('t_versions', '{"a": 1}', 2) AS v2_a,
       regress.check('t_versions', '{"b": 1}', 2) AS v2_b;
