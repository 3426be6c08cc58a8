-- Event types through the event store (docs/reference/events.md and types.md): append and
-- append_batch check every event against its type's schema (SE003, nothing
-- written); read_stream and read_all return data upcasted to the newest
-- version, while the stored rows never change.

SELECT chronicle.define_event_type('TaOpened', '{
  "type": "object", "required": ["owner", "currency"], "additionalProperties": false,
  "properties": {"owner": {"type": "string", "minLength": 1},
                 "currency": {"enum": ["EUR", "USD"]},
                 "opened_on": {"type": "string", "format": "date"}}}');
SELECT chronicle.define_event_type('TaDeposited', '{
  "type": "object", "required": ["amount"],
  "properties": {"amount": {"type": "number", "exclusiveMinimum": 0}}}');

-- Valid events are appended.
SELECT chronicle.append('typedacct-1', 'TaOpened', '{"owner": "ann", "currency": "EUR", "opened_on": "2026-11-27"}');
SELECT chronicle.append('typedacct-1', 'TaDeposited', '{"amount": 10}');

-- An invalid event is SE003, with the JSON path and the rule; the stream is
-- unchanged.
\set VERBOSITY sqlstate
SELECT chronicle.append('typedacct-1', 'TaDeposited', '{"amount": 0}');
\set VERBOSITY default
SELECT chronicle.append('typedacct-1', 'TaDeposited', '{"amount": 0}');
SELECT chronicle.append('typedacct-2', 'TaOpened', '{"owner": "bob", "currency": "GBP"}');
SELECT chronicle.stream_version('typedacct-1') AS acct_1, chronicle.stream_version('typedacct-2') AS acct_2,
       (SELECT count(*) FROM chronicle.streams WHERE stream_id = 'typedacct-2') AS acct_2_rows;

-- A batch is all or nothing: its third event is invalid, so none is written.
SELECT regress.error_of($$
  SELECT chronicle.append_batch('typedacct-1', '[
    {"type": "TaDeposited", "data": {"amount": 1}},
    {"type": "Untyped", "data": {"anything": true}},
    {"type": "TaDeposited", "data": {"amount": "12"}}]')
$$);
SELECT chronicle.stream_version('typedacct-1') AS acct_1,
       (SELECT count(*) FROM chronicle.events WHERE stream_id = 'typedacct-1') AS stored;

-- Each event is checked against the schema of its own type_version.
SELECT chronicle.define_event_type('TaDeposited', '{
  "type": "object", "required": ["amount", "channel"],
  "properties": {"amount": {"type": "number", "exclusiveMinimum": 0},
                 "channel": {"enum": ["atm", "online"]}}}', 2);
SELECT regress.error_of($$
  SELECT chronicle.append_batch('typedacct-1', '[{"type": "TaDeposited", "type_version": 2, "data": {"amount": 5}}]')
$$);
SELECT chronicle.append_batch('typedacct-1', '[
  {"type": "TaDeposited", "data": {"amount": 5}},
  {"type": "TaDeposited", "type_version": 2, "data": {"amount": 7, "channel": "atm"}}]');

-- With chronicle.strict_types on, types without a schema (for that
-- type_version) are rejected, alone or in a batch.
SET chronicle.strict_types = on;
SELECT regress.error_of($$ SELECT chronicle.append('typedacct-1', 'Untyped', '{}') $$);
SELECT regress.error_of($$
  SELECT chronicle.append_batch('typedacct-1', '[
    {"type": "TaDeposited", "data": {"amount": 1}},
    {"type": "TaDeposited", "type_version": 3, "data": {"amount": 1}}]')
$$);
SELECT chronicle.append('typedacct-1', 'TaDeposited', '{"amount": 1}');
RESET chronicle.strict_types;
SELECT chronicle.append('typedacct-1', 'Untyped', '{"free": "form"}');

-- Stored so far, as written:
SELECT version, type, type_version, data FROM chronicle.events
WHERE stream_id = 'typedacct-1' ORDER BY version;

-- Upcasters: v1 deposits get a channel ("unknown"), v2 ones rename amount to
-- value; the newest version of TaDeposited is now 3.
SELECT chronicle.define_upcaster('TaDeposited', 1, '{"set": {"channel": "unknown"}}');
SELECT chronicle.define_upcaster('TaDeposited', 2, '{"rename": {"amount": "value"}}');

-- Reads return every TaDeposited at type_version 3; other types as stored.
SELECT version, type, type_version, data FROM chronicle.read_stream('typedacct-1');
SELECT version, type_version, data FROM chronicle.read_stream('typedacct-1', backward => true, max_count => 2);
SELECT stream_id, version, type_version, data FROM chronicle.read_all(types => ARRAY['TaDeposited'])
WHERE stream_id = 'typedacct-1';

-- The stored rows have not changed, and their hash chain still verifies.
SELECT version, type_version, data FROM chronicle.events
WHERE stream_id = 'typedacct-1' AND type = 'TaDeposited' ORDER BY version;
SELECT count(*) AS problems FROM chronicle.verify('typedacct-1');

-- An event appended at the newest version is read as it was written.
SELECT chronicle.append_batch('typedacct-1', '[{"type": "TaDeposited", "type_version": 3, "data": {"value": 2, "channel": "online"}}]');
SELECT version, type_version, data FROM chronicle.read_stream('typedacct-1', from_version => 7);

-- Redefining an upcaster changes what the next read returns.
SELECT chronicle.define_upcaster('TaDeposited', 1, '{"set": {"channel": "branch"}}');
SELECT version, type_version, data->>'channel' AS channel FROM chronicle.read_stream('typedacct-1', max_count => 3);
