-- Review of issue 14: the content digest a redaction keeps in
-- chronicle.erasures is not itself chained, so verify() must also check a
-- redacted event's current content against what its (chained) receipt in
-- stream chronicle-erasures says the redaction left.  Otherwise a superuser
-- can set any value in a redacted event, or forge an erasures row for an
-- event never redacted and then rewrite it, and verify() stays empty.
\set VERBOSITY terse
CREATE ROLE regress_forgery_admin;
GRANT chronicle_admin TO regress_forgery_admin;
SELECT chronicle.append('forgery-ledger-1', 'Deposited', '{"amount": 10, "email": "a@example.org"}');
SELECT chronicle.append('forgery-ledger-1', 'Deposited', '{"amount": 20, "email": "b@example.org"}');
SET ROLE regress_forgery_admin;
SELECT chronicle.redact('forgery-ledger-1', 1, ARRAY['email'], 'test');
RESET ROLE;
SELECT count(*) AS problems_after_redact FROM chronicle.verify();
SELECT chronicle.append('forgery-ledger-1', 'Deposited', '{"amount": 30}');
SELECT count(*) AS problems_after_later_append FROM chronicle.verify();

-- a. a value set in a redacted event (not a removal): caught by verify().
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET data = '{"amount": 1000000}' WHERE stream_id = 'forgery-ledger-1' AND version = 1;
SELECT stream_id, version, problem FROM chronicle.verify();
ROLLBACK;

-- b. an erasures row forged for an event never redacted (its digest is the
-- event's own content digest, so the chain still links), then the event
-- rewritten: caught by verify().
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO chronicle.erasures (stream_id, version, event_id, content_digest, paths, redacted_at)
SELECT stream_id, version, event_id,
       sha256(int4send(octet_length(convert_to(data::text, 'UTF8'))) || convert_to(data::text, 'UTF8') ||
              int4send(octet_length(convert_to(metadata::text, 'UTF8'))) || convert_to(metadata::text, 'UTF8')),
       '{email}', now()
  FROM chronicle.events WHERE stream_id = 'forgery-ledger-1' AND version = 2;
SELECT count(*) AS problems_with_forged_row_only FROM chronicle.verify();
UPDATE chronicle.events SET data = '{"amount": 2000000}' WHERE stream_id = 'forgery-ledger-1' AND version = 2;
SELECT stream_id, version, problem FROM chronicle.verify();
ROLLBACK;

-- c. a second redaction of the same event: its latest receipt counts.
SET ROLE regress_forgery_admin;
SELECT chronicle.redact('forgery-ledger-1', 1, ARRAY['amount'], 'test');
RESET ROLE;
SELECT count(*) AS problems_after_second_redact FROM chronicle.verify();
SELECT data FROM chronicle.events WHERE stream_id = 'forgery-ledger-1' AND version = 1;
SELECT count(*) AS receipt_entries_with_digest
  FROM chronicle.events c, jsonb_array_elements(c.data->'events') x
 WHERE c.stream_id = 'chronicle-erasures' AND x ? 'content_digest';

-- d. the receipts verify() trusts cannot be forged with append: only redact
-- appends to stream chronicle-erasures (42501 for a writer, an admin, the
-- superuser; append, append_batch, append_events alike).
CREATE ROLE regress_forgery_writer;
GRANT chronicle_writer TO regress_forgery_writer;
SET ROLE regress_forgery_writer;
SELECT regress.error_of($$SELECT chronicle.append('chronicle-erasures', 'EventsRedacted', '{"events": []}')$$);
SELECT regress.error_of($$SELECT chronicle.append_batch('chronicle-erasures', '[{"type": "EventsRedacted", "data": {}}]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.append_events('[{"stream_id": "chronicle-erasures", "type": "EventsRedacted", "data": {}}]')$$);
RESET ROLE;
SET ROLE regress_forgery_admin;
SELECT regress.error_of($$SELECT chronicle.append('chronicle-erasures', 'EventsRedacted', '{"events": []}')$$);
RESET ROLE;
SELECT regress.error_of($$SELECT chronicle.append('chronicle-erasures', 'EventsRedacted', '{"events": []}')$$);
-- redact itself still appends its receipt, also after a refused forgery in
-- the same transaction, and its receipt leaves no permission behind (an
-- admin who is also a writer).
GRANT chronicle_writer TO regress_forgery_admin;
BEGIN;
SET ROLE regress_forgery_admin;
SELECT regress.error_of($$SELECT chronicle.append('chronicle-erasures', 'EventsRedacted', '{"events": []}')$$);
SELECT chronicle.redact('forgery-ledger-1', 2, ARRAY['email'], 'test');
SELECT regress.error_of($$SELECT chronicle.append('chronicle-erasures', 'EventsRedacted', '{"events": []}')$$);
RESET ROLE;
COMMIT;
SELECT count(*) AS receipts, max(version) AS last FROM chronicle.events WHERE stream_id = 'chronicle-erasures';
SELECT count(*) AS problems FROM chronicle.verify();

-- e. redact with no paths removes every "x-personal" property: one whose
-- name holds a dot, one in the objects of an array (each element), an
-- array whose items are personal; the rest stays.
SELECT chronicle.define_event_type('regress_Signed', '{"type": "object", "properties": {
  "e.mail": {"type": "string", "x-personal": true},
  "plan": {"type": "string"},
  "contacts": {"type": "array", "items": {"type": "object", "properties": {
      "phone": {"type": "string", "x-personal": true}, "kind": {"type": "string"}}}},
  "aliases": {"type": "array", "items": {"type": "string", "x-personal": true}}}}');
SELECT chronicle.append('forgery-signup-1', 'regress_Signed',
  '{"e.mail": "eve@example.org", "plan": "pro", "contacts": [{"phone": "555-0101", "kind": "home"},
    {"phone": "555-0102", "kind": "work"}, {"kind": "none"}], "aliases": ["evie", "e"]}');
SET ROLE regress_forgery_admin;
SELECT chronicle.redact('forgery-signup-1', 1) AS redacted;
RESET ROLE;
SELECT data FROM chronicle.events WHERE stream_id = 'forgery-signup-1';
SELECT x->'paths' AS receipt_paths
  FROM chronicle.events c, jsonb_array_elements(c.data->'events') x
 WHERE c.stream_id = 'chronicle-erasures' AND x->>'stream_id' = 'forgery-signup-1';
SELECT count(*) AS problems FROM chronicle.verify();

-- f. a digest whose global_position was edited (the field the root's heads
-- fix): verify_digest() names the edit; the unedited digest verifies.
SELECT chronicle.digest() AS d \gset
SELECT count(*) AS unedited_problems FROM chronicle.verify_digest(:'d');
SELECT regexp_replace(problem, '[0-9]+', 'N', 'g') AS problem
  FROM chronicle.verify_digest(jsonb_set(:'d', '{global_position}', to_jsonb((:'d'::jsonb->>'global_position')::bigint + 1000)));
SELECT regress.error_of($$SELECT * FROM chronicle.verify_digest('{"position": 1, "streams": 0, "events": 0, "global_position": -1, "root": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}')$$);
DROP OWNED BY regress_forgery_writer;
DROP ROLE regress_forgery_writer;
DROP OWNED BY regress_forgery_admin;
DROP ROLE regress_forgery_admin;
