-- chronicle.append_events and chronicle.read_query (docs/reference/dcb.md):
-- the DCB example, multi-stream appends, expected_version per stream,
-- idempotency, the condition's position, and every validation error.
-- Positions are not stable across runs: show them relative to the first one.
CREATE TEMP TABLE base AS SELECT coalesce(max(global_position), 0) AS p FROM chronicle.events;

-- The unique username (docs/reference/dcb.md): the second registration fails.
SELECT stream_id, version, global_position > (SELECT p FROM base) AS positioned
FROM chronicle.append_events(
  '[{"stream_id": "user-1", "type": "UserRegistered", "data": {"username": "alice"}, "tags": ["username:alice"]}]',
  '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}');
SELECT regress.error_of($$SELECT * FROM chronicle.append_events(
  '[{"stream_id": "user-2", "type": "UserRegistered", "data": {"username": "alice"}, "tags": ["username:alice"]}]',
  '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}')$$) ~
  '^SE007: append condition failed: event 1 of stream "user-1" \(global_position \d+\) matches fail_if_events_match$' AS se007;
SELECT count(*) AS user_2_events FROM chronicle.events WHERE stream_id = 'user-2';
-- Another username passes; so does the same one for another type.
SELECT stream_id, version FROM chronicle.append_events(
  '[{"stream_id": "user-2", "type": "UserRegistered", "data": {"username": "bob"}, "tags": ["username:bob"]}]',
  '{"items": [{"types": ["UserRegistered"], "tags": ["username:bob"]}]}');
SELECT stream_id, version FROM chronicle.append_events(
  '[{"stream_id": "user-3", "type": "UsernameReserved", "data": {}, "tags": ["username:alice"]}]',
  '{"items": [{"types": ["UsernameReserved"], "tags": ["username:alice"]}]}');

-- The condition counts only events after the position given: a reader who
-- read up to the matching event itself may append.
SELECT tx_id AS alice_tx, global_position AS alice_pos FROM chronicle.read_query(
  '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}') \gset
SELECT stream_id, version FROM chronicle.append_events(
  '[{"stream_id": "user-1", "type": "UserRenamed", "data": {"username": "alice2"}, "tags": ["username:alice"]}]',
  '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}', :'alice_tx', :alice_pos);
-- ... but one position earlier, it is caught.
SELECT regress.error_of(format($$SELECT * FROM chronicle.append_events(
  '[{"stream_id": "user-1", "type": "X", "data": {}}]',
  '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}', %L, %s)$$,
  :'alice_tx', :alice_pos - 1)) LIKE 'SE007: append condition failed: event 1 of stream "user-1"%' AS se007;
-- Items are OR-ed; types only, tags only.
SELECT regress.error_of($$SELECT * FROM chronicle.append_events(
  '[{"stream_id": "user-9", "type": "X", "data": {}}]',
  '{"items": [{"tags": ["nobody"]}, {"types": ["UsernameReserved"]}]}')$$) LIKE 'SE007: %event 1 of stream "user-3"%' AS types_only;
SELECT regress.error_of($$SELECT * FROM chronicle.append_events(
  '[{"stream_id": "user-9", "type": "X", "data": {}}]',
  '{"items": [{"tags": ["username:bob"]}]}')$$) LIKE 'SE007: %event 1 of stream "user-2"%' AS tags_only;
-- An item's tags must all be on the event.
SELECT stream_id, version FROM chronicle.append_events(
  '[{"stream_id": "user-9", "type": "X", "data": {}}]',
  '{"items": [{"tags": ["username:bob", "username:alice"]}]}');

-- Several streams in one atomic call; rows in the order given, versions per
-- stream, expected_version per stream.
SELECT stream_id, version, global_position - (SELECT p FROM base) > 0 AS positioned
FROM chronicle.append_events('[
  {"stream_id": "course-1", "type": "Enrolled", "data": {"s": 1}, "tags": ["student:1", "course:1"], "expected_version": 0},
  {"stream_id": "student-1", "type": "Enrolled", "data": {"c": 1}, "tags": ["student:1", "course:1"]},
  {"stream_id": "course-1", "type": "Confirmed", "data": {}, "expected_version": 0}]');
