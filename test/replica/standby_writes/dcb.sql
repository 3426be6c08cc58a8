-- Each statement must fail on the standby with 25006.
SELECT * FROM chronicle.append_events('[{"stream_id": "dcb-user-2", "type": "UserRegistered", "data": {}, "tags": ["username:bob"]}]')
SELECT * FROM chronicle.append_events('[{"stream_id": "dcb-user-2", "type": "UserRegistered", "data": {}}]', '{"items": [{"tags": ["username:bob"]}]}')
SELECT chronicle.append('dcb-user-3', 'UserRegistered', '{}', tags => ARRAY['username:carol'])
