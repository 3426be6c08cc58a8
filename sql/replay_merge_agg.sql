-- chronicle.merge_agg(data jsonb): an RFC 7396 merge-patch fold.  The first
-- value is the starting document; every later value patches the result so
-- far (objects merge key by key, null members remove keys, anything else
-- replaces).  Use ORDER BY in the call: the order is the meaning.
\set VERBOSITY sqlstate

-- The test vectors of RFC 7396, appendix A: (target, patch) folded in that order.
SELECT target, patch, chronicle.merge_agg(doc ORDER BY o) AS result,
       chronicle.merge_agg(doc ORDER BY o) = expected::jsonb AS as_rfc
FROM (VALUES
    (1, '{"a":"b"}', '{"a":"c"}', '{"a":"c"}'),
    (2, '{"a":"b"}', '{"b":"c"}', '{"a":"b","b":"c"}'),
    (3, '{"a":"b"}', '{"a":null}', '{}'),
    (4, '{"a":"b","b":"c"}', '{"a":null}', '{"b":"c"}'),
    (5, '{"a":["b"]}', '{"a":"c"}', '{"a":"c"}'),
    (6, '{"a":"c"}', '{"a":["b"]}', '{"a":["b"]}'),
    (7, '{"a":{"b":"c"}}', '{"a":{"b":"d","c":null}}', '{"a":{"b":"d"}}'),
    (8, '{"a":[{"b":"c"}]}', '{"a":[1]}', '{"a":[1]}'),
    (9, '["a","b"]', '["c","d"]', '["c","d"]'),
    (10, '{"a":"b"}', '["c"]', '["c"]'),
    (11, '{"a":"foo"}', 'null', 'null'),
    (12, '{"a":"foo"}', '"bar"', '"bar"'),
    (13, '{"e":null}', '{"a":1}', '{"e":null,"a":1}'),
    (14, '[1,2]', '{"a":"b","c":null}', '{"a":"b"}'),
    (15, '{}', '{"a":{"bb":{"ccc":null}}}', '{"a":{"bb":{}}}')
) t(n, target, patch, expected)
CROSS JOIN LATERAL (VALUES (1, target::jsonb), (2, patch::jsonb)) d(o, doc)
GROUP BY n, target, patch, expected
ORDER BY n;

-- A profile rebuilt from its change events.
CREATE TABLE profile_changes (user_id int, at int, change jsonb);
INSERT INTO profile_changes VALUES
    (1, 1, '{"name": "Ann", "email": "ann@example.com", "prefs": {"lang": "en", "theme": "dark"}}'),
    (1, 2, '{"email": null, "prefs": {"theme": null, "tz": "UTC"}}'),
    (2, 1, '{"name": "Bob"}'),
    (1, 3, '{"name": "Ann B."}'),
    (2, 2, NULL);
SELECT user_id, chronicle.merge_agg(change ORDER BY at) FROM profile_changes GROUP BY user_id ORDER BY user_id;

-- NULL values are skipped; no values (or only NULLs) give NULL.
SELECT chronicle.merge_agg(x) IS NULL AS is_null FROM (VALUES (NULL::jsonb)) v(x);
SELECT chronicle.merge_agg(x) IS NULL AS is_null FROM profile_changes p(a, b, x) WHERE false;

-- Many patches, one serialisation: 10,000 keys set then half removed.
SELECT count(*) FROM jsonb_object_keys((
    SELECT chronicle.merge_agg(p ORDER BY o) FROM (
        SELECT i AS o, jsonb_build_object('k' || i, i) AS p FROM generate_series(1, 10000) i
        UNION ALL
        SELECT 10000 + i, jsonb_build_object('k' || i, NULL) FROM generate_series(1, 10000, 2) i) s));
DROP TABLE profile_changes;