SELECT e.stream_id, e.version, e.global_position = r.global_position AS same_position, e.tags
FROM chronicle.read_query('{"items": [{"tags": ["course:1"]}, {"types": ["Confirmed"]}]}') e
JOIN chronicle.events r USING (event_id) ORDER BY e.tx_id, e.global_position;
-- A wrong expected_version on one stream: SE001, nothing written by the call.
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[
  {"stream_id": "student-1", "type": "Enrolled", "data": {"c": 2}},
  {"stream_id": "course-1", "type": "Enrolled", "data": {"s": 2}, "expected_version": 1}]')$$);
SELECT stream_id, version FROM chronicle.streams WHERE stream_id IN ('course-1', 'student-1') ORDER BY 1;

-- Idempotency by event_id, as in append_batch: a retry returns the stored
-- versions and positions, writes nothing; different content is SE005.
SELECT stream_id, version FROM chronicle.append_events('[
  {"stream_id": "dcborder-1", "type": "Placed", "data": {"n": 1}, "event_id": "00000000-0000-4000-8000-0000000dcb01", "tags": ["invoice:7"]},
  {"stream_id": "dcborder-2", "type": "Placed", "data": {"n": 2}, "event_id": "00000000-0000-4000-8000-0000000dcb02"}]');
CREATE TEMP TABLE first_try AS SELECT event_id, global_position FROM chronicle.events WHERE stream_id LIKE 'dcborder-%';
SELECT r.stream_id, r.version, r.global_position = f.global_position AS same_position
FROM chronicle.append_events('[
  {"stream_id": "dcborder-1", "type": "Placed", "data": {"n": 1}, "event_id": "00000000-0000-4000-8000-0000000dcb01", "tags": ["invoice:7"]},
  {"stream_id": "dcborder-2", "type": "Placed", "data": {"n": 2}, "event_id": "00000000-0000-4000-8000-0000000dcb02"}]',
  '{"items": [{"tags": ["invoice:7"]}]}', :'alice_tx', :alice_pos) r
JOIN chronicle.events e ON e.stream_id = r.stream_id AND e.version = r.version
JOIN first_try f ON f.event_id = e.event_id;
SELECT count(*) AS order_events FROM chronicle.events WHERE stream_id LIKE 'dcborder-%';
-- A retry after another writer appended a matching event: the call it retries
-- committed (its decision was made and stands), so the retry is a no-op that
-- returns the stored versions, not SE007.  A call that would write anything
-- new is checked as usual.
SELECT stream_id, version FROM chronicle.append_events('[
  {"stream_id": "dcbother-1", "type": "Placed", "data": {"n": 3}, "tags": ["invoice:7"]}]');
