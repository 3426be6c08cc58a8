-- Forged redactions: a redacted event's link commits to its original_digest,
-- not to the content it holds, so verify() must also check a redacted
-- event's current content against what its (chained) receipt in stream
-- chronicle-erasures says the redaction left.  Otherwise a superuser can set
-- any value in a redacted event, or set original_digest on an event never
-- redacted and then rewrite it, and verify() stays empty.
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

-- b. original_digest set on an event never redacted (to the event's own
-- content digest, so the chain still links), then the event rewritten:
-- caught by verify().
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events
   SET original_digest = sha256(int4send(octet_length(convert_to(data::text, 'UTF8'))) || convert_to(data::text, 'UTF8') ||
                                int4send(octet_length(convert_to(metadata::text, 'UTF8'))) || convert_to(metadata::text, 'UTF8'))
 WHERE stream_id = 'forgery-ledger-1' AND version = 2;
SELECT stream_id, version, problem FROM chronicle.verify();
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
-- g. a forged "redacted" row inserted with every trigger on, by a direct
-- INSERT as a restore makes (the owner can; regress.link is the documented
-- encoding).  The insert check checks the row alone: its version and its
-- link, from the original_digest it carries.
-- The next event of a stream with the given content and original_digest,
-- its hash linking it (or, with link false, the hash of its content alone).
CREATE FUNCTION pg_temp.forged(p_stream text, p_data jsonb, p_original bytea, p_link boolean) RETURNS chronicle.events
LANGUAGE sql AS $$
WITH last AS (SELECT * FROM chronicle.events WHERE stream_id = p_stream ORDER BY version DESC LIMIT 1),
     e AS (SELECT (l.stream_id, l.version + 1, nextval('chronicle.global_position_seq'), gen_random_uuid(),
                   'Deposited', 1, p_data, '{}'::jsonb, now(), pg_current_xact_id(), NULL::bytea, '{}'::text[],
                   p_original)::chronicle.events AS e, l.hash AS prev FROM last l)
SELECT ((e).stream_id, (e).version, (e).global_position, (e).event_id, (e).type, (e).type_version, (e).data,
        (e).metadata, (e).recorded_at, (e).tx_id,
        CASE WHEN p_link THEN regress.link(prev, e)
             ELSE regress.link(prev, ((e).stream_id, (e).version, (e).global_position, (e).event_id, (e).type,
                                      (e).type_version, (e).data, (e).metadata, (e).recorded_at, (e).tx_id, NULL,
                                      (e).tags, '\x')::chronicle.events) END,
        (e).tags, (e).original_digest)::chronicle.events
  FROM e
$$;
-- g1. its original_digest any 32 bytes, its hash linking them: the insert
--     check accepts the row (as it must accept a restored redacted event
--     before the receipts are loaded), and verify() reports it: no receipt.
BEGIN;
INSERT INTO chronicle.events SELECT f.* FROM pg_temp.forged('forgery-ledger-1', '{"amount": 5}', sha256('anything'), true) f;
UPDATE chronicle.streams SET version = version + 1 WHERE stream_id = 'forgery-ledger-1';
SELECT stream_id, version, problem FROM chronicle.verify();
ROLLBACK;
-- g2. a hash that does not link with the original_digest it carries: SE002;
--     an original_digest that is no SHA-256: SE003.
SELECT regress.error_of($$INSERT INTO chronicle.events
  SELECT f.* FROM pg_temp.forged('forgery-ledger-1', '{"amount": 5}', sha256('anything'), false) f$$);
SELECT regress.error_of($$INSERT INTO chronicle.events
  SELECT f.* FROM pg_temp.forged('forgery-ledger-1', '{"amount": 5}', '\x00', true) f$$);
-- g3. an update that sets original_digest is SE002 (only redact's permitted
--     update may, and only to the digest of the row's content before it).
SELECT regress.error_of($$UPDATE chronicle.events SET original_digest = sha256('x') WHERE stream_id = 'forgery-ledger-1' AND version = 3$$);
-- g4. The limit (docs/design/erasure.md, "What keeps a redaction honest"):
--     receipts are events, and the owner may insert the next event of any
--     stream, chronicle-erasures included (a restore does).  A forged row
--     with a forged receipt naming what it holds verifies: the receipt is
--     what a redacted row's content is checked against, and a digest taken
--     before verifies too (the forgery only appends).  It stays visible: a
--     receipt nobody issued, in the log, and a digest taken after it
--     includes it.
SELECT chronicle.digest() AS before_forgery \gset
BEGIN;
INSERT INTO chronicle.events SELECT f.* FROM pg_temp.forged('forgery-ledger-1', '{"amount": 5}', sha256('anything'), true) f;
UPDATE chronicle.streams SET version = version + 1 WHERE stream_id = 'forgery-ledger-1';
INSERT INTO chronicle.events
  SELECT f.* FROM pg_temp.forged('chronicle-erasures', jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
            'stream_id', 'forgery-ledger-1', 'version', 4,
            'content_digest', encode(regress.content('{"amount": 5}', '{}'), 'hex')))), '\x', true) f;
