-- Corners of the rules language that the reference text left open (issue 17,
-- found by a differential test); docs/reference/rules-corners.md describes
-- each as pinned here.
CREATE SCHEMA rules_corners;
SET search_path = rules_corners, public;

SELECT chronicle.append('corner-1', 'A', '{"n": 1}'),
       chronicle.append('corner-1', 'B', '{"n": 2}'),
       chronicle.append('corner-1', 'C', '{"n": 3}');

-- 1. "*" applies to every event, also to events of types that have no rules
--    of their own (B and C here), and after the type's own rules (A).
SELECT chronicle.define_reducer('star', '{
  "A": {"set": {"last": "own A"}, "add": {"own": 1}},
  "*": {"set": {"last": "@type"}, "add": {"all": 1}}
}');
SELECT chronicle.replay('corner-1', 'star', as_of_version => 1) AS after_a,
       chronicle.replay('corner-1', 'star') AS after_c;
-- Without "*", a type without rules changes nothing.
SELECT chronicle.define_reducer('nostar', '{"A": {"add": {"own": 1}}}');
SELECT chronicle.replay('corner-1', 'nostar');

-- 2. An event whose type is literally "*": its type's rules are the "*"
--    rules, and they apply once, not twice.
SELECT chronicle.append('corner-2', '*', '{"n": 1}');
SELECT chronicle.replay('corner-2', 'star');

-- 3. unset through a non-object is ignored: a path through a number, a
--    string or an array (no array indexing in targets), or through a missing
--    key, removes nothing and raises nothing; the rest of the list applies.
SELECT chronicle.define_reducer('unsets', '{"A": [
  {"set": {"num": 5, "str": "s", "arr": [1, 2], "obj": {"k": {"deep": 1}, "keep": 2}}},
  {"unset": ["num.x", "str.x", "arr.0", "arr.x", "missing.x", "obj.k.deep.x", "obj.k"]}
]}');
SELECT chronicle.replay('corner-1', 'unsets');

-- 4. An event attribute as the value of add/sub/min/max or merge is accepted
--    when the reducer is defined, although only @version is a number and no
--    attribute is an object; replaying an event it applies to raises SE004.
SELECT regress.error_of($$SELECT chronicle.define_reducer('attr_add', '{"A": {"add": {"n": "@type"}}}')$$) AS define_add,
       regress.error_of($$SELECT chronicle.replay('corner-1', 'attr_add')$$) AS replay_add;
SELECT regress.error_of($$SELECT chronicle.define_reducer('attr_min', '{"B": {"min": {"n": "@recorded_at"}}}')$$) AS define_min,
       regress.error_of($$SELECT chronicle.replay('corner-1', 'attr_min', as_of_version => 1)$$) AS replay_before_b,
       regress.error_of($$SELECT chronicle.replay('corner-1', 'attr_min')$$) AS replay_b;
SELECT regress.error_of($$SELECT chronicle.define_reducer('attr_merge', '{"A": {"merge": {"m": "@stream_id"}}}')$$) AS define_merge,
       regress.error_of($$SELECT chronicle.replay('corner-1', 'attr_merge')$$) AS replay_merge;
SELECT regress.error_of($$SELECT chronicle.define_reducer('attr_sub', '{"C": {"sub": {"n": "@event_id"}}}')$$) AS define_sub,
       regress.error_of($$SELECT chronicle.replay('corner-1', 'attr_sub')$$) AS replay_sub;
-- @version is a number: add, sub, min and max of it apply.
SELECT chronicle.define_reducer('attr_version', '{"*": {"add": {"sum": "@version"}, "max": {"top": "@version"}, "min": {"low": "@version"}}}');
SELECT chronicle.replay('corner-1', 'attr_version');
-- The same operations with a literal that can never apply are refused at
-- definition (the reference's rule for literals).
SELECT regress.error_of($$SELECT chronicle.define_reducer('lit_add', '{"A": {"add": {"n": "type"}}}')$$) AS define_literal_add,
       regress.error_of($$SELECT chronicle.define_reducer('lit_merge', '{"A": {"merge": {"m": 3}}}')$$) AS define_literal_merge;

DROP SCHEMA rules_corners CASCADE;
