-- Erasure and ledger digests (docs/reference/erasure.md,
-- docs/design/erasure.md): redaction of a path, an event, a stream; the
-- x-personal rule; verify() after each; reads, replays, snapshots,
-- projections and subscriptions after it; privileges; the attacks that
-- verify() or verify_digest() catch; erased values gone from the table's
-- files after VACUUM FULL.
-- A digest that covers every event appended so far: its position (the
-- read_all horizon) is past the newest event's transaction.  (An autovacuum
-- ANALYZE holding a transaction id can keep the horizon back for a moment.)
CREATE FUNCTION pg_temp.covering_digest() RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d jsonb;
BEGIN
    FOR i IN 1..600 LOOP
        d := chronicle.digest();
        IF (d->>'position')::numeric > (SELECT max(tx_id::text::numeric) FROM chronicle.events) THEN
            RETURN d;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RAISE EXCEPTION 'no covering digest';
END $$;

CREATE ROLE regress_erasure_writer IN ROLE chronicle_writer;
CREATE ROLE regress_erasure_admin IN ROLE chronicle_admin;

-- A type whose schema marks personal properties (nested ones too).
SELECT chronicle.define_event_type('CustomerRegistered', '{
  "type": "object",
  "properties": {
    "name":    {"type": "string", "x-personal": true},
    "address": {"type": "object", "properties": {"street": {"type": "string", "x-personal": true},
                                                 "city":   {"type": "string"}}},
    "plan":    {"type": "string"}
  }}');
SELECT regress.error_of($$SELECT chronicle.define_event_type('Bad', '{"properties": {"a": {"x-personal": "yes"}}}')$$);

SELECT chronicle.define_reducer('customer', '{
  "CustomerRegistered": {"set": {"name": "$.name", "plan": "$.plan"}},
  "PlanChanged":        {"set": {"plan": "$.plan"}},
  "Noted":              {"set": {"note": "$.note"}}
}', 'customer');
SELECT chronicle.define_projection('customers_view', 'customer', 'public.customers_view',
                                   '{"name": "text", "plan": "text"}');

SET ROLE regress_erasure_writer;
SELECT chronicle.append('customer-1', 'CustomerRegistered',
    '{"name": "Ann Secretname", "address": {"street": "1 Hidden Lane", "city": "Oslo"}, "plan": "basic"}',
    '{"ip": "192.0.2.44", "agent": "app"}');
SELECT chronicle.append('customer-1', 'Noted', '{"note": "called about invoice", "by": "clerk"}');
SELECT chronicle.append('customer-1', 'PlanChanged', '{"plan": "pro"}');
SELECT chronicle.append('customer-2', 'CustomerRegistered', '{"name": "Bob", "plan": "basic"}');
SELECT chronicle.take_snapshot('customer-1', 'customer');
-- A writer cannot redact.
SELECT regress.error_of($$SELECT chronicle.redact('customer-1')$$);
SELECT regress.error_of($$SELECT chronicle.redact_tagged('person:1')$$);
RESET ROLE;
SELECT stream_id, version, name, plan FROM public.customers_view ORDER BY 1;
SELECT chronicle.subscribe('erasure-mailer', 'customer');
SELECT count(*) AS delivered FROM chronicle.poll('erasure-mailer', 100);
SELECT chronicle.ack('erasure-mailer', tx_id, global_position)
  FROM chronicle.read_all(max_count => 1000, category => 'customer') ORDER BY tx_id DESC, global_position DESC LIMIT 1;
SELECT pg_temp.covering_digest() AS before_digest \gset

-- 1. A path, from data and metadata, by chronicle_admin.
SET ROLE regress_erasure_admin;
SELECT chronicle.redact('customer-1', 1, ARRAY['address.street', 'ip'], 'request #17') AS redacted;
RESET ROLE;
SELECT version, data, metadata FROM chronicle.read_stream('customer-1', 1, 1);
SELECT count(*) AS problems FROM chronicle.verify();
-- The receipt: who, why, which event and paths; never a value.
SELECT data - 'at' - 'events' AS receipt, jsonb_array_length(data->'events') AS events,
       data->'events'->0->'paths' AS paths_removed, metadata
  FROM chronicle.read_stream('chronicle-erasures') ORDER BY version DESC LIMIT 1;
SELECT position('Hidden' IN data::text) = 0 AND position('192.0.2.44' IN data::text) = 0 AS receipt_has_no_value
  FROM chronicle.events WHERE stream_id = 'chronicle-erasures';
