-- A username unique across all users, a rule that crosses
-- streams, kept by a conditional append (Dynamic Consistency Boundary).
\set QUIET on
\pset footer off
\echo 'alice registers: tag the event, and append only if no UserRegistered event tagged username:alice exists:'
SELECT * FROM chronicle.append_events(
  '[{"stream_id": "user-1", "type": "UserRegistered", "data": {"username": "alice"}, "tags": ["username:alice"]}]',
  '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}');

\set ON_ERROR_STOP off
\set SHOW_CONTEXT never

\echo 'Someone else registers alice in another stream: the condition fails (SE007):'
SELECT * FROM chronicle.append_events(
  '[{"stream_id": "user-2", "type": "UserRegistered", "data": {"username": "alice"}, "tags": ["username:alice"]}]',
  '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}');

\set ON_ERROR_STOP on

\echo 'bob is free:'
SELECT * FROM chronicle.append_events(
  '[{"stream_id": "user-2", "type": "UserRegistered", "data": {"username": "bob"}, "tags": ["username:bob"]}]',
  '{"items": [{"types": ["UserRegistered"], "tags": ["username:bob"]}]}');
\echo 'Who holds a username (read_query, in read_all order):'
SELECT stream_id, version, data ->> 'username' AS username, tags
FROM chronicle.read_query('{"items": [{"types": ["UserRegistered"]}]}');
