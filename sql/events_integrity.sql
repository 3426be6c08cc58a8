-- Immutability and the hash chain (docs/reference/events.md): triggers in C++ reject
-- UPDATE, DELETE and TRUNCATE for every role, a direct INSERT must continue the
-- version and hash chain, and chronicle.verify() finds what a superuser changed
-- with the triggers switched off.
SELECT chronicle.append_batch('integrity-1', '[
  {"type": "Opened", "data": {"owner": "ann"}, "metadata": {"by": "clerk"}},
  {"type": "Deposited", "data": {"amount": 10}},
  {"type": "Deposited", "data": {"amount": 20.50}},
  {"type": "Withdrawn", "data": {"amount": 5}}]');
SELECT chronicle.append('integrity-2', 'Opened', '{"owner": "bob"}');

-- The chain (v2), recomputed in plain SQL from the documented canonical
-- encoding (docs/design/erasure.md, "The canonical encoding"):
-- sha256(previous hash || length-prefixed fields || content digest), where
-- the content digest is sha256 of data's and metadata's length-prefixed text.
SELECT e.stream_id, e.version,
       e.hash = regress.link(lag(e.hash) OVER (PARTITION BY e.stream_id ORDER BY e.version), e)
         AS hash_is_documented_link
FROM chronicle.events e WHERE e.stream_id LIKE 'integrity-%' ORDER BY e.stream_id, e.version;

-- An intact log: verify() returns no rows, for all streams or for one.
SELECT * FROM chronicle.verify() WHERE stream_id LIKE 'integrity-%';
SELECT * FROM chronicle.verify('integrity-1');
SELECT * FROM chronicle.verify('no-such-stream');

-- UPDATE, DELETE and TRUNCATE are SE002, even for the owner (a superuser here).
SELECT regress.error_of($$UPDATE chronicle.events SET data = '{}' WHERE stream_id = 'integrity-1'$$);
SELECT regress.error_of($$DELETE FROM chronicle.events WHERE stream_id = 'integrity-2'$$);
SELECT regress.error_of($$TRUNCATE chronicle.events$$);
-- No foreign key ties events to their stream row (pg_restore -j loads both in
-- parallel); triggers keep stream rows from being deleted or truncated.
SELECT regress.error_of($$TRUNCATE chronicle.streams CASCADE$$);
SELECT regress.error_of($$DELETE FROM chronicle.streams WHERE stream_id = 'integrity-2'$$);
-- The error names the row and suggests what to do instead.
UPDATE chronicle.events SET metadata = '{}' WHERE stream_id = 'integrity-2';
-- A stream's version only grows; its id and category stay.
SELECT regress.error_of($$UPDATE chronicle.streams SET version = 1 WHERE stream_id = 'integrity-1'$$);
SELECT regress.error_of($$UPDATE chronicle.streams SET category = 'x' WHERE stream_id = 'integrity-1'$$);
SELECT count(*) AS events_left FROM chronicle.events;

-- A direct INSERT (only the owner can) must be the next version with the right hash.
SELECT regress.error_of($$INSERT INTO chronicle.events
  SELECT stream_id, 7, nextval('chronicle.global_position_seq'), gen_random_uuid(), 'Forged', 1,
         '{}', '{}', now(), pg_current_xact_id(), hash
  FROM chronicle.events WHERE stream_id = 'integrity-2' AND version = 1$$);
SELECT regress.error_of($$INSERT INTO chronicle.events
  SELECT stream_id, 2, nextval('chronicle.global_position_seq'), gen_random_uuid(), 'Forged', 1,
         '{}', '{}', now(), pg_current_xact_id(), hash
  FROM chronicle.events WHERE stream_id = 'integrity-2' AND version = 1$$);
SELECT regress.error_of($$INSERT INTO chronicle.events
  SELECT stream_id, 2, nextval('chronicle.global_position_seq'), gen_random_uuid(), 'Forged', 1,
         '[]', '{}', now(), pg_current_xact_id(), hash
  FROM chronicle.events WHERE stream_id = 'integrity-2' AND version = 1$$);
-- A row that does follow the rules is accepted (this is how a restore works).
BEGIN;
WITH prev AS (SELECT * FROM chronicle.events WHERE stream_id = 'integrity-2' AND version = 1),
     next AS (SELECT (p.stream_id, 2::bigint, nextval('chronicle.global_position_seq'),
                      'c0000000-0000-4000-8000-000000000001'::uuid, 'Closed', 1, '{}'::jsonb,
                      '{}'::jsonb, now(), pg_current_xact_id(), NULL::bytea, '{}'::text[], '\x'::bytea)::chronicle.events AS e,
                     p.hash AS prev_hash FROM prev p)
INSERT INTO chronicle.events
SELECT (e).stream_id, (e).version, (e).global_position, (e).event_id, (e).type, (e).type_version,
       (e).data, (e).metadata, (e).recorded_at, (e).tx_id, regress.link(prev_hash, e)
FROM next;
SELECT version, type FROM chronicle.events WHERE stream_id = 'integrity-2' ORDER BY version;
-- ... but chronicle.streams was not told: verify() notices.
SELECT * FROM chronicle.verify('integrity-2');
ROLLBACK;

-- Tampering by a superuser who switched the triggers off
-- (session_replication_role = replica).  Each case runs in a transaction
-- that is rolled back, so the next starts from the intact log.

-- 1. An edited row: that row is reported, and only that row.
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET data = '{"amount": 2000}' WHERE stream_id = 'integrity-1' AND version = 2;
RESET session_replication_role;
SELECT * FROM chronicle.verify() WHERE stream_id LIKE 'integrity-%';
ROLLBACK;

-- 2. An edit that also recomputes the row's own hash breaks the next link.
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.events SET data = '{"amount": 2000}' WHERE stream_id = 'integrity-1' AND version = 2;
UPDATE chronicle.events e SET hash = regress.link(p.hash, e)
FROM chronicle.events p
WHERE e.stream_id = 'integrity-1' AND e.version = 2 AND p.stream_id = 'integrity-1' AND p.version = 1;
SELECT * FROM chronicle.verify('integrity-1');
ROLLBACK;

-- 3. A deleted row: a missing version (and the stream row disagrees when it was the last).
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM chronicle.events WHERE stream_id = 'integrity-1' AND version IN (2, 4);
SELECT * FROM chronicle.verify() WHERE stream_id LIKE 'integrity-%';
ROLLBACK;

-- 4. A duplicated row (possible once the primary key is gone).
BEGIN;
SET LOCAL session_replication_role = replica;
ALTER TABLE chronicle.events DROP CONSTRAINT events_pkey CASCADE;
INSERT INTO chronicle.events
SELECT stream_id, version, global_position + 1000, gen_random_uuid(), type, type_version, data,
       metadata, recorded_at, tx_id, hash
FROM chronicle.events WHERE stream_id = 'integrity-1' AND version = 3;
SELECT * FROM chronicle.verify('integrity-1');
ROLLBACK;

-- 5. A stream row moved back, or events without a stream row.
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE chronicle.streams SET version = 2 WHERE stream_id = 'integrity-1';
DELETE FROM chronicle.streams WHERE stream_id = 'integrity-2';
SELECT * FROM chronicle.verify() WHERE stream_id LIKE 'integrity-%' ORDER BY stream_id, version;
ROLLBACK;

-- After all that, the log is intact and appends continue the chain.
SELECT chronicle.append('integrity-2', 'Closed', '{}');
SELECT count(*) AS problems FROM chronicle.verify();

-- NULL and unknown streams are fine for verify (NULL means all streams).
SELECT count(*) AS problems FROM chronicle.verify(NULL);