-- The register, and the row's original_digest (the digest of its content as
-- appended, which its link commits to: checked below, regress.link).
SELECT r.stream_id, r.version, r.paths, r.redactions, r.receipt_streams, length(e.original_digest) AS digest_bytes
  FROM chronicle.erasures r JOIN chronicle.events e USING (stream_id, version);
SELECT count(*) AS unregistered_with_digest FROM chronicle.events WHERE original_digest <> ''
   AND (stream_id, version) NOT IN (SELECT stream_id, version FROM chronicle.erasures);
-- Nothing left to remove: nothing changes, no receipt.
SELECT chronicle.redact('customer-1', 1, ARRAY['ip', 'no.such.path']) AS redacted_again;
SELECT count(*) AS receipts FROM chronicle.events WHERE stream_id = 'chronicle-erasures';

-- 2. The schema's x-personal properties (no paths given): name and address.street.
SELECT chronicle.redact('customer-1', 1) AS redacted;
SELECT version, data, metadata FROM chronicle.read_stream('customer-1', 1, 1);
SELECT stream_id, version, paths, redactions, receipt_streams FROM chronicle.erasures;
-- Snapshots of the stream were deleted; the projection row was recomputed
-- (name gone), in the same transaction; replays read the redacted data.
SELECT count(*) AS snapshots_left FROM chronicle.snapshots WHERE stream_id = 'customer-1';
SELECT stream_id, version, name, plan FROM public.customers_view ORDER BY 1;
SELECT chronicle.replay('customer-1', 'customer') AS replayed;
SELECT count(*) AS problems FROM chronicle.verify();

-- 3. A whole event of a type without a schema: all of data and metadata.
SELECT chronicle.redact('customer-1', 2, reason => 'whole event') AS redacted;
SELECT version, type, data, metadata FROM chronicle.read_stream('customer-1') ORDER BY version;
SELECT count(*) AS problems FROM chronicle.verify('customer-1');

-- 4. Every event of a stream.
SELECT chronicle.redact('customer-2', paths => ARRAY['name']) AS redacted;
SELECT version, data FROM chronicle.read_stream('customer-2');
SELECT count(*) AS problems FROM chronicle.verify();
-- Subscriptions redeliver nothing: the redacted rows keep their positions.
SELECT count(*) AS redelivered FROM chronicle.poll('erasure-mailer', 100);
-- The log still extends the digest taken before the redactions.
SELECT * FROM chronicle.verify_digest(:'before_digest');

-- 5. Every event carrying a tag: a data subject's events across streams.
SELECT chronicle.append('order-501', 'PurchaseRecorded', '{"total": 12, "email": "eve@example.org"}',
                        tags => ARRAY['person:42', 'product:7']);
SELECT chronicle.append('ticket-9', 'SupportTicketOpened', '{"text": "Eve cannot log in", "email": "eve@example.org"}',
                        tags => ARRAY['person:42']);
SELECT chronicle.append('order-502', 'PurchaseRecorded', '{"total": 3, "email": "zed@example.org"}',
                        tags => ARRAY['person:43']);
SET ROLE regress_erasure_admin;
SELECT chronicle.redact_tagged('person:42', ARRAY['email'], 'erasure request 42') AS redacted;
RESET ROLE;
SELECT stream_id, version, data, tags FROM chronicle.events
 WHERE stream_id IN ('order-501', 'ticket-9', 'order-502') ORDER BY stream_id;
SELECT data->>'tag' AS tag, (SELECT jsonb_agg(x - 'event_id' - 'content_digest') FROM jsonb_array_elements(data->'events') x) AS events
  FROM chronicle.read_stream('chronicle-erasures') ORDER BY version DESC LIMIT 1;
SELECT count(*) AS problems FROM chronicle.verify();
SELECT chronicle.redact_tagged('person:none') AS nothing_tagged;

-- Redaction is the only change: every other update is still SE002, also
-- right after a redaction in the same transaction.
BEGIN;
SELECT chronicle.redact('customer-2', 1, ARRAY['plan']) AS redacted;
SELECT regress.error_of($$UPDATE chronicle.events SET data = '{"plan": "x"}' WHERE stream_id = 'customer-2'$$);
SELECT regress.error_of($$UPDATE chronicle.events SET type = 'X' WHERE stream_id = 'customer-1' AND version = 1$$);
ROLLBACK;

