-- read_query (docs/reference/dcb.md), on primary and standby.
SELECT * FROM chronicle.read_query('{"items": [{"tags": ["username:alice"]}]}');
SELECT * FROM chronicle.read_query('{"items": [{"tags": ["course:1"]}, {"types": ["UserRegistered"]}]}', max_count => 5);
SELECT stream_id, version, tags FROM chronicle.read_all() WHERE tags <> '{}' ORDER BY global_position;