UPDATE chronicle.streams SET version = version + 1 WHERE stream_id = 'chronicle-erasures';
SELECT count(*) AS verify_problems FROM chronicle.verify();
SELECT count(*) AS verify_digest_problems FROM chronicle.verify_digest(:'before_forgery');
ROLLBACK;
-- g5. The same limit with the triggers off: an old event's data rewritten,
--     its original_digest set to the digest of its content as appended (so
--     its link holds), and a forged receipt naming the new content.  Neither
--     verify() nor verify_digest() can tell this from a redaction: a receipt
--     says what a redacted event holds, not that it is part of what it held.
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET original_digest = regress.content(data, metadata), data = '{"amount": 7}'
 WHERE stream_id = 'forgery-ledger-1' AND version = 3;
SELECT count(*) AS verify_problems_before_receipt FROM chronicle.verify();
INSERT INTO chronicle.events
  SELECT f.* FROM pg_temp.forged('chronicle-erasures', jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
            'stream_id', 'forgery-ledger-1', 'version', 3,
            'content_digest', encode(regress.content('{"amount": 7}', '{}'), 'hex')))), '\x', true) f;
UPDATE chronicle.streams SET version = version + 1 WHERE stream_id = 'chronicle-erasures';
SELECT count(*) AS verify_problems FROM chronicle.verify();
SELECT count(*) AS verify_digest_problems FROM chronicle.verify_digest(:'before_forgery');
ROLLBACK;
-- g6. The limit of digests (docs/design/erasure.md): the latest receipt,
--     appended after a digest, rewritten with its hash recomputed, together
--     with the event it describes.  Neither verify() nor verify_digest() of
--     that digest sees it; a digest taken after the receipt does.
SELECT chronicle.append('forgery-g6-1', 'Deposited', '{"amount": 6, "email": "g6@example.org"}');
SELECT chronicle.digest() AS before_receipt \gset
SET ROLE regress_forgery_admin;
SELECT chronicle.redact('forgery-g6-1', 1, ARRAY['email'], 'g6');
RESET ROLE;
SELECT chronicle.digest() AS after_receipt \gset
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET data = '{"amount": 600}' WHERE stream_id = 'forgery-g6-1' AND version = 1;
UPDATE chronicle.events c
   SET data = jsonb_set(c.data, '{events,0,content_digest}', to_jsonb(encode(regress.content('{"amount": 600}', '{}'), 'hex')))
 WHERE c.stream_id = 'chronicle-erasures' AND c.version = (SELECT max(version) FROM chronicle.events WHERE stream_id = 'chronicle-erasures');
UPDATE chronicle.events c
   SET hash = regress.link((SELECT p.hash FROM chronicle.events p WHERE p.stream_id = c.stream_id AND p.version = c.version - 1), c)
 WHERE c.stream_id = 'chronicle-erasures' AND c.version = (SELECT max(version) FROM chronicle.events WHERE stream_id = 'chronicle-erasures');
SELECT count(*) AS verify_problems FROM chronicle.verify();
SELECT count(*) AS digest_before_problems FROM chronicle.verify_digest(:'before_receipt');
SELECT stream_id, regexp_replace(problem, '[0-9a-f]{64}', 'H', 'g') AS problem FROM chronicle.verify_digest(:'after_receipt');
ROLLBACK;
-- g7. An event inserted directly as the next version of a stream (triggers
--     on, as a restore inserts) with a back-dated tx_id: that of a
--     transaction after the digest, before a reader's cursor.  Its link holds
--     (verify() is silent), the digest does not cover it, and read_all from
--     the cursor never returns it.  With a tx_id below the digest's position,
--     verify_digest() reports the stream lengthened.
SELECT chronicle.digest() AS before_backdated \gset
SELECT chronicle.append('forgery-g7-1', 'Deposited', '{"amount": 1}');
SELECT chronicle.append('forgery-g7-2', 'Deposited', '{"amount": 2}');
SELECT tx_id AS t1 FROM chronicle.events WHERE stream_id = 'forgery-g7-1' \gset
SELECT tx_id AS t2, global_position AS p2 FROM chronicle.events WHERE stream_id = 'forgery-g7-2' \gset
CREATE FUNCTION pg_temp.backdated(p_stream text, p_tx xid8) RETURNS chronicle.events
LANGUAGE sql AS $$
WITH f AS (SELECT (pg_temp.forged(p_stream, '{"amount": 9}', '\x', true)).*)
SELECT (f.stream_id, f.version, f.global_position, f.event_id, f.type, f.type_version, f.data, f.metadata,
        f.recorded_at, p_tx,
        regress.link((SELECT l.hash FROM chronicle.events l WHERE l.stream_id = p_stream AND l.version = f.version - 1),
                     (f.stream_id, f.version, f.global_position, f.event_id, f.type, f.type_version, f.data, f.metadata,
                      f.recorded_at, p_tx, NULL, f.tags, f.original_digest)::chronicle.events),
        f.tags, f.original_digest)::chronicle.events
  FROM f