SELECT r.stream_id, r.version
FROM chronicle.append_events('[
  {"stream_id": "dcborder-1", "type": "Placed", "data": {"n": 1}, "event_id": "00000000-0000-4000-8000-0000000dcb01", "tags": ["invoice:7"]},
  {"stream_id": "dcborder-2", "type": "Placed", "data": {"n": 2}, "event_id": "00000000-0000-4000-8000-0000000dcb02"}]',
  '{"items": [{"tags": ["invoice:7"]}]}', :'alice_tx', :alice_pos) r;
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[
  {"stream_id": "dcborder-1", "type": "Placed", "data": {"n": 1}, "event_id": "00000000-0000-4000-8000-0000000dcb01", "tags": ["invoice:7"]},
  {"stream_id": "dcborder-2", "type": "Placed", "data": {"n": 5}}]',
  '{"items": [{"tags": ["invoice:7"]}]}', $$ || quote_literal(:'alice_tx') || $$, $$ || :alice_pos || $$)$$)
  LIKE 'SE007: append condition failed: event 1 of stream "dcbother-1"%' AS se007;
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[
  {"stream_id": "dcborder-1", "type": "Placed", "data": {"n": 99}, "event_id": "00000000-0000-4000-8000-0000000dcb01"}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[
  {"stream_id": "dcborder-3", "type": "Placed", "data": {"n": 2}, "event_id": "00000000-0000-4000-8000-0000000dcb02"}]')$$);
-- The same event_id twice in one call: the repeat is a no-op.
SELECT stream_id, version FROM chronicle.append_events('[
  {"stream_id": "dcborder-4", "type": "Placed", "data": {}, "event_id": "00000000-0000-4000-8000-0000000dcb04"},
  {"stream_id": "dcborder-4", "type": "Placed", "data": {}, "event_id": "00000000-0000-4000-8000-0000000dcb04"}]');

-- Validation errors, with their SQLSTATEs; nothing written.
SELECT regress.error_of($$SELECT * FROM chronicle.append_events(NULL)$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('{}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"type": "X", "data": {}}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": 1, "type": "X", "data": {}}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "", "type": "X", "data": {}}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}, "expected_version": -1}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}, "expected_version": 1.5}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}, "expected_version": 0},
  {"stream_id": "bad-1", "type": "X", "data": {}}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}, "tags": [""]}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}, "color": 1}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '{}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '{"items": []}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '{"items": [{}]}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '{"items": [{"tags": []}]}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '{"items": [{"tags": ["a", 1]}]}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]',
    jsonb_build_object('items', jsonb_build_array(jsonb_build_object('tags', jsonb_build_array(chr(1))))))$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}, "tags": ["a", "a"]}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '{"items": [{"types": "X"}]}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '{"items": [{"type": ["X"]}]}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '{"items": [{"tags": ["a"]}], "limit": 1}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '[]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', NULL, '5')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "bad-1", "type": "X", "data": {}}]', '{"items": [{"tags": ["a"]}]}', NULL, 5)$$);
SELECT count(*) AS bad_events FROM chronicle.events WHERE stream_id = 'bad-1';
-- "tags": null is an absent key (no tags), as in append_batch and as event_id and
-- expected_version null are; the hash chain covers the same empty tags.
SELECT stream_id, version FROM chronicle.append_events('[{"stream_id": "nulltags-1", "type": "X", "data": {}, "tags": null},
                                                        {"stream_id": "nulltags-1", "type": "X", "data": {}}]');
SELECT version, tags FROM chronicle.read_stream('nulltags-1');
SELECT * FROM chronicle.verify('nulltags-1');
-- "metadata": null is an absent key too, stored as {} as metadata => NULL is in
-- append (before, it was SE003 "must be a JSON object"); "data": null is still SE003.
SELECT stream_id, version FROM chronicle.append_events('[{"stream_id": "nullmeta-1", "type": "X", "data": {"n": 1}, "metadata": null},
                                                        {"stream_id": "nullmeta-2", "type": "X", "data": {"n": 2}, "metadata": null, "tags": ["nullmeta"]}]');
SELECT chronicle.append_batch('nullmeta-1', '[{"type": "X", "data": {"n": 3}, "metadata": null, "event_id": null}]');
SELECT chronicle.append('nullmeta-1', 'X', '{"n": 4}', metadata => NULL);
SELECT stream_id, version, data, metadata, tags FROM chronicle.events
WHERE stream_id LIKE 'nullmeta-%' ORDER BY global_position;
SELECT * FROM chronicle.verify('nullmeta-1');
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "nullmeta-3", "type": "X", "data": null}]')$$);
SELECT regress.error_of($$SELECT chronicle.append_batch('nullmeta-3', '[{"type": "X", "data": {}, "metadata": []}]')$$);
SELECT count(*) AS nullmeta_3_events FROM chronicle.events WHERE stream_id = 'nullmeta-3';