-- Bad arguments.
SELECT regress.error_of($$SELECT chronicle.redact(NULL)$$);
SELECT regress.error_of($$SELECT chronicle.redact('customer-1', 0)$$);
SELECT regress.error_of($$SELECT chronicle.redact('customer-1', 99)$$);
SELECT regress.error_of($$SELECT chronicle.redact('no-such-stream')$$);
SELECT regress.error_of($$SELECT chronicle.redact('customer-1', 1, '{}')$$);
SELECT regress.error_of($$SELECT chronicle.redact('customer-1', 1, ARRAY['a..b'])$$);
SELECT regress.error_of($$SELECT chronicle.redact('customer-1', 1, ARRAY[NULL])$$);
SELECT regress.error_of($$SELECT chronicle.redact('chronicle-erasures')$$);
-- One server reserves chronicle-erasures alone: the names a Citus cluster
-- gives its shard groups' receipt streams (chronicle-erasures-<n>) are
-- ordinary streams here (docs/design/citus.md).
BEGIN;
SELECT chronicle.append('chronicle-erasures-7', 'Noted', '{"n": 1}') AS appended_to_suffixed_name;
SELECT chronicle.redact('chronicle-erasures-7', 1, ARRAY['n']) AS redacted_suffixed_name;
ROLLBACK;
SELECT regress.error_of($$SELECT chronicle.redact_tagged(NULL)$$);
SELECT regress.error_of($$SELECT chronicle.redact_tagged('')$$);
-- A tag no event can carry is 22023, as in read_query, not a search that finds nothing.
SELECT regress.error_of($$SELECT chronicle.redact_tagged(repeat('t', 256))$$);
SELECT regress.error_of($$SELECT chronicle.redact_tagged('person:' || chr(10) || '42')$$);
SELECT chronicle.redact_tagged(repeat('é', 255)) AS tag_of_255;
SELECT regress.error_of($$SELECT * FROM chronicle.verify_digest(NULL)$$);
SELECT regress.error_of($$SELECT * FROM chronicle.verify_digest('[]')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.verify_digest('{"position": -1, "streams": 0, "events": 0, "root": "00"}')$$);
SELECT regress.error_of($$SELECT * FROM chronicle.verify_digest('{"position": 1, "streams": 0, "events": 0, "global_position": 0, "root": "zz"}')$$);

-- Digests: recorded, and one taken now verifies.
SELECT pg_temp.covering_digest() AS d \gset
SELECT (:'d'::jsonb) ? 'root' AS has_root, (:'d'::jsonb->>'streams')::int >= 3 AS counts_streams,
       (SELECT count(*) FROM chronicle.digests WHERE encode(root, 'hex') = :'d'::jsonb->>'root') AS recorded;
SELECT * FROM chronicle.verify_digest(:'d');

-- Attacks by a superuser with the triggers off; each in a rolled-back
-- transaction.  Which check catches each:
-- a. the stream's tail deleted and its version lowered: verify() sees a
--    consistent stream; verify_digest() sees it shortened.
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM chronicle.events WHERE stream_id = 'customer-1' AND version = 3;
UPDATE chronicle.streams SET version = 2 WHERE stream_id = 'customer-1';
SELECT count(*) AS verify_problems FROM chronicle.verify();
SELECT * FROM chronicle.verify_digest(:'d');
ROLLBACK;
-- b. a whole stream deleted: verify_digest().
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM chronicle.events WHERE stream_id = 'customer-2';
DELETE FROM chronicle.streams WHERE stream_id = 'customer-2';
SELECT count(*) AS verify_problems FROM chronicle.verify();
SELECT * FROM chronicle.verify_digest(:'d');
ROLLBACK;
-- c. tx_id edited (which would hide an event from read_all's pages): verify().
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET tx_id = '3' WHERE stream_id = 'customer-1' AND version = 3;
SELECT * FROM chronicle.verify();
ROLLBACK;
-- d. global_position edited: verify().
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET global_position = global_position + 1000000 WHERE stream_id = 'customer-2' AND version = 1;
SELECT * FROM chronicle.verify();
ROLLBACK;
-- d2. tags edited (which would move an event in or out of a DCB query): verify().
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET tags = '{person:99}' WHERE stream_id = 'order-502';
SELECT * FROM chronicle.verify();
ROLLBACK;
-- e. a redacted row's original_digest edited, or removed: verify().  (With
--    the triggers on, SE002.)
SELECT regress.error_of($$UPDATE chronicle.events SET original_digest = sha256('forged') WHERE stream_id = 'customer-1' AND version = 1$$);
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET original_digest = sha256('forged') WHERE stream_id = 'customer-1' AND version = 1;
SELECT * FROM chronicle.verify();
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET original_digest = '' WHERE stream_id = 'customer-1' AND version = 2;
SELECT * FROM chronicle.verify();
ROLLBACK;
-- The register chronicle.erasures is not what the chain relies on: emptied,
-- verify() still finds every link and receipt in order.
BEGIN;
DELETE FROM chronicle.erasures;
SELECT count(*) AS problems_without_register FROM chronicle.verify();
SELECT count(*) AS problems_of_one_stream_without_register FROM chronicle.verify('customer-1');
ROLLBACK;
-- Nor are the receipt streams it records: one server reads its receipts in
-- chronicle-erasures only, the only stream redact writes there, so a row
-- naming another stream (chronicle-erasures-7 is a writer's stream on one
-- server) neither hides the receipts nor makes that stream's rows receipts.
BEGIN;
SELECT chronicle.append('chronicle-erasures-7', 'EventsRedacted', jsonb_build_object('events', jsonb_build_array(
         jsonb_build_object('stream_id', 'customer-1', 'version', 3, 'content_digest', repeat('0', 64))))) AS planted;
