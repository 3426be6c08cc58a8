-- Tagged events for the read_query checks (docs/reference/dcb.md).
SELECT * FROM chronicle.append_events('[
  {"stream_id": "dcb-user-1", "type": "UserRegistered", "data": {"username": "alice"}, "tags": ["username:alice"]},
  {"stream_id": "dcb-course-1", "type": "Enrolled", "data": {}, "tags": ["course:1", "student:1"]}]',
  '{"items": [{"tags": ["username:alice"]}]}');