$$;
BEGIN;
INSERT INTO chronicle.events SELECT b.* FROM pg_temp.backdated('forgery-g7-1', :'t1') b;
UPDATE chronicle.streams SET version = version + 1 WHERE stream_id = 'forgery-g7-1';
SELECT count(*) AS verify_problems FROM chronicle.verify();
SELECT count(*) AS digest_problems FROM chronicle.verify_digest(:'before_backdated');
SELECT count(*) AS seen_after_cursor FROM chronicle.read_all(:'t2', :p2, 100000) WHERE stream_id = 'forgery-g7-1';
ROLLBACK;
BEGIN;
INSERT INTO chronicle.events SELECT b.* FROM pg_temp.backdated('forgery-g7-1',
  (SELECT min(tx_id) FROM chronicle.events WHERE stream_id = 'forgery-ledger-1')) b;
UPDATE chronicle.streams SET version = version + 1 WHERE stream_id = 'forgery-g7-1';
SELECT stream_id, problem FROM chronicle.verify_digest(:'before_backdated');
ROLLBACK;
-- i. verify(stream_id) checks a redacted event against its receipt, which
--    lives in another stream: a receipt edited with triggers off, together
--    with the event it describes, must not pass because only the event's
--    stream was walked.  verify() of everything reports the receipt's link.
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET data = '{"amount": 99}' WHERE stream_id = 'forgery-ledger-1' AND version = 1;
UPDATE chronicle.events c
   SET data = jsonb_set(c.data, ARRAY['events', (t.idx - 1)::text, 'content_digest'],
                        to_jsonb(encode(regress.content('{"amount": 99}', '{}'), 'hex')))
  FROM (SELECT c2.version, o.idx FROM chronicle.events c2,
               jsonb_array_elements(c2.data->'events') WITH ORDINALITY AS o(x, idx)
         WHERE c2.stream_id = 'chronicle-erasures' AND o.x->>'stream_id' = 'forgery-ledger-1'
           AND (o.x->>'version')::int = 1
         ORDER BY c2.version DESC LIMIT 1) t
 WHERE c.stream_id = 'chronicle-erasures' AND c.version = t.version;
SELECT stream_id, version, problem FROM chronicle.verify('forgery-ledger-1');
SELECT stream_id, version, problem FROM chronicle.verify();
ROLLBACK;
SELECT count(*) AS problems FROM chronicle.verify('forgery-ledger-1');

-- j. An event put back as it was before its redaction (triggers off: its
--    content as appended, from a backup, say, and original_digest emptied):
--    its link holds again, since it commits to the digest of that content.
--    Its receipt still says it was redacted: verify() reports it, with the
--    stream or without.
SELECT chronicle.append('forgery-j-1', 'Deposited', '{"amount": 3, "email": "j@example.org"}');
SET ROLE regress_forgery_admin;
SELECT chronicle.redact('forgery-j-1', 1, ARRAY['email'], 'j');
RESET ROLE;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET data = '{"amount": 3, "email": "j@example.org"}', original_digest = '\x'
 WHERE stream_id = 'forgery-j-1' AND version = 1;
SELECT stream_id, version, problem FROM chronicle.verify('forgery-j-1');
SELECT stream_id, version, problem FROM chronicle.verify();
ROLLBACK;
SELECT count(*) AS problems FROM chronicle.verify();