UPDATE chronicle.erasures SET receipt_streams = ARRAY['chronicle-erasures-7'] WHERE stream_id = 'customer-1';
SELECT * FROM chronicle.verify('customer-1');
ROLLBACK;
-- f. an edit whose chain was recomputed consistently from the row on: verify()
--    cannot see it (every link matches); verify_digest() can.
-- Every link, redacted ones included, is the documented encoding.
SELECT bool_and(documented) AS every_link_documented, count(*) FILTER (WHERE redacted) AS redacted
  FROM (SELECT e.hash = regress.link(lag(e.hash) OVER (PARTITION BY e.stream_id ORDER BY e.version), e) AS documented,
               e.original_digest <> '' AS redacted
          FROM chronicle.events e) l;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET data = '{"plan": "enterprise"}' WHERE stream_id = 'customer-1' AND version = 3;
UPDATE chronicle.events e SET hash = regress.link(p.hash, e)
  FROM chronicle.events p
 WHERE e.stream_id = 'customer-1' AND e.version = 3 AND p.stream_id = 'customer-1' AND p.version = 2;
SELECT count(*) AS verify_problems FROM chronicle.verify();
SELECT * FROM chronicle.verify_digest(:'d');
ROLLBACK;
-- g. the digest itself edited: its counts no longer match its root.
SELECT stream_id, version, regexp_replace(problem, '[0-9]+', 'N', 'g') AS problem
  FROM chronicle.verify_digest(jsonb_set(:'d', '{events}', '1'));
-- ... or its root: the streams cannot be named without its recorded heads.
SELECT stream_id, version, left(problem, 40) AS problem
  FROM chronicle.verify_digest(jsonb_set(:'d', '{root}', to_jsonb(repeat('0', 64))));
SELECT count(*) AS problems_after_attacks FROM chronicle.verify();

-- Erased values are gone from chronicle.events' files after VACUUM FULL
-- (until then the old row versions are still in the table's pages).  The
-- search itself: a value not erased is found in the file.
CHECKPOINT;
CREATE FUNCTION pg_temp.in_events_files(v text) RETURNS boolean
LANGUAGE sql AS $$
SELECT bool_or(position(convert_to(v, 'UTF8') IN pg_read_binary_file(pg_relation_filepath(c.oid))) > 0)
  FROM pg_class c
 WHERE c.oid = 'chronicle.events'::regclass
    OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'chronicle.events'::regclass)
$$;
SELECT pg_temp.in_events_files('Oslo') AS kept_value_found;
VACUUM FULL chronicle.events;
CHECKPOINT;
SELECT pg_temp.in_events_files('Secretname') AS name_found, pg_temp.in_events_files('Hidden Lane') AS street_found,
       pg_temp.in_events_files('192.0.2.44') AS ip_found, pg_temp.in_events_files('called about invoice') AS note_found,
       pg_temp.in_events_files('Oslo') AS kept_value_found;
SELECT count(*) AS problems FROM chronicle.verify();

SELECT chronicle.unsubscribe('erasure-mailer');
SELECT chronicle.drop_projection('customers_view', true);
DROP ROLE regress_erasure_writer;
DROP ROLE regress_erasure_admin;