-- k. Scale: 3,000 redacted events of one stream, in one receipt, checked
--    in one pass over the receipts (a look-up per event unnested every
--    receipt: 5,000 of them took verify() 31 s); one edited among them is
--    the one reported, by verify() and by verify(stream_id).
SELECT chronicle.append_batch('forgery-k-1', (SELECT jsonb_agg(jsonb_build_object('type', 'Deposited',
         'data', jsonb_build_object('amount', i, 'email', 'k' || i || '@example.org'))) FROM generate_series(1, 3000) i));
SET ROLE regress_forgery_admin;
SELECT chronicle.redact('forgery-k-1', paths => ARRAY['email'], reason => 'k') AS redacted;
RESET ROLE;
SELECT count(*) AS problems FROM chronicle.verify();
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET data = '{"amount": 1}' WHERE stream_id = 'forgery-k-1' AND version = 2345;
SELECT stream_id, version, problem FROM chronicle.verify();
SELECT stream_id, version, problem FROM chronicle.verify('forgery-k-1');
ROLLBACK;

-- l. original_digest moved between two redacted events, content with it:
--    each link commits to its own row's digest, so both are reported.
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events e SET original_digest = o.original_digest, data = o.data, metadata = o.metadata
  FROM chronicle.events o
 WHERE e.stream_id = 'forgery-ledger-1' AND o.stream_id = 'forgery-ledger-1' AND e.version + o.version = 3
   AND e.version IN (1, 2);
SELECT stream_id, version, problem FROM chronicle.verify('forgery-ledger-1');
ROLLBACK;

-- h. The receipts are chronicle's own events, and a writer's event-type
--    definitions do not apply to them: a schema for "EventsRedacted" that no
--    receipt satisfies, or chronicle.strict_types on, made every redaction
--    fail (SE003: erasure blocked by any writer, or by a documented
--    setting); an upcaster for "EventsRedacted" made every read of the
--    receipts (read_stream, read_all, subscriptions) show what the writer
--    chose, e.g. no events to erase.  Neither applies to stream
--    chronicle-erasures; the writer's own streams of that type keep both.
CREATE ROLE regress_forgery_writer2;
GRANT chronicle_writer TO regress_forgery_writer2;
SELECT chronicle.append('forgery-h-1', 'Deposited', '{"amount": 1, "email": "h@example.org", "phone": "555"}');
SET ROLE regress_forgery_writer2;
SELECT chronicle.define_event_type('EventsRedacted', '{"type": "object", "required": ["forged"]}');
SELECT chronicle.define_upcaster('EventsRedacted', 1, '{"set": {"events": [], "by": "nobody"}}');
RESET ROLE;
SET ROLE regress_forgery_admin;
SELECT chronicle.redact('forgery-h-1', 1, ARRAY['email'], 'h') AS redacted;
SET chronicle.strict_types = on;
SELECT chronicle.redact('forgery-h-1', 1, ARRAY['phone'], 'h strict') AS redacted;
RESET chronicle.strict_types;
RESET ROLE;
SELECT data->>'reason' AS reason, data->>'by' AS by, jsonb_array_length(data->'events') AS events, type_version
  FROM chronicle.read_stream('chronicle-erasures') WHERE data->>'reason' LIKE 'h%' ORDER BY version;
SELECT count(*) FILTER (WHERE data->>'by' = 'nobody') AS upcast_in_read_all
  FROM chronicle.read_all(max_count => 100000) WHERE stream_id = 'chronicle-erasures';
SELECT chronicle.define_reducer('regress_receipts', '{"EventsRedacted": {"set": {"by": "$.by"}}}');
SELECT chronicle.replay('chronicle-erasures', 'regress_receipts')->>'by' AS replayed_by,
       (SELECT chronicle.fold('regress_receipts', e ORDER BY e.version)->>'by'
          FROM chronicle.events e WHERE e.stream_id = 'chronicle-erasures') AS folded_by;
SET ROLE regress_forgery_writer2;
SELECT regress.error_of($$SELECT chronicle.append('forgery-h-2', 'EventsRedacted', '{}')$$);
SELECT chronicle.append('forgery-h-2', 'EventsRedacted', '{"forged": 1}');
SELECT data FROM chronicle.read_stream('forgery-h-2');
RESET ROLE;
DELETE FROM chronicle.upcasters WHERE type = 'EventsRedacted';
DELETE FROM chronicle.event_types WHERE type = 'EventsRedacted';
SELECT count(*) AS problems FROM chronicle.verify();
DROP OWNED BY regress_forgery_writer2;
DROP ROLE regress_forgery_writer2;
DROP OWNED BY regress_forgery_writer;
DROP ROLE regress_forgery_writer;
DROP OWNED BY regress_forgery_admin;
DROP ROLE regress_forgery_admin;
